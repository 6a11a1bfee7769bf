//! The fine measure of an orientation, layer by layer as the support generator builds
//! and fills support: the finalists of the search are ranked and reported by it.

use nalgebra::Vector3;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::columns::{Grid, Scratch, columns, runs};
use super::{Cost, MIN_GAP, Model, Params, round_down, round_up, score, up_rotation};
use crate::fill::lines::line_fill_both;
use crate::geom::{self, Coord, ExPolygon, FillRule, Polygon, Polyline, scaled};
use crate::support::overhang::{clip_to_slab, large_enough};

/// The figures of `model` printed with `up` pointing up, measured as the support
/// generator builds support: the model is cut into layers of columns; under every
/// overhang a column is carried down (a Z gap below it) until the model stops it; each
/// layer prints the part of the columns clear of the model by the XY gap; what the
/// model closes round on a layer (gaps narrower than twice the enclosure radius
/// closed) is inside.
pub(super) fn measure(model: &Model, up: Vector3<f64>, p: &Params) -> Cost {
    let mut scratch = Scratch::default();
    let Some(grid) = columns(model, up, &mut scratch) else {
        return Cost::default();
    };
    let events = scratch.events;
    let s = model.cell;
    let lh = p.layer_height.max(0.01);
    let cells = grid.n[0] * grid.n[1];
    let layers = (grid.height / lh).ceil() as usize + 1;
    let layer_of = |h: f64| (round_up(h / lh - 0.5).max(0.0) as usize).min(layers - 1);
    // Solid cells per layer (at the layer's middle), and overhangs starting per layer.
    let mut solid = vec![false; layers * cells];
    let mut contacts: Vec<Vec<usize>> = vec![Vec::new(); layers];
    runs(&events, |run| {
        if run.overhang && run.from - run.below.unwrap_or(0.0) > MIN_GAP {
            contacts[layer_of(run.from)].push(run.cell);
        }
        for l in layer_of(run.from)..layers {
            if (l as f64 + 0.5) * lh > run.to {
                break;
            }
            solid[l * cells + run.cell] = true;
        }
    });
    drop_small_overhangs(model, up, &grid, lh, p.min_area, &mut contacts);
    let a = &p.areas;
    let gap_layers = |g: f64| {
        if g <= 1e-9 {
            0
        } else {
            (g / lh - 1e-6).ceil() as usize
        }
    };
    let (k_top, k_bottom) = (gap_layers(a.top_z_gap), gap_layers(a.bottom_z_gap));
    // A cell's centre samples the model and the overhangs: their true edge lies on
    // average half a cell past the last centre inside. A cell as far from the nearest
    // centre inside as `d` cells is then covered by the overhang grown by the margin
    // for `1 + margin - d` of its width, and clear of the model grown by the gap for
    // `d - gap` (both clamped to 0..1): the fractions sum to the true areas on average.
    let gap = (a.interface_xy_gap.min(a.xy_gap) + a.line_inset) / s;
    let margin = crate::support::areas::CONTACT_MARGIN / s;
    let reach = ((a.xy_gap + a.line_inset + crate::support::areas::CONTACT_MARGIN) / s) as f32;
    let above_clear = ((crate::support::areas::REACH_CLEAR + a.line_inset) / s) as f32;
    let enclose = a.enclosure_radius / s;
    // How much of each cell the columns carried down to this layer cover.
    let mut want = vec![0f32; cells];
    let mut dist = vec![0f32; cells];
    let mut to_contact = vec![f32::INFINITY; cells];
    let mut to_up = vec![0f32; cells];
    // The distance from the model of the layer `to_solid_of`: weighing a layer needs
    // its own, and the next layer down the same as the one above it.
    let mut to_solid = vec![0f32; cells];
    let mut to_solid_of = None;
    // The joints of the body, and of the interface on even and odd layers (whose
    // lines cross): a column carried down unchanged has the same ones layer after layer.
    // They are laid out once the layers are weighed, all at once.
    let mut joints = JointAreas::default();
    let (mut body_joints, mut face_joints) = (None, [None, None]);
    let mut weighed: Vec<Weighed> = Vec::new();
    let mut mask = vec![false; cells];
    let mut printed = vec![0f32; cells];
    let mut cost = Cost {
        height_mm: grid.height,
        ..Cost::default()
    };
    let voxel = s * s * lh;
    // What the `interface_layers` layers above printed of each cell (layer `l` in row
    // `l % interface_layers`): the part of a cell not printed on all of them is the top
    // of a column, the dense interface; the rest is the sparse body.
    let k_face = a.interface_layers;
    let mut above = vec![0f32; k_face * cells];
    let mut body = vec![0f32; cells];
    // Cells with some interface, and with some body.
    let mut has_face = vec![false; cells];
    let mut has_body = vec![false; cells];
    for j in (0..layers).rev() {
        // This layer's row of `above` takes what this layer prints, once weighed.
        let row = if k_face > 0 { j % k_face } else { 0 };
        let here = &solid[j * cells..(j + 1) * cells];
        // New contacts: the overhangs k_top layers up, grown by the margin.
        if let Some(c) = contacts.get(j + 1 + k_top).filter(|c| !c.is_empty()) {
            mask.fill(false);
            for &cell in c {
                mask[cell] = true;
            }
            distance(&mask, grid.n, &mut to_contact);
            for (w, d) in want.iter_mut().zip(&to_contact) {
                *w = w.max((1.0 + margin as f32 - d).clamp(0.0, 1.0));
            }
        }
        let reaching = contacts.get(j + 1 + k_top).is_some_and(|c| !c.is_empty());
        let mut any = false;
        for (w, h) in want.iter_mut().zip(here) {
            if *h {
                *w = 0.0;
            }
            any |= *w > 0.0;
        }
        if !any {
            if k_face > 0 {
                above[row * cells..(row + 1) * cells].fill(0.0);
            }
            continue;
        }
        // Clear of the model here and k_bottom layers below by the XY gap.
        mask.fill(false);
        for l in j.saturating_sub(k_bottom)..=j {
            for (m, h) in mask.iter_mut().zip(&solid[l * cells..(l + 1) * cells]) {
                *m |= *h;
            }
        }
        distance(&mask, grid.n, &mut dist);
        for ((o, w), d) in printed.iter_mut().zip(&want).zip(&dist) {
            *o = w * (d - gap as f32).clamp(0.0, 1.0);
        }
        if reaching {
            // Under a steep slope the contact reaches past the gap on its own layer,
            // near the model here (or the layers the Z gap keeps it off) and clear of
            // the model of the layer above, as the support generator reaches it.
            let up_solid = solid.get((j + 1) * cells..(j + 2) * cells);
            let to_up: &[f32] = match up_solid {
                _ if to_solid_of == Some(j + 1) => &to_solid,
                Some(up) => {
                    distance(up, grid.n, &mut to_up);
                    &to_up
                }
                None => {
                    to_up.fill(f32::INFINITY);
                    &to_up
                }
            };
            for c in 0..cells {
                let within = |d: f32| (1.0 + reach - d).clamp(0.0, 1.0);
                let clear = |d: f32, by: f32| (d - by).clamp(0.0, 1.0);
                let extra = within(to_contact[c])
                    * within(dist[c])
                    * clear(dist[c], gap as f32)
                    * clear(to_up[c], above_clear);
                printed[c] = printed[c].max(extra);
            }
        }
        let mut material = 0.0;
        for (c, o) in printed.iter().enumerate() {
            let b = (0..k_face).fold(*o, |m, r| m.min(above[r * cells + c]));
            body[c] = b;
            has_face[c] = *o > b;
            has_body[c] = b > 0.0;
            material +=
                f64::from(o - b) * p.fill.interface_density + f64::from(b) * p.fill.base_density;
        }
        if k_face > 0 {
            above[row * cells..(row + 1) * cells].copy_from_slice(&printed);
        }
        if material == 0.0 {
            continue;
        }
        // The joints between neighbouring lines along the areas' outlines.
        let base = p.fill.base_angle_deg;
        let turn = if j % 2 == 1 { 180.0 } else { 90.0 };
        let body_at = joints.add(
            &mut body_joints,
            &has_body,
            base,
            p.fill.spacing / p.fill.base_density,
        );
        let face_at = joints.add(
            &mut face_joints[j % 2],
            &has_face,
            base + turn,
            p.fill.spacing / p.fill.interface_density,
        );
        if let Some(c) = contacts.get(j + 1 + k_top) {
            cost.contact_mm2 += c.iter().map(|&cell| f64::from(printed[cell])).sum::<f64>() * s * s;
        }
        distance(here, grid.n, &mut to_solid);
        to_solid_of = Some(j);
        let outside = exterior(&to_solid, grid.n, enclose, &mut dist);
        let inside: f64 = printed
            .iter()
            .zip(&body)
            .zip(&outside)
            .filter(|(_, o)| !**o)
            .map(|((o, b), _)| {
                f64::from(o - b) * p.fill.interface_density + f64::from(*b) * p.fill.base_density
            })
            .sum();
        weighed.push(Weighed {
            lines: material * voxel,
            inside,
            joints: [body_at, face_at],
        });
    }
    let lengths: Vec<f64> = joints
        .areas
        .par_iter()
        .map(|(bits, angle_deg, gap)| {
            let area: Vec<bool> = (0..cells)
                .map(|c| bits[c / 64] >> (c % 64) & 1 == 1)
                .collect();
            joint_length(&area, grid.n, s, *angle_deg, *gap)
        })
        .collect();
    for w in weighed {
        let joints = lengths[w.joints[0]] + lengths[w.joints[1]];
        let material = w.lines + joints * p.fill.spacing * lh;
        cost.support_mm3 += material;
        // The joints shared out with the lines.
        cost.enclosed_mm3 += w.inside * voxel * material / w.lines;
    }
    cost.score = score(&cost);
    cost
}

/// Leave out of `contacts` (each layer's cells where an overhang starts) the pieces
/// of a layer's overhang the support generator leaves out, smaller than `min_area`
/// mm² (the rule of [`crate::support::overhang::large_enough`]). A piece's area is
/// that of the overhang faces' bands between the layer's cutting planes, where the
/// generator finds it; a band's area is counted at the cells its corners and its
/// middle fall in, and a piece is the cells with contacts or band area touching at
/// least at a corner.
fn drop_small_overhangs(
    model: &Model,
    up: Vector3<f64>,
    grid: &Grid,
    lh: f64,
    min_area: f64,
    contacts: &mut [Vec<usize>],
) {
    if min_area <= 0.0 || contacts.iter().all(Vec::is_empty) {
        return;
    }
    let layers = contacts.len();
    let s = model.cell;
    let [nu, nv] = grid.n;
    let cell_of = |p: &[f64; 3]| -> Option<usize> {
        let x = round_down((p[0] - grid.origin[0]) / s);
        let y = round_down((p[1] - grid.origin[1]) / s);
        (x >= 0.0 && y >= 0.0 && x < nu as f64 && y < nv as f64)
            .then(|| y as usize * nu + x as usize)
    };
    // Layer `l`'s cutting plane is at the middle of the layer, its overhang the band
    // above the plane below (see `layer_of` in [`measure`]).
    let layer_of = |h: f64| (round_up(h / lh - 0.5).max(0.0) as usize).min(layers - 1);
    let r = up_rotation(up);
    let mut bands: Vec<FxHashMap<usize, f64>> = vec![FxHashMap::default(); layers];
    for (k, (points, faces)) in model.surfaces.iter().enumerate() {
        let lumen = k == 1;
        for f in faces {
            let [a, b, c] = f.map(|v| r * points[v as usize]);
            if !model.overhang(a, b, c, lumen) {
                continue;
            }
            let tri = [a, b, c].map(|q| [q.x, q.y, q.z - grid.floor]);
            let (lo, hi) = (a.z.min(b.z).min(c.z), a.z.max(b.z).max(c.z));
            for l in layer_of(lo - grid.floor)..=layer_of(hi - grid.floor) {
                if contacts[l].is_empty() {
                    continue;
                }
                let band = clip_to_slab(tri, (l as f64 - 0.5) * lh, (l as f64 + 0.5) * lh);
                if band.len() < 3 {
                    continue;
                }
                let m = band.len();
                let twice: f64 = (0..m)
                    .map(|i| {
                        let (p, q) = (band[i], band[(i + 1) % m]);
                        p[0] * q[1] - q[0] * p[1]
                    })
                    .sum();
                let middle = band
                    .iter()
                    .fold([0.0; 3], |acc, q| [acc[0] + q[0], acc[1] + q[1], 0.0])
                    .map(|v| v / m as f64);
                let mut at: Vec<usize> = band
                    .iter()
                    .chain(std::iter::once(&middle))
                    .filter_map(cell_of)
                    .collect();
                at.sort_unstable();
                at.dedup();
                for &cell in &at {
                    *bands[l].entry(cell).or_default() += 0.5 * twice.abs() / at.len() as f64;
                }
            }
        }
    }
    let mut stack = Vec::new();
    let mut group = Vec::new();
    for (l, here) in contacts.iter_mut().enumerate() {
        if here.is_empty() {
            continue;
        }
        // Every cell of the layer's overhang: its band area, and whether it is still
        // to be grouped.
        let mut cells: FxHashMap<usize, (f64, bool)> =
            bands[l].iter().map(|(&c, &a)| (c, (a, true))).collect();
        for &c in here.iter() {
            cells.entry(c).or_insert((0.0, true));
        }
        let mut small: Vec<usize> = Vec::new();
        for &first in here.iter() {
            if !cells.get(&first).is_some_and(|c| c.1) {
                continue;
            }
            cells.get_mut(&first).expect("a contact cell").1 = false;
            stack.push(first);
            group.clear();
            let mut area = 0.0;
            while let Some(i) = stack.pop() {
                group.push(i);
                area += cells[&i].0;
                let (x, y) = ((i % nu) as isize, (i / nu) as isize);
                for (dx, dy) in NEIGHBOURS {
                    let (u, v) = (x + dx, y + dy);
                    if u < 0 || v < 0 || u >= nu as isize || v >= nv as isize {
                        continue;
                    }
                    let j = v as usize * nu + u as usize;
                    if let Some(c) = cells.get_mut(&j).filter(|c| c.1) {
                        c.1 = false;
                        stack.push(j);
                    }
                }
            }
            if !large_enough(area, min_area) {
                small.extend_from_slice(&group);
            }
        }
        if !small.is_empty() {
            small.sort_unstable();
            here.retain(|c| small.binary_search(c).is_err());
        }
    }
}

/// Where the slice's support lines fall across the columns is not known here (the
/// slice centres the model on the bed), so their joints are averaged over this many
/// placements, spread evenly over a line gap.
const LINE_PHASES: usize = 1;

/// The cells' outline is smoothed off its staircase by this share of a cell, as the
/// outline the support generator fills is a smooth one.
const STAIRCASE: f64 = 1.0;

/// A layer that prints support, weighed but for its joints.
struct Weighed {
    /// Volume of its lines, mm³.
    lines: f64,
    /// The share of them inside the model, in cells of lines (as `lines` before it is
    /// turned into mm³).
    inside: f64,
    /// Its body's and its interface's joints, as indices into [`JointAreas::areas`].
    joints: [usize; 2],
}

/// The areas whose joints are to be measured by [`joint_length`], each with the angle
/// and the gap of its lines.
#[derive(Default)]
struct JointAreas {
    /// The cells of each area, 64 to a word, its lines' angle and gap.
    areas: Vec<(Vec<u64>, f64, f64)>,
    /// The area being added, as bits.
    bits: Vec<u64>,
}

impl JointAreas {
    /// The index of `area`'s joints: `last`'s (the last area of the same kind) when it
    /// is the same area with the same lines, else a new one, which `last` then keeps.
    fn add(&mut self, last: &mut Option<usize>, area: &[bool], angle_deg: f64, gap: f64) -> usize {
        self.bits.clear();
        self.bits.extend(area.chunks(64).map(|w| {
            w.iter()
                .enumerate()
                .fold(0u64, |bits, (k, set)| bits | u64::from(*set) << k)
        }));
        if let Some(k) = *last {
            let (a, angle, g) = &self.areas[k];
            if *angle == angle_deg && *g == gap && *a == self.bits {
                return k;
            }
        }
        self.areas.push((self.bits.clone(), angle_deg, gap));
        *last = Some(self.areas.len() - 1);
        self.areas.len() - 1
    }
}

/// Length of the joints the support fill lays along the outline of the cells set in
/// `area` between its lines `gap` mm apart at `angle_deg`, mm: the cells joined into
/// outlines, smoothed off their staircase, and filled by the fill itself, joined and
/// unjoined; the difference is the joints.
fn joint_length(area: &[bool], n: [usize; 2], s: f64, angle_deg: f64, gap: f64) -> f64 {
    let nu = n[0];
    let cell = scaled(s);
    let mut rects: Vec<Polygon> = Vec::new();
    for (y, row) in area.chunks(nu).enumerate() {
        let mut x = 0;
        while x < nu {
            if !row[x] {
                x += 1;
                continue;
            }
            let start = x;
            while x < nu && row[x] {
                x += 1;
            }
            rects.push(Polygon::rectangle(
                start as Coord * cell,
                y as Coord * cell,
                x as Coord * cell,
                (y + 1) as Coord * cell,
            ));
        }
    }
    if rects.is_empty() {
        return 0.0;
    }
    let tol = STAIRCASE * cell as f64;
    let pieces: Vec<ExPolygon> = geom::union(&rects, FillRule::NonZero)
        .into_iter()
        .map(|e| ExPolygon {
            contour: e.contour.simplified(tol),
            holes: e.holes.iter().map(|h| h.simplified(tol)).collect(),
        })
        .collect();
    let (g, angle) = (scaled(gap) as f64, angle_deg.to_radians());
    let length = |v: Vec<Polyline>| v.iter().map(Polyline::length).sum::<f64>();
    let joints: f64 = (0..LINE_PHASES)
        .map(|k| {
            let offset = g * (k as f64 + 0.5) / LINE_PHASES as f64;
            let (straight, joined) = line_fill_both(&pieces, g, angle, offset);
            length(joined) - length(straight)
        })
        .sum();
    joints / LINE_PHASES as f64 / geom::SCALE
}

/// The eight cells round a cell, as steps along X and Y.
const NEIGHBOURS: [(isize, isize); 8] = [
    (-1, -1),
    (0, -1),
    (1, -1),
    (-1, 0),
    (1, 0),
    (-1, 1),
    (0, 1),
    (1, 1),
];

/// Chamfer distance (cells) of every cell from the nearest set cell of `mask`: a pass
/// down the rows from the first and one back up from the last, each row lowered first
/// through the row it follows (already final) and then along itself.
fn distance(mask: &[bool], n: [usize; 2], dist: &mut [f32]) {
    let [nu, nv] = n;
    for (d, m) in dist.iter_mut().zip(mask) {
        *d = if *m { 0.0 } else { f32::INFINITY };
    }
    for y in 0..nv {
        let (done, rest) = dist.split_at_mut(y * nu);
        let row = &mut rest[..nu];
        if y > 0 {
            through(row, &done[(y - 1) * nu..]);
        }
        for x in 1..nu {
            row[x] = lesser(row[x], row[x - 1] + 1.0);
        }
    }
    for y in (0..nv).rev() {
        let (row, rest) = dist[y * nu..].split_at_mut(nu);
        if y + 1 < nv {
            through(row, &rest[..nu]);
        }
        for x in (1..nu).rev() {
            row[x - 1] = lesser(row[x - 1], row[x] + 1.0);
        }
    }
}

/// Lower the distances of `row` to those through its neighbouring row `next`: a cell
/// straight across, or diagonally across.
fn through(row: &mut [f32], next: &[f32]) {
    const D: f32 = std::f32::consts::SQRT_2;
    let nu = row.len();
    if nu == 1 {
        row[0] = lesser(row[0], next[0] + 1.0);
        return;
    }
    row[0] = lesser(lesser(row[0], next[0] + 1.0), next[1] + D);
    for (d, w) in row[1..nu - 1].iter_mut().zip(next.windows(3)) {
        *d = lesser(lesser(lesser(*d, w[1] + 1.0), w[0] + D), w[2] + D);
    }
    row[nu - 1] = lesser(lesser(row[nu - 1], next[nu - 1] + 1.0), next[nu - 2] + D);
}

/// The lesser of two distances, neither of them NaN (`f32::min` without its care for
/// NaN, which keeps the passes from running several cells at once).
#[inline]
fn lesser(a: f32, b: f32) -> f32 {
    if b < a { b } else { a }
}

/// The cells outside what `solid` encloses once its gaps narrower than twice `radius`
/// cells are closed: flooded from the border past the solid grown by `radius`, and
/// the flood grown back by as much. `to_solid` is the [`distance`] from `solid`.
fn exterior(to_solid: &[f32], n: [usize; 2], radius: f64, dist: &mut [f32]) -> Vec<bool> {
    let [nu, nv] = n;
    let open: Vec<bool> = to_solid.iter().map(|d| *d > radius as f32).collect();
    let mut reached = vec![false; open.len()];
    // Cells as (x, y), to spare a division a cell.
    let mut stack: Vec<(usize, usize)> = (0..nu)
        .flat_map(|x| [(x, 0), (x, nv - 1)])
        .chain((0..nv).flat_map(|y| [(0, y), (nu - 1, y)]))
        .filter(|&(x, y)| open[y * nu + x])
        .collect();
    for &(x, y) in &stack {
        reached[y * nu + x] = true;
    }
    while let Some((x, y)) = stack.pop() {
        let mut push = |x: usize, y: usize| {
            let j = y * nu + x;
            if open[j] && !reached[j] {
                reached[j] = true;
                stack.push((x, y));
            }
        };
        if x > 0 {
            push(x - 1, y);
        }
        if x + 1 < nu {
            push(x + 1, y);
        }
        if y > 0 {
            push(x, y - 1);
        }
        if y + 1 < nv {
            push(x, y + 1);
        }
    }
    distance(&reached, n, dist);
    dist.iter().map(|d| *d <= radius as f32 + 0.5).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_is_the_chamfer_distance_to_the_nearest_set_cell() {
        let n = [9, 7];
        let set = [(2, 1), (7, 5), (0, 6)];
        let mut mask = vec![false; n[0] * n[1]];
        for (x, y) in set {
            mask[y * n[0] + x] = true;
        }
        let mut dist = vec![0f32; mask.len()];
        distance(&mask, n, &mut dist);
        for y in 0..n[1] {
            for x in 0..n[0] {
                // Straight steps of 1 and diagonal ones of √2.
                let want = set
                    .iter()
                    .map(|&(u, v)| {
                        let (dx, dy) = (x.abs_diff(u), y.abs_diff(v));
                        let (lo, hi) = (dx.min(dy) as f32, dx.max(dy) as f32);
                        hi - lo + lo * std::f32::consts::SQRT_2
                    })
                    .fold(f32::INFINITY, f32::min);
                let got = dist[y * n[0] + x];
                assert!((got - want).abs() < 1e-5, "({x}, {y}): {got} for {want}");
            }
        }
    }
}
