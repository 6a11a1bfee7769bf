//! Meshes from implicit surfaces: a signed function sampled on a grid and contoured by
//! marching tetrahedra.
//!
//! Labs use this the way a segmentation pipeline does (a label field turned into a
//! surface), to make test phantoms: a vessel with a thin wall, an aneurysm sac. The
//! result is watertight and consistently oriented by construction, with the small,
//! uneven triangles real segmentations have.

use std::collections::HashMap;

use nalgebra::Vector3;

use super::Mesh;

/// Fraction of an edge a surface vertex keeps from the edge's ends.
const CORNER_MARGIN: f64 = 0.01;

/// The six tetrahedra of a grid cube that all share the diagonal from corner 0 to
/// corner 7 (corner bits: x = 1, y = 2, z = 4). Neighbouring cubes split their shared
/// faces along the same diagonal, so the surface has no cracks.
const TETRAHEDRA: [[usize; 4]; 6] = [
    [0, 1, 3, 7],
    [0, 1, 5, 7],
    [0, 2, 3, 7],
    [0, 2, 6, 7],
    [0, 4, 5, 7],
    [0, 4, 6, 7],
];

/// Contour `{ p : f(p) < 0 }` over the box `min..max` sampled every `step` mm.
///
/// `f` should be negative inside, positive outside, and roughly a distance near the
/// surface; the box must contain the whole solid with a margin of at least one step.
///
/// ```
/// use lamina::mesh::implicit::contour;
/// let ball = contour(|p| (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt() - 5.0,
///                    [-6.0; 3], [6.0; 3], 0.5);
/// let bbox = ball.bounding_box().unwrap();
/// assert!((bbox.size()[0] - 10.0).abs() < 0.2);
/// ```
pub fn contour<F>(f: F, min: [f64; 3], max: [f64; 3], step: f64) -> Mesh
where
    F: Fn([f64; 3]) -> f64 + Sync,
{
    let n = [0, 1, 2].map(|a| ((max[a] - min[a]) / step).ceil() as usize + 1);
    let index = |i: usize, j: usize, k: usize| (k * n[1] + j) * n[0] + i;
    let position = |i: usize, j: usize, k: usize| {
        [
            min[0] + i as f64 * step,
            min[1] + j as f64 * step,
            min[2] + k as f64 * step,
        ]
    };
    let mut values = vec![0.0f64; n[0] * n[1] * n[2]];
    for k in 0..n[2] {
        for j in 0..n[1] {
            for i in 0..n[0] {
                let v = f(position(i, j, k));
                // A sample exactly on the surface would give zero-length edges.
                values[index(i, j, k)] = if v == 0.0 { 1e-9 } else { v };
            }
        }
    }

    let mut mesh = Mesh::default();
    let mut edge_vertex: HashMap<(usize, usize), u32> = HashMap::new();
    let mut vertex_on_edge = |a: usize, b: usize, pa: [f64; 3], pb: [f64; 3], mesh: &mut Mesh| {
        let (a, b, pa, pb) = if a < b {
            (a, b, pa, pb)
        } else {
            (b, a, pb, pa)
        };
        *edge_vertex.entry((a, b)).or_insert_with(|| {
            let (va, vb) = (values[a], values[b]);
            // Never exactly on a corner: two edges would share a position.
            let t = (va / (va - vb)).clamp(CORNER_MARGIN, 1.0 - CORNER_MARGIN);
            let p = [0, 1, 2].map(|c| (pa[c] + t * (pb[c] - pa[c])) as f32);
            mesh.vertices.push(p);
            (mesh.vertices.len() - 1) as u32
        })
    };

    for k in 0..n[2] - 1 {
        for j in 0..n[1] - 1 {
            for i in 0..n[0] - 1 {
                let corner = |c: usize| (i + (c & 1), j + ((c >> 1) & 1), k + ((c >> 2) & 1));
                let ids: [usize; 8] = std::array::from_fn(|c| {
                    let (x, y, z) = corner(c);
                    index(x, y, z)
                });
                let inside = ids.iter().filter(|&&id| values[id] < 0.0).count();
                if inside == 0 || inside == 8 {
                    continue;
                }
                let pos: [[f64; 3]; 8] = std::array::from_fn(|c| {
                    let (x, y, z) = corner(c);
                    position(x, y, z)
                });
                for tet in TETRAHEDRA {
                    let g = tet.map(|c| ids[c]);
                    let p = tet.map(|c| pos[c]);
                    let (ins, outs): (Vec<usize>, Vec<usize>) =
                        (0..4).partition(|&v| values[g[v]] < 0.0);
                    // Orientation comes from the tetrahedron's grid corners (exact), not
                    // from the interpolated points, which can form slivers.
                    let mut tri = |a: [usize; 2],
                                   b: [usize; 2],
                                   c: [usize; 2],
                                   flip: bool,
                                   mesh: &mut Mesh| {
                        let v =
                            [a, b, c].map(|[u, w]| vertex_on_edge(g[u], g[w], p[u], p[w], mesh));
                        if v[0] == v[1] || v[1] == v[2] || v[0] == v[2] {
                            return;
                        }
                        mesh.faces.push(if flip { [v[0], v[2], v[1]] } else { v });
                    };
                    match (ins.len(), outs.len()) {
                        (1, 3) | (3, 1) => {
                            let (lone, others) = if ins.len() == 1 {
                                (ins[0], &outs)
                            } else {
                                (outs[0], &ins)
                            };
                            // Normal points away from `lone` when the corners are
                            // positively oriented; outward means away from an inside corner.
                            let away = det(&p, lone, others[0], others[1], others[2]) > 0.0;
                            let flip = away != (ins.len() == 1);
                            tri(
                                [lone, others[0]],
                                [lone, others[1]],
                                [lone, others[2]],
                                flip,
                                &mut mesh,
                            );
                        }
                        (2, 2) => {
                            let (a, b, c, d) = (ins[0], ins[1], outs[0], outs[1]);
                            let flip = det(&p, a, c, d, b) < 0.0;
                            tri([a, c], [a, d], [b, d], flip, &mut mesh);
                            tri([a, c], [b, d], [b, c], flip, &mut mesh);
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    mesh
}

/// Orientation of corners `b`, `c`, `d` seen from `a`: det(b - a, c - a, d - a).
fn det(p: &[[f64; 3]; 4], a: usize, b: usize, c: usize, d: usize) -> f64 {
    let o = Vector3::from(p[a]);
    let [u, v, w] = [b, c, d].map(|i| Vector3::from(p[i]) - o);
    u.dot(&v.cross(&w))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The signed volume `check` reports.
    fn volume(m: &Mesh) -> f64 {
        crate::mesh::check::check(m).volume_mm3
    }

    #[test]
    fn ball_is_closed_outward_and_has_the_right_volume() {
        let r = 5.0;
        let m = contour(
            |p| (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt() - r,
            [-6.0; 3],
            [6.0; 3],
            0.25,
        );
        // Every edge is used exactly twice, once in each direction.
        let mut edges = HashMap::new();
        for f in &m.faces {
            for e in 0..3 {
                *edges.entry((f[e], f[(e + 1) % 3])).or_insert(0) += 1;
            }
        }
        for (&(a, b), &count) in &edges {
            assert_eq!(count, 1);
            assert_eq!(edges.get(&(b, a)), Some(&1), "edge {a}-{b} is open");
        }
        let expected = 4.0 / 3.0 * std::f64::consts::PI * r * r * r;
        assert!(
            (volume(&m) - expected).abs() / expected < 0.01,
            "{}",
            volume(&m)
        );
    }
}
