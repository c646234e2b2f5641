/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/radix-tree.h: ksim's radix tree model (node allocation from the per-CPU preload
 * pool for non-blocking roots, -EEXIST/-ENOMEM, lock-free lookups). Written for ksim. */
#ifndef _LINUX_RADIX_TREE_H
#define _LINUX_RADIX_TREE_H
#include <linux/types.h>
#include <linux/gfp.h>
#include <linux/spinlock_types.h>
#include <linux/rcupdate.h>
#include <ksim/api.h>
struct radix_tree_root {
	gfp_t gfp_mask;
	struct ksim_handle ksim;
};
#define RADIX_TREE_INIT(name, mask) { .gfp_mask = (mask) }
#define RADIX_TREE(name, mask) struct radix_tree_root name = RADIX_TREE_INIT(name, mask)
#define INIT_RADIX_TREE(root, mask) ksim_radix_tree_init((root), (mask))
#define radix_tree_insert(root, index, item) ksim_radix_tree_insert((root), (index), (item), __FILE__, __LINE__)
#define radix_tree_lookup(root, index) ksim_radix_tree_lookup((root), (index))
#define radix_tree_delete(root, index) ksim_radix_tree_delete((root), (index))
#define radix_tree_gang_lookup(root, results, first, max) ksim_radix_tree_gang_lookup((root), (results), (first), (max))
#define radix_tree_preload(gfp) ksim_radix_tree_preload((gfp), __FILE__, __LINE__)
#define radix_tree_maybe_preload(gfp) ksim_radix_tree_maybe_preload((gfp), __FILE__, __LINE__)
#define radix_tree_preload_end() ksim_radix_tree_preload_end(__FILE__, __LINE__)
#endif
