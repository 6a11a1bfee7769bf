#!/usr/bin/env bash
# Slice one mesh with lamina per support strategy and judge each G-code with the
# independent checker (../shared/tools/gcode_check.py): shell coverage and spill (at the
# checker's 0.45 mm line width and at 0.225 mm, the suite's w/2 + 0.05 mm reach; spill
# counts all extrusion of the model's tool, support and prime tower included), the
# share of overhang points held at 45 degrees (two layers plus the contact gap below),
# floating support, and for soluble support the share of the contact in the soluble
# tool. The placement is given (lamina centres a model on the bed), not guessed.
#
#   benches/check.sh ../shared/meshes/skull_scan_yahoo_01.stl [none grid tree soluble]
set -euo pipefail
mesh=${1:?usage: benches/check.sh MESH.stl [none|grid|tree|soluble ...]}
shift
strategies=("$@")
[ ${#strategies[@]} -gt 0 ] || strategies=(none grid tree soluble)
[ -f "$mesh" ] || { echo "no such mesh: $mesh" >&2; exit 1; }
mesh=$(realpath "$mesh")
cd "$(dirname "$0")/.."
checker=../shared/tools/gcode_check.py
[ -f "$checker" ] || { echo "no checker at $checker" >&2; exit 1; }
cargo build --release -q
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '%-8s %8s %8s %8s %8s %8s %8s %10s %8s %6s\n' strategy coverage spill \
    cov/2 spill/2 held floating support_mm soluble s
for s in "${strategies[@]}"; do
    # Where lamina centres the model, and the held window: two 0.2 mm layers plus
    # the top contact gap (none under soluble support).
    case $s in
        none | grid | tree) args=(--support "$s"); center=110,110; bed=220,220; window=0.6 ;;
        soluble)
            args=(--printer dual-marlin --material pla --material pva --soluble)
            center=115,75; bed=230,150; window=0.4 ;;
        *) echo "strategy must be none, grid, tree or soluble, not '$s'" >&2; exit 1 ;;
    esac
    start=$(date +%s)
    ./target/release/lamina slice "$mesh" -o "$out/$s.gcode" -q "${args[@]}"
    common=("$out/$s.gcode" --mesh "$mesh" --json --center "$center" --bed "$bed"
        --overhang-angle 45 --support-window "$window" --support-samples 8000)
    [ "$s" = soluble ] && common+=(--soluble)
    python3 "$checker" "${common[@]}" >"$out/$s.json"
    python3 "$checker" "${common[@]}" --line-width 0.225 >"$out/$s.half.json"
    python3 - "$s" "$out/$s.json" "$out/$s.half.json" "$(($(date +%s) - start))" <<'EOF'
import json, sys
name, full, half, secs = sys.argv[1], *map(lambda p: json.load(open(p)), sys.argv[2:4]), sys.argv[4]
g, h, s = full["geometry"], half["geometry"], full["sanity"]
f = lambda v: "-" if v is None else f"{v:.4f}"
print(f"{name:<8} {f(g.get('coverage_mean')):>8} {f(g.get('spill_total_frac')):>8} "
      f"{f(h.get('coverage_mean')):>8} {f(h.get('spill_total_frac')):>8} "
      f"{f(g.get('supported_fraction')):>8} {f(s.get('floating_support_frac')):>8} "
      f"{s.get('support_length_mm', 0):>10.0f} {f(g.get('soluble_interface_fraction')):>8} {secs:>6}")
EOF
done
