// SPDX-License-Identifier: GPL-2.0
/*
 * ksim's KUnit runtime, linked into every module (compiled with ksim's kernel headers, without
 * frame hooks: its functions are the harness, not the code under test). ksim runs one case of
 * one suite per execution (cface/src/kunit.rs):
 *
 *   ksim_kunit_begin(suite, case, param)  suite_init, the case's struct kunit and parameter
 *   ksim_kunit_try()                      init and the case; an ASSERT unwinds out of it
 *   ksim_kunit_end()                      exit, the test-managed resources last first, suite_exit
 *
 * and reads back the status, the skip comment and the log. The module's writable data is
 * restored before every execution, so every static here starts at zero.
 *
 * Written for ksim from KUnit's documented interface; not from the kernel tree.
 */
#include <kunit/test.h>
#include <linux/sprintf.h>

#define KSIM_EXPORT __attribute__((visibility("default"), used))

extern struct kunit_suite *__start_ksim_kunit_suites[] __attribute__((weak));
extern struct kunit_suite *__stop_ksim_kunit_suites[] __attribute__((weak));

static struct kunit ksim_test;
static struct kunit_suite *ksim_suite;
static struct kunit_case *ksim_case;
static int ksim_running;

/* The case's log: lines as KUnit prints them (without the KTAP indentation). */
static char ksim_log[32768];
static unsigned long ksim_log_len;

/* Test-managed resources, released last first. */
struct ksim_kunit_res {
	kunit_action_t *action;
	void *ctx;
	int is_alloc;
};
static struct ksim_kunit_res ksim_res[1024];
static int ksim_nres;

static void ksim_log_append(const char *text)
{
	size_t n = strlen(text);
	/* Reserve atomically: kthreads of a case may log at the same time on real threads. */
	unsigned long at = __atomic_fetch_add(&ksim_log_len, n + 1, __ATOMIC_RELAXED);
	if (at + n + 1 >= sizeof(ksim_log))
		return;
	memcpy(ksim_log + at, text, n);
	ksim_log[at + n] = '\n';
}

static void ksim_log_vprintf(const char *prefix, const char *fmt, va_list ap)
{
	char buf[2048];
	size_t p = (size_t)snprintf(buf, sizeof(buf), "%s", prefix);
	if (p < sizeof(buf))
		vsnprintf(buf + p, sizeof(buf) - p, fmt, ap);
	size_t n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	ksim_log_append(buf);
}

void __ksim_kunit_log(const char *name, const char *fmt, ...)
{
	char prefix[300];
	va_list ap;
	snprintf(prefix, sizeof(prefix), "%s: ", name ? name : "?");
	va_start(ap, fmt);
	ksim_log_vprintf(prefix, fmt, ap);
	va_end(ap);
}

struct kunit *kunit_get_current_test(void)
{
	return ksim_running ? &ksim_test : NULL;
}

/* Records a failure (text: KUnit's lines) and, for an assertion, ends the case. */
static void ksim_fail(struct kunit *test, enum kunit_assert_type type, const char *text)
{
	test->status = KUNIT_FAILURE;
	ksim_log_append(text);
	if (type == KUNIT_ASSERTION)
		ksim_kunit_abort(text);
}

/* "EXPECTATION FAILED at f:l\n" then `body`, then the user's message on a line of its own. */
static void ksim_failv(struct kunit *test, enum kunit_assert_type type, const char *file, int line,
		       const char *body, const char *fmt, va_list ap)
{
	char buf[4096];
	int n = snprintf(buf, sizeof(buf), "%s: %s FAILED at %s:%d\n%s", test->name,
			 type == KUNIT_ASSERTION ? "ASSERTION" : "EXPECTATION", file, line, body);
	if (fmt && n >= 0 && (size_t)n < sizeof(buf)) {
		size_t len = strlen(buf);
		if (len && buf[len - 1] != '\n' && len + 1 < sizeof(buf))
			buf[len++] = '\n', buf[len] = '\0';
		vsnprintf(buf + len, sizeof(buf) - len, fmt, ap);
	}
	ksim_fail(test, type, buf);
}

void __ksim_kunit_fail_msg(struct kunit *test, enum kunit_assert_type type, const char *file, int line,
			   const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ksim_failv(test, type, file, line, "", fmt, ap);
	va_end(ap);
}

void __ksim_kunit_fail_bool(struct kunit *test, enum kunit_assert_type type, const char *file, int line,
			    const char *text, bool want, const char *fmt, ...)
{
	char body[1024];
	va_list ap;
	snprintf(body, sizeof(body), KUNIT_SUBTEST_INDENT "Expected %s to be %s, but is %s", text,
		 want ? "true" : "false", want ? "false" : "true");
	va_start(ap, fmt);
	ksim_failv(test, type, file, line, body, fmt, ap);
	va_end(ap);
}

/* Whether `text` is the literal of `value` (KUnit leaves out the "x == 3" line of a literal 3). */
static bool ksim_is_literal(const char *text, long long value)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%lld", value);
	return strcmp(buf, text) == 0;
}

void __ksim_kunit_fail_int(struct kunit *test, enum kunit_assert_type type, const char *file, int line,
			   const char *left, const char *op, const char *right, long long lv, long long rv,
			   const char *fmt, ...)
{
	char body[2048];
	size_t n = (size_t)snprintf(body, sizeof(body), KUNIT_SUBTEST_INDENT "Expected %s %s %s, but", left,
				    op, right);
	if (!ksim_is_literal(left, lv) && n < sizeof(body))
		n += (size_t)snprintf(body + n, sizeof(body) - n, "\n" KUNIT_SUBSUBTEST_INDENT "%s == %lld",
				      left, lv);
	if (!ksim_is_literal(right, rv) && n < sizeof(body))
		snprintf(body + n, sizeof(body) - n, "\n" KUNIT_SUBSUBTEST_INDENT "%s == %lld", right, rv);
	va_list ap;
	va_start(ap, fmt);
	ksim_failv(test, type, file, line, body, fmt, ap);
	va_end(ap);
}

/*
 * Pointers print as KUnit's %px does, 16 hex digits, but as the kernel addresses ksim gives
 * them (a host address changes from run to run; ksim's output must not): see
 * ksim_kunit_ptr_text in cface/src/kunit.rs.
 */
void __ksim_kunit_fail_ptr(struct kunit *test, enum kunit_assert_type type, const char *file, int line,
			   const char *left, const char *op, const char *right, const void *lv,
			   const void *rv, const char *fmt, ...)
{
	char body[2048], l[64], r[64];
	ksim_kunit_ptr_text(lv, l, sizeof(l));
	ksim_kunit_ptr_text(rv, r, sizeof(r));
	snprintf(body, sizeof(body),
		 KUNIT_SUBTEST_INDENT "Expected %s %s %s, but\n" KUNIT_SUBSUBTEST_INDENT
				      "%s == %s\n" KUNIT_SUBSUBTEST_INDENT "%s == %s",
		 left, op, right, left, l, right, r);
	va_list ap;
	va_start(ap, fmt);
	ksim_failv(test, type, file, line, body, fmt, ap);
	va_end(ap);
}

/* Whether `text` is the literal (quotes included) of the string `value`. */
static bool ksim_is_str_literal(const char *text, const char *value)
{
	size_t n = strlen(text);
	return n >= 2 && text[0] == '"' && text[n - 1] == '"' && strlen(value) == n - 2 &&
	       strncmp(text + 1, value, n - 2) == 0;
}

void __ksim_kunit_fail_str(struct kunit *test, enum kunit_assert_type type, const char *file, int line,
			   const char *left, const char *op, const char *right, const char *lv,
			   const char *rv, const char *fmt, ...)
{
	char body[2048];
	size_t n = (size_t)snprintf(body, sizeof(body), KUNIT_SUBTEST_INDENT "Expected %s %s %s, but", left,
				    op, right);
	if (!ksim_is_str_literal(left, lv) && n < sizeof(body))
		n += (size_t)snprintf(body + n, sizeof(body) - n, "\n" KUNIT_SUBSUBTEST_INDENT "%s == \"%s\"",
				      left, lv);
	if (!ksim_is_str_literal(right, rv) && n < sizeof(body))
		snprintf(body + n, sizeof(body) - n, "\n" KUNIT_SUBSUBTEST_INDENT "%s == \"%s\"", right, rv);
	va_list ap;
	va_start(ap, fmt);
	ksim_failv(test, type, file, line, body, fmt, ap);
	va_end(ap);
}

/* The first bytes of `p` in hex, 16 to a line; a byte that differs from `other` in <>. */
static size_t ksim_hex(char *out, size_t room, const unsigned char *p, const unsigned char *other,
		       size_t size)
{
	size_t n = 0, shown = size < 64 ? size : 64;
	for (size_t i = 0; i < shown && n < room; i++) {
		if (i % 16 == 0)
			n += (size_t)snprintf(out + n, room - n, "\n" KUNIT_SUBSUBTEST_INDENT KUNIT_SUBTEST_INDENT);
		if (n >= room)
			break;
		const char *f = other && p[i] != other[i] ? "<%02x>" : " %02x ";
		n += (size_t)snprintf(out + n, room - n, f, p[i]);
	}
	return n;
}

void __ksim_kunit_fail_mem(struct kunit *test, enum kunit_assert_type type, const char *file, int line,
			   const char *left, const char *op, const char *right, const void *lv,
			   const void *rv, size_t size, const char *fmt, ...)
{
	char body[4096];
	size_t n = (size_t)snprintf(body, sizeof(body), KUNIT_SUBTEST_INDENT "Expected %s %s %s, but", left,
				    op, right);
	if (!lv || !rv) {
		snprintf(body + n, sizeof(body) - n, "\n" KUNIT_SUBSUBTEST_INDENT "%s == %s",
			 lv ? right : left, "NULL");
	} else {
		n += (size_t)snprintf(body + n, sizeof(body) - n, "\n" KUNIT_SUBSUBTEST_INDENT "%s ==", left);
		n += ksim_hex(body + n, sizeof(body) - n, lv, rv, size);
		if (n < sizeof(body))
			n += (size_t)snprintf(body + n, sizeof(body) - n, "\n" KUNIT_SUBSUBTEST_INDENT "%s ==",
					      right);
		if (n < sizeof(body))
			ksim_hex(body + n, sizeof(body) - n, rv, lv, size);
	}
	va_list ap;
	va_start(ap, fmt);
	ksim_failv(test, type, file, line, body, fmt, ap);
	va_end(ap);
}

void __ksim_kunit_fail_err(struct kunit *test, enum kunit_assert_type type, const char *file, int line,
			   const char *text, const void *ptr, const char *fmt, ...)
{
	char body[1024];
	if (!ptr)
		snprintf(body, sizeof(body), KUNIT_SUBTEST_INDENT "Expected %s is not null, but is", text);
	else
		snprintf(body, sizeof(body), KUNIT_SUBTEST_INDENT "Expected %s is not error, but is: %ld", text,
			 PTR_ERR(ptr));
	va_list ap;
	va_start(ap, fmt);
	ksim_failv(test, type, file, line, body, fmt, ap);
	va_end(ap);
}

void __ksim_kunit_skip(struct kunit *test, int abort, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(test->status_comment, sizeof(test->status_comment), fmt, ap);
	va_end(ap);
	test->status = KUNIT_SKIPPED;
	if (abort)
		ksim_kunit_abort(NULL);
}

/* Resources. */
static int ksim_push(struct kunit *test, kunit_action_t *action, void *ctx, int is_alloc)
{
	(void)test;
	if (ksim_nres >= (int)ARRAY_SIZE(ksim_res))
		return -ENOMEM;
	ksim_res[ksim_nres++] = (struct ksim_kunit_res){ action, ctx, is_alloc };
	return 0;
}

void *__ksim_kunit_kmalloc(struct kunit *test, size_t size, gfp_t gfp, const char *file, int line)
{
	void *p = ksim_kmalloc(size, gfp, "kunit_kmalloc", file, line);
	if (p && ksim_push(test, NULL, p, 1)) {
		ksim_kfree(p, file, line);
		return NULL;
	}
	return p;
}

void kunit_kfree(struct kunit *test, const void *ptr)
{
	(void)test;
	if (!ptr)
		return;
	for (int i = ksim_nres - 1; i >= 0; i--) {
		if (ksim_res[i].is_alloc && ksim_res[i].ctx == ptr) {
			memmove(&ksim_res[i], &ksim_res[i + 1], (size_t)(ksim_nres - i - 1) * sizeof(ksim_res[0]));
			ksim_nres--;
			break;
		}
	}
	/* Not found is KUnit's WARN; the free itself is checked by ksim's slab model. */
	kfree(ptr);
}

int kunit_add_action(struct kunit *test, kunit_action_t *action, void *ctx)
{
	return ksim_push(test, action, ctx, 0);
}

int kunit_add_action_or_reset(struct kunit *test, kunit_action_t *action, void *ctx)
{
	int err = ksim_push(test, action, ctx, 0);
	if (err)
		action(ctx);
	return err;
}

static int ksim_find_action(kunit_action_t *action, void *ctx)
{
	for (int i = ksim_nres - 1; i >= 0; i--)
		if (!ksim_res[i].is_alloc && ksim_res[i].action == action && ksim_res[i].ctx == ctx)
			return i;
	return -1;
}

void kunit_remove_action(struct kunit *test, kunit_action_t *action, void *ctx)
{
	(void)test;
	int i = ksim_find_action(action, ctx);
	if (i < 0)
		return;
	memmove(&ksim_res[i], &ksim_res[i + 1], (size_t)(ksim_nres - i - 1) * sizeof(ksim_res[0]));
	ksim_nres--;
}

void kunit_release_action(struct kunit *test, kunit_action_t *action, void *ctx)
{
	if (ksim_find_action(action, ctx) < 0)
		return;
	kunit_remove_action(test, action, ctx);
	action(ctx);
}

/* The interface ksim calls (cface/src/kunit.rs). */
KSIM_EXPORT int ksim_kunit_nsuites(void)
{
	return __start_ksim_kunit_suites ? (int)(__stop_ksim_kunit_suites - __start_ksim_kunit_suites) : 0;
}

static struct kunit_case *ksim_case_at(int s, int c)
{
	if (s < 0 || s >= ksim_kunit_nsuites() || c < 0)
		return NULL;
	struct kunit_case *k = __start_ksim_kunit_suites[s]->test_cases;
	for (int i = 0; k && k->run_case; i++, k++)
		if (i == c)
			return k;
	return NULL;
}

KSIM_EXPORT const char *ksim_kunit_suite_name(int s)
{
	return s >= 0 && s < ksim_kunit_nsuites() ? __start_ksim_kunit_suites[s]->name : NULL;
}

KSIM_EXPORT const char *ksim_kunit_case_name(int s, int c)
{
	struct kunit_case *k = ksim_case_at(s, c);
	return k ? k->name : NULL;
}

/*
 * Parameter `p` of a case: 1 with its description in `desc` (KUNIT_PARAM_DESC_SIZE bytes, empty
 * when the generator names none), 0 past the last, -1 for a case without parameters. The value
 * is left in `*value`.
 */
KSIM_EXPORT int ksim_kunit_param(int s, int c, int p, char *desc, const void **value)
{
	struct kunit_case *k = ksim_case_at(s, c);
	if (!k || !k->generate_params)
		return -1;
	const void *v = NULL;
	for (int i = 0; i <= p; i++) {
		desc[0] = '\0';
		v = k->generate_params(v, desc);
		if (!v)
			return 0;
	}
	*value = v;
	return 1;
}

/* Sets up the case; returns suite_init's error (the case does not run then). */
KSIM_EXPORT int ksim_kunit_begin(int s, int c, int p)
{
	char desc[KUNIT_PARAM_DESC_SIZE];
	ksim_suite = __start_ksim_kunit_suites[s];
	ksim_case = ksim_case_at(s, c);
	ksim_test.name = ksim_case->name;
	ksim_test.log = ksim_log;
	ksim_test.status = KUNIT_SUCCESS;
	ksim_test.param_index = p;
	if (ksim_case->generate_params && ksim_kunit_param(s, c, p, desc, &ksim_test.param_value) != 1)
		return -EINVAL;
	ksim_running = 1;
	if (ksim_suite->suite_init) {
		ksim_suite->suite_init_err = ksim_suite->suite_init(ksim_suite);
		if (ksim_suite->suite_init_err) {
			__ksim_kunit_log(ksim_suite->name, "failed to initialize (%d)", ksim_suite->suite_init_err);
			ksim_test.status = KUNIT_FAILURE;
			return ksim_suite->suite_init_err;
		}
	}
	return 0;
}

KSIM_EXPORT void ksim_kunit_try(void)
{
	if (ksim_suite->init) {
		int err = ksim_suite->init(&ksim_test);
		if (err) {
			__ksim_kunit_log(ksim_test.name, "failed to initialize: %d", err);
			ksim_test.status = KUNIT_FAILURE;
			return;
		}
	}
	ksim_case->run_case(&ksim_test);
}

KSIM_EXPORT void ksim_kunit_end(int suite_ok)
{
	if (ksim_suite->exit)
		ksim_suite->exit(&ksim_test);
	while (ksim_nres > 0) {
		struct ksim_kunit_res r = ksim_res[--ksim_nres];
		if (r.is_alloc)
			kfree(r.ctx);
		else
			r.action(r.ctx);
	}
	if (suite_ok && ksim_suite->suite_exit)
		ksim_suite->suite_exit(ksim_suite);
	ksim_running = 0;
}

KSIM_EXPORT int ksim_kunit_status(void)
{
	return ksim_test.status;
}

KSIM_EXPORT const char *ksim_kunit_comment(void)
{
	return ksim_test.status_comment;
}

KSIM_EXPORT const char *ksim_kunit_log(void)
{
	unsigned long n = ksim_log_len < sizeof(ksim_log) ? ksim_log_len : sizeof(ksim_log) - 1;
	ksim_log[n] = '\0';
	return ksim_log;
}
