/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ksim/testing.h: what a test may ask of ksim that no kernel offers: the pages allocated now,
 * and "no free memory" on demand (the page allocator fails past `n` more pages, as at a
 * configured limit; n < 0 lifts the limit). Written for ksim.
 */
#ifndef _KSIM_TESTING_H
#define _KSIM_TESTING_H
#include <ksim/api.h>
static inline unsigned long ksim_allocated_pages(void) { return (unsigned long)ksim_nr_allocated_pages(); }
static inline void ksim_limit_free_pages(long n) { ksim_set_free_pages(n); }
#endif
