// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for sim_lld: knob validation, host add/remove, the limits
 * matrix checked against the recorded transfer log (not against sim_lld's
 * own verdict), completion modes and fault injection.
 */

#include <kunit/test.h>
#include <linux/blkdev.h>
#include <linux/err.h>
#include <linux/slab.h>
#include <scsi/scsi_host.h>

#include "sim_lld.h"

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
	int i, ret;

	sh = sim_k_add(test, &lim0);
	shost = sim_lld_host_shost(sh);
	for (i = 0; i < ARRAY_SIZE(sim_k_bad_values); i++) {
		const struct sim_k_bad *b = &sim_k_bad_values[i];

		KUNIT_EXPECT_EQ_MSG(test, sim_lld_host_store_knob(sh, b->knob,
								  b->text),
				    -EINVAL, "knob %d value '%s'", b->knob,
				    b->text);
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
		sim_k_expect_idle(test, sh);
		sim_lld_host_remove(sh);
	}
	KUNIT_EXPECT_EQ(test, sim_lld_live_shosts(), live);
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

static void sim_test_matrix(struct kunit *test)
{
	unsigned long i = (unsigned long)test->param_value - 1;
	struct sim_lld_limits lim;
	struct sim_lld_host *sh;
	struct sim_lld_cmd *sc;
	struct sim_lld_req req;
	const char *why;
	u32 bad, n;
	int ret;

	sim_k_cfg(i, &lim);
	sh = sim_k_add(test, &lim);
	for (n = 0; n < ARRAY_SIZE(sim_k_len) * 2; n++) {
		u32 len = sim_k_len[n / 2];

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

		sc = NULL;
		ret = sim_lld_cmd_run(sh, &req, NULL, &sc);
		KUNIT_EXPECT_EQ_MSG(test, ret, 0, "len %u dir %d", len,
				    req.dir);
		if (!sc)
			continue;
		why = sim_k_check_log(sc, &lim, &bad);
		KUNIT_EXPECT_NULL_MSG(test, why,
				      "len %u dir %d align %u flags %x: chunk %u: %s (err %d result 0x%x reason %d)",
				      len, req.dir, req.align, req.flags, bad,
				      why, sc->err, sc->result,
				      bad < sc->log.nr_chunks ?
				      sc->log.chunks[bad].reason : -1);
		sim_lld_cmd_release(sc);
	}
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
	enum sim_lld_completion mode = (unsigned long)test->param_value - 1;
	struct sim_lld_limits lim = sim_k_limits(2, 8, 4096, 0xffffffff, 4);
	struct sim_lld_req req = { .len = (256 << 10) + 3 };
	struct sim_lld_host *sh;
	struct sim_lld_cmd *sc;
	const char *why;
	u32 bad;
	int d;

	sh = sim_k_add(test, &lim);
	KUNIT_ASSERT_EQ(test, sim_lld_host_set_completion(sh, mode, 2000), 0);
	for (d = 0; d < 2; d++) {
		req.dir = d ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
		req.seed = 77 + d;
		KUNIT_EXPECT_EQ(test, sim_lld_cmd_run(sh, &req, NULL, &sc), 0);
		KUNIT_ASSERT_NOT_NULL(test, sc);
		why = sim_k_check_log(sc, &lim, &bad);
		KUNIT_EXPECT_NULL_MSG(test, why, "dir %d chunk %u: %s",
				      req.dir, bad, why);
		KUNIT_EXPECT_GE(test, sc->log.nr_chunks, 64);
		sim_lld_cmd_release(sc);
	}
	sim_k_expect_idle(test, sh);
	sim_lld_host_remove(sh);
}

/* ---------------------------------------------------------------- */

static void sim_test_fault_fail(struct kunit *test)
{
	struct sim_lld_limits lim = sim_k_limits(1, 8, 4096, 0xffffffff, 4);
	struct sim_lld_fault f = { SIM_LLD_FAULT_FAIL, false, 2, 1 };
	struct sim_lld_req req = { .dir = DMA_TO_DEVICE, .len = 10 * 4096 };
	struct sim_lld_host *sh;
	struct sim_lld_cmd *sc;

	sh = sim_k_add(test, &lim);
	sim_lld_host_set_fault(sh, &f);
	KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc), 0);
	KUNIT_ASSERT_NOT_NULL(test, sc);
	KUNIT_EXPECT_EQ(test, sc->err, -EIO);
	KUNIT_EXPECT_EQ(test, sc->result, SIM_LLD_RESULT_FAULT);
	KUNIT_EXPECT_EQ(test, sc->log.nr_chunks, 3);
	KUNIT_EXPECT_EQ(test, sc->log.chunks[2].reason, SIM_LLD_R_FAULT);
	KUNIT_EXPECT_FALSE(test, sc->log.resp_seen);
	sim_k_expect_idle(test, sh);

	/* one shot: the next command runs through */
	KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc), 0);
	KUNIT_EXPECT_EQ(test, sc->err, 0);
	KUNIT_EXPECT_EQ(test, sc->verify, SIM_LLD_VERIFY_OK);

	/* a failed response */
	f.resp = true;
	sim_lld_host_set_fault(sh, &f);
	KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc), 0);
	KUNIT_EXPECT_EQ(test, sc->err, -EIO);
	KUNIT_EXPECT_EQ(test, sc->log.nr_chunks, 10);
	KUNIT_EXPECT_EQ(test, sc->log.resp_reason, SIM_LLD_R_FAULT);
	sim_k_expect_idle(test, sh);
	sim_lld_host_remove(sh);
}

static void sim_test_fault_busy(struct kunit *test)
{
	struct sim_lld_limits lim = sim_k_limits(1, 8, 4096, 0xffffffff, 4);
	struct sim_lld_fault f = { SIM_LLD_FAULT_BUSY, false, 1, 1 };
	struct sim_lld_req req = { .dir = DMA_FROM_DEVICE, .len = 3 * 4096 };
	struct sim_lld_host *sh;
	struct sim_lld_cmd *sc;

	sh = sim_k_add(test, &lim);
	sim_lld_host_set_fault(sh, &f);
	KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc), 0);
	KUNIT_ASSERT_NOT_NULL(test, sc);
	KUNIT_EXPECT_EQ(test, sc->err, -EBUSY);
	KUNIT_EXPECT_EQ(test, sc->log.nr_chunks, 2);
	KUNIT_EXPECT_EQ(test, sc->log.chunks[1].reason, SIM_LLD_R_BUSY);
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
	struct sim_lld_counters c;
	struct sim_lld_host *sh;
	struct sim_lld_cmd *sc;

	sh = sim_k_add(test, &lim);
	sim_lld_host_set_fault(sh, &f);
	KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc), -ETIMEDOUT);
	KUNIT_ASSERT_NOT_NULL(test, sc);
	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ(test, c.outstanding, 1);
	KUNIT_EXPECT_EQ(test, c.dropped_now, 1);
	KUNIT_EXPECT_EQ(test, c.tags_in_use, 1);

	/* no reconfiguration under a command */
	lim2.v[SIM_LLD_KNOB_MAX_SECTORS] = 8;
	KUNIT_EXPECT_EQ(test, sim_lld_host_set_limits(sh, &lim2), -EBUSY);

	KUNIT_EXPECT_EQ(test, sim_lld_host_flush_dropped(sh), 1);
	KUNIT_EXPECT_EQ(test, sim_lld_cmd_wait(sc, 5000), 0);
	KUNIT_EXPECT_EQ(test, sc->err, -EIO);
	KUNIT_EXPECT_EQ(test, sc->result, SIM_LLD_RESULT_NODEV);
	KUNIT_EXPECT_EQ(test, sc->log.chunks[0].reason, SIM_LLD_R_FLUSHED);
	sim_k_expect_idle(test, sh);
	KUNIT_EXPECT_EQ(test, sim_lld_host_set_limits(sh, &lim2), 0);
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

	f.type = SIM_LLD_FAULT_NONE;
	sim_lld_host_set_fault(sh, &f);
	KUNIT_EXPECT_EQ(test, sim_lld_host_flush_dropped(sh), 4);
	for (i = 0; i < 4; i++) {
		KUNIT_EXPECT_EQ(test, sim_lld_cmd_wait(sc[i], 5000), 0);
		KUNIT_EXPECT_EQ(test, sc[i]->err, -EIO);
	}
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
	struct sim_lld_cmd *sc[6];
	struct sim_lld_host *sh;
	int i;

	sh = sim_k_add(test, &lim);
	sim_lld_host_set_completion(sh, SIM_LLD_COMPL_HRTIMER, 100000);
	sim_lld_host_set_fault(sh, &f);
	for (i = 0; i < 6; i++) {
		req.seed = i;
		KUNIT_EXPECT_EQ(test, sim_k_run(test, sh, &req, &sc[i]), 0);
		KUNIT_ASSERT_NOT_NULL(test, sc[i]);
	}
	/* the commands keep sh's memory alive until released */
	sim_lld_host_remove(sh);
	KUNIT_EXPECT_EQ(test, sim_lld_live_shosts(), live);
	for (i = 0; i < 6; i++) {
		KUNIT_EXPECT_EQ(test, sim_lld_cmd_wait(sc[i], 0), 0);
		KUNIT_EXPECT_EQ(test, sc[i]->err, -EIO);
		KUNIT_EXPECT_NE(test, sc[i]->result, 0);
	}
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
	KUNIT_CASE(sim_test_knob_invalid),
	KUNIT_CASE(sim_test_add_remove_100),
	KUNIT_CASE_PARAM(sim_test_matrix, sim_k_matrix_gen),
	KUNIT_CASE_PARAM(sim_test_completion, sim_k_mode_gen),
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
