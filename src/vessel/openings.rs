//! Where a lumen opens: the ends of a vessel segmentation.
//!
//! Segmentation tools end a vessel in one of two ways: they clip the surface and leave
//! it open (a boundary loop of edges used by one face), or they close the cut with flat
//! faces (a planar cap). Both are found here as an [`Opening`]: a plane with the side
//! the lumen leaves through and the radius of its rim. A hole punched in the side of a
//! lumen by a bad mesh is a boundary loop too, but it lies along the surface rather than
//! across the vessel, and is told apart by that.

use nalgebra::{Matrix3, SymmetricEigen, Vector3};

use crate::mesh::Mesh;
use crate::mesh::topology::{EdgeMap, corners, key_vertices, tet_volume, tri_area};

/// Faces whose normals differ by less than this (cosine of about 2°) can be one cap.
const CAP_NORMAL_COS: f64 = 0.9994;
/// Faces whose centres lie farther than this from a cap's plane are not on it, mm.
const CAP_PLANE_TOLERANCE: f64 = 0.05;
/// Coplanar faces covering more than this are a cap, mm²: a segmentation cut through a
/// vessel of 1.4 mm lumen diameter or more, the size the independent wall checker
/// counts as a cap too.
pub const CAP_MIN_AREA: f64 = 1.5;
/// A cap fills at least this share of the circle round its centre through its farthest
/// point: a cut through a vessel is a round or oval disc, while the long coplanar
/// strips that a straight vessel contoured on a grid has along its side fill almost
/// none of theirs.
const CAP_MIN_FILL: f64 = 0.2;
/// A boundary loop whose neighbouring faces face along its plane's normal by more than
/// this (mean |cosine|) lies along the surface: a hole in the side, not a vessel end.
const END_MAX_ALIGNMENT: f64 = 0.5;

/// How an opening was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpeningKind {
    /// A loop of boundary edges: the surface was clipped and left open.
    Open,
    /// Flat faces closing a cut.
    Cap,
    /// The bottom or top plane of the lumen (`--vessel-open z`).
    Plane,
}

/// One end of a lumen: the plane it opens through.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Opening {
    /// How it was found.
    pub kind: OpeningKind,
    /// A point of the plane (the rim's centre), mm.
    pub centre: [f64; 3],
    /// Unit normal of the plane, pointing out of the lumen.
    pub normal: [f64; 3],
    /// Largest distance of the rim from the centre, in the plane, mm (infinite for
    /// [`OpeningKind::Plane`]).
    pub radius: f64,
    /// Area of the cap, or of the rim's projection on the plane, mm².
    pub area: f64,
}

impl Opening {
    /// Signed distance of `p` from the plane, positive on the side the lumen leaves
    /// through, and its distance from the axis through the centre.
    pub fn local(&self, p: [f64; 3]) -> (f64, f64) {
        let d = Vector3::from(p) - Vector3::from(self.centre);
        let n = Vector3::from(self.normal);
        let along = d.dot(&n);
        (along, (d - n * along).norm())
    }
}

/// Outward unit normals and areas of the faces: the winding as stored, turned over when
/// the whole mesh is wound inside out (a negative signed volume).
pub fn face_normals(mesh: &Mesh) -> (Vec<Vector3<f64>>, Vec<f64>) {
    let volume: f64 = (0..mesh.faces.len())
        .map(|f| {
            let [a, b, c] = corners(mesh, f);
            tet_volume(a, b, c)
        })
        .sum();
    let sign = if volume < 0.0 { -1.0 } else { 1.0 };
    (0..mesh.faces.len())
        .map(|f| {
            let [a, b, c] = corners(mesh, f).map(Vector3::from);
            let n = (b - a).cross(&(c - a));
            let len = n.norm();
            let unit = if len > 0.0 { n * (sign / len) } else { n };
            (unit, tri_area(a.into(), b.into(), c.into()))
        })
        .unzip()
}

/// The openings of a lumen mesh: open ends and planar caps.
pub fn find(mesh: &Mesh) -> Vec<Opening> {
    if mesh.faces.is_empty() {
        return Vec::new();
    }
    let edges = EdgeMap::new(mesh);
    let (normals, areas) = face_normals(mesh);
    let mut out = open_ends(mesh, &edges, &normals);
    out.extend(caps(mesh, &edges, &normals, &areas));
    out
}

/// The bottom and top planes of the lumen, opening downwards and upwards.
pub fn z_planes(mesh: &Mesh) -> Vec<Opening> {
    let Some(bb) = mesh.bounding_box() else {
        return Vec::new();
    };
    let c = bb.center();
    [(bb.min[2], -1.0), (bb.max[2], 1.0)]
        .into_iter()
        .map(|(z, dir)| Opening {
            kind: OpeningKind::Plane,
            centre: [c[0], c[1], z],
            normal: [0.0, 0.0, dir],
            radius: f64::INFINITY,
            area: 0.0,
        })
        .collect()
}

/// Loops of boundary edges that cross the vessel (not holes in its side).
fn open_ends(mesh: &Mesh, edges: &EdgeMap, normals: &[Vector3<f64>]) -> Vec<Opening> {
    // Each boundary edge in its face's direction, with that face.
    let mut next: Vec<(u32, u32, u32)> = Vec::new();
    for g in edges.groups() {
        if g.len() != 1 {
            continue;
        }
        let (lo, hi) = key_vertices(g[0].key);
        let (a, b) = if g[0].forward { (lo, hi) } else { (hi, lo) };
        next.push((a, b, g[0].face));
    }
    if next.is_empty() {
        return Vec::new();
    }
    next.sort_unstable();
    let mut used = vec![false; next.len()];
    let mut out = Vec::new();
    for start in 0..next.len() {
        if used[start] {
            continue;
        }
        // Walk edge to edge: the next edge starts where this one ends.
        let mut loop_edges = Vec::new();
        let mut e = start;
        loop {
            used[e] = true;
            loop_edges.push(e);
            let end = next[e].1;
            let from = next.partition_point(|x| x.0 < end);
            let Some(k) = (from..next.len())
                .take_while(|&k| next[k].0 == end)
                .find(|&k| !used[k])
            else {
                break;
            };
            e = k;
        }
        if loop_edges.len() < 3 {
            continue;
        }
        if let Some(o) = end_of_loop(mesh, &next, &loop_edges, normals) {
            out.push(o);
        }
    }
    out
}

/// The opening a boundary loop makes, unless it is a hole in the vessel's side.
fn end_of_loop(
    mesh: &Mesh,
    next: &[(u32, u32, u32)],
    loop_edges: &[usize],
    normals: &[Vector3<f64>],
) -> Option<Opening> {
    let point = |v: u32| Vector3::from(mesh.vertices[v as usize].map(f64::from));
    // Centre weighted by edge length, so uneven sampling of the rim does not pull it.
    let mut centre = Vector3::zeros();
    let mut total = 0.0;
    for &e in loop_edges {
        let (a, b) = (point(next[e].0), point(next[e].1));
        let len = (b - a).norm();
        centre += (a + b) * (0.5 * len);
        total += len;
    }
    if total <= 0.0 {
        return None;
    }
    centre /= total;
    let mut cov = Matrix3::zeros();
    for &e in loop_edges {
        let (a, b) = (point(next[e].0), point(next[e].1));
        let len = (b - a).norm();
        let d = (a + b) * 0.5 - centre;
        cov += d * d.transpose() * len;
    }
    let eig = SymmetricEigen::new(cov);
    let k = eig.eigenvalues.imin();
    let mut normal: Vector3<f64> = eig.eigenvectors.column(k).into();
    // The faces along the rim lie on the lumen's side of the plane.
    let mut side = 0.0;
    let mut alignment = 0.0;
    for &e in loop_edges {
        let f = next[e].2 as usize;
        let [a, b, c] = corners(mesh, f).map(Vector3::from);
        side += ((a + b + c) / 3.0 - centre).dot(&normal);
        alignment += normals[f].dot(&normal).abs();
    }
    if alignment / loop_edges.len() as f64 > END_MAX_ALIGNMENT {
        return None;
    }
    if side > 0.0 {
        normal = -normal;
    }
    let mut radius: f64 = 0.0;
    let mut inner = 0.0f64;
    let mut area = 0.0;
    for &e in loop_edges {
        let (a, b) = (point(next[e].0), point(next[e].1));
        let d = a - centre;
        let along = d.dot(&normal);
        radius = radius.max((d - normal * along).norm());
        inner = inner.min(along);
        area += 0.5 * (a - centre).cross(&(b - centre)).dot(&normal).abs();
    }
    // The plane goes through the rim point deepest in the lumen, so nothing is printed
    // in front of any part of the opening.
    let centre = centre + normal * inner;
    Some(Opening {
        kind: OpeningKind::Open,
        centre: centre.into(),
        normal: normal.into(),
        radius,
        area,
    })
}

/// Connected clusters of coplanar faces larger than [`CAP_MIN_AREA`].
fn caps(mesh: &Mesh, edges: &EdgeMap, normals: &[Vector3<f64>], areas: &[f64]) -> Vec<Opening> {
    let n = mesh.faces.len();
    // Faces across each edge used by two faces.
    let mut adjacency: Vec<(u32, u32)> = Vec::new();
    for g in edges.groups() {
        if g.len() == 2 {
            adjacency.push((g[0].face, g[1].face));
            adjacency.push((g[1].face, g[0].face));
        }
    }
    adjacency.sort_unstable();
    let centre = |f: usize| {
        let [a, b, c] = corners(mesh, f).map(Vector3::from);
        (a + b + c) / 3.0
    };
    let mut seen = vec![false; n];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    let mut cluster = Vec::new();
    for seed in 0..n {
        if seen[seed] || areas[seed] <= 0.0 {
            continue;
        }
        seen[seed] = true;
        let (normal, origin) = (normals[seed], centre(seed));
        cluster.clear();
        stack.push(seed);
        while let Some(f) = stack.pop() {
            cluster.push(f);
            let from = adjacency.partition_point(|x| x.0 < f as u32);
            for &(_, g) in adjacency[from..].iter().take_while(|x| x.0 == f as u32) {
                let g = g as usize;
                if seen[g]
                    || normals[g].dot(&normal) < CAP_NORMAL_COS
                    || (centre(g) - origin).dot(&normal).abs() > CAP_PLANE_TOLERANCE
                {
                    continue;
                }
                seen[g] = true;
                stack.push(g);
            }
        }
        let area: f64 = cluster.iter().map(|&f| areas[f]).sum();
        if area <= CAP_MIN_AREA {
            continue;
        }
        let mut c = Vector3::zeros();
        let mut nsum = Vector3::zeros();
        for &f in &cluster {
            c += centre(f) * areas[f];
            nsum += normals[f] * areas[f];
        }
        c /= area;
        let normal = nsum.normalize();
        let mut radius: f64 = 0.0;
        for &f in &cluster {
            for p in corners(mesh, f).map(Vector3::from) {
                let d = p - c;
                radius = radius.max((d - normal * d.dot(&normal)).norm());
            }
        }
        if area < CAP_MIN_FILL * std::f64::consts::PI * radius * radius {
            continue;
        }
        out.push(Opening {
            kind: OpeningKind::Cap,
            centre: c.into(),
            normal: normal.into(),
            radius,
            area,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::shapes::tube;

    #[test]
    fn tube_ends_are_caps_pointing_out() {
        // A thin-walled tube is not a lumen, but its annular ends are flat caps.
        let mesh = tube([0.0; 3], 2.0, 2.5, 10.0, 48);
        let caps: Vec<_> = find(&mesh)
            .into_iter()
            .filter(|o| o.kind == OpeningKind::Cap)
            .collect();
        assert_eq!(caps.len(), 2, "{caps:?}");
        for c in caps {
            let up = c.centre[2] > 5.0;
            assert!((c.normal[2] - if up { 1.0 } else { -1.0 }).abs() < 1e-6);
        }
    }
}
