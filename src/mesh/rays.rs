//! Rays against a mesh in any direction: the faces bucketed in a uniform grid of cubes,
//! walked cell by cell along the ray (Amanatides and Woo's traversal).

use nalgebra::Vector3;

use super::Mesh;

/// Cells per face, about: a face touches a few cells, and a ray tests a few faces in
/// each.
const CELLS_PER_FACE: f64 = 1.0;
/// The most cells the grid has: four bytes each of index, so a 1M-face mesh stays
/// within a few tens of megabytes.
const MAX_CELLS: f64 = 4.0e6;
/// A hit nearer than this to the ray's origin is the face the ray leaves from, mm.
const SELF_HIT: f64 = 1e-6;

/// A face a ray met.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Distance along the (unit) ray, mm.
    pub distance: f64,
    /// The face.
    pub face: u32,
    /// Where on the face: the weights of its three corners.
    pub weights: [f64; 3],
}

/// The faces of a mesh in a grid of cubes, for casting rays.
pub struct RayGrid<'m> {
    mesh: &'m Mesh,
    origin: Vector3<f64>,
    cell: f64,
    n: [usize; 3],
    /// `faces[start[c]..start[c + 1]]` are the faces whose boxes touch cell `c`.
    start: Vec<u32>,
    faces: Vec<u32>,
}

impl<'m> RayGrid<'m> {
    /// Bucket the faces of `mesh`.
    pub fn new(mesh: &'m Mesh) -> RayGrid<'m> {
        let bb = mesh.bounding_box().unwrap_or(super::BoundingBox::EMPTY);
        let size = Vector3::from(bb.size()).map(|s| s.max(1e-6));
        let cells = (mesh.faces.len() as f64 * CELLS_PER_FACE).clamp(1.0, MAX_CELLS);
        // Faces lie on a surface: size the cell by the surface's reach, the bounding
        // box's area, rather than its volume.
        let area = 2.0 * (size.x * size.y + size.y * size.z + size.x * size.z);
        let cell = (area / cells).sqrt().max(size.max() / MAX_CELLS.cbrt());
        let n = [0, 1, 2].map(|k| ((size[k] / cell) as usize + 1).max(1));
        let origin = Vector3::from(bb.min);
        let mut grid = RayGrid {
            mesh,
            origin,
            cell,
            n,
            start: Vec::new(),
            faces: Vec::new(),
        };
        let total = n[0] * n[1] * n[2];
        let mut count = vec![0u32; total + 1];
        for f in 0..mesh.faces.len() {
            grid.for_cells_of(f, |c| count[c + 1] += 1);
        }
        for i in 0..total {
            count[i + 1] += count[i];
        }
        let mut cursor = count.clone();
        let mut faces = vec![0u32; count[total] as usize];
        for f in 0..mesh.faces.len() {
            grid.for_cells_of(f, |c| {
                faces[cursor[c] as usize] = f as u32;
                cursor[c] += 1;
            });
        }
        grid.start = count;
        grid.faces = faces;
        grid
    }

    /// Call `visit` with every cell face `f`'s bounding box touches.
    fn for_cells_of(&self, f: usize, mut visit: impl FnMut(usize)) {
        let [a, b, c] = self.corners(f);
        let lo = a.inf(&b).inf(&c);
        let hi = a.sup(&b).sup(&c);
        let (l, h) = (self.cell_of(lo), self.cell_of(hi));
        for z in l[2]..=h[2] {
            for y in l[1]..=h[1] {
                for x in l[0]..=h[0] {
                    visit(self.index([x, y, z]));
                }
            }
        }
    }

    fn corners(&self, f: usize) -> [Vector3<f64>; 3] {
        self.mesh
            .triangle(f)
            .map(|v| Vector3::new(v[0].into(), v[1].into(), v[2].into()))
    }

    /// The cell holding `p`, clamped to the grid.
    fn cell_of(&self, p: Vector3<f64>) -> [usize; 3] {
        [0, 1, 2].map(|k| {
            let c = ((p[k] - self.origin[k]) / self.cell).floor();
            (c.max(0.0) as usize).min(self.n[k] - 1)
        })
    }

    fn index(&self, c: [usize; 3]) -> usize {
        (c[2] * self.n[1] + c[1]) * self.n[0] + c[0]
    }

    /// The nearest face the ray from `from` along the unit vector `dir` meets, other
    /// than at its origin.
    pub fn first_hit(&self, from: Vector3<f64>, dir: Vector3<f64>) -> Option<Hit> {
        self.first_hit_but(from, dir, |_| false)
    }

    /// The nearest face but those `skip` names that the ray from `from` along the unit
    /// vector `dir` meets, other than at its origin.
    pub fn first_hit_but(
        &self,
        from: Vector3<f64>,
        dir: Vector3<f64>,
        skip: impl Fn(u32) -> bool,
    ) -> Option<Hit> {
        // Start where the ray enters the grid's box.
        let hi = self.origin + Vector3::from(self.n.map(|k| k as f64)) * self.cell;
        let (mut t0, mut t1) = (0.0f64, f64::INFINITY);
        for k in 0..3 {
            if dir[k].abs() < 1e-300 {
                if from[k] < self.origin[k] || from[k] > hi[k] {
                    return None;
                }
                continue;
            }
            let (a, b) = (
                (self.origin[k] - from[k]) / dir[k],
                (hi[k] - from[k]) / dir[k],
            );
            t0 = t0.max(a.min(b));
            t1 = t1.min(a.max(b));
        }
        if t0 > t1 {
            return None;
        }
        let mut cell = self.cell_of(from + dir * t0);
        let mut step = [0isize; 3];
        let mut next = [f64::INFINITY; 3];
        let mut delta = [f64::INFINITY; 3];
        for k in 0..3 {
            if dir[k] > 0.0 {
                step[k] = 1;
                let edge = self.origin[k] + (cell[k] + 1) as f64 * self.cell;
                next[k] = (edge - from[k]) / dir[k];
                delta[k] = self.cell / dir[k];
            } else if dir[k] < 0.0 {
                step[k] = -1;
                let edge = self.origin[k] + cell[k] as f64 * self.cell;
                next[k] = (edge - from[k]) / dir[k];
                delta[k] = -self.cell / dir[k];
            }
        }
        let mut best: Option<Hit> = None;
        loop {
            let c = self.index(cell);
            for &f in &self.faces[self.start[c] as usize..self.start[c + 1] as usize] {
                if let Some((t, u, v)) = intersect(self.corners(f as usize), from, dir)
                    && t > SELF_HIT
                    && best.is_none_or(|b| t < b.distance)
                    && !skip(f)
                {
                    best = Some(Hit {
                        distance: t,
                        face: f,
                        weights: [1.0 - u - v, u, v],
                    });
                }
            }
            // Leave the cell by its nearest side.
            let k = (0..3)
                .min_by(|&a, &b| next[a].total_cmp(&next[b]))
                .expect("three axes");
            // A hit within this cell is nearer than any in the cells beyond.
            if best.is_some_and(|b| b.distance <= next[k]) {
                return best;
            }
            let moved = cell[k] as isize + step[k];
            if moved < 0 || moved >= self.n[k] as isize {
                return best;
            }
            cell[k] = moved as usize;
            next[k] += delta[k];
        }
    }
}

/// Where the ray from `from` along `dir` crosses triangle `t`: the distance along it
/// and the weights of the second and third corners (Möller and Trumbore's test);
/// `None` when it misses or runs along it.
fn intersect(
    t: [Vector3<f64>; 3],
    from: Vector3<f64>,
    dir: Vector3<f64>,
) -> Option<(f64, f64, f64)> {
    let e1 = t[1] - t[0];
    let e2 = t[2] - t[0];
    let p = dir.cross(&e2);
    let det = e1.dot(&p);
    if det.abs() < 1e-15 {
        return None;
    }
    let inv = 1.0 / det;
    let s = from - t[0];
    let u = s.dot(&p) * inv;
    if !(0.0..=1.0).contains(&u) {
        return None;
    }
    let q = s.cross(&e1);
    let v = dir.dot(&q) * inv;
    if v < 0.0 || u + v > 1.0 {
        return None;
    }
    Some((e2.dot(&q) * inv, u, v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::shapes::cuboid;

    #[test]
    fn rays_meet_the_nearest_face() {
        let mesh = cuboid([0.0; 3], [10.0; 3]);
        let grid = RayGrid::new(&mesh);
        // From the centre, every side is 5 mm away.
        let c = Vector3::new(5.0, 5.0, 5.0);
        for d in [Vector3::x(), -Vector3::y(), Vector3::z()] {
            let h = grid.first_hit(c, d).expect("a wall");
            assert!((h.distance - 5.0).abs() < 1e-9, "{h:?}");
        }
        let h = grid
            .first_hit(Vector3::new(2.0, 5.0, 5.0), -Vector3::x())
            .expect("a wall");
        assert!((h.distance - 2.0).abs() < 1e-9, "{h:?}");
        // From outside, towards the cube and away from it.
        let out = Vector3::new(-3.0, 5.0, 5.0);
        assert!((grid.first_hit(out, Vector3::x()).unwrap().distance - 3.0).abs() < 1e-9);
        assert!(grid.first_hit(out, -Vector3::x()).is_none());
        let slant = Vector3::new(1.0, 1.0, 1.0).normalize();
        let h = grid.first_hit(Vector3::new(1.0, 2.0, 3.0), slant).unwrap();
        assert!((h.distance - 7.0 * 3f64.sqrt()).abs() < 1e-9, "{h:?}");
    }
}
