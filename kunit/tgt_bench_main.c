// SPDX-License-Identifier: GPL-2.0
/*
 * tgt_bench - how fast the target data path is, measured inside one boot
 * (KUnit suite tgt_bench, CONFIG_SCSI_TGT_BENCH; not part of the normal
 * run: tgtsim's bench profile and `tgtsim bench` build and boot it).
 *
 * tgt_bench_datapath (one case per completion mode: inline, softirq,
 * hrtimer): commands of 4 KiB, 64 KiB, 1 MiB and 16 MiB through
 * scsi_tgt_queue_command() and sim_lld, both directions, on three sim_lld
 * hosts (the default limits, one page per chunk, one segment per chunk),
 * with sim_lld copying each chunk to or from the host's store and with
 * copy off (the target core's own cost); in the inline case a memcpy() of
 * the same bytes between the same buffers first, the baseline.
 *
 * tgt_bench_stages: where the time of a 4 KiB command goes, the calls the
 * core makes for it timed on their own.
 *
 * tgt_bench_get_put (tgt_bench_getput.c): scsi_host_get_command() +
 * scsi_host_put_command() pairs from a task and from hardirq, with the
 * host's free list in use and not.
 *
 * Every figure is printed as a "tgt-bench" KTAP diagnostic (format v1,
 * kunit/README.md "Benchmark figures"), one line per repetition; tgtsim
 * bench computes the rates, ratios and min/median/max. The data path and
 * the stages run in a kthread of their own (tgt_bench_in_kthread()).
 */
#include <linux/bio.h>
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/completion.h>
#include <linux/err.h>
#include <linux/gfp.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>
#include <kunit/test.h>

#include <scsi/scsi_cmnd.h>
#include <scsi/scsi_host.h>
#include <scsi/scsi_tgt.h>

#include "../sim_lld/sim_lld.h"
#include "tgt_bench.h"

unsigned int tgt_bench_reps = 3;
module_param_named(reps, tgt_bench_reps, uint, 0444);
MODULE_PARM_DESC(reps, "repetitions of every figure (def=3)");

unsigned int tgt_bench_min_ms = 30;
module_param_named(min_ms, tgt_bench_min_ms, uint, 0444);
MODULE_PARM_DESC(min_ms, "least time of one repetition in ms (def=30)");

/*
 * In hrtimer mode every chunk waits for a timer interrupt (about 40 us in
 * UML with CONFIG_HIGH_RES_TIMERS, which the bench profile sets; the next
 * tick without it): commands of more chunks than this are not timed in
 * that mode (a "skip" record says so).
 */
static unsigned int tick_chunks = 64;
module_param(tick_chunks, uint, 0444);
MODULE_PARM_DESC(tick_chunks,
		 "hrtimer mode: skip commands of more chunks than this (def=64)");

#define TGT_BENCH_NR_SIZES	4
static const u32 tgt_bench_sizes[TGT_BENCH_NR_SIZES] = {
	4096, 64 << 10, 1 << 20, 16 << 20,
};

/* blocks of MAX_PAGE_ORDER in the largest buffer (16 MiB) */
#define TGT_BENCH_MAX_BLOCKS \
	DIV_ROUND_UP(16 << 20, PAGE_SIZE << MAX_PAGE_ORDER)

/* a buffer of physically contiguous blocks of at most MAX_PAGE_ORDER */
struct tgt_bench_buf {
	void *va;
	u32 len;
	unsigned int order;
	unsigned int nr_blocks;
	struct page *blocks[TGT_BENCH_MAX_BLOCKS];
};

static void tgt_bench_buf_free(struct tgt_bench_buf *b)
{
	unsigned int i;

	if (b->va && b->nr_blocks > 1)
		vunmap(b->va);
	for (i = 0; i < b->nr_blocks; i++)
		__free_pages(b->blocks[i], b->order);
	b->va = NULL;
	b->nr_blocks = 0;
}

/*
 * Up to 4 MiB (MAX_PAGE_ORDER) one block in the direct map, like a
 * kmalloc() buffer; beyond, blocks of that size mapped together with
 * vmap(), like a vmalloc() buffer of large physically contiguous runs.
 * Touched once, so that no measurement pays for first use.
 */
static int tgt_bench_buf_alloc(struct tgt_bench_buf *b, u32 len)
{
	unsigned int order = get_order(len), i, j, per;
	struct page **pages;

	memset(b, 0, sizeof(*b));
	b->len = len;
	if (order <= MAX_PAGE_ORDER) {
		b->order = order;
		b->blocks[0] = alloc_pages(GFP_KERNEL | __GFP_NOWARN, order);
		if (!b->blocks[0])
			return -ENOMEM;
		b->nr_blocks = 1;
		b->va = page_address(b->blocks[0]);
	} else {
		b->order = MAX_PAGE_ORDER;
		per = 1U << MAX_PAGE_ORDER;
		if (len > ARRAY_SIZE(b->blocks) * per * PAGE_SIZE)
			return -EINVAL;
		pages = kvmalloc_array(len >> PAGE_SHIFT, sizeof(*pages),
				       GFP_KERNEL);
		if (!pages)
			return -ENOMEM;
		for (i = 0; i < len >> (PAGE_SHIFT + MAX_PAGE_ORDER); i++) {
			b->blocks[i] = alloc_pages(GFP_KERNEL | __GFP_NOWARN,
						   MAX_PAGE_ORDER);
			if (!b->blocks[i])
				break;
			b->nr_blocks++;
			for (j = 0; j < per; j++)
				pages[i * per + j] = b->blocks[i] + j;
		}
		if (b->nr_blocks == i)
			b->va = vmap(pages, len >> PAGE_SHIFT, VM_MAP,
				     PAGE_KERNEL);
		kvfree(pages);
		if (!b->va) {
			tgt_bench_buf_free(b);
			return -ENOMEM;
		}
	}
	memset(b->va, 0x5a, len);
	return 0;
}

KUNIT_DEFINE_ACTION_WRAPPER(tgt_bench_buf_release, tgt_bench_buf_free,
			    struct tgt_bench_buf *);

/* the target's buffer and the LLD's store of one size */
struct tgt_bench_bufs {
	struct tgt_bench_buf buf[TGT_BENCH_NR_SIZES];
	struct tgt_bench_buf store[TGT_BENCH_NR_SIZES];
};

static struct tgt_bench_bufs *tgt_bench_bufs_alloc(struct kunit *test)
{
	struct tgt_bench_bufs *bb = kunit_kzalloc(test, sizeof(*bb),
						  GFP_KERNEL);
	int i;

	KUNIT_ASSERT_NOT_NULL(test, bb);
	for (i = 0; i < TGT_BENCH_NR_SIZES; i++) {
		KUNIT_ASSERT_EQ(test, tgt_bench_buf_alloc(&bb->buf[i],
							  tgt_bench_sizes[i]),
				0);
		KUNIT_ASSERT_EQ(test,
				kunit_add_action_or_reset(test, tgt_bench_buf_release,
							  &bb->buf[i]), 0);
		KUNIT_ASSERT_EQ(test, tgt_bench_buf_alloc(&bb->store[i],
							  tgt_bench_sizes[i]),
				0);
		KUNIT_ASSERT_EQ(test,
				kunit_add_action_or_reset(test, tgt_bench_buf_release,
							  &bb->store[i]), 0);
	}
	return bb;
}

/* the three limit sets: defaults, one page per chunk, one segment */
enum { TGT_BENCH_LIM_DEFAULT, TGT_BENCH_LIM_PAGE, TGT_BENCH_LIM_SEG,
	TGT_BENCH_NR_LIMS };
static const char *const tgt_bench_lim_names[TGT_BENCH_NR_LIMS] = {
	"default", "page", "seg",
};

KUNIT_DEFINE_ACTION_WRAPPER(tgt_bench_host_remove, sim_lld_host_remove,
			    struct sim_lld_host *);

static struct sim_lld_host *tgt_bench_host_add(struct kunit *test, int which)
{
	struct sim_lld_limits lim;
	struct sim_lld_host *sh;

	sim_lld_default_limits(&lim);
	if (which == TGT_BENCH_LIM_PAGE)
		lim.v[SIM_LLD_KNOB_MAX_SECTORS] = PAGE_SIZE >> SECTOR_SHIFT;
	else if (which == TGT_BENCH_LIM_SEG)
		lim.v[SIM_LLD_KNOB_SG_TABLESIZE] = 1;
	sh = sim_lld_host_add(&lim);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sh);
	KUNIT_ASSERT_EQ(test,
			kunit_add_action_or_reset(test, tgt_bench_host_remove, sh),
			0);
	tgt_bench_out(test,
		      "lim name=%s sg_tablesize=%llu max_sectors=%llu max_segment_size=%llu dma_boundary=0x%llx",
		      tgt_bench_lim_names[which],
		      lim.v[SIM_LLD_KNOB_SG_TABLESIZE],
		      lim.v[SIM_LLD_KNOB_MAX_SECTORS],
		      lim.v[SIM_LLD_KNOB_MAX_SEGMENT_SIZE],
		      lim.v[SIM_LLD_KNOB_DMA_BOUNDARY]);
	return sh;
}

/* ---------------------------------------------------------------- */
/* running in a kthread                                              */

struct tgt_bench_job {
	int (*fn)(void *arg);
	void *arg;
	int ret;
	struct completion done;
};

static int tgt_bench_thread(void *data)
{
	struct tgt_bench_job *job = data;

	job->ret = job->fn(job->arg);
	complete(&job->done);
	return 0;
}

int tgt_bench_in_kthread(struct kunit *test, int (*fn)(void *arg), void *arg)
{
	struct tgt_bench_job job = { .fn = fn, .arg = arg };
	struct task_struct *t;

	init_completion(&job.done);
	t = kthread_run(tgt_bench_thread, &job, "tgt_bench");
	if (IS_ERR(t))
		return PTR_ERR(t);
	wait_for_completion(&job.done);
	return job.ret;
}

/* ---------------------------------------------------------------- */
/* the data path                                                     */

struct tgt_bench_dp {
	struct kunit *test;
	int mode;			/* enum sim_lld_completion */
	struct sim_lld_host *sh[TGT_BENCH_NR_LIMS];
	struct tgt_bench_bufs *bufs;
	/* the command being timed */
	struct completion done;
	bool async;
	bool fin;
	int err;
};

static void tgt_bench_done(struct scsi_cmnd *cmd, int err, void *priv)
{
	struct tgt_bench_dp *dp = priv;

	dp->err = err;
	if (dp->async)
		complete(&dp->done);
	else
		WRITE_ONCE(dp->fin, true);
}

/* @n commands, one after the other, with the same command */
static int tgt_bench_run(struct tgt_bench_dp *dp, struct scsi_cmnd *cmd,
			 void *buf, u32 len, u64 n)
{
	int ret;

	while (n--) {
		if (dp->async)
			reinit_completion(&dp->done);
		else
			dp->fin = false;
		ret = scsi_tgt_queue_command(cmd, buf, len, tgt_bench_done, dp);
		if (ret)
			return ret;
		if (dp->async)
			wait_for_completion(&dp->done);
		else if (!READ_ONCE(dp->fin))
			return -EINPROGRESS;	/* inline mode did not complete */
		if (dp->err)
			return dp->err;
	}
	return 0;
}

/*
 * Commands in batches until min_ms passed; the time of whole batches is
 * measured, so ktime_get_ns() costs little per command.
 */
static int tgt_bench_time(struct tgt_bench_dp *dp, struct scsi_cmnd *cmd,
			  void *buf, u32 len, u64 *n, u64 *ns)
{
	u64 min_ns = (u64)tgt_bench_min_ms * NSEC_PER_MSEC, batch = 1, t0, t;
	int ret;

	*n = 0;
	t0 = ktime_get_ns();
	do {
		ret = tgt_bench_run(dp, cmd, buf, len, batch);
		if (ret)
			return ret;
		*n += batch;
		t = ktime_get_ns() - t0;
		if (batch < 256 && t < min_ns / 16)
			batch *= 2;
	} while (t < min_ns);
	*ns = t;
	return 0;
}

/* chunks sim_lld saw for one command of this size on this host */
static int tgt_bench_count_chunks(struct tgt_bench_dp *dp,
				  struct sim_lld_host *sh,
				  struct scsi_cmnd *cmd, void *buf, u32 len,
				  u64 *chunks)
{
	struct sim_lld_counters a, b;
	bool async = dp->async;
	int ret;

	sim_lld_host_set_completion(sh, SIM_LLD_COMPL_INLINE, 0);
	dp->async = false;
	sim_lld_host_counters(sh, &a);
	ret = tgt_bench_run(dp, cmd, buf, len, 1);
	sim_lld_host_counters(sh, &b);
	dp->async = async;
	sim_lld_host_set_completion(sh, dp->mode, 0);
	*chunks = b.chunks - a.chunks;
	return ret;
}

static const char *tgt_bench_dir_name(enum dma_data_direction dir)
{
	return dir == DMA_TO_DEVICE ? "to" : "from";
}

static const char *const tgt_bench_mode_names[] = SIM_LLD_COMPLETION_NAMES;

static int tgt_bench_dp_sample(struct tgt_bench_dp *dp, unsigned int rep,
			       int lim, int size, enum dma_data_direction dir,
			       bool copy)
{
	struct kunit *test = dp->test;
	struct sim_lld_host *sh = dp->sh[lim];
	struct Scsi_Host *shost = sim_lld_host_shost(sh);
	struct tgt_bench_buf *buf = &dp->bufs->buf[size];
	struct tgt_bench_buf *store = &dp->bufs->store[size];
	struct sim_lld_counters a, b;
	struct scsi_cmnd *cmd;
	u64 n, ns, chunks;
	int ret;

	cmd = scsi_host_get_command(shost, dir, GFP_KERNEL);
	if (!cmd)
		return -ENOMEM;
	sim_lld_host_set_copy(sh, copy);
	sim_lld_host_set_store(sh, store->va, store->len);
	ret = tgt_bench_count_chunks(dp, sh, cmd, buf->va, buf->len, &chunks);
	if (ret)
		goto out;
	if (dp->mode == SIM_LLD_COMPL_HRTIMER && chunks > tick_chunks) {
		tgt_bench_out(test,
			      "skip rep=%u dir=%s lim=%s compl=%s copy=%d size=%u chunks=%llu why=timer",
			      rep, tgt_bench_dir_name(dir),
			      tgt_bench_lim_names[lim],
			      tgt_bench_mode_names[dp->mode], copy, buf->len,
			      chunks);
		goto out;
	}
	/* warm up in this mode, then time */
	ret = tgt_bench_run(dp, cmd, buf->va, buf->len, 1);
	if (ret)
		goto out;
	sim_lld_host_counters(sh, &a);
	ret = tgt_bench_time(dp, cmd, buf->va, buf->len, &n, &ns);
	sim_lld_host_counters(sh, &b);
	if (ret)
		goto out;
	tgt_bench_out(test,
		      "dp rep=%u dir=%s lim=%s compl=%s copy=%d size=%u n=%llu ns=%llu chunks=%llu bytes=%llu",
		      rep, tgt_bench_dir_name(dir), tgt_bench_lim_names[lim],
		      tgt_bench_mode_names[dp->mode], copy, buf->len, n, ns,
		      b.chunks - a.chunks, b.bytes - a.bytes);
out:
	sim_lld_host_set_store(sh, NULL, 0);
	scsi_host_put_command(shost, cmd);
	if (ret)
		KUNIT_FAIL(test, "%s %s %s copy=%d size %u: error %d",
			   tgt_bench_mode_names[dp->mode],
			   tgt_bench_dir_name(dir), tgt_bench_lim_names[lim],
			   copy, buf->len, ret);
	return ret;
}

/* the baseline: memcpy() of the same bytes between the same buffers */
static void tgt_bench_memcpy_sample(struct tgt_bench_dp *dp, unsigned int rep,
				    int size)
{
	u64 min_ns = (u64)tgt_bench_min_ms * NSEC_PER_MSEC, n = 0, batch = 1;
	struct tgt_bench_buf *buf = &dp->bufs->buf[size];
	struct tgt_bench_buf *store = &dp->bufs->store[size];
	u64 t0, t, i;

	memcpy(store->va, buf->va, buf->len);
	t0 = ktime_get_ns();
	do {
		for (i = 0; i < batch; i++)
			memcpy(store->va, buf->va, buf->len);
		n += batch;
		t = ktime_get_ns() - t0;
		if (batch < 256 && t < min_ns / 16)
			batch *= 2;
	} while (t < min_ns);
	tgt_bench_out(dp->test, "memcpy rep=%u size=%u n=%llu ns=%llu", rep,
		      buf->len, n, t);
}

static const enum dma_data_direction tgt_bench_dirs[] = {
	DMA_TO_DEVICE, DMA_FROM_DEVICE,
};

/* one size on every host: both directions, with and without the copy */
static int tgt_bench_dp_size(struct tgt_bench_dp *dp, unsigned int rep,
			     int size)
{
	int lim, d, copy, ret;

	for (lim = 0; lim < TGT_BENCH_NR_LIMS; lim++)
		for (d = 0; d < ARRAY_SIZE(tgt_bench_dirs); d++)
			for (copy = 1; copy >= 0; copy--) {
				ret = tgt_bench_dp_sample(dp, rep, lim, size,
							  tgt_bench_dirs[d],
							  copy);
				if (ret)
					return ret;
			}
	return 0;
}

static int tgt_bench_dp_body(void *arg)
{
	struct tgt_bench_dp *dp = arg;
	unsigned int rep;
	int size, ret;

	for (rep = 0; rep < tgt_bench_reps; rep++) {
		for (size = 0; size < TGT_BENCH_NR_SIZES; size++) {
			if (dp->mode == SIM_LLD_COMPL_INLINE)
				tgt_bench_memcpy_sample(dp, rep, size);
			ret = tgt_bench_dp_size(dp, rep, size);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static void tgt_bench_begin(struct kunit *test)
{
	tgt_bench_out(test,
		      "begin reps=%u min_ms=%u hz=%d hres=%d tick_chunks=%u page_size=%lu",
		      tgt_bench_reps, tgt_bench_min_ms, HZ,
		      IS_ENABLED(CONFIG_HIGH_RES_TIMERS), tick_chunks, PAGE_SIZE);
}

static const int tgt_bench_modes[] = {
	SIM_LLD_COMPL_INLINE, SIM_LLD_COMPL_SOFTIRQ, SIM_LLD_COMPL_HRTIMER,
};

static void tgt_bench_mode_desc(const int *mode, char *desc)
{
	strscpy(desc, tgt_bench_mode_names[*mode], KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(tgt_bench_mode, tgt_bench_modes, tgt_bench_mode_desc);

static void tgt_bench_datapath(struct kunit *test)
{
	struct tgt_bench_dp *dp = kunit_kzalloc(test, sizeof(*dp), GFP_KERNEL);
	int lim;

	KUNIT_ASSERT_NOT_NULL(test, dp);
	tgt_bench_begin(test);
	dp->test = test;
	dp->mode = *(const int *)test->param_value;
	dp->async = dp->mode != SIM_LLD_COMPL_INLINE;
	init_completion(&dp->done);
	dp->bufs = tgt_bench_bufs_alloc(test);
	for (lim = 0; lim < TGT_BENCH_NR_LIMS; lim++) {
		dp->sh[lim] = tgt_bench_host_add(test, lim);
		KUNIT_ASSERT_EQ(test, sim_lld_host_set_completion(dp->sh[lim],
								  dp->mode, 0),
				0);
	}
	KUNIT_EXPECT_EQ(test, tgt_bench_in_kthread(test, tgt_bench_dp_body, dp),
			0);
}

/* ---------------------------------------------------------------- */
/* stages of a 4 KiB command                                         */

/*
 * The calls scsi_tgt_queue_command() makes for a one-chunk command, timed
 * on their own on a command of the default host (copy off, inline):
 *
 *   bvec_alloc     kmalloc_array() + kfree() of a bio_vec array: what a
 *                  command of more than the core's 4 inline bio_vecs costs
 *                  more (a 4 KiB command does not make this call)
 *   bio_add        bio_init() + bio_add_pc_page() + bio_uninit()
 *   rq_append      bio_add + blk_rq_append_bio() + blk_update_request()
 *   sg_map         rq_append + sg_alloc_table_chained() + blk_rq_map_sg()
 *                  + sg_free_table_chained(), on 2 inline entries as the
 *                  core's (no allocation for a chunk of up to 2 segments)
 *   lld_data       sg_map + sim_lld's transfer_data() (no copy)
 *   lld_response   sim_lld's transfer_response()
 *   queue_command  the whole scsi_tgt_queue_command(), as the data path
 *                  figure (dp ... copy=0 size=4096)
 */
/* the core's inline scatterlist entries (SCSI_TGT_INLINE_SG_CNT) */
#define TGT_BENCH_INLINE_SG	2

enum { TGT_ST_BVEC, TGT_ST_BIO, TGT_ST_RQ, TGT_ST_SG, TGT_ST_LLD_DATA,
	TGT_ST_LLD_RESP, TGT_ST_QUEUE, TGT_ST_NR };
static const char *const tgt_bench_stage_names[TGT_ST_NR] = {
	"bvec_alloc", "bio_add", "rq_append", "sg_map", "lld_data",
	"lld_response", "queue_command",
};

struct tgt_bench_st {
	struct tgt_bench_dp dp;
	struct scsi_cmnd *cmd;
	void *page;
	struct bio bio;
	struct bio_vec bvec;
	struct scatterlist sg[TGT_BENCH_INLINE_SG];
};

static void tgt_bench_st_done(struct scsi_cmnd *cmd)
{
}

static int tgt_bench_stage_once(struct tgt_bench_st *st, int stage)
{
	struct scsi_cmnd *cmd = st->cmd;
	struct request *rq = scsi_host_cmd_to_rq(cmd);
	struct Scsi_Host *shost = scsi_tgt_cmd_to_host(cmd);
	struct bio_vec *bv;
	int ret;

	switch (stage) {
	case TGT_ST_BVEC:
		bv = kmalloc_array(1, sizeof(*bv), GFP_KERNEL);
		if (!bv)
			return -ENOMEM;
		kfree(bv);
		return 0;
	case TGT_ST_LLD_RESP:
		return shost->hostt->transfer_response(cmd, tgt_bench_st_done);
	case TGT_ST_QUEUE:
		return tgt_bench_run(&st->dp, cmd, st->page, PAGE_SIZE, 1);
	}
	bio_init(&st->bio, NULL, &st->bvec, 1, req_op(rq));
	if (bio_add_pc_page(rq->q, &st->bio, virt_to_page(st->page), PAGE_SIZE,
			    0) != PAGE_SIZE) {
		bio_uninit(&st->bio);
		return -EIO;
	}
	if (stage == TGT_ST_BIO) {
		bio_uninit(&st->bio);
		return 0;
	}
	ret = blk_rq_append_bio(rq, &st->bio);
	if (ret) {
		bio_uninit(&st->bio);
		return ret;
	}
	if (stage >= TGT_ST_SG) {
		cmd->sdb.table.sgl = st->sg;
		ret = sg_alloc_table_chained(&cmd->sdb.table,
					     rq->nr_phys_segments, st->sg,
					     TGT_BENCH_INLINE_SG);
		if (!ret) {
			cmd->sdb.table.nents = blk_rq_map_sg(rq->q, rq,
							     cmd->sdb.table.sgl);
			cmd->sdb.length = blk_rq_bytes(rq);
			if (stage == TGT_ST_LLD_DATA)
				ret = shost->hostt->transfer_data(cmd,
							tgt_bench_st_done);
			if (!ret && cmd->result)
				ret = -EIO;
			sg_free_table_chained(&cmd->sdb.table,
					      TGT_BENCH_INLINE_SG);
			memset(&cmd->sdb, 0, sizeof(cmd->sdb));
		}
	}
	blk_update_request(rq, BLK_STS_OK, blk_rq_bytes(rq));
	bio_uninit(&st->bio);
	return ret;
}

static int tgt_bench_st_body(void *arg)
{
	u64 min_ns = (u64)tgt_bench_min_ms * NSEC_PER_MSEC, n, batch, i, t0, t;
	struct tgt_bench_st *st = arg;
	unsigned int rep;
	int stage, ret;

	for (rep = 0; rep < tgt_bench_reps; rep++) {
		for (stage = 0; stage < TGT_ST_NR; stage++) {
			ret = tgt_bench_stage_once(st, stage);	/* warm up */
			if (ret)
				goto fail;
			n = 0;
			batch = 1;
			t0 = ktime_get_ns();
			do {
				for (i = 0; i < batch && !ret; i++)
					ret = tgt_bench_stage_once(st, stage);
				if (ret)
					goto fail;
				n += batch;
				t = ktime_get_ns() - t0;
				if (batch < 1024 && t < min_ns / 16)
					batch *= 2;
			} while (t < min_ns);
			tgt_bench_out(st->dp.test,
				      "stage rep=%u name=%s size=%lu n=%llu ns=%llu",
				      rep, tgt_bench_stage_names[stage],
				      PAGE_SIZE, n, t);
		}
	}
	return 0;
fail:
	KUNIT_FAIL(st->dp.test, "stage %s: error %d",
		   tgt_bench_stage_names[stage], ret);
	return ret;
}

static void tgt_bench_stages(struct kunit *test)
{
	struct tgt_bench_st *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	struct Scsi_Host *shost;
	struct sim_lld_host *sh;

	KUNIT_ASSERT_NOT_NULL(test, st);
	tgt_bench_begin(test);
	st->dp.test = test;
	st->dp.mode = SIM_LLD_COMPL_INLINE;
	init_completion(&st->dp.done);
	st->page = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, st->page);
	KUNIT_ASSERT_TRUE(test, PAGE_ALIGNED(st->page));
	sh = tgt_bench_host_add(test, TGT_BENCH_LIM_DEFAULT);
	sim_lld_host_set_copy(sh, false);
	shost = sim_lld_host_shost(sh);
	KUNIT_ASSERT_NOT_NULL(test, shost);
	st->cmd = scsi_host_get_command(shost, DMA_TO_DEVICE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, st->cmd);
	KUNIT_EXPECT_EQ(test, tgt_bench_in_kthread(test, tgt_bench_st_body, st),
			0);
	scsi_host_put_command(shost, st->cmd);
}

static struct kunit_case tgt_bench_cases[] = {
	KUNIT_CASE_PARAM(tgt_bench_datapath, tgt_bench_mode_gen_params),
	KUNIT_CASE(tgt_bench_stages),
	KUNIT_CASE(tgt_bench_get_put),
	{}
};

static struct kunit_suite tgt_bench_suite = {
	.name = "tgt_bench",
	.test_cases = tgt_bench_cases,
};

kunit_test_suite(tgt_bench_suite);

MODULE_DESCRIPTION("Benchmark of the scsi-ml target data path (tgtsim)");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
