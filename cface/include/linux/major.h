/* SPDX-License-Identifier: GPL-2.0 */
/* include/uapi/linux/major.h (the numbers ksim's drivers use). Written for ksim. */
#ifndef _LINUX_MAJOR_H
#define _LINUX_MAJOR_H
#define RAMDISK_MAJOR 1
#define LOOP_MAJOR 7
#define SCSI_DISK0_MAJOR 8
#define BLOCK_EXT_MAJOR 259
#endif
