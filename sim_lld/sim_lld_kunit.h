/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sim_lld_kunit.h - helpers shared by the KUnit suites of sim_lld.
 *
 * A host a case adds with sim_k_add() and a command it runs with
 * sim_k_run() are released by KUnit actions when the case ends, also when
 * an assertion ends it early: nothing leaks into the next case.
 */
#ifndef _SIM_LLD_KUNIT_H
#define _SIM_LLD_KUNIT_H

#include <kunit/test.h>

#include "sim_lld.h"

struct sim_lld_limits sim_k_limits(u64 sg, u64 ms, u64 mss, u64 bnd, u64 cq);
struct sim_lld_host *sim_k_add(struct kunit *test,
			       const struct sim_lld_limits *lim);
void sim_k_remove(struct kunit *test, struct sim_lld_host *sh);
int sim_k_run(struct kunit *test, struct sim_lld_host *sh,
	      const struct sim_lld_req *req, struct sim_lld_cmd **sc);
void sim_k_expect_idle(struct kunit *test, struct sim_lld_host *sh);

#endif /* _SIM_LLD_KUNIT_H */
