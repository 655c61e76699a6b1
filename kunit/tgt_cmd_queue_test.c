// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite tgt_cmd_queue: scsi_tgt_alloc_queue() gives an added host its
 * uspace_req_q with the limits of the added host, once: it refuses a host
 * that is not added yet (its limits are not final) or is going away, and
 * two concurrent calls on one host create one queue.
 */
#include <linux/blk-mq.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <kunit/device.h>
#include <kunit/static_stub.h>
#include <kunit/test.h>

#include <scsi/scsi_cmnd.h>
#include <scsi/scsi_host.h>
#include <scsi/scsi_tgt.h>

#include "tgt_test.h"

/* a host that is not added has no queue and gives no command */
static void tgt_queue_refused_before_add(struct kunit *test)
{
	struct tgt_test_host *th = tgt_test_host_alloc(test, NULL);
	struct Scsi_Host *shost = th->shost;
	unsigned int refs = tgt_test_refs(shost);

	KUNIT_EXPECT_EQ(test, scsi_tgt_alloc_queue(shost), -EINVAL);
	KUNIT_EXPECT_NULL(test, shost->uspace_req_q);
	KUNIT_EXPECT_NULL(test, scsi_host_get_command(shost, DMA_TO_DEVICE,
						      GFP_KERNEL));
	KUNIT_EXPECT_EQ(test, tgt_test_refs(shost), refs);

	tgt_test_host_add(th, NULL, true);
	KUNIT_EXPECT_EQ(test, tgt_test_free_list_len(shost, NULL), 1);
	KUNIT_EXPECT_NOT_NULL(test, tgt_test_get(th, DMA_TO_DEVICE,
						 GFP_KERNEL));
}

/* a host that is being removed gets no queue */
static void tgt_queue_refused_on_removed_host(struct kunit *test)
{
	struct tgt_test_host *th = tgt_test_host_create(test, NULL, false);

	tgt_test_host_remove(th);
	KUNIT_EXPECT_EQ(test, scsi_tgt_alloc_queue(th->shost), -ENODEV);
	KUNIT_EXPECT_NULL(test, th->shost->uspace_req_q);
	KUNIT_EXPECT_EQ(test, tgt_test_free_list_len(th->shost, NULL), 0);
}

/*
 * The LLD changes its limits between scsi_host_alloc() and scsi_add_host():
 * uspace_req_q gets the final ones, exactly those of the request queue of
 * a scsi_device of the added host, and can_queue tags.
 */
static void tgt_queue_has_limits_of_added_host(struct kunit *test)
{
	static const struct tgt_test_limits before = {
		.can_queue = 32, .max_sectors = 1024, .sg_tablesize = 128,
		.max_segment_size = 65536, .dma_boundary = 0xffffffff,
	};
	struct device_dma_parameters *parms;
	const struct queue_limits *u, *s;
	struct tgt_test_host *th;
	struct Scsi_Host *shost;
	struct device *parent;

	parent = kunit_device_register(test, "tgt_kunit_added_limits");
	KUNIT_ASSERT_FALSE(test, IS_ERR(parent));
	parms = kunit_kzalloc(test, sizeof(*parms), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, parms);
	parent->dma_parms = parms;

	th = tgt_test_host_alloc(test, &before);
	shost = th->shost;
	KUNIT_EXPECT_EQ(test, scsi_tgt_alloc_queue(shost), -EINVAL);
	/* what the LLD learns from its hardware before adding the host */
	shost->can_queue = 8;
	shost->max_sectors = 64;
	shost->sg_tablesize = 4;
	shost->max_segment_size = 8192;
	shost->dma_boundary = 0xffff;
	tgt_test_host_add(th, parent, true);

	KUNIT_EXPECT_EQ(test, shost->uspace_req_q->tag_set->queue_depth, 8);
	KUNIT_EXPECT_NE(test, scsi_add_device(shost, 0, 0, 0), 0);
	KUNIT_ASSERT_EQ(test, th->nr_sdev_allocs, 1);
	u = &shost->uspace_req_q->limits;
	s = &th->sdev_lim;
	KUNIT_EXPECT_EQ(test, u->max_hw_sectors, 64);
	KUNIT_EXPECT_EQ(test, u->max_segments, 4);
	KUNIT_EXPECT_EQ(test, u->max_segment_size, 8192);
	KUNIT_EXPECT_EQ(test, u->seg_boundary_mask, 0xffff);
	KUNIT_EXPECT_EQ(test, u->max_hw_sectors, s->max_hw_sectors);
	KUNIT_EXPECT_EQ(test, u->max_sectors, s->max_sectors);
	KUNIT_EXPECT_EQ(test, u->max_segments, s->max_segments);
	KUNIT_EXPECT_EQ(test, u->max_segment_size, s->max_segment_size);
	KUNIT_EXPECT_EQ(test, u->seg_boundary_mask, s->seg_boundary_mask);
	KUNIT_EXPECT_EQ(test, u->dma_alignment, s->dma_alignment);
	KUNIT_EXPECT_EQ(test, dma_get_max_seg_size(parent), 8192);
	KUNIT_EXPECT_EQ(test, dma_get_seg_boundary(parent), 0xffff);

	/* and the commands are cut by them: one chunk of 4 x 8 KiB at most */
	{
		unsigned int len = 3 * 32768;
		struct scsi_cmnd *cmd;
		u8 *buf;

		buf = kunit_kzalloc(test, len, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, buf);
		th->backing = kunit_kzalloc(test, len, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, th->backing);
		th->backing_len = len;
		tgt_test_log_alloc(th, 16, 64);
		cmd = tgt_test_get(th, DMA_TO_DEVICE, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, cmd);
		KUNIT_EXPECT_EQ(test, tgt_test_run(th, cmd, buf, len), 0);
		KUNIT_EXPECT_EQ(test, th->nr_calls, 3);
		KUNIT_EXPECT_EQ(test, th->calls[1].offset, 32768);
		KUNIT_EXPECT_LE(test, th->calls[0].nents, 4);
	}
}

/*
 * Two scsi_tgt_alloc_queue() calls on one host at the same time: the first
 * is stopped inside (the tag set allocation) while a second one runs in a
 * kthread; exactly one of them creates the queue, the other gets -EBUSY.
 */
struct tgt_queue_race {
	struct Scsi_Host *shost;
	struct task_struct *task;
	bool started;
	int ret;
	struct completion done;
	bool second_blocked;
	bool second_done_first;
};

static struct tgt_queue_race *tgt_queue_race;

static int tgt_queue_second_fn(void *data)
{
	struct tgt_queue_race *race = data;

	WRITE_ONCE(race->started, true);
	race->ret = scsi_tgt_alloc_queue(race->shost);
	complete_all(&race->done);
	return 0;
}

/* scsi_tgt_alloc_tag_set() stub, in the first caller */
static int tgt_queue_racing_tag_set(struct Scsi_Host *shost,
				    struct blk_mq_tag_set *set)
{
	struct tgt_queue_race *race = tgt_queue_race;
	struct kunit *test = current->kunit_test;
	int i, ret;

	race->task = kthread_run(tgt_queue_second_fn, race, "tgt_kunit_alloc");
	if (IS_ERR(race->task)) {
		race->task = NULL;
		complete_all(&race->done);
	} else {
		/* until the second call returned or sleeps (on a lock) */
		for (i = 0; i < 5000; i++) {
			if (completion_done(&race->done))
				break;
			if (READ_ONCE(race->started) &&
			    READ_ONCE(race->task->__state) ==
			    TASK_UNINTERRUPTIBLE) {
				race->second_blocked = true;
				break;
			}
			usleep_range(500, 1000);
		}
		race->second_done_first = completion_done(&race->done);
	}
	/* the real allocation: stubs only redirect a current test's calls */
	current->kunit_test = NULL;
	ret = scsi_tgt_alloc_tag_set(shost, set);
	current->kunit_test = test;
	return ret;
}

static void tgt_queue_race_cleanup(void *data)
{
	struct tgt_queue_race *race = data;

	tgt_queue_race = NULL;
	/* the second call ends once the first released what it waits for */
	if (!wait_for_completion_timeout(&race->done, 5 * HZ))
		return;	/* leaked rather than freed under its feet */
	kfree(race);
}

static void tgt_queue_concurrent_alloc_creates_one(struct kunit *test)
{
	struct tgt_test_host *th = tgt_test_host_create(test, NULL, false);
	struct tgt_queue_race *race;
	int first;

	race = kzalloc(sizeof(*race), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, race);
	race->shost = th->shost;
	init_completion(&race->done);
	tgt_queue_race = race;
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test,
							tgt_queue_race_cleanup,
							race), 0);

	kunit_activate_static_stub(test, scsi_tgt_alloc_tag_set,
				   tgt_queue_racing_tag_set);
	first = scsi_tgt_alloc_queue(th->shost);
	kunit_deactivate_static_stub(test, scsi_tgt_alloc_tag_set);
	KUNIT_ASSERT_NOT_NULL_MSG(test, race->task, "no second caller");
	KUNIT_ASSERT_TRUE_MSG(test, wait_for_completion_timeout(&race->done,
								5 * HZ),
			      "the second call did not return");
	kunit_info(test, "second call %s, returned %d; first returned %d\n",
		   race->second_blocked ? "waited" : "did not wait", race->ret,
		   first);

	KUNIT_EXPECT_TRUE_MSG(test, (first == 0) != (race->ret == 0),
			      "first %d, second %d: not exactly one queue",
			      first, race->ret);
	KUNIT_EXPECT_EQ(test, first ? first : race->ret, -EBUSY);
	KUNIT_EXPECT_NOT_NULL(test, th->shost->uspace_req_q);
	KUNIT_EXPECT_EQ(test, tgt_test_free_list_len(th->shost, NULL), 1);
	KUNIT_EXPECT_NOT_NULL(test, tgt_test_get(th, DMA_TO_DEVICE,
						 GFP_KERNEL));
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost), 1);
}

static struct kunit_case tgt_cmd_queue_cases[] = {
	KUNIT_CASE(tgt_queue_refused_before_add),
	KUNIT_CASE(tgt_queue_refused_on_removed_host),
	KUNIT_CASE(tgt_queue_has_limits_of_added_host),
	KUNIT_CASE(tgt_queue_concurrent_alloc_creates_one),
	{}
};

static struct kunit_suite tgt_cmd_queue_suite = {
	.name = "tgt_cmd_queue",
	.test_cases = tgt_cmd_queue_cases,
};

kunit_test_suites(&tgt_cmd_queue_suite);
