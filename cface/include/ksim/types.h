/* SPDX-License-Identifier: GPL-2.0 */
/* The kernel's basic types, from the compiler's own freestanding headers. Written for ksim. */
#ifndef _KSIM_TYPES_H
#define _KSIM_TYPES_H

#include <stddef.h>
#include <stdbool.h>
#include <stdarg.h>

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char s8;
typedef short s16;
typedef int s32;
typedef long long s64;
typedef u8 __u8;
typedef u16 __u16;
typedef u32 __u32;
typedef u64 __u64;
typedef s32 __s32;
typedef s64 __s64;
typedef long ssize_t;
typedef unsigned long uintptr_t;
typedef long intptr_t;
typedef long long loff_t;
typedef u64 sector_t;
typedef unsigned long pgoff_t;
typedef unsigned int gfp_t;
typedef u32 dev_t;
typedef u32 blk_opf_t;
typedef u8 blk_status_t;
typedef unsigned int fmode_t;
typedef unsigned short umode_t;
typedef u64 phys_addr_t;
typedef int pid_t;

typedef struct {
	int counter;
} atomic_t;

typedef struct {
	long counter;
} atomic_long_t;

typedef struct {
	s64 counter;
} atomic64_t;

#endif
