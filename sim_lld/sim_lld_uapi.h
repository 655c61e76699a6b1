/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * sim_lld_uapi.h - userspace interface of the simulated target LLD.
 *
 * Included by the kernel driver and by userspace (kselftests): plain C
 * types and macros only. The interface is a set of debugfs files, see
 * sim_lld/README.md for the full description. All files are text.
 */
#ifndef _SIM_LLD_UAPI_H
#define _SIM_LLD_UAPI_H

#define SIM_LLD_DEBUGFS_ROOT	"/sys/kernel/debug/sim_lld"
/* per host directory, %u = sim_lld host index (stable across re-creation) */
#define SIM_LLD_HOST_DIR_FMT	SIM_LLD_DEBUGFS_ROOT "/host%u"

/* root files */
#define SIM_LLD_F_ADD_HOST	"add_host"	/* rw: count; "N" add, "-N" remove */
#define SIM_LLD_F_REMOVE_HOST	"remove_host"	/* w: index */
#define SIM_LLD_F_HOSTS		"hosts"		/* r: "index host_no" lines */

/*
 * What to write (text, at most 256 bytes a write; EINVAL otherwise):
 *
 *   add_host       "N" adds N hosts with the defaults, "-N" removes the
 *                  last N (|N| <= SIM_LLD_MAX_HOSTS)
 *   remove_host    "I" removes hostI
 *   <knob>         one value, decimal or 0x hex; EINVAL for an invalid
 *                  one (host unchanged), EBUSY while the host has
 *                  commands (host unchanged); else the host is re-created
 *                  with a new scsi host number (host_no)
 *   limits         "sg_tablesize=.. max_sectors=.. max_segment_size=..
 *                  dma_boundary=.. can_queue=.." (any subset)
 *   completion     "inline" | "workqueue" | "softirq" | "hrtimer"
 *   sense          "none" | "key=K asc=A ascq=Q [desc]": transfer_response
 *                  answers CHECK CONDITION with this sense (fixed format,
 *                  or descriptor format with "desc"), built with
 *                  scsi_build_sense() in the command's sense buffer
 *   fault          "none" | "flush" | "fail|busy|drop chunk=N [times=K]" |
 *                  "fail|busy|drop resp [times=K]" (K = -1: always)
 *   counters       "0" or "reset"
 *   cmd            "dir=to|from|none|bidi len=N [seed=S] [align=A]
 *                  [buf=kvmalloc|kmalloc|vmalloc] [async] [nowait]
 *                  [timeout_ms=T]" runs a command (synchronous unless
 *                  async: the write returns when it ended, whatever its
 *                  err), or "wait id=N [timeout_ms=T]" | "wait all
 *                  [timeout_ms=T]"; errors EINVAL, EBUSY (nowait, no
 *                  tag), ENODEV, ENOMEM, ETIMEDOUT, ENOENT (wait id)
 *
 * A write sets the cmd file's position to 0; read from 0 (or pread at 0)
 * to get the result of the fd's current command.
 */

/* per host files */
#define SIM_LLD_F_SG_TABLESIZE		"sg_tablesize"
#define SIM_LLD_F_MAX_SECTORS		"max_sectors"
#define SIM_LLD_F_MAX_SEGMENT_SIZE	"max_segment_size"
#define SIM_LLD_F_DMA_BOUNDARY		"dma_boundary"
#define SIM_LLD_F_CAN_QUEUE		"can_queue"
#define SIM_LLD_F_LIMITS		"limits"	/* rw: all five, key=value */
#define SIM_LLD_F_COMPLETION		"completion"
#define SIM_LLD_F_COMPLETION_DELAY	"completion_delay_ns"
#define SIM_LLD_F_COPY			"copy"		/* rw: Y copy data, N do not */
#define SIM_LLD_F_FAULT			"fault"
#define SIM_LLD_F_SENSE			"sense"
#define SIM_LLD_F_CMD			"cmd"
#define SIM_LLD_F_COUNTERS		"counters"
#define SIM_LLD_F_HOST_NO		"host_no"

/*
 * Limits accepted by the knobs (inclusive). Linux 6.12's block layer
 * refuses max_segment_size < PAGE_SIZE and dma_boundary < PAGE_SIZE - 1,
 * so a 512 byte segment limit cannot be simulated.
 */
#define SIM_LLD_MIN_SG_TABLESIZE	1
#define SIM_LLD_MAX_SG_TABLESIZE	2048		/* SG_MAX_SEGMENTS */
#define SIM_LLD_MIN_MAX_SECTORS		8		/* one 4 KiB page */
#define SIM_LLD_MAX_MAX_SECTORS		32768		/* 16 MiB */
#define SIM_LLD_MIN_MAX_SEGMENT_SIZE	4096		/* PAGE_SIZE */
#define SIM_LLD_MAX_MAX_SEGMENT_SIZE	0x40000000U	/* 1 GiB */
#define SIM_LLD_MIN_DMA_BOUNDARY	4095		/* PAGE_SIZE - 1 */
#define SIM_LLD_MIN_CAN_QUEUE		1
#define SIM_LLD_MAX_CAN_QUEUE		4096
#define SIM_LLD_MAX_HOSTS		64
/* hard cap for the length of an injected command (module param max_cmd_len) */
#define SIM_LLD_MAX_CMD_LEN		0x4000000U	/* 64 MiB */

/* completion modes (file "completion", module param completion) */
#define SIM_LLD_COMPLETION_NAMES	{ "inline", "workqueue", "softirq", "hrtimer" }
enum sim_lld_completion {
	SIM_LLD_COMPL_INLINE = 0,	/* done() called from transfer_*() */
	SIM_LLD_COMPL_WORKQUEUE,	/* from a work item (process context) */
	SIM_LLD_COMPL_SOFTIRQ,		/* from a BH work item (softirq) */
	SIM_LLD_COMPL_HRTIMER,		/* from a hard hrtimer (hardirq) */
	SIM_LLD_COMPL_NR,
};

/*
 * cmd->result values set by sim_lld (host byte << 16), visible to
 * userspace as "result=0x..." when the command's err is -EIO (-5).
 */
#define SIM_LLD_RESULT_OK	0x00000000
#define SIM_LLD_RESULT_LIMIT	0x00070000	/* DID_ERROR: limit violation */
#define SIM_LLD_RESULT_FAULT	0x00040000	/* DID_BAD_TARGET: injected */
#define SIM_LLD_RESULT_NODEV	0x00010000	/* DID_NO_CONNECT: host gone */

/* per chunk (and response) reason, "reason=<name>" in the log */
#define SIM_LLD_REASON_NAMES { \
	"ok", "nents", "segsize", "boundary", "total", "max_sectors", \
	"offset", "overrun", "zero", "fault", "busy", "drop", "nodev", \
	"logfull", "flushed" }
enum sim_lld_reason {
	SIM_LLD_R_OK = 0,
	SIM_LLD_R_NENTS,	/* scsi_sg_count() > sg_tablesize */
	SIM_LLD_R_SEGSIZE,	/* a segment longer than max_segment_size */
	SIM_LLD_R_BOUNDARY,	/* a segment crossing a dma_boundary + 1 window */
	SIM_LLD_R_TOTAL,	/* sum of the segments != scsi_bufflen() */
	SIM_LLD_R_MAX_SECTORS,	/* scsi_bufflen() > max_sectors * 512 */
	SIM_LLD_R_OFFSET,	/* cmd->offset != bytes already transferred */
	SIM_LLD_R_OVERRUN,	/* offset + length beyond the command */
	SIM_LLD_R_ZERO,		/* empty chunk or zero-length segment */
	SIM_LLD_R_FAULT,	/* injected failure */
	SIM_LLD_R_BUSY,		/* injected busy (SCSI_MLQUEUE_HOST_BUSY) */
	SIM_LLD_R_DROP,		/* injected dropped completion */
	SIM_LLD_R_NODEV,	/* host being removed */
	SIM_LLD_R_LOGFULL,	/* transfer log full (runaway chunking) */
	SIM_LLD_R_FLUSHED,	/* dropped completion released with an error */
	SIM_LLD_R_NR,
};

/* "verify=" in the command result */
#define SIM_LLD_VERIFY_OK	0	/* data arrived intact */
#define SIM_LLD_VERIFY_MISMATCH	1	/* first bad byte at "mismatch=" */
#define SIM_LLD_VERIFY_SKIPPED	2	/* err != 0, no data, dir none, or copy off */

/* "state=" in the command result */
#define SIM_LLD_STATE_NAMES	{ "pending", "done" }

/*
 * Reading the cmd file gives the fd's current command:
 *   one SIM_LLD_CMD_FMT line, then per logged chunk one SIM_LLD_CHUNK_FMT
 *   line followed by its SIM_LLD_SEG_FMT lines, then one SIM_LLD_RESP_FMT
 *   line if transfer_response was called, and one SIM_LLD_SENSE_FMT line
 *   if it answered with sense data: key, ASC and ASCQ as the sense buffer
 *   holds them, its length and its first SIM_LLD_SENSE_BYTES bytes (hex).
 * After "wait all": one SIM_LLD_WAITALL_FMT line.
 * The formats are scanf-compatible when %s is read as %15s.
 */
#define SIM_LLD_CMD_FMT \
	"id=%llu state=%s dir=%s len=%u seed=%u err=%d result=0x%x verify=%d mismatch=%lld chunks=%u overflow=%u\n"
#define SIM_LLD_CHUNK_FMT \
	"chunk=%u off=%u len=%u nents=%u result=0x%x reason=%s\n"
#define SIM_LLD_SEG_FMT		"seg=%u len=%u addr=0x%llx\n"
#define SIM_LLD_RESP_FMT	"resp status=0x%x result=0x%x reason=%s\n"
#define SIM_LLD_WAITALL_FMT	"waited=%u ok=%u failed=%u pending=%u\n"
#define SIM_LLD_SENSE_FMT \
	"sense key=0x%x asc=0x%x ascq=0x%x len=%u data=%s\n"
#define SIM_LLD_SENSE_BYTES	32
/* cmd->result of a response answered with sense: SAM_STAT_CHECK_CONDITION */
#define SIM_LLD_RESULT_CHECK_CONDITION	0x00000002

/* counters file: one "name value" line each, in this order */
#define SIM_LLD_COUNTER_NAMES { \
	"commands", "chunks", "bytes", "responses", "errors", "faults", \
	"busy", "dropped", "cmds_ok", "cmds_failed", "timeouts", \
	"verify_errors", "recreated", \
	"outstanding", "pending", "dropped_now", "tags_in_use", \
	"free_list", "dev_refs", "gendev_refs", "cmds_kept" }

#endif /* _SIM_LLD_UAPI_H */
