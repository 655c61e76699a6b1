#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# init.sh - PID 1 of the tgtsim selftest boot (UML, hostfs root = host's /,
# read-only).
#
#   linux mem=256M root=/dev/root rootfstype=hostfs rootflags=/ ro \
#         init=/abs/path/selftests/init.sh con=null con0=fd:0,fd:1 \
#         kunit.enable=0 tgtsim_selftests=/abs/path/build/selftests \
#         tgtsim_out=/abs/path/out/runs/ID/selftests-out </dev/null
#
# The host's / is mounted read-only (`ro`): neither a program nor a kernel
# path through the VFS can change a host file. Mounts proc, sysfs and
# debugfs, a tmpfs on /tmp (the programs' scratch space, TMPDIR; gone at
# poweroff; see below for where else it may go) and, read-write, the one
# host directory tgtsim_out= names (the run directory's selftests-out/) on
# $TMPDIR/out (TGTSIM_OUT): the only place where a program's files reach
# the host. Then runs each program of tests.list (in order) with a timeout,
# prints one KTAP document on the console (each program a subtest, its
# kselftest TAP indented by 4), and powers off.
# Programs can also be run by hand in a UML shell (see README.md).
# Kernel arguments of the form name=value reach this script as environment:
#   tgtsim_selftests=DIR  programs and tests.list (default: ../build/selftests
#                         next to this script)
#   tgtsim_timeout=S      per program timeout in seconds (default 120)
#   tgtsim_filter=GLOB    run only the programs whose name matches GLOB
#   tgtsim_seed=N         seed of the randomised tests (default 1)
#   tgtsim_out=DIR        host directory mounted read-write on $TMPDIR/out
#                         (TGTSIM_OUT; none: the programs can write to TMPDIR only)

PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

# /proc/sysrq-trigger does not exist on UML (MAGIC_SYSRQ depends on !UML):
# the poweroff helper calls reboot(RB_POWER_OFF), which does not return.
poweroff() {
	sync
	exec "$DIR/poweroff"
}

# ro or rw: how / is mounted (printed in the KTAP header)
root_mode() {
	while read -r dev mnt fstype opts rest; do
		[ "$mnt" = / ] && mode=${opts%%,*}
	done < /proc/mounts
	echo "${mode:-unknown}"
}

if [ "$$" != 1 ]; then
	echo "init.sh: must run as PID 1 of the UML selftest boot (see its header)" >&2
	exit 2
fi

HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${tgtsim_selftests:-$HERE/../build/selftests}
TIMEOUT=${tgtsim_timeout:-120}
FILTER=${tgtsim_filter:-*}
tgtsim_seed=${tgtsim_seed:-1}
export tgtsim_seed

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t debugfs debugfs /sys/kernel/debug
# Scratch space in UML's memory, on /tmp, or, when the programs, this script
# or tgtsim_out live under the host's /tmp (which the scratch would hide),
# on the first of /run, /mnt, /media. The root stays read-only. Without
# CONFIG_TMPFS (the kunit profile) tmpfs cannot be mounted from userspace:
# ramfs then, bounded only by UML's memory.
SCRATCH=/tmp
for p in "$HERE" "$DIR" "$tgtsim_out"; do
	case "$p/" in
	/tmp/*) SCRATCH= ;;
	esac
done
if [ -z "$SCRATCH" ]; then
	for d in /run /mnt /media; do
		if [ -d "$d" ]; then SCRATCH=$d; break; fi
	done
fi
if [ -n "$SCRATCH" ] && { mount -t tmpfs -o size=64m tmpfs "$SCRATCH" 2>/dev/null ||
		mount -t ramfs -o mode=1777 ramfs "$SCRATCH"; }; then
	TMPDIR=$SCRATCH
	export TMPDIR
	if [ -n "$tgtsim_out" ]; then
		mkdir -p "$SCRATCH/out"
		if mount -t hostfs -o "$tgtsim_out" hostfs "$SCRATCH/out"; then
			TGTSIM_OUT=$SCRATCH/out
			export TGTSIM_OUT
		else
			echo "init.sh: cannot mount $tgtsim_out on $SCRATCH/out" >&2
		fi
	fi
else
	echo "init.sh: no scratch space (no /tmp, /run, /mnt, /media to mount it on)" >&2
fi

# Paths in /proc/mounts, mountinfo and maps are printed by seq_path(),
# seq_path_root() and seq_file_path(), which call seq_mangle_path()
# (patch 0001): reading them once lets the coverage run execute those lines.
for f in /proc/mounts /proc/self/mountinfo /proc/self/maps; do
	cat "$f" > /dev/null
done

LIST="$DIR/tests.list"
if [ ! -r "$LIST" ]; then
	echo "init.sh: no $LIST: build the selftests first (make -C selftests)"
	poweroff
fi

# the programs to run, in order, and their descriptions (desc_1, ...):
# every command started inside UML costs tens of ms (grep, cut, date),
# so the loop below starts none it can do without
names=
k=0
while IFS='	' read -r name desc; do
	case "$name" in
	$FILTER)
		names="$names $name"
		k=$((k + 1))
		eval "desc_$k=\$desc" ;;
	esac
done < "$LIST"
set -f
set -- $names
set +f

# The programs' output, indented by 4; before each test's RUN line and
# result line, the guest's clock as "# tgtsim-time: S" (tgtsim's per-test
# durations; kselftest_harness flushes before each test's fork, so a line
# comes through when it is printed): tgt_indent (C, built with the
# programs), else perl (0.34 s to start in UML, per program), else
# indented only.
if [ -x "$DIR/tgt_indent" ]; then
	indent() { "$DIR/tgt_indent"; }
elif command -v perl >/dev/null 2>&1; then
	indent() {
		perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC -ne 'BEGIN { $| = 1 }
			printf("    # tgtsim-time: %.6f\n", clock_gettime(CLOCK_MONOTONIC))
				if /^#\s+RUN\s|^(?:not )?ok \d+ /;
			print "    $_"'
	}
else
	indent() { sed -u 's/^/    /'; }
fi

echo "KTAP version 1"
echo "# tgtsim selftests: $# programs from $DIR, seed $tgtsim_seed, timeout ${TIMEOUT}s, root $(root_mode), scratch ${TMPDIR:-none}, out ${TGTSIM_OUT:-none}"
echo "1..$#"
exec 4>&1
n=0
for name in "$@"; do
	n=$((n + 1))
	eval "desc=\$desc_$n"
	echo "    KTAP version 1"
	echo "    # Subtest: $name"
	echo "    # $name: $desc"
	read -r up rest < /proc/uptime
	start=${up%.*}
	# The program runs in a session of its own (setsid: no fork, as a
	# background job is not a group leader, so the session id is $!),
	# under timeout(1). kselftest_harness puts each test in a process
	# group of its own: whatever of the session is left when the program
	# ended is killed, or it would keep the pipe to sed open. The exit
	# status comes out on fd 3, the output goes indented to the console
	# (fd 4). KSFT_TAP_LEVEL: the program prints no second version line.
	status=$( { {
		KSFT_TAP_LEVEL=1 setsid timeout -k 10 "$TIMEOUT" "$DIR/$name" \
			</dev/null 2>&1 3>&- 4>&- &
		pid=$!
		wait $pid
		st=$?
		pkill -KILL -s "$pid" 2>/dev/null
		echo $st >&3; } | indent >&4; } 3>&1 )
	read -r up rest < /proc/uptime
	secs=$(( ${up%.*} - start ))
	case "$status" in
	0)	echo "ok $n $name" ;;
	4)	echo "ok $n $name # SKIP" ;;
	124|137)
		echo "    # $name: timed out after ${TIMEOUT}s (killed)"
		echo "not ok $n $name # TIMEOUT ${TIMEOUT}s" ;;
	*)	echo "not ok $n $name # exit=$status" ;;
	esac
	echo "# $name: ${secs}s"
done
# kernels with kmemleak (debug profile): its report of what is left
# unreferenced goes to the console (nothing when there is no leak).
# kmemleak ignores objects younger than 5 s, so the last test's objects
# are given that age first (a threshold of kmemleak, not a wait for the
# tests: they have all ended); two scans, as one scan can report an
# object whose last reference was in flight.
if [ -w /sys/kernel/debug/kmemleak ]; then
	sleep 6
	echo scan > /sys/kernel/debug/kmemleak
	echo scan > /sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak
fi
echo "# tgtsim selftests: done"
poweroff
