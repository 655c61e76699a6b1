// SPDX-License-Identifier: GPL-2.0
/*
 * 003: a host takes can_queue commands at once (one tag of uspace_req_q
 * each); the next one is refused with EBUSY when asked not to wait
 * (GFP_NOWAIT), or waits until a put frees a tag (GFP_KERNEL). The
 * commands are kept outstanding by withholding their completions
 * (fault "drop chunk=0 times=-1") and released with "flush".
 */
#include <poll.h>

#include "kselftest_harness.h"
#include "tgt_selftest.h"

#define DESCRIPTION "can_queue commands outstanding at once; the next one is refused (nowait) or waits for a tag"

FIXTURE(cq) {
	int fd;
};

FIXTURE_VARIANT(cq) {
	unsigned int can_queue;
	const char *completion;
};

FIXTURE_VARIANT_ADD(cq, one_inline) { .can_queue = 1, .completion = "inline" };
FIXTURE_VARIANT_ADD(cq, four_hrtimer) { .can_queue = 4, .completion = "hrtimer" };
FIXTURE_VARIANT_ADD(cq, sixteen_workqueue) { .can_queue = 16, .completion = "workqueue" };

FIXTURE_SETUP(cq)
{
	struct tgt_limits l;

	ASSERT_EQ(0, tgt_default_limits(&l));
	l.can_queue = variant->can_queue;
	ASSERT_TGT(tgt_reset_host(0, &l));
	ASSERT_EQ(0, tgt_write_host(0, SIM_LLD_F_COMPLETION, "%s\n",
				    variant->completion));
	self->fd = tgt_cmd_open(0);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(cq)
{
	tgt_write_host(0, SIM_LLD_F_FAULT, "none\n");
	tgt_write_host(0, SIM_LLD_F_FAULT, "flush\n");
	if (self->fd >= 0)
		close(self->fd);
}

/* can_queue async commands, all withheld after their first chunk */
static void fill(struct __test_metadata *_metadata, int fd, unsigned int cq)
{
	struct tgt_counters c;
	unsigned int i;

	ASSERT_EQ(0, tgt_write_host(0, SIM_LLD_F_FAULT, "drop chunk=0 times=-1\n"));
	for (i = 0; i < cq; i++)
		ASSERT_EQ(0, tgt_cmd_write(fd, "dir=to len=8192 seed=%u async nowait\n", i))
			TH_LOG("command %u of can_queue %u", i + 1, cq);
	ASSERT_EQ(cq, tgt_wait_counter(0, C_DROPPED_NOW, cq, 5000));
	ASSERT_EQ(0, tgt_counters_read(0, &c));
	ASSERT_EQ(cq, c.v[C_OUTSTANDING]);
	ASSERT_EQ(cq, c.v[C_PENDING]);
	ASSERT_EQ(cq, c.v[C_TAGS_IN_USE]);
	ASSERT_EQ(cq, c.v[C_DEV_REFS]);
	ASSERT_EQ(1, c.v[C_FREE_LIST]);
}

/* release the withheld commands; they complete with an error */
static void drain(struct __test_metadata *_metadata, int fd, unsigned int cq)
{
	struct tgt_result r;

	ASSERT_EQ(0, tgt_write_host(0, SIM_LLD_F_FAULT, "none\n"));
	ASSERT_EQ(0, tgt_write_host(0, SIM_LLD_F_FAULT, "flush\n"));
	ASSERT_EQ(0, tgt_cmd_write(fd, "wait all timeout_ms=10000\n"));
	ASSERT_EQ(0, tgt_cmd_read(fd, &r));
	ASSERT_TRUE(r.summary);
	ASSERT_EQ(cq, r.waited);
	ASSERT_EQ(0, r.ok);
	ASSERT_EQ(cq, r.failed);
	ASSERT_EQ(0, r.pending);
}

/* with nowait the (can_queue + 1)-th command fails at once with EBUSY */
TEST_F(cq, nowait_refused)
{
	unsigned int cq = variant->can_queue;
	struct tgt_counters c;
	struct tgt_result r;
	int fd2, i;

	fill(_metadata, self->fd, cq);
	ASSERT_EQ(-EBUSY, tgt_cmd_write(self->fd, "dir=to len=4096 nowait\n"));
	fd2 = tgt_cmd_open(0);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(-EBUSY, tgt_cmd_write(fd2, "dir=from len=4096 nowait\n"));
	ASSERT_EQ(-EBUSY, tgt_cmd_write(fd2, "dir=none len=0 nowait\n"));
	/* the refused ones took nothing */
	ASSERT_EQ(0, tgt_counters_read(0, &c));
	ASSERT_EQ(cq, c.v[C_OUTSTANDING]);
	ASSERT_EQ(cq, c.v[C_TAGS_IN_USE]);
	ASSERT_EQ(cq, c.v[C_DEV_REFS]);
	ASSERT_EQ(cq, c.v[C_COMMANDS]);
	ASSERT_EQ(1, c.v[C_FREE_LIST]);
	close(fd2);

	drain(_metadata, self->fd, cq);
	ASSERT_TGT(tgt_check_idle(0, &c));
	ASSERT_EQ(cq, c.v[C_DROPPED]);
	ASSERT_EQ(cq, c.v[C_CMDS_FAILED]);

	/* every tag is free again: can_queue commands at once succeed */
	for (i = 0; i < (int)cq; i++)
		ASSERT_EQ(0, tgt_cmd_write(self->fd,
					   "dir=from len=12288 seed=%d async nowait\n", i));
	ASSERT_EQ(0, tgt_cmd_write(self->fd, "wait all timeout_ms=10000\n"));
	ASSERT_EQ(0, tgt_cmd_read(self->fd, &r));
	ASSERT_EQ(cq, r.waited);
	ASSERT_EQ(cq, r.ok);
	ASSERT_EQ(0, r.failed);
	ASSERT_TGT(tgt_check_idle(0, &c));
	ASSERT_EQ(cq, c.v[C_CMDS_OK]);
}

/* child: one blocking command; exit 0 if it got a tag and succeeded */
static int blocking_child(int done_fd)
{
	struct tgt_result r;
	int fd = tgt_cmd_open(0), ret;
	char byte = 1;

	if (fd < 0)
		return 10;
	ret = tgt_cmd_write(fd, "dir=to len=8192 seed=77 timeout_ms=20000\n");
	if (write(done_fd, &byte, 1) != 1)
		return 11;
	if (ret)
		return 12;
	if (tgt_cmd_read(fd, &r))
		return 13;
	if (strcmp(r.state, "done") || r.err || r.result ||
	    r.verify != SIM_LLD_VERIFY_OK || r.nchunk != 1)
		return 14;
	tgt_result_free(&r);
	close(fd);
	return 0;
}

/* without nowait the (can_queue + 1)-th command waits for a free tag */
TEST_F(cq, blocking_waits_for_tag)
{
	unsigned int cq = variant->can_queue;
	struct pollfd pfd;
	struct tgt_counters c;
	int pipefd[2], status;
	pid_t pid;

	fill(_metadata, self->fd, cq);
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(pipefd[0]);
		_exit(blocking_child(pipefd[1]));
	}
	close(pipefd[1]);

	/* sim_lld counts it outstanding before it asks for a tag */
	ASSERT_EQ(cq + 1, tgt_wait_counter(0, C_OUTSTANDING, cq + 1, 5000));
	ASSERT_EQ(0, tgt_counters_read(0, &c));
	ASSERT_EQ(cq, c.v[C_TAGS_IN_USE]);
	ASSERT_EQ(cq, c.v[C_COMMANDS]);
	/* and its write has not returned */
	pfd.fd = pipefd[0];
	pfd.events = POLLIN;
	ASSERT_EQ(0, poll(&pfd, 1, 0));

	/* a put frees a tag: the waiter gets it and runs to completion */
	drain(_metadata, self->fd, cq);
	ASSERT_EQ(1, poll(&pfd, 1, 15000));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	close(pipefd[0]);

	ASSERT_TGT(tgt_check_idle(0, &c));
	ASSERT_EQ(cq + 1, c.v[C_COMMANDS]);
	ASSERT_EQ(1, c.v[C_CMDS_OK]);
	ASSERT_EQ(cq, c.v[C_CMDS_FAILED]);
}

TGT_SELFTEST_MAIN(DESCRIPTION)
