//! Overhangs judged from the G-code, independently of the slicer: points sampled on
//! the model's downward-facing surfaces, whether extrusion lies right beneath them, and
//! which tool printed it.
#![allow(dead_code)]

use lamina::mesh::Mesh;
use nalgebra::Vector3;

use super::fidelity::{Bead, GLayer};

/// Points on faces facing down and flatter than `threshold` degrees from the horizontal,
/// above the first layers, about one per `density` mm². Points with the model right
/// beneath them (faces inside overlapping shells) rest on it and are left out.
pub fn overhang_points(m: &Mesh, threshold: f64, density: f64) -> Vec<[f64; 3]> {
    let mut out = Vec::new();
    for f in &m.faces {
        let [a, b, c] = f.map(|i| Vector3::from(m.vertices[i as usize].map(f64::from)));
        let (u, v) = (b - a, c - a);
        let n = u.cross(&v);
        let len = n.norm();
        if len == 0.0 || n.z >= 0.0 {
            continue;
        }
        // Slope of the surface from the horizontal.
        let slope = (n.z.abs() / len).acos().to_degrees();
        if slope >= threshold {
            continue;
        }
        let area = len / 2.0;
        let k = (area / density).ceil() as usize;
        for i in 0..k {
            // Deterministic spread over the triangle.
            let (s, t) = (
                ((i * 7 + 3) % 11) as f64 / 11.0,
                ((i * 5 + 1) % 7) as f64 / 7.0,
            );
            let (s, t) = if s + t > 1.0 {
                (1.0 - s, 1.0 - t)
            } else {
                (s, t)
            };
            let p: [f64; 3] = (a + s * u + t * v).into();
            if p[2] > 0.6 && !inside(m, [p[0], p[1], p[2] - 0.1]) {
                out.push(p);
            }
        }
    }
    out
}

/// Fraction of overhang points with extrusion beneath them: within `xy` mm, in a layer
/// whose top lies within `z_window` below the point.
pub fn held_fraction(points: &[[f64; 3]], layers: &[GLayer], xy: f64, z_window: f64) -> f64 {
    if points.is_empty() {
        return 1.0;
    }
    let held = points
        .iter()
        .filter(|p| {
            layers
                .iter()
                .filter(|l| l.z <= p[2] + 1e-6 && l.z >= p[2] - z_window)
                .any(|l| l.beads.iter().any(|b| distance(b, p) <= xy))
        })
        .count();
    held as f64 / points.len() as f64
}

/// Distance in XY from a point to a bead's centre line, mm.
pub fn distance(b: &Bead, p: &[f64; 3]) -> f64 {
    let (dx, dy) = (b.b[0] - b.a[0], b.b[1] - b.a[1]);
    let l2 = dx * dx + dy * dy;
    let t = if l2 > 0.0 {
        (((p[0] - b.a[0]) * dx + (p[1] - b.a[1]) * dy) / l2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (b.a[0] + t * dx - p[0]).hypot(b.a[1] + t * dy - p[1])
}

/// Of the extrusion directly beneath the points (beads whose printed width covers the
/// point's XY, in layers whose top lies within `z_window` below the point), the share
/// printed by `tool`, by count of (point, bead) pairs. `None` when nothing lies
/// beneath any point.
pub fn tool_share(
    points: &[[f64; 3]],
    layers: &[GLayer],
    z_window: f64,
    tool: usize,
) -> Option<f64> {
    let (mut by_tool, mut total) = (0usize, 0usize);
    for p in points {
        for l in layers
            .iter()
            .filter(|l| l.z <= p[2] + 1e-6 && l.z >= p[2] - z_window)
        {
            for b in l.beads.iter().filter(|b| distance(b, p) <= b.width / 2.0) {
                total += 1;
                if b.tool == tool {
                    by_tool += 1;
                }
            }
        }
    }
    (total > 0).then(|| by_tool as f64 / total as f64)
}

/// Whether a point lies inside the model: the winding number of a ray cast straight
/// down from it (each face the ray crosses counts by the sign of its normal's Z), so
/// overlapping shells count as one solid.
pub fn inside(m: &Mesh, q: [f64; 3]) -> bool {
    let mut winding = 0i32;
    for f in &m.faces {
        let [a, b, c] = f.map(|i| m.vertices[i as usize].map(f64::from));
        // Barycentric coordinates of q's XY in the face's XY projection.
        let d = (b[1] - c[1]) * (a[0] - c[0]) + (c[0] - b[0]) * (a[1] - c[1]);
        if d.abs() < 1e-12 {
            continue;
        }
        let l1 = ((b[1] - c[1]) * (q[0] - c[0]) + (c[0] - b[0]) * (q[1] - c[1])) / d;
        let l2 = ((c[1] - a[1]) * (q[0] - c[0]) + (a[0] - c[0]) * (q[1] - c[1])) / d;
        let l3 = 1.0 - l1 - l2;
        if l1 < 0.0 || l2 < 0.0 || l3 < 0.0 {
            continue;
        }
        let z = l1 * a[2] + l2 * b[2] + l3 * c[2];
        if z < q[2] {
            // The projection's orientation is the sign of the normal's Z.
            winding += if d > 0.0 { 1 } else { -1 };
        }
    }
    winding != 0
}
