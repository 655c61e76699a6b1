// SPDX-License-Identifier: GPL-2.0
/*
 * The sweeps of sim_lld's entry points that allocate, cases of the
 * tgt_cmd_faults suite (only built with CONFIG_SCSI_SIM_LLD): adding a
 * host, changing its limits (which re-creates its Scsi_Host) and running
 * an injected command. For every n the call either fails (-ENOMEM; adding
 * a Scsi_Host may also give -EINVAL, the driver core's error when one of
 * its allocations failed) and leaves everything as it was (no host, no Scsi_Host, no reference on
 * sim_lld's root device; the old host with its old limits; no command,
 * tag or reference), or succeeds (through a fallback) and works.
 */
#include <linux/err.h>
#include <linux/string.h>
#include <kunit/test.h>

#include "../sim_lld/sim_lld.h"
#include "tgt_test.h"

static struct sim_lld_limits tgt_sim_limits(u64 sg, u64 ms, u64 cq)
{
	struct sim_lld_limits lim;

	sim_lld_default_limits(&lim);
	lim.v[SIM_LLD_KNOB_SG_TABLESIZE] = sg;
	lim.v[SIM_LLD_KNOB_MAX_SECTORS] = ms;
	lim.v[SIM_LLD_KNOB_CAN_QUEUE] = cq;
	return lim;
}

/* nothing in flight, nothing held, one reserve */
static void tgt_sim_expect_idle(struct kunit *test, struct sim_lld_host *sh,
				unsigned int n)
{
	struct sim_lld_counters c;

	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ_MSG(test, c.outstanding, 0, "allocation %u failed", n);
	KUNIT_EXPECT_EQ_MSG(test, c.pending, 0, "allocation %u failed", n);
	KUNIT_EXPECT_EQ_MSG(test, c.tags_in_use, 0, "allocation %u failed", n);
	KUNIT_EXPECT_EQ_MSG(test, c.dev_refs, 0, "allocation %u failed", n);
	KUNIT_EXPECT_EQ_MSG(test, c.free_list, 1, "allocation %u failed", n);
}

/* a command of 3 one-page chunks runs through and its data arrives */
static void tgt_sim_expect_works(struct kunit *test, struct sim_lld_host *sh)
{
	struct sim_lld_req req = { .dir = DMA_TO_DEVICE, .len = 3 * 4096,
				   .seed = 5 };
	struct sim_lld_cmd *sc = NULL;

	KUNIT_EXPECT_EQ(test, sim_lld_cmd_run(sh, &req, NULL, &sc), 0);
	KUNIT_ASSERT_NOT_NULL(test, sc);
	KUNIT_EXPECT_EQ(test, sc->err, 0);
	KUNIT_EXPECT_EQ(test, sc->verify, SIM_LLD_VERIFY_OK);
	sim_lld_cmd_release(sc);
}

/* sim_lld_host_add(): a failed add leaves no host behind */
void tgt_faults_sim_lld_host_add(struct kunit *test)
{
	struct sim_lld_limits lim = tgt_sim_limits(16, 8, 4);
	struct tgt_fault_restore *r = tgt_fault_setup(test);
	unsigned int hosts = sim_lld_nr_hosts();
	unsigned int live = sim_lld_live_shosts();
	unsigned int root = sim_lld_root_refs();
	struct tgt_fault_count c = {};
	unsigned int n;

	for (n = 1; n < TGT_FAULT_MAX_N; n++) {
		struct sim_lld_host *sh;
		bool reached;

		tgt_fault_arm(n);
		sh = sim_lld_host_add(&lim);
		reached = tgt_fault_disarm();

		if (IS_ERR(sh)) {
			/* -ENOMEM, or what the driver core makes of it */
			KUNIT_EXPECT_TRUE(test, reached);
			KUNIT_EXPECT_TRUE_MSG(test, PTR_ERR(sh) == -ENOMEM ||
					      PTR_ERR(sh) == -EINVAL,
					      "allocation %u failed: %ld", n,
					      PTR_ERR(sh));
			c.failed++;
		} else {
			tgt_sim_expect_idle(test, sh, n);
			tgt_sim_expect_works(test, sh);
			sim_lld_host_remove(sh);
			if (reached)
				c.fell_back++;
		}
		KUNIT_EXPECT_EQ_MSG(test, sim_lld_nr_hosts(), hosts,
				    "allocation %u failed", n);
		KUNIT_EXPECT_EQ_MSG(test, sim_lld_live_shosts(), live,
				    "allocation %u failed", n);
		KUNIT_EXPECT_EQ_MSG(test, sim_lld_root_refs(), root,
				    "allocation %u failed", n);
		if (!reached)
			break;
	}
	tgt_fault_teardown(r);
	KUNIT_EXPECT_LT(test, n, TGT_FAULT_MAX_N);
	KUNIT_EXPECT_GE(test, c.failed, 3);
	tgt_fault_report(test, "sim_lld_host_add()", &c);
}

KUNIT_DEFINE_ACTION_WRAPPER(tgt_sim_host_remove, sim_lld_host_remove,
			    struct sim_lld_host *);

static struct sim_lld_host *tgt_sim_add(struct kunit *test,
					const struct sim_lld_limits *lim)
{
	struct sim_lld_host *sh = sim_lld_host_add(lim);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sh);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test,
							tgt_sim_host_remove,
							sh), 0);
	return sh;
}

/*
 * sim_lld_host_set_limits() re-creates the host's Scsi_Host: a failed
 * change keeps the old Scsi_Host with the old limits, working.
 */
void tgt_faults_sim_lld_knob_change(struct kunit *test)
{
	struct sim_lld_limits lim[2] = { tgt_sim_limits(16, 8, 4),
					 tgt_sim_limits(8, 16, 8) };
	struct tgt_fault_restore *r = tgt_fault_setup(test);
	struct sim_lld_host *sh = tgt_sim_add(test, &lim[0]);
	unsigned int live = sim_lld_live_shosts();
	unsigned int root = sim_lld_root_refs();
	struct tgt_fault_count c = {};
	unsigned int n, cur = 0;

	for (n = 1; n < TGT_FAULT_MAX_N; n++) {
		struct sim_lld_limits now;
		bool reached;
		int ret;

		tgt_fault_arm(n);
		ret = sim_lld_host_set_limits(sh, &lim[!cur]);
		reached = tgt_fault_disarm();

		if (ret) {
			KUNIT_EXPECT_TRUE(test, reached);
			KUNIT_EXPECT_TRUE_MSG(test, ret == -ENOMEM || ret == -EINVAL,
					      "allocation %u failed: %d", n, ret);
			c.failed++;
		} else {
			cur = !cur;
			if (reached)
				c.fell_back++;
		}
		sim_lld_host_get_limits(sh, &now);
		KUNIT_EXPECT_MEMEQ_MSG(test, &now, &lim[cur], sizeof(now),
				       "allocation %u failed", n);
		KUNIT_EXPECT_EQ_MSG(test, sim_lld_live_shosts(), live,
				    "allocation %u failed", n);
		KUNIT_EXPECT_EQ_MSG(test, sim_lld_root_refs(), root,
				    "allocation %u failed", n);
		tgt_sim_expect_idle(test, sh, n);
		tgt_sim_expect_works(test, sh);
		if (!reached)
			break;
	}
	tgt_fault_teardown(r);
	KUNIT_EXPECT_LT(test, n, TGT_FAULT_MAX_N);
	KUNIT_EXPECT_GE(test, c.failed, 3);
	tgt_fault_report(test, "sim_lld_host_set_limits()", &c);
}

/*
 * sim_lld_cmd_run() of a command completed inline (so all of it runs in
 * this task): a failed injection (-ENOMEM; the command, if the target core
 * refused it, with that error and no chunk) leaves no tag or reference.
 */
void tgt_faults_sim_lld_cmd_run(struct kunit *test)
{
	struct sim_lld_limits lim = tgt_sim_limits(16, 8, 4);
	struct sim_lld_req req = { .dir = DMA_FROM_DEVICE, .len = 8 * 4096,
				   .seed = 11 };
	struct tgt_fault_restore *r = tgt_fault_setup(test);
	struct sim_lld_host *sh = tgt_sim_add(test, &lim);
	struct tgt_fault_count c = {};
	struct sim_lld_counters before;
	unsigned int n;

	KUNIT_ASSERT_EQ(test, sim_lld_host_set_completion(sh,
							  SIM_LLD_COMPL_INLINE,
							  0), 0);
	sim_lld_host_counters(sh, &before);
	for (n = 1; n < TGT_FAULT_MAX_N; n++) {
		struct sim_lld_counters now;
		struct sim_lld_cmd *sc = NULL;
		bool reached;
		int ret;

		tgt_fault_arm(n);
		ret = sim_lld_cmd_run(sh, &req, NULL, &sc);
		reached = tgt_fault_disarm();

		if (ret) {
			KUNIT_EXPECT_TRUE(test, reached);
			KUNIT_EXPECT_EQ_MSG(test, ret, -ENOMEM,
					    "allocation %u failed", n);
			/* refused by the target core: the command is kept */
			if (sc) {
				KUNIT_EXPECT_EQ(test, sc->err, -ENOMEM);
				KUNIT_EXPECT_EQ(test, sc->log.nr_chunks, 0);
				sim_lld_cmd_release(sc);
			}
			c.failed++;
		} else {
			KUNIT_ASSERT_NOT_NULL(test, sc);
			KUNIT_EXPECT_EQ_MSG(test, sc->err, 0,
					    "allocation %u failed", n);
			KUNIT_EXPECT_EQ_MSG(test, sc->verify, SIM_LLD_VERIFY_OK,
					    "allocation %u failed", n);
			KUNIT_EXPECT_EQ(test, sc->log.nr_chunks, 8);
			sim_lld_cmd_release(sc);
			if (reached)
				c.fell_back++;
		}
		tgt_sim_expect_idle(test, sh, n);
		sim_lld_host_counters(sh, &now);
		KUNIT_EXPECT_EQ_MSG(test, now.gendev_refs, before.gendev_refs,
				    "allocation %u failed", n);
		if (!reached)
			break;
	}
	tgt_fault_teardown(r);
	KUNIT_EXPECT_LT(test, n, TGT_FAULT_MAX_N);
	KUNIT_EXPECT_GE(test, c.failed, 1);
	tgt_fault_report(test, "sim_lld_cmd_run()", &c);
}
