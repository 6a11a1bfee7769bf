//! Support areas per layer (grid/line style): overhangs carried down to the bed or onto
//! the model, kept an XY gap from the model and a Z gap under it, with dense interface
//! layers at the top (and bottom, where support rests on the model), and the parts that
//! stand inside the model (a lumen, a sac, a cavity) marked.

use crate::geom::{self, BBox, ExPolygon, JoinType, Point, Polygon, scaled};
use crate::slice::Layer;

/// Support outlines are simplified to this tolerance (mm).
const SIMPLIFY: f64 = 0.05;

/// Pieces of a layer's support smaller than this (mm²) are not printed: less than a
/// line's width square, they hold nothing.
const PIECE_MIN: f64 = 0.15;

/// Holes smaller than this (mm²) are closed in the columns carried down.
const WANT_HOLE_MIN: f64 = 2.0;

/// The model's outline is simplified to this tolerance (mm) to find what it encloses.
const INTERIOR_SIMPLIFY: f64 = 0.4;

/// Columns of support carried down are simplified to this tolerance (mm), below the
/// margin contact areas get round their overhangs.
const WANT_SIMPLIFY: f64 = 0.12;

/// Contact areas are grown by this much (mm) so the overhang's edge is held too.
const CONTACT_MARGIN: f64 = 0.2;

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
}

/// Number of whole layers a gap of `gap` mm takes at layer height `h`.
fn gap_layers(gap: f64, h: f64) -> usize {
    if gap <= 1e-9 || h <= 0.0 {
        0
    } else {
        (gap / h - 1e-6).ceil() as usize
    }
}

/// How far the model's outline may move when simplified for support, mm: well inside
/// every gap support keeps, and it makes the booleans on large sections cheap.
const COARSE: f64 = 0.03;

/// Areas with every ring simplified to `tol` (integer units).
fn simplified(v: Vec<ExPolygon>, tol: f64) -> Vec<ExPolygon> {
    v.into_iter()
        .map(|mut e| {
            e.contour = e.contour.simplified(tol);
            for hole in &mut e.holes {
                *hole = hole.simplified(tol);
            }
            e
        })
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
    let clean_to = |v: Vec<ExPolygon>, tol: f64| -> Vec<ExPolygon> {
        simplified(v, tol)
            .into_iter()
            .filter(|e| e.area_mm2() > 0.01)
            .collect()
    };
    // What each layer prints: pieces smaller than a short stub of line are dropped.
    let clean = |v: Vec<ExPolygon>| -> Vec<ExPolygon> {
        simplified(v, tol)
            .into_iter()
            .filter(|e| e.area_mm2() > PIECE_MIN)
            .collect()
    };
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
    let (model_r, shadow_r, contacts_r, clean_to_r) = (&model, &shadow, &contacts, &clean_to);
    let carry = move || {
        let mut want: Vec<ExPolygon> = Vec::new();
        for j in (0..n).rev() {
            // Non-zero fill: the difference unions the contact into the columns.
            want.extend(contacts_r[j].iter().cloned());
            if want.is_empty() {
                continue;
            }
            // The model itself stops a column (the Z gap below and the XY gap are cut
            // from what each layer prints).
            let stop: Vec<ExPolygon> = if p.buildplate_only {
                model_r[j].iter().chain(&shadow_r[j]).cloned().collect()
            } else {
                model_r[j].clone()
            };
            want = clean_to_r(geom::difference(&want, &stop), want_tol);
            // Small holes in a column (slivers between overhang bands, specks of the
            // model) would be carried down to the bed; support is still cut clear of
            // the model on every layer, so closing them costs nothing.
            for e in &mut want {
                e.holes.retain(|h| h.area_mm2().abs() >= WANT_HOLE_MIN);
            }
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
        rx.into_iter()
            .par_bridge()
            .map(|(j, w)| {
                let mut near: Vec<ExPolygon> = grown[j.saturating_sub(k_bottom)..=j].concat();
                if p.buildplate_only {
                    near.extend(geom::offset(&shadow[j], iface_xy, JoinType::Miter));
                }
                (j, clean(geom::difference(&w, &near)))
            })
            .collect()
    };
    let ((), cut_layers) = rayon::join(carry, cut);
    let mut printable: Vec<Vec<ExPolygon>> = vec![Vec::new(); n];
    for (j, areas) in cut_layers {
        printable[j] = areas;
    }

    // What stands inside the model, found on whole layers (the split below only
    // moves areas between interface and base).
    let interior = enclosed_parts(&model, &printable, p.enclosure_radius);

    // What each layer has with nothing printable right above it: the columns' tops.
    let exposed: Vec<Vec<ExPolygon>> = (0..n)
        .into_par_iter()
        .map(|j| match printable.get(j + 1) {
            _ if printable[j].is_empty() => Vec::new(),
            Some(up) if !up.is_empty() => geom::difference(&printable[j], up),
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
            geom::intersection(here, &reach.concat())
        };
        let mut base = if top.is_empty() {
            here.clone()
        } else {
            geom::difference(here, &top)
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

/// Mark the support standing inside the model: inside a layer's outline once gaps in
/// it narrower than `2 * radius` mm are closed (a sac, a cavity, a vertical lumen), or
/// held between two walls of the model less than `4 * radius` apart along X or Y (the
/// lumen of a vessel lying on its side, open at its ends).
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
    let reach = scaled(4.0 * radius);
    areas
        .par_iter()
        .enumerate()
        .map(|(j, all)| {
            // Only the model within reach of the support can enclose it: the rest is
            // cut away first (closing and sweeping cost grows with the outline's length).
            let Some(near) = all.iter().filter_map(ExPolygon::bbox).reduce(|a, b| BBox {
                min: Point::new(a.min.x.min(b.min.x), a.min.y.min(b.min.y)),
                max: Point::new(a.max.x.max(b.max.x), a.max.y.max(b.max.y)),
            }) else {
                return Vec::new();
            };
            let window = Polygon::rectangle(
                near.min.x - reach,
                near.min.y - reach,
                near.max.x + reach,
                near.max.y + reach,
            );
            let window = [ExPolygon::new(window)];
            let islands = &model[j];
            // Enclosure is a coarse notion (centimetres): a coarse outline serves.
            let coarse = scaled(INTERIOR_SIMPLIFY) as f64;
            let model = simplified(geom::intersection(islands, &window), coarse);
            // Holes filled before the cut, so a cavity the window cuts through stays one.
            let filled: Vec<ExPolygon> = islands
                .iter()
                .map(|e| ExPolygon::new(e.contour.clone()))
                .collect();
            let filled = simplified(geom::intersection(&filled, &window), coarse);
            let grown = geom::offset(&filled, r, JoinType::Miter);
            let mut enclosed = geom::offset(&grown, -r, JoinType::Miter);
            for (dx, dy) in [(reach, 0), (0, reach)] {
                let one_side = geom::sweep(&model, dx, dy);
                let other_side = geom::sweep(&model, -dx, -dy);
                enclosed.extend(geom::intersection(&one_side, &other_side));
            }
            geom::intersection(all, &enclosed)
        })
        .collect()
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
        let over = detect(&layers, 55.0, 0.1, true, 0.45);
        let s = support_areas(&layers, &over, p);
        (layers, s)
    }

    fn area(v: &[ExPolygon]) -> f64 {
        v.iter().map(ExPolygon::area_mm2).sum()
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
