#!/usr/bin/env bash
# The figures `lamina stream` is judged by, measured from the outside: the printers are
# ../shared/tools/printer_emu.py (Marlin's host protocol with its planner, seeded
# faults) and, when a Python with OctoPrint is found, OctoPrint's own virtual printer
# (../shared/tools/octo_pty.py); what they executed is compared with the file by
# ../shared/tools/stream_check.py. lamina runs with its defaults.
#
#  1. an 8,000-command job with 5% corrupted lines, 1% lost oks, 2% noise and a 4-slot
#     buffer, without ADVANCED_OK, against the same job fault-free: wall time, ratio,
#     and lamina's CPU time over wall time (getrusage of the lamina process alone);
#  2. a board reset at 40% of a 3,000-command job, then --resume: lost and doubled;
#  3. OctoPrint's virtual printer with its default faults: executed exactly or not;
#  4. a binary STL and a port with nothing on it: refused, and how fast (the limit is
#     --banner-wait + 2 s; the default banner wait is 5 s).
#
#   benches/stream.sh            all of it (about three minutes)
#   benches/stream.sh cpu        only the 8,000-command runs
#   LAMINA_OCTOPRINT_PYTHON=/path/to/venv/bin/python benches/stream.sh
set -euo pipefail
what=${1:-all}
cd "$(dirname "$0")/.."
tools=$(realpath ../shared/tools)
for t in printer_emu.py stream_check.py make_test_gcode.py; do
    [ -f "$tools/$t" ] || { echo "no $t in $tools" >&2; exit 1; }
done
cargo build --release -q
lamina=$(realpath target/release/lamina)
work=$(mktemp -d)
emu_pid=
cleanup() {
    [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# timed NAME CMD...: run CMD; write "wall_s cpu_s exit_code" of it to $work/NAME.time
# (CPU is user + system time of CMD and its children, from getrusage).
timed() {
    local name=$1
    shift
    python3 - "$work/$name.time" "$@" <<'EOF'
import resource, subprocess, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
t = time.monotonic()
with open(out + ".stdout", "w") as so, open(out + ".stderr", "w") as se:
    rc = subprocess.call(cmd, stdout=so, stderr=se)
wall = time.monotonic() - t
r = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(out, "w") as f:
    f.write(f"{wall:.3f} {r.ru_utime + r.ru_stime:.3f} {rc}\n")
EOF
}

# start_emu PYTHON SCRIPT ARGS...: start a printer, wait for its port ($port).
start_emu() {
    local python=$1 script=$2
    shift 2
    rm -f "$work/port" "$work/exec.log"
    "$python" "$tools/$script" --port-file "$work/port" --log "$work/exec.log" \
        --idle-timeout 120 "$@" >/dev/null 2>"$work/emu.stderr" &
    emu_pid=$!
    for _ in $(seq 600); do
        [ -s "$work/port" ] && break
        sleep 0.05
    done
    [ -s "$work/port" ] || { echo "$script published no port" >&2; exit 1; }
    port=$(cat "$work/port")
}

# stop_emu: stop the printer (it logs what it still had planned).
stop_emu() {
    kill "$emu_pid" 2>/dev/null || true
    wait "$emu_pid" 2>/dev/null || true
    emu_pid=
}

# check JOB ARGS...: stream_check.py's verdict, "exact" / "passed" or "NOT exact" /
# "failed", then "lost N doubled N commands N".
check() {
    local job=$1
    shift
    python3 "$tools/stream_check.py" "$job" "$work/exec.log" "$@" --json >"$work/check.json" || true
    python3 - "$work/check.json" <<'EOF'
import json, sys
v = json.load(open(sys.argv[1]))
verdict = ("passed" if v["passed"] else "failed") if "passed" in v else (
    "exact" if v["exact"] else "NOT exact")
print(f"{verdict}: lost {v['lost']} doubled {v['doubled']} commands {v['expected_commands']}")
EOF
}

# ratio A B: A / B with two decimals; percent A B: 100 A / B with one.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
percent() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", 100 * a / b }'; }

faults=(--bufsize 4 --corrupt 0.05 --drop-ok 0.01 --noise 0.02 --seed 7)

if [ "$what" = all ] || [ "$what" = cpu ]; then
    python3 "$tools/make_test_gcode.py" "$work/job8k.gcode" 7950 >/dev/null
    echo "1. 8,000-command job, moves 3 ms each in the planner, no ADVANCED_OK"
    for run in clean faulty; do
        args=(--move-time 0.003)
        [ $run = faulty ] && args+=("${faults[@]}")
        start_emu python3 printer_emu.py "${args[@]}"
        timed "$run" "$lamina" stream "$work/job8k.gcode" --port "$port" -q
        stop_emu
        read -r wall cpu rc <"$work/$run.time"
        printf '   %-7s %6.1f s wall, lamina %5.2f s CPU = %s%% of a core, exit %s, %s\n' \
            "$run" "$wall" "$cpu" "$(percent "$cpu" "$wall")" "$rc" \
            "$(check "$work/job8k.gcode")"
    done
    read -r clean _ _ <"$work/clean.time"
    read -r faulty _ _ <"$work/faulty.time"
    echo "   with faults / fault-free: $(ratio "$faulty" "$clean")x (at most 1.5x)"
fi

if [ "$what" = all ] || [ "$what" = reset ]; then
    python3 "$tools/make_test_gcode.py" "$work/job3k.gcode" 2970 >/dev/null
    echo "2. board reset after 1,200 of ~3,000 commands, then --resume"
    start_emu python3 printer_emu.py --move-time 0.01 --disconnect-after 1200 --reopen
    timed cut "$lamina" stream "$work/job3k.gcode" --port "$port" -q || true
    sleep 1.5
    port=$(cat "$work/port")
    timed resumed "$lamina" stream "$work/job3k.gcode" --port "$port" -q --resume
    stop_emu
    read -r _ _ rc_cut <"$work/cut.time"
    read -r _ _ rc <"$work/resumed.time"
    echo "   cut run exit $rc_cut, resumed run exit $rc: $(check "$work/job3k.gcode" --resumed)"
    echo "   (allowed: lost 0, doubled 24)"
fi

if [ "$what" = all ] || [ "$what" = octoprint ]; then
    python=${LAMINA_OCTOPRINT_PYTHON:-python3}
    echo "3. OctoPrint's virtual printer, its default faults"
    if "$python" -c 'import octoprint.plugins.virtual_printer' 2>/dev/null; then
        python3 "$tools/make_test_gcode.py" "$work/job150.gcode" 150 >/dev/null
        start_emu "$python" octo_pty.py
        timed octo "$lamina" stream "$work/job150.gcode" --port "$port" -q
        stop_emu
        read -r wall _ rc <"$work/octo.time"
        printf '   %.1f s, exit %s, %s\n' "$wall" "$rc" "$(check "$work/job150.gcode")"
    else
        echo "   skipped: $python cannot import OctoPrint (set LAMINA_OCTOPRINT_PYTHON)"
    fi
fi

if [ "$what" = all ] || [ "$what" = refuse ]; then
    echo "4. refusals (default --banner-wait 5 s: within 7 s)"
    stl=$(realpath ../shared/meshes/aorta_segment_01.stl)
    timed stl "$lamina" stream "$stl" --port /dev/null
    read -r wall _ rc <"$work/stl.time"
    printf '   binary STL: %.2f s, exit %s: %s\n' "$wall" "$rc" "$(head -c 200 "$work/stl.time.stderr")"
    # A pseudo-terminal whose other side never answers.
    python3 -c 'import os, sys, time
m, s = os.openpty()
print(os.ttyname(s), flush=True)
time.sleep(60)' >"$work/silent" &
    silent_pid=$!
    for _ in $(seq 100); do
        [ -s "$work/silent" ] && break
        sleep 0.05
    done
    python3 "$tools/make_test_gcode.py" "$work/small.gcode" 20 >/dev/null
    timed silent "$lamina" stream "$work/small.gcode" --port "$(cat "$work/silent")"
    kill "$silent_pid" 2>/dev/null || true
    read -r wall _ rc <"$work/silent.time"
    printf '   silent port: %.2f s, exit %s: %s\n' "$wall" "$rc" "$(tail -n 1 "$work/silent.time.stderr")"
fi
