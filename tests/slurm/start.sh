#!/usr/bin/env bash
# Start munge (unless one already answers), slurmctld and slurmd; record each PID under
# STATE_DIR/pids/ and wait until the node is idle. Run configure.sh first.
# Usage: tests/slurm/start.sh STATE_DIR     (needs root; on failure prints logs, stops, exits 1)
set -euo pipefail
state=$(realpath -m "${1:?usage: start.sh STATE_DIR}")
here=$(cd "$(dirname "$0")" && pwd)
pids=$state/pids
mkdir -p "$pids" "$state/log"

fail() {
    echo "slurm start failed: $*" >&2
    for f in "$state"/log/*.log; do
        [ -e "$f" ] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }
    done
    "$here/stop.sh" "$state" >&2 || true
    exit 1
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
    local limit=$1 what=$2
    shift 2
    local t0=$SECONDS
    until "$@" >/dev/null 2>&1; do
        [ $((SECONDS - t0)) -lt "$limit" ] || fail "timeout after ${limit}s waiting for $what"
        sleep 0.2
    done
}

munge_ok() { munge -n </dev/null | unmunge >/dev/null; }

# munge: its runtime dir, a key if none, the daemon run as the munge user.
if munge_ok 2>/dev/null; then
    echo "munge already running: using it, will not stop it"
else
    install -d -o munge -g munge -m 0755 /run/munge
    if [ ! -s /etc/munge/munge.key ]; then
        install -d -o munge -g munge -m 0700 /etc/munge
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=128 status=none
        chown munge:munge /etc/munge/munge.key
        chmod 0400 /etc/munge/munge.key
    fi
    rm -f /run/munge/munged.pid
    runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid \
        || fail "munged did not start"
    wait_for 10 "munged pid file" test -s /run/munge/munged.pid
    cp /run/munge/munged.pid "$pids/munged.pid"
    wait_for 10 "munge to answer" munge_ok
fi

# slurmctld and slurmd daemonise and write their own PID files (paths set in slurm.conf).
slurmctld || fail "slurmctld exited with $?"
wait_for 20 "slurmctld pid file" test -s "$pids/slurmctld.pid"
wait_for 20 "slurmctld to answer" sh -c 'scontrol ping | grep -q UP'
slurmd || fail "slurmd exited with $?"
wait_for 20 "slurmd pid file" test -s "$pids/slurmd.pid"
wait_for 30 "the node to be idle" sh -c 'sinfo -h -N -o %t | grep -qx idle'
echo "slurm up: munged=$(cat "$pids/munged.pid" 2>/dev/null || echo external)" \
    "slurmctld=$(cat "$pids/slurmctld.pid") slurmd=$(cat "$pids/slurmd.pid")"
