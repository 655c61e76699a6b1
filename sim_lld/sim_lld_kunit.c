// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for sim_lld: knob validation, host add/remove, the limits
 * matrix checked against the recorded transfer log (not against sim_lld's
 * own verdict), completion modes and fault injection.
 */

#include <kunit/test.h>
#include <linux/blkdev.h>
#include <linux/err.h>
#include <linux/gfp.h>
#include <linux/kstrtox.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/prandom.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <scsi/scsi_cmnd.h>
#include <scsi/scsi_host.h>

#include "sim_lld.h"

/* seed of the random part of the matrix: sim_lld_kunit.seed=N */
static unsigned int seed = 20061125;
module_param(seed, uint, 0444);
MODULE_PARM_DESC(seed, "seed of the random command lengths (def=20061125)");

static struct sim_lld_limits sim_k_limits(u64 sg, u64 ms, u64 mss, u64 bnd,
					  u64 cq)
{
	struct sim_lld_limits lim;

	lim.v[SIM_LLD_KNOB_SG_TABLESIZE] = sg;
	lim.v[SIM_LLD_KNOB_MAX_SECTORS] = ms;
	lim.v[SIM_LLD_KNOB_MAX_SEGMENT_SIZE] = mss;
	lim.v[SIM_LLD_KNOB_DMA_BOUNDARY] = bnd;
	lim.v[SIM_LLD_KNOB_CAN_QUEUE] = cq;
	return lim;
}

static struct sim_lld_host *sim_k_add(struct kunit *test,
				      const struct sim_lld_limits *lim)
{
	struct sim_lld_host *sh = sim_lld_host_add(lim);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sh);
	return sh;
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

KUNIT_DEFINE_ACTION_WRAPPER(sim_k_release, sim_lld_cmd_release,
			    struct sim_lld_cmd *);

static int sim_k_run(struct kunit *test, struct sim_lld_host *sh,
		     const struct sim_lld_req *req, struct sim_lld_cmd **sc)
{
	int ret = sim_lld_cmd_run(sh, req, NULL, sc);

	if (*sc)
		kunit_add_action_or_reset(test, sim_k_release, *sc);
	return ret;
}

static void sim_k_expect_idle(struct kunit *test, struct sim_lld_host *sh)
{
	struct sim_lld_counters c;

	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ(test, c.outstanding, 0);
	KUNIT_EXPECT_EQ(test, c.pending, 0);
	KUNIT_EXPECT_EQ(test, c.dropped_now, 0);
	KUNIT_EXPECT_EQ(test, c.tags_in_use, 0);
	KUNIT_EXPECT_EQ(test, c.dev_refs, 0);
	KUNIT_EXPECT_EQ(test, c.free_list, 1);
}

/* ---------------------------------------------------------------- */

struct sim_k_bad {
	enum sim_lld_knob knob;
	const char *text;
};

static const struct sim_k_bad sim_k_bad_values[] = {
	{ SIM_LLD_KNOB_SG_TABLESIZE, "0" },
	{ SIM_LLD_KNOB_SG_TABLESIZE, "2049" },
	{ SIM_LLD_KNOB_SG_TABLESIZE, "abc" },
	{ SIM_LLD_KNOB_SG_TABLESIZE, "-1" },
	{ SIM_LLD_KNOB_MAX_SECTORS, "0" },
	{ SIM_LLD_KNOB_MAX_SECTORS, "7" },
	{ SIM_LLD_KNOB_MAX_SECTORS, "32769" },
	{ SIM_LLD_KNOB_MAX_SECTORS, "16x" },
	{ SIM_LLD_KNOB_MAX_SECTORS, "" },
	{ SIM_LLD_KNOB_MAX_SEGMENT_SIZE, "512" },
	{ SIM_LLD_KNOB_MAX_SEGMENT_SIZE, "4095" },
	{ SIM_LLD_KNOB_MAX_SEGMENT_SIZE, "0x40000001" },
	{ SIM_LLD_KNOB_DMA_BOUNDARY, "0" },
	{ SIM_LLD_KNOB_DMA_BOUNDARY, "2047" },
	{ SIM_LLD_KNOB_DMA_BOUNDARY, "4096" },
	{ SIM_LLD_KNOB_DMA_BOUNDARY, "0x1ffe" },
	{ SIM_LLD_KNOB_DMA_BOUNDARY, "0xfffffffe" },
	{ SIM_LLD_KNOB_CAN_QUEUE, "0" },
	{ SIM_LLD_KNOB_CAN_QUEUE, "4097" },
	{ SIM_LLD_KNOB_CAN_QUEUE, "99999999999999999999999" },
	{ SIM_LLD_KNOB_CAN_QUEUE, "one" },
};

static void sim_test_knob_invalid(struct kunit *test)
{
	struct sim_lld_limits lim0 = sim_k_limits(4, 16, 4096, 0xffff, 8);
	struct sim_lld_limits lim;
	struct sim_lld_counters c;
	struct sim_lld_host *sh;
	struct Scsi_Host *shost;
	unsigned int hosts;
	int i, ret;

	sh = sim_k_add(test, &lim0);
	shost = sim_lld_host_shost(sh);
	hosts = sim_lld_nr_hosts();
	for (i = 0; i < ARRAY_SIZE(sim_k_bad_values); i++) {
		const struct sim_k_bad *b = &sim_k_bad_values[i];
		u64 v;

		KUNIT_EXPECT_EQ_MSG(test, sim_lld_host_store_knob(sh, b->knob,
								  b->text),
				    -EINVAL, "knob %d value '%s'", b->knob,
				    b->text);
		/* a new host with the value is refused too */
		lim = lim0;
		if (!kstrtou64(b->text, 0, &v)) {
			lim.v[b->knob] = v;
			KUNIT_EXPECT_PTR_EQ(test, sim_lld_host_add(&lim),
					    ERR_PTR(-EINVAL));
		}
		KUNIT_EXPECT_EQ(test, sim_lld_nr_hosts(), hosts);
		sim_lld_host_get_limits(sh, &lim);
		KUNIT_EXPECT_MEMEQ(test, &lim, &lim0, sizeof(lim));
		KUNIT_EXPECT_PTR_EQ(test, sim_lld_host_shost(sh), shost);
	}
	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ(test, c.recreated, 0);

	/* a valid value re-creates the host and reaches the block layer */
	ret = sim_lld_host_store_knob(sh, SIM_LLD_KNOB_MAX_SECTORS, "24\n");
	KUNIT_EXPECT_EQ(test, ret, 0);
	ret = sim_lld_host_store_knob(sh, SIM_LLD_KNOB_SG_TABLESIZE, "3");
	KUNIT_EXPECT_EQ(test, ret, 0);
	ret = sim_lld_host_store_knob(sh, SIM_LLD_KNOB_MAX_SEGMENT_SIZE,
				      "8192");
	KUNIT_EXPECT_EQ(test, ret, 0);
	ret = sim_lld_host_store_knob(sh, SIM_LLD_KNOB_DMA_BOUNDARY, "0x3fff");
	KUNIT_EXPECT_EQ(test, ret, 0);
	ret = sim_lld_host_store_knob(sh, SIM_LLD_KNOB_CAN_QUEUE, "5");
	KUNIT_EXPECT_EQ(test, ret, 0);
	shost = sim_lld_host_shost(sh);
	KUNIT_ASSERT_NOT_NULL(test, shost);
	KUNIT_ASSERT_NOT_NULL(test, shost->uspace_req_q);
	KUNIT_EXPECT_EQ(test, queue_max_hw_sectors(shost->uspace_req_q), 24);
	KUNIT_EXPECT_EQ(test, queue_max_segments(shost->uspace_req_q), 3);
	KUNIT_EXPECT_EQ(test, queue_max_segment_size(shost->uspace_req_q),
			8192);
	KUNIT_EXPECT_EQ(test, queue_segment_boundary(shost->uspace_req_q),
			0x3fff);
	KUNIT_EXPECT_EQ(test, shost->can_queue, 5);
	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ(test, c.recreated, 5);
	sim_k_expect_idle(test, sh);
	sim_lld_host_remove(sh);
}

static void sim_test_add_remove_100(struct kunit *test)
{
	struct sim_lld_limits lim = sim_k_limits(8, 64, 8192, 0xffffffff, 4);
	struct sim_lld_req req = { .dir = DMA_TO_DEVICE, .len = 70000 };
	unsigned int live = sim_lld_live_shosts();
	unsigned int root_refs = sim_lld_root_refs();
	unsigned int hosts = sim_lld_nr_hosts();
	struct sim_lld_counters c;
	struct sim_lld_host *sh;
	struct sim_lld_cmd *sc;
	u64 refs;
	int i;

	for (i = 0; i < 100; i++) {
		sh = sim_k_add(test, &lim);
		sim_lld_host_counters(sh, &c);
		refs = c.gendev_refs;
		if (i % 10 == 0) {
			req.seed = i;
			req.dir = i % 20 ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
			KUNIT_EXPECT_EQ(test, sim_lld_cmd_run(sh, &req, NULL,
							      &sc), 0);
			KUNIT_EXPECT_NOT_NULL(test, sc);
			if (sc) {
				KUNIT_EXPECT_EQ(test, sc->err, 0);
				KUNIT_EXPECT_EQ(test, sc->verify,
						SIM_LLD_VERIFY_OK);
				sim_lld_cmd_release(sc);
			}
		}
		sim_lld_host_counters(sh, &c);
		KUNIT_EXPECT_EQ(test, c.gendev_refs, refs);
		KUNIT_EXPECT_EQ(test, c.cmds_kept, 0);
		sim_k_expect_idle(test, sh);
		KUNIT_EXPECT_EQ(test, sim_lld_nr_hosts(), hosts + 1);
		sim_lld_host_remove(sh);
		/* every Scsi_Host removed so far was released (freed) */
		KUNIT_EXPECT_EQ(test, sim_lld_root_refs(), root_refs);
	}
	KUNIT_EXPECT_EQ(test, sim_lld_live_shosts(), live);
	KUNIT_EXPECT_EQ(test, sim_lld_nr_hosts(), hosts);
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
	sim_lld_cmd_release(sc);
}

#define SIM_K_NR_RANDOM	2

static void sim_test_matrix(struct kunit *test)
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
	sim_lld_host_remove(sh);
}

/* ---------------------------------------------------------------- */

static const void *sim_k_mode_gen(const void *prev, char *desc)
{
	static const char * const names[] = SIM_LLD_COMPLETION_NAMES;
	unsigned long i = prev ? (unsigned long)prev : 0;

	if (i >= SIM_LLD_COMPL_NR)
		return NULL;
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s", names[i]);
	return (const void *)(i + 1);
}

static void sim_test_completion(struct kunit *test)
{
	/* where each mode must have completed every transfer */
	static const u32 ctx[SIM_LLD_COMPL_NR] = {
		[SIM_LLD_COMPL_INLINE] = SIM_LLD_CTX_CALLER,
		[SIM_LLD_COMPL_WORKQUEUE] = SIM_LLD_CTX_WORKER,
		[SIM_LLD_COMPL_SOFTIRQ] = SIM_LLD_CTX_SOFTIRQ,
		[SIM_LLD_COMPL_HRTIMER] = SIM_LLD_CTX_HARDIRQ,
	};
	enum sim_lld_completion mode = (unsigned long)test->param_value - 1;
	struct sim_lld_limits lim = sim_k_limits(2, 8, 4096, 0xffffffff, 4);
	/*
	 * Without CONFIG_HIGH_RES_TIMERS (UML) an hrtimer completion waits
	 * for the next tick: 4 chunks there, 65 in the other modes.
	 */
	u32 dlen = mode == SIM_LLD_COMPL_HRTIMER ? 3 * 4096 + 3 :
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
		/* 8 sectors a chunk, kvmalloc()ed buffers are page aligned */
		KUNIT_EXPECT_EQ(test, sc->log.nr_chunks,
				DIV_ROUND_UP(req.len, 4096));
		KUNIT_EXPECT_TRUE(test, sc->log.resp_seen);
		KUNIT_EXPECT_EQ(test, sc->done_ctx, ctx[mode]);
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
	sim_lld_host_remove(sh);
}

/* ---------------------------------------------------------------- */

static void sim_test_fault_fail(struct kunit *test)
{
	struct sim_lld_limits lim = sim_k_limits(1, 8, 4096, 0xffffffff, 4);
	struct sim_lld_fault f = { SIM_LLD_FAULT_FAIL, false, 2, 1 };
	struct sim_lld_req req = { .dir = DMA_TO_DEVICE, .len = 10 * 4096 };
	struct sim_lld_counters c;
	struct sim_lld_host *sh;
	struct sim_lld_cmd *sc;
	int i;

	sh = sim_k_add(test, &lim);
	sim_lld_host_set_fault(sh, &f);
	KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc), 0);
	KUNIT_ASSERT_NOT_NULL(test, sc);
	KUNIT_EXPECT_EQ(test, sc->err, -EIO);
	KUNIT_EXPECT_EQ(test, sc->result, SIM_LLD_RESULT_FAULT);
	KUNIT_EXPECT_EQ(test, sc->verify, SIM_LLD_VERIFY_SKIPPED);
	KUNIT_ASSERT_EQ(test, sc->log.nr_chunks, 3);
	KUNIT_EXPECT_EQ(test, sc->log.chunks[0].reason, SIM_LLD_R_OK);
	KUNIT_EXPECT_EQ(test, sc->log.chunks[1].reason, SIM_LLD_R_OK);
	KUNIT_EXPECT_EQ(test, sc->log.chunks[2].reason, SIM_LLD_R_FAULT);
	KUNIT_EXPECT_EQ(test, sc->log.chunks[2].result, SIM_LLD_RESULT_FAULT);
	KUNIT_EXPECT_EQ(test, sc->log.chunks[2].offset, 2 * 4096);
	KUNIT_EXPECT_FALSE(test, sc->log.resp_seen);
	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ(test, c.faults, 1);
	KUNIT_EXPECT_EQ(test, c.chunks, 3);
	KUNIT_EXPECT_EQ(test, c.bytes, 2 * 4096);
	KUNIT_EXPECT_EQ(test, c.cmds_failed, 1);
	KUNIT_EXPECT_EQ(test, c.responses, 0);
	sim_k_expect_idle(test, sh);

	/* one shot: the next command runs through */
	KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc), 0);
	KUNIT_EXPECT_EQ(test, sc->err, 0);
	KUNIT_EXPECT_EQ(test, sc->verify, SIM_LLD_VERIFY_OK);
	KUNIT_EXPECT_EQ(test, sc->log.nr_chunks, 10);

	/* a failed response */
	f.resp = true;
	sim_lld_host_set_fault(sh, &f);
	KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc), 0);
	KUNIT_EXPECT_EQ(test, sc->err, -EIO);
	KUNIT_EXPECT_EQ(test, sc->result, SIM_LLD_RESULT_FAULT);
	KUNIT_EXPECT_EQ(test, sc->log.nr_chunks, 10);
	KUNIT_EXPECT_TRUE(test, sc->log.resp_seen);
	KUNIT_EXPECT_EQ(test, sc->log.resp_reason, SIM_LLD_R_FAULT);
	KUNIT_EXPECT_EQ(test, sc->log.resp_result, SIM_LLD_RESULT_FAULT);

	/* times=2: two commands fail at chunk 0, the third runs through */
	f.resp = false;
	f.chunk = 0;
	f.times = 2;
	sim_lld_host_set_fault(sh, &f);
	for (i = 0; i < 3; i++) {
		KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc), 0);
		KUNIT_EXPECT_EQ(test, sc->err, i < 2 ? -EIO : 0);
		KUNIT_EXPECT_EQ(test, sc->log.nr_chunks, i < 2 ? 1 : 10);
	}
	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ(test, c.faults, 4);
	KUNIT_EXPECT_EQ(test, c.commands, 6);
	KUNIT_EXPECT_EQ(test, c.cmds_ok, 2);
	KUNIT_EXPECT_EQ(test, c.cmds_failed, 4);
	sim_k_expect_idle(test, sh);
	sim_lld_host_remove(sh);
}

static void sim_test_fault_busy(struct kunit *test)
{
	struct sim_lld_limits lim = sim_k_limits(1, 8, 4096, 0xffffffff, 4);
	struct sim_lld_fault f = { SIM_LLD_FAULT_BUSY, false, 1, 1 };
	struct sim_lld_req req = { .dir = DMA_FROM_DEVICE, .len = 3 * 4096 };
	struct sim_lld_counters c;
	struct sim_lld_host *sh;
	struct sim_lld_cmd *sc;

	sh = sim_k_add(test, &lim);
	sim_lld_host_set_fault(sh, &f);
	KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc), 0);
	KUNIT_ASSERT_NOT_NULL(test, sc);
	KUNIT_EXPECT_EQ(test, sc->err, -EBUSY);
	KUNIT_ASSERT_EQ(test, sc->log.nr_chunks, 2);
	KUNIT_EXPECT_EQ(test, sc->log.chunks[0].reason, SIM_LLD_R_OK);
	KUNIT_EXPECT_EQ(test, sc->log.chunks[1].reason, SIM_LLD_R_BUSY);
	KUNIT_EXPECT_FALSE(test, sc->log.resp_seen);
	sim_k_expect_idle(test, sh);

	/* a refused response */
	f.resp = true;
	sim_lld_host_set_fault(sh, &f);
	KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc), 0);
	KUNIT_EXPECT_EQ(test, sc->err, -EBUSY);
	KUNIT_EXPECT_EQ(test, sc->log.nr_chunks, 3);
	KUNIT_EXPECT_TRUE(test, sc->log.resp_seen);
	KUNIT_EXPECT_EQ(test, sc->log.resp_reason, SIM_LLD_R_BUSY);

	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ(test, c.busy, 2);
	KUNIT_EXPECT_EQ(test, c.cmds_failed, 2);
	KUNIT_EXPECT_EQ(test, c.pending, 0);
	sim_k_expect_idle(test, sh);
	sim_lld_host_remove(sh);
}

static void sim_test_fault_drop(struct kunit *test)
{
	struct sim_lld_limits lim = sim_k_limits(4, 16, 4096, 0xffffffff, 4);
	struct sim_lld_fault f = { SIM_LLD_FAULT_DROP, false, 0, 1 };
	struct sim_lld_req req = { .dir = DMA_TO_DEVICE, .len = 8192,
				   .timeout_ms = 20 };
	struct sim_lld_limits lim2 = lim;
	struct sim_lld_limits now;
	struct sim_lld_counters c;
	struct Scsi_Host *shost;
	struct sim_lld_host *sh;
	struct sim_lld_cmd *sc;

	sh = sim_k_add(test, &lim);
	shost = sim_lld_host_shost(sh);
	sim_lld_host_set_fault(sh, &f);
	/* the timeout is what is tested here: the completion never comes */
	KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc), -ETIMEDOUT);
	KUNIT_ASSERT_NOT_NULL(test, sc);
	KUNIT_EXPECT_EQ(test, sc->state, SIM_LLD_CMD_PENDING);
	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ(test, c.outstanding, 1);
	KUNIT_EXPECT_EQ(test, c.pending, 1);
	KUNIT_EXPECT_EQ(test, c.dropped_now, 1);
	KUNIT_EXPECT_EQ(test, c.tags_in_use, 1);
	KUNIT_EXPECT_EQ(test, c.dev_refs, 1);
	KUNIT_EXPECT_EQ(test, c.timeouts, 1);

	/* no reconfiguration under a command */
	lim2.v[SIM_LLD_KNOB_MAX_SECTORS] = 8;
	KUNIT_EXPECT_EQ(test, sim_lld_host_set_limits(sh, &lim2), -EBUSY);
	KUNIT_EXPECT_EQ(test, sim_lld_host_store_knob(sh,
						      SIM_LLD_KNOB_CAN_QUEUE,
						      "8"), -EBUSY);
	sim_lld_host_get_limits(sh, &now);
	KUNIT_EXPECT_MEMEQ(test, &now, &lim, sizeof(now));
	KUNIT_EXPECT_PTR_EQ(test, sim_lld_host_shost(sh), shost);

	KUNIT_EXPECT_EQ(test, sim_lld_host_flush_dropped(sh), 1);
	KUNIT_EXPECT_EQ(test, sim_lld_cmd_wait(sc, 5000), 0);
	KUNIT_EXPECT_EQ(test, sc->err, -EIO);
	KUNIT_EXPECT_EQ(test, sc->result, SIM_LLD_RESULT_NODEV);
	KUNIT_EXPECT_EQ(test, sc->log.nr_chunks, 1);
	KUNIT_EXPECT_EQ(test, sc->log.chunks[0].reason, SIM_LLD_R_FLUSHED);
	KUNIT_EXPECT_EQ(test, sc->log.chunks[0].result, SIM_LLD_RESULT_NODEV);
	sim_k_expect_idle(test, sh);

	/* a dropped response, flushed */
	f.resp = true;
	sim_lld_host_set_fault(sh, &f);
	req.timeout_ms = 0;
	req.flags = SIM_LLD_REQ_ASYNC;
	KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc), 0);
	KUNIT_ASSERT_NOT_NULL(test, sc);
	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ(test, c.dropped_now, 1);
	KUNIT_EXPECT_EQ(test, sim_lld_host_flush_dropped(sh), 1);
	KUNIT_EXPECT_EQ(test, sim_lld_cmd_wait(sc, 5000), 0);
	KUNIT_EXPECT_EQ(test, sc->err, -EIO);
	KUNIT_EXPECT_EQ(test, sc->log.nr_chunks, 1);
	KUNIT_EXPECT_EQ(test, sc->log.chunks[0].reason, SIM_LLD_R_OK);
	KUNIT_EXPECT_EQ(test, sc->log.resp_reason, SIM_LLD_R_FLUSHED);
	KUNIT_EXPECT_EQ(test, sc->log.resp_result, SIM_LLD_RESULT_NODEV);
	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ(test, c.dropped, 2);
	sim_k_expect_idle(test, sh);

	/* idle again: now the limits can change */
	KUNIT_EXPECT_EQ(test, sim_lld_host_set_limits(sh, &lim2), 0);
	sim_lld_host_get_limits(sh, &now);
	KUNIT_EXPECT_MEMEQ(test, &now, &lim2, sizeof(now));
	sim_lld_host_remove(sh);
}

static void sim_test_can_queue(struct kunit *test)
{
	struct sim_lld_limits lim = sim_k_limits(4, 16, 4096, 0xffffffff, 4);
	struct sim_lld_fault f = { SIM_LLD_FAULT_DROP, false, 0, -1 };
	struct sim_lld_req req = { .dir = DMA_FROM_DEVICE, .len = 4096,
				   .flags = SIM_LLD_REQ_ASYNC |
					    SIM_LLD_REQ_NOWAIT };
	struct sim_lld_cmd *sc[5];
	struct sim_lld_counters c;
	struct sim_lld_host *sh;
	int i;

	sh = sim_k_add(test, &lim);
	sim_lld_host_set_fault(sh, &f);
	for (i = 0; i < 4; i++) {
		KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc[i]), 0);
		KUNIT_ASSERT_NOT_NULL(test, sc[i]);
	}
	KUNIT_EXPECT_EQ(test, sim_lld_cmd_run(sh, &req, NULL, &sc[4]), -EBUSY);
	KUNIT_EXPECT_NULL(test, sc[4]);
	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ(test, c.outstanding, 4);
	KUNIT_EXPECT_EQ(test, c.tags_in_use, 4);
	KUNIT_EXPECT_EQ(test, c.dropped_now, 4);
	KUNIT_EXPECT_EQ(test, c.dev_refs, 4);
	KUNIT_EXPECT_EQ(test, c.commands, 4);

	f.type = SIM_LLD_FAULT_NONE;
	sim_lld_host_set_fault(sh, &f);
	KUNIT_EXPECT_EQ(test, sim_lld_host_flush_dropped(sh), 4);
	for (i = 0; i < 4; i++) {
		KUNIT_EXPECT_EQ(test, sim_lld_cmd_wait(sc[i], 5000), 0);
		KUNIT_EXPECT_EQ(test, sc[i]->err, -EIO);
		KUNIT_EXPECT_EQ(test, sc[i]->result, SIM_LLD_RESULT_NODEV);
	}
	sim_k_expect_idle(test, sh);

	/* the tags are free again */
	req.flags = SIM_LLD_REQ_NOWAIT;
	KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc[4]), 0);
	KUNIT_ASSERT_NOT_NULL(test, sc[4]);
	KUNIT_EXPECT_EQ(test, sc[4]->err, 0);
	KUNIT_EXPECT_EQ(test, sc[4]->verify, SIM_LLD_VERIFY_OK);
	sim_k_expect_idle(test, sh);
	sim_lld_host_remove(sh);
}

static void sim_test_hot_remove(struct kunit *test)
{
	struct sim_lld_limits lim = sim_k_limits(4, 16, 4096, 0xffffffff, 8);
	struct sim_lld_fault f = { SIM_LLD_FAULT_DROP, false, 1, -1 };
	struct sim_lld_req req = { .dir = DMA_TO_DEVICE, .len = 65536,
				   .flags = SIM_LLD_REQ_ASYNC };
	unsigned int live = sim_lld_live_shosts();
	unsigned int refs = sim_lld_root_refs();
	unsigned int hosts = sim_lld_nr_hosts();
	struct sim_lld_counters c;
	struct sim_lld_cmd *sc[6];
	struct sim_lld_host *sh;
	int i;

	sh = sim_k_add(test, &lim);
	KUNIT_EXPECT_EQ(test, sim_lld_nr_hosts(), hosts + 1);
	sim_lld_host_set_fault(sh, &f);
	for (i = 0; i < 6; i++) {
		/*
		 * The first three complete inline: chunk 1 is withheld when
		 * sim_lld_cmd_run() returns. The others complete from an
		 * hrtimer and are still at chunk 0 or 1 when removal starts.
		 */
		if (i == 3)
			sim_lld_host_set_completion(sh, SIM_LLD_COMPL_HRTIMER,
						    100000);
		req.seed = i;
		KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc[i]), 0);
		KUNIT_ASSERT_NOT_NULL(test, sc[i]);
	}
	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ(test, c.outstanding, 6);
	KUNIT_EXPECT_GE(test, c.dropped_now, 3);
	KUNIT_EXPECT_EQ(test, c.tags_in_use, 6);
	/* the commands keep sh's memory alive until released */
	sim_lld_host_remove(sh);
	KUNIT_EXPECT_EQ(test, sim_lld_nr_hosts(), hosts);
	KUNIT_EXPECT_EQ(test, sim_lld_live_shosts(), live);
	/* the Scsi_Host was released: it dropped its root device refs */
	KUNIT_EXPECT_EQ(test, sim_lld_root_refs(), refs);
	for (i = 0; i < 6; i++) {
		/* removal waited for every command: no waiting here */
		KUNIT_EXPECT_EQ(test, sc[i]->state, SIM_LLD_CMD_DONE);
		KUNIT_EXPECT_EQ(test, sim_lld_cmd_wait(sc[i], 0), 0);
		KUNIT_EXPECT_EQ(test, sc[i]->err, -EIO);
		KUNIT_EXPECT_EQ(test, sc[i]->result, SIM_LLD_RESULT_NODEV);
		KUNIT_EXPECT_EQ(test, sc[i]->verify, SIM_LLD_VERIFY_SKIPPED);
	}
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

static void sim_k_viol_desc(const struct sim_k_viol *v, char *desc)
{
	strscpy(desc, v->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(sim_k_viol, sim_k_viols, sim_k_viol_desc);

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

static void sim_test_limit_violation(struct kunit *test)
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

	memset(&cmd->sdb, 0, sizeof(cmd->sdb));
	cmd->host_scribble = NULL;
	scsi_host_put_command(shost, cmd);
	sim_k_expect_idle(test, sh);
	sim_lld_host_remove(sh);
}

/* ---------------------------------------------------------------- */
/* the text interface: parsers and the rendered log                   */

static void sim_test_boot_host(struct kunit *test)
{
	struct sim_lld_limits lim, def;

	/* sim_lld is built in and made its num_hosts (def 1) hosts at boot */
	KUNIT_EXPECT_GE(test, sim_lld_nr_hosts(), 1);
	KUNIT_ASSERT_EQ(test, sim_lld_limits_by_index(0, &lim), 0);
	sim_lld_default_limits(&def);
	KUNIT_EXPECT_MEMEQ(test, &lim, &def, sizeof(lim));
	KUNIT_EXPECT_EQ(test, sim_lld_limits_by_index(SIM_LLD_MAX_HOSTS, &lim),
			-ENODEV);
}

static void sim_k_restore_defaults(void *data)
{
	const struct sim_lld_limits *def = data;
	char buf[24];
	int k;

	for (k = 0; k < SIM_LLD_NR_KNOBS; k++) {
		snprintf(buf, sizeof(buf), "%llu", def->v[k]);
		sim_lld_set_default_knob(k, buf);
	}
}

static void sim_test_defaults(struct kunit *test)
{
	struct sim_lld_limits *def, lim;
	struct sim_lld_host *sh;
	int i;

	def = kunit_kzalloc(test, sizeof(*def), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, def);
	sim_lld_default_limits(def);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test,
							sim_k_restore_defaults,
							def), 0);

	/* what sim_lld.max_sectors=... and friends do on the command line */
	for (i = 0; i < ARRAY_SIZE(sim_k_bad_values); i++) {
		const struct sim_k_bad *b = &sim_k_bad_values[i];

		KUNIT_EXPECT_EQ_MSG(test, sim_lld_set_default_knob(b->knob,
								   b->text),
				    -EINVAL, "knob %d value '%s'", b->knob,
				    b->text);
		sim_lld_default_limits(&lim);
		KUNIT_EXPECT_MEMEQ(test, &lim, def, sizeof(lim));
	}
	KUNIT_EXPECT_EQ(test, sim_lld_set_default_knob(SIM_LLD_KNOB_MAX_SECTORS,
						       "16"), 0);
	KUNIT_EXPECT_EQ(test,
			sim_lld_set_default_knob(SIM_LLD_KNOB_DMA_BOUNDARY,
						 "0x7fff\n"), 0);
	sh = sim_k_add(test, NULL);
	sim_lld_host_get_limits(sh, &lim);
	KUNIT_EXPECT_EQ(test, lim.v[SIM_LLD_KNOB_MAX_SECTORS], 16);
	KUNIT_EXPECT_EQ(test, lim.v[SIM_LLD_KNOB_DMA_BOUNDARY], 0x7fff);
	KUNIT_EXPECT_EQ(test, lim.v[SIM_LLD_KNOB_SG_TABLESIZE],
			def->v[SIM_LLD_KNOB_SG_TABLESIZE]);
	KUNIT_EXPECT_EQ(test,
			queue_max_hw_sectors(sim_lld_host_shost(sh)->uspace_req_q),
			16);
	sim_lld_host_remove(sh);
}

struct sim_k_limits_text {
	const char *text;
	int ret;
	u64 v[SIM_LLD_NR_KNOBS];	/* expected if ret == 0 */
};

/* parsed over sim_k_limits(4, 16, 4096, 0xffff, 8) */
static const struct sim_k_limits_text sim_k_limits_texts[] = {
	{ "max_sectors=8", 0, { 4, 8, 4096, 0xffff, 8 } },
	{ "sg_tablesize=1 max_sectors=8 max_segment_size=8192 dma_boundary=0xfff can_queue=2\n",
	  0, { 1, 8, 8192, 0xfff, 2 } },
	{ "max_sectors=32768 max_segment_size=0x40000000", 0,
	  { 4, 32768, 0x40000000, 0xffff, 8 } },
	{ "  can_queue=1\t", 0, { 4, 16, 4096, 0xffff, 1 } },
	{ "max_sectors=7", -EINVAL },
	{ "max_sectors=8 sg_tablesize=0", -EINVAL },
	{ "max_sectors", -EINVAL },
	{ "max_sectors=", -EINVAL },
	{ "bogus=1", -EINVAL },
	{ "dma_boundary=0x1000", -EINVAL },
	{ "can_queue=ten", -EINVAL },
};

static void sim_test_parse_limits(struct kunit *test)
{
	struct sim_lld_limits lim0 = sim_k_limits(4, 16, 4096, 0xffff, 8);
	struct sim_lld_limits lim, now;
	struct Scsi_Host *shost;
	struct sim_lld_host *sh;
	char buf[160];
	int i, ret;

	sh = sim_k_add(test, &lim0);
	shost = sim_lld_host_shost(sh);
	for (i = 0; i < ARRAY_SIZE(sim_k_limits_texts); i++) {
		const struct sim_k_limits_text *t = &sim_k_limits_texts[i];

		strscpy(buf, t->text, sizeof(buf));
		lim = lim0;
		ret = sim_lld_parse_limits(buf, &lim);
		KUNIT_EXPECT_EQ_MSG(test, ret, t->ret, "'%s'", t->text);
		if (!ret && !t->ret)
			KUNIT_EXPECT_MEMEQ_MSG(test, lim.v, t->v, sizeof(t->v),
					       "'%s'", t->text);
	}
	/* a refused write of the limits file leaves the host as it was */
	sim_lld_host_get_limits(sh, &now);
	KUNIT_EXPECT_MEMEQ(test, &now, &lim0, sizeof(now));
	KUNIT_EXPECT_PTR_EQ(test, sim_lld_host_shost(sh), shost);
	sim_lld_host_remove(sh);
}

struct sim_k_req_text {
	const char *text;
	int ret;
	struct sim_lld_req req;		/* expected if ret == 0 */
};

static const struct sim_k_req_text sim_k_req_texts[] = {
	{ "dir=to len=10000 seed=1", 0,
	  { DMA_TO_DEVICE, 10000, 1, 0, 0, 0 } },
	{ "dir=from len=0x1000 align=511 buf=kmalloc async nowait timeout_ms=5\n",
	  0, { DMA_FROM_DEVICE, 4096, 0, 511,
	       SIM_LLD_REQ_KMALLOC | SIM_LLD_REQ_ASYNC | SIM_LLD_REQ_NOWAIT,
	       5 } },
	{ "len=0 dir=none", 0, { DMA_NONE, 0, 0, 0, 0, 0 } },
	{ "dir=bidi len=1 buf=kmalloc buf=vmalloc", 0,
	  { DMA_BIDIRECTIONAL, 1, 0, 0,
	    SIM_LLD_REQ_KMALLOC | SIM_LLD_REQ_VMALLOC, 0 } },
	{ "dir=to len=1 buf=kmalloc buf=kvmalloc", 0,
	  { DMA_TO_DEVICE, 1, 0, 0, 0, 0 } },
	{ "dir=to", -EINVAL },
	{ "len=5", -EINVAL },
	{ "dir=sideways len=5", -EINVAL },
	{ "dir=to len=-1", -EINVAL },
	{ "dir=to len=5x", -EINVAL },
	{ "dir=to len=5 buf=stack", -EINVAL },
	{ "dir=to len=5 sync", -EINVAL },
	{ "", -EINVAL },
};

static void sim_test_parse_req(struct kunit *test)
{
	struct sim_lld_req req;
	char buf[128];
	int i, ret;

	for (i = 0; i < ARRAY_SIZE(sim_k_req_texts); i++) {
		const struct sim_k_req_text *t = &sim_k_req_texts[i];

		strscpy(buf, t->text, sizeof(buf));
		ret = sim_lld_parse_req(buf, &req);
		KUNIT_EXPECT_EQ_MSG(test, ret, t->ret, "'%s'", t->text);
		if (!ret && !t->ret)
			KUNIT_EXPECT_MEMEQ_MSG(test, &req, &t->req, sizeof(req),
					       "'%s'", t->text);
	}
}

/* requests refused by sim_lld (no command) or by the target core */
static void sim_test_cmd_refused(struct kunit *test)
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
	sim_lld_host_remove(sh);
}

struct sim_k_fault_text {
	const char *text;
	int ret;
	bool flush;
	struct sim_lld_fault f;		/* expected if ret == 0 && !flush */
};

static const struct sim_k_fault_text sim_k_fault_texts[] = {
	{ "none", 0, false, { SIM_LLD_FAULT_NONE, false, 0, 1 } },
	{ "flush\n", 0, true },
	{ "fail chunk=3", 0, false, { SIM_LLD_FAULT_FAIL, false, 3, 1 } },
	{ "busy chunk=0 times=-1", 0, false,
	  { SIM_LLD_FAULT_BUSY, false, 0, -1 } },
	{ " drop resp times=4\n", 0, false,
	  { SIM_LLD_FAULT_DROP, true, 0, 4 } },
	{ "fail", -EINVAL },
	{ "fail chunk=x", -EINVAL },
	{ "fail chunk=1 times=-2", -EINVAL },
	{ "explode chunk=1", -EINVAL },
	{ "flush now", -EINVAL },
	{ "none chunk=1", -EINVAL },
	{ "", -EINVAL },
};

static void sim_test_parse_fault(struct kunit *test)
{
	struct sim_lld_fault f;
	bool flush;
	char buf[64];
	int i, ret;

	for (i = 0; i < ARRAY_SIZE(sim_k_fault_texts); i++) {
		const struct sim_k_fault_text *t = &sim_k_fault_texts[i];

		strscpy(buf, t->text, sizeof(buf));
		ret = sim_lld_parse_fault(buf, &f, &flush);
		KUNIT_EXPECT_EQ_MSG(test, ret, t->ret, "'%s'", t->text);
		if (ret || t->ret)
			continue;
		KUNIT_EXPECT_EQ_MSG(test, flush, t->flush, "'%s'", t->text);
		if (!t->flush)
			KUNIT_EXPECT_MEMEQ_MSG(test, &f, &t->f, sizeof(f),
					       "'%s'", t->text);
	}
}

/* a uapi format for sscanf(): every "%s" bounded to 15 characters */
static void sim_k_scan_fmt(const char *fmt, char *out, size_t size)
{
	size_t n = 0;

	for (; *fmt && n + 4 < size; fmt++) {
		if (fmt[0] == '%' && fmt[1] == 's') {
			/* "%15", then the 's' in the next round */
			memcpy(out + n, "%15", 3);
			n += 3;
			continue;
		}
		out[n++] = *fmt;
	}
	out[n] = '\0';
}

/* the text of the cmd file, read back with the formats of the uapi header */
static void sim_test_render(struct kunit *test)
{
	struct sim_lld_limits lim = sim_k_limits(2, 8, 4096, 0xffffffff, 4);
	struct sim_lld_req req = { .dir = DMA_FROM_DEVICE, .len = 10000,
				   .seed = 9, .align = 100 };
	char cmd_fmt[160], chunk_fmt[96], seg_fmt[64], resp_fmt[64];
	unsigned int len, sd, nents, res, chunks, ovf, idx, slen;
	char state[16], dir[16], reason[16];
	u32 nchunk = 0, nseg = 0, seen = 0;
	const struct sim_lld_chunk *c = NULL;
	const struct sim_lld_seg *sg;
	long long mismatch;
	unsigned long long id, addr;
	struct sim_lld_host *sh;
	struct sim_lld_cmd *sc;
	char *text, *p, *line;
	int err, verify, fields;
	size_t size, n;

	sim_k_scan_fmt(SIM_LLD_CMD_FMT, cmd_fmt, sizeof(cmd_fmt));
	sim_k_scan_fmt(SIM_LLD_CHUNK_FMT, chunk_fmt, sizeof(chunk_fmt));
	sim_k_scan_fmt(SIM_LLD_SEG_FMT, seg_fmt, sizeof(seg_fmt));
	sim_k_scan_fmt(SIM_LLD_RESP_FMT, resp_fmt, sizeof(resp_fmt));

	sh = sim_k_add(test, &lim);
	KUNIT_ASSERT_EQ(test, sim_k_run(test, sh, &req, &sc), 0);
	KUNIT_ASSERT_EQ(test, sc->err, 0);
	/* 100 + 10000 bytes from offset 100: 3 chunks of up to 4 KiB */
	KUNIT_ASSERT_EQ(test, sc->log.nr_chunks, 3);

	size = sim_lld_cmd_render_size(sc);
	text = kunit_kzalloc(test, size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, text);
	n = sim_lld_cmd_render(sc, text, size);
	KUNIT_ASSERT_GT(test, n, 0);
	KUNIT_ASSERT_LT(test, n, size - 1);
	KUNIT_EXPECT_EQ(test, strlen(text), n);
	KUNIT_EXPECT_EQ(test, text[n - 1], '\n');

	p = text;
	line = strsep(&p, "\n");
	fields = sscanf(line, cmd_fmt, &id, state, dir, &len, &sd, &err, &res,
			&verify, &mismatch, &chunks, &ovf);
	KUNIT_ASSERT_EQ_MSG(test, fields, 11, "line '%s'", line);
	KUNIT_EXPECT_EQ(test, id, sc->id);
	KUNIT_EXPECT_STREQ(test, state, "done");
	KUNIT_EXPECT_STREQ(test, dir, "from");
	KUNIT_EXPECT_EQ(test, len, 10000);
	KUNIT_EXPECT_EQ(test, sd, 9);
	KUNIT_EXPECT_EQ(test, err, 0);
	KUNIT_EXPECT_EQ(test, res, 0);
	KUNIT_EXPECT_EQ(test, verify, SIM_LLD_VERIFY_OK);
	KUNIT_EXPECT_EQ(test, mismatch, -1);
	KUNIT_EXPECT_EQ(test, chunks, 3);
	KUNIT_EXPECT_EQ(test, ovf, 0);

	while ((line = strsep(&p, "\n")) && *line) {
		unsigned int off, clen;

		if (sscanf(line, chunk_fmt, &idx, &off, &clen, &nents, &res,
			   reason) == 6) {
			KUNIT_ASSERT_EQ(test, idx, nchunk);
			KUNIT_ASSERT_LT(test, idx, sc->log.nr_chunks);
			c = &sc->log.chunks[idx];
			KUNIT_EXPECT_EQ(test, off, c->offset);
			KUNIT_EXPECT_EQ(test, clen, c->length);
			KUNIT_EXPECT_EQ(test, nents, c->nents);
			KUNIT_EXPECT_EQ(test, res, 0);
			KUNIT_EXPECT_STREQ(test, reason, "ok");
			nchunk++;
			nseg = 0;
		} else if (sscanf(line, seg_fmt, &idx, &slen, &addr) == 3) {
			KUNIT_ASSERT_NOT_NULL(test, c);
			KUNIT_ASSERT_EQ(test, idx, nseg);
			KUNIT_ASSERT_LT(test, idx, c->nsegs);
			sg = &sc->log.segs[c->first_seg + idx];
			KUNIT_EXPECT_EQ(test, slen, sg->length);
			KUNIT_EXPECT_EQ(test, addr, sg->addr);
			nseg++;
			seen++;
		} else {
			fields = sscanf(line, resp_fmt, &sd, &res, reason);
			KUNIT_ASSERT_EQ_MSG(test, fields, 3, "line '%s'", line);
			KUNIT_EXPECT_EQ(test, sd, 0);
			KUNIT_EXPECT_EQ(test, res, 0);
			KUNIT_EXPECT_STREQ(test, reason, "ok");
			/* the response line is the last one */
			KUNIT_EXPECT_TRUE(test, p && !*p);
			break;
		}
	}
	KUNIT_EXPECT_EQ(test, nchunk, 3);
	KUNIT_EXPECT_EQ(test, seen, sc->log.nr_segs);
	/* 3996 bytes to the end of the first page, one page, the rest */
	KUNIT_EXPECT_EQ(test, sc->log.chunks[0].length, 4096 - 100);
	KUNIT_EXPECT_EQ(test, sc->log.chunks[1].offset, 4096 - 100);
	KUNIT_EXPECT_EQ(test, sc->log.chunks[1].length, 4096);
	KUNIT_EXPECT_EQ(test, sc->log.chunks[2].offset, 8192 - 100);
	KUNIT_EXPECT_EQ(test, sc->log.chunks[2].length, 10000 - 8192 + 100);
	sim_lld_host_remove(sh);
}

static void sim_test_pattern(struct kunit *test)
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

static struct kunit_case sim_lld_test_cases[] = {
	KUNIT_CASE(sim_test_pattern),
	KUNIT_CASE(sim_test_boot_host),
	KUNIT_CASE(sim_test_defaults),
	KUNIT_CASE(sim_test_knob_invalid),
	KUNIT_CASE(sim_test_parse_limits),
	KUNIT_CASE(sim_test_parse_req),
	KUNIT_CASE(sim_test_parse_fault),
	KUNIT_CASE(sim_test_cmd_refused),
	KUNIT_CASE(sim_test_add_remove_100),
	KUNIT_CASE_PARAM(sim_test_limit_violation, sim_k_viol_gen_params),
	KUNIT_CASE_PARAM(sim_test_matrix, sim_k_matrix_gen),
	KUNIT_CASE_PARAM(sim_test_completion, sim_k_mode_gen),
	KUNIT_CASE(sim_test_render),
	KUNIT_CASE(sim_test_fault_fail),
	KUNIT_CASE(sim_test_fault_busy),
	KUNIT_CASE(sim_test_fault_drop),
	KUNIT_CASE(sim_test_can_queue),
	KUNIT_CASE(sim_test_hot_remove),
	{}
};

static struct kunit_suite sim_lld_test_suite = {
	.name = "sim_lld",
	.test_cases = sim_lld_test_cases,
};

kunit_test_suite(sim_lld_test_suite);

MODULE_DESCRIPTION("KUnit tests for sim_lld");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
