// SPDX-License-Identifier: GPL-2.0
/*
 * A KUnit suite with a case that dereferences NULL and one that never ends, between cases that
 * pass: `ksim kunit` fails the two (with the signal and the C line, and as past its budget) and
 * still runs the others. Written for ksim.
 */
#include <kunit/test.h>

struct crash_dev {
	int users;
};

static struct crash_dev *crash_lookup(int id)
{
	return id == 1 ? NULL : ERR_PTR(-ENODEV);
}

static void crash_before(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, 2 + 2, 4);
}

static noinline void crash_open(struct crash_dev *d)
{
	WRITE_ONCE(d->users, d->users + 1);
}

static void crash_null_deref(struct kunit *test)
{
	crash_open(crash_lookup(1));
}

static volatile int crash_forever = 1;

static void crash_spins(struct kunit *test)
{
	while (crash_forever)
		;
}

static void crash_after(struct kunit *test)
{
	KUNIT_EXPECT_TRUE(test, IS_ERR(crash_lookup(2)));
}

static struct kunit_case crash_cases[] = {
	KUNIT_CASE(crash_before),
	KUNIT_CASE(crash_null_deref),
	KUNIT_CASE(crash_spins),
	KUNIT_CASE(crash_after),
	{}
};

static struct kunit_suite crash_suite = {
	.name = "crash",
	.test_cases = crash_cases,
};
kunit_test_suite(crash_suite);
