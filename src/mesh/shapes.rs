//! Exact primitive meshes: boxes, cylinders, tubes, spheres. Watertight and oriented
//! outward; used for calibration parts, tests and benchmarks.

use std::f64::consts::TAU;

use super::Mesh;

/// An axis-aligned box from `min` to `max` (8 vertices, 12 triangles).
///
/// ```
/// let b = lamina::mesh::shapes::cuboid([0.0; 3], [20.0; 3]);
/// assert_eq!((b.vertices.len(), b.faces.len()), (8, 12));
/// ```
pub fn cuboid(min: [f64; 3], max: [f64; 3]) -> Mesh {
    let vertices = (0..8u32)
        .map(|i| {
            [
                if i & 1 == 0 { min[0] } else { max[0] } as f32,
                if i & 2 == 0 { min[1] } else { max[1] } as f32,
                if i & 4 == 0 { min[2] } else { max[2] } as f32,
            ]
        })
        .collect();
    let faces = vec![
        [0, 2, 1],
        [1, 2, 3],
        [4, 5, 6],
        [5, 7, 6],
        [0, 1, 4],
        [1, 5, 4],
        [2, 6, 3],
        [3, 6, 7],
        [0, 4, 2],
        [2, 4, 6],
        [1, 3, 5],
        [3, 7, 5],
    ];
    Mesh { vertices, faces }
}

/// A closed cylinder standing on `base` (its bottom centre), `segments` sides.
pub fn cylinder(base: [f64; 3], radius: f64, height: f64, segments: usize) -> Mesh {
    let n = segments.max(3);
    let mut m = Mesh::default();
    for z in [base[2], base[2] + height] {
        for i in 0..n {
            let a = TAU * i as f64 / n as f64;
            m.vertices.push([
                (base[0] + radius * a.cos()) as f32,
                (base[1] + radius * a.sin()) as f32,
                z as f32,
            ]);
        }
    }
    let bottom_c = m.vertices.len() as u32;
    m.vertices
        .push([base[0] as f32, base[1] as f32, base[2] as f32]);
    m.vertices
        .push([base[0] as f32, base[1] as f32, (base[2] + height) as f32]);
    let n32 = n as u32;
    for i in 0..n32 {
        let j = (i + 1) % n32;
        m.faces.push([i, j, n32 + j]);
        m.faces.push([i, n32 + j, n32 + i]);
        m.faces.push([bottom_c, j, i]);
        m.faces.push([bottom_c + 1, n32 + i, n32 + j]);
    }
    m
}

/// A tube (hollow cylinder, open lumen) standing on `base`: outer radius `r_out`,
/// inner radius `r_in`, `segments` sides. Its wall is `r_out - r_in` thick.
pub fn tube(base: [f64; 3], r_in: f64, r_out: f64, height: f64, segments: usize) -> Mesh {
    let n = segments.max(3) as u32;
    let mut m = Mesh::default();
    // Rings: 0 outer bottom, 1 outer top, 2 inner bottom, 3 inner top.
    for (r, z) in [
        (r_out, base[2]),
        (r_out, base[2] + height),
        (r_in, base[2]),
        (r_in, base[2] + height),
    ] {
        for i in 0..n {
            let a = TAU * f64::from(i) / f64::from(n);
            m.vertices.push([
                (base[0] + r * a.cos()) as f32,
                (base[1] + r * a.sin()) as f32,
                z as f32,
            ]);
        }
    }
    let v = |ring: u32, i: u32| ring * n + i % n;
    for i in 0..n {
        let j = i + 1;
        // Outer wall faces outward.
        m.faces.push([v(0, i), v(0, j), v(1, j)]);
        m.faces.push([v(0, i), v(1, j), v(1, i)]);
        // Inner wall faces the axis.
        m.faces.push([v(2, i), v(3, j), v(2, j)]);
        m.faces.push([v(2, i), v(3, i), v(3, j)]);
        // Bottom ring faces down, top ring faces up.
        m.faces.push([v(0, i), v(2, j), v(0, j)]);
        m.faces.push([v(0, i), v(2, i), v(2, j)]);
        m.faces.push([v(1, i), v(1, j), v(3, j)]);
        m.faces.push([v(1, i), v(3, j), v(3, i)]);
    }
    m
}

/// A UV sphere: `stacks` bands from pole to pole, `slices` around.
pub fn uv_sphere(center: [f64; 3], radius: f64, stacks: usize, slices: usize) -> Mesh {
    let (stacks, slices) = (stacks.max(2) as u32, slices.max(3) as u32);
    let mut m = Mesh::default();
    m.vertices.push([
        center[0] as f32,
        center[1] as f32,
        (center[2] - radius) as f32,
    ]);
    for s in 1..stacks {
        let phi = std::f64::consts::PI * f64::from(s) / f64::from(stacks);
        let (z, r) = (-radius * phi.cos(), radius * phi.sin());
        for i in 0..slices {
            let a = TAU * f64::from(i) / f64::from(slices);
            m.vertices.push([
                (center[0] + r * a.cos()) as f32,
                (center[1] + r * a.sin()) as f32,
                (center[2] + z) as f32,
            ]);
        }
    }
    let top = m.vertices.len() as u32;
    m.vertices.push([
        center[0] as f32,
        center[1] as f32,
        (center[2] + radius) as f32,
    ]);
    let ring = |s: u32, i: u32| 1 + (s - 1) * slices + i % slices;
    for i in 0..slices {
        m.faces.push([0, ring(1, i + 1), ring(1, i)]);
        m.faces
            .push([top, ring(stacks - 1, i), ring(stacks - 1, i + 1)]);
    }
    for s in 1..stacks - 1 {
        for i in 0..slices {
            m.faces
                .push([ring(s, i), ring(s, i + 1), ring(s + 1, i + 1)]);
            m.faces
                .push([ring(s, i), ring(s + 1, i + 1), ring(s + 1, i)]);
        }
    }
    m
}

/// Several meshes as one (their faces simply side by side).
pub fn merge<'a>(meshes: impl IntoIterator<Item = &'a Mesh>) -> Mesh {
    let mut out = Mesh::default();
    for m in meshes {
        let base = out.vertices.len() as u32;
        out.vertices.extend_from_slice(&m.vertices);
        out.faces
            .extend(m.faces.iter().map(|f| f.map(|v| v + base)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The signed volume `check` reports.
    fn volume(m: &Mesh) -> f64 {
        crate::mesh::check::check(m).volume_mm3
    }

    fn assert_closed(m: &Mesh) {
        let mut edges: HashMap<(u32, u32), i32> = HashMap::new();
        for f in &m.faces {
            for e in 0..3 {
                *edges.entry((f[e], f[(e + 1) % 3])).or_default() += 1;
            }
        }
        for (&(a, b), &c) in &edges {
            assert_eq!(c, 1, "edge {a}-{b} used twice in one direction");
            assert_eq!(edges.get(&(b, a)), Some(&1), "edge {a}-{b} is open");
        }
    }

    #[test]
    fn primitives_are_closed_with_known_volumes() {
        let b = cuboid([1.0, 2.0, 3.0], [3.0, 5.0, 7.0]);
        assert_closed(&b);
        assert!((volume(&b) - 24.0).abs() < 1e-9);

        let n = 64;
        let polygon_area = |r: f64| 0.5 * n as f64 * r * r * (TAU / n as f64).sin();
        let c = cylinder([0.0; 3], 5.0, 10.0, n);
        assert_closed(&c);
        assert!((volume(&c) - polygon_area(5.0) * 10.0).abs() < 1e-3);

        let t = tube([0.0; 3], 4.2, 5.0, 10.0, n);
        assert_closed(&t);
        let expected = (polygon_area(5.0) - polygon_area(4.2)) * 10.0;
        assert!((volume(&t) - expected).abs() < 1e-3);

        let s = uv_sphere([0.0; 3], 10.0, 48, 96);
        assert_closed(&s);
        let v = 4.0 / 3.0 * std::f64::consts::PI * 1000.0;
        assert!((volume(&s) - v).abs() / v < 0.01);
    }
}
