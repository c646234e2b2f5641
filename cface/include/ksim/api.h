/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksim's C face: every kernel function the headers provide is a call through one of these
 * pointers into ksim's Rust API (the same functions a Rust driver calls, with the C caller's
 * __FILE__ and __LINE__). ksim fills them in when it loads a module; the list below is the
 * contract between these headers and ksim (cface/src/bind*.rs), checked by name at load.
 *
 * Written for ksim; not from the kernel tree.
 */
#ifndef _KSIM_API_H
#define _KSIM_API_H

#include <ksim/types.h>

struct page;
struct kmem_cache;
struct gendisk;
struct bio;
struct block_device;
struct dentry;
struct spinlock;
struct mutex;
struct radix_tree_root;
struct refcount_struct;
struct timer_list;
struct hrtimer;
struct delayed_work;
struct wait_queue_head;
struct completion;
struct work_struct;

#define KSIM_LOC const char *file, int line

#define KSIM_API(X)                                                                             \
	/* mm */                                                                                \
	X(struct page *, alloc_pages, (gfp_t gfp, unsigned int order, KSIM_LOC))               \
	X(void, free_pages, (struct page *page, unsigned int order, KSIM_LOC))                 \
	X(void, get_page, (struct page *page, KSIM_LOC))                                       \
	X(void, put_page, (struct page *page, KSIM_LOC))                                       \
	X(int, page_count, (struct page *page))                                                \
	X(void *, page_address, (struct page *page))                                           \
	X(void *, kmap, (struct page *page, KSIM_LOC))                                         \
	X(void, kunmap, (struct page *page, KSIM_LOC))                                         \
	X(void *, kmap_atomic, (struct page *page, KSIM_LOC))                                  \
	X(void, kunmap_atomic, (void *addr, KSIM_LOC))                                         \
	X(void *, kmap_local_page, (struct page *page, KSIM_LOC))                              \
	X(void, kunmap_local, (const void *addr, KSIM_LOC))                                    \
	X(void *, memcpy, (void *dst, const void *src, size_t n, KSIM_LOC))                    \
	X(void *, memmove, (void *dst, const void *src, size_t n, KSIM_LOC))                   \
	X(void *, memset, (void *dst, int c, size_t n, KSIM_LOC))                              \
	X(void *, kmalloc, (size_t size, gfp_t gfp, const char *op, KSIM_LOC))                 \
	X(void *, krealloc, (const void *p, size_t size, gfp_t gfp, KSIM_LOC))                 \
	X(void, kfree, (const void *p, KSIM_LOC))                                              \
	X(size_t, ksize, (const void *p))                                                      \
	X(struct kmem_cache *, kmem_cache_create,                                              \
	  (const char *name, unsigned int size, unsigned int align, unsigned long flags, KSIM_LOC)) \
	X(void *, kmem_cache_alloc, (struct kmem_cache *c, gfp_t gfp, KSIM_LOC))               \
	X(void, kmem_cache_free, (struct kmem_cache *c, void *p, KSIM_LOC))                    \
	X(void, kmem_cache_destroy, (struct kmem_cache *c, KSIM_LOC))                          \
	/* sched, preempt, irqs, bottom halves, RCU */                                          \
	X(void, might_sleep, (KSIM_LOC))                                                       \
	X(int, cond_resched, (KSIM_LOC))                                                       \
	X(void, schedule, (KSIM_LOC))                                                          \
	X(void, msleep, (unsigned int ms, KSIM_LOC))                                           \
	X(void, preempt_disable, (KSIM_LOC))                                                   \
	X(void, preempt_enable, (KSIM_LOC))                                                    \
	X(unsigned int, preempt_count, (void))                                                 \
	X(int, irqs_disabled, (void))                                                          \
	X(void, local_irq_disable, (KSIM_LOC))                                                 \
	X(void, local_irq_enable, (KSIM_LOC))                                                  \
	X(unsigned long, local_irq_save, (KSIM_LOC))                                           \
	X(void, local_irq_restore, (unsigned long flags, KSIM_LOC))                            \
	X(void, local_bh_disable, (KSIM_LOC))                                                  \
	X(void, local_bh_enable, (KSIM_LOC))                                                   \
	X(void, rcu_read_lock, (KSIM_LOC))                                                     \
	X(void, rcu_read_unlock, (KSIM_LOC))                                                   \
	X(void, synchronize_rcu, (KSIM_LOC))                                                   \
	X(int, current_pid, (void))                                                            \
	X(const char *, current_comm, (void))                                                  \
	/* locks */                                                                             \
	X(void, spin_lock_init, (struct spinlock *lock, const char *name, KSIM_LOC))           \
	X(unsigned long, spin_lock, (struct spinlock *lock, int flavour, KSIM_LOC))            \
	X(void, spin_unlock, (struct spinlock *lock, int flavour, KSIM_LOC))                   \
	X(int, spin_trylock, (struct spinlock *lock, KSIM_LOC))                                \
	X(void, mutex_init, (struct mutex *lock, const char *name, KSIM_LOC))                  \
	X(void, mutex_lock, (struct mutex *lock, KSIM_LOC))                                    \
	X(int, mutex_trylock, (struct mutex *lock, KSIM_LOC))                                  \
	X(void, mutex_unlock, (struct mutex *lock, KSIM_LOC))                                  \
	X(int, mutex_is_locked, (struct mutex *lock))                                          \
	/* radix tree */                                                                        \
	X(void, radix_tree_init, (struct radix_tree_root *root, gfp_t gfp))                   \
	X(int, radix_tree_insert, (struct radix_tree_root *root, unsigned long index, void *item, KSIM_LOC)) \
	X(void *, radix_tree_lookup, (struct radix_tree_root *root, unsigned long index))      \
	X(void *, radix_tree_delete, (struct radix_tree_root *root, unsigned long index))      \
	X(unsigned int, radix_tree_gang_lookup,                                                \
	  (struct radix_tree_root *root, void **results, unsigned long first, unsigned int max)) \
	X(int, radix_tree_preload, (gfp_t gfp, KSIM_LOC))                                      \
	X(int, radix_tree_maybe_preload, (gfp_t gfp, KSIM_LOC))                                \
	X(void, radix_tree_preload_end, (KSIM_LOC))                                            \
	/* block layer */                                                                       \
	X(struct gendisk *, blk_alloc_disk, (int node, KSIM_LOC))                              \
	X(int, add_disk, (struct gendisk *disk, KSIM_LOC))                                     \
	X(void, del_gendisk, (struct gendisk *disk, KSIM_LOC))                                 \
	X(void, put_disk, (struct gendisk *disk, KSIM_LOC))                                    \
	X(int, register_blkdev, (unsigned int major, const char *name, void (*probe)(unsigned int dev), KSIM_LOC)) \
	X(void, unregister_blkdev, (unsigned int major, const char *name, KSIM_LOC))           \
	X(void, bio_endio, (struct bio *bio, KSIM_LOC))                                        \
	/* block layer, the submitter's side */                                                 \
	X(void *, blkdev_get_by_dev, (dev_t dev, KSIM_LOC))                                    \
	X(void, blkdev_put, (void *bdev))                                                      \
	X(long, bdev_direct_access,                                                            \
	  (struct block_device *bdev, u64 sector, void **addr, u64 *pfn, long size, KSIM_LOC))  \
	X(struct bio *, bio_alloc,                                                             \
	  (struct block_device *bdev, unsigned int nr_vecs, blk_opf_t opf, gfp_t gfp, KSIM_LOC)) \
	X(int, bio_add_page, (struct bio *bio, struct page *page, unsigned int len, unsigned int off)) \
	X(int, submit_bio, (struct bio *bio, int wait, KSIM_LOC))                              \
	X(void, bio_put, (struct bio *bio))                                                    \
	/* ksim's test helpers (ksim/testing.h) and non_block_start/end */                      \
	X(u64, nr_allocated_pages, (void))                                                     \
	X(void, set_free_pages, (long long n))                                                 \
	X(void, non_block, (int start))                                                        \
	/* debugfs, printk, BUG/WARN */                                                         \
	X(struct dentry *, debugfs_create_dir, (const char *name, struct dentry *parent))      \
	X(void, debugfs_create_u64, (const char *name, unsigned short mode, struct dentry *parent, u64 *value)) \
	X(void, debugfs_remove, (struct dentry *d))                                            \
	X(void, printk, (const char *text))                                                    \
	X(void, bug, (KSIM_LOC))                                                               \
	X(void, warn, (const char *cond, KSIM_LOC))                                            \
	/* kthreads, completions, work items */                                                 \
	X(void *, kthread_run, (int (*fn)(void *), void *data, const char *name, KSIM_LOC))     \
	X(int, kthread_stop, (void *task, KSIM_LOC))                                           \
	X(int, kthread_should_stop, (void))                                                    \
	X(void, init_completion, (struct completion *x, const char *name, KSIM_LOC))           \
	X(void, complete, (struct completion *x, int all))                                     \
	X(void, wait_for_completion, (struct completion *x, KSIM_LOC))                         \
	X(unsigned long, wait_for_completion_timeout, (struct completion *x, unsigned long j, KSIM_LOC)) \
	X(int, try_wait_for_completion, (struct completion *x))                                \
	X(int, completion_done, (struct completion *x))                                        \
	X(void, init_work, (struct work_struct *w))                                            \
	X(int, schedule_work, (struct work_struct *w))                                         \
	X(int, flush_work, (struct work_struct *w, KSIM_LOC))                                  \
	X(int, work_pending, (struct work_struct *w))                                          \
	/* KUnit: a failed assertion or kunit_skip() ends the case (text: the failure, or NULL) */ \
	X(void, kunit_abort, (const char *text))                                               \
	X(void, kunit_ptr_text, (const void *p, char *buf, size_t n))                          \
	/* simulated call frames (-finstrument-functions) */                                    \
	X(void, func_enter, (int instance, void *fn))                                          \
	X(void, func_exit, (int instance, void *fn))                                           \
	/* locks: raw_spinlock_t, rwlock_t, rw_semaphore (one layout, bind/locks.rs) */ \
	X(void, klock_init, (void *lock, int kind, const char *name, KSIM_LOC))                \
	X(unsigned long, klock_lock, (void *lock, int kind, const char *op, int flavour, int read, KSIM_LOC)) \
	X(int, klock_trylock, (void *lock, int kind, const char *op, int flavour, int read, KSIM_LOC)) \
	X(void, klock_unlock,                                                                  \
	  (void *lock, int kind, const char *op, int flavour, int read, unsigned long flags, KSIM_LOC)) \
	X(int, mutex_lock_interruptible, (struct mutex *lock, KSIM_LOC))                       \
	X(int, lockdep_is_held, (void *lock, int kind))                                        \
	/* interrupts (bind/interrupt.rs) */                                          \
	X(int, request_irq,                                                                    \
	  (unsigned int irq, int (*handler)(int, void *), unsigned long flags, const char *name, void *dev, KSIM_LOC)) \
	X(void, free_irq, (unsigned int irq, void *dev, KSIM_LOC))                             \
	X(void, synchronize_irq, (unsigned int irq, KSIM_LOC))                                 \
	/* refcount_t and kref (bind/refcount.rs) */                                  \
	X(void, refcount_set, (struct refcount_struct *r, int n))                              \
	X(int, refcount_read, (struct refcount_struct *r))                                     \
	X(void, refcount_add, (int i, struct refcount_struct *r, KSIM_LOC))                    \
	X(int, refcount_inc_not_zero, (struct refcount_struct *r, KSIM_LOC))                   \
	X(int, refcount_sub_and_test, (int i, struct refcount_struct *r, KSIM_LOC))            \
	X(void, refcount_dec, (struct refcount_struct *r, KSIM_LOC))                           \
	X(void, kref_null_release, (KSIM_LOC))                                                 \
	/* PROVE_RCU and RCU callbacks (bind/rcu.rs) */                               \
	X(void, rcu_check, (int cond, int protected, KSIM_LOC))                                \
	X(void, call_rcu, (void *head, void (*func)(void *head), KSIM_LOC))                    \
	X(void, kfree_rcu, (const void *p, KSIM_LOC))                                          \
	X(void, rcu_barrier, (KSIM_LOC))                                                       \
	/* user copies (bind/uaccess.rs) */                                           \
	X(unsigned long, copy_to_user, (void *to, const void *from, unsigned long n, KSIM_LOC)) \
	X(unsigned long, copy_from_user, (void *to, const void *from, unsigned long n, KSIM_LOC)) \
	X(unsigned long, clear_user, (void *to, unsigned long n, KSIM_LOC))                    \
	X(int, get_user, (u64 *out, const void *from, int size, KSIM_LOC))                     \
	X(int, put_user, (u64 v, void *to, int size, KSIM_LOC))                                \
	X(int, access_ok, (const void *p, unsigned long n))                                    \
	/* timers, hrtimers, delayed work (bind/timer.rs) */                          \
	X(void, timer_setup, (struct timer_list *t, const char *name, const char *fn_name, KSIM_LOC)) \
	X(int, mod_timer, (struct timer_list *t, unsigned long expires, KSIM_LOC))             \
	X(void, add_timer, (struct timer_list *t, KSIM_LOC))                                   \
	X(int, del_timer, (struct timer_list *t))                                              \
	X(int, del_timer_sync, (struct timer_list *t, KSIM_LOC))                               \
	X(int, timer_pending, (struct timer_list *t))                                          \
	X(unsigned long, jiffies, (void))                                                      \
	X(unsigned long, msecs_to_jiffies, (unsigned int ms))                                  \
	X(void, hrtimer_init, (struct hrtimer *t, int clock, int mode, const char *name, KSIM_LOC)) \
	X(void, hrtimer_start, (struct hrtimer *t, long long ns, int mode))                    \
	X(int, hrtimer_cancel, (struct hrtimer *t, KSIM_LOC))                                  \
	X(int, hrtimer_try_to_cancel, (struct hrtimer *t))                                     \
	X(int, hrtimer_active, (struct hrtimer *t))                                            \
	X(void, init_delayed_work, (struct delayed_work *dw, KSIM_LOC))                        \
	X(int, schedule_delayed_work, (struct delayed_work *dw, unsigned long delay, KSIM_LOC)) \
	X(int, cancel_delayed_work, (struct delayed_work *dw, KSIM_LOC))                       \
	X(int, cancel_delayed_work_sync, (struct delayed_work *dw, KSIM_LOC))                  \
	/* wait queues: wait_event*() in steps around C's condition (bind/wait.rs) */  \
	X(void, init_waitqueue_head, (struct wait_queue_head *wq, const char *name, KSIM_LOC)) \
	X(void, wait_begin,                                                                    \
	  (struct wait_queue_head *wq, const char *api, int interruptible, long timeout, KSIM_LOC)) \
	X(int, wait_sleep, (struct wait_queue_head *wq))                                       \
	X(long, wait_end, (struct wait_queue_head *wq, int cond))                              \
	X(void, wake_up, (struct wait_queue_head *wq))

#define KSIM_DECLARE(ret, name, args) extern ret(*ksim_##name) args;
KSIM_API(KSIM_DECLARE)
#undef KSIM_DECLARE

#endif
