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
#include <linux/sched/signal.h>
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
	unsigned long *seen;
	int i;

	seen = kunit_kcalloc(test, BITS_TO_LONGS(can_queue), sizeof(*seen),
			     GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, seen);
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
		if (can_queue <= 64)
			KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost),
					i + 1);
	}
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost), can_queue);
	kunit_kfree(test, seen);
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
	struct tgt_test_putter *pt = tgt_test_putter_alloc(th);
	unsigned int refs = tgt_test_refs(th->shost);
	struct scsi_cmnd *cmd;
	int round;

	for (round = 0; round < 4; round++) {
		cmd = tgt_test_get(th, DMA_TO_DEVICE, GFP_ATOMIC);
		KUNIT_ASSERT_NOT_NULL(test, cmd);
		KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost), 1);
		tgt_test_put_from(pt, cmd, ctx);
		KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost), 0);
		KUNIT_EXPECT_EQ(test, tgt_test_refs(th->shost), refs);
	}
}

/*
 * Blocking gets: blk-mq wakes the waiters of a tag in batches (sbitmap's
 * wake_batch, up to 8 on deep queues); a target command lives long, so a
 * get blocked on a full host must be woken by the one put that frees a tag,
 * whatever the queue depth and the context of the put.
 */
struct tgt_wake_param {
	int can_queue;
	enum tgt_test_ctx ctx;
	const char *name;
};

static const struct tgt_wake_param tgt_wake_params[] = {
	{ 1, TGT_CTX_INLINE, "can_queue=1, put from process" },
	{ 1, TGT_CTX_HARDIRQ, "can_queue=1, put from hardirq" },
	{ 1, TGT_CTX_SOFTIRQ, "can_queue=1, put from softirq" },
	{ 2, TGT_CTX_INLINE, "can_queue=2, put from process" },
	{ 2, TGT_CTX_HARDIRQ, "can_queue=2, put from hardirq" },
	{ 2, TGT_CTX_SOFTIRQ, "can_queue=2, put from softirq" },
	{ 8, TGT_CTX_INLINE, "can_queue=8, put from process" },
	{ 8, TGT_CTX_HARDIRQ, "can_queue=8, put from hardirq" },
	{ 8, TGT_CTX_SOFTIRQ, "can_queue=8, put from softirq" },
	{ 16, TGT_CTX_INLINE, "can_queue=16, put from process" },
	{ 16, TGT_CTX_HARDIRQ, "can_queue=16, put from hardirq" },
	{ 16, TGT_CTX_SOFTIRQ, "can_queue=16, put from softirq" },
	{ 32, TGT_CTX_INLINE, "can_queue=32, put from process" },
	{ 32, TGT_CTX_HARDIRQ, "can_queue=32, put from hardirq" },
	{ 32, TGT_CTX_SOFTIRQ, "can_queue=32, put from softirq" },
	{ 64, TGT_CTX_INLINE, "can_queue=64, put from process" },
	{ 64, TGT_CTX_HARDIRQ, "can_queue=64, put from hardirq" },
	{ 64, TGT_CTX_SOFTIRQ, "can_queue=64, put from softirq" },
	{ 4096, TGT_CTX_INLINE, "can_queue=4096, put from process" },
	{ 4096, TGT_CTX_HARDIRQ, "can_queue=4096, put from hardirq" },
	{ 4096, TGT_CTX_SOFTIRQ, "can_queue=4096, put from softirq" },
};

KUNIT_ARRAY_PARAM_DESC(tgt_wake, tgt_wake_params, name);

/* all tags in use: one put wakes a blocked get, which gets that tag */
static void tgt_tags_one_put_wakes_blocked_get(struct kunit *test)
{
	const struct tgt_wake_param *p = test->param_value;
	struct tgt_test_host *th = tgt_tags_host(test, p->can_queue);
	struct tgt_test_putter *pt = tgt_test_putter_alloc(th);
	struct tgt_test_getter *g;
	struct scsi_cmnd *victim;
	int tag;

	tgt_tags_fill(test, th, p->can_queue);
	g = tgt_test_getter_start(th, GFP_KERNEL);
	KUNIT_ASSERT_TRUE_MSG(test, tgt_test_getter_blocked(g),
			      "a blocking get did not wait for a tag");

	victim = th->held[th->nr_held / 2];
	tag = tgt_tag(victim);
	tgt_test_put_from(pt, victim, p->ctx);
	KUNIT_ASSERT_TRUE_MSG(test, tgt_test_getter_wait(g, 2 * HZ),
			      "one put did not wake the blocked get");
	KUNIT_ASSERT_NOT_NULL(test, g->cmd);
	KUNIT_EXPECT_EQ(test, tgt_tag(g->cmd), tag);
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost), p->can_queue);
}

static const struct tgt_can_queue_param tgt_two_waiters_params[] = {
	{ 16, "can_queue=16" },
	{ 64, "can_queue=64" },
};

KUNIT_ARRAY_PARAM_DESC(tgt_two_waiters, tgt_two_waiters_params, name);

/* two gets blocked: each put lets exactly one of them through */
static void tgt_tags_each_put_wakes_one_blocked_get(struct kunit *test)
{
	int can_queue = ((const struct tgt_can_queue_param *)
			 test->param_value)->can_queue;
	struct tgt_test_host *th = tgt_tags_host(test, can_queue);
	struct tgt_test_putter *pt = tgt_test_putter_alloc(th);
	struct tgt_test_getter *g[2], *first, *second;
	int i;

	tgt_tags_fill(test, th, can_queue);
	for (i = 0; i < 2; i++) {
		g[i] = tgt_test_getter_start(th, GFP_KERNEL);
		KUNIT_ASSERT_TRUE(test, tgt_test_getter_blocked(g[i]));
	}

	tgt_test_put_from(pt, th->held[0], TGT_CTX_INLINE);
	for (i = 0; i < 2000; i++) {
		if (completion_done(&g[0]->done) || completion_done(&g[1]->done))
			break;
		usleep_range(500, 1000);
	}
	first = completion_done(&g[0]->done) ? g[0] : g[1];
	second = first == g[0] ? g[1] : g[0];
	KUNIT_ASSERT_TRUE_MSG(test, completion_done(&first->done),
			      "the first put woke neither blocked get");
	KUNIT_EXPECT_NOT_NULL(test, first->cmd);
	KUNIT_EXPECT_TRUE_MSG(test, tgt_test_getter_blocked(second),
			      "one free tag, yet both gets returned");
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost), can_queue);

	tgt_test_put_from(pt, th->held[0], TGT_CTX_HARDIRQ);
	KUNIT_ASSERT_TRUE_MSG(test, tgt_test_getter_wait(second, 2 * HZ),
			      "the second put did not wake the other get");
	KUNIT_EXPECT_NOT_NULL(test, second->cmd);
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost), can_queue);
}

/* the host references scsi_remove_host() drops itself */
static unsigned int tgt_tags_refs_dropped_by_removal(struct kunit *test)
{
	struct tgt_test_host *th = tgt_tags_host(test, 4);
	unsigned int before = tgt_test_refs(th->shost);

	tgt_test_host_remove(th);
	return before - tgt_test_refs(th->shost);
}

/*
 * A get blocked for a tag while the host goes away (scsi_remove_host():
 * SHOST_CANCEL, then SHOST_DEL) returns NULL and keeps no reference.
 */
static void tgt_tags_blocked_get_fails_when_host_is_removed(struct kunit *test)
{
	unsigned int removal = tgt_tags_refs_dropped_by_removal(test);
	struct tgt_test_host *th = tgt_tags_host(test, 16);
	struct tgt_test_getter *g;
	unsigned int refs;

	tgt_tags_fill(test, th, 16);
	g = tgt_test_getter_start(th, GFP_KERNEL);
	KUNIT_ASSERT_TRUE(test, tgt_test_getter_blocked(g));
	/* the getter's reference is counted while it waits */
	refs = tgt_test_refs(th->shost);

	tgt_test_host_remove(th);
	KUNIT_ASSERT_TRUE_MSG(test, tgt_test_getter_wait(g, 2 * HZ),
			      "a blocked get was not woken by the removal");
	KUNIT_EXPECT_NULL(test, g->cmd);
	KUNIT_EXPECT_EQ(test, tgt_test_refs(th->shost), refs - removal - 1);
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost), 16);
	KUNIT_EXPECT_EQ(test, tgt_test_free_list_len(th->shost, NULL), 1);
}

/*
 * A get blocked for a tag sleeps killable (a target command can wait long:
 * the hung-task detector leaves a killable sleep alone), and a fatal
 * signal ends the wait: the get returns NULL and keeps neither a
 * reference nor a tag, and the host goes on.
 */
static void tgt_tags_blocked_get_is_killable(struct kunit *test)
{
	struct tgt_test_host *th = tgt_tags_host(test, 2);
	struct tgt_test_getter *g;
	struct scsi_cmnd *cmd;
	unsigned int refs;

	tgt_tags_fill(test, th, 2);
	refs = tgt_test_refs(th->shost);
	g = tgt_test_getter_start(th, GFP_KERNEL);
	KUNIT_ASSERT_TRUE_MSG(test, tgt_test_getter_blocked(g),
			      "the get does not sleep killable for a tag");

	send_sig(SIGKILL, g->task, 1);
	KUNIT_ASSERT_TRUE_MSG(test, tgt_test_getter_wait(g, 2 * HZ),
			      "a killed get did not return");
	KUNIT_EXPECT_NULL(test, g->cmd);
	KUNIT_EXPECT_EQ(test, tgt_test_refs(th->shost), refs);
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost), 2);

	tgt_test_put(th, th->held[th->nr_held - 1]);
	cmd = tgt_test_get(th, DMA_TO_DEVICE, GFP_ATOMIC);
	KUNIT_EXPECT_NOT_NULL(test, cmd);
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost), 2);
}

/*
 * Gets from interrupt context: blk_mq_alloc_request() consults
 * current->plug, which then belongs to the interrupted task. A target get
 * must neither take requests from that plug's cache nor leave requests of
 * uspace_req_q (holding tags) in it.
 */
struct tgt_plug_irq {
	struct Scsi_Host *shost;
	struct hrtimer timer;
	struct work_struct bh_work;
	struct task_struct *plugged;
	struct blk_plug *plug;
	bool ran;
	bool on_plugged_task;
	bool in_irq;
	bool got;
	unsigned int tags_held;
	unsigned int tags_after_put;
	unsigned short nr_ios;
	bool cache_empty;
};

static void tgt_plug_irq_run(struct tgt_plug_irq *pi)
{
	struct scsi_cmnd *cmd[2];
	int i;

	pi->on_plugged_task = current == pi->plugged &&
			      current->plug == pi->plug;
	pi->in_irq = in_hardirq() || in_serving_softirq();
	cmd[0] = scsi_host_get_command(pi->shost, DMA_TO_DEVICE, GFP_ATOMIC);
	cmd[1] = scsi_host_get_command(pi->shost, DMA_FROM_DEVICE, GFP_ATOMIC);
	pi->got = cmd[0] && cmd[1];
	pi->tags_held = tgt_test_tags_in_use(pi->shost);
	pi->nr_ios = pi->plug->nr_ios;
	pi->cache_empty = rq_list_empty(&pi->plug->cached_rqs);
	for (i = 0; i < ARRAY_SIZE(cmd); i++)
		if (cmd[i])
			scsi_host_put_command(pi->shost, cmd[i]);
	pi->tags_after_put = tgt_test_tags_in_use(pi->shost);
	WRITE_ONCE(pi->ran, true);
}

static enum hrtimer_restart tgt_plug_irq_timer(struct hrtimer *timer)
{
	tgt_plug_irq_run(container_of(timer, struct tgt_plug_irq, timer));
	return HRTIMER_NORESTART;
}

static void tgt_plug_irq_bh(struct work_struct *work)
{
	tgt_plug_irq_run(container_of(work, struct tgt_plug_irq, bh_work));
}

static void tgt_plug_irq_cleanup(void *data)
{
	struct tgt_plug_irq *pi = data;

	hrtimer_cancel(&pi->timer);
	cancel_work_sync(&pi->bh_work);
}

static const struct tgt_put_ctx_param tgt_irq_params[] = {
	{ TGT_CTX_HARDIRQ, "get and put from hardirq" },
	{ TGT_CTX_SOFTIRQ, "get and put from softirq" },
};

KUNIT_ARRAY_PARAM_DESC(tgt_irq, tgt_irq_params, name);

static void tgt_tags_irq_get_leaves_interrupted_plug_alone(struct kunit *test)
{
	enum tgt_test_ctx ctx = ((const struct tgt_put_ctx_param *)
				 test->param_value)->ctx;
	struct tgt_test_host *th = tgt_tags_host(test, 32);
	struct tgt_plug_irq *pi;
	struct blk_plug plug;
	u64 deadline;

	pi = kunit_kzalloc(test, sizeof(*pi), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pi);
	pi->shost = th->shost;
	pi->plug = &plug;
	pi->plugged = current;
	hrtimer_init(&pi->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	pi->timer.function = tgt_plug_irq_timer;
	INIT_WORK(&pi->bh_work, tgt_plug_irq_bh);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test,
							tgt_plug_irq_cleanup,
							pi), 0);

	blk_start_plug_nr_ios(&plug, 8);
	if (ctx == TGT_CTX_HARDIRQ) {
		/* the timer interrupts this task, which spins with its plug */
		hrtimer_start(&pi->timer, ns_to_ktime(50 * NSEC_PER_USEC),
			      HRTIMER_MODE_REL_HARD);
	} else {
		/* the work runs as a softirq when bottom halves are enabled */
		local_bh_disable();
		queue_work(system_bh_wq, &pi->bh_work);
		local_bh_enable();
	}
	deadline = ktime_get_ns() + 5 * NSEC_PER_SEC;
	while (!READ_ONCE(pi->ran) && ktime_get_ns() < deadline)
		cpu_relax();
	KUNIT_EXPECT_EQ(test, plug.nr_ios, 8);
	KUNIT_EXPECT_TRUE(test, rq_list_empty(&plug.cached_rqs));
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost), 0);
	blk_finish_plug(&plug);

	KUNIT_ASSERT_TRUE_MSG(test, READ_ONCE(pi->ran),
			      "the %s callback did not run",
			      tgt_test_ctx_name(ctx));
	KUNIT_ASSERT_TRUE_MSG(test, pi->on_plugged_task,
			      "the callback did not interrupt the plugged task");
	KUNIT_EXPECT_TRUE(test, pi->in_irq);
	KUNIT_EXPECT_TRUE(test, pi->got);
	KUNIT_EXPECT_EQ(test, pi->tags_held, 2);
	KUNIT_EXPECT_EQ(test, pi->nr_ios, 8);
	KUNIT_EXPECT_TRUE(test, pi->cache_empty);
	KUNIT_EXPECT_EQ(test, pi->tags_after_put, 0);
}

/* a task's own plug does not cache requests of uspace_req_q either */
static void tgt_tags_task_get_bypasses_own_plug(struct kunit *test)
{
	struct tgt_test_host *th = tgt_tags_host(test, 32);
	struct scsi_cmnd *cmd;
	struct blk_plug plug;

	blk_start_plug_nr_ios(&plug, 8);
	cmd = tgt_test_get(th, DMA_TO_DEVICE, GFP_KERNEL);
	KUNIT_EXPECT_NOT_NULL(test, cmd);
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost), 1);
	KUNIT_EXPECT_EQ(test, plug.nr_ios, 8);
	KUNIT_EXPECT_TRUE(test, rq_list_empty(&plug.cached_rqs));
	if (cmd)
		tgt_test_put(th, cmd);
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost), 0);
	blk_finish_plug(&plug);
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
 * a second queue, and a can_queue of 0 or above BLK_MQ_MAX_DEPTH gives no
 * queue; the tag depth is can_queue once it is valid.
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
	/* more than blk-mq's tags: not clamped, refused */
	th->shost->can_queue = BLK_MQ_MAX_DEPTH + 1;
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
	KUNIT_CASE_PARAM(tgt_tags_one_put_wakes_blocked_get,
			 tgt_wake_gen_params),
	KUNIT_CASE_PARAM(tgt_tags_each_put_wakes_one_blocked_get,
			 tgt_two_waiters_gen_params),
	KUNIT_CASE(tgt_tags_blocked_get_fails_when_host_is_removed),
	KUNIT_CASE(tgt_tags_blocked_get_is_killable),
	KUNIT_CASE_PARAM(tgt_tags_irq_get_leaves_interrupted_plug_alone,
			 tgt_irq_gen_params),
	KUNIT_CASE(tgt_tags_task_get_bypasses_own_plug),
	KUNIT_CASE(tgt_tags_alloc_queue_refuses_bad_hosts),
	{}
};

static struct kunit_suite tgt_cmd_tags_suite = {
	.name = "tgt_cmd_tags",
	.test_cases = tgt_cmd_tags_cases,
};

kunit_test_suites(&tgt_cmd_tags_suite);
