// SPDX-License-Identifier: GPL-2.0
/*
 * A KUnit suite whose cases fail in known ways, for ksim's KUnit runtime tests: KUnit's failure
 * wording, an ASSERT that ends its case (exit and test-managed memory still run), a parameterised
 * case, and a sleep in atomic context that only ksim reports. Written for ksim.
 */
#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/spinlock.h>

static int exits;
static const char *checks_greeting = "hi";
static DEFINE_SPINLOCK(checks_lock);

static void checks_eq_fails(struct kunit *test)
{
	int three = 3;
	KUNIT_EXPECT_EQ(test, 1 + 1, three);
	KUNIT_EXPECT_STREQ(test, checks_greeting, "bye");
	KUNIT_EXPECT_TRUE_MSG(test, three == 4, "three is %d", three);
	kunit_info(test, "still running");
}

static void checks_assert_ends(struct kunit *test)
{
	char *buf = kunit_kzalloc(test, 64, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	KUNIT_ASSERT_EQ(test, buf[0], 1);
	kunit_info(test, "not reached");
}

static void checks_sleep_in_atomic(struct kunit *test)
{
	spin_lock(&checks_lock);
	msleep(1);
	spin_unlock(&checks_lock);
	KUNIT_EXPECT_EQ(test, 1, 1);
}

static const int checks_values[] = { 1, 2, 3 };
static void checks_value_desc(const int *v, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "value %d", *v);
}
KUNIT_ARRAY_PARAM(checks_values, checks_values, checks_value_desc);

static void checks_param(struct kunit *test)
{
	const int *v = test->param_value;
	KUNIT_EXPECT_NE(test, *v, 2);
}

static void checks_exit(struct kunit *test)
{
	exits++;
	kunit_info(test, "exit %d", exits);
}

static void checks_ptr_fails(struct kunit *test)
{
	void *buf = kunit_kzalloc(test, 16, GFP_KERNEL);

	KUNIT_EXPECT_PTR_EQ(test, buf, NULL);
	KUNIT_EXPECT_PTR_EQ(test, &exits, NULL);
}

static struct kunit_case checks_cases[] = {
	KUNIT_CASE(checks_eq_fails),
	KUNIT_CASE(checks_assert_ends),
	KUNIT_CASE(checks_sleep_in_atomic),
	KUNIT_CASE_PARAM(checks_param, checks_values_gen_params),
	KUNIT_CASE(checks_ptr_fails),
	{}
};

static struct kunit_suite checks_suite = {
	.name = "checks",
	.exit = checks_exit,
	.test_cases = checks_cases,
};
kunit_test_suite(checks_suite);
