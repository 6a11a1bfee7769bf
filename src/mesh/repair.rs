//! Repairing a mesh: degenerate and duplicate faces out, every shell wound consistently
//! and facing outward, holes capped, unused vertices dropped; and a report of what was
//! done.
//!
//! Slicing does not need this (the slicer copes with broken meshes); it is for labs that
//! want a clean file, or a watertight mesh for other tools.

use std::collections::{HashMap, VecDeque};

use nalgebra::Vector3;
use serde::Serialize;

use super::Mesh;
use super::check::{DEGENERATE_AREA, check};
use super::topology::{
    EdgeMap, YzIndex, corners, inside_other_shell, key_vertices, shells, tet_volume, tri_area,
};

/// What to repair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RepairOptions {
    /// Leave holes with more boundary edges than this open (0: fill every hole), so
    /// intentional openings such as clipped vessel ends can be kept.
    pub max_hole_edges: usize,
    /// Fill holes at all.
    pub fill_holes: bool,
}

impl Default for RepairOptions {
    fn default() -> Self {
        RepairOptions {
            max_hole_edges: 0,
            fill_holes: true,
        }
    }
}

/// What was done.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RepairReport {
    /// Faces with a repeated vertex or no area, removed.
    pub degenerate_removed: usize,
    /// Duplicate faces removed (both of a pair facing opposite ways).
    pub duplicates_removed: usize,
    /// Faces turned to agree with their neighbours.
    pub faces_flipped: usize,
    /// Shells turned outside in (they faced inward).
    pub shells_reoriented: usize,
    /// Holes capped.
    pub holes_filled: usize,
    /// Triangles added to cap them.
    pub triangles_added: usize,
    /// Holes left open, with the reason.
    pub holes_left_open: Vec<String>,
    /// Non-manifold edges that remain (not fixed).
    pub non_manifold_edges: usize,
    /// Watertight before.
    pub watertight_before: bool,
    /// Watertight after.
    pub watertight_after: bool,
}

/// Repair `mesh`.
///
/// ```
/// use lamina::mesh::{repair::{repair, RepairOptions}, shapes::cuboid, check::check};
/// let mut m = cuboid([0.0; 3], [10.0; 3]);
/// m.faces.remove(3); // a hole
/// m.faces[0].swap(1, 2); // a flipped face
/// let (fixed, report) = repair(&m, &RepairOptions::default());
/// assert_eq!((report.holes_filled, report.faces_flipped), (1, 1));
/// let r = check(&fixed);
/// assert!(r.watertight && r.winding_consistent);
/// assert!((r.volume_mm3 - 1000.0).abs() < 1e-6);
/// ```
pub fn repair(mesh: &Mesh, options: &RepairOptions) -> (Mesh, RepairReport) {
    let before = check(mesh);
    let mut report = RepairReport {
        watertight_before: before.watertight && before.winding_consistent,
        ..Default::default()
    };
    let mut m = mesh.clone();

    // 1. Degenerate faces.
    let n0 = m.faces.len();
    m.faces.retain(|f| {
        if f[0] == f[1] || f[1] == f[2] || f[0] == f[2] {
            return false;
        }
        let [a, b, c] = f.map(|v| mesh.vertices[v as usize].map(f64::from));
        tri_area(a, b, c) >= DEGENERATE_AREA
    });
    report.degenerate_removed = n0 - m.faces.len();

    // 2. Duplicates: keep one of equal faces; drop both of a pair facing opposite ways
    // (an internal double wall).
    report.duplicates_removed = remove_duplicates(&mut m);

    // 3. Consistent winding per shell, then outward.
    let (flipped, reoriented) = orient(&mut m);
    report.faces_flipped = flipped;
    report.shells_reoriented = reoriented;

    // 4. Holes.
    if options.fill_holes {
        fill_holes(&mut m, options, &mut report);
    }

    // 5. Unused vertices.
    compact(&mut m);
    let after = check(&m);
    report.non_manifold_edges = after.non_manifold_edges;
    report.watertight_after = after.watertight && after.winding_consistent;
    (m, report)
}

fn remove_duplicates(m: &mut Mesh) -> usize {
    let mut seen: HashMap<[u32; 3], Vec<usize>> = HashMap::new();
    for (i, f) in m.faces.iter().enumerate() {
        let mut k = *f;
        k.sort_unstable();
        seen.entry(k).or_default().push(i);
    }
    let mut drop = vec![false; m.faces.len()];
    for group in seen.values().filter(|g| g.len() > 1) {
        // Orientation of a face relative to its sorted key: even or odd permutation.
        let parity = |f: [u32; 3]| {
            let r = f
                .iter()
                .position(|&v| v == *f.iter().min().unwrap_or(&0))
                .unwrap_or(0);
            let g = [f[r], f[(r + 1) % 3], f[(r + 2) % 3]];
            g[1] < g[2]
        };
        let (up, down): (Vec<usize>, Vec<usize>) = group.iter().partition(|&&i| parity(m.faces[i]));
        // Pairs facing opposite ways cancel; what is left keeps one face.
        let pairs = up.len().min(down.len());
        for &i in up.iter().take(pairs).chain(down.iter().take(pairs)) {
            drop[i] = true;
        }
        let rest: Vec<usize> = up
            .iter()
            .skip(pairs)
            .chain(down.iter().skip(pairs))
            .copied()
            .collect();
        for &i in rest.iter().skip(1) {
            drop[i] = true;
        }
    }
    let removed = drop.iter().filter(|d| **d).count();
    let mut i = 0;
    m.faces.retain(|_| {
        i += 1;
        !drop[i - 1]
    });
    removed
}

/// Make each shell's winding agree across its manifold edges (breadth first from its
/// largest face), then turn shells with negative volume that are not cavities inside
/// another shell. Returns (faces flipped, shells reoriented).
fn orient(m: &mut Mesh) -> (usize, usize) {
    let edges = EdgeMap::new(m);
    let n = m.faces.len();
    let mut neighbours: Vec<Vec<(u32, bool)>> = vec![Vec::new(); n];
    for g in edges.groups() {
        if g.len() == 2 && g[0].face != g[1].face {
            // Agreeing faces run the edge in opposite directions.
            let same = g[0].forward == g[1].forward;
            neighbours[g[0].face as usize].push((g[1].face, same));
            neighbours[g[1].face as usize].push((g[0].face, same));
        }
    }
    let mut flip = vec![false; n];
    let mut seen = vec![false; n];
    let mut flipped = 0;
    // Seeds in order of decreasing area so each shell starts from a solid face.
    let mut order: Vec<usize> = (0..n).collect();
    let areas: Vec<f64> = (0..n)
        .map(|f| {
            let [a, b, c] = corners(m, f);
            tri_area(a, b, c)
        })
        .collect();
    order.sort_by(|&a, &b| areas[b].total_cmp(&areas[a]));
    for &seed in &order {
        if seen[seed] {
            continue;
        }
        seen[seed] = true;
        let mut queue = VecDeque::from([seed]);
        let mut component = vec![seed];
        while let Some(f) = queue.pop_front() {
            for &(g, same) in &neighbours[f] {
                let g = g as usize;
                if seen[g] {
                    continue;
                }
                seen[g] = true;
                // g must be flipped when it disagrees with f as f now stands.
                flip[g] = flip[f] ^ same;
                component.push(g);
                queue.push_back(g);
            }
        }
        // The seed may itself be the odd face out: keep the majority's winding and flip
        // the minority, so the count says how many faces really disagreed.
        let count = component.iter().filter(|&&f| flip[f]).count();
        if 2 * count > component.len() {
            for &f in &component {
                flip[f] = !flip[f];
            }
            flipped += component.len() - count;
        } else {
            flipped += count;
        }
    }
    for (f, fl) in m.faces.iter_mut().zip(&flip) {
        if *fl {
            f.swap(1, 2);
        }
    }
    // Outward: shells by manifold adjacency; volume relative to the shell's centroid.
    let edges = EdgeMap::new(m);
    let (labels, count) = shells(m, &edges);
    let mut volume = vec![0.0f64; count];
    let mut centroid = vec![[0.0f64; 3]; count];
    let mut faces_in = vec![0usize; count];
    for (f, &s) in labels.iter().enumerate() {
        let s = s as usize;
        let [a, b, c] = corners(m, f);
        for (k, ck) in centroid[s].iter_mut().enumerate() {
            *ck += (a[k] + b[k] + c[k]) / 3.0;
        }
        faces_in[s] += 1;
    }
    for (c, &k) in centroid.iter_mut().zip(&faces_in) {
        for ck in c.iter_mut() {
            *ck /= k.max(1) as f64;
        }
    }
    for (f, &s) in labels.iter().enumerate() {
        let s = s as usize;
        let o = centroid[s];
        let [a, b, c] = corners(m, f);
        let sub = |p: [f64; 3]| [p[0] - o[0], p[1] - o[1], p[2] - o[2]];
        volume[s] += tet_volume(sub(a), sub(b), sub(c));
    }
    let mut reoriented = 0;
    // Cavities (negative shells inside another) keep facing inward.
    let negative: Vec<usize> = (0..count).filter(|&s| volume[s] < 0.0).collect();
    if !negative.is_empty() {
        let cavity = cavity_shells(m, &labels, &negative);
        for s in negative {
            if cavity.contains(&s) {
                continue;
            }
            reoriented += 1;
            for (f, face) in m.faces.iter_mut().enumerate() {
                if labels[f] as usize == s {
                    face.swap(1, 2);
                }
            }
        }
    }
    (flipped, reoriented)
}

/// Which of the `candidates` shells lie inside another shell.
fn cavity_shells(m: &Mesh, labels: &[u32], candidates: &[usize]) -> Vec<usize> {
    let index = YzIndex::new(m);
    candidates
        .iter()
        .copied()
        .filter(|&s| {
            let Some(f) = labels.iter().position(|&l| l as usize == s) else {
                return false;
            };
            let [a, b, c] = corners(m, f);
            let p = [
                (a[0] + b[0] + c[0]) / 3.0,
                (a[1] + b[1] + c[1]) / 3.0,
                (a[2] + b[2] + c[2]) / 3.0,
            ];
            inside_other_shell(m, &index, labels, s as u32, p)
        })
        .collect()
}

/// Cap every hole (boundary loop) with triangles.
fn fill_holes(m: &mut Mesh, options: &RepairOptions, report: &mut RepairReport) {
    let edges = EdgeMap::new(m);
    // Boundary edges in the direction their face runs them.
    let mut next: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut count = 0;
    for g in edges.groups() {
        if g.len() == 1 {
            let (lo, hi) = key_vertices(g[0].key);
            let (a, b) = if g[0].forward { (lo, hi) } else { (hi, lo) };
            next.entry(a).or_default().push(b);
            count += 1;
        }
    }
    if count == 0 {
        return;
    }
    // Walk loops; at a vertex with several outgoing boundary edges, take any (the loop
    // through a pinched vertex splits into simple loops).
    let mut loops: Vec<Vec<u32>> = Vec::new();
    let starts: Vec<u32> = next.keys().copied().collect();
    for s in starts {
        while let Some(first) = next.get_mut(&s).and_then(|v| v.pop()) {
            let mut lp = vec![s];
            let mut cur = first;
            let mut closed = false;
            for _ in 0..count + 1 {
                if cur == s {
                    closed = true;
                    break;
                }
                lp.push(cur);
                match next.get_mut(&cur).and_then(|v| v.pop()) {
                    Some(n) => cur = n,
                    None => break,
                }
            }
            if closed && lp.len() >= 3 {
                loops.push(lp);
            } else if !lp.is_empty() {
                report.holes_left_open.push(format!(
                    "a rim of {} edges does not close (non-manifold vertex)",
                    lp.len()
                ));
            }
        }
    }
    for lp in loops {
        if options.max_hole_edges > 0 && lp.len() > options.max_hole_edges {
            report.holes_left_open.push(format!(
                "a hole of {} edges (larger than --max-hole {})",
                lp.len(),
                options.max_hole_edges
            ));
            continue;
        }
        let added = cap(m, &lp);
        report.holes_filled += 1;
        report.triangles_added += added;
    }
}

/// Cap one loop (vertices in the direction the existing faces run its edges) by
/// repeatedly cutting off the ear with the smallest angle (measured in the loop's
/// best-fit plane), which keeps caps of non-planar holes from folding over.
fn cap(m: &mut Mesh, lp: &[u32]) -> usize {
    let pos = |v: u32| m.vertices[v as usize].map(f64::from);
    // The loop's normal (Newell's method): the loop runs counter-clockwise around it.
    let mut normal = Vector3::<f64>::zeros();
    for i in 0..lp.len() {
        let (a, b) = (pos(lp[i]), pos(lp[(i + 1) % lp.len()]));
        normal += Vector3::new(
            (a[1] - b[1]) * (a[2] + b[2]),
            (a[2] - b[2]) * (a[0] + b[0]),
            (a[0] - b[0]) * (a[1] + b[1]),
        );
    }
    let mut ring: Vec<u32> = lp.to_vec();
    let mut added = 0;
    let angle = |ring: &[u32], i: usize| {
        let n = ring.len();
        let (p, c, q) = (
            pos(ring[(i + n - 1) % n]),
            pos(ring[i]),
            pos(ring[(i + 1) % n]),
        );
        let c = Vector3::from(c);
        let (u, w) = (Vector3::from(p) - c, Vector3::from(q) - c);
        // w × u: positive along the normal where the loop turns towards its inside.
        let sin = w.cross(&u).dot(&normal);
        let cos = u.dot(&w) * normal.norm();
        // The interior angle at c, 0..2π: the cap lies on the side the rim turns to.
        let a = sin.atan2(cos);
        if a < 0.0 {
            a + std::f64::consts::TAU
        } else {
            a
        }
    };
    while ring.len() > 3 {
        let n = ring.len();
        let i = (0..n)
            .min_by(|&a, &b| angle(&ring, a).total_cmp(&angle(&ring, b)))
            .unwrap_or(0);
        let (p, c, q) = (ring[(i + n - 1) % n], ring[i], ring[(i + 1) % n]);
        // The rim runs p -> c -> q; the cap runs it back: q -> c -> p.
        m.faces.push([q, c, p]);
        added += 1;
        ring.remove(i);
    }
    m.faces.push([ring[2], ring[1], ring[0]]);
    added + 1
}

/// Drop vertices no face uses.
fn compact(m: &mut Mesh) {
    let mut map = vec![u32::MAX; m.vertices.len()];
    let mut verts = Vec::with_capacity(m.vertices.len());
    for f in &mut m.faces {
        for v in f.iter_mut() {
            if map[*v as usize] == u32::MAX {
                map[*v as usize] = verts.len() as u32;
                verts.push(m.vertices[*v as usize]);
            }
            *v = map[*v as usize];
        }
    }
    m.vertices = verts;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::shapes::{cuboid, merge, tube, uv_sphere};

    fn cap_normals_agree(m: &Mesh, first_cap: usize, axis: [f64; 3]) -> bool {
        (first_cap..m.faces.len()).all(|f| {
            let [a, b, c] = corners(m, f).map(Vector3::from);
            (b - a).cross(&(c - a)).dot(&Vector3::from(axis)) >= -1e-12
        })
    }

    #[test]
    fn open_cylinder_is_capped_watertight() {
        let mut t = crate::mesh::shapes::cylinder([0.0; 3], 5.0, 10.0, 64);
        // Remove both end caps (faces touching a centre vertex).
        let centres = [128u32, 129];
        t.faces.retain(|f| !f.iter().any(|v| centres.contains(v)));
        let before = check(&t);
        assert_eq!(before.boundary_loops, 2);
        let (m, r) = repair(&t, &RepairOptions::default());
        assert_eq!(r.holes_filled, 2);
        let after = check(&m);
        assert!(after.watertight && after.winding_consistent);
        let expected = 0.5 * 64.0 * 25.0 * (std::f64::consts::TAU / 64.0).sin() * 10.0;
        assert!(
            (after.volume_mm3 - expected).abs() < 1e-3,
            "{}",
            after.volume_mm3
        );
    }

    #[test]
    fn bowl_with_a_non_planar_rim_caps_without_folding() {
        // The lower part of a sphere cut by a wavy rim: the cap must face up everywhere.
        let mut s = uv_sphere([0.0; 3], 10.0, 40, 80);
        let keep: Vec<bool> = s
            .faces
            .iter()
            .map(|f| {
                f.iter().all(|&v| {
                    let p = s.vertices[v as usize];
                    let wave = 2.0 * (3.0 * p[1].atan2(p[0])).sin();
                    p[2] < wave
                })
            })
            .collect();
        let mut i = 0;
        s.faces.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        let n = s.faces.len();
        let (m, r) = repair(&s, &RepairOptions::default());
        assert_eq!(r.holes_filled, 1);
        assert!(check(&m).watertight);
        assert!(
            cap_normals_agree(&m, n, [0.0, 0.0, 1.0]),
            "a cap triangle folds over"
        );
    }

    #[test]
    fn inside_out_shell_is_turned_but_cavity_kept() {
        let mut inv = cuboid([0.0; 3], [10.0; 3]);
        for f in &mut inv.faces {
            f.swap(1, 2);
        }
        let (m, r) = repair(&inv, &RepairOptions::default());
        assert_eq!(r.shells_reoriented, 1);
        assert!(check(&m).volume_mm3 > 0.0);
        let mut cavity = cuboid([2.0; 3], [4.0; 3]);
        for f in &mut cavity.faces {
            f.swap(1, 2);
        }
        let (m, r) = repair(
            &merge(&[cuboid([0.0; 3], [6.0; 3]), cavity]),
            &RepairOptions::default(),
        );
        assert_eq!(r.shells_reoriented, 0);
        assert!((check(&m).volume_mm3 - 208.0).abs() < 1e-9);
    }

    #[test]
    fn degenerate_and_duplicates_go() {
        let mut m = cuboid([0.0; 3], [1.0; 3]);
        m.faces.push(m.faces[2]);
        m.faces.push([0, 0, 3]);
        let back = [m.faces[5][0], m.faces[5][2], m.faces[5][1]];
        m.faces.push(back);
        let (fixed, r) = repair(&m, &RepairOptions::default());
        assert_eq!(r.degenerate_removed, 1);
        // The exact copy goes; face 5 and its reversed twin both go (a double wall),
        // leaving a hole that is then capped.
        assert_eq!(r.duplicates_removed, 3);
        assert!(check(&fixed).watertight);
    }

    #[test]
    fn sphere_with_holes_comes_out_watertight() {
        let mut s = uv_sphere([0.0; 3], 10.0, 30, 60);
        let mut i = 0;
        s.faces.retain(|_| {
            i += 1;
            i % 97 != 0
        });
        let (m, r) = repair(&s, &RepairOptions::default());
        assert!(r.holes_filled > 10);
        let c = check(&m);
        assert!(c.watertight && c.winding_consistent, "{c:?}");
        let v = 4.0 / 3.0 * std::f64::consts::PI * 1000.0;
        assert!((c.volume_mm3 - v).abs() / v < 0.01);
    }

    #[test]
    fn big_holes_can_be_kept_open() {
        let mut t = tube([0.0; 3], 3.0, 4.0, 10.0, 32);
        t.faces
            .retain(|f| !f.iter().all(|&v| t.vertices[v as usize][2] == 10.0));
        let (_, r) = repair(
            &t,
            &RepairOptions {
                max_hole_edges: 16,
                fill_holes: true,
            },
        );
        assert_eq!(r.holes_filled, 0);
        assert_eq!(r.holes_left_open.len(), 2);
    }
}
