/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/uaccess.h: copies to and from user space. The user address space is ksim's
 * (a test maps it); a `void __user *` is an address in it. Every copy may fault and so may
 * sleep (might_fault()), and returns what the kernel's does: the bytes not copied, or -EFAULT
 * for get_user()/put_user() (which then set x to 0). Written for ksim. */
#ifndef _LINUX_KSIM_UACCESS_H
#define _LINUX_KSIM_UACCESS_H
#include <linux/kernel.h>
#include <ksim/api.h>
struct file;
struct inode;

#define copy_to_user(to, from, n) \
	ksim_copy_to_user((void *)(to), (const void *)(from), (n), __FILE__, __LINE__)
#define copy_from_user(to, from, n) \
	ksim_copy_from_user((void *)(to), (const void *)(from), (n), __FILE__, __LINE__)
#define clear_user(to, n) ksim_clear_user((void *)(to), (n), __FILE__, __LINE__)
#define access_ok(addr, size) ((bool)ksim_access_ok((const void *)(addr), (size)))

#define get_user(x, ptr)                                                                      \
	({                                                                                    \
		u64 __ksim_v;                                                                 \
		int __ksim_e = ksim_get_user(&__ksim_v, (const void *)(ptr), sizeof(*(ptr)), __FILE__, __LINE__); \
		(x) = (__typeof__(*(ptr)))__ksim_v;                                           \
		__ksim_e;                                                                     \
	})
#define put_user(x, ptr)                                                                      \
	({                                                                                    \
		__typeof__(*(ptr)) __ksim_x = (x);                                            \
		ksim_put_user((u64)__ksim_x, (void *)(ptr), sizeof(*(ptr)), __FILE__, __LINE__); \
	})
#define __get_user(x, ptr) get_user(x, ptr)
#define __put_user(x, ptr) put_user(x, ptr)
#endif
