//! Skins: which parts of a layer's infill area must be solid (top and bottom surfaces
//! and the layers just inside them), which bridge over air, and which stay sparse.

use crate::geom::{self, BBox, ExPolygon, JoinType, Point, Polyline, scaled};

/// Solid regions smaller than this (mm²) are merged into sparse infill.
const MIN_SKIN_AREA: f64 = 0.05;

/// Spacing of the probe lines used to choose a bridge's direction (and to judge
/// whether an overhang is a bridge), mm: about a line's width, so every line of the
/// bridge has a probe near it.
pub(crate) const BRIDGE_PROBE_SPACING: f64 = 0.5;

/// Directions tried for a bridge: this many, [`BRIDGE_ANGLE_STEP`] degrees apart (half
/// a turn: a line runs both ways). Ten degrees is finer than a bridge's anchors tell
/// apart; the directions across the bridge's own long edges are tried besides.
const BRIDGE_ANGLES: usize = 18;

/// Step between the directions tried for a bridge, degrees.
const BRIDGE_ANGLE_STEP: f64 = 10.0;

/// A bridge edge longer than this many line widths suggests a direction (square
/// across it): shorter edges are the steps of a curved outline, not a side to span.
const EDGE_GUESS_WIDTHS: f64 = 2.0;

/// Weight of a probe line held at one end only (a cantilever) against one held at
/// both: better than a line on air, far worse than a line that spans.
const CANTILEVER_WEIGHT: f64 = 0.1;

/// The classification of one layer's infill area.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Skins {
    /// Exposed upward: top solid infill.
    pub top: Vec<ExPolygon>,
    /// Resting on the bed (first layer): solid infill.
    pub bottom: Vec<ExPolygon>,
    /// Exposed downward above the first layer: bridges, with the direction (radians)
    /// their lines should run.
    pub bridges: Vec<(ExPolygon, f64)>,
    /// Solid because a top or bottom surface is within the configured layer count.
    pub solid: Vec<ExPolygon>,
    /// Everything else: sparse infill.
    pub sparse: Vec<ExPolygon>,
}

/// Every layer's islands with their bounding boxes, so a boolean with a neighbouring
/// layer only takes the islands near the area at hand: a layer of a fragmented skull
/// has hundreds of islands, and clipping each against all of them is quadratic.
///
/// The stack may be a window of the print's layers: `first` is the index of its first
/// layer, and layers outside the window count as absent.
pub struct IslandStack<'a> {
    first: usize,
    layers: Vec<&'a [ExPolygon]>,
    boxes: Vec<Vec<Option<BBox>>>,
}

impl<'a> IslandStack<'a> {
    /// The stack of `layers`, the first of which is layer `first` of the print.
    pub fn new(first: usize, layers: Vec<&'a [ExPolygon]>) -> IslandStack<'a> {
        let boxes = layers
            .iter()
            .map(|l| l.iter().map(ExPolygon::bbox).collect())
            .collect();
        IslandStack {
            first,
            layers,
            boxes,
        }
    }

    /// The islands of layer `k`, if the stack holds it.
    pub fn layer(&self, k: isize) -> Option<&'a [ExPolygon]> {
        let j = usize::try_from(k).ok()?.checked_sub(self.first)?;
        self.layers.get(j).copied()
    }

    /// The islands of layer `k` whose boxes touch `bbox` (the others cannot meet an
    /// area inside it), in their order.
    fn near(&self, k: isize, bbox: Option<BBox>) -> Vec<&'a ExPolygon> {
        let (Some(layer), Some(bbox)) = (self.layer(k), bbox) else {
            return Vec::new();
        };
        let boxes = &self.boxes[k as usize - self.first];
        layer
            .iter()
            .zip(boxes)
            .filter(|(_, b)| b.is_some_and(|b| b.overlaps(&bbox)))
            .map(|(l, _)| l)
            .collect()
    }
}

/// Classify `fill` (the infill area of layer `i`) given the layers around it.
///
/// A point of `fill` is solid unless all of the `top` layers above and the `bottom`
/// layers below have material there; it is a top surface when the next layer has none,
/// a bottom surface when the previous one has none.
pub fn classify(
    fill: &[ExPolygon],
    stack: &IslandStack<'_>,
    i: usize,
    top: usize,
    bottom: usize,
    line_width: f64,
) -> Skins {
    let mut out = Skins::default();
    if fill.is_empty() {
        return out;
    }
    let i = i as isize;
    let fill_box = BBox::of_areas(fill);

    // Interior: covered by every layer within reach above and below.
    let mut interior: Option<Vec<ExPolygon>> = Some(fill.to_vec());
    for k in (1..=top as isize)
        .map(|k| i + k)
        .chain((1..=bottom as isize).map(|k| i - k))
    {
        interior = match (interior, stack.layer(k)) {
            (Some(acc), Some(l)) if !acc.is_empty() && !l.is_empty() => {
                let near = stack.near(k, BBox::of_areas(&acc));
                Some(geom::intersection(&acc, &near))
            }
            _ => None,
        };
        if interior.is_none() {
            break;
        }
    }
    let interior = interior.unwrap_or_default();
    let solid_all = clean(geom::difference(fill, &interior));

    let top_exposed = match stack.layer(i + 1) {
        Some(above) if !above.is_empty() => {
            clean(geom::difference(fill, &stack.near(i + 1, fill_box)))
        }
        _ => fill.to_vec(),
    };
    let below = stack.layer(i - 1);
    let bottom_exposed = match below {
        Some(b) if !b.is_empty() => clean(geom::difference(fill, &stack.near(i - 1, fill_box))),
        _ => fill.to_vec(),
    };
    // A surface both exposed up and down (a one-layer sheet) prints as a bridge (or on
    // the bed, as bottom) rather than as a top.
    let top_only = clean(geom::difference(&top_exposed, &bottom_exposed));
    out.top = top_only;
    if i == 0 {
        out.bottom = bottom_exposed.clone();
    } else if below.is_some() {
        for b in &bottom_exposed {
            let reach = BridgeReach::new(b, line_width);
            let anchors = stack.near(i - 1, BBox::of_areas(&reach.area));
            let angle = reach.best_angle(b, &anchors, line_width);
            out.bridges.push((b.clone(), angle));
        }
    }
    let special: Vec<ExPolygon> = out
        .top
        .iter()
        .chain(bottom_exposed.iter())
        .cloned()
        .collect();
    out.solid = clean(geom::difference(&solid_all, &special));
    out.sparse = clean(geom::difference(fill, &solid_all));
    out
}

/// Drop regions too small to fill.
fn clean(mut v: Vec<ExPolygon>) -> Vec<ExPolygon> {
    v.retain(|e| e.area_mm2() >= MIN_SKIN_AREA);
    v
}

/// The direction (radians) in which bridge lines over `bridge` are best anchored on
/// `anchors` (the layer below): the angle whose probe lines across the bridge have the
/// most length with both ends resting on the layer below.
pub fn bridge_angle(bridge: &ExPolygon, anchors: &[ExPolygon], line_width: f64) -> f64 {
    let reach = BridgeReach::new(bridge, line_width);
    reach.best_angle(bridge, anchors, line_width)
}

/// Where a bridge's lines may rest: the bridge grown by a line width, and that grown
/// by a line width again (the band on the layer below that can hold a line end).
struct BridgeReach {
    grown_bridge: Vec<ExPolygon>,
    area: Vec<ExPolygon>,
}

impl BridgeReach {
    fn new(bridge: &ExPolygon, line_width: f64) -> BridgeReach {
        let grown_bridge = geom::offset(
            std::slice::from_ref(bridge),
            scaled(line_width) as f64,
            JoinType::Miter,
        );
        let area = geom::offset(&grown_bridge, scaled(line_width) as f64, JoinType::Miter);
        BridgeReach { grown_bridge, area }
    }

    /// See [`bridge_angle`]; `anchors` may leave out islands that cannot touch `area`.
    fn best_angle(
        &self,
        bridge: &ExPolygon,
        anchors: &(impl geom::Rings + ?Sized),
        line_width: f64,
    ) -> f64 {
        let Some(bb) = bridge.bbox() else {
            return 0.0;
        };
        let grown_bridge = &self.grown_bridge;
        // Where a line end may rest: the layer below, near the bridge.
        let support = geom::intersection(anchors, &self.area);
        if support.is_empty() {
            return 0.0;
        }
        let center = bb.center();
        let radius =
            (bb.size().x as f64).hypot(bb.size().y as f64) / 2.0 + scaled(line_width) as f64;
        let spacing = scaled(BRIDGE_PROBE_SPACING) as f64;
        let mut candidates: Vec<f64> = (0..BRIDGE_ANGLES)
            .map(|k| (k as f64 * BRIDGE_ANGLE_STEP).to_radians())
            .collect();
        // Directions across the bridge's own edges are good guesses too.
        for (a, b) in bridge.contour.edges() {
            if a.distance(b) > scaled(EDGE_GUESS_WIDTHS * line_width) as f64 {
                let d = b - a;
                candidates.push((d.y as f64).atan2(d.x as f64) + std::f64::consts::FRAC_PI_2);
            }
        }
        let mut best = (0.0, f64::NEG_INFINITY);
        for angle in candidates {
            let lines = Polyline::parallel_lines(center, radius, spacing, angle);
            let pieces = geom::clip_polylines(&lines, grown_bridge);
            let mut score = 0.0;
            for p in &pieces {
                let (Some(a), Some(b)) = (p.first(), p.last()) else {
                    continue;
                };
                let held = |q: Point| support.iter().any(|s| s.contains(q));
                let len = p.length();
                if held(a) && held(b) {
                    score += len;
                } else if held(a) || held(b) {
                    // A cantilever: held at one end only; still better than nothing.
                    score += CANTILEVER_WEIGHT * len;
                } else {
                    score -= len;
                }
            }
            if score > best.1 {
                best = (angle, score);
            }
        }
        best.0.rem_euclid(std::f64::consts::PI)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geom::Polygon;

    fn sq(x0: f64, y0: f64, x1: f64, y1: f64) -> ExPolygon {
        ExPolygon::new(Polygon::rectangle(
            scaled(x0),
            scaled(y0),
            scaled(x1),
            scaled(y1),
        ))
    }

    fn stack(islands: &[Vec<ExPolygon>]) -> IslandStack<'_> {
        IslandStack::new(0, islands.iter().map(Vec::as_slice).collect())
    }

    fn area(v: &[ExPolygon]) -> f64 {
        v.iter().map(ExPolygon::area_mm2).sum()
    }

    #[test]
    fn cube_has_solid_bottom_and_top_and_sparse_middle() {
        let islands: Vec<Vec<ExPolygon>> =
            (0..20).map(|_| vec![sq(0.0, 0.0, 20.0, 20.0)]).collect();
        let fill = vec![sq(1.0, 1.0, 19.0, 19.0)];
        for i in 0..20 {
            let s = classify(&fill, &stack(&islands), i, 3, 3, 0.45);
            let all = area(&s.top)
                + area(&s.bottom)
                + area(&s.solid)
                + area(&s.sparse)
                + s.bridges.iter().map(|b| b.0.area_mm2()).sum::<f64>();
            assert!((all - 324.0).abs() < 1e-6, "layer {i}: {all}");
            let solid = !(3..17).contains(&i);
            assert_eq!(area(&s.sparse) < 1e-6, solid, "layer {i}");
            assert_eq!(!s.top.is_empty(), i == 19);
            assert_eq!(!s.bottom.is_empty(), i == 0);
            assert!(s.bridges.is_empty());
        }
    }

    #[test]
    fn overhanging_shelf_is_a_bridge_along_its_span() {
        // Two pillars 0..5 and 15..20 in X; layer 10 spans across.
        let mut islands: Vec<Vec<ExPolygon>> = (0..10)
            .map(|_| vec![sq(0.0, 0.0, 5.0, 10.0), sq(15.0, 0.0, 20.0, 10.0)])
            .collect();
        islands.extend((10..14).map(|_| vec![sq(0.0, 0.0, 20.0, 10.0)]));
        let fill = vec![sq(0.5, 0.5, 19.5, 9.5)];
        let s = classify(&fill, &stack(&islands), 10, 3, 3, 0.45);
        assert_eq!(s.bridges.len(), 1);
        let (region, angle) = &s.bridges[0];
        assert!((region.area_mm2() - 10.0 * 9.0).abs() < 1e-6);
        // Lines must run along X (angle 0 or pi), across the gap.
        let a = angle.rem_euclid(std::f64::consts::PI);
        assert!(!(0.2..=std::f64::consts::PI - 0.2).contains(&a), "{a}");
    }
}
