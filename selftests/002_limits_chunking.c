// SPDX-License-Identifier: GPL-2.0
/*
 * 002: reconfiguring a host's limits at run time re-creates its Scsi_Host
 * and the next command is cut into exactly the chunks the new limits force.
 * The expected chunks are computed here from the limits (tgt_model_chunks)
 * and from the arithmetic where the physical layout does not matter
 * (dma_boundary 4095: one segment per page fragment).
 */
#include "tgt_selftest.h"

#define DESCRIPTION "reconfiguring limits at run time changes the chunking to what the new limits force"

FIXTURE(chunking) {
	int fd;
	struct tgt_limits def;
};

FIXTURE_SETUP(chunking)
{
	ASSERT_EQ(0, tgt_default_limits(&self->def));
	tgt_reset_host(_metadata, 0, NULL);
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
	tgt_assert_idle(_metadata, 0, NULL);
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
	tgt_check_ok(_metadata, &r, dir, len, 7);
	tgt_check_chunking(_metadata, &r, l);
	n = r.nchunk;
	if (lens) {
		*lens = calloc(n, sizeof(**lens));
		for (i = 0; i < n; i++)
			(*lens)[i] = r.chunk[i].len;
	}
	tgt_result_free(&r);
	tgt_assert_idle(_metadata, 0, NULL);
	return n;
}

/*
 * With dma_boundary 4095 every page fragment is a segment of its own, so
 * the chunks follow from the numbers alone: fragments of a page-aligned
 * buffer are 4096 bytes (the last one the rest), a chunk takes fragments
 * while it has fewer than sg_tablesize of them and stays within
 * max_sectors * 512.
 */
static unsigned int expect_chunks(unsigned int len, unsigned int sg,
				  unsigned int max_sectors, unsigned int *out,
				  unsigned int max_out)
{
	unsigned int left = len, n = 0;
	unsigned long long cap = (unsigned long long)max_sectors * TGT_SECTOR;

	while (left) {
		unsigned int bytes = 0, segs = 0;

		while (left && segs < sg) {
			unsigned int f = left < TGT_PAGE_SIZE ? left : TGT_PAGE_SIZE;

			if (bytes + f > cap)
				break;
			bytes += f;
			left -= f;
			segs++;
		}
		if (n < max_out)
			out[n] = bytes;
		n++;
	}
	return n;
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
		nwant = expect_chunks(len, l.sg_tablesize, l.max_sectors, want,
				      TGT_ARRAY_SIZE(want));
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
	tgt_assert_idle(_metadata, 0, NULL);

	/* now idle: the same change is applied */
	apply(_metadata, &l);
	ASSERT_EQ(2, run(_metadata, self->fd, &l, "buf=kmalloc align=0", "to",
			 8192, NULL));
}

TGT_SELFTEST_MAIN(DESCRIPTION)
