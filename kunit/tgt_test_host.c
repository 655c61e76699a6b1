// SPDX-License-Identifier: GPL-2.0
/*
 * Minimal target-mode test host for the KUnit suites of the scsi-ml
 * target-mode port. See tgt_test.h.
 */
#include <linux/blk-mq.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/sched/signal.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/vmalloc.h>
#include <kunit/resource.h>

#include <scsi/scsi.h>
#include <scsi/scsi_cmnd.h>
#include <scsi/scsi_common.h>
#include <scsi/scsi_device.h>
#include <scsi/scsi_host.h>
#include <scsi/scsi_tgt.h>

#include "tgt_test.h"

unsigned long tgt_test_seed = 20061125;
module_param_named(seed, tgt_test_seed, ulong, 0444);
MODULE_PARM_DESC(seed, "seed of the pseudo-random sequences of the tests");

const char *tgt_test_ctx_name(enum tgt_test_ctx ctx)
{
	switch (ctx) {
	case TGT_CTX_INLINE:
		return "inline";
	case TGT_CTX_HARDIRQ:
		return "hardirq";
	case TGT_CTX_SOFTIRQ:
		return "softirq";
	case TGT_CTX_MANUAL:
		return "manual";
	}
	return "?";
}

static struct tgt_test_host *shost_to_th(struct Scsi_Host *shost)
{
	return *(struct tgt_test_host **)shost_priv(shost);
}

/* @call: index of the transfer_data() call in th->calls, or -1 */
static int tgt_test_complete(struct tgt_test_host *th, struct scsi_cmnd *cmd,
			     void (*done)(struct scsi_cmnd *cmd), int call)
{
	th->pending_call = call;
	th->pending_task = in_task() ? current : NULL;
	switch (th->ctx) {
	case TGT_CTX_HARDIRQ:
		th->pending_cmd = cmd;
		th->pending_done = done;
		hrtimer_start(&th->timer, ns_to_ktime(20 * NSEC_PER_USEC),
			      HRTIMER_MODE_REL_HARD);
		break;
	case TGT_CTX_SOFTIRQ:
		th->pending_cmd = cmd;
		th->pending_done = done;
		queue_work(system_bh_wq, &th->bh_work);
		break;
	case TGT_CTX_MANUAL:
		th->pending_cmd = cmd;
		th->pending_done = done;
		break;
	default:
		th->pending_call = -1;
		if (call >= 0)
			th->calls[call].done_early = true;
		done(cmd);
		break;
	}
	return 0;
}

static void tgt_test_deferred_done(struct tgt_test_host *th)
{
	struct scsi_cmnd *cmd = th->pending_cmd;
	void (*done)(struct scsi_cmnd *cmd) = th->pending_done;

	th->pending_cmd = NULL;
	th->pending_done = NULL;
	if (th->pending_call >= 0) {
		struct tgt_test_call *c = &th->calls[th->pending_call];

		c->done_early = READ_ONCE(th->in_transfer_data);
		c->on_submitter = !c->done_early && th->pending_task == current;
	}
	th->pending_call = -1;
	if (cmd && done)
		done(cmd);
}

/**
 * tgt_test_complete_pending - complete the LLD's pending call (TGT_CTX_MANUAL)
 * @th: test host
 *
 * Calls the done callback of the last transfer_data()/transfer_response()
 * call from the caller's (process) context.
 *
 * Return: true if a call was pending.
 */
bool tgt_test_complete_pending(struct tgt_test_host *th)
{
	bool pending = th->pending_cmd;

	tgt_test_deferred_done(th);
	return pending;
}

static enum hrtimer_restart tgt_test_timer_fn(struct hrtimer *timer)
{
	tgt_test_deferred_done(container_of(timer, struct tgt_test_host,
					    timer));
	return HRTIMER_NORESTART;
}

static void tgt_test_bh_fn(struct work_struct *work)
{
	tgt_test_deferred_done(container_of(work, struct tgt_test_host,
					    bh_work));
}

static void tgt_test_copy(struct tgt_test_host *th, struct scsi_cmnd *cmd)
{
	unsigned int len = scsi_bufflen(cmd);
	size_t copied;

	if (!th->backing || (size_t)cmd->offset + len > th->backing_len) {
		th->out_of_bounds = true;
		return;
	}
	if (cmd->sc_data_direction == DMA_TO_DEVICE)
		copied = sg_copy_to_buffer(scsi_sglist(cmd), scsi_sg_count(cmd),
					   th->backing + cmd->offset, len);
	else
		copied = sg_copy_from_buffer(scsi_sglist(cmd),
					     scsi_sg_count(cmd),
					     th->backing + cmd->offset, len);
	if (copied != len)
		th->short_copy = true;
}

static int tgt_test_transfer_data(struct scsi_cmnd *cmd,
				  void (*done)(struct scsi_cmnd *cmd))
{
	struct tgt_test_host *th = shost_to_th(scsi_tgt_cmd_to_host(cmd));
	int idx = th->nr_calls++;
	struct scatterlist *sg;
	int i, ret;

	if (idx < (int)th->max_calls) {
		struct tgt_test_call *call = &th->calls[idx];

		call->offset = cmd->offset;
		call->len = scsi_bufflen(cmd);
		call->nents = scsi_sg_count(cmd);
		call->first_seg = th->nr_segs;
		call->in_task = in_task();
		call->done_early = false;
		call->on_submitter = false;
		scsi_for_each_sg(cmd, sg, scsi_sg_count(cmd), i) {
			if (th->nr_segs >= th->max_segs) {
				th->log_overflow = true;
				break;
			}
			th->segs[th->nr_segs].len = sg->length;
			th->segs[th->nr_segs].phys = sg_phys(sg);
			th->nr_segs++;
		}
	} else {
		th->log_overflow = true;
	}

	if (idx == th->refuse_chunk)
		return SCSI_MLQUEUE_HOST_BUSY;
	if (idx == th->fail_chunk) {
		cmd->result = DID_ERROR << 16;
	} else {
		tgt_test_copy(th, cmd);
		cmd->result = 0;
	}
	WRITE_ONCE(th->in_transfer_data, true);
	ret = tgt_test_complete(th, cmd, done,
				idx < (int)th->max_calls ? idx : -1);
	WRITE_ONCE(th->in_transfer_data, false);
	return ret;
}

static int tgt_test_transfer_response(struct scsi_cmnd *cmd,
				      void (*done)(struct scsi_cmnd *cmd))
{
	struct tgt_test_host *th = shost_to_th(scsi_tgt_cmd_to_host(cmd));

	th->nr_responses++;
	th->calls_at_response = th->nr_calls;
	if (th->refuse_response)
		return SCSI_MLQUEUE_HOST_BUSY;
	if (th->sense_key)
		scsi_build_sense(cmd, th->sense_desc, th->sense_key,
				 th->sense_asc, th->sense_ascq);
	else
		cmd->result = th->fail_response ? DID_ERROR << 16 : 0;
	return tgt_test_complete(th, cmd, done, -1);
}

static int tgt_test_queuecommand(struct Scsi_Host *shost,
				 struct scsi_cmnd *cmd)
{
	cmd->result = DID_NO_CONNECT << 16;
	scsi_done(cmd);
	return 0;
}

/* a scsi_device is being allocated: record the limits of its queue */
static int tgt_test_slave_alloc(struct scsi_device *sdev)
{
	struct tgt_test_host *th = shost_to_th(sdev->host);

	th->sdev_lim = sdev->request_queue->limits;
	th->nr_sdev_allocs++;
	return 0;
}

#define TGT_TEST_SHT(_cmd_size)					\
	{								\
		.module			= THIS_MODULE,			\
		.name			= "tgt_kunit",			\
		.proc_name		= "tgt_kunit",			\
		.queuecommand		= tgt_test_queuecommand,	\
		.slave_alloc		= tgt_test_slave_alloc,		\
		.transfer_response	= tgt_test_transfer_response,	\
		.transfer_data		= tgt_test_transfer_data,	\
		.can_queue		= 32,				\
		.this_id		= -1,				\
		.sg_tablesize		= 128,				\
		.max_sectors		= 1024,				\
		.cmd_per_lun		= 1,				\
		.cmd_size		= _cmd_size,			\
	}

/* without and with LLD private data per command */
static const struct scsi_host_template tgt_test_sht = TGT_TEST_SHT(0);
static const struct scsi_host_template tgt_test_sht_priv =
	TGT_TEST_SHT(TGT_TEST_CMD_SIZE);

static void tgt_test_quiesce(struct tgt_test_host *th)
{
	hrtimer_cancel(&th->timer);
	cancel_work_sync(&th->bh_work);
}

static void tgt_test_host_cleanup(void *data)
{
	struct tgt_test_host *th = data;

	tgt_test_quiesce(th);
	while (th->nr_held)
		tgt_test_put(th, th->held[th->nr_held - 1]);
	if (!th->released) {
		/*
		 * A host that was never added is released as SHOST_CREATED:
		 * that is what frees its shost_dev name. An added one is
		 * removed from where it really was.
		 */
		if (th->state_forced)
			th->shost->shost_state = th->added ? SHOST_RUNNING :
							     SHOST_CREATED;
		if (th->added)
			scsi_remove_host(th->shost);
		scsi_host_put(th->shost);
	}
	kvfree(th->held);
	kvfree(th->calls);
	kvfree(th->segs);
}

/**
 * tgt_test_host_alloc - allocate a test host, released at the end of @test
 * @test: the test
 * @lim: host limits, NULL for the template's; zero fields keep the default
 *
 * The host is not added: tgt_test_host_add() does that.
 *
 * Return: the test host (the test fails if it cannot be made).
 */
struct tgt_test_host *tgt_test_host_alloc(struct kunit *test,
					  const struct tgt_test_limits *lim)
{
	const struct scsi_host_template *sht = &tgt_test_sht;
	struct tgt_test_host *th;
	struct Scsi_Host *shost;
	int ret;

	th = kunit_kzalloc(test, sizeof(*th), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, th);
	th->test = test;
	th->fail_chunk = -1;
	th->refuse_chunk = -1;
	th->pending_call = -1;
	init_completion(&th->cmd_done);
	hrtimer_init(&th->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	th->timer.function = tgt_test_timer_fn;
	INIT_WORK(&th->bh_work, tgt_test_bh_fn);
	/* every tag can be held, and a few failed gets on top */
	th->max_held = max(64, (lim ? lim->can_queue : 0) + 16);
	th->held = kvcalloc(th->max_held, sizeof(*th->held), GFP_KERNEL);
	if (!th->held)
		kunit_kfree(test, th);
	KUNIT_ASSERT_NOT_NULL(test, th->held);

	if (lim && lim->cmd_size) {
		KUNIT_ASSERT_EQ(test, lim->cmd_size, TGT_TEST_CMD_SIZE);
		sht = &tgt_test_sht_priv;
	}
	shost = scsi_host_alloc(sht, sizeof(th));
	if (!shost)
		kvfree(th->held);
	KUNIT_ASSERT_NOT_NULL(test, shost);
	*(struct tgt_test_host **)shost_priv(shost) = th;
	th->shost = shost;
	ret = kunit_add_action_or_reset(test, tgt_test_host_cleanup, th);
	KUNIT_ASSERT_EQ(test, ret, 0);

	if (lim) {
		if (lim->can_queue)
			shost->can_queue = lim->can_queue;
		if (lim->sg_tablesize)
			shost->sg_tablesize = lim->sg_tablesize;
		if (lim->max_sectors)
			shost->max_sectors = lim->max_sectors;
		if (lim->max_segment_size)
			shost->max_segment_size = lim->max_segment_size;
		if (lim->dma_boundary)
			shost->dma_boundary = lim->dma_boundary;
	}
	return th;
}

/**
 * tgt_test_host_add - add a test host, and give it its uspace_req_q
 * @th: test host from tgt_test_host_alloc()
 * @parent: parent device, NULL for the platform bus
 * @with_queue: create uspace_req_q with scsi_tgt_alloc_queue()
 *
 * The cleanup of the test removes the host unless the test did
 * (tgt_test_host_remove()) or took the host over (th->released).
 */
void tgt_test_host_add(struct tgt_test_host *th, struct device *parent,
		       bool with_queue)
{
	struct kunit *test = th->test;
	int ret;

	ret = scsi_add_host(th->shost, parent);
	KUNIT_ASSERT_EQ(test, ret, 0);
	th->added = true;
	if (with_queue) {
		ret = scsi_tgt_alloc_queue(th->shost);
		KUNIT_ASSERT_EQ(test, ret, 0);
		KUNIT_ASSERT_NOT_NULL(test, th->shost->uspace_req_q);
	}
}

/* remove and release the test host now, as the end of the test would */
void tgt_test_host_destroy(struct tgt_test_host *th)
{
	kunit_release_action(th->test, tgt_test_host_cleanup, th);
}

/* remove an added test host now; the cleanup still drops it */
void tgt_test_host_remove(struct tgt_test_host *th)
{
	KUNIT_ASSERT_TRUE(th->test, th->added);
	if (th->state_forced)
		th->shost->shost_state = SHOST_RUNNING;
	th->state_forced = false;
	th->added = false;
	scsi_remove_host(th->shost);
}

/**
 * tgt_test_host_create - an added test host, released at the end of @test
 * @test: the test
 * @lim: host limits, NULL for the template's; zero fields keep the default
 * @with_queue: create uspace_req_q with scsi_tgt_alloc_queue()
 *
 * Return: the test host (the test fails if it cannot be made).
 */
struct tgt_test_host *tgt_test_host_create(struct kunit *test,
					   const struct tgt_test_limits *lim,
					   bool with_queue)
{
	struct tgt_test_host *th = tgt_test_host_alloc(test, lim);

	tgt_test_host_add(th, NULL, with_queue);
	return th;
}

/**
 * tgt_test_force_state - put a test host into @state
 * @th: test host
 * @state: an enum scsi_host_state
 *
 * scsi_host_set_state() is not exported; the state is only read by
 * scsi_host_get_command() here (waiters are not woken). The cleanup puts
 * the host back into the state it really is in (SHOST_RUNNING if added,
 * SHOST_CREATED if not) before removing it.
 */
void tgt_test_force_state(struct tgt_test_host *th, int state)
{
	th->state_forced = true;
	th->shost->shost_state = state;
}

unsigned int tgt_test_refs(struct Scsi_Host *shost)
{
	return kref_read(&shost->shost_gendev.kobj.kref);
}

unsigned int tgt_test_tags_in_use(struct Scsi_Host *shost)
{
	struct blk_mq_tags *tags = shost->uspace_req_q->tag_set->tags[0];

	return sbitmap_weight(&tags->bitmap_tags.sb);
}

/**
 * tgt_test_free_list_len - walk the host's command free list
 * @shost: host
 * @first: if not NULL, set to the first command on the list (or NULL)
 *
 * Return: the number of commands on the list.
 */
unsigned int tgt_test_free_list_len(struct Scsi_Host *shost,
				    struct scsi_host_cmd **first)
{
	struct scsi_host_cmd *hcmd;
	unsigned int n = 0;
	unsigned long flags;

	spin_lock_irqsave(&shost->free_list_lock, flags);
	if (first)
		*first = list_first_entry_or_null(&shost->free_list,
						  struct scsi_host_cmd,
						  free_entry);
	list_for_each_entry(hcmd, &shost->free_list, free_entry) {
		if (++n > 1000)	/* a corrupted list must not hang */
			break;
	}
	spin_unlock_irqrestore(&shost->free_list_lock, flags);
	return n;
}

void tgt_test_hold(struct tgt_test_host *th, struct scsi_cmnd *cmd)
{
	KUNIT_ASSERT_LT(th->test, th->nr_held, th->max_held);
	th->held[th->nr_held++] = cmd;
}

void tgt_test_unhold(struct tgt_test_host *th, struct scsi_cmnd *cmd)
{
	unsigned int i;

	for (i = 0; i < th->nr_held; i++) {
		if (th->held[i] == cmd) {
			th->held[i] = th->held[--th->nr_held];
			return;
		}
	}
	KUNIT_FAIL(th->test, "command %p is not held", cmd);
}

/* get a command; a returned command is held until tgt_test_put() */
struct scsi_cmnd *tgt_test_get(struct tgt_test_host *th,
			       enum dma_data_direction dir, gfp_t gfp)
{
	struct scsi_cmnd *cmd = scsi_host_get_command(th->shost, dir, gfp);

	if (cmd)
		tgt_test_hold(th, cmd);
	return cmd;
}

void tgt_test_put(struct tgt_test_host *th, struct scsi_cmnd *cmd)
{
	tgt_test_unhold(th, cmd);
	scsi_host_put_command(th->shost, cmd);
}

void tgt_test_log_alloc(struct tgt_test_host *th, unsigned int max_calls,
			unsigned int max_segs)
{
	kvfree(th->calls);
	kvfree(th->segs);
	th->calls = kvcalloc(max_calls, sizeof(*th->calls), GFP_KERNEL);
	th->segs = kvcalloc(max_segs, sizeof(*th->segs), GFP_KERNEL);
	th->max_calls = th->calls ? max_calls : 0;
	th->max_segs = th->segs ? max_segs : 0;
	KUNIT_ASSERT_NOT_NULL(th->test, th->calls);
	KUNIT_ASSERT_NOT_NULL(th->test, th->segs);
}

void tgt_test_log_reset(struct tgt_test_host *th)
{
	th->nr_calls = 0;
	th->nr_segs = 0;
	th->log_overflow = false;
	th->out_of_bounds = false;
	th->short_copy = false;
	th->nr_responses = 0;
	th->calls_at_response = 0;
	th->nr_cmd_done = 0;
	th->cmd_err = 1;
	reinit_completion(&th->cmd_done);
}

void tgt_test_cmd_done(struct scsi_cmnd *cmd, int err, void *priv)
{
	struct tgt_test_host *th = priv;

	th->cmd_err = err;
	th->nr_cmd_done++;
	complete(&th->cmd_done);
}

/**
 * tgt_test_run - run @cmd through the target core and wait for it
 * @th: test host
 * @cmd: held command
 * @buf: data buffer
 * @len: length of the command's data
 *
 * The log is reset first. If the core does not complete the command within
 * 10 s, the test fails and the command is no longer held (it is lost).
 *
 * Return: the error the core reported to its done callback.
 */
int tgt_test_run(struct tgt_test_host *th, struct scsi_cmnd *cmd, void *buf,
		 unsigned int len)
{
	struct kunit *test = th->test;
	int ret;

	tgt_test_log_reset(th);
	ret = scsi_tgt_queue_command(cmd, buf, len, tgt_test_cmd_done, th);
	KUNIT_ASSERT_EQ_MSG(test, ret, 0, "scsi_tgt_queue_command() refused");
	if (!wait_for_completion_timeout(&th->cmd_done, 10 * HZ)) {
		tgt_test_quiesce(th);
		tgt_test_unhold(th, cmd);
		KUNIT_FAIL_AND_ABORT(test,
				     "command not completed in 10 s (%u calls)",
				     th->nr_calls);
	}
	/* let a deferred completion path that called done() finish */
	tgt_test_quiesce(th);
	KUNIT_EXPECT_EQ(test, th->nr_cmd_done, 1);
	return th->cmd_err;
}

static int tgt_test_getter_fn(void *data)
{
	struct tgt_test_getter *g = data;

	/* a kthread ignores signals: this one can be killed in its get */
	allow_signal(SIGKILL);
	WRITE_ONCE(g->started, true);
	g->cmd = scsi_host_get_command(g->th->shost, DMA_FROM_DEVICE, g->gfp);
	/* all: the test and then the cleanup wait for it */
	complete_all(&g->done);
	return 0;
}

/*
 * Runs before the host's cleanup: a getter still blocked for a tag gets
 * one from the commands the test holds, put one at a time.
 */
static void tgt_test_getter_cleanup(void *data)
{
	struct tgt_test_getter *g = data;
	struct tgt_test_host *th = g->th;

	while (!completion_done(&g->done) && th->nr_held)
		tgt_test_put(th, th->held[th->nr_held - 1]);
	if (!wait_for_completion_timeout(&g->done, 5 * HZ)) {
		/* still blocked: leak it rather than free what it uses */
		kunit_err(th->test, "getter still blocked at the end of the test");
		return;
	}
	if (g->cmd)
		scsi_host_put_command(th->shost, g->cmd);
	put_task_struct(g->task);
	kfree(g);
}

/**
 * tgt_test_getter_start - call scsi_host_get_command() in a new kthread
 * @th: test host
 * @gfp: allocation flags of the get
 *
 * The cleanup of the test puts the command the getter got; if the getter
 * is still blocked then, it puts the test's held commands until it returns.
 *
 * Return: the getter.
 */
struct tgt_test_getter *tgt_test_getter_start(struct tgt_test_host *th,
					      gfp_t gfp)
{
	struct kunit *test = th->test;
	struct tgt_test_getter *g;
	int ret;

	g = kzalloc(sizeof(*g), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, g);
	g->th = th;
	g->gfp = gfp;
	init_completion(&g->done);
	g->task = kthread_create(tgt_test_getter_fn, g, "tgt_kunit_get");
	if (IS_ERR(g->task))
		kfree(g);
	KUNIT_ASSERT_FALSE(test, IS_ERR(g->task));
	get_task_struct(g->task);
	wake_up_process(g->task);
	ret = kunit_add_action_or_reset(test, tgt_test_getter_cleanup, g);
	KUNIT_ASSERT_EQ(test, ret, 0);
	return g;
}

/**
 * tgt_test_getter_blocked - wait until the getter sleeps inside its get
 * @g: getter
 *
 * Polls, for at most 5 s, until the getter has called
 * scsi_host_get_command() and sleeps in it (TASK_KILLABLE: a fatal
 * signal ends the wait).
 *
 * Return: true if it sleeps in the get, false if the get returned.
 */
bool tgt_test_getter_blocked(struct tgt_test_getter *g)
{
	int i;

	for (i = 0; i < 5000; i++) {
		if (completion_done(&g->done))
			return false;
		if (READ_ONCE(g->started) &&
		    READ_ONCE(g->task->__state) == TASK_KILLABLE)
			return true;
		usleep_range(500, 1000);
	}
	return false;
}

/* wait for the getter to return from its get; false after @timeout */
bool tgt_test_getter_wait(struct tgt_test_getter *g, unsigned long timeout)
{
	return wait_for_completion_timeout(&g->done, timeout) != 0;
}

static void tgt_test_putter_put(struct tgt_test_putter *pt)
{
	pt->in_hardirq = in_hardirq();
	pt->in_softirq = in_serving_softirq();
	scsi_host_put_command(pt->th->shost, pt->cmd);
	complete(&pt->done);
}

static enum hrtimer_restart tgt_test_putter_timer(struct hrtimer *timer)
{
	tgt_test_putter_put(container_of(timer, struct tgt_test_putter, timer));
	return HRTIMER_NORESTART;
}

static void tgt_test_putter_bh(struct work_struct *work)
{
	tgt_test_putter_put(container_of(work, struct tgt_test_putter,
					 bh_work));
}

static void tgt_test_putter_cleanup(void *data)
{
	struct tgt_test_putter *pt = data;

	hrtimer_cancel(&pt->timer);
	cancel_work_sync(&pt->bh_work);
}

/* a putter for the commands of @th; its timer and work end with the test */
struct tgt_test_putter *tgt_test_putter_alloc(struct tgt_test_host *th)
{
	struct kunit *test = th->test;
	struct tgt_test_putter *pt;
	int ret;

	pt = kunit_kzalloc(test, sizeof(*pt), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pt);
	pt->th = th;
	init_completion(&pt->done);
	hrtimer_init(&pt->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	pt->timer.function = tgt_test_putter_timer;
	INIT_WORK(&pt->bh_work, tgt_test_putter_bh);
	ret = kunit_add_action_or_reset(test, tgt_test_putter_cleanup, pt);
	KUNIT_ASSERT_EQ(test, ret, 0);
	return pt;
}

/**
 * tgt_test_putter_start - put a held command from @ctx
 * @pt: putter
 * @cmd: command held by the test host; no longer held afterwards
 * @ctx: TGT_CTX_INLINE (the caller's context), _HARDIRQ or _SOFTIRQ
 *
 * pt->done completes after the put.
 */
void tgt_test_putter_start(struct tgt_test_putter *pt, struct scsi_cmnd *cmd,
			   enum tgt_test_ctx ctx)
{
	tgt_test_unhold(pt->th, cmd);
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
		tgt_test_putter_put(pt);
		break;
	}
}

/* put a held command from @ctx and wait for the put; checks the context */
void tgt_test_put_from(struct tgt_test_putter *pt, struct scsi_cmnd *cmd,
		       enum tgt_test_ctx ctx)
{
	struct kunit *test = pt->th->test;

	tgt_test_putter_start(pt, cmd, ctx);
	KUNIT_ASSERT_NE_MSG(test, wait_for_completion_timeout(&pt->done,
							      5 * HZ),
			    0, "put from %s did not run", tgt_test_ctx_name(ctx));
	KUNIT_EXPECT_EQ(test, pt->in_hardirq, ctx == TGT_CTX_HARDIRQ);
	/* the hrtimer may interrupt a softirq being served: both are set */
	if (ctx != TGT_CTX_HARDIRQ)
		KUNIT_EXPECT_EQ(test, pt->in_softirq, ctx == TGT_CTX_SOFTIRQ);
}
