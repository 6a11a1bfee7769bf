//! Repairing a mesh: degenerate and duplicate faces out, every shell wound consistently
//! and facing outward, holes capped, unused vertices dropped; and a report of what was
//! done.
//!
//! A repair never adds a defect: every count [`check`] reports as a defect (boundary
//! edges, holes, non-manifold and inconsistent edges, degenerate and duplicate faces,
//! inside-out shells, and the number of shells) is lower or equal afterwards. Each step
//! is made to keep that locally (a face whose removal would open the surface is kept or
//! replaced instead, a cap that would reuse an edge is not made), and the whole result
//! is checked: a step that still added a defect is withheld and the report says so.
//!
//! Slicing does not need this (the slicer copes with broken meshes); it is for labs that
//! want a clean file, or a watertight mesh for other tools.

use std::collections::{HashMap, HashSet, VecDeque};

use nalgebra::Vector3;
use serde::Serialize;

use super::Mesh;
use super::check::{DEGENERATE_AREA, MeshReport, check, duplicate_groups};
use super::topology::{
    EdgeMap, EdgeUse, YzIndex, corners, inside_other_shell, key_vertices, shells, tet_volume,
    tri_area,
};

/// Passes over the degenerate faces at most: faces next to a change wait for the next
/// pass, and clusters of degenerate faces in real meshes are a few faces wide.
const DEGENERATE_PASSES: usize = 32;

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
    /// Degenerate faces (a repeated vertex or no area) removed.
    pub degenerate_removed: usize,
    /// Degenerate faces with no area made good by turning the edge they lie along
    /// (the face and its neighbour become two faces with area; the surface is the same).
    pub degenerate_flipped: usize,
    /// Degenerate faces kept: removing them would have opened the surface.
    pub degenerate_kept: usize,
    /// Duplicate faces removed (of those [`check`] counts: faces on the same three
    /// vertices as another face).
    pub duplicates_removed: usize,
    /// Of those, the faces kept: one of a group facing the same way, or where removing
    /// them would have opened the surface.
    pub duplicates_kept: usize,
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
    /// Steps not applied because they would have added a defect, with what they added.
    pub withheld: Vec<String>,
    /// Non-manifold edges that remain (not fixed).
    pub non_manifold_edges: usize,
    /// Watertight before.
    pub watertight_before: bool,
    /// Watertight after.
    pub watertight_after: bool,
}

/// The steps of a repair, in the order they are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Duplicates,
    Orient,
    Degenerate,
    Holes,
    /// A step that adds a duplicate face, to show the guard at work.
    #[cfg(test)]
    AddDefect,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::Duplicates => "removing duplicate faces",
            Step::Orient => "turning faces and shells",
            Step::Degenerate => "removing degenerate faces",
            Step::Holes => "filling holes",
            #[cfg(test)]
            Step::AddDefect => "adding a defect",
        }
    }
}

/// The counts a repair must not raise, named as `lamina inspect` names them.
pub fn defect_counts(r: &MeshReport) -> [(&'static str, usize); 8] {
    [
        ("boundary edges", r.boundary_edges),
        ("holes", r.boundary_loops),
        ("non-manifold edges", r.non_manifold_edges),
        ("edges with disagreeing winding", r.inconsistent_edges),
        ("degenerate faces", r.degenerate_faces),
        ("duplicate faces", r.duplicate_faces),
        ("inside-out shells", r.inside_out_shells),
        ("shells", r.shells),
    ]
}

/// What `after` has more of than `before`, in words ("1 boundary edge more").
fn added_defects(before: &MeshReport, after: &MeshReport) -> Vec<String> {
    defect_counts(before)
        .iter()
        .zip(defect_counts(after))
        .filter(|((_, b), (_, a))| a > b)
        .map(|((name, b), (_, a))| format!("{} more {name}", a - b))
        .collect()
}

/// Repair `mesh`. Every defect count of the result is at most the input's (see the
/// module documentation).
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
    let mut steps = vec![Step::Duplicates, Step::Orient, Step::Degenerate];
    if options.fill_holes {
        steps.push(Step::Holes);
    }
    repair_with(mesh, options, steps)
}

/// A repair with these steps, withholding any that would add a defect.
fn repair_with(mesh: &Mesh, options: &RepairOptions, mut steps: Vec<Step>) -> (Mesh, RepairReport) {
    let before = check(mesh);
    let attempt = |steps: &[Step]| {
        let (m, report) = run_steps(mesh, options, steps);
        let after = check(&m);
        let added = added_defects(&before, &after);
        (m, report, after, added)
    };
    let mut withheld = Vec::new();
    let (mut m, mut report, mut after, mut added) = attempt(&steps);
    while !added.is_empty() && !steps.is_empty() {
        // Withhold the latest step whose absence alone adds nothing, else the last one
        // and look again. With no step left the mesh is as it came, which adds nothing.
        let mut found = None;
        for i in (0..steps.len()).rev() {
            let mut fewer = steps.clone();
            fewer.remove(i);
            let tried = attempt(&fewer);
            if tried.3.is_empty() {
                found = Some((i, tried));
                break;
            }
        }
        let i = found.as_ref().map_or(steps.len() - 1, |(i, _)| *i);
        withheld.push(format!(
            "{} (it would have left {})",
            steps[i].name(),
            added.join(", ")
        ));
        steps.remove(i);
        (m, report, after, added) = match found {
            Some((_, tried)) => tried,
            None => attempt(&steps),
        };
    }
    report.watertight_before = before.watertight && before.winding_consistent;
    report.non_manifold_edges = after.non_manifold_edges;
    report.watertight_after = after.watertight && after.winding_consistent;
    report.withheld = withheld;
    (m, report)
}

/// Apply `steps` to a copy of `mesh`.
fn run_steps(mesh: &Mesh, options: &RepairOptions, steps: &[Step]) -> (Mesh, RepairReport) {
    let mut report = RepairReport::default();
    let mut m = mesh.clone();
    for step in steps {
        match step {
            Step::Duplicates => {
                let (removed, kept) = remove_duplicates(&mut m);
                report.duplicates_removed = removed;
                report.duplicates_kept = kept;
            }
            Step::Orient => {
                // Degenerate faces that can go without opening the surface go first
                // (their edges' winding is then set right by the turning).
                if steps.contains(&Step::Degenerate) {
                    report.degenerate_removed += fix_degenerate(&mut m, false).1;
                }
                let (flipped, reoriented) = orient(&mut m);
                report.faces_flipped = flipped;
                report.shells_reoriented = reoriented;
            }
            Step::Degenerate => {
                let (flipped, removed, kept) = fix_degenerate(&mut m, true);
                report.degenerate_flipped = flipped;
                report.degenerate_removed += removed;
                report.degenerate_kept = kept;
            }
            Step::Holes => fill_holes(&mut m, options, &mut report),
            #[cfg(test)]
            Step::AddDefect => {
                if let Some(&f) = m.faces.first() {
                    m.faces.push(f);
                }
            }
        }
    }
    compact(&mut m);
    (m, report)
}

/// Which way a face runs round its sorted vertices (an even or odd permutation).
fn turns_up(f: [u32; 3]) -> bool {
    let r = (0..3).min_by_key(|&k| f[k]).unwrap_or(0);
    f[(r + 1) % 3] < f[(r + 2) % 3]
}

/// Remove duplicate faces ([`duplicate_groups`]): of each group, faces facing opposite
/// ways go in pairs (a double wall where two pieces touch) and of those facing the same
/// way one stays; that one goes too where no edge is left with a single face (a flap
/// of two faces on one another). Then, wherever an edge would be left with a single
/// face though it had more, a removed face comes back (the one running the edge against
/// the face left there), until no edge is. Returns (removed, kept): together, every
/// face of the groups.
fn remove_duplicates(m: &mut Mesh) -> (usize, usize) {
    let groups = duplicate_groups(m);
    if groups.is_empty() {
        return (0, 0);
    }
    let total: usize = groups.iter().map(Vec::len).sum();
    let mut drop = vec![false; m.faces.len()];
    let mut staying = Vec::new();
    for group in &groups {
        let (up, down): (Vec<u32>, Vec<u32>) =
            group.iter().partition(|&&f| turns_up(m.faces[f as usize]));
        let pairs = up.len().min(down.len());
        for &f in up.iter().take(pairs).chain(down.iter().take(pairs)) {
            drop[f as usize] = true;
        }
        let mut rest = up.iter().skip(pairs).chain(down.iter().skip(pairs));
        if let Some(&first) = rest.next() {
            staying.push(first as usize);
        }
        for &f in rest {
            drop[f as usize] = true;
        }
    }
    let edges = EdgeMap::new(m);
    // The faces left on an edge, were `f` dropped too.
    let left_without = |drop: &[bool], f: usize, k: usize| {
        let face = m.faces[f];
        let g = uses_of(&edges, face[k], face[(k + 1) % 3]);
        let left = g
            .iter()
            .filter(|u| u.face as usize != f && !drop[u.face as usize])
            .count();
        (left, g.len())
    };
    for f in staying {
        let opens = (0..3).any(|k| {
            let (left, total) = left_without(&drop, f, k);
            left == 1 && total >= 2
        });
        if !opens {
            drop[f] = true;
        }
    }
    let mut touched: Vec<&[EdgeUse]> = edges
        .groups()
        .filter(|g| g.iter().any(|u| drop[u.face as usize]))
        .collect();
    loop {
        let mut changed = false;
        for g in &touched {
            let left: Vec<&EdgeUse> = g.iter().filter(|u| !drop[u.face as usize]).collect();
            if g.len() < 2 || left.len() != 1 {
                continue;
            }
            let other = left[0].forward;
            let back = g
                .iter()
                .filter(|u| drop[u.face as usize])
                .min_by_key(|u| u.forward == other);
            if let Some(u) = back {
                drop[u.face as usize] = false;
                changed = true;
            }
        }
        if !changed {
            break;
        }
        touched.retain(|g| g.iter().any(|u| drop[u.face as usize]));
    }
    let removed = drop.iter().filter(|d| **d).count();
    let mut i = 0;
    m.faces.retain(|_| {
        i += 1;
        !drop[i - 1]
    });
    (removed, total - removed)
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

/// The faces around the edge `a`-`b` in a sorted [`EdgeMap`].
fn uses_of(edges: &EdgeMap, a: u32, b: u32) -> &[EdgeUse] {
    let key = edge_key(a, b);
    let lo = edges.uses.partition_point(|u| u.key < key);
    let hi = lo + edges.uses[lo..].partition_point(|u| u.key == key);
    &edges.uses[lo..hi]
}

/// The undirected key of edge `a`-`b`, as [`EdgeMap`] keys them.
fn edge_key(a: u32, b: u32) -> u64 {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    (u64::from(lo) << 32) | u64::from(hi)
}

/// Whether removing face `f` leaves each of its edges no worse: an edge it alone uses
/// goes away, one shared with a single other face would become a hole rim (no), one
/// shared with two others becomes an ordinary edge, which agrees on winding only if
/// those two run it opposite ways (required when `winding`).
fn removable(edges: &EdgeMap, m: &Mesh, f: usize, winding: bool) -> bool {
    let face = m.faces[f];
    // A zero-length edge is no edge of the surface; the faces on a repeated vertex
    // that share one go together.
    (0..3).filter(|&k| face[k] != face[(k + 1) % 3]).all(|k| {
        let g = uses_of(edges, face[k], face[(k + 1) % 3]);
        let others: Vec<&EdgeUse> = g.iter().filter(|u| u.face as usize != f).collect();
        match others.len() {
            0 => true,
            1 => false,
            2 => !winding || others[0].forward != others[1].forward,
            _ => true,
        }
    })
}

/// Whether face `f` is degenerate as [`check`] counts it: a repeated vertex or no area.
fn degenerate(m: &Mesh, f: usize) -> bool {
    let face = m.faces[f];
    if face[0] == face[1] || face[1] == face[2] || face[0] == face[2] {
        return true;
    }
    let [a, b, c] = corners(m, f);
    tri_area(a, b, c) < DEGENERATE_AREA
}

/// Degenerate faces: a repeated vertex, or no area (one corner on the edge between the
/// other two). Such a face is removed where that opens nothing ([`removable`]); else a
/// face with no area has its longest edge flipped with the neighbour across it, which
/// turns the two faces into two with area covering exactly the same surface; else it is
/// kept. Faces next to a change wait for the next pass. Without `winding` (before the
/// faces are turned to agree) only removals are made, whatever the winding of the
/// edges they leave. Returns (flipped, removed, kept).
fn fix_degenerate(m: &mut Mesh, winding: bool) -> (usize, usize, usize) {
    let (mut flipped, mut removed) = (0, 0);
    for _ in 0..DEGENERATE_PASSES {
        let faces: Vec<usize> = (0..m.faces.len()).filter(|&f| degenerate(m, f)).collect();
        if faces.is_empty() {
            break;
        }
        let edges = EdgeMap::new(m);
        // Faces changed in this pass or next to a change (the edge map no longer
        // describes their edges) and edges made in it.
        let mut busy: HashSet<usize> = HashSet::new();
        let mut made: HashSet<u64> = HashSet::new();
        let mut remove: Vec<usize> = Vec::new();
        for f in faces {
            let face = m.faces[f];
            let around: Vec<usize> = (0..3)
                .filter(|&k| face[k] != face[(k + 1) % 3])
                .flat_map(|k| uses_of(&edges, face[k], face[(k + 1) % 3]))
                .map(|u| u.face as usize)
                .collect();
            if around.iter().any(|g| busy.contains(g)) {
                continue;
            }
            if removable(&edges, m, f, winding) {
                remove.push(f);
                busy.extend(around);
                continue;
            }
            if !winding {
                continue;
            }
            if let Some((g, new_f, new_g)) = flip_longest_edge(m, &edges, &made, f) {
                let more: Vec<usize> = (0..3)
                    .flat_map(|k| uses_of(&edges, m.faces[g][k], m.faces[g][(k + 1) % 3]))
                    .map(|u| u.face as usize)
                    .collect();
                m.faces[f] = new_f;
                m.faces[g] = new_g;
                made.insert(edge_key(new_f[1], new_f[2]));
                busy.extend(around);
                busy.extend(more);
                flipped += 1;
            }
        }
        if busy.is_empty() {
            break;
        }
        removed += remove.len();
        let drop: HashSet<usize> = remove.into_iter().collect();
        let mut i = 0;
        m.faces.retain(|_| {
            i += 1;
            !drop.contains(&(i - 1))
        });
    }
    let kept = (0..m.faces.len()).filter(|&f| degenerate(m, f)).count();
    (flipped, removed, kept)
}

/// For zero-area face `f` = (a, b, c) with c on the segment a-b: the neighbour across
/// a-b, and the two faces (a, d, c), (d, b, c) that replace the pair, when the edge is
/// shared by just the two faces winding it opposite ways, the new edge c-d is not an
/// edge already, and both new faces have area.
fn flip_longest_edge(
    m: &Mesh,
    edges: &EdgeMap,
    made: &HashSet<u64>,
    f: usize,
) -> Option<(usize, [u32; 3], [u32; 3])> {
    let face = m.faces[f];
    let pos = |v: u32| Vector3::from(m.vertices[v as usize].map(f64::from));
    let k = (0..3).max_by(|&i, &j| {
        let len = |k: usize| (pos(face[(k + 1) % 3]) - pos(face[k])).norm();
        len(i).total_cmp(&len(j))
    })?;
    let (a, b, c) = (face[k], face[(k + 1) % 3], face[(k + 2) % 3]);
    let g_uses = uses_of(edges, a, b);
    if g_uses.len() != 2 {
        return None;
    }
    let g = g_uses.iter().find(|u| u.face as usize != f)?.face as usize;
    let gf = m.faces[g];
    // g must run b -> a (the winding agreeing with f's a -> b).
    let i = (0..3).find(|&i| gf[i] == b && gf[(i + 1) % 3] == a)?;
    let d = gf[(i + 2) % 3];
    if d == c || !uses_of(edges, c, d).is_empty() || made.contains(&edge_key(c, d)) {
        return None;
    }
    let (new_f, new_g) = ([a, d, c], [d, b, c]);
    let area = |t: [u32; 3]| {
        let [p, q, r] = t.map(|v| m.vertices[v as usize].map(f64::from));
        tri_area(p, q, r)
    };
    (area(new_f) >= DEGENERATE_AREA && area(new_g) >= DEGENERATE_AREA).then_some((g, new_f, new_g))
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
    let mut starts: Vec<u32> = next.keys().copied().collect();
    starts.sort_unstable();
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
    // Every edge of the mesh: a cap must not add a face to an edge that has two.
    let mut existing: HashSet<u64> = edges.uses.iter().map(|u| u.key).collect();
    for lp in loops {
        if options.max_hole_edges > 0 && lp.len() > options.max_hole_edges {
            report.holes_left_open.push(format!(
                "a hole of {} edges (larger than --max-hole {})",
                lp.len(),
                options.max_hole_edges
            ));
            continue;
        }
        match cap(m, &lp, &existing) {
            Some(faces) => {
                for f in &faces {
                    for k in 0..3 {
                        existing.insert(edge_key(f[k], f[(k + 1) % 3]));
                    }
                }
                report.holes_filled += 1;
                report.triangles_added += faces.len();
                m.faces.extend(faces);
            }
            None => report.holes_left_open.push(format!(
                "a hole of {} edges: every way to cap it makes a face with no area or joins faces at an edge that has two already",
                lp.len()
            )),
        }
    }
}

/// The faces that cap one loop (vertices in the direction the existing faces run its
/// edges), made by repeatedly cutting off the ear with the smallest angle (measured in
/// the loop's best-fit plane), which keeps caps of non-planar holes from folding over.
/// An ear is only cut where its new edge is not an edge of the mesh already and its
/// face has area; `None` when no ear can be cut.
fn cap(m: &Mesh, lp: &[u32], existing: &HashSet<u64>) -> Option<Vec<[u32; 3]>> {
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
    let mut faces = Vec::with_capacity(lp.len().saturating_sub(2));
    let mut made: HashSet<u64> = HashSet::new();
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
    let has_area = |t: [u32; 3]| tri_area(pos(t[0]), pos(t[1]), pos(t[2])) >= DEGENERATE_AREA;
    while ring.len() > 3 {
        let n = ring.len();
        let ear = |i: usize| (ring[(i + n - 1) % n], ring[i], ring[(i + 1) % n]);
        let i = (0..n)
            .filter(|&i| {
                let (p, c, q) = ear(i);
                let diagonal = edge_key(q, p);
                !existing.contains(&diagonal) && !made.contains(&diagonal) && has_area([q, c, p])
            })
            .min_by(|&a, &b| angle(&ring, a).total_cmp(&angle(&ring, b)))?;
        let (p, c, q) = ear(i);
        // The rim runs p -> c -> q; the cap runs it back: q -> c -> p.
        faces.push([q, c, p]);
        made.insert(edge_key(q, p));
        ring.remove(i);
    }
    let last = [ring[2], ring[1], ring[0]];
    has_area(last).then(|| {
        faces.push(last);
        faces
    })
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
        // The exact copy goes; of face 5 and its reversed twin one stays: removing both
        // would open a hole in the cube. Of the four faces in the two groups, two go.
        assert_eq!((r.duplicates_removed, r.duplicates_kept), (2, 2));
        assert_eq!(r.holes_filled, 0);
        let c = check(&fixed);
        assert!(c.watertight && c.winding_consistent, "{c:?}");
        assert_eq!(c.triangles, 12);
    }

    /// A closed cube whose top face has a vertex inserted on its diagonal: the two top
    /// triangles become three, one of them with no area (a T-junction closed by a
    /// sliver), as marching cubes leaves them.
    fn cube_with_a_sliver() -> Mesh {
        let mut m = cuboid([0.0; 3], [2.0; 3]);
        let top: Vec<usize> = (0..m.faces.len())
            .filter(|&f| m.faces[f].iter().all(|&v| m.vertices[v as usize][2] == 2.0))
            .collect();
        let [f1, f2] = [top[0], top[1]];
        // The diagonal a-b is shared by f1 (a -> b) and f2 (b -> a).
        let (a, b, x) = (0..3)
            .find_map(|k| {
                let (a, b) = (m.faces[f1][k], m.faces[f1][(k + 1) % 3]);
                m.faces[f2]
                    .contains(&a)
                    .then_some(())
                    .filter(|_| m.faces[f2].contains(&b))
                    .map(|_| (a, b, m.faces[f1][(k + 2) % 3]))
            })
            .unwrap();
        let (pa, pb) = (m.vertices[a as usize], m.vertices[b as usize]);
        let c = m.vertices.len() as u32;
        m.vertices
            .push([0.5 * (pa[0] + pb[0]), 0.5 * (pa[1] + pb[1]), 2.0]);
        m.faces[f1] = [a, c, x];
        m.faces.push([c, b, x]);
        m.faces.push([a, b, c]);
        m
    }

    #[test]
    fn a_sliver_is_flipped_away_not_cut_out() {
        let m = cube_with_a_sliver();
        let before = check(&m);
        assert!(before.watertight && before.winding_consistent, "{before:?}");
        assert_eq!(before.degenerate_faces, 1);
        let (fixed, r) = repair(&m, &RepairOptions::default());
        assert_eq!((r.degenerate_flipped, r.degenerate_kept), (1, 0), "{r:?}");
        assert_eq!(r.holes_filled, 0);
        let after = check(&fixed);
        assert_eq!(after.degenerate_faces, 0);
        assert!(after.watertight && after.winding_consistent, "{after:?}");
        assert!((after.volume_mm3 - 8.0).abs() < 1e-9 && (after.area_mm2 - 24.0).abs() < 1e-9);
    }

    #[test]
    fn a_flap_of_two_faces_goes_and_a_double_wall_opens_into_one_piece() {
        // A flap: two faces on the same vertices, facing the same way, on one edge of
        // a cube only.
        let mut m = cuboid([0.0; 3], [1.0; 3]);
        let v = m.vertices.len() as u32;
        m.vertices.push([0.5, 0.5, 3.0]);
        let [a, b, _] = m.faces[0];
        m.faces.push([a, b, v]);
        m.faces.push([a, b, v]);
        let before = check(&m);
        assert_eq!(before.duplicate_faces, 2);
        let (fixed, r) = repair(&m, &RepairOptions::default());
        assert_eq!((r.duplicates_removed, r.duplicates_kept), (2, 0));
        let c = check(&fixed);
        assert!(
            c.watertight && c.winding_consistent && c.duplicate_faces == 0,
            "{c:?}"
        );
        // Two cubes sharing a face, each closed: the shared face twice, back to back.
        let two = merge(&[
            cuboid([0.0; 3], [1.0; 3]),
            cuboid([1.0, 0.0, 0.0], [2.0, 1.0, 1.0]),
        ]);
        let mut welded = Mesh::default();
        let mut index: HashMap<[u32; 3], u32> = HashMap::new();
        for f in &two.faces {
            let face = f.map(|v| {
                let p = two.vertices[v as usize];
                *index.entry(p.map(f32::to_bits)).or_insert_with(|| {
                    welded.vertices.push(p);
                    welded.vertices.len() as u32 - 1
                })
            });
            welded.faces.push(face);
        }
        let before = check(&welded);
        assert_eq!(before.duplicate_faces, 4);
        assert!(
            before.non_manifold_edges > 0 && before.shells > 1,
            "{before:?}"
        );
        let (fixed, r) = repair(&welded, &RepairOptions::default());
        assert_eq!(r.duplicates_removed, 4);
        let c = check(&fixed);
        assert!(c.watertight && c.winding_consistent, "{c:?}");
        assert_eq!(c.shells, 1);
        assert!((c.volume_mm3 - 2.0).abs() < 1e-9);
    }

    #[test]
    fn a_step_that_would_add_a_defect_is_withheld() {
        let mut m = cuboid([0.0; 3], [1.0; 3]);
        m.faces.remove(3);
        let steps = vec![Step::Orient, Step::AddDefect, Step::Holes];
        let (fixed, r) = repair_with(&m, &RepairOptions::default(), steps);
        assert_eq!(r.withheld.len(), 1, "{:?}", r.withheld);
        assert!(
            r.withheld[0].starts_with("adding a defect") && r.withheld[0].contains("duplicate"),
            "{:?}",
            r.withheld
        );
        // The other steps still ran.
        assert_eq!(r.holes_filled, 1);
        let c = check(&fixed);
        assert!(c.watertight && c.duplicate_faces == 0, "{c:?}");
    }

    #[test]
    fn a_cap_never_reuses_an_edge() {
        // A square hole whose both diagonals are edges of the mesh already (faces
        // hanging off them): any cap would make one of them non-manifold.
        let mut m = cuboid([0.0; 3], [1.0; 3]);
        let top: Vec<usize> = (0..m.faces.len())
            .filter(|&f| m.faces[f].iter().all(|&v| m.vertices[v as usize][2] == 1.0))
            .collect();
        let corners: Vec<u32> = {
            let mut c: Vec<u32> = top.iter().flat_map(|&f| m.faces[f]).collect();
            c.sort_unstable();
            c.dedup();
            c
        };
        m.faces
            .retain(|f| !f.iter().all(|&v| m.vertices[v as usize][2] == 1.0));
        let p = m.vertices.len() as u32;
        m.vertices.push([0.5, 0.5, 5.0]);
        let pos = |v: u32| m.vertices[v as usize];
        // The diagonals join opposite corners (x and y both differ).
        for &a in &corners {
            for &b in &corners {
                if a < b && pos(a)[0] != pos(b)[0] && pos(a)[1] != pos(b)[1] {
                    m.faces.push([a, b, p]);
                }
            }
        }
        let before = check(&m);
        let (fixed, r) = repair(&m, &RepairOptions::default());
        let after = check(&fixed);
        assert!(
            after.non_manifold_edges <= before.non_manifold_edges,
            "{after:?}"
        );
        assert!(
            r.holes_left_open
                .iter()
                .any(|h| h.contains("an edge that has two")),
            "{r:?}"
        );
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
