/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/genhd.h: merged into blkdev.h in 6.1. Written for ksim. */
#include <linux/blkdev.h>
