// SPDX-License-Identifier: GPL-2.0
/* ksim's own test module (not kernel code): wait queues from C. A consumer waits for data a
 * producer publishes and wakes it for; a wait under a spinlock (might_sleep fires whether or
 * not the wait would sleep); two tasks each waiting for the other (ksim's deadlock report);
 * the timeout and interruptible forms' return values. Entry points are exported for
 * cface/tests/c_waits.rs. */
#include <linux/module.h>
#include <linux/jiffies.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

#define EXPORT_TEST __attribute__((__used__, __visibility__("default")))

static DECLARE_WAIT_QUEUE_HEAD(data_wq);
static wait_queue_head_t ack_wq;
static DEFINE_SPINLOCK(data_lock);
static int data_ready, acked;

EXPORT_TEST int waits_setup(void)
{
	init_waitqueue_head(&ack_wq);
	return 0;
}

EXPORT_TEST int waits_consume(void)
{
	wait_event(data_wq, READ_ONCE(data_ready)); /* @consume */
	WRITE_ONCE(acked, 1);
	wake_up(&ack_wq);
	return 0;
}

EXPORT_TEST int waits_produce(void)
{
	WRITE_ONCE(data_ready, 1);
	wake_up(&data_wq);
	wait_event(ack_wq, READ_ONCE(acked));
	return 0;
}

/* The bug: the producer waits for the acknowledgement first, the consumer for the data. */
EXPORT_TEST int waits_produce_after_ack(void)
{
	wait_event(ack_wq, READ_ONCE(acked)); /* @ack_first */
	WRITE_ONCE(data_ready, 1);
	wake_up_all(&data_wq);
	return 0;
}

EXPORT_TEST int waits_under_lock(void)
{
	WRITE_ONCE(data_ready, 1);
	spin_lock(&data_lock);
	wait_event(data_wq, data_ready); /* @wait_locked */
	spin_unlock(&data_lock);
	return 0;
}

/* 0 when nothing came within 10 ms; once the data is there, the jiffies left (at least 1). */
EXPORT_TEST int waits_timeout(void)
{
	long left = wait_event_timeout(data_wq, READ_ONCE(data_ready), msecs_to_jiffies(10));

	if (left != 0)
		return -1;
	WRITE_ONCE(data_ready, 1);
	left = wait_event_timeout(data_wq, READ_ONCE(data_ready), msecs_to_jiffies(10));
	return left >= 1 && left <= msecs_to_jiffies(10) ? 0 : -2;
}

/* The return value of an interruptible wait: 0, or -ERESTARTSYS after a signal. */
EXPORT_TEST int waits_interruptible(void)
{
	return wait_event_interruptible(data_wq, READ_ONCE(data_ready));
}
MODULE_LICENSE("GPL");
