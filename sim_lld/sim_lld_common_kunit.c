// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers of the KUnit suites of sim_lld (module sim_lld_kunit):
 *
 *   sim_lld_text   the text of the debugfs interface and the module
 *                  parameters: parsed, refused, rendered
 *   sim_lld_host   hosts added, re-created, removed (also with commands
 *                  in flight) without leaked references
 *   sim_lld_data   the data path: every chunk checked against the limits
 *                  from the transfer log, data intact, completion contexts
 *   sim_lld_fault  injected faults: failed, refused and dropped transfers
 */

#include <kunit/test.h>
#include <linux/err.h>
#include <linux/module.h>

#include "sim_lld_kunit.h"

struct sim_lld_limits sim_k_limits(u64 sg, u64 ms, u64 mss, u64 bnd, u64 cq)
{
	struct sim_lld_limits lim;

	lim.v[SIM_LLD_KNOB_SG_TABLESIZE] = sg;
	lim.v[SIM_LLD_KNOB_MAX_SECTORS] = ms;
	lim.v[SIM_LLD_KNOB_MAX_SEGMENT_SIZE] = mss;
	lim.v[SIM_LLD_KNOB_DMA_BOUNDARY] = bnd;
	lim.v[SIM_LLD_KNOB_CAN_QUEUE] = cq;
	return lim;
}

KUNIT_DEFINE_ACTION_WRAPPER(sim_k_host_remove, sim_lld_host_remove,
			    struct sim_lld_host *);

/* add a host, removed when the case ends unless sim_k_remove() did */
struct sim_lld_host *sim_k_add(struct kunit *test,
			       const struct sim_lld_limits *lim)
{
	struct sim_lld_host *sh = sim_lld_host_add(lim);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sh);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, sim_k_host_remove,
							sh), 0);
	return sh;
}

/* remove a host of sim_k_add() now */
void sim_k_remove(struct kunit *test, struct sim_lld_host *sh)
{
	kunit_release_action(test, sim_k_host_remove, sh);
}

KUNIT_DEFINE_ACTION_WRAPPER(sim_k_release, sim_lld_cmd_release,
			    struct sim_lld_cmd *);

/* run a command, released when the case ends */
int sim_k_run(struct kunit *test, struct sim_lld_host *sh,
	      const struct sim_lld_req *req, struct sim_lld_cmd **sc)
{
	int ret = sim_lld_cmd_run(sh, req, NULL, sc);

	/* no memory for the action: the command was released */
	if (*sc && kunit_add_action_or_reset(test, sim_k_release, *sc)) {
		*sc = NULL;
		return -ENOMEM;
	}
	return ret;
}

/* nothing in flight, nothing held: what every case leaves behind */
void sim_k_expect_idle(struct kunit *test, struct sim_lld_host *sh)
{
	struct sim_lld_counters c;

	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ(test, c.outstanding, 0);
	KUNIT_EXPECT_EQ(test, c.pending, 0);
	KUNIT_EXPECT_EQ(test, c.dropped_now, 0);
	KUNIT_EXPECT_EQ(test, c.tags_in_use, 0);
	KUNIT_EXPECT_EQ(test, c.dev_refs, 0);
	KUNIT_EXPECT_EQ(test, c.free_list, 1);
}

MODULE_DESCRIPTION("KUnit tests for sim_lld");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
