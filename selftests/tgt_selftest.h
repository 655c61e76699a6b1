/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tgt_selftest.h - helpers shared by the tgtsim kselftests.
 *
 * The programs run inside UML (PID 1 is selftests/init.sh) and drive the
 * simulated target LLD through its debugfs interface (sim_lld_uapi.h):
 * limits, faults, counters, and the per-fd "cmd" file that injects a
 * command into the target core and returns its transfer log.
 *
 * Helpers that can fail take the harness's _metadata and use ASSERT_*, so
 * a failure names the line of the helper and aborts the test.
 */
#ifndef TGT_SELFTEST_H
#define TGT_SELFTEST_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "sim_lld_uapi.h"

#define TGT_PAGE_SIZE	4096u
#define TGT_SECTOR	512u
#define TGT_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Every program has a one-line description; `prog --describe` prints it,
 * `prog --list` prints the full name of every test (fixture.variant.test),
 * anything else runs the harness.
 */
#define TGT_SELFTEST_MAIN(description)					\
	int main(int argc, char **argv)					\
	{								\
		if (argc == 2 && !strcmp(argv[1], "--describe")) {	\
			printf("%s\n", description);			\
			return 0;					\
		}							\
		if (argc == 2 && !strcmp(argv[1], "--list"))		\
			return tgt_list_tests();			\
		return test_harness_run(argc, argv);			\
	}

static inline int tgt_list_tests(void)
{
	struct __fixture_variant_metadata no_variant = { .name = "", };
	struct __fixture_variant_metadata *v;
	struct __fixture_metadata *f;
	struct __test_metadata *t;

	for (f = __fixture_list; f; f = f->next)
		for (v = f->variant ?: &no_variant; v; v = v->next)
			for (t = f->tests; t; t = t->next)
				printf("%s%s%s.%s\n", f->name,
				       v->name[0] ? "." : "", v->name, t->name);
	return 0;
}

/* ------------------------------------------------------------------ */
/* debugfs files                                                        */

static inline void tgt_host_path(char *buf, size_t size, unsigned int host,
				 const char *file)
{
	snprintf(buf, size, SIM_LLD_HOST_DIR_FMT "/%s", host, file);
}

/* write text in one write(); 0 or -errno */
static inline int tgt_write_path(const char *path, const char *text)
{
	size_t len = strlen(text);
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != len)
		err = -EIO;
	close(fd);
	return err;
}

static inline int tgt_write_host(unsigned int host, const char *file,
				 const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* write printf-formatted text to host file; 0 or -errno */
static inline int tgt_write_host(unsigned int host, const char *file,
				 const char *fmt, ...)
{
	char path[256], text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	tgt_host_path(path, sizeof(path), host, file);
	return tgt_write_path(path, text);
}

static inline int tgt_write_root(const char *file, const char *text)
{
	char path[256];

	snprintf(path, sizeof(path), SIM_LLD_DEBUGFS_ROOT "/%s", file);
	return tgt_write_path(path, text);
}

/* read a whole file (from offset 0) into a malloc'ed string; len or -errno */
static inline ssize_t tgt_read_fd(int fd, char **out)
{
	size_t size = 4096, len = 0;
	char *buf = malloc(size + 1), *nb;
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == size) {
			size *= 2;
			nb = realloc(buf, size + 1);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = pread(fd, buf + len, size - len, len);
		if (n < 0) {
			n = -errno;
			free(buf);
			return n;
		}
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	*out = buf;
	return len;
}

static inline ssize_t tgt_read_path(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		n = -errno;
	else
		buf[n] = '\0';
	close(fd);
	return n;
}

static inline ssize_t tgt_read_host(unsigned int host, const char *file,
				    char *buf, size_t size)
{
	char path[256];

	tgt_host_path(path, sizeof(path), host, file);
	return tgt_read_path(path, buf, size);
}

/* a number from a file (decimal or 0x hex); 0 or -errno */
static inline int tgt_read_ull(const char *path, unsigned long long *v)
{
	char buf[64], *end;
	ssize_t n = tgt_read_path(path, buf, sizeof(buf));

	if (n < 0)
		return n;
	errno = 0;
	*v = strtoull(buf, &end, 0);
	if (errno || end == buf)
		return -EPROTO;
	return 0;
}

static inline int tgt_host_no(unsigned int host, unsigned int *host_no)
{
	char path[256];
	unsigned long long v;
	int ret;

	tgt_host_path(path, sizeof(path), host, SIM_LLD_F_HOST_NO);
	ret = tgt_read_ull(path, &v);
	if (!ret)
		*host_no = v;
	return ret;
}

/* module parameter of sim_lld (built in: /sys/module/sim_lld/parameters) */
static inline int tgt_module_param(const char *name, unsigned long long *v)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/module/sim_lld/parameters/%s", name);
	return tgt_read_ull(path, v);
}

/* ------------------------------------------------------------------ */
/* counters                                                             */

enum tgt_counter {
	C_COMMANDS, C_CHUNKS, C_BYTES, C_RESPONSES, C_ERRORS, C_FAULTS,
	C_BUSY, C_DROPPED, C_CMDS_OK, C_CMDS_FAILED, C_TIMEOUTS,
	C_VERIFY_ERRORS, C_RECREATED,
	C_OUTSTANDING, C_PENDING, C_DROPPED_NOW, C_TAGS_IN_USE,
	C_FREE_LIST, C_DEV_REFS, C_GENDEV_REFS, C_CMDS_KEPT,
	C_NR,
};

/* the names this file expects, in enum order; checked against the uapi */
static const char *const tgt_counter_names[C_NR] = {
	"commands", "chunks", "bytes", "responses", "errors", "faults",
	"busy", "dropped", "cmds_ok", "cmds_failed", "timeouts",
	"verify_errors", "recreated",
	"outstanding", "pending", "dropped_now", "tags_in_use",
	"free_list", "dev_refs", "gendev_refs", "cmds_kept",
};

struct tgt_counters {
	unsigned long long v[C_NR];
};

/*
 * Parse the counters file. The uapi's SIM_LLD_COUNTER_NAMES must list the
 * names of enum tgt_counter in order, and the file must print exactly
 * those lines: anything else is -EPROTO (the interface changed).
 */
static inline int tgt_counters_read(unsigned int host, struct tgt_counters *c)
{
	static const char *const uapi[] = SIM_LLD_COUNTER_NAMES;
	char path[256], name[32], *text = NULL, *line, *save = NULL;
	unsigned long long v;
	unsigned int i = 0;
	ssize_t n;
	int fd;

	if (TGT_ARRAY_SIZE(uapi) != C_NR)
		return -EPROTO;
	for (i = 0; i < C_NR; i++)
		if (strcmp(uapi[i], tgt_counter_names[i]))
			return -EPROTO;
	tgt_host_path(path, sizeof(path), host, SIM_LLD_F_COUNTERS);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = tgt_read_fd(fd, &text);
	close(fd);
	if (n < 0)
		return n;
	i = 0;
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (i >= C_NR || sscanf(line, "%31s %llu", name, &v) != 2 ||
		    strcmp(name, tgt_counter_names[i])) {
			free(text);
			return -EPROTO;
		}
		c->v[i++] = v;
	}
	free(text);
	return i == C_NR ? 0 : -EPROTO;
}

/*
 * After a test with nothing in flight (README): outstanding, pending,
 * dropped_now, tags_in_use, dev_refs are 0 and free_list is 1.
 */
static inline void tgt_assert_idle(struct __test_metadata *_metadata,
				   unsigned int host, struct tgt_counters *out)
{
	struct tgt_counters c;

	ASSERT_EQ(0, tgt_counters_read(host, &c));
	ASSERT_TRUE(c.v[C_OUTSTANDING] == 0 && c.v[C_PENDING] == 0 &&
		    c.v[C_DROPPED_NOW] == 0 && c.v[C_TAGS_IN_USE] == 0 &&
		    c.v[C_DEV_REFS] == 0 && c.v[C_FREE_LIST] == 1) {
		TH_LOG("host%u is not idle: outstanding=%llu pending=%llu dropped_now=%llu tags_in_use=%llu dev_refs=%llu free_list=%llu",
		       host, c.v[C_OUTSTANDING], c.v[C_PENDING],
		       c.v[C_DROPPED_NOW], c.v[C_TAGS_IN_USE],
		       c.v[C_DEV_REFS], c.v[C_FREE_LIST]);
	}
	if (out)
		*out = c;
}

/*
 * Poll a counter until it has a value, up to timeout_ms: waiting for a
 * state another process or the kernel reaches, not a sleep that hopes
 * for it. Returns the last value read.
 */
static inline unsigned long long tgt_wait_counter(unsigned int host,
						  enum tgt_counter k,
						  unsigned long long want,
						  unsigned int timeout_ms)
{
	struct timespec ts = { 0, 1000000 };
	struct tgt_counters c;
	unsigned int i;

	for (i = 0; i <= timeout_ms; i++) {
		if (tgt_counters_read(host, &c))
			return ~0ULL;
		if (c.v[k] == want)
			return want;
		nanosleep(&ts, NULL);
	}
	return c.v[k];
}

/* ------------------------------------------------------------------ */
/* limits                                                               */

struct tgt_limits {
	unsigned int sg_tablesize;
	unsigned int max_sectors;
	unsigned int max_segment_size;
	unsigned long long dma_boundary;
	unsigned int can_queue;
};

static inline int tgt_limits_read(unsigned int host, struct tgt_limits *l)
{
	char buf[256];
	ssize_t n = tgt_read_host(host, SIM_LLD_F_LIMITS, buf, sizeof(buf));

	if (n < 0)
		return n;
	if (sscanf(buf, "sg_tablesize=%u max_sectors=%u max_segment_size=%u dma_boundary=0x%llx can_queue=%u",
		   &l->sg_tablesize, &l->max_sectors, &l->max_segment_size,
		   &l->dma_boundary, &l->can_queue) != 5)
		return -EPROTO;
	return 0;
}

static inline int tgt_limits_write(unsigned int host, const struct tgt_limits *l)
{
	return tgt_write_host(host, SIM_LLD_F_LIMITS,
			      "sg_tablesize=%u max_sectors=%u max_segment_size=%u dma_boundary=0x%llx can_queue=%u\n",
			      l->sg_tablesize, l->max_sectors,
			      l->max_segment_size, l->dma_boundary,
			      l->can_queue);
}

/* the limits new hosts get: sim_lld's module parameters */
static inline int tgt_default_limits(struct tgt_limits *l)
{
	unsigned long long v[5];
	int ret;

	ret = tgt_module_param("sg_tablesize", &v[0]) ?:
	      tgt_module_param("max_sectors", &v[1]) ?:
	      tgt_module_param("max_segment_size", &v[2]) ?:
	      tgt_module_param("dma_boundary", &v[3]) ?:
	      tgt_module_param("can_queue", &v[4]);
	if (ret)
		return ret;
	l->sg_tablesize = v[0];
	l->max_sectors = v[1];
	l->max_segment_size = v[2];
	l->dma_boundary = v[3];
	l->can_queue = v[4];
	return 0;
}

static inline int tgt_limits_equal(const struct tgt_limits *a,
				   const struct tgt_limits *b)
{
	return a->sg_tablesize == b->sg_tablesize &&
	       a->max_sectors == b->max_sectors &&
	       a->max_segment_size == b->max_segment_size &&
	       a->dma_boundary == b->dma_boundary &&
	       a->can_queue == b->can_queue;
}

/*
 * Put a host back into a known state: no fault (withheld completions
 * flushed), inline completion, the given limits (default: the module
 * parameters), cumulative counters zeroed; then it must be idle.
 */
static inline void tgt_reset_host(struct __test_metadata *_metadata,
				  unsigned int host,
				  const struct tgt_limits *lim)
{
	struct tgt_limits def, now;

	ASSERT_EQ(0, tgt_write_host(host, SIM_LLD_F_FAULT, "none\n"));
	ASSERT_EQ(0, tgt_write_host(host, SIM_LLD_F_FAULT, "flush\n"));
	ASSERT_EQ(0, tgt_write_host(host, SIM_LLD_F_COMPLETION, "inline\n"));
	tgt_assert_idle(_metadata, host, NULL);
	if (!lim) {
		ASSERT_EQ(0, tgt_default_limits(&def));
		lim = &def;
	}
	ASSERT_EQ(0, tgt_limits_write(host, lim));
	ASSERT_EQ(0, tgt_limits_read(host, &now));
	ASSERT_TRUE(tgt_limits_equal(lim, &now));
	ASSERT_EQ(0, tgt_write_host(host, SIM_LLD_F_COUNTERS, "reset\n"));
}

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
	/* after "wait all" */
	int summary;
	unsigned int waited, ok, failed, pending;
};

static inline void tgt_result_free(struct tgt_result *r)
{
	free(r->chunk);
	free(r->seg);
	memset(r, 0, sizeof(*r));
}

/* the uapi's printf format as a scanf format: %s read as %15s */
static inline const char *tgt_scan_fmt(const char *fmt, char *buf, size_t size)
{
	size_t o = 0;

	for (; *fmt && o + 4 < size; fmt++) {
		if (fmt[0] == '%' && fmt[1] == 's') {
			memcpy(buf + o, "%15s", 4);
			o += 4;
			fmt++;
		} else {
			buf[o++] = *fmt;
		}
	}
	buf[o] = '\0';
	return buf;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
/* parse the text of the cmd file; 0 or -EPROTO */
static inline int tgt_result_parse(char *text, struct tgt_result *r)
{
	char cmd_fmt[256], chunk_fmt[128], seg_fmt[64], resp_fmt[96];
	char *line, *save = NULL;
	unsigned int cap_c = 16, cap_s = 64, i;
	struct tgt_chunk *c = NULL;

	memset(r, 0, sizeof(*r));
	tgt_scan_fmt(SIM_LLD_CMD_FMT, cmd_fmt, sizeof(cmd_fmt));
	tgt_scan_fmt(SIM_LLD_CHUNK_FMT, chunk_fmt, sizeof(chunk_fmt));
	tgt_scan_fmt(SIM_LLD_SEG_FMT, seg_fmt, sizeof(seg_fmt));
	tgt_scan_fmt(SIM_LLD_RESP_FMT, resp_fmt, sizeof(resp_fmt));

	line = strtok_r(text, "\n", &save);
	if (!line)
		return -EPROTO;
	if (sscanf(line, SIM_LLD_WAITALL_FMT, &r->waited, &r->ok, &r->failed,
		   &r->pending) == 4) {
		r->summary = 1;
		return 0;
	}
	if (sscanf(line, cmd_fmt, &r->id, r->state, r->dir, &r->len, &r->seed,
		   &r->err, &r->result, &r->verify, &r->mismatch, &r->chunks,
		   &r->overflow) != 11)
		return -EPROTO;
	r->chunk = calloc(cap_c, sizeof(*r->chunk));
	r->seg = calloc(cap_s, sizeof(*r->seg));
	if (!r->chunk || !r->seg)
		return -ENOMEM;
	while ((line = strtok_r(NULL, "\n", &save))) {
		if (!strncmp(line, "chunk=", 6)) {
			if (r->nchunk == cap_c) {
				cap_c *= 2;
				r->chunk = realloc(r->chunk, cap_c * sizeof(*c));
				if (!r->chunk)
					return -ENOMEM;
			}
			c = &r->chunk[r->nchunk];
			memset(c, 0, sizeof(*c));
			if (sscanf(line, chunk_fmt, &i, &c->off, &c->len,
				   &c->nents, &c->result, c->reason) != 6 ||
			    i != r->nchunk)
				return -EPROTO;
			c->first_seg = r->nseg;
			r->nchunk++;
		} else if (!strncmp(line, "seg=", 4)) {
			if (!c)
				return -EPROTO;
			if (r->nseg == cap_s) {
				cap_s *= 2;
				r->seg = realloc(r->seg, cap_s * sizeof(*r->seg));
				if (!r->seg)
					return -ENOMEM;
			}
			if (sscanf(line, seg_fmt, &i, &r->seg[r->nseg].len,
				   &r->seg[r->nseg].addr) != 3 || i != c->nsegs)
				return -EPROTO;
			r->nseg++;
			c->nsegs++;
		} else if (!strncmp(line, "resp ", 5)) {
			if (sscanf(line, resp_fmt, &r->resp_status,
				   &r->resp_result, r->resp_reason) != 3)
				return -EPROTO;
			r->resp_seen = 1;
		} else {
			return -EPROTO;
		}
	}
	return r->nchunk == r->chunks || r->overflow ? 0 : -EPROTO;
}
#pragma GCC diagnostic pop

static inline int tgt_cmd_open(unsigned int host)
{
	char path[256];
	int fd;

	tgt_host_path(path, sizeof(path), host, SIM_LLD_F_CMD);
	fd = open(path, O_RDWR);
	return fd < 0 ? -errno : fd;
}

static inline int tgt_cmd_write(int fd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* write a request (or "wait ...") to a cmd fd; 0 or -errno */
static inline int tgt_cmd_write(int fd, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	ssize_t n;
	size_t len;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	len = strlen(text);
	n = write(fd, text, len);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/* read and parse the fd's current command; 0 or -errno */
static inline int tgt_cmd_read(int fd, struct tgt_result *r)
{
	char *text = NULL;
	ssize_t n = tgt_read_fd(fd, &text);
	int ret;

	memset(r, 0, sizeof(*r));
	if (n < 0)
		return n;
	ret = tgt_result_parse(text, r);
	free(text);
	return ret;
}

/* index of a reason name in the uapi's list, -1 if unknown */
static inline int tgt_reason(const char *name)
{
	static const char *const names[] = SIM_LLD_REASON_NAMES;
	unsigned int i;

	for (i = 0; i < TGT_ARRAY_SIZE(names); i++)
		if (!strcmp(names[i], name))
			return i;
	return -1;
}

static inline const char *tgt_reason_name(int r)
{
	static const char *const names[] = SIM_LLD_REASON_NAMES;

	return r >= 0 && r < (int)TGT_ARRAY_SIZE(names) ? names[r] : "?";
}

/* ------------------------------------------------------------------ */
/* the chunking the limits force                                        */

/*
 * What the target core must do (architecture.md, port contract 6): build
 * each chunk with bio_add_pc_page() page by page of the buffer, which in
 * Linux 6.12 (bio_add_hw_page()) adds a page fragment whole or not at
 * all: it stops the chunk when the fragment does not fit into
 * max_sectors * 512, merges it into the previous segment when physically
 * contiguous, inside one dma_boundary + 1 window and within
 * max_segment_size, else starts a new segment unless the chunk has
 * sg_tablesize segments already. blk_rq_map_sg() keeps those segments.
 *
 * The buffer's pages and their physical addresses are taken from the log
 * (the union of all logged segments, re-cut at page boundaries): the
 * model does not trust how the port cut them.
 */
struct tgt_frag {
	unsigned long long addr;
	unsigned int len;
};

struct tgt_model {
	struct tgt_chunk *chunk;	/* off, len, nents, first_seg, nsegs */
	unsigned int nchunk;
	struct tgt_seg *seg;
	unsigned int nseg;
};

static inline void tgt_model_free(struct tgt_model *m)
{
	free(m->chunk);
	free(m->seg);
	memset(m, 0, sizeof(*m));
}

/* the buffer's page fragments, in order; count or -errno */
static inline int tgt_frags_from_log(const struct tgt_result *r,
				     struct tgt_frag **out)
{
	struct tgt_frag *f;
	unsigned int n = 0, cap = 16, i;
	unsigned long long total = 0;

	f = malloc(cap * sizeof(*f));
	if (!f)
		return -ENOMEM;
	for (i = 0; i < r->nseg; i++) {
		unsigned long long a = r->seg[i].addr;
		unsigned int left = r->seg[i].len;

		total += left;
		while (left) {
			unsigned int in_page = TGT_PAGE_SIZE - (a % TGT_PAGE_SIZE);
			unsigned int l = left < in_page ? left : in_page;

			/* a page cut in two by the port is one fragment */
			if (n && f[n - 1].addr + f[n - 1].len == a &&
			    f[n - 1].addr / TGT_PAGE_SIZE == a / TGT_PAGE_SIZE) {
				f[n - 1].len += l;
			} else {
				if (n == cap) {
					cap *= 2;
					f = realloc(f, cap * sizeof(*f));
					if (!f)
						return -ENOMEM;
				}
				f[n].addr = a;
				f[n].len = l;
				n++;
			}
			a += l;
			left -= l;
		}
	}
	*out = f;
	return n;
}

static inline int tgt_model_chunks(const struct tgt_frag *f, unsigned int nf,
				   const struct tgt_limits *lim,
				   struct tgt_model *m)
{
	unsigned long long max_bytes = (unsigned long long)lim->max_sectors *
				       TGT_SECTOR;
	unsigned long long mask = lim->dma_boundary;
	unsigned long long span = 0;
	unsigned int i = 0, off = 0, max_vecs, pages;

	memset(m, 0, sizeof(*m));
	if (!nf)
		return 0;
	/* bi_max_vecs: the pages of the buffer, at most max_segments */
	for (i = 0; i < nf; i++)
		span += f[i].len;
	pages = (f[0].addr % TGT_PAGE_SIZE + span + TGT_PAGE_SIZE - 1) /
		TGT_PAGE_SIZE;
	max_vecs = pages < lim->sg_tablesize ? pages : lim->sg_tablesize;
	m->chunk = calloc(nf, sizeof(*m->chunk));
	m->seg = calloc(nf, sizeof(*m->seg));
	if (!m->chunk || !m->seg)
		return -ENOMEM;
	i = 0;
	while (i < nf) {
		struct tgt_chunk *c = &m->chunk[m->nchunk];
		unsigned long long bytes = 0;

		c->off = off;
		c->first_seg = m->nseg;
		while (i < nf) {
			unsigned int l = f[i].len;
			struct tgt_seg *last = c->nsegs ?
				&m->seg[m->nseg - 1] : NULL;

			if (l > max_bytes - bytes)
				break;
			if (last &&
			    (last->addr | mask) == ((f[i].addr + l - 1) | mask) &&
			    l <= lim->max_segment_size - last->len &&
			    last->addr + last->len == f[i].addr) {
				last->len += l;
			} else {
				if (last && c->nsegs >= max_vecs)
					break;
				m->seg[m->nseg].addr = f[i].addr;
				m->seg[m->nseg].len = l;
				m->nseg++;
				c->nsegs++;
			}
			bytes += l;
			i++;
		}
		if (!bytes)
			return -EINVAL;	/* a fragment fits no chunk */
		c->len = bytes;
		c->nents = c->nsegs;
		off += bytes;
		m->nchunk++;
	}
	return 0;
}

/*
 * Check a successful command's log: the chunks cover the command in order
 * and obey the limits (checked here, not only by sim_lld), and they are
 * exactly the chunks and segments the model predicts.
 */
static inline void tgt_check_chunking(struct __test_metadata *_metadata,
				      const struct tgt_result *r,
				      const struct tgt_limits *lim)
{
	struct tgt_model m;
	struct tgt_frag *f = NULL;
	unsigned long long next = 0;
	unsigned int i, j, bad = 0;
	int nf;

	ASSERT_EQ(0, r->overflow);
	for (i = 0; i < r->nchunk; i++) {
		const struct tgt_chunk *c = &r->chunk[i];
		unsigned long long sum = 0;

		ASSERT_EQ(next, c->off) TH_LOG("chunk %u of %u", i, r->nchunk);
		ASSERT_LE(c->len, (unsigned long long)lim->max_sectors * TGT_SECTOR)
			TH_LOG("chunk %u", i);
		ASSERT_LE(c->nents, lim->sg_tablesize) TH_LOG("chunk %u", i);
		ASSERT_EQ(c->nents, c->nsegs) TH_LOG("chunk %u", i);
		for (j = 0; j < c->nsegs; j++) {
			const struct tgt_seg *s = &r->seg[c->first_seg + j];

			ASSERT_LT(0, s->len);
			ASSERT_LE(s->len, lim->max_segment_size)
				TH_LOG("chunk %u seg %u", i, j);
			ASSERT_EQ(s->addr | lim->dma_boundary,
				  (s->addr + s->len - 1) | lim->dma_boundary)
				TH_LOG("chunk %u seg %u addr 0x%llx len %u crosses the boundary 0x%llx",
				       i, j, s->addr, s->len, lim->dma_boundary);
			sum += s->len;
		}
		ASSERT_EQ(sum, c->len) TH_LOG("chunk %u", i);
		next += c->len;
	}
	ASSERT_EQ(r->len, next);

	nf = tgt_frags_from_log(r, &f);
	ASSERT_LE(0, nf);
	ASSERT_EQ(0, tgt_model_chunks(f, nf, lim, &m));
	free(f);
	if (m.nchunk != r->nchunk)
		bad++;
	for (i = 0; i < m.nchunk && i < r->nchunk; i++) {
		const struct tgt_chunk *mc = &m.chunk[i], *c = &r->chunk[i];

		if (mc->off != c->off || mc->len != c->len ||
		    mc->nents != c->nents) {
			if (bad++ < 4)
				TH_LOG("chunk %u: off %u len %u nents %u, the limits force off %u len %u nents %u",
				       i, c->off, c->len, c->nents, mc->off,
				       mc->len, mc->nents);
			continue;
		}
		for (j = 0; j < mc->nsegs; j++) {
			const struct tgt_seg *ms = &m.seg[mc->first_seg + j];
			const struct tgt_seg *s = &r->seg[c->first_seg + j];

			if ((ms->len != s->len || ms->addr != s->addr) &&
			    bad++ < 4)
				TH_LOG("chunk %u seg %u: len %u addr 0x%llx, the limits force len %u addr 0x%llx",
				       i, j, s->len, s->addr, ms->len,
				       ms->addr);
		}
	}
	ASSERT_EQ(0, bad) {
		TH_LOG("len %u sg_tablesize=%u max_sectors=%u max_segment_size=%u dma_boundary=0x%llx: %u chunks, the limits force %u",
		       r->len, lim->sg_tablesize, lim->max_sectors,
		       lim->max_segment_size, lim->dma_boundary, r->nchunk,
		       m.nchunk);
	}
	tgt_model_free(&m);
}

/*
 * A command that must have succeeded: done, err 0, result 0, data
 * verified intact, every chunk ok, a good response.
 */
static inline void tgt_check_ok(struct __test_metadata *_metadata,
				const struct tgt_result *r, const char *dir,
				unsigned int len, unsigned int seed)
{
	unsigned int i;

	ASSERT_FALSE(r->summary);
	ASSERT_STREQ("done", r->state);
	ASSERT_STREQ(dir, r->dir);
	ASSERT_EQ(len, r->len);
	ASSERT_EQ(seed, r->seed);
	ASSERT_EQ(0, r->err) TH_LOG("len %u: err %d result 0x%x", len, r->err, r->result);
	ASSERT_EQ(SIM_LLD_RESULT_OK, r->result);
	for (i = 0; i < r->nchunk; i++) {
		ASSERT_STREQ(tgt_reason_name(SIM_LLD_R_OK), r->chunk[i].reason)
			TH_LOG("chunk %u", i);
		ASSERT_EQ(0, r->chunk[i].result);
	}
	if (len && strcmp(dir, "none")) {
		ASSERT_EQ(SIM_LLD_VERIFY_OK, r->verify)
			TH_LOG("len %u: data mismatch at byte %lld", len, r->mismatch);
		ASSERT_EQ(-1, r->mismatch);
		ASSERT_LT(0, r->nchunk);
	} else {
		ASSERT_EQ(SIM_LLD_VERIFY_SKIPPED, r->verify);
		ASSERT_EQ(0, r->nchunk);
	}
	ASSERT_TRUE(r->resp_seen);
	ASSERT_EQ(0, r->resp_status);
	ASSERT_EQ(0, r->resp_result);
	ASSERT_STREQ(tgt_reason_name(SIM_LLD_R_OK), r->resp_reason);
}

/* ------------------------------------------------------------------ */
/* misc                                                                 */

/* the host indexes listed in the hosts file; count or -errno */
static inline int tgt_hosts(unsigned int *idx, unsigned int *host_no,
			    unsigned int max)
{
	char buf[4096], *line, *save = NULL;
	unsigned int i, h, n = 0;
	ssize_t len;

	len = tgt_read_path(SIM_LLD_DEBUGFS_ROOT "/" SIM_LLD_F_HOSTS, buf,
			    sizeof(buf));
	if (len < 0)
		return len;
	for (line = strtok_r(buf, "\n", &save); line && n < max;
	     line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%u %u", &i, &h) != 2)
			return -EPROTO;
		idx[n] = i;
		if (host_no)
			host_no[n] = h;
		n++;
	}
	return n;
}

/* xorshift64*: the stress test's reproducible random numbers */
static inline uint64_t tgt_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static inline unsigned int tgt_rand_range(uint64_t *s, unsigned int lo,
					  unsigned int hi)
{
	return lo + (unsigned int)(tgt_rand(s) % ((uint64_t)hi - lo + 1));
}

static inline uint64_t tgt_seed(void)
{
	const char *e = getenv("tgtsim_seed");
	uint64_t s = e && *e ? strtoull(e, NULL, 0) : 1;

	return s ? s : 1;
}

#endif /* TGT_SELFTEST_H */
