//! Prime lines for multi-tool prints without a prime tower: each tool the start G-code
//! did not prime lays a line of its own along the bed's front edge on the first layer,
//! before its first extrusion on the part or its support, so a nozzle that sat idle
//! (and oozed, or went cold at standby) starts the part with a full melt zone. The
//! lines lie one beside the other, apart, in front of the start G-code's own line.

use crate::geom::{Point, Polygon, Polyline, SCALE};
use crate::layer::LayerRegions;
use crate::mesh::place::Bed;
use crate::path::{ExtrusionPath, Role};

use super::hull::convex_hull;
use super::skirt::Adhesion;
use super::tower::Tower;

/// Where the prime lines go.
#[derive(Debug, Clone, PartialEq)]
pub struct PrimeLines {
    /// Start of tool 0's line (tool `t`'s is `t` pitches beside it), mm.
    pub start: [f64; 2],
    /// Length of each line, mm.
    pub length: f64,
    /// Distance between the lines of neighbouring tools, mm: positive towards the back
    /// (lines along the front edge), negative towards the front (along the back edge).
    pub pitch: f64,
    /// Line width, mm.
    pub width: f64,
}

/// Length of a tool's prime line, mm: half the start G-code's usual line, some 5 mm³
/// of melt at 0.2 mm layers, about what an idle nozzle loses to ooze.
pub const PRIME_LENGTH: f64 = 60.0;

/// Distance of the first line from the bed's front edge, mm.
pub const PRIME_EDGE: f64 = 1.0;

/// Distance between two tools' lines, mm: wider than a squashed first-layer bead, so
/// they stay apart.
pub const PRIME_PITCH: f64 = 1.5;

/// Distance of the lines' start from the bed's left edge beyond the largest tool
/// offset, mm: every nozzle of a shared carriage stays over the bed.
pub const PRIME_MARGIN: f64 = 10.0;

impl PrimeLines {
    /// The lines for a bed whose front-left corner is `bed_min`, for tools whose
    /// largest X offset from tool 0 is `max_offset_x`.
    pub fn for_bed(bed_min: [f64; 2], max_offset_x: f64, width: f64) -> PrimeLines {
        PrimeLines {
            start: [
                bed_min[0] + max_offset_x.max(0.0) + PRIME_MARGIN,
                bed_min[1] + PRIME_EDGE,
            ],
            length: PRIME_LENGTH,
            pitch: PRIME_PITCH,
            width,
        }
    }

    /// The lines clear of `keep` for `tools` tools on `bed`: where [`PrimeLines::for_bed`]
    /// put them when that is clear, else at the first clear stretch of the front edge
    /// long enough, else the longest one (no shorter than [`MIN_PRIME_LENGTH`]), else
    /// the same along the back edge. The lines keep as far from the bed's right edge as
    /// they start from its left, so every nozzle of a shared carriage stays over the
    /// bed.
    pub fn placed(
        &self,
        bed: &Bed,
        tools: usize,
        keep: &Keepout,
    ) -> Result<PrimeLines, PrimeError> {
        let left = self.start[0];
        let right = bed.max[0] - (self.start[0] - bed.min[0]);
        let back = bed.max[1] - (self.start[1] - bed.min[1]);
        let reach = self.width / 2.0 + PRIME_CLEARANCE;
        let probes = ((right - left) / PROBE_STEP).floor().max(0.0) as usize;
        for (y0, pitch) in [(self.start[1], self.pitch), (back, -self.pitch)] {
            let free: Vec<bool> = (0..=probes)
                .map(|i| {
                    let x = left + i as f64 * PROBE_STEP;
                    (0..tools.max(1)).all(|t| !keep.blocks([x, y0 + pitch * t as f64], reach))
                })
                .collect();
            // Runs of clear probes: (first probe, length in mm).
            let mut runs: Vec<(usize, f64)> = Vec::new();
            let mut i = 0;
            while i < free.len() {
                if !free[i] {
                    i += 1;
                    continue;
                }
                let j = (i..free.len()).find(|&k| !free[k]).unwrap_or(free.len());
                runs.push((i, (j - i - 1) as f64 * PROBE_STEP));
                i = j;
            }
            let full = runs.iter().find(|r| r.1 >= self.length);
            let longest = runs.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1));
            let chosen = full
                .map(|r| (r.0, self.length))
                .or(longest.filter(|r| r.1 >= MIN_PRIME_LENGTH));
            if let Some((first, length)) = chosen {
                return Ok(PrimeLines {
                    start: [left + first as f64 * PROBE_STEP, y0],
                    length,
                    pitch,
                    width: self.width,
                });
            }
        }
        Err(PrimeError::NoRoom)
    }

    /// Tool `tool`'s prime line at layer height `height`: a straight run along X.
    pub fn path(&self, tool: usize, height: f64) -> ExtrusionPath {
        let y = self.start[1] + self.pitch * tool as f64;
        let line = Polyline::new(vec![
            Point::from_mm(self.start[0], y),
            Point::from_mm(self.start[0] + self.length, y),
        ]);
        ExtrusionPath::open(Role::SkirtBrim, line, self.width, height)
    }
}

/// Room kept between a prime line's bead and anything on the first layer, mm: the
/// nozzle drags ooze a little past the line's end, and a skirt or brim pulled off the
/// bed by a prime line lifts the part with it.
pub const PRIME_CLEARANCE: f64 = 2.0;

/// Shortest prime line worth laying, mm: a third of [`PRIME_LENGTH`] still lays about
/// 1.5 mm³, enough to fill the melt zone of a nozzle that waited at its idle
/// temperature.
pub const MIN_PRIME_LENGTH: f64 = 20.0;

/// Spacing of the probes along a candidate row, mm.
const PROBE_STEP: f64 = 0.5;

/// What the prime lines must keep clear of on the first layer: the convex hull of the
/// models' first layer, their support, brim and skirt and the prime tower, and lines
/// already laid (the start G-code's own).
#[derive(Debug, Clone, Default)]
pub struct Keepout {
    hull: Option<Polygon>,
    lines: Vec<([f64; 2], [f64; 2], f64)>,
}

impl Keepout {
    /// The keep-out of the first layer `first`, its skirt and brim, and the tower.
    pub fn new(first: &LayerRegions, adhesion: &Adhesion, tower: Option<&Tower>) -> Keepout {
        let mut points: Vec<Point> = Vec::new();
        for isl in &first.islands {
            points.extend_from_slice(&isl.boundary.contour.points);
        }
        for (_, p) in &first.support {
            points.extend_from_slice(&p.points);
        }
        for p in adhesion.brim.iter().flatten() {
            points.extend_from_slice(&p.points);
        }
        for ring in &adhesion.skirt {
            points.extend_from_slice(&ring.points);
        }
        if let Some(t) = tower {
            let grow = t.brim_loops as f64 * t.line_width;
            let (x0, y0) = (t.min[0] - grow, t.min[1] - grow);
            let (x1, y1) = (t.min[0] + t.side + grow, t.min[1] + t.side + grow);
            points.extend(
                [(x0, y0), (x1, y0), (x1, y1), (x0, y1)].map(|(x, y)| Point::from_mm(x, y)),
            );
        }
        let hull = convex_hull(&points);
        Keepout {
            hull: (!hull.points.is_empty()).then_some(hull),
            lines: Vec::new(),
        }
    }

    /// Also keep clear of a bead `width` wide from `a` to `b`.
    pub fn add_line(&mut self, a: [f64; 2], b: [f64; 2], width: f64) {
        self.lines.push((a, b, width));
    }

    /// Whether a bead `width` wide from `a` to `b` comes within [`PRIME_CLEARANCE`] of
    /// anything kept out.
    pub fn crosses(&self, a: [f64; 2], b: [f64; 2], width: f64) -> bool {
        let len = (b[0] - a[0]).hypot(b[1] - a[1]);
        let n = (len / (PROBE_STEP / 2.0)).ceil().max(1.0) as usize;
        (0..=n).any(|i| {
            let t = i as f64 / n as f64;
            let p = [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])];
            self.blocks(p, width / 2.0 + PRIME_CLEARANCE)
        })
    }

    /// Whether `p` lies within `r` of anything kept out (lines by their half width).
    fn blocks(&self, p: [f64; 2], r: f64) -> bool {
        let q = Point::from_mm(p[0], p[1]);
        if let Some(hull) = &self.hull {
            let reach = (r * SCALE).powi(2);
            if (hull.points.len() >= 3 && hull.contains(q)) || hull.distance_squared_to(q) <= reach
            {
                return true;
            }
        }
        self.lines.iter().any(|(a, b, w)| {
            let d2 = q.distance_to_segment_squared(
                Point::from_mm(a[0], a[1]),
                Point::from_mm(b[0], b[1]),
            );
            d2.sqrt() / SCALE <= r + w / 2.0
        })
    }
}

/// No place on the bed for a prime line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PrimeError {
    /// The start G-code's prime line crosses the first layer, mirrored or not.
    #[error(
        "the start G-code's prime line ({from} to {to}) crosses the models' first layer, brim or skirt, and moved to any edge of the bed it would not keep {PRIME_CLEARANCE} mm clear: place the models away from the bed's edges (fewer or smaller models), or move the prime line in the printer's start_gcode"
    )]
    StartGcode {
        /// Where the line starts, as `X.. Y..`.
        from: String,
        /// Where it ends.
        to: String,
    },
    /// No edge of the bed has room for the tools' prime lines.
    #[error(
        "no room for the tools' prime lines: the models' first layer, brim or skirt comes within {PRIME_CLEARANCE} mm of a {MIN_PRIME_LENGTH} mm line along both the front and the back edge of the bed; use a prime tower (--set prime_tower=true) or place the models away from the edges"
    )]
    NoRoom,
}

/// The extrusions of a piece of G-code (the start G-code): `(from, to, width)` in mm.
fn extrusions(gcode: &str) -> Vec<([f64; 2], [f64; 2], f64)> {
    let opts = crate::preview::toolpath::ParseOptions::default();
    let Ok(tp) = crate::preview::toolpath::parse_bytes(gcode.as_bytes(), &opts) else {
        return Vec::new();
    };
    tp.layers
        .iter()
        .flat_map(|l| &l.segments)
        .map(|s| {
            (
                [f64::from(s.x0), f64::from(s.y0)],
                [f64::from(s.x1), f64::from(s.y1)],
                f64::from(s.width),
            )
        })
        .collect()
}

/// How the start G-code's moves are carried elsewhere on the bed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Carry {
    /// X and Y exchanged (measured from the bed's front-left corner): a line along the
    /// front edge runs along the left edge instead.
    swap: bool,
    /// Then X mirrored across the bed's middle (from the right edge instead).
    mirror_x: bool,
    /// Then Y mirrored (from the back edge).
    mirror_y: bool,
}

impl Carry {
    /// The ways tried, nearest to the profile's first: the opposite edge, the
    /// opposite corner, then along the sides.
    const ALL: [Carry; 7] = [
        Carry::new(false, true, false),
        Carry::new(false, false, true),
        Carry::new(false, true, true),
        Carry::new(true, false, false),
        Carry::new(true, true, false),
        Carry::new(true, false, true),
        Carry::new(true, true, true),
    ];

    const fn new(swap: bool, mirror_x: bool, mirror_y: bool) -> Carry {
        Carry {
            swap,
            mirror_x,
            mirror_y,
        }
    }

    /// In words, for the report.
    fn describe(self) -> &'static str {
        match (self.swap, self.mirror_x, self.mirror_y) {
            (false, true, false) => "mirrored to the other side in X",
            (false, false, true) => "mirrored to the other side in Y",
            (false, _, _) => "mirrored to the opposite corner",
            (true, false, false) => "turned to run along the other axis",
            _ => "turned to run along the other axis and mirrored",
        }
    }

    /// `gcode` with its X and Y moves carried this way; `None` when it moves in a way
    /// that cannot be followed (arcs, a set position).
    fn apply(self, gcode: &str, bed: &Bed) -> Option<String> {
        let sum = [bed.min[0] + bed.max[0], bed.min[1] + bed.max[1]];
        let mut relative = false;
        let mut out = String::with_capacity(gcode.len());
        for line in gcode.lines() {
            let (code, comment) = match line.find(';') {
                Some(i) => (&line[..i], &line[i..]),
                None => (line, ""),
            };
            let words: Vec<&str> = code.split_whitespace().collect();
            let command = words.first().map(|w| w.to_ascii_uppercase());
            match command.as_deref() {
                Some("G90") => relative = false,
                Some("G91") => relative = true,
                Some("G2" | "G3" | "G02" | "G03") => return None,
                Some("G92")
                    if words[1..]
                        .iter()
                        .any(|w| w.starts_with(['X', 'Y', 'x', 'y'])) =>
                {
                    return None;
                }
                _ => {}
            }
            if !matches!(command.as_deref(), Some("G0" | "G1" | "G00" | "G01")) {
                out.push_str(line);
                out.push('\n');
                continue;
            }
            let mut rewritten: Vec<String> = Vec::with_capacity(words.len());
            for w in &words {
                let from = match w.chars().next().map(|c| c.to_ascii_uppercase()) {
                    Some('X') => 0,
                    Some('Y') => 1,
                    _ => {
                        rewritten.push((*w).to_string());
                        continue;
                    }
                };
                let v: f64 = w[1..].parse().ok()?;
                let (to, mut v) = if self.swap {
                    let to = 1 - from;
                    let v = if relative {
                        v
                    } else {
                        bed.min[to] + v - bed.min[from]
                    };
                    (to, v)
                } else {
                    (from, v)
                };
                if [self.mirror_x, self.mirror_y][to] {
                    v = if relative { -v } else { sum[to] - v };
                }
                rewritten.push(format!("{}{}", ["X", "Y"][to], trim(v)));
            }
            out.push_str(&rewritten.join(" "));
            if !comment.is_empty() {
                out.push(' ');
                out.push_str(comment);
            }
            out.push('\n');
        }
        if !gcode.ends_with('\n') {
            out.pop();
        }
        Some(out)
    }
}

/// A coordinate written back into G-code: three decimals, no trailing zeros.
fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// A start G-code whose prime line lamina moved.
#[derive(Debug, Clone, PartialEq)]
pub struct MovedStart {
    /// The start G-code with its moves mirrored.
    pub gcode: String,
    /// What was done, for the report's warnings.
    pub note: String,
}

/// The start G-code with its prime line clear of `keep`: as written when it is clear,
/// else mirrored across the bed (to the opposite edge: X, then Y, then both), else
/// turned to run along the other axis (and mirrored), whichever first keeps clear and
/// on the bed. The
/// extrusions it lays (moved or not) are added to `keep`, so the tools' own prime lines
/// stay off them.
pub fn clear_start(
    gcode: &str,
    bed: &Bed,
    keep: &mut Keepout,
) -> Result<Option<MovedStart>, PrimeError> {
    let lines = extrusions(gcode);
    let clear = |lines: &[([f64; 2], [f64; 2], f64)]| {
        lines.iter().all(|(a, b, w)| !keep.crosses(*a, *b, *w))
    };
    if clear(&lines) {
        keep.lines.extend(lines);
        return Ok(None);
    }
    let on_bed = |p: [f64; 2]| {
        (bed.min[0] - 1e-6..=bed.max[0] + 1e-6).contains(&p[0])
            && (bed.min[1] - 1e-6..=bed.max[1] + 1e-6).contains(&p[1])
    };
    for carry in Carry::ALL {
        let Some(moved) = carry.apply(gcode, bed) else {
            break;
        };
        let lines = extrusions(&moved);
        if lines.iter().all(|(a, b, _)| on_bed(*a) && on_bed(*b)) && clear(&lines) {
            keep.lines.extend(lines);
            return Ok(Some(MovedStart {
                gcode: moved,
                note: format!(
                    "the start G-code's prime line crossed the models' first layer, brim or skirt; it was {} on the bed",
                    carry.describe()
                ),
            }));
        }
    }
    let (a, b) = (lines[0].0, lines[lines.len() - 1].1);
    let at = |p: [f64; 2]| format!("X{} Y{}", trim(p[0]), trim(p[1]));
    Err(PrimeError::StartGcode {
        from: at(a),
        to: at(b),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BED: Bed = Bed {
        min: [0.0, 0.0],
        max: [230.0, 150.0],
        max_height: 150.0,
    };

    /// A keep-out of the box `min`-`max`, mm.
    fn boxed(min: [f64; 2], max: [f64; 2]) -> Keepout {
        let ring = [
            (min[0], min[1]),
            (max[0], min[1]),
            (max[0], max[1]),
            (min[0], max[1]),
        ];
        Keepout {
            hull: Some(Polygon::new(
                ring.map(|(x, y)| Point::from_mm(x, y)).to_vec(),
            )),
            lines: Vec::new(),
        }
    }

    #[test]
    fn a_start_gcode_is_mirrored_move_by_move() {
        let g = "G28 X0 Y0\nG1 X5 Y5 F6000 ; start\nG91\nG1 X10 E1\nG90\nG1 X120 E12";
        assert_eq!(
            Carry::new(false, false, true).apply(g, &BED).unwrap(),
            "G28 X0 Y0\nG1 X5 Y145 F6000 ; start\nG91\nG1 X10 E1\nG90\nG1 X120 E12"
        );
        assert_eq!(
            Carry::new(false, true, false).apply(g, &BED).unwrap(),
            "G28 X0 Y0\nG1 X225 Y5 F6000 ; start\nG91\nG1 X-10 E1\nG90\nG1 X110 E12"
        );
        // Arcs and a set position are not followed.
        let x = Carry::new(false, true, false);
        assert_eq!(x.apply("G2 X5 Y5 I1 J0", &BED), None);
        assert_eq!(x.apply("G92 X0", &BED), None);
        // Turned: the line along the front runs along the left edge.
        assert_eq!(
            Carry::new(true, false, false)
                .apply("G1 X5 Y5\nG91\nG1 X10 E1", &BED)
                .unwrap(),
            "G1 Y5 X5\nG91\nG1 Y10 E1"
        );
    }

    #[test]
    fn a_start_prime_crossing_the_part_goes_to_the_other_side() {
        let g = "G1 X5 Y5 Z0.3\nG1 X120 E12";
        // Clear: left as written.
        let mut far = boxed([50.0, 50.0], [100.0, 100.0]);
        assert_eq!(clear_start(g, &BED, &mut far), Ok(None));
        // A part along the front: mirrored to the back.
        let mut front = boxed([10.0, 4.0], [200.0, 60.0]);
        let moved = clear_start(g, &BED, &mut front).unwrap().unwrap();
        assert!(moved.gcode.contains("Y145"), "{}", moved.gcode);
        // The moved line is kept out too.
        assert!(front.crosses([50.0, 145.0], [60.0, 145.0], 0.45));
        // Front and back: along a side.
        let mut deep = boxed([10.0, 4.0], [200.0, 146.0]);
        let turned = clear_start(g, &BED, &mut deep).unwrap().unwrap();
        assert!(turned.gcode.contains("G1 Y120 E12"), "{}", turned.gcode);
        // Everywhere: no room.
        let mut across = boxed([4.0, 4.0], [226.0, 146.0]);
        assert!(matches!(
            clear_start(g, &BED, &mut across),
            Err(PrimeError::StartGcode { .. })
        ));
    }

    #[test]
    fn tool_lines_take_the_room_there_is() {
        let usual = PrimeLines::for_bed(BED.min, 18.0, 0.45);
        // Nothing near: where they always go.
        assert_eq!(
            usual.placed(&BED, 2, &boxed([50.0, 50.0], [100.0, 100.0])),
            Ok(usual.clone())
        );
        // A part at the front left: further right along the front edge.
        let left = usual
            .placed(&BED, 2, &boxed([0.0, 0.0], [60.0, 60.0]))
            .unwrap();
        assert!(
            left.start[0] >= 62.0 && left.start[1] == usual.start[1],
            "{left:?}"
        );
        assert_eq!(left.length, PRIME_LENGTH);
        // Across the whole front: along the back edge, towards the front.
        let back = usual
            .placed(&BED, 2, &boxed([0.0, 0.0], [230.0, 60.0]))
            .unwrap();
        assert!(back.start[1] > 140.0 && back.pitch < 0.0, "{back:?}");
        // Room for a short line only.
        let short = usual
            .placed(&BED, 2, &boxed([60.0, 0.0], [230.0, 146.0]))
            .unwrap();
        assert!(
            (MIN_PRIME_LENGTH..PRIME_LENGTH).contains(&short.length),
            "{short:?}"
        );
        // No room.
        assert_eq!(
            usual.placed(&BED, 2, &boxed([40.0, 0.0], [230.0, 150.0])),
            Err(PrimeError::NoRoom)
        );
    }
}
