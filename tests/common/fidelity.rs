//! An independent fidelity check: re-reads G-code text and compares each layer's
//! extrusion with the mesh's own cross-section, computed here from the raw triangles
//! (nothing shared with the slicer).
//!
//! - coverage: the fraction of the section's outline (sampled every 0.1 mm) within
//!   reach of a bead centre line (sampled every 0.1 mm);
//! - spill: the fraction of extrusion length (sampled every 0.1 mm) outside the section
//!   and farther than the spill reach from its outline.
//!
//! The reach is w/2 + 0.05 mm for a bead of width w ([`Tolerance::BEAD`]): a correct
//! outer bead's centre line lies w/2 inside the outline, and 0.05 mm allows for the
//! 0.1 mm sampling. An outline 0.1 mm undersize per side therefore leaves its outline
//! uncovered.
#![allow(dead_code)]

use std::collections::HashMap;

use rayon::prelude::*;

/// Spacing of the samples along outlines and beads, mm.
pub const STEP: f64 = 0.1;

/// Slack added to half a bead's width: the sampling's worst case (half a step).
pub const SLACK: f64 = 0.05;

/// A printed segment of one layer, mm.
#[derive(Debug, Clone, Copy)]
pub struct Bead {
    pub a: [f64; 2],
    pub b: [f64; 2],
    pub width: f64,
    pub role: &'static str,
    /// The tool that printed it (0 until a `T` command says otherwise).
    pub tool: usize,
    /// Filament fed for it, mm.
    pub e: f64,
}

impl Bead {
    /// Length in XY, mm.
    pub fn len(&self) -> f64 {
        (self.b[0] - self.a[0]).hypot(self.b[1] - self.a[1])
    }

    /// Whether the bead belongs to the part (not skirt, brim, support or tower).
    pub fn is_model(&self) -> bool {
        !matches!(
            self.role,
            "Skirt/Brim" | "Support material" | "Support material interface" | "Wipe tower"
        )
    }

    /// Whether the bead is support or support interface.
    pub fn is_support(&self) -> bool {
        self.role.starts_with("Support")
    }

    /// Points every [`STEP`] mm along the bead (the middles of equal pieces) with the
    /// length each stands for.
    pub fn samples(&self) -> impl Iterator<Item = ([f64; 2], f64)> + '_ {
        samples(self.a, self.b)
    }
}

/// Points every [`STEP`] mm along a segment (the middles of equal pieces no longer than
/// a step) with the length each stands for.
pub fn samples(a: [f64; 2], b: [f64; 2]) -> impl Iterator<Item = ([f64; 2], f64)> {
    let len = (b[0] - a[0]).hypot(b[1] - a[1]);
    let n = (len / STEP).ceil().max(1.0) as usize;
    (0..n).map(move |k| {
        let t = (k as f64 + 0.5) / n as f64;
        (
            [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])],
            len / n as f64,
        )
    })
}

/// The extrusions of one layer.
#[derive(Debug, Clone, Default)]
pub struct GLayer {
    /// Top of the layer, mm.
    pub z: f64,
    pub height: f64,
    pub beads: Vec<Bead>,
}

impl GLayer {
    /// Height at which the layer is compared with the mesh: its middle.
    pub fn mid(&self) -> f64 {
        self.z - self.height / 2.0
    }
}

fn intern(role: &str) -> &'static str {
    const ROLES: [&str; 13] = [
        "External perimeter",
        "Perimeter",
        "Overhang perimeter",
        "Gap fill",
        "Solid infill",
        "Top solid infill",
        "Bridge infill",
        "Internal infill",
        "Skirt/Brim",
        "Support material",
        "Support material interface",
        "Wipe tower",
        "Custom",
    ];
    ROLES
        .iter()
        .find(|r| **r == role)
        .copied()
        .unwrap_or("Unknown")
}

/// Parse G-code into layers of extrusion segments (absolute or relative E, G92,
/// `;LAYER_CHANGE`/`;Z:`/`;HEIGHT:`/`;TYPE:`/`;WIDTH:` comments).
pub fn parse_gcode(text: &str) -> Vec<GLayer> {
    let mut layers: Vec<GLayer> = Vec::new();
    let (mut x, mut y, mut z, mut e) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let mut relative_e = false;
    let mut absolute_xyz = true;
    let mut width = 0.45;
    let mut role: &'static str = "Unknown";
    let mut tool = 0usize;
    // Extrusion before the first layer marker (a prime line) is not part of the print.
    let mut started = !text.contains(";LAYER_CHANGE");
    for raw in text.lines() {
        let line = raw.trim();
        if let Some(c) = line.strip_prefix(';') {
            if c == "LAYER_CHANGE" {
                started = true;
                layers.push(GLayer::default());
            } else if let Some(v) = c.strip_prefix("Z:") {
                if let (Some(l), Ok(zz)) = (layers.last_mut(), v.trim().parse()) {
                    l.z = zz;
                }
            } else if let Some(v) = c.strip_prefix("HEIGHT:") {
                if let (Some(l), Ok(h)) = (layers.last_mut(), v.trim().parse()) {
                    l.height = h;
                }
            } else if let Some(v) = c.strip_prefix("TYPE:") {
                role = intern(v.trim());
            } else if let Some(v) = c.strip_prefix("WIDTH:") {
                width = v.trim().parse().unwrap_or(width);
            }
            continue;
        }
        let code = line.split(';').next().unwrap_or("").trim();
        let mut words = code.split_whitespace();
        let Some(cmd) = words.next() else { continue };
        let mut get = HashMap::new();
        for w in words {
            let (k, v) = w.split_at(1);
            if let Ok(v) = v.parse::<f64>() {
                get.insert(k.to_ascii_uppercase(), v);
            }
        }
        match cmd {
            t if t.len() > 1 && t.starts_with('T') && t[1..].parse::<usize>().is_ok() => {
                tool = t[1..].parse().unwrap_or(tool);
            }
            "M82" => relative_e = false,
            "M83" => relative_e = true,
            "G90" => absolute_xyz = true,
            "G91" => absolute_xyz = false,
            "G92" => {
                if let Some(v) = get.get("E") {
                    e = *v;
                }
            }
            "G0" | "G1" => {
                let nx = get
                    .get("X")
                    .map_or(x, |v| if absolute_xyz { *v } else { x + v });
                let ny = get
                    .get("Y")
                    .map_or(y, |v| if absolute_xyz { *v } else { y + v });
                let nz = get
                    .get("Z")
                    .map_or(z, |v| if absolute_xyz { *v } else { z + v });
                let de = match get.get("E") {
                    Some(v) if relative_e => *v,
                    Some(v) => v - e,
                    None => 0.0,
                };
                if let Some(v) = get.get("E") {
                    e = if relative_e { e + v } else { *v };
                }
                let moved = (nx - x).hypot(ny - y);
                if started && de > 0.0 && moved > 1e-9 && (nz - z).abs() < 1e-9 {
                    if layers.is_empty() {
                        layers.push(GLayer::default());
                    }
                    if let Some(l) = layers.last_mut() {
                        if l.z == 0.0 {
                            l.z = nz;
                        }
                        l.beads.push(Bead {
                            a: [x, y],
                            b: [nx, ny],
                            width,
                            role,
                            tool,
                            e: de,
                        });
                    }
                }
                x = nx;
                y = ny;
                z = nz;
            }
            _ => {}
        }
    }
    layers
}

/// A directed segment, mm.
pub type Seg = [[f64; 2]; 2];

/// The mesh's section at height `z`: a soup of directed boundary segments (mm), each
/// running with the solid on its left when its face points outward.
pub fn section(vertices: &[[f32; 3]], faces: &[[u32; 3]], z: f64) -> Vec<Seg> {
    let mut out = Vec::new();
    for f in faces {
        if let Some(s) = face_cut(vertices, f, z) {
            out.push(s);
        }
    }
    out
}

/// Where the plane at `z` cuts one face, running with the solid on its left.
fn face_cut(vertices: &[[f32; 3]], f: &[u32; 3], z: f64) -> Option<Seg> {
    let p = f.map(|i| vertices[i as usize].map(f64::from));
    let cut = |a: [f64; 3], b: [f64; 3]| {
        let t = (z - a[2]) / (b[2] - a[2]);
        [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]
    };
    let (mut down, mut up) = (None, None);
    for k in 0..3 {
        let (a, b) = (p[k], p[(k + 1) % 3]);
        let (ab, bb) = (a[2] >= z, b[2] >= z);
        if ab && !bb {
            down = Some(cut(a, b));
        } else if !ab && bb {
            up = Some(cut(a, b));
        }
    }
    Some([down?, up?])
}

/// A mesh's faces bucketed by height, so sections at many heights stay quick on large
/// meshes.
pub struct Slicer<'a> {
    vertices: &'a [[f32; 3]],
    faces: &'a [[u32; 3]],
    z0: f64,
    buckets: Vec<Vec<u32>>,
}

/// Height of a [`Slicer`] bucket, mm.
const BUCKET: f64 = 0.5;

impl<'a> Slicer<'a> {
    pub fn new(vertices: &'a [[f32; 3]], faces: &'a [[u32; 3]]) -> Self {
        let span = |f: &[u32; 3]| {
            let zs = f.map(|i| f64::from(vertices[i as usize][2]));
            (zs[0].min(zs[1]).min(zs[2]), zs[0].max(zs[1]).max(zs[2]))
        };
        let z0 = faces
            .iter()
            .map(|f| span(f).0)
            .fold(f64::INFINITY, f64::min);
        let mut buckets: Vec<Vec<u32>> = Vec::new();
        for (i, f) in faces.iter().enumerate() {
            let (lo, hi) = span(f);
            let (b0, b1) = (((lo - z0) / BUCKET) as usize, ((hi - z0) / BUCKET) as usize);
            if buckets.len() <= b1 {
                buckets.resize(b1 + 1, Vec::new());
            }
            for b in &mut buckets[b0..=b1] {
                b.push(i as u32);
            }
        }
        Slicer {
            vertices,
            faces,
            z0,
            buckets,
        }
    }

    /// The section at `z`, open chains closed (see [`Section`]).
    pub fn at(&self, z: f64) -> Section {
        let b = (z - self.z0) / BUCKET;
        let segs = if b < 0.0 || b as usize >= self.buckets.len() {
            Vec::new()
        } else {
            self.buckets[b as usize]
                .iter()
                .filter_map(|&i| face_cut(self.vertices, &self.faces[i as usize], z))
                .collect()
        };
        Section::new(segs)
    }
}

/// Whether a section's segments close up: every endpoint meets another segment's.
pub fn is_closed(boundary: &[Seg]) -> bool {
    let mut count: HashMap<(i64, i64), i32> = HashMap::new();
    for s in boundary {
        *count.entry(key(s[0])).or_default() += 1;
        *count.entry(key(s[1])).or_default() += 1;
    }
    count.values().all(|c| c % 2 == 0)
}

/// A point rounded to 0.1 µm, to find segment ends that meet.
fn key(p: [f64; 2]) -> (i64, i64) {
    ((p[0] * 1e4).round() as i64, (p[1] * 1e4).round() as i64)
}

/// Winding number of the directed segment soup around `p` (non-zero: inside).
fn winding(segs: &[Seg], ids: impl Iterator<Item = usize>, p: [f64; 2]) -> i32 {
    let mut w = 0;
    for i in ids {
        let [a, b] = segs[i];
        let side = (b[0] - a[0]) * (p[1] - a[1]) - (p[0] - a[0]) * (b[1] - a[1]);
        if a[1] <= p[1] && b[1] > p[1] && side > 0.0 {
            w += 1;
        } else if a[1] > p[1] && b[1] <= p[1] && side < 0.0 {
            w -= 1;
        }
    }
    w
}

/// A uniform grid of segments (or points, as zero-length segments) for near queries.
pub struct Grid {
    cell: f64,
    map: HashMap<(i64, i64), Vec<usize>>,
}

impl Grid {
    pub fn new(segs: &[Seg], cell: f64) -> Grid {
        let mut map: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
        for (i, s) in segs.iter().enumerate() {
            let (x0, x1) = (s[0][0].min(s[1][0]), s[0][0].max(s[1][0]));
            let (y0, y1) = (s[0][1].min(s[1][1]), s[0][1].max(s[1][1]));
            for gx in (x0 / cell).floor() as i64..=(x1 / cell).floor() as i64 {
                for gy in (y0 / cell).floor() as i64..=(y1 / cell).floor() as i64 {
                    map.entry((gx, gy)).or_default().push(i);
                }
            }
        }
        Grid { cell, map }
    }

    /// Indices of the segments in the cells within `r` of `p` (a superset of those
    /// within `r`; a segment may come more than once).
    pub fn near(&self, p: [f64; 2], r: f64) -> impl Iterator<Item = usize> + '_ {
        let c = self.cell;
        let (gx0, gx1) = (
            ((p[0] - r) / c).floor() as i64,
            ((p[0] + r) / c).floor() as i64,
        );
        let (gy0, gy1) = (
            ((p[1] - r) / c).floor() as i64,
            ((p[1] + r) / c).floor() as i64,
        );
        (gx0..=gx1)
            .flat_map(move |gx| (gy0..=gy1).map(move |gy| (gx, gy)))
            .filter_map(|k| self.map.get(&k))
            .flatten()
            .copied()
    }
}

/// Distance from `p` to a segment, mm.
pub fn dist_to_seg(p: [f64; 2], s: &Seg) -> f64 {
    let (ax, ay, bx, by) = (s[0][0], s[0][1], s[1][0], s[1][1]);
    let (dx, dy) = (bx - ax, by - ay);
    let l2 = dx * dx + dy * dy;
    let t = if l2 > 0.0 {
        (((p[0] - ax) * dx + (p[1] - ay) * dy) / l2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (ax + t * dx - p[0]).hypot(ay + t * dy - p[1])
}

/// Height band of the winding index, mm.
const BAND: f64 = 0.25;

/// One cross-section of the mesh, ready for inside and distance queries.
///
/// Inside is the non-zero winding of the directed segments, so overlapping shells count
/// once and inverted shells still enclose. A mesh with holes leaves open chains in its
/// section; each chain's end is joined to the nearest free chain start by a straight
/// closing segment (as a slicer bridges such a gap), so inside and outside mean
/// something on open meshes too. The outline is the segments with solid on one side
/// only (pieces inside another shell are not outline); closing segments bound the
/// region but are not surface, so they are never asked to be covered.
pub struct Section {
    /// Mesh segments, then closing segments.
    segs: Vec<Seg>,
    /// How many of `segs` come from the mesh.
    mesh_segs: usize,
    bands: HashMap<i64, Vec<usize>>,
    /// Mesh segments with solid on one side only.
    pub outline: Vec<Seg>,
    /// Outline and closing segments: where inside meets outside.
    edge: Vec<Seg>,
    edge_grid: Grid,
    /// Whether the mesh's segments closed up by themselves.
    pub closed: bool,
}

impl Section {
    pub fn new(mut segs: Vec<Seg>) -> Section {
        let mesh_segs = segs.len();
        let closed = is_closed(&segs);
        if !closed {
            let closing = close_chains(&segs);
            segs.extend(closing);
        }
        let mut bands: HashMap<i64, Vec<usize>> = HashMap::new();
        for (i, s) in segs.iter().enumerate() {
            let (y0, y1) = (s[0][1].min(s[1][1]), s[0][1].max(s[1][1]));
            for band in (y0 / BAND).floor() as i64..=(y1 / BAND).floor() as i64 {
                bands.entry(band).or_default().push(i);
            }
        }
        let mut sec = Section {
            segs,
            mesh_segs,
            bands,
            outline: Vec::new(),
            edge: Vec::new(),
            edge_grid: Grid::new(&[], 1.0),
            closed,
        };
        // The true outline: segments with solid on one side only.
        const EPS: f64 = 1e-3;
        let one_sided = |s: &Seg| {
            let (dx, dy) = (s[1][0] - s[0][0], s[1][1] - s[0][1]);
            let len = dx.hypot(dy);
            if len < 1e-12 {
                return false;
            }
            let (nx, ny) = (-dy / len * EPS, dx / len * EPS);
            let m = [(s[0][0] + s[1][0]) / 2.0, (s[0][1] + s[1][1]) / 2.0];
            sec.inside([m[0] + nx, m[1] + ny]) != sec.inside([m[0] - nx, m[1] - ny])
        };
        let outline: Vec<Seg> = sec.segs[..mesh_segs]
            .iter()
            .filter(|s| one_sided(s))
            .copied()
            .collect();
        let mut edge = outline.clone();
        edge.extend(sec.segs[mesh_segs..].iter().filter(|s| one_sided(s)));
        sec.edge_grid = Grid::new(&edge, 1.0);
        sec.outline = outline;
        sec.edge = edge;
        sec
    }

    pub fn is_empty(&self) -> bool {
        self.mesh_segs == 0
    }

    /// Whether `p` lies inside the solid.
    pub fn inside(&self, p: [f64; 2]) -> bool {
        let band = (p[1] / BAND).floor() as i64;
        winding(
            &self.segs,
            self.bands.get(&band).into_iter().flatten().copied(),
            p,
        ) != 0
    }

    /// Whether a disc of radius `r` fits inside the solid touching point `p` of outline
    /// segment `s` (its centre `r` inward along the normal, nothing of the edge nearer
    /// than `r` less a hundredth of a millimetre for the polygonal outline's chords).
    pub fn fits(&self, s: &Seg, p: [f64; 2], r: f64) -> bool {
        let (dx, dy) = (s[1][0] - s[0][0], s[1][1] - s[0][1]);
        let len = dx.hypot(dy);
        if len < 1e-12 {
            return false;
        }
        let n = [-dy / len, dx / len];
        let probe = |k: f64| [p[0] + k * n[0], p[1] + k * n[1]];
        let side = if self.inside(probe(1e-3)) { 1.0 } else { -1.0 };
        let c = probe(side * r);
        self.inside(c) && self.edge_distance(c, r) >= r - 0.01
    }

    /// Whether the boundary between inside and outside passes within `r` of `p`.
    pub fn edge_within(&self, p: [f64; 2], r: f64) -> bool {
        self.edge_grid
            .near(p, r)
            .any(|i| dist_to_seg(p, &self.edge[i]) <= r)
    }

    /// Distance from `p` to the boundary between inside and outside, up to `max`
    /// (`max` when nothing is nearer).
    pub fn edge_distance(&self, p: [f64; 2], max: f64) -> f64 {
        self.edge_grid
            .near(p, max)
            .map(|i| dist_to_seg(p, &self.edge[i]))
            .fold(max, f64::min)
    }
}

/// Closing segments for the open chains of a segment soup: each chain's end joined to
/// the nearest chain start not yet taken (its own start included).
fn close_chains(segs: &[Seg]) -> Vec<Seg> {
    // Segments leaving minus segments arriving, per point: chains start where more
    // leave than arrive and end where more arrive (a zero-length piece or a chain
    // touching another leaves both counts non-zero, so presence alone is not enough).
    let mut balance: HashMap<(i64, i64), ([f64; 2], i32)> = HashMap::new();
    for s in segs {
        balance.entry(key(s[0])).or_insert((s[0], 0)).1 += 1;
        balance.entry(key(s[1])).or_insert((s[1], 0)).1 -= 1;
    }
    let mut points: Vec<&([f64; 2], i32)> = balance.values().collect();
    points.sort_by(|a, b| a.0[0].total_cmp(&b.0[0]).then(a.0[1].total_cmp(&b.0[1])));
    let ends: Vec<[f64; 2]> = points
        .iter()
        .filter(|p| p.1 < 0)
        .flat_map(|p| std::iter::repeat_n(p.0, (-p.1) as usize))
        .collect();
    let mut starts: Vec<Option<[f64; 2]>> = points
        .iter()
        .filter(|p| p.1 > 0)
        .flat_map(|p| std::iter::repeat_n(Some(p.0), p.1 as usize))
        .collect();
    let mut out = Vec::new();
    for e in ends {
        let best = starts
            .iter()
            .enumerate()
            .filter_map(|(j, s)| s.map(|s| (j, (s[0] - e[0]).hypot(s[1] - e[1]))))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((j, _)) = best {
            out.push([e, starts[j].take().unwrap_or(e)]);
        }
    }
    out
}

/// How far from a bead's centre line an outline point counts as covered, and how far
/// outside the section a bead's centre line may run before it is spill.
#[derive(Debug, Clone, Copy)]
pub enum Reach {
    /// Half the bead's own width plus a slack, mm.
    HalfWidth(f64),
    /// A fixed distance, mm.
    Fixed(f64),
}

impl Reach {
    fn of(self, b: &Bead) -> f64 {
        match self {
            Reach::HalfWidth(slack) => b.width / 2.0 + slack,
            Reach::Fixed(r) => r,
        }
    }
}

/// The reaches of a fidelity measurement.
#[derive(Debug, Clone, Copy)]
pub struct Tolerance {
    pub cover: Reach,
    pub spill: Reach,
    /// Radius of the round bead end that must fit inside the section touching an
    /// outline point for the point to be asked to be covered, mm (0: every point is).
    pub fit: f64,
}

/// The default line width, mm: the width whose round end judges which outline points a
/// bead can reach.
pub const LINE_WIDTH: f64 = 0.45;

impl Tolerance {
    /// The suite's: w/2 + 0.05 mm for both, and only outline points a round bead end
    /// can reach asked to be covered: where a disc of radius 0.45/2 - 0.05 mm fits
    /// inside the section touching the point. The tips of sharp convex corners (and of
    /// the corners where an open mesh's outline meets its closing line) and slivers
    /// narrower than 0.35 mm lie within w/2 + 0.05 mm of no bead of width w that stays
    /// inside the outline, however good the slicer.
    pub const BEAD: Tolerance = Tolerance {
        cover: Reach::HalfWidth(SLACK),
        spill: Reach::HalfWidth(SLACK),
        fit: LINE_WIDTH / 2.0 - SLACK,
    };

    /// The independent checker's for a nominal line width `w`: covered within w + 0.05
    /// mm of an extrusion sample, spill beyond the section grown by w, every outline
    /// point counted.
    pub fn checker(w: f64) -> Tolerance {
        Tolerance {
            cover: Reach::Fixed(w + SLACK),
            spill: Reach::Fixed(w),
            fit: 0.0,
        }
    }
}

/// Coverage and spill of one layer.
#[derive(Debug, Clone, Copy, Default)]
pub struct LayerFidelity {
    /// Whether the section closed up by itself (no open chains to close).
    pub closed: bool,
    pub coverage: f64,
    pub spill: f64,
    /// Outline length asked to be covered, mm.
    pub boundary_len: f64,
    /// Outline length no bead end fits against (see [`Tolerance::fit`]), mm.
    pub unreachable_len: f64,
    pub extrusion_len: f64,
}

/// Measure one layer: `beads` are the extrusion judged (the caller picks them: model
/// roles for the suite). Outline points are covered within the cover reach of a bead
/// sample; a bead sample outside the section and farther than its spill reach from
/// the section's edge is spill.
pub fn measure(section: &Section, beads: &[&Bead], tol: Tolerance) -> LayerFidelity {
    let pts: Vec<([f64; 2], f64, f64, f64)> = beads
        .iter()
        .flat_map(|b| {
            let (c, s) = (tol.cover.of(b), tol.spill.of(b));
            b.samples().map(move |(p, w)| (p, w, c, s))
        })
        .collect();
    let point_segs: Vec<Seg> = pts.iter().map(|q| [q.0, q.0]).collect();
    let reach = pts.iter().map(|q| q.2).fold(0.0, f64::max);
    let grid = Grid::new(&point_segs, 0.5);
    let (mut cov, mut total, mut unreachable) = (0.0, 0.0, 0.0);
    for s in &section.outline {
        for (p, w) in samples(s[0], s[1]) {
            if tol.fit > 0.0 && !section.fits(s, p, tol.fit) {
                unreachable += w;
                continue;
            }
            total += w;
            if grid.near(p, reach).any(|i| {
                let q = pts[i];
                (q.0[0] - p[0]).hypot(q.0[1] - p[1]) <= q.2
            }) {
                cov += w;
            }
        }
    }
    let (mut spill, mut elen) = (0.0, 0.0);
    for &(p, w, _, r) in &pts {
        elen += w;
        if !section.edge_within(p, r) && !section.inside(p) {
            spill += w;
        }
    }
    LayerFidelity {
        closed: section.closed,
        coverage: if total > 0.0 { cov / total } else { 1.0 },
        spill: if elen > 0.0 { spill / elen } else { 0.0 },
        boundary_len: total,
        unreachable_len: unreachable,
        extrusion_len: elen,
    }
}

/// Fidelity of a whole print.
#[derive(Debug, Clone, Default)]
pub struct Fidelity {
    /// Per measured layer: top Z and the layer's figures.
    pub layers: Vec<(f64, LayerFidelity)>,
    /// Layers whose section has solid but which print no model extrusion.
    pub empty_layers: Vec<f64>,
}

impl Fidelity {
    /// Only the layers whose section closed up by itself.
    pub fn closed_layers(&self) -> Fidelity {
        Fidelity {
            layers: self.layers.iter().filter(|l| l.1.closed).copied().collect(),
            empty_layers: self.empty_layers.clone(),
        }
    }

    /// Mean coverage over the measured layers.
    pub fn coverage_mean(&self) -> f64 {
        let n = self.layers.len().max(1) as f64;
        self.layers.iter().map(|l| l.1.coverage).sum::<f64>() / n
    }

    /// Share of the outline no bead end can reach (left out of the coverage).
    pub fn unreachable(&self) -> f64 {
        let (u, t) = self.layers.iter().fold((0.0, 0.0), |(u, t), l| {
            (
                u + l.1.unreachable_len,
                t + l.1.unreachable_len + l.1.boundary_len,
            )
        });
        if t > 0.0 { u / t } else { 0.0 }
    }

    /// The 5th percentile of the layers' coverage.
    pub fn coverage_p5(&self) -> f64 {
        let mut c: Vec<f64> = self.layers.iter().map(|l| l.1.coverage).collect();
        c.sort_by(f64::total_cmp);
        c.get((c.len() as f64 * 0.05) as usize)
            .copied()
            .unwrap_or(1.0)
    }

    /// Spill over all measured layers, weighted by extrusion length.
    pub fn spill(&self) -> f64 {
        let (s, t) = self.layers.iter().fold((0.0, 0.0), |(s, t), l| {
            (s + l.1.spill * l.1.extrusion_len, t + l.1.extrusion_len)
        });
        if t > 0.0 { s / t } else { 0.0 }
    }
}

/// Measure every layer whose mid-height cuts the mesh (`placed` as the printer sees
/// it), judging the beads `pick` selects, in parallel over layers.
pub fn fidelity(
    vertices: &[[f32; 3]],
    faces: &[[u32; 3]],
    layers: &[GLayer],
    tol: Tolerance,
    pick: impl Fn(&Bead) -> bool + Sync,
) -> Fidelity {
    let slicer = Slicer::new(vertices, faces);
    let rows: Vec<(f64, Option<LayerFidelity>)> = layers
        .par_iter()
        .filter_map(|l| {
            let s = slicer.at(l.mid());
            if s.outline.is_empty() {
                return None;
            }
            let beads: Vec<&Bead> = l.beads.iter().filter(|b| pick(b)).collect();
            if beads.is_empty() {
                return Some((l.z, None));
            }
            Some((l.z, Some(measure(&s, &beads, tol))))
        })
        .collect();
    let mut f = Fidelity::default();
    for (z, r) in rows {
        match r {
            Some(r) => f.layers.push((z, r)),
            None => f.empty_layers.push(z),
        }
    }
    f
}
