// SPDX-License-Identifier: GPL-2.0
/*
 * 005: faults injected at chunk N (or at the response) reach userspace as
 * the documented error, stop the transfer at that chunk, and leak nothing:
 * no tag, command, host reference or withheld completion is left, the
 * fault is consumed and the next command succeeds.
 *
 * fail -> err -EIO, result DID_BAD_TARGET (0x40000), reason "fault"
 * busy -> err -EBUSY (the LLD refused: SCSI_MLQUEUE_HOST_BUSY), "busy"
 * drop -> the write times out (ETIMEDOUT), the command stays in flight
 *         until "flush": then err -EIO, result DID_NO_CONNECT, "flushed"
 */
#include "kselftest_harness.h"
#include "tgt_selftest.h"

#define DESCRIPTION "injected faults at chunk N give the documented error to userspace and leak nothing"

#define LEN	(5 * 4096)	/* 5 chunks with max_sectors 8 */

FIXTURE(fault) {
	int fd;
	struct tgt_counters before;
};

FIXTURE_VARIANT(fault) {
	const char *fault;
	const char *completion;
	int drop;		/* completion withheld: ETIMEDOUT, flush */
	int err;		/* the command's err */
	unsigned int result;	/* cmd->result at completion */
	int bad;		/* the chunk that failed, -1: the response */
	int reason;		/* its reason */
	unsigned int chunks;	/* transfer_data() calls */
	unsigned int bytes;	/* bytes transferred */
};

FIXTURE_VARIANT_ADD(fault, fail_chunk0) {
	"fail chunk=0", "inline", 0, -EIO, SIM_LLD_RESULT_FAULT, 0,
	SIM_LLD_R_FAULT, 1, 0,
};
FIXTURE_VARIANT_ADD(fault, fail_chunk2_hrtimer) {
	"fail chunk=2", "hrtimer", 0, -EIO, SIM_LLD_RESULT_FAULT, 2,
	SIM_LLD_R_FAULT, 3, 2 * 4096,
};
FIXTURE_VARIANT_ADD(fault, fail_last_chunk_softirq) {
	"fail chunk=4", "softirq", 0, -EIO, SIM_LLD_RESULT_FAULT, 4,
	SIM_LLD_R_FAULT, 5, 4 * 4096,
};
FIXTURE_VARIANT_ADD(fault, busy_chunk0) {
	"busy chunk=0", "inline", 0, -EBUSY, SIM_LLD_RESULT_OK, 0,
	SIM_LLD_R_BUSY, 1, 0,
};
FIXTURE_VARIANT_ADD(fault, busy_chunk3_workqueue) {
	"busy chunk=3", "workqueue", 0, -EBUSY, SIM_LLD_RESULT_OK, 3,
	SIM_LLD_R_BUSY, 4, 3 * 4096,
};
FIXTURE_VARIANT_ADD(fault, drop_chunk2) {
	"drop chunk=2", "inline", 1, -EIO, SIM_LLD_RESULT_NODEV, 2,
	SIM_LLD_R_FLUSHED, 3, 3 * 4096,
};
FIXTURE_VARIANT_ADD(fault, fail_resp_hrtimer) {
	"fail resp", "hrtimer", 0, -EIO, SIM_LLD_RESULT_FAULT, -1,
	SIM_LLD_R_FAULT, 5, LEN,
};
FIXTURE_VARIANT_ADD(fault, busy_resp) {
	"busy resp", "inline", 0, -EBUSY, SIM_LLD_RESULT_OK, -1,
	SIM_LLD_R_BUSY, 5, LEN,
};
FIXTURE_VARIANT_ADD(fault, drop_resp_workqueue) {
	"drop resp", "workqueue", 1, -EIO, SIM_LLD_RESULT_NODEV, -1,
	SIM_LLD_R_FLUSHED, 5, LEN,
};

FIXTURE_SETUP(fault)
{
	struct tgt_limits l;

	ASSERT_EQ(0, tgt_default_limits(&l));
	l.max_sectors = 8;
	ASSERT_TGT(tgt_reset_host(0, &l));
	ASSERT_EQ(0, tgt_write_host(0, SIM_LLD_F_COMPLETION, "%s\n",
				    variant->completion));
	ASSERT_TGT(tgt_check_idle(0, &self->before));
	self->fd = tgt_cmd_open(0);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(fault)
{
	tgt_write_host(0, SIM_LLD_F_FAULT, "none\n");
	tgt_write_host(0, SIM_LLD_F_FAULT, "flush\n");
	if (self->fd >= 0)
		close(self->fd);
}

static void run_fault(struct __test_metadata *_metadata,
		      FIXTURE_DATA(fault) *self,
		      const FIXTURE_VARIANT(fault) *variant, const char *dir)
{
	const char *reason = tgt_reason_name(variant->reason);
	struct tgt_counters c;
	struct tgt_result r;
	char buf[128];
	unsigned int i;
	int ret;

	ASSERT_EQ(0, tgt_write_host(0, SIM_LLD_F_FAULT, "%s\n", variant->fault));
	ret = tgt_cmd_write(self->fd, "dir=%s len=%u seed=11 nowait%s\n", dir,
			    LEN, variant->drop ? " timeout_ms=300" : "");
	if (variant->drop) {
		/* the completion is withheld: in flight until flushed */
		ASSERT_EQ(-ETIMEDOUT, ret);
		ASSERT_EQ(0, tgt_cmd_read(self->fd, &r));
		ASSERT_STREQ("pending", r.state);
		ASSERT_EQ(0, tgt_counters_read(0, &c));
		ASSERT_EQ(1, c.v[C_OUTSTANDING]);
		ASSERT_EQ(1, c.v[C_PENDING]);
		ASSERT_EQ(1, c.v[C_DROPPED_NOW]);
		ASSERT_EQ(1, c.v[C_TAGS_IN_USE]);
		ASSERT_EQ(1, c.v[C_TIMEOUTS]);
		ASSERT_LT(0, tgt_read_host(0, SIM_LLD_F_FAULT, buf, sizeof(buf)));
		ASSERT_NE(NULL, strstr(buf, "dropped=1")) TH_LOG("fault: %s", buf);
		ASSERT_EQ(0, tgt_write_host(0, SIM_LLD_F_FAULT, "flush\n"));
		ASSERT_EQ(0, tgt_cmd_write(self->fd, "wait id=%llu timeout_ms=10000\n", r.id));
		tgt_result_free(&r);
	} else {
		ASSERT_EQ(0, ret);
	}
	ASSERT_EQ(0, tgt_cmd_read(self->fd, &r));
	ASSERT_STREQ("done", r.state);
	ASSERT_EQ(variant->err, r.err);
	ASSERT_EQ(variant->result, r.result);
	ASSERT_EQ(SIM_LLD_VERIFY_SKIPPED, r.verify);
	ASSERT_EQ(-1, r.mismatch);
	ASSERT_EQ(variant->chunks, r.nchunk);
	for (i = 0; i < r.nchunk; i++) {
		int bad = (int)i == variant->bad;

		ASSERT_EQ(i * 4096, r.chunk[i].off);
		ASSERT_EQ(4096, r.chunk[i].len);
		ASSERT_STREQ(bad ? reason : tgt_reason_name(SIM_LLD_R_OK),
			     r.chunk[i].reason) TH_LOG("chunk %u", i);
		ASSERT_EQ(bad ? variant->result : 0, r.chunk[i].result)
			TH_LOG("chunk %u", i);
	}
	if (variant->bad >= 0) {
		/* the sequence stopped: no response after a failed chunk */
		ASSERT_FALSE(r.resp_seen);
	} else {
		ASSERT_TRUE(r.resp_seen);
		ASSERT_EQ(0, r.resp_status);
		ASSERT_STREQ(reason, r.resp_reason);
		ASSERT_EQ(variant->result, r.resp_result);
	}
	tgt_result_free(&r);

	/* counted as documented, nothing left behind */
	ASSERT_TGT(tgt_check_idle(0, &c));
	ASSERT_EQ(1, c.v[C_COMMANDS]);
	ASSERT_EQ(0, c.v[C_CMDS_OK]);
	ASSERT_EQ(1, c.v[C_CMDS_FAILED]);
	ASSERT_EQ(variant->chunks, c.v[C_CHUNKS]);
	ASSERT_EQ(variant->bytes, c.v[C_BYTES]);
	ASSERT_EQ(variant->bad < 0, c.v[C_RESPONSES]);
	ASSERT_EQ(variant->reason == SIM_LLD_R_FAULT, c.v[C_FAULTS]);
	ASSERT_EQ(variant->reason == SIM_LLD_R_BUSY, c.v[C_BUSY]);
	ASSERT_EQ(variant->drop, c.v[C_DROPPED]);
	ASSERT_EQ(variant->drop, c.v[C_TIMEOUTS]);
	ASSERT_EQ(0, c.v[C_ERRORS]);
	ASSERT_EQ(self->before.v[C_GENDEV_REFS], c.v[C_GENDEV_REFS]);
	ASSERT_EQ(1, c.v[C_CMDS_KEPT]);	/* this fd's current command */

	/* one shot: consumed */
	ASSERT_LT(0, tgt_read_host(0, SIM_LLD_F_FAULT, buf, sizeof(buf)));
	ASSERT_NE(NULL, strstr(buf, "times=0")) TH_LOG("fault: %s", buf);
	ASSERT_NE(NULL, strstr(buf, "dropped=0")) TH_LOG("fault: %s", buf);

	/* and the host keeps working */
	ASSERT_EQ(0, tgt_cmd_write(self->fd, "dir=%s len=%u seed=12 nowait\n", dir, LEN));
	ASSERT_EQ(0, tgt_cmd_read(self->fd, &r));
	ASSERT_TGT(tgt_check_ok(&r, dir, LEN, 12));
	ASSERT_EQ(5, r.nchunk);
	tgt_result_free(&r);
	close(self->fd);
	self->fd = -1;
	ASSERT_TGT(tgt_check_idle(0, &c));
	ASSERT_EQ(0, c.v[C_CMDS_KEPT]);
	ASSERT_EQ(1, c.v[C_CMDS_OK]);
	ASSERT_EQ(self->before.v[C_GENDEV_REFS], c.v[C_GENDEV_REFS]);
}

TEST_F(fault, to)
{
	run_fault(_metadata, self, variant, "to");
}

TEST_F(fault, from)
{
	run_fault(_metadata, self, variant, "from");
}

/* times=K fails K commands in a row, times=-1 every one until "none" */
TEST(fault_times)
{
	struct tgt_counters c;
	struct tgt_result r;
	struct tgt_limits l;
	int fd, i;

	ASSERT_EQ(0, tgt_default_limits(&l));
	l.max_sectors = 8;
	ASSERT_TGT(tgt_reset_host(0, &l));
	fd = tgt_cmd_open(0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, tgt_write_host(0, SIM_LLD_F_FAULT, "fail chunk=1 times=2\n"));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, tgt_cmd_write(fd, "dir=to len=12288 seed=%d nowait\n", i));
		ASSERT_EQ(0, tgt_cmd_read(fd, &r));
		if (i < 2) {
			ASSERT_EQ(-EIO, r.err) TH_LOG("command %d", i);
			ASSERT_EQ(2, r.nchunk);
		} else {
			ASSERT_TGT(tgt_check_ok(&r, "to", 12288, i));
		}
		tgt_result_free(&r);
	}
	ASSERT_EQ(0, tgt_write_host(0, SIM_LLD_F_FAULT, "busy chunk=0 times=-1\n"));
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, tgt_cmd_write(fd, "dir=from len=4096 nowait\n"));
		ASSERT_EQ(0, tgt_cmd_read(fd, &r));
		ASSERT_EQ(-EBUSY, r.err);
		tgt_result_free(&r);
	}
	ASSERT_EQ(0, tgt_write_host(0, SIM_LLD_F_FAULT, "none\n"));
	ASSERT_EQ(0, tgt_cmd_write(fd, "dir=from len=4096 seed=4 nowait\n"));
	ASSERT_EQ(0, tgt_cmd_read(fd, &r));
	ASSERT_TGT(tgt_check_ok(&r, "from", 4096, 4));
	tgt_result_free(&r);
	close(fd);
	ASSERT_TGT(tgt_check_idle(0, &c));
	ASSERT_EQ(9, c.v[C_COMMANDS]);
	ASSERT_EQ(7, c.v[C_CMDS_FAILED]);
	ASSERT_EQ(2, c.v[C_CMDS_OK]);
	ASSERT_EQ(2, c.v[C_FAULTS]);
	ASSERT_EQ(5, c.v[C_BUSY]);
	ASSERT_EQ(0, c.v[C_CMDS_KEPT]);
}

TGT_SELFTEST_MAIN(DESCRIPTION)
