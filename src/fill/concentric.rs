//! Concentric fill: loops following the area's outline, one spacing apart.

use crate::geom::{self, ExPolygon, JoinType, Polyline};

/// Safety limit on the number of loops.
const MAX_LOOPS: usize = 10_000;

/// Loops inside `area` (whose outline is the first loop's centre line), `spacing`
/// apart, each returned closed (first point repeated at the end).
pub fn concentric_fill(area: &[ExPolygon], spacing: f64) -> Vec<Polyline> {
    let mut out = Vec::new();
    let mut current: Vec<ExPolygon> = area.to_vec();
    for _ in 0..MAX_LOOPS {
        if current.is_empty() || spacing <= 0.0 {
            break;
        }
        for e in &current {
            for ring in e.rings() {
                if ring.points.len() >= 3 {
                    let mut pts = ring.points.clone();
                    pts.push(pts[0]);
                    out.push(Polyline::new(pts));
                }
            }
        }
        current = geom::offset(&current, -spacing, JoinType::Miter);
    }
    out
}
