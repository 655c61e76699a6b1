// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite tgt_cmd_faults: every allocation of the port's entry points
 * fails once. As syzkaller does, the case sets the task's fail_nth to
 * n = 1, 2, 3, ... around one call (CONFIG_FAULT_INJECTION with FAILSLAB
 * and FAIL_PAGE_ALLOC: the n-th slab or page allocation of the task in
 * the call fails) until a call makes fewer than n allocations. After every
 * call the host's references, tags in use and free list are back where
 * they were, and the call either failed with its documented error or
 * succeeded through its fallback (the free-list reserve, the sg mempools).
 * Leaked memory is left to kmemleak (debug profile).
 *
 * Each case prints the number of failure points it reached, so a change
 * that adds an allocation to an entry point shows in the log:
 *   # ...: fault points of scsi_tgt_alloc_queue(): N (F failed, B fell back)
 */
#include <linux/blk-mq.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <kunit/static_stub.h>
#include <kunit/test.h>

#include <scsi/scsi_cmnd.h>
#include <scsi/scsi_host.h>
#include <scsi/scsi_tgt.h>

#include "tgt_test.h"


/*
 * scsi_tgt_alloc_queue(): the reserve, the queue's own structure, the tag
 * set and the queue. A failed call returns -ENOMEM and leaves no queue;
 * a reserve already set up stays (one command, never more).
 */
static void tgt_faults_alloc_queue(struct kunit *test)
{
	static const struct tgt_test_limits lim = { .can_queue = 16 };
	struct tgt_fault_restore *r = tgt_fault_setup(test);
	struct tgt_fault_count c = {};
	unsigned int n;

	for (n = 1; n < TGT_FAULT_MAX_N; n++) {
		struct tgt_test_host *th = tgt_test_host_create(test, &lim,
								false);
		struct Scsi_Host *shost = th->shost;
		unsigned int refs = tgt_test_refs(shost);
		bool reached;
		int ret;

		tgt_fault_arm(n);
		ret = scsi_tgt_alloc_queue(shost);
		reached = tgt_fault_disarm();

		KUNIT_EXPECT_EQ_MSG(test, tgt_test_refs(shost), refs,
				    "allocation %u failed", n);
		KUNIT_EXPECT_LE_MSG(test, tgt_test_free_list_len(shost, NULL),
				    1, "allocation %u failed", n);
		if (ret) {
			KUNIT_EXPECT_TRUE(test, reached);
			KUNIT_EXPECT_EQ_MSG(test, ret, -ENOMEM,
					    "allocation %u failed", n);
			KUNIT_EXPECT_NULL_MSG(test, shost->uspace_req_q,
					      "allocation %u failed", n);
			c.failed++;
			/* the host is not hurt: the next call works */
			ret = scsi_tgt_alloc_queue(shost);
			KUNIT_EXPECT_EQ(test, ret, 0);
		} else if (reached) {
			c.fell_back++;
		}
		if (!ret) {
			KUNIT_ASSERT_NOT_NULL(test, shost->uspace_req_q);
			KUNIT_EXPECT_EQ(test,
					shost->uspace_req_q->tag_set->queue_depth,
					16);
			KUNIT_EXPECT_EQ(test, tgt_test_free_list_len(shost,
								     NULL), 1);
			KUNIT_EXPECT_NOT_NULL(test, tgt_test_get(th,
								 DMA_TO_DEVICE,
								 GFP_KERNEL));
			KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(shost), 1);
		}
		tgt_test_host_destroy(th);
		if (!reached)
			break;
	}
	tgt_fault_teardown(r);
	KUNIT_EXPECT_LT(test, n, TGT_FAULT_MAX_N);
	KUNIT_EXPECT_GE(test, c.failed, 3);
	tgt_fault_report(test, "scsi_tgt_alloc_queue()", &c);
}

struct tgt_get_fault_param {
	const char *name;
	gfp_t gfp;
	bool reserve_taken;
};

static const struct tgt_get_fault_param tgt_get_fault_params[] = {
	{ "GFP_KERNEL", GFP_KERNEL, false },
	{ "GFP_ATOMIC", GFP_ATOMIC, false },
	{ "GFP_KERNEL, reserve taken", GFP_KERNEL, true },
	{ "GFP_ATOMIC, reserve taken", GFP_ATOMIC, true },
};

KUNIT_ARRAY_PARAM_DESC(tgt_get_fault, tgt_get_fault_params, name);

static struct scsi_host_cmd *tgt_faults_alloc_fails(struct Scsi_Host *shost,
						    gfp_t gfp)
{
	return NULL;
}

/*
 * scsi_host_get_command(): the command's allocation falls back to the
 * reserve; without a reserve the get fails and keeps nothing.
 */
static void tgt_faults_get_command(struct kunit *test)
{
	const struct tgt_get_fault_param *p = test->param_value;
	static const struct tgt_test_limits lim = { .can_queue = 4 };
	struct tgt_test_host *th = tgt_test_host_create(test, &lim, true);
	struct Scsi_Host *shost = th->shost;
	struct tgt_fault_count c = {};
	struct tgt_fault_restore *r;
	unsigned int refs, tags, free;
	unsigned int from_reserve = 0;
	unsigned int n;

	r = tgt_fault_setup(test);
	if (p->reserve_taken) {
		kunit_activate_static_stub(test, scsi_host_cmd_alloc,
					   tgt_faults_alloc_fails);
		KUNIT_ASSERT_NOT_NULL(test, tgt_test_get(th, DMA_TO_DEVICE,
							 GFP_KERNEL));
		kunit_deactivate_static_stub(test, scsi_host_cmd_alloc);
	}
	refs = tgt_test_refs(shost);
	tags = tgt_test_tags_in_use(shost);
	free = tgt_test_free_list_len(shost, NULL);
	KUNIT_ASSERT_EQ(test, free, p->reserve_taken ? 0 : 1);

	for (n = 1; n < TGT_FAULT_MAX_N; n++) {
		struct scsi_cmnd *cmd;
		bool reached;

		tgt_fault_arm(n);
		cmd = scsi_host_get_command(shost, DMA_FROM_DEVICE, p->gfp);
		reached = tgt_fault_disarm();

		if (cmd) {
			KUNIT_EXPECT_EQ(test, tgt_test_refs(shost), refs + 1);
			KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(shost),
					tags + 1);
			KUNIT_EXPECT_NOT_NULL(test, cmd->sense_buffer);
			/*
			 * A failed allocation that is not the command's (the
			 * debug objects refilling their pool, for one) is
			 * absorbed below the call: the reserve is still there.
			 */
			if (reached) {
				c.fell_back++;
				if (free && !tgt_test_free_list_len(shost, NULL))
					from_reserve++;
			}
			scsi_host_put_command(shost, cmd);
		} else {
			KUNIT_EXPECT_TRUE(test, reached);
			KUNIT_EXPECT_TRUE_MSG(test, p->reserve_taken,
					      "allocation %u failed, the reserve was there",
					      n);
			c.failed++;
		}
		KUNIT_EXPECT_EQ_MSG(test, tgt_test_refs(shost), refs,
				    "allocation %u failed", n);
		KUNIT_EXPECT_EQ_MSG(test, tgt_test_tags_in_use(shost), tags,
				    "allocation %u failed", n);
		/* a put with the reserve gone makes its command the reserve */
		KUNIT_EXPECT_EQ_MSG(test, tgt_test_free_list_len(shost, NULL),
				    cmd && p->reserve_taken ? 1 : free,
				    "allocation %u failed", n);
		if (!reached)
			break;
	}
	tgt_fault_teardown(r);
	KUNIT_EXPECT_LT(test, n, TGT_FAULT_MAX_N);
	/* the command's own allocation was among the failed ones */
	if (p->reserve_taken)
		KUNIT_EXPECT_GE(test, c.failed, 1);
	else
		KUNIT_EXPECT_EQ(test, from_reserve, 1);
	tgt_fault_report(test, "scsi_host_get_command()", &c);
}

struct tgt_queue_fault_param {
	const char *name;
	enum dma_data_direction dir;
	unsigned int len;
	unsigned int max_sectors;
	unsigned int max_segment_size;	/* 0: the host's default */
	enum {
		TGT_ALLOCS_NONE,	/* the command allocates nothing */
		TGT_ALLOCS_ABSORBED,	/* only from mempools: never fails */
		TGT_ALLOCS_FAIL,	/* its bio_vec array can fail it */
	} allocs;
};

/*
 * The core keeps 4 bio_vecs and 2 scatterlist entries per command: a
 * command of up to 4 pages needs no bio_vec array, a chunk of up to 2
 * segments no sg_pool entries. max_sectors 8: one-page chunks;
 * max_segment_size 4096: a segment per page.
 */
static const struct tgt_queue_fault_param tgt_queue_fault_params[] = {
	{ "1 page, to device", DMA_TO_DEVICE, 4096, 8, 0, TGT_ALLOCS_NONE },
	{ "1 page, from device", DMA_FROM_DEVICE, 4096, 8, 0,
	  TGT_ALLOCS_NONE },
	{ "4 pages, 4 chunks", DMA_TO_DEVICE, 4 * 4096, 8, 0,
	  TGT_ALLOCS_NONE },
	{ "4 pages, 1 chunk of 2 segments", DMA_TO_DEVICE, 4 * 4096, 32, 8192,
	  TGT_ALLOCS_NONE },
	{ "4 pages, 1 chunk of 4 segments", DMA_FROM_DEVICE, 4 * 4096, 32,
	  4096, TGT_ALLOCS_ABSORBED },
	{ "5 pages, 5 chunks", DMA_TO_DEVICE, 5 * 4096, 8, 0,
	  TGT_ALLOCS_FAIL },
	{ "16 pages, 16 chunks, to device", DMA_TO_DEVICE, 16 * 4096, 8, 0,
	  TGT_ALLOCS_FAIL },
	{ "16 pages, 16 chunks, from device", DMA_FROM_DEVICE, 16 * 4096, 8,
	  0, TGT_ALLOCS_FAIL },
	{ "no data", DMA_NONE, 0, 8, 0, TGT_ALLOCS_NONE },
};

KUNIT_ARRAY_PARAM_DESC(tgt_queue_fault, tgt_queue_fault_params, name);

/*
 * scsi_tgt_queue_command(), completed inline (so every chunk is mapped in
 * this task): the bio_vec array of a command of more than 4 pages fails
 * the call with -ENOMEM before done; the scatterlist entries of a chunk of
 * more than 2 segments come from the sg mempools, which fall back to their
 * reserve; a smaller command allocates nothing. A command that ran moved
 * all of its data.
 */
static void tgt_faults_queue_command(struct kunit *test)
{
	const struct tgt_queue_fault_param *p = test->param_value;
	const struct tgt_test_limits lim = {
		.max_sectors = p->max_sectors,
		.max_segment_size = p->max_segment_size,
		.can_queue = 4,
	};
	struct tgt_test_host *th = tgt_test_host_create(test, &lim, true);
	struct Scsi_Host *shost = th->shost;
	struct tgt_fault_count c = {};
	struct tgt_fault_restore *r;
	unsigned int refs, n;
	u8 *buf = NULL;

	if (p->len) {
		buf = kunit_kmalloc(test, p->len, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, buf);
		th->backing = kunit_kmalloc(test, p->len, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, th->backing);
		th->backing_len = p->len;
	}
	tgt_test_log_alloc(th, 32, 64);
	r = tgt_fault_setup(test);
	refs = tgt_test_refs(shost);

	for (n = 1; n < TGT_FAULT_MAX_N; n++) {
		struct scsi_cmnd *cmd;
		bool reached;
		int ret;

		if (p->len) {
			memset(buf, p->dir == DMA_TO_DEVICE ? n : 0, p->len);
			memset(th->backing, p->dir == DMA_TO_DEVICE ? 0 : n,
			       p->len);
		}
		cmd = tgt_test_get(th, p->dir, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, cmd);
		tgt_test_log_reset(th);

		tgt_fault_arm(n);
		ret = scsi_tgt_queue_command(cmd, buf, p->len,
					     tgt_test_cmd_done, th);
		reached = tgt_fault_disarm();

		if (ret) {
			KUNIT_EXPECT_TRUE(test, reached);
			KUNIT_EXPECT_EQ_MSG(test, ret, -ENOMEM,
					    "allocation %u failed", n);
			KUNIT_EXPECT_EQ(test, th->nr_cmd_done, 0);
			KUNIT_EXPECT_EQ(test, th->nr_calls, 0);
			c.failed++;
		} else {
			KUNIT_EXPECT_EQ_MSG(test, th->nr_cmd_done, 1,
					    "allocation %u failed", n);
			KUNIT_EXPECT_EQ_MSG(test, th->cmd_err, 0,
					    "allocation %u failed", n);
			KUNIT_EXPECT_EQ(test, th->nr_calls,
					DIV_ROUND_UP(p->len,
						     p->max_sectors * 512));
			KUNIT_EXPECT_EQ(test, th->nr_responses, 1);
			if (p->len)
				KUNIT_EXPECT_EQ_MSG(test,
						    memcmp(buf, th->backing,
							   p->len), 0,
						    "allocation %u failed", n);
			KUNIT_EXPECT_NULL(test, scsi_sglist(cmd));
			if (reached)
				c.fell_back++;
		}
		tgt_test_put(th, cmd);
		KUNIT_EXPECT_EQ_MSG(test, tgt_test_refs(shost), refs,
				    "allocation %u failed", n);
		KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(shost), 0);
		KUNIT_EXPECT_EQ(test, tgt_test_free_list_len(shost, NULL), 1);
		if (!reached)
			break;
	}
	tgt_fault_teardown(r);
	KUNIT_EXPECT_LT(test, n, TGT_FAULT_MAX_N);
	switch (p->allocs) {
	case TGT_ALLOCS_NONE:
		/* the first fault was not reached: no allocation at all */
		KUNIT_EXPECT_EQ(test, n, 1);
		KUNIT_EXPECT_EQ(test, c.failed + c.fell_back, 0);
		break;
	case TGT_ALLOCS_ABSORBED:
		KUNIT_EXPECT_EQ(test, c.failed, 0);
		KUNIT_EXPECT_GE(test, c.fell_back, 1);
		break;
	case TGT_ALLOCS_FAIL:
		KUNIT_EXPECT_GE(test, c.failed, 1);
		break;
	}
	tgt_fault_report(test, "scsi_tgt_queue_command()", &c);
}

static struct kunit_case tgt_cmd_faults_cases[] = {
	KUNIT_CASE(tgt_faults_alloc_queue),
	KUNIT_CASE_PARAM(tgt_faults_get_command, tgt_get_fault_gen_params),
	KUNIT_CASE_PARAM(tgt_faults_queue_command, tgt_queue_fault_gen_params),
#if IS_ENABLED(CONFIG_SCSI_SIM_LLD)
	KUNIT_CASE(tgt_faults_sim_lld_host_add),
	KUNIT_CASE(tgt_faults_sim_lld_knob_change),
	KUNIT_CASE(tgt_faults_sim_lld_cmd_run),
#endif
	{}
};

static struct kunit_suite tgt_cmd_faults_suite = {
	.name = "tgt_cmd_faults",
	.test_cases = tgt_cmd_faults_cases,
};

kunit_test_suites(&tgt_cmd_faults_suite);
