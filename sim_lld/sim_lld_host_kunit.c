// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite sim_lld_host: hosts are made with the limits asked for,
 * added and removed without leaving references or Scsi_Hosts behind,
 * accept can_queue commands at once and no more, and removing a host
 * ends the commands still in flight on it.
 */

#include <kunit/test.h>
#include <linux/err.h>
#include <linux/string.h>

#include "sim_lld_kunit.h"

static void sim_host_boot_made_host0_with_defaults(struct kunit *test)
{
	struct sim_lld_limits lim, def;

	/* sim_lld is built in and made its num_hosts (def 1) hosts at boot */
	KUNIT_EXPECT_GE(test, sim_lld_nr_hosts(), 1);
	KUNIT_ASSERT_EQ(test, sim_lld_limits_by_index(0, &lim), 0);
	sim_lld_default_limits(&def);
	KUNIT_EXPECT_MEMEQ(test, &lim, &def, sizeof(lim));
	KUNIT_EXPECT_EQ(test, sim_lld_limits_by_index(SIM_LLD_MAX_HOSTS, &lim),
			-ENODEV);
}

static void sim_host_add_remove_100_leaks_nothing(struct kunit *test)
{
	struct sim_lld_limits lim = sim_k_limits(8, 64, 8192, 0xffffffff, 4);
	struct sim_lld_req req = { .dir = DMA_TO_DEVICE, .len = 70000 };
	unsigned int live = sim_lld_live_shosts();
	unsigned int root_refs = sim_lld_root_refs();
	unsigned int hosts = sim_lld_nr_hosts();
	struct sim_lld_counters c;
	struct sim_lld_host *sh;
	struct sim_lld_cmd *sc;
	u64 refs;
	int i;

	for (i = 0; i < 100; i++) {
		sh = sim_k_add(test, &lim);
		sim_lld_host_counters(sh, &c);
		refs = c.gendev_refs;
		if (i % 10 == 0) {
			req.seed = i;
			req.dir = i % 20 ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
			KUNIT_EXPECT_EQ(test, sim_lld_cmd_run(sh, &req, NULL,
							      &sc), 0);
			KUNIT_EXPECT_NOT_NULL(test, sc);
			if (sc) {
				KUNIT_EXPECT_EQ(test, sc->err, 0);
				KUNIT_EXPECT_EQ(test, sc->verify,
						SIM_LLD_VERIFY_OK);
				sim_lld_cmd_release(sc);
			}
		}
		sim_lld_host_counters(sh, &c);
		KUNIT_EXPECT_EQ(test, c.gendev_refs, refs);
		KUNIT_EXPECT_EQ(test, c.cmds_kept, 0);
		sim_k_expect_idle(test, sh);
		KUNIT_EXPECT_EQ(test, sim_lld_nr_hosts(), hosts + 1);
		sim_k_remove(test, sh);
		/* every Scsi_Host removed so far was released (freed) */
		KUNIT_EXPECT_EQ(test, sim_lld_root_refs(), root_refs);
	}
	KUNIT_EXPECT_EQ(test, sim_lld_live_shosts(), live);
	KUNIT_EXPECT_EQ(test, sim_lld_nr_hosts(), hosts);
}

static void sim_host_can_queue_bounds_commands_in_flight(struct kunit *test)
{
	struct sim_lld_limits lim = sim_k_limits(4, 16, 4096, 0xffffffff, 4);
	struct sim_lld_fault f = { SIM_LLD_FAULT_DROP, false, 0, -1 };
	struct sim_lld_req req = { .dir = DMA_FROM_DEVICE, .len = 4096,
				   .flags = SIM_LLD_REQ_ASYNC |
					    SIM_LLD_REQ_NOWAIT };
	struct sim_lld_cmd *sc[5];
	struct sim_lld_counters c;
	struct sim_lld_host *sh;
	int i;

	sh = sim_k_add(test, &lim);
	sim_lld_host_set_fault(sh, &f);
	for (i = 0; i < 4; i++) {
		KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc[i]), 0);
		KUNIT_ASSERT_NOT_NULL(test, sc[i]);
	}
	KUNIT_EXPECT_EQ(test, sim_lld_cmd_run(sh, &req, NULL, &sc[4]), -EBUSY);
	KUNIT_EXPECT_NULL(test, sc[4]);
	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ(test, c.outstanding, 4);
	KUNIT_EXPECT_EQ(test, c.tags_in_use, 4);
	KUNIT_EXPECT_EQ(test, c.dropped_now, 4);
	KUNIT_EXPECT_EQ(test, c.dev_refs, 4);
	KUNIT_EXPECT_EQ(test, c.commands, 4);

	f.type = SIM_LLD_FAULT_NONE;
	sim_lld_host_set_fault(sh, &f);
	KUNIT_EXPECT_EQ(test, sim_lld_host_flush_dropped(sh), 4);
	for (i = 0; i < 4; i++) {
		KUNIT_EXPECT_EQ(test, sim_lld_cmd_wait(sc[i], 5000), 0);
		KUNIT_EXPECT_EQ(test, sc[i]->err, -EIO);
		KUNIT_EXPECT_EQ(test, sc[i]->result, SIM_LLD_RESULT_NODEV);
	}
	sim_k_expect_idle(test, sh);

	/* the tags are free again */
	req.flags = SIM_LLD_REQ_NOWAIT;
	KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc[4]), 0);
	KUNIT_ASSERT_NOT_NULL(test, sc[4]);
	KUNIT_EXPECT_EQ(test, sc[4]->err, 0);
	KUNIT_EXPECT_EQ(test, sc[4]->verify, SIM_LLD_VERIFY_OK);
	sim_k_expect_idle(test, sh);
	sim_k_remove(test, sh);
}

static void sim_host_removal_ends_commands_in_flight(struct kunit *test)
{
	struct sim_lld_limits lim = sim_k_limits(4, 16, 4096, 0xffffffff, 8);
	struct sim_lld_fault f = { SIM_LLD_FAULT_DROP, false, 1, -1 };
	struct sim_lld_req req = { .dir = DMA_TO_DEVICE, .len = 65536,
				   .flags = SIM_LLD_REQ_ASYNC };
	unsigned int live = sim_lld_live_shosts();
	unsigned int refs = sim_lld_root_refs();
	unsigned int hosts = sim_lld_nr_hosts();
	struct sim_lld_counters c;
	struct sim_lld_cmd *sc[6];
	struct sim_lld_host *sh;
	int i;

	sh = sim_k_add(test, &lim);
	KUNIT_EXPECT_EQ(test, sim_lld_nr_hosts(), hosts + 1);
	sim_lld_host_set_fault(sh, &f);
	for (i = 0; i < 6; i++) {
		/*
		 * The first three complete inline: chunk 1 is withheld when
		 * sim_lld_cmd_run() returns. The others complete from an
		 * hrtimer and are still at chunk 0 or 1 when removal starts.
		 */
		if (i == 3)
			sim_lld_host_set_completion(sh, SIM_LLD_COMPL_HRTIMER,
						    100000);
		req.seed = i;
		KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc[i]), 0);
		KUNIT_ASSERT_NOT_NULL(test, sc[i]);
	}
	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ(test, c.outstanding, 6);
	KUNIT_EXPECT_GE(test, c.dropped_now, 3);
	KUNIT_EXPECT_EQ(test, c.tags_in_use, 6);
	/* the commands keep sh's memory alive until released */
	sim_k_remove(test, sh);
	KUNIT_EXPECT_EQ(test, sim_lld_nr_hosts(), hosts);
	KUNIT_EXPECT_EQ(test, sim_lld_live_shosts(), live);
	/* the Scsi_Host was released: it dropped its root device refs */
	KUNIT_EXPECT_EQ(test, sim_lld_root_refs(), refs);
	for (i = 0; i < 6; i++) {
		/* removal waited for every command: no waiting here */
		KUNIT_EXPECT_EQ(test, sc[i]->state, SIM_LLD_CMD_DONE);
		KUNIT_EXPECT_EQ(test, sim_lld_cmd_wait(sc[i], 0), 0);
		/*
		 * The LLD failed the chunk it held (DID_NO_CONNECT: -EIO), or
		 * the core stopped before the next chunk or the response once
		 * the host was going away (-ENODEV)
		 */
		if (sc[i]->err == -EIO)
			KUNIT_EXPECT_EQ(test, sc[i]->result,
					SIM_LLD_RESULT_NODEV);
		else
			KUNIT_EXPECT_EQ(test, sc[i]->err, -ENODEV);
		KUNIT_EXPECT_EQ(test, sc[i]->verify, SIM_LLD_VERIFY_SKIPPED);
	}
}

static struct kunit_case sim_lld_host_cases[] = {
	KUNIT_CASE(sim_host_boot_made_host0_with_defaults),
	KUNIT_CASE(sim_host_add_remove_100_leaks_nothing),
	KUNIT_CASE(sim_host_can_queue_bounds_commands_in_flight),
	KUNIT_CASE(sim_host_removal_ends_commands_in_flight),
	{}
};

static struct kunit_suite sim_lld_host_suite = {
	.name = "sim_lld_host",
	.test_cases = sim_lld_host_cases,
};

kunit_test_suite(sim_lld_host_suite);
