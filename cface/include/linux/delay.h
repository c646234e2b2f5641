/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/delay.h: msleep() sleeps (simulated jiffies). Written for ksim. */
#ifndef _LINUX_DELAY_H
#define _LINUX_DELAY_H
#include <ksim/api.h>
#define msleep(ms) ksim_msleep((ms), __FILE__, __LINE__)
#define ssleep(s) msleep((s) * 1000)
#define udelay(us) do { (void)(us); } while (0)
#define mdelay(ms) do { (void)(ms); } while (0)
#endif
