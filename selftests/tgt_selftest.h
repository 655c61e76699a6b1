/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tgt_selftest.h - the library of the tgtsim kselftests (tgt_selftest.c,
 * linked into every program).
 *
 * The programs run inside UML (PID 1 is selftests/init.sh) and drive the
 * simulated target LLD through its debugfs interface (sim_lld_uapi.h):
 * limits, faults, counters, and the per-fd "cmd" file that injects a
 * command into the target core and returns its transfer log.
 *
 * A program includes kselftest_harness.h, then this file. Functions that
 * check something (tgt_check_*(), tgt_reset_host()) return 0, or -1 with
 * what went wrong in tgt_why(); a test asserts them with ASSERT_TGT().
 * The others return 0 (or a count) or -errno.
 */
#ifndef TGT_SELFTEST_H
#define TGT_SELFTEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sim_lld_uapi.h"

#ifndef __printf	/* as kselftest.h has it */
#define __printf(a, b)	__attribute__((format(printf, a, b)))
#endif

#define TGT_PAGE_SIZE	4096u
#define TGT_SECTOR	512u
#define TGT_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Every program has a one-line description; `prog --describe` prints it,
 * `prog --list` prints the full name of every test (fixture.variant.test,
 * from the harness's own list, -l), anything else runs the harness. A
 * program whose requirements are missing (debugfs, sim_lld and its
 * host0) exits with the kselftest SKIP code and the reason, as
 * "1..0 # SKIP reason", before any test runs.
 */
#define TGT_SELFTEST_MAIN(description)					\
	int main(int argc, char **argv)					\
	{								\
		const char *missing;					\
									\
		if (argc == 2 && !strcmp(argv[1], "--describe")) {	\
			printf("%s\n", description);			\
			return 0;					\
		}							\
		if (argc == 2 && !strcmp(argv[1], "--list"))		\
			return tgt_list_tests(test_harness_run, argv[0]); \
		missing = tgt_missing(argc, argv);			\
		if (missing)						\
			ksft_exit_skip("%s\n", missing);		\
		return test_harness_run(argc, argv);			\
	}

/* assert that a checking function of this library passed, with its why */
#define ASSERT_TGT(check) do {						\
		ASSERT_EQ(0, (check)) TH_LOG("%s", tgt_why());		\
	} while (0)

/* what the last failed check found */
const char *tgt_why(void);

int tgt_list_tests(int (*harness_run)(int argc, char **argv), char *argv0);
const char *tgt_missing(int argc, char **argv);

/* ------------------------------------------------------------------ */
/* debugfs files                                                        */

void tgt_host_path(char *buf, size_t size, unsigned int host,
		   const char *file);
__printf(3, 4)
int tgt_write_host(unsigned int host, const char *file, const char *fmt, ...);
int tgt_write_root(const char *file, const char *text);
ssize_t tgt_read_host(unsigned int host, const char *file, char *buf,
		      size_t size);
int tgt_read_ull(const char *path, unsigned long long *v);
int tgt_host_no(unsigned int host, unsigned int *host_no);
int tgt_module_param(const char *name, unsigned long long *v);
int tgt_hosts(unsigned int *idx, unsigned int *host_no, unsigned int max);

/* ------------------------------------------------------------------ */
/* counters, in the order of the uapi's SIM_LLD_COUNTER_NAMES           */

enum tgt_counter {
	C_COMMANDS, C_CHUNKS, C_BYTES, C_RESPONSES, C_ERRORS, C_FAULTS,
	C_BUSY, C_DROPPED, C_CMDS_OK, C_CMDS_FAILED, C_TIMEOUTS,
	C_VERIFY_ERRORS, C_RECREATED,
	C_OUTSTANDING, C_PENDING, C_DROPPED_NOW, C_TAGS_IN_USE,
	C_FREE_LIST, C_DEV_REFS, C_GENDEV_REFS, C_CMDS_KEPT,
	C_NR,
};

struct tgt_counters {
	unsigned long long v[C_NR];
};

int tgt_counters_read(unsigned int host, struct tgt_counters *c);
int tgt_check_idle(unsigned int host, struct tgt_counters *out);
unsigned long long tgt_wait_counter(unsigned int host, enum tgt_counter k,
				    unsigned long long want,
				    unsigned int timeout_ms);

/* ------------------------------------------------------------------ */
/* limits                                                               */

struct tgt_limits {
	unsigned int sg_tablesize;
	unsigned int max_sectors;
	unsigned int max_segment_size;
	unsigned long long dma_boundary;
	unsigned int can_queue;
};

int tgt_limits_read(unsigned int host, struct tgt_limits *l);
int tgt_limits_write(unsigned int host, const struct tgt_limits *l);
int tgt_default_limits(struct tgt_limits *l);
int tgt_limits_equal(const struct tgt_limits *a, const struct tgt_limits *b);
int tgt_reset_host(unsigned int host, const struct tgt_limits *lim);

/* ------------------------------------------------------------------ */
/* commands                                                             */

struct tgt_seg {
	unsigned int len;
	unsigned long long addr;
};

struct tgt_chunk {
	unsigned int off, len, nents, result;
	char reason[16];
	unsigned int first_seg, nsegs;
};

/* a read of the cmd file */
struct tgt_result {
	unsigned long long id;
	char state[16], dir[16];
	unsigned int len, seed;
	int err;
	unsigned int result;
	int verify;
	long long mismatch;
	unsigned int chunks, overflow;
	/* the log */
	struct tgt_chunk *chunk;
	unsigned int nchunk;
	struct tgt_seg *seg;
	unsigned int nseg;
	int resp_seen;
	unsigned int resp_status, resp_result;
	char resp_reason[16];
	/* the sense data the response carried (SIM_LLD_SENSE_FMT) */
	int sense_seen;
	unsigned int sense_key, sense_asc, sense_ascq, sense_len;
	char sense_data[2 * SIM_LLD_SENSE_BYTES + 1];
	/* after "wait all" */
	int summary;
	unsigned int waited, ok, failed, pending;
};

int tgt_cmd_open(unsigned int host);
__printf(2, 3)
int tgt_cmd_write(int fd, const char *fmt, ...);
int tgt_cmd_read(int fd, struct tgt_result *r);
void tgt_result_free(struct tgt_result *r);
const char *tgt_reason_name(int r);

int tgt_check_ok(const struct tgt_result *r, const char *dir,
		 unsigned int len, unsigned int seed);
int tgt_check_chunking(const struct tgt_result *r,
		       const struct tgt_limits *lim);

/*
 * Chunk traces (kunit/tgt_chunk_trace.h): tgt_check_traced() is
 * tgt_check_ok() then tgt_check_chunking(), printing the command's chunk
 * sequence as KTAP diagnostics when a check fails or tgtsim_trace_chunks=1
 * (tgtsim run --trace-chunks) asks for it.
 */
int tgt_trace_wanted(void);
void tgt_trace_result(const struct tgt_result *r, const struct tgt_limits *lim,
		      const char *name, int failed);
int tgt_check_traced(const struct tgt_result *r, const char *dir,
		     unsigned int len, unsigned int seed,
		     const struct tgt_limits *lim);

/* ------------------------------------------------------------------ */
/* reproducible random numbers (xorshift64*), seeded by tgtsim_seed     */

uint64_t tgt_seed(void);
uint64_t tgt_rand(uint64_t *s);
unsigned int tgt_rand_range(uint64_t *s, unsigned int lo, unsigned int hi);

#endif /* TGT_SELFTEST_H */
