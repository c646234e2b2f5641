// SPDX-License-Identifier: GPL-2.0
/* The KUnit suite of my_driver.c (the README's walk-through). Written for ksim. */
#include <kunit/test.h>

unsigned int my_stats_count(void);
int my_stats_grow(unsigned int n);

static void my_stats_starts_with_param(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, my_stats_count(), 2);
}

static void my_stats_grows(struct kunit *test)
{
	KUNIT_ASSERT_EQ(test, my_stats_grow(8), 0);
	KUNIT_EXPECT_EQ(test, my_stats_count(), 8);
}

static struct kunit_case my_stats_cases[] = {
	KUNIT_CASE(my_stats_starts_with_param),
	KUNIT_CASE(my_stats_grows),
	{}
};

static struct kunit_suite my_stats_suite = {
	.name = "my_stats",
	.test_cases = my_stats_cases,
};
kunit_test_suite(my_stats_suite);
