// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite sim_lld_data: the data path of sim_lld. Commands of every
 * length over a matrix of host limits are cut into chunks that obey the
 * limits, checked here from the transfer log (not by sim_lld's own
 * verdict), and their data arrives intact; transfer_data() refuses chunks
 * that break a limit and says which; each completion mode completes in
 * its context.
 */

#include <kunit/test.h>
#include <linux/err.h>
#include <linux/gfp.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/prandom.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <scsi/scsi_cmnd.h>
#include <scsi/scsi_host.h>
#include <scsi/scsi_tgt.h>

#include "sim_lld_kunit.h"
#include "../tgt_kunit/tgt_chunk_trace.h"

/* seed of the random part of the matrix: sim_lld_kunit.seed=N */
static unsigned int seed = 20061125;
module_param(seed, uint, 0444);
MODULE_PARM_DESC(seed, "seed of the random command lengths (def=20061125)");

/* sim_lld_kunit.trace_chunks=1: chunk traces of passing commands too */
static bool trace_chunks;
module_param(trace_chunks, bool, 0444);
MODULE_PARM_DESC(trace_chunks,
		 "print the chunk sequence of passing commands too (tgt-chunks v1)");

static void sim_k_trace_print(void *priv, const char *line)
{
	kunit_info((struct kunit *)priv, "%s\n", line);
}

/*
 * The chunk sequence of a finished command from its log, in the
 * tgt-chunks format of tgt_chunk_trace.h (the KTAP diagnostic tgtsim's
 * report draws): each chunk with sim_lld's result and reason.
 */
static void sim_k_trace(struct kunit *test, const struct sim_lld_cmd *sc,
			const struct sim_lld_limits *lim, bool failed)
{
	static const char *const reasons[] = SIM_LLD_REASON_NAMES;
	const struct sim_lld_log *log = &sc->log;
	struct tgt_trace t;
	char name[96];
	u32 i;

	snprintf(name, sizeof(name), "id=%llu align=%u flags=0x%x seed=%u",
		 sc->id, sc->req.align, sc->req.flags, sc->req.seed);
	tgt_trace_begin(&t, sim_k_trace_print, test,
			sc->req.dir == DMA_TO_DEVICE ? "to" :
			sc->req.dir == DMA_FROM_DEVICE ? "from" : "none",
			sc->req.len, lim->v[SIM_LLD_KNOB_MAX_SECTORS],
			lim->v[SIM_LLD_KNOB_SG_TABLESIZE],
			lim->v[SIM_LLD_KNOB_MAX_SEGMENT_SIZE],
			lim->v[SIM_LLD_KNOB_DMA_BOUNDARY], name);
	for (i = 0; i < log->nr_chunks; i++) {
		const struct sim_lld_chunk *c = &log->chunks[i];

		tgt_trace_chunk(&t, c->offset, c->length, c->nents, NULL,
				c->result, c->reason == SIM_LLD_R_OK ||
				c->reason >= ARRAY_SIZE(reasons) ? NULL :
				reasons[c->reason]);
	}
	if (log->resp_seen)
		tgt_trace_resp(&t, log->nr_chunks, 1, log->resp_result,
			       log->resp_reason == SIM_LLD_R_OK ||
			       log->resp_reason >= ARRAY_SIZE(reasons) ? NULL :
			       reasons[log->resp_reason]);
	tgt_trace_end(&t, sc->err, failed);
}

/*
 * Check a finished command against the limits from its log alone.
 * Return NULL if it is fine, else what is wrong (static text).
 */
static const char *sim_k_check_log(const struct sim_lld_cmd *sc,
				   const struct sim_lld_limits *lim,
				   u32 *bad_chunk)
{
	const struct sim_lld_log *log = &sc->log;
	u64 bnd = lim->v[SIM_LLD_KNOB_DMA_BOUNDARY];
	u64 off = 0;
	u32 i, j;

	*bad_chunk = 0;
	if (sc->state != SIM_LLD_CMD_DONE)
		return "not done";
	if (sc->err)
		return "command failed";
	if (sc->result)
		return "result not 0";
	if (log->overflow)
		return "log overflow";
	if (!log->resp_seen)
		return "no response";
	for (i = 0; i < log->nr_chunks; i++) {
		const struct sim_lld_chunk *c = &log->chunks[i];
		u64 sum = 0;

		*bad_chunk = i;
		if (c->offset != off)
			return "offsets not contiguous";
		if (!c->length)
			return "empty chunk";
		if (c->length > lim->v[SIM_LLD_KNOB_MAX_SECTORS] * 512)
			return "chunk above max_sectors";
		if (c->nents > lim->v[SIM_LLD_KNOB_SG_TABLESIZE])
			return "more segments than sg_tablesize";
		if (c->nsegs != c->nents)
			return "segments not all recorded";
		for (j = 0; j < c->nsegs; j++) {
			const struct sim_lld_seg *s = &log->segs[c->first_seg + j];

			if (!s->length)
				return "empty segment";
			if (s->length > lim->v[SIM_LLD_KNOB_MAX_SEGMENT_SIZE])
				return "segment above max_segment_size";
			if ((s->addr & ~bnd) !=
			    ((s->addr + s->length - 1) & ~bnd))
				return "segment crosses dma_boundary";
			sum += s->length;
		}
		if (sum != c->length)
			return "segments do not add up to the chunk";
		off += c->length;
	}
	if (off != sc->req.len)
		return "chunks do not add up to the command";
	if (sc->verify != SIM_LLD_VERIFY_OK &&
	    !(sc->req.len == 0 && sc->verify == SIM_LLD_VERIFY_SKIPPED))
		return "data mismatch";
	return NULL;
}

static void sim_data_pattern_check_finds_first_bad_byte(struct kunit *test)
{
	u8 *buf = kunit_kmalloc(test, 1003, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, buf);
	sim_lld_fill_pattern(buf, 1003, 5, false);
	KUNIT_EXPECT_EQ(test, sim_lld_check_pattern(buf, 1003, 5), -1);
	KUNIT_EXPECT_EQ(test, sim_lld_check_pattern(buf, 1003, 6), 0);
	buf[1001] ^= 1;
	KUNIT_EXPECT_EQ(test, sim_lld_check_pattern(buf, 1003, 5), 1001);
	sim_lld_fill_pattern(buf, 1003, 5, true);
	KUNIT_EXPECT_EQ(test, sim_lld_check_pattern(buf, 1003, 5), 0);
}

/* requests refused by sim_lld (no command) or by the target core */
static void sim_data_bad_request_refused_nothing_sent(struct kunit *test)
{
	static const struct {
		struct sim_lld_req req;
		bool by_core;		/* a command was made and refused */
	} bad[] = {
		{ { DMA_TO_DEVICE, SIM_LLD_MAX_CMD_LEN + 1 } },
		{ { DMA_TO_DEVICE, 4096, 0, 4096 } },
		{ { DMA_TO_DEVICE, 4096, 0, 0,
		    SIM_LLD_REQ_KMALLOC | SIM_LLD_REQ_VMALLOC } },
		{ { 7, 4096 } },
		{ { DMA_BIDIRECTIONAL, 4096 }, true },
		{ { DMA_NONE, 4096 }, true },
	};
	struct sim_lld_limits lim = sim_k_limits(4, 16, 4096, 0xffffffff, 4);
	struct sim_lld_req good = { .dir = DMA_TO_DEVICE, .len = 4096 };
	struct sim_lld_counters c;
	struct sim_lld_host *sh;
	struct sim_lld_cmd *sc;
	int i;

	sh = sim_k_add(test, &lim);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		KUNIT_EXPECT_EQ_MSG(test, sim_k_run(test, sh, &bad[i].req, &sc),
				    -EINVAL, "request %d", i);
		if (!bad[i].by_core) {
			KUNIT_EXPECT_NULL_MSG(test, sc, "request %d", i);
			continue;
		}
		KUNIT_ASSERT_NOT_NULL_MSG(test, sc, "request %d", i);
		KUNIT_EXPECT_EQ(test, sc->state, SIM_LLD_CMD_DONE);
		KUNIT_EXPECT_EQ(test, sc->err, -EINVAL);
		KUNIT_EXPECT_EQ(test, sc->log.nr_chunks, 0);
		KUNIT_EXPECT_FALSE(test, sc->log.resp_seen);
	}
	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ(test, c.commands, 2);
	KUNIT_EXPECT_EQ(test, c.cmds_failed, 2);
	KUNIT_EXPECT_EQ(test, c.chunks, 0);
	KUNIT_EXPECT_EQ(test, c.responses, 0);
	sim_k_expect_idle(test, sh);

	KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &good, &sc), 0);
	KUNIT_ASSERT_NOT_NULL(test, sc);
	KUNIT_EXPECT_EQ(test, sc->err, 0);
	KUNIT_EXPECT_EQ(test, sc->verify, SIM_LLD_VERIFY_OK);
	sim_k_remove(test, sh);
}

/* ---------------------------------------------------------------- */
/* the limit checks of transfer_data(), fed chunks the core never makes */

struct sim_k_seg {
	u32 off;	/* into an 8 KiB, 8 KiB aligned, contiguous buffer */
	u32 len;
};

struct sim_k_viol {
	const char *name;
	u64 sg, ms, mss, bnd;
	u32 nsegs;
	struct sim_k_seg segs[3];
	u32 bufflen;		/* scsi_bufflen() */
	u32 offset;		/* cmd->offset */
	u32 cmd_len;		/* length of the command */
	enum sim_lld_reason reason;
};

static const struct sim_k_viol sim_k_viols[] = {
	{ "ok", 2, 16, 4096, 0xfff, 2, { { 0, 2048 }, { 2048, 2048 } },
	  4096, 0, 8192, SIM_LLD_R_OK },
	{ "nents", 2, 16, 4096, 0xfff, 3,
	  { { 0, 1024 }, { 1024, 1024 }, { 2048, 1024 } },
	  3072, 0, 8192, SIM_LLD_R_NENTS },
	{ "segsize", 2, 16, 4096, 0xffff, 1, { { 0, 8192 } },
	  8192, 0, 8192, SIM_LLD_R_SEGSIZE },
	{ "boundary", 2, 16, 4096, 0xfff, 1, { { 4000, 200 } },
	  200, 0, 8192, SIM_LLD_R_BOUNDARY },
	{ "total", 2, 16, 4096, 0xfff, 1, { { 0, 1024 } },
	  2048, 0, 8192, SIM_LLD_R_TOTAL },
	{ "max_sectors", 4, 8, 4096, 0xffffffff, 2,
	  { { 0, 4096 }, { 4096, 4096 } }, 8192, 0, 8192,
	  SIM_LLD_R_MAX_SECTORS },
	{ "zero_segment", 2, 16, 4096, 0xfff, 2, { { 0, 0 }, { 0, 512 } },
	  512, 0, 8192, SIM_LLD_R_ZERO },
	{ "empty", 2, 16, 4096, 0xfff, 0, { }, 0, 0, 8192, SIM_LLD_R_ZERO },
	{ "offset", 2, 16, 4096, 0xfff, 1, { { 0, 512 } },
	  512, 512, 8192, SIM_LLD_R_OFFSET },
	{ "overrun", 2, 16, 4096, 0xfff, 1, { { 0, 2048 } },
	  2048, 0, 1024, SIM_LLD_R_OVERRUN },
};

KUNIT_ARRAY_PARAM_DESC(sim_k_viol, sim_k_viols, name);

static unsigned int sim_k_done_calls;
static int sim_k_done_result;

static void sim_k_done(struct scsi_cmnd *cmd)
{
	sim_k_done_calls++;
	sim_k_done_result = cmd->result;
}

static void sim_k_free_pages(void *page)
{
	__free_pages(page, 1);
}

/* give a command taken with scsi_host_get_command() back to its host */
static void sim_k_put_cmd(void *data)
{
	struct scsi_cmnd *cmd = data;

	memset(&cmd->sdb, 0, sizeof(cmd->sdb));
	cmd->host_scribble = NULL;
	scsi_host_put_command(scsi_tgt_cmd_to_host(cmd), cmd);
}

static void sim_data_limit_violation_fails_chunk(struct kunit *test)
{
	const struct sim_k_viol *v = test->param_value;
	struct sim_lld_limits lim = sim_k_limits(v->sg, v->ms, v->mss, v->bnd,
						 4);
	const struct sim_lld_chunk *c;
	struct sim_lld_counters cnt;
	struct scatterlist *sgl;
	struct Scsi_Host *shost;
	struct sim_lld_host *sh;
	struct sim_lld_cmd *sc;
	struct scsi_cmnd *cmd;
	struct page *pages;
	bool ok = v->reason == SIM_LLD_R_OK;
	u32 i;

	pages = alloc_pages(GFP_KERNEL, 1);
	KUNIT_ASSERT_NOT_NULL(test, pages);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test,
							sim_k_free_pages,
							pages), 0);
	/* an order-1 allocation is 8 KiB aligned: the boundaries are known */
	KUNIT_ASSERT_EQ(test, page_to_phys(pages) & 8191, 0);

	sc = kunit_kzalloc(test, sizeof(*sc), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, sc);
	sc->log.max_chunks = 2;
	sc->log.max_segs = 4;
	sc->log.chunks = kunit_kcalloc(test, 2, sizeof(*sc->log.chunks),
				       GFP_KERNEL);
	sc->log.segs = kunit_kcalloc(test, 4, sizeof(*sc->log.segs),
				     GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, sc->log.chunks);
	KUNIT_ASSERT_NOT_NULL(test, sc->log.segs);
	sc->req.len = v->cmd_len;
	sc->req.dir = DMA_TO_DEVICE;

	sgl = kunit_kcalloc(test, 3, sizeof(*sgl), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, sgl);
	if (v->nsegs)
		sg_init_table(sgl, v->nsegs);
	for (i = 0; i < v->nsegs; i++)
		sg_set_page(&sgl[i], pages, v->segs[i].len, v->segs[i].off);

	sh = sim_k_add(test, &lim);
	shost = sim_lld_host_shost(sh);
	cmd = scsi_host_get_command(shost, DMA_TO_DEVICE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, cmd);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, sim_k_put_cmd,
							cmd), 0);
	cmd->host_scribble = (void *)sc;
	cmd->sdb.table.sgl = sgl;
	cmd->sdb.table.nents = v->nsegs;
	cmd->sdb.table.orig_nents = v->nsegs;
	cmd->sdb.length = v->bufflen;
	cmd->offset = v->offset;

	sim_k_done_calls = 0;
	sim_k_done_result = -1;
	KUNIT_EXPECT_EQ(test, shost->hostt->transfer_data(cmd, sim_k_done), 0);
	/* inline completion: done was called before transfer_data returned */
	KUNIT_EXPECT_EQ(test, sim_k_done_calls, 1);
	KUNIT_EXPECT_EQ(test, sim_k_done_result,
			ok ? SIM_LLD_RESULT_OK : SIM_LLD_RESULT_LIMIT);
	KUNIT_ASSERT_EQ(test, sc->log.nr_chunks, 1);
	c = &sc->log.chunks[0];
	KUNIT_EXPECT_EQ(test, c->reason, v->reason);
	KUNIT_EXPECT_EQ(test, c->result,
			ok ? SIM_LLD_RESULT_OK : SIM_LLD_RESULT_LIMIT);
	KUNIT_EXPECT_EQ(test, c->offset, v->offset);
	KUNIT_EXPECT_EQ(test, c->length, v->bufflen);
	KUNIT_EXPECT_EQ(test, c->nents, v->nsegs);
	/* every segment is logged, also those of a refused chunk */
	KUNIT_ASSERT_EQ(test, c->nsegs, v->nsegs);
	for (i = 0; i < v->nsegs; i++) {
		const struct sim_lld_seg *sg = &sc->log.segs[c->first_seg + i];

		KUNIT_EXPECT_EQ(test, sg->length, v->segs[i].len);
		KUNIT_EXPECT_EQ(test, sg->addr,
				page_to_phys(pages) + v->segs[i].off);
	}
	sim_lld_host_counters(sh, &cnt);
	KUNIT_EXPECT_EQ(test, cnt.chunks, 1);
	KUNIT_EXPECT_EQ(test, cnt.errors, ok ? 0 : 1);
	KUNIT_EXPECT_EQ(test, cnt.bytes, ok ? v->bufflen : 0);
	KUNIT_EXPECT_EQ(test, cnt.pending, 0);

	kunit_release_action(test, sim_k_put_cmd, cmd);
	sim_k_expect_idle(test, sh);
	sim_k_remove(test, sh);
}

/* ---------------------------------------------------------------- */
/* the limits matrix                                                  */

static const u32 sim_k_ms[] = { 8, 16, 128, 1024 };
static const u32 sim_k_sg[] = { 1, 2, 4, 128 };
/* 512 is impossible on 6.12: the block layer refuses it */
static const u32 sim_k_mss[] = { 4096, 8192, 65536 };
static const u32 sim_k_len[] = {
	0, 1, 511, 512, 4095, 4096, 4097, 8192, 65535, 65536, 65537,
	131072 + 512, (1 << 20) - 1, 4 << 20,
};

#define SIM_K_NR_CFG (ARRAY_SIZE(sim_k_ms) * ARRAY_SIZE(sim_k_sg) * \
		      ARRAY_SIZE(sim_k_mss))

static void sim_k_cfg(unsigned long i, struct sim_lld_limits *lim)
{
	u32 mss = sim_k_mss[i % ARRAY_SIZE(sim_k_mss)];
	u32 sg = sim_k_sg[(i / ARRAY_SIZE(sim_k_mss)) % ARRAY_SIZE(sim_k_sg)];
	u32 ms = sim_k_ms[i / (ARRAY_SIZE(sim_k_mss) * ARRAY_SIZE(sim_k_sg))];

	/* a boundary of 64 KiB on every other config */
	*lim = sim_k_limits(sg, ms, mss, i % 2 ? 0xffff : 0xffffffff, 4);
}

static const void *sim_k_matrix_gen(const void *prev, char *desc)
{
	unsigned long i = prev ? (unsigned long)prev : 0;
	struct sim_lld_limits lim;

	if (i >= SIM_K_NR_CFG)
		return NULL;
	sim_k_cfg(i, &lim);
	snprintf(desc, KUNIT_PARAM_DESC_SIZE,
		 "max_sectors=%llu sg_tablesize=%llu max_segment_size=%llu dma_boundary=0x%llx",
		 lim.v[SIM_LLD_KNOB_MAX_SECTORS],
		 lim.v[SIM_LLD_KNOB_SG_TABLESIZE],
		 lim.v[SIM_LLD_KNOB_MAX_SEGMENT_SIZE],
		 lim.v[SIM_LLD_KNOB_DMA_BOUNDARY]);
	/* the param is index + 1 so that it is never NULL */
	return (const void *)(i + 1);
}

/* run one command and check it from its log */
static void sim_k_run_check(struct kunit *test, struct sim_lld_host *sh,
			    const struct sim_lld_limits *lim,
			    const struct sim_lld_req *req)
{
	struct sim_lld_cmd *sc = NULL;
	const char *why;
	u32 bad;
	int ret;

	ret = sim_lld_cmd_run(sh, req, NULL, &sc);
	KUNIT_EXPECT_EQ_MSG(test, ret, 0, "len %u dir %d", req->len,
			    req->dir);
	if (!sc)
		return;
	why = sim_k_check_log(sc, lim, &bad);
	KUNIT_EXPECT_NULL_MSG(test, why,
			      "len %u dir %d align %u flags %x: chunk %u: %s (err %d result 0x%x reason %d)",
			      req->len, req->dir, req->align, req->flags, bad,
			      why, sc->err, sc->result,
			      bad < sc->log.nr_chunks ?
			      sc->log.chunks[bad].reason : -1);
	if (trace_chunks || why || ret)
		sim_k_trace(test, sc, lim, why || ret);
	sim_lld_cmd_release(sc);
}

#define SIM_K_NR_RANDOM	2

static void sim_data_chunks_obey_limits_data_intact(struct kunit *test)
{
	unsigned long i = (unsigned long)test->param_value - 1;
	struct sim_lld_counters c;
	struct sim_lld_limits lim;
	struct rnd_state rnd;
	struct sim_lld_host *sh;
	struct sim_lld_req req;
	u32 len, n, runs = 0;

	if (!i)
		kunit_info(test, "seed %u (sim_lld_kunit.seed=N)\n", seed);
	sim_k_cfg(i, &lim);
	sh = sim_k_add(test, &lim);
	for (n = 0; n < ARRAY_SIZE(sim_k_len) * 2; n++) {
		len = sim_k_len[n / 2];
		memset(&req, 0, sizeof(req));
		req.dir = n % 2 ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
		req.len = len;
		req.seed = i * 1000 + n;
		/* vary the memory: kvmalloc, vmalloc, kmalloc, misaligned */
		if (len <= (128 << 10) && (n & 2))
			req.flags |= SIM_LLD_REQ_KMALLOC;
		else if (n & 2)
			req.flags |= SIM_LLD_REQ_VMALLOC;
		if (n % 4 == 3)
			req.align = 512 * (n % 8) + 1;
		/* the 4 MiB case once per config, alternating direction */
		if (len == (4 << 20) && (n % 2) != (i % 2))
			continue;
		sim_k_run_check(test, sh, &lim, &req);
		runs++;
	}

	/* random lengths (log-uniform up to 4 MiB), alignments and memory */
	prandom_seed_state(&rnd, (u64)seed << 8 | i);
	for (n = 0; n < SIM_K_NR_RANDOM; n++) {
		u32 r = prandom_u32_state(&rnd);

		memset(&req, 0, sizeof(req));
		len = prandom_u32_state(&rnd) & ((1U << (r % 23)) - 1);
		req.len = len;
		req.dir = (r >> 8) & 1 ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
		req.seed = prandom_u32_state(&rnd);
		req.align = (r >> 9) & 1 ? (r >> 12) % PAGE_SIZE : 0;
		if ((r >> 10) & 1)
			req.flags |= SIM_LLD_REQ_VMALLOC;
		else if ((r >> 11) & 1 && len <= (128 << 10))
			req.flags |= SIM_LLD_REQ_KMALLOC;
		sim_k_run_check(test, sh, &lim, &req);
		runs++;
	}

	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ(test, c.commands, runs);
	KUNIT_EXPECT_EQ(test, c.cmds_ok, runs);
	KUNIT_EXPECT_EQ(test, c.responses, runs);
	KUNIT_EXPECT_EQ(test, c.errors, 0);
	KUNIT_EXPECT_EQ(test, c.cmds_kept, 0);
	sim_k_expect_idle(test, sh);
	sim_k_remove(test, sh);
}

/* ---------------------------------------------------------------- */

/* a completion mode and the context it completes every transfer in */
struct sim_k_mode {
	enum sim_lld_completion mode;
	u32 ctx;
	const char *name;
};

static const struct sim_k_mode sim_k_modes[] = {
	{ SIM_LLD_COMPL_INLINE, SIM_LLD_CTX_CALLER, "inline" },
	{ SIM_LLD_COMPL_WORKQUEUE, SIM_LLD_CTX_WORKER, "workqueue" },
	{ SIM_LLD_COMPL_SOFTIRQ, SIM_LLD_CTX_SOFTIRQ, "softirq" },
	{ SIM_LLD_COMPL_HRTIMER, SIM_LLD_CTX_HARDIRQ, "hrtimer" },
};

KUNIT_ARRAY_PARAM_DESC(sim_k_mode, sim_k_modes, name);

static void sim_data_transfers_complete_in_mode_context(struct kunit *test)
{
	const struct sim_k_mode *p = test->param_value;
	enum sim_lld_completion mode = p->mode;
	struct sim_lld_limits lim = sim_k_limits(2, 8, 4096, 0xffffffff, 4);
	/*
	 * Without CONFIG_HIGH_RES_TIMERS an hrtimer completion waits for the
	 * next tick (10 ms in UML): 4 chunks there, 65 everywhere else.
	 */
	u32 dlen = mode == SIM_LLD_COMPL_HRTIMER &&
		   !IS_ENABLED(CONFIG_HIGH_RES_TIMERS) ? 3 * 4096 + 3 :
							(256 << 10) + 3;
	struct sim_lld_req req = { };
	struct sim_lld_counters c;
	struct sim_lld_host *sh;
	struct sim_lld_cmd *sc;
	const char *why;
	u32 bad;
	int d;

	sh = sim_k_add(test, &lim);
	KUNIT_ASSERT_EQ(test, sim_lld_host_set_completion(sh, mode, 2000), 0);
	for (d = 0; d < 3; d++) {
		/* to, from, and a command without data (response only) */
		req.dir = d == 0 ? DMA_TO_DEVICE : d == 1 ? DMA_FROM_DEVICE :
							    DMA_NONE;
		req.len = d < 2 ? dlen : 0;
		req.seed = 77 + d;
		KUNIT_EXPECT_EQ(test, sim_lld_cmd_run(sh, &req, NULL, &sc), 0);
		KUNIT_ASSERT_NOT_NULL(test, sc);
		why = sim_k_check_log(sc, &lim, &bad);
		KUNIT_EXPECT_NULL_MSG(test, why, "dir %d chunk %u: %s",
				      req.dir, bad, why);
		if (trace_chunks || why)
			sim_k_trace(test, sc, &lim, why);
		/* 8 sectors a chunk, kvmalloc()ed buffers are page aligned */
		KUNIT_EXPECT_EQ(test, sc->log.nr_chunks,
				DIV_ROUND_UP(req.len, 4096));
		KUNIT_EXPECT_TRUE(test, sc->log.resp_seen);
		KUNIT_EXPECT_EQ(test, sc->done_ctx, p->ctx);
		sim_lld_cmd_release(sc);
	}
	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ(test, c.commands, 3);
	KUNIT_EXPECT_EQ(test, c.chunks, 2 * DIV_ROUND_UP(dlen, 4096));
	KUNIT_EXPECT_EQ(test, c.bytes, 2 * dlen);
	KUNIT_EXPECT_EQ(test, c.responses, 3);
	KUNIT_EXPECT_EQ(test, c.cmds_ok, 3);
	KUNIT_EXPECT_EQ(test, c.cmds_failed, 0);
	KUNIT_EXPECT_EQ(test, c.errors, 0);
	sim_k_expect_idle(test, sh);
	sim_k_remove(test, sh);
}

/* ---------------------------------------------------------------- */

struct sim_k_foreign {
	struct completion done;
	int err;
};

static void sim_k_foreign_done(struct scsi_cmnd *cmd, int err, void *priv)
{
	struct sim_k_foreign *f = priv;

	f->err = err;
	complete(&f->done);
}

/*
 * A command sim_lld did not inject (as a benchmark or another in-kernel
 * user queues one): get, scsi_tgt_queue_command(), wait, put. Returns
 * the error done() got.
 */
static int sim_k_run_foreign(struct kunit *test, struct sim_lld_host *sh,
			     enum dma_data_direction dir, void *buf, u32 len)
{
	struct Scsi_Host *shost = sim_lld_host_shost(sh);
	struct sim_k_foreign f = { };
	struct scsi_cmnd *cmd;

	KUNIT_ASSERT_NOT_NULL(test, shost);
	cmd = scsi_host_get_command(shost, dir, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, cmd);
	init_completion(&f.done);
	KUNIT_EXPECT_EQ(test, scsi_tgt_queue_command(cmd, buf, len,
						     sim_k_foreign_done, &f),
			0);
	wait_for_completion(&f.done);
	scsi_host_put_command(shost, cmd);
	return f.err;
}

/*
 * copy off (the module parameter copy=N, the host's debugfs file copy,
 * sim_lld_host_set_copy()): every chunk is still checked, counted and
 * completed, but its data is not copied, and an injected command is not
 * verified then. The store of a host receives the data of commands
 * sim_lld did not inject while copy is on, nothing while it is off, and a
 * chunk beyond its end fails with "overrun".
 */
static void sim_data_copy_off_completes_without_copying(struct kunit *test)
{
	struct sim_lld_limits lim = sim_k_limits(128, 8, 65536, 0xffffffff, 4);
	const u32 len = 3 * 4096 + 5;
	struct sim_lld_req req = { .len = len, .seed = 9 };
	struct sim_lld_counters before, c;
	struct sim_lld_host *sh;
	struct sim_lld_cmd *sc;
	u8 *buf, *store;
	int d;

	buf = kunit_kmalloc(test, len, GFP_KERNEL);
	store = kunit_kzalloc(test, len, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	KUNIT_ASSERT_NOT_NULL(test, store);
	sh = sim_k_add(test, &lim);

	/* injected commands: chunks completed, data not copied nor verified */
	sim_lld_host_set_copy(sh, false);
	for (d = 0; d < 2; d++) {
		req.dir = d ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
		KUNIT_ASSERT_EQ(test, sim_k_run(test, sh, &req, &sc), 0);
		KUNIT_EXPECT_EQ(test, sc->err, 0);
		KUNIT_EXPECT_EQ(test, sc->result, 0);
		KUNIT_EXPECT_EQ(test, sc->log.nr_chunks, 4);
		KUNIT_EXPECT_TRUE(test, sc->log.resp_seen);
		KUNIT_EXPECT_TRUE(test, sc->nocopy);
		KUNIT_EXPECT_EQ(test, sc->verify, SIM_LLD_VERIFY_SKIPPED);
	}
	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ(test, c.chunks, 8);
	KUNIT_EXPECT_EQ(test, c.bytes, 2 * len);
	KUNIT_EXPECT_EQ(test, c.cmds_ok, 2);
	KUNIT_EXPECT_EQ(test, c.verify_errors, 0);

	/* copy on again: the same command is copied and verified */
	sim_lld_host_set_copy(sh, true);
	KUNIT_ASSERT_EQ(test, sim_k_run(test, sh, &req, &sc), 0);
	KUNIT_EXPECT_FALSE(test, sc->nocopy);
	KUNIT_EXPECT_EQ(test, sc->verify, SIM_LLD_VERIFY_OK);

	/* a command of another user without a store: checked, not copied */
	sim_lld_fill_pattern(buf, len, 5, false);
	KUNIT_EXPECT_EQ(test, sim_k_run_foreign(test, sh, DMA_TO_DEVICE, buf,
						len), 0);
	KUNIT_EXPECT_NULL(test, memchr_inv(store, 0, len));

	/* with the store: copied to it while copy is on */
	sim_lld_host_set_store(sh, store, len);
	KUNIT_EXPECT_EQ(test, sim_k_run_foreign(test, sh, DMA_TO_DEVICE, buf,
						len), 0);
	KUNIT_EXPECT_EQ(test, sim_lld_check_pattern(store, len, 5), -1);
	sim_lld_fill_pattern(store, len, 6, false);
	memset(buf, 0, len);
	KUNIT_EXPECT_EQ(test, sim_k_run_foreign(test, sh, DMA_FROM_DEVICE, buf,
						len), 0);
	KUNIT_EXPECT_EQ(test, sim_lld_check_pattern(buf, len, 6), -1);

	/* and not at all while it is off */
	sim_lld_host_set_copy(sh, false);
	memset(buf, 0, len);
	KUNIT_EXPECT_EQ(test, sim_k_run_foreign(test, sh, DMA_FROM_DEVICE, buf,
						len), 0);
	KUNIT_EXPECT_NULL(test, memchr_inv(buf, 0, len));
	memset(store, 0, len);
	sim_lld_fill_pattern(buf, len, 7, false);
	KUNIT_EXPECT_EQ(test, sim_k_run_foreign(test, sh, DMA_TO_DEVICE, buf,
						len), 0);
	KUNIT_EXPECT_NULL(test, memchr_inv(store, 0, len));

	/* a chunk beyond the store fails the command (copy on) */
	sim_lld_host_set_copy(sh, true);
	sim_lld_host_set_store(sh, store, 2 * 4096);
	sim_lld_host_counters(sh, &before);
	KUNIT_EXPECT_EQ(test, sim_k_run_foreign(test, sh, DMA_TO_DEVICE, buf,
						len), -EIO);
	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ(test, c.errors, before.errors + 1);
	KUNIT_EXPECT_EQ(test, c.chunks, before.chunks + 3);

	sim_lld_host_set_store(sh, NULL, 0);
	sim_k_expect_idle(test, sh);
	sim_k_remove(test, sh);
}

static struct kunit_case sim_lld_data_cases[] = {
	KUNIT_CASE(sim_data_pattern_check_finds_first_bad_byte),
	KUNIT_CASE(sim_data_bad_request_refused_nothing_sent),
	KUNIT_CASE_PARAM(sim_data_limit_violation_fails_chunk,
			 sim_k_viol_gen_params),
	KUNIT_CASE_PARAM(sim_data_chunks_obey_limits_data_intact,
			 sim_k_matrix_gen),
	KUNIT_CASE_PARAM(sim_data_transfers_complete_in_mode_context,
			 sim_k_mode_gen_params),
	KUNIT_CASE(sim_data_copy_off_completes_without_copying),
	{}
};

static struct kunit_suite sim_lld_data_suite = {
	.name = "sim_lld_data",
	.test_cases = sim_lld_data_cases,
};

kunit_test_suite(sim_lld_data_suite);
