//! A clean, brain-like model made in code, for benchmarks everyone can reproduce: two
//! folded hemispheres over a cerebellum, contoured from a signed field the way a
//! segmentation is (see [`super::implicit`]). It is watertight and consistently
//! oriented, with the many small triangles and the winding outlines of a real cortex,
//! and about 1.3 million triangles at [`BRAIN_STEP`].

use super::Mesh;
use super::implicit::contour;

/// Grid step (mm) that gives the benchmark brain its 1.3 million triangles, the size
/// of the large segmentations labs receive.
pub const BRAIN_STEP: f64 = 0.8;

/// Half the width of one hemisphere, its length and its height (mm): an adult brain is
/// about 140 x 170 x 130 mm.
const HEMISPHERE: [f64; 3] = [33.0, 84.0, 62.0];
/// How far each hemisphere's centre lies from the midline (mm); the gap between them
/// is the longitudinal fissure.
const HEMISPHERE_OFFSET: f64 = 36.0;
/// Semi-axes (mm) and centre of the cerebellum, under the back of the hemispheres.
const CEREBELLUM: [f64; 3] = [48.0, 28.0, 22.0];
const CEREBELLUM_CENTRE: [f64; 3] = [0.0, -52.0, -40.0];
/// Depth of the folds (mm) and their wave number (radians per mm): gyri about 18 mm
/// apart, sulci about 3 mm deep. Their product stays below one, so the folds bend the
/// surface without pinching off bubbles: the model is one closed shell.
const FOLD_DEPTH: f64 = 1.6;
const FOLD_WAVE: f64 = 0.35;
/// Radius (mm) of the smooth union joining the hemispheres low down (the corpus
/// callosum) and the cerebellum to them.
const BLEND: f64 = 9.0;

/// The brain-like model contoured every `step` mm (smaller steps, more triangles:
/// about 1.3 million at [`BRAIN_STEP`], four times as many at half the step).
///
/// ```
/// let coarse = lamina::mesh::phantom::brain(4.0);
/// let r = lamina::mesh::check::check(&coarse);
/// assert!(r.watertight && r.winding_consistent && r.volume_mm3 > 0.0);
/// ```
pub fn brain(step: f64) -> Mesh {
    let margin = FOLD_DEPTH + 2.0 * step;
    let half_x = HEMISPHERE_OFFSET + HEMISPHERE[0] + margin;
    let min = [
        -half_x,
        -HEMISPHERE[1] - margin,
        CEREBELLUM_CENTRE[2] - CEREBELLUM[2] - margin,
    ];
    let max = [half_x, HEMISPHERE[1] + margin, HEMISPHERE[2] + margin];
    contour(field, min, max, step)
}

/// Negative inside the brain, positive outside, roughly the distance in mm near the
/// surface.
fn field(p: [f64; 3]) -> f64 {
    let [x, y, z] = p;
    let left = ellipsoid([x + HEMISPHERE_OFFSET, y, z], HEMISPHERE);
    let right = ellipsoid([x - HEMISPHERE_OFFSET, y, z], HEMISPHERE);
    let cerebellum = ellipsoid(
        [
            x - CEREBELLUM_CENTRE[0],
            y - CEREBELLUM_CENTRE[1],
            z - CEREBELLUM_CENTRE[2],
        ],
        CEREBELLUM,
    );
    // The hemispheres join only below their middle: the fissure stays open above.
    let join = BLEND * (0.2 + 0.8 * (0.5 - z / HEMISPHERE[2]).clamp(0.0, 1.0));
    let cerebrum = smooth_min(left, right, join);
    let folds = FOLD_DEPTH
        * (FOLD_WAVE * x + 0.7 * (FOLD_WAVE * 0.8 * y).sin()).sin()
        * (FOLD_WAVE * y).sin()
        * (FOLD_WAVE * z + 0.5 * (FOLD_WAVE * 1.3 * x).cos()).cos();
    smooth_min(cerebrum + folds, cerebellum + 0.4 * folds, BLEND)
}

/// Approximate signed distance to an axis-aligned ellipsoid with semi-axes `r` (the
/// usual first-order bound: exact on the axes, close elsewhere).
fn ellipsoid(p: [f64; 3], r: [f64; 3]) -> f64 {
    let k0 = (0..3).map(|a| (p[a] / r[a]).powi(2)).sum::<f64>().sqrt();
    let k1 = (0..3)
        .map(|a| (p[a] / (r[a] * r[a])).powi(2))
        .sum::<f64>()
        .sqrt();
    if k1 == 0.0 {
        return -r.iter().copied().fold(f64::INFINITY, f64::min);
    }
    k0 * (k0 - 1.0) / k1
}

/// A union of two fields rounded over `k` mm (the polynomial smooth minimum).
pub(crate) fn smooth_min(a: f64, b: f64, k: f64) -> f64 {
    let h = (0.5 + 0.5 * (b - a) / k).clamp(0.0, 1.0);
    b + (a - b) * h - k * h * (1.0 - h)
}
