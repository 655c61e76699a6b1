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
 *
 * This file: the limit knobs, the module parameters, the hosts (creation,
 * re-creation with new limits, removal) and the module's init and exit.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/blk-mq.h>
#include <linux/device.h>
#include <linux/idr.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/rcupdate.h>
#include <linux/sbitmap.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/workqueue.h>
#include <kunit/visibility.h>

#include <scsi/scsi.h>
#include <scsi/scsi_host.h>
#include <scsi/scsi_tgt.h>

#include "sim_lld_priv.h"

const struct sim_knob_desc sim_lld_knobs[SIM_LLD_NR_KNOBS] = {
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

const char * const sim_lld_compl_names[SIM_LLD_COMPL_NR] =
	SIM_LLD_COMPLETION_NAMES;
const char * const sim_lld_reason_names[SIM_LLD_R_NR] = SIM_LLD_REASON_NAMES;

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
static bool sim_def_copy = true;
unsigned int sim_lld_max_cmd_len = 16U << 20;
unsigned int sim_lld_cmd_timeout_ms = 10000;

/* sim_lld_hosts and sim_nr_hosts */
DEFINE_MUTEX(sim_lld_hosts_lock);
LIST_HEAD(sim_lld_hosts);
static unsigned int sim_nr_hosts;
static DEFINE_IDA(sim_ida);
static atomic_t sim_live_shosts = ATOMIC_INIT(0);
struct workqueue_struct *sim_lld_wq;
static struct device *sim_root_dev;

/* ------------------------------------------------------------------ */
/* knobs and module parameters                                          */

/*
 * sim_check_knob - validate a limit
 * @k: the knob
 * @v: the value
 *
 * Return: 0 or -EINVAL (with a kernel message saying why).
 */
static int sim_check_knob(enum sim_lld_knob k, u64 v)
{
	const struct sim_knob_desc *d;

	if (k >= SIM_LLD_NR_KNOBS)
		return -EINVAL;
	d = &sim_lld_knobs[k];
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
		const struct sim_knob_desc *d = &sim_lld_knobs[k];

		pr_err("%s='%.*s' invalid: not a decimal or 0x hex number in [%llu, %llu]\n",
		       d->name, (int)min_t(size_t, strcspn(buf, "\n"), 32),
		       buf, d->min, d->max);
		return -EINVAL;
	}
	return sim_check_knob(k, *v);
}

static int sim_check_limits(const struct sim_lld_limits *lim)
{
	int k, ret;

	for (k = 0; k < SIM_LLD_NR_KNOBS; k++) {
		ret = sim_check_knob(k, lim->v[k]);
		if (ret)
			return ret;
	}
	return 0;
}

/**
 * sim_lld_default_limits - the limits new hosts get (module parameters)
 * @lim: filled in
 */
VISIBLE_IF_KUNIT void sim_lld_default_limits(struct sim_lld_limits *lim)
{
	int k;

	for (k = 0; k < SIM_LLD_NR_KNOBS; k++)
		lim->v[k] = READ_ONCE(sim_def[k]);
}
EXPORT_SYMBOL_IF_KUNIT(sim_lld_default_limits);

/**
 * sim_lld_set_default_knob - set the default of a limit for new hosts
 * @k: the knob
 * @buf: NUL-terminated text, as for the module parameter of the same name
 *
 * Return: 0, or -EINVAL (with a kernel message) leaving the default as it
 * was.
 */
VISIBLE_IF_KUNIT int sim_lld_set_default_knob(enum sim_lld_knob k,
					      const char *buf)
{
	u64 v;
	int ret;

	ret = sim_lld_parse_knob(k, buf, &v);
	if (ret)
		return ret;
	WRITE_ONCE(sim_def[k], v);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(sim_lld_set_default_knob);

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

int sim_lld_parse_completion(const char *buf)
{
	int i;

	for (i = 0; i < SIM_LLD_COMPL_NR; i++)
		if (sysfs_streq(buf, sim_lld_compl_names[i]))
			return i;
	pr_err("completion: invalid mode, use inline, workqueue, softirq or hrtimer\n");
	return -EINVAL;
}

static int sim_param_compl_set(const char *val, const struct kernel_param *kp)
{
	int mode = sim_lld_parse_completion(val);

	if (mode < 0)
		return mode;
	WRITE_ONCE(sim_def_completion, mode);
	return 0;
}

static int sim_param_compl_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n",
			  sim_lld_compl_names[READ_ONCE(sim_def_completion)]);
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
module_param_named(copy, sim_def_copy, bool, 0644);
MODULE_PARM_DESC(copy,
		 "default data handling: copy each chunk (Y) or complete it without copying (N, benchmarks) (def=Y)");
module_param_named(max_cmd_len, sim_lld_max_cmd_len, uint, 0644);
MODULE_PARM_DESC(max_cmd_len,
		 "largest injected command in bytes (def=16 MiB, cap 64 MiB)");
module_param_named(cmd_timeout_ms, sim_lld_cmd_timeout_ms, uint, 0644);
MODULE_PARM_DESC(cmd_timeout_ms,
		 "default wait for a synchronous command in ms (def=10000)");

/* ------------------------------------------------------------------ */
/* host objects                                                         */

static void sim_host_release(struct kref *kref)
{
	struct sim_lld_host *sh = container_of(kref, struct sim_lld_host,
					       kref);

	ida_free(&sim_ida, sh->index);
	kfree(sh);
}

void sim_lld_host_put(struct sim_lld_host *sh)
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
 * sim_lld_nr_hosts - number of sim_lld hosts
 *
 * Return: the hosts added (at load, by add_host or sim_lld_host_add())
 * and not yet removed.
 */
unsigned int sim_lld_nr_hosts(void)
{
	unsigned int n;

	mutex_lock(&sim_lld_hosts_lock);
	n = sim_nr_hosts;
	mutex_unlock(&sim_lld_hosts_lock);
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(sim_lld_nr_hosts);

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
	sh->copy = READ_ONCE(sim_def_copy);

	ret = sim_check_limits(&sh->lim);
	if (ret) {
		kfree(sh);
		return ERR_PTR(ret);
	}

	mutex_lock(&sim_lld_hosts_lock);
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
	sim_lld_debugfs_add_host(sh);
	list_add_tail(&sh->list, &sim_lld_hosts);
	sim_nr_hosts++;
	mutex_unlock(&sim_lld_hosts_lock);
	pr_debug("host%u added as scsi host%u\n", sh->index, shost->host_no);
	return sh;

unlock:
	mutex_unlock(&sim_lld_hosts_lock);
	kfree(sh);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_IF_KUNIT(sim_lld_host_add);

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
	sim_lld_debugfs_remove_host(sh);
	/* every command is reaped (done) when this returns */
	flush_workqueue(sim_lld_wq);

	/*
	 * Commands still on sh->cmds belong to someone: an in-kernel caller
	 * that has not called sim_lld_cmd_release() yet, or an open cmd file.
	 * Each holds a reference on sh and is freed by its holder.
	 */
	sim_lld_host_put(sh);
}

int sim_lld_remove_host_by_index(int index)
{
	struct sim_lld_host *sh, *found = NULL;

	mutex_lock(&sim_lld_hosts_lock);
	list_for_each_entry_reverse(sh, &sim_lld_hosts, list) {
		if (index < 0 || sh->index == index) {
			found = sh;
			break;
		}
	}
	if (found) {
		list_del_init(&found->list);
		sim_nr_hosts--;
	}
	mutex_unlock(&sim_lld_hosts_lock);
	if (!found)
		return -ENODEV;
	sim_host_teardown(found);
	return 0;
}

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
EXPORT_SYMBOL_IF_KUNIT(sim_lld_host_get_limits);

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

	ret = sim_check_limits(lim);
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
EXPORT_SYMBOL_IF_KUNIT(sim_lld_host_set_limits);

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
EXPORT_SYMBOL_IF_KUNIT(sim_lld_host_store_knob);

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
	WRITE_ONCE(sh->fault_armed, f->type != SIM_LLD_FAULT_NONE && f->times);
	atomic_set(&sh->foreign_calls, 0);
	spin_unlock_irqrestore(&sh->lock, flags);
}
EXPORT_SYMBOL_IF_KUNIT(sim_lld_host_set_fault);

/**
 * sim_lld_host_set_sense - answer responses with sense data, or stop
 * @sh: host
 * @s: the sense; s->on false: plain GOOD responses again
 */
void sim_lld_host_set_sense(struct sim_lld_host *sh,
			    const struct sim_lld_sense *s)
{
	unsigned long flags;

	spin_lock_irqsave(&sh->lock, flags);
	sh->sense = *s;
	WRITE_ONCE(sh->sense_on, s->on);
	spin_unlock_irqrestore(&sh->lock, flags);
}
EXPORT_SYMBOL_IF_KUNIT(sim_lld_host_set_sense);

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
EXPORT_SYMBOL_IF_KUNIT(sim_lld_host_counters);

/* zero the cumulative counters (the gauges are the host's state) */
void sim_lld_host_reset_counters(struct sim_lld_host *sh)
{
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
}

#if IS_ENABLED(CONFIG_KUNIT)
/* only the KUnit suites use these: they observe or drive hosts directly */

/**
 * sim_lld_host_remove - remove a host (also with commands in flight)
 * @sh: host from sim_lld_host_add()
 *
 * Commands in flight complete (withheld completions with an error) and
 * are put before this returns; @sh must not be used afterwards.
 */
void sim_lld_host_remove(struct sim_lld_host *sh)
{
	mutex_lock(&sim_lld_hosts_lock);
	list_del_init(&sh->list);
	sim_nr_hosts--;
	mutex_unlock(&sim_lld_hosts_lock);
	sim_host_teardown(sh);
}
EXPORT_SYMBOL_IF_KUNIT(sim_lld_host_remove);

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
EXPORT_SYMBOL_IF_KUNIT(sim_lld_host_shost);

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
EXPORT_SYMBOL_IF_KUNIT(sim_lld_host_set_completion);

/**
 * sim_lld_host_set_copy - copy the data of chunks, or only complete them
 * @sh: host
 * @copy: true: copy each chunk between its scatterlist and the backing
 *	buffer (the default); false: check and complete chunks without
 *	touching their data, so that a benchmark sees the target core's own
 *	cost apart from the LLD's copy
 *
 * An injected command that had a chunk completed without copying is not
 * verified (SIM_LLD_VERIFY_SKIPPED).
 */
void sim_lld_host_set_copy(struct sim_lld_host *sh, bool copy)
{
	WRITE_ONCE(sh->copy, copy);
}
EXPORT_SYMBOL_IF_KUNIT(sim_lld_host_set_copy);

/**
 * sim_lld_host_set_store - backing buffer of commands sim_lld did not inject
 * @sh: host, idle (no transfer of such a command in flight)
 * @buf: buffer, NULL for none (the default: their data is not copied)
 * @len: its length
 *
 * The chunks of commands that others (an in-kernel user of the target
 * core, such as a benchmark) queue on the host's Scsi_Host are copied to
 * (DMA_TO_DEVICE) or from (DMA_FROM_DEVICE) @buf at cmd->offset while copy
 * is on; a chunk beyond @len fails with the reason "overrun".
 */
void sim_lld_host_set_store(struct sim_lld_host *sh, void *buf, u32 len)
{
	WRITE_ONCE(sh->store_len, 0);
	WRITE_ONCE(sh->store, buf);
	WRITE_ONCE(sh->store_len, buf ? len : 0);
}
EXPORT_SYMBOL_IF_KUNIT(sim_lld_host_set_store);

/**
 * sim_lld_live_shosts - Scsi_Hosts created and not yet removed
 *
 * Return: the count, for leak checks.
 */
unsigned int sim_lld_live_shosts(void)
{
	return atomic_read(&sim_live_shosts);
}
EXPORT_SYMBOL_IF_KUNIT(sim_lld_live_shosts);

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
EXPORT_SYMBOL_IF_KUNIT(sim_lld_root_refs);

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

	mutex_lock(&sim_lld_hosts_lock);
	list_for_each_entry(sh, &sim_lld_hosts, list) {
		if (sh->index == index) {
			sim_lld_host_get_limits(sh, lim);
			ret = 0;
			break;
		}
	}
	mutex_unlock(&sim_lld_hosts_lock);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(sim_lld_limits_by_index);
#endif /* CONFIG_KUNIT */

/* ------------------------------------------------------------------ */
/* module                                                               */

static int __init sim_lld_init(void)
{
	unsigned int i;
	int ret;

	BUILD_BUG_ON((DID_ERROR << 16) != SIM_LLD_RESULT_LIMIT);
	BUILD_BUG_ON((DID_BAD_TARGET << 16) != SIM_LLD_RESULT_FAULT);
	BUILD_BUG_ON((DID_NO_CONNECT << 16) != SIM_LLD_RESULT_NODEV);

	if (sim_num_hosts > SIM_LLD_MAX_HOSTS) {
		pr_err("num_hosts=%u invalid: at most %d\n", sim_num_hosts,
		       SIM_LLD_MAX_HOSTS);
		return -EINVAL;
	}
	sim_lld_wq = alloc_workqueue("sim_lld", WQ_MEM_RECLAIM, 0);
	if (!sim_lld_wq)
		return -ENOMEM;
	sim_root_dev = root_device_register("sim_lld");
	if (IS_ERR(sim_root_dev)) {
		ret = PTR_ERR(sim_root_dev);
		goto free_wq;
	}
	sim_lld_debugfs_init();
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
	while (!sim_lld_remove_host_by_index(-1))
		;
	sim_lld_debugfs_exit();
	root_device_unregister(sim_root_dev);
free_wq:
	destroy_workqueue(sim_lld_wq);
	return ret;
}

static void __exit sim_lld_exit(void)
{
	while (!sim_lld_remove_host_by_index(-1))
		;
	/* let hardirq/softirq completion handlers return */
	synchronize_rcu();
	sim_lld_debugfs_exit();
	destroy_workqueue(sim_lld_wq);
	root_device_unregister(sim_root_dev);
}

module_init(sim_lld_init);
module_exit(sim_lld_exit);

MODULE_DESCRIPTION("Simulated target-mode SCSI LLD for tgtsim");
MODULE_AUTHOR("tgtsim developers");
MODULE_LICENSE("GPL");
MODULE_VERSION(SIM_LLD_VERSION);
