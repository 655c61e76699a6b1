// SPDX-License-Identifier: GPL-2.0
/*
 * 001: data integrity in both directions over a matrix of host limits x
 * lengths x buffer placement x completion mode. Each command's buffer is
 * filled with the pattern of its seed on one side and its complement on
 * the other; after the transfer sim_lld compares, and the test checks
 * err/result/verify, the transfer log against the limits (and the exact
 * chunks the limits force) and the counters.
 *
 * hrtimer completions cost a timer tick per chunk in the tgtsim UML
 * configs (HZ=100): only variants with few chunks per command use them.
 */
#include "kselftest_harness.h"
#include "tgt_selftest.h"

#define DESCRIPTION "data integrity both directions over a matrix of host limits x lengths"

static const unsigned int lengths[] = {
	1, 511, 512, 4095, 4096, 4097, 12289, 65536, 65537, 131584,
	1048576, 1048589, 3 * 1048576 + 7,
};
static const unsigned int aligns[] = { 0, 1, 511, 4095, 2048 };
static const char *const bufs[] = { "kvmalloc", "kmalloc", "vmalloc" };

FIXTURE(data) {
	struct tgt_limits lim;
	int fd;
};

FIXTURE_VARIANT(data) {
	struct tgt_limits lim;
	const char *completion;
};

/* can_queue 0 below means: the module default */
FIXTURE_VARIANT_ADD(data, defaults_hrtimer) {
	.lim = { 128, 1024, 65536, 0xffffffffULL, 0 },
	.completion = "hrtimer",
};

FIXTURE_VARIANT_ADD(data, page_chunks_workqueue) {
	.lim = { 128, 8, 65536, 0xffffffffULL, 0 },
	.completion = "workqueue",
};

FIXTURE_VARIANT_ADD(data, one_segment_softirq) {
	.lim = { 1, 1024, 4096, 0xffffffffULL, 0 },
	.completion = "softirq",
};

FIXTURE_VARIANT_ADD(data, boundary_8k_workqueue) {
	.lim = { 2, 24, 8192, 0x1fffULL, 0 },
	.completion = "workqueue",
};

FIXTURE_VARIANT_ADD(data, odd_sectors_inline) {
	.lim = { 4, 9, 4096, 0xfffULL, 0 },
	.completion = "inline",
};

FIXTURE_VARIANT_ADD(data, page_segments_inline) {
	.lim = { 3, 32768, 4096, 0xfffULL, 0 },
	.completion = "inline",
};

FIXTURE_VARIANT_ADD(data, boundary_64k_softirq) {
	.lim = { 16, 2048, 65536, 0xffffULL, 0 },
	.completion = "softirq",
};

FIXTURE_VARIANT_ADD(data, largest_hrtimer) {
	.lim = { 2048, 32768, 0x40000000U, 0xffffffffULL, 0 },
	.completion = "hrtimer",
};

FIXTURE_SETUP(data)
{
	struct tgt_limits def;

	ASSERT_EQ(0, tgt_default_limits(&def));
	self->lim = variant->lim;
	self->lim.can_queue = def.can_queue;
	ASSERT_TGT(tgt_reset_host(0, &self->lim));
	ASSERT_EQ(0, tgt_write_host(0, SIM_LLD_F_COMPLETION, "%s\n",
				    variant->completion));
	self->fd = tgt_cmd_open(0);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(data)
{
	if (self->fd >= 0)
		close(self->fd);
}

static void run_matrix(struct __test_metadata *_metadata,
		       FIXTURE_DATA(data) *self, const char *dir)
{
	unsigned long long bytes = 0;
	struct tgt_counters c;
	struct tgt_result r;
	unsigned int k;

	for (k = 0; k < TGT_ARRAY_SIZE(lengths); k++) {
		unsigned int len = lengths[k], seed = 1000 + k;
		unsigned int align = aligns[k % TGT_ARRAY_SIZE(aligns)];
		/* kmalloc is capped at 4 MiB: only up to 1 MiB here */
		const char *buf = len > 1048576 ? "kvmalloc" :
				  bufs[k % TGT_ARRAY_SIZE(bufs)];

		ASSERT_EQ(0, tgt_cmd_write(self->fd,
				"dir=%s len=%u seed=%u align=%u buf=%s nowait\n",
				dir, len, seed, align, buf))
			TH_LOG("dir=%s len=%u align=%u buf=%s", dir, len, align, buf);
		ASSERT_EQ(0, tgt_cmd_read(self->fd, &r));
		ASSERT_TGT(tgt_check_traced(&r, dir, len, seed, &self->lim));
		/* the first segment starts align bytes into a page or more */
		if (!strcmp(buf, "vmalloc") || len > 4096)
			ASSERT_EQ(align, r.seg[0].addr % TGT_PAGE_SIZE);
		tgt_result_free(&r);

		bytes += len;
		ASSERT_TGT(tgt_check_idle(0, &c));
		ASSERT_EQ(k + 1, c.v[C_COMMANDS]);
		ASSERT_EQ(k + 1, c.v[C_CMDS_OK]);
		ASSERT_EQ(k + 1, c.v[C_RESPONSES]);
		ASSERT_EQ(bytes, c.v[C_BYTES]);
		ASSERT_EQ(0, c.v[C_ERRORS]);
		ASSERT_EQ(0, c.v[C_VERIFY_ERRORS]);
		ASSERT_EQ(0, c.v[C_CMDS_FAILED]);
	}
}

/* target memory -> LLD (DMA_TO_DEVICE) */
TEST_F(data, to)
{
	run_matrix(_metadata, self, "to");
}

/* LLD -> target memory (DMA_FROM_DEVICE) */
TEST_F(data, from)
{
	run_matrix(_metadata, self, "from");
}

TGT_SELFTEST_MAIN(DESCRIPTION)
