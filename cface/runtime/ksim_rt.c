// SPDX-License-Identifier: GPL-2.0
/*
 * ksim's C runtime, linked into every module ksim loads: the pointers through which the headers
 * call ksim (filled in by ksim at load, by name), the -finstrument-functions hooks that make C
 * functions simulated call frames, printk's and snprintf's formatting, number parsing, and the
 * tables ksim reads (parameters and their descriptions).
 *
 * Compiled with the host's C library headers (unlike the module's own sources): formatting and
 * strtol are the C library's.
 *
 * Written for ksim; not from the kernel tree.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KSIM_EXPORT __attribute__((visibility("default"), used))
#define NOTRACE __attribute__((no_instrument_function))

/* The kernel types the binding list names. */
typedef unsigned int gfp_t;
typedef uint64_t u64;
typedef uint32_t dev_t_ksim;
#define dev_t dev_t_ksim
typedef uint32_t blk_opf_t;
#define _KSIM_TYPES_H
#include <ksim/api.h>

/* The pointers, one per bound function. */
#define KSIM_DEFINE(ret, name, args) ret(*ksim_##name) args;
KSIM_API(KSIM_DEFINE)
#undef KSIM_DEFINE

/* Name -> slot, for ksim to fill in (and to check that it binds every one). */
struct ksim_binding {
	const char *name;
	void **slot;
};
#define KSIM_ENTRY(ret, name, args) { #name, (void **)&ksim_##name },
KSIM_EXPORT const struct ksim_binding ksim_rt_bindings[] = { KSIM_API(KSIM_ENTRY) { 0, 0 } };
#undef KSIM_ENTRY

/* Which loaded instance of the module this is (for the frame hooks). */
KSIM_EXPORT int ksim_rt_instance;

/* The parameter and parameter-description sections (the linker defines their bounds). */
struct ksim_param {
	const char *name;
	int type;
	void *value;
	unsigned int size;
	const char *desc;
};
extern struct ksim_param __start_ksim_params[] __attribute__((weak));
extern struct ksim_param __stop_ksim_params[] __attribute__((weak));
extern const char *__start_ksim_param_desc[] __attribute__((weak));
extern const char *__stop_ksim_param_desc[] __attribute__((weak));

KSIM_EXPORT struct ksim_param *ksim_rt_params(unsigned long *n)
{
	*n = __start_ksim_params ? (unsigned long)(__stop_ksim_params - __start_ksim_params) : 0;
	return __start_ksim_params;
}

KSIM_EXPORT const char **ksim_rt_param_descs(unsigned long *n)
{
	*n = __start_ksim_param_desc ? (unsigned long)(__stop_ksim_param_desc - __start_ksim_param_desc) / 2 : 0;
	return __start_ksim_param_desc;
}

/* Every C function entered or left: a simulated frame (named from the module's symbols). */
NOTRACE void __cyg_profile_func_enter(void *fn, void *site)
{
	(void)site;
	ksim_func_enter(ksim_rt_instance, fn);
}

NOTRACE void __cyg_profile_func_exit(void *fn, void *site)
{
	(void)site;
	ksim_func_exit(ksim_rt_instance, fn);
}

NOTRACE int ksim_rt_printk(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ksim_printk(buf);
	return n;
}

NOTRACE int scnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (!size)
		return 0;
	return n < (int)size ? n : (int)size - 1;
}

NOTRACE char *kasprintf(unsigned int gfp, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + 1 < sizeof(tmp) ? (size_t)n + 1 : sizeof(tmp);
	char *p = ksim_kmalloc(len, gfp, "kasprintf", __FILE__, __LINE__);
	if (p)
		ksim_memcpy(p, tmp, len, __FILE__, __LINE__);
	return p;
}

NOTRACE long simple_strtol(const char *cp, char **endp, unsigned int base) { return strtol(cp, endp, (int)base); }
NOTRACE unsigned long simple_strtoul(const char *cp, char **endp, unsigned int base) { return strtoul(cp, endp, (int)base); }
NOTRACE long long simple_strtoll(const char *cp, char **endp, unsigned int base) { return strtoll(cp, endp, (int)base); }
NOTRACE unsigned long long simple_strtoull(const char *cp, char **endp, unsigned int base) { return strtoull(cp, endp, (int)base); }

/* kstrto*(): the whole string (one trailing newline allowed) must be the number. */
static NOTRACE int ksim_kstr_end(const char *s, const char *end)
{
	if (end == s)
		return -EINVAL;
	if (*end == '\n')
		end++;
	return *end ? -EINVAL : 0;
}

NOTRACE int kstrtoll(const char *s, unsigned int base, long long *res)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, (int)base);
	if (errno == ERANGE)
		return -ERANGE;
	int r = ksim_kstr_end(s, end);
	if (!r)
		*res = v;
	return r;
}

NOTRACE int kstrtoull(const char *s, unsigned int base, unsigned long long *res)
{
	char *end;
	if (*s == '-')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, (int)base);
	if (errno == ERANGE)
		return -ERANGE;
	int r = ksim_kstr_end(s, end);
	if (!r)
		*res = v;
	return r;
}

NOTRACE int kstrtobool(const char *s, bool *res)
{
	if (!s)
		return -EINVAL;
	switch (s[0]) {
	case 'y': case 'Y': case 't': case 'T': case '1':
		*res = true;
		return 0;
	case 'n': case 'N': case 'f': case 'F': case '0':
		*res = false;
		return 0;
	case 'o': case 'O':
		if (s[1] == 'n' || s[1] == 'N') { *res = true; return 0; }
		if (s[1] == 'f' || s[1] == 'F') { *res = false; return 0; }
	}
	return -EINVAL;
}
