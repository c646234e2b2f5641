/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/jiffies.h: ksim's simulated tick count (advanced by msleep() and by timers
 * firing) at the run's HZ, which is a run setting: HZ is a call, not a constant expression.
 * Written for ksim. */
#ifndef _LINUX_JIFFIES_H
#define _LINUX_JIFFIES_H
#include <linux/types.h>
#include <ksim/api.h>

#define jiffies (ksim_jiffies())
#define HZ (ksim_msecs_to_jiffies(1000))
#define msecs_to_jiffies(m) ksim_msecs_to_jiffies(m)
#define usecs_to_jiffies(u) ksim_msecs_to_jiffies(((u) + 999) / 1000)
#define jiffies_to_msecs(j) ((unsigned int)((j) * 1000 / HZ))
#define round_jiffies(j) (j)
#define round_jiffies_relative(j) (j)
#define time_after(a, b) ((long)((b) - (a)) < 0)
#define time_before(a, b) time_after(b, a)
#define time_after_eq(a, b) ((long)((a) - (b)) >= 0)
#define time_before_eq(a, b) time_after_eq(b, a)
#define time_is_after_jiffies(a) time_before(jiffies, a)
#define time_is_before_jiffies(a) time_after(jiffies, a)
#endif
