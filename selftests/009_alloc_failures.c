// SPDX-License-Identifier: GPL-2.0
/*
 * 009: every allocation of a request userspace makes fails once. As
 * syzkaller does, the program writes n to /proc/thread-self/fail-nth
 * (CONFIG_FAULT_INJECTION with FAILSLAB and FAIL_PAGE_ALLOC) so that the
 * n-th allocation of its next system call fails, for n = 1, 2, ... until
 * the call makes fewer than n allocations: adding a host, changing a knob
 * (the host is re-created) and injecting a command. Each call fails with
 * ENOMEM (EINVAL where the driver core adds the Scsi_Host) and leaves
 * everything as it was (hosts, limits, a host that is
 * idle and works), or succeeds through a fallback and works.
 */
#include <fcntl.h>
#include <stdlib.h>

#include "kselftest_harness.h"
#include "tgt_selftest.h"

#define DESCRIPTION "every allocation of a host add, a knob change and a command injection fails once and leaks nothing"

#define MAX_N	2000
#define LEN	(8 * 4096)	/* 8 chunks with max_sectors 8 */

static const char *const settings[][2] = {
	/* fail_nth also fails allocations that may sleep, quietly */
	{ "/sys/kernel/debug/failslab/ignore-gfp-wait", "N" },
	{ "/sys/kernel/debug/failslab/verbose", "0" },
	{ "/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", "N" },
	{ "/sys/kernel/debug/fail_page_alloc/min-order", "0" },
	{ "/sys/kernel/debug/fail_page_alloc/verbose", "0" },
};

FIXTURE(nth) {
	int nth;		/* /proc/thread-self/fail-nth, opened before */
	char old[TGT_ARRAY_SIZE(settings)][16];
	unsigned int failed, fell_back;
};

static int read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n < 0 ? -errno : 0;
}

FIXTURE_SETUP(nth)
{
	unsigned int i;

	if (access("/proc/thread-self/fail-nth", F_OK) ||
	    access(settings[0][0], F_OK))
		SKIP(return, "no fail-nth or failslab (CONFIG_FAILSLAB, CONFIG_FAULT_INJECTION_DEBUG_FS)");
	for (i = 0; i < TGT_ARRAY_SIZE(settings); i++) {
		ASSERT_EQ(0, read_file(settings[i][0], self->old[i],
				       sizeof(self->old[i])));
		ASSERT_EQ(0, write_file(settings[i][0], settings[i][1]));
	}
	self->nth = open("/proc/thread-self/fail-nth", O_RDWR);
	ASSERT_LE(0, self->nth);
	ASSERT_TGT(tgt_reset_host(0, NULL));
}

FIXTURE_TEARDOWN(nth)
{
	unsigned int i;

	if (self->nth > 0)
		close(self->nth);
	for (i = 0; i < TGT_ARRAY_SIZE(settings); i++)
		if (self->old[i][0])
			write_file(settings[i][0], self->old[i]);
	tgt_write_host(0, SIM_LLD_F_MAX_SECTORS, "%s", "1024\n");
}

/* the n-th allocation of the next call fails */
static void arm(struct __test_metadata *_metadata, int nth, unsigned int n)
{
	char text[16];
	int len = snprintf(text, sizeof(text), "%u", n);

	ASSERT_EQ(len, pwrite(nth, text, len, 0));
}

/* disarm; 1 if the n-th allocation was reached (and failed) */
static int disarm(struct __test_metadata *_metadata, int nth)
{
	char text[16] = "";

	ASSERT_LT(0, pread(nth, text, sizeof(text) - 1, 0));
	ASSERT_EQ(1, pwrite(nth, "0", 1, 0));
	return atoi(text) == 0;
}

/* one write() of text to an open file; 0 or -errno */
static int do_write(int fd, const char *text)
{
	return write(fd, text, strlen(text)) < 0 ? -errno : 0;
}

/* the number of sim_lld hosts (a read of add_host) */
static unsigned long long nr_hosts(struct __test_metadata *_metadata)
{
	unsigned long long v = 0;

	EXPECT_EQ(0, tgt_read_ull(SIM_LLD_DEBUGFS_ROOT "/" SIM_LLD_F_ADD_HOST,
				  &v));
	return v;
}

TEST_F(nth, host_add)
{
	unsigned long long hosts, now;
	unsigned int n;
	int fd;

	hosts = nr_hosts(_metadata);
	ASSERT_LE(1, hosts);
	fd = open(SIM_LLD_DEBUGFS_ROOT "/" SIM_LLD_F_ADD_HOST, O_WRONLY);
	ASSERT_LE(0, fd);
	for (n = 1; n < MAX_N; n++) {
		int ret, reached;

		arm(_metadata, self->nth, n);
		ret = do_write(fd, "1");
		reached = disarm(_metadata, self->nth);
		now = nr_hosts(_metadata);
		if (ret) {
			/* ENOMEM, or EINVAL from the driver core */
			EXPECT_TRUE(reached);
			EXPECT_TRUE(ret == -ENOMEM || ret == -EINVAL)
				TH_LOG("allocation %u: %s", n, strerror(-ret));
			EXPECT_EQ(hosts, now) TH_LOG("allocation %u", n);
			self->failed++;
		} else {
			EXPECT_EQ(hosts + 1, now) TH_LOG("allocation %u", n);
			ASSERT_EQ(0, tgt_write_root(SIM_LLD_F_ADD_HOST, "-1"));
			EXPECT_EQ(hosts, nr_hosts(_metadata));
			self->fell_back += reached;
		}
		if (!reached)
			break;
	}
	close(fd);
	EXPECT_LT(n, MAX_N);
	EXPECT_LE(3, self->failed);
	ksft_print_msg("fault points of add_host: %u (%u failed, %u fell back)\n",
		       self->failed + self->fell_back, self->failed,
		       self->fell_back);
	ASSERT_TGT(tgt_check_idle(0, NULL));
}

TEST_F(nth, knob_change_recreates_host)
{
	static const char *const value[2] = { "8", "16" };
	unsigned long long now;
	char path[128];
	unsigned int n, cur = 0;
	int fd;

	ASSERT_EQ(0, tgt_write_host(0, SIM_LLD_F_MAX_SECTORS, "%s", value[0]));
	tgt_host_path(path, sizeof(path), 0, SIM_LLD_F_MAX_SECTORS);
	fd = open(path, O_WRONLY);
	ASSERT_LE(0, fd);
	for (n = 1; n < MAX_N; n++) {
		struct tgt_result r;
		int ret, reached, cmd;

		arm(_metadata, self->nth, n);
		ret = do_write(fd, value[!cur]);
		reached = disarm(_metadata, self->nth);
		if (ret) {
			EXPECT_TRUE(reached);
			EXPECT_TRUE(ret == -ENOMEM || ret == -EINVAL)
				TH_LOG("allocation %u: %s", n, strerror(-ret));
			self->failed++;
		} else {
			cur = !cur;
			self->fell_back += reached;
		}
		ASSERT_EQ(0, tgt_read_ull(path, &now));
		EXPECT_EQ(strtoull(value[cur], NULL, 0), now)
			TH_LOG("allocation %u", n);
		ASSERT_TGT(tgt_check_idle(0, NULL));
		/* the host, old or new, works */
		cmd = tgt_cmd_open(0);
		ASSERT_LE(0, cmd);
		ASSERT_EQ(0, tgt_cmd_write(cmd, "dir=to len=16384 seed=%u\n", n));
		ASSERT_EQ(0, tgt_cmd_read(cmd, &r));
		EXPECT_EQ(0, r.err);
		EXPECT_EQ(SIM_LLD_VERIFY_OK, r.verify);
		tgt_result_free(&r);
		close(cmd);
		if (!reached)
			break;
	}
	close(fd);
	EXPECT_LT(n, MAX_N);
	EXPECT_LE(3, self->failed);
	ksft_print_msg("fault points of a knob change: %u (%u failed, %u fell back)\n",
		       self->failed + self->fell_back, self->failed,
		       self->fell_back);
}

TEST_F(nth, command_injection)
{
	unsigned int n;
	int fd;

	ASSERT_EQ(0, tgt_write_host(0, SIM_LLD_F_MAX_SECTORS, "%s", "8"));
	fd = tgt_cmd_open(0);
	ASSERT_LE(0, fd);
	for (n = 1; n < MAX_N; n++) {
		char text[64];
		struct tgt_result r;
		int ret, reached;

		snprintf(text, sizeof(text), "dir=from len=%u seed=%u\n", LEN, n);
		arm(_metadata, self->nth, n);
		ret = do_write(fd, text);
		reached = disarm(_metadata, self->nth);
		if (ret) {
			EXPECT_TRUE(reached);
			EXPECT_EQ(-ENOMEM, ret) TH_LOG("allocation %u", n);
			self->failed++;
		} else {
			ASSERT_EQ(0, tgt_cmd_read(fd, &r));
			ASSERT_TGT(tgt_check_ok(&r, "from", LEN, n));
			tgt_result_free(&r);
			self->fell_back += reached;
		}
		ASSERT_TGT(tgt_check_idle(0, NULL));
		if (!reached)
			break;
	}
	close(fd);
	EXPECT_LT(n, MAX_N);
	EXPECT_LE(1, self->failed);
	ksft_print_msg("fault points of a command: %u (%u failed, %u fell back)\n",
		       self->failed + self->fell_back, self->failed,
		       self->fell_back);
}

TGT_SELFTEST_MAIN(DESCRIPTION)
