// SPDX-License-Identifier: GPL-2.0
/*
 * tgt_bench_get_put, a case of the tgt_bench suite: pairs of
 * scsi_host_get_command() + scsi_host_put_command() per second, from a
 * task and from hardirq (an hrtimer, each expiry about a millisecond of
 * pairs with GFP_ATOMIC), with the host's free list in use and not.
 *
 * The free list is in use when the command cannot be allocated: get takes
 * the host's reserve and put gives it back. Only a KUnit static stub of
 * scsi_host_cmd_alloc() makes the allocation fail, and a stub is looked up
 * on every call the test's own thread makes (or an interrupt of it), which
 * costs time of its own; so the free list is compared through two stubs
 * (stub=1: one that allocates like the real function, free=0, and one that
 * fails, free=1), and the plain pairs (stub=0, from a kthread and from
 * hardirq on top of it) are the figures without a stub.
 *
 *   tgt-bench: v1 getput rep=R ctx=task|hardirq free=0|1 stub=0|1 n=N ns=T
 */
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/slab.h>
#include <kunit/static_stub.h>
#include <kunit/test.h>
#include <kunit/test-bug.h>

#include <scsi/scsi_cmnd.h>
#include <scsi/scsi_host.h>

#include "../sim_lld/sim_lld.h"
#include "tgt_bench.h"

/* give up on a sample whose hrtimer does not come back in this time */
#define TGT_BENCH_IRQ_WAIT_NS	(10 * NSEC_PER_SEC)

struct tgt_bench_gp {
	struct kunit *test;
	struct Scsi_Host *shost;
	unsigned int rep;
};

static struct scsi_host_cmd *tgt_bench_alloc_real(struct Scsi_Host *shost,
						  gfp_t gfp)
{
	return kmalloc(sizeof(struct scsi_host_cmd) + shost->hostt->cmd_size,
		       gfp);
}

static struct scsi_host_cmd *tgt_bench_alloc_fails(struct Scsi_Host *shost,
						   gfp_t gfp)
{
	return NULL;
}

static void tgt_bench_gp_out(struct tgt_bench_gp *gp, const char *ctx,
			     bool free, bool stub, u64 n, u64 ns)
{
	tgt_bench_out(gp->test,
		      "getput rep=%u ctx=%s free=%d stub=%d n=%llu ns=%llu",
		      gp->rep, ctx, free, stub, n, ns);
}

/* pairs from the calling task until min_ms passed */
static int tgt_bench_gp_task(struct tgt_bench_gp *gp, u64 *n, u64 *ns)
{
	u64 min_ns = (u64)tgt_bench_min_ms * NSEC_PER_MSEC, batch = 1, i, t0;
	struct scsi_cmnd *cmd;

	*n = 0;
	t0 = ktime_get_ns();
	do {
		for (i = 0; i < batch; i++) {
			cmd = scsi_host_get_command(gp->shost, DMA_TO_DEVICE,
						    GFP_KERNEL);
			if (!cmd)
				return -ENOMEM;
			scsi_host_put_command(gp->shost, cmd);
		}
		*n += batch;
		*ns = ktime_get_ns() - t0;
		if (batch < 1024 && *ns < min_ns / 16)
			batch *= 2;
	} while (*ns < min_ns);
	return 0;
}

struct tgt_bench_irq {
	struct hrtimer timer;
	struct Scsi_Host *shost;
	struct kunit *stub_test;	/* the stub must apply: its thread */
	u64 per_irq, n, ns, min_ns;
	unsigned int missed;
	int err;
	bool done;
};

static enum hrtimer_restart tgt_bench_irq_fn(struct hrtimer *timer)
{
	struct tgt_bench_irq *b = container_of(timer, struct tgt_bench_irq,
					       timer);
	struct scsi_cmnd *cmd;
	u64 i, t0, t;

	/* a stub applies only when the test's thread was interrupted */
	if (b->stub_test && kunit_get_current_test() != b->stub_test) {
		if (++b->missed < 1000)
			goto again;
		b->err = -ESRCH;
		goto stop;
	}
	t0 = ktime_get_ns();
	for (i = 0; i < b->per_irq; i++) {
		cmd = scsi_host_get_command(b->shost, DMA_TO_DEVICE,
					    GFP_ATOMIC);
		if (!cmd) {
			b->err = -ENOMEM;
			goto stop;
		}
		scsi_host_put_command(b->shost, cmd);
	}
	t = ktime_get_ns() - t0;
	b->n += i;
	b->ns += t;
	if (b->ns >= b->min_ns)
		goto stop;
	/* about a millisecond of every expiry */
	if (t < NSEC_PER_MSEC && b->per_irq < (1U << 20))
		b->per_irq *= 2;
again:
	hrtimer_forward_now(timer, ns_to_ktime(NSEC_PER_USEC));
	return HRTIMER_RESTART;
stop:
	WRITE_ONCE(b->done, true);
	return HRTIMER_NORESTART;
}

/*
 * Pairs from hardirq on top of the calling task, which spins meanwhile (so
 * that it is the task the hrtimer interrupts); @stub_test: the calling task
 * is that test's thread and its stub must apply.
 */
static int tgt_bench_gp_irq(struct tgt_bench_gp *gp, struct kunit *stub_test,
			    u64 *n, u64 *ns)
{
	struct tgt_bench_irq b = {
		.shost = gp->shost, .stub_test = stub_test, .per_irq = 64,
		.min_ns = (u64)tgt_bench_min_ms * NSEC_PER_MSEC,
	};
	u64 t0 = ktime_get_ns();

	hrtimer_init(&b.timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	b.timer.function = tgt_bench_irq_fn;
	hrtimer_start(&b.timer, ns_to_ktime(NSEC_PER_USEC),
		      HRTIMER_MODE_REL_HARD);
	while (!READ_ONCE(b.done) &&
	       ktime_get_ns() - t0 < TGT_BENCH_IRQ_WAIT_NS)
		cpu_relax();
	hrtimer_cancel(&b.timer);
	if (!READ_ONCE(b.done))
		return -ETIMEDOUT;
	*n = b.n;
	*ns = b.ns;
	return b.err;
}

/* the plain pairs, without a stub: from a kthread, and hardirq on it */
static int tgt_bench_gp_plain(void *arg)
{
	struct tgt_bench_gp *gp = arg;
	u64 n, ns;
	int ret;

	ret = tgt_bench_gp_task(gp, &n, &ns);
	if (ret)
		return ret;
	tgt_bench_gp_out(gp, "task", false, false, n, ns);
	ret = tgt_bench_gp_irq(gp, NULL, &n, &ns);
	if (ret)
		return ret;
	tgt_bench_gp_out(gp, "hardirq", false, false, n, ns);
	return 0;
}

/* through a stub of the test's thread: free list not in use, in use */
static void tgt_bench_gp_stubbed(struct kunit *test, struct tgt_bench_gp *gp)
{
	int free, ret;
	u64 n, ns;

	for (free = 0; free <= 1; free++) {
		/* one name each: the macro takes the address of its argument */
		if (free)
			kunit_activate_static_stub(test, scsi_host_cmd_alloc,
						   tgt_bench_alloc_fails);
		else
			kunit_activate_static_stub(test, scsi_host_cmd_alloc,
						   tgt_bench_alloc_real);
		ret = tgt_bench_gp_task(gp, &n, &ns);
		KUNIT_EXPECT_EQ(test, ret, 0);
		if (!ret)
			tgt_bench_gp_out(gp, "task", free, true, n, ns);
		ret = tgt_bench_gp_irq(gp, test, &n, &ns);
		KUNIT_EXPECT_EQ(test, ret, 0);
		if (!ret)
			tgt_bench_gp_out(gp, "hardirq", free, true, n, ns);
		kunit_deactivate_static_stub(test, scsi_host_cmd_alloc);
	}
}

void tgt_bench_get_put(struct kunit *test)
{
	struct tgt_bench_gp gp = { .test = test };
	struct sim_lld_host *sh;
	struct sim_lld_counters c;

	sh = sim_lld_host_add(NULL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sh);
	gp.shost = sim_lld_host_shost(sh);
	for (gp.rep = 0; gp.shost && gp.rep < tgt_bench_reps; gp.rep++) {
		KUNIT_EXPECT_EQ(test,
				tgt_bench_in_kthread(test, tgt_bench_gp_plain,
						     &gp), 0);
		tgt_bench_gp_stubbed(test, &gp);
	}
	KUNIT_EXPECT_NOT_NULL(test, gp.shost);
	/* the reserve is back, nothing is held */
	sim_lld_host_counters(sh, &c);
	KUNIT_EXPECT_EQ(test, c.free_list, 1);
	KUNIT_EXPECT_EQ(test, c.tags_in_use, 0);
	sim_lld_host_remove(sh);
}
