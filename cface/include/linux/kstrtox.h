/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/kstrtox.h: number parsing (the C library's strtol underneath). Written for ksim. */
#ifndef _LINUX_KSTRTOX_H
#define _LINUX_KSTRTOX_H
#include <linux/types.h>
long simple_strtol(const char *cp, char **endp, unsigned int base);
unsigned long simple_strtoul(const char *cp, char **endp, unsigned int base);
long long simple_strtoll(const char *cp, char **endp, unsigned int base);
unsigned long long simple_strtoull(const char *cp, char **endp, unsigned int base);
int kstrtoll(const char *s, unsigned int base, long long *res);
int kstrtoull(const char *s, unsigned int base, unsigned long long *res);
static inline int kstrtol(const char *s, unsigned int base, long *res) { long long v; int r = kstrtoll(s, base, &v); if (!r) *res = v; return r; }
static inline int kstrtoul(const char *s, unsigned int base, unsigned long *res) { unsigned long long v; int r = kstrtoull(s, base, &v); if (!r) *res = v; return r; }
static inline int kstrtoint(const char *s, unsigned int base, int *res) { long long v; int r = kstrtoll(s, base, &v); if (r) return r; if (v != (int)v) return -34; *res = v; return 0; }
static inline int kstrtouint(const char *s, unsigned int base, unsigned int *res) { unsigned long long v; int r = kstrtoull(s, base, &v); if (r) return r; if (v != (unsigned int)v) return -34; *res = v; return 0; }
int kstrtobool(const char *s, bool *res);
#endif
