#!/usr/bin/env bash
# Slice one mesh with lamina and, when installed, with PrusaSlicer at matching settings
# (0.2 mm layers, 2 perimeters, 15 % infill; support none, grid or tree, 55 degrees,
# 0.2 mm contact distance, 2 mm spacing); print wall time and peak memory side by side.
#
#   benches/compare.sh ../shared/meshes/skull_mri_seg14_1mm_voxel.stl [none|grid|tree]
set -euo pipefail
mesh=${1:?usage: benches/compare.sh MESH.stl [none|grid|tree]}
support=${2:-none}
[ -f "$mesh" ] || { echo "no such mesh: $mesh" >&2; exit 1; }
case $support in
    none) prusa_support=() ;;
    grid) prusa_support=(--support-material --support-material-style grid) ;;
    tree) prusa_support=(--support-material --support-material-style organic) ;;
    *) echo "support must be none, grid or tree, not '$support'" >&2; exit 1 ;;
esac
prusa_support+=(--support-material-threshold 55 --support-material-contact-distance 0.2
    --support-material-spacing 2)
cd "$(dirname "$0")/.."
cargo build --release -q
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
measure() { # name, command...
    local name=$1; shift
    if /usr/bin/time -f "%e %M" -o "$out/time" "$@" >"$out/log" 2>&1; then
        read -r wall kb <"$out/time"
        printf '%-14s %8.1f s %8.0f MB\n' "$name" "$wall" "$((kb / 1024))"
        results+=("$wall $kb")
    else
        printf '%-14s failed (see below)\n' "$name"; tail -5 "$out/log"
    fi
}
results=()
echo "mesh: $mesh, support: $support"
measure lamina ./target/release/lamina slice "$mesh" -o "$out/lamina.gcode" -q \
    --support "$support" --set layer_height=0.2 --set perimeters=2 --set fill_density=15
if command -v prusa-slicer >/dev/null 2>&1; then
    measure PrusaSlicer prusa-slicer --export-gcode "$mesh" --output "$out/prusa.gcode" \
        --layer-height 0.2 --perimeters 2 --fill-density 15% --center 110,110 "${prusa_support[@]}"
else
    echo "PrusaSlicer     not installed (apt-get install prusa-slicer to compare)"
fi
if [ "${#results[@]}" -eq 2 ]; then
    read -r lw lkb <<<"${results[0]}"
    read -r pw pkb <<<"${results[1]}"
    awk -v lw="$lw" -v pw="$pw" -v lkb="$lkb" -v pkb="$pkb" \
        'BEGIN { printf "lamina is %.1fx as fast, in %.0f %% of the memory\n", pw / lw, 100 * lkb / pkb }'
fi
