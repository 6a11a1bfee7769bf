//! Cutting triangles with a horizontal plane.

use crate::geom::{Point, SCALE};
use crate::mesh::Mesh;

/// One piece of a layer's outline: where a triangle crosses the plane, directed so the
/// solid lies to its left (for a correctly oriented face), with the mesh edges its ends
/// lie on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Start point.
    pub a: Point,
    /// End point.
    pub b: Point,
    /// Mesh edge (vertex pair) the start lies on.
    pub key_a: u64,
    /// Mesh edge the end lies on.
    pub key_b: u64,
}

/// Identity of an undirected mesh edge.
#[inline]
fn edge_key(u: u32, v: u32) -> u64 {
    let (lo, hi) = if u < v { (u, v) } else { (v, u) };
    (u64::from(lo) << 32) | u64::from(hi)
}

/// Where edge `u`-`v` crosses the plane `z`, computed from the lower-numbered vertex so
/// both faces sharing the edge get the very same point.
#[inline]
fn crossing(mesh: &Mesh, u: u32, v: u32, z: f64) -> Point {
    let (p, q) = if u < v { (u, v) } else { (v, u) };
    let p = mesh.vertices[p as usize].map(f64::from);
    let q = mesh.vertices[q as usize].map(f64::from);
    let dz = q[2] - p[2];
    let t = if dz == 0.0 { 0.0 } else { (z - p[2]) / dz };
    Point::new(
        ((p[0] + t * (q[0] - p[0])) * SCALE).round() as i64,
        ((p[1] + t * (q[1] - p[1])) * SCALE).round() as i64,
    )
}

/// Append the segments where `faces` of `mesh` cross the plane at height `z`.
///
/// A vertex exactly on the plane counts as above it, so every face that crosses gives
/// exactly one segment, and faces lying in the plane give none.
pub fn section(mesh: &Mesh, faces: &[u32], z: f64, out: &mut Vec<Segment>) {
    for &f in faces {
        let vs = mesh.faces[f as usize];
        let above = vs.map(|v| f64::from(mesh.vertices[v as usize][2]) >= z);
        let n_above = above.iter().filter(|a| **a).count();
        if n_above == 0 || n_above == 3 {
            continue;
        }
        let mut enter = None;
        let mut exit = None;
        for i in 0..3 {
            let j = (i + 1) % 3;
            match (above[i], above[j]) {
                (false, true) => enter = Some((vs[i], vs[j])),
                (true, false) => exit = Some((vs[i], vs[j])),
                _ => {}
            }
        }
        if let (Some((eu, ev)), Some((xu, xv))) = (enter, exit) {
            out.push(Segment {
                a: crossing(mesh, xu, xv, z),
                b: crossing(mesh, eu, ev, z),
                key_a: edge_key(xu, xv),
                key_b: edge_key(eu, ev),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outward_wall_gives_segment_with_solid_on_the_left() {
        // A wall facing +X (solid at x < 0): the outline must run in +Y.
        let mesh = Mesh {
            vertices: vec![[0.0, -1.0, -1.0], [0.0, 1.0, -1.0], [0.0, 0.0, 1.0]],
            faces: vec![[0, 1, 2]],
        };
        let mut segs = Vec::new();
        section(&mesh, &[0], 0.0, &mut segs);
        assert_eq!(segs.len(), 1);
        let s = segs[0];
        assert!(s.b.y > s.a.y);
        assert_eq!(s.a, Point::from_mm(0.0, -0.5));
        assert_eq!(s.b, Point::from_mm(0.0, 0.5));
    }

    #[test]
    fn face_in_the_plane_gives_nothing() {
        let mesh = Mesh {
            vertices: vec![[0.0, 0.0, 1.0], [1.0, 0.0, 1.0], [0.0, 1.0, 1.0]],
            faces: vec![[0, 1, 2]],
        };
        let mut segs = Vec::new();
        section(&mesh, &[0], 1.0, &mut segs);
        assert!(segs.is_empty());
    }

    #[test]
    fn shared_edge_gives_identical_points() {
        // Two faces sharing edge 0-2, listed in opposite directions.
        let mesh = Mesh {
            vertices: vec![
                [0.1, 0.3, -1.0],
                [1.0, 0.0, -1.0],
                [0.37, 0.71, 1.3],
                [-1.0, 0.2, 0.4],
            ],
            faces: vec![[0, 1, 2], [0, 2, 3]],
        };
        let mut segs = Vec::new();
        section(&mesh, &[0, 1], 0.123, &mut segs);
        assert_eq!(segs.len(), 2);
        let shared = edge_key(0, 2);
        let p0 = if segs[0].key_a == shared {
            segs[0].a
        } else {
            segs[0].b
        };
        let p1 = if segs[1].key_a == shared {
            segs[1].a
        } else {
            segs[1].b
        };
        assert_eq!(p0, p1);
    }
}
