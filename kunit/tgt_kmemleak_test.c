// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite tgt_kmemleak: the end-of-run kmemleak scan of the debug
 * profile (only built with CONFIG_DEBUG_KMEMLEAK).
 *
 * The object is linked last into the tgt_kunit module, which is overlaid
 * last into drivers/scsi, so this suite runs after every other suite of
 * the boot. Its one case waits until every object allocated by the earlier
 * suites is older than kmemleak's minimum age (5 s), asks kmemleak for two
 * scans (a transient false positive of the first one is cleared by the
 * second) and copies the report of /sys/kernel/debug/kmemleak to the
 * console, in the format kmemleak itself uses with kmemleak.verbose=1:
 *
 *   kmemleak: unreferenced object 0x... (size N):
 *   kmemleak:   comm "...", pid N, jiffies N
 *   kmemleak:   backtrace (crc ...):
 *   kmemleak:     function+0x../0x..
 *
 * The case fails only if the scan could not be done (kmemleak disabled,
 * no debugfs); whether a reported object is a failure is decided by the
 * harness (tgtsim's sanitizer analysis of the console), which has the
 * allow-list of known false positives.
 *
 * kmemleak has no in-kernel API for a scan; its debugfs file is used
 * through tgt_debugfs_mount() (kmemleak_write() uses strncpy_from_user()).
 */
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <kunit/test.h>

#include "tgt_test.h"

/* kmemleak reports an object only once it is older than MSECS_MIN_AGE */
#define TGT_KMEMLEAK_MIN_AGE_MS	5000
#define TGT_KMEMLEAK_SCANS	2
#define TGT_KMEMLEAK_BUF_SIZE	(64 * 1024)
/* lines of the report copied to the console (whole objects); the rest is counted */
#define TGT_KMEMLEAK_MAX_LINES	800

struct tgt_kmemleak {
	struct tgt_debugfs *d;
	char *kbuf;
	unsigned int objects;
	unsigned int lines_printed;
	unsigned int lines_dropped;
	bool dropping;
};

/* objects are copied whole: none is started after TGT_KMEMLEAK_MAX_LINES */
static void tgt_kmemleak_line(struct tgt_kmemleak *km, const char *line)
{
	if (str_has_prefix(line, "unreferenced object ")) {
		km->objects++;
		if (km->lines_printed >= TGT_KMEMLEAK_MAX_LINES)
			km->dropping = true;
	}
	if (km->dropping) {
		km->lines_dropped++;
		return;
	}
	km->lines_printed++;
	pr_warn("kmemleak: %s\n", line);
}

/* copy the report to the console, line by line */
static void tgt_kmemleak_report(struct kunit *test, struct tgt_kmemleak *km)
{
	struct file *f = tgt_debugfs_open(test, km->d, "kmemleak", O_RDONLY);
	size_t have = 0;
	loff_t pos = 0;
	ssize_t n;

	for (;;) {
		char *line, *nl;
		size_t room = TGT_KMEMLEAK_BUF_SIZE - 1 - have;

		n = vfs_read(f, km->d->ubuf, room, &pos);
		if (n <= 0)
			break;
		if (copy_from_user(km->kbuf + have, km->d->ubuf, n)) {
			n = -EFAULT;
			break;
		}
		have += n;
		km->kbuf[have] = '\0';
		line = km->kbuf;
		while ((nl = strchr(line, '\n'))) {
			*nl = '\0';
			tgt_kmemleak_line(km, line);
			line = nl + 1;
		}
		have = km->kbuf + have - line;
		memmove(km->kbuf, line, have);
		if (have == TGT_KMEMLEAK_BUF_SIZE - 1) {	/* no newline */
			km->kbuf[have] = '\0';
			tgt_kmemleak_line(km, km->kbuf);
			have = 0;
		}
	}
	fput(f);
	KUNIT_ASSERT_GE_MSG(test, n, 0, "reading kmemleak failed: %zd", n);
	if (have) {
		km->kbuf[have] = '\0';
		tgt_kmemleak_line(km, km->kbuf);
	}
}

static void tgt_kmemleak_scan_after_all_suites(struct kunit *test)
{
	struct tgt_kmemleak *km;
	int i;

	km = kunit_kzalloc(test, sizeof(*km), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, km);
	km->kbuf = kunit_kmalloc(test, TGT_KMEMLEAK_BUF_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, km->kbuf);
	km->d = tgt_debugfs_mount(test, TGT_KMEMLEAK_BUF_SIZE);

	/* not a synchronisation: kmemleak ignores younger objects */
	msleep(TGT_KMEMLEAK_MIN_AGE_MS + 500);
	/* "scan" is refused if kmemleak is disabled */
	for (i = 0; i < TGT_KMEMLEAK_SCANS; i++)
		tgt_debugfs_write(test, km->d, "kmemleak", "scan");
	tgt_kmemleak_report(test, km);
	tgt_debugfs_done(km->d);

	kunit_info(test, "kmemleak: %u unreferenced objects after %d scans (%u report lines, %u not shown)\n",
		   km->objects, TGT_KMEMLEAK_SCANS, km->lines_printed,
		   km->lines_dropped);
}

static struct kunit_case tgt_kmemleak_cases[] = {
	KUNIT_CASE_SLOW(tgt_kmemleak_scan_after_all_suites),
	{}
};

static struct kunit_suite tgt_kmemleak_suite = {
	.name = "tgt_kmemleak",
	.test_cases = tgt_kmemleak_cases,
};

kunit_test_suite(tgt_kmemleak_suite);
