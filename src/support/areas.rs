//! Support areas per layer (grid/line style): overhangs carried down to the bed or onto
//! the model, kept an XY gap from the model and a Z gap under it, with dense interface
//! layers at the top (and bottom, where support rests on the model), and the parts that
//! stand inside the model (a lumen, a sac, a cavity) marked.

use crate::geom::{self, BBox, CellMap, Coord, ExPolygon, JoinType, Polygon, scaled};
use crate::slice::Layer;

/// Support outlines are simplified to this tolerance (mm).
const SIMPLIFY: f64 = 0.05;

/// Pieces of a layer's support smaller than this (mm²) are not printed: less than a
/// line's width square, they hold nothing.
const PIECE_MIN: f64 = 0.15;

/// Holes smaller than this (mm²) are closed in the columns carried down.
const WANT_HOLE_MIN: f64 = 2.0;

/// Pieces of a column carried down smaller than this (mm²) end there: specks left by
/// the boolean with the model, far below a line's width square (a column only bounds
/// the support, so what it drops here is never a piece a layer would print).
const WANT_PIECE_MIN: f64 = 0.01;

/// The model's outline is simplified to this tolerance (mm) to find what it encloses.
const INTERIOR_SIMPLIFY: f64 = 0.4;

/// Columns of support carried down are simplified to this tolerance (mm), below the
/// margin contact areas get round their overhangs.
const WANT_SIMPLIFY: f64 = 0.12;

/// Cell size (mm) of the maps that pass support columns clear of the model without
/// booleans.
const MAP_CELL: f64 = 0.5;

/// Contact areas are grown by this much (mm) so the overhang's edge is held too.
pub(crate) const CONTACT_MARGIN: f64 = 0.2;

/// How far past the XY gap from the model above a column's top may be a thin band
/// (mm): under a slope each layer's top is a band as wide as the slope recedes in one
/// layer, a few tenths of a millimetre.
const SLOPE_BAND: f64 = 0.5;

/// Layers past the Z gap whose model still makes a column's top a band under a slope:
/// the slope recedes about a band's width per layer, so the model one layer higher
/// still stands over the band the layer across the gap leaves bare.
const SLOPE_LAYERS_PAST_GAP: usize = 1;

/// Settings for support areas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AreaParams {
    /// Horizontal distance kept from the model, mm.
    pub xy_gap: f64,
    /// Horizontal distance kept by the interface layers, mm (at most `xy_gap`; smaller
    /// for soluble interfaces, which may touch the model).
    pub interface_xy_gap: f64,
    /// Half the support line width, mm: the areas are where line centres may go, this
    /// much further from the model than the gaps, so they are filled without an inset.
    pub line_inset: f64,
    /// Vertical gap between the support's top and the model above, mm (0: soluble).
    pub top_z_gap: f64,
    /// Vertical gap between the model below and the support resting on it, mm.
    pub bottom_z_gap: f64,
    /// Dense layers at the top of the support.
    pub interface_layers: usize,
    /// Dense layers at the bottom where support rests on the model.
    pub bottom_interface_layers: usize,
    /// Support only from the bed: columns that would land on the model are dropped.
    pub buildplate_only: bool,
    /// Gaps in the model narrower than twice this (mm) count as enclosing: support
    /// inside them is interior (a vessel lumen, an aneurysm sac).
    pub enclosure_radius: f64,
}

/// What the outlines of a support layer bound.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AreaEdge {
    /// Where line centres may go (grid support): filled as they are, the printed
    /// edge half a line further out.
    #[default]
    LineCentres,
    /// The printed extent (tree branches): a wall round the inside, the fill inset by
    /// half a line.
    Printed,
}

/// The support of one layer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SupportLayer {
    /// Sparse support body.
    pub base: Vec<ExPolygon>,
    /// Dense interface (under the model, or over it where support rests on it).
    pub interface: Vec<ExPolygon>,
    /// The part of `base` and `interface` standing inside the model (enclosed).
    pub interior: Vec<ExPolygon>,
    /// Area of this layer's support top touching the model above, mm² (only on the
    /// support's topmost layers).
    pub contact_area: f64,
    /// What `base` and `interface` bound.
    pub edge: AreaEdge,
}

/// A Z gap this small (mm) is no gap: soluble support touches the model.
const NO_GAP: f64 = 1e-9;

/// Slack taken off a gap measured in layers before rounding up: a gap of exactly one
/// layer height (0.2 / 0.2) must stay one layer, not become two by a rounding error.
const LAYER_SLACK: f64 = 1e-6;

/// Number of whole layers a gap of `gap` mm takes at layer height `h`.
fn gap_layers(gap: f64, h: f64) -> usize {
    if gap <= NO_GAP || h <= 0.0 {
        0
    } else {
        (gap / h - LAYER_SLACK).ceil() as usize
    }
}

/// How far the model's outline may move when simplified for support, mm: well inside
/// every gap support keeps, and it makes the booleans on large sections cheap.
const COARSE: f64 = 0.03;

/// Areas with every ring simplified to `tol` (integer units).
fn simplified(v: Vec<ExPolygon>, tol: f64) -> Vec<ExPolygon> {
    // Each ring starts at its leftmost (then lowest) point, so a ring that comes back
    // from a boolean unchanged simplifies the same way and compares equal (see
    // `uncovered`).
    let canonical = |mut r: Polygon| -> Polygon {
        if let Some(i) = (0..r.points.len()).min_by_key(|&i| (r.points[i].x, r.points[i].y)) {
            r.points.rotate_left(i);
        }
        r.simplified(tol)
    };
    v.into_iter()
        .map(|e| ExPolygon {
            contour: canonical(e.contour),
            holes: e.holes.into_iter().map(canonical).collect(),
        })
        .collect()
}

/// Areas simplified to `tol` (integer units), without the pieces of `min_area` mm² or
/// less.
fn cleaned(v: Vec<ExPolygon>, tol: f64, min_area: f64) -> Vec<ExPolygon> {
    simplified(v, tol)
        .into_iter()
        .filter(|e| e.area_mm2() > min_area)
        .collect()
}

/// Every layer's islands simplified for support work (see [`COARSE`]).
pub fn coarse_islands(layers: &[Layer]) -> Vec<Vec<ExPolygon>> {
    use rayon::prelude::*;
    let tol = scaled(COARSE) as f64;
    layers
        .par_iter()
        .map(|l| simplified(l.islands.clone(), tol))
        .collect()
}

/// Compute every layer's support from the overhangs (`overhangs[i]` is layer `i`'s part
/// not held by layer `i - 1`) and the model's layers.
pub fn support_areas(
    layers: &[Layer],
    overhangs: &[Vec<ExPolygon>],
    p: &AreaParams,
) -> Vec<SupportLayer> {
    let n = layers.len();
    let mut out = vec![SupportLayer::default(); n];
    if n == 0 {
        return out;
    }
    let h = layers.get(1).map_or(layers[0].height, |l| l.height);
    let k_top = gap_layers(p.top_z_gap, h);
    let k_bottom = gap_layers(p.bottom_z_gap, h);
    let xy = scaled(p.xy_gap + p.line_inset) as f64;
    let tol = scaled(SIMPLIFY) as f64;
    let model = coarse_islands(layers);

    // Everything of the model at or below each layer, for build-plate-only support.
    let shadow: Vec<Vec<ExPolygon>> = if p.buildplate_only {
        let mut acc: Vec<ExPolygon> = Vec::new();
        model
            .iter()
            .map(|l| {
                let mut all = acc.clone();
                all.extend(l.iter().cloned());
                acc = geom::union(&all, geom::FillRule::NonZero);
                acc.clone()
            })
            .collect()
    } else {
        Vec::new()
    };

    // Top-down: every column wanted under an overhang is carried down until the model
    // itself stops it; each layer prints the part of it clear of the model by the XY
    // gap. Under a sloping surface the wall recedes layer by layer, so a column too
    // close to it at first starts a few layers lower instead of being lost. Only the
    // carrying is sequential (one boolean per layer); the rest runs across layers.
    use rayon::prelude::*;
    let iface_xy = scaled(p.interface_xy_gap.min(p.xy_gap) + p.line_inset) as f64;
    // The columns only bound the support (the gaps are cut from them exactly on each
    // layer), so they are kept coarse: the union of many thin overhang bands is ragged.
    let want_tol = scaled(WANT_SIMPLIFY) as f64;
    // The model at a layer and the `k_bottom` layers below it stops a column there.
    let blockers = |j: usize| -> Vec<ExPolygon> {
        let mut b: Vec<ExPolygon> = Vec::new();
        for m in 0..=k_bottom {
            if let Some(l) = j.checked_sub(m).and_then(|jj| model.get(jj)) {
                b.extend(l.iter().cloned());
            }
        }
        if p.buildplate_only {
            b.extend(shadow[j].iter().cloned());
        }
        b
    };
    let contacts: Vec<Vec<ExPolygon>> = (0..n)
        .into_par_iter()
        .map(|j| match overhangs.get(j + 1 + k_top) {
            Some(o) if !o.is_empty() => {
                geom::offset(o, scaled(CONTACT_MARGIN) as f64, JoinType::Miter)
            }
            _ => Vec::new(),
        })
        .collect();
    // The columns are carried down on one thread while the other grows the model by
    // the gap and cuts each column clear of it as soon as the column reaches a layer.
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Vec<ExPolygon>)>();
    // Where each layer's model stands, to pass the columns clear of it without booleans.
    let stop_maps: Vec<CellMap> = (0..n)
        .into_par_iter()
        .map(|j| {
            let cell = scaled(MAP_CELL);
            if p.buildplate_only {
                CellMap::new(model[j].iter().chain(&shadow[j]), cell)
            } else {
                CellMap::new(&model[j], cell)
            }
        })
        .collect();
    let (model_r, shadow_r, contacts_r, stop_maps_r) = (&model, &shadow, &contacts, &stop_maps);
    let carry = move || {
        let mut want: Vec<ExPolygon> = Vec::new();
        for j in (0..n).rev() {
            let contact = &contacts_r[j];
            if want.is_empty() && contact.is_empty() {
                continue;
            }
            // Columns clear of this layer's model and of the new contacts go on as they
            // are; those inside the model end; only the rest take a boolean.
            let boxes: Vec<BBox> = contact.iter().filter_map(ExPolygon::bbox).collect();
            let mut busy: Vec<ExPolygon> = Vec::new();
            let mut kept: Vec<ExPolygon> = Vec::with_capacity(want.len());
            for e in want {
                let Some(b) = e.bbox() else { continue };
                if boxes.iter().any(|c| c.overlaps(&b)) {
                    busy.push(e);
                    continue;
                }
                match stop_maps_r[j].side(&b, 0) {
                    Some(false) => kept.push(e),
                    Some(true) => {}
                    None => busy.push(e),
                }
            }
            if !busy.is_empty() || !contact.is_empty() {
                // Non-zero fill: the difference unions the contact into the columns.
                busy.extend(contact.iter().cloned());
                // The model itself stops a column (the Z gap below and the XY gap are
                // cut from what each layer prints).
                let stop: Vec<ExPolygon> = if p.buildplate_only {
                    model_r[j].iter().chain(&shadow_r[j]).cloned().collect()
                } else {
                    model_r[j].clone()
                };
                let (stop, _) = by_boxes(&stop, &busy);
                let mut done = cleaned(geom::difference(&busy, &stop), want_tol, WANT_PIECE_MIN);
                // Small holes in a column (slivers between overhang bands, specks of
                // the model) would be carried down to the bed; support is still cut
                // clear of the model on every layer, so closing them costs nothing.
                for e in &mut done {
                    e.holes.retain(|h| h.area_mm2().abs() >= WANT_HOLE_MIN);
                }
                kept.extend(done);
            }
            want = kept;
            if !want.is_empty() && tx.send((j, want.clone())).is_err() {
                break;
            }
        }
    };
    let cut = || -> Vec<(usize, Vec<ExPolygon>)> {
        // Each layer's model grown by the gap, once; a layer keeps clear of its own
        // and the `k_bottom` layers' below.
        let grown: Vec<Vec<ExPolygon>> = model
            .par_iter()
            .map(|m| geom::offset(m, iface_xy, JoinType::Miter))
            .collect();
        // A column this far from the model's outline is clear of it grown by the gap
        // (miter joins reach out to the miter limit).
        let margin = (iface_xy * geom::MITER_LIMIT).ceil() as Coord;
        rx.into_iter()
            .par_bridge()
            .map(|(j, w)| {
                let below = j.saturating_sub(k_bottom);
                let mut kept: Vec<ExPolygon> = Vec::with_capacity(w.len());
                let mut busy: Vec<ExPolygon> = Vec::new();
                'columns: for e in w {
                    let Some(b) = e.bbox() else { continue };
                    let mut clear = true;
                    for map in &stop_maps[below..=j] {
                        match map.side(&b, margin) {
                            Some(true) => continue 'columns,
                            Some(false) => {}
                            None => clear = false,
                        }
                    }
                    if !clear {
                        busy.push(e);
                    } else if e.area_mm2() > PIECE_MIN {
                        kept.push(e);
                    }
                }
                if !busy.is_empty() {
                    let mut near: Vec<ExPolygon> = grown[below..=j].concat();
                    if p.buildplate_only {
                        near.extend(geom::offset(&shadow[j], iface_xy, JoinType::Miter));
                    }
                    let (near, _) = by_boxes(&near, &busy);
                    // What a layer prints: pieces smaller than a short stub of line
                    // are dropped.
                    kept.extend(cleaned(geom::difference(&busy, &near), tol, PIECE_MIN));
                }
                (j, kept)
            })
            .collect()
    };
    let ((), cut_layers) = rayon::join(carry, cut);
    // The columns are cut: what carried them is not needed any more (support areas of
    // a million-triangle model hold every layer at once, so each copy counts).
    drop((contacts, stop_maps));
    let mut printable: Vec<Vec<ExPolygon>> = vec![Vec::new(); n];
    for (j, areas) in cut_layers {
        printable[j] = areas;
    }
    // Under a steep slope the contact band lies within the XY gap of the layer below,
    // so its column only starts a few layers lower, too far under the surface to hold
    // it where the slope begins. There the contact reaches out past the gap on its own
    // layer (under the surface higher up); a piece left standing on air is grown down
    // or left out afterwards (see `stand`).
    let reach = scaled(p.xy_gap + p.line_inset + CONTACT_MARGIN) as f64;
    let above_xy = scaled(REACH_CLEAR + p.line_inset) as f64;
    let reaches: Vec<Vec<ExPolygon>> = (0..n)
        .into_par_iter()
        .map(|j| {
            let Some(o) = overhangs.get(j + 1 + k_top).filter(|o| !o.is_empty()) else {
                return Vec::new();
            };
            let wide = geom::offset(o, reach, JoinType::Miter);
            let (model_near, _) = by_boxes(&model[j], &wide);
            if model_near.is_empty() {
                return Vec::new();
            }
            let out = geom::intersection(&wide, &geom::offset(&model_near, reach, JoinType::Miter));
            let mut clear: Vec<ExPolygon> = Vec::new();
            for m in &model[j.saturating_sub(k_bottom)..=j] {
                clear.extend(by_boxes(m, &wide).0);
            }
            let mut clear = geom::offset(&clear, iface_xy, JoinType::Miter);
            // The model of the layer above begins within this layer's height (the
            // first specks of a branch's underside are too small for its section).
            if let Some(up) = model.get(j + 1) {
                let (up, _) = by_boxes(up, &wide);
                clear.extend(geom::offset(&up, above_xy, JoinType::Miter));
            }
            let out = geom::difference(&out, &clear);
            let out = geom::difference(&out, &printable[j]);
            cleaned(out, tol, PIECE_MIN)
        })
        .collect();
    for (here, extra) in printable.iter_mut().zip(reaches) {
        if !extra.is_empty() {
            here.extend(extra);
            *here = geom::union(here, geom::FillRule::NonZero);
        }
    }

    // What stands inside the model, found on whole layers (the split below only
    // moves areas between interface and base).
    let interior = enclosed_parts(&model, &printable, p.enclosure_radius);

    // What each layer has with nothing printable right above it: the columns' tops.
    // Away from the model a column's edge moves by up to the carrying's simplification
    // from one layer to the next; the slivers that leaves are not tops (dense lines
    // there would stand past the sparse body below). Next to the model the thin bands
    // under a slope are tops.
    let wobble = scaled(WANT_SIMPLIFY) as f64;
    let slope_band = scaled(p.xy_gap + p.line_inset + SLOPE_BAND) as f64;
    let exposed: Vec<Vec<ExPolygon>> = (0..n)
        .into_par_iter()
        .map(|j| match printable.get(j + 1) {
            _ if printable[j].is_empty() => Vec::new(),
            Some(up) if !up.is_empty() => {
                let bare = uncovered(&printable[j], up);
                if bare.is_empty() {
                    return bare;
                }
                let opened = geom::offset(
                    &geom::offset(&bare, -wobble, JoinType::Miter),
                    wobble,
                    JoinType::Miter,
                );
                // The model across the Z gap, and past it by a layer or so.
                let past_gap = j + 2 + k_top + SLOPE_LAYERS_PAST_GAP;
                let above: Vec<ExPolygon> = model[j + 1..past_gap.min(n)]
                    .iter()
                    .flat_map(|l| by_boxes(l, &bare).0)
                    .collect();
                if above.is_empty() {
                    return opened;
                }
                let near = geom::offset(&above, slope_band, JoinType::Miter);
                let mut tops = geom::intersection(&bare, &near);
                tops.extend(opened);
                geom::union(&tops, geom::FillRule::NonZero)
            }
            _ => printable[j].clone(),
        })
        .collect();
    out.par_iter_mut().enumerate().for_each(|(j, layer)| {
        let here = &printable[j];
        if here.is_empty() {
            return;
        }
        // The top of each column takes the dense interface: what is not printable on
        // every one of the layers just above. A point leaves the columns first at
        // some layer within reach, so that is what those layers expose.
        let reach = &exposed[j..(j + p.interface_layers).min(n)];
        let top = if p.interface_layers == 0 || reach.iter().all(Vec::is_empty) {
            Vec::new()
        } else if reach.len() == 1 {
            reach.concat()
        } else {
            let reach = reach.concat();
            let (touched, _) = by_boxes(here, &reach);
            geom::intersection(&touched, &reach)
        };
        let mut base = if top.is_empty() {
            here.clone()
        } else {
            // Only the columns the top reaches lose it.
            let (touched, mut rest) = by_boxes(here, &top);
            rest.extend(geom::difference(&touched, &top));
            rest
        };
        if xy > iface_xy && !base.is_empty() {
            base = geom::difference(&base, &geom::offset(&blockers(j), xy, JoinType::Miter));
        }
        // Contact: the top of the support right under the model (across the Z gap).
        let over: Vec<ExPolygon> = model[(j + 1).min(n)..(j + 2 + k_top).min(n)]
            .iter()
            .flat_map(|l| l.iter().cloned())
            .collect();
        if !top.is_empty() && !over.is_empty() {
            layer.contact_area = geom::intersection(&top, &over)
                .iter()
                .map(ExPolygon::area_mm2)
                .sum();
        }
        layer.interface = top;
        layer.base = base;
    });
    drop((exposed, printable, model, shadow));

    // Bottom interfaces: where support does not continue down, it rests on the model.
    if p.bottom_interface_layers > 0 {
        for j in 1..n {
            let here: Vec<ExPolygon> = out[j].base.clone();
            if here.is_empty() {
                continue;
            }
            let below: Vec<ExPolygon> = out[j - 1]
                .base
                .iter()
                .chain(out[j - 1].interface.iter())
                .cloned()
                .collect();
            let landing = geom::difference(&here, &below);
            if landing.is_empty() {
                continue;
            }
            for m in 0..p.bottom_interface_layers {
                let Some(layer) = out.get_mut(j + m) else {
                    break;
                };
                let dense = geom::intersection(&layer.base, &landing);
                if dense.is_empty() {
                    break;
                }
                layer.base = geom::difference(&layer.base, &dense);
                layer.interface.extend(dense);
            }
        }
    }

    for (layer, inside) in out.iter_mut().zip(interior) {
        layer.interior = inside;
    }
    out
}

/// How far a contact reaching past the XY gap keeps from the model of the layer above
/// it, mm: the surface it reaches under begins within its own layer's height, so its
/// lines stay this far from where it starts (less than the XY gap, which it reaches
/// past; far enough that no line fuses with the surface's first specks).
pub(crate) const REACH_CLEAR: f64 = 0.5;

/// Split `v` into the islands whose box overlaps the box of some island of `other`,
/// and the rest.
fn by_boxes(v: &[ExPolygon], other: &[ExPolygon]) -> (Vec<ExPolygon>, Vec<ExPolygon>) {
    let boxes: Vec<BBox> = other.iter().filter_map(ExPolygon::bbox).collect();
    v.iter().cloned().partition(|e| {
        e.bbox()
            .is_some_and(|b| boxes.iter().any(|o| o.overlaps(&b)))
    })
}

/// `here` minus `up` (both a layer's disjoint islands): islands found unchanged in `up`
/// (columns carried down untouched) drop out before the boolean, and islands near
/// nothing of `up` are kept whole.
fn uncovered(here: &[ExPolygon], up: &[ExPolygon]) -> Vec<ExPolygon> {
    use std::collections::HashMap;
    let key = |e: &ExPolygon| (e.contour.points.first().copied(), e.contour.points.len());
    let mut index: HashMap<_, Vec<usize>> = HashMap::with_capacity(up.len());
    for (i, e) in up.iter().enumerate() {
        index.entry(key(e)).or_default().push(i);
    }
    let mut matched = vec![false; up.len()];
    let mut changed: Vec<ExPolygon> = Vec::new();
    for e in here {
        let same = index
            .get(&key(e))
            .and_then(|c| c.iter().copied().find(|&i| !matched[i] && up[i] == *e));
        match same {
            Some(i) => matched[i] = true,
            None => changed.push(e.clone()),
        }
    }
    let rest: Vec<ExPolygon> = up
        .iter()
        .zip(&matched)
        .filter(|(_, m)| !**m)
        .map(|(e, _)| e.clone())
        .collect();
    let (touched, mut out) = by_boxes(&changed, &rest);
    if !touched.is_empty() {
        let (clip, _) = by_boxes(&rest, &touched);
        out.extend(geom::difference(&touched, &clip));
    }
    out
}

/// How far apart, in enclosure radii, two walls of the model may be for the support
/// between them to count as inside: a lumen lying on its side is open at its ends, so
/// it is found between its walls, which stand a diameter (two radii) apart and more
/// where the section is oval; twice that still keeps out the open space beside a model.
const WALL_SPAN_RADII: f64 = 4.0;

/// Mark the support standing inside the model: inside a layer's outline once gaps in
/// it narrower than `2 * radius` mm are closed (a sac, a cavity, a vertical lumen), or
/// held between two walls of the model less than [`WALL_SPAN_RADII`] `* radius` apart
/// along X or Y (the lumen of a vessel lying on its side, open at its ends).
pub fn mark_interior(model: &[Vec<ExPolygon>], out: &mut [SupportLayer], radius: f64) {
    use rayon::prelude::*;
    let areas: Vec<Vec<ExPolygon>> = out
        .par_iter()
        .map(|l| l.base.iter().chain(&l.interface).cloned().collect())
        .collect();
    for (layer, inside) in out.iter_mut().zip(enclosed_parts(model, &areas, radius)) {
        layer.interior = inside;
    }
}

/// The parts of each layer's `areas` that the model encloses (see [`mark_interior`]).
fn enclosed_parts(
    model: &[Vec<ExPolygon>],
    areas: &[Vec<ExPolygon>],
    radius: f64,
) -> Vec<Vec<ExPolygon>> {
    use rayon::prelude::*;
    let r = scaled(radius) as f64;
    let reach = scaled(WALL_SPAN_RADII * radius);
    // Enclosure is a coarse notion (centimetres): a coarse outline serves.
    let coarse = scaled(INTERIOR_SIMPLIFY) as f64;
    // Only the model within reach of the support can enclose it: the rest is cut away
    // first (closing and sweeping cost grows with the outline's length).
    let window = |v: &[ExPolygon]| -> Option<[ExPolygon; 1]> {
        let near = BBox::of_areas(v)?;
        let w = near.inflated(reach);
        Some([ExPolygon::new(Polygon::rectangle(
            w.min.x, w.min.y, w.max.x, w.max.y,
        ))])
    };
    areas
        .par_iter()
        .enumerate()
        .map(|(j, all)| {
            let Some(win) = window(all) else {
                return Vec::new();
            };
            let islands = &model[j];
            // Inside an outline once narrow gaps are closed. Holes are filled before
            // the cut, so a cavity the window cuts through stays one.
            let filled: Vec<ExPolygon> = islands
                .iter()
                .map(|e| ExPolygon::new(e.contour.clone()))
                .collect();
            let filled = simplified(geom::intersection(&filled, &win), coarse);
            let grown = geom::offset(&filled, r, JoinType::Miter);
            let closed = geom::offset(&grown, -r, JoinType::Miter);
            let closed_map = map_of(&closed);
            let (mut inside, mut rest, outside) = split_within(all, &[&closed_map]);
            rest.extend(outside);
            // The rest: between two walls along X or Y.
            let Some(win) = window(&rest) else {
                return inside;
            };
            let model = simplified(geom::intersection(islands, &win), coarse);
            let mut sweeps: Vec<Vec<ExPolygon>> = Vec::new();
            for (dx, dy) in [(reach, 0), (0, reach)] {
                let one_side = geom::sweep(&model, dx, dy);
                let other_side = geom::sweep(&model, -dx, -dy);
                sweeps.push(geom::intersection(&one_side, &other_side));
            }
            let maps = [&closed_map, &map_of(&sweeps[0]), &map_of(&sweeps[1])];
            let (more, busy, _) = split_within(&rest, &maps);
            inside.extend(more);
            if !busy.is_empty() {
                let all: Vec<ExPolygon> = closed.into_iter().chain(sweeps.concat()).collect();
                let (all, _) = by_boxes(&all, &busy);
                inside.extend(geom::intersection(&busy, &all));
            }
            inside
        })
        .collect()
}

/// The map [`split_within`] tests islands against.
fn map_of(areas: &[ExPolygon]) -> CellMap {
    CellMap::new(areas, scaled(MAP_CELL))
}

/// Split `v` (islands) against the union of the areas `maps` were made of: the
/// islands wholly inside one of them, those that may touch one, and those wholly
/// outside all.
fn split_within(
    v: &[ExPolygon],
    maps: &[&CellMap],
) -> (Vec<ExPolygon>, Vec<ExPolygon>, Vec<ExPolygon>) {
    let (mut inside, mut busy, mut outside) = (Vec::new(), Vec::new(), Vec::new());
    'islands: for e in v {
        let Some(b) = e.bbox() else { continue };
        let mut near = false;
        for m in maps {
            match m.side(&b, 0) {
                Some(true) => {
                    inside.push(e.clone());
                    continue 'islands;
                }
                None => near = true,
                Some(false) => {}
            }
        }
        if near {
            busy.push(e.clone());
        } else {
            outside.push(e.clone());
        }
    }
    (inside, busy, outside)
}

/// Remove the interior parts from every layer (support inside lumens not wanted).
pub fn drop_interior(layers: &mut [SupportLayer]) {
    for l in layers {
        if l.interior.is_empty() {
            continue;
        }
        l.base = geom::difference(&l.base, &l.interior);
        l.interface = geom::difference(&l.interface, &l.interior);
        l.interior.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::shapes::{cuboid, merge};
    use crate::slice::{SliceOptions, layer_specs, slice_mesh};
    use crate::support::overhang::detect;

    fn params() -> AreaParams {
        AreaParams {
            xy_gap: 0.6,
            interface_xy_gap: 0.6,
            line_inset: 0.0,
            top_z_gap: 0.2,
            bottom_z_gap: 0.2,
            interface_layers: 3,
            bottom_interface_layers: 0,
            buildplate_only: false,
            enclosure_radius: 4.0,
        }
    }

    fn run(mesh: &crate::mesh::Mesh, h: f64, p: &AreaParams) -> (Vec<Layer>, Vec<SupportLayer>) {
        let layers = slice_mesh(mesh, &layer_specs(0.2, 0.2, h), &SliceOptions::default()).0;
        let over = detect(&layers, None, 55.0, 0.1, true, 0.45);
        let s = support_areas(&layers, &over, p);
        (layers, s)
    }

    fn area(v: &[ExPolygon]) -> f64 {
        v.iter().map(ExPolygon::area_mm2).sum()
    }

    fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> Polygon {
        Polygon::rectangle(scaled(x0), scaled(y0), scaled(x1), scaled(y1))
    }

    fn ring(outer: Polygon, mut hole: Polygon) -> ExPolygon {
        hole.reverse();
        ExPolygon {
            contour: outer,
            holes: vec![hole],
        }
    }

    #[test]
    fn shortcuts_agree_with_the_booleans() {
        // A layer's islands: one unchanged above, a ring whose hole grows above, an
        // island in that hole, one far from everything and one half covered.
        let here = vec![
            ExPolygon::new(square(0.0, 0.0, 10.0, 10.0)),
            ring(square(20.0, 0.0, 40.0, 20.0), square(25.0, 5.0, 35.0, 15.0)),
            ExPolygon::new(square(28.0, 8.0, 32.0, 12.0)),
            ExPolygon::new(square(50.0, 0.0, 55.0, 5.0)),
            ExPolygon::new(square(60.0, 0.0, 70.0, 10.0)),
        ];
        let up = vec![
            ExPolygon::new(square(0.0, 0.0, 10.0, 10.0)),
            ring(square(20.0, 0.0, 40.0, 20.0), square(26.0, 5.0, 35.0, 15.0)),
            ExPolygon::new(square(29.0, 9.0, 31.0, 11.0)),
            ExPolygon::new(square(65.0, 0.0, 75.0, 10.0)),
        ];
        let exact = area(&geom::difference(&here, &up));
        let fast = uncovered(&here, &up);
        assert!(
            (area(&fast) - exact).abs() < 1e-6,
            "{} {exact}",
            area(&fast)
        );
        // 5x10 (half covered) + 25 (far) + 16 - 4 (in the hole): the unchanged one and
        // the ring's kept part are not exposed.
        assert!((exact - (50.0 + 25.0 + 12.0)).abs() < 1e-6, "{exact}");
        // Inside a union of overlapping sets: wholly inside, touching, wholly outside.
        let sets = [
            vec![ExPolygon::new(square(-5.0, -5.0, 45.0, 25.0))],
            vec![ExPolygon::new(square(58.0, -1.0, 65.0, 11.0))],
        ];
        let (inside, busy, outside) = split_within(&here, &[&map_of(&sets[0]), &map_of(&sets[1])]);
        assert_eq!((inside.len(), busy.len(), outside.len()), (3, 1, 1));
        let all: Vec<ExPolygon> = sets.concat();
        let fast = area(&inside) + area(&geom::intersection(&busy, &all));
        let exact = area(&geom::intersection(&here, &all));
        assert!((fast - exact).abs() < 1e-6, "{fast} {exact}");
    }

    #[test]
    fn t_shape_bar_is_held_and_stem_is_clear() {
        let t = merge(&[
            cuboid([8.0, 0.0, 0.0], [12.0, 4.0, 10.0]),
            cuboid([0.0, 0.0, 10.0], [20.0, 4.0, 12.0]),
        ]);
        let (layers, s) = run(&t, 12.0, &params());
        // Overhang at layer 50 (z 10.0-10.2); one gap layer; support up to layer 48.
        assert!(area(&s[48].interface) > 50.0, "{}", area(&s[48].interface));
        assert!(s[49].base.is_empty() && s[49].interface.is_empty());
        for j in 0..=48 {
            let all: Vec<ExPolygon> = s[j].base.iter().chain(&s[j].interface).cloned().collect();
            // Never closer to the stem than the XY gap.
            let near = geom::offset(&layers[j].islands, scaled(0.59) as f64, JoinType::Miter);
            assert!(area(&geom::intersection(&all, &near)) < 1e-6, "layer {j}");
            // Both sides of the stem are supported, all the way down.
            assert!(
                area(&all) > 2.0 * (8.0 - 0.6) * 4.0 * 0.95,
                "layer {j}: {}",
                area(&all)
            );
        }
        // Interface only on the top three support layers.
        assert!(s[45].interface.is_empty() && !s[46].interface.is_empty());
        assert!(s[0].interior.is_empty());
    }

    #[test]
    fn shelf_above_a_lower_part_with_buildplate_only() {
        // A low block under the left half of a shelf; the right half reaches the bed.
        let m = merge(&[
            cuboid([0.0, 0.0, 0.0], [4.0, 10.0, 12.0]), // wall holding the shelf
            cuboid([4.0, 0.0, 10.0], [24.0, 10.0, 12.0]), // shelf
            cuboid([6.0, 0.0, 0.0], [12.0, 10.0, 4.0]), // lower part under the shelf
        ]);
        let (_, on_model) = run(&m, 12.0, &params());
        let mut p = params();
        p.buildplate_only = true;
        let (_, plate) = run(&m, 12.0, &p);
        // Above the lower part (layer 30, z 6), support stands there only when it may
        // rest on the model.
        let all = |l: &SupportLayer| -> Vec<ExPolygon> {
            l.base.iter().chain(&l.interface).cloned().collect()
        };
        let over_lower = ExPolygon::new(geom::Polygon::rectangle(
            scaled(6.0),
            0,
            scaled(12.0),
            scaled(10.0),
        ));
        let above = |l: &SupportLayer| area(&geom::intersection(&all(l), &over_lower));
        assert!(above(&on_model[30]) > 20.0, "{}", above(&on_model[30]));
        assert!(above(&plate[30]) < 1e-6, "{}", above(&plate[30]));
        // Beyond the lower part, support still reaches the bed.
        assert!(area(&all(&plate[0])) > 10.0 * (24.0 - 12.6) * 0.9);
    }

    #[test]
    fn support_inside_a_closed_box_is_interior() {
        // A hollow box (cavity 10x10x10 inside 14x14x14): the cavity's ceiling needs
        // support that stands inside the model.
        let mut cavity = cuboid([2.0; 3], [12.0; 3]);
        for f in &mut cavity.faces {
            f.swap(1, 2);
        }
        let m = merge(&[cuboid([0.0; 3], [14.0; 3]), cavity]);
        let (_, mut s) = run(&m, 14.0, &params());
        let inside: f64 = s.iter().map(|l| area(&l.interior)).sum();
        assert!(inside > 100.0, "{inside}");
        drop_interior(&mut s);
        assert!(
            s.iter()
                .all(|l| l.base.is_empty() && l.interface.is_empty())
        );
    }
}
