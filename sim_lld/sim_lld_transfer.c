// SPDX-License-Identifier: GPL-2.0
/*
 * sim_lld - the data path: the LLD's transfer_data() and
 * transfer_response() (limit checks, transfer log, data copy, completion
 * inline, from a workqueue, softirq or hrtimer, injected faults) and the
 * commands sim_lld injects into the target core for its users.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cacheflush.h>
#include <linux/fault-inject.h>
#include <linux/highmem.h>
#include <linux/hrtimer.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/unaligned.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>
#include <kunit/visibility.h>

#include <scsi/scsi.h>
#include <scsi/scsi_cmnd.h>
#include <scsi/scsi_host.h>
#include <scsi/scsi_tgt.h>

#include "sim_lld_priv.h"

#ifdef CONFIG_FAULT_INJECTION
DECLARE_FAULT_ATTR(sim_lld_fail_transfer);
#endif

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
VISIBLE_IF_KUNIT void sim_lld_fill_pattern(void *buf, size_t len, u32 seed,
					   bool invert)
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
EXPORT_SYMBOL_IF_KUNIT(sim_lld_fill_pattern);

/**
 * sim_lld_check_pattern - compare a buffer with the pattern of a seed
 * @buf: buffer
 * @len: its length
 * @seed: pattern seed
 *
 * Return: -1 if it matches, else the offset of the first wrong byte.
 */
VISIBLE_IF_KUNIT s64 sim_lld_check_pattern(const void *buf, size_t len,
					   u32 seed)
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
EXPORT_SYMBOL_IF_KUNIT(sim_lld_check_pattern);

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
	/*
	 * Only a host removal waits on idle_wq: do not take its lock for
	 * every chunk. The full barrier of wq_has_sleeper() pairs with the
	 * one of the waiter's prepare_to_wait_event(), so either the waiter
	 * sees the new counts or this sees the waiter.
	 */
	if (wq_has_sleeper(&sh->idle_wq))
		wake_up(&sh->idle_wq);
	/* last use of sh by this completion; our reference pins sh */
	sim_lld_host_put(sh);
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
		queue_work(sim_lld_wq, &p->work);
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
EXPORT_SYMBOL_IF_KUNIT(sim_lld_host_flush_dropped);

static enum sim_lld_fault_type sim_fault_hit(struct sim_lld_host *sh,
					     bool resp, u32 call, u32 len)
{
	enum sim_lld_fault_type type = SIM_LLD_FAULT_NONE;
	struct sim_lld_fault *f = &sh->fault;
	unsigned long flags;

	/* nothing armed (the data path's usual case): no lock */
	if (READ_ONCE(sh->fault_armed)) {
		spin_lock_irqsave(&sh->lock, flags);
		if (f->type != SIM_LLD_FAULT_NONE && f->times &&
		    f->resp == resp && (resp || f->chunk == call)) {
			type = f->type;
			if (f->times > 0 && !--f->times)
				WRITE_ONCE(sh->fault_armed, false);
		}
		spin_unlock_irqrestore(&sh->lock, flags);
	}
#ifdef CONFIG_FAULT_INJECTION
	/*
	 * Only when fail_transfer is configured: a task's fail_nth (a sweep
	 * over allocations) would count it as a failure point otherwise.
	 */
	if (type == SIM_LLD_FAULT_NONE && !resp &&
	    READ_ONCE(sim_lld_fail_transfer.probability) &&
	    should_fail(&sim_lld_fail_transfer, len))
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

/*
 * Copy @len bytes between a chunk's scatterlist and @buf, a segment at a
 * time, as a DMA engine moves a segment: one memcpy() per segment where
 * every page is in the direct map and a CPU write needs no cache flush;
 * elsewhere page by page through sg_copy_*() (kmap, flush_dcache_page()).
 * A page at a time cost 13-18 % more than one memcpy() of the same bytes
 * for a 1 MiB command, a segment at a time 1-4 % (tgtsim bench on UML,
 * 2026-12-01). ARCH_IMPLEMENTS_FLUSH_DCACHE_PAGE is 0
 * (asm-generic) or 1, never undefined: test its value, not defined().
 */
static void sim_copy_sg(struct scatterlist *sgl, unsigned int nents,
			void *buf, u32 len, bool to_buf)
{
	struct scatterlist *sg;
	unsigned int i;
	u32 n;

	if (IS_ENABLED(CONFIG_HIGHMEM) || ARCH_IMPLEMENTS_FLUSH_DCACHE_PAGE) {
		if (to_buf)
			sg_copy_to_buffer(sgl, nents, buf, len);
		else
			sg_copy_from_buffer(sgl, nents, buf, len);
		return;
	}
	for_each_sg(sgl, sg, nents, i) {
		if (!len)
			break;
		n = min(sg->length, len);
		if (to_buf)
			memcpy(buf, sg_virt(sg), n);
		else
			memcpy(sg_virt(sg), buf, n);
		buf += n;
		len -= n;
	}
}

/*
 * Copy a chunk between its scatterlist and the backing buffer: the
 * injected command's own, or the host's store for the commands of others
 * (none: not copied).
 */
static enum sim_lld_reason sim_copy_chunk(struct sim_lld_host *sh,
					  struct scsi_cmnd *cmd,
					  struct sim_lld_cmd *sc, u32 len)
{
	void *b;

	if (sc) {
		if (!sc->backing)
			return SIM_LLD_R_OK;
		b = sc->backing + cmd->offset;
	} else {
		u32 store_len = READ_ONCE(sh->store_len);

		b = READ_ONCE(sh->store);
		if (!b)
			return SIM_LLD_R_OK;
		if ((u64)cmd->offset + len > store_len)
			return SIM_LLD_R_OVERRUN;
		b += cmd->offset;
	}
	if (cmd->sc_data_direction == DMA_TO_DEVICE ||
	    cmd->sc_data_direction == DMA_FROM_DEVICE)
		sim_copy_sg(scsi_sglist(cmd), scsi_sg_count(cmd), b, len,
			    cmd->sc_data_direction == DMA_TO_DEVICE);
	return SIM_LLD_R_OK;
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
				   scsi_sg_count(cmd), sim_lld_reason_names[r]);
	}
	if (!r && READ_ONCE(sh->removing))
		r = SIM_LLD_R_NODEV;
	if (!r && fault == SIM_LLD_FAULT_FAIL) {
		atomic64_inc(&sh->c_faults);
		r = SIM_LLD_R_FAULT;
	}
	if (!r && !READ_ONCE(sh->copy)) {
		if (sc)
			sc->nocopy = true;
	} else if (!r) {
		r = sim_copy_chunk(sh, cmd, sc, len);
		if (r)
			atomic64_inc(&sh->c_errors);
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
	struct sim_lld_sense sense;
	unsigned long flags;

	atomic64_inc(&sh->c_responses);
	if (READ_ONCE(sh->sense_on)) {
		spin_lock_irqsave(&sh->lock, flags);
		sense = sh->sense;
		spin_unlock_irqrestore(&sh->lock, flags);
	} else {
		memset(&sense, 0, sizeof(sense));
	}
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
	/* CHECK CONDITION: the status and the sense, as a real LLD sends them */
	if (!r && sense.on)
		scsi_build_sense(cmd, sense.desc, sense.key, sense.asc,
				 sense.ascq);
	if (sc) {
		sc->log.resp_reason = r;
		sc->log.resp_result = cmd->result;
		if (!r && sense.on) {
			/* 8 header bytes + the additional sense length */
			sc->log.sense_len = min(8 + cmd->sense_buffer[7],
						SIM_LLD_SENSE_BYTES);
			memcpy(sc->log.sense, cmd->sense_buffer,
			       sc->log.sense_len);
		}
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

const struct scsi_host_template sim_lld_template = {
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

void sim_lld_cmd_free(struct sim_lld_cmd *sc)
{
	struct sim_lld_host *sh = sc->sh;

	kvfree(sc->alloc);
	kvfree(sc->backing);
	kvfree(sc->log.chunks);
	kvfree(sc->log.segs);
	kfree(sc);
	atomic_dec(&sh->cmds_kept);
	sim_lld_host_put(sh);
}

/* after the target core's done: verify, put the command, wake waiters */
static void sim_cmd_reap(struct work_struct *work)
{
	struct sim_lld_cmd *sc = container_of(work, struct sim_lld_cmd, reap);
	struct sim_lld_host *sh = sc->sh;
	unsigned long flags;
	bool orphan;

	sc->verify = SIM_LLD_VERIFY_SKIPPED;
	if (!sc->err && sc->req.len && sc->buf && !sc->nocopy) {
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
		sim_lld_cmd_free(sc);
}

static void sim_cmd_done(struct scsi_cmnd *cmd, int err, void *priv)
{
	struct sim_lld_cmd *sc = priv;

	sc->err = err;
	sc->result = cmd->result;
	queue_work(sim_lld_wq, &sc->reap);
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
	if (req->len > min(READ_ONCE(sim_lld_max_cmd_len), SIM_LLD_MAX_CMD_LEN)) {
		pr_err_ratelimited("command length %u above max_cmd_len %u\n",
				   req->len, READ_ONCE(sim_lld_max_cmd_len));
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
	tmo = req->timeout_ms ?: READ_ONCE(sim_lld_cmd_timeout_ms);
	return sim_lld_cmd_wait(sc, tmo);

free:
	sim_lld_cmd_free(sc);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(sim_lld_cmd_run);

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
EXPORT_SYMBOL_IF_KUNIT(sim_lld_cmd_wait);

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
		sim_lld_cmd_free(sc);
}
EXPORT_SYMBOL_IF_KUNIT(sim_lld_cmd_release);
