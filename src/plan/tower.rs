//! The prime tower of multi-tool prints.
//!
//! After a tool change the new nozzle has oozed, cooled at its tip and carries the old
//! material in its melt zone: it is purged on the tower before it touches the part.
//! The tower stands on the bed clear of the models, sized so that the largest purge a
//! layer asks for fits in one layer of it, and no narrower than a sixth of its height
//! (it must not topple). It is printed on every layer up to the last layer that changes
//! tools, so each layer of it rests on the one below: a wall loop round it on every
//! layer, a brim on the first, dense purge bands (one per tool change, sized by the
//! per-material-pair purge volume) on layers with a change, and sparse lines on layers
//! without one.

use crate::geom::{Point, Polygon, Polyline};
use crate::layer::LayerRegions;
use crate::path::{ExtrusionPath, Role};

/// How the tower is made, from the profiles.
#[derive(Debug, Clone, PartialEq)]
pub struct TowerParams {
    /// Smallest side of the (square) tower, mm.
    pub width: f64,
    /// Front-left corner chosen by the user, mm; `None`: placed automatically.
    pub position: Option<[f64; 2]>,
    /// Brim round the tower's first layer, mm.
    pub brim: f64,
    /// Material laid on layers without a tool change, mm³.
    pub min_purge: f64,
    /// Purge volume by (from, to) tool, mm³: `purge[from][to]`.
    pub purge: Vec<Vec<f64>>,
    /// Line width, mm.
    pub line_width: f64,
    /// The printable area: min and max corner, mm.
    pub bed: ([f64; 2], [f64; 2]),
    /// Gap between the tower (with its brim) and the models' footprint, mm.
    pub clearance: f64,
}

impl TowerParams {
    /// The purge volume from tool `from` to tool `to`, mm³.
    pub fn purge_volume(&self, from: usize, to: usize) -> f64 {
        self.purge
            .get(from)
            .and_then(|r| r.get(to))
            .copied()
            .unwrap_or(0.0)
    }
}

/// Where the tower stands and how high it goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Tower {
    /// Front-left corner, mm.
    pub min: [f64; 2],
    /// Side, mm.
    pub side: f64,
    /// The last layer with a tool change: the tower's top layer.
    pub last_layer: usize,
    /// Line width, mm.
    pub line_width: f64,
    /// Brim loops on the first layer.
    pub brim_loops: usize,
    /// Material on layers without a change, mm³.
    pub min_purge: f64,
}

/// Why no tower could be placed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TowerError {
    /// The bed has no free spot big enough.
    #[error(
        "no room on the bed for a {side:.0} mm prime tower beside the models; set prime_tower_x and prime_tower_y, use fewer or smaller models, or turn the tower off (--set prime_tower=false)"
    )]
    NoRoom {
        /// The tower's side, mm.
        side: f64,
    },
    /// The user's position is off the bed or on a model.
    #[error(
        "the prime tower at X {x:.1}, Y {y:.1} ({side:.0} mm square) {problem}; choose another prime_tower_x / prime_tower_y"
    )]
    BadPosition {
        /// Corner X, mm.
        x: f64,
        /// Corner Y, mm.
        y: f64,
        /// Side, mm.
        side: f64,
        /// What is wrong.
        problem: &'static str,
    },
}

/// The tools of a layer in print order: the active tool first (so a layer starts with
/// the tool the layer below ended with: the fewest changes), then the others by number.
/// A layer with nothing to print but adhesion keeps the active tool.
pub fn layer_tools(layer: &LayerRegions, active: usize, adhesion: bool) -> Vec<usize> {
    let mut tools: Vec<usize> = layer
        .islands
        .iter()
        .map(|i| i.tool)
        .chain(layer.support.iter().map(|(t, _)| *t))
        .collect();
    tools.sort_unstable();
    tools.dedup();
    if let Some(k) = tools.iter().position(|&t| t == active) {
        tools[..=k].rotate_right(1);
    }
    if tools.is_empty() && adhesion {
        tools.push(active);
    }
    tools
}

/// The tool changes of every layer, as (from, to) pairs, starting with tool 0 active.
pub fn tool_changes(layers: &[LayerRegions], adhesion_layers: usize) -> Vec<Vec<(usize, usize)>> {
    let mut active = 0;
    layers
        .iter()
        .map(|l| {
            let mut changes = Vec::new();
            for t in layer_tools(l, active, l.index < adhesion_layers) {
                if t != active {
                    changes.push((active, t));
                    active = t;
                }
            }
            changes
        })
        .collect()
}

/// Decide the tower for these layers: `None` when no layer changes tools.
pub fn place_tower(
    layers: &[LayerRegions],
    changes: &[Vec<(usize, usize)>],
    params: &TowerParams,
) -> Result<Option<Tower>, TowerError> {
    let Some(last_layer) = changes.iter().rposition(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let w = params.line_width;
    // The largest purge one layer needs, as an area at that layer's height.
    let mut area: f64 = 0.0;
    for (l, c) in layers.iter().zip(changes) {
        let volume: f64 = c
            .iter()
            .map(|&(f, t)| params.purge_volume(f, t))
            .sum::<f64>()
            .max(params.min_purge);
        area = area.max(volume / l.height.max(0.01));
    }
    let top = layers.get(last_layer).map_or(0.0, |l| l.z);
    let side = (area.sqrt() + 3.0 * w)
        .max(params.width)
        .max(top / 6.0)
        .max(4.0 * w);
    let brim_loops = (params.brim / w).round() as usize;
    let margin = brim_loops as f64 * w;
    let (bed_min, bed_max) = params.bed;
    let fits_bed = |x: f64, y: f64| {
        x - margin >= bed_min[0]
            && y - margin >= bed_min[1]
            && x + side + margin <= bed_max[0]
            && y + side + margin <= bed_max[1]
    };
    let footprint = footprint(layers);
    let clear_of_models = |x: f64, y: f64| match footprint {
        None => true,
        Some((lo, hi)) => {
            let c = params.clearance + margin;
            x + side + c <= lo[0] || x - c >= hi[0] || y + side + c <= lo[1] || y - c >= hi[1]
        }
    };
    let tower = |min: [f64; 2]| Tower {
        min,
        side,
        last_layer,
        line_width: w,
        brim_loops,
        min_purge: params.min_purge,
    };
    if let Some([x, y]) = params.position {
        let problem = if !fits_bed(x, y) {
            Some("is off the bed")
        } else if !clear_of_models(x, y) {
            Some("stands on or too close to a model")
        } else {
            None
        };
        return match problem {
            Some(problem) => Err(TowerError::BadPosition {
                x,
                y,
                side,
                problem,
            }),
            None => Ok(Some(tower([x, y]))),
        };
    }
    let Some((lo, hi)) = footprint else {
        let c = [
            (bed_min[0] + bed_max[0]) / 2.0,
            (bed_min[1] + bed_max[1]) / 2.0,
        ];
        return Ok(Some(tower([c[0] - side / 2.0, c[1] - side / 2.0])));
    };
    let gap = params.clearance + margin;
    let mid_y = ((lo[1] + hi[1]) / 2.0 - side / 2.0).clamp(bed_min[1] + margin, bed_max[1]);
    let mid_x = ((lo[0] + hi[0]) / 2.0 - side / 2.0).clamp(bed_min[0] + margin, bed_max[0]);
    let candidates = [
        [hi[0] + gap, mid_y],
        [lo[0] - gap - side, mid_y],
        [mid_x, hi[1] + gap],
        [mid_x, lo[1] - gap - side],
        [hi[0] + gap, lo[1]],
        [hi[0] + gap, hi[1] - side],
        [lo[0] - gap - side, lo[1]],
        [lo[0] - gap - side, hi[1] - side],
        [hi[0] + gap, hi[1] + gap],
        [lo[0] - gap - side, lo[1] - gap - side],
    ];
    candidates
        .into_iter()
        .find(|&[x, y]| fits_bed(x, y) && clear_of_models(x, y))
        .map(|m| Some(tower(m)))
        .ok_or(TowerError::NoRoom { side })
}

/// The box round everything printed on any layer (islands and support), mm.
fn footprint(layers: &[LayerRegions]) -> Option<([f64; 2], [f64; 2])> {
    let mut lo = [f64::INFINITY; 2];
    let mut hi = [f64::NEG_INFINITY; 2];
    let mut add = |p: &Point| {
        let (x, y) = p.to_mm();
        lo = [lo[0].min(x), lo[1].min(y)];
        hi = [hi[0].max(x), hi[1].max(y)];
    };
    for l in layers {
        for isl in &l.islands {
            isl.boundary.contour.points.iter().for_each(&mut add);
        }
        for (_, p) in &l.support {
            p.points.iter().for_each(&mut add);
        }
    }
    (lo[0] <= hi[0]).then_some((lo, hi))
}

impl Tower {
    /// The wall loop (and on the first layer the brim, outermost last so the loops
    /// are printed inward-out... outward from the wall), printed by the layer's first
    /// tool.
    pub fn walls(&self, first_layer: bool, height: f64) -> Vec<ExtrusionPath> {
        let w = self.line_width;
        let mut out = Vec::new();
        out.push(ExtrusionPath::from_loop(
            Role::PrimeTower,
            self.square(w / 2.0),
            w,
            height,
        ));
        if first_layer {
            for k in 1..=self.brim_loops {
                out.push(ExtrusionPath::from_loop(
                    Role::PrimeTower,
                    self.square(w / 2.0 - k as f64 * w),
                    w,
                    height,
                ));
            }
        }
        out
    }

    /// The inside of a layer without tool changes: sparse lines laying `min_purge`
    /// (dense on the first layer, to hold to the bed).
    pub fn sparse(&self, first_layer: bool, height: f64) -> Vec<ExtrusionPath> {
        let (x0, x1, y0, y1) = self.interior();
        let w = self.line_width;
        let spacing = if first_layer {
            w
        } else {
            let lines = self.min_purge / ((x1 - x0) * w * height);
            ((y1 - y0) / lines.max(1.0)).clamp(w, SPARSE_MAX_SPACING)
        };
        zigzag(x0, x1, y0, y1, spacing, w, height)
            .into_iter()
            .collect()
    }

    /// The purge bands of a layer's tool changes, one per change in order, each laying
    /// (at least) that change's purge volume. On the first layer every band is dense.
    pub fn purges(
        &self,
        volumes: &[f64],
        first_layer: bool,
        height: f64,
    ) -> Vec<Option<ExtrusionPath>> {
        let (x0, x1, y0, y1) = self.interior();
        let w = self.line_width;
        let total: f64 = volumes.iter().map(|v| v.max(1.0)).sum();
        let mut y = y0;
        volumes
            .iter()
            .map(|v| {
                let share = (y1 - y0) * v.max(1.0) / total;
                let (a, b) = (y, y + share);
                y = b;
                let spacing = if first_layer {
                    w
                } else {
                    let lines = v / ((x1 - x0) * w * height);
                    ((b - a) / lines.max(1.0)).clamp(w, SPARSE_MAX_SPACING)
                };
                zigzag(x0, x1, a, b, spacing, w, height)
            })
            .collect()
    }

    /// The area inside the wall, where lines are centred: x0, x1, y0, y1 in mm.
    fn interior(&self) -> (f64, f64, f64, f64) {
        let w = self.line_width;
        let [x, y] = self.min;
        (
            x + 1.5 * w,
            x + self.side - 1.5 * w,
            y + 1.5 * w,
            y + self.side - 1.5 * w,
        )
    }

    /// The square inset by `inset` mm (negative: outset).
    fn square(&self, inset: f64) -> Polygon {
        let [x, y] = self.min;
        let (a, b) = (x + inset, x + self.side - inset);
        let (c, d) = (y + inset, y + self.side - inset);
        Polygon::new(vec![
            Point::from_mm(a, c),
            Point::from_mm(b, c),
            Point::from_mm(b, d),
            Point::from_mm(a, d),
        ])
    }

    /// Whether a point (mm) is on the tower or its brim.
    pub fn contains(&self, x: f64, y: f64) -> bool {
        let m = self.brim_loops as f64 * self.line_width;
        x >= self.min[0] - m
            && x <= self.min[0] + self.side + m
            && y >= self.min[1] - m
            && y <= self.min[1] + self.side + m
    }
}

/// Widest gap between sparse tower lines, mm: the dense bands above bridge it.
const SPARSE_MAX_SPACING: f64 = 3.0;

/// One connected zig-zag of lines along X between y0 and y1 (inclusive), `spacing` apart.
fn zigzag(
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
    spacing: f64,
    width: f64,
    height: f64,
) -> Option<ExtrusionPath> {
    if y1 < y0 || x1 <= x0 || spacing <= 0.0 {
        return None;
    }
    let n = ((y1 - y0) / spacing).floor() as usize + 1;
    let mut points = Vec::with_capacity(2 * n);
    for k in 0..n {
        let y = y0 + k as f64 * spacing;
        let (a, b) = if k % 2 == 0 { (x0, x1) } else { (x1, x0) };
        points.push(Point::from_mm(a, y));
        points.push(Point::from_mm(b, y));
    }
    Some(ExtrusionPath::open(
        Role::PrimeTower,
        Polyline::new(points),
        width,
        height,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geom::ExPolygon;
    use crate::layer::IslandPaths;

    fn layer(index: usize, tools: &[usize]) -> LayerRegions {
        let square = Polygon::new(vec![
            Point::from_mm(100.0, 100.0),
            Point::from_mm(120.0, 100.0),
            Point::from_mm(120.0, 120.0),
            Point::from_mm(100.0, 120.0),
        ]);
        LayerRegions {
            index,
            z: 0.2 * (index + 1) as f64,
            height: 0.2,
            islands: tools
                .iter()
                .map(|&tool| IslandPaths {
                    boundary: ExPolygon::new(square.clone()),
                    tool,
                    ..IslandPaths::default()
                })
                .collect(),
            support: Vec::new(),
            support_areas: Vec::new(),
        }
    }

    fn params() -> TowerParams {
        TowerParams {
            width: 15.0,
            position: None,
            brim: 2.0,
            min_purge: 15.0,
            purge: vec![vec![0.0, 100.0], vec![150.0, 0.0]],
            line_width: 0.5,
            bed: ([0.0, 0.0], [220.0, 220.0]),
            clearance: 5.0,
        }
    }

    #[test]
    fn layers_alternate_their_first_tool() {
        let layers: Vec<LayerRegions> = (0..4).map(|i| layer(i, &[0, 1])).collect();
        let changes = tool_changes(&layers, 1);
        // One change per layer: the tool a layer ends with starts the next.
        assert_eq!(
            changes,
            [vec![(0, 1)], vec![(1, 0)], vec![(0, 1)], vec![(1, 0)]]
        );
    }

    #[test]
    fn tower_is_sized_for_the_largest_purge_and_clear_of_the_model() {
        let mut layers: Vec<LayerRegions> = (0..5).map(|i| layer(i, &[0, 1])).collect();
        layers.extend((5..10).map(|i| layer(i, &[0])));
        let changes = tool_changes(&layers, 1);
        let t = place_tower(&layers, &changes, &params())
            .expect("room")
            .expect("a tower");
        // Layer 4 ends with tool 1, so layer 5 changes back to tool 0.
        assert_eq!(t.last_layer, 5);
        // 150 mm³ at 0.2 mm: 750 mm² inside the walls.
        let inside = t.side - 3.0 * 0.5;
        assert!(inside * inside >= 750.0 - 1e-6, "{}", t.side);
        assert!(t.min[0] >= 120.0 + 5.0 + 2.0 || t.min[0] + t.side <= 100.0 - 7.0);
        // The purge band lays at least the purge volume.
        let bands = t.purges(&[150.0], false, 0.2);
        let band = bands[0].as_ref().expect("a band");
        let length: f64 = band
            .points
            .windows(2)
            .map(|s| s[0].distance(s[1]) / crate::geom::SCALE)
            .sum();
        assert!(length * 0.5 * 0.2 >= 150.0 * 0.95, "{length}");
    }

    #[test]
    fn no_change_no_tower_and_no_room_is_an_error() {
        let layers: Vec<LayerRegions> = (0..3).map(|i| layer(i, &[0])).collect();
        let changes = tool_changes(&layers, 1);
        assert_eq!(place_tower(&layers, &changes, &params()), Ok(None));
        let layers: Vec<LayerRegions> = (0..3).map(|i| layer(i, &[0, 1])).collect();
        let changes = tool_changes(&layers, 1);
        let mut p = params();
        p.bed = ([95.0, 95.0], [125.0, 125.0]);
        assert!(matches!(
            place_tower(&layers, &changes, &p),
            Err(TowerError::NoRoom { .. })
        ));
        p.bed = ([0.0, 0.0], [220.0, 220.0]);
        p.position = Some([105.0, 105.0]);
        assert!(matches!(
            place_tower(&layers, &changes, &p),
            Err(TowerError::BadPosition { .. })
        ));
    }
}
