// SPDX-License-Identifier: GPL-2.0
/*
 * 004: removing a host (remove_host) while it has commands in flight:
 * commands whose completion the LLD withholds, a synchronous writer
 * waiting for its command and a writer waiting for a tag. The removal
 * completes the withheld ones with an error (DID_NO_CONNECT), the waiter
 * gets a tag and is failed or refused, every writer returns, and
 * remove_host itself returns only when the host has nothing outstanding
 * (sim_lld waits until outstanding, pending, withheld completions and
 * tags in use are all 0), within the test's timeout.
 *
 * The removed host's counters and command results cannot be read any
 * more: its debugfs directory goes with it.
 */
#include <poll.h>
#include <signal.h>

#include "kselftest_harness.h"
#include "tgt_selftest.h"

#define DESCRIPTION "host hot-remove with commands in flight completes or errors them all, nothing left outstanding"

#define CAN_QUEUE	8
#define ASYNC		(CAN_QUEUE - 1)

FIXTURE(hotremove) {
	unsigned int host, host_no, nhosts;
	int added, removed;
	int fd;
	pid_t child[2];
	int pipe_rd[2];
};

FIXTURE_VARIANT(hotremove) {
	const char *fault;
	const char *completion;
	unsigned int calls;	/* transfer_data() calls of a withheld command */
};

FIXTURE_VARIANT_ADD(hotremove, drop_chunk1_inline) {
	.fault = "drop chunk=1 times=-1", .completion = "inline", .calls = 2,
};
FIXTURE_VARIANT_ADD(hotremove, drop_resp_hrtimer) {
	.fault = "drop resp times=-1", .completion = "hrtimer", .calls = 4,
};
FIXTURE_VARIANT_ADD(hotremove, drop_chunk0_workqueue) {
	.fault = "drop chunk=0 times=-1", .completion = "workqueue", .calls = 1,
};

static int host_listed(unsigned int idx)
{
	unsigned int ids[SIM_LLD_MAX_HOSTS];
	int n = tgt_hosts(ids, NULL, SIM_LLD_MAX_HOSTS), i;

	for (i = 0; i < n; i++)
		if (ids[i] == idx)
			return 1;
	return n < 0 ? n : 0;
}

/* add a host; returns its sim_lld index */
static unsigned int add_host(struct __test_metadata *_metadata)
{
	unsigned int before[SIM_LLD_MAX_HOSTS], after[SIM_LLD_MAX_HOSTS];
	int nb, na, i, j;

	nb = tgt_hosts(before, NULL, SIM_LLD_MAX_HOSTS);
	ASSERT_LE(0, nb);
	ASSERT_EQ(0, tgt_write_root(SIM_LLD_F_ADD_HOST, "1\n"));
	na = tgt_hosts(after, NULL, SIM_LLD_MAX_HOSTS);
	ASSERT_EQ(nb + 1, na);
	for (i = 0; i < na; i++) {
		for (j = 0; j < nb && before[j] != after[i]; j++)
			;
		if (j == nb)
			return after[i];
	}
	ASSERT_TRUE(0) TH_LOG("no new host in %s", SIM_LLD_F_HOSTS);
	return 0;
}

FIXTURE_SETUP(hotremove)
{
	struct tgt_limits l;
	struct tgt_result r;
	unsigned long long n;

	self->fd = -1;
	self->child[0] = 0;
	self->child[1] = 0;
	self->pipe_rd[0] = -1;
	self->pipe_rd[1] = -1;
	ASSERT_TGT(tgt_check_idle(0, NULL));
	ASSERT_EQ(0, tgt_read_ull(SIM_LLD_DEBUGFS_ROOT "/" SIM_LLD_F_ADD_HOST, &n));
	self->nhosts = n;
	self->host = add_host(_metadata);
	self->added = 1;

	ASSERT_EQ(0, tgt_default_limits(&l));
	l.can_queue = CAN_QUEUE;
	l.max_sectors = 8;
	ASSERT_TGT(tgt_reset_host(self->host, &l));
	ASSERT_EQ(0, tgt_host_no(self->host, &self->host_no));
	self->fd = tgt_cmd_open(self->host);
	ASSERT_LE(0, self->fd);

	/*
	 * The host works and gives its tags back: a port that leaks them
	 * would make the removal wait forever, so stop here instead.
	 */
	ASSERT_EQ(0, tgt_cmd_write(self->fd, "dir=to len=16384 seed=1 nowait\n"));
	ASSERT_EQ(0, tgt_cmd_read(self->fd, &r));
	ASSERT_TGT(tgt_check_ok(&r, "to", 16384, 1));
	ASSERT_EQ(4, r.nchunk);
	tgt_result_free(&r);
	ASSERT_TGT(tgt_check_idle(self->host, NULL));
	ASSERT_EQ(0, tgt_write_host(self->host, SIM_LLD_F_COUNTERS, "reset\n"));
}

FIXTURE_TEARDOWN(hotremove)
{
	struct tgt_counters c;
	int i;

	if (self->fd >= 0)
		close(self->fd);
	if (self->added && !self->removed) {
		tgt_write_host(self->host, SIM_LLD_F_FAULT, "none\n");
		tgt_write_host(self->host, SIM_LLD_F_FAULT, "flush\n");
		/* only an idle host: a leak would make the removal hang */
		if (!tgt_counters_read(self->host, &c) &&
		    !c.v[C_OUTSTANDING] && !c.v[C_TAGS_IN_USE]) {
			char idx[16];

			snprintf(idx, sizeof(idx), "%u\n", self->host);
			tgt_write_root(SIM_LLD_F_REMOVE_HOST, idx);
		}
	}
	for (i = 0; i < 2; i++) {
		if (self->child[i] > 0)
			kill(self->child[i], SIGKILL);
		if (self->pipe_rd[i] >= 0)
			close(self->pipe_rd[i]);
	}
}

/*
 * A writer of one synchronous command (no nowait: it may wait for a tag).
 * Writes the write's result (0 or -errno) into its pipe.
 */
static pid_t writer(struct __test_metadata *_metadata, unsigned int host,
		    int *rd)
{
	int p[2], fd, ret;
	pid_t pid;

	ASSERT_EQ(0, pipe(p));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(p[0]);
		fd = tgt_cmd_open(host);
		ret = fd < 0 ? fd : tgt_cmd_write(fd,
				"dir=from len=16384 seed=5 timeout_ms=30000\n");
		_exit(write(p[1], &ret, sizeof(ret)) == sizeof(ret) ? 0 : 1);
	}
	close(p[1]);
	*rd = p[0];
	return pid;
}

static int writer_result(struct __test_metadata *_metadata, pid_t pid, int rd)
{
	struct pollfd pfd = { .fd = rd, .events = POLLIN };
	int ret = 1, status;

	ASSERT_EQ(1, poll(&pfd, 1, 20000)) TH_LOG("writer %d did not return", pid);
	ASSERT_EQ(sizeof(ret), read(rd, &ret, sizeof(ret)));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	return ret;
}

TEST_F(hotremove, remove_with_commands_in_flight)
{
	struct pollfd pfd = { .events = POLLIN };
	char idx[16], path[128];
	struct tgt_counters c, c0;
	unsigned long long n;
	int i, ret;

	ASSERT_TGT(tgt_check_idle(0, &c0));
	ASSERT_EQ(0, tgt_write_host(self->host, SIM_LLD_F_COMPLETION, "%s\n",
				    variant->completion));
	ASSERT_EQ(0, tgt_write_host(self->host, SIM_LLD_F_FAULT, "%s\n",
				    variant->fault));

	/* can_queue - 1 async commands and one synchronous writer: all withheld */
	for (i = 0; i < ASYNC; i++)
		ASSERT_EQ(0, tgt_cmd_write(self->fd, "dir=to len=16384 seed=%d async nowait\n", i));
	self->child[0] = writer(_metadata, self->host, &self->pipe_rd[0]);
	ASSERT_EQ(CAN_QUEUE, tgt_wait_counter(self->host, C_DROPPED_NOW, CAN_QUEUE, 10000));
	/* one more writer: no tag left, it waits for one */
	self->child[1] = writer(_metadata, self->host, &self->pipe_rd[1]);
	ASSERT_EQ(CAN_QUEUE + 1, tgt_wait_counter(self->host, C_OUTSTANDING,
						  CAN_QUEUE + 1, 10000));
	ASSERT_EQ(0, tgt_counters_read(self->host, &c));
	ASSERT_EQ(CAN_QUEUE, c.v[C_TAGS_IN_USE]);
	ASSERT_EQ(CAN_QUEUE, c.v[C_PENDING]);
	ASSERT_EQ(CAN_QUEUE, c.v[C_COMMANDS]);
	ASSERT_EQ(CAN_QUEUE * variant->calls, c.v[C_CHUNKS]);
	for (i = 0; i < 2; i++) {
		pfd.fd = self->pipe_rd[i];
		ASSERT_EQ(0, poll(&pfd, 1, 0)) TH_LOG("writer %d returned early", i);
	}

	/* hot-remove; returns once nothing of the host is outstanding */
	snprintf(idx, sizeof(idx), "%u\n", self->host);
	ASSERT_EQ(0, tgt_write_root(SIM_LLD_F_REMOVE_HOST, idx));
	self->removed = 1;

	/* the withheld writer's command completed (with an error) */
	ASSERT_EQ(0, writer_result(_metadata, self->child[0], self->pipe_rd[0]));
	self->child[0] = 0;
	/* the tag waiter was failed (write returns) or refused (ENODEV) */
	ret = writer_result(_metadata, self->child[1], self->pipe_rd[1]);
	self->child[1] = 0;
	ASSERT_TRUE(ret == 0 || ret == -ENODEV) TH_LOG("tag waiter: %d", ret);

	/* the host is gone: debugfs, hosts list, count, scsi_host class */
	ASSERT_EQ(0, host_listed(self->host));
	ASSERT_EQ(0, tgt_read_ull(SIM_LLD_DEBUGFS_ROOT "/" SIM_LLD_F_ADD_HOST, &n));
	ASSERT_EQ(self->nhosts, n);
	snprintf(path, sizeof(path), SIM_LLD_HOST_DIR_FMT, self->host);
	ASSERT_NE(0, access(path, F_OK));
	snprintf(path, sizeof(path), "/sys/class/scsi_host/host%u", self->host_no);
	ASSERT_NE(0, access(path, F_OK));
	/* its commands went with it */
	ASSERT_GT(0, tgt_cmd_write(self->fd, "dir=to len=4096 nowait\n"));
	close(self->fd);
	self->fd = -1;

	/* the other host did not notice */
	ASSERT_TGT(tgt_check_idle(0, &c));
	ASSERT_EQ(c0.v[C_COMMANDS], c.v[C_COMMANDS]);
	ASSERT_EQ(c0.v[C_GENDEV_REFS], c.v[C_GENDEV_REFS]);
}

/* a host added after a removal starts from zero and works */
TEST_F(hotremove, readd_after_remove)
{
	struct tgt_counters c;
	struct tgt_result r;
	unsigned int again;
	char idx[16];
	int i, fd;

	ASSERT_EQ(0, tgt_write_host(self->host, SIM_LLD_F_FAULT, "drop chunk=0 times=-1\n"));
	for (i = 0; i < CAN_QUEUE; i++)
		ASSERT_EQ(0, tgt_cmd_write(self->fd,
					   "dir=from len=8192 seed=%d async nowait\n", i));
	ASSERT_EQ(CAN_QUEUE, tgt_wait_counter(self->host, C_DROPPED_NOW, CAN_QUEUE, 10000));
	snprintf(idx, sizeof(idx), "%u\n", self->host);
	ASSERT_EQ(0, tgt_write_root(SIM_LLD_F_REMOVE_HOST, idx));
	self->removed = 1;
	close(self->fd);
	self->fd = -1;

	/* the lowest free index comes back, with fresh counters */
	again = add_host(_metadata);
	ASSERT_EQ(self->host, again);
	self->removed = 0;
	ASSERT_TGT(tgt_check_idle(again, &c));
	ASSERT_EQ(0, c.v[C_COMMANDS]);
	ASSERT_EQ(0, c.v[C_CMDS_KEPT]);
	fd = tgt_cmd_open(again);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, tgt_cmd_write(fd, "dir=to len=65536 seed=9 nowait\n"));
	ASSERT_EQ(0, tgt_cmd_read(fd, &r));
	ASSERT_TGT(tgt_check_ok(&r, "to", 65536, 9));
	tgt_result_free(&r);
	close(fd);
	ASSERT_TGT(tgt_check_idle(again, &c));
	ASSERT_EQ(1, c.v[C_CMDS_OK]);
	ASSERT_EQ(0, c.v[C_CMDS_KEPT]);
}

TGT_SELFTEST_MAIN(DESCRIPTION)
