//! Overhang detection: the part of each layer the layer below does not hold.

use crate::geom::{self, ExPolygon, JoinType, scaled};
use crate::geom::{Point, Polygon};
use crate::layer::skins::bridge_angle;
use crate::mesh::Mesh;
use crate::slice::Layer;
use nalgebra::Vector3;

/// Overhangs narrower than this (mm) are numerical noise. (Real overhangs just past the
/// threshold angle are thin rings on each layer: they must stay.)
const SLIVER_WIDTH: f64 = 0.01;

/// A bridge is anchored on both ends along at least this fraction of its probe length.
const BRIDGE_ANCHORED_FRACTION: f64 = 0.75;

/// Bridges longer than this (mm, across their span) are supported anyway.
const MAX_BRIDGE_SPAN: f64 = 15.0;

/// Overhang thresholds are taken within these bounds, degrees: at 0 a layer could
/// step out without end (the tangent is 0), at 90 not at all (it is infinite).
const THRESHOLD_RANGE_DEG: (f64, f64) = (1.0, 89.0);

/// How far outside an overhang a point of a downward face may lie and still be over
/// it, mm: the overhang is cut from simplified outlines, which move by a few
/// hundredths of a millimetre.
const FACE_OVER_OVERHANG: f64 = 0.05;

/// How much a layer may stick out past the layer below without support, mm, for an
/// overhang threshold given in degrees from the horizontal (as PrusaSlicer defines it):
/// a surface steeper than the threshold steps out less than this per layer.
///
/// ```
/// let d = lamina::support::overhang::allowed_step(0.2, 45.0);
/// assert!((d - 0.2).abs() < 1e-12);
/// ```
pub fn allowed_step(layer_height: f64, threshold_deg: f64) -> f64 {
    let a = threshold_deg
        .clamp(THRESHOLD_RANGE_DEG.0, THRESHOLD_RANGE_DEG.1)
        .to_radians();
    layer_height / a.tan()
}

/// The overhangs of every layer (empty for the first layer, which rests on the bed).
///
/// A layer's overhang is what the layer below does not hold (the layer sticks out
/// further than the threshold allows), joined, when `mesh` is given, by the bands of
/// the model's own surface that face down flatter than the threshold between the two
/// layers' cutting planes (see [`surface_bands`]): a surface just flatter than the
/// threshold steps out by hardly more than the allowed step on each layer, too little
/// for the layers alone to show it reliably.
///
/// With `support_bridges` false, overhang regions that span between two held sides
/// (bridges, shorter than [`MAX_BRIDGE_SPAN`]) are left out.
pub fn detect(
    layers: &[Layer],
    mesh: Option<&Mesh>,
    threshold_deg: f64,
    min_area: f64,
    support_bridges: bool,
    line_width: f64,
) -> Vec<Vec<ExPolygon>> {
    use rayon::prelude::*;
    let bands = mesh.map(|m| surface_bands(m, layers, threshold_deg));
    (0..layers.len())
        .into_par_iter()
        .map(|i| {
            if i == 0 || layers[i].islands.is_empty() {
                return Vec::new();
            }
            let below = &layers[i - 1].islands;
            let step = allowed_step(layers[i].height, threshold_deg);
            let held = geom::offset(below, scaled(step) as f64, JoinType::Miter);
            let raw = geom::difference(&layers[i].islands, &held);
            let half = scaled(SLIVER_WIDTH) as f64 / 2.0;
            let shrunk = geom::offset(&raw, -half, JoinType::Miter);
            let mut over = geom::offset(&shrunk, half, JoinType::Miter);
            if let Some(band) = bands.as_ref().map(|b| &b[i]).filter(|b| !b.is_empty()) {
                // The surface's bands over the layer below's own area are inside the
                // model (faces of overlapping shells, or flipped ones): not overhangs.
                let open = geom::difference(band, below);
                let open = geom::offset(&open, -half, JoinType::Miter);
                let open = geom::offset(&open, half, JoinType::Miter);
                if !open.is_empty() {
                    over.extend(open);
                    over = geom::union(&over, geom::FillRule::NonZero);
                }
            }
            over.retain(|o| large_enough(o.area_mm2(), min_area));
            if !support_bridges {
                over.retain(|o| !is_bridge(o, below, line_width));
            }
            over
        })
        .collect()
}

/// Whether a layer's overhang piece of `area_mm2` is supported, with pieces under
/// `min_area` mm² (the profile's `support_min_area`) left out: the one rule for the
/// support generator and for what `lamina orient` figures it will build.
pub fn large_enough(area_mm2: f64, min_area: f64) -> bool {
    area_mm2 >= min_area
}

/// For every layer, the XY footprint of the model's surface that faces down flatter than
/// `threshold_deg` from the horizontal and lies between the layer below's cutting plane
/// and this layer's (the first layer rests on the bed and gets none). This is the
/// surface support must hold, measured on the triangles themselves.
pub fn surface_bands(mesh: &Mesh, layers: &[Layer], threshold_deg: f64) -> Vec<Vec<ExPolygon>> {
    use rayon::prelude::*;
    let n = layers.len();
    if n < 2 {
        return vec![Vec::new(); n];
    }
    let cos_t = threshold_deg.clamp(0.0, 90.0).to_radians().cos();
    let planes: Vec<f64> = layers.iter().map(|l| l.slice_z).collect();
    // Faces facing down flatter than the threshold, bucketed by the slabs they cross
    // (slab i runs from plane i - 1 to plane i).
    let mut counts = vec![0usize; n + 1];
    let mut ranges: Vec<(u32, usize, usize)> = Vec::new();
    for (fi, f) in mesh.faces.iter().enumerate() {
        let [a, b, c] = f.map(|v| Vector3::from(mesh.vertices[v as usize].map(f64::from)));
        let nrm = (b - a).cross(&(c - a));
        let len = nrm.norm();
        if len <= 0.0 || nrm.z >= -cos_t * len {
            continue;
        }
        let zmin = a.z.min(b.z).min(c.z);
        let zmax = a.z.max(b.z).max(c.z);
        let first = planes.partition_point(|&p| p <= zmin).max(1);
        let end = (planes.partition_point(|&p| p < zmax) + 1).min(n);
        if first < end {
            ranges.push((fi as u32, first, end));
            for k in first..end {
                counts[k + 1] += 1;
            }
        }
    }
    for k in 0..n {
        counts[k + 1] += counts[k];
    }
    let mut cursor = counts.clone();
    let mut slab_faces = vec![0u32; counts[n]];
    for &(fi, first, end) in &ranges {
        for k in first..end {
            slab_faces[cursor[k]] = fi;
            cursor[k] += 1;
        }
    }
    (0..n)
        .into_par_iter()
        .map(|i| {
            let faces = &slab_faces[counts[i]..counts[i + 1]];
            if faces.is_empty() {
                return Vec::new();
            }
            let (lo, hi) = (planes[i - 1], planes[i]);
            let pieces: Vec<Polygon> = faces
                .iter()
                .filter_map(|&fi| {
                    let tri =
                        mesh.faces[fi as usize].map(|v| mesh.vertices[v as usize].map(f64::from));
                    let mut poly = Polygon::new(
                        clip_to_slab(tri, lo, hi)
                            .into_iter()
                            .map(|p| Point::from_mm(p[0], p[1]))
                            .collect(),
                    );
                    if poly.points.len() < 3 {
                        return None;
                    }
                    if !poly.is_ccw() {
                        poly.reverse();
                    }
                    Some(poly)
                })
                .collect();
            geom::union(&pieces, geom::FillRule::NonZero)
        })
        .collect()
}

/// A point of the model's surface that support must hold, with the surface's outward
/// unit normal there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SurfacePoint {
    /// Position, mm.
    pub pos: [f64; 3],
    /// Outward unit normal (facing down).
    pub normal: [f64; 3],
}

/// Overhangs within about this distance (mm) of points on downward faces are those
/// faces' own; what lies further out comes from the layers alone.
const FLAT_MARGIN: f64 = 0.3;

/// Points about `spacing` mm apart over everything support must hold: on the faces of
/// `mesh` that face down flatter than `threshold_deg` (where they lie over a layer's
/// overhang, `overhangs` from [`detect`]), and on the rest of each layer's overhang
/// (found by the layers alone: a gap in a broken mesh, a flipped face) facing straight
/// down at the layer's underside.
pub fn surface_points(
    mesh: Option<&Mesh>,
    layers: &[Layer],
    overhangs: &[Vec<ExPolygon>],
    threshold_deg: f64,
    spacing: f64,
) -> Vec<SurfacePoint> {
    use rayon::prelude::*;
    let n = layers.len().min(overhangs.len());
    if n < 2 {
        return Vec::new();
    }
    let planes: Vec<f64> = layers.iter().map(|l| l.slice_z).collect();
    let cos_t = threshold_deg.clamp(0.0, 90.0).to_radians().cos();
    // Points on the faces, bucketed by the slab they lie in.
    let mut on_faces: Vec<Vec<SurfacePoint>> = vec![Vec::new(); n];
    if let Some(mesh) = mesh {
        for f in &mesh.faces {
            let [a, b, c] = f.map(|v| Vector3::from(mesh.vertices[v as usize].map(f64::from)));
            let (u, v) = (b - a, c - a);
            let nrm = u.cross(&v);
            let len = nrm.norm();
            if len <= 0.0 || nrm.z >= -cos_t * len {
                continue;
            }
            let normal: [f64; 3] = (nrm / len).into();
            let longest = u.norm().max(v.norm()).max((c - b).norm());
            let k = (longest / spacing).ceil().max(1.0) as usize;
            for i in 0..k {
                for j in 0..k - i {
                    let (s, t) = (
                        (i as f64 + 1.0 / 3.0) / k as f64,
                        (j as f64 + 1.0 / 3.0) / k as f64,
                    );
                    let p = a + s * u + t * v;
                    let slab = planes.partition_point(|&z| z < p.z);
                    if slab >= 1 && slab < n {
                        on_faces[slab].push(SurfacePoint {
                            pos: p.into(),
                            normal,
                        });
                    }
                }
            }
        }
    }
    let tol = scaled(FACE_OVER_OVERHANG) as f64;
    (1..n)
        .into_par_iter()
        .flat_map_iter(|i| {
            let mut out = Vec::new();
            if overhangs[i].is_empty() {
                return out;
            }
            // Face points over the overhang (faces over the model below are inside it).
            let grown = geom::offset(&overhangs[i], tol, JoinType::Miter);
            let boxes: Vec<_> = grown.iter().map(ExPolygon::bbox).collect();
            let inside = |x: f64, y: f64| {
                let q = Point::from_mm(x, y);
                grown
                    .iter()
                    .zip(&boxes)
                    .any(|(e, b)| b.is_some_and(|b| b.contains(q)) && e.contains(q))
            };
            // Face points over the overhang, in a grid of FLAT_MARGIN cells.
            let key = |x: f64, y: f64| {
                (
                    (x / FLAT_MARGIN).floor() as i64,
                    (y / FLAT_MARGIN).floor() as i64,
                )
            };
            let mut cells: std::collections::HashSet<(i64, i64)> = Default::default();
            for p in &on_faces[i] {
                if inside(p.pos[0], p.pos[1]) {
                    out.push(*p);
                    cells.insert(key(p.pos[0], p.pos[1]));
                }
            }
            // The rest of the overhang (no face point near), flat at the layer's
            // underside.
            let near_face = |x: f64, y: f64| {
                let (kx, ky) = key(x, y);
                (kx - 1..=kx + 1).any(|a| (ky - 1..=ky + 1).any(|b| cells.contains(&(a, b))))
            };
            let z = layers[i - 1].z;
            for e in &overhangs[i] {
                for (x, y) in lattice_points(e, spacing) {
                    if !near_face(x, y) {
                        out.push(SurfacePoint {
                            pos: [x, y, z],
                            normal: [0.0, 0.0, -1.0],
                        });
                    }
                }
            }
            out
        })
        .collect()
}

/// Points of a square lattice of `spacing` inside `area`, and its rings walked at
/// `spacing` (thin bands the lattice misses), mm.
pub fn lattice_points(area: &ExPolygon, spacing: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let Some(b) = area.bbox() else {
        return out;
    };
    let (bx0, by0) = b.min.to_mm();
    let (bx1, by1) = b.max.to_mm();
    let (c0, c1) = (
        (bx0 / spacing).floor() as i64,
        (bx1 / spacing).ceil() as i64,
    );
    let (r0, r1) = (
        (by0 / spacing).floor() as i64,
        (by1 / spacing).ceil() as i64,
    );
    for r in r0..=r1 {
        for c in c0..=c1 {
            let p = (c as f64 * spacing, r as f64 * spacing);
            if area.contains(Point::from_mm(p.0, p.1)) {
                out.push(p);
            }
        }
    }
    for ring in area.rings() {
        let mut walked = 0.0;
        let mut next = 0.0;
        for (a, bp) in ring.edges() {
            let len = a.distance(bp) / geom::SCALE;
            while next <= walked + len && len > 0.0 {
                out.push(a.lerp(bp, (next - walked) / len).to_mm());
                next += spacing;
            }
            walked += len;
        }
    }
    out
}

/// The part of a triangle between the planes `z = lo` and `z = hi`, as a convex
/// polygon (mm). Points on an edge are computed from the edge's corners in a fixed
/// order, so faces sharing the edge get the same point.
pub(crate) fn clip_to_slab(tri: [[f64; 3]; 3], lo: f64, hi: f64) -> Vec<[f64; 3]> {
    let pts = tri.to_vec();
    let cut = |poly: Vec<[f64; 3]>, z: f64, keep_above: bool| -> Vec<[f64; 3]> {
        let inside = |p: &[f64; 3]| if keep_above { p[2] >= z } else { p[2] <= z };
        let mut out = Vec::with_capacity(poly.len() + 2);
        for k in 0..poly.len() {
            let (a, b) = (poly[k], poly[(k + 1) % poly.len()]);
            if inside(&a) {
                out.push(a);
            }
            if inside(&a) != inside(&b) {
                let (p, q) = if (a[0], a[1], a[2]) < (b[0], b[1], b[2]) {
                    (a, b)
                } else {
                    (b, a)
                };
                let t = (z - p[2]) / (q[2] - p[2]);
                out.push([p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1]), z]);
            }
        }
        out
    };
    let above = cut(pts, lo, true);
    if above.len() < 3 {
        return Vec::new();
    }
    cut(above, hi, false)
}

/// Whether an overhang spans between held sides: most of the lines across it in its
/// best direction rest on the layer below at both ends, and the span is short.
pub fn is_bridge(region: &ExPolygon, below: &[ExPolygon], line_width: f64) -> bool {
    if below.is_empty() {
        return false;
    }
    let angle = bridge_angle(region, below, line_width);
    let Some(bb) = region.bbox() else {
        return false;
    };
    // Span along the bridge direction.
    let (c, s) = (angle.cos(), angle.sin());
    let proj: Vec<f64> = region
        .contour
        .points
        .iter()
        .map(|p| p.x as f64 * c + p.y as f64 * s)
        .collect();
    let span = proj.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
        - proj.iter().cloned().fold(f64::INFINITY, f64::min);
    if span / geom::SCALE > MAX_BRIDGE_SPAN {
        return false;
    }
    anchored_fraction(region, below, angle, line_width, &bb) >= BRIDGE_ANCHORED_FRACTION
}

/// Fraction of probe-line length across `region` at `angle` whose both ends rest on
/// `below` (grown by a line width).
fn anchored_fraction(
    region: &ExPolygon,
    below: &[ExPolygon],
    angle: f64,
    line_width: f64,
    bb: &geom::BBox,
) -> f64 {
    use crate::geom::Polyline;
    let w = scaled(line_width) as f64;
    let grown = geom::offset(std::slice::from_ref(region), w, JoinType::Miter);
    let anchors = geom::offset(below, w, JoinType::Miter);
    let center = bb.center();
    let radius = (bb.size().x as f64).hypot(bb.size().y as f64) / 2.0 + w;
    let spacing = scaled(crate::layer::skins::BRIDGE_PROBE_SPACING) as f64;
    let lines = Polyline::parallel_lines(center, radius, spacing, angle);
    let pieces = geom::clip_polylines(&lines, &grown);
    let (mut held, mut total) = (0.0, 0.0);
    for p in &pieces {
        let (Some(a), Some(b)) = (p.first(), p.last()) else {
            continue;
        };
        let len = p.length();
        total += len;
        if anchors.iter().any(|x| x.contains(a)) && anchors.iter().any(|x| x.contains(b)) {
            held += len;
        }
    }
    if total > 0.0 { held / total } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::shapes::{cuboid, merge, uv_sphere};
    use crate::slice::{SliceOptions, layer_specs, slice_mesh};

    fn layers_of(mesh: &crate::mesh::Mesh, h: f64) -> Vec<Layer> {
        slice_mesh(mesh, &layer_specs(0.2, 0.2, h), &SliceOptions::default()).0
    }

    #[test]
    fn t_shape_overhangs_only_under_the_bar() {
        // Stem 4x4 from 0 to 10, bar 20x4 from 10 to 12.
        let t = merge(&[
            cuboid([8.0, 0.0, 0.0], [12.0, 4.0, 10.0]),
            cuboid([0.0, 0.0, 10.0], [20.0, 4.0, 12.0]),
        ]);
        let layers = layers_of(&t, 12.0);
        let over = detect(&layers, None, 55.0, 0.1, true, 0.45);
        for (i, o) in over.iter().enumerate() {
            let area: f64 = o.iter().map(ExPolygon::area_mm2).sum();
            if i == 50 {
                // The bar's first layer: 16 x 4 beyond the stem, less the allowed step.
                assert!((area - 64.0).abs() < 2.0, "{area}");
            } else {
                assert!(area < 1e-6, "layer {i}: {area}");
            }
        }
    }

    #[test]
    fn sphere_overhangs_below_the_threshold_angle_only() {
        let r = 10.0;
        let layers = layers_of(&uv_sphere([0.0, 0.0, r], r, 90, 180), 2.0 * r);
        let over = detect(&layers, None, 45.0, 0.01, true, 0.45);
        for (i, o) in over.iter().enumerate().skip(1) {
            let z = layers[i].slice_z - r;
            let area: f64 = o.iter().map(ExPolygon::area_mm2).sum();
            // Lower hemisphere surfaces flatter than 45° (|z| > r cos 45°) overhang.
            if z < -r * 0.75f64 {
                assert!(area > 0.0, "z {z}: no overhang");
            }
            if z > -r * 0.65 {
                assert!(area < 1e-6, "z {z}: {area}");
            }
        }
    }

    /// A cone standing on its tip, its side `slope_deg` from the horizontal, 10 mm tall,
    /// closed by a flat top.
    fn cone_on_its_tip(slope_deg: f64) -> crate::mesh::Mesh {
        let (h, segs) = (10.0f64, 96);
        let r = h / slope_deg.to_radians().tan();
        let mut vertices = vec![[0.0f32, 0.0, 0.0], [0.0, 0.0, h as f32]];
        let mut faces = Vec::new();
        for k in 0..segs {
            let a = k as f64 / segs as f64 * std::f64::consts::TAU;
            vertices.push([(r * a.cos()) as f32, (r * a.sin()) as f32, h as f32]);
            let (i, j) = (2 + k as u32, 2 + ((k + 1) % segs) as u32);
            faces.push([0, j, i]);
            faces.push([1, i, j]);
        }
        crate::mesh::Mesh { vertices, faces }
    }

    #[test]
    fn surfaces_just_flatter_than_the_threshold_are_found_on_every_layer() {
        // 43°: the side steps out 0.214 mm a layer, 0.014 past the allowed 0.2 mm.
        let steep = cone_on_its_tip(43.0);
        let layers = layers_of(&steep, 10.0);
        let with = detect(&layers, Some(&steep), 45.0, 0.1, true, 0.45);
        for (i, o) in with.iter().enumerate().skip(2).take(40) {
            let area: f64 = o.iter().map(ExPolygon::area_mm2).sum();
            // The band between the cutting planes: mid circumference × 0.214 mm.
            let t = 43f64.to_radians().tan();
            let want = std::f64::consts::TAU * (layers[i].slice_z - 0.1) / t * 0.2 / t;
            assert!(
                (area - want).abs() < 0.05 * want,
                "layer {i}: {area} vs {want}"
            );
            // The layers alone see only the 0.014 mm the side steps past the allowed
            // step.
            let alone: f64 = detect(&layers[i - 1..=i], None, 45.0, 0.0, true, 0.45)[1]
                .iter()
                .map(ExPolygon::area_mm2)
                .sum();
            assert!(alone < 0.2 * want, "layer {i}: {alone}");
        }
        // 47° is steeper than the threshold: nothing.
        let steeper = cone_on_its_tip(47.0);
        let layers = layers_of(&steeper, 10.0);
        let none = detect(&layers, Some(&steeper), 45.0, 0.1, true, 0.45);
        assert!(none.iter().all(Vec::is_empty));
    }

    #[test]
    fn short_bridge_is_recognised() {
        // Two pillars with a 10 mm gap and a slab over them.
        let arch = merge(&[
            cuboid([0.0, 0.0, 0.0], [5.0, 10.0, 10.0]),
            cuboid([15.0, 0.0, 0.0], [20.0, 10.0, 10.0]),
            cuboid([0.0, 0.0, 10.0], [20.0, 10.0, 12.0]),
        ]);
        let layers = layers_of(&arch, 12.0);
        let with = detect(&layers, None, 55.0, 0.1, true, 0.45);
        let without = detect(&layers, None, 55.0, 0.1, false, 0.45);
        assert_eq!(with[50].len(), 1);
        assert!(without[50].is_empty());
    }
}
