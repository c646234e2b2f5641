/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/string.h: memcpy/memset/memmove through kernel addresses are ksim's checked
 * copies (KASAN-style); the string functions are the compiler's. Written for ksim. */
#ifndef _LINUX_STRING_H
#define _LINUX_STRING_H
#include <linux/types.h>
#include <linux/errno.h>
#include <ksim/api.h>

#define memcpy(d, s, n) ksim_memcpy((d), (s), (n), __FILE__, __LINE__)
#define memmove(d, s, n) ksim_memmove((d), (s), (n), __FILE__, __LINE__)
#define memset(d, c, n) ksim_memset((d), (c), (n), __FILE__, __LINE__)
#define memcmp(a, b, n) __builtin_memcmp((a), (b), (n))
#define strlen(s) __builtin_strlen(s)
#define strcmp(a, b) __builtin_strcmp((a), (b))
#define strncmp(a, b, n) __builtin_strncmp((a), (b), (n))
#define strchr(s, c) __builtin_strchr((s), (c))
#define strrchr(s, c) __builtin_strrchr((s), (c))
#define strstr(a, b) __builtin_strstr((a), (b))
#define strcpy(d, s) __builtin_strcpy((d), (s))
#define strncpy(d, s, n) __builtin_strncpy((d), (s), (n))
#define strcat(d, s) __builtin_strcat((d), (s))

static inline size_t strnlen(const char *s, size_t max)
{
	size_t n = 0;
	while (n < max && s[n])
		n++;
	return n;
}

/* strscpy(): copies at most size - 1 bytes and NUL-terminates; -E2BIG if src was cut. */
static inline ssize_t strscpy(char *dst, const char *src, size_t size)
{
	size_t i;
	if (!size)
		return -E2BIG;
	for (i = 0; i < size - 1 && src[i]; i++)
		dst[i] = src[i];
	dst[i] = 0;
	return src[i] ? -E2BIG : (ssize_t)i;
}
#define strlcpy(d, s, n) ((size_t)strscpy((d), (s), (n)))

static inline bool streq(const char *a, const char *b) { return !strcmp(a, b); }
static inline void *memchr(const void *s, int c, size_t n)
{
	const unsigned char *p = s;
	for (; n; n--, p++)
		if (*p == (unsigned char)c)
			return (void *)p;
	return NULL;
}
#endif
