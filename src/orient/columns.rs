//! Casting a turned model onto vertical columns: each column's crossings with the
//! surfaces, the solid stretches they bound, and the support cost read from them alone.

use nalgebra::Vector3;

use super::{Cost, MIN_GAP, Model, Params, round_down, round_up, score, up_rotation};

/// A surface crossing of a column: bit 0 the lumen (else the outside), bit 1 entering
/// the surface going up (else leaving), bit 2 an overhang seen from below.
const LUMEN: u8 = 1;
const ENTER: u8 = 2;
const OVERHANG: u8 = 4;

/// The grid of columns an orientation is cast onto.
pub(super) struct Grid {
    /// Columns along X and Y.
    pub(super) n: [usize; 2],
    /// Height of the turned model, mm.
    pub(super) height: f64,
    /// The turned model's XY where the grid's first cell begins, mm.
    pub(super) origin: [f64; 2],
    /// The turned model's lowest point, mm: heights are measured from it.
    pub(super) floor: f64,
}

/// The buffers casting onto the columns fills, kept from one direction to the next.
#[derive(Default)]
pub(super) struct Scratch {
    /// Every crossing of a surface with a column, sorted by column and height (see
    /// [`columns`]).
    pub(super) events: Vec<(u64, u8)>,
    /// Each surface's vertices turned.
    turned: Vec<Vec<Vector3<f64>>>,
    /// A surface's vertices' columns.
    spans: Vec<[i32; 4]>,
}

/// Cast `model` turned with `up` pointing up onto the columns: `scratch.events` gets
/// every crossing, sorted by column and height above the model's lowest point.
pub(super) fn columns(model: &Model, up: Vector3<f64>, scratch: &mut Scratch) -> Option<Grid> {
    let r = up_rotation(up);
    let Scratch {
        events,
        turned,
        spans,
    } = scratch;
    turned.resize_with(model.surfaces.len(), Vec::new);
    for ((pts, _), out) in model.surfaces.iter().zip(turned.iter_mut()) {
        out.clear();
        out.extend(pts.iter().map(|p| r * p));
    }
    let (lo, hi) = turned[0].iter().fold(
        (
            Vector3::repeat(f64::INFINITY),
            Vector3::repeat(f64::NEG_INFINITY),
        ),
        |(lo, hi), p| (lo.inf(p), hi.sup(p)),
    );
    if lo.x > hi.x {
        return None;
    }
    let s = model.cell;
    // The grid is shifted off round numbers, so that cell centres do not fall on the
    // edges of meshes contoured on a grid.
    let origin = [lo.x - 0.371 * s, lo.y - 0.529 * s];
    let nu = ((hi.x - origin[0]) / s).ceil() as usize + 1;
    let nv = ((hi.y - origin[1]) / s).ceil() as usize + 1;
    events.clear();
    for (k, ((_, faces), pts)) in model.surfaces.iter().zip(turned.iter()).enumerate() {
        let lumen = k == 1;
        // Each vertex's columns, once: the centres a face covers lie within its
        // corners' (the cell coordinate grows with X and Y, rounded as it is).
        spans.clear();
        spans.extend(pts.iter().map(|q| {
            let u = (q.x - origin[0]) / s - 0.5;
            let v = (q.y - origin[1]) / s - 0.5;
            [round_up(u), round_down(u), round_up(v), round_down(v)].map(|c| c as i32)
        }));
        for f in faces {
            let [sa, sb, sc] = f.map(|v| spans[v as usize]);
            let i0 = sa[0].min(sb[0]).min(sc[0]).max(0);
            let i1 = sa[1].max(sb[1]).max(sc[1]).min(nu as i32 - 1);
            let j0 = sa[2].min(sb[2]).min(sc[2]).max(0);
            let j1 = sa[3].max(sb[3]).max(sc[3]).min(nv as i32 - 1);
            if i0 > i1 || j0 > j1 {
                continue;
            }
            let [a, b, c] = f.map(|v| pts[v as usize]);
            let span = [i0, i1, j0, j1].map(|c| c as usize);
            cross_columns([a, b, c], span, lumen, lo.z, model, origin, nu, events);
        }
    }
    // At one height a surface is left before one is entered: faces merged onto each
    // other back to back make no solid stretch of no thickness.
    events.sort_unstable_by_key(|e| (e.0, e.1 & ENTER));
    Some(Grid {
        n: [nu, nv],
        height: hi.z - lo.z,
        origin,
        floor: lo.z,
    })
}

/// A solid stretch of one column of the turned model.
#[derive(Debug, Clone, Copy)]
pub(super) struct Run {
    /// The column.
    pub(super) cell: usize,
    /// Where it starts and ends, mm above the model's lowest point.
    pub(super) from: f64,
    pub(super) to: f64,
    /// It starts on an overhang (a surface the support threshold says needs support).
    pub(super) overhang: bool,
    /// It starts on the lumen's roof (leaving the lumen upwards).
    pub(super) lumen_roof: bool,
    /// The top of the solid stretch below it in the same column, if any.
    pub(super) below: Option<f64>,
}

/// Call `visit` with every solid stretch of the columns, column by column and upwards,
/// from `events` sorted by column and height. Solid is inside the outside surface and
/// out of the lumen; a stretch that never ends is visited as ending where it starts.
pub(super) fn runs(events: &[(u64, u8)], mut visit: impl FnMut(Run)) {
    let mut i = 0;
    while i < events.len() {
        let cell = events[i].0 >> 32;
        let (mut outside, mut lumen) = (0i32, 0i32);
        let mut open: Option<Run> = None;
        let mut below: Option<f64> = None;
        while i < events.len() && events[i].0 >> 32 == cell {
            let (key, flags) = events[i];
            i += 1;
            let h = f64::from(f32::from_bits(key as u32));
            let step = if flags & ENTER != 0 { 1 } else { -1 };
            if flags & LUMEN != 0 {
                lumen += step;
            } else {
                outside += step;
            }
            let solid = outside > 0 && lumen <= 0;
            match (open, solid) {
                (None, true) => {
                    open = Some(Run {
                        cell: cell as usize,
                        from: h,
                        to: h,
                        overhang: flags & OVERHANG != 0,
                        lumen_roof: flags & LUMEN != 0,
                        below,
                    });
                }
                (Some(mut run), false) => {
                    run.to = h;
                    visit(run);
                    below = Some(h);
                    open = None;
                }
                _ => {}
            }
        }
        if let Some(run) = open {
            visit(run);
        }
    }
}

/// The cost of `model` printed with `up` pointing up, from the columns alone;
/// `scratch` is kept for the next.
pub(super) fn weigh(model: &Model, up: Vector3<f64>, p: &Params, scratch: &mut Scratch) -> Cost {
    let Some(grid) = columns(model, up, scratch) else {
        return Cost::default();
    };
    let [nu, nv] = grid.n;
    let s = model.cell;
    let area = s * s;
    let mut cost = Cost {
        height_mm: grid.height,
        ..Cost::default()
    };
    let interface = p.areas.interface_layers as f64 * p.layer_height;
    let events = &scratch.events;
    runs(events, |run| {
        let gap = run.from - run.below.unwrap_or(0.0);
        if run.overhang && gap > MIN_GAP {
            let top = gap.min(interface);
            let material =
                (top * p.fill.interface_density + (gap - top) * p.fill.base_density) * area;
            cost.support_mm3 += material;
            cost.contact_mm2 += area;
            // Leaving the lumen upwards: the gap below was the lumen.
            if run.lumen_roof && run.below.is_some() {
                cost.enclosed_mm3 += material;
            }
        }
    });
    if model.surfaces.len() == 1 {
        cost.enclosed_mm3 = enclosed_voids(events, [nu, nv], s, p);
    }
    cost.score = score(&cost);
    cost
}

/// Support inside a model without a lumen: gaps between two solid intervals of a
/// column whose middle has the model on all four sides along the grid's rows.
fn enclosed_voids(events: &[(u64, u8)], n: [usize; 2], s: f64, p: &Params) -> f64 {
    // Solid intervals of every column, and the supported gaps (both by column, CSR).
    let [nu, nv] = n;
    let cells = nu * nv;
    let mut start = vec![0u32; cells + 1];
    let mut gap_start = vec![0u32; cells + 1];
    let mut intervals: Vec<(f32, f32)> = Vec::new();
    let mut gaps: Vec<(f32, f32)> = Vec::new();
    let mut next_cell = 0usize;
    runs(events, |run| {
        while next_cell <= run.cell {
            start[next_cell] = intervals.len() as u32;
            gap_start[next_cell] = gaps.len() as u32;
            next_cell += 1;
        }
        if let Some(t) = run.below
            && run.overhang
            && run.from - t > MIN_GAP
        {
            gaps.push((t as f32, run.from as f32));
        }
        intervals.push((run.from as f32, run.to as f32));
    });
    while next_cell <= cells {
        start[next_cell] = intervals.len() as u32;
        gap_start[next_cell] = gaps.len() as u32;
        next_cell += 1;
    }
    // How many of the four ways along the rows from its middle meet the model, per gap:
    // each row and each line of columns swept both ways, the solid met so far kept as
    // one set of heights.
    let mut met = vec![0u8; gaps.len()];
    let mut seen = Heights::default();
    let mut sweep = |line: &mut dyn Iterator<Item = usize>| {
        seen.0.clear();
        for cell in line {
            for g in gap_start[cell] as usize..gap_start[cell + 1] as usize {
                let (a, b) = gaps[g];
                met[g] += u8::from(seen.contains(0.5 * (a + b)));
            }
            for &interval in &intervals[start[cell] as usize..start[cell + 1] as usize] {
                seen.add(interval);
            }
        }
    };
    for v in 0..nv {
        sweep(&mut (0..nu).map(|u| v * nu + u));
        sweep(&mut (0..nu).rev().map(|u| v * nu + u));
    }
    for u in 0..nu {
        sweep(&mut (0..nv).map(|v| v * nu + u));
        sweep(&mut (0..nv).rev().map(|v| v * nu + u));
    }
    let mut volume = 0.0;
    for (&(a, b), ways) in gaps.iter().zip(&met) {
        if *ways == 4 {
            let gap = f64::from(b - a);
            let top = gap.min(p.areas.interface_layers as f64 * p.layer_height);
            volume += (top * p.fill.interface_density + (gap - top) * p.fill.base_density) * s * s;
        }
    }
    volume
}

/// Closed ranges of heights, kept apart and in order: a height is in one of them when
/// it is in one of the ranges added.
#[derive(Default)]
struct Heights(Vec<(f32, f32)>);

impl Heights {
    /// Add the range `a..=b`, merged with those it overlaps or touches.
    fn add(&mut self, (a, b): (f32, f32)) {
        let first = self.0.partition_point(|&(_, top)| top < a);
        let past = self.0.partition_point(|&(bottom, _)| bottom <= b);
        if first < past {
            let merged = (a.min(self.0[first].0), b.max(self.0[past - 1].1));
            self.0.splice(first..past, [merged]);
        } else {
            self.0.insert(first, (a, b));
        }
    }

    /// Whether `z` is in one of the ranges.
    fn contains(&self, z: f32) -> bool {
        let i = self.0.partition_point(|&(_, top)| top < z);
        self.0.get(i).is_some_and(|&(bottom, _)| bottom <= z)
    }
}

/// Push the crossings of triangle `a b c` with the columns whose centres it covers,
/// among those from `span[0]` to `span[1]` along X and `span[2]` to `span[3]` along Y
/// (of `nu` along X).
#[allow(clippy::too_many_arguments)]
fn cross_columns(
    [a, b, c]: [Vector3<f64>; 3],
    span: [usize; 4],
    lumen: bool,
    floor: f64,
    model: &Model,
    origin: [f64; 2],
    nu: usize,
    events: &mut Vec<(u64, u8)>,
) {
    let s = model.cell;
    // Twice the signed projected area: positive when the face looks up.
    let det = (b.x - a.x) * (c.y - a.y) - (c.x - a.x) * (b.y - a.y);
    if det.abs() < 1e-12 {
        return;
    }
    let [i0, i1, j0, j1] = span;
    // Found at the first column crossed: most faces of a fine mesh cross none.
    let mut flags = None;
    let flags_of = || {
        let mut flags = if lumen { LUMEN } else { 0 };
        if det < 0.0 {
            // Looking down: going up, the column enters the model (or the lumen).
            flags |= ENTER;
        }
        if model.overhang(a, b, c, lumen) {
            flags |= OVERHANG;
        }
        flags
    };
    for j in j0..=j1 {
        let y = origin[1] + (j as f64 + 0.5) * s;
        for i in i0..=i1 {
            let x = origin[0] + (i as f64 + 0.5) * s;
            // Barycentric coordinates of the column in the projected triangle.
            let w1 = ((x - a.x) * (c.y - a.y) - (c.x - a.x) * (y - a.y)) / det;
            let w2 = ((b.x - a.x) * (y - a.y) - (x - a.x) * (b.y - a.y)) / det;
            let w0 = 1.0 - w1 - w2;
            if w0 < 0.0 || w1 < 0.0 || w2 < 0.0 {
                continue;
            }
            let h = (a.z * w0 + b.z * w1 + c.z * w2 - floor).max(0.0) as f32;
            let cell = (j * nu + i) as u64;
            let flags = *flags.get_or_insert_with(flags_of);
            events.push(((cell << 32) | u64::from(h.to_bits()), flags));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heights_hold_what_was_added() {
        // Ranges on a coarse grid of heights, so that they touch and overlap often.
        let mut state = 12345u32;
        let mut next = |n: u32| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) % n
        };
        for _ in 0..200 {
            let mut heights = Heights::default();
            let mut added = Vec::new();
            for _ in 0..next(12) {
                let a = next(40) as f32 * 0.5;
                let b = a + next(8) as f32 * 0.5;
                heights.add((a, b));
                added.push((a, b));
            }
            for k in 0..90 {
                let z = k as f32 * 0.25 - 1.0;
                let any = added.iter().any(|&(a, b)| a <= z && z <= b);
                assert_eq!(heights.contains(z), any, "{z} in {added:?}");
            }
            // Kept apart and in order.
            assert!(
                heights.0.windows(2).all(|w| w[0].1 < w[1].0),
                "{:?}",
                heights.0
            );
        }
    }
}
