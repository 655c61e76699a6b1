// SPDX-License-Identifier: GPL-2.0
/*
 * 007: 10,000 mixed commands from a seeded generator (kernel argument
 * tgtsim_seed=N reaches PID 1 as environment): random limits, can_queue
 * and completion mode per phase, random direction, length, buffer type
 * and alignment per command, synchronous ones checked one by one (data
 * and exact chunking) and async batches up to can_queue collected with
 * "wait all". At the end the counters add up and are back to zero.
 *
 * hrtimer completions cost a timer tick per chunk in the tgtsim UML
 * configs (HZ=100, no high resolution timers): hrtimer phases are short
 * and use small commands, so that the test stays within seconds.
 */
#include "kselftest_harness.h"
#include "tgt_selftest.h"

#define DESCRIPTION "10,000 mixed commands with seeded random limits and lengths, counters back to zero"

#define COMMANDS	10000

static const unsigned int sgs[] = { 1, 2, 3, 4, 8, 16, 64, 128, 256, 2048 };
static const unsigned int sectors[] = { 8, 9, 16, 24, 64, 128, 255, 1024, 4096, 32768 };
static const unsigned int segsizes[] = { 4096, 8192, 12288, 65536, 1048576 };
static const unsigned long long boundaries[] = {
	0xfff, 0x1fff, 0xffff, 0xfffff, 0xffffffffULL,
};
static const char *const modes[] = SIM_LLD_COMPLETION_NAMES;
#define HRTIMER_MAX_LEN	16384

#define PICK(s, a) (a)[tgt_rand(s) % TGT_ARRAY_SIZE(a)]

static unsigned int rand_len(uint64_t *s, int hrtimer)
{
	unsigned int p = tgt_rand_range(s, 0, 99);

	if (hrtimer)
		return tgt_rand_range(s, 1, HRTIMER_MAX_LEN);
	if (p < 15)
		return tgt_rand_range(s, 1, 512);
	if (p < 60)
		return tgt_rand_range(s, 513, 16384);
	if (p < 90)
		return tgt_rand_range(s, 16385, 65536);
	if (p < 99)
		return tgt_rand_range(s, 65537, 262144);
	return tgt_rand_range(s, 262145, 1048576);
}

FIXTURE(stress) {
	int fd;
};

FIXTURE_SETUP(stress)
{
	ASSERT_TGT(tgt_reset_host(0, NULL));
	self->fd = tgt_cmd_open(0);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(stress)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F_TIMEOUT(stress, mixed_10000, 600)
{
	uint64_t seed = tgt_seed(), s = seed;
	unsigned long long bytes = 0, recreated = 0, sync_chunks = 0;
	unsigned int done = 0, phases = 0, asyncs = 0;
	struct tgt_limits lim, prev;
	struct tgt_counters c;
	struct tgt_result r;

	TH_LOG("seed %llu (kernel argument tgtsim_seed=N)", (unsigned long long)seed);
	ASSERT_EQ(0, tgt_limits_read(0, &prev));
	while (done < COMMANDS) {
		/* inline, workqueue and softirq 3 in 10 each, hrtimer 1 in 10 */
		unsigned int m = tgt_rand_range(&s, 0, 9);
		const char *mode = modes[m < 3 ? SIM_LLD_COMPL_INLINE :
					 m < 6 ? SIM_LLD_COMPL_WORKQUEUE :
					 m < 9 ? SIM_LLD_COMPL_SOFTIRQ :
						 SIM_LLD_COMPL_HRTIMER];
		int hrtimer = !strcmp(mode, "hrtimer");
		unsigned int phase_end = done + (hrtimer ?
			tgt_rand_range(&s, 10, 30) : tgt_rand_range(&s, 100, 600));

		if (phase_end > COMMANDS)
			phase_end = COMMANDS;
		lim.sg_tablesize = PICK(&s, sgs);
		lim.max_sectors = PICK(&s, sectors);
		if (hrtimer && lim.max_sectors < 32)
			lim.max_sectors = 32;
		lim.max_segment_size = PICK(&s, segsizes);
		lim.dma_boundary = PICK(&s, boundaries);
		lim.can_queue = tgt_rand_range(&s, 1, 64);
		ASSERT_EQ(0, tgt_limits_write(0, &lim))
			TH_LOG("phase %u: sg_tablesize=%u max_sectors=%u max_segment_size=%u dma_boundary=0x%llx can_queue=%u",
			       phases, lim.sg_tablesize, lim.max_sectors,
			       lim.max_segment_size, lim.dma_boundary,
			       lim.can_queue);
		recreated += !tgt_limits_equal(&lim, &prev);
		prev = lim;
		ASSERT_EQ(0, tgt_write_host(0, SIM_LLD_F_COMPLETION, "%s\n", mode));
		phases++;

		while (done < phase_end) {
			unsigned int batch = 1, i;

			if (tgt_rand_range(&s, 0, 99) < 12) {
				batch = tgt_rand_range(&s, 1, lim.can_queue < 16 ?
						       lim.can_queue : 16);
				if (batch > phase_end - done)
					batch = phase_end - done;
			}
			for (i = 0; i < batch; i++) {
				unsigned int p = tgt_rand_range(&s, 0, 99);
				const char *dir = p < 45 ? "to" : p < 90 ? "from" : "none";
				unsigned int len = strcmp(dir, "none") ?
						   rand_len(&s, hrtimer) : 0;
				unsigned int align = tgt_rand_range(&s, 0, 1) ? 0 :
						     tgt_rand_range(&s, 0, 4095);
				unsigned int b = tgt_rand_range(&s, 0, 9);
				const char *buf = b < 6 ? "kvmalloc" :
						  b < 8 ? "kmalloc" : "vmalloc";
				unsigned int cseed = (unsigned int)tgt_rand(&s);
				int async = batch > 1;

				ASSERT_EQ(0, tgt_cmd_write(self->fd,
					"dir=%s len=%u seed=%u align=%u buf=%s nowait%s\n",
					dir, len, cseed, align, buf,
					async ? " async" : ""))
					TH_LOG("command %u: dir=%s len=%u align=%u buf=%s",
					       done, dir, len, align, buf);
				bytes += len;
				done++;
				if (async) {
					asyncs++;
					continue;
				}
				ASSERT_EQ(0, tgt_cmd_read(self->fd, &r));
				ASSERT_TGT(tgt_check_ok(&r, dir, len, cseed));
				if (len)
					ASSERT_TGT(tgt_check_chunking(&r, &lim));
				sync_chunks += r.nchunk;
				tgt_result_free(&r);
			}
			if (batch > 1) {
				ASSERT_EQ(0, tgt_cmd_write(self->fd,
						"wait all timeout_ms=20000\n"));
				ASSERT_EQ(0, tgt_cmd_read(self->fd, &r));
				ASSERT_TRUE(r.summary);
				ASSERT_EQ(batch, r.waited);
				ASSERT_EQ(batch, r.ok) TH_LOG("batch ending at command %u", done);
				ASSERT_EQ(0, r.failed);
				ASSERT_EQ(0, r.pending);
			}
		}
		ASSERT_TGT(tgt_check_idle(0, &c));
		ASSERT_EQ(done, c.v[C_COMMANDS]);
		ASSERT_EQ(done, c.v[C_CMDS_OK]);
	}
	close(self->fd);
	self->fd = -1;

	TH_LOG("%u commands (%u async) in %u phases, %llu bytes, %llu re-creations",
	       done, asyncs, phases, bytes, recreated);
	ASSERT_TGT(tgt_check_idle(0, &c));
	ASSERT_EQ(COMMANDS, c.v[C_COMMANDS]);
	ASSERT_EQ(COMMANDS, c.v[C_CMDS_OK]);
	ASSERT_EQ(COMMANDS, c.v[C_RESPONSES]);
	ASSERT_EQ(0, c.v[C_CMDS_FAILED]);
	ASSERT_EQ(0, c.v[C_ERRORS]);
	ASSERT_EQ(0, c.v[C_VERIFY_ERRORS]);
	ASSERT_EQ(0, c.v[C_TIMEOUTS]);
	ASSERT_EQ(0, c.v[C_FAULTS]);
	ASSERT_EQ(0, c.v[C_BUSY]);
	ASSERT_EQ(bytes, c.v[C_BYTES]);
	ASSERT_LE(sync_chunks, c.v[C_CHUNKS]);
	ASSERT_EQ(recreated, c.v[C_RECREATED]);
	ASSERT_EQ(0, c.v[C_CMDS_KEPT]);
}

TGT_SELFTEST_MAIN(DESCRIPTION)
