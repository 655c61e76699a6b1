# tgtsim: `make` runs the main job, `make check` the project's own tests.
# Every target is a thin wrapper around tools/bin/tgtsim, `check` and
# `test-tools` around tools/run_checks.py (see `make help`).

PYTHON     ?= /usr/bin/python3
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
# the main job builds the coverage profile: the kunit profile's KUnit and
# selftest results plus the coverage reports and gate (PROFILE=kunit: without)
PROFILE    ?= coverage
# CHECK_DEBUG=1: make check also runs the debug cells and a planted bug (CI)
CHECK_DEBUG ?= 0
# CHECK_BISECT=1: make check also runs check-bisect (CI); CHECK_SHARDS=N: the
# kernel part's cells in N shards (default 2); CHECK_COMPARE=1: compare the
# 4 shards of gitlab-ci-local with one unsharded run of the coverage cells
CHECK_BISECT ?= 0
CHECK_SHARDS ?= 2
CHECK_COMPARE ?= 0
# CHECK_SLOW=1: make check also runs the slow tests (their own kernel build);
# PYTEST_RUNS=N: pytest N times in a row (flaky tests; CI, CHECK_DEBUG=1: 2)
CHECK_SLOW ?= 0
PYTEST_RUNS ?= $(if $(filter 1,$(CHECK_DEBUG)),2,1)
# make coverage DIFF_BASE=REF [DIFF_BASE_TGTSIM=REF] [FAIL_UNDER=PCT]: diff coverage
DIFF_BASE ?=
DIFF_BASE_TGTSIM ?=
FAIL_UNDER ?=
KERNEL_SRC ?=
KERNEL_REF ?=
# make bisect: the commits (of KERNEL_SRC) and the suites of each step
GOOD       ?=
BAD        ?=
FILTER     ?=
OUT        ?= out
BUILD      ?= build
V          ?= 0
# make bench: an earlier bench.json to compare with, more tgtsim bench options
COMPARE    ?=
BENCH_ARGS ?=

export KERNEL_SRC KERNEL_REF JOBS
# the launcher: it blocks SIGINT/SIGTERM until tgtsim handles them (README, Signals)
TGTSIM := TGTSIM_PYTHON=$(PYTHON) $(CURDIR)/tools/bin/tgtsim --out $(OUT) --build-dir $(BUILD) \
	--jobs $(JOBS) $(if $(filter 1,$(V)),-v)
CHECKS := $(PYTHON) tools/run_checks.py --out $(OUT) --build-dir $(BUILD) --jobs $(JOBS) \
	$(if $(filter 1,$(V)),-v)

.DEFAULT_GOAL := all
.PHONY: all check coverage help deps deps-check prepare refresh-patches build run report \
	lint mutants debug planted-bugs bench test-tools kernel clean distclean bisect \
	check-bisect check-shards

## all: the main job: deps --install, prepare, build $(PROFILE), KUnit + selftests, reports, coverage gate
all:
	@$(TGTSIM) all --profile $(PROFILE)

## check: pytest, mypy, CI templates, the PROFILE cells as CHECK_SHARDS shards + merge, gitlab-ci-local (+ debug cells: CHECK_DEBUG=1, check-bisect: CHECK_BISECT=1); last line `check: N passed, N failed, N skipped`
check:
	@$(CHECKS) --profile $(PROFILE) --shards $(CHECK_SHARDS) $(if $(filter 1,$(CHECK_DEBUG)),--debug) \
		$(if $(filter 1,$(CHECK_BISECT)),--bisect) $(if $(filter 1,$(CHECK_COMPARE)),--compare-shards) \
		$(if $(filter 1,$(CHECK_SLOW)),--slow) --pytest-runs $(PYTEST_RUNS)

## check-shards: the coverage cells as 4 shards + merge (gitlab-ci-local) against one unsharded run: same cases, same coverage
check-shards:
	@$(PYTHON) tools/check_ci.py --build-dir $(BUILD) --compare

## coverage: gcov build + run; out/latest/coverage/ (HTML, cobertura.xml, patch.txt); gate coverage/thresholds; DIFF_BASE=REF: diff coverage
coverage:
	@$(TGTSIM) coverage $(if $(DIFF_BASE),--diff-base '$(DIFF_BASE)') \
		$(if $(DIFF_BASE_TGTSIM),--diff-base-tgtsim '$(DIFF_BASE_TGTSIM)') \
		$(if $(FAIL_UNDER),--fail-under '$(FAIL_UNDER)')

## deps: install the missing Debian packages (root)
deps:
	@$(TGTSIM) deps --install

## deps-check: only list the missing Debian packages
deps-check:
	@$(TGTSIM) deps

## prepare: build/linux = base + patches/linux-6.12/series + overlay of sim_lld/ and kunit/
prepare:
	@$(TGTSIM) prepare

## refresh-patches: write build/linux's commits back to patches/linux-6.12/
refresh-patches:
	@$(TGTSIM) refresh-patches

## build: build UML for $(PROFILE) into build/kbuild/$(PROFILE)
build: prepare
	@$(TGTSIM) build $(PROFILE)

## run: boot build/kbuild/$(PROFILE) and write out/runs/<id> (no rebuild)
run:
	@$(TGTSIM) run $(PROFILE)

## report: re-parse and print the latest run's reports
report:
	@$(TGTSIM) report

## lint: checkpatch --strict, W=1 and sparse of every step of the series
lint:
	@$(TGTSIM) lint

## mutants: run the suites against every deliberate break of the port
mutants:
	@$(TGTSIM) mutants --filter 'tgt_cmd*'

## debug: the main job with the debug profile (KASAN, lockdep, kmemleak, ...); a sanitizer report fails it
debug:
	@$(TGTSIM) all --profile debug

## bisect: find the commit of KERNEL_SRC between GOOD and BAD that broke the suites (FILTER=GLOB); out/bisect/<id>/
bisect:
	@$(TGTSIM) bisect $(if $(GOOD),--good '$(GOOD)') $(if $(BAD),--bad '$(BAD)') \
		$(if $(FILTER),--filter '$(FILTER)') --profile $(if $(filter coverage,$(PROFILE)),kunit,$(PROFILE))

## check-bisect: the proof of tgtsim bisect: a synthetic 6.12 history with a planted regression, cold first step, SIGTERM (opt-in; CI runs it)
check-bisect:
	@$(TGTSIM) check-bisect

## planted-bugs: the debug profile catches each bug of kunit/selftest-bugs/ (BUGS="01 03": only those)
planted-bugs:
	@$(TGTSIM) planted-bugs $(BUGS)

## bench: figures of the harness and the data path in out/bench/<id>/ (COMPARE=old.json: exit 1 if >20 % worse)
bench:
	@$(TGTSIM) bench --profile $(PROFILE) $(if $(COMPARE),--compare $(COMPARE)) $(BENCH_ARGS)

## test-tools: only pytest and mypy of tools/
test-tools:
	@$(CHECKS) --no-kernel

## clean: remove the kernel builds and out/ (keeps build/linux and ccache)
clean:
	rm -rf $(BUILD)/kbuild $(OUT)

## distclean: remove build/ and out/ entirely
distclean:
	rm -rf $(BUILD) $(OUT)

## help: this list
help:
	@echo "tgtsim make targets (variables: PROFILE=$(PROFILE) JOBS=$(JOBS) PYTHON=$(PYTHON)"
	@echo "  KERNEL_SRC=<linux git tree> KERNEL_REF=<ref> OUT=$(OUT) BUILD=$(BUILD) V=1 for full output):"
	@sed -n 's/^## \([^:]*\): /  make \1\t/p' $(MAKEFILE_LIST) | expand -t 28
