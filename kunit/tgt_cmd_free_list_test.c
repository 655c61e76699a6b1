// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite tgt_cmd_free_list: the one-command reserve of a host.
 * A put refills an empty list with the command itself and frees the
 * command when the list is full; a get whose allocation fails takes the
 * reserve. The list never holds more than its reserve.
 */
#include <linux/prandom.h>
#include <kunit/static_stub.h>
#include <kunit/test.h>

#include <scsi/scsi_cmnd.h>
#include <scsi/scsi_host.h>
#include <scsi/scsi_tgt.h>

#include "tgt_test.h"

static struct scsi_host_cmd *tgt_free_list_alloc_fails(struct Scsi_Host *shost,
						       gfp_t gfp)
{
	return NULL;
}

static struct scsi_host_cmd *to_hcmd(struct scsi_cmnd *cmd)
{
	return container_of(cmd, struct scsi_host_cmd, cmd);
}

static void tgt_free_list_new_host_has_reserve_of_one(struct kunit *test)
{
	struct tgt_test_host *th = tgt_test_host_create(test, NULL, true);
	struct scsi_host_cmd *first;

	KUNIT_EXPECT_EQ(test, tgt_test_free_list_len(th->shost, &first), 1);
	KUNIT_EXPECT_NOT_NULL(test, first);
}

/* with a working allocator get leaves the reserve alone */
static void tgt_free_list_get_leaves_reserve_alone(struct kunit *test)
{
	struct tgt_test_host *th = tgt_test_host_create(test, NULL, true);
	struct scsi_host_cmd *reserve, *first;
	struct scsi_cmnd *cmd;

	KUNIT_ASSERT_EQ(test, tgt_test_free_list_len(th->shost, &reserve), 1);
	cmd = tgt_test_get(th, DMA_TO_DEVICE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, cmd);
	KUNIT_EXPECT_PTR_NE(test, to_hcmd(cmd), reserve);
	KUNIT_EXPECT_EQ(test, tgt_test_free_list_len(th->shost, &first), 1);
	KUNIT_EXPECT_PTR_EQ(test, first, reserve);
}

/* allocation fails: get takes the reserve, the next put puts one back */
static void tgt_free_list_alloc_failure_takes_reserve(struct kunit *test)
{
	struct tgt_test_host *th = tgt_test_host_create(test, NULL, true);
	struct Scsi_Host *shost = th->shost;
	struct scsi_host_cmd *reserve, *first;
	struct scsi_cmnd *cmd;

	KUNIT_ASSERT_EQ(test, tgt_test_free_list_len(shost, &reserve), 1);
	kunit_activate_static_stub(test, scsi_host_cmd_alloc,
				   tgt_free_list_alloc_fails);
	cmd = tgt_test_get(th, DMA_FROM_DEVICE, GFP_KERNEL);
	kunit_deactivate_static_stub(test, scsi_host_cmd_alloc);
	KUNIT_ASSERT_NOT_NULL(test, cmd);
	KUNIT_EXPECT_PTR_EQ(test, to_hcmd(cmd), reserve);
	KUNIT_EXPECT_EQ(test, tgt_test_free_list_len(shost, NULL), 0);
	/* the reserve comes back zeroed and set up like any command */
	KUNIT_EXPECT_EQ(test, cmd->sc_data_direction, DMA_FROM_DEVICE);
	KUNIT_EXPECT_EQ(test, cmd->offset, 0);
	KUNIT_EXPECT_PTR_EQ(test, scsi_host_cmd_to_rq(cmd)->end_io_data,
			    (void *)cmd);

	tgt_test_put(th, cmd);
	KUNIT_EXPECT_EQ(test, tgt_test_free_list_len(shost, &first), 1);
	KUNIT_EXPECT_PTR_EQ(test, first, reserve);
}

/*
 * put on an empty list refills it with the same command object; put on a
 * full list frees the command (the list keeps its one command)
 */
static void tgt_free_list_put_refills_empty_list_frees_on_full(struct kunit *test)
{
	struct tgt_test_host *th = tgt_test_host_create(test, NULL, true);
	struct Scsi_Host *shost = th->shost;
	struct scsi_host_cmd *reserve, *first;
	struct scsi_cmnd *from_reserve, *a;

	KUNIT_ASSERT_EQ(test, tgt_test_free_list_len(shost, &reserve), 1);
	kunit_activate_static_stub(test, scsi_host_cmd_alloc,
				   tgt_free_list_alloc_fails);
	from_reserve = tgt_test_get(th, DMA_TO_DEVICE, GFP_KERNEL);
	kunit_deactivate_static_stub(test, scsi_host_cmd_alloc);
	KUNIT_ASSERT_NOT_NULL(test, from_reserve);
	KUNIT_ASSERT_EQ(test, tgt_test_free_list_len(shost, NULL), 0);

	a = tgt_test_get(th, DMA_TO_DEVICE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_EXPECT_PTR_NE(test, to_hcmd(a), reserve);

	tgt_test_put(th, a);
	KUNIT_EXPECT_EQ(test, tgt_test_free_list_len(shost, &first), 1);
	KUNIT_EXPECT_PTR_EQ(test, first, to_hcmd(a));

	tgt_test_put(th, from_reserve);
	KUNIT_EXPECT_EQ(test, tgt_test_free_list_len(shost, &first), 1);
	KUNIT_EXPECT_PTR_EQ(test, first, to_hcmd(a));
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(shost), 0);
}

/*
 * A command that refilled the list comes back from it as a fresh command:
 * nothing of its previous use (offset, result, data buffer, CDB, LLD
 * scribble) survives, its request is the new one.
 */
static void tgt_free_list_reused_command_is_zeroed(struct kunit *test)
{
	struct tgt_test_host *th = tgt_test_host_create(test, NULL, true);
	struct Scsi_Host *shost = th->shost;
	struct scsi_cmnd *from_reserve, *used, *again;
	struct scsi_host_cmd *first;
	static u8 buf[4096];

	kunit_activate_static_stub(test, scsi_host_cmd_alloc,
				   tgt_free_list_alloc_fails);
	from_reserve = tgt_test_get(th, DMA_TO_DEVICE, GFP_KERNEL);
	kunit_deactivate_static_stub(test, scsi_host_cmd_alloc);
	KUNIT_ASSERT_NOT_NULL(test, from_reserve);

	/* a command with a history: data transferred, result and fields set */
	used = tgt_test_get(th, DMA_TO_DEVICE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, used);
	tgt_test_log_alloc(th, 4, 4);
	th->backing = kunit_kzalloc(test, sizeof(buf), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, th->backing);
	th->backing_len = sizeof(buf);
	th->fail_response = true;
	KUNIT_ASSERT_EQ(test, tgt_test_run(th, used, buf, sizeof(buf)), -EIO);
	KUNIT_ASSERT_EQ(test, used->offset, sizeof(buf));
	KUNIT_ASSERT_NE(test, used->result, 0);
	used->cmnd[0] = 0x2a;
	used->cmd_len = 10;
	used->host_scribble = (unsigned char *)used;
	used->underflow = 512;

	tgt_test_put(th, used);	/* the list was empty: it keeps this one */
	KUNIT_ASSERT_EQ(test, tgt_test_free_list_len(shost, &first), 1);
	KUNIT_ASSERT_PTR_EQ(test, first, to_hcmd(used));

	kunit_activate_static_stub(test, scsi_host_cmd_alloc,
				   tgt_free_list_alloc_fails);
	again = tgt_test_get(th, DMA_FROM_DEVICE, GFP_KERNEL);
	kunit_deactivate_static_stub(test, scsi_host_cmd_alloc);
	KUNIT_ASSERT_PTR_EQ(test, again, used);
	KUNIT_EXPECT_EQ(test, again->sc_data_direction, DMA_FROM_DEVICE);
	KUNIT_EXPECT_EQ(test, again->offset, 0);
	KUNIT_EXPECT_EQ(test, again->result, 0);
	KUNIT_EXPECT_EQ(test, scsi_bufflen(again), 0);
	KUNIT_EXPECT_NULL(test, scsi_sglist(again));
	KUNIT_EXPECT_EQ(test, again->cmnd[0], 0);
	KUNIT_EXPECT_EQ(test, again->cmd_len, 0);
	KUNIT_EXPECT_NULL(test, again->host_scribble);
	KUNIT_EXPECT_EQ(test, again->underflow, 0);
	KUNIT_EXPECT_PTR_EQ(test, scsi_host_cmd_to_rq(again)->end_io_data,
			    (void *)again);
	KUNIT_EXPECT_PTR_EQ(test, scsi_tgt_cmd_to_host(again), shost);
}

/* many puts in a row never grow the list past its reserve */
static void tgt_free_list_many_puts_keep_one(struct kunit *test)
{
	struct tgt_test_host *th = tgt_test_host_create(test, NULL, true);
	struct Scsi_Host *shost = th->shost;
	struct scsi_cmnd *cmd[16];
	int i;

	for (i = 0; i < ARRAY_SIZE(cmd); i++) {
		cmd[i] = tgt_test_get(th, DMA_TO_DEVICE, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, cmd[i]);
	}
	for (i = 0; i < ARRAY_SIZE(cmd); i++) {
		tgt_test_put(th, cmd[i]);
		KUNIT_EXPECT_EQ(test, tgt_test_free_list_len(shost, NULL), 1);
	}
}

#define TGT_FREE_LIST_OPS	10000

static struct scsi_cmnd *tgt_free_list_get(struct kunit *test,
					   struct tgt_test_host *th,
					   bool alloc_fails,
					   enum dma_data_direction dir)
{
	struct scsi_cmnd *cmd;

	if (!alloc_fails)
		return tgt_test_get(th, dir, GFP_ATOMIC);
	kunit_activate_static_stub(test, scsi_host_cmd_alloc,
				   tgt_free_list_alloc_fails);
	cmd = tgt_test_get(th, dir, GFP_ATOMIC);
	kunit_deactivate_static_stub(test, scsi_host_cmd_alloc);
	return cmd;
}

/*
 * A seeded random sequence of get (with or without allocation failure) and
 * put, checked against a model after every operation: free-list length,
 * tags in use and host references.
 */
static void tgt_free_list_random_sequence_matches_model(struct kunit *test)
{
	static const struct tgt_test_limits lim = { .can_queue = 32 };
	struct tgt_test_host *th = tgt_test_host_create(test, &lim, true);
	struct Scsi_Host *shost = th->shost;
	unsigned int refs = tgt_test_refs(shost);
	unsigned int model_list = 1, nr_fail = 0, nr_reserve = 0;
	struct rnd_state rnd;
	int op;

	prandom_seed_state(&rnd, tgt_test_seed);
	kunit_info(test, "seed %lu (tgt_kunit.seed=)\n", tgt_test_seed);

	for (op = 0; op < TGT_FREE_LIST_OPS; op++) {
		u32 r = prandom_u32_state(&rnd);
		bool do_get = th->nr_held == 0 ||
			      (th->nr_held < (unsigned int)lim.can_queue && (r & 1));
		unsigned int list, tags, now;

		if (do_get) {
			bool fail = (r >> 1) % 4 == 0;
			struct scsi_cmnd *cmd;

			cmd = tgt_free_list_get(test, th, fail,
						(r >> 3) & 1 ? DMA_TO_DEVICE :
						DMA_FROM_DEVICE);
			if (fail && !model_list) {
				nr_fail++;
				if (cmd) {
					KUNIT_FAIL(test,
						   "op %d: get without memory and without reserve succeeded",
						   op);
					break;
				}
			} else {
				if (fail) {
					nr_reserve++;
					model_list = 0;
				}
				if (!cmd) {
					KUNIT_FAIL(test, "op %d: get failed",
						   op);
					break;
				}
			}
		} else {
			unsigned int i = (r >> 1) % th->nr_held;

			tgt_test_put(th, th->held[i]);
			model_list = 1;
		}

		list = tgt_test_free_list_len(shost, NULL);
		tags = tgt_test_tags_in_use(shost);
		now = tgt_test_refs(shost);
		if (list != model_list || tags != th->nr_held ||
		    now != refs + th->nr_held) {
			KUNIT_FAIL(test,
				   "op %d (%s): free list %u (model %u), tags %u, refs %u (expected %u, %u)",
				   op, do_get ? "get" : "put", list, model_list,
				   tags, now, th->nr_held, refs + th->nr_held);
			break;
		}
	}
	kunit_info(test, "%d ops, %u gets from the reserve, %u failed gets\n",
		   op, nr_reserve, nr_fail);
	KUNIT_EXPECT_EQ(test, op, TGT_FREE_LIST_OPS);
	KUNIT_EXPECT_GT(test, nr_reserve, 0);
	KUNIT_EXPECT_GT(test, nr_fail, 0);
}

/*
 * No memory for the reserve: scsi_tgt_alloc_queue() fails with -ENOMEM and
 * gives the host neither a queue nor a reserve; with memory it gets both.
 */
static void tgt_free_list_alloc_queue_without_memory_fails(struct kunit *test)
{
	struct tgt_test_host *th = tgt_test_host_create(test, NULL, false);
	struct Scsi_Host *shost = th->shost;

	kunit_activate_static_stub(test, scsi_host_cmd_alloc,
				   tgt_free_list_alloc_fails);
	KUNIT_EXPECT_EQ(test, scsi_tgt_alloc_queue(shost), -ENOMEM);
	kunit_deactivate_static_stub(test, scsi_host_cmd_alloc);
	KUNIT_EXPECT_NULL(test, shost->uspace_req_q);
	KUNIT_EXPECT_EQ(test, tgt_test_free_list_len(shost, NULL), 0);

	KUNIT_ASSERT_EQ(test, scsi_tgt_alloc_queue(shost), 0);
	KUNIT_EXPECT_NOT_NULL(test, shost->uspace_req_q);
	KUNIT_EXPECT_EQ(test, tgt_test_free_list_len(shost, NULL), 1);
}

static struct kunit_case tgt_cmd_free_list_cases[] = {
	KUNIT_CASE(tgt_free_list_new_host_has_reserve_of_one),
	KUNIT_CASE(tgt_free_list_get_leaves_reserve_alone),
	KUNIT_CASE(tgt_free_list_alloc_failure_takes_reserve),
	KUNIT_CASE(tgt_free_list_put_refills_empty_list_frees_on_full),
	KUNIT_CASE(tgt_free_list_reused_command_is_zeroed),
	KUNIT_CASE(tgt_free_list_many_puts_keep_one),
	KUNIT_CASE(tgt_free_list_random_sequence_matches_model),
	KUNIT_CASE(tgt_free_list_alloc_queue_without_memory_fails),
	{}
};

static struct kunit_suite tgt_cmd_free_list_suite = {
	.name = "tgt_cmd_free_list",
	.test_cases = tgt_cmd_free_list_cases,
};

kunit_test_suites(&tgt_cmd_free_list_suite);
