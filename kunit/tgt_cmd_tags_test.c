// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite tgt_cmd_tags: every target command holds one tag of
 * uspace_req_q (depth can_queue); a put gives it back at once, from any
 * context, and wakes a blocked get.
 */
#include <linux/blk-mq.h>
#include <linux/delay.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <kunit/resource.h>
#include <kunit/test.h>

#include <scsi/scsi_cmnd.h>
#include <scsi/scsi_host.h>
#include <scsi/scsi_tgt.h>

#include "tgt_test.h"

struct tgt_can_queue_param {
	int can_queue;
	const char *name;
};

static const struct tgt_can_queue_param tgt_can_queue_params[] = {
	{ 1, "can_queue=1" },
	{ 2, "can_queue=2" },
	{ 32, "can_queue=32" },
};

KUNIT_ARRAY_PARAM_DESC(tgt_can_queue, tgt_can_queue_params, name);

static struct tgt_test_host *tgt_tags_host(struct kunit *test, int can_queue)
{
	struct tgt_test_limits lim = { .can_queue = can_queue };

	return tgt_test_host_create(test, &lim, true);
}

static int tgt_tag(struct scsi_cmnd *cmd)
{
	return scsi_host_cmd_to_rq(cmd)->tag;
}

/* fill all can_queue tags; they are distinct and in [0, can_queue) */
static void tgt_tags_fill(struct kunit *test, struct tgt_test_host *th,
			  int can_queue)
{
	DECLARE_BITMAP(seen, 32) = { 0 };
	int i;

	for (i = 0; i < can_queue; i++) {
		struct scsi_cmnd *cmd = tgt_test_get(th, DMA_TO_DEVICE,
						     GFP_ATOMIC);
		int tag;

		KUNIT_ASSERT_NOT_NULL_MSG(test, cmd, "get %d of %d", i + 1,
					  can_queue);
		tag = tgt_tag(cmd);
		KUNIT_ASSERT_GE(test, tag, 0);
		KUNIT_ASSERT_LT(test, tag, can_queue);
		KUNIT_EXPECT_FALSE_MSG(test, test_bit(tag, seen),
				       "tag %d handed out twice", tag);
		__set_bit(tag, seen);
		KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost), i + 1);
	}
}

static void tgt_tags_get_takes_distinct_tags_up_to_can_queue(struct kunit *test)
{
	int can_queue = ((const struct tgt_can_queue_param *)
			 test->param_value)->can_queue;
	struct tgt_test_host *th = tgt_tags_host(test, can_queue);

	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost), 0);
	KUNIT_EXPECT_EQ(test, th->shost->uspace_req_q->tag_set->queue_depth,
			can_queue);
	tgt_tags_fill(test, th, can_queue);
}

/* all tags in use: a non-blocking get fails at once and takes nothing */
static void tgt_tags_nonblocking_get_fails_fast_when_full(struct kunit *test)
{
	int can_queue = ((const struct tgt_can_queue_param *)
			 test->param_value)->can_queue;
	struct tgt_test_host *th = tgt_tags_host(test, can_queue);
	unsigned int refs;
	u64 start;

	tgt_tags_fill(test, th, can_queue);
	refs = tgt_test_refs(th->shost);
	start = ktime_get_ns();
	KUNIT_EXPECT_NULL(test, tgt_test_get(th, DMA_TO_DEVICE, GFP_ATOMIC));
	KUNIT_EXPECT_NULL(test, tgt_test_get(th, DMA_FROM_DEVICE, GFP_NOWAIT));
	KUNIT_EXPECT_LT(test, ktime_get_ns() - start, 100 * NSEC_PER_MSEC);
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost), can_queue);
	KUNIT_EXPECT_EQ(test, tgt_test_refs(th->shost), refs);
	KUNIT_EXPECT_EQ(test, tgt_test_free_list_len(th->shost, NULL), 1);
}

/* a put makes exactly one tag available, the same one, at once */
static void tgt_tags_put_frees_exactly_one_reusable_tag(struct kunit *test)
{
	int can_queue = ((const struct tgt_can_queue_param *)
			 test->param_value)->can_queue;
	struct tgt_test_host *th = tgt_tags_host(test, can_queue);
	int round;

	tgt_tags_fill(test, th, can_queue);
	for (round = 0; round < 3 * can_queue; round++) {
		struct scsi_cmnd *cmd = th->held[round % th->nr_held];
		int tag = tgt_tag(cmd);

		tgt_test_put(th, cmd);
		KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost),
				can_queue - 1);
		cmd = tgt_test_get(th, DMA_FROM_DEVICE, GFP_ATOMIC);
		KUNIT_ASSERT_NOT_NULL_MSG(test, cmd, "round %d", round);
		KUNIT_EXPECT_EQ(test, tgt_tag(cmd), tag);
		KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost),
				can_queue);
		KUNIT_EXPECT_NULL(test, tgt_test_get(th, DMA_FROM_DEVICE,
						     GFP_ATOMIC));
	}
}

/* putting every command gives every tag back */
static void tgt_tags_put_all_releases_all(struct kunit *test)
{
	int can_queue = ((const struct tgt_can_queue_param *)
			 test->param_value)->can_queue;
	struct tgt_test_host *th = tgt_tags_host(test, can_queue);

	tgt_tags_fill(test, th, can_queue);
	while (th->nr_held) {
		tgt_test_put(th, th->held[0]);
		KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost),
				th->nr_held);
	}
	tgt_tags_fill(test, th, can_queue);
}

/* Puts from another context: process (test thread), hardirq, softirq. */
struct tgt_putter {
	struct hrtimer timer;
	struct work_struct bh_work;
	struct Scsi_Host *shost;
	struct scsi_cmnd *cmd;
	struct completion done;
	bool in_hardirq;
	bool in_softirq;
};

static void tgt_putter_put(struct tgt_putter *pt)
{
	pt->in_hardirq = in_hardirq();
	pt->in_softirq = in_serving_softirq();
	scsi_host_put_command(pt->shost, pt->cmd);
	complete(&pt->done);
}

static enum hrtimer_restart tgt_putter_timer(struct hrtimer *timer)
{
	tgt_putter_put(container_of(timer, struct tgt_putter, timer));
	return HRTIMER_NORESTART;
}

static void tgt_putter_bh(struct work_struct *work)
{
	tgt_putter_put(container_of(work, struct tgt_putter, bh_work));
}

static void tgt_putter_cleanup(void *data)
{
	struct tgt_putter *pt = data;

	hrtimer_cancel(&pt->timer);
	cancel_work_sync(&pt->bh_work);
}

static struct tgt_putter *tgt_putter_alloc(struct kunit *test,
					   struct tgt_test_host *th)
{
	struct tgt_putter *pt = kunit_kzalloc(test, sizeof(*pt), GFP_KERNEL);
	int ret;

	KUNIT_ASSERT_NOT_NULL(test, pt);
	pt->shost = th->shost;
	init_completion(&pt->done);
	hrtimer_init(&pt->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	pt->timer.function = tgt_putter_timer;
	INIT_WORK(&pt->bh_work, tgt_putter_bh);
	ret = kunit_add_action_or_reset(test, tgt_putter_cleanup, pt);
	KUNIT_ASSERT_EQ(test, ret, 0);
	return pt;
}

/* hand @cmd to the putter, which puts it from @ctx */
static void tgt_putter_start(struct tgt_test_host *th, struct tgt_putter *pt,
			     struct scsi_cmnd *cmd, enum tgt_test_ctx ctx)
{
	tgt_test_unhold(th, cmd);
	pt->cmd = cmd;
	reinit_completion(&pt->done);
	switch (ctx) {
	case TGT_CTX_HARDIRQ:
		hrtimer_start(&pt->timer, ns_to_ktime(50 * NSEC_PER_USEC),
			      HRTIMER_MODE_REL_HARD);
		break;
	case TGT_CTX_SOFTIRQ:
		queue_work(system_bh_wq, &pt->bh_work);
		break;
	default:
		tgt_putter_put(pt);
		break;
	}
}

struct tgt_put_ctx_param {
	enum tgt_test_ctx ctx;
	const char *name;
};

static const struct tgt_put_ctx_param tgt_put_ctx_params[] = {
	{ TGT_CTX_INLINE, "put from process" },
	{ TGT_CTX_HARDIRQ, "put from hardirq" },
	{ TGT_CTX_SOFTIRQ, "put from softirq" },
};

KUNIT_ARRAY_PARAM_DESC(tgt_put_ctx, tgt_put_ctx_params, name);

/* put from hardirq/softirq releases the tag and the reference at once */
static void tgt_tags_put_from_any_context_releases_tag(struct kunit *test)
{
	enum tgt_test_ctx ctx = ((const struct tgt_put_ctx_param *)
				 test->param_value)->ctx;
	struct tgt_test_host *th = tgt_tags_host(test, 2);
	struct tgt_putter *pt = tgt_putter_alloc(test, th);
	unsigned int refs = tgt_test_refs(th->shost);
	struct scsi_cmnd *cmd;
	int round;

	for (round = 0; round < 4; round++) {
		cmd = tgt_test_get(th, DMA_TO_DEVICE, GFP_ATOMIC);
		KUNIT_ASSERT_NOT_NULL(test, cmd);
		KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost), 1);
		tgt_putter_start(th, pt, cmd, ctx);
		KUNIT_ASSERT_NE(test, wait_for_completion_timeout(&pt->done,
								  5 * HZ), 0);
		KUNIT_EXPECT_EQ(test, pt->in_hardirq, ctx == TGT_CTX_HARDIRQ);
		KUNIT_EXPECT_EQ(test, pt->in_softirq, ctx == TGT_CTX_SOFTIRQ);
		KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost), 0);
		KUNIT_EXPECT_EQ(test, tgt_test_refs(th->shost), refs);
	}
}

/* a get with GFP_KERNEL, in a kthread of its own */
struct tgt_getter {
	struct Scsi_Host *shost;
	struct scsi_cmnd *cmd;
	struct completion done;
};

static int tgt_getter_fn(void *data)
{
	struct tgt_getter *g = data;

	g->cmd = scsi_host_get_command(g->shost, DMA_FROM_DEVICE, GFP_KERNEL);
	/* all: the test and then the cleanup wait for it */
	complete_all(&g->done);
	return 0;
}

static void tgt_getter_cleanup(void *data)
{
	struct tgt_getter *g = data;

	/* runs after the held commands were put: the getter can finish */
	if (!wait_for_completion_timeout(&g->done, HZ))
		return;	/* still blocked: leak g rather than free it */
	if (g->cmd)
		scsi_host_put_command(g->shost, g->cmd);
	kfree(g);
}

/*
 * All tags in use: a blocking get sleeps until a put from another context
 * (process, hardirq or softirq) frees a tag, then gets that tag.
 */
static void tgt_tags_blocking_get_woken_by_put(struct kunit *test)
{
	enum tgt_test_ctx ctx = ((const struct tgt_put_ctx_param *)
				 test->param_value)->ctx;
	struct tgt_test_host *th;
	struct tgt_putter *pt;
	struct sbitmap_queue *bt;
	struct task_struct *task;
	struct tgt_getter *g;
	int i, tag, ret;

	g = kzalloc(sizeof(*g), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, g);
	init_completion(&g->done);
	complete(&g->done);	/* until the getter runs */
	/*
	 * Registered before the host: runs after the host's cleanup has put
	 * the held commands, so a getter still blocked can finish.
	 */
	ret = kunit_add_action_or_reset(test, tgt_getter_cleanup, g);
	KUNIT_ASSERT_EQ(test, ret, 0);
	th = tgt_tags_host(test, 2);
	g->shost = th->shost;
	tgt_tags_fill(test, th, 2);
	bt = &th->shost->uspace_req_q->tag_set->tags[0]->bitmap_tags;
	pt = tgt_putter_alloc(test, th);

	reinit_completion(&g->done);
	task = kthread_run(tgt_getter_fn, g, "tgt_kunit_get");
	if (IS_ERR(task))
		complete(&g->done);
	KUNIT_ASSERT_FALSE(test, IS_ERR(task));

	/* bounded wait until the getter sleeps on the tag wait queue */
	for (i = 0; i < 2000 && !atomic_read(&bt->ws_active) &&
	     !completion_done(&g->done); i++)
		usleep_range(500, 1000);
	KUNIT_ASSERT_FALSE_MSG(test, completion_done(&g->done),
			       "blocking get returned with no free tag");
	KUNIT_ASSERT_GT_MSG(test, atomic_read(&bt->ws_active), 0,
			    "getter did not wait for a tag");

	tag = tgt_tag(th->held[1]);
	tgt_putter_start(th, pt, th->held[1], ctx);
	KUNIT_ASSERT_NE(test, wait_for_completion_timeout(&pt->done, 5 * HZ),
			0);
	KUNIT_ASSERT_NE_MSG(test, wait_for_completion_timeout(&g->done, 2 * HZ),
			    0, "blocked get not woken by the put");
	KUNIT_ASSERT_NOT_NULL(test, g->cmd);
	KUNIT_EXPECT_EQ(test, tgt_tag(g->cmd), tag);
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost), 2);
}

static int tgt_nohooks_queuecommand(struct Scsi_Host *shost,
				    struct scsi_cmnd *cmd)
{
	return SCSI_MLQUEUE_HOST_BUSY;
}

static int tgt_nohooks_transfer(struct scsi_cmnd *cmd,
				void (*done)(struct scsi_cmnd *cmd))
{
	return SCSI_MLQUEUE_HOST_BUSY;
}

#define TGT_NOHOOKS_SHT(_name, _data, _response)	\
	{						\
		.module		= THIS_MODULE,		\
		.name		= _name,		\
		.queuecommand	= tgt_nohooks_queuecommand, \
		.transfer_data	= _data,		\
		.transfer_response = _response,		\
		.can_queue	= 4,			\
		.this_id	= -1,			\
		.sg_tablesize	= 16,			\
		.cmd_per_lun	= 1,			\
	}

/* templates that lack one or both target-mode hooks */
static const struct scsi_host_template tgt_nohooks_shts[] = {
	TGT_NOHOOKS_SHT("tgt_kunit_initiator", NULL, NULL),
	TGT_NOHOOKS_SHT("tgt_kunit_data_only", tgt_nohooks_transfer, NULL),
	TGT_NOHOOKS_SHT("tgt_kunit_response_only", NULL, tgt_nohooks_transfer),
};

static void tgt_tags_put_host(void *shost)
{
	scsi_host_put(shost);
}

/*
 * scsi_tgt_alloc_queue() refuses a host without the target-mode hooks and
 * a second queue, and a can_queue of 0 gives no queue; the tag depth is
 * can_queue once it is valid.
 */
static void tgt_tags_alloc_queue_refuses_bad_hosts(struct kunit *test)
{
	struct tgt_test_limits lim = { .can_queue = 1 };
	struct tgt_test_host *th;
	struct Scsi_Host *shost;
	int i;

	for (i = 0; i < ARRAY_SIZE(tgt_nohooks_shts); i++) {
		shost = scsi_host_alloc(&tgt_nohooks_shts[i], 0);
		KUNIT_ASSERT_NOT_NULL(test, shost);
		KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test,
								tgt_tags_put_host,
								shost), 0);
		KUNIT_EXPECT_EQ_MSG(test, scsi_tgt_alloc_queue(shost), -EINVAL,
				    "%s", tgt_nohooks_shts[i].name);
		KUNIT_EXPECT_NULL(test, shost->uspace_req_q);
		KUNIT_EXPECT_EQ(test, tgt_test_free_list_len(shost, NULL), 0);
		KUNIT_EXPECT_NULL(test, scsi_host_get_command(shost,
							      DMA_TO_DEVICE,
							      GFP_KERNEL));
	}

	th = tgt_test_host_create(test, &lim, false);
	th->shost->can_queue = 0;
	KUNIT_EXPECT_EQ(test, scsi_tgt_alloc_queue(th->shost), -EINVAL);
	KUNIT_EXPECT_NULL(test, th->shost->uspace_req_q);

	th->shost->can_queue = 3;
	KUNIT_ASSERT_EQ(test, scsi_tgt_alloc_queue(th->shost), 0);
	KUNIT_ASSERT_NOT_NULL(test, th->shost->uspace_req_q);
	KUNIT_EXPECT_EQ(test, th->shost->uspace_req_q->tag_set->queue_depth, 3);
	/* the reserve of the failed attempt is kept, not doubled */
	KUNIT_EXPECT_EQ(test, tgt_test_free_list_len(th->shost, NULL), 1);
	KUNIT_EXPECT_EQ(test, scsi_tgt_alloc_queue(th->shost), -EBUSY);
	tgt_tags_fill(test, th, 3);
	KUNIT_EXPECT_NULL(test, tgt_test_get(th, DMA_TO_DEVICE, GFP_ATOMIC));
}

static struct kunit_case tgt_cmd_tags_cases[] = {
	KUNIT_CASE_PARAM(tgt_tags_get_takes_distinct_tags_up_to_can_queue,
			 tgt_can_queue_gen_params),
	KUNIT_CASE_PARAM(tgt_tags_nonblocking_get_fails_fast_when_full,
			 tgt_can_queue_gen_params),
	KUNIT_CASE_PARAM(tgt_tags_put_frees_exactly_one_reusable_tag,
			 tgt_can_queue_gen_params),
	KUNIT_CASE_PARAM(tgt_tags_put_all_releases_all,
			 tgt_can_queue_gen_params),
	KUNIT_CASE_PARAM(tgt_tags_put_from_any_context_releases_tag,
			 tgt_put_ctx_gen_params),
	KUNIT_CASE_PARAM(tgt_tags_blocking_get_woken_by_put,
			 tgt_put_ctx_gen_params),
	KUNIT_CASE(tgt_tags_alloc_queue_refuses_bad_hosts),
	{}
};

static struct kunit_suite tgt_cmd_tags_suite = {
	.name = "tgt_cmd_tags",
	.test_cases = tgt_cmd_tags_cases,
};

kunit_test_suites(&tgt_cmd_tags_suite);
