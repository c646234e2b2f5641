/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/rcupdate.h: RCU read-side sections and grace periods. Written for ksim. */
#ifndef _LINUX_RCUPDATE_H
#define _LINUX_RCUPDATE_H
#include <linux/compiler.h>
#include <ksim/api.h>
#define rcu_read_lock() ksim_rcu_read_lock(__FILE__, __LINE__)
#define rcu_read_unlock() ksim_rcu_read_unlock(__FILE__, __LINE__)
#define synchronize_rcu() ksim_synchronize_rcu(__FILE__, __LINE__)
#define rcu_dereference(p) READ_ONCE(p)
#define rcu_dereference_protected(p, c) (p)
#define rcu_dereference_raw(p) READ_ONCE(p)
#define rcu_assign_pointer(p, v) do { barrier(); WRITE_ONCE((p), (v)); } while (0)
#define RCU_INIT_POINTER(p, v) WRITE_ONCE((p), (v))
#endif
