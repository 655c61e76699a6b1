/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sim_lld.h - in-kernel API of the simulated target LLD: its types, and the
 * functions its files share and its KUnit suites call.
 */
#ifndef _SIM_LLD_H
#define _SIM_LLD_H

#include <linux/completion.h>
#include <linux/dma-direction.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/types.h>
#include <linux/workqueue.h>

#include "sim_lld_uapi.h"

struct Scsi_Host;
struct scsi_cmnd;
struct sim_lld_host;

enum sim_lld_knob {
	SIM_LLD_KNOB_SG_TABLESIZE,
	SIM_LLD_KNOB_MAX_SECTORS,
	SIM_LLD_KNOB_MAX_SEGMENT_SIZE,
	SIM_LLD_KNOB_DMA_BOUNDARY,
	SIM_LLD_KNOB_CAN_QUEUE,
	SIM_LLD_NR_KNOBS,
};

/* limits of a host, indexed by enum sim_lld_knob */
struct sim_lld_limits {
	u64 v[SIM_LLD_NR_KNOBS];
};

enum sim_lld_fault_type {
	SIM_LLD_FAULT_NONE,
	SIM_LLD_FAULT_FAIL,	/* complete with SIM_LLD_RESULT_FAULT */
	SIM_LLD_FAULT_BUSY,	/* return SCSI_MLQUEUE_HOST_BUSY */
	SIM_LLD_FAULT_DROP,	/* never complete (until flushed) */
};

struct sim_lld_fault {
	enum sim_lld_fault_type type;
	bool resp;		/* hit transfer_response instead of a chunk */
	u32 chunk;		/* 0-based transfer_data call of a command */
	int times;		/* triggers left, -1 = unlimited */
};

/* the sense transfer_response answers with, if @on */
struct sim_lld_sense {
	bool on;
	bool desc;		/* descriptor format */
	u8 key, asc, ascq;
};

/* one transfer_data call */
struct sim_lld_chunk {
	u32 offset;
	u32 length;
	u32 nents;
	u32 first_seg;		/* index into sim_lld_log.segs */
	u32 nsegs;		/* segments recorded */
	u32 result;
	enum sim_lld_reason reason;
};

struct sim_lld_seg {
	u64 addr;		/* sg_phys() */
	u32 length;
};

struct sim_lld_log {
	struct sim_lld_chunk *chunks;
	struct sim_lld_seg *segs;
	u32 nr_chunks, max_chunks;
	u32 nr_segs, max_segs;
	bool overflow;
	bool resp_seen;
	u32 resp_status;	/* cmd->result when transfer_response was called */
	u32 resp_result;	/* cmd->result set by sim_lld for the response */
	enum sim_lld_reason resp_reason;
	u8 sense_len;		/* bytes of sense data sent, 0: none */
	u8 sense[SIM_LLD_SENSE_BYTES];
};

#define SIM_LLD_REQ_ASYNC	0x1	/* return once queued */
#define SIM_LLD_REQ_NOWAIT	0x2	/* GFP_NOWAIT: -EBUSY if no tag */
#define SIM_LLD_REQ_KMALLOC	0x4	/* target buffer from kmalloc */
#define SIM_LLD_REQ_VMALLOC	0x8	/* target buffer from vmalloc */

/*
 * Contexts a command's transfers were completed in (sim_lld_cmd.done_ctx,
 * one bit each): the thread that called transfer_*() (inline), a
 * workqueue worker, softirq, hardirq.
 */
#define SIM_LLD_CTX_CALLER	0x1
#define SIM_LLD_CTX_WORKER	0x2
#define SIM_LLD_CTX_SOFTIRQ	0x4
#define SIM_LLD_CTX_HARDIRQ	0x8

struct sim_lld_req {
	enum dma_data_direction dir;
	u32 len;
	u32 seed;
	u32 align;		/* buffer starts this many bytes into a page */
	u32 flags;
	u32 timeout_ms;		/* sync wait, 0 = module param cmd_timeout_ms */
};

enum sim_lld_cmd_state {
	SIM_LLD_CMD_PENDING,
	SIM_LLD_CMD_DONE,
};

/*
 * An injected command. The fields after "results" are stable once
 * sim_lld_cmd_wait() returned 0 (state == SIM_LLD_CMD_DONE).
 */
struct sim_lld_cmd {
	struct list_head node;		/* host's cmds, under its lock */
	struct sim_lld_host *sh;	/* holds a reference */
	struct Scsi_Host *shost;	/* holds a reference until reaped */
	struct scsi_cmnd *cmd;
	void *owner;
	u64 id;
	struct sim_lld_req req;
	void *alloc;			/* target memory allocation */
	void *buf;			/* alloc + req.align */
	void *backing;			/* the LLD side of the wire */
	struct completion done;
	struct work_struct reap;
	bool orphan, collected;
	/* LLD side, used by the chunk sequence only */
	u32 calls;
	u32 next_off;
	u32 done_ctx;			/* SIM_LLD_CTX_* of the done() calls */
	bool nocopy;			/* a chunk's data was not copied */
	/* results */
	enum sim_lld_cmd_state state;
	int err;			/* from the target core */
	u32 result;			/* cmd->result at completion */
	int verify;			/* SIM_LLD_VERIFY_* */
	s64 mismatch;			/* first bad byte or -1 */
	struct sim_lld_log log;
};

struct sim_lld_counters {
	u64 commands, chunks, bytes, responses, errors, faults, busy;
	u64 dropped, cmds_ok, cmds_failed, timeouts, verify_errors, recreated;
	/* gauges */
	u64 outstanding, pending, dropped_now, tags_in_use, free_list;
	u64 dev_refs, gendev_refs, cmds_kept;
};

/*
 * Used by the files of sim_lld and by its KUnit suites; exported (in the
 * EXPORTED_FOR_KUNIT_TESTING namespace) only with CONFIG_KUNIT.
 */
struct sim_lld_host *sim_lld_host_add(const struct sim_lld_limits *lim);
void sim_lld_host_get_limits(struct sim_lld_host *sh,
			     struct sim_lld_limits *lim);
int sim_lld_host_set_limits(struct sim_lld_host *sh,
			    const struct sim_lld_limits *lim);
int sim_lld_host_store_knob(struct sim_lld_host *sh, enum sim_lld_knob k,
			    const char *buf);
void sim_lld_host_set_fault(struct sim_lld_host *sh,
			    const struct sim_lld_fault *f);
void sim_lld_host_set_sense(struct sim_lld_host *sh,
			    const struct sim_lld_sense *s);
unsigned int sim_lld_host_flush_dropped(struct sim_lld_host *sh);
void sim_lld_host_counters(struct sim_lld_host *sh,
			   struct sim_lld_counters *c);
unsigned int sim_lld_nr_hosts(void);

int sim_lld_cmd_run(struct sim_lld_host *sh, const struct sim_lld_req *req,
		    void *owner, struct sim_lld_cmd **out);
int sim_lld_cmd_wait(struct sim_lld_cmd *sc, unsigned int timeout_ms);
void sim_lld_cmd_release(struct sim_lld_cmd *sc);

#if IS_ENABLED(CONFIG_KUNIT)
/*
 * Static to their file without CONFIG_KUNIT (VISIBLE_IF_KUNIT), or only
 * built with it: what the KUnit suites test or observe directly.
 */
void sim_lld_default_limits(struct sim_lld_limits *lim);
int sim_lld_set_default_knob(enum sim_lld_knob k, const char *buf);

void sim_lld_host_remove(struct sim_lld_host *sh);
struct Scsi_Host *sim_lld_host_shost(struct sim_lld_host *sh);
int sim_lld_host_set_completion(struct sim_lld_host *sh,
				enum sim_lld_completion mode, u32 delay_ns);
void sim_lld_host_set_copy(struct sim_lld_host *sh, bool copy);
void sim_lld_host_set_store(struct sim_lld_host *sh, void *buf, u32 len);
unsigned int sim_lld_live_shosts(void);
unsigned int sim_lld_root_refs(void);
int sim_lld_limits_by_index(unsigned int index, struct sim_lld_limits *lim);

int sim_lld_parse_limits(char *buf, struct sim_lld_limits *lim);
int sim_lld_parse_req(char *buf, struct sim_lld_req *req);
int sim_lld_parse_fault(char *buf, struct sim_lld_fault *f, bool *flush);
int sim_lld_parse_sense(char *buf, struct sim_lld_sense *s);
size_t sim_lld_cmd_render(const struct sim_lld_cmd *sc, char *buf,
			  size_t size);
size_t sim_lld_cmd_render_size(const struct sim_lld_cmd *sc);

void sim_lld_fill_pattern(void *buf, size_t len, u32 seed, bool invert);
s64 sim_lld_check_pattern(const void *buf, size_t len, u32 seed);
#endif

#endif /* _SIM_LLD_H */
