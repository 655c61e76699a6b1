// SPDX-License-Identifier: GPL-2.0
/*
 * tgt_stress_blocking_wake_irq_gets, a case of the tgt_cmd_stress suite:
 * the wake-up of blocked gets and gets from interrupt context, repeated.
 *
 * For each queue depth of {1, 2, 8, 16, 32, 64, 4096} (blk-mq's sbitmap
 * wakes in batches of up to 8 on deep queues) a host is filled: the test
 * holds every tag. Then, cycle after cycle, a getter kthread makes a
 * GFP_KERNEL get, which sleeps; the test puts one held command from a
 * seeded choice of process, hardirq and softirq context and the getter
 * must return with that tag within 2 s; its command joins the held ones.
 *
 * The hardirq and softirq puts run on top of the test thread while it
 * holds a block plug with a request cache (blk_start_plug_nr_ios()): the
 * callback also makes a GFP_ATOMIC get and put, and the plug must be
 * untouched (its nr_ios, no request of uspace_req_q cached). Every cycle
 * is four operations (put, blocked get, interrupt get and put) of the
 * suite's budget (tgt_kunit.stress_ops).
 */
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/completion.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/prandom.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/workqueue.h>
#include <kunit/test.h>

#include <scsi/scsi_cmnd.h>
#include <scsi/scsi_host.h>

#include "tgt_test.h"

static const int tgt_wake_depths[] = { 1, 2, 8, 16, 32, 64, 4096 };

struct tgt_wake_stress {
	struct tgt_test_host *th;
	struct Scsi_Host *shost;

	/* the getter: one blocking get per cycle */
	struct task_struct *getter;
	struct completion go, about_to_get, got;
	bool stop;
	struct scsi_cmnd *cmd;

	/* the put of a cycle, and the interrupt get and put on top of it */
	struct hrtimer timer;
	struct work_struct bh_work;
	struct scsi_cmnd *victim;
	struct blk_plug *plug;
	bool ran;
	unsigned long plug_touched, not_on_plug, irq_get_failed, wrong_ctx;
	enum tgt_test_ctx ctx;
};

static int tgt_wake_getter_fn(void *data)
{
	struct tgt_wake_stress *ws = data;

	for (;;) {
		wait_for_completion(&ws->go);
		reinit_completion(&ws->go);
		if (READ_ONCE(ws->stop))
			break;
		/*
		 * UML is uniprocessor and does not preempt: the test thread
		 * runs again only once this get sleeps (or returned).
		 */
		complete(&ws->about_to_get);
		ws->cmd = scsi_host_get_command(ws->shost, DMA_FROM_DEVICE,
						GFP_KERNEL);
		complete(&ws->got);
	}
	complete(&ws->got);
	return 0;
}

static void tgt_wake_irq(struct tgt_wake_stress *ws)
{
	struct blk_plug *plug = current->plug;
	struct scsi_cmnd *cmd;
	unsigned short nr_ios;

	if (ws->ctx == TGT_CTX_HARDIRQ ? !in_hardirq() : !in_serving_softirq())
		ws->wrong_ctx++;
	if (!plug || plug != ws->plug) {
		ws->not_on_plug++;
		plug = ws->plug;
	}
	nr_ios = plug->nr_ios;
	scsi_host_put_command(ws->shost, ws->victim);
	/* the freed tag: taken and given back from this context */
	cmd = scsi_host_get_command(ws->shost, DMA_TO_DEVICE, GFP_ATOMIC);
	if (cmd)
		scsi_host_put_command(ws->shost, cmd);
	else
		ws->irq_get_failed++;
	if (plug->nr_ios != nr_ios || !rq_list_empty(&plug->cached_rqs))
		ws->plug_touched++;
	WRITE_ONCE(ws->ran, true);
}

static enum hrtimer_restart tgt_wake_timer_fn(struct hrtimer *timer)
{
	tgt_wake_irq(container_of(timer, struct tgt_wake_stress, timer));
	return HRTIMER_NORESTART;
}

static void tgt_wake_bh_fn(struct work_struct *work)
{
	tgt_wake_irq(container_of(work, struct tgt_wake_stress, bh_work));
}

static void tgt_wake_cleanup(void *data)
{
	struct tgt_wake_stress *ws = data;

	hrtimer_cancel(&ws->timer);
	cancel_work_sync(&ws->bh_work);
	if (!ws->getter)
		return;
	/* a getter still blocked gets a tag from the held commands */
	while (!try_wait_for_completion(&ws->got) && ws->th->nr_held)
		tgt_test_put(ws->th, ws->th->held[ws->th->nr_held - 1]);
	if (ws->cmd)
		scsi_host_put_command(ws->shost, ws->cmd);
	WRITE_ONCE(ws->stop, true);
	complete(&ws->go);
	wait_for_completion_timeout(&ws->got, 5 * HZ);
	put_task_struct(ws->getter);
}

/* put @victim from @ctx; the test thread spins with its plug meanwhile */
static bool tgt_wake_put_irq(struct kunit *test, struct tgt_wake_stress *ws,
			     struct scsi_cmnd *victim, enum tgt_test_ctx ctx)
{
	struct blk_plug plug;
	u64 deadline;

	ws->victim = victim;
	ws->ctx = ctx;
	ws->plug = &plug;
	WRITE_ONCE(ws->ran, false);
	blk_start_plug_nr_ios(&plug, 8);
	if (ctx == TGT_CTX_HARDIRQ) {
		hrtimer_start(&ws->timer, ns_to_ktime(20 * NSEC_PER_USEC),
			      HRTIMER_MODE_REL_HARD);
	} else {
		local_bh_disable();
		queue_work(system_bh_wq, &ws->bh_work);
		local_bh_enable();
	}
	deadline = ktime_get_ns() + 5 * NSEC_PER_SEC;
	while (!READ_ONCE(ws->ran) && ktime_get_ns() < deadline)
		cpu_relax();
	blk_finish_plug(&plug);
	return READ_ONCE(ws->ran);
}

struct tgt_wake_totals {
	unsigned long cycles, blocked, puts[3];
};

/* one queue depth: fill, then @cycles cycles of blocked get + one put */
static void tgt_wake_depth(struct kunit *test, int can_queue,
			   unsigned long cycles, struct rnd_state *rnd,
			   struct tgt_wake_totals *tot)
{
	struct tgt_test_limits lim = { .can_queue = can_queue };
	struct tgt_wake_stress *ws;
	unsigned long c;
	int i, ret;

	ws = kunit_kzalloc(test, sizeof(*ws), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ws);
	ws->th = tgt_test_host_create(test, &lim, true);
	ws->shost = ws->th->shost;
	init_completion(&ws->go);
	init_completion(&ws->about_to_get);
	init_completion(&ws->got);
	hrtimer_init(&ws->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	ws->timer.function = tgt_wake_timer_fn;
	INIT_WORK(&ws->bh_work, tgt_wake_bh_fn);
	ret = kunit_add_action_or_reset(test, tgt_wake_cleanup, ws);
	KUNIT_ASSERT_EQ(test, ret, 0);

	for (i = 0; i < can_queue; i++)
		KUNIT_ASSERT_NOT_NULL(test, tgt_test_get(ws->th, DMA_TO_DEVICE,
							 GFP_ATOMIC));
	ws->getter = kthread_create(tgt_wake_getter_fn, ws, "tgt_kunit_wake");
	KUNIT_ASSERT_FALSE(test, IS_ERR(ws->getter));
	get_task_struct(ws->getter);
	wake_up_process(ws->getter);

	for (c = 0; c < cycles; c++) {
		u32 r = prandom_u32_state(rnd);
		enum tgt_test_ctx ctx = r % 3 == 0 ? TGT_CTX_INLINE :
					r % 3 == 1 ? TGT_CTX_HARDIRQ :
						     TGT_CTX_SOFTIRQ;
		unsigned int idx = (r >> 2) % ws->th->nr_held;
		struct scsi_cmnd *victim = ws->th->held[idx];
		int tag = scsi_host_cmd_to_rq(victim)->tag;

		ws->cmd = NULL;
		complete(&ws->go);
		wait_for_completion(&ws->about_to_get);
		if (READ_ONCE(ws->getter->__state) == TASK_KILLABLE)
			tot->blocked++;

		tgt_test_unhold(ws->th, victim);
		if (ctx == TGT_CTX_INLINE)
			scsi_host_put_command(ws->shost, victim);
		else
			KUNIT_ASSERT_TRUE_MSG(test,
					      tgt_wake_put_irq(test, ws, victim,
							       ctx),
					      "the %s put did not run",
					      tgt_test_ctx_name(ctx));
		tot->puts[ctx]++;
		KUNIT_ASSERT_NE_MSG(test,
				    wait_for_completion_timeout(&ws->got,
								2 * HZ),
				    0,
				    "can_queue %d, cycle %lu: a put from %s did not wake the blocked get",
				    can_queue, c, tgt_test_ctx_name(ctx));
		KUNIT_ASSERT_NOT_NULL(test, ws->cmd);
		KUNIT_EXPECT_EQ(test, scsi_host_cmd_to_rq(ws->cmd)->tag, tag);
		tgt_test_hold(ws->th, ws->cmd);
		ws->cmd = NULL;
		tot->cycles++;
	}
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(ws->shost), can_queue);
	KUNIT_EXPECT_EQ(test, ws->plug_touched, 0);
	KUNIT_EXPECT_EQ(test, ws->not_on_plug, 0);
	KUNIT_EXPECT_EQ(test, ws->irq_get_failed, 0);
	KUNIT_EXPECT_EQ(test, ws->wrong_ctx, 0);
	/* the getter ends, the held commands go, the host is released */
	kunit_release_action(test, tgt_wake_cleanup, ws);
	tgt_test_host_destroy(ws->th);
}

void tgt_stress_blocking_wake_irq_gets(struct kunit *test)
{
	unsigned long ops = tgt_stress_ops / 10, start = jiffies;
	unsigned long cycles = ops / 4 / ARRAY_SIZE(tgt_wake_depths);
	struct tgt_wake_totals tot = {};
	struct rnd_state rnd;
	int i;

	prandom_seed_state(&rnd, tgt_test_seed + 7);
	kunit_info(test, "seed %lu, %lu operations: %lu cycles per depth\n",
		   tgt_test_seed, ops, cycles);
	for (i = 0; i < ARRAY_SIZE(tgt_wake_depths); i++)
		tgt_wake_depth(test, tgt_wake_depths[i], cycles, &rnd, &tot);
	kunit_info(test, "%lu cycles (%lu with the get asleep before the put), puts from process %lu, hardirq %lu, softirq %lu; %u ms\n",
		   tot.cycles, tot.blocked, tot.puts[TGT_CTX_INLINE],
		   tot.puts[TGT_CTX_HARDIRQ], tot.puts[TGT_CTX_SOFTIRQ],
		   jiffies_to_msecs(jiffies - start));
	KUNIT_EXPECT_EQ(test, tot.cycles, cycles * ARRAY_SIZE(tgt_wake_depths));
	/* the gets did sleep, and puts came from every context */
	KUNIT_EXPECT_GT(test, tot.blocked, tot.cycles / 2);
	KUNIT_EXPECT_GT(test, tot.puts[TGT_CTX_INLINE], 0);
	KUNIT_EXPECT_GT(test, tot.puts[TGT_CTX_HARDIRQ], 0);
	KUNIT_EXPECT_GT(test, tot.puts[TGT_CTX_SOFTIRQ], 0);
}
