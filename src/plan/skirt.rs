//! Skirt and brim.

use crate::geom::{self, ExPolygon, JoinType, Polygon, scaled};
use crate::path::{ExtrusionPath, Role, bead_spacing};

/// Footprints narrower than this (mm) count as small for the automatic brim.
const SMALL_FOOTPRINT: f64 = 10.0;
/// ... when the part is at least this many times taller than that width.
const TALL_RATIO: f64 = 2.0;
/// Footprints of less area than this (mm²) always count as small.
const TINY_AREA: f64 = 30.0;
/// Width of the automatic brim, mm.
pub const AUTO_BRIM_WIDTH: f64 = 5.0;

/// Skirt loops around `first_layer` (islands, brim and support of the first layer):
/// `loops` loops starting `distance` mm out, more when shorter than `min_length` mm.
pub fn skirt(
    first_layer: &[ExPolygon],
    loops: usize,
    distance: f64,
    min_length: f64,
    width: f64,
    height: f64,
) -> Vec<ExtrusionPath> {
    if loops == 0 || first_layer.is_empty() {
        return Vec::new();
    }
    let spacing = bead_spacing(width, height);
    let outline: Vec<ExPolygon> = geom::union(first_layer, geom::FillRule::NonZero)
        .into_iter()
        .map(|e| ExPolygon::new(e.contour))
        .collect();
    let mut out = Vec::new();
    let mut total = 0.0;
    let mut k = 0;
    while k < loops || (total < min_length && k < loops + 20) {
        let d = distance + width / 2.0 + k as f64 * spacing;
        let grown = geom::offset(&outline, scaled(d) as f64, JoinType::Round);
        for e in geom::union(&grown, geom::FillRule::NonZero) {
            let ring = e.contour.simplified(scaled(0.01) as f64);
            total += ring.length() / geom::SCALE;
            out.push(ExtrusionPath::from_loop(
                Role::SkirtBrim,
                ring,
                width,
                height,
            ));
        }
        k += 1;
    }
    // Print from the inside out: the first loop primes the nozzle close to the part.
    out
}

/// Whether an island of the first layer needs a brim to stay put on the bed: a small
/// or narrow footprint under a tall part (a vessel standing on its end).
pub fn needs_auto_brim(footprint: &ExPolygon, part_height: f64) -> bool {
    let area = footprint.area_mm2();
    if area < TINY_AREA {
        return true;
    }
    let Some(bb) = footprint.bbox() else {
        return false;
    };
    let size = bb.size();
    let narrow = (size.x.min(size.y) as f64) / geom::SCALE;
    // The footprint's own narrowest width: area over its longest extent.
    let extent = (size.x.max(size.y) as f64) / geom::SCALE;
    let mean_width = (area / extent.max(1e-6)).min(narrow);
    mean_width < SMALL_FOOTPRINT && part_height > TALL_RATIO * mean_width
}

/// Brim loops around `island`'s outer contour (holes get none), out to `brim_width`
/// mm, outermost first so the last loop joins the part.
pub fn brim(island: &ExPolygon, brim_width: f64, width: f64, height: f64) -> Vec<ExtrusionPath> {
    if brim_width <= 0.0 {
        return Vec::new();
    }
    let spacing = bead_spacing(width, height);
    let n = (brim_width / spacing).ceil().max(1.0) as usize;
    let outline = [ExPolygon::new(island.contour.clone())];
    let mut loops: Vec<ExtrusionPath> = Vec::new();
    for k in 0..n {
        let d = width / 2.0 + k as f64 * spacing;
        for e in geom::offset(&outline, scaled(d) as f64, JoinType::Round) {
            let ring: Polygon = e.contour.simplified(scaled(0.01) as f64);
            loops.push(ExtrusionPath::from_loop(
                Role::SkirtBrim,
                ring,
                width,
                height,
            ));
        }
    }
    loops.reverse();
    loops
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geom::Point;

    #[test]
    fn skirt_encloses_at_distance() {
        let sq = ExPolygon::new(Polygon::rectangle(0, 0, scaled(20.0), scaled(20.0)));
        let s = skirt(&[sq.clone()], 2, 4.0, 0.0, 0.45, 0.2);
        assert_eq!(s.len(), 2);
        for p in &s[0].points {
            let d = sq.distance_squared_to_boundary(*p).sqrt() / geom::SCALE;
            assert!((d - 4.225).abs() < 0.01, "{d}");
            assert!(!sq.contains(*p));
        }
    }

    #[test]
    fn brim_touches_the_part_from_outside() {
        let c = ExPolygon::new(Polygon::circle(Point::new(0, 0), scaled(3.0), 64));
        let b = brim(&c, 3.0, 0.45, 0.2);
        assert!(b.len() >= 7);
        let last = b.last().unwrap();
        for p in &last.points {
            let d = c.distance_squared_to_boundary(*p).sqrt() / geom::SCALE;
            assert!(!c.contains(*p));
            assert!((d - 0.225).abs() < 0.02, "{d}");
        }
    }

    #[test]
    fn small_tall_footprints_get_a_brim() {
        let ring = ExPolygon::new(Polygon::circle(Point::new(0, 0), scaled(3.5), 64));
        assert!(needs_auto_brim(&ring, 25.0));
        let big = ExPolygon::new(Polygon::rectangle(0, 0, scaled(60.0), scaled(60.0)));
        assert!(!needs_auto_brim(&big, 25.0));
    }
}
