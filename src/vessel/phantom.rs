//! A lumen made in code, for the examples and tests of vessel walls: a parent artery
//! dividing into two branches, with a saccular aneurysm at the bifurcation's apex, cut
//! flat at its three ends the way a segmentation tool cuts a vessel out of a scan. It
//! is contoured from a signed field (see [`crate::mesh::implicit`]), so it has the
//! uneven small triangles of real segmentations, and it is watertight.

use nalgebra::Vector3;

use crate::mesh::Mesh;
use crate::mesh::implicit::contour;
use crate::mesh::phantom::smooth_min;

/// Grid step (mm) of the bundled lumen example: fine enough for a 1.3 mm branch.
pub const LUMEN_STEP: f64 = 0.25;

/// Where the parent artery starts (below the inlet cut) and where it divides, mm: it
/// leans, as arteries do, and so runs along no axis of the contouring grid (a vessel
/// along one would come out with long coplanar strips of faces down its side).
const INLET: [f64; 3] = [-1.4, -0.7, -1.0];
const BIFURCATION: [f64; 3] = [0.6, 0.5, 13.0];
/// Lumen radius of the parent artery, mm (a middle cerebral or basilar artery).
const PARENT_RADIUS: f64 = 1.9;
/// Branch directions (unit vectors once normalised), lumen radii and lengths, mm: the
/// branches leave at unequal angles and climb, so their undersides overhang.
const BRANCHES: [([f64; 3], f64, f64); 2] = [
    ([0.75, 0.15, 0.66], 1.5, 13.0),
    ([-0.85, -0.1, 0.52], 1.3, 12.0),
];
/// The aneurysm sac: its centre's offset from the bifurcation and its radius, mm. It
/// leans to one side, so it overhangs there.
const SAC_OFFSET: [f64; 3] = [0.6, 1.2, 3.6];
const SAC_RADIUS: f64 = 2.6;
/// Radius over which the vessels blend into each other, mm (a rounded carina).
const BLEND: f64 = 0.8;
/// Height of the inlet cut, mm.
const INLET_CUT: f64 = 0.5;

/// The lumen contoured every `step` mm ([`LUMEN_STEP`] for the bundled example).
///
/// ```
/// let m = lamina::vessel::phantom::lumen(0.5);
/// let r = lamina::mesh::check::check(&m);
/// assert!(r.watertight && r.volume_mm3 > 0.0);
/// ```
pub fn lumen(step: f64) -> Mesh {
    let (min, max) = bounds();
    let margin = 2.0 * step + BLEND;
    let mut mesh = contour(
        field,
        min.map(|v| v - margin),
        max.map(|v| v + margin),
        step,
    );
    // Contouring rounds the edge where a cut meets the vessel over about a grid step;
    // a segmentation tool's cut leaves it sharp. Points of that rounded edge go onto
    // the cut's plane.
    let cuts = cuts();
    for v in &mut mesh.vertices {
        let p = Vector3::from(v.map(f64::from));
        for (origin, normal, radius) in &cuts {
            let along = (p - origin).dot(normal);
            let radial = (p - origin - normal * along).norm();
            if along < 0.0 && along > -SHARPEN * step && radial < radius + step {
                *v = (p - normal * along).map(|c| c as f32).into();
            }
        }
    }
    mesh
}

/// How deep (in grid steps) below a cut the contour's rounded edge is flattened onto it.
const SHARPEN: f64 = 0.5;

/// The cuts ending the lumen: a point of each plane, its normal (out of the lumen) and
/// the radius of the vessel it cuts.
fn cuts() -> [(Vector3<f64>, Vector3<f64>, f64); 1 + BRANCHES.len()] {
    let b = Vector3::from(BIFURCATION);
    std::array::from_fn(|i| match i.checked_sub(1) {
        None => (
            Vector3::new(0.0, 0.0, INLET_CUT),
            -Vector3::z(),
            PARENT_RADIUS,
        ),
        Some(k) => {
            let (dir, r, len) = BRANCHES[k];
            let d = Vector3::from(dir).normalize();
            (b + d * len, d, r)
        }
    })
}

/// The box round every piece of the lumen, mm.
fn bounds() -> ([f64; 3], [f64; 3]) {
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    let mut add = |c: Vector3<f64>, r: f64| {
        for a in 0..3 {
            lo[a] = lo[a].min(c[a] - r);
            hi[a] = hi[a].max(c[a] + r);
        }
    };
    let b = Vector3::from(BIFURCATION);
    add(Vector3::from(INLET), PARENT_RADIUS);
    add(b, PARENT_RADIUS);
    for (dir, r, len) in BRANCHES {
        add(b + Vector3::from(dir).normalize() * len, r);
    }
    add(b + Vector3::from(SAC_OFFSET), SAC_RADIUS);
    (lo, hi)
}

/// Negative inside the lumen, roughly the distance in mm near its surface.
fn field(p: [f64; 3]) -> f64 {
    let p = Vector3::from(p);
    let b = Vector3::from(BIFURCATION);
    let mut f = capsule(p, Vector3::from(INLET), b, PARENT_RADIUS);
    for (dir, r, len) in BRANCHES {
        let d = Vector3::from(dir).normalize();
        // The branch runs a little past its cut, so the cut leaves a flat end.
        let end = b + d * (len + 1.0);
        f = smooth_min(f, capsule(p, b, end, r), BLEND);
    }
    let sac = (p - b - Vector3::from(SAC_OFFSET)).norm() - SAC_RADIUS;
    f = smooth_min(f, sac, BLEND);
    cuts()
        .iter()
        .map(|(origin, normal, _)| (p - origin).dot(normal))
        .fold(f, f64::max)
}

/// Distance from `p` to the segment `a`-`b`, less `r`.
fn capsule(p: Vector3<f64>, a: Vector3<f64>, b: Vector3<f64>, r: f64) -> f64 {
    let ab = b - a;
    let t = ((p - a).dot(&ab) / ab.norm_squared()).clamp(0.0, 1.0);
    (p - a - ab * t).norm() - r
}
