/* SPDX-License-Identifier: GPL-2.0 */
/*
 * include/linux/completion.h: struct completion as ksim's (a count complete() adds to and a
 * wait consumes; every wait may sleep; a wait nobody completes is a deadlock report). A static
 * DECLARE_COMPLETION() is made on first use. Written for ksim.
 */
#ifndef _LINUX_COMPLETION_H
#define _LINUX_COMPLETION_H
#include <linux/spinlock_types.h>
#include <ksim/api.h>

struct completion {
	struct ksim_handle ksim;
	const char *name;
};

#define COMPLETION_INITIALIZER(work) { .name = #work }
#define DECLARE_COMPLETION(work) struct completion work = COMPLETION_INITIALIZER(work)
#define DECLARE_COMPLETION_ONSTACK(work) DECLARE_COMPLETION(work)
#define init_completion(x) ksim_init_completion((x), #x, __FILE__, __LINE__)
#define reinit_completion(x) ksim_init_completion((x), #x, __FILE__, __LINE__)
#define complete(x) ksim_complete((x), 0)
#define complete_all(x) ksim_complete((x), 1)
#define wait_for_completion(x) ksim_wait_for_completion((x), __FILE__, __LINE__)
#define wait_for_completion_timeout(x, j) ksim_wait_for_completion_timeout((x), (j), __FILE__, __LINE__)
#define try_wait_for_completion(x) ((bool)ksim_try_wait_for_completion(x))
#define completion_done(x) ((bool)ksim_completion_done(x))
#endif
