/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/bitops.h (the bit-search part). Written for ksim. */
#ifndef _LINUX_BITOPS_H
#define _LINUX_BITOPS_H
#include <linux/types.h>
#define BIT(nr) (1UL << (nr))
#define BIT_ULL(nr) (1ULL << (nr))
#define BITS_PER_LONG 64
#define BITS_PER_BYTE 8
#define BITS_TO_LONGS(nr) (((nr) + BITS_PER_LONG - 1) / BITS_PER_LONG)
/* fls(x): 1-based index of the most significant set bit, 0 for 0. */
static inline int fls(unsigned int x) { return x ? 32 - __builtin_clz(x) : 0; }
static inline int fls64(u64 x) { return x ? 64 - __builtin_clzll(x) : 0; }
static inline unsigned long __ffs(unsigned long word) { return __builtin_ctzl(word); }
static inline unsigned long __fls(unsigned long word) { return 63 - __builtin_clzl(word); }
static inline int ffs(int x) { return __builtin_ffs(x); }
static inline unsigned int hweight32(unsigned int w) { return __builtin_popcount(w); }
static inline unsigned long hweight64(u64 w) { return __builtin_popcountll(w); }
static inline void __set_bit(long nr, volatile unsigned long *addr) { addr[nr / 64] |= 1UL << (nr % 64); }
static inline void __clear_bit(long nr, volatile unsigned long *addr) { addr[nr / 64] &= ~(1UL << (nr % 64)); }
static inline bool test_bit(long nr, const volatile unsigned long *addr) { return (addr[nr / 64] >> (nr % 64)) & 1; }
#define set_bit __set_bit
#define clear_bit __clear_bit
#endif
