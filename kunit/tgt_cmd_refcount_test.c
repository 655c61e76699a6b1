// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite tgt_cmd_refcount: scsi_host_get_command() takes exactly one
 * reference on shost_gendev, scsi_host_put_command() drops exactly one,
 * and no failure path of get keeps one.
 */
#include <linux/blk-mq.h>
#include <linux/device.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <kunit/resource.h>
#include <kunit/static_stub.h>
#include <kunit/test.h>

#include <scsi/scsi_cmnd.h>
#include <scsi/scsi_host.h>
#include <scsi/scsi_tgt.h>

#include "tgt_test.h"

struct tgt_dir_param {
	enum dma_data_direction dir;
	enum req_op op;
	gfp_t gfp;
	const char *name;
};

static const struct tgt_dir_param tgt_dir_params[] = {
	{ DMA_TO_DEVICE, REQ_OP_DRV_OUT, GFP_KERNEL, "DMA_TO_DEVICE GFP_KERNEL" },
	{ DMA_FROM_DEVICE, REQ_OP_DRV_IN, GFP_KERNEL,
	  "DMA_FROM_DEVICE GFP_KERNEL" },
	{ DMA_TO_DEVICE, REQ_OP_DRV_OUT, GFP_ATOMIC, "DMA_TO_DEVICE GFP_ATOMIC" },
	{ DMA_NONE, REQ_OP_DRV_IN, GFP_NOWAIT, "DMA_NONE GFP_NOWAIT" },
};

KUNIT_ARRAY_PARAM_DESC(tgt_dir, tgt_dir_params, name);

/* get takes one reference, put drops it, the command is set up as documented */
static void tgt_refcount_get_takes_one_ref_put_drops_it(struct kunit *test)
{
	const struct tgt_dir_param *p = test->param_value;
	struct tgt_test_host *th = tgt_test_host_create(test, NULL, true);
	struct Scsi_Host *shost = th->shost;
	unsigned int refs = tgt_test_refs(shost);
	unsigned long before = jiffies;
	struct scsi_cmnd *cmd;
	struct request *rq;

	cmd = tgt_test_get(th, p->dir, p->gfp);
	KUNIT_ASSERT_NOT_NULL(test, cmd);
	KUNIT_EXPECT_EQ(test, tgt_test_refs(shost), refs + 1);
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(shost), 1);

	KUNIT_EXPECT_EQ(test, cmd->sc_data_direction, p->dir);
	KUNIT_EXPECT_TRUE(test, time_in_range(cmd->jiffies_at_alloc, before,
					      jiffies));
	KUNIT_EXPECT_EQ(test, cmd->offset, 0);
	KUNIT_EXPECT_EQ(test, cmd->result, 0);
	KUNIT_EXPECT_NULL(test, cmd->device);
	KUNIT_EXPECT_PTR_EQ(test, scsi_tgt_cmd_to_host(cmd), shost);
	rq = scsi_host_cmd_to_rq(cmd);
	KUNIT_ASSERT_NOT_NULL(test, rq);
	KUNIT_EXPECT_PTR_EQ(test, rq->q, shost->uspace_req_q);
	KUNIT_EXPECT_PTR_EQ(test, rq->end_io_data, (void *)cmd);
	KUNIT_EXPECT_EQ(test, req_op(rq), p->op);
	KUNIT_EXPECT_TRUE(test, blk_rq_is_passthrough(rq));

	tgt_test_put(th, cmd);
	KUNIT_EXPECT_EQ(test, tgt_test_refs(shost), refs);
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(shost), 0);
}

/* n gets take n references, n puts in another order drop all of them */
static void tgt_refcount_many_gets_many_puts(struct kunit *test)
{
	struct tgt_test_host *th = tgt_test_host_create(test, NULL, true);
	struct Scsi_Host *shost = th->shost;
	unsigned int refs = tgt_test_refs(shost);
	struct scsi_cmnd *cmd[8];
	int i;

	for (i = 0; i < ARRAY_SIZE(cmd); i++) {
		cmd[i] = tgt_test_get(th, DMA_FROM_DEVICE, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, cmd[i]);
		KUNIT_EXPECT_EQ(test, tgt_test_refs(shost), refs + i + 1);
	}
	for (i = 0; i < ARRAY_SIZE(cmd); i += 2)
		tgt_test_put(th, cmd[i]);
	KUNIT_EXPECT_EQ(test, tgt_test_refs(shost), refs + ARRAY_SIZE(cmd) / 2);
	for (i = 1; i < ARRAY_SIZE(cmd); i += 2)
		tgt_test_put(th, cmd[i]);
	KUNIT_EXPECT_EQ(test, tgt_test_refs(shost), refs);
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(shost), 0);
}

struct tgt_state_param {
	enum scsi_host_state state;
	const char *name;
};

static const struct tgt_state_param tgt_state_params[] = {
	{ SHOST_CANCEL, "SHOST_CANCEL" },
	{ SHOST_DEL, "SHOST_DEL" },
	{ SHOST_CANCEL_RECOVERY, "SHOST_CANCEL_RECOVERY" },
	{ SHOST_DEL_RECOVERY, "SHOST_DEL_RECOVERY" },
};

KUNIT_ARRAY_PARAM_DESC(tgt_state, tgt_state_params, name);

/* a host that is going away gives no command and keeps no reference */
static void tgt_refcount_get_on_host_going_away_takes_nothing(struct kunit *test)
{
	const struct tgt_state_param *p = test->param_value;
	struct tgt_test_host *th = tgt_test_host_create(test, NULL, true);
	struct Scsi_Host *shost = th->shost;
	unsigned int refs = tgt_test_refs(shost);
	struct scsi_cmnd *cmd;

	tgt_test_force_state(th, p->state);
	cmd = tgt_test_get(th, DMA_TO_DEVICE, GFP_KERNEL);
	KUNIT_EXPECT_NULL(test, cmd);
	cmd = tgt_test_get(th, DMA_FROM_DEVICE, GFP_ATOMIC);
	KUNIT_EXPECT_NULL(test, cmd);
	KUNIT_EXPECT_EQ(test, tgt_test_refs(shost), refs);
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(shost), 0);
	KUNIT_EXPECT_EQ(test, tgt_test_free_list_len(shost, NULL), 1);

	/* and a running host gives one again */
	tgt_test_force_state(th, SHOST_RUNNING);
	cmd = tgt_test_get(th, DMA_TO_DEVICE, GFP_KERNEL);
	KUNIT_EXPECT_NOT_NULL(test, cmd);
	KUNIT_EXPECT_EQ(test, tgt_test_refs(shost), refs + (cmd ? 1 : 0));
}

/* a host without uspace_req_q gives no command and keeps no reference */
static void tgt_refcount_get_without_uspace_queue_takes_nothing(struct kunit *test)
{
	struct tgt_test_host *th = tgt_test_host_create(test, NULL, false);
	struct Scsi_Host *shost = th->shost;
	unsigned int refs = tgt_test_refs(shost);

	KUNIT_ASSERT_NULL(test, shost->uspace_req_q);
	KUNIT_EXPECT_NULL(test, tgt_test_get(th, DMA_TO_DEVICE, GFP_KERNEL));
	KUNIT_EXPECT_NULL(test, tgt_test_get(th, DMA_FROM_DEVICE, GFP_ATOMIC));
	KUNIT_EXPECT_EQ(test, tgt_test_refs(shost), refs);
}

/* no free tag: a non-blocking get fails and keeps no reference */
static void tgt_refcount_get_without_free_tag_takes_nothing(struct kunit *test)
{
	static const struct tgt_test_limits lim = { .can_queue = 2 };
	struct tgt_test_host *th = tgt_test_host_create(test, &lim, true);
	struct Scsi_Host *shost = th->shost;
	unsigned int refs = tgt_test_refs(shost);
	int i;

	for (i = 0; i < 2; i++)
		KUNIT_ASSERT_NOT_NULL(test, tgt_test_get(th, DMA_TO_DEVICE,
							 GFP_ATOMIC));
	KUNIT_EXPECT_EQ(test, tgt_test_refs(shost), refs + 2);
	for (i = 0; i < 10; i++) {
		KUNIT_EXPECT_NULL(test, tgt_test_get(th, DMA_TO_DEVICE,
						     GFP_ATOMIC));
		KUNIT_EXPECT_NULL(test, tgt_test_get(th, DMA_FROM_DEVICE,
						     GFP_NOWAIT));
	}
	KUNIT_EXPECT_EQ(test, tgt_test_refs(shost), refs + 2);
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(shost), 2);
	KUNIT_EXPECT_EQ(test, tgt_test_free_list_len(shost, NULL), 1);
}

static struct scsi_host_cmd *tgt_refcount_alloc_fails(struct Scsi_Host *shost,
						       gfp_t gfp)
{
	return NULL;
}

/* allocation fails and the free list is empty: nothing is kept */
static void tgt_refcount_get_alloc_failure_takes_nothing(struct kunit *test)
{
	struct tgt_test_host *th = tgt_test_host_create(test, NULL, true);
	struct Scsi_Host *shost = th->shost;
	unsigned int refs = tgt_test_refs(shost);
	struct scsi_cmnd *reserve;

	kunit_activate_static_stub(test, scsi_host_cmd_alloc,
				   tgt_refcount_alloc_fails);
	reserve = tgt_test_get(th, DMA_TO_DEVICE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, reserve);
	KUNIT_EXPECT_EQ(test, tgt_test_free_list_len(shost, NULL), 0);
	KUNIT_EXPECT_EQ(test, tgt_test_refs(shost), refs + 1);

	KUNIT_EXPECT_NULL(test, tgt_test_get(th, DMA_TO_DEVICE, GFP_KERNEL));
	KUNIT_EXPECT_NULL(test, tgt_test_get(th, DMA_FROM_DEVICE, GFP_ATOMIC));
	KUNIT_EXPECT_EQ(test, tgt_test_refs(shost), refs + 1);
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(shost), 1);
	kunit_deactivate_static_stub(test, scsi_host_cmd_alloc);

	tgt_test_put(th, reserve);
	KUNIT_EXPECT_EQ(test, tgt_test_refs(shost), refs);
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(shost), 0);
	KUNIT_EXPECT_EQ(test, tgt_test_free_list_len(shost, NULL), 1);
}

/* put from hardirq context drops the reference too */
struct tgt_irq_put {
	struct hrtimer timer;
	struct Scsi_Host *shost;
	struct scsi_cmnd *cmd;
	struct completion done;
	bool in_hardirq;
};

static enum hrtimer_restart tgt_refcount_put_timer(struct hrtimer *timer)
{
	struct tgt_irq_put *ip = container_of(timer, struct tgt_irq_put, timer);

	ip->in_hardirq = in_hardirq();
	scsi_host_put_command(ip->shost, ip->cmd);
	complete(&ip->done);
	return HRTIMER_NORESTART;
}

static void tgt_refcount_put_from_hardirq_drops_ref(struct kunit *test)
{
	struct tgt_test_host *th = tgt_test_host_create(test, NULL, true);
	struct Scsi_Host *shost = th->shost;
	unsigned int refs = tgt_test_refs(shost);
	struct tgt_irq_put *ip;

	ip = kunit_kzalloc(test, sizeof(*ip), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ip);
	init_completion(&ip->done);
	ip->shost = shost;
	ip->cmd = tgt_test_get(th, DMA_TO_DEVICE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ip->cmd);
	KUNIT_EXPECT_EQ(test, tgt_test_refs(shost), refs + 1);

	tgt_test_unhold(th, ip->cmd);
	hrtimer_init(&ip->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	ip->timer.function = tgt_refcount_put_timer;
	hrtimer_start(&ip->timer, ns_to_ktime(100 * NSEC_PER_USEC),
		      HRTIMER_MODE_REL_HARD);
	KUNIT_ASSERT_NE(test, wait_for_completion_timeout(&ip->done, 5 * HZ),
			0);
	hrtimer_cancel(&ip->timer);
	KUNIT_EXPECT_TRUE(test, ip->in_hardirq);
	KUNIT_EXPECT_EQ(test, tgt_test_refs(shost), refs);
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(shost), 0);
}

/*
 * A host removed while target commands are outstanding stays alive until
 * the last put, then it is released. The release is observed through the
 * host's parent device: scsi_host_dev_release() drops the last reference
 * on it, which runs the parent's release callback. That the release also
 * destroys uspace_req_q is observed through a reference on the queue that
 * the test holds itself: the queue is dying and only that reference is
 * left.
 */
struct tgt_parent {
	struct device dev;
	struct completion released;
	/* set while the test is inside the last scsi_host_put_command() */
	bool putting;
	/* where the host release (which drops the parent) ran */
	bool released_in_put;
	bool released_in_worker;
};

static void tgt_parent_release(struct device *dev)
{
	struct tgt_parent *p = container_of(dev, struct tgt_parent, dev);

	p->released_in_put = READ_ONCE(p->putting);
	p->released_in_worker = in_task() && !irqs_disabled() &&
				(current->flags & PF_WQ_WORKER);
	complete_all(&p->released);
}

/* what the last put is made under */
enum tgt_lock {
	TGT_LOCK_NONE,
	TGT_LOCK_SPIN,		/* spin_lock(): no preempt count without PREEMPT */
	TGT_LOCK_RCU,		/* rcu_read_lock() */
};

struct tgt_removal {
	enum tgt_lock lock;
	struct tgt_parent *parent;
	struct Scsi_Host *shost;
	struct scsi_cmnd *cmd[2];
	struct request_queue *q;	/* the test's own reference */
	bool added, removed, host_put, parent_unregistered;
	/* the last put, from hardirq or softirq context */
	struct hrtimer timer;
	struct work_struct bh_work;
	struct completion last_put;
	bool last_put_in_task, last_put_irqs_off;
};

/*
 * The lock the last put is made under: one for process context, one for
 * hardirq context (a lock taken in both would need irqsave, which is not
 * the case these parameters test).
 */
static DEFINE_SPINLOCK(tgt_removal_task_lock);
static DEFINE_SPINLOCK(tgt_removal_irq_lock);

static void tgt_removal_last_put(struct tgt_removal *r)
{
	spinlock_t *lock;

	r->last_put_in_task = in_task();
	r->last_put_irqs_off = irqs_disabled();
	WRITE_ONCE(r->parent->putting, true);
	switch (r->lock) {
	case TGT_LOCK_SPIN:
		lock = in_task() ? &tgt_removal_task_lock : &tgt_removal_irq_lock;
		spin_lock(lock);
		scsi_host_put_command(r->shost, r->cmd[1]);
		spin_unlock(lock);
		break;
	case TGT_LOCK_RCU:
		rcu_read_lock();
		scsi_host_put_command(r->shost, r->cmd[1]);
		rcu_read_unlock();
		break;
	default:
		scsi_host_put_command(r->shost, r->cmd[1]);
		break;
	}
	WRITE_ONCE(r->parent->putting, false);
	r->cmd[1] = NULL;
	complete(&r->last_put);
}

static enum hrtimer_restart tgt_removal_timer(struct hrtimer *timer)
{
	tgt_removal_last_put(container_of(timer, struct tgt_removal, timer));
	return HRTIMER_NORESTART;
}

static void tgt_removal_bh(struct work_struct *work)
{
	tgt_removal_last_put(container_of(work, struct tgt_removal, bh_work));
}

static void tgt_removal_cleanup(void *data)
{
	struct tgt_removal *r = data;
	int i;

	hrtimer_cancel(&r->timer);
	cancel_work_sync(&r->bh_work);
	for (i = 0; i < ARRAY_SIZE(r->cmd); i++)
		if (r->cmd[i])
			scsi_host_put_command(r->shost, r->cmd[i]);
	if (r->shost) {
		if (r->added && !r->removed)
			scsi_remove_host(r->shost);
		if (!r->host_put)
			scsi_host_put(r->shost);
	}
	if (!r->parent_unregistered)
		device_unregister(&r->parent->dev);
	/* freed only once released: a leak is better than a use after free */
	if (wait_for_completion_timeout(&r->parent->released, HZ))
		kfree(r->parent);
	if (r->q)
		blk_put_queue(r->q);
}

struct tgt_last_put_param {
	const char *name;
	enum tgt_test_ctx ctx;
	bool irqs_off;		/* process context, interrupts disabled */
	enum tgt_lock lock;
};

static const struct tgt_last_put_param tgt_last_put_params[] = {
	{ "last put from process context", TGT_CTX_INLINE, false },
	{ "last put with interrupts disabled", TGT_CTX_INLINE, true },
	{ "last put under spin_lock()", TGT_CTX_INLINE, false, TGT_LOCK_SPIN },
	{ "last put under rcu_read_lock()", TGT_CTX_INLINE, false,
	  TGT_LOCK_RCU },
	{ "last put from hardirq", TGT_CTX_HARDIRQ, false },
	{ "last put from softirq", TGT_CTX_SOFTIRQ, false },
	{ "last put from hardirq under spin_lock()", TGT_CTX_HARDIRQ, false,
	  TGT_LOCK_SPIN },
};

KUNIT_ARRAY_PARAM_DESC(tgt_last_put, tgt_last_put_params, name);

static void tgt_refcount_removed_host_lives_until_last_put(struct kunit *test)
{
	const struct tgt_last_put_param *p = test->param_value;
	struct tgt_removal *r;
	unsigned long flags;
	struct Scsi_Host *shost;
	int ret;

	r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r);
	hrtimer_init(&r->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	r->timer.function = tgt_removal_timer;
	INIT_WORK(&r->bh_work, tgt_removal_bh);
	init_completion(&r->last_put);
	r->lock = p->lock;
	r->parent = kzalloc(sizeof(*r->parent), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r->parent);
	init_completion(&r->parent->released);
	device_initialize(&r->parent->dev);
	r->parent->dev.release = tgt_parent_release;
	ret = dev_set_name(&r->parent->dev, "tgt_kunit_parent");
	KUNIT_ASSERT_EQ(test, ret, 0);
	ret = device_add(&r->parent->dev);
	KUNIT_ASSERT_EQ(test, ret, 0);
	ret = kunit_add_action_or_reset(test, tgt_removal_cleanup, r);
	KUNIT_ASSERT_EQ(test, ret, 0);

	{
		struct tgt_test_limits lim = { .can_queue = 4 };
		struct tgt_test_host *th;

		/* a host of its own: its release is what this case watches */
		th = tgt_test_host_alloc(test, &lim);
		shost = th->shost;
		th->released = true;	/* tgt_removal_cleanup owns it */
		r->shost = shost;
	}

	ret = scsi_add_host(shost, &r->parent->dev);
	KUNIT_ASSERT_EQ(test, ret, 0);
	r->added = true;
	KUNIT_ASSERT_EQ(test, scsi_tgt_alloc_queue(shost), 0);

	r->cmd[0] = scsi_host_get_command(shost, DMA_TO_DEVICE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r->cmd[0]);
	r->cmd[1] = scsi_host_get_command(shost, DMA_FROM_DEVICE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r->cmd[1]);
	KUNIT_ASSERT_NOT_NULL(test, shost->uspace_req_q);
	KUNIT_ASSERT_TRUE(test, blk_get_queue(shost->uspace_req_q));
	r->q = shost->uspace_req_q;
	/* the host's reference and the test's */
	KUNIT_EXPECT_EQ(test, refcount_read(&r->q->refs), 2);

	scsi_remove_host(shost);
	r->removed = true;
	KUNIT_EXPECT_EQ(test, shost->shost_state, SHOST_DEL);
	KUNIT_EXPECT_NULL(test, scsi_host_get_command(shost, DMA_TO_DEVICE,
						      GFP_KERNEL));
	scsi_host_put(shost);
	r->host_put = true;
	device_unregister(&r->parent->dev);
	r->parent_unregistered = true;

	/* only the two commands keep the host */
	KUNIT_EXPECT_EQ(test, tgt_test_refs(shost), 2);
	KUNIT_EXPECT_FALSE(test, completion_done(&r->parent->released));

	scsi_host_put_command(shost, r->cmd[0]);
	r->cmd[0] = NULL;
	KUNIT_EXPECT_EQ(test, tgt_test_refs(shost), 1);
	KUNIT_EXPECT_FALSE(test, completion_done(&r->parent->released));

	/* the last put; the release then sleeps in process context */
	switch (p->ctx) {
	case TGT_CTX_HARDIRQ:
		hrtimer_start(&r->timer, ns_to_ktime(50 * NSEC_PER_USEC),
			      HRTIMER_MODE_REL_HARD);
		break;
	case TGT_CTX_SOFTIRQ:
		queue_work(system_bh_wq, &r->bh_work);
		break;
	default:
		if (p->irqs_off)
			local_irq_save(flags);
		tgt_removal_last_put(r);
		if (p->irqs_off)
			local_irq_restore(flags);
		break;
	}
	KUNIT_ASSERT_NE(test, wait_for_completion_timeout(&r->last_put, 5 * HZ),
			0);
	KUNIT_EXPECT_EQ(test, r->last_put_in_task, p->ctx == TGT_CTX_INLINE);
	KUNIT_EXPECT_EQ(test, r->last_put_irqs_off,
			p->irqs_off || p->ctx == TGT_CTX_HARDIRQ);
	/* shost is gone now */
	KUNIT_ASSERT_NE_MSG(test,
			    wait_for_completion_timeout(&r->parent->released,
							2 * HZ),
			    0, "host not released after the last put");
	/* never inside the put: whatever its context, the release may sleep */
	KUNIT_EXPECT_FALSE_MSG(test, r->parent->released_in_put,
			       "the host was released inside scsi_host_put_command()");
	KUNIT_EXPECT_TRUE_MSG(test, r->parent->released_in_worker,
			      "the host was not released by a work item");
	/* the release destroyed uspace_req_q and dropped its reference */
	KUNIT_EXPECT_TRUE_MSG(test, blk_queue_dying(r->q),
			      "uspace_req_q not destroyed by the host release");
	KUNIT_EXPECT_EQ_MSG(test, refcount_read(&r->q->refs), 1,
			    "uspace_req_q still referenced after the host release");
}

static struct kunit_case tgt_cmd_refcount_cases[] = {
	KUNIT_CASE_PARAM(tgt_refcount_get_takes_one_ref_put_drops_it,
			 tgt_dir_gen_params),
	KUNIT_CASE(tgt_refcount_many_gets_many_puts),
	KUNIT_CASE_PARAM(tgt_refcount_get_on_host_going_away_takes_nothing,
			 tgt_state_gen_params),
	KUNIT_CASE(tgt_refcount_get_without_uspace_queue_takes_nothing),
	KUNIT_CASE(tgt_refcount_get_without_free_tag_takes_nothing),
	KUNIT_CASE(tgt_refcount_get_alloc_failure_takes_nothing),
	KUNIT_CASE(tgt_refcount_put_from_hardirq_drops_ref),
	KUNIT_CASE_PARAM(tgt_refcount_removed_host_lives_until_last_put,
			 tgt_last_put_gen_params),
	{}
};

static struct kunit_suite tgt_cmd_refcount_suite = {
	.name = "tgt_cmd_refcount",
	.test_cases = tgt_cmd_refcount_cases,
};

kunit_test_suites(&tgt_cmd_refcount_suite);

MODULE_DESCRIPTION("KUnit tests for the scsi-ml target-mode port");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
