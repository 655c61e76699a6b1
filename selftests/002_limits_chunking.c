// SPDX-License-Identifier: GPL-2.0
/*
 * 002: reconfiguring a host's limits at run time re-creates its Scsi_Host
 * and the next command is cut into exactly the chunks the new limits force.
 * The expected chunks are computed from the limits by the model of
 * tgt_chunk_model.h, over the logged physical layout and, where the
 * layout does not matter (dma_boundary 4095: one segment per page), over
 * the lengths alone.
 */
#include "kselftest_harness.h"
#include "tgt_chunk_model.h"
#include "tgt_selftest.h"

#define DESCRIPTION "reconfiguring limits at run time changes the chunking to what the new limits force"

FIXTURE(chunking) {
	int fd;
	struct tgt_limits def;
};

FIXTURE_SETUP(chunking)
{
	ASSERT_EQ(0, tgt_default_limits(&self->def));
	ASSERT_TGT(tgt_reset_host(0, NULL));
	self->fd = tgt_cmd_open(0);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(chunking)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* apply limits through the limits file; check re-creation and sysfs */
static void apply(struct __test_metadata *_metadata, const struct tgt_limits *l)
{
	struct tgt_counters before, after;
	struct tgt_limits now;
	unsigned int old_no, new_no;
	unsigned long long v;
	char path[128];

	ASSERT_EQ(0, tgt_counters_read(0, &before));
	ASSERT_EQ(0, tgt_host_no(0, &old_no));
	ASSERT_EQ(0, tgt_limits_read(0, &now));
	ASSERT_EQ(0, tgt_limits_write(0, l));
	ASSERT_EQ(0, tgt_limits_read(0, &now));
	ASSERT_TRUE(tgt_limits_equal(l, &now));
	ASSERT_EQ(0, tgt_counters_read(0, &after));
	ASSERT_EQ(before.v[C_RECREATED] + 1, after.v[C_RECREATED]);
	/* a new Scsi_Host with the new limits, the old one gone */
	ASSERT_EQ(0, tgt_host_no(0, &new_no));
	ASSERT_NE(old_no, new_no);
	snprintf(path, sizeof(path), "/sys/class/scsi_host/host%u", old_no);
	ASSERT_NE(0, access(path, F_OK));
	snprintf(path, sizeof(path), "/sys/class/scsi_host/host%u/sg_tablesize",
		 new_no);
	ASSERT_EQ(0, tgt_read_ull(path, &v));
	ASSERT_EQ(l->sg_tablesize, v);
	snprintf(path, sizeof(path), "/sys/class/scsi_host/host%u/can_queue",
		 new_no);
	ASSERT_EQ(0, tgt_read_ull(path, &v));
	ASSERT_EQ(l->can_queue, v);
	ASSERT_TGT(tgt_check_idle(0, NULL));
}

/* run one command, check it and its chunks; returns the chunk count */
static unsigned int run(struct __test_metadata *_metadata, int fd,
			const struct tgt_limits *l, const char *req,
			const char *dir, unsigned int len, unsigned int **lens)
{
	struct tgt_result r;
	unsigned int n, i;

	ASSERT_EQ(0, tgt_cmd_write(fd, "dir=%s len=%u seed=7 %s nowait\n",
				   dir, len, req));
	ASSERT_EQ(0, tgt_cmd_read(fd, &r));
	ASSERT_TGT(tgt_check_traced(&r, dir, len, 7, l));
	n = r.nchunk;
	if (lens) {
		*lens = calloc(n, sizeof(**lens));
		for (i = 0; i < n; i++)
			(*lens)[i] = r.chunk[i].len;
	}
	tgt_result_free(&r);
	ASSERT_TGT(tgt_check_idle(0, NULL));
	return n;
}

/*
 * With dma_boundary 4095 every page of a page-aligned buffer is a segment
 * of its own whatever its physical address, so the chunks follow from the
 * lengths alone: the model of tgt_chunk_model.h applied to pages that are
 * never contiguous. Returns the number of chunks, their lengths in out[].
 */
static unsigned int expect_chunks(unsigned int len, const struct tgt_limits *l,
				  unsigned int *out, unsigned int max_out)
{
	const struct tgt_model_limits ml = {
		.max_sectors = l->max_sectors,
		.sg_tablesize = l->sg_tablesize,
		.max_segment_size = l->max_segment_size,
		.dma_boundary = l->dma_boundary,
	};
	unsigned int npages = (len + TGT_PAGE_SIZE - 1) / TGT_PAGE_SIZE, i;
	struct tgt_model_piece *pieces = calloc(npages, sizeof(*pieces));
	struct tgt_model_chunk *chunks = calloc(npages, sizeof(*chunks));
	int n = -1;

	if (pieces && chunks) {
		for (i = 0; i < npages; i++) {
			pieces[i].addr = 2ULL * i * TGT_PAGE_SIZE;
			pieces[i].len = i + 1 < npages ? TGT_PAGE_SIZE :
				len - i * TGT_PAGE_SIZE;
		}
		n = tgt_model_chunks(pieces, npages, &ml, chunks, npages,
				     NULL, 0, NULL);
		for (i = 0; (int)i < n && i < max_out; i++)
			out[i] = chunks[i].len;
	}
	free(pieces);
	free(chunks);
	return n < 0 ? 0 : n;
}

/* a sequence of limits, each changing the chunking of one command */
TEST_F(chunking, limits_file_sequence)
{
	static const struct {
		unsigned int sg, max_sectors;
	} steps[] = {
		{ 128, 1024 }, { 128, 8 }, { 3, 1024 }, { 2, 32768 },
		{ 5, 24 }, { 2048, 9 }, { 64, 128 },
	};
	unsigned int len = 40 * 4096 + 100, prev = 0, i, j;

	for (i = 0; i < TGT_ARRAY_SIZE(steps); i++) {
		struct tgt_limits l = self->def;
		unsigned int want[64], *got, n, nwant;

		l.sg_tablesize = steps[i].sg;
		l.max_sectors = steps[i].max_sectors;
		l.max_segment_size = 4096;
		l.dma_boundary = 0xfff;
		apply(_metadata, &l);
		/* vmalloc: pages scattered, page-aligned (align=0) */
		n = run(_metadata, self->fd, &l, "buf=vmalloc align=0", "to",
			len, &got);
		nwant = expect_chunks(len, &l, want, TGT_ARRAY_SIZE(want));
		ASSERT_EQ(nwant, n) TH_LOG("step %u: sg_tablesize=%u max_sectors=%u",
					   i, l.sg_tablesize, l.max_sectors);
		for (j = 0; j < n && j < TGT_ARRAY_SIZE(want); j++)
			ASSERT_EQ(want[j], got[j]) TH_LOG("step %u chunk %u", i, j);
		free(got);
		ASSERT_NE(prev, n) TH_LOG("step %u did not change the chunking", i);
		prev = n;
	}
}

/* each single knob file re-creates the host and changes the chunking */
TEST_F(chunking, knob_files)
{
	struct tgt_limits l = self->def, now;
	unsigned int before, after, old_no, new_no;

	/* contiguous kmalloc buffer: segments merge up to the limits */
	before = run(_metadata, self->fd, &l, "buf=kmalloc align=0", "from",
		     262144, NULL);
	ASSERT_EQ(1, before);	/* 256 KiB < max_sectors 1024 * 512 */

	ASSERT_EQ(0, tgt_host_no(0, &old_no));
	ASSERT_EQ(0, tgt_write_host(0, SIM_LLD_F_MAX_SECTORS, "16\n"));
	ASSERT_EQ(0, tgt_host_no(0, &new_no));
	ASSERT_NE(old_no, new_no);
	ASSERT_EQ(0, tgt_limits_read(0, &now));
	ASSERT_EQ(16, now.max_sectors);
	l.max_sectors = 16;
	after = run(_metadata, self->fd, &l, "buf=kmalloc align=0", "from",
		    262144, NULL);
	ASSERT_EQ(32, after);	/* 8 KiB chunks */

	ASSERT_EQ(0, tgt_write_host(0, SIM_LLD_F_SG_TABLESIZE, "1\n"));
	ASSERT_EQ(0, tgt_write_host(0, SIM_LLD_F_MAX_SEGMENT_SIZE, "4096\n"));
	ASSERT_EQ(0, tgt_write_host(0, SIM_LLD_F_MAX_SECTORS, "1024\n"));
	ASSERT_EQ(0, tgt_limits_read(0, &now));
	l.sg_tablesize = 1;
	l.max_segment_size = 4096;
	l.max_sectors = 1024;
	ASSERT_TRUE(tgt_limits_equal(&l, &now));
	/* one 4 KiB segment per chunk whatever the physical layout */
	after = run(_metadata, self->fd, &l, "buf=kmalloc align=0", "from",
		    262144, NULL);
	ASSERT_EQ(64, after);

	ASSERT_EQ(0, tgt_write_host(0, SIM_LLD_F_SG_TABLESIZE, "128\n"));
	ASSERT_EQ(0, tgt_write_host(0, SIM_LLD_F_MAX_SEGMENT_SIZE, "65536\n"));
	ASSERT_EQ(0, tgt_write_host(0, SIM_LLD_F_DMA_BOUNDARY, "0x3fff\n"));
	l.sg_tablesize = 128;
	l.max_segment_size = 65536;
	l.dma_boundary = 0x3fff;
	ASSERT_EQ(0, tgt_limits_read(0, &now));
	ASSERT_TRUE(tgt_limits_equal(&l, &now));
	/* 16 KiB windows: at least 16 segments, still one chunk */
	after = run(_metadata, self->fd, &l, "buf=kmalloc align=0", "from",
		    262144, NULL);
	ASSERT_EQ(1, after);
}

/* a host with a command outstanding keeps its limits (EBUSY) */
TEST_F(chunking, busy_host_refuses)
{
	struct tgt_limits l = self->def, now;
	struct tgt_counters c;
	struct tgt_result r;
	unsigned int no, no2;

	ASSERT_EQ(0, tgt_host_no(0, &no));
	ASSERT_EQ(0, tgt_write_host(0, SIM_LLD_F_FAULT, "drop chunk=0\n"));
	ASSERT_EQ(0, tgt_cmd_write(self->fd, "dir=to len=8192 seed=3 async nowait\n"));
	ASSERT_EQ(1, tgt_wait_counter(0, C_DROPPED_NOW, 1, 5000));

	l.max_sectors = 8;
	ASSERT_EQ(-EBUSY, tgt_limits_write(0, &l));
	ASSERT_EQ(-EBUSY, tgt_write_host(0, SIM_LLD_F_MAX_SECTORS, "8\n"));
	ASSERT_EQ(0, tgt_limits_read(0, &now));
	ASSERT_TRUE(tgt_limits_equal(&self->def, &now));
	ASSERT_EQ(0, tgt_host_no(0, &no2));
	ASSERT_EQ(no, no2);
	ASSERT_EQ(0, tgt_counters_read(0, &c));
	ASSERT_EQ(0, c.v[C_RECREATED]);
	ASSERT_EQ(1, c.v[C_OUTSTANDING]);
	ASSERT_EQ(1, c.v[C_TAGS_IN_USE]);

	/* release it: completes with DID_NO_CONNECT ("flushed") */
	ASSERT_EQ(0, tgt_write_host(0, SIM_LLD_F_FAULT, "flush\n"));
	ASSERT_EQ(0, tgt_cmd_write(self->fd, "wait all timeout_ms=5000\n"));
	ASSERT_EQ(0, tgt_cmd_read(self->fd, &r));
	ASSERT_TRUE(r.summary);
	ASSERT_EQ(1, r.waited);
	ASSERT_EQ(1, r.failed);
	ASSERT_EQ(0, r.pending);
	ASSERT_TGT(tgt_check_idle(0, NULL));

	/* now idle: the same change is applied */
	apply(_metadata, &l);
	ASSERT_EQ(2, run(_metadata, self->fd, &l, "buf=kmalloc align=0", "to",
			 8192, NULL));
}

TGT_SELFTEST_MAIN(DESCRIPTION)
