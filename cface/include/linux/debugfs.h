/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/debugfs.h: directories and u64 files a test can read back (ksim keeps them per
 * execution; nothing is mounted). Written for ksim. */
#ifndef _LINUX_DEBUGFS_H
#define _LINUX_DEBUGFS_H
#include <linux/types.h>
#include <ksim/api.h>
struct dentry;
#define debugfs_create_dir(name, parent) ksim_debugfs_create_dir((name), (parent))
#define debugfs_create_u64(name, mode, parent, value) ksim_debugfs_create_u64((name), (mode), (parent), (value))
#define debugfs_remove_recursive(d) ksim_debugfs_remove(d)
#define debugfs_remove(d) ksim_debugfs_remove(d)
#endif
