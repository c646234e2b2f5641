/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/minmax.h: min/max without double evaluation. Written for ksim. */
#ifndef _LINUX_MINMAX_H
#define _LINUX_MINMAX_H
#define __ksim_cmp(x, y, op) ({ __typeof__(x) __x = (x); __typeof__(y) __y = (y); __x op __y ? __x : __y; })
#define min(x, y) __ksim_cmp(x, y, <)
#define max(x, y) __ksim_cmp(x, y, >)
#define min_t(type, x, y) ({ type __a = (x); type __b = (y); __a < __b ? __a : __b; })
#define max_t(type, x, y) ({ type __a = (x); type __b = (y); __a > __b ? __a : __b; })
#define min3(x, y, z) min(min(x, y), z)
#define max3(x, y, z) max(max(x, y), z)
#define clamp(val, lo, hi) min(max(val, lo), hi)
#define clamp_t(type, val, lo, hi) min_t(type, max_t(type, val, lo), hi)
#define swap(a, b) do { __typeof__(a) __t = (a); (a) = (b); (b) = __t; } while (0)
#endif
