// SPDX-License-Identifier: GPL-2.0
/*
 * fail_nth from a KUnit case: as syzkaller does, a sweep sets the task's
 * fail_nth to n = 1, 2, 3, ... around one call (CONFIG_FAULT_INJECTION
 * with FAILSLAB and FAIL_PAGE_ALLOC: the n-th slab or page allocation of
 * the task in the call fails) until a call makes fewer than n allocations.
 * Used by the tgt_cmd_faults suite.
 */
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <kunit/test.h>

#include "tgt_test.h"

struct tgt_fault_setting {
	const char *path;
	const char *value;
};

/*
 * fail_nth also fails allocations that may sleep, and order-0 pages, and
 * quietly: the defaults leave those alone and dump a stack for each fault.
 */
static const struct tgt_fault_setting tgt_fault_settings[] = {
	{ "failslab/ignore-gfp-wait", "N" },
	{ "failslab/verbose", "0" },
	{ "fail_page_alloc/ignore-gfp-wait", "N" },
	{ "fail_page_alloc/min-order", "0" },
	{ "fail_page_alloc/verbose", "0" },
};

struct tgt_fault_restore {
	struct kunit *test;
	struct tgt_debugfs *d;
	char old[ARRAY_SIZE(tgt_fault_settings)][16];
};

/*
 * Let fail_nth fail any allocation of the task. The settings have no
 * effect while no fail_nth is set (and the fault probability is 0); a case
 * restores them before it ends (the debugfs buffer is the case thread's:
 * KUnit's cleanup runs in another thread).
 */
struct tgt_fault_restore *tgt_fault_setup(struct kunit *test)
{
	struct tgt_fault_restore *r;
	int i;

	r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r);
	r->test = test;
	r->d = tgt_debugfs_mount(test, PAGE_SIZE);
	for (i = 0; i < ARRAY_SIZE(tgt_fault_settings); i++) {
		tgt_debugfs_read(test, r->d, tgt_fault_settings[i].path,
				 r->old[i], sizeof(r->old[i]));
		strim(r->old[i]);
	}
	for (i = 0; i < ARRAY_SIZE(tgt_fault_settings); i++)
		tgt_debugfs_write(test, r->d, tgt_fault_settings[i].path,
				  tgt_fault_settings[i].value);
	return r;
}

/* before the case ends: the settings as they were, fail_nth off */
void tgt_fault_teardown(struct tgt_fault_restore *r)
{
	int i;

	current->fail_nth = 0;
	for (i = 0; i < ARRAY_SIZE(tgt_fault_settings); i++)
		tgt_debugfs_write(r->test, r->d, tgt_fault_settings[i].path,
				  r->old[i]);
	tgt_debugfs_done(r->d);
}

/* the n-th allocation of this task from now on fails */
void tgt_fault_arm(unsigned int n)
{
	WRITE_ONCE(current->fail_nth, n);
}

/* disarm; true if the n-th allocation was reached (and failed) */
bool tgt_fault_disarm(void)
{
	bool reached = !READ_ONCE(current->fail_nth);

	WRITE_ONCE(current->fail_nth, 0);
	return reached;
}

/* the count line of a sweep, which shows a change of allocations */
void tgt_fault_report(struct kunit *test, const char *what,
		      const struct tgt_fault_count *c)
{
	kunit_info(test, "fault points of %s: %u (%u failed, %u fell back)\n",
		   what, c->failed + c->fell_back, c->failed, c->fell_back);
}

