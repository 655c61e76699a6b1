// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite tgt_cmd_stress: scsi_host_get_command()/put_command() and
 * scsi_tgt_queue_command() under load, with injected faults.
 *
 * The suite performs a bounded number of operations (a get, a put or a
 * queue_command each): CONFIG_SCSI_TGT_KUNIT_STRESS_OPS, small by default
 * and 1000000 in tgtsim's debug profile, or the kernel argument
 * tgt_kunit.stress_ops=N. The operations are shared by four cases:
 *
 *  - get_put (40%) and get_put_alloc_faults (40%): TGT_STRESS_WORKERS
 *    kthreads get and put commands on one host at the same time, handing
 *    part of their puts to an hrtimer (hardirq context) and to a BH work
 *    item (softirq context). Each case runs TGT_STRESS_ROUNDS rounds, each
 *    on a new host added with scsi_add_host() and removed with
 *    scsi_remove_host() while the workers still hold commands. With
 *    alloc_faults a seeded 1/8 of the command allocations fail
 *    (scsi_host_cmd_alloc() static stub): the get falls back to the host's
 *    reserve or fails.
 *  - chunk_faults (10%): every worker has a host of its own and runs
 *    commands of 1 to 16 chunks through the target core, completed inline,
 *    from hardirq or from softirq context; a seeded share of them has an
 *    LLD error or a refusal at chunk k, a failing scatterlist allocation at
 *    chunk k (scsi_tgt_alloc_sgtable() static stub) or a failing or
 *    refused response. Each command must end with the error its plan
 *    implies, after exactly the expected number of chunks.
 *  - blocking_wake_irq_gets (10%, tgt_cmd_stress_wake.c): blocked gets
 *    woken by one put at every queue depth, gets and puts from interrupt
 *    context on top of a task with a plug.
 *
 * Every tag handed out is checked to be in [0, can_queue) and not held by
 * another command, every command to be zeroed and linked to its request.
 * At the end of each round every counter is back to its start value: host
 * references, tags in use, free list (its one reserve), outstanding
 * commands; and the removed host is released after the last put. The
 * decisions of each worker come from prandom seeded with tgt_kunit.seed;
 * the checks do not depend on the interleaving.
 */
#include <linux/atomic.h>
#include <linux/bitmap.h>
#include <linux/blk-mq.h>
#include <linux/completion.h>
#include <linux/device.h>
#include <linux/gfp.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/moduleparam.h>
#include <linux/prandom.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <kunit/static_stub.h>
#include <kunit/test.h>

#include <scsi/scsi.h>
#include <scsi/scsi_cmnd.h>
#include <scsi/scsi_host.h>
#include <scsi/scsi_tgt.h>

#include "tgt_test.h"

unsigned long tgt_stress_ops = CONFIG_SCSI_TGT_KUNIT_STRESS_OPS;
module_param_named(stress_ops, tgt_stress_ops, ulong, 0444);
MODULE_PARM_DESC(stress_ops,
		 "operations (get, put, queue_command) of the tgt_cmd_stress suite");

#define TGT_STRESS_WORKERS	4
#define TGT_STRESS_HOLD		4	/* commands a worker holds at most */
/*
 * A blocking get always ends: the other workers hold at most
 * (WORKERS - 1) * HOLD tags, the getter HOLD - 1, and deferred puts
 * complete on their own.
 */
#define TGT_STRESS_CAN_QUEUE	16
#define TGT_STRESS_ROUNDS	4
#define TGT_STRESS_DEFER	8	/* deferred puts queued per context */
#define TGT_STRESS_FAIL_PERMILLE 125	/* alloc_faults: 1/8 */
#define TGT_STRESS_MAX_PAGES	16	/* chunk_faults: 1..16 one-page chunks */

enum tgt_stress_put_ctx { TGT_PUT_TASK, TGT_PUT_HARDIRQ, TGT_PUT_SOFTIRQ };

struct tgt_stress;

/* deferred puts of one context */
struct tgt_stress_defer {
	struct tgt_stress *s;
	spinlock_t lock;		/* protects ring, head, count */
	struct scsi_cmnd *ring[TGT_STRESS_DEFER];
	unsigned int head, count;
	atomic_t puts;
	atomic_t wrong_ctx;
};

struct tgt_stress_worker {
	struct tgt_stress *s;
	int id;
	struct task_struct *task;
	struct completion phase1_done;
	struct completion done;
	struct rnd_state rnd;		/* the worker's decisions */
	struct rnd_state rnd_fault;	/* the stub's decisions */
	unsigned long budget;

	struct scsi_cmnd *held[TGT_STRESS_HOLD];
	unsigned int nr_held;

	/* counters, read by the test once done is complete */
	unsigned long ops, gets, gets_failed, gets_unexpected_null;
	unsigned long gets_after_removal, puts_task, alloc_faults;

	/* chunk_faults */
	struct tgt_test_host *th;
	void *buf;
	unsigned int sg_fail_offset;	/* UINT_MAX: none */
	unsigned long cmds, plan_mismatch, timeouts, sg_left, sg_faults;
	unsigned long kinds[6];
	u64 ns_per_ctx[3];		/* time spent per completion context */
	unsigned long cmds_per_ctx[3];
};

struct tgt_stress {
	struct kunit *test;
	struct Scsi_Host *shost;
	struct tgt_stress_worker w[TGT_STRESS_WORKERS];
	struct completion removed;	/* phase 2 may start */
	bool stopping;

	struct tgt_stress_defer hard, soft;
	struct hrtimer timer;
	struct work_struct bh_work;
	atomic_t deferred;		/* queued and not yet put */
	wait_queue_head_t drained;

	DECLARE_BITMAP(tags_out, TGT_STRESS_CAN_QUEUE);
	atomic_t outstanding;
	atomic_t bad_tag;
	atomic_t bad_cmd;
	unsigned int fail_permille;
	bool stuck;			/* a worker did not end */
};

/* the stubs find their worker through this; suites never run concurrently */
static struct tgt_stress *tgt_stress_active;

static struct tgt_stress_worker *tgt_stress_worker_of_current(void)
{
	struct tgt_stress *s = READ_ONCE(tgt_stress_active);
	int i;

	if (!s)
		return NULL;
	for (i = 0; i < TGT_STRESS_WORKERS; i++)
		if (s->w[i].task == current)
			return &s->w[i];
	return NULL;
}

/* scsi_host_cmd_alloc() stub: fail a seeded share of a worker's calls */
static struct scsi_host_cmd *tgt_stress_cmd_alloc(struct Scsi_Host *shost,
						   gfp_t gfp)
{
	struct tgt_stress_worker *w = tgt_stress_worker_of_current();
	struct scsi_host_cmd *hcmd;
	struct kunit *test;

	if (w && prandom_u32_state(&w->rnd_fault) % 1000 <
		 w->s->fail_permille) {
		w->alloc_faults++;
		return NULL;
	}
	/* the real allocator: stubs are only looked up for a current test */
	test = current->kunit_test;
	current->kunit_test = NULL;
	hcmd = scsi_host_cmd_alloc(shost, gfp);
	current->kunit_test = test;
	return hcmd;
}

/* scsi_tgt_alloc_sgtable() stub: fail the chunk the worker's plan says */
static int tgt_stress_alloc_sgtable(struct scsi_cmnd *cmd, unsigned int nents)
{
	struct tgt_stress *s = READ_ONCE(tgt_stress_active);
	struct Scsi_Host *shost = scsi_tgt_cmd_to_host(cmd);
	struct kunit *test;
	int i, ret;

	for (i = 0; s && i < TGT_STRESS_WORKERS; i++) {
		struct tgt_stress_worker *w = &s->w[i];

		if (w->th && w->th->shost == shost &&
		    w->sg_fail_offset == cmd->offset) {
			w->sg_faults++;
			return -ENOMEM;
		}
	}
	test = current->kunit_test;
	current->kunit_test = NULL;
	ret = scsi_tgt_alloc_sgtable(cmd, nents);
	current->kunit_test = test;
	return ret;
}

/* bookkeeping of a command handed out by a get */
static void tgt_stress_got(struct tgt_stress *s, struct tgt_stress_worker *w,
			   struct scsi_cmnd *cmd, enum dma_data_direction dir)
{
	int tag = scsi_host_cmd_to_rq(cmd)->tag;

	if (tag < 0 || tag >= TGT_STRESS_CAN_QUEUE ||
	    test_and_set_bit(tag, s->tags_out))
		atomic_inc(&s->bad_tag);
	if (cmd->sc_data_direction != dir || cmd->offset || cmd->result ||
	    cmd->host_scribble ||
	    scsi_host_cmd_to_rq(cmd)->end_io_data != (void *)cmd)
		atomic_inc(&s->bad_cmd);
	cmd->host_scribble = (unsigned char *)w;
	atomic_inc(&s->outstanding);
}

/* put a command; any context */
static void tgt_stress_put(struct tgt_stress *s, struct scsi_cmnd *cmd)
{
	int tag = scsi_host_cmd_to_rq(cmd)->tag;

	if (!cmd->host_scribble)
		atomic_inc(&s->bad_cmd);
	cmd->host_scribble = NULL;
	/* before the put: the tag may be handed out again at once */
	if (tag < 0 || tag >= TGT_STRESS_CAN_QUEUE ||
	    !test_and_clear_bit(tag, s->tags_out))
		atomic_inc(&s->bad_tag);
	atomic_dec(&s->outstanding);
	scsi_host_put_command(s->shost, cmd);
}

/* put all queued commands of @d; called in @d's context */
static void tgt_stress_defer_run(struct tgt_stress_defer *d, bool right_ctx)
{
	struct tgt_stress *s = d->s;
	struct scsi_cmnd *cmds[TGT_STRESS_DEFER];
	unsigned long flags;
	unsigned int n, i;

	spin_lock_irqsave(&d->lock, flags);
	n = d->count;
	for (i = 0; i < n; i++)
		cmds[i] = d->ring[(d->head + i) % TGT_STRESS_DEFER];
	d->head = (d->head + n) % TGT_STRESS_DEFER;
	d->count = 0;
	spin_unlock_irqrestore(&d->lock, flags);

	if (!right_ctx)
		atomic_add(n, &d->wrong_ctx);
	for (i = 0; i < n; i++) {
		tgt_stress_put(s, cmds[i]);
		atomic_inc(&d->puts);
		if (atomic_dec_and_test(&s->deferred))
			wake_up(&s->drained);
	}
}

static enum hrtimer_restart tgt_stress_timer_fn(struct hrtimer *timer)
{
	struct tgt_stress *s = container_of(timer, struct tgt_stress, timer);

	tgt_stress_defer_run(&s->hard, in_hardirq());
	return HRTIMER_NORESTART;
}

static void tgt_stress_bh_fn(struct work_struct *work)
{
	struct tgt_stress *s = container_of(work, struct tgt_stress, bh_work);

	tgt_stress_defer_run(&s->soft, in_serving_softirq());
}

/* hand @cmd to the hardirq or softirq putter; false if its queue is full */
static bool tgt_stress_defer(struct tgt_stress *s, struct scsi_cmnd *cmd,
			     enum tgt_stress_put_ctx ctx)
{
	struct tgt_stress_defer *d = ctx == TGT_PUT_HARDIRQ ? &s->hard :
							       &s->soft;
	unsigned long flags;
	bool queued = false;

	spin_lock_irqsave(&d->lock, flags);
	if (d->count < TGT_STRESS_DEFER) {
		d->ring[(d->head + d->count) % TGT_STRESS_DEFER] = cmd;
		d->count++;
		atomic_inc(&s->deferred);
		queued = true;
		if (ctx == TGT_PUT_HARDIRQ && !hrtimer_is_queued(&s->timer))
			hrtimer_start(&s->timer, ns_to_ktime(20 * NSEC_PER_USEC),
				      HRTIMER_MODE_REL_HARD);
	}
	spin_unlock_irqrestore(&d->lock, flags);
	if (queued && ctx == TGT_PUT_SOFTIRQ)
		queue_work(system_bh_wq, &s->bh_work);
	return queued;
}

/* wait until every deferred put is done; false after 10 s */
static bool tgt_stress_drain(struct tgt_stress *s)
{
	bool ok = wait_event_timeout(s->drained, !atomic_read(&s->deferred),
				     10 * HZ);

	/* the callbacks may still be returning */
	hrtimer_cancel(&s->timer);
	cancel_work_sync(&s->bh_work);
	return ok;
}

static void tgt_stress_worker_put(struct tgt_stress_worker *w,
				  unsigned int idx, u32 r)
{
	struct tgt_stress *s = w->s;
	struct scsi_cmnd *cmd = w->held[idx];
	enum tgt_stress_put_ctx ctx = r % 4 < 2 ? TGT_PUT_TASK :
				      r % 4 == 2 ? TGT_PUT_HARDIRQ :
						   TGT_PUT_SOFTIRQ;

	w->held[idx] = w->held[--w->nr_held];
	w->ops++;
	if (ctx != TGT_PUT_TASK && tgt_stress_defer(s, cmd, ctx))
		return;
	tgt_stress_put(s, cmd);
	w->puts_task++;
}

static void tgt_stress_worker_get(struct tgt_stress_worker *w, u32 r,
				  bool removed)
{
	struct tgt_stress *s = w->s;
	enum dma_data_direction dir = r & 1 ? DMA_TO_DEVICE : DMA_FROM_DEVICE;
	gfp_t gfp = (r >> 1) % 4 ? GFP_ATOMIC : GFP_KERNEL;
	struct scsi_cmnd *cmd;
	unsigned long faults = w->alloc_faults;

	cmd = scsi_host_get_command(s->shost, dir, gfp);
	w->ops++;
	w->gets++;
	if (!cmd) {
		w->gets_failed++;
		/*
		 * A blocking get fails only for a host going away or an
		 * injected allocation failure with the reserve in use.
		 */
		if (gfp == GFP_KERNEL && !removed && w->alloc_faults == faults)
			w->gets_unexpected_null++;
		return;
	}
	if (removed)
		w->gets_after_removal++;
	tgt_stress_got(s, w, cmd, dir);
	w->held[w->nr_held++] = cmd;
}

static int tgt_stress_get_put_fn(void *data)
{
	struct tgt_stress_worker *w = data;
	struct tgt_stress *s = w->s;

	/* the case's static stubs apply in this thread too */
	current->kunit_test = s->test;

	/* phase 1: random gets and puts */
	while (w->ops < w->budget && !READ_ONCE(s->stopping)) {
		u32 r = prandom_u32_state(&w->rnd);

		if (w->nr_held < TGT_STRESS_HOLD && (!w->nr_held || r & 1))
			tgt_stress_worker_get(w, r >> 1, false);
		else
			tgt_stress_worker_put(w, (r >> 1) % w->nr_held, r >> 8);
		cond_resched();
	}
	complete_all(&w->phase1_done);

	/* phase 2: the host is removed; a get fails, the held ones are put */
	wait_for_completion(&s->removed);
	if (!READ_ONCE(s->stopping))
		tgt_stress_worker_get(w, prandom_u32_state(&w->rnd), true);
	while (w->nr_held)
		tgt_stress_worker_put(w, w->nr_held - 1,
				      prandom_u32_state(&w->rnd));
	current->kunit_test = NULL;
	complete_all(&w->done);	/* waited for more than once */
	return 0;
}

/* a parent device: its release shows that the host was released */
struct tgt_stress_parent {
	struct device dev;
	struct completion released;
};

static void tgt_stress_parent_release(struct device *dev)
{
	complete_all(&container_of(dev, struct tgt_stress_parent,
				   dev)->released);
}

struct tgt_stress_round {
	struct tgt_stress *s;
	struct tgt_stress_parent *parent;
	struct Scsi_Host *shost;
	bool parent_added, added, removed, host_put, parent_gone;
	bool workers_started;
};

/* stop the workers; false if one of them does not end */
static bool tgt_stress_stop_workers(struct tgt_stress *s)
{
	bool ok = true;
	int i;

	WRITE_ONCE(s->stopping, true);
	complete_all(&s->removed);
	for (i = 0; i < TGT_STRESS_WORKERS; i++)
		if (s->w[i].task &&
		    !wait_for_completion_timeout(&s->w[i].done, 30 * HZ))
			ok = false;
	return ok;
}

/* runs if a round is cut short; undoes what the round did */
static void tgt_stress_round_cleanup(void *data)
{
	struct tgt_stress_round *r = data;
	struct tgt_stress *s = r->s;

	if (r->workers_started && !tgt_stress_stop_workers(s)) {
		/* a worker still runs: leak rather than free under it */
		WRITE_ONCE(tgt_stress_active, NULL);
		return;
	}
	tgt_stress_drain(s);
	WRITE_ONCE(tgt_stress_active, NULL);
	if (r->shost) {
		if (r->added && !r->removed)
			scsi_remove_host(r->shost);
		if (!r->host_put)
			scsi_host_put(r->shost);
	}
	if (!r->parent_added)
		put_device(&r->parent->dev);
	else if (!r->parent_gone)
		device_unregister(&r->parent->dev);
	if (wait_for_completion_timeout(&r->parent->released, HZ))
		kfree(r->parent);
	kfree(s);
}

static struct tgt_stress *tgt_stress_alloc(struct kunit *test)
{
	struct tgt_stress *s = kzalloc(sizeof(*s), GFP_KERNEL);
	int i;

	KUNIT_ASSERT_NOT_NULL(test, s);
	s->test = test;
	init_completion(&s->removed);
	spin_lock_init(&s->hard.lock);
	spin_lock_init(&s->soft.lock);
	s->hard.s = s;
	s->soft.s = s;
	hrtimer_init(&s->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	s->timer.function = tgt_stress_timer_fn;
	INIT_WORK(&s->bh_work, tgt_stress_bh_fn);
	init_waitqueue_head(&s->drained);
	for (i = 0; i < TGT_STRESS_WORKERS; i++) {
		s->w[i].s = s;
		s->w[i].id = i;
		s->w[i].sg_fail_offset = UINT_MAX;
		init_completion(&s->w[i].phase1_done);
		init_completion(&s->w[i].done);
	}
	return s;
}

struct tgt_stress_totals {
	unsigned long ops, gets, gets_failed, alloc_faults;
	unsigned long puts_task, puts_hard, puts_soft;
};

/*
 * One round: a new host is added, the workers get and put, the host is
 * removed while they hold commands, they put them, and the host must be
 * released with every counter back where it started.
 */
static void tgt_stress_round(struct kunit *test, int round,
			     unsigned long ops, unsigned int fail_permille,
			     struct tgt_stress_totals *tot)
{
	struct tgt_test_limits lim = { .can_queue = TGT_STRESS_CAN_QUEUE };
	struct tgt_stress_round *r;
	struct task_struct *task;
	struct tgt_test_host *th;
	struct Scsi_Host *shost;
	struct tgt_stress *s;
	unsigned int refs0, refs_removed, held, wrong_ctx;
	int i, ret;

	s = tgt_stress_alloc(test);
	r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	if (!r)
		kfree(s);
	KUNIT_ASSERT_NOT_NULL(test, r);
	r->s = s;
	r->parent = kzalloc(sizeof(*r->parent), GFP_KERNEL);
	if (!r->parent)
		kfree(s);
	KUNIT_ASSERT_NOT_NULL(test, r->parent);
	init_completion(&r->parent->released);
	device_initialize(&r->parent->dev);
	r->parent->dev.release = tgt_stress_parent_release;
	ret = kunit_add_action_or_reset(test, tgt_stress_round_cleanup, r);
	KUNIT_ASSERT_EQ(test, ret, 0);
	ret = dev_set_name(&r->parent->dev, "tgt_kunit_stress%d", round);
	KUNIT_ASSERT_EQ(test, ret, 0);
	ret = device_add(&r->parent->dev);
	KUNIT_ASSERT_EQ(test, ret, 0);
	r->parent_added = true;

	th = tgt_test_host_alloc(test, &lim);
	th->released = true;	/* the round owns the host */
	shost = th->shost;
	r->shost = shost;
	s->shost = shost;
	s->fail_permille = fail_permille;
	ret = scsi_add_host(shost, &r->parent->dev);
	KUNIT_ASSERT_EQ(test, ret, 0);
	r->added = true;
	ret = scsi_tgt_alloc_queue(shost);
	KUNIT_ASSERT_EQ(test, ret, 0);

	refs0 = tgt_test_refs(shost);
	KUNIT_ASSERT_EQ(test, tgt_test_tags_in_use(shost), 0);
	KUNIT_ASSERT_EQ(test, tgt_test_free_list_len(shost, NULL), 1);

	WRITE_ONCE(tgt_stress_active, s);
	for (i = 0; i < TGT_STRESS_WORKERS; i++) {
		struct tgt_stress_worker *w = &s->w[i];
		u64 seed = tgt_test_seed + 1000 * round + i;

		prandom_seed_state(&w->rnd, seed);
		prandom_seed_state(&w->rnd_fault, ~seed);
		w->budget = ops / TGT_STRESS_WORKERS;
		task = kthread_create(tgt_stress_get_put_fn, w, "tgt_stress/%d",
				      i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(task));
		w->task = task;
		r->workers_started = true;
		wake_up_process(task);
	}

	/* phase 1 done: the workers hold their commands, nothing deferred */
	for (i = 0; i < TGT_STRESS_WORKERS; i++)
		KUNIT_ASSERT_NE_MSG(test,
				    wait_for_completion_timeout(&s->w[i].phase1_done,
								120 * HZ),
				    0, "worker %d stuck in round %d", i, round);
	KUNIT_ASSERT_TRUE_MSG(test, tgt_stress_drain(s),
			      "deferred puts not done in 10 s");
	held = 0;
	for (i = 0; i < TGT_STRESS_WORKERS; i++)
		held += s->w[i].nr_held;
	KUNIT_EXPECT_EQ(test, atomic_read(&s->outstanding), held);
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(shost), held);
	KUNIT_EXPECT_EQ(test, tgt_test_refs(shost), refs0 + held);

	/* remove the host under the held commands; phase 2 puts them */
	scsi_remove_host(shost);
	r->removed = true;
	KUNIT_EXPECT_EQ(test, shost->shost_state, SHOST_DEL);
	refs_removed = tgt_test_refs(shost);
	complete_all(&s->removed);
	for (i = 0; i < TGT_STRESS_WORKERS; i++)
		KUNIT_ASSERT_NE_MSG(test,
				    wait_for_completion_timeout(&s->w[i].done,
								30 * HZ),
				    0, "worker %d stuck in round %d", i, round);
	r->workers_started = false;
	KUNIT_ASSERT_TRUE_MSG(test, tgt_stress_drain(s),
			      "deferred puts not done in 10 s");
	WRITE_ONCE(tgt_stress_active, NULL);

	/* every counter back to its start value */
	KUNIT_EXPECT_EQ(test, atomic_read(&s->outstanding), 0);
	KUNIT_EXPECT_TRUE(test, bitmap_empty(s->tags_out, TGT_STRESS_CAN_QUEUE));
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(shost), 0);
	KUNIT_EXPECT_EQ(test, tgt_test_free_list_len(shost, NULL), 1);
	KUNIT_EXPECT_EQ(test, tgt_test_refs(shost), refs_removed - held);
	KUNIT_EXPECT_EQ(test, atomic_read(&s->bad_tag), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&s->bad_cmd), 0);
	wrong_ctx = atomic_read(&s->hard.wrong_ctx) +
		    atomic_read(&s->soft.wrong_ctx);
	KUNIT_EXPECT_EQ(test, wrong_ctx, 0);

	for (i = 0; i < TGT_STRESS_WORKERS; i++) {
		struct tgt_stress_worker *w = &s->w[i];

		KUNIT_EXPECT_EQ_MSG(test, w->gets_unexpected_null, 0,
				    "worker %d: blocking gets that failed", i);
		KUNIT_EXPECT_EQ_MSG(test, w->gets_after_removal, 0,
				    "worker %d: gets on a removed host", i);
		if (!fail_permille)
			KUNIT_EXPECT_EQ(test, w->alloc_faults, 0);
		/* a get can only fail for a busy tag or an injected fault */
		tot->ops += w->ops;
		tot->gets += w->gets;
		tot->gets_failed += w->gets_failed;
		tot->alloc_faults += w->alloc_faults;
		tot->puts_task += w->puts_task;
	}
	tot->puts_hard += atomic_read(&s->hard.puts);
	tot->puts_soft += atomic_read(&s->soft.puts);

	/* the last reference of the removed host goes with the last put */
	scsi_host_put(shost);
	r->host_put = true;
	device_unregister(&r->parent->dev);
	r->parent_gone = true;
	KUNIT_EXPECT_NE_MSG(test,
			    wait_for_completion_timeout(&r->parent->released,
							2 * HZ),
			    0, "host of round %d not released", round);
}

static void tgt_stress_get_put_case(struct kunit *test, unsigned long ops,
				    unsigned int fail_permille)
{
	struct tgt_stress_totals tot = {};
	unsigned long start = jiffies;
	int round;

	kunit_info(test, "seed %lu (tgt_kunit.seed=), %lu operations (tgt_kunit.stress_ops=%lu)\n",
		   tgt_test_seed, ops, tgt_stress_ops);
	if (fail_permille)
		kunit_activate_static_stub(test, scsi_host_cmd_alloc,
					   tgt_stress_cmd_alloc);
	for (round = 0; round < TGT_STRESS_ROUNDS; round++)
		tgt_stress_round(test, round, ops / TGT_STRESS_ROUNDS,
				 fail_permille, &tot);

	kunit_info(test, "%lu ops: %lu gets (%lu failed, %lu alloc faults injected), puts %lu task / %lu hardirq / %lu softirq, %u host add/remove, %u ms\n",
		   tot.ops, tot.gets, tot.gets_failed, tot.alloc_faults,
		   tot.puts_task, tot.puts_hard, tot.puts_soft,
		   TGT_STRESS_ROUNDS, jiffies_to_msecs(jiffies - start));
	/* the operations were done, in every context */
	KUNIT_EXPECT_GE(test, tot.ops,
			ops / TGT_STRESS_ROUNDS / TGT_STRESS_WORKERS *
			TGT_STRESS_ROUNDS * TGT_STRESS_WORKERS);
	KUNIT_EXPECT_EQ(test, tot.gets - tot.gets_failed,
			tot.puts_task + tot.puts_hard + tot.puts_soft);
	KUNIT_EXPECT_GT(test, tot.puts_task, 0);
	KUNIT_EXPECT_GT(test, tot.puts_hard, 0);
	KUNIT_EXPECT_GT(test, tot.puts_soft, 0);
	if (fail_permille)
		KUNIT_EXPECT_GT(test, tot.alloc_faults, 0);
}

static void tgt_stress_get_put(struct kunit *test)
{
	tgt_stress_get_put_case(test, tgt_stress_ops / 5 * 2, 0);
}

static void tgt_stress_get_put_alloc_faults(struct kunit *test)
{
	tgt_stress_get_put_case(test, tgt_stress_ops / 5 * 2,
				TGT_STRESS_FAIL_PERMILLE);
}

/* chunk_faults: what happens to one command, and what it must end with */
enum tgt_stress_kind {
	TGT_KIND_OK,
	TGT_KIND_LLD_ERROR,	/* chunk k completes with an error */
	TGT_KIND_LLD_BUSY,	/* chunk k is refused */
	TGT_KIND_SG_FAIL,	/* the sg table of chunk k is not allocated */
	TGT_KIND_RESP_ERROR,
	TGT_KIND_RESP_BUSY,
};

static int tgt_stress_chunk_fn(void *data)
{
	struct tgt_stress_worker *w = data;
	struct tgt_stress *s = w->s;
	struct tgt_test_host *th = w->th;

	current->kunit_test = s->test;
	while (w->ops < w->budget && !READ_ONCE(s->stopping)) {
		u32 r = prandom_u32_state(&w->rnd);
		enum tgt_stress_kind kind = (r >> 8) % 10 < 5 ? TGT_KIND_OK :
					    1 + (r >> 12) % 5;
		/*
		 * Without high resolution timers (UML's default) an hrtimer
		 * completion takes a tick: hardirq commands are 1 in 10, and
		 * short.
		 */
		unsigned int c = (r >> 20) % 20;
		enum tgt_test_ctx ctx = kind == TGT_KIND_SG_FAIL ? TGT_CTX_INLINE :
					c < 2 ? TGT_CTX_HARDIRQ :
					c < 11 ? TGT_CTX_SOFTIRQ : TGT_CTX_INLINE;
		unsigned int pages = 1 + r % (ctx == TGT_CTX_HARDIRQ ? 4 :
					      TGT_STRESS_MAX_PAGES);
		unsigned int k = (r >> 4) % pages;
		enum dma_data_direction dir = r & (1 << 16) ? DMA_TO_DEVICE :
							      DMA_FROM_DEVICE;
		unsigned int want_calls = pages, want_resp = 1;
		struct scsi_cmnd *cmd;
		int want_err = 0, err;
		u64 t0;

		th->ctx = ctx;
		th->fail_chunk = -1;
		th->refuse_chunk = -1;
		th->fail_response = false;
		th->refuse_response = false;
		w->sg_fail_offset = UINT_MAX;
		switch (kind) {
		case TGT_KIND_OK:
			break;
		case TGT_KIND_LLD_ERROR:
			th->fail_chunk = k;
			want_err = -EIO;
			want_calls = k + 1;
			want_resp = 0;
			break;
		case TGT_KIND_LLD_BUSY:
			th->refuse_chunk = k;
			want_err = -EBUSY;
			want_calls = k + 1;
			want_resp = 0;
			break;
		case TGT_KIND_SG_FAIL:
			w->sg_fail_offset = k * PAGE_SIZE;
			want_err = -ENOMEM;
			want_calls = k;
			want_resp = 0;
			break;
		case TGT_KIND_RESP_ERROR:
			th->fail_response = true;
			want_err = -EIO;
			break;
		case TGT_KIND_RESP_BUSY:
			th->refuse_response = true;
			want_err = -EBUSY;
			break;
		}

		t0 = ktime_get_ns();
		cmd = scsi_host_get_command(th->shost, dir, GFP_KERNEL);
		w->ops++;
		if (!cmd) {
			w->gets_unexpected_null++;
			continue;
		}
		tgt_test_log_reset(th);
		err = scsi_tgt_queue_command(cmd, w->buf, pages * PAGE_SIZE,
					     tgt_test_cmd_done, th);
		w->ops++;
		if (err) {
			w->plan_mismatch++;
		} else if (!wait_for_completion_timeout(&th->cmd_done,
							10 * HZ)) {
			/* the core still has it: stop, leaking the command */
			w->timeouts++;
			break;
		}
		/* a deferred completion may still be returning */
		hrtimer_cancel(&th->timer);
		cancel_work_sync(&th->bh_work);
		if (!err && (th->cmd_err != want_err || th->nr_cmd_done != 1 ||
			     th->nr_calls != want_calls ||
			     th->nr_responses != want_resp))
			w->plan_mismatch++;
		if (cmd->sdb.table.sgl)
			w->sg_left++;
		w->kinds[kind]++;
		w->cmds++;
		scsi_host_put_command(th->shost, cmd);
		w->ops++;
		w->ns_per_ctx[th->ctx] += ktime_get_ns() - t0;
		w->cmds_per_ctx[th->ctx]++;
		cond_resched();
	}
	w->sg_fail_offset = UINT_MAX;
	current->kunit_test = NULL;
	complete_all(&w->done);	/* waited for more than once */
	return 0;
}

/* registered first, runs last: frees what the workers used */
static void tgt_stress_chunk_free(void *data)
{
	struct tgt_stress *s = data;
	int i;

	if (s->stuck)
		return;	/* leak rather than free under a worker */
	for (i = 0; i < TGT_STRESS_WORKERS; i++)
		if (s->w[i].buf)
			free_pages((unsigned long)s->w[i].buf,
				   get_order(TGT_STRESS_MAX_PAGES * PAGE_SIZE));
	kfree(s);
}

/* registered after the hosts, runs before their cleanup */
static void tgt_stress_chunk_stop(void *data)
{
	struct tgt_stress *s = data;

	s->stuck = !tgt_stress_stop_workers(s);
	WRITE_ONCE(tgt_stress_active, NULL);
}

static void tgt_stress_chunk_faults(struct kunit *test)
{
	/* one page per chunk: the chunk count of a command is known */
	struct tgt_test_limits lim = { .max_sectors = PAGE_SIZE >> 9,
				       .can_queue = 2 };
	unsigned long ops = tgt_stress_ops / 10, start = jiffies;
	unsigned long cmds = 0, kinds[6] = {}, sg_faults = 0, per_ctx[3] = {};
	u64 ns[3] = {};
	unsigned int refs0[TGT_STRESS_WORKERS];
	struct task_struct *task;
	struct tgt_stress *s;
	int i, j, ret;

	kunit_info(test, "seed %lu (tgt_kunit.seed=), %lu operations (tgt_kunit.stress_ops=%lu)\n",
		   tgt_test_seed, ops, tgt_stress_ops);
	s = tgt_stress_alloc(test);
	ret = kunit_add_action_or_reset(test, tgt_stress_chunk_free, s);
	KUNIT_ASSERT_EQ(test, ret, 0);
	for (i = 0; i < TGT_STRESS_WORKERS; i++) {
		struct tgt_stress_worker *w = &s->w[i];

		w->th = tgt_test_host_create(test, &lim, true);
		refs0[i] = tgt_test_refs(w->th->shost);
		w->buf = (void *)__get_free_pages(GFP_KERNEL,
				get_order(TGT_STRESS_MAX_PAGES * PAGE_SIZE));
		KUNIT_ASSERT_NOT_NULL(test, w->buf);
		prandom_seed_state(&w->rnd, tgt_test_seed + 7000 + i);
		w->budget = ops / TGT_STRESS_WORKERS;
	}
	ret = kunit_add_action_or_reset(test, tgt_stress_chunk_stop, s);
	KUNIT_ASSERT_EQ(test, ret, 0);
	kunit_activate_static_stub(test, scsi_tgt_alloc_sgtable,
				   tgt_stress_alloc_sgtable);
	WRITE_ONCE(tgt_stress_active, s);
	for (i = 0; i < TGT_STRESS_WORKERS; i++) {
		struct tgt_stress_worker *w = &s->w[i];

		task = kthread_create(tgt_stress_chunk_fn, w, "tgt_stress/%d",
				      i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(task));
		w->task = task;
		wake_up_process(task);
	}
	for (i = 0; i < TGT_STRESS_WORKERS; i++)
		KUNIT_ASSERT_NE_MSG(test,
				    wait_for_completion_timeout(&s->w[i].done,
								120 * HZ),
				    0, "worker %d stuck", i);
	WRITE_ONCE(tgt_stress_active, NULL);

	for (i = 0; i < TGT_STRESS_WORKERS; i++) {
		struct tgt_stress_worker *w = &s->w[i];
		struct Scsi_Host *shost = w->th->shost;

		KUNIT_EXPECT_EQ_MSG(test, w->plan_mismatch, 0,
				    "worker %d: commands that did not end as planned",
				    i);
		KUNIT_EXPECT_EQ(test, w->timeouts, 0);
		KUNIT_EXPECT_EQ(test, w->gets_unexpected_null, 0);
		KUNIT_EXPECT_EQ(test, w->sg_left, 0);
		KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(shost), 0);
		KUNIT_EXPECT_EQ(test, tgt_test_free_list_len(shost, NULL), 1);
		KUNIT_EXPECT_EQ(test, tgt_test_refs(shost), refs0[i]);
		cmds += w->cmds;
		sg_faults += w->sg_faults;
		for (j = 0; j < ARRAY_SIZE(kinds); j++)
			kinds[j] += w->kinds[j];
		for (j = 0; j < ARRAY_SIZE(ns); j++) {
			ns[j] += w->ns_per_ctx[j];
			per_ctx[j] += w->cmds_per_ctx[j];
		}
	}
	kunit_info(test, "%lu commands: %lu ok, %lu LLD error, %lu LLD busy, %lu sg alloc failure, %lu response error, %lu response busy; %u ms\n",
		   cmds, kinds[0], kinds[1], kinds[2], kinds[3], kinds[4],
		   kinds[5], jiffies_to_msecs(jiffies - start));
	for (j = 0; j < ARRAY_SIZE(ns); j++)
		kunit_info(test, "completion %s: %lu commands, %llu us each\n",
			   tgt_test_ctx_name(j), per_ctx[j],
			   per_ctx[j] ? div_u64(ns[j], per_ctx[j] * 1000) : 0);
	KUNIT_EXPECT_EQ(test, sg_faults, kinds[TGT_KIND_SG_FAIL]);
	KUNIT_EXPECT_GE(test, cmds * 3, ops / TGT_STRESS_WORKERS *
			TGT_STRESS_WORKERS - 2 * TGT_STRESS_WORKERS);
	/* every kind of fault was injected */
	for (j = 0; j < ARRAY_SIZE(kinds); j++)
		KUNIT_EXPECT_GT_MSG(test, kinds[j], 0, "kind %d never ran", j);
}

static struct kunit_case tgt_cmd_stress_cases[] = {
	KUNIT_CASE_SLOW(tgt_stress_get_put),
	KUNIT_CASE_SLOW(tgt_stress_get_put_alloc_faults),
	KUNIT_CASE_SLOW(tgt_stress_chunk_faults),
	KUNIT_CASE_SLOW(tgt_stress_blocking_wake_irq_gets),
	{}
};

static struct kunit_suite tgt_cmd_stress_suite = {
	.name = "tgt_cmd_stress",
	.test_cases = tgt_cmd_stress_cases,
};

kunit_test_suites(&tgt_cmd_stress_suite);
