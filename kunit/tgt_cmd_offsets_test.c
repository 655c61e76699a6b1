// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite tgt_cmd_offsets: the target core splits a command of length L
 * into chunks the block layer accepts for uspace_req_q and hands them to
 * transfer_data() with cmd->offset = bytes already transferred.
 *
 * The expected chunks are computed independently of the core by the
 * model of tgt_chunk_model.h (the 6.12 block-layer rules applied to the
 * physical layout of the buffer), which the kselftests share.
 */
#include <linux/dma-mapping.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/prandom.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <kunit/device.h>
#include <kunit/static_stub.h>
#include <kunit/test.h>

#include <scsi/scsi.h>
#include <scsi/scsi_cmnd.h>
#include <scsi/scsi_device.h>
#include <scsi/scsi_host.h>
#include <scsi/scsi_tgt.h>

#include "tgt_chunk_model.h"
#include "tgt_chunk_trace.h"
#include "tgt_test.h"

#define TGT_BUF_ORDER	10			/* 4 MiB, contiguous */
#define TGT_BUF_SIZE	(PAGE_SIZE << TGT_BUF_ORDER)
#define TGT_GUARD	64

/* kernel argument tgt_kunit.trace_chunks=1: traces of passing runs too */
static bool tgt_trace_chunks;
module_param_named(trace_chunks, tgt_trace_chunks, bool, 0444);
MODULE_PARM_DESC(trace_chunks,
		 "print the chunk sequence of passing commands too (tgt-chunks v1)");

static u8 *tgt_buf;		/* target memory, physically contiguous */
static u8 *tgt_backing;	/* the LLD's side of the transfer */

static const struct tgt_test_limits tgt_limits[] = {
	{ "default", 1024, 128, 65536, 0xffffffff },
	{ "max_sectors=8", 8, 128, 65536, 0xffffffff },
	{ "sg_tablesize=1,seg=4096", 1024, 1, 4096, 0xffffffff },
	{ "sg=4,seg=8192,bnd=0xffff", 2048, 4, 8192, 0xffff },
	{ "sg=2,bnd=0x1fff,ms=128", 128, 2, 65536, 0x1fff },
	{ "ms=9,sg=3,seg=4096", 9, 3, 4096, 0xffffffff },
	{ "ms=24,sg=8,bnd=0xfff", 24, 8, 65536, 0xfff },
};

/* one chunk per page, one command at a time: for the error paths */
static const struct tgt_test_limits tgt_page_chunks = {
	"max_sectors=8", 8, 128, 65536, 0xffffffff, 1
};

/* physical address of a byte of a page or vmalloc() buffer */
static phys_addr_t tgt_phys(const u8 *p)
{
	if (is_vmalloc_addr(p))
		return page_to_phys(vmalloc_to_page(p)) + offset_in_page(p);
	return virt_to_phys((void *)p);
}

/* what the model of tgt_chunk_model.c expects for a buffer */
struct tgt_model {
	struct kunit *test;
	unsigned int nr_chunks;
	unsigned int max;		/* chunks[] and pieces[] */
	struct tgt_model_chunk *chunks;
	struct tgt_model_piece *pieces;
	unsigned int total_segs;
};

static void tgt_model_run(const struct tgt_test_limits *lim, const u8 *buf,
			  unsigned int len, struct tgt_model *m)
{
	const struct tgt_model_limits ml = {
		.max_sectors = lim->max_sectors,
		.sg_tablesize = lim->sg_tablesize,
		.max_segment_size = lim->max_segment_size,
		.dma_boundary = lim->dma_boundary,
	};
	unsigned int pos = 0, n = 0;
	int nr;

	/* the buffer's pieces: each up to the end of its page */
	while (pos < len) {
		unsigned int piece = min_t(unsigned int, len - pos,
					   PAGE_SIZE - offset_in_page(buf + pos));

		KUNIT_ASSERT_LT(m->test, n, m->max);
		m->pieces[n].addr = tgt_phys(buf + pos);
		m->pieces[n].len = piece;
		n++;
		pos += piece;
	}
	nr = tgt_model_chunks(m->pieces, n, &ml, m->chunks, m->max, NULL, 0,
			      &m->total_segs);
	KUNIT_ASSERT_GE_MSG(m->test, nr, 0, "no chunk fits the limits of %s",
			    lim->name);
	m->nr_chunks = nr;
}

static struct tgt_model *tgt_model_alloc(struct kunit *test,
					 unsigned int max)
{
	struct tgt_model *m = kunit_kzalloc(test, sizeof(*m), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, m);
	m->test = test;
	m->max = max;
	m->chunks = kunit_kcalloc(test, max, sizeof(*m->chunks), GFP_KERNEL);
	m->pieces = kunit_kcalloc(test, max, sizeof(*m->pieces), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, m->chunks);
	KUNIT_ASSERT_NOT_NULL(test, m->pieces);
	return m;
}

static void tgt_fill(u8 *p, size_t n, u32 salt)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (u8)((((i >> 2) + salt) * 2654435761u) >> 24) ^ (u8)i;
}

/* 0 if equal, else 1 + index of the first differing byte */
static size_t tgt_mismatch(const u8 *a, const u8 *b, size_t n)
{
	size_t i;

	if (!memcmp(a, b, n))
		return 0;
	for (i = 0; i < n && a[i] == b[i]; i++)
		;
	return i + 1;
}

static bool tgt_all(const u8 *p, size_t n, u8 v)
{
	return !n || (p[0] == v && !memcmp(p, p + 1, n - 1));
}

struct tgt_run {
	const struct tgt_test_limits *lim;
	u8 *buf;		/* NULL: tgt_buf + buf_off */
	unsigned int buf_off;
	unsigned int len;
	enum dma_data_direction dir;
	enum tgt_test_ctx ctx;
	u32 salt;
};

static void tgt_run_label(const struct tgt_run *r, char *s, size_t n)
{
	snprintf(s, n,
		 "[%s ms=%u sg=%u seg=%u bnd=%#lx off=%u len=%u %s %s]",
		 r->lim->name, r->lim->max_sectors, r->lim->sg_tablesize,
		 r->lim->max_segment_size, r->lim->dma_boundary, r->buf_off,
		 r->len, r->dir == DMA_TO_DEVICE ? "to-dev" : "from-dev",
		 tgt_test_ctx_name(r->ctx));
}

/* check the LLD log of a successful run against the model; true if fine */
static bool tgt_check_log(struct kunit *test, struct tgt_test_host *th,
			  const struct tgt_run *r, const u8 *buf,
			  const struct tgt_model *m, const char *label)
{
	const struct tgt_test_limits *lim = r->lim;
	unsigned long mask = lim->dma_boundary;
	unsigned int i, off = 0;

	KUNIT_EXPECT_FALSE_MSG(test, th->log_overflow,
			       "%s more calls or segments than expected",
			       label);
	KUNIT_EXPECT_EQ_MSG(test, th->nr_calls, m->nr_chunks,
			    "%s number of transfer_data calls", label);
	if (th->log_overflow || th->nr_calls != m->nr_chunks)
		return false;

	for (i = 0; i < th->nr_calls; i++) {
		const struct tgt_test_call *c = &th->calls[i];
		unsigned int j, sum = 0;

		if (c->offset != off || c->len != m->chunks[i].len ||
		    c->nents != m->chunks[i].nsegs) {
			KUNIT_FAIL(test,
				   "%s chunk %u: offset %u len %u nents %u, expected %u %u %u",
				   label, i, c->offset, c->len, c->nents, off,
				   m->chunks[i].len, m->chunks[i].nsegs);
			return false;
		}
		if (c->nents > lim->sg_tablesize ||
		    c->len > lim->max_sectors << SECTOR_SHIFT) {
			KUNIT_FAIL(test, "%s chunk %u over the limits", label,
				   i);
			return false;
		}
		for (j = 0; j < c->nents; j++) {
			const struct tgt_test_seg *s = &th->segs[c->first_seg + j];

			if (!s->len || s->len > lim->max_segment_size ||
			    (s->phys | mask) != ((s->phys + s->len - 1) | mask) ||
			    s->phys != tgt_phys(buf + off + sum)) {
				KUNIT_FAIL(test,
					   "%s chunk %u seg %u: len %u phys %pa, expected phys %pa",
					   label, i, j, s->len, &s->phys,
					   &(phys_addr_t){ tgt_phys(buf + off + sum) });
				return false;
			}
			sum += s->len;
		}
		if (sum != c->len) {
			KUNIT_FAIL(test, "%s chunk %u: segments %u bytes, len %u",
				   label, i, sum, c->len);
			return false;
		}
		off += c->len;
	}
	KUNIT_EXPECT_EQ_MSG(test, off, r->len, "%s bytes covered", label);
	return off == r->len;
}

static void tgt_trace_print(void *priv, const char *line)
{
	kunit_info((struct kunit *)priv, "%s\n", line);
}

/*
 * The chunk sequence of a command as the test host logged it, in the
 * tgt-chunks format (tgt_chunk_trace.h); the model's chunks too when they
 * differ from what the LLD saw (@m may be NULL).
 */
static void tgt_trace_run(struct kunit *test, struct tgt_test_host *th,
			  const struct tgt_test_limits *lim,
			  enum dma_data_direction dir, unsigned int len,
			  const struct tgt_model *m, const char *label, int err)
{
	unsigned int i, n = min(th->nr_calls, th->max_calls);
	bool differ = m && m->nr_chunks != th->nr_calls;
	struct tgt_trace t;

	tgt_trace_begin(&t, tgt_trace_print, test,
			dir == DMA_TO_DEVICE ? "to" :
			dir == DMA_FROM_DEVICE ? "from" : "none", len,
			lim->max_sectors, lim->sg_tablesize,
			lim->max_segment_size, lim->dma_boundary, label);
	for (i = 0; i < n; i++) {
		const struct tgt_test_call *c = &th->calls[i];
		bool failed = (int)i == th->fail_chunk;
		bool refused = (int)i == th->refuse_chunk;

		tgt_trace_chunk(&t, c->offset, c->len, c->nents,
				c->in_task ? "task" : "irq",
				failed ? DID_ERROR << 16 : 0,
				/* with a model: the guard of tgt_run_one() */
				failed ? (m ? "stopped" : "fail") :
				refused ? "busy" : NULL);
		if (m && i < m->nr_chunks &&
		    (c->offset != m->chunks[i].off ||
		     c->len != m->chunks[i].len ||
		     c->nents != m->chunks[i].nsegs))
			differ = true;
	}
	for (i = 0; differ && i < min(m->nr_chunks, m->max); i++)
		tgt_trace_model(&t, m->chunks[i].off, m->chunks[i].len,
				m->chunks[i].nsegs);
	if (th->nr_responses)
		tgt_trace_resp(&t, th->calls_at_response, th->nr_responses,
			       th->fail_response ? DID_ERROR << 16 : 0,
			       th->refuse_response ? "busy" :
			       th->fail_response ? "fail" : NULL);
	tgt_trace_end(&t, err, test->status == KUNIT_FAILURE);
}

/*
 * Run one command through the core and check the whole transfer: chunk
 * sequence, limits, response, data, and that get/put leave nothing behind.
 * Returns true if every check passed.
 */
static bool tgt_run_one(struct kunit *test, struct tgt_test_host *th,
			const struct tgt_run *r, struct tgt_model *m)
{
	struct Scsi_Host *shost = th->shost;
	unsigned int refs = tgt_test_refs(shost);
	u8 *buf = r->buf ?: tgt_buf + r->buf_off;
	size_t guard = r->buf ? TGT_GUARD :
		       min_t(size_t, TGT_GUARD,
			     TGT_BUF_SIZE - r->buf_off - r->len);
	int failures = test->status == KUNIT_FAILURE;
	struct scsi_cmnd *cmd;
	char label[160];
	size_t bad;
	int err, stop_at;

	tgt_run_label(r, label, sizeof(label));
	tgt_model_run(r->lim, buf, r->len, m);
	if (m->nr_chunks > m->max) {
		KUNIT_FAIL(test, "%s model needs %u chunks", label,
			   m->nr_chunks);
		return false;
	}
	tgt_test_log_alloc(th, m->nr_chunks + 4, m->total_segs + 64);

	if (r->dir == DMA_TO_DEVICE) {
		tgt_fill(buf, r->len + guard, r->salt);
		memset(tgt_backing, 0, r->len + TGT_GUARD);
	} else {
		tgt_fill(tgt_backing, r->len + TGT_GUARD, r->salt);
		memset(buf, 0xa5, r->len + guard);
	}
	th->backing = tgt_backing;
	th->backing_len = r->len;
	th->ctx = r->ctx;

	cmd = tgt_test_get(th, r->dir, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, cmd);
	/* a core that does not stop is stopped by the LLD: no hang */
	stop_at = th->fail_chunk;
	th->fail_chunk = m->nr_chunks + 3;
	err = tgt_test_run(th, cmd, buf, r->len);

	KUNIT_EXPECT_EQ_MSG(test, err, 0, "%s", label);
	KUNIT_EXPECT_EQ_MSG(test, cmd->result, 0, "%s", label);
	KUNIT_EXPECT_NULL_MSG(test, scsi_sglist(cmd), "%s sg table kept",
			      label);
	tgt_check_log(test, th, r, buf, m, label);
	KUNIT_EXPECT_EQ_MSG(test, th->nr_responses, 1, "%s responses", label);
	KUNIT_EXPECT_EQ_MSG(test, th->calls_at_response, m->nr_chunks,
			    "%s response before the last chunk", label);
	KUNIT_EXPECT_FALSE_MSG(test, th->out_of_bounds,
			       "%s chunk outside the command", label);
	KUNIT_EXPECT_FALSE_MSG(test, th->short_copy, "%s sg shorter than len",
			       label);
	if (m->nr_chunks)
		KUNIT_EXPECT_TRUE_MSG(test, th->calls[0].in_task,
				      "%s first chunk not from process context",
				      label);

	if (r->dir == DMA_TO_DEVICE) {
		bad = tgt_mismatch(tgt_backing, buf, r->len);
		KUNIT_EXPECT_EQ_MSG(test, bad, 0,
				    "%s data sent differs at byte %zu", label,
				    bad - 1);
		KUNIT_EXPECT_TRUE_MSG(test, tgt_all(tgt_backing + r->len,
						    TGT_GUARD, 0),
				      "%s LLD got bytes past the end", label);
	} else {
		bad = tgt_mismatch(buf, tgt_backing, r->len);
		KUNIT_EXPECT_EQ_MSG(test, bad, 0,
				    "%s data received differs at byte %zu",
				    label, bad - 1);
		KUNIT_EXPECT_TRUE_MSG(test, tgt_all(buf + r->len, guard, 0xa5),
				      "%s bytes written past the end", label);
	}

	tgt_test_put(th, cmd);
	KUNIT_EXPECT_EQ_MSG(test, tgt_test_tags_in_use(shost), 0, "%s tags",
			    label);
	KUNIT_EXPECT_EQ_MSG(test, tgt_test_refs(shost), refs, "%s refs", label);
	if (tgt_trace_chunks || test->status == KUNIT_FAILURE) {
		label[strcspn(label, "]")] = '\0';
		tgt_trace_run(test, th, r->lim, r->dir, r->len, m, label + 1,
			      err);
	}
	th->fail_chunk = stop_at;
	return failures == (test->status == KUNIT_FAILURE);
}

/* lengths: fixed, or relative to the first chunk the limits allow */
enum tgt_len_kind { TGT_LEN_FIXED, TGT_LEN_ONE_CHUNK, TGT_LEN_CHUNK_PLUS_1 };

struct tgt_len {
	enum tgt_len_kind kind;
	unsigned int len;
	unsigned int buf_off;
	const char *name;
};

static const struct tgt_len tgt_lengths[] = {
	{ TGT_LEN_FIXED, 0, 0, "0" },
	{ TGT_LEN_FIXED, 1, 0, "1" },
	{ TGT_LEN_FIXED, 511, 0, "511" },
	{ TGT_LEN_FIXED, 512, 0, "512" },
	{ TGT_LEN_ONE_CHUNK, 0, 0, "one chunk" },
	{ TGT_LEN_CHUNK_PLUS_1, 0, 0, "one chunk + 1" },
	{ TGT_LEN_FIXED, 3 * 4096 + 100, 0, "3 pages + 100" },
	{ TGT_LEN_FIXED, 100000, 0, "100000" },
	{ TGT_LEN_FIXED, TGT_BUF_SIZE, 0, "4 MiB" },
	{ TGT_LEN_ONE_CHUNK, 0, 512, "one chunk, buf+512" },
	{ TGT_LEN_CHUNK_PLUS_1, 0, 512, "one chunk + 1, buf+512" },
	{ TGT_LEN_FIXED, 65536 + 3, 512, "65539, buf+512" },
	{ TGT_LEN_FIXED, 40000, 4095, "40000, buf+4095" },
};

struct tgt_offsets_param {
	const struct tgt_test_limits *lim;
	const struct tgt_len *len;
};

static struct tgt_offsets_param
tgt_offsets_params[ARRAY_SIZE(tgt_limits) * ARRAY_SIZE(tgt_lengths)];

static const void *tgt_offsets_gen_params(const void *prev, char *desc)
{
	const struct tgt_offsets_param *p = prev;
	size_t i = p ? p - tgt_offsets_params + 1 : 0;

	if (i >= ARRAY_SIZE(tgt_offsets_params))
		return NULL;
	tgt_offsets_params[i].lim = &tgt_limits[i / ARRAY_SIZE(tgt_lengths)];
	tgt_offsets_params[i].len = &tgt_lengths[i % ARRAY_SIZE(tgt_lengths)];
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s, len %s",
		 tgt_offsets_params[i].lim->name,
		 tgt_offsets_params[i].len->name);
	return &tgt_offsets_params[i];
}

static unsigned int tgt_resolve_len(struct kunit *test,
				    const struct tgt_test_limits *lim,
				    const struct tgt_len *l, struct tgt_model *m)
{
	unsigned int len;

	if (l->kind == TGT_LEN_FIXED)
		return min_t(unsigned int, l->len, TGT_BUF_SIZE - l->buf_off);
	tgt_model_run(lim, tgt_buf + l->buf_off, TGT_BUF_SIZE - l->buf_off, m);
	KUNIT_ASSERT_GE(test, m->nr_chunks, 2);
	len = m->chunks[0].len;
	return l->kind == TGT_LEN_ONE_CHUNK ? len : len + 1;
}

static struct tgt_model *tgt_offsets_model(struct kunit *test)
{
	/* sg_tablesize=1 with 4 KiB segments: one chunk per page at most */
	return tgt_model_alloc(test, (TGT_BUF_SIZE >> PAGE_SHIFT) + 2);
}

/*
 * transfer_data() gets offsets 0, c1, c1 + c2, ... covering exactly L, each
 * chunk as the model says and within every limit, then transfer_response()
 * once; the data arrives intact in both directions.
 */
static void tgt_offsets_chunks_match_block_layer(struct kunit *test)
{
	const struct tgt_offsets_param *p = test->param_value;
	struct tgt_test_limits lim = *p->lim;
	struct tgt_model *m = tgt_offsets_model(test);
	struct tgt_test_host *th;
	struct tgt_run r = {
		.lim = p->lim,
		.buf_off = p->len->buf_off,
		.ctx = TGT_CTX_INLINE,
		.salt = tgt_test_seed,
	};

	lim.can_queue = 1;
	th = tgt_test_host_create(test, &lim, true);
	r.len = tgt_resolve_len(test, p->lim, p->len, m);

	r.dir = DMA_TO_DEVICE;
	tgt_run_one(test, th, &r, m);
	r.dir = DMA_FROM_DEVICE;
	r.salt++;
	tgt_run_one(test, th, &r, m);
}

struct tgt_ctx_param {
	const struct tgt_test_limits *lim;
	enum tgt_test_ctx ctx;
};

static struct tgt_ctx_param tgt_ctx_params[ARRAY_SIZE(tgt_limits) * 2];

static const void *tgt_ctx_gen_params(const void *prev, char *desc)
{
	const struct tgt_ctx_param *p = prev;
	size_t i = p ? p - tgt_ctx_params + 1 : 0;

	if (i >= ARRAY_SIZE(tgt_ctx_params))
		return NULL;
	tgt_ctx_params[i].lim = &tgt_limits[i / 2];
	tgt_ctx_params[i].ctx = i % 2 ? TGT_CTX_SOFTIRQ : TGT_CTX_HARDIRQ;
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s, done from %s",
		 tgt_ctx_params[i].lim->name,
		 tgt_test_ctx_name(tgt_ctx_params[i].ctx));
	return &tgt_ctx_params[i];
}

/* completions from hardirq/softirq give the same sequence as inline ones */
static void tgt_offsets_irq_completion_same_sequence(struct kunit *test)
{
	const struct tgt_ctx_param *p = test->param_value;
	struct tgt_test_limits lim = *p->lim;
	struct tgt_model *m = tgt_offsets_model(test);
	struct tgt_test_call *calls;
	struct tgt_test_seg *segs;
	unsigned int nr_calls, nr_segs, i, from_irq = 0;
	struct tgt_test_host *th;
	struct tgt_run r = {
		.lim = p->lim,
		.buf_off = 512,
		.dir = DMA_FROM_DEVICE,
		.ctx = TGT_CTX_INLINE,
		.salt = tgt_test_seed,
	};

	lim.can_queue = 1;
	th = tgt_test_host_create(test, &lim, true);
	/* about 12 chunks */
	tgt_model_run(p->lim, tgt_buf + r.buf_off, TGT_BUF_SIZE - r.buf_off, m);
	r.len = min_t(unsigned int, 12 * m->chunks[1].len + 100,
		      TGT_BUF_SIZE - r.buf_off);

	KUNIT_ASSERT_TRUE(test, tgt_run_one(test, th, &r, m));
	nr_calls = th->nr_calls;
	nr_segs = th->nr_segs;
	calls = kunit_kmalloc_array(test, nr_calls, sizeof(*calls),
				    GFP_KERNEL);
	segs = kunit_kmalloc_array(test, nr_segs, sizeof(*segs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, calls);
	KUNIT_ASSERT_NOT_NULL(test, segs);
	memcpy(calls, th->calls, nr_calls * sizeof(*calls));
	memcpy(segs, th->segs, nr_segs * sizeof(*segs));

	r.ctx = p->ctx;
	r.salt++;
	KUNIT_EXPECT_TRUE(test, tgt_run_one(test, th, &r, m));
	KUNIT_ASSERT_EQ(test, th->nr_calls, nr_calls);
	KUNIT_ASSERT_EQ(test, th->nr_segs, nr_segs);
	for (i = 0; i < nr_calls; i++) {
		KUNIT_EXPECT_EQ(test, th->calls[i].offset, calls[i].offset);
		KUNIT_EXPECT_EQ(test, th->calls[i].len, calls[i].len);
		KUNIT_EXPECT_EQ(test, th->calls[i].nents, calls[i].nents);
		/*
		 * a later chunk comes from the context of the previous chunk's
		 * completion: interrupt context, unless that completion beat
		 * transfer_data()'s return (then the submitter goes on). A
		 * completion that interrupted the submitter itself just after
		 * that return may have come before or after the core's
		 * hand-over (an atomic exchange the LLD cannot see): either
		 * side may go on. Any other completion came while the
		 * submitter slept, after the hand-over.
		 */
		if (i && !th->calls[i - 1].on_submitter)
			KUNIT_EXPECT_EQ_MSG(test, th->calls[i].in_task,
					    th->calls[i - 1].done_early,
					    "chunk %u", i);
		from_irq += !th->calls[i].in_task;
	}
	/* a submitter that waits for each chunk would issue them all */
	KUNIT_EXPECT_GT(test, from_irq, 0);
	for (i = 0; i < nr_segs; i++) {
		KUNIT_EXPECT_EQ(test, th->segs[i].len, segs[i].len);
		KUNIT_EXPECT_EQ(test, th->segs[i].phys, segs[i].phys);
	}
}

/* fault injection: chunk k fails or is refused, or the response is */
struct tgt_fault_param {
	const char *name;
	unsigned int len;
	enum tgt_test_ctx ctx;
	enum dma_data_direction dir;
	int fail_chunk;
	int refuse_chunk;
	bool fail_response;
	bool refuse_response;
	int err;
	unsigned int calls;
	unsigned int responses;
};

#define TGT_FAULT_LEN	(5 * 4096)	/* five chunks with max_sectors=8 */

static const struct tgt_fault_param tgt_fault_params[] = {
	{ "chunk 0 fails, inline", TGT_FAULT_LEN, TGT_CTX_INLINE,
	  DMA_TO_DEVICE, 0, -1, false, false, -EIO, 1, 0 },
	{ "chunk 2 fails, hardirq", TGT_FAULT_LEN, TGT_CTX_HARDIRQ,
	  DMA_FROM_DEVICE, 2, -1, false, false, -EIO, 3, 0 },
	{ "last chunk fails, softirq", TGT_FAULT_LEN, TGT_CTX_SOFTIRQ,
	  DMA_TO_DEVICE, 4, -1, false, false, -EIO, 5, 0 },
	{ "chunk 1 fails, inline", TGT_FAULT_LEN, TGT_CTX_INLINE,
	  DMA_FROM_DEVICE, 1, -1, false, false, -EIO, 2, 0 },
	{ "chunk 0 refused", TGT_FAULT_LEN, TGT_CTX_INLINE,
	  DMA_TO_DEVICE, -1, 0, false, false, -EBUSY, 1, 0 },
	{ "chunk 3 refused, hardirq", TGT_FAULT_LEN, TGT_CTX_HARDIRQ,
	  DMA_FROM_DEVICE, -1, 3, false, false, -EBUSY, 4, 0 },
	{ "response fails, inline", TGT_FAULT_LEN, TGT_CTX_INLINE,
	  DMA_TO_DEVICE, -1, -1, true, false, -EIO, 5, 1 },
	{ "response refused, softirq", TGT_FAULT_LEN, TGT_CTX_SOFTIRQ,
	  DMA_FROM_DEVICE, -1, -1, false, true, -EBUSY, 5, 1 },
	{ "len 0, response fails", 0, TGT_CTX_INLINE,
	  DMA_NONE, -1, -1, true, false, -EIO, 0, 1 },
};

KUNIT_ARRAY_PARAM_DESC(tgt_fault, tgt_fault_params, name);

/*
 * An error at chunk k stops the sequence and is reported; no response is
 * sent after a failed chunk; the tag and the host reference come back with
 * the put and the host keeps working (can_queue is 1, so a leaked tag
 * shows).
 */
static void tgt_offsets_error_stops_and_leaks_nothing(struct kunit *test)
{
	const struct tgt_fault_param *p = test->param_value;
	struct tgt_model *m = tgt_offsets_model(test);
	struct tgt_test_host *th = tgt_test_host_create(test, &tgt_page_chunks,
							true);
	struct Scsi_Host *shost = th->shost;
	unsigned int refs = tgt_test_refs(shost);
	struct scsi_cmnd *cmd;
	unsigned int i;
	int err;
	struct tgt_run r = {
		.lim = &tgt_page_chunks,
		.len = 3 * 4096 + 5,
		.dir = DMA_TO_DEVICE,
		.ctx = p->ctx,
		.salt = tgt_test_seed,
	};

	tgt_test_log_alloc(th, 16, 64);
	memset(tgt_backing, 0, TGT_FAULT_LEN);
	tgt_fill(tgt_buf, TGT_FAULT_LEN, 7);
	th->backing = tgt_backing;
	th->backing_len = TGT_FAULT_LEN;
	th->ctx = p->ctx;
	th->fail_chunk = p->fail_chunk;
	th->refuse_chunk = p->refuse_chunk;
	th->fail_response = p->fail_response;
	th->refuse_response = p->refuse_response;

	cmd = tgt_test_get(th, p->dir, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, cmd);
	err = tgt_test_run(th, cmd, p->len ? tgt_buf : NULL, p->len);
	KUNIT_EXPECT_EQ(test, err, p->err);
	KUNIT_EXPECT_EQ(test, th->nr_calls, p->calls);
	KUNIT_EXPECT_EQ(test, th->nr_responses, p->responses);
	/* the chunk's sg table is gone before done: put does not free it */
	KUNIT_EXPECT_NULL(test, scsi_sglist(cmd));
	KUNIT_EXPECT_EQ(test, scsi_sg_count(cmd), 0);
	if (p->err == -EIO)
		KUNIT_EXPECT_EQ(test, cmd->result, DID_ERROR << 16);
	for (i = 0; i < min(th->nr_calls, th->max_calls); i++)
		KUNIT_EXPECT_EQ(test, th->calls[i].offset, i * 4096);
	if (tgt_trace_chunks || test->status == KUNIT_FAILURE)
		tgt_trace_run(test, th, &tgt_page_chunks, p->dir, p->len, NULL,
			      p->name, err);

	tgt_test_put(th, cmd);
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(shost), 0);
	KUNIT_EXPECT_EQ(test, tgt_test_refs(shost), refs);

	/* the host still works: one more command, no faults */
	th->fail_chunk = -1;
	th->refuse_chunk = -1;
	th->fail_response = false;
	th->refuse_response = false;
	KUNIT_EXPECT_TRUE(test, tgt_run_one(test, th, &r, m));
}

KUNIT_ARRAY_PARAM_DESC(tgt_limits, tgt_limits, name);

/*
 * uspace_req_q has exactly the limits the request queue of a scsi_device of
 * the same host gets (the initiator path, scsi_alloc_sdev()), and the host's
 * DMA device is told the segment limits. The device is probed for real: the
 * test host's queuecommand fails INQUIRY, so the scan gives up after the
 * queue was made and recorded by slave_alloc.
 */
static void tgt_offsets_uspace_queue_has_sdev_queue_limits(struct kunit *test)
{
	const struct tgt_test_limits *lim = test->param_value;
	static atomic_t nr_parents = ATOMIC_INIT(0);
	struct device_dma_parameters *parms;
	const struct queue_limits *u, *s;
	struct tgt_test_host *th;
	struct device *parent;
	char name[32];

	snprintf(name, sizeof(name), "tgt_kunit_dma%d",
		 atomic_inc_return(&nr_parents));
	parent = kunit_device_register(test, name);
	KUNIT_ASSERT_FALSE(test, IS_ERR(parent));
	parms = kunit_kzalloc(test, sizeof(*parms), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, parms);
	parent->dma_parms = parms;

	th = tgt_test_host_alloc(test, lim);
	tgt_test_host_add(th, parent, true);
	KUNIT_EXPECT_NE(test, scsi_add_device(th->shost, 0, 0, 0), 0);
	KUNIT_ASSERT_EQ(test, th->nr_sdev_allocs, 1);

	u = &th->shost->uspace_req_q->limits;
	s = &th->sdev_lim;
	KUNIT_EXPECT_EQ(test, u->max_hw_sectors, lim->max_sectors);
	KUNIT_EXPECT_EQ(test, u->max_segments, lim->sg_tablesize);
	KUNIT_EXPECT_EQ(test, u->max_segment_size, lim->max_segment_size);
	KUNIT_EXPECT_EQ(test, u->seg_boundary_mask, lim->dma_boundary);
	KUNIT_EXPECT_EQ(test, u->max_hw_sectors, s->max_hw_sectors);
	KUNIT_EXPECT_EQ(test, u->max_sectors, s->max_sectors);
	KUNIT_EXPECT_EQ(test, u->max_segments, s->max_segments);
	KUNIT_EXPECT_EQ(test, u->max_segment_size, s->max_segment_size);
	KUNIT_EXPECT_EQ(test, u->seg_boundary_mask, s->seg_boundary_mask);
	KUNIT_EXPECT_EQ(test, u->virt_boundary_mask, s->virt_boundary_mask);
	KUNIT_EXPECT_EQ(test, u->dma_alignment, s->dma_alignment);
	KUNIT_EXPECT_EQ(test, u->logical_block_size, s->logical_block_size);
	KUNIT_EXPECT_EQ(test, u->features, s->features);
	/* scsi_init_limits() passed the limits on to the DMA device */
	KUNIT_EXPECT_EQ(test, dma_get_max_seg_size(parent), lim->max_segment_size);
	KUNIT_EXPECT_EQ(test, dma_get_seg_boundary(parent), lim->dma_boundary);
}

/* bad arguments are refused at once and done is not called */
static void tgt_offsets_bad_arguments_refused(struct kunit *test)
{
	struct tgt_test_host *th = tgt_test_host_create(test, NULL, true);
	struct scsi_cmnd *cmd;

	tgt_test_log_alloc(th, 4, 4);
	tgt_test_log_reset(th);
	cmd = tgt_test_get(th, DMA_NONE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, cmd);
	KUNIT_EXPECT_EQ(test, scsi_tgt_queue_command(cmd, tgt_buf, 512,
						     tgt_test_cmd_done, th),
			-EINVAL);
	tgt_test_put(th, cmd);
	cmd = tgt_test_get(th, DMA_TO_DEVICE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, cmd);
	KUNIT_EXPECT_EQ(test, scsi_tgt_queue_command(cmd, NULL, 512,
						     tgt_test_cmd_done, th),
			-EINVAL);
	tgt_test_put(th, cmd);
	cmd = tgt_test_get(th, DMA_BIDIRECTIONAL, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, cmd);
	KUNIT_EXPECT_EQ(test, scsi_tgt_queue_command(cmd, tgt_buf, 512,
						     tgt_test_cmd_done, th),
			-EINVAL);
	tgt_test_put(th, cmd);
	cmd = tgt_test_get(th, DMA_TO_DEVICE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, cmd);
	KUNIT_EXPECT_EQ(test, scsi_tgt_queue_command(cmd, tgt_buf, 512, NULL,
						     th),
			-EINVAL);
	tgt_test_put(th, cmd);
	KUNIT_EXPECT_EQ(test, th->nr_calls, 0);
	KUNIT_EXPECT_EQ(test, th->nr_responses, 0);
	KUNIT_EXPECT_EQ(test, th->nr_cmd_done, 0);
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost), 0);
}

/*
 * A host with one-page chunks whose LLD completes only when the test says
 * so (tgt_test_complete_pending()): @len bytes of pattern @salt in tgt_buf,
 * a zeroed backing store of the same size, an empty log.
 */
static struct tgt_test_host *tgt_manual_host(struct kunit *test,
					     unsigned int len, u32 salt)
{
	struct tgt_test_host *th = tgt_test_host_create(test, &tgt_page_chunks,
							true);

	tgt_test_log_alloc(th, 8, 16);
	tgt_test_log_reset(th);
	memset(tgt_backing, 0, len);
	tgt_fill(tgt_buf, len, salt);
	th->backing = tgt_backing;
	th->backing_len = len;
	th->ctx = TGT_CTX_MANUAL;
	return th;
}

/*
 * A command still in the core (its chunk not completed yet) cannot be
 * queued again; completing its chunks from process context finishes it.
 */
static void tgt_offsets_requeue_while_in_core_refused(struct kunit *test)
{
	struct tgt_test_host *th = tgt_manual_host(test, 3 * 4096, 3);
	unsigned int i, completed = 0;
	struct scsi_cmnd *cmd;
	int ret;

	cmd = tgt_test_get(th, DMA_TO_DEVICE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, cmd);
	ret = scsi_tgt_queue_command(cmd, tgt_buf, 3 * 4096, tgt_test_cmd_done,
				     th);
	KUNIT_ASSERT_EQ(test, ret, 0);
	KUNIT_EXPECT_EQ(test, th->nr_calls, 1);
	KUNIT_EXPECT_EQ(test, scsi_tgt_queue_command(cmd, tgt_buf, 4096,
						     tgt_test_cmd_done, th),
			-EBUSY);
	KUNIT_EXPECT_EQ(test, th->nr_calls, 1);
	KUNIT_EXPECT_EQ(test, th->nr_cmd_done, 0);

	/* three chunks and the response, each completed by the test */
	for (i = 0; i < 4 && !th->nr_cmd_done; i++) {
		KUNIT_ASSERT_TRUE(test, tgt_test_complete_pending(th));
		completed++;
	}
	KUNIT_EXPECT_EQ(test, completed, 4);
	KUNIT_EXPECT_FALSE(test, tgt_test_complete_pending(th));
	KUNIT_EXPECT_EQ(test, th->nr_calls, 3);
	KUNIT_EXPECT_EQ(test, th->nr_responses, 1);
	KUNIT_EXPECT_EQ(test, th->nr_cmd_done, 1);
	KUNIT_EXPECT_EQ(test, th->cmd_err, 0);
	for (i = 0; i < 3; i++)
		KUNIT_EXPECT_EQ(test, th->calls[i].offset, i * 4096);
	KUNIT_EXPECT_EQ(test, tgt_mismatch(tgt_backing, tgt_buf, 3 * 4096), 0);

	/* and once done, it can be queued again */
	th->ctx = TGT_CTX_INLINE;
	KUNIT_EXPECT_EQ(test, tgt_test_run(th, cmd, tgt_buf, 4096), 0);
	KUNIT_EXPECT_EQ(test, th->nr_calls, 1);
	tgt_test_put(th, cmd);
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost), 0);
}

struct tgt_going_away_param {
	const char *name;
	unsigned int len;
	enum dma_data_direction dir;
	unsigned int chunks_before;	/* chunks handed out before it */
	int state;
};

/* one-page chunks: a command of n pages has n chunks */
static const struct tgt_going_away_param tgt_going_away_params[] = {
	{ "after chunk 0 of 4, cancel", 4 * 4096, DMA_TO_DEVICE, 1,
	  SHOST_CANCEL },
	{ "after chunk 0 of 4, del", 4 * 4096, DMA_FROM_DEVICE, 1, SHOST_DEL },
	{ "after the last chunk, before the response", 4096, DMA_TO_DEVICE, 1,
	  SHOST_CANCEL },
	{ "before the first chunk", 2 * 4096, DMA_FROM_DEVICE, 0,
	  SHOST_DEL },
	{ "no data, before the response", 0, DMA_NONE, 0, SHOST_CANCEL },
};

KUNIT_ARRAY_PARAM_DESC(tgt_going_away, tgt_going_away_params, name);

/*
 * Once the host starts going away (scsi_remove_host()) the LLD gets no
 * chunk and no response: the command ends with -ENODEV, no scatterlist
 * is left, and the put gives the tag and the reference back.
 */
static void tgt_offsets_host_going_away_stops_sequence(struct kunit *test)
{
	const struct tgt_going_away_param *p = test->param_value;
	struct tgt_test_host *th = tgt_manual_host(test, 4 * 4096, 9);
	struct Scsi_Host *shost = th->shost;
	unsigned int refs = tgt_test_refs(shost);
	struct scsi_cmnd *cmd;
	int ret;

	cmd = tgt_test_get(th, p->dir, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, cmd);
	if (!p->chunks_before)
		tgt_test_force_state(th, p->state);
	ret = scsi_tgt_queue_command(cmd, p->len ? tgt_buf : NULL, p->len,
				     tgt_test_cmd_done, th);
	KUNIT_ASSERT_EQ(test, ret, 0);
	if (p->chunks_before) {
		KUNIT_EXPECT_EQ(test, th->nr_calls, p->chunks_before);
		KUNIT_EXPECT_EQ(test, th->nr_cmd_done, 0);
		tgt_test_force_state(th, p->state);
		KUNIT_ASSERT_TRUE(test, tgt_test_complete_pending(th));
	}
	KUNIT_EXPECT_EQ(test, th->nr_cmd_done, 1);
	KUNIT_EXPECT_EQ(test, th->cmd_err, -ENODEV);
	KUNIT_EXPECT_EQ(test, th->nr_calls, p->chunks_before);
	KUNIT_EXPECT_EQ(test, th->nr_responses, 0);
	KUNIT_EXPECT_FALSE(test, tgt_test_complete_pending(th));
	KUNIT_EXPECT_NULL(test, scsi_sglist(cmd));
	KUNIT_EXPECT_EQ(test, scsi_sg_count(cmd), 0);

	tgt_test_force_state(th, SHOST_RUNNING);
	tgt_test_put(th, cmd);
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(shost), 0);
	KUNIT_EXPECT_EQ(test, tgt_test_refs(shost), refs);
}

/* the sg table of chunk @fail_at cannot be allocated */
struct tgt_map_fault {
	unsigned int calls;
	unsigned int fail_at;
};

static int tgt_alloc_sgtable_fails_once(struct scsi_cmnd *cmd,
					unsigned int nents)
{
	struct kunit *test = kunit_get_current_test();
	struct tgt_map_fault *f = test->priv;
	int ret;

	/*
	 * The real one: its inline entries, which the core frees as such. A
	 * failure leaves the table as a failed sg_alloc_table_chained() can:
	 * pointing at the inline entries, which hold one entry.
	 */
	current->kunit_test = NULL;
	if (f->calls++ == f->fail_at) {
		ret = scsi_tgt_alloc_sgtable(cmd, 1);
		ret = ret ?: -ENOMEM;
	} else {
		ret = scsi_tgt_alloc_sgtable(cmd, nents);
	}
	current->kunit_test = test;
	return ret;
}

struct tgt_map_fault_param {
	const char *name;
	unsigned int fail_at;
	enum tgt_test_ctx ctx;
	enum dma_data_direction dir;
};

/*
 * Inline completions only: a KUnit static stub redirects calls made by the
 * test's own thread, so chunks mapped from interrupt context cannot be made
 * to fail this way. The error path does not depend on the context.
 */
static const struct tgt_map_fault_param tgt_map_fault_params[] = {
	{ "chunk 0, to device", 0, TGT_CTX_INLINE, DMA_TO_DEVICE },
	{ "chunk 2, from device", 2, TGT_CTX_INLINE, DMA_FROM_DEVICE },
	{ "chunk 3, to device", 3, TGT_CTX_INLINE, DMA_TO_DEVICE },
	{ "chunk 1, from device", 1, TGT_CTX_INLINE, DMA_FROM_DEVICE },
};

KUNIT_ARRAY_PARAM_DESC(tgt_map_fault, tgt_map_fault_params, name);

/*
 * A chunk that cannot be mapped stops the command: the error reaches done,
 * the chunks before it were transferred, no response is sent, nothing is
 * leaked and the host keeps working.
 */
static void tgt_offsets_mapping_failure_stops_and_leaks_nothing(struct kunit *test)
{
	const struct tgt_map_fault_param *p = test->param_value;
	struct tgt_model *m = tgt_offsets_model(test);
	struct tgt_test_host *th = tgt_test_host_create(test, &tgt_page_chunks,
							true);
	unsigned int refs = tgt_test_refs(th->shost);
	struct tgt_map_fault *f;
	struct scsi_cmnd *cmd;
	unsigned int i;
	int err;
	struct tgt_run r = {
		.lim = &tgt_page_chunks,
		.len = 2 * 4096 + 7,
		.dir = p->dir,
		.ctx = p->ctx,
		.salt = tgt_test_seed,
	};

	f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, f);
	f->fail_at = p->fail_at;
	test->priv = f;
	tgt_test_log_alloc(th, 16, 64);
	th->backing = tgt_backing;
	th->backing_len = TGT_FAULT_LEN;
	th->ctx = p->ctx;

	cmd = tgt_test_get(th, p->dir, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, cmd);
	kunit_activate_static_stub(test, scsi_tgt_alloc_sgtable,
				   tgt_alloc_sgtable_fails_once);
	err = tgt_test_run(th, cmd, tgt_buf, TGT_FAULT_LEN);
	kunit_deactivate_static_stub(test, scsi_tgt_alloc_sgtable);
	KUNIT_EXPECT_EQ(test, err, -ENOMEM);
	KUNIT_EXPECT_EQ(test, f->calls, p->fail_at + 1);
	KUNIT_EXPECT_EQ(test, th->nr_calls, p->fail_at);
	KUNIT_EXPECT_EQ(test, th->nr_responses, 0);
	KUNIT_EXPECT_NULL(test, scsi_sglist(cmd));
	KUNIT_EXPECT_EQ(test, scsi_sg_count(cmd), 0);
	KUNIT_EXPECT_EQ(test, cmd->offset, p->fail_at * 4096);
	for (i = 0; i < min(th->nr_calls, th->max_calls); i++)
		KUNIT_EXPECT_EQ(test, th->calls[i].offset, i * 4096);
	/* the request carries no data any more */
	KUNIT_EXPECT_EQ(test, blk_rq_bytes(scsi_host_cmd_to_rq(cmd)), 0);
	KUNIT_EXPECT_NULL(test, scsi_host_cmd_to_rq(cmd)->bio);

	tgt_test_put(th, cmd);
	KUNIT_EXPECT_EQ(test, tgt_test_tags_in_use(th->shost), 0);
	KUNIT_EXPECT_EQ(test, tgt_test_refs(th->shost), refs);
	KUNIT_EXPECT_TRUE(test, tgt_run_one(test, th, &r, m));
}

/*
 * A vmalloc()ed buffer is mapped page by page (physically contiguous pages
 * still merge): the chunks are what the model computes from the pages'
 * physical addresses and the data arrives intact both ways.
 */
static void tgt_offsets_vmalloc_buffer(struct kunit *test)
{
	static const struct tgt_test_limits lim = {
		"sg=4,seg=8192", 64, 4, 8192, 0xffffffff, 1
	};
	struct tgt_model *m = tgt_offsets_model(test);
	struct tgt_test_host *th = tgt_test_host_create(test, &lim, true);
	struct tgt_run r = {
		.lim = &lim,
		.len = 200000,
		.ctx = TGT_CTX_INLINE,
		.salt = tgt_test_seed,
	};

	r.buf = vmalloc(r.len + TGT_GUARD);
	KUNIT_ASSERT_NOT_NULL(test, r.buf);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test,
							(kunit_action_t *)vfree,
							r.buf), 0);
	r.dir = DMA_TO_DEVICE;
	KUNIT_EXPECT_TRUE(test, tgt_run_one(test, th, &r, m));
	r.dir = DMA_FROM_DEVICE;
	r.ctx = TGT_CTX_HARDIRQ;
	r.salt++;
	KUNIT_EXPECT_TRUE(test, tgt_run_one(test, th, &r, m));
}

#define TGT_RANDOM_LIMITS	40
#define TGT_RANDOM_LENGTHS	6

static void tgt_random_limits(struct rnd_state *rnd,
			      struct tgt_test_limits *lim)
{
	static const unsigned int segs[] = {
		4096, 8192, 12288, 16384, 65536, 1 << 20
	};
	static const unsigned long bnds[] = {
		0xfff, 0x1fff, 0x3fff, 0xffff, 0xfffff, 0xffffffff
	};
	u32 r = prandom_u32_state(rnd);

	lim->name = "random";
	lim->max_sectors = 8 + prandom_u32_state(rnd) % (8 << (r % 9));
	lim->sg_tablesize = 1 + (r >> 4) % ((r >> 12) % 2 ? 8 : 128);
	lim->max_segment_size = segs[(r >> 16) % ARRAY_SIZE(segs)];
	if ((r >> 19) % 4 == 0)
		lim->max_segment_size = 4096 + 512 * (prandom_u32_state(rnd) %
						      120);
	lim->dma_boundary = bnds[(r >> 21) % ARRAY_SIZE(bnds)];
	lim->can_queue = 1;
}

static void tgt_random_length(struct rnd_state *rnd, struct tgt_run *r)
{
	u32 k = prandom_u32_state(rnd);
	u32 v = prandom_u32_state(rnd);
	unsigned int max;

	r->buf_off = k % 4 == 0 ? (k >> 2) % PAGE_SIZE : 0;
	max = TGT_BUF_SIZE - r->buf_off;
	switch ((k >> 16) % 8) {
	case 0:
		r->len = v % 4096;
		break;
	case 1:
		r->len = v % 65536;
		break;
	case 6:
		r->len = v % (max + 1);
		break;
	case 7:
		r->len = (v % (max / 512 + 1)) * 512;
		break;
	default:
		r->len = v % (1 << 20);
		break;
	}
	r->dir = (k >> 20) & 1 ? DMA_TO_DEVICE : DMA_FROM_DEVICE;
	r->ctx = TGT_CTX_INLINE;
	r->salt = v;
}

/* a seeded random matrix of (limits, length) pairs */
static void tgt_offsets_random_matrix(struct kunit *test)
{
	struct tgt_model *m = tgt_offsets_model(test);
	struct tgt_test_limits *lim;
	unsigned int i, j, pairs = 0;
	struct rnd_state rnd;

	lim = kunit_kcalloc(test, TGT_RANDOM_LIMITS, sizeof(*lim), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, lim);
	prandom_seed_state(&rnd, tgt_test_seed);
	kunit_info(test, "seed %lu (tgt_kunit.seed=)\n", tgt_test_seed);

	for (i = 0; i < TGT_RANDOM_LIMITS; i++) {
		struct tgt_test_host *th;

		tgt_random_limits(&rnd, &lim[i]);
		th = tgt_test_host_create(test, &lim[i], true);
		for (j = 0; j < TGT_RANDOM_LENGTHS; j++) {
			struct tgt_run r = { .lim = &lim[i] };

			tgt_random_length(&rnd, &r);
			tgt_model_run(r.lim, tgt_buf + r.buf_off, r.len, m);
			/* interrupt completions where they stay cheap */
			if (m->nr_chunks <= 32)
				r.ctx = (r.salt >> 8) % 3;
			if (!tgt_run_one(test, th, &r, m)) {
				kunit_info(test, "failed at pair %u\n",
					   pairs);
				return;
			}
			pairs++;
		}
	}
	kunit_info(test, "%u random (limits, length) pairs\n", pairs);
}

static int tgt_offsets_suite_init(struct kunit_suite *suite)
{
	struct page *page = alloc_pages(GFP_KERNEL, TGT_BUF_ORDER);

	if (!page)
		return -ENOMEM;
	tgt_buf = page_address(page);
	tgt_backing = vmalloc(TGT_BUF_SIZE + TGT_GUARD);
	if (!tgt_backing) {
		__free_pages(page, TGT_BUF_ORDER);
		return -ENOMEM;
	}
	return 0;
}

static void tgt_offsets_suite_exit(struct kunit_suite *suite)
{
	vfree(tgt_backing);
	__free_pages(virt_to_page(tgt_buf), TGT_BUF_ORDER);
}

static struct kunit_case tgt_cmd_offsets_cases[] = {
	KUNIT_CASE_PARAM(tgt_offsets_chunks_match_block_layer,
			 tgt_offsets_gen_params),
	KUNIT_CASE_PARAM(tgt_offsets_irq_completion_same_sequence,
			 tgt_ctx_gen_params),
	KUNIT_CASE_PARAM(tgt_offsets_error_stops_and_leaks_nothing,
			 tgt_fault_gen_params),
	KUNIT_CASE_PARAM(tgt_offsets_uspace_queue_has_sdev_queue_limits,
			 tgt_limits_gen_params),
	KUNIT_CASE(tgt_offsets_bad_arguments_refused),
	KUNIT_CASE(tgt_offsets_requeue_while_in_core_refused),
	KUNIT_CASE_PARAM(tgt_offsets_host_going_away_stops_sequence,
			 tgt_going_away_gen_params),
	KUNIT_CASE_PARAM(tgt_offsets_mapping_failure_stops_and_leaks_nothing,
			 tgt_map_fault_gen_params),
	KUNIT_CASE(tgt_offsets_vmalloc_buffer),
	KUNIT_CASE(tgt_offsets_random_matrix),
	{}
};

static struct kunit_suite tgt_cmd_offsets_suite = {
	.name = "tgt_cmd_offsets",
	.suite_init = tgt_offsets_suite_init,
	.suite_exit = tgt_offsets_suite_exit,
	.test_cases = tgt_cmd_offsets_cases,
};

kunit_test_suites(&tgt_cmd_offsets_suite);
