/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/bug.h, include/asm-generic/bug.h: BUG() ends the execution with "kernel BUG at
 * file:line!", WARN*() is a report the task survives. Written for ksim. */
#ifndef _LINUX_BUG_H
#define _LINUX_BUG_H
#include <linux/compiler.h>
#include <ksim/api.h>

#define BUG() do { ksim_bug(__FILE__, __LINE__); __builtin_unreachable(); } while (0)
#define BUG_ON(cond) do { if (unlikely(cond)) BUG(); } while (0)
#define WARN_ON(cond) ({ int __ret_warn = !!(cond); if (unlikely(__ret_warn)) ksim_warn(#cond, __FILE__, __LINE__); unlikely(__ret_warn); })
#define WARN_ON_ONCE(cond) ({ static bool __warned; int __ret_warn = !!(cond); \
	if (unlikely(__ret_warn) && !__warned) { __warned = true; ksim_warn(#cond, __FILE__, __LINE__); } unlikely(__ret_warn); })
#define WARN(cond, fmt...) WARN_ON(cond)
#define WARN_ONCE(cond, fmt...) WARN_ON_ONCE(cond)
#define BUILD_BUG_ON(cond) _Static_assert(!(cond), "BUILD_BUG_ON failed: " #cond)
#define BUILD_BUG_ON_ZERO(e) ((int)(sizeof(struct { int:(-!!(e)); })))
#define BUILD_BUG() do { } while (0)
#endif
