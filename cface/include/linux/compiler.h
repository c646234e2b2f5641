/* SPDX-License-Identifier: GPL-2.0 */
/* Compiler attributes and access helpers (include/linux/compiler*.h). Written for ksim. */
#ifndef _LINUX_COMPILER_H
#define _LINUX_COMPILER_H

#include <ksim/types.h>

#define __user
#define __kernel
#define __iomem
#define __percpu
#define __rcu
#define __force
#define __bitwise
#define __must_check __attribute__((__warn_unused_result__))
#define __always_inline inline __attribute__((__always_inline__))
#define noinline __attribute__((__noinline__))
#define __noreturn __attribute__((__noreturn__))
#define __maybe_unused __attribute__((__unused__))
#define __always_unused __attribute__((__unused__))
#define __used __attribute__((__used__))
#define __packed __attribute__((__packed__))
#define __aligned(x) __attribute__((__aligned__(x)))
#define __printf(a, b) __attribute__((__format__(printf, a, b)))
#define __cold __attribute__((__cold__))
#define __weak __attribute__((__weak__))
#define __section(s) __attribute__((__section__(s)))
#define __pure __attribute__((__pure__))
#define __read_mostly
#define __cacheline_aligned
#define ____cacheline_aligned
#define fallthrough __attribute__((__fallthrough__))
#define notrace __attribute__((__no_instrument_function__))

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define barrier() __asm__ __volatile__("" : : : "memory")

#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, val)                                    \
	do {                                                  \
		*(volatile __typeof__(x) *)&(x) = (val);      \
	} while (0)

#define __stringify_1(x...) #x
#define __stringify(x...) __stringify_1(x)
#define __same_type(a, b) __builtin_types_compatible_p(__typeof__(a), __typeof__(b))
#define __is_constexpr(x) (sizeof(int) == sizeof(*(8 ? ((void *)((long)(x) * 0l)) : (int *)8)))

#endif
