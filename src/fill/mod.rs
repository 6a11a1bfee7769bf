//! Fill patterns: the centre lines of sparse and solid infill (and support) inside an
//! area.
//!
//! The area passed in is where line centres may go (already inset from the walls). Line
//! patterns are anchored to the bed's origin, not to each island, so sparse infill
//! stacks from layer to layer.
//!
//! ```
//! use lamina::fill::{fill, FillParams, FillPattern};
//! use lamina::geom::{scaled, ExPolygon, Polygon};
//! let area = vec![ExPolygon::new(Polygon::rectangle(0, 0, scaled(20.0), scaled(20.0)))];
//! let params = FillParams { pattern: FillPattern::Rectilinear, density: 1.0, spacing: 0.5,
//!                           angle: 0.0, layer: 0, z: 0.2, connect: false };
//! let lines = fill(&area, &params);
//! let total: f64 = lines.iter().map(|l| l.length()).sum::<f64>() / 1e6;
//! assert!((total - 20.0 * 20.0 / 0.5).abs() < 20.0);
//! ```

mod concentric;
mod gyroid;
pub(crate) mod lines;

use crate::geom::{ExPolygon, Polyline, scaled};

pub use concentric::concentric_fill;
pub use gyroid::gyroid_fill;
pub use lines::line_fill;

/// Gyroid curves are about this much longer than straight lines over the same span;
/// their spacing is widened by it so a density uses the same material as lines.
const GYROID_LENGTH_FACTOR: f64 = 1.2;

/// A fill pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FillPattern {
    /// Parallel lines, turned 90° every layer, not joined.
    Lines,
    /// Two directions every layer.
    Grid,
    /// Three directions every layer.
    Triangles,
    /// Gyroid curves.
    Gyroid,
    /// Loops following the outline.
    Concentric,
    /// Solid: parallel lines joined in zig-zags, turned 90° every layer.
    Rectilinear,
    /// Solid: parallel lines, each laid next to the previous one in one sweep.
    Monotonic,
}

impl From<crate::profile::InfillPattern> for FillPattern {
    fn from(p: crate::profile::InfillPattern) -> Self {
        use crate::profile::InfillPattern as I;
        match p {
            I::Lines => FillPattern::Lines,
            I::Grid => FillPattern::Grid,
            I::Triangles => FillPattern::Triangles,
            I::Gyroid => FillPattern::Gyroid,
            I::Concentric => FillPattern::Concentric,
        }
    }
}

impl From<crate::profile::SolidPattern> for FillPattern {
    fn from(p: crate::profile::SolidPattern) -> Self {
        use crate::profile::SolidPattern as S;
        match p {
            S::Rectilinear => FillPattern::Rectilinear,
            S::Monotonic => FillPattern::Monotonic,
            S::Concentric => FillPattern::Concentric,
        }
    }
}

/// How to fill.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FillParams {
    /// The pattern.
    pub pattern: FillPattern,
    /// Density, 0 to 1 (1: solid).
    pub density: f64,
    /// Centre spacing of solid lines of this width, mm.
    pub spacing: f64,
    /// Base direction, degrees.
    pub angle: f64,
    /// Layer number (directions alternate with it).
    pub layer: usize,
    /// Layer height above the bed, mm (gyroid).
    pub z: f64,
    /// Join neighbouring lines into zig-zags where the joint stays inside.
    pub connect: bool,
}

/// Runs of lines put one after the other, each starting nearest to where the previous
/// one ended (the first one first); each run keeps its own order.
fn nearest_first(mut runs: Vec<Vec<Polyline>>) -> Vec<Vec<Polyline>> {
    let ends = |run: &Vec<Polyline>| {
        let first = run.first().and_then(|l| l.points.first()).copied();
        let last = run.last().and_then(|l| l.points.last()).copied();
        (first.unwrap_or_default(), last.unwrap_or_default())
    };
    let mut out = Vec::with_capacity(runs.len());
    if runs.is_empty() {
        return out;
    }
    let first = runs.remove(0);
    let mut at = ends(&first).1;
    out.push(first);
    while !runs.is_empty() {
        let k = (0..runs.len())
            .min_by(|&a, &b| {
                let da = (ends(&runs[a]).0 - at).length_squared();
                let db = (ends(&runs[b]).0 - at).length_squared();
                da.total_cmp(&db)
            })
            .unwrap_or(0);
        let run = runs.swap_remove(k);
        at = ends(&run).1;
        out.push(run);
    }
    out
}

/// The fill's centre lines inside `area`.
pub fn fill(area: &[ExPolygon], p: &FillParams) -> Vec<Polyline> {
    if area.is_empty() || p.density <= 0.0 || p.spacing <= 0.0 {
        return Vec::new();
    }
    let density = p.density.min(1.0);
    let spacing = scaled(p.spacing) as f64;
    let base = p.angle.to_radians();
    let turn = if p.layer % 2 == 1 {
        std::f64::consts::FRAC_PI_2
    } else {
        0.0
    };
    let lines_at = |gap: f64, angle: f64, connect: bool| {
        // Offset by half a gap so a line never runs exactly along the bed axes.
        line_fill(area, gap, angle, gap / 2.0, connect)
    };
    match p.pattern {
        FillPattern::Lines => lines_at(spacing / density, base + turn, p.connect),
        FillPattern::Rectilinear => lines_at(spacing / density, base + turn, true),
        FillPattern::Monotonic => {
            // One sweep per separate region: the order matters only inside a region,
            // and one sweep across scattered regions (the top of every step of a
            // staircase) would hop from region to region line by line.
            let sweeps: Vec<Vec<Polyline>> = area
                .iter()
                .map(|region| {
                    let one = std::slice::from_ref(region);
                    let mut v = line_fill(
                        one,
                        spacing / density,
                        base + turn,
                        spacing / density / 2.0,
                        false,
                    );
                    // Alternate direction line by line for short travels; the order stays.
                    for (i, l) in v.iter_mut().enumerate() {
                        if i % 2 == 1 {
                            l.reverse();
                        }
                    }
                    v
                })
                .filter(|v| !v.is_empty())
                .collect();
            nearest_first(sweeps).into_iter().flatten().collect()
        }
        FillPattern::Grid => {
            let gap = 2.0 * spacing / density;
            let mut v = lines_at(gap, base, p.connect);
            v.extend(lines_at(gap, base + std::f64::consts::FRAC_PI_2, p.connect));
            v
        }
        FillPattern::Triangles => {
            let gap = 3.0 * spacing / density;
            let mut v = Vec::new();
            for k in 0..3 {
                v.extend(lines_at(
                    gap,
                    base + k as f64 * std::f64::consts::PI / 3.0,
                    p.connect,
                ));
            }
            v
        }
        FillPattern::Gyroid => {
            // Two curves per period: a period spans two line gaps.
            let period = 2.0 * spacing / density * GYROID_LENGTH_FACTOR;
            gyroid_fill(area, period, scaled(p.z) as f64)
        }
        FillPattern::Concentric => concentric_fill(area, spacing / density),
    }
}

#[cfg(test)]
mod tests;
