//! Perimeters of one island: nested wall loops, thin walls printed as single lines of
//! variable width, and gap fill between loops.
//!
//! The external loop's centre line lies half a line width inside the island, so the
//! printed part keeps the model's size. Loops are found by offsetting inward, each one
//! a line spacing further; a region too thin for two facing loops is left to the thin
//! wall pass, which follows its centre line with a line as wide as the wall: a vessel
//! wall of 0.5 mm still prints, all the way round.

use crate::geom::{self, ExPolygon, JoinType, Polyline, scaled};
use crate::path::{ExtrusionPath, Role, bead_spacing};

use super::medial::{WidthLine, medial_lines};

/// Loops closer than this fraction of their spacing are not both printed (the region
/// goes to the thin wall or gap fill pass instead); as PrusaSlicer's inset tolerance.
const INSET_OVERLAP_TOLERANCE: f64 = 0.4;

/// Variable-width lines are cut into pieces whose width varies less than this (mm).
const WIDTH_STEP: f64 = 0.05;

/// A variable-width piece is at least this long (mm) before the width may change.
const MIN_PIECE: f64 = 0.5;

/// Gap fill shorter than this many line widths is not worth its blob (thin walls have
/// a laxer bound, [`MIN_THIN_WALL_LENGTH`]: they are the part's surface).
const MIN_GAP_FILL_LENGTH: f64 = 2.0;

/// An open thin wall shorter than this many of its widest widths is left out (unless
/// the island has nothing else to print): the bead would be a dot no longer than it
/// is wide, in a stub of the outline the external loop cannot reach (on a voxel
/// staircase, a half-voxel step), and each such dot costs a travel there and back and
/// often a retraction.
/// The same bound as PrusaSlicer's medial axis, which drops open lines shorter than
/// twice the widest width once their ends reach the outline (lamina's ends stop half a
/// width short of it on each side). On the half-scale voxel skull this leaves out
/// 2.4 m of 375 m of external wall and 31 m of travel.
const MIN_THIN_WALL_LENGTH: f64 = 1.0;

/// Gap fill covering less than this (mm², length times mean width) is left out: a void
/// that small between two walls (under a 0.55 mm square) weakens nothing and shows
/// nowhere, while each such line costs a travel and often a retraction. On a voxel
/// staircase skull most gap fill is such slivers at the steps (half the gap fill
/// lines, 4% of the extrusion, about a fifth of the travel).
const MIN_GAP_FILL_AREA: f64 = 0.3;

/// Settings for one island's walls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerimeterParams {
    /// Number of wall loops (at least 1).
    pub loops: usize,
    /// External perimeter line width, mm.
    pub ext_width: f64,
    /// Inner perimeter line width, mm.
    pub width: f64,
    /// Layer height, mm.
    pub height: f64,
    /// Nozzle diameter, mm.
    pub nozzle: f64,
    /// Print walls thinner than two lines as single variable-width lines.
    pub thin_walls: bool,
    /// Fill gaps between loops.
    pub gap_fill: bool,
    /// Narrowest gap (mm) worth filling.
    pub gap_fill_min_width: f64,
}

/// One wall loop.
#[derive(Debug, Clone, PartialEq)]
pub struct PerimeterLoop {
    /// The loop's centre line: counter-clockwise around solid, clockwise around holes.
    pub polygon: geom::Polygon,
    /// 0 for the external wall, then 1, 2, ... inward.
    pub depth: usize,
    /// Whether the loop runs around a hole of the island.
    pub is_hole: bool,
    /// Line width, mm.
    pub width: f64,
}

/// The walls of one island and what is left inside them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IslandWalls {
    /// Wall loops, external first then inward.
    pub loops: Vec<PerimeterLoop>,
    /// Walls too thin for loops, as variable-width lines (role external perimeter).
    pub thin_walls: Vec<ExtrusionPath>,
    /// Gap fill between loops.
    pub gap_fill: Vec<ExtrusionPath>,
    /// The area inside the innermost loop's inner edge: for skins and infill.
    pub inner_area: Vec<ExPolygon>,
}

/// Shrink by `shrink` then grow by `grow` (integer units): removes parts narrower than
/// `2 * (shrink - grow)`, rounds nothing else.
fn open(areas: &[ExPolygon], shrink: f64, grow: f64) -> Vec<ExPolygon> {
    let shrunk = geom::offset(areas, -shrink, JoinType::Miter);
    if shrunk.is_empty() {
        return shrunk;
    }
    geom::offset(&shrunk, grow, JoinType::Miter)
}

/// Compute the walls of `island`.
///
/// ```
/// use lamina::geom::{scaled, ExPolygon, Polygon};
/// use lamina::layer::perimeters::{perimeters, PerimeterParams};
/// let square = ExPolygon::new(Polygon::rectangle(0, 0, scaled(20.0), scaled(20.0)));
/// let p = PerimeterParams { loops: 2, ext_width: 0.45, width: 0.45, height: 0.2, nozzle: 0.4,
///                           thin_walls: true, gap_fill: true, gap_fill_min_width: 0.1 };
/// let walls = perimeters(&square, &p);
/// assert_eq!(walls.loops.len(), 2);
/// // The external loop's centre line is half a width inside: 19.55 mm across.
/// let bb = walls.loops[0].polygon.bbox().unwrap();
/// assert_eq!(bb.size().x, scaled(19.55));
/// ```
pub fn perimeters(island: &ExPolygon, p: &PerimeterParams) -> IslandWalls {
    let mut out = IslandWalls::default();
    let island = std::slice::from_ref(island);
    let ext_spacing = scaled(bead_spacing(p.ext_width, p.height)) as f64;
    let spacing = scaled(bead_spacing(p.width, p.height)) as f64;
    let ext_half = scaled(p.ext_width) as f64 / 2.0;
    let ext_min_spacing = ext_spacing * (1.0 - INSET_OVERLAP_TOLERANCE);
    let min_spacing = spacing * (1.0 - INSET_OVERLAP_TOLERANCE);

    // `last` is the centre-line area of the latest loop.
    let mut last: Vec<ExPolygon> = Vec::new();
    let mut last_spacing = ext_spacing;
    for depth in 0..p.loops.max(1) {
        let next = if depth == 0 {
            open(
                island,
                ext_half + ext_min_spacing / 2.0,
                ext_min_spacing / 2.0,
            )
        } else {
            let distance = if depth == 1 {
                0.5 * (ext_spacing + spacing)
            } else {
                spacing
            };
            let next = open(&last, distance + min_spacing / 2.0, min_spacing / 2.0);
            if p.gap_fill {
                // What lies between the last loop and this one, too narrow for a loop.
                let reach = geom::offset(&last, -0.5 * distance, JoinType::Miter);
                let taken = geom::offset(&next, 0.5 * distance + 10.0, JoinType::Miter);
                let gaps = geom::difference(&reach, &taken);
                out.gap_fill
                    .extend(fill_gaps(&gaps, p, Role::GapFill, false));
            }
            next
        };
        if depth == 0 && p.thin_walls {
            // Parts of the island the external loop cannot reach: thin walls.
            let covered = geom::offset(&next, ext_half + 10.0, JoinType::Miter);
            let thin = geom::difference(island, &covered);
            let mut walls = fill_gaps(&thin, p, Role::ExternalPerimeter, false);
            if walls.is_empty() && next.is_empty() {
                // Nothing else to print: an island that small (a cone's tip) is its dots.
                walls = fill_gaps(&thin, p, Role::ExternalPerimeter, true);
            }
            out.thin_walls.extend(walls);
        }
        if next.is_empty() {
            // No room for this loop: the gap pass above filled what was left inside.
            if depth > 0 {
                last.clear();
            }
            break;
        }
        let width = if depth == 0 { p.ext_width } else { p.width };
        for ex in &next {
            out.loops.push(PerimeterLoop {
                polygon: ex.contour.clone(),
                depth,
                is_hole: false,
                width,
            });
            for h in &ex.holes {
                out.loops.push(PerimeterLoop {
                    polygon: h.clone(),
                    depth,
                    is_hole: true,
                    width,
                });
            }
        }
        last_spacing = if depth == 0 { ext_spacing } else { spacing };
        last = next;
    }
    if !last.is_empty() {
        let inner = geom::offset(&last, -last_spacing / 2.0, JoinType::Miter);
        // Parts too narrow for two infill lines are gap filled instead.
        let fillable = open(&inner, spacing, spacing);
        if p.gap_fill {
            let narrow = geom::difference(&inner, &fillable);
            out.gap_fill
                .extend(fill_gaps(&narrow, p, Role::GapFill, false));
        }
        out.inner_area = fillable;
    }
    out
}

/// Centre lines of thin `regions`, as extrusions of their local width. Thin walls
/// (role external perimeter) that are mere dots are left out unless `keep_dots`.
fn fill_gaps(
    regions: &[ExPolygon],
    p: &PerimeterParams,
    role: Role,
    keep_dots: bool,
) -> Vec<ExtrusionPath> {
    // Ignore slivers thinner than the minimum width.
    let half_min = scaled(p.gap_fill_min_width) as f64 / 2.0;
    let regions = open(regions, half_min, half_min);
    let max_edge = scaled(p.nozzle) as f64 / 2.0;
    let (min_w, max_w) = match role {
        // A thin wall prints at least half a nozzle wide and at most about two lines.
        Role::ExternalPerimeter => (
            0.5 * p.nozzle,
            p.ext_width + bead_spacing(p.ext_width, p.height),
        ),
        _ => (p.gap_fill_min_width.max(0.25 * p.nozzle), 2.0 * p.width),
    };
    let mut paths = Vec::new();
    for region in &regions {
        for line in medial_lines(region, max_edge) {
            if role == Role::ExternalPerimeter && !keep_dots && is_dot(&line, min_w) {
                continue;
            }
            if role == Role::GapFill {
                let mean_w = line.widths.iter().sum::<f64>() / line.widths.len().max(1) as f64;
                let length = line.length();
                let area_mm2 = length * mean_w / (geom::SCALE * geom::SCALE);
                if length < MIN_GAP_FILL_LENGTH * mean_w.max(scaled(min_w) as f64)
                    || area_mm2 < MIN_GAP_FILL_AREA
                {
                    continue;
                }
            }
            split_by_width(&line, min_w, max_w, p.height, role, &mut paths);
        }
    }
    paths
}

/// Whether the thin wall `line` is an open line shorter than
/// [`MIN_THIN_WALL_LENGTH`] times its widest width (at least `min_w` mm).
fn is_dot(line: &WidthLine, min_w: f64) -> bool {
    let widest = line
        .widths
        .iter()
        .copied()
        .fold(scaled(min_w) as f64, f64::max);
    let open = line.points.first() != line.points.last();
    open && line.length() < MIN_THIN_WALL_LENGTH * widest
}

/// Cut a variable-width line into constant-width extrusions: a new piece starts where
/// a segment's width differs from the running piece's mean by more than [`WIDTH_STEP`].
fn split_by_width(
    line: &WidthLine,
    min_w: f64,
    max_w: f64,
    height: f64,
    role: Role,
    out: &mut Vec<ExtrusionPath>,
) {
    let n = line.points.len();
    if n < 2 {
        return;
    }
    let seg_width = |i: usize| {
        let w = 0.5 * (line.widths[i] + line.widths[i + 1]) / geom::SCALE;
        w.clamp(min_w, max_w)
    };
    let seg_len = |i: usize| line.points[i].distance(line.points[i + 1]).max(1.0);
    let min_piece = scaled(MIN_PIECE) as f64;
    // Running piece: first point index, width × length and length.
    let (mut start, mut wl, mut len) = (0usize, 0.0f64, 0.0f64);
    for i in 0..n - 1 {
        let (w, l) = (seg_width(i), seg_len(i));
        if len >= min_piece && (w - wl / len).abs() > WIDTH_STEP {
            out.push(ExtrusionPath::open(
                role,
                Polyline::new(line.points[start..=i].to_vec()),
                wl / len,
                height,
            ));
            (start, wl, len) = (i, 0.0, 0.0);
        }
        wl += w * l;
        len += l;
    }
    out.push(ExtrusionPath::open(
        role,
        Polyline::new(line.points[start..].to_vec()),
        wl / len,
        height,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geom::{Point, Polygon};

    fn params(loops: usize) -> PerimeterParams {
        PerimeterParams {
            loops,
            ext_width: 0.45,
            width: 0.45,
            height: 0.2,
            nozzle: 0.4,
            thin_walls: true,
            gap_fill: true,
            gap_fill_min_width: 0.1,
        }
    }

    fn ring(r_out: f64, r_in: f64) -> ExPolygon {
        let mut hole = Polygon::circle(Point::new(0, 0), scaled(r_in), 360);
        hole.reverse();
        ExPolygon {
            contour: Polygon::circle(Point::new(0, 0), scaled(r_out), 360),
            holes: vec![hole],
        }
    }

    /// Fraction of the island's boundary within `tol` mm of some extrusion centre line.
    fn boundary_coverage(island: &ExPolygon, walls: &IslandWalls, tol: f64) -> f64 {
        let mut lines: Vec<Vec<Point>> = walls
            .loops
            .iter()
            .map(|l| {
                let mut pts = l.polygon.points.clone();
                pts.push(pts[0]);
                pts
            })
            .collect();
        lines.extend(walls.thin_walls.iter().map(|p| p.points.clone()));
        let tol2 = (scaled(tol) as f64).powi(2);
        let (mut covered, mut total) = (0usize, 0usize);
        for r in island.rings() {
            for (a, b) in r.edges() {
                for k in 0..4 {
                    let q = a.lerp(b, k as f64 / 4.0);
                    total += 1;
                    let near = lines.iter().any(|l| {
                        l.windows(2)
                            .any(|w| q.distance_to_segment_squared(w[0], w[1]) <= tol2)
                    });
                    covered += usize::from(near);
                }
            }
        }
        covered as f64 / total as f64
    }

    #[test]
    fn square_loops_are_nested_at_line_spacing() {
        let island = ExPolygon::new(Polygon::rectangle(0, 0, scaled(20.0), scaled(20.0)));
        let walls = perimeters(&island, &params(3));
        assert_eq!(walls.loops.len(), 3);
        let s = bead_spacing(0.45, 0.2);
        let mut inset = 0.225;
        for (i, l) in walls.loops.iter().enumerate() {
            let bb = l.polygon.bbox().unwrap();
            let got = geom::unscaled(bb.min.x);
            assert!((got - inset).abs() < 1e-5, "loop {i}: {got} vs {inset}");
            assert!(l.polygon.is_ccw());
            inset += s;
        }
        assert!(walls.thin_walls.is_empty());
        // Inner area starts half a spacing inside the last loop.
        let bb = walls.inner_area[0].bbox().unwrap();
        assert!((geom::unscaled(bb.min.x) - (inset - s + s / 2.0)).abs() < 1e-5);
    }

    #[test]
    fn hole_loops_run_clockwise_and_keep_the_hole_size() {
        let island = ring(10.0, 5.0);
        let walls = perimeters(&island, &params(2));
        let holes: Vec<_> = walls.loops.iter().filter(|l| l.is_hole).collect();
        assert_eq!(holes.len(), 2);
        let ext_hole = holes.iter().find(|l| l.depth == 0).unwrap();
        assert!(!ext_hole.polygon.is_ccw());
        // Centre line half a width outside the hole's edge.
        let r = ext_hole
            .polygon
            .points
            .iter()
            .map(|p| p.length())
            .sum::<f64>()
            / ext_hole.polygon.points.len() as f64;
        assert!((r / 1e6 - 5.225).abs() < 0.01, "{r}");
    }

    #[test]
    fn thin_vessel_walls_print_all_the_way_round() {
        for wall in [0.5, 0.6, 0.8, 1.0, 1.5] {
            let island = ring(3.0 + wall, 3.0);
            let walls = perimeters(&island, &params(2));
            let cov = boundary_coverage(&island, &walls, 0.45);
            assert!(cov >= 0.99, "wall {wall}: coverage {cov}");
            let area: f64 = walls
                .loops
                .iter()
                .map(|l| l.polygon.length() / 1e6 * l.width)
                .chain(walls.thin_walls.iter().map(|p| p.length_mm() * p.width))
                .chain(walls.gap_fill.iter().map(|p| p.length_mm() * p.width))
                .sum();
            let true_area = island.area_mm2();
            // Extruded footprint close to the wall's area: no gap, no heavy overfill.
            assert!(
                area > 0.8 * true_area && area < 1.35 * true_area,
                "wall {wall}: extruded {area} vs {true_area}"
            );
        }
    }

    #[test]
    fn tiny_island_still_gets_extrusion() {
        let island = ExPolygon::new(Polygon::circle(Point::new(0, 0), scaled(0.25), 64));
        let walls = perimeters(&island, &params(2));
        assert!(walls.loops.is_empty());
        assert!(!walls.thin_walls.is_empty());
    }

    #[test]
    fn gap_between_loops_is_filled() {
        // 2.2 mm strip: two loops each side leave a gap in the middle.
        let island = ExPolygon::new(Polygon::rectangle(0, 0, scaled(30.0), scaled(2.2)));
        let walls = perimeters(&island, &params(2));
        assert!(!walls.gap_fill.is_empty());
        for g in &walls.gap_fill {
            for p in &g.points {
                assert!((geom::unscaled(p.y) - 1.1).abs() < 0.1, "{p:?}");
            }
        }
    }
}
