/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/rcupdate.h: RCU read-side sections, grace periods, callbacks, and
 * CONFIG_PROVE_RCU's checks. An `__rcu` pointer is a plain C pointer: each rcu_dereference*()
 * first has ksim check the context the kernel would check there (the RCU read lock held, or
 * the condition it is given, typically lockdep_is_held(&lock)), reporting "suspicious RCU
 * usage" at this line, then reads the pointer itself. Written for ksim. */
#ifndef _LINUX_RCUPDATE_H
#define _LINUX_RCUPDATE_H
#include <linux/compiler.h>
#include <linux/types.h>
#include <linux/lockdep.h>
#include <ksim/api.h>
#define rcu_read_lock() ksim_rcu_read_lock(__FILE__, __LINE__)
#define rcu_read_unlock() ksim_rcu_read_unlock(__FILE__, __LINE__)
#define synchronize_rcu() ksim_synchronize_rcu(__FILE__, __LINE__)
#define rcu_barrier() ksim_rcu_barrier(__FILE__, __LINE__)

#define rcu_dereference_check(p, c) \
	({ ksim_rcu_check(!!(c), 0, __FILE__, __LINE__); READ_ONCE(p); })
#define rcu_dereference(p) rcu_dereference_check(p, 0)
#define rcu_dereference_protected(p, c) \
	({ ksim_rcu_check(!!(c), 1, __FILE__, __LINE__); (p); })
#define rcu_dereference_raw(p) READ_ONCE(p)
#define rcu_access_pointer(p) READ_ONCE(p)
#define rcu_assign_pointer(p, v) __atomic_store_n(&(p), (v), __ATOMIC_RELEASE)
#define RCU_INIT_POINTER(p, v) WRITE_ONCE((p), (v))
#define RCU_INITIALIZER(v) (v)

/* The callback runs after a grace period, in softirq context (ksim's RCU callback task). */
#define call_rcu(head, func) \
	ksim_call_rcu((void *)(head), (void (*)(void *))(void (*)(struct rcu_head *))(func), __FILE__, __LINE__)
#define kfree_rcu(ptr, ...) ksim_kfree_rcu((const void *)(ptr), __FILE__, __LINE__)
#define kvfree_rcu(ptr, ...) kfree_rcu(ptr)
#endif
