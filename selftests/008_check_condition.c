// SPDX-License-Identifier: GPL-2.0
/*
 * 008: a host whose responses carry sense data (the "sense" knob: the LLD
 * answers CHECK CONDITION with scsi_build_sense() in the command's sense
 * buffer) gives userspace the command's whole data transfer, then err
 * -EIO, status CHECK CONDITION and the sense bytes as the buffer held them,
 * in fixed and in descriptor format; with "none" the responses are GOOD
 * again, and nothing is left in flight.
 */
#include "kselftest_harness.h"
#include "tgt_selftest.h"

#define DESCRIPTION "a response with CHECK CONDITION carries its sense data back to userspace"

#define LEN	(3 * 4096)	/* 3 chunks with max_sectors 8 */

FIXTURE(sense) {
	int fd;
};

FIXTURE_VARIANT(sense) {
	const char *knob;
	const char *dir;
	unsigned int key, asc, ascq;
	unsigned int len;		/* bytes of sense data */
	const char *data;		/* their first bytes, hex */
};

/* ILLEGAL REQUEST, INVALID FIELD IN CDB, fixed format: 18 bytes */
FIXTURE_VARIANT_ADD(sense, fixed_illegal_request) {
	"key=0x5 asc=0x24 ascq=0x0", "to", 0x5, 0x24, 0x0, 18, "700005000000000a00000000240000",
};
/* MEDIUM ERROR, UNRECOVERED READ ERROR, descriptor format: 8 bytes */
FIXTURE_VARIANT_ADD(sense, desc_medium_error) {
	"key=0x3 asc=0x11 ascq=0x0 desc", "from", 0x3, 0x11, 0x0, 8, "7203110000000000",
};

FIXTURE_SETUP(sense)
{
	struct tgt_limits l;

	ASSERT_EQ(0, tgt_default_limits(&l));
	l.max_sectors = 8;
	ASSERT_TGT(tgt_reset_host(0, &l));
	self->fd = tgt_cmd_open(0);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(sense)
{
	tgt_write_host(0, SIM_LLD_F_SENSE, "none\n");
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(sense, check_condition_with_sense)
{
	struct tgt_result r;
	char knob[64];

	ASSERT_EQ(0, tgt_write_host(0, SIM_LLD_F_SENSE, "%s\n", variant->knob));
	ASSERT_LT(0, tgt_read_host(0, SIM_LLD_F_SENSE, knob, sizeof(knob)));
	ASSERT_EQ(0, strncmp(knob, variant->knob, strlen(variant->knob)))
		TH_LOG("sense knob reads '%s'", knob);

	ASSERT_EQ(0, tgt_cmd_write(self->fd, "dir=%s len=%u seed=3\n",
				   variant->dir, LEN));
	ASSERT_EQ(0, tgt_cmd_read(self->fd, &r));
	EXPECT_STREQ("done", r.state);
	EXPECT_EQ(-EIO, r.err);
	EXPECT_EQ(SIM_LLD_RESULT_CHECK_CONDITION, r.result);
	/* all of the data moved before the status */
	EXPECT_EQ(3, r.nchunk);
	EXPECT_TRUE(r.resp_seen);
	EXPECT_EQ(SIM_LLD_RESULT_CHECK_CONDITION, r.resp_result);
	ASSERT_TRUE(r.sense_seen);
	EXPECT_EQ(variant->key, r.sense_key);
	EXPECT_EQ(variant->asc, r.sense_asc);
	EXPECT_EQ(variant->ascq, r.sense_ascq);
	EXPECT_EQ(variant->len, r.sense_len);
	EXPECT_EQ(0, strncmp(r.sense_data, variant->data, strlen(variant->data)))
		TH_LOG("sense data %s", r.sense_data);
	tgt_result_free(&r);
	ASSERT_TGT(tgt_check_idle(0, NULL));
}

TEST_F(sense, none_gives_good_responses_again)
{
	struct tgt_result r;

	ASSERT_EQ(0, tgt_write_host(0, SIM_LLD_F_SENSE, "%s\n", variant->knob));
	ASSERT_EQ(0, tgt_write_host(0, SIM_LLD_F_SENSE, "none\n"));
	ASSERT_EQ(0, tgt_cmd_write(self->fd, "dir=%s len=%u seed=4\n",
				   variant->dir, LEN));
	ASSERT_EQ(0, tgt_cmd_read(self->fd, &r));
	ASSERT_TGT(tgt_check_ok(&r, variant->dir, LEN, 4));
	EXPECT_FALSE(r.sense_seen);
	tgt_result_free(&r);
}

TEST_F(sense, bad_knob_refused)
{
	EXPECT_EQ(-EINVAL, tgt_write_host(0, SIM_LLD_F_SENSE, "key=0x10\n"));
	EXPECT_EQ(-EINVAL, tgt_write_host(0, SIM_LLD_F_SENSE, "asc=0x24\n"));
}

TGT_SELFTEST_MAIN(DESCRIPTION)
