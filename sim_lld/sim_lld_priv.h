/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sim_lld_priv.h - what the files of sim_lld share with each other:
 *
 *   sim_lld_main.c      knobs, module parameters, hosts, module init/exit
 *   sim_lld_transfer.c  the LLD (transfer_data(), transfer_response(),
 *                       completions, faults) and the injected commands
 *   sim_lld_debugfs.c   the debugfs interface and its text parsers
 *
 * The KUnit suites use sim_lld.h only.
 */
#ifndef _SIM_LLD_PRIV_H
#define _SIM_LLD_PRIV_H

#include <linux/atomic.h>
#include <linux/fault-inject.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>

#include "sim_lld.h"

struct dentry;
struct scsi_host_template;
struct workqueue_struct;

#define SIM_LLD_VERSION "1.0"

struct sim_lld_host {
	struct kref kref;
	struct list_head list;		/* sim_lld_hosts, under its lock */
	unsigned int index;
	struct mutex cfg_mutex;		/* shost, lim, creation and removal */
	struct Scsi_Host *shost;	/* current host, under cfg_mutex */
	struct sim_lld_limits lim;
	bool removing;
	int completion;			/* enum sim_lld_completion */
	u32 delay_ns;
	bool copy;			/* copy chunk data (else only check) */
	void *store;			/* data of commands without a log */
	u32 store_len;

	spinlock_t lock;		/* fault, sense, cmds, dropped, next_id */
	struct sim_lld_fault fault;
	struct sim_lld_sense sense;
	/*
	 * Written under lock, read without it: the data path takes the lock
	 * only when a fault is armed or sense data is set.
	 */
	bool fault_armed;
	bool sense_on;
	struct list_head cmds;		/* struct sim_lld_cmd */
	struct list_head dropped;	/* withheld completions */
	u64 next_id;
	atomic_t foreign_calls;

	wait_queue_head_t idle_wq;	/* outstanding or pending dropped */
	atomic_t outstanding;		/* injected commands not yet put */
	atomic_t pending;		/* accepted transfers not completed */
	atomic_t dropped_now;
	atomic_t dev_refs;		/* scsi_host_get() held by sim_lld */
	atomic_t cmds_kept;
	atomic64_t c_commands, c_chunks, c_bytes, c_responses, c_errors;
	atomic64_t c_faults, c_busy, c_dropped, c_cmds_ok, c_cmds_failed;
	atomic64_t c_timeouts, c_verify_errors, c_recreated;

	struct dentry *dir;
	struct sim_knob_file {
		struct sim_lld_host *sh;
		enum sim_lld_knob knob;
	} knob_files[SIM_LLD_NR_KNOBS];
};

/* hostdata of every Scsi_Host sim_lld creates */
struct sim_shost {
	struct sim_lld_host *sh;
	struct sim_lld_limits lim;	/* the limits this host was made with */
};

struct sim_knob_desc {
	const char *name;
	u64 min, max;
	const char *why;
};

extern const struct sim_knob_desc sim_lld_knobs[SIM_LLD_NR_KNOBS];
extern const char * const sim_lld_compl_names[SIM_LLD_COMPL_NR];
extern const char * const sim_lld_reason_names[SIM_LLD_R_NR];

/* module parameters */
extern unsigned int sim_lld_max_cmd_len;
extern unsigned int sim_lld_cmd_timeout_ms;

/* the hosts, in the order they were added */
extern struct mutex sim_lld_hosts_lock;
extern struct list_head sim_lld_hosts;

extern struct workqueue_struct *sim_lld_wq;
extern const struct scsi_host_template sim_lld_template;
#ifdef CONFIG_FAULT_INJECTION
extern struct fault_attr sim_lld_fail_transfer;
#endif

/* sim_lld_main.c */
int sim_lld_parse_knob(enum sim_lld_knob k, const char *buf, u64 *v);
int sim_lld_parse_completion(const char *buf);
void sim_lld_host_put(struct sim_lld_host *sh);
void sim_lld_host_reset_counters(struct sim_lld_host *sh);
int sim_lld_remove_host_by_index(int index);

/* sim_lld_transfer.c */
void sim_lld_cmd_free(struct sim_lld_cmd *sc);

/* sim_lld_debugfs.c */
void sim_lld_debugfs_init(void);
void sim_lld_debugfs_exit(void);
void sim_lld_debugfs_add_host(struct sim_lld_host *sh);
void sim_lld_debugfs_remove_host(struct sim_lld_host *sh);

#endif /* _SIM_LLD_PRIV_H */
