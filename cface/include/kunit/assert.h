/* SPDX-License-Identifier: GPL-2.0 */
/*
 * include/kunit/assert.h: the kinds of check and the functions a failed one calls (in ksim's
 * KUnit runtime, cface/runtime/kunit.c), which word the failure as KUnit does. An ASSERTION's
 * failure does not return: it ends the case.
 *
 * Written for ksim from KUnit's documented interface; not from the kernel tree.
 */
#ifndef _KUNIT_ASSERT_H
#define _KUNIT_ASSERT_H

#include <linux/compiler.h>
#include <linux/types.h>

struct kunit;

enum kunit_assert_type {
	KUNIT_ASSERTION,
	KUNIT_EXPECTATION,
};

void __ksim_kunit_fail_msg(struct kunit *test, enum kunit_assert_type type, const char *file, int line,
			   const char *fmt, ...) __printf(5, 6);
void __ksim_kunit_fail_bool(struct kunit *test, enum kunit_assert_type type, const char *file, int line,
			    const char *text, bool want, const char *fmt, ...);
void __ksim_kunit_fail_int(struct kunit *test, enum kunit_assert_type type, const char *file, int line,
			   const char *left, const char *op, const char *right, long long lv, long long rv,
			   const char *fmt, ...);
void __ksim_kunit_fail_ptr(struct kunit *test, enum kunit_assert_type type, const char *file, int line,
			   const char *left, const char *op, const char *right, const void *lv,
			   const void *rv, const char *fmt, ...);
void __ksim_kunit_fail_str(struct kunit *test, enum kunit_assert_type type, const char *file, int line,
			   const char *left, const char *op, const char *right, const char *lv,
			   const char *rv, const char *fmt, ...);
void __ksim_kunit_fail_mem(struct kunit *test, enum kunit_assert_type type, const char *file, int line,
			   const char *left, const char *op, const char *right, const void *lv,
			   const void *rv, size_t size, const char *fmt, ...);
void __ksim_kunit_fail_err(struct kunit *test, enum kunit_assert_type type, const char *file, int line,
			   const char *text, const void *ptr, const char *fmt, ...);

#endif
