/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Test host shared by the KUnit suites of the scsi-ml target-mode port.
 *
 * The host records every transfer_data()/transfer_response() call, copies
 * the data of each chunk to or from a backing buffer at cmd->offset, and
 * completes inline, from an hrtimer (hardirq) or from a BH work item
 * (softirq). Faults can be injected at any chunk.
 */
#ifndef _TGT_TEST_H
#define _TGT_TEST_H

#include <linux/blkdev.h>
#include <linux/completion.h>
#include <linux/dma-direction.h>
#include <linux/hrtimer.h>
#include <linux/prandom.h>
#include <linux/types.h>
#include <linux/workqueue.h>
#include <kunit/test.h>

struct Scsi_Host;
struct file;
struct scsi_cmnd;
struct scsi_host_cmd;
struct vfsmount;

/* Seed of every pseudo-random sequence; kernel arg tgt_kunit.seed=N */
extern unsigned long tgt_test_seed;
/* operations of the tgt_cmd_stress suite; tgt_kunit.stress_ops=N */
extern unsigned long tgt_stress_ops;

void tgt_stress_blocking_wake_irq_gets(struct kunit *test);

enum tgt_test_ctx {
	TGT_CTX_INLINE,		/* in the caller's context */
	TGT_CTX_HARDIRQ,	/* from an hrtimer */
	TGT_CTX_SOFTIRQ,	/* from a BH work item */
	TGT_CTX_MANUAL,		/* when the test calls tgt_test_complete_pending() */
};

const char *tgt_test_ctx_name(enum tgt_test_ctx ctx);

struct tgt_test_limits {
	const char *name;
	unsigned int max_sectors;
	unsigned short sg_tablesize;
	unsigned int max_segment_size;
	unsigned long dma_boundary;
	int can_queue;
	/* bytes of LLD private data per command (template cmd_size) */
	unsigned int cmd_size;
};

struct tgt_test_call {
	unsigned int offset;
	unsigned int len;
	unsigned int nents;
	unsigned int first_seg;
	bool in_task;
	bool done_early;	/* completed before transfer_data() returned */
	/*
	 * completed after transfer_data() returned, by an interrupt on top
	 * of the task that made the call: maybe before the core decided
	 * who goes on with the next chunk (UML is uniprocessor)
	 */
	bool on_submitter;
};

struct tgt_test_seg {
	unsigned int len;
	phys_addr_t phys;
};

/* cmd_size of the test host template with LLD private data */
#define TGT_TEST_CMD_SIZE	64

struct tgt_test_host {
	struct kunit *test;
	struct Scsi_Host *shost;
	bool added;			/* scsi_add_host() done, not removed */
	bool released;			/* the test dropped the host itself */
	bool state_forced;

	/* commands the test holds; put by the cleanup if still held */
	struct scsi_cmnd **held;
	unsigned int max_held;
	unsigned int nr_held;

	/* LLD behaviour */
	enum tgt_test_ctx ctx;
	int fail_chunk;			/* complete this chunk with an error */
	int refuse_chunk;		/* refuse this chunk (busy) */
	bool fail_response;
	bool refuse_response;
	/* answer with CHECK CONDITION and this sense key, if not 0 */
	u8 sense_key;
	u8 sense_asc;
	u8 sense_ascq;
	bool sense_desc;		/* descriptor format */
	u8 *backing;
	size_t backing_len;

	/* LLD log */
	struct tgt_test_call *calls;
	unsigned int max_calls;
	unsigned int nr_calls;
	struct tgt_test_seg *segs;
	unsigned int max_segs;
	unsigned int nr_segs;
	bool log_overflow;
	bool out_of_bounds;
	bool short_copy;
	unsigned int nr_responses;
	unsigned int calls_at_response;

	/* deferred completion of the LLD */
	struct hrtimer timer;
	struct work_struct bh_work;
	struct scsi_cmnd *pending_cmd;
	void (*pending_done)(struct scsi_cmnd *cmd);
	int pending_call;		/* its index in calls, or -1 */
	struct task_struct *pending_task;	/* the task that made it, or NULL */
	bool in_transfer_data;

	/* the queue limits of the last scsi_device allocated on the host */
	struct queue_limits sdev_lim;
	unsigned int nr_sdev_allocs;

	/* completion of scsi_tgt_queue_command() */
	struct completion cmd_done;
	int cmd_err;
	unsigned int nr_cmd_done;
};

struct tgt_test_host *tgt_test_host_alloc(struct kunit *test,
					  const struct tgt_test_limits *lim);
void tgt_test_host_add(struct tgt_test_host *th, struct device *parent,
		       bool with_queue);
void tgt_test_host_remove(struct tgt_test_host *th);
void tgt_test_host_destroy(struct tgt_test_host *th);
struct tgt_test_host *tgt_test_host_create(struct kunit *test,
					   const struct tgt_test_limits *lim,
					   bool with_queue);
void tgt_test_force_state(struct tgt_test_host *th, int state);

unsigned int tgt_test_refs(struct Scsi_Host *shost);
unsigned int tgt_test_tags_in_use(struct Scsi_Host *shost);
unsigned int tgt_test_free_list_len(struct Scsi_Host *shost,
				    struct scsi_host_cmd **first);

struct scsi_cmnd *tgt_test_get(struct tgt_test_host *th,
			       enum dma_data_direction dir, gfp_t gfp);
void tgt_test_hold(struct tgt_test_host *th, struct scsi_cmnd *cmd);
void tgt_test_unhold(struct tgt_test_host *th, struct scsi_cmnd *cmd);
void tgt_test_put(struct tgt_test_host *th, struct scsi_cmnd *cmd);

bool tgt_test_complete_pending(struct tgt_test_host *th);
void tgt_test_log_alloc(struct tgt_test_host *th, unsigned int max_calls,
			unsigned int max_segs);
void tgt_test_log_reset(struct tgt_test_host *th);
void tgt_test_cmd_done(struct scsi_cmnd *cmd, int err, void *priv);
int tgt_test_run(struct tgt_test_host *th, struct scsi_cmnd *cmd, void *buf,
		 unsigned int len);

/* a scsi_host_get_command() in a kthread of its own */
struct tgt_test_getter {
	struct tgt_test_host *th;
	struct task_struct *task;
	gfp_t gfp;
	bool started;		/* about to call scsi_host_get_command() */
	struct scsi_cmnd *cmd;	/* what it returned; put by the cleanup */
	struct completion done;
};

struct tgt_test_getter *tgt_test_getter_start(struct tgt_test_host *th,
					      gfp_t gfp);
bool tgt_test_getter_blocked(struct tgt_test_getter *g);
bool tgt_test_getter_wait(struct tgt_test_getter *g, unsigned long timeout);

/* a scsi_host_put_command() from process, hardirq or softirq context */
struct tgt_test_putter {
	struct tgt_test_host *th;
	struct hrtimer timer;
	struct work_struct bh_work;
	struct scsi_cmnd *cmd;
	struct completion done;
	bool in_hardirq;
	bool in_softirq;
};

struct tgt_test_putter *tgt_test_putter_alloc(struct tgt_test_host *th);
void tgt_test_putter_start(struct tgt_test_putter *pt, struct scsi_cmnd *cmd,
			   enum tgt_test_ctx ctx);
void tgt_test_put_from(struct tgt_test_putter *pt, struct scsi_cmnd *cmd,
		       enum tgt_test_ctx ctx);

/* debugfs, mounted inside a case (tgt_test_debugfs.c) */
struct tgt_debugfs {
	struct vfsmount *mnt;
	char __user *ubuf;		/* kunit_vm_mmap() buffer */
	size_t bufsize;
	bool own_mm;			/* kunit_vm_mmap() attached an mm */
};

struct tgt_debugfs *tgt_debugfs_mount(struct kunit *test, size_t bufsize);
void tgt_debugfs_done(struct tgt_debugfs *d);
struct file *tgt_debugfs_open(struct kunit *test, struct tgt_debugfs *d,
			      const char *path, int flags);
void tgt_debugfs_write(struct kunit *test, struct tgt_debugfs *d,
		       const char *path, const char *text);
size_t tgt_debugfs_read(struct kunit *test, struct tgt_debugfs *d,
			const char *path, char *buf, size_t len);

/* fail_nth sweeps (tgt_fault_nth.c) */
#define TGT_FAULT_MAX_N		2000	/* no entry point makes this many */

struct tgt_fault_restore;

struct tgt_fault_count {
	unsigned int failed;	/* the call failed with its error */
	unsigned int fell_back;	/* the call succeeded nonetheless */
};

struct tgt_fault_restore *tgt_fault_setup(struct kunit *test);
void tgt_fault_teardown(struct tgt_fault_restore *r);
void tgt_fault_arm(unsigned int n);
bool tgt_fault_disarm(void);
void tgt_fault_report(struct kunit *test, const char *what,
		      const struct tgt_fault_count *c);

/* sweeps of sim_lld's entry points (tgt_cmd_faults_sim_lld.c) */
void tgt_faults_sim_lld_host_add(struct kunit *test);
void tgt_faults_sim_lld_knob_change(struct kunit *test);
void tgt_faults_sim_lld_cmd_run(struct kunit *test);

#endif /* _TGT_TEST_H */
