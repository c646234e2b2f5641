// SPDX-License-Identifier: GPL-2.0
/* A module whose init recurses through large stack frames (ksim's own test code): the
 * coroutine stacks shuttle and loom run tasks on must hold C frames. */
#include <linux/module.h>
#include <linux/string.h>

int deep_depth = 16;
module_param(deep_depth, int, 0444);

static noinline int deep(int n)
{
	char frame[2048];

	memset(frame, n, sizeof(frame));
	if (n == 0)
		return frame[100];
	return deep(n - 1) + frame[7];
}

static int __init deep_init(void)
{
	return deep(deep_depth) == deep_depth * (deep_depth + 1) / 2 ? 0 : -EINVAL;
}
module_init(deep_init);
MODULE_LICENSE("GPL");
