/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tgt_bench.h - what the files of the tgt_bench module share: the figures
 * they print ("tgt-bench" KTAP diagnostics, format v1, kunit/README.md
 * "Benchmark figures") and running a measurement in a kthread of its own.
 */
#ifndef _TGT_BENCH_H
#define _TGT_BENCH_H

#include <linux/types.h>
#include <kunit/test.h>

#define TGT_BENCH_PREFIX	"tgt-bench: v1 "

/* one record: "tgt-bench: v1 KIND key=value ..." */
#define tgt_bench_out(test, fmt, ...) \
	kunit_info(test, TGT_BENCH_PREFIX fmt "\n", ##__VA_ARGS__)

/* module parameters (tgt_bench.reps=, .min_ms=, .tick_chunks=) */
extern unsigned int tgt_bench_reps;
extern unsigned int tgt_bench_min_ms;

/*
 * Run @fn(@arg) in a kthread and wait for it: figures measured there are
 * not slowed down by the KUnit static stub lookups that calls made by the
 * test's own thread go through. @fn may use KUNIT_EXPECT_*() and
 * KUNIT_FAIL(), never KUNIT_ASSERT_*().
 */
int tgt_bench_in_kthread(struct kunit *test, int (*fn)(void *arg), void *arg);

void tgt_bench_get_put(struct kunit *test);

#endif /* _TGT_BENCH_H */
