// SPDX-License-Identifier: GPL-2.0
/*
 * tgt_selftest.c - the library of the tgtsim kselftests, see
 * tgt_selftest.h. It does not use the harness (kselftest_harness.h is
 * included by each program, once): checks report what they found through
 * tgt_why().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>

#include "tgt_chunk_model.h"
#include "tgt_chunk_trace.h"
#include "tgt_selftest.h"

static char tgt_why_buf[1024];

const char *tgt_why(void)
{
	return tgt_why_buf;
}

/* a check failed: say why (tgt_why()), return -1 */
static __printf(1, 2) int tgt_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tgt_why_buf, sizeof(tgt_why_buf), fmt, ap);
	va_end(ap);
	return -1;
}

/* ------------------------------------------------------------------ */
/* the program                                                          */

/* one row of the harness's -l table: "%-20s %-25s %s" */
static char *tgt_list_field(char *p, size_t width, char **field)
{
	size_t n = strcspn(p, "\n ");

	*field = NULL;
	if (n) {
		*field = p;
		p[n] = '\0';
		p += n + 1;
		if (n < width)
			p += strnlen(p, width - n);
		return p;
	}
	return p + strnlen(p, width + 1);
}

static void tgt_list_flush(const char *fixture, char **variants,
			   unsigned int nv, char **tests, unsigned int nt)
{
	unsigned int v, t;

	for (v = 0; v < (nv ? nv : 1); v++)
		for (t = 0; t < nt; t++)
			printf("%s%s%s.%s\n", fixture, nv ? "." : "",
			       nv ? variants[v] : "", tests[t]);
}

/*
 * The full names of the program's tests, in the order the harness runs
 * them, from its -l option: a table of fixture, variant and test columns,
 * a fixture's variants and tests side by side, fixtures separated by a
 * line of dashes.
 */
int tgt_list_tests(int (*harness_run)(int argc, char **argv), char *argv0)
{
	char list_opt[] = "-l", *args[3];
	char *variants[256], *tests[256], *fixture = NULL;
	unsigned int nv = 0, nt = 0;
	char *line = NULL, *text;
	int fd, saved;
	size_t cap = 0;
	FILE *f;

	args[0] = argv0;
	args[1] = list_opt;
	args[2] = NULL;
	fd = memfd_create("tgt_list", 0);
	saved = dup(STDERR_FILENO);
	if (fd < 0 || saved < 0 || dup2(fd, STDERR_FILENO) < 0) {
		perror("tgt_list_tests");
		return 1;
	}
	harness_run(2, args);
	dup2(saved, STDERR_FILENO);
	close(saved);
	f = fdopen(fd, "r");
	if (!f || fseek(f, 0, SEEK_SET)) {
		perror("tgt_list_tests");
		return 1;
	}
	while (getline(&line, &cap, f) > 0) {
		char *fx, *var, *test;

		if (line[0] == '#')
			continue;
		if (line[0] == '-') {
			if (fixture)
				tgt_list_flush(fixture, variants, nv, tests, nt);
			fixture = NULL;
			nv = 0;
			nt = 0;
			continue;
		}
		text = strdup(line);
		if (!text)
			return 1;
		test = tgt_list_field(text, 20, &fx);
		test = tgt_list_field(test, 25, &var);
		tgt_list_field(test, ~(size_t)0 >> 1, &test);
		if (fx)
			fixture = fx;
		if (var && nv < TGT_ARRAY_SIZE(variants))
			variants[nv++] = var;
		if (test && nt < TGT_ARRAY_SIZE(tests))
			tests[nt++] = test;
	}
	if (fixture)
		tgt_list_flush(fixture, variants, nv, tests, nt);
	free(line);
	fclose(f);
	return 0;
}

/*
 * What the program needs and does not have, like blktests' requires():
 * debugfs on /sys/kernel/debug, sim_lld there, its host0. NULL if all is
 * there, or when the harness is only asked to list or help (-l, -h).
 */
const char *tgt_missing(int argc, char **argv)
{
	struct statfs st;
	char path[128];
	int i;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-l") || !strcmp(argv[i], "-h"))
			return NULL;
	if (statfs("/sys/kernel/debug", &st) || st.f_type != DEBUGFS_MAGIC)
		return "debugfs is not mounted on /sys/kernel/debug";
	if (access(SIM_LLD_DEBUGFS_ROOT, F_OK))
		return "sim_lld is not loaded (no " SIM_LLD_DEBUGFS_ROOT ")";
	tgt_host_path(path, sizeof(path), 0, SIM_LLD_F_CMD);
	if (access(path, F_OK))
		return "sim_lld has no host0 (sim_lld.num_hosts=0?)";
	return NULL;
}

/* ------------------------------------------------------------------ */
/* debugfs files                                                        */

void tgt_host_path(char *buf, size_t size, unsigned int host,
		   const char *file)
{
	snprintf(buf, size, SIM_LLD_HOST_DIR_FMT "/%s", host, file);
}

/* write text in one write(); 0 or -errno */
static int tgt_write_path(const char *path, const char *text)
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

/* write printf-formatted text to a host's file; 0 or -errno */
int tgt_write_host(unsigned int host, const char *file, const char *fmt, ...)
{
	char path[256], text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	tgt_host_path(path, sizeof(path), host, file);
	return tgt_write_path(path, text);
}

int tgt_write_root(const char *file, const char *text)
{
	char path[256];

	snprintf(path, sizeof(path), SIM_LLD_DEBUGFS_ROOT "/%s", file);
	return tgt_write_path(path, text);
}

/* read a whole file (from offset 0) into a malloc'ed string; len or -errno */
static ssize_t tgt_read_fd(int fd, char **out)
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

static ssize_t tgt_read_path(const char *path, char *buf, size_t size)
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

ssize_t tgt_read_host(unsigned int host, const char *file, char *buf,
		      size_t size)
{
	char path[256];

	tgt_host_path(path, sizeof(path), host, file);
	return tgt_read_path(path, buf, size);
}

/* a number from a file (decimal or 0x hex); 0 or -errno */
int tgt_read_ull(const char *path, unsigned long long *v)
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

int tgt_host_no(unsigned int host, unsigned int *host_no)
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
int tgt_module_param(const char *name, unsigned long long *v)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/module/sim_lld/parameters/%s", name);
	return tgt_read_ull(path, v);
}

/* the host indexes listed in the hosts file; count or -errno */
int tgt_hosts(unsigned int *idx, unsigned int *host_no, unsigned int max)
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

/* ------------------------------------------------------------------ */
/* counters                                                             */

/* the names enum tgt_counter stands for, in its order */
static const char *const tgt_counter_names[C_NR] = {
	"commands", "chunks", "bytes", "responses", "errors", "faults",
	"busy", "dropped", "cmds_ok", "cmds_failed", "timeouts",
	"verify_errors", "recreated",
	"outstanding", "pending", "dropped_now", "tags_in_use",
	"free_list", "dev_refs", "gendev_refs", "cmds_kept",
};

/*
 * Parse the counters file. The uapi's SIM_LLD_COUNTER_NAMES must list the
 * names of enum tgt_counter in order, and the file must print exactly
 * those lines: anything else is -EPROTO (the interface changed).
 */
int tgt_counters_read(unsigned int host, struct tgt_counters *c)
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
 * dropped_now, tags_in_use, dev_refs are 0 and free_list is 1. The
 * counters go to @out (if not NULL) when the host is idle.
 */
int tgt_check_idle(unsigned int host, struct tgt_counters *out)
{
	struct tgt_counters c;
	int ret;

	ret = tgt_counters_read(host, &c);
	if (ret)
		return tgt_fail("host%u: counters not readable: %s", host,
				strerror(-ret));
	if (c.v[C_OUTSTANDING] || c.v[C_PENDING] || c.v[C_DROPPED_NOW] ||
	    c.v[C_TAGS_IN_USE] || c.v[C_DEV_REFS] || c.v[C_FREE_LIST] != 1)
		return tgt_fail("host%u is not idle: outstanding=%llu pending=%llu dropped_now=%llu tags_in_use=%llu dev_refs=%llu free_list=%llu",
				host, c.v[C_OUTSTANDING], c.v[C_PENDING],
				c.v[C_DROPPED_NOW], c.v[C_TAGS_IN_USE],
				c.v[C_DEV_REFS], c.v[C_FREE_LIST]);
	if (out)
		*out = c;
	return 0;
}

/*
 * Poll a counter until it has a value, up to timeout_ms: waiting for a
 * state another process or the kernel reaches, not a sleep that hopes
 * for it. Returns the last value read.
 */
unsigned long long tgt_wait_counter(unsigned int host, enum tgt_counter k,
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

int tgt_limits_read(unsigned int host, struct tgt_limits *l)
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

int tgt_limits_write(unsigned int host, const struct tgt_limits *l)
{
	return tgt_write_host(host, SIM_LLD_F_LIMITS,
			      "sg_tablesize=%u max_sectors=%u max_segment_size=%u dma_boundary=0x%llx can_queue=%u\n",
			      l->sg_tablesize, l->max_sectors,
			      l->max_segment_size, l->dma_boundary,
			      l->can_queue);
}

/* the limits new hosts get: sim_lld's module parameters */
int tgt_default_limits(struct tgt_limits *l)
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

int tgt_limits_equal(const struct tgt_limits *a, const struct tgt_limits *b)
{
	return a->sg_tablesize == b->sg_tablesize &&
	       a->max_sectors == b->max_sectors &&
	       a->max_segment_size == b->max_segment_size &&
	       a->dma_boundary == b->dma_boundary &&
	       a->can_queue == b->can_queue;
}

/* write a host's control file, or say why it could not be written */
static int tgt_set(unsigned int host, const char *file, const char *text)
{
	int ret = tgt_write_host(host, file, "%s", text);

	if (ret)
		return tgt_fail("host%u: writing '%.*s' to %s: %s", host,
				(int)strcspn(text, "\n"), text, file,
				strerror(-ret));
	return 0;
}

/*
 * Put a host back into a known state: no fault (withheld completions
 * flushed), inline completion, the given limits (default: the module
 * parameters), cumulative counters zeroed; it must be idle before the
 * limits are set.
 */
int tgt_reset_host(unsigned int host, const struct tgt_limits *lim)
{
	struct tgt_limits def, now;
	int ret;

	if (tgt_set(host, SIM_LLD_F_FAULT, "none\n") ||
	    tgt_set(host, SIM_LLD_F_FAULT, "flush\n") ||
	    tgt_set(host, SIM_LLD_F_COMPLETION, "inline\n") ||
	    tgt_check_idle(host, NULL))
		return -1;
	if (!lim) {
		ret = tgt_default_limits(&def);
		if (ret)
			return tgt_fail("sim_lld's module parameters not readable: %s",
					strerror(-ret));
		lim = &def;
	}
	ret = tgt_limits_write(host, lim);
	if (ret)
		return tgt_fail("host%u: writing its limits: %s", host,
				strerror(-ret));
	ret = tgt_limits_read(host, &now);
	if (ret)
		return tgt_fail("host%u: reading its limits: %s", host,
				strerror(-ret));
	if (!tgt_limits_equal(lim, &now))
		return tgt_fail("host%u: limits written sg_tablesize=%u max_sectors=%u max_segment_size=%u dma_boundary=0x%llx can_queue=%u, read back sg_tablesize=%u max_sectors=%u max_segment_size=%u dma_boundary=0x%llx can_queue=%u",
				host, lim->sg_tablesize, lim->max_sectors,
				lim->max_segment_size, lim->dma_boundary,
				lim->can_queue, now.sg_tablesize,
				now.max_sectors, now.max_segment_size,
				now.dma_boundary, now.can_queue);
	return tgt_set(host, SIM_LLD_F_COUNTERS, "reset\n");
}

/* ------------------------------------------------------------------ */
/* commands                                                             */

void tgt_result_free(struct tgt_result *r)
{
	free(r->chunk);
	free(r->seg);
	memset(r, 0, sizeof(*r));
}

/* the uapi's printf format as a scanf format: %s read as %15s */
static const char *tgt_scan_fmt(const char *fmt, char *buf, size_t size)
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
static int tgt_result_parse(char *text, struct tgt_result *r)
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
		} else if (!strncmp(line, "sense ", 6)) {
			/* the hex data is longer than the %15s of the others */
			if (sscanf(line, "sense key=0x%x asc=0x%x ascq=0x%x len=%u data=%64s",
				   &r->sense_key, &r->sense_asc,
				   &r->sense_ascq, &r->sense_len,
				   r->sense_data) != 5 || !r->resp_seen)
				return -EPROTO;
			r->sense_seen = 1;
		} else {
			return -EPROTO;
		}
	}
	return r->nchunk == r->chunks || r->overflow ? 0 : -EPROTO;
}

#pragma GCC diagnostic pop

int tgt_cmd_open(unsigned int host)
{
	char path[256];
	int fd;

	tgt_host_path(path, sizeof(path), host, SIM_LLD_F_CMD);
	fd = open(path, O_RDWR);
	return fd < 0 ? -errno : fd;
}

/* write a request (or "wait ...") to a cmd fd; 0 or -errno */
int tgt_cmd_write(int fd, const char *fmt, ...)
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
int tgt_cmd_read(int fd, struct tgt_result *r)
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

const char *tgt_reason_name(int r)
{
	static const char *const names[] = SIM_LLD_REASON_NAMES;

	return r >= 0 && r < (int)TGT_ARRAY_SIZE(names) ? names[r] : "?";
}

/*
 * A command that must have succeeded: done, err 0, result 0, data
 * verified intact, every chunk ok, a good response.
 */
int tgt_check_ok(const struct tgt_result *r, const char *dir,
		 unsigned int len, unsigned int seed)
{
	const char *ok = tgt_reason_name(SIM_LLD_R_OK);
	int data = len && strcmp(dir, "none");
	unsigned int i;

	if (r->summary)
		return tgt_fail("a wait all summary, not a command");
	if (strcmp(r->state, "done") || strcmp(r->dir, dir) ||
	    r->len != len || r->seed != seed)
		return tgt_fail("command state=%s dir=%s len=%u seed=%u, expected done %s %u %u",
				r->state, r->dir, r->len, r->seed, dir, len,
				seed);
	if (r->err || r->result != SIM_LLD_RESULT_OK)
		return tgt_fail("len %u: err %d result 0x%x", len, r->err,
				r->result);
	for (i = 0; i < r->nchunk; i++)
		if (strcmp(r->chunk[i].reason, ok) || r->chunk[i].result)
			return tgt_fail("chunk %u: reason %s result 0x%x",
					i, r->chunk[i].reason,
					r->chunk[i].result);
	if (data && (r->verify != SIM_LLD_VERIFY_OK || r->mismatch != -1))
		return tgt_fail("len %u: verify %d, data mismatch at byte %lld",
				len, r->verify, r->mismatch);
	if (data && !r->nchunk)
		return tgt_fail("len %u: no chunk transferred", len);
	if (!data && (r->verify != SIM_LLD_VERIFY_SKIPPED || r->nchunk))
		return tgt_fail("no data: verify %d, %u chunks", r->verify,
				r->nchunk);
	if (!r->resp_seen || r->resp_status || r->resp_result ||
	    strcmp(r->resp_reason, ok))
		return tgt_fail("response: seen %d status 0x%x result 0x%x reason %s",
				r->resp_seen, r->resp_status, r->resp_result,
				r->resp_reason);
	return 0;
}

/* ------------------------------------------------------------------ */
/* the chunking the limits force                                        */

/*
 * The buffer's pieces, in order, from the log: the union of all logged
 * segments, re-cut at page boundaries (a page the port cut in two is one
 * piece), so that the model does not trust how the port cut them. Count
 * or -errno.
 */
static int tgt_pieces_from_log(const struct tgt_result *r,
			       struct tgt_model_piece **out)
{
	struct tgt_model_piece *p, *np;
	unsigned int n = 0, cap = 16, i;

	p = malloc(cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (i = 0; i < r->nseg; i++) {
		unsigned long long a = r->seg[i].addr;
		unsigned int left = r->seg[i].len;

		while (left) {
			unsigned int in_page = TGT_PAGE_SIZE - (a % TGT_PAGE_SIZE);
			unsigned int l = left < in_page ? left : in_page;

			if (n && p[n - 1].addr + p[n - 1].len == a &&
			    p[n - 1].addr / TGT_PAGE_SIZE == a / TGT_PAGE_SIZE) {
				p[n - 1].len += l;
			} else {
				if (n == cap) {
					cap *= 2;
					np = realloc(p, cap * sizeof(*p));
					if (!np) {
						free(p);
						return -ENOMEM;
					}
					p = np;
				}
				p[n].addr = a;
				p[n].len = l;
				n++;
			}
			a += l;
			left -= l;
		}
	}
	*out = p;
	return n;
}

/* the log's chunks against the limits, read independently of sim_lld */
static int tgt_check_limits(const struct tgt_result *r,
			    const struct tgt_limits *lim)
{
	unsigned long long next = 0;
	unsigned int i, j;

	if (r->overflow)
		return tgt_fail("the transfer log overflowed");
	for (i = 0; i < r->nchunk; i++) {
		const struct tgt_chunk *c = &r->chunk[i];
		unsigned long long sum = 0;

		if (c->off != next)
			return tgt_fail("chunk %u of %u at offset %u, expected %llu",
					i, r->nchunk, c->off, next);
		if (c->len > (unsigned long long)lim->max_sectors * TGT_SECTOR ||
		    c->nents > lim->sg_tablesize || c->nents != c->nsegs)
			return tgt_fail("chunk %u: len %u nents %u (%u logged) over max_sectors=%u sg_tablesize=%u",
					i, c->len, c->nents, c->nsegs,
					lim->max_sectors, lim->sg_tablesize);
		for (j = 0; j < c->nsegs; j++) {
			const struct tgt_seg *s = &r->seg[c->first_seg + j];

			if (!s->len || s->len > lim->max_segment_size)
				return tgt_fail("chunk %u seg %u: len %u, max_segment_size=%u",
						i, j, s->len,
						lim->max_segment_size);
			if ((s->addr | lim->dma_boundary) !=
			    ((s->addr + s->len - 1) | lim->dma_boundary))
				return tgt_fail("chunk %u seg %u addr 0x%llx len %u crosses the boundary 0x%llx",
						i, j, s->addr, s->len,
						lim->dma_boundary);
			sum += s->len;
		}
		if (sum != c->len)
			return tgt_fail("chunk %u: segments of %llu bytes, len %u",
					i, sum, c->len);
		next += c->len;
	}
	if (next != r->len)
		return tgt_fail("chunks of %llu bytes, command of %u", next,
				r->len);
	return 0;
}

/*
 * Check a successful command's log: the chunks cover the command in order
 * and obey the limits (checked here, not only by sim_lld), and they are
 * exactly the chunks and segments the model (tgt_chunk_model.h) predicts.
 */
int tgt_check_chunking(const struct tgt_result *r,
		       const struct tgt_limits *lim)
{
	const struct tgt_model_limits ml = {
		.max_sectors = lim->max_sectors,
		.sg_tablesize = lim->sg_tablesize,
		.max_segment_size = lim->max_segment_size,
		.dma_boundary = lim->dma_boundary,
	};
	struct tgt_model_piece *pieces = NULL;
	struct tgt_model_chunk *mc = NULL;
	struct tgt_model_seg *ms = NULL;
	unsigned int i, j, bad = 0, nsegs;
	char first[256] = "";
	int np, nc = -1;

	if (tgt_check_limits(r, lim))
		return -1;
	np = tgt_pieces_from_log(r, &pieces);
	if (np < 0)
		return tgt_fail("no memory for the model");
	mc = calloc(np + 1, sizeof(*mc));
	ms = calloc(np + 1, sizeof(*ms));
	if (!mc || !ms) {
		bad = 1;
		snprintf(first, sizeof(first), "no memory for the model");
		goto out;
	}
	nc = tgt_model_chunks(pieces, np, &ml, mc, np + 1, ms, np + 1, &nsegs);
	if (nc < 0) {
		bad = 1;
		snprintf(first, sizeof(first), "a piece fits no chunk");
		goto out;
	}
	if ((unsigned int)nc != r->nchunk)
		bad++;
	for (i = 0; i < (unsigned int)nc && i < r->nchunk; i++) {
		const struct tgt_chunk *c = &r->chunk[i];

		if (mc[i].off != c->off || mc[i].len != c->len ||
		    mc[i].nsegs != c->nents) {
			if (!bad++)
				snprintf(first, sizeof(first),
					 "chunk %u: off %u len %u nents %u, the limits force off %u len %u nents %u",
					 i, c->off, c->len, c->nents,
					 mc[i].off, mc[i].len, mc[i].nsegs);
			continue;
		}
		for (j = 0; j < mc[i].nsegs; j++) {
			const struct tgt_model_seg *m = &ms[mc[i].first_seg + j];
			const struct tgt_seg *s = &r->seg[c->first_seg + j];

			if ((m->len != s->len || m->addr != s->addr) &&
			    !bad++)
				snprintf(first, sizeof(first),
					 "chunk %u seg %u: len %u addr 0x%llx, the limits force len %u addr 0x%llx",
					 i, j, s->len, s->addr, m->len,
					 m->addr);
		}
	}
out:
	free(pieces);
	free(mc);
	free(ms);
	if (bad)
		return tgt_fail("len %u sg_tablesize=%u max_sectors=%u max_segment_size=%u dma_boundary=0x%llx: %u chunks, the limits force %d; %s",
				r->len, lim->sg_tablesize, lim->max_sectors,
				lim->max_segment_size, lim->dma_boundary,
				r->nchunk, nc, first);
	return 0;
}

/* ------------------------------------------------------------------ */
/* chunk traces (tgt_chunk_trace.h, kunit/README.md "Chunk traces")     */

static void tgt_trace_print(void *priv, const char *line)
{
	(void)priv;
	/* stderr, like TH_LOG: unbuffered, in order with the harness's lines */
	fprintf(stderr, "# %s\n", line);
}

/* tgtsim run --trace-chunks: the kernel argument tgtsim_trace_chunks=1 */
int tgt_trace_wanted(void)
{
	const char *e = getenv("tgtsim_trace_chunks");

	return e && *e && strcmp(e, "0");
}

/*
 * The model's chunks for the buffer the log shows: each command byte once,
 * in order, at the address its segment gave it, re-cut at pages. Returns
 * the number of model chunks (their array in *out), or -1 if the log does
 * not cover the whole command (the layout of the rest is unknown).
 */
static int tgt_trace_model_of(const struct tgt_result *r,
			      const struct tgt_limits *lim,
			      struct tgt_model_chunk **out)
{
	const struct tgt_model_limits ml = {
		.max_sectors = lim->max_sectors,
		.sg_tablesize = lim->sg_tablesize,
		.max_segment_size = lim->max_segment_size,
		.dma_boundary = lim->dma_boundary,
	};
	struct tgt_model_piece *p = calloc(r->len / TGT_PAGE_SIZE + 2 +
					   r->nseg, sizeof(*p));
	unsigned long long pos = 0;
	unsigned int n = 0, i, j;
	int nc = -1;

	*out = NULL;
	if (!p)
		return -1;
	for (i = 0; i < r->nchunk; i++) {
		unsigned long long soff = r->chunk[i].off;

		for (j = 0; j < r->chunk[i].nsegs; j++) {
			const struct tgt_seg *s = &r->seg[r->chunk[i].first_seg + j];
			unsigned long long end = soff + s->len;

			while (soff <= pos && pos < end) {
				unsigned long long a = s->addr + (pos - soff);
				unsigned int l = TGT_PAGE_SIZE - a % TGT_PAGE_SIZE;

				if (l > end - pos)
					l = end - pos;
				if (n && p[n - 1].addr + p[n - 1].len == a &&
				    p[n - 1].addr / TGT_PAGE_SIZE == a / TGT_PAGE_SIZE) {
					p[n - 1].len += l;
				} else {
					p[n].addr = a;
					p[n].len = l;
					n++;
				}
				pos += l;
			}
			soff = end;
		}
	}
	if (pos == r->len && r->len) {
		*out = calloc(n + 1, sizeof(**out));
		if (*out)
			nc = tgt_model_chunks(p, n, &ml, *out, n + 1, NULL, 0,
					      NULL);
	}
	free(p);
	return nc;
}

/*
 * Print the chunk sequence of a command read from the cmd file as KTAP
 * diagnostics (tgt-chunks v1), with the model's chunks when they differ.
 */
void tgt_trace_result(const struct tgt_result *r, const struct tgt_limits *lim,
		      const char *name, int failed)
{
	struct tgt_model_chunk *mc;
	struct tgt_trace t;
	unsigned int i;
	int nc, differ;

	tgt_trace_begin(&t, tgt_trace_print, NULL, r->dir, r->len,
			lim->max_sectors, lim->sg_tablesize,
			lim->max_segment_size, lim->dma_boundary, name);
	for (i = 0; i < r->nchunk; i++) {
		const struct tgt_chunk *c = &r->chunk[i];

		tgt_trace_chunk(&t, c->off, c->len, c->nents, NULL, c->result,
				strcmp(c->reason, "ok") ? c->reason : NULL);
	}
	nc = tgt_trace_model_of(r, lim, &mc);
	differ = nc >= 0 && (unsigned int)nc != r->nchunk;
	for (i = 0; nc >= 0 && !differ && i < r->nchunk; i++)
		differ = mc[i].off != r->chunk[i].off ||
			 mc[i].len != r->chunk[i].len ||
			 mc[i].nsegs != r->chunk[i].nents;
	for (i = 0; differ && i < (unsigned int)nc; i++)
		tgt_trace_model(&t, mc[i].off, mc[i].len, mc[i].nsegs);
	free(mc);
	if (r->resp_seen)
		tgt_trace_resp(&t, r->nchunk, 1, r->resp_result,
			       strcmp(r->resp_reason, "ok") ? r->resp_reason : NULL);
	tgt_trace_end(&t, r->err, failed);
}

/*
 * tgt_check_ok() and tgt_check_chunking() of a command, its chunk trace
 * printed when one fails or when tgtsim_trace_chunks is set.
 */
int tgt_check_traced(const struct tgt_result *r, const char *dir,
		     unsigned int len, unsigned int seed,
		     const struct tgt_limits *lim)
{
	int ret = tgt_check_ok(r, dir, len, seed);
	char name[64];

	if (!ret)
		ret = tgt_check_chunking(r, lim);
	if (ret || tgt_trace_wanted()) {
		snprintf(name, sizeof(name), "id=%llu seed=%u", r->id, seed);
		tgt_trace_result(r, lim, name, ret != 0);
	}
	return ret;
}

/* ------------------------------------------------------------------ */
/* random numbers                                                       */

/* xorshift64*: the stress test's reproducible random numbers */
uint64_t tgt_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

unsigned int tgt_rand_range(uint64_t *s, unsigned int lo, unsigned int hi)
{
	return lo + (unsigned int)(tgt_rand(s) % ((uint64_t)hi - lo + 1));
}

/* the seed of init.sh's tgtsim_seed= kernel argument (default 1) */
uint64_t tgt_seed(void)
{
	const char *e = getenv("tgtsim_seed");
	uint64_t s = e && *e ? strtoull(e, NULL, 0) : 1;

	return s ? s : 1;
}
