/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/uaccess.h: nothing a ksim-run driver needs beyond the common types yet. Written for
 * ksim. */
#ifndef _LINUX_KSIM_UACCESS_H
#define _LINUX_KSIM_UACCESS_H
#include <linux/kernel.h>
struct file;
struct inode;
#endif
