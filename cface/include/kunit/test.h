/* SPDX-License-Identifier: GPL-2.0 */
/*
 * include/kunit/test.h: KUnit's test API (suites, cases, parameterised cases, expectations and
 * assertions, test-managed memory and actions, skips and logging), as ksim runs it: every case
 * is a ksim scenario under each scheduler, and a failed expectation fails it as a ksim report
 * of the kernel's own would (see cface/src/kunit.rs and cface/runtime/kunit.c).
 *
 * Written for ksim from KUnit's documented interface; not from the kernel tree.
 */
#ifndef _KUNIT_TEST_H
#define _KUNIT_TEST_H

#include <linux/compiler.h>
#include <linux/container_of.h>
#include <linux/err.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/printk.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/types.h>
#include <kunit/assert.h>

#define KUNIT_STATUS_COMMENT_SIZE 256
#define KUNIT_PARAM_DESC_SIZE 128
#define KUNIT_SUBTEST_INDENT "    "
#define KUNIT_SUBSUBTEST_INDENT "        "

enum kunit_status {
	KUNIT_SUCCESS,
	KUNIT_FAILURE,
	KUNIT_SKIPPED,
};

struct kunit;

struct kunit_case {
	void (*run_case)(struct kunit *test);
	const char *name;
	const void *(*generate_params)(const void *prev, char *desc);
	/* private */
	enum kunit_status status;
	char *log;
};

struct kunit_suite {
	const char name[256];
	int (*suite_init)(struct kunit_suite *suite);
	void (*suite_exit)(struct kunit_suite *suite);
	int (*init)(struct kunit *test);
	void (*exit)(struct kunit *test);
	struct kunit_case *test_cases;
	/* private */
	char status_comment[KUNIT_STATUS_COMMENT_SIZE];
	struct dentry *debugfs;
	char *log;
	int suite_init_err;
};

struct kunit {
	void *priv;
	/* private: the runtime's */
	const char *name;
	char *log;
	const void *param_value;
	int param_index;
	enum kunit_status status;
	char status_comment[KUNIT_STATUS_COMMENT_SIZE];
};

#define KUNIT_CASE(test_name) { .run_case = test_name, .name = #test_name }
#define KUNIT_CASE_PARAM(test_name, gen_params) \
	{ .run_case = test_name, .name = #test_name, .generate_params = gen_params }

/*
 * A generator over `array` named `name##_gen_params`: the first element for prev == NULL, then
 * each next one, NULL after the last; `get_desc` (or NULL) names each in `desc`.
 */
#define KUNIT_ARRAY_PARAM(name, array, get_desc)                                               \
	static const void *name##_gen_params(const void *prev, char *desc)                     \
	{                                                                                       \
		typeof((array)[0]) *__next = prev ? ((typeof(__next))prev) + 1 : (array);      \
		if (__next - (array) < (long)ARRAY_SIZE(array)) {                               \
			void (*__get_desc)(typeof(__next), char *) = get_desc;                  \
			if (__get_desc)                                                         \
				__get_desc(__next, desc);                                       \
			return __next;                                                          \
		}                                                                               \
		return NULL;                                                                    \
	}

/*
 * The suites of a module: pointers in the section `ksim_kunit_suites`, whose bounds the linker
 * defines and the runtime reads back (as a kernel module's `.kunit_test_suites` section is read
 * by the module loader). No module_init is defined, so the file links beside the driver it tests.
 */
#define __ksim_kunit_cat2(a, b) a##b
#define __ksim_kunit_cat(a, b) __ksim_kunit_cat2(a, b)
#define kunit_test_suites(__suites...)                                                         \
	static struct kunit_suite *__ksim_kunit_cat(__ksim_kunit_suites_, __COUNTER__)[]       \
		__used __section("ksim_kunit_suites") __aligned(sizeof(void *)) = { __suites }
#define kunit_test_suite(suite) kunit_test_suites(&suite)
#define kunit_test_init_section_suites(__suites...) kunit_test_suites(__suites)
#define kunit_test_init_section_suite(suite) kunit_test_suites(&suite)

/* Test-managed memory and actions: released, last first, when the case ends. */
void *__ksim_kunit_kmalloc(struct kunit *test, size_t size, gfp_t gfp, const char *file, int line);
#define kunit_kmalloc(test, size, gfp) __ksim_kunit_kmalloc((test), (size), (gfp), __FILE__, __LINE__)
#define kunit_kzalloc(test, size, gfp) kunit_kmalloc((test), (size), (gfp) | __GFP_ZERO)
#define kunit_kmalloc_array(test, n, size, gfp) kunit_kmalloc((test), (n) * (size), (gfp))
#define kunit_kcalloc(test, n, size, gfp) kunit_kmalloc_array((test), (n), (size), (gfp) | __GFP_ZERO)
void kunit_kfree(struct kunit *test, const void *ptr);
typedef void(kunit_action_t)(void *);
int kunit_add_action(struct kunit *test, kunit_action_t *action, void *ctx);
int kunit_add_action_or_reset(struct kunit *test, kunit_action_t *action, void *ctx);
void kunit_remove_action(struct kunit *test, kunit_action_t *action, void *ctx);
void kunit_release_action(struct kunit *test, kunit_action_t *action, void *ctx);

/* Logging: the case's (or suite's) log, printed as KTAP diagnostics. */
void __ksim_kunit_log(const char *name, const char *fmt, ...) __printf(2, 3);
#define kunit_printk(lvl, test_or_suite, fmt, ...) \
	__ksim_kunit_log((test_or_suite)->name, fmt, ##__VA_ARGS__)
#define kunit_info(t, fmt, ...) kunit_printk(KERN_INFO, t, fmt, ##__VA_ARGS__)
#define kunit_warn(t, fmt, ...) kunit_printk(KERN_WARNING, t, fmt, ##__VA_ARGS__)
#define kunit_err(t, fmt, ...) kunit_printk(KERN_ERR, t, fmt, ##__VA_ARGS__)
#define kunit_log(lvl, t, fmt, ...) kunit_printk(lvl, t, fmt, ##__VA_ARGS__)

/* Skips: kunit_mark_skipped() lets the case run on, kunit_skip() ends it. */
void __ksim_kunit_skip(struct kunit *test, int abort, const char *fmt, ...) __printf(3, 4);
#define kunit_mark_skipped(test, fmt, ...) __ksim_kunit_skip((test), 0, fmt, ##__VA_ARGS__)
#define kunit_skip(test, fmt, ...) __ksim_kunit_skip((test), 1, fmt, ##__VA_ARGS__)

/* The current case's struct kunit (NULL outside one). */
struct kunit *kunit_get_current_test(void);

#define KUNIT_SUCCEED(test) do { (void)(test); } while (0)
#define KUNIT_FAIL(test, fmt, ...) \
	__ksim_kunit_fail_msg((test), KUNIT_EXPECTATION, __FILE__, __LINE__, fmt, ##__VA_ARGS__)
#define KUNIT_ASSERT_FAILURE(test, fmt, ...) \
	__ksim_kunit_fail_msg((test), KUNIT_ASSERTION, __FILE__, __LINE__, fmt, ##__VA_ARGS__)

/* A condition, as KUNIT_EXPECT_TRUE states it. */
#define KUNIT_EXPECT(test, cond) KUNIT_EXPECT_TRUE(test, cond)

#define __KSIM_KUNIT_BOOL(test, type, cond, want, text, fmt, ...)                               \
	do {                                                                                    \
		if ((!!(cond)) != (want))                                                       \
			__ksim_kunit_fail_bool((test), (type), __FILE__, __LINE__, (text), (want), \
					       fmt, ##__VA_ARGS__);                             \
	} while (0)

#define __KSIM_KUNIT_INT(test, type, left, op, right, fmt, ...)                                 \
	do {                                                                                    \
		const typeof(left) __left = (left);                                             \
		const typeof(right) __right = (right);                                          \
		if (!(__left op __right))                                                       \
			__ksim_kunit_fail_int((test), (type), __FILE__, __LINE__, #left, #op, #right, \
					      (long long)__left, (long long)__right, fmt,       \
					      ##__VA_ARGS__);                                   \
	} while (0)

#define __KSIM_KUNIT_PTR(test, type, left, op, right, ltext, rtext, fmt, ...)                   \
	do {                                                                                    \
		const void *__left = (const void *)(left);                                      \
		const void *__right = (const void *)(right);                                    \
		if (!(__left op __right))                                                       \
			__ksim_kunit_fail_ptr((test), (type), __FILE__, __LINE__, (ltext), #op,   \
					      (rtext), __left, __right, fmt, ##__VA_ARGS__);    \
	} while (0)

#define __KSIM_KUNIT_STR(test, type, left, op, right, fmt, ...)                                 \
	do {                                                                                    \
		const char *__left = (left);                                                    \
		const char *__right = (right);                                                  \
		if (!(strcmp(__left, __right) op 0))                                            \
			__ksim_kunit_fail_str((test), (type), __FILE__, __LINE__, #left, #op,     \
					      #right, __left, __right, fmt, ##__VA_ARGS__);     \
	} while (0)

#define __KSIM_KUNIT_MEM(test, type, left, op, right, size, fmt, ...)                           \
	do {                                                                                    \
		const void *__left = (left);                                                    \
		const void *__right = (right);                                                  \
		const size_t __size = (size);                                                   \
		if (!(__left && __right && memcmp(__left, __right, __size) op 0))               \
			__ksim_kunit_fail_mem((test), (type), __FILE__, __LINE__, #left, #op,     \
					      #right, __left, __right, __size, fmt,             \
					      ##__VA_ARGS__);                                   \
	} while (0)

#define __KSIM_KUNIT_NOT_ERR_OR_NULL(test, type, ptr, fmt, ...)                                 \
	do {                                                                                    \
		const void *__ptr = (const void *)(ptr);                                        \
		if (IS_ERR_OR_NULL(__ptr))                                                      \
			__ksim_kunit_fail_err((test), (type), __FILE__, __LINE__, #ptr, __ptr,    \
					      fmt, ##__VA_ARGS__);                              \
	} while (0)

/* EXPECT records a failure and the case runs on; ASSERT records it and ends the case. */
#define KUNIT_EXPECT_TRUE_MSG(test, c, fmt, ...) \
	__KSIM_KUNIT_BOOL(test, KUNIT_EXPECTATION, c, true, #c, fmt, ##__VA_ARGS__)
#define KUNIT_EXPECT_FALSE_MSG(test, c, fmt, ...) \
	__KSIM_KUNIT_BOOL(test, KUNIT_EXPECTATION, c, false, #c, fmt, ##__VA_ARGS__)
#define KUNIT_EXPECT_EQ_MSG(test, l, r, fmt, ...) \
	__KSIM_KUNIT_INT(test, KUNIT_EXPECTATION, l, ==, r, fmt, ##__VA_ARGS__)
#define KUNIT_EXPECT_NE_MSG(test, l, r, fmt, ...) \
	__KSIM_KUNIT_INT(test, KUNIT_EXPECTATION, l, !=, r, fmt, ##__VA_ARGS__)
#define KUNIT_EXPECT_LT_MSG(test, l, r, fmt, ...) \
	__KSIM_KUNIT_INT(test, KUNIT_EXPECTATION, l, <, r, fmt, ##__VA_ARGS__)
#define KUNIT_EXPECT_LE_MSG(test, l, r, fmt, ...) \
	__KSIM_KUNIT_INT(test, KUNIT_EXPECTATION, l, <=, r, fmt, ##__VA_ARGS__)
#define KUNIT_EXPECT_GT_MSG(test, l, r, fmt, ...) \
	__KSIM_KUNIT_INT(test, KUNIT_EXPECTATION, l, >, r, fmt, ##__VA_ARGS__)
#define KUNIT_EXPECT_GE_MSG(test, l, r, fmt, ...) \
	__KSIM_KUNIT_INT(test, KUNIT_EXPECTATION, l, >=, r, fmt, ##__VA_ARGS__)
#define KUNIT_EXPECT_PTR_EQ_MSG(test, l, r, fmt, ...) \
	__KSIM_KUNIT_PTR(test, KUNIT_EXPECTATION, l, ==, r, #l, #r, fmt, ##__VA_ARGS__)
#define KUNIT_EXPECT_PTR_NE_MSG(test, l, r, fmt, ...) \
	__KSIM_KUNIT_PTR(test, KUNIT_EXPECTATION, l, !=, r, #l, #r, fmt, ##__VA_ARGS__)
#define KUNIT_EXPECT_NULL_MSG(test, p, fmt, ...) \
	__KSIM_KUNIT_PTR(test, KUNIT_EXPECTATION, p, ==, NULL, #p, "NULL", fmt, ##__VA_ARGS__)
#define KUNIT_EXPECT_NOT_NULL_MSG(test, p, fmt, ...) \
	__KSIM_KUNIT_PTR(test, KUNIT_EXPECTATION, p, !=, NULL, #p, "NULL", fmt, ##__VA_ARGS__)
#define KUNIT_EXPECT_NOT_ERR_OR_NULL_MSG(test, p, fmt, ...) \
	__KSIM_KUNIT_NOT_ERR_OR_NULL(test, KUNIT_EXPECTATION, p, fmt, ##__VA_ARGS__)
#define KUNIT_EXPECT_STREQ_MSG(test, l, r, fmt, ...) \
	__KSIM_KUNIT_STR(test, KUNIT_EXPECTATION, l, ==, r, fmt, ##__VA_ARGS__)
#define KUNIT_EXPECT_STRNEQ_MSG(test, l, r, fmt, ...) \
	__KSIM_KUNIT_STR(test, KUNIT_EXPECTATION, l, !=, r, fmt, ##__VA_ARGS__)
#define KUNIT_EXPECT_MEMEQ_MSG(test, l, r, size, fmt, ...) \
	__KSIM_KUNIT_MEM(test, KUNIT_EXPECTATION, l, ==, r, size, fmt, ##__VA_ARGS__)
#define KUNIT_EXPECT_MEMNEQ_MSG(test, l, r, size, fmt, ...) \
	__KSIM_KUNIT_MEM(test, KUNIT_EXPECTATION, l, !=, r, size, fmt, ##__VA_ARGS__)

#define KUNIT_ASSERT_TRUE_MSG(test, c, fmt, ...) \
	__KSIM_KUNIT_BOOL(test, KUNIT_ASSERTION, c, true, #c, fmt, ##__VA_ARGS__)
#define KUNIT_ASSERT_FALSE_MSG(test, c, fmt, ...) \
	__KSIM_KUNIT_BOOL(test, KUNIT_ASSERTION, c, false, #c, fmt, ##__VA_ARGS__)
#define KUNIT_ASSERT_EQ_MSG(test, l, r, fmt, ...) \
	__KSIM_KUNIT_INT(test, KUNIT_ASSERTION, l, ==, r, fmt, ##__VA_ARGS__)
#define KUNIT_ASSERT_NE_MSG(test, l, r, fmt, ...) \
	__KSIM_KUNIT_INT(test, KUNIT_ASSERTION, l, !=, r, fmt, ##__VA_ARGS__)
#define KUNIT_ASSERT_LT_MSG(test, l, r, fmt, ...) \
	__KSIM_KUNIT_INT(test, KUNIT_ASSERTION, l, <, r, fmt, ##__VA_ARGS__)
#define KUNIT_ASSERT_LE_MSG(test, l, r, fmt, ...) \
	__KSIM_KUNIT_INT(test, KUNIT_ASSERTION, l, <=, r, fmt, ##__VA_ARGS__)
#define KUNIT_ASSERT_GT_MSG(test, l, r, fmt, ...) \
	__KSIM_KUNIT_INT(test, KUNIT_ASSERTION, l, >, r, fmt, ##__VA_ARGS__)
#define KUNIT_ASSERT_GE_MSG(test, l, r, fmt, ...) \
	__KSIM_KUNIT_INT(test, KUNIT_ASSERTION, l, >=, r, fmt, ##__VA_ARGS__)
#define KUNIT_ASSERT_PTR_EQ_MSG(test, l, r, fmt, ...) \
	__KSIM_KUNIT_PTR(test, KUNIT_ASSERTION, l, ==, r, #l, #r, fmt, ##__VA_ARGS__)
#define KUNIT_ASSERT_PTR_NE_MSG(test, l, r, fmt, ...) \
	__KSIM_KUNIT_PTR(test, KUNIT_ASSERTION, l, !=, r, #l, #r, fmt, ##__VA_ARGS__)
#define KUNIT_ASSERT_NULL_MSG(test, p, fmt, ...) \
	__KSIM_KUNIT_PTR(test, KUNIT_ASSERTION, p, ==, NULL, #p, "NULL", fmt, ##__VA_ARGS__)
#define KUNIT_ASSERT_NOT_NULL_MSG(test, p, fmt, ...) \
	__KSIM_KUNIT_PTR(test, KUNIT_ASSERTION, p, !=, NULL, #p, "NULL", fmt, ##__VA_ARGS__)
#define KUNIT_ASSERT_NOT_ERR_OR_NULL_MSG(test, p, fmt, ...) \
	__KSIM_KUNIT_NOT_ERR_OR_NULL(test, KUNIT_ASSERTION, p, fmt, ##__VA_ARGS__)
#define KUNIT_ASSERT_STREQ_MSG(test, l, r, fmt, ...) \
	__KSIM_KUNIT_STR(test, KUNIT_ASSERTION, l, ==, r, fmt, ##__VA_ARGS__)
#define KUNIT_ASSERT_STRNEQ_MSG(test, l, r, fmt, ...) \
	__KSIM_KUNIT_STR(test, KUNIT_ASSERTION, l, !=, r, fmt, ##__VA_ARGS__)
#define KUNIT_ASSERT_MEMEQ_MSG(test, l, r, size, fmt, ...) \
	__KSIM_KUNIT_MEM(test, KUNIT_ASSERTION, l, ==, r, size, fmt, ##__VA_ARGS__)
#define KUNIT_ASSERT_MEMNEQ_MSG(test, l, r, size, fmt, ...) \
	__KSIM_KUNIT_MEM(test, KUNIT_ASSERTION, l, !=, r, size, fmt, ##__VA_ARGS__)

#define KUNIT_EXPECT_TRUE(test, c) KUNIT_EXPECT_TRUE_MSG(test, c, NULL)
#define KUNIT_EXPECT_FALSE(test, c) KUNIT_EXPECT_FALSE_MSG(test, c, NULL)
#define KUNIT_EXPECT_EQ(test, l, r) KUNIT_EXPECT_EQ_MSG(test, l, r, NULL)
#define KUNIT_EXPECT_NE(test, l, r) KUNIT_EXPECT_NE_MSG(test, l, r, NULL)
#define KUNIT_EXPECT_LT(test, l, r) KUNIT_EXPECT_LT_MSG(test, l, r, NULL)
#define KUNIT_EXPECT_LE(test, l, r) KUNIT_EXPECT_LE_MSG(test, l, r, NULL)
#define KUNIT_EXPECT_GT(test, l, r) KUNIT_EXPECT_GT_MSG(test, l, r, NULL)
#define KUNIT_EXPECT_GE(test, l, r) KUNIT_EXPECT_GE_MSG(test, l, r, NULL)
#define KUNIT_EXPECT_PTR_EQ(test, l, r) KUNIT_EXPECT_PTR_EQ_MSG(test, l, r, NULL)
#define KUNIT_EXPECT_PTR_NE(test, l, r) KUNIT_EXPECT_PTR_NE_MSG(test, l, r, NULL)
#define KUNIT_EXPECT_NULL(test, p) KUNIT_EXPECT_NULL_MSG(test, p, NULL)
#define KUNIT_EXPECT_NOT_NULL(test, p) KUNIT_EXPECT_NOT_NULL_MSG(test, p, NULL)
#define KUNIT_EXPECT_NOT_ERR_OR_NULL(test, p) KUNIT_EXPECT_NOT_ERR_OR_NULL_MSG(test, p, NULL)
#define KUNIT_EXPECT_STREQ(test, l, r) KUNIT_EXPECT_STREQ_MSG(test, l, r, NULL)
#define KUNIT_EXPECT_STRNEQ(test, l, r) KUNIT_EXPECT_STRNEQ_MSG(test, l, r, NULL)
#define KUNIT_EXPECT_MEMEQ(test, l, r, n) KUNIT_EXPECT_MEMEQ_MSG(test, l, r, n, NULL)
#define KUNIT_EXPECT_MEMNEQ(test, l, r, n) KUNIT_EXPECT_MEMNEQ_MSG(test, l, r, n, NULL)

#define KUNIT_ASSERT_TRUE(test, c) KUNIT_ASSERT_TRUE_MSG(test, c, NULL)
#define KUNIT_ASSERT_FALSE(test, c) KUNIT_ASSERT_FALSE_MSG(test, c, NULL)
#define KUNIT_ASSERT_EQ(test, l, r) KUNIT_ASSERT_EQ_MSG(test, l, r, NULL)
#define KUNIT_ASSERT_NE(test, l, r) KUNIT_ASSERT_NE_MSG(test, l, r, NULL)
#define KUNIT_ASSERT_LT(test, l, r) KUNIT_ASSERT_LT_MSG(test, l, r, NULL)
#define KUNIT_ASSERT_LE(test, l, r) KUNIT_ASSERT_LE_MSG(test, l, r, NULL)
#define KUNIT_ASSERT_GT(test, l, r) KUNIT_ASSERT_GT_MSG(test, l, r, NULL)
#define KUNIT_ASSERT_GE(test, l, r) KUNIT_ASSERT_GE_MSG(test, l, r, NULL)
#define KUNIT_ASSERT_PTR_EQ(test, l, r) KUNIT_ASSERT_PTR_EQ_MSG(test, l, r, NULL)
#define KUNIT_ASSERT_PTR_NE(test, l, r) KUNIT_ASSERT_PTR_NE_MSG(test, l, r, NULL)
#define KUNIT_ASSERT_NULL(test, p) KUNIT_ASSERT_NULL_MSG(test, p, NULL)
#define KUNIT_ASSERT_NOT_NULL(test, p) KUNIT_ASSERT_NOT_NULL_MSG(test, p, NULL)
#define KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p) KUNIT_ASSERT_NOT_ERR_OR_NULL_MSG(test, p, NULL)
#define KUNIT_ASSERT_STREQ(test, l, r) KUNIT_ASSERT_STREQ_MSG(test, l, r, NULL)
#define KUNIT_ASSERT_STRNEQ(test, l, r) KUNIT_ASSERT_STRNEQ_MSG(test, l, r, NULL)
#define KUNIT_ASSERT_MEMEQ(test, l, r, n) KUNIT_ASSERT_MEMEQ_MSG(test, l, r, n, NULL)
#define KUNIT_ASSERT_MEMNEQ(test, l, r, n) KUNIT_ASSERT_MEMNEQ_MSG(test, l, r, n, NULL)

#endif
