// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite sim_lld_fault: a fault armed on a host fails, refuses or
 * withholds the completion of exactly the chunk (or response) it names,
 * as often as it says; the command ends with the documented error, the
 * counters say what happened and nothing is left in flight.
 */

#include <kunit/test.h>
#include <linux/string.h>
#include <scsi/scsi_common.h>
#include <scsi/scsi_host.h>
#include <scsi/scsi_proto.h>

#include "sim_lld_kunit.h"

static void sim_fault_fail_ends_command_with_eio(struct kunit *test)
{
	struct sim_lld_limits lim = sim_k_limits(1, 8, 4096, 0xffffffff, 4);
	struct sim_lld_fault f = { SIM_LLD_FAULT_FAIL, false, 2, 1 };
	struct sim_lld_req req = { .dir = DMA_TO_DEVICE, .len = 10 * 4096 };
	struct sim_lld_counters c;
	struct sim_lld_host *sh;
	struct sim_lld_cmd *sc;
	int i;

	sh = sim_k_add(test, &lim);
	sim_lld_host_set_fault(sh, &f);
	KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc), 0);
	KUNIT_ASSERT_NOT_NULL(test, sc);
	KUNIT_EXPECT_EQ(test, sc->err, -EIO);
	KUNIT_EXPECT_EQ(test, sc->result, SIM_LLD_RESULT_FAULT);
	KUNIT_EXPECT_EQ(test, sc->verify, SIM_LLD_VERIFY_SKIPPED);
	KUNIT_ASSERT_EQ(test, sc->log.nr_chunks, 3);
	KUNIT_EXPECT_EQ(test, sc->log.chunks[0].reason, SIM_LLD_R_OK);
	KUNIT_EXPECT_EQ(test, sc->log.chunks[1].reason, SIM_LLD_R_OK);
	KUNIT_EXPECT_EQ(test, sc->log.chunks[2].reason, SIM_LLD_R_FAULT);
	KUNIT_EXPECT_EQ(test, sc->log.chunks[2].result, SIM_LLD_RESULT_FAULT);
	KUNIT_EXPECT_EQ(test, sc->log.chunks[2].offset, 2 * 4096);
	KUNIT_EXPECT_FALSE(test, sc->log.resp_seen);
	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ(test, c.faults, 1);
	KUNIT_EXPECT_EQ(test, c.chunks, 3);
	KUNIT_EXPECT_EQ(test, c.bytes, 2 * 4096);
	KUNIT_EXPECT_EQ(test, c.cmds_failed, 1);
	KUNIT_EXPECT_EQ(test, c.responses, 0);
	sim_k_expect_idle(test, sh);

	/* one shot: the next command runs through */
	KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc), 0);
	KUNIT_EXPECT_EQ(test, sc->err, 0);
	KUNIT_EXPECT_EQ(test, sc->verify, SIM_LLD_VERIFY_OK);
	KUNIT_EXPECT_EQ(test, sc->log.nr_chunks, 10);

	/* a failed response */
	f.resp = true;
	sim_lld_host_set_fault(sh, &f);
	KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc), 0);
	KUNIT_EXPECT_EQ(test, sc->err, -EIO);
	KUNIT_EXPECT_EQ(test, sc->result, SIM_LLD_RESULT_FAULT);
	KUNIT_EXPECT_EQ(test, sc->log.nr_chunks, 10);
	KUNIT_EXPECT_TRUE(test, sc->log.resp_seen);
	KUNIT_EXPECT_EQ(test, sc->log.resp_reason, SIM_LLD_R_FAULT);
	KUNIT_EXPECT_EQ(test, sc->log.resp_result, SIM_LLD_RESULT_FAULT);

	/* times=2: two commands fail at chunk 0, the third runs through */
	f.resp = false;
	f.chunk = 0;
	f.times = 2;
	sim_lld_host_set_fault(sh, &f);
	for (i = 0; i < 3; i++) {
		KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc), 0);
		KUNIT_EXPECT_EQ(test, sc->err, i < 2 ? -EIO : 0);
		KUNIT_EXPECT_EQ(test, sc->log.nr_chunks, i < 2 ? 1 : 10);
	}
	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ(test, c.faults, 4);
	KUNIT_EXPECT_EQ(test, c.commands, 6);
	KUNIT_EXPECT_EQ(test, c.cmds_ok, 2);
	KUNIT_EXPECT_EQ(test, c.cmds_failed, 4);
	sim_k_expect_idle(test, sh);
	sim_k_remove(test, sh);
}

static void sim_fault_busy_ends_command_with_ebusy(struct kunit *test)
{
	struct sim_lld_limits lim = sim_k_limits(1, 8, 4096, 0xffffffff, 4);
	struct sim_lld_fault f = { SIM_LLD_FAULT_BUSY, false, 1, 1 };
	struct sim_lld_req req = { .dir = DMA_FROM_DEVICE, .len = 3 * 4096 };
	struct sim_lld_counters c;
	struct sim_lld_host *sh;
	struct sim_lld_cmd *sc;

	sh = sim_k_add(test, &lim);
	sim_lld_host_set_fault(sh, &f);
	KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc), 0);
	KUNIT_ASSERT_NOT_NULL(test, sc);
	KUNIT_EXPECT_EQ(test, sc->err, -EBUSY);
	KUNIT_ASSERT_EQ(test, sc->log.nr_chunks, 2);
	KUNIT_EXPECT_EQ(test, sc->log.chunks[0].reason, SIM_LLD_R_OK);
	KUNIT_EXPECT_EQ(test, sc->log.chunks[1].reason, SIM_LLD_R_BUSY);
	KUNIT_EXPECT_FALSE(test, sc->log.resp_seen);
	sim_k_expect_idle(test, sh);

	/* a refused response */
	f.resp = true;
	sim_lld_host_set_fault(sh, &f);
	KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc), 0);
	KUNIT_EXPECT_EQ(test, sc->err, -EBUSY);
	KUNIT_EXPECT_EQ(test, sc->log.nr_chunks, 3);
	KUNIT_EXPECT_TRUE(test, sc->log.resp_seen);
	KUNIT_EXPECT_EQ(test, sc->log.resp_reason, SIM_LLD_R_BUSY);

	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ(test, c.busy, 2);
	KUNIT_EXPECT_EQ(test, c.cmds_failed, 2);
	KUNIT_EXPECT_EQ(test, c.pending, 0);
	sim_k_expect_idle(test, sh);
	sim_k_remove(test, sh);
}

static void sim_fault_drop_withholds_until_flush(struct kunit *test)
{
	struct sim_lld_limits lim = sim_k_limits(4, 16, 4096, 0xffffffff, 4);
	struct sim_lld_fault f = { SIM_LLD_FAULT_DROP, false, 0, 1 };
	struct sim_lld_req req = { .dir = DMA_TO_DEVICE, .len = 8192,
				   .timeout_ms = 20 };
	struct sim_lld_limits lim2 = lim;
	struct sim_lld_limits now;
	struct sim_lld_counters c;
	struct Scsi_Host *shost;
	struct sim_lld_host *sh;
	struct sim_lld_cmd *sc;

	sh = sim_k_add(test, &lim);
	shost = sim_lld_host_shost(sh);
	sim_lld_host_set_fault(sh, &f);
	/* the timeout is what is tested here: the completion never comes */
	KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc), -ETIMEDOUT);
	KUNIT_ASSERT_NOT_NULL(test, sc);
	KUNIT_EXPECT_EQ(test, sc->state, SIM_LLD_CMD_PENDING);
	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ(test, c.outstanding, 1);
	KUNIT_EXPECT_EQ(test, c.pending, 1);
	KUNIT_EXPECT_EQ(test, c.dropped_now, 1);
	KUNIT_EXPECT_EQ(test, c.tags_in_use, 1);
	KUNIT_EXPECT_EQ(test, c.dev_refs, 1);
	KUNIT_EXPECT_EQ(test, c.timeouts, 1);

	/* no reconfiguration under a command */
	lim2.v[SIM_LLD_KNOB_MAX_SECTORS] = 8;
	KUNIT_EXPECT_EQ(test, sim_lld_host_set_limits(sh, &lim2), -EBUSY);
	KUNIT_EXPECT_EQ(test, sim_lld_host_store_knob(sh,
						      SIM_LLD_KNOB_CAN_QUEUE,
						      "8"), -EBUSY);
	sim_lld_host_get_limits(sh, &now);
	KUNIT_EXPECT_MEMEQ(test, &now, &lim, sizeof(now));
	KUNIT_EXPECT_PTR_EQ(test, sim_lld_host_shost(sh), shost);

	KUNIT_EXPECT_EQ(test, sim_lld_host_flush_dropped(sh), 1);
	KUNIT_EXPECT_EQ(test, sim_lld_cmd_wait(sc, 5000), 0);
	KUNIT_EXPECT_EQ(test, sc->err, -EIO);
	KUNIT_EXPECT_EQ(test, sc->result, SIM_LLD_RESULT_NODEV);
	KUNIT_EXPECT_EQ(test, sc->log.nr_chunks, 1);
	KUNIT_EXPECT_EQ(test, sc->log.chunks[0].reason, SIM_LLD_R_FLUSHED);
	KUNIT_EXPECT_EQ(test, sc->log.chunks[0].result, SIM_LLD_RESULT_NODEV);
	sim_k_expect_idle(test, sh);

	/* a dropped response, flushed */
	f.resp = true;
	sim_lld_host_set_fault(sh, &f);
	req.timeout_ms = 0;
	req.flags = SIM_LLD_REQ_ASYNC;
	KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc), 0);
	KUNIT_ASSERT_NOT_NULL(test, sc);
	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ(test, c.dropped_now, 1);
	KUNIT_EXPECT_EQ(test, sim_lld_host_flush_dropped(sh), 1);
	KUNIT_EXPECT_EQ(test, sim_lld_cmd_wait(sc, 5000), 0);
	KUNIT_EXPECT_EQ(test, sc->err, -EIO);
	KUNIT_EXPECT_EQ(test, sc->log.nr_chunks, 1);
	KUNIT_EXPECT_EQ(test, sc->log.chunks[0].reason, SIM_LLD_R_OK);
	KUNIT_EXPECT_EQ(test, sc->log.resp_reason, SIM_LLD_R_FLUSHED);
	KUNIT_EXPECT_EQ(test, sc->log.resp_result, SIM_LLD_RESULT_NODEV);
	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ(test, c.dropped, 2);
	sim_k_expect_idle(test, sh);

	/* idle again: now the limits can change */
	KUNIT_EXPECT_EQ(test, sim_lld_host_set_limits(sh, &lim2), 0);
	sim_lld_host_get_limits(sh, &now);
	KUNIT_EXPECT_MEMEQ(test, &now, &lim2, sizeof(now));
	sim_k_remove(test, sh);
}

struct sim_k_sense_param {
	const char *name;
	bool desc;
	u8 code;	/* response code of the sense data */
	u8 len;		/* bytes of sense data */
};

static const struct sim_k_sense_param sim_k_sense_params[] = {
	{ "fixed format", false, 0x70, 18 },
	{ "descriptor format", true, 0x72, 8 },
};

KUNIT_ARRAY_PARAM_DESC(sim_k_sense, sim_k_sense_params, name);

/*
 * The sense knob: transfer_response answers CHECK CONDITION with the sense
 * built by scsi_build_sense() in the command's sense buffer; the command
 * ends with -EIO after all its data, its log and its text carry the sense;
 * "none" gives GOOD responses again.
 */
static void sim_fault_sense_answers_check_condition(struct kunit *test)
{
	const struct sim_k_sense_param *p = test->param_value;
	struct sim_lld_limits lim = sim_k_limits(128, 8, 65536, 0xffffffff, 4);
	struct sim_lld_sense s = { .on = true, .desc = p->desc,
				   .key = ILLEGAL_REQUEST, .asc = 0x24 };
	struct sim_lld_req req = { .dir = DMA_FROM_DEVICE, .len = 3 * 4096,
				   .seed = 7 };
	struct scsi_sense_hdr sshdr;
	struct sim_lld_host *sh;
	struct sim_lld_cmd *sc;
	char *text, line[96];

	sh = sim_k_add(test, &lim);
	sim_lld_host_set_sense(sh, &s);
	KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc), 0);
	KUNIT_ASSERT_NOT_NULL(test, sc);
	KUNIT_EXPECT_EQ(test, sc->err, -EIO);
	KUNIT_EXPECT_EQ(test, sc->result, SIM_LLD_RESULT_CHECK_CONDITION);
	KUNIT_EXPECT_EQ(test, sc->log.nr_chunks, 3);
	KUNIT_EXPECT_TRUE(test, sc->log.resp_seen);
	KUNIT_EXPECT_EQ(test, sc->log.resp_result,
			SIM_LLD_RESULT_CHECK_CONDITION);
	KUNIT_ASSERT_EQ(test, sc->log.sense_len, p->len);
	KUNIT_EXPECT_EQ(test, sc->log.sense[0], p->code);
	KUNIT_ASSERT_TRUE(test, scsi_normalize_sense(sc->log.sense,
						     sc->log.sense_len,
						     &sshdr));
	KUNIT_EXPECT_EQ(test, sshdr.sense_key, ILLEGAL_REQUEST);
	KUNIT_EXPECT_EQ(test, sshdr.asc, 0x24);
	KUNIT_EXPECT_EQ(test, sshdr.ascq, 0);

	text = kunit_kzalloc(test, sim_lld_cmd_render_size(sc), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, text);
	sim_lld_cmd_render(sc, text, sim_lld_cmd_render_size(sc));
	snprintf(line, sizeof(line), "sense key=0x5 asc=0x24 ascq=0x0 len=%u data=%02x",
		 p->len, p->code);
	KUNIT_EXPECT_NOT_NULL_MSG(test, strstr(text, line), "%s", text);

	s.on = false;
	sim_lld_host_set_sense(sh, &s);
	KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc), 0);
	KUNIT_EXPECT_EQ(test, sc->err, 0);
	KUNIT_EXPECT_EQ(test, sc->result, 0);
	KUNIT_EXPECT_EQ(test, sc->log.sense_len, 0);
	KUNIT_EXPECT_EQ(test, sc->verify, SIM_LLD_VERIFY_OK);
	sim_k_expect_idle(test, sh);
}

static struct kunit_case sim_lld_fault_cases[] = {
	KUNIT_CASE_PARAM(sim_fault_sense_answers_check_condition,
			 sim_k_sense_gen_params),
	KUNIT_CASE(sim_fault_fail_ends_command_with_eio),
	KUNIT_CASE(sim_fault_busy_ends_command_with_ebusy),
	KUNIT_CASE(sim_fault_drop_withholds_until_flush),
	{}
};

static struct kunit_suite sim_lld_fault_suite = {
	.name = "sim_lld_fault",
	.test_cases = sim_lld_fault_cases,
};

kunit_test_suite(sim_lld_fault_suite);
