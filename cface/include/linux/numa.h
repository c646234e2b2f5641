/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/numa.h. Written for ksim. */
#ifndef _LINUX_NUMA_H
#define _LINUX_NUMA_H
#define NUMA_NO_NODE (-1)
#endif
