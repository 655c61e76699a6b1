// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite tgt_cmd_sense: a target command carries what an LLD needs to
 * answer it: a sense buffer of SCSI_SENSE_BUFFERSIZE bytes (2.6.16 had it
 * inside struct scsi_cmnd; 6.12's initiator commands point into the
 * request pdu), so transfer_response can answer CHECK CONDITION with
 * scsi_build_sense(), and the template's cmd_size bytes of LLD private
 * data at scsi_cmd_priv(), as for an initiator command.
 */
#include <linux/slab.h>
#include <kunit/static_stub.h>
#include <kunit/test.h>

#include <scsi/scsi.h>
#include <scsi/scsi_cmnd.h>
#include <scsi/scsi_common.h>
#include <scsi/scsi_host.h>
#include <scsi/scsi_proto.h>
#include <scsi/scsi_tgt.h>

#include "tgt_test.h"

static struct scsi_host_cmd *tgt_sense_alloc_fails(struct Scsi_Host *shost,
						   gfp_t gfp)
{
	return NULL;
}

static void tgt_sense_expect_zero(struct kunit *test, const u8 *buf,
				  size_t len, const char *what)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i])
			break;
	KUNIT_EXPECT_EQ_MSG(test, i, len, "%s: byte %zu is %#x", what, i,
			    i < len ? buf[i] : 0);
}

/*
 * Every command, the free-list reserve included, has its own zeroed sense
 * buffer; sense a command was given is gone from the next command made
 * from the same memory.
 */
static void tgt_sense_get_gives_zeroed_sense_buffer(struct kunit *test)
{
	struct tgt_test_host *th = tgt_test_host_create(test, NULL, true);
	struct scsi_cmnd *a, *b, *reserve;

	a = tgt_test_get(th, DMA_TO_DEVICE, GFP_KERNEL);
	b = tgt_test_get(th, DMA_FROM_DEVICE, GFP_ATOMIC);
	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_ASSERT_NOT_NULL(test, b);
	KUNIT_ASSERT_NOT_NULL(test, a->sense_buffer);
	KUNIT_ASSERT_NOT_NULL(test, b->sense_buffer);
	KUNIT_EXPECT_PTR_NE(test, a->sense_buffer, b->sense_buffer);
	tgt_sense_expect_zero(test, a->sense_buffer, SCSI_SENSE_BUFFERSIZE,
			      "new command");
	/* the whole buffer belongs to the command (KASAN checks the bounds) */
	memset(a->sense_buffer, 0x5a, SCSI_SENSE_BUFFERSIZE);
	memset(b->sense_buffer, 0x5a, SCSI_SENSE_BUFFERSIZE);
	tgt_test_put(th, b);

	/* the reserve, taken when the allocation fails */
	kunit_activate_static_stub(test, scsi_host_cmd_alloc,
				   tgt_sense_alloc_fails);
	reserve = tgt_test_get(th, DMA_TO_DEVICE, GFP_ATOMIC);
	kunit_deactivate_static_stub(test, scsi_host_cmd_alloc);
	KUNIT_ASSERT_NOT_NULL(test, reserve);
	KUNIT_ASSERT_EQ(test, tgt_test_free_list_len(th->shost, NULL), 0);
	KUNIT_ASSERT_NOT_NULL(test, reserve->sense_buffer);
	tgt_sense_expect_zero(test, reserve->sense_buffer,
			      SCSI_SENSE_BUFFERSIZE, "reserve command");
	memset(reserve->sense_buffer, 0x5a, SCSI_SENSE_BUFFERSIZE);
	/* the list is empty: this put makes it the reserve again */
	tgt_test_put(th, reserve);
	kunit_activate_static_stub(test, scsi_host_cmd_alloc,
				   tgt_sense_alloc_fails);
	reserve = tgt_test_get(th, DMA_TO_DEVICE, GFP_ATOMIC);
	kunit_deactivate_static_stub(test, scsi_host_cmd_alloc);
	KUNIT_ASSERT_NOT_NULL(test, reserve);
	tgt_sense_expect_zero(test, reserve->sense_buffer,
			      SCSI_SENSE_BUFFERSIZE, "reused reserve");
	KUNIT_EXPECT_EQ(test, a->sense_buffer[0], 0x5a);
}

struct tgt_sense_param {
	const char *name;
	bool desc;
	u8 key, asc, ascq;
	unsigned int len;
};

static const struct tgt_sense_param tgt_sense_params[] = {
	{ "fixed format, no data", false, ILLEGAL_REQUEST, 0x24, 0x00, 0 },
	{ "descriptor format, no data", true, ILLEGAL_REQUEST, 0x20, 0x00, 0 },
	{ "fixed format after 3 chunks", false, MEDIUM_ERROR, 0x11, 0x00,
	  3 * 4096 },
	{ "descriptor format after 3 chunks", true, HARDWARE_ERROR, 0x44, 0x00,
	  3 * 4096 },
};

KUNIT_ARRAY_PARAM_DESC(tgt_sense, tgt_sense_params, name);

/*
 * transfer_response answers CHECK CONDITION with scsi_build_sense(): the
 * command ends with -EIO, its result is the status and its sense buffer
 * holds the key, ASC and ASCQ the LLD built.
 */
static void tgt_sense_check_condition_reaches_done(struct kunit *test)
{
	const struct tgt_sense_param *p = test->param_value;
	struct tgt_test_limits lim = { .max_sectors = 8 };
	struct tgt_test_host *th = tgt_test_host_create(test, &lim, true);
	struct scsi_sense_hdr sshdr;
	struct scsi_cmnd *cmd;
	u8 *buf = NULL;
	int err;

	if (p->len) {
		buf = kunit_kzalloc(test, p->len, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, buf);
		th->backing = kunit_kzalloc(test, p->len, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, th->backing);
		th->backing_len = p->len;
	}
	tgt_test_log_alloc(th, 8, 8);
	th->sense_key = p->key;
	th->sense_asc = p->asc;
	th->sense_ascq = p->ascq;
	th->sense_desc = p->desc;

	cmd = tgt_test_get(th, DMA_TO_DEVICE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, cmd);
	KUNIT_ASSERT_NOT_NULL(test, cmd->sense_buffer);
	err = tgt_test_run(th, cmd, buf, p->len);
	KUNIT_EXPECT_EQ(test, err, -EIO);
	KUNIT_EXPECT_EQ(test, th->nr_calls, p->len / 4096);
	KUNIT_EXPECT_EQ(test, th->nr_responses, 1);
	KUNIT_EXPECT_EQ(test, cmd->result, SAM_STAT_CHECK_CONDITION);
	KUNIT_ASSERT_TRUE(test, scsi_normalize_sense(cmd->sense_buffer,
						     SCSI_SENSE_BUFFERSIZE,
						     &sshdr));
	KUNIT_EXPECT_EQ(test, sshdr.response_code, p->desc ? 0x72 : 0x70);
	KUNIT_EXPECT_EQ(test, sshdr.sense_key, p->key);
	KUNIT_EXPECT_EQ(test, sshdr.asc, p->asc);
	KUNIT_EXPECT_EQ(test, sshdr.ascq, p->ascq);
	tgt_test_put(th, cmd);
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost), 0);
}

/*
 * A template with cmd_size: scsi_cmd_priv() of a target command is that
 * many bytes of the LLD's, zeroed at every get, and writing all of them
 * disturbs neither the command's link to its request and host nor a
 * command run through the core.
 */
static void tgt_priv_data_follows_command(struct kunit *test)
{
	struct tgt_test_limits lim = { .max_sectors = 8,
				       .cmd_size = TGT_TEST_CMD_SIZE };
	struct tgt_test_host *th = tgt_test_host_create(test, &lim, true);
	const unsigned int len = 4 * 4096;
	struct scsi_cmnd *cmd, *again;
	u8 *priv, *buf;
	int err;

	KUNIT_ASSERT_EQ(test, th->shost->hostt->cmd_size, TGT_TEST_CMD_SIZE);
	buf = kunit_kmalloc(test, len, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	memset(buf, 0x3c, len);
	th->backing = kunit_kzalloc(test, len, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, th->backing);
	th->backing_len = len;
	tgt_test_log_alloc(th, 8, 8);

	cmd = tgt_test_get(th, DMA_TO_DEVICE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, cmd);
	priv = scsi_cmd_priv(cmd);
	tgt_sense_expect_zero(test, priv, TGT_TEST_CMD_SIZE, "private data");
	memset(priv, 0xa5, TGT_TEST_CMD_SIZE);
	KUNIT_EXPECT_PTR_EQ(test, scsi_host_cmd_to_rq(cmd)->end_io_data,
			    (void *)cmd);
	KUNIT_EXPECT_PTR_EQ(test, scsi_tgt_cmd_to_host(cmd), th->shost);
	KUNIT_EXPECT_EQ(test, cmd->sense_buffer[0], 0);

	err = tgt_test_run(th, cmd, buf, len);
	KUNIT_EXPECT_EQ(test, err, 0);
	KUNIT_EXPECT_EQ(test, th->nr_calls, 4);
	KUNIT_EXPECT_EQ(test, memcmp(th->backing, buf, len), 0);
	KUNIT_EXPECT_EQ(test, priv[0], 0xa5);
	KUNIT_EXPECT_EQ(test, priv[TGT_TEST_CMD_SIZE - 1], 0xa5);

	tgt_test_put(th, cmd);
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost), 0);
	KUNIT_EXPECT_EQ(test, tgt_test_free_list_len(th->shost, NULL), 1);
	again = tgt_test_get(th, DMA_FROM_DEVICE, GFP_ATOMIC);
	KUNIT_ASSERT_NOT_NULL(test, again);
	tgt_sense_expect_zero(test, scsi_cmd_priv(again), TGT_TEST_CMD_SIZE,
			      "private data of the next command");
}

static struct kunit_case tgt_cmd_sense_cases[] = {
	KUNIT_CASE(tgt_sense_get_gives_zeroed_sense_buffer),
	KUNIT_CASE_PARAM(tgt_sense_check_condition_reaches_done,
			 tgt_sense_gen_params),
	KUNIT_CASE(tgt_priv_data_follows_command),
	{}
};

static struct kunit_suite tgt_cmd_sense_suite = {
	.name = "tgt_cmd_sense",
	.test_cases = tgt_cmd_sense_cases,
};

kunit_test_suites(&tgt_cmd_sense_suite);
