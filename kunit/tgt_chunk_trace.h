/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tgt_chunk_trace.h - the chunk sequence of one command as KTAP diagnostic
 * lines, "tgt-chunks" format v1 (kunit/README.md, "Chunk traces"), which
 * tgtsim's HTML report draws. Plain C, header only: the tgt_kunit suites,
 * sim_lld's KUnit suite and the kselftests each include it and give it
 * their own printer (kunit_info(), or "# " on stderr). One line a record:
 *
 *   tgt-chunks: v1 begin dir=to len=L max_sectors=M sg_tablesize=S
 *               max_segment_size=Z dma_boundary=0xB [name=free text]
 *   tgt-chunks: chunk off=O len=N nents=E [n=K] [at=task|irq] [res=0xR] [why=W]
 *   tgt-chunks: model off=O len=N nents=E [n=K]
 *   tgt-chunks: resp after=C [n=K] [res=0xR] [why=W]
 *   tgt-chunks: end chunks=C [model=M] err=E verdict=pass|fail
 *
 * (the begin line is one line). Consecutive chunks of the same length,
 * segment count and attributes, each starting where the previous one
 * ended, are one line with n=K.
 */
#ifndef _TGT_CHUNK_TRACE_H
#define _TGT_CHUNK_TRACE_H

#ifdef __KERNEL__
#include <linux/kernel.h>
#include <linux/stdarg.h>
#include <linux/string.h>
#include <linux/types.h>
#else
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#endif

#define TGT_TRACE_PREFIX	"tgt-chunks: "
#define TGT_TRACE_LINE		256

/* prints one line (without newline) as a KTAP diagnostic */
typedef void (*tgt_trace_print_t)(void *priv, const char *line);

struct tgt_trace {
	tgt_trace_print_t print;
	void *priv;
	/* the run of equal chunks not printed yet (kind 0: none) */
	int kind;
	unsigned long long off;
	unsigned int len, nents, n, res;
	const char *at, *why;
	unsigned int nr_chunks, nr_model;
};

#define TGT_TRACE_CHUNK	1
#define TGT_TRACE_MODEL	2

static inline int tgt_trace_add(char *buf, int pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (pos >= TGT_TRACE_LINE - 1)
		return pos;
	va_start(ap, fmt);
	n = vsnprintf(buf + pos, TGT_TRACE_LINE - pos, fmt, ap);
	va_end(ap);
	if (n < 0)
		return pos;
	return pos + n < TGT_TRACE_LINE - 1 ? pos + n : TGT_TRACE_LINE - 1;
}

static inline bool tgt_trace_same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static inline void tgt_trace_flush(struct tgt_trace *t)
{
	char line[TGT_TRACE_LINE];
	int pos;

	if (!t->kind)
		return;
	pos = tgt_trace_add(line, 0, TGT_TRACE_PREFIX "%s off=%llu len=%u nents=%u",
			    t->kind == TGT_TRACE_MODEL ? "model" : "chunk",
			    t->off, t->len, t->nents);
	if (t->n > 1)
		pos = tgt_trace_add(line, pos, " n=%u", t->n);
	if (t->at)
		pos = tgt_trace_add(line, pos, " at=%s", t->at);
	if (t->res)
		pos = tgt_trace_add(line, pos, " res=0x%x", t->res);
	if (t->why)
		tgt_trace_add(line, pos, " why=%s", t->why);
	t->print(t->priv, line);
	t->kind = 0;
}

static inline void tgt_trace_push(struct tgt_trace *t, int kind,
				  unsigned long long off, unsigned int len,
				  unsigned int nents, const char *at,
				  unsigned int res, const char *why)
{
	if (kind == TGT_TRACE_MODEL)
		t->nr_model++;
	else
		t->nr_chunks++;
	if (t->kind == kind && t->len == len && t->nents == nents &&
	    t->res == res && tgt_trace_same(t->at, at) &&
	    tgt_trace_same(t->why, why) &&
	    t->off + (unsigned long long)t->n * len == off) {
		t->n++;
		return;
	}
	tgt_trace_flush(t);
	t->kind = kind;
	t->off = off;
	t->len = len;
	t->nents = nents;
	t->at = at;
	t->res = res;
	t->why = why;
	t->n = 1;
}

/*
 * Start the trace of one command of @len bytes (@dir "to" or "from") on a
 * host with these limits; @name (may be NULL, no newline) says which
 * command of the case it is.
 */
static inline void tgt_trace_begin(struct tgt_trace *t, tgt_trace_print_t print,
				   void *priv, const char *dir,
				   unsigned long long len,
				   unsigned int max_sectors,
				   unsigned int sg_tablesize,
				   unsigned int max_segment_size,
				   unsigned long long dma_boundary,
				   const char *name)
{
	char line[TGT_TRACE_LINE];
	int pos;

	memset(t, 0, sizeof(*t));
	t->print = print;
	t->priv = priv;
	pos = tgt_trace_add(line, 0, TGT_TRACE_PREFIX "v1 begin dir=%s len=%llu max_sectors=%u sg_tablesize=%u max_segment_size=%u dma_boundary=0x%llx",
			    dir, len, max_sectors, sg_tablesize,
			    max_segment_size, dma_boundary);
	if (name && *name)
		tgt_trace_add(line, pos, " name=%s", name);
	print(priv, line);
}

/*
 * A transfer_data() call as the LLD saw it, in call order: @at is the
 * context it was called in ("task", "irq") or NULL, @res the result the
 * LLD gave it (0: fine) and @why its word for it, or NULL.
 */
static inline void tgt_trace_chunk(struct tgt_trace *t, unsigned long long off,
				   unsigned int len, unsigned int nents,
				   const char *at, unsigned int res,
				   const char *why)
{
	tgt_trace_push(t, TGT_TRACE_CHUNK, off, len, nents, at, res, why);
}

/* a chunk the test's model (tgt_chunk_model.h) expects, in order */
static inline void tgt_trace_model(struct tgt_trace *t, unsigned long long off,
				   unsigned int len, unsigned int nents)
{
	tgt_trace_push(t, TGT_TRACE_MODEL, off, len, nents, NULL, 0, NULL);
}

/* transfer_response() came after @after transfer_data() calls, @count times */
static inline void tgt_trace_resp(struct tgt_trace *t, unsigned int after,
				  unsigned int count, unsigned int res,
				  const char *why)
{
	char line[TGT_TRACE_LINE];
	int pos;

	tgt_trace_flush(t);
	pos = tgt_trace_add(line, 0, TGT_TRACE_PREFIX "resp after=%u", after);
	if (count > 1)
		pos = tgt_trace_add(line, pos, " n=%u", count);
	if (res)
		pos = tgt_trace_add(line, pos, " res=0x%x", res);
	if (why)
		tgt_trace_add(line, pos, " why=%s", why);
	t->print(t->priv, line);
}

/* the end: @err the command's error (0 or -errno), @failed the test's verdict */
static inline void tgt_trace_end(struct tgt_trace *t, int err, bool failed)
{
	char line[TGT_TRACE_LINE];
	int pos;

	tgt_trace_flush(t);
	pos = tgt_trace_add(line, 0, TGT_TRACE_PREFIX "end chunks=%u",
			    t->nr_chunks);
	if (t->nr_model)
		pos = tgt_trace_add(line, pos, " model=%u", t->nr_model);
	tgt_trace_add(line, pos, " err=%d verdict=%s", err,
		      failed ? "fail" : "pass");
	t->print(t->priv, line);
}

#endif /* _TGT_CHUNK_TRACE_H */
