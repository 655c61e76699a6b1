// SPDX-License-Identifier: GPL-2.0
/*
 * sim_lld - a simulated target-mode SCSI low level driver
 *
 * The target-side counterpart of scsi_debug: it creates Scsi_Hosts with
 * configurable DMA limits and a target queue (scsi_tgt_alloc_queue()),
 * implements transfer_data()/transfer_response(), checks and records every
 * chunk the target core hands it, copies the data between the chunk's
 * scatterlist and a per-command backing buffer, and completes inline, from
 * a workqueue, from softirq or from a hard hrtimer. Faults (fail, busy,
 * dropped completion) can be injected per host. Userspace drives it through
 * debugfs, see README.md and sim_lld_uapi.h.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ctype.h>
#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/fault-inject.h>
#include <linux/hrtimer.h>
#include <linux/idr.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/sbitmap.h>
#include <linux/scatterlist.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/blk-mq.h>
#include <linux/unaligned.h>

#include <scsi/scsi.h>
#include <scsi/scsi_cmnd.h>
#include <scsi/scsi_host.h>
#include <scsi/scsi_tgt.h>

#include "sim_lld.h"

#define SIM_LLD_VERSION "1.0"

struct sim_lld_host {
	struct kref kref;
	struct list_head list;		/* sim_hosts, under sim_hosts_lock */
	unsigned int index;
	struct mutex cfg_mutex;		/* shost, lim, creation and removal */
	struct Scsi_Host *shost;	/* current host, under cfg_mutex */
	struct sim_lld_limits lim;
	bool removing;
	int completion;			/* enum sim_lld_completion */
	u32 delay_ns;

	spinlock_t lock;		/* fault, cmds, dropped, next_id */
	struct sim_lld_fault fault;
	struct list_head cmds;		/* struct sim_lld_cmd */
	struct list_head dropped;	/* struct sim_pend */
	u64 next_id;
	atomic_t foreign_calls;

	wait_queue_head_t idle_wq;	/* outstanding or pending dropped */
	atomic_t outstanding;		/* injected commands not yet put */
	atomic_t pending;		/* accepted transfers not completed */
	atomic_t dropped_now;
	atomic_t dev_refs;		/* scsi_host_get() held by sim_lld */
	atomic_t cmds_kept;
	atomic64_t c_commands, c_chunks, c_bytes, c_responses, c_errors;
	atomic64_t c_faults, c_busy, c_dropped, c_cmds_ok, c_cmds_failed;
	atomic64_t c_timeouts, c_verify_errors, c_recreated;

	struct dentry *dir;
	struct sim_knob_file {
		struct sim_lld_host *sh;
		enum sim_lld_knob knob;
	} knob_files[SIM_LLD_NR_KNOBS];
};

/* hostdata of every Scsi_Host sim_lld creates */
struct sim_shost {
	struct sim_lld_host *sh;
	struct sim_lld_limits lim;	/* the limits this host was made with */
};

/* a deferred or withheld completion */
struct sim_pend {
	union {
		struct work_struct work;
		struct hrtimer timer;
	};
	struct list_head node;		/* sh->dropped */
	struct sim_lld_host *sh;
	struct scsi_cmnd *cmd;
	void (*done)(struct scsi_cmnd *cmd);
};

struct sim_knob_desc {
	const char *name;
	u64 min, max;
	const char *why;
};

static const struct sim_knob_desc sim_knobs[SIM_LLD_NR_KNOBS] = {
	[SIM_LLD_KNOB_SG_TABLESIZE] = {
		"sg_tablesize", SIM_LLD_MIN_SG_TABLESIZE,
		SIM_LLD_MAX_SG_TABLESIZE, "at least one segment" },
	[SIM_LLD_KNOB_MAX_SECTORS] = {
		"max_sectors", SIM_LLD_MIN_MAX_SECTORS,
		SIM_LLD_MAX_MAX_SECTORS, "at least one page (8 sectors)" },
	[SIM_LLD_KNOB_MAX_SEGMENT_SIZE] = {
		"max_segment_size", SIM_LLD_MIN_MAX_SEGMENT_SIZE,
		SIM_LLD_MAX_MAX_SEGMENT_SIZE,
		"the block layer refuses segments below PAGE_SIZE" },
	[SIM_LLD_KNOB_DMA_BOUNDARY] = {
		"dma_boundary", SIM_LLD_MIN_DMA_BOUNDARY, ULONG_MAX,
		"a mask 2^n-1 of at least PAGE_SIZE-1" },
	[SIM_LLD_KNOB_CAN_QUEUE] = {
		"can_queue", SIM_LLD_MIN_CAN_QUEUE, SIM_LLD_MAX_CAN_QUEUE,
		"at least one command" },
};

static const char * const sim_compl_names[] = SIM_LLD_COMPLETION_NAMES;
static const char * const sim_reason_names[] = SIM_LLD_REASON_NAMES;
static const char * const sim_state_names[] = SIM_LLD_STATE_NAMES;

/* module parameters: defaults of new hosts */
static u64 sim_def[SIM_LLD_NR_KNOBS] = {
	[SIM_LLD_KNOB_SG_TABLESIZE] = 128,
	[SIM_LLD_KNOB_MAX_SECTORS] = 1024,
	[SIM_LLD_KNOB_MAX_SEGMENT_SIZE] = 65536,
	[SIM_LLD_KNOB_DMA_BOUNDARY] = 0xffffffff,
	[SIM_LLD_KNOB_CAN_QUEUE] = 64,
};

static unsigned int sim_num_hosts = 1;
static int sim_def_completion = SIM_LLD_COMPL_INLINE;
static unsigned int sim_def_delay_ns = 10000;
static unsigned int sim_max_cmd_len = 16U << 20;
static unsigned int sim_cmd_timeout_ms = 10000;

static DEFINE_MUTEX(sim_hosts_lock);
static LIST_HEAD(sim_hosts);
static unsigned int sim_nr_hosts;
static DEFINE_IDA(sim_ida);
static atomic_t sim_live_shosts = ATOMIC_INIT(0);
static struct workqueue_struct *sim_wq;
static struct device *sim_root_dev;
static struct dentry *sim_debugfs_root;

#ifdef CONFIG_FAULT_INJECTION
static DECLARE_FAULT_ATTR(sim_fail_transfer);
#endif

static const struct scsi_host_template sim_lld_template;

/* ------------------------------------------------------------------ */
/* knobs and module parameters                                          */

/**
 * sim_lld_check_knob - validate a limit
 * @k: the knob
 * @v: the value
 *
 * Return: 0 or -EINVAL (with a kernel message saying why).
 */
int sim_lld_check_knob(enum sim_lld_knob k, u64 v)
{
	const struct sim_knob_desc *d;

	if (k >= SIM_LLD_NR_KNOBS)
		return -EINVAL;
	d = &sim_knobs[k];
	if (v < d->min || v > d->max) {
		pr_err("%s=%llu invalid: must be in [%llu, %llu] (%s)\n",
		       d->name, v, d->min, d->max, d->why);
		return -EINVAL;
	}
	if (k == SIM_LLD_KNOB_DMA_BOUNDARY && (v & (v + 1))) {
		pr_err("dma_boundary=0x%llx invalid: not of the form 2^n-1\n",
		       v);
		return -EINVAL;
	}
	return 0;
}
EXPORT_SYMBOL_GPL(sim_lld_check_knob);

/**
 * sim_lld_parse_knob - parse and validate a limit written as text
 * @k: the knob
 * @buf: NUL-terminated text, decimal or 0x-prefixed hex, optional newline
 * @v: the value on success
 *
 * Return: 0 or -EINVAL.
 */
int sim_lld_parse_knob(enum sim_lld_knob k, const char *buf, u64 *v)
{
	if (k >= SIM_LLD_NR_KNOBS)
		return -EINVAL;
	if (kstrtou64(buf, 0, v)) {
		pr_err("%s='%.*s' invalid: not a decimal or 0x hex number in [%llu, %llu]\n",
		       sim_knobs[k].name, (int)min_t(size_t, strcspn(buf, "\n"), 32),
		       buf, sim_knobs[k].min, sim_knobs[k].max);
		return -EINVAL;
	}
	return sim_lld_check_knob(k, *v);
}
EXPORT_SYMBOL_GPL(sim_lld_parse_knob);

static int sim_lld_check_limits(const struct sim_lld_limits *lim)
{
	int k, ret;

	for (k = 0; k < SIM_LLD_NR_KNOBS; k++) {
		ret = sim_lld_check_knob(k, lim->v[k]);
		if (ret)
			return ret;
	}
	return 0;
}

/**
 * sim_lld_default_limits - the limits new hosts get (module parameters)
 * @lim: filled in
 */
void sim_lld_default_limits(struct sim_lld_limits *lim)
{
	int k;

	for (k = 0; k < SIM_LLD_NR_KNOBS; k++)
		lim->v[k] = READ_ONCE(sim_def[k]);
}
EXPORT_SYMBOL_GPL(sim_lld_default_limits);

/**
 * sim_lld_set_default_knob - set the default of a limit for new hosts
 * @k: the knob
 * @buf: NUL-terminated text, as for the module parameter of the same name
 *
 * Return: 0, or -EINVAL (with a kernel message) leaving the default as it
 * was.
 */
int sim_lld_set_default_knob(enum sim_lld_knob k, const char *buf)
{
	u64 v;
	int ret;

	ret = sim_lld_parse_knob(k, buf, &v);
	if (ret)
		return ret;
	WRITE_ONCE(sim_def[k], v);
	return 0;
}
EXPORT_SYMBOL_GPL(sim_lld_set_default_knob);

static int sim_param_knob_set(const char *val, const struct kernel_param *kp)
{
	u64 *p = kp->arg;

	return sim_lld_set_default_knob(p - sim_def, val);
}

static int sim_param_knob_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%llu\n", READ_ONCE(*(u64 *)kp->arg));
}

static const struct kernel_param_ops sim_knob_param_ops = {
	.set = sim_param_knob_set,
	.get = sim_param_knob_get,
};

module_param_cb(sg_tablesize, &sim_knob_param_ops,
		&sim_def[SIM_LLD_KNOB_SG_TABLESIZE], 0644);
MODULE_PARM_DESC(sg_tablesize, "default sg_tablesize of new hosts (def=128)");
module_param_cb(max_sectors, &sim_knob_param_ops,
		&sim_def[SIM_LLD_KNOB_MAX_SECTORS], 0644);
MODULE_PARM_DESC(max_sectors, "default max_sectors of new hosts (def=1024)");
module_param_cb(max_segment_size, &sim_knob_param_ops,
		&sim_def[SIM_LLD_KNOB_MAX_SEGMENT_SIZE], 0644);
MODULE_PARM_DESC(max_segment_size,
		 "default max_segment_size of new hosts, >= 4096 (def=65536)");
module_param_cb(dma_boundary, &sim_knob_param_ops,
		&sim_def[SIM_LLD_KNOB_DMA_BOUNDARY], 0644);
MODULE_PARM_DESC(dma_boundary,
		 "default dma_boundary of new hosts, 2^n-1 (def=0xffffffff)");
module_param_cb(can_queue, &sim_knob_param_ops,
		&sim_def[SIM_LLD_KNOB_CAN_QUEUE], 0644);
MODULE_PARM_DESC(can_queue, "default can_queue of new hosts (def=64)");

static int sim_parse_completion(const char *buf)
{
	int i;

	for (i = 0; i < SIM_LLD_COMPL_NR; i++)
		if (sysfs_streq(buf, sim_compl_names[i]))
			return i;
	pr_err("completion: invalid mode, use inline, workqueue, softirq or hrtimer\n");
	return -EINVAL;
}

static int sim_param_compl_set(const char *val, const struct kernel_param *kp)
{
	int mode = sim_parse_completion(val);

	if (mode < 0)
		return mode;
	WRITE_ONCE(sim_def_completion, mode);
	return 0;
}

static int sim_param_compl_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n",
			  sim_compl_names[READ_ONCE(sim_def_completion)]);
}

static const struct kernel_param_ops sim_compl_param_ops = {
	.set = sim_param_compl_set,
	.get = sim_param_compl_get,
};

module_param_cb(completion, &sim_compl_param_ops, &sim_def_completion, 0644);
MODULE_PARM_DESC(completion,
		 "default completion mode: inline, workqueue, softirq, hrtimer (def=inline)");
module_param_named(num_hosts, sim_num_hosts, uint, 0444);
MODULE_PARM_DESC(num_hosts, "number of hosts created at load (def=1)");
module_param_named(completion_delay_ns, sim_def_delay_ns, uint, 0644);
MODULE_PARM_DESC(completion_delay_ns,
		 "default hrtimer completion delay in ns (def=10000)");
module_param_named(max_cmd_len, sim_max_cmd_len, uint, 0644);
MODULE_PARM_DESC(max_cmd_len,
		 "largest injected command in bytes (def=16 MiB, cap 64 MiB)");
module_param_named(cmd_timeout_ms, sim_cmd_timeout_ms, uint, 0644);
MODULE_PARM_DESC(cmd_timeout_ms,
		 "default wait for a synchronous command in ms (def=10000)");

/* ------------------------------------------------------------------ */
/* data pattern                                                         */

static u32 sim_hash(u32 seed, u32 i)
{
	u32 x = seed ^ (i * 0x9e3779b9u);

	x ^= x >> 16;
	x *= 0x85ebca6bu;
	x ^= x >> 13;
	x *= 0xc2b2ae35u;
	x ^= x >> 16;
	return x;
}

/**
 * sim_lld_fill_pattern - fill a buffer with the pattern of a seed
 * @buf: buffer
 * @len: its length
 * @seed: pattern seed; byte i depends on seed and i
 * @invert: write the complement (differs from the pattern in every byte)
 */
void sim_lld_fill_pattern(void *buf, size_t len, u32 seed, bool invert)
{
	u32 mask = invert ? ~0U : 0;
	u8 *p = buf;
	size_t i;
	u32 w;

	for (i = 0; i + 4 <= len; i += 4)
		put_unaligned_le32(sim_hash(seed, i / 4) ^ mask, p + i);
	if (i < len) {
		w = sim_hash(seed, i / 4) ^ mask;
		for (; i < len; i++, w >>= 8)
			p[i] = w & 0xff;
	}
}
EXPORT_SYMBOL_GPL(sim_lld_fill_pattern);

/**
 * sim_lld_check_pattern - compare a buffer with the pattern of a seed
 * @buf: buffer
 * @len: its length
 * @seed: pattern seed
 *
 * Return: -1 if it matches, else the offset of the first wrong byte.
 */
s64 sim_lld_check_pattern(const void *buf, size_t len, u32 seed)
{
	const u8 *p = buf;
	size_t i, j;
	u32 w;

	for (i = 0; i < len; i += 4) {
		w = sim_hash(seed, i / 4);
		if (i + 4 <= len && get_unaligned_le32(p + i) == w)
			continue;
		for (j = i; j < len && j < i + 4; j++, w >>= 8)
			if (p[j] != (w & 0xff))
				return j;
	}
	return -1;
}
EXPORT_SYMBOL_GPL(sim_lld_check_pattern);

/* ------------------------------------------------------------------ */
/* host objects                                                         */

static void sim_host_release(struct kref *kref)
{
	struct sim_lld_host *sh = container_of(kref, struct sim_lld_host,
					       kref);

	ida_free(&sim_ida, sh->index);
	kfree(sh);
}

static void sim_host_put(struct sim_lld_host *sh)
{
	kref_put(&sh->kref, sim_host_release);
}

static unsigned int sim_tags_in_use(struct Scsi_Host *shost)
{
	struct request_queue *q = shost ? shost->uspace_req_q : NULL;
	struct blk_mq_tag_set *set;
	struct blk_mq_tags *tags;
	unsigned int i, n = 0;

	if (!q || !q->tag_set)
		return 0;
	set = q->tag_set;
	if (set->flags & BLK_MQ_F_TAG_HCTX_SHARED) {
		tags = set->shared_tags;
		return tags ? sbitmap_weight(&tags->bitmap_tags.sb) : 0;
	}
	for (i = 0; i < set->nr_hw_queues; i++) {
		tags = set->tags ? set->tags[i] : NULL;
		if (tags)
			n += sbitmap_weight(&tags->bitmap_tags.sb);
	}
	return n;
}

static unsigned int sim_free_list_len(struct Scsi_Host *shost)
{
	unsigned long flags;
	unsigned int n;

	if (!shost)
		return 0;
	spin_lock_irqsave(&shost->free_list_lock, flags);
	n = list_count_nodes(&shost->free_list);
	spin_unlock_irqrestore(&shost->free_list_lock, flags);
	return n;
}

/* Create, register and give a target queue to a Scsi_Host with @lim. */
static struct Scsi_Host *sim_shost_create(struct sim_lld_host *sh,
					  const struct sim_lld_limits *lim)
{
	struct Scsi_Host *shost;
	struct sim_shost *priv;
	int ret;

	shost = scsi_host_alloc(&sim_lld_template, sizeof(*priv));
	if (!shost)
		return ERR_PTR(-ENOMEM);
	priv = shost_priv(shost);
	priv->sh = sh;
	priv->lim = *lim;

	shost->sg_tablesize = lim->v[SIM_LLD_KNOB_SG_TABLESIZE];
	shost->max_sectors = lim->v[SIM_LLD_KNOB_MAX_SECTORS];
	shost->max_segment_size = lim->v[SIM_LLD_KNOB_MAX_SEGMENT_SIZE];
	shost->dma_boundary = lim->v[SIM_LLD_KNOB_DMA_BOUNDARY];
	shost->can_queue = lim->v[SIM_LLD_KNOB_CAN_QUEUE];
	shost->cmd_per_lun = min_t(int, shost->can_queue, 16);
	shost->max_id = 1;
	shost->max_lun = 1;
	shost->max_channel = 0;

	ret = scsi_add_host(shost, sim_root_dev);
	if (ret) {
		pr_err("host%u: scsi_add_host failed: %d\n", sh->index, ret);
		goto put;
	}
	ret = scsi_tgt_alloc_queue(shost);
	if (ret) {
		pr_err("host%u: scsi_tgt_alloc_queue failed: %d\n",
		       sh->index, ret);
		scsi_remove_host(shost);
		goto put;
	}
	atomic_inc(&sim_live_shosts);
	return shost;
put:
	scsi_host_put(shost);
	return ERR_PTR(ret);
}

static bool sim_shost_busy(struct sim_lld_host *sh, struct Scsi_Host *shost)
{
	return atomic_read(&sh->outstanding) || atomic_read(&sh->pending) ||
	       atomic_read(&sh->dropped_now) || sim_tags_in_use(shost);
}

/*
 * Remove a Scsi_Host: no new commands (host state), withheld completions
 * released with an error, then wait until every command of it is put.
 */
static void sim_shost_destroy(struct sim_lld_host *sh, struct Scsi_Host *shost)
{
	unsigned long start = jiffies;
	unsigned int waited = 0;

	scsi_remove_host(shost);
	for (;;) {
		sim_lld_host_flush_dropped(sh);
		/*
		 * Woken when a command is reaped or a transfer completed;
		 * the timeout re-checks tags held by other users of shost.
		 */
		if (wait_event_timeout(sh->idle_wq, !sim_shost_busy(sh, shost),
				       HZ / 10))
			break;
		if (time_after(jiffies, start + 10 * HZ)) {
			pr_warn("host%u: still waiting for %d commands, %d completions, %u tags after %u s\n",
				sh->index, atomic_read(&sh->outstanding),
				atomic_read(&sh->pending),
				sim_tags_in_use(shost), waited += 10);
			start = jiffies;
		}
	}
	scsi_host_put(shost);
	atomic_dec(&sim_live_shosts);
}

/**
 * sim_lld_root_refs - references on sim_lld's root device
 *
 * Every Scsi_Host of sim_lld is a child of the root device and holds
 * references on it until the Scsi_Host is released (freed): the same value
 * before and after adding and removing hosts proves they were released.
 *
 * Return: kref_read() of the root device.
 */
unsigned int sim_lld_root_refs(void)
{
	return kref_read(&sim_root_dev->kobj.kref);
}
EXPORT_SYMBOL_GPL(sim_lld_root_refs);

/**
 * sim_lld_nr_hosts - number of sim_lld hosts
 *
 * Return: the hosts added (at load, by add_host or sim_lld_host_add())
 * and not yet removed.
 */
unsigned int sim_lld_nr_hosts(void)
{
	unsigned int n;

	mutex_lock(&sim_hosts_lock);
	n = sim_nr_hosts;
	mutex_unlock(&sim_hosts_lock);
	return n;
}
EXPORT_SYMBOL_GPL(sim_lld_nr_hosts);

/**
 * sim_lld_limits_by_index - the limits of host N (debugfs hostN)
 * @index: sim_lld host index
 * @lim: filled in
 *
 * Return: 0, or -ENODEV if there is no such host.
 */
int sim_lld_limits_by_index(unsigned int index, struct sim_lld_limits *lim)
{
	struct sim_lld_host *sh;
	int ret = -ENODEV;

	mutex_lock(&sim_hosts_lock);
	list_for_each_entry(sh, &sim_hosts, list) {
		if (sh->index == index) {
			sim_lld_host_get_limits(sh, lim);
			ret = 0;
			break;
		}
	}
	mutex_unlock(&sim_hosts_lock);
	return ret;
}
EXPORT_SYMBOL_GPL(sim_lld_limits_by_index);

/**
 * sim_lld_live_shosts - Scsi_Hosts created and not yet removed
 *
 * Return: the count, for leak checks.
 */
unsigned int sim_lld_live_shosts(void)
{
	return atomic_read(&sim_live_shosts);
}
EXPORT_SYMBOL_GPL(sim_lld_live_shosts);

static void sim_debugfs_add_host(struct sim_lld_host *sh);

/**
 * sim_lld_host_add - add a host
 * @lim: its limits, NULL for the module parameters
 *
 * Return: the host or an ERR_PTR (-EINVAL for invalid limits).
 */
struct sim_lld_host *sim_lld_host_add(const struct sim_lld_limits *lim)
{
	struct sim_lld_host *sh;
	struct Scsi_Host *shost;
	int ret, idx;

	sh = kzalloc(sizeof(*sh), GFP_KERNEL);
	if (!sh)
		return ERR_PTR(-ENOMEM);
	kref_init(&sh->kref);
	mutex_init(&sh->cfg_mutex);
	spin_lock_init(&sh->lock);
	init_waitqueue_head(&sh->idle_wq);
	INIT_LIST_HEAD(&sh->cmds);
	INIT_LIST_HEAD(&sh->dropped);
	INIT_LIST_HEAD(&sh->list);
	if (lim)
		sh->lim = *lim;
	else
		sim_lld_default_limits(&sh->lim);
	sh->completion = READ_ONCE(sim_def_completion);
	sh->delay_ns = READ_ONCE(sim_def_delay_ns);

	ret = sim_lld_check_limits(&sh->lim);
	if (ret) {
		kfree(sh);
		return ERR_PTR(ret);
	}

	mutex_lock(&sim_hosts_lock);
	if (sim_nr_hosts >= SIM_LLD_MAX_HOSTS) {
		pr_err("too many hosts (max %d)\n", SIM_LLD_MAX_HOSTS);
		ret = -ENOSPC;
		goto unlock;
	}
	idx = ida_alloc_max(&sim_ida, SIM_LLD_MAX_HOSTS - 1, GFP_KERNEL);
	if (idx < 0) {
		ret = idx;
		goto unlock;
	}
	sh->index = idx;
	shost = sim_shost_create(sh, &sh->lim);
	if (IS_ERR(shost)) {
		ida_free(&sim_ida, idx);
		ret = PTR_ERR(shost);
		goto unlock;
	}
	sh->shost = shost;
	sim_debugfs_add_host(sh);
	list_add_tail(&sh->list, &sim_hosts);
	sim_nr_hosts++;
	mutex_unlock(&sim_hosts_lock);
	pr_debug("host%u added as scsi host%u\n", sh->index, shost->host_no);
	return sh;

unlock:
	mutex_unlock(&sim_hosts_lock);
	kfree(sh);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_GPL(sim_lld_host_add);

/* the host is off the list: tear it down, drop the list's reference */
static void sim_host_teardown(struct sim_lld_host *sh)
{
	struct Scsi_Host *shost;

	mutex_lock(&sh->cfg_mutex);
	sh->removing = true;
	shost = sh->shost;
	sh->shost = NULL;
	mutex_unlock(&sh->cfg_mutex);

	if (shost)
		sim_shost_destroy(sh, shost);
	/* waits for file operations in progress (e.g. a waiting writer) */
	debugfs_remove(sh->dir);
	sh->dir = NULL;
	/* every command is reaped (done) when this returns */
	flush_workqueue(sim_wq);

	/*
	 * Commands still on sh->cmds belong to someone: an in-kernel caller
	 * that has not called sim_lld_cmd_release() yet, or an open cmd file.
	 * Each holds a reference on sh and is freed by its holder.
	 */
	sim_host_put(sh);
}

/**
 * sim_lld_host_remove - remove a host (also with commands in flight)
 * @sh: host from sim_lld_host_add()
 *
 * Commands in flight complete (withheld completions with an error) and
 * are put before this returns; @sh must not be used afterwards.
 */
void sim_lld_host_remove(struct sim_lld_host *sh)
{
	mutex_lock(&sim_hosts_lock);
	list_del_init(&sh->list);
	sim_nr_hosts--;
	mutex_unlock(&sim_hosts_lock);
	sim_host_teardown(sh);
}
EXPORT_SYMBOL_GPL(sim_lld_host_remove);

static int sim_remove_host_by_index(int index)
{
	struct sim_lld_host *sh, *found = NULL;

	mutex_lock(&sim_hosts_lock);
	list_for_each_entry_reverse(sh, &sim_hosts, list) {
		if (index < 0 || sh->index == index) {
			found = sh;
			break;
		}
	}
	if (found) {
		list_del_init(&found->list);
		sim_nr_hosts--;
	}
	mutex_unlock(&sim_hosts_lock);
	if (!found)
		return -ENODEV;
	sim_host_teardown(found);
	return 0;
}

/**
 * sim_lld_host_index - the host's index (debugfs directory hostN)
 * @sh: host
 *
 * Return: the index.
 */
unsigned int sim_lld_host_index(struct sim_lld_host *sh)
{
	return sh->index;
}
EXPORT_SYMBOL_GPL(sim_lld_host_index);

/**
 * sim_lld_host_shost - the current Scsi_Host of a host
 * @sh: host
 *
 * Re-creation (new limits) replaces it.
 *
 * Return: the Scsi_Host, NULL while the host is removed.
 */
struct Scsi_Host *sim_lld_host_shost(struct sim_lld_host *sh)
{
	struct Scsi_Host *shost;

	mutex_lock(&sh->cfg_mutex);
	shost = sh->shost;
	mutex_unlock(&sh->cfg_mutex);
	return shost;
}
EXPORT_SYMBOL_GPL(sim_lld_host_shost);

/**
 * sim_lld_host_get_limits - the limits of a host
 * @sh: host
 * @lim: filled in
 */
void sim_lld_host_get_limits(struct sim_lld_host *sh,
			     struct sim_lld_limits *lim)
{
	mutex_lock(&sh->cfg_mutex);
	*lim = sh->lim;
	mutex_unlock(&sh->cfg_mutex);
}
EXPORT_SYMBOL_GPL(sim_lld_host_get_limits);

/**
 * sim_lld_host_set_limits - change the limits of an idle host
 * @sh: host
 * @lim: new limits
 *
 * The queue limits of uspace_req_q are fixed when it is created, so the
 * Scsi_Host is re-created (same sim_lld index, new scsi host number).
 *
 * Return: 0, -EINVAL (invalid limits), -EBUSY (commands outstanding),
 * -ENODEV (host being removed) or an error of the creation; on error the
 * host is unchanged.
 */
int sim_lld_host_set_limits(struct sim_lld_host *sh,
			    const struct sim_lld_limits *lim)
{
	struct Scsi_Host *old, *shost;
	int ret;

	ret = sim_lld_check_limits(lim);
	if (ret)
		return ret;

	mutex_lock(&sh->cfg_mutex);
	if (sh->removing || !sh->shost) {
		ret = -ENODEV;
		goto unlock;
	}
	if (!memcmp(lim, &sh->lim, sizeof(*lim)))
		goto unlock;
	if (sim_shost_busy(sh, sh->shost)) {
		pr_err("host%u: busy (%d commands outstanding), limits unchanged\n",
		       sh->index, atomic_read(&sh->outstanding));
		ret = -EBUSY;
		goto unlock;
	}
	shost = sim_shost_create(sh, lim);
	if (IS_ERR(shost)) {
		ret = PTR_ERR(shost);
		goto unlock;
	}
	old = sh->shost;
	sh->shost = shost;
	sh->lim = *lim;
	atomic64_inc(&sh->c_recreated);
	sim_shost_destroy(sh, old);
unlock:
	mutex_unlock(&sh->cfg_mutex);
	return ret;
}
EXPORT_SYMBOL_GPL(sim_lld_host_set_limits);

/**
 * sim_lld_host_store_knob - set one limit from text (debugfs semantics)
 * @sh: host
 * @k: knob
 * @buf: NUL-terminated text
 *
 * Return: as sim_lld_host_set_limits().
 */
int sim_lld_host_store_knob(struct sim_lld_host *sh, enum sim_lld_knob k,
			    const char *buf)
{
	struct sim_lld_limits lim;
	u64 v;
	int ret;

	ret = sim_lld_parse_knob(k, buf, &v);
	if (ret)
		return ret;
	sim_lld_host_get_limits(sh, &lim);
	lim.v[k] = v;
	return sim_lld_host_set_limits(sh, &lim);
}
EXPORT_SYMBOL_GPL(sim_lld_host_store_knob);

/**
 * sim_lld_host_set_completion - set how transfers complete
 * @sh: host
 * @mode: enum sim_lld_completion
 * @delay_ns: hrtimer delay
 *
 * Return: 0 or -EINVAL.
 */
int sim_lld_host_set_completion(struct sim_lld_host *sh,
				enum sim_lld_completion mode, u32 delay_ns)
{
	if (mode >= SIM_LLD_COMPL_NR)
		return -EINVAL;
	WRITE_ONCE(sh->completion, mode);
	WRITE_ONCE(sh->delay_ns, delay_ns);
	return 0;
}
EXPORT_SYMBOL_GPL(sim_lld_host_set_completion);

/**
 * sim_lld_host_set_fault - arm (or with SIM_LLD_FAULT_NONE disarm) a fault
 * @sh: host
 * @f: the fault
 */
void sim_lld_host_set_fault(struct sim_lld_host *sh,
			    const struct sim_lld_fault *f)
{
	unsigned long flags;

	spin_lock_irqsave(&sh->lock, flags);
	sh->fault = *f;
	atomic_set(&sh->foreign_calls, 0);
	spin_unlock_irqrestore(&sh->lock, flags);
}
EXPORT_SYMBOL_GPL(sim_lld_host_set_fault);

/**
 * sim_lld_host_counters - snapshot of a host's counters
 * @sh: host
 * @c: filled in
 */
void sim_lld_host_counters(struct sim_lld_host *sh, struct sim_lld_counters *c)
{
	struct Scsi_Host *shost;

	memset(c, 0, sizeof(*c));
	c->commands = atomic64_read(&sh->c_commands);
	c->chunks = atomic64_read(&sh->c_chunks);
	c->bytes = atomic64_read(&sh->c_bytes);
	c->responses = atomic64_read(&sh->c_responses);
	c->errors = atomic64_read(&sh->c_errors);
	c->faults = atomic64_read(&sh->c_faults);
	c->busy = atomic64_read(&sh->c_busy);
	c->dropped = atomic64_read(&sh->c_dropped);
	c->cmds_ok = atomic64_read(&sh->c_cmds_ok);
	c->cmds_failed = atomic64_read(&sh->c_cmds_failed);
	c->timeouts = atomic64_read(&sh->c_timeouts);
	c->verify_errors = atomic64_read(&sh->c_verify_errors);
	c->recreated = atomic64_read(&sh->c_recreated);
	c->outstanding = atomic_read(&sh->outstanding);
	c->pending = atomic_read(&sh->pending);
	c->dropped_now = atomic_read(&sh->dropped_now);
	c->dev_refs = atomic_read(&sh->dev_refs);
	c->cmds_kept = atomic_read(&sh->cmds_kept);

	mutex_lock(&sh->cfg_mutex);
	shost = sh->shost;
	if (shost) {
		c->tags_in_use = sim_tags_in_use(shost);
		c->free_list = sim_free_list_len(shost);
		c->gendev_refs = kref_read(&shost->shost_gendev.kobj.kref);
	}
	mutex_unlock(&sh->cfg_mutex);
}
EXPORT_SYMBOL_GPL(sim_lld_host_counters);

/* ------------------------------------------------------------------ */
/* the LLD                                                              */

/* the context a completion runs in, SIM_LLD_CTX_* */
static u32 sim_ctx(void)
{
	if (in_hardirq())
		return SIM_LLD_CTX_HARDIRQ;
	if (in_serving_softirq())
		return SIM_LLD_CTX_SOFTIRQ;
	if (current_work())
		return SIM_LLD_CTX_WORKER;
	return SIM_LLD_CTX_CALLER;
}

static void sim_call_done(struct sim_lld_host *sh, struct scsi_cmnd *cmd,
			  void (*done)(struct scsi_cmnd *cmd))
{
	struct sim_lld_cmd *sc = (void *)cmd->host_scribble;

	/* the chunks of a command are sequential: no concurrent writer */
	if (sc)
		sc->done_ctx |= sim_ctx();
	/*
	 * No longer pending once done() is called: done() may finish the
	 * command, and a waiter woken then must see the host idle.
	 */
	atomic_dec(&sh->pending);
	done(cmd);
	wake_up(&sh->idle_wq);
	/* last use of sh by this completion; our reference pins sh */
	sim_host_put(sh);
}

static void sim_work_fn(struct work_struct *work)
{
	struct sim_pend *p = container_of(work, struct sim_pend, work);
	struct sim_lld_host *sh = p->sh;
	struct scsi_cmnd *cmd = p->cmd;
	void (*done)(struct scsi_cmnd *cmd) = p->done;

	kfree(p);
	sim_call_done(sh, cmd, done);
}

static enum hrtimer_restart sim_timer_fn(struct hrtimer *timer)
{
	struct sim_pend *p = container_of(timer, struct sim_pend, timer);
	struct sim_lld_host *sh = p->sh;
	struct scsi_cmnd *cmd = p->cmd;
	void (*done)(struct scsi_cmnd *cmd) = p->done;

	kfree(p);
	sim_call_done(sh, cmd, done);
	return HRTIMER_NORESTART;
}

/* complete an accepted transfer the configured way, or withhold it */
static void sim_complete(struct sim_lld_host *sh, struct scsi_cmnd *cmd,
			 void (*done)(struct scsi_cmnd *cmd), bool drop)
{
	int mode = READ_ONCE(sh->completion);
	unsigned long flags;
	struct sim_pend *p = NULL;

	kref_get(&sh->kref);
	atomic_inc(&sh->pending);
	if (drop || mode != SIM_LLD_COMPL_INLINE)
		p = kzalloc(sizeof(*p), GFP_ATOMIC);
	/* no memory for a deferred completion: complete inline */
	if (!p) {
		sim_call_done(sh, cmd, done);
		return;
	}
	p->sh = sh;
	p->cmd = cmd;
	p->done = done;
	if (drop) {
		spin_lock_irqsave(&sh->lock, flags);
		list_add_tail(&p->node, &sh->dropped);
		atomic_inc(&sh->dropped_now);
		spin_unlock_irqrestore(&sh->lock, flags);
		atomic64_inc(&sh->c_dropped);
		return;
	}
	switch (mode) {
	case SIM_LLD_COMPL_WORKQUEUE:
		INIT_WORK(&p->work, sim_work_fn);
		queue_work(sim_wq, &p->work);
		break;
	case SIM_LLD_COMPL_SOFTIRQ:
		INIT_WORK(&p->work, sim_work_fn);
		queue_work(system_bh_wq, &p->work);
		break;
	default:
		hrtimer_init(&p->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
		p->timer.function = sim_timer_fn;
		hrtimer_start(&p->timer, ns_to_ktime(READ_ONCE(sh->delay_ns)),
			      HRTIMER_MODE_REL_HARD);
		break;
	}
}

/**
 * sim_lld_host_flush_dropped - complete withheld completions with an error
 * @sh: host
 *
 * The commands complete with SIM_LLD_RESULT_NODEV (reason "flushed").
 *
 * Return: how many were released.
 */
unsigned int sim_lld_host_flush_dropped(struct sim_lld_host *sh)
{
	struct sim_pend *p, *tmp;
	unsigned long flags;
	unsigned int n = 0;
	LIST_HEAD(list);

	spin_lock_irqsave(&sh->lock, flags);
	list_splice_init(&sh->dropped, &list);
	spin_unlock_irqrestore(&sh->lock, flags);

	list_for_each_entry_safe(p, tmp, &list, node) {
		struct sim_lld_cmd *sc = (void *)p->cmd->host_scribble;

		list_del(&p->node);
		atomic_dec(&sh->dropped_now);
		p->cmd->result = SIM_LLD_RESULT_NODEV;
		if (sc && sc->log.nr_chunks) {
			struct sim_lld_chunk *c;

			c = &sc->log.chunks[sc->log.nr_chunks - 1];
			if (c->reason == SIM_LLD_R_DROP) {
				c->reason = SIM_LLD_R_FLUSHED;
				c->result = SIM_LLD_RESULT_NODEV;
			}
		}
		if (sc && sc->log.resp_reason == SIM_LLD_R_DROP) {
			sc->log.resp_reason = SIM_LLD_R_FLUSHED;
			sc->log.resp_result = SIM_LLD_RESULT_NODEV;
		}
		sim_work_fn(&p->work);
		n++;
	}
	return n;
}
EXPORT_SYMBOL_GPL(sim_lld_host_flush_dropped);

static enum sim_lld_fault_type sim_fault_hit(struct sim_lld_host *sh,
					     bool resp, u32 call, u32 len)
{
	enum sim_lld_fault_type type = SIM_LLD_FAULT_NONE;
	struct sim_lld_fault *f = &sh->fault;
	unsigned long flags;

	spin_lock_irqsave(&sh->lock, flags);
	if (f->type != SIM_LLD_FAULT_NONE && f->times &&
	    f->resp == resp && (resp || f->chunk == call)) {
		type = f->type;
		if (f->times > 0)
			f->times--;
	}
	spin_unlock_irqrestore(&sh->lock, flags);
#ifdef CONFIG_FAULT_INJECTION
	if (type == SIM_LLD_FAULT_NONE && !resp &&
	    should_fail(&sim_fail_transfer, len))
		type = SIM_LLD_FAULT_FAIL;
#endif
	return type;
}

static struct sim_lld_chunk *sim_log_chunk(struct sim_lld_log *log)
{
	struct sim_lld_chunk *c;

	if (log->nr_chunks >= log->max_chunks) {
		log->overflow = true;
		return NULL;
	}
	c = &log->chunks[log->nr_chunks++];
	memset(c, 0, sizeof(*c));
	c->first_seg = log->nr_segs;
	return c;
}

static void sim_log_seg(struct sim_lld_log *log, struct sim_lld_chunk *c,
			u64 addr, u32 len)
{
	if (!c)
		return;
	if (log->nr_segs >= log->max_segs) {
		log->overflow = true;
		return;
	}
	log->segs[log->nr_segs].addr = addr;
	log->segs[log->nr_segs].length = len;
	log->nr_segs++;
	c->nsegs++;
}

/* keep the first reason found */
static void sim_set_reason(enum sim_lld_reason *r, enum sim_lld_reason v)
{
	if (*r == SIM_LLD_R_OK)
		*r = v;
}

static enum sim_lld_reason sim_check_chunk(struct scsi_cmnd *cmd,
					   const struct sim_lld_limits *lim,
					   struct sim_lld_cmd *sc,
					   struct sim_lld_chunk *c)
{
	u64 boundary = lim->v[SIM_LLD_KNOB_DMA_BOUNDARY];
	u32 len = scsi_bufflen(cmd);
	unsigned int nents = scsi_sg_count(cmd);
	enum sim_lld_reason r = SIM_LLD_R_OK;
	struct scatterlist *sg;
	u64 total = 0;
	unsigned int i;

	if (nents > lim->v[SIM_LLD_KNOB_SG_TABLESIZE])
		r = SIM_LLD_R_NENTS;
	for_each_sg(scsi_sglist(cmd), sg, nents, i) {
		u64 a = sg_phys(sg);
		u32 l = sg->length;

		if (sc)
			sim_log_seg(&sc->log, c, a, l);
		if (!l)
			sim_set_reason(&r, SIM_LLD_R_ZERO);
		else if ((a & ~boundary) != ((a + l - 1) & ~boundary))
			sim_set_reason(&r, SIM_LLD_R_BOUNDARY);
		if (l > lim->v[SIM_LLD_KNOB_MAX_SEGMENT_SIZE])
			sim_set_reason(&r, SIM_LLD_R_SEGSIZE);
		total += l;
	}
	if (total != len)
		sim_set_reason(&r, SIM_LLD_R_TOTAL);
	if (!len)
		sim_set_reason(&r, SIM_LLD_R_ZERO);
	if (len > (lim->v[SIM_LLD_KNOB_MAX_SECTORS] << SECTOR_SHIFT))
		sim_set_reason(&r, SIM_LLD_R_MAX_SECTORS);
	if (sc) {
		if (sc->log.overflow)
			sim_set_reason(&r, SIM_LLD_R_LOGFULL);
		if (cmd->offset != sc->next_off)
			sim_set_reason(&r, SIM_LLD_R_OFFSET);
		if ((u64)cmd->offset + len > sc->req.len)
			sim_set_reason(&r, SIM_LLD_R_OVERRUN);
	}
	return r;
}

static u32 sim_reason_result(enum sim_lld_reason r)
{
	switch (r) {
	case SIM_LLD_R_OK:
	case SIM_LLD_R_DROP:
		return SIM_LLD_RESULT_OK;
	case SIM_LLD_R_FAULT:
		return SIM_LLD_RESULT_FAULT;
	case SIM_LLD_R_NODEV:
	case SIM_LLD_R_FLUSHED:
		return SIM_LLD_RESULT_NODEV;
	default:
		return SIM_LLD_RESULT_LIMIT;
	}
}

static int sim_transfer_data(struct scsi_cmnd *cmd,
			     void (*done)(struct scsi_cmnd *cmd))
{
	struct Scsi_Host *shost = scsi_tgt_cmd_to_host(cmd);
	struct sim_shost *priv = shost_priv(shost);
	struct sim_lld_host *sh = priv->sh;
	struct sim_lld_cmd *sc = (void *)cmd->host_scribble;
	struct sim_lld_chunk *c = NULL;
	enum sim_lld_fault_type fault;
	enum sim_lld_reason r;
	u32 len = scsi_bufflen(cmd);
	u32 call;

	atomic64_inc(&sh->c_chunks);
	if (sc) {
		call = sc->calls++;
		c = sim_log_chunk(&sc->log);
		if (c) {
			c->offset = cmd->offset;
			c->length = len;
			c->nents = scsi_sg_count(cmd);
		}
	} else {
		call = atomic_inc_return(&sh->foreign_calls) - 1;
	}

	fault = sim_fault_hit(sh, false, call, len);
	if (fault == SIM_LLD_FAULT_BUSY) {
		atomic64_inc(&sh->c_busy);
		if (c)
			c->reason = SIM_LLD_R_BUSY;
		return SCSI_MLQUEUE_HOST_BUSY;
	}

	r = sim_check_chunk(cmd, &priv->lim, sc, c);
	if (r) {
		atomic64_inc(&sh->c_errors);
		pr_err_ratelimited("host%u: chunk %u off %u len %u nents %u violates %s\n",
				   sh->index, call, cmd->offset, len,
				   scsi_sg_count(cmd), sim_reason_names[r]);
	}
	if (!r && READ_ONCE(sh->removing))
		r = SIM_LLD_R_NODEV;
	if (!r && fault == SIM_LLD_FAULT_FAIL) {
		atomic64_inc(&sh->c_faults);
		r = SIM_LLD_R_FAULT;
	}
	if (!r && sc && sc->backing) {
		void *b = sc->backing + cmd->offset;

		if (cmd->sc_data_direction == DMA_TO_DEVICE)
			sg_copy_to_buffer(scsi_sglist(cmd), scsi_sg_count(cmd),
					  b, len);
		else if (cmd->sc_data_direction == DMA_FROM_DEVICE)
			sg_copy_from_buffer(scsi_sglist(cmd),
					    scsi_sg_count(cmd), b, len);
	}
	if (!r) {
		atomic64_add(len, &sh->c_bytes);
		if (sc)
			sc->next_off = cmd->offset + len;
	}
	if (!r && fault == SIM_LLD_FAULT_DROP)
		r = SIM_LLD_R_DROP;
	cmd->result = sim_reason_result(r);
	if (c) {
		c->reason = r;
		c->result = cmd->result;
	}
	sim_complete(sh, cmd, done, r == SIM_LLD_R_DROP);
	return 0;
}

static int sim_transfer_response(struct scsi_cmnd *cmd,
				 void (*done)(struct scsi_cmnd *cmd))
{
	struct Scsi_Host *shost = scsi_tgt_cmd_to_host(cmd);
	struct sim_shost *priv = shost_priv(shost);
	struct sim_lld_host *sh = priv->sh;
	struct sim_lld_cmd *sc = (void *)cmd->host_scribble;
	enum sim_lld_fault_type fault;
	enum sim_lld_reason r = SIM_LLD_R_OK;

	atomic64_inc(&sh->c_responses);
	if (sc) {
		sc->log.resp_seen = true;
		sc->log.resp_status = cmd->result;
	}
	fault = sim_fault_hit(sh, true, 0, 0);
	if (fault == SIM_LLD_FAULT_BUSY) {
		atomic64_inc(&sh->c_busy);
		if (sc)
			sc->log.resp_reason = SIM_LLD_R_BUSY;
		return SCSI_MLQUEUE_HOST_BUSY;
	}
	if (READ_ONCE(sh->removing)) {
		r = SIM_LLD_R_NODEV;
	} else if (fault == SIM_LLD_FAULT_FAIL) {
		atomic64_inc(&sh->c_faults);
		r = SIM_LLD_R_FAULT;
	} else if (fault == SIM_LLD_FAULT_DROP) {
		r = SIM_LLD_R_DROP;
	}
	cmd->result = sim_reason_result(r);
	if (sc) {
		sc->log.resp_reason = r;
		sc->log.resp_result = cmd->result;
	}
	sim_complete(sh, cmd, done, r == SIM_LLD_R_DROP);
	return 0;
}

/* no initiator devices: nothing is ever queued the initiator way */
static int sim_queuecommand(struct Scsi_Host *shost, struct scsi_cmnd *cmd)
{
	cmd->result = DID_NO_CONNECT << 16;
	scsi_done(cmd);
	return 0;
}

static const struct scsi_host_template sim_lld_template = {
	.module			= THIS_MODULE,
	.name			= "sim_lld",
	.proc_name		= "sim_lld",
	.queuecommand		= sim_queuecommand,
	.transfer_data		= sim_transfer_data,
	.transfer_response	= sim_transfer_response,
	.can_queue		= 64,
	.this_id		= -1,
	.sg_tablesize		= 128,
	.max_sectors		= 1024,
	.cmd_per_lun		= 16,
};

/* ------------------------------------------------------------------ */
/* command injection (the harness side of the target core)             */

static void sim_cmd_free(struct sim_lld_cmd *sc)
{
	struct sim_lld_host *sh = sc->sh;

	kvfree(sc->alloc);
	kvfree(sc->backing);
	kvfree(sc->log.chunks);
	kvfree(sc->log.segs);
	kfree(sc);
	atomic_dec(&sh->cmds_kept);
	sim_host_put(sh);
}

/* after the target core's done: verify, put the command, wake waiters */
static void sim_cmd_reap(struct work_struct *work)
{
	struct sim_lld_cmd *sc = container_of(work, struct sim_lld_cmd, reap);
	struct sim_lld_host *sh = sc->sh;
	unsigned long flags;
	bool orphan;

	sc->verify = SIM_LLD_VERIFY_SKIPPED;
	if (!sc->err && sc->req.len && sc->buf) {
		const void *dst = NULL;

		if (sc->req.dir == DMA_TO_DEVICE)
			dst = sc->backing;
		else if (sc->req.dir == DMA_FROM_DEVICE)
			dst = sc->buf;
		if (dst) {
			sc->mismatch = sim_lld_check_pattern(dst, sc->req.len,
							     sc->req.seed);
			sc->verify = sc->mismatch < 0 ? SIM_LLD_VERIFY_OK :
							SIM_LLD_VERIFY_MISMATCH;
			if (sc->mismatch >= 0) {
				atomic64_inc(&sh->c_verify_errors);
				pr_err_ratelimited("host%u: cmd %llu data mismatch at byte %lld\n",
						   sh->index, sc->id,
						   sc->mismatch);
			}
		}
	}
	if (sc->err || sc->verify == SIM_LLD_VERIFY_MISMATCH)
		atomic64_inc(&sh->c_cmds_failed);
	else
		atomic64_inc(&sh->c_cmds_ok);

	scsi_host_put_command(sc->shost, sc->cmd);
	sc->cmd = NULL;
	scsi_host_put(sc->shost);
	sc->shost = NULL;
	atomic_dec(&sh->dev_refs);
	kvfree(sc->alloc);
	sc->alloc = NULL;
	sc->buf = NULL;
	kvfree(sc->backing);
	sc->backing = NULL;
	atomic_dec(&sh->outstanding);
	wake_up(&sh->idle_wq);

	/*
	 * Under sh->lock, so that sim_lld_cmd_release() sees the command done
	 * only after the waiters were woken: it may free it at once then.
	 */
	spin_lock_irqsave(&sh->lock, flags);
	/* pairs with sim_cmd_done_p(): the results are written before */
	smp_store_release(&sc->state, SIM_LLD_CMD_DONE);
	complete_all(&sc->done);
	orphan = sc->orphan;
	if (orphan)
		list_del_init(&sc->node);
	spin_unlock_irqrestore(&sh->lock, flags);
	if (orphan)
		sim_cmd_free(sc);
}

static void sim_cmd_done(struct scsi_cmnd *cmd, int err, void *priv)
{
	struct sim_lld_cmd *sc = priv;

	sc->err = err;
	sc->result = cmd->result;
	queue_work(sim_wq, &sc->reap);
}

static int sim_cmd_alloc_bufs(struct sim_lld_cmd *sc)
{
	const struct sim_lld_req *req = &sc->req;
	size_t size = (size_t)req->len + req->align;
	u32 pages = DIV_ROUND_UP(size, PAGE_SIZE) + 1;

	sc->log.max_chunks = 2 * pages + 8;
	sc->log.max_segs = 5 * pages + 16;
	sc->log.chunks = kvcalloc(sc->log.max_chunks, sizeof(*sc->log.chunks),
				  GFP_KERNEL);
	sc->log.segs = kvcalloc(sc->log.max_segs, sizeof(*sc->log.segs),
				GFP_KERNEL);
	if (!sc->log.chunks || !sc->log.segs)
		return -ENOMEM;
	if (!req->len)
		return 0;

	if (req->flags & SIM_LLD_REQ_KMALLOC)
		sc->alloc = kmalloc(size, GFP_KERNEL | __GFP_NOWARN);
	else if (req->flags & SIM_LLD_REQ_VMALLOC)
		sc->alloc = vmalloc(size);
	else
		sc->alloc = kvmalloc(size, GFP_KERNEL);
	sc->backing = kvmalloc(req->len, GFP_KERNEL);
	if (!sc->alloc || !sc->backing)
		return -ENOMEM;
	sc->buf = sc->alloc + req->align;

	if (req->dir == DMA_FROM_DEVICE) {
		sim_lld_fill_pattern(sc->backing, req->len, req->seed, false);
		sim_lld_fill_pattern(sc->buf, req->len, req->seed, true);
	} else {
		sim_lld_fill_pattern(sc->buf, req->len, req->seed, false);
		sim_lld_fill_pattern(sc->backing, req->len, req->seed, true);
	}
	return 0;
}

static bool sim_shost_gone(struct Scsi_Host *shost)
{
	switch (READ_ONCE(shost->shost_state)) {
	case SHOST_CANCEL:
	case SHOST_DEL:
	case SHOST_CANCEL_RECOVERY:
	case SHOST_DEL_RECOVERY:
		return true;
	default:
		return false;
	}
}

static int sim_check_req(const struct sim_lld_req *req)
{
	if (req->dir != DMA_TO_DEVICE && req->dir != DMA_FROM_DEVICE &&
	    req->dir != DMA_NONE && req->dir != DMA_BIDIRECTIONAL)
		return -EINVAL;
	if (req->len > min(READ_ONCE(sim_max_cmd_len), SIM_LLD_MAX_CMD_LEN)) {
		pr_err_ratelimited("command length %u above max_cmd_len %u\n",
				   req->len, READ_ONCE(sim_max_cmd_len));
		return -EINVAL;
	}
	if (req->align >= PAGE_SIZE)
		return -EINVAL;
	if ((req->flags & SIM_LLD_REQ_KMALLOC) &&
	    (req->flags & SIM_LLD_REQ_VMALLOC))
		return -EINVAL;
	return 0;
}

/**
 * sim_lld_cmd_run - inject a command into the target core
 * @sh: host
 * @req: direction, length, pattern seed, flags
 * @owner: opaque owner tag (NULL for in-kernel users)
 * @out: the command, set when 0 or -ETIMEDOUT is returned
 *
 * Gets a command from the host, fills the buffers with the pattern,
 * queues it with scsi_tgt_queue_command() and, unless SIM_LLD_REQ_ASYNC,
 * waits for it. The data is verified and the command put in process
 * context when the target core completes it. The caller releases *out
 * with sim_lld_cmd_release().
 *
 * Return: 0 (command ran, or queued if async: see (*out)->err),
 * -ETIMEDOUT (still in flight), -EINVAL (bad request or refused by the
 * target core), -EBUSY (no tag with SIM_LLD_REQ_NOWAIT), -ENODEV (host
 * going away), -ENOMEM.
 */
int sim_lld_cmd_run(struct sim_lld_host *sh, const struct sim_lld_req *req,
		    void *owner, struct sim_lld_cmd **out)
{
	struct sim_lld_cmd *sc;
	struct Scsi_Host *shost;
	struct scsi_cmnd *cmd;
	unsigned long flags;
	unsigned int tmo;
	gfp_t gfp;
	int ret;

	*out = NULL;
	ret = sim_check_req(req);
	if (ret)
		return ret;
	sc = kzalloc(sizeof(*sc), GFP_KERNEL);
	if (!sc)
		return -ENOMEM;
	kref_get(&sh->kref);
	atomic_inc(&sh->cmds_kept);
	sc->sh = sh;
	sc->req = *req;
	sc->owner = owner;
	sc->mismatch = -1;
	sc->verify = SIM_LLD_VERIFY_SKIPPED;
	sc->state = SIM_LLD_CMD_PENDING;
	INIT_LIST_HEAD(&sc->node);
	init_completion(&sc->done);
	INIT_WORK(&sc->reap, sim_cmd_reap);
	ret = sim_cmd_alloc_bufs(sc);
	if (ret)
		goto free;

	mutex_lock(&sh->cfg_mutex);
	shost = sh->shost;
	if (sh->removing || !shost) {
		mutex_unlock(&sh->cfg_mutex);
		ret = -ENODEV;
		goto free;
	}
	if (!scsi_host_get(shost)) {
		mutex_unlock(&sh->cfg_mutex);
		ret = -ENODEV;
		goto free;
	}
	atomic_inc(&sh->dev_refs);
	atomic_inc(&sh->outstanding);
	mutex_unlock(&sh->cfg_mutex);

	gfp = (req->flags & SIM_LLD_REQ_NOWAIT) ? GFP_NOWAIT : GFP_KERNEL;
	cmd = scsi_host_get_command(shost, req->dir, gfp);
	if (!cmd) {
		if (sim_shost_gone(shost))
			ret = -ENODEV;
		else
			ret = (req->flags & SIM_LLD_REQ_NOWAIT) ? -EBUSY :
								  -ENOMEM;
		scsi_host_put(shost);
		atomic_dec(&sh->dev_refs);
		atomic_dec(&sh->outstanding);
		wake_up(&sh->idle_wq);
		goto free;
	}
	sc->shost = shost;
	sc->cmd = cmd;
	cmd->host_scribble = (void *)sc;

	spin_lock_irqsave(&sh->lock, flags);
	sc->id = ++sh->next_id;
	list_add_tail(&sc->node, &sh->cmds);
	spin_unlock_irqrestore(&sh->lock, flags);
	atomic64_inc(&sh->c_commands);

	ret = scsi_tgt_queue_command(cmd, sc->buf, req->len, sim_cmd_done, sc);
	if (ret) {
		/* refused, done will not be called: reap here */
		sc->err = ret;
		sim_cmd_reap(&sc->reap);
		*out = sc;
		return ret;
	}
	*out = sc;
	if (req->flags & SIM_LLD_REQ_ASYNC)
		return 0;
	tmo = req->timeout_ms ?: READ_ONCE(sim_cmd_timeout_ms);
	return sim_lld_cmd_wait(sc, tmo);

free:
	sim_cmd_free(sc);
	return ret;
}
EXPORT_SYMBOL_GPL(sim_lld_cmd_run);

/**
 * sim_lld_cmd_wait - wait for an injected command
 * @sc: command
 * @timeout_ms: how long
 *
 * Return: 0 when done (results valid), -ETIMEDOUT.
 */
int sim_lld_cmd_wait(struct sim_lld_cmd *sc, unsigned int timeout_ms)
{
	if (!wait_for_completion_timeout(&sc->done,
					 msecs_to_jiffies(timeout_ms))) {
		atomic64_inc(&sc->sh->c_timeouts);
		return -ETIMEDOUT;
	}
	return 0;
}
EXPORT_SYMBOL_GPL(sim_lld_cmd_wait);

/**
 * sim_lld_cmd_release - give up an injected command
 * @sc: command from sim_lld_cmd_run(), may be NULL
 *
 * Frees it now if it is done, else when the target core completes it.
 */
void sim_lld_cmd_release(struct sim_lld_cmd *sc)
{
	struct sim_lld_host *sh;
	unsigned long flags;
	bool done;

	if (!sc)
		return;
	sh = sc->sh;
	spin_lock_irqsave(&sh->lock, flags);
	done = sc->state == SIM_LLD_CMD_DONE;
	if (done)
		list_del_init(&sc->node);
	else
		sc->orphan = true;
	sc->owner = NULL;
	spin_unlock_irqrestore(&sh->lock, flags);
	if (done)
		sim_cmd_free(sc);
}
EXPORT_SYMBOL_GPL(sim_lld_cmd_release);

/* ------------------------------------------------------------------ */
/* debugfs                                                              */

#define SIM_WRITE_MAX	256

static char *sim_get_user_text(const char __user *ubuf, size_t count)
{
	if (!count || count > SIM_WRITE_MAX)
		return ERR_PTR(-EINVAL);
	return memdup_user_nul(ubuf, count);
}

static ssize_t sim_knob_read(struct file *file, char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	struct sim_knob_file *kf = file->private_data;
	struct sim_lld_limits lim;
	char buf[32];
	int len;

	sim_lld_host_get_limits(kf->sh, &lim);
	if (kf->knob == SIM_LLD_KNOB_DMA_BOUNDARY)
		len = scnprintf(buf, sizeof(buf), "0x%llx\n", lim.v[kf->knob]);
	else
		len = scnprintf(buf, sizeof(buf), "%llu\n", lim.v[kf->knob]);
	return simple_read_from_buffer(ubuf, count, ppos, buf, len);
}

static ssize_t sim_knob_write(struct file *file, const char __user *ubuf,
			      size_t count, loff_t *ppos)
{
	struct sim_knob_file *kf = file->private_data;
	char *buf;
	int ret;

	buf = sim_get_user_text(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = sim_lld_host_store_knob(kf->sh, kf->knob, buf);
	kfree(buf);
	return ret ?: count;
}

static const struct file_operations sim_knob_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.read = sim_knob_read,
	.write = sim_knob_write,
	.llseek = default_llseek,
};

static int sim_limits_show(struct seq_file *m, void *v)
{
	struct sim_lld_host *sh = m->private;
	struct sim_lld_limits lim;

	sim_lld_host_get_limits(sh, &lim);
	seq_printf(m, "sg_tablesize=%llu max_sectors=%llu max_segment_size=%llu dma_boundary=0x%llx can_queue=%llu\n",
		   lim.v[0], lim.v[1], lim.v[2], lim.v[3], lim.v[4]);
	return 0;
}

static int sim_limits_open(struct inode *inode, struct file *file)
{
	return single_open(file, sim_limits_show, inode->i_private);
}

/**
 * sim_lld_parse_limits - parse a write of the limits file
 * @buf: "key=value ..." (keys: the knob names), modified
 * @lim: the keys given are set, the others left as they are
 *
 * Return: 0, or -EINVAL for a token without '=', an unknown key or an
 * invalid value (@lim may be partly updated then).
 */
int sim_lld_parse_limits(char *buf, struct sim_lld_limits *lim)
{
	char *tok, *val;
	int k, ret;

	while ((tok = strsep(&buf, " \t\n")) != NULL) {
		if (!*tok)
			continue;
		val = strchr(tok, '=');
		if (!val) {
			pr_err("limits: expected key=value\n");
			return -EINVAL;
		}
		*val++ = '\0';
		for (k = 0; k < SIM_LLD_NR_KNOBS; k++)
			if (!strcmp(tok, sim_knobs[k].name))
				break;
		if (k == SIM_LLD_NR_KNOBS) {
			pr_err("limits: unknown key\n");
			return -EINVAL;
		}
		ret = sim_lld_parse_knob(k, val, &lim->v[k]);
		if (ret)
			return ret;
	}
	return 0;
}
EXPORT_SYMBOL_GPL(sim_lld_parse_limits);

static ssize_t sim_limits_write(struct file *file, const char __user *ubuf,
				size_t count, loff_t *ppos)
{
	struct sim_lld_host *sh = ((struct seq_file *)file->private_data)->private;
	struct sim_lld_limits lim;
	char *buf;
	int ret;

	buf = sim_get_user_text(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	sim_lld_host_get_limits(sh, &lim);
	ret = sim_lld_parse_limits(buf, &lim);
	kfree(buf);
	if (!ret)
		ret = sim_lld_host_set_limits(sh, &lim);
	return ret ?: count;
}

static const struct file_operations sim_limits_fops = {
	.owner = THIS_MODULE,
	.open = sim_limits_open,
	.read = seq_read,
	.write = sim_limits_write,
	.llseek = seq_lseek,
	.release = single_release,
};

static int sim_completion_show(struct seq_file *m, void *v)
{
	struct sim_lld_host *sh = m->private;

	seq_printf(m, "%s\n", sim_compl_names[READ_ONCE(sh->completion)]);
	return 0;
}

static int sim_completion_open(struct inode *inode, struct file *file)
{
	return single_open(file, sim_completion_show, inode->i_private);
}

static ssize_t sim_completion_write(struct file *file,
				    const char __user *ubuf, size_t count,
				    loff_t *ppos)
{
	struct sim_lld_host *sh = ((struct seq_file *)file->private_data)->private;
	char *buf;
	int mode;

	buf = sim_get_user_text(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	mode = sim_parse_completion(buf);
	kfree(buf);
	if (mode < 0)
		return mode;
	WRITE_ONCE(sh->completion, mode);
	return count;
}

static const struct file_operations sim_completion_fops = {
	.owner = THIS_MODULE,
	.open = sim_completion_open,
	.read = seq_read,
	.write = sim_completion_write,
	.llseek = seq_lseek,
	.release = single_release,
};

static const char * const sim_fault_names[] = {
	"none", "fail", "busy", "drop"
};

static int sim_fault_show(struct seq_file *m, void *v)
{
	struct sim_lld_host *sh = m->private;
	struct sim_lld_fault f;
	unsigned long flags;

	spin_lock_irqsave(&sh->lock, flags);
	f = sh->fault;
	spin_unlock_irqrestore(&sh->lock, flags);
	seq_printf(m, "type=%s chunk=%u resp=%d times=%d dropped=%d\n",
		   sim_fault_names[f.type], f.chunk, f.resp, f.times,
		   atomic_read(&sh->dropped_now));
	return 0;
}

static int sim_fault_open(struct inode *inode, struct file *file)
{
	return single_open(file, sim_fault_show, inode->i_private);
}

/**
 * sim_lld_parse_fault - parse a write of the fault file
 * @buf: "none" | "flush" | "fail|busy|drop chunk=N [times=K]" |
 *	 "fail|busy|drop resp [times=K]" (times -1 = every time), modified
 * @f: the fault, for all but "flush"
 * @flush: set for "flush"
 *
 * Return: 0 or -EINVAL.
 */
int sim_lld_parse_fault(char *buf, struct sim_lld_fault *f, bool *flush)
{
	bool have_target = false;
	char *tok;
	int i;

	memset(f, 0, sizeof(*f));
	f->times = 1;
	*flush = false;
	do {
		tok = strsep(&buf, " \t\n");
	} while (tok && !*tok);
	if (!tok)
		goto bad;
	if (!strcmp(tok, "flush")) {
		while ((tok = strsep(&buf, " \t\n")) != NULL)
			if (*tok)
				goto bad;
		*flush = true;
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(sim_fault_names); i++)
		if (!strcmp(tok, sim_fault_names[i]))
			break;
	if (i == ARRAY_SIZE(sim_fault_names))
		goto bad;
	f->type = i;
	while ((tok = strsep(&buf, " \t\n")) != NULL) {
		if (!*tok)
			continue;
		if (!strcmp(tok, "resp") && f->type != SIM_LLD_FAULT_NONE) {
			f->resp = true;
			have_target = true;
		} else if (!strncmp(tok, "chunk=", 6) &&
			   f->type != SIM_LLD_FAULT_NONE) {
			if (kstrtou32(tok + 6, 0, &f->chunk))
				goto bad;
			have_target = true;
		} else if (!strncmp(tok, "times=", 6) &&
			   f->type != SIM_LLD_FAULT_NONE) {
			if (kstrtoint(tok + 6, 0, &f->times) || f->times < -1)
				goto bad;
		} else {
			goto bad;
		}
	}
	if (f->type != SIM_LLD_FAULT_NONE && !have_target)
		goto bad;
	return 0;
bad:
	pr_err_ratelimited("fault: use none, flush, or fail|busy|drop chunk=N|resp [times=K]\n");
	return -EINVAL;
}
EXPORT_SYMBOL_GPL(sim_lld_parse_fault);

static ssize_t sim_fault_write(struct file *file, const char __user *ubuf,
			       size_t count, loff_t *ppos)
{
	struct sim_lld_host *sh = ((struct seq_file *)file->private_data)->private;
	struct sim_lld_fault f;
	bool flush;
	char *buf;
	int ret;

	buf = sim_get_user_text(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = sim_lld_parse_fault(buf, &f, &flush);
	kfree(buf);
	if (ret)
		return ret;
	if (flush)
		sim_lld_host_flush_dropped(sh);
	else
		sim_lld_host_set_fault(sh, &f);
	return count;
}

static const struct file_operations sim_fault_fops = {
	.owner = THIS_MODULE,
	.open = sim_fault_open,
	.read = seq_read,
	.write = sim_fault_write,
	.llseek = seq_lseek,
	.release = single_release,
};

static int sim_counters_show(struct seq_file *m, void *v)
{
	static const char * const names[] = SIM_LLD_COUNTER_NAMES;
	struct sim_lld_host *sh = m->private;
	struct sim_lld_counters c;
	const u64 *val = (const u64 *)&c;
	int i;

	BUILD_BUG_ON(sizeof(c) != ARRAY_SIZE(names) * sizeof(u64));
	sim_lld_host_counters(sh, &c);
	for (i = 0; i < ARRAY_SIZE(names); i++)
		seq_printf(m, "%s %llu\n", names[i], val[i]);
	return 0;
}

static int sim_counters_open(struct inode *inode, struct file *file)
{
	return single_open(file, sim_counters_show, inode->i_private);
}

static ssize_t sim_counters_write(struct file *file, const char __user *ubuf,
				  size_t count, loff_t *ppos)
{
	struct sim_lld_host *sh = ((struct seq_file *)file->private_data)->private;
	char *buf;
	bool ok;

	buf = sim_get_user_text(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ok = sysfs_streq(buf, "0") || sysfs_streq(buf, "reset");
	kfree(buf);
	if (!ok)
		return -EINVAL;
	atomic64_set(&sh->c_commands, 0);
	atomic64_set(&sh->c_chunks, 0);
	atomic64_set(&sh->c_bytes, 0);
	atomic64_set(&sh->c_responses, 0);
	atomic64_set(&sh->c_errors, 0);
	atomic64_set(&sh->c_faults, 0);
	atomic64_set(&sh->c_busy, 0);
	atomic64_set(&sh->c_dropped, 0);
	atomic64_set(&sh->c_cmds_ok, 0);
	atomic64_set(&sh->c_cmds_failed, 0);
	atomic64_set(&sh->c_timeouts, 0);
	atomic64_set(&sh->c_verify_errors, 0);
	atomic64_set(&sh->c_recreated, 0);
	return count;
}

static const struct file_operations sim_counters_fops = {
	.owner = THIS_MODULE,
	.open = sim_counters_open,
	.read = seq_read,
	.write = sim_counters_write,
	.llseek = seq_lseek,
	.release = single_release,
};

static int sim_host_no_show(struct seq_file *m, void *v)
{
	struct sim_lld_host *sh = m->private;
	struct Scsi_Host *shost;

	mutex_lock(&sh->cfg_mutex);
	shost = sh->shost;
	if (shost)
		seq_printf(m, "%u\n", shost->host_no);
	mutex_unlock(&sh->cfg_mutex);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(sim_host_no);

/* the cmd file: per open file state */
struct sim_fd {
	struct sim_lld_host *sh;	/* holds a reference */
	struct mutex lock;
	struct sim_lld_cmd *cur;
	bool summary;
	u32 waited, ok, failed, still_pending;
	char *text;
	size_t text_len;
};

static int sim_cmd_open(struct inode *inode, struct file *file)
{
	struct sim_lld_host *sh = inode->i_private;
	struct sim_fd *fd;

	fd = kzalloc(sizeof(*fd), GFP_KERNEL);
	if (!fd)
		return -ENOMEM;
	kref_get(&sh->kref);
	fd->sh = sh;
	mutex_init(&fd->lock);
	file->private_data = fd;
	return 0;
}

/* release a command of this fd unless it is async and not yet collected */
static void sim_fd_drop_cur(struct sim_fd *fd)
{
	struct sim_lld_cmd *sc = fd->cur;

	fd->cur = NULL;
	if (sc && (!(sc->req.flags & SIM_LLD_REQ_ASYNC) || sc->collected))
		sim_lld_cmd_release(sc);
}

static int sim_cmd_release_file(struct inode *inode, struct file *file)
{
	struct sim_fd *fd = file->private_data;
	struct sim_lld_host *sh = fd->sh;
	struct sim_lld_cmd *sc, *tmp;
	unsigned long flags;
	LIST_HEAD(mine);

	fd->cur = NULL;
	spin_lock_irqsave(&sh->lock, flags);
	list_for_each_entry_safe(sc, tmp, &sh->cmds, node) {
		if (sc->owner != fd)
			continue;
		sc->owner = NULL;
		if (sc->state == SIM_LLD_CMD_DONE)
			list_move(&sc->node, &mine);
		else
			sc->orphan = true;
	}
	spin_unlock_irqrestore(&sh->lock, flags);
	list_for_each_entry_safe(sc, tmp, &mine, node) {
		list_del_init(&sc->node);
		sim_cmd_free(sc);
	}
	kvfree(fd->text);
	kfree(fd);
	sim_host_put(sh);
	return 0;
}

static const char *sim_dir_name(enum dma_data_direction dir)
{
	switch (dir) {
	case DMA_TO_DEVICE:
		return "to";
	case DMA_FROM_DEVICE:
		return "from";
	case DMA_NONE:
		return "none";
	default:
		return "bidi";
	}
}

static int sim_parse_dir(const char *s, enum dma_data_direction *dir)
{
	if (!strcmp(s, "to"))
		*dir = DMA_TO_DEVICE;
	else if (!strcmp(s, "from"))
		*dir = DMA_FROM_DEVICE;
	else if (!strcmp(s, "none"))
		*dir = DMA_NONE;
	else if (!strcmp(s, "bidi"))
		*dir = DMA_BIDIRECTIONAL;
	else
		return -EINVAL;
	return 0;
}

/**
 * sim_lld_parse_req - parse a command request written to the cmd file
 * @buf: "dir=to|from|none|bidi len=N [seed=S] [align=A]
 *	 [buf=kvmalloc|kmalloc|vmalloc] [async] [nowait] [timeout_ms=T]",
 *	 modified
 * @req: the request
 *
 * Syntax only; sim_lld_cmd_run() checks the values (and refuses both
 * buf=kmalloc and buf=vmalloc; buf=kvmalloc clears both).
 *
 * Return: 0, or -EINVAL for a missing dir or len, an unknown token or a
 * value that is not a number.
 */
int sim_lld_parse_req(char *buf, struct sim_lld_req *req)
{
	bool have_dir = false, have_len = false;
	char *tok;
	int ret = 0;

	memset(req, 0, sizeof(*req));
	while (!ret && (tok = strsep(&buf, " \t\n")) != NULL) {
		if (!*tok)
			continue;
		if (!strncmp(tok, "dir=", 4)) {
			ret = sim_parse_dir(tok + 4, &req->dir);
			have_dir = true;
		} else if (!strncmp(tok, "len=", 4)) {
			ret = kstrtou32(tok + 4, 0, &req->len);
			have_len = true;
		} else if (!strncmp(tok, "seed=", 5)) {
			ret = kstrtou32(tok + 5, 0, &req->seed);
		} else if (!strncmp(tok, "align=", 6)) {
			ret = kstrtou32(tok + 6, 0, &req->align);
		} else if (!strncmp(tok, "timeout_ms=", 11)) {
			ret = kstrtou32(tok + 11, 0, &req->timeout_ms);
		} else if (!strcmp(tok, "buf=kmalloc")) {
			req->flags |= SIM_LLD_REQ_KMALLOC;
		} else if (!strcmp(tok, "buf=vmalloc")) {
			req->flags |= SIM_LLD_REQ_VMALLOC;
		} else if (!strcmp(tok, "buf=kvmalloc")) {
			req->flags &= ~(SIM_LLD_REQ_KMALLOC |
					SIM_LLD_REQ_VMALLOC);
		} else if (!strcmp(tok, "async")) {
			req->flags |= SIM_LLD_REQ_ASYNC;
		} else if (!strcmp(tok, "nowait")) {
			req->flags |= SIM_LLD_REQ_NOWAIT;
		} else {
			ret = -EINVAL;
		}
	}
	if (!ret && (!have_dir || !have_len))
		ret = -EINVAL;
	if (ret)
		pr_err_ratelimited("cmd: invalid request, see README.md\n");
	return ret ? -EINVAL : 0;
}
EXPORT_SYMBOL_GPL(sim_lld_parse_req);

/* "wait id=N [timeout_ms=T]" | "wait all [timeout_ms=T]" */
static int sim_fd_wait(struct sim_fd *fd, char *buf)
{
	struct sim_lld_host *sh = fd->sh;
	struct sim_lld_cmd *sc, *found = NULL;
	unsigned int tmo = READ_ONCE(sim_cmd_timeout_ms);
	unsigned long flags, end;
	bool all = false, have_id = false;
	u64 id = 0;
	char *tok;

	while ((tok = strsep(&buf, " \t\n")) != NULL) {
		if (!*tok)
			continue;
		if (!strcmp(tok, "all"))
			all = true;
		else if (!strncmp(tok, "id=", 3) && !kstrtou64(tok + 3, 0, &id))
			have_id = true;
		else if (strncmp(tok, "timeout_ms=", 11) ||
			 kstrtouint(tok + 11, 0, &tmo))
			return -EINVAL;
	}
	if (all == have_id) {
		pr_err_ratelimited("cmd: use wait id=N or wait all [timeout_ms=T]\n");
		return -EINVAL;
	}
	if (!all) {
		spin_lock_irqsave(&sh->lock, flags);
		list_for_each_entry(sc, &sh->cmds, node)
			if (sc->owner == fd && sc->id == id)
				found = sc;
		spin_unlock_irqrestore(&sh->lock, flags);
		if (!found)
			return -ENOENT;
		if (found != fd->cur)
			sim_fd_drop_cur(fd);
		found->collected = true;
		fd->cur = found;
		fd->summary = false;
		return sim_lld_cmd_wait(found, tmo);
	}

	/* all async commands of this fd: wait, count, release */
	sim_fd_drop_cur(fd);
	fd->summary = true;
	fd->waited = 0;
	fd->ok = 0;
	fd->failed = 0;
	fd->still_pending = 0;
	end = jiffies + msecs_to_jiffies(tmo);
	for (;;) {
		found = NULL;
		spin_lock_irqsave(&sh->lock, flags);
		list_for_each_entry(sc, &sh->cmds, node) {
			if (sc->owner == fd && !sc->collected) {
				found = sc;
				sc->collected = true;
				break;
			}
		}
		spin_unlock_irqrestore(&sh->lock, flags);
		if (!found)
			break;
		fd->waited++;
		if (!wait_for_completion_timeout(&found->done,
						 max_t(long, end - jiffies, 1))) {
			fd->still_pending++;
		} else if (found->err ||
			   found->verify == SIM_LLD_VERIFY_MISMATCH) {
			fd->failed++;
		} else {
			fd->ok++;
		}
		sim_lld_cmd_release(found);
	}
	return fd->still_pending ? -ETIMEDOUT : 0;
}

static ssize_t sim_cmd_write(struct file *file, const char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	struct sim_fd *fd = file->private_data;
	struct sim_lld_req req;
	struct sim_lld_cmd *sc;
	char *buf, *p;
	int ret;

	buf = sim_get_user_text(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	mutex_lock(&fd->lock);
	p = skip_spaces(buf);
	if (!strncmp(p, "wait", 4) && (!p[4] || isspace(p[4]))) {
		ret = sim_fd_wait(fd, p + 4);
		goto out;
	}
	ret = sim_lld_parse_req(p, &req);
	if (ret)
		goto out;
	ret = sim_lld_cmd_run(fd->sh, &req, fd, &sc);
	if (sc) {
		sim_fd_drop_cur(fd);
		fd->cur = sc;
		fd->summary = false;
	}
out:
	/* the next read renders the result of this write */
	*ppos = 0;
	mutex_unlock(&fd->lock);
	kfree(buf);
	return ret ?: count;
}

static bool sim_cmd_done_p(const struct sim_lld_cmd *sc)
{
	/*
	 * The log is stable only once the command is done: pairs with the
	 * smp_store_release() in sim_cmd_reap().
	 */
	return smp_load_acquire(&sc->state) == SIM_LLD_CMD_DONE;
}

/**
 * sim_lld_cmd_render_size - buffer size sim_lld_cmd_render() needs
 * @sc: command
 *
 * Return: the size, enough for the longest values of every field.
 */
size_t sim_lld_cmd_render_size(const struct sim_lld_cmd *sc)
{
	if (!sim_cmd_done_p(sc))
		return 256;
	return 256 + (size_t)sc->log.nr_chunks * 96 +
	       (size_t)sc->log.nr_segs * 64;
}
EXPORT_SYMBOL_GPL(sim_lld_cmd_render_size);

/**
 * sim_lld_cmd_render - the text a read of the cmd file gives for a command
 * @sc: command
 * @buf: output
 * @size: its size, see sim_lld_cmd_render_size()
 *
 * A command in flight is one SIM_LLD_CMD_FMT line with state=pending; a
 * finished one is followed by its log (SIM_LLD_CHUNK_FMT and SIM_LLD_SEG_FMT
 * lines, SIM_LLD_RESP_FMT if the response was sent).
 *
 * Return: the length of the text (without the NUL).
 */
size_t sim_lld_cmd_render(const struct sim_lld_cmd *sc, char *buf,
			  size_t size)
{
	const struct sim_lld_log *log = &sc->log;
	size_t n;
	u32 i, j;

	if (!sim_cmd_done_p(sc))
		return scnprintf(buf, size, SIM_LLD_CMD_FMT, sc->id,
				 sim_state_names[SIM_LLD_CMD_PENDING],
				 sim_dir_name(sc->req.dir), sc->req.len,
				 sc->req.seed, 0, 0, SIM_LLD_VERIFY_SKIPPED,
				 -1LL, 0, 0);

	n = scnprintf(buf, size, SIM_LLD_CMD_FMT, sc->id,
		      sim_state_names[SIM_LLD_CMD_DONE],
		      sim_dir_name(sc->req.dir), sc->req.len, sc->req.seed,
		      sc->err, sc->result, sc->verify, sc->mismatch,
		      log->nr_chunks, log->overflow);
	for (i = 0; i < log->nr_chunks; i++) {
		const struct sim_lld_chunk *c = &log->chunks[i];

		n += scnprintf(buf + n, size - n, SIM_LLD_CHUNK_FMT, i,
			       c->offset, c->length, c->nents, c->result,
			       sim_reason_names[c->reason]);
		for (j = 0; j < c->nsegs; j++) {
			const struct sim_lld_seg *sg;

			sg = &log->segs[c->first_seg + j];
			n += scnprintf(buf + n, size - n, SIM_LLD_SEG_FMT, j,
				       sg->length, sg->addr);
		}
	}
	if (log->resp_seen)
		n += scnprintf(buf + n, size - n, SIM_LLD_RESP_FMT,
			       log->resp_status, log->resp_result,
			       sim_reason_names[log->resp_reason]);
	return n;
}
EXPORT_SYMBOL_GPL(sim_lld_cmd_render);

static ssize_t sim_cmd_read(struct file *file, char __user *ubuf,
			    size_t count, loff_t *ppos)
{
	struct sim_fd *fd = file->private_data;
	struct sim_lld_cmd *sc;
	ssize_t ret;
	size_t size;

	mutex_lock(&fd->lock);
	sc = fd->cur;
	if (*ppos == 0) {
		kvfree(fd->text);
		fd->text = NULL;
		fd->text_len = 0;
		if (fd->summary)
			size = 128;
		else if (sc)
			size = sim_lld_cmd_render_size(sc);
		else
			size = 0;
		if (size) {
			fd->text = kvmalloc(size, GFP_KERNEL);
			if (!fd->text) {
				ret = -ENOMEM;
				goto out;
			}
		}
		if (fd->summary)
			fd->text_len = scnprintf(fd->text, size,
						 SIM_LLD_WAITALL_FMT,
						 fd->waited, fd->ok,
						 fd->failed,
						 fd->still_pending);
		else if (sc)
			fd->text_len = sim_lld_cmd_render(sc, fd->text, size);
	}
	ret = simple_read_from_buffer(ubuf, count, ppos, fd->text,
				      fd->text_len);
out:
	mutex_unlock(&fd->lock);
	return ret;
}

static const struct file_operations sim_cmd_fops = {
	.owner = THIS_MODULE,
	.open = sim_cmd_open,
	.read = sim_cmd_read,
	.write = sim_cmd_write,
	.release = sim_cmd_release_file,
	.llseek = default_llseek,
};

static void sim_debugfs_add_host(struct sim_lld_host *sh)
{
	struct dentry *d;
	char name[16];
	int k;

	snprintf(name, sizeof(name), "host%u", sh->index);
	d = debugfs_create_dir(name, sim_debugfs_root);
	sh->dir = d;
	for (k = 0; k < SIM_LLD_NR_KNOBS; k++) {
		sh->knob_files[k].sh = sh;
		sh->knob_files[k].knob = k;
		debugfs_create_file(sim_knobs[k].name, 0600, d,
				    &sh->knob_files[k], &sim_knob_fops);
	}
	debugfs_create_file(SIM_LLD_F_LIMITS, 0600, d, sh, &sim_limits_fops);
	debugfs_create_file(SIM_LLD_F_COMPLETION, 0600, d, sh,
			    &sim_completion_fops);
	debugfs_create_u32(SIM_LLD_F_COMPLETION_DELAY, 0600, d, &sh->delay_ns);
	debugfs_create_file(SIM_LLD_F_FAULT, 0600, d, sh, &sim_fault_fops);
	debugfs_create_file(SIM_LLD_F_CMD, 0600, d, sh, &sim_cmd_fops);
	debugfs_create_file(SIM_LLD_F_COUNTERS, 0600, d, sh,
			    &sim_counters_fops);
	debugfs_create_file(SIM_LLD_F_HOST_NO, 0400, d, sh, &sim_host_no_fops);
}

static ssize_t sim_add_host_read(struct file *file, char __user *ubuf,
				 size_t count, loff_t *ppos)
{
	char buf[16];
	int len;

	mutex_lock(&sim_hosts_lock);
	len = scnprintf(buf, sizeof(buf), "%u\n", sim_nr_hosts);
	mutex_unlock(&sim_hosts_lock);
	return simple_read_from_buffer(ubuf, count, ppos, buf, len);
}

static ssize_t sim_add_host_write(struct file *file, const char __user *ubuf,
				  size_t count, loff_t *ppos)
{
	struct sim_lld_host *sh;
	char *buf;
	int n, ret;

	buf = sim_get_user_text(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = kstrtoint(buf, 0, &n);
	kfree(buf);
	if (ret || n < -SIM_LLD_MAX_HOSTS || n > SIM_LLD_MAX_HOSTS) {
		pr_err("add_host: expected a count in [-%d, %d]\n",
		       SIM_LLD_MAX_HOSTS, SIM_LLD_MAX_HOSTS);
		return -EINVAL;
	}
	for (; n > 0; n--) {
		sh = sim_lld_host_add(NULL);
		if (IS_ERR(sh))
			return PTR_ERR(sh);
	}
	for (; n < 0; n++) {
		ret = sim_remove_host_by_index(-1);
		if (ret)
			return ret;
	}
	return count;
}

static const struct file_operations sim_add_host_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.read = sim_add_host_read,
	.write = sim_add_host_write,
	.llseek = default_llseek,
};

static ssize_t sim_remove_host_write(struct file *file,
				     const char __user *ubuf, size_t count,
				     loff_t *ppos)
{
	unsigned int idx;
	char *buf;
	int ret;

	buf = sim_get_user_text(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = kstrtouint(buf, 0, &idx);
	kfree(buf);
	if (ret || idx >= SIM_LLD_MAX_HOSTS) {
		pr_err("remove_host: expected a host index\n");
		return -EINVAL;
	}
	ret = sim_remove_host_by_index(idx);
	return ret ?: count;
}

static const struct file_operations sim_remove_host_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = sim_remove_host_write,
	.llseek = default_llseek,
};

static int sim_hosts_show(struct seq_file *m, void *v)
{
	struct sim_lld_host *sh;

	mutex_lock(&sim_hosts_lock);
	list_for_each_entry(sh, &sim_hosts, list) {
		mutex_lock(&sh->cfg_mutex);
		if (sh->shost)
			seq_printf(m, "%u %u\n", sh->index,
				   sh->shost->host_no);
		mutex_unlock(&sh->cfg_mutex);
	}
	mutex_unlock(&sim_hosts_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(sim_hosts);

/* ------------------------------------------------------------------ */
/* module                                                               */

static int __init sim_lld_init(void)
{
	unsigned int i;
	int ret;

	BUILD_BUG_ON((DID_ERROR << 16) != SIM_LLD_RESULT_LIMIT);
	BUILD_BUG_ON((DID_BAD_TARGET << 16) != SIM_LLD_RESULT_FAULT);
	BUILD_BUG_ON((DID_NO_CONNECT << 16) != SIM_LLD_RESULT_NODEV);
	BUILD_BUG_ON(ARRAY_SIZE(sim_reason_names) != SIM_LLD_R_NR);
	BUILD_BUG_ON(ARRAY_SIZE(sim_compl_names) != SIM_LLD_COMPL_NR);

	if (sim_num_hosts > SIM_LLD_MAX_HOSTS) {
		pr_err("num_hosts=%u invalid: at most %d\n", sim_num_hosts,
		       SIM_LLD_MAX_HOSTS);
		return -EINVAL;
	}
	sim_wq = alloc_workqueue("sim_lld", WQ_MEM_RECLAIM, 0);
	if (!sim_wq)
		return -ENOMEM;
	sim_root_dev = root_device_register("sim_lld");
	if (IS_ERR(sim_root_dev)) {
		ret = PTR_ERR(sim_root_dev);
		goto free_wq;
	}
	sim_debugfs_root = debugfs_create_dir("sim_lld", NULL);
	debugfs_create_file(SIM_LLD_F_ADD_HOST, 0600, sim_debugfs_root, NULL,
			    &sim_add_host_fops);
	debugfs_create_file(SIM_LLD_F_REMOVE_HOST, 0200, sim_debugfs_root,
			    NULL, &sim_remove_host_fops);
	debugfs_create_file(SIM_LLD_F_HOSTS, 0400, sim_debugfs_root, NULL,
			    &sim_hosts_fops);
#ifdef CONFIG_FAULT_INJECTION_DEBUG_FS
	fault_create_debugfs_attr("fail_transfer", sim_debugfs_root,
				  &sim_fail_transfer);
#endif
	for (i = 0; i < sim_num_hosts; i++) {
		struct sim_lld_host *sh = sim_lld_host_add(NULL);

		if (IS_ERR(sh)) {
			ret = PTR_ERR(sh);
			pr_err("adding host %u failed: %d\n", i, ret);
			goto remove;
		}
	}
	pr_info("version %s, %u hosts\n", SIM_LLD_VERSION, sim_num_hosts);
	return 0;

remove:
	while (!sim_remove_host_by_index(-1))
		;
	debugfs_remove(sim_debugfs_root);
	root_device_unregister(sim_root_dev);
free_wq:
	destroy_workqueue(sim_wq);
	return ret;
}

static void __exit sim_lld_exit(void)
{
	while (!sim_remove_host_by_index(-1))
		;
	/* let hardirq/softirq completion handlers return */
	synchronize_rcu();
	debugfs_remove(sim_debugfs_root);
	destroy_workqueue(sim_wq);
	root_device_unregister(sim_root_dev);
}

module_init(sim_lld_init);
module_exit(sim_lld_exit);

MODULE_DESCRIPTION("Simulated target-mode SCSI LLD for tgtsim");
MODULE_AUTHOR("tgtsim developers");
MODULE_LICENSE("GPL");
MODULE_VERSION(SIM_LLD_VERSION);
