/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/types.h: the kernel's basic types and list heads. Written for ksim. */
#ifndef _LINUX_TYPES_H
#define _LINUX_TYPES_H

#include <ksim/types.h>
#include <linux/compiler.h>

struct list_head {
	struct list_head *next, *prev;
};

struct hlist_head {
	struct hlist_node *first;
};

struct hlist_node {
	struct hlist_node *next, **pprev;
};

struct callback_head {
	struct callback_head *next;
	void (*func)(struct callback_head *head);
};
#define rcu_head callback_head

#endif
