/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/bottom_half.h. Written for ksim. */
#ifndef _LINUX_BH_H
#define _LINUX_BH_H
#include <ksim/api.h>
#define local_bh_disable() ksim_local_bh_disable(__FILE__, __LINE__)
#define local_bh_enable() ksim_local_bh_enable(__FILE__, __LINE__)
#endif
