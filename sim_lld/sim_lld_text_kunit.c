// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite sim_lld_text: the text userspace writes to sim_lld (module
 * parameters, knob files, the limits, cmd and fault files) is parsed as
 * documented or refused with -EINVAL leaving everything as it was, and
 * the text a read of the cmd file gives is the transfer log.
 */

#include <kunit/test.h>
#include <linux/blkdev.h>
#include <linux/err.h>
#include <linux/kstrtox.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <scsi/scsi_host.h>

#include "sim_lld_kunit.h"

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

static void sim_text_knob_refuses_invalid_keeps_host(struct kunit *test)
{
	struct sim_lld_limits lim0 = sim_k_limits(4, 16, 4096, 0xffff, 8);
	struct sim_lld_limits lim;
	struct sim_lld_host *sh, *other;
	struct sim_lld_counters c;
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
			other = sim_lld_host_add(&lim);
			KUNIT_EXPECT_PTR_EQ(test, other, ERR_PTR(-EINVAL));
			if (!IS_ERR(other))
				sim_lld_host_remove(other);
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
	sim_k_remove(test, sh);
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

static void sim_text_defaults_refuse_invalid_apply_valid(struct kunit *test)
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
	sim_k_remove(test, sh);
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

static void sim_text_limits_sets_given_keys_refuses_bad(struct kunit *test)
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
	sim_k_remove(test, sh);
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

static void sim_text_cmd_request_parsed_bad_refused(struct kunit *test)
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

static void sim_text_fault_parsed_bad_refused(struct kunit *test)
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

static const struct {
	const char *text;
	int ret;
	struct sim_lld_sense s;
} sim_k_sense_texts[] = {
	{ "none", 0, {} },
	{ "key=5 asc=0x24 ascq=0", 0, { true, false, 5, 0x24, 0 } },
	{ "key=0x3 asc=0x11 ascq=0x1 desc\n", 0, { true, true, 3, 0x11, 1 } },
	{ "asc=0x24", -EINVAL },		/* no key */
	{ "key=0 asc=1", -EINVAL },		/* NO SENSE is no sense */
	{ "key=16", -EINVAL },
	{ "key=5 asc=256", -EINVAL },
	{ "none key=5", -EINVAL },
	{ "key=5 bogus", -EINVAL },
	{ "", -EINVAL },
};

static void sim_text_sense_parsed_bad_refused(struct kunit *test)
{
	struct sim_lld_sense s;
	char buf[64];
	int i, ret;

	for (i = 0; i < ARRAY_SIZE(sim_k_sense_texts); i++) {
		strscpy(buf, sim_k_sense_texts[i].text, sizeof(buf));
		ret = sim_lld_parse_sense(buf, &s);
		KUNIT_EXPECT_EQ_MSG(test, ret, sim_k_sense_texts[i].ret, "'%s'",
				    sim_k_sense_texts[i].text);
		if (!ret && !sim_k_sense_texts[i].ret)
			KUNIT_EXPECT_MEMEQ_MSG(test, &s,
					       &sim_k_sense_texts[i].s,
					       sizeof(s), "'%s'",
					       sim_k_sense_texts[i].text);
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
static void sim_text_cmd_read_back_equals_log(struct kunit *test)
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
	sim_k_remove(test, sh);
}

static struct kunit_case sim_lld_text_cases[] = {
	KUNIT_CASE(sim_text_defaults_refuse_invalid_apply_valid),
	KUNIT_CASE(sim_text_knob_refuses_invalid_keeps_host),
	KUNIT_CASE(sim_text_limits_sets_given_keys_refuses_bad),
	KUNIT_CASE(sim_text_cmd_request_parsed_bad_refused),
	KUNIT_CASE(sim_text_fault_parsed_bad_refused),
	KUNIT_CASE(sim_text_sense_parsed_bad_refused),
	KUNIT_CASE(sim_text_cmd_read_back_equals_log),
	{}
};

static struct kunit_suite sim_lld_text_suite = {
	.name = "sim_lld_text",
	.test_cases = sim_lld_text_cases,
};

kunit_test_suite(sim_lld_text_suite);
