//! An independent fidelity check: re-reads G-code text and compares each layer's
//! extrusion with the mesh's own cross-section, computed here from the raw triangles
//! (no chaining, no repair, nothing shared with the slicer).
//!
//! - coverage: the fraction of the section's boundary within one line width of some
//!   extrusion centre line;
//! - spill: the fraction of extrusion length lying more than one line width outside the
//!   section (inside = odd number of boundary crossings to the right).
#![allow(dead_code)]

use std::collections::HashMap;

/// A printed segment of one layer, mm.
#[derive(Debug, Clone, Copy)]
pub struct Bead {
    pub a: [f64; 2],
    pub b: [f64; 2],
    pub width: f64,
    pub role: &'static str,
    /// The tool that printed it (0 until a `T` command says otherwise).
    pub tool: usize,
}

/// The extrusions of one layer.
#[derive(Debug, Clone, Default)]
pub struct GLayer {
    pub z: f64,
    pub height: f64,
    pub beads: Vec<Bead>,
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

/// The mesh's section at height `z`: a soup of directed boundary segments (mm), each
/// running with the solid on its left when its face points outward.
pub fn section(vertices: &[[f32; 3]], faces: &[[u32; 3]], z: f64) -> Vec<[[f64; 2]; 2]> {
    let mut out = Vec::new();
    for f in faces {
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
        if let (Some(d), Some(u)) = (down, up) {
            out.push([d, u]);
        }
    }
    out
}

/// Winding number of the directed segment soup around `p` (non-zero: inside).
fn winding(segs: &[[[f64; 2]; 2]], ids: impl Iterator<Item = usize>, p: [f64; 2]) -> i32 {
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

/// A uniform grid of segments for near queries.
struct Grid {
    cell: f64,
    map: HashMap<(i64, i64), Vec<usize>>,
}

impl Grid {
    fn new(segs: &[[[f64; 2]; 2]], cell: f64) -> Grid {
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

    fn near(&self, p: [f64; 2], r: f64) -> impl Iterator<Item = usize> + '_ {
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

fn dist_to_seg(p: [f64; 2], s: &[[f64; 2]; 2]) -> f64 {
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

/// Whether a section's segments close up: every endpoint meets another segment's.
pub fn is_closed(boundary: &[[[f64; 2]; 2]]) -> bool {
    let key = |p: [f64; 2]| ((p[0] * 1e4).round() as i64, (p[1] * 1e4).round() as i64);
    let mut count: HashMap<(i64, i64), i32> = HashMap::new();
    for s in boundary {
        *count.entry(key(s[0])).or_default() += 1;
        *count.entry(key(s[1])).or_default() += 1;
    }
    count.values().all(|c| c % 2 == 0)
}

/// Coverage and spill of one layer.
#[derive(Debug, Clone, Copy, Default)]
pub struct LayerFidelity {
    pub coverage: f64,
    pub spill: f64,
    pub boundary_len: f64,
    pub extrusion_len: f64,
}

/// Measure one layer: `boundary` from [`section`], `beads` of the layer (model roles
/// only are counted: skirt, brim, support and tower lie outside on purpose). Inside is
/// the non-zero winding of the directed section, so overlapping shells count once and
/// cavities count as outside; boundary pieces inside another shell are not boundary.
pub fn measure(boundary: &[[[f64; 2]; 2]], beads: &[Bead], tol: f64) -> LayerFidelity {
    let model: Vec<&Bead> = beads
        .iter()
        .filter(|b| {
            !matches!(
                b.role,
                "Skirt/Brim" | "Support material" | "Support material interface" | "Wipe tower"
            )
        })
        .collect();
    let bead_segs: Vec<[[f64; 2]; 2]> = model.iter().map(|b| [b.a, b.b]).collect();
    let bgrid = Grid::new(&bead_segs, 1.0);
    // Segments by horizontal band, for winding numbers.
    const BAND: f64 = 0.25;
    let mut bands: HashMap<i64, Vec<usize>> = HashMap::new();
    for (i, s) in boundary.iter().enumerate() {
        let (y0, y1) = (s[0][1].min(s[1][1]), s[0][1].max(s[1][1]));
        for band in (y0 / BAND).floor() as i64..=(y1 / BAND).floor() as i64 {
            bands.entry(band).or_default().push(i);
        }
    }
    let inside = |p: [f64; 2]| {
        let band = (p[1] / BAND).floor() as i64;
        winding(boundary, bands.get(&band).into_iter().flatten().copied(), p) != 0
    };
    // The true outline: segments with solid on one side only.
    const EPS: f64 = 1e-3;
    let outline: Vec<[[f64; 2]; 2]> = boundary
        .iter()
        .filter(|s| {
            let (dx, dy) = (s[1][0] - s[0][0], s[1][1] - s[0][1]);
            let len = dx.hypot(dy);
            if len < 1e-12 {
                return false;
            }
            let (nx, ny) = (-dy / len * EPS, dx / len * EPS);
            let m = [(s[0][0] + s[1][0]) / 2.0, (s[0][1] + s[1][1]) / 2.0];
            inside([m[0] + nx, m[1] + ny]) != inside([m[0] - nx, m[1] - ny])
        })
        .copied()
        .collect();
    let sgrid = Grid::new(&outline, 1.0);
    let step = 0.1;
    // Coverage: sample the outline.
    let (mut cov, mut total) = (0.0, 0.0);
    for s in &outline {
        let len = (s[1][0] - s[0][0]).hypot(s[1][1] - s[0][1]);
        let n = (len / step).ceil().max(1.0) as usize;
        for k in 0..n {
            let t = (k as f64 + 0.5) / n as f64;
            let p = [
                s[0][0] + t * (s[1][0] - s[0][0]),
                s[0][1] + t * (s[1][1] - s[0][1]),
            ];
            let w = len / n as f64;
            total += w;
            if bgrid
                .near(p, tol)
                .any(|i| dist_to_seg(p, &bead_segs[i]) <= tol.max(model[i].width))
            {
                cov += w;
            }
        }
    }
    // Spill: extrusion more than one width outside the section.
    let (mut spill, mut elen) = (0.0, 0.0);
    for b in &model {
        let len = (b.b[0] - b.a[0]).hypot(b.b[1] - b.a[1]);
        let n = (len / step).ceil().max(1.0) as usize;
        for k in 0..n {
            let t = (k as f64 + 0.5) / n as f64;
            let p = [
                b.a[0] + t * (b.b[0] - b.a[0]),
                b.a[1] + t * (b.b[1] - b.a[1]),
            ];
            let w = len / n as f64;
            elen += w;
            let r = b.width.max(tol);
            let near = sgrid.near(p, r).any(|i| dist_to_seg(p, &outline[i]) <= r);
            if !near && !inside(p) {
                spill += w;
            }
        }
    }
    LayerFidelity {
        coverage: if total > 0.0 { cov / total } else { 1.0 },
        spill: if elen > 0.0 { spill / elen } else { 0.0 },
        boundary_len: total,
        extrusion_len: elen,
    }
}
