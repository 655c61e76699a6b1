#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run the tgt_kunit suites on the port and on every mutant NN-name.patch of
# this directory, then regenerate the mutant table of kunit/README.md.
#
# usage: run-mutants.sh WORKTREE RESULTS_DIR [BUILD_DIR] [MUTANT...]
#
# WORKTREE is a git worktree of the kernel with the port committed at HEAD;
# it is reset to HEAD before each run (tracked files only). Needs UML
# build tools; uses ccache if CC is not set.
set -eu

wt=$(cd "$1" && pwd)
out=$2
build=${3:-/work/scratch/build-kunit}
[ $# -ge 3 ] && shift 3 || shift $#
here=$(cd "$(dirname "$0")" && pwd)
kunit=$(dirname "$here")
base=$(git -C "$wt" rev-parse HEAD)
mkdir -p "$out"
out=$(cd "$out" && pwd)

overlay() {
	rm -rf "$wt/drivers/scsi/tgt_kunit"
	cp -r "$kunit" "$wt/drivers/scsi/tgt_kunit"
	rm -rf "$wt/drivers/scsi/tgt_kunit/mutants"
	echo 'obj-y += tgt_kunit/' >> "$wt/drivers/scsi/Makefile"
	python3 - "$wt/drivers/scsi/Kconfig" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
i = s.rindex("endmenu")
open(p, "w").write(s[:i] + 'source "drivers/scsi/tgt_kunit/Kconfig"\n\n' + s[i:])
PY
}

run() {
	echo "== $1"
	start=$(date +%s)
	(cd "$wt" && /usr/bin/python3 tools/testing/kunit/kunit.py run \
		--kunitconfig="$kunit/.kunitconfig" --build_dir="$build" \
		--jobs=2 --make_options="CC=${CC:-ccache gcc}" --timeout=150 \
		--raw_output=kunit) > "$out/$1.ktap" 2> "$out/$1.log" || true
	echo "   $(grep -c '^        ok\|^    ok' "$out/$1.ktap") ok," \
	     "$(grep -c 'not ok' "$out/$1.ktap") not ok," \
	     "$(($(date +%s) - start)) s"
}

reset() {
	git -C "$wt" reset -q --hard "$base"
}

if [ $# -eq 0 ]; then
	set -- port "$here"/[0-9][0-9]-*.patch
fi
for m in "$@"; do
	reset
	if [ "$m" = port ]; then
		name=port
	else
		name=$(basename "$m" .patch)
		git -C "$wt" apply "$m"
	fi
	overlay
	run "$name"
done
reset
python3 "$here/mktable.py" "$out"
