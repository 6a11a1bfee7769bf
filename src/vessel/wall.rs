//! The wall round a lumen, layer by layer.
//!
//! A layer's wall is the part of the lumen's outward offset by T that lies outside the
//! lumen: the union, over the lumen's sections at heights `dz` from the layer
//! (`|dz| < T`), of each section grown by `sqrt(T² - dz²)`, less the lumen's own
//! section at the layer. That is the three-dimensional offset sampled in height, so a
//! sloped or horizontal vessel gets the same wall thickness along its surface normal as
//! a vertical one, and branches merge without gaps or self-intersections. Beyond each
//! [`Opening`] nothing is printed: the wall ends flush with the cut and the lumen opens.
//!
//! The lumen is sectioned once at every layer's middle and halfway between layers, and
//! every section serves all the layers within reach of it.

use nalgebra::Vector3;
use rayon::prelude::*;

use super::openings::{Opening, OpeningKind};
use crate::geom::{self, ExPolygon, FillRule, JoinType, Point, Polygon, scaled};
use crate::mesh::Mesh;
use crate::slice::{self, ChainStats, LayerSpec, SliceOptions};
use crate::timing;

/// How far past an opening's plane and rim the wall is cut away, beyond the wall
/// thickness, mm: more than the offset can reach past a plane (the thickness) plus
/// the slack of the sampling in height.
pub(crate) const CUT_MARGIN: f64 = 0.3;
/// Sides of the polygon standing for an opening's rim when the wall is cut there.
const CUT_SIDES: usize = 48;

/// One section of the lumen.
struct Sample {
    /// Height it was cut at, mm.
    z: f64,
    /// Half the height it stands for (half the distance to its neighbours), mm.
    half: f64,
    islands: Vec<ExPolygon>,
    stats: ChainStats,
}

/// Makes the wall's layers from the lumen's sections.
pub struct WallSlicer {
    samples: Vec<Sample>,
    /// The sample at each layer's middle.
    at_layer: Vec<usize>,
    specs: Vec<LayerSpec>,
    thickness: f64,
    openings: Vec<Opening>,
    min_area: f64,
    /// The largest `half` of any sample.
    widest_half: f64,
}

impl WallSlicer {
    /// Section `lumen` for the layers `specs`, for a wall `thickness` mm thick that
    /// ends at `openings`.
    pub fn new(
        lumen: &Mesh,
        specs: &[LayerSpec],
        thickness: f64,
        openings: Vec<Opening>,
        options: &SliceOptions,
    ) -> WallSlicer {
        let _busy = timing::enter(timing::Stage::Slice);
        // Each layer's middle and the height halfway to the next layer.
        let mut heights = Vec::with_capacity(2 * specs.len());
        let mut at_layer = Vec::with_capacity(specs.len());
        for (i, s) in specs.iter().enumerate() {
            at_layer.push(heights.len());
            heights.push(s.slice_z);
            if let Some(next) = specs.get(i + 1) {
                heights.push(0.5 * (s.slice_z + next.slice_z));
            }
        }
        let cuts: Vec<LayerSpec> = heights
            .iter()
            .map(|&z| LayerSpec {
                z,
                height: 0.0,
                slice_z: z,
            })
            .collect();
        let slicer = slice::Slicer::new(lumen, &cuts);
        let samples: Vec<Sample> = (0..cuts.len())
            .into_par_iter()
            .map_init(Vec::new, |segments, k| {
                let (layer, stats) = slicer.layer(k, options, segments);
                let below = if k > 0 { heights[k - 1] } else { heights[k] };
                let above = heights.get(k + 1).copied().unwrap_or(heights[k]);
                let half = if k > 0 && k + 1 < heights.len() {
                    0.25 * (above - below)
                } else {
                    0.5 * (above - below)
                };
                Sample {
                    z: heights[k],
                    half,
                    islands: layer.islands,
                    stats,
                }
            })
            .collect();
        let widest_half = samples.iter().map(|s| s.half).fold(0.0, f64::max);
        WallSlicer {
            widest_half,
            samples,
            at_layer,
            specs: specs.to_vec(),
            thickness,
            openings,
            min_area: options.min_area,
        }
    }

    /// The lumen's section at layer `i`'s middle.
    pub fn lumen(&self, i: usize) -> &[ExPolygon] {
        &self.samples[self.at_layer[i]].islands
    }

    /// Layer `i` of the wall, and what sectioning the lumen at its middle had to mend.
    pub fn layer(&self, i: usize) -> (slice::Layer, ChainStats) {
        let _busy = timing::enter(timing::Stage::Slice);
        let spec = self.specs[i];
        let k = self.at_layer[i];
        let m = spec.slice_z;
        let t = self.thickness;
        let mut rings: Vec<Polygon> = Vec::new();
        // Samples are in height order; those within reach lie within the thickness
        // and the widest half-spacing of the layer's middle.
        let from = self
            .samples
            .partition_point(|s| s.z < m - t - self.widest_half);
        for s in self.samples[from..]
            .iter()
            .take_while(|s| s.z <= m + t + self.widest_half)
        {
            let dz = (s.z - m).abs();
            if dz >= t || s.islands.is_empty() {
                continue;
            }
            let r = (t * t - dz * dz).sqrt();
            rings.extend(geom::offset_polygons(
                &s.islands,
                scaled(r) as f64,
                JoinType::Round,
            ));
        }
        let mut islands = Vec::new();
        if !rings.is_empty() {
            let grown = geom::union(&rings, FillRule::NonZero);
            let mut wall = geom::difference(&grown, &self.hollow(k));
            let cut = self.cut(m);
            if !cut.is_empty() {
                wall = geom::difference(&wall, &cut);
            }
            let min_area = self.min_area * geom::SCALE * geom::SCALE;
            wall.retain(|ex| ex.area() >= min_area);
            islands = wall;
        }
        (
            slice::Layer {
                z: spec.z,
                height: spec.height,
                slice_z: m,
                islands,
            },
            self.samples[k].stats,
        )
    }

    /// What stays hollow at sample `k`: the lumen's section, and what the sections
    /// just above and below share (a loop lost to a hole in the mesh at this height
    /// is still found in its neighbours).
    fn hollow(&self, k: usize) -> Vec<ExPolygon> {
        let own = &self.samples[k].islands;
        let (Some(below), Some(above)) = (
            k.checked_sub(1).map(|j| &self.samples[j]),
            self.samples.get(k + 1),
        ) else {
            return own.clone();
        };
        if below.islands.is_empty() || above.islands.is_empty() {
            return own.clone();
        }
        let shared = geom::intersection(&below.islands, &above.islands);
        if shared.is_empty() {
            return own.clone();
        }
        let mut all = own.clone();
        all.extend(shared);
        geom::union(&all, FillRule::NonZero)
    }

    /// Where nothing may be printed at height `z`: past each opening, as far as the
    /// wall could reach.
    fn cut(&self, z: f64) -> Vec<Polygon> {
        let reach = self.thickness + CUT_MARGIN;
        let mut out = Vec::new();
        for o in &self.openings {
            if o.kind == OpeningKind::Plane {
                if (z - o.centre[2]) * o.normal[2] > 0.0 {
                    // Past the bottom or top plane: the whole layer.
                    let far = scaled(1e5);
                    out.push(Polygon::rectangle(-far, -far, far, far));
                }
                continue;
            }
            if let Some(p) = prism_section(o, o.radius + reach, reach, z) {
                out.push(p);
            }
        }
        out
    }
}

/// The section at height `z` of the prism standing on opening `o`'s plane: a regular
/// polygon round the centre, `radius` mm out, swept `depth` mm along the normal.
fn prism_section(o: &Opening, radius: f64, depth: f64, z: f64) -> Option<Polygon> {
    let n = Vector3::from(o.normal);
    let c = Vector3::from(o.centre);
    // Quick reject: the prism's extent in z.
    let horizontal = (1.0 - n.z * n.z).max(0.0).sqrt();
    let (lo, hi) = {
        let a = c.z + n.z * depth;
        let r = radius * horizontal / (std::f64::consts::PI / CUT_SIDES as f64).cos();
        (c.z.min(a) - r - 1e-9, c.z.max(a) + r + 1e-9)
    };
    if z < lo || z > hi {
        return None;
    }
    // Two directions in the plane.
    let helper = if n.x.abs() < 0.9 {
        Vector3::x()
    } else {
        Vector3::y()
    };
    let u = n.cross(&helper).normalize();
    let v = n.cross(&u);
    // Circumscribed polygon: it covers the rim's circle.
    let r = radius / (std::f64::consts::PI / CUT_SIDES as f64).cos();
    let ring: Vec<Vector3<f64>> = (0..CUT_SIDES)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / CUT_SIDES as f64;
            c + (u * a.cos() + v * a.sin()) * r
        })
        .collect();
    let top: Vec<Vector3<f64>> = ring.iter().map(|p| p + n * depth).collect();
    let mut points: Vec<(f64, f64)> = Vec::new();
    let mut cross = |a: &Vector3<f64>, b: &Vector3<f64>| {
        let (da, db) = (a.z - z, b.z - z);
        if da == 0.0 {
            points.push((a.x, a.y));
        }
        if (da < 0.0 && db > 0.0) || (da > 0.0 && db < 0.0) {
            let t = da / (da - db);
            let p = a + (b - a) * t;
            points.push((p.x, p.y));
        }
    };
    for i in 0..CUT_SIDES {
        let j = (i + 1) % CUT_SIDES;
        cross(&ring[i], &ring[j]);
        cross(&top[i], &top[j]);
        cross(&ring[i], &top[i]);
    }
    let cloud: Vec<Point> = points
        .into_iter()
        .map(|(x, y)| Point::from_mm(x, y))
        .collect();
    let hull = crate::plan::convex_hull(&cloud);
    (hull.points.len() >= 3).then_some(hull)
}
