//! Skirt and brim: computed once from the first layer (and, for the automatic brim,
//! from how tall the part standing on each footprint is).
//!
//! The skirt runs round the convex hull of everything on the first layer (parts, their
//! brim, support) at the skirt distance, outermost loop first so the nozzle is primed
//! and ends next to the parts. The brim's loops touch the part: the first one's inner
//! edge lies on the part's outline. They print from the outermost loop inward, so
//! the loop that holds the part is laid last, pressed against the loop before it, and
//! the part's outer wall follows while it is still warm: the part fuses to the brim
//! all the way round. (Printed the other way, the innermost loop goes down alone on
//! bare bed around a small footprint, where tight curves lift most easily.)

use crate::geom::{self, BBox, ExPolygon, FillRule, JoinType, Point, Polygon, Polyline, scaled};
use crate::layer::{IslandPaths, LayerRegions};
use crate::path::{ExtrusionPath, Role, bead_spacing};

use super::hull::{convex_hull, min_width};
use super::params::PlanParams;

/// The skirt never has more loops than this, whatever its minimum length.
const MAX_SKIRT_LOOPS: usize = 100;

/// The brim's beads keep this far from the first layer's support, mm: the brim does
/// not print over support (under an overhang near the bed, the contact layer is the
/// support's, in the soluble tool when the support is soluble).
const BRIM_SUPPORT_GAP: f64 = 0.2;

/// Islands of the layers above a footprint count as the same part when their boxes
/// come within this of the part's box on the layer below (mm).
const COLUMN_MARGIN: f64 = 0.5;

/// Skirt and brim of a print.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Adhesion {
    /// Skirt loops, outermost first.
    pub skirt: Vec<Polygon>,
    /// Brim paths of the first layer in groups (one group per connected brim), each in
    /// print order: outermost loop first.
    pub brim: Vec<Vec<ExtrusionPath>>,
}

/// The skirt and brim for `layers` (the whole print: the automatic brim looks at how
/// tall each part is).
pub fn adhesion(layers: &[LayerRegions], params: &PlanParams) -> Adhesion {
    let Some(first) = layers.first() else {
        return Adhesion::default();
    };
    let mut boxes = LayerBoxes::new(layers);
    let brim_width = |i: usize, boxes: &mut LayerBoxes| {
        if params.brim.width > 0.0 {
            params.brim.width
        } else if params.brim.auto && auto_brim(layers, i, params, boxes) {
            params.brim.auto_width
        } else {
            0.0
        }
    };
    let widths: Vec<f64> = (0..first.islands.len())
        .map(|i| brim_width(i, &mut boxes))
        .collect();
    let (brim, brim_outline) = brim(first, &widths, params.brim.line_width);
    let skirt = skirt(first, &brim_outline, params);
    Adhesion { skirt, brim }
}

/// Whether island `i` of the first layer needs a brim to stay put: its footprint is
/// small (narrower than `auto_small_width`) under a part taller than it is wide, or
/// the part is `auto_slenderness` times taller than the footprint's narrowest width.
pub fn needs_auto_brim(layers: &[LayerRegions], i: usize, params: &PlanParams) -> bool {
    auto_brim(layers, i, params, &mut LayerBoxes::new(layers))
}

fn auto_brim(
    layers: &[LayerRegions],
    i: usize,
    params: &PlanParams,
    boxes: &mut LayerBoxes,
) -> bool {
    let Some(island) = layers.first().and_then(|l| l.islands.get(i)) else {
        return false;
    };
    column_height_reaches(
        layers,
        boxes,
        island.boundary.bbox(),
        auto_brim_height(island, params),
    )
}

/// The height (mm) the part standing on a first-layer island must reach for the island
/// to get an automatic brim.
fn auto_brim_height(island: &IslandPaths, params: &PlanParams) -> f64 {
    let width = min_width(&convex_hull(&island.boundary.contour.points)) / geom::SCALE;
    let b = &params.brim;
    let ratio = if width < b.auto_small_width {
        1.0
    } else {
        b.auto_slenderness
    };
    width * ratio
}

/// How high (mm) [`adhesion`] looks at the layers above the first: the heights the
/// automatic brim follows each first-layer island's column to, those the print
/// reaches (`top`, its highest layer's top); 0 when only the first layer counts. A
/// caller making layers as it goes may give [`adhesion`] the first layer in full and,
/// above it, only the layers up to the first whose top reaches this height, and only
/// their islands' outlines (the boxes round them will do): the result is the same.
pub fn adhesion_lookahead(first: &LayerRegions, params: &PlanParams, top: f64) -> f64 {
    if params.brim.width > 0.0 || !params.brim.auto {
        return 0.0;
    }
    first
        .islands
        .iter()
        .map(|isl| auto_brim_height(isl, params))
        .filter(|h| *h <= top)
        .fold(0.0, f64::max)
}

/// The islands' boxes of each layer, computed when first needed.
struct LayerBoxes {
    boxes: Vec<Option<Vec<BBox>>>,
}

impl LayerBoxes {
    fn new(layers: &[LayerRegions]) -> LayerBoxes {
        LayerBoxes {
            boxes: vec![None; layers.len()],
        }
    }

    fn of<'s>(&'s mut self, layers: &[LayerRegions], k: usize) -> &'s [BBox] {
        self.boxes[k].get_or_insert_with(|| {
            layers[k]
                .islands
                .iter()
                .filter_map(|i| i.boundary.bbox())
                .collect()
        })
    }
}

/// Whether the part standing on the footprint `bbox` of the first layer reaches
/// `height` mm (followed up through the layers by overlapping island boxes).
fn column_height_reaches(
    layers: &[LayerRegions],
    boxes: &mut LayerBoxes,
    bbox: Option<BBox>,
    height: f64,
) -> bool {
    let Some(mut tracked) = bbox else {
        return false;
    };
    let margin = scaled(COLUMN_MARGIN);
    for (k, layer) in layers.iter().enumerate() {
        if layer.z >= height {
            return true;
        }
        let grown = tracked.inflated(margin);
        let mut next: Option<BBox> = None;
        for b in boxes.of(layers, k) {
            if b.overlaps(&grown) {
                match &mut next {
                    Some(n) => n.merge(b),
                    None => next = Some(*b),
                }
            }
        }
        match next {
            Some(n) => tracked = n,
            None => return false,
        }
    }
    false
}

/// Brim loops around the first layer's islands with `widths[i] > 0`, grouped by
/// connected brim, outermost loop first; and the brim's outer outline.
fn brim(
    first: &LayerRegions,
    widths: &[f64],
    line_width: f64,
) -> (Vec<Vec<ExtrusionPath>>, Vec<ExPolygon>) {
    let width = widths.iter().copied().fold(0.0, f64::max);
    if width <= 0.0 || line_width <= 0.0 {
        return (Vec::new(), Vec::new());
    }
    let height = first.height;
    let spacing = bead_spacing(line_width, height).max(line_width * 0.5);
    let n = ((width / spacing).round() as usize).max(1);
    let brimmed: Vec<ExPolygon> = first
        .islands
        .iter()
        .zip(widths)
        .filter(|(_, w)| **w > 0.0)
        .map(|(i, _)| ExPolygon::new(i.boundary.contour.clone()))
        .collect();
    // The other islands (and support) are obstacles the brim must keep clear of.
    let mut obstacles: Vec<ExPolygon> = first
        .islands
        .iter()
        .zip(widths)
        .filter(|(_, w)| **w <= 0.0)
        .map(|(i, _)| i.boundary.clone())
        .collect();
    obstacles = geom::offset(&obstacles, scaled(line_width / 2.0) as f64, JoinType::Round);
    obstacles.extend(geom::offset(
        &first.support_areas,
        scaled(line_width / 2.0 + BRIM_SUPPORT_GAP) as f64,
        JoinType::Round,
    ));
    let obstacle_boxes: Vec<BBox> = obstacles.iter().filter_map(ExPolygon::bbox).collect();

    // Loop k's centre line is k spacings beyond the first, whose inner edge touches the part.
    let mut levels: Vec<Vec<Polygon>> = Vec::with_capacity(n);
    let mut outermost: Vec<ExPolygon> = Vec::new();
    for k in 0..n {
        let d = line_width / 2.0 + k as f64 * spacing;
        let grown = geom::offset(&brimmed, scaled(d) as f64, JoinType::Round);
        levels.push(grown.iter().flat_map(|e| e.rings().cloned()).collect());
        if k + 1 == n {
            outermost = grown;
        }
    }
    let outline = geom::offset(&outermost, scaled(line_width / 2.0) as f64, JoinType::Round);

    let component_of = |p: Point| {
        outermost
            .iter()
            .position(|e| e.bbox().is_some_and(|b| b.contains(p)) && e.contour.contains(p))
            .unwrap_or(0)
    };
    let mut groups: Vec<Vec<ExtrusionPath>> = vec![Vec::new(); outermost.len().max(1)];
    for ring in levels.into_iter().rev().flatten() {
        let Some(&p0) = ring.points.first() else {
            continue;
        };
        let group = &mut groups[component_of(p0)];
        let hits = ring
            .bbox()
            .is_some_and(|b| obstacle_boxes.iter().any(|o| o.overlaps(&b)));
        if !hits {
            group.push(ExtrusionPath::from_loop(
                Role::SkirtBrim,
                ring,
                line_width,
                height,
            ));
            continue;
        }
        let mut closed = ring.points.clone();
        closed.push(p0);
        for piece in geom::diff_polylines(&[Polyline::new(closed)], &obstacles) {
            group.push(ExtrusionPath::open(
                Role::SkirtBrim,
                piece,
                line_width,
                height,
            ));
        }
    }
    groups.retain(|g| !g.is_empty());
    (groups, outline)
}

/// Skirt loops around the first layer (islands, `brim_outline`, support), outermost
/// first.
fn skirt(first: &LayerRegions, brim_outline: &[ExPolygon], params: &PlanParams) -> Vec<Polygon> {
    let s = &params.skirt;
    if s.loops == 0 || s.height == 0 || s.width <= 0.0 {
        return Vec::new();
    }
    let mut points: Vec<Point> = Vec::new();
    for isl in &first.islands {
        points.extend_from_slice(&isl.boundary.contour.points);
    }
    for e in brim_outline {
        points.extend_from_slice(&e.contour.points);
    }
    for (_, p) in &first.support {
        points.extend_from_slice(&p.points);
    }
    let hull = convex_hull(&points);
    if hull.points.len() < 3 {
        return Vec::new();
    }
    let spacing = bead_spacing(s.width, first.height).max(s.width * 0.5);
    let mut loops = Vec::new();
    let mut total = 0.0;
    let mut k = 0;
    while (k < s.loops || total < s.min_length) && k < MAX_SKIRT_LOOPS {
        let d = s.distance + s.width / 2.0 + k as f64 * spacing;
        for ring in geom::union_polygons(
            &geom::offset_polygons(&hull, scaled(d) as f64, JoinType::Round),
            FillRule::Positive,
        ) {
            if ring.is_ccw() {
                total += ring.length() / geom::SCALE;
                loops.push(ring);
            }
        }
        k += 1;
    }
    loops.reverse();
    loops
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::IslandPaths;

    fn layer(index: usize, islands: Vec<ExPolygon>) -> LayerRegions {
        LayerRegions {
            index,
            z: 0.2 * (index + 1) as f64,
            height: 0.2,
            islands: islands
                .into_iter()
                .map(|b| IslandPaths {
                    boundary: b,
                    ..Default::default()
                })
                .collect(),
            support: Vec::new(),
            support_areas: Vec::new(),
        }
    }

    fn no_brim() -> PlanParams {
        let mut p = PlanParams::default();
        p.brim.auto = false;
        p
    }

    #[test]
    fn skirt_encloses_everything_at_the_distance() {
        let a = ExPolygon::new(Polygon::rectangle(0, 0, scaled(20.0), scaled(20.0)));
        let b = ExPolygon::new(Polygon::circle(Point::from_mm(40.0, 10.0), scaled(5.0), 90));
        let mut p = no_brim();
        p.skirt.loops = 2;
        p.skirt.distance = 3.0;
        p.skirt.min_length = 0.0;
        let ad = adhesion(&[layer(0, vec![a.clone(), b.clone()])], &p);
        assert_eq!(ad.skirt.len(), 2);
        assert!(ad.brim.is_empty());
        // The inner loop (printed last) is distance + half a width from the parts.
        let inner = &ad.skirt[1];
        let outer = &ad.skirt[0];
        for island in [&a, &b] {
            for q in &island.contour.points {
                assert!(inner.contains(*q) && outer.contains(*q));
            }
        }
        let gap = inner
            .points
            .iter()
            .map(|q| {
                a.distance_squared_to_boundary(*q)
                    .min(b.distance_squared_to_boundary(*q))
            })
            .fold(f64::INFINITY, f64::min)
            .sqrt()
            / geom::SCALE;
        assert!((gap - 3.225).abs() < 0.01, "{gap}");
        // Loops one spacing apart.
        let spacing = bead_spacing(0.45, 0.2);
        let d = outer
            .points
            .iter()
            .map(|q| inner.distance_squared_to(*q))
            .fold(f64::INFINITY, f64::min)
            .sqrt()
            / geom::SCALE;
        assert!((d - spacing).abs() < 0.01, "{d}");
    }

    #[test]
    fn skirt_grows_to_its_minimum_length() {
        let a = ExPolygon::new(Polygon::rectangle(0, 0, scaled(2.0), scaled(2.0)));
        let mut p = no_brim();
        p.skirt.loops = 1;
        p.skirt.distance = 1.0;
        p.skirt.min_length = 100.0;
        let ad = adhesion(&[layer(0, vec![a])], &p);
        let total: f64 = ad.skirt.iter().map(|r| r.length() / geom::SCALE).sum();
        let without_last: f64 = ad.skirt[1..].iter().map(|r| r.length() / geom::SCALE).sum();
        assert!(
            total >= 100.0 && without_last < 100.0,
            "{total} {without_last}"
        );
    }

    #[test]
    fn brim_is_outside_touches_and_reaches_its_width() {
        let c = ExPolygon::new(Polygon::circle(Point::new(0, 0), scaled(8.0), 120));
        let mut p = no_brim();
        p.brim.width = 3.0;
        p.skirt.loops = 0;
        let ad = adhesion(&[layer(0, vec![c.clone()])], &p);
        assert_eq!(ad.brim.len(), 1);
        let loops = &ad.brim[0];
        let spacing = bead_spacing(0.45, 0.2);
        assert_eq!(loops.len(), (3.0 / spacing).round() as usize);
        // Outermost first; the last loop touches the part: its inner edge on the outline.
        let dist = |l: &ExtrusionPath| {
            l.points
                .iter()
                .map(|q| c.distance_squared_to_boundary(*q).sqrt() / geom::SCALE)
                .fold(f64::INFINITY, f64::min)
        };
        let last = loops.last().unwrap();
        assert!((dist(last) - 0.225).abs() < 0.01, "{}", dist(last));
        assert!(dist(&loops[0]) > dist(last));
        for l in loops {
            assert!(l.points.iter().all(|q| !c.contains(*q)));
        }
        // The outer edge of the outermost loop is about the brim width out.
        let reach = dist(&loops[0]) + 0.225;
        assert!((reach - 3.0).abs() < spacing / 2.0 + 0.01, "{reach}");
    }

    #[test]
    fn tall_narrow_parts_get_an_automatic_brim_and_squat_ones_do_not() {
        let vessel = ExPolygon::new(Polygon::circle(Point::from_mm(10.0, 10.0), scaled(3.0), 64));
        let puck = ExPolygon::new(Polygon::circle(
            Point::from_mm(60.0, 10.0),
            scaled(30.0),
            64,
        ));
        // 20 mm tall: the 6 mm vessel needs a brim, the 60 mm puck does not.
        let layers: Vec<LayerRegions> = (0..100)
            .map(|i| layer(i, vec![vessel.clone(), puck.clone()]))
            .collect();
        let p = PlanParams::default();
        assert!(needs_auto_brim(&layers, 0, &p));
        assert!(!needs_auto_brim(&layers, 1, &p));
        // Only 4 mm tall: nothing needs one.
        assert!(!needs_auto_brim(&layers[..20], 0, &p));
        let ad = adhesion(&layers, &p);
        assert_eq!(ad.brim.len(), 1);
        for l in &ad.brim[0] {
            assert!(l.points.iter().all(|q| q.x < scaled(30.0)));
        }
    }

    #[test]
    fn brim_keeps_clear_of_other_islands() {
        // A brimmed pillar next to a wide island (no brim) 2 mm away.
        let pillar = ExPolygon::new(Polygon::circle(Point::from_mm(0.0, 0.0), scaled(2.0), 64));
        let wall = ExPolygon::new(Polygon::rectangle(
            scaled(4.0),
            -scaled(20.0),
            scaled(60.0),
            scaled(20.0),
        ));
        let layers: Vec<LayerRegions> = (0..60)
            .map(|i| layer(i, vec![pillar.clone(), wall.clone()]))
            .collect();
        let mut p = PlanParams::default();
        p.skirt.loops = 0;
        let ad = adhesion(&layers, &p);
        assert!(!ad.brim.is_empty());
        for path in ad.brim.iter().flatten() {
            for q in &path.points {
                let d = wall.distance_squared_to_boundary(*q).sqrt() / geom::SCALE;
                assert!(!wall.contains(*q) && d >= 0.225 - 0.01, "{d}");
            }
        }
    }
}
