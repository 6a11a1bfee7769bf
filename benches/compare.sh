#!/usr/bin/env bash
# Slice one mesh with lamina and, when installed, with PrusaSlicer at matching settings
# (0.2 mm layers, 2 perimeters, 15 % infill; support none, grid or tree, 55 degrees,
# 0.2 mm contact distance, 2 mm spacing), in paired runs one after the other; print
# each run's wall time and peak memory, the medians side by side, and where lamina's
# time went (its --json timings of the median run).
#
#   benches/compare.sh ../shared/meshes/skull_mri_seg14_1mm_voxel.stl [none|grid|tree]
#   benches/compare.sh brain            # the 1.3M-triangle brain made in code
#   RUNS=5 benches/compare.sh brain     # paired runs (default 3)
set -euo pipefail
mesh=${1:?usage: benches/compare.sh MESH.stl|brain [none|grid|tree]}
support=${2:-none}
runs=${RUNS:-3}
case $support in
    none) prusa_support=() ;;
    grid) prusa_support=(--support-material --support-material-style grid) ;;
    tree) prusa_support=(--support-material --support-material-style organic) ;;
    *) echo "support must be none, grid or tree, not '$support'" >&2; exit 1 ;;
esac
prusa_support+=(--support-material-threshold 55 --support-material-contact-distance 0.2
    --support-material-spacing 2)
case $runs in
    '' | *[!0-9]* | 0) echo "RUNS must be a positive number, not '$runs'" >&2; exit 1 ;;
esac
if [ "$mesh" != brain ] && [ ! -f "$mesh" ]; then
    echo "no such mesh: $mesh" >&2; exit 1
fi
mesh_abs=$mesh
[ "$mesh" = brain ] || mesh_abs=$(cd "$(dirname "$mesh")" && pwd)/$(basename "$mesh")
cd "$(dirname "$0")/.."
cargo build --release -q
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if [ "$mesh" = brain ]; then
    cargo build --release -q --example brain_phantom
    ./target/release/examples/brain_phantom "$out/brain.stl" 2>/dev/null
    mesh_abs=$out/brain.stl
fi

measure() { # name run command...: one line, and "wall kb" appended to $out/name
    local name=$1 run=$2; shift 2
    if /usr/bin/time -f "%e %M" -o "$out/time" "$@" >"$out/log" 2>&1; then
        read -r wall kb <"$out/time"
        printf '%-12s run %d %8.1f s %7.0f MB\n' "$name" "$run" "$wall" "$((kb / 1024))"
        echo "$wall $kb $run" >>"$out/$name"
        return 0
    fi
    printf '%-12s run %d failed:\n' "$name" "$run"; tail -5 "$out/log"
    return 1
}
median() { # file column: the median of the column (the lower one of an even count)
    sort -n -k"$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END { print v[int((NR + 1) / 2)] }'
}

have_prusa=0
command -v prusa-slicer >/dev/null 2>&1 && have_prusa=1
echo "mesh: $mesh, support: $support, $runs paired run(s)"
for run in $(seq 1 "$runs"); do
    measure lamina "$run" ./target/release/lamina slice "$mesh_abs" -o "$out/lamina.gcode" -q \
        --support "$support" --set layer_height=0.2 --set perimeters=2 --set fill_density=15 \
        --json
    cp "$out/log" "$out/lamina-$run.json"
    if [ $have_prusa = 1 ]; then
        measure PrusaSlicer "$run" prusa-slicer --export-gcode "$mesh_abs" \
            --output "$out/prusa.gcode" --layer-height 0.2 --perimeters 2 --fill-density 15% \
            --center 110,110 "${prusa_support[@]}" || true
    fi
done
[ $have_prusa = 1 ] || echo "PrusaSlicer not installed (apt-get install prusa-slicer to compare)"

lw=$(median "$out/lamina" 1)
lkb=$(median "$out/lamina" 2)
printf 'median       lamina %.1f s %.0f MB' "$lw" "$((lkb / 1024))"
if [ -s "$out/PrusaSlicer" ]; then
    pw=$(median "$out/PrusaSlicer" 1)
    pkb=$(median "$out/PrusaSlicer" 2)
    printf ', PrusaSlicer %.1f s %.0f MB\n' "$pw" "$((pkb / 1024))"
    awk -v lw="$lw" -v pw="$pw" -v lkb="$lkb" -v pkb="$pkb" \
        'BEGIN { printf "lamina is %.1fx as fast, in %.0f %% of the memory\n", pw / lw, 100 * lkb / pkb }'
else
    echo
fi
# Where lamina's time went in its median run.
mrun=$(sort -n -k1 "$out/lamina" | awk '{ r[NR] = $3 } END { print r[int((NR + 1) / 2)] }')
python3 - "$out/lamina-$mrun.json" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1]))["timings"]
order = ["load", "weld", "check", "slice", "regions", "support", "plan", "write", "preview", "other"]
print("lamina stages (s, peak MB):", ", ".join(
    f"{k} {t['stages'][k]['seconds']:.2f} ({t['stages'][k]['peak_mb']:.0f})"
    for k in order if t["stages"][k]["seconds"] > 0.005))
print(f"stages add up to {sum(s['seconds'] for s in t['stages'].values()):.2f} s of {t['wall_s']:.2f} s")
EOF
