//! The G-code interpreter of the toolpath reader: modes, positions, arcs and the
//! slicers' comments, turned into layers of segments.

use crate::gcode::read::{self, Code, Words};
use crate::path::Role;

use super::{
    ARC_TOLERANCE, DEFAULT_FILAMENT_DIAMETER, Layer, ParseError, ParseOptions, Rect, Segment,
    Toolpath, Travel,
};

/// Two layers closer than this in Z are the same layer, mm.
const SAME_Z: f64 = 1e-4;
/// Extrusion smaller than this (mm of filament) is no extrusion.
const MIN_E: f64 = 1e-7;
/// Moves shorter than this in XY are not drawn, mm.
const MIN_XY: f64 = 1e-6;
/// Layer height assumed when nothing tells it, mm.
const FALLBACK_HEIGHT: f64 = 0.2;
/// Widths derived from the filament are kept within these bounds, mm.
const WIDTH_RANGE: (f64, f64) = (0.01, 10.0);
/// Most chords one arc is cut into.
const MAX_ARC_CHORDS: usize = 2048;
/// Millimetres per inch (`G20`).
const MM_PER_INCH: f64 = 25.4;
/// Seconds per minute: feedrates are written in mm/min.
const SECONDS_PER_MINUTE: f64 = 60.0;

/// The X, Y, Z, E and F of a move as written (`None`: not given).
pub(super) type Axes = [Option<f64>; 5];

/// The axes of a command's words.
fn axes(w: &Words) -> Axes {
    [b'X', b'Y', b'Z', b'E', b'F'].map(|l| w.get(l))
}

/// A layer announced by a comment, opened at its first extrusion.
#[derive(Debug, Clone, Copy, Default)]
struct PendingLayer {
    z: Option<f64>,
    height: Option<f64>,
}

/// The reader's state: the G-code's modes and position, and the layers read so far.
pub(super) struct Parser {
    opts: ParseOptions,
    layers: Vec<Layer>,
    /// Physical position (after G92 offsets), mm.
    pos: [f64; 3],
    /// G92 offsets: physical = logical + offset.
    offset: [f64; 3],
    pub(super) e: f64,
    feed: f64,
    pub(super) absolute_xyz: bool,
    pub(super) absolute_e: bool,
    pub(super) units: f64,
    role: Option<Role>,
    tool: u8,
    pub(super) width: Option<f64>,
    /// Layer comment seen, layer not opened yet.
    pending: Option<PendingLayer>,
    /// A layer comment was ever seen (layers then follow comments, not Z).
    markers: bool,
    /// The last event was an extrusion (the next one joins it).
    joined: bool,
    pending_travels: Vec<Travel>,
    filament_diameter: f64,
    /// Diameter found in a comment after extrusions were derived from another.
    stated_diameter: Option<f64>,
    any_derived: bool,
    bed_shape: Option<Rect>,
    bed_size: Option<[f32; 2]>,
    origin_center: bool,
    pub(super) code_lines: usize,
    pub(super) junk_lines: usize,
    pub(super) retractions: usize,
}

impl Parser {
    pub(super) fn new(opts: &ParseOptions) -> Self {
        Parser {
            opts: *opts,
            layers: Vec::new(),
            pos: [0.0; 3],
            offset: [0.0; 3],
            e: 0.0,
            feed: 0.0,
            absolute_xyz: true,
            absolute_e: true,
            units: 1.0,
            role: None,
            tool: 0,
            width: None,
            pending: None,
            markers: false,
            joined: false,
            pending_travels: Vec::new(),
            filament_diameter: f64::from(
                opts.filament_diameter.unwrap_or(DEFAULT_FILAMENT_DIAMETER),
            ),
            stated_diameter: None,
            any_derived: false,
            bed_shape: None,
            bed_size: None,
            origin_center: false,
            code_lines: 0,
            junk_lines: 0,
            retractions: 0,
        }
    }

    pub(super) fn line(&mut self, raw: &[u8]) {
        let line = read::lex(raw);
        if let Some(c) = line.comment {
            self.comment(read::trim(c));
        }
        let c = match line.code {
            None => return,
            Some(Code::Command(c)) if !c.ragged => c,
            Some(Code::Extended(_)) => {
                self.code_lines += 1;
                return;
            }
            Some(Code::Command(_) | Code::Junk) => {
                self.junk_lines += 1;
                return;
            }
        };
        self.code_lines += 1;
        let w = &c.words;
        match (c.letter, c.code()) {
            (b'G', Some(0 | 1)) => self.linear(&axes(w)),
            (b'G', Some(n @ (2 | 3))) => self.arc(w, n == 2),
            // Firmware retraction; with words (`G10 P0 S200`) it sets tool temperatures
            // or offsets instead.
            (b'G', Some(10)) if w.is_empty() => self.retractions += 1,
            (b'G', Some(90)) => self.absolute_xyz = true,
            (b'G', Some(91)) => self.absolute_xyz = false,
            (b'G', Some(92)) => self.set_position(w),
            (b'G', Some(20)) => self.units = MM_PER_INCH,
            (b'G', Some(21)) => self.units = 1.0,
            (b'G', Some(28)) => self.home(w),
            (b'M', Some(82)) => self.absolute_e = true,
            (b'M', Some(83)) => self.absolute_e = false,
            (b'T', Some(t)) if c.absurd_tool().is_none() => self.select_tool(t as u8),
            _ => {}
        }
    }

    fn comment(&mut self, c: &[u8]) {
        // The cheap tests first: most comments are none of these.
        match c.first() {
            Some(b'L' | b'Z' | b'H' | b'T' | b'W' | b'C' | b'F' | b'f' | b'b' | b'o') => {}
            _ => return,
        }
        if c == b"LAYER_CHANGE" || c == b"CHANGE_LAYER" {
            self.marker();
        } else if let Some(v) = c.strip_prefix(b"LAYER:") {
            // Cura: `;LAYER:12` (not `;LAYER_COUNT:`).
            if v.first().is_some_and(|b| b.is_ascii_digit() || *b == b'-') {
                self.marker();
            }
        } else if let Some(v) = c
            .strip_prefix(b"Z:")
            .or_else(|| c.strip_prefix(b"Z_HEIGHT:"))
        {
            if let Some(z) = read::first_number(v) {
                self.layer_z(z);
            }
        } else if let Some(v) = c
            .strip_prefix(b"HEIGHT:")
            .or_else(|| c.strip_prefix(b"LAYER_HEIGHT:"))
        {
            // Only a layer's own height counts: a height change within a layer
            // (a bridge) is not the layer's.
            if let Some(h) = read::first_number(v) {
                self.layer_height(h);
            }
        } else if let Some(v) = c
            .strip_prefix(b"TYPE:")
            .or_else(|| c.strip_prefix(b"FEATURE:"))
        {
            self.set_role(role_from_name(std::str::from_utf8(v).unwrap_or("")));
        } else if let Some(v) = c
            .strip_prefix(b"WIDTH:")
            .or_else(|| c.strip_prefix(b"LINE_WIDTH:"))
        {
            self.width = read::first_number(v).filter(|w| *w > 0.0);
        } else if let Some(v) = setting(c, b"filament_diameter") {
            if let Some(d) = read::first_number(v).filter(|d| *d > 0.0) {
                if self.opts.filament_diameter.is_none() {
                    if self.any_derived {
                        self.stated_diameter.get_or_insert(d);
                    } else {
                        self.filament_diameter = d;
                    }
                }
            }
        } else if let Some(v) = setting(c, b"bed_shape") {
            self.bed_shape = parse_bed_shape(v);
        } else if let Some(v) = setting(c, b"bed_size") {
            let v: Vec<f64> = read::numbers(v);
            if v.len() >= 2 && v[0] > 0.0 && v[1] > 0.0 {
                self.bed_size = Some([v[0] as f32, v[1] as f32]);
            }
        } else if let Some(v) = setting(c, b"origin") {
            self.origin_center = v.windows(6).any(|w| w.eq_ignore_ascii_case(b"center"));
        }
    }

    /// The announced layer's Z (`;Z:`).
    pub(super) fn layer_z(&mut self, z: f64) {
        if let Some(p) = self.pending.as_mut() {
            p.z = Some(z);
        }
    }

    /// The announced layer's height (`;HEIGHT:`): only a layer's own height counts, a
    /// height change within a layer (a bridge) is not the layer's.
    pub(super) fn layer_height(&mut self, h: f64) {
        if let Some(p) = self.pending.as_mut().filter(|_| h > 0.0) {
            p.height = Some(h);
        }
    }

    pub(super) fn set_role(&mut self, role: Option<Role>) {
        if role != self.role {
            self.role = role;
            self.joined = false;
        }
    }

    pub(super) fn select_tool(&mut self, tool: u8) {
        if tool != self.tool {
            self.tool = tool;
            self.joined = false;
        }
    }

    pub(super) fn marker(&mut self) {
        self.pending = Some(PendingLayer::default());
        self.joined = false;
    }

    fn home(&mut self, w: &Words) {
        let all = !(w.has(b'X') || w.has(b'Y') || w.has(b'Z'));
        for (k, l) in [b'X', b'Y', b'Z'].into_iter().enumerate() {
            if all || w.has(l) {
                self.pos[k] = 0.0;
                self.offset[k] = 0.0;
            }
        }
        self.joined = false;
    }

    fn set_position(&mut self, w: &Words) {
        for (k, l) in [b'X', b'Y', b'Z'].into_iter().enumerate() {
            if let Some(v) = w.get(l) {
                self.offset[k] = self.pos[k] - v * self.units;
            }
        }
        if let Some(e) = w.get(b'E') {
            self.e = e * self.units;
        }
        if [b'X', b'Y', b'Z', b'E'].iter().all(|&l| w.get(l).is_none()) {
            self.e = 0.0;
        }
    }

    fn target(&self, a: &Axes) -> [f64; 3] {
        let mut t = self.pos;
        for (k, v) in a.iter().take(3).enumerate() {
            if let Some(v) = *v {
                let v = v * self.units;
                t[k] = if self.absolute_xyz {
                    v + self.offset[k]
                } else {
                    self.pos[k] + v
                };
            }
        }
        t
    }

    fn e_delta(&mut self, a: &Axes) -> f64 {
        match a[3] {
            None => 0.0,
            Some(e) => {
                let e = e * self.units;
                if self.absolute_e && self.absolute_xyz {
                    let d = e - self.e;
                    self.e = e;
                    d
                } else {
                    self.e += e;
                    e
                }
            }
        }
    }

    /// `G0`/`G1` to the axes given (X, Y, Z, E, F as written).
    pub(super) fn linear(&mut self, a: &Axes) {
        if let Some(f) = a[4].filter(|f| *f > 0.0) {
            self.feed = f * self.units / SECONDS_PER_MINUTE;
        }
        let to = self.target(a);
        let de = self.e_delta(a);
        self.move_to(to, de);
    }

    fn arc(&mut self, w: &Words, clockwise: bool) {
        let a = axes(w);
        if let Some(f) = a[4].filter(|f| *f > 0.0) {
            self.feed = f * self.units / SECONDS_PER_MINUTE;
        }
        let to = self.target(&a);
        let de = self.e_delta(&a);
        let from = self.pos;
        let (dx, dy) = (to[0] - from[0], to[1] - from[1]);
        let (i, j) = (w.get(b'I'), w.get(b'J'));
        let centre = if i.is_some() || j.is_some() {
            Some((
                from[0] + i.unwrap_or(0.0) * self.units,
                from[1] + j.unwrap_or(0.0) * self.units,
            ))
        } else if let Some(r) = w.get(b'R') {
            // The centre on the chord's perpendicular bisector; a negative R takes
            // the longer arc.
            let r = r * self.units;
            let chord = dx.hypot(dy);
            if chord < MIN_XY || chord > 2.0 * r.abs() + 1e-9 {
                None
            } else {
                let h = (r * r - chord * chord / 4.0).max(0.0).sqrt();
                let (mx, my) = (from[0] + dx / 2.0, from[1] + dy / 2.0);
                let (ux, uy) = (-dy / chord, dx / chord);
                let side = if clockwise == (r > 0.0) { -1.0 } else { 1.0 };
                Some((mx + side * h * ux, my + side * h * uy))
            }
        } else {
            None
        };
        let Some((cx, cy)) = centre else {
            self.move_to(to, de);
            return;
        };
        let radius = (from[0] - cx).hypot(from[1] - cy);
        let a0 = (from[1] - cy).atan2(from[0] - cx);
        let a1 = (to[1] - cy).atan2(to[0] - cx);
        let tau = std::f64::consts::TAU;
        let mut sweep = if clockwise { a0 - a1 } else { a1 - a0 };
        sweep = sweep.rem_euclid(tau);
        if sweep < 1e-9 {
            sweep = tau; // Same start and end: a full circle.
        }
        let step = if radius > ARC_TOLERANCE {
            2.0 * (1.0 - ARC_TOLERANCE / radius).acos()
        } else {
            sweep
        };
        let n = ((sweep / step).ceil() as usize).clamp(1, MAX_ARC_CHORDS);
        let dir = if clockwise { -1.0 } else { 1.0 };
        for k in 1..=n {
            let t = k as f64 / n as f64;
            let p = if k == n {
                to
            } else {
                let a = a0 + dir * sweep * t;
                [
                    cx + radius * a.cos(),
                    cy + radius * a.sin(),
                    from[2] + (to[2] - from[2]) * t,
                ]
            };
            self.move_to(p, de / n as f64);
        }
    }

    fn move_to(&mut self, to: [f64; 3], de: f64) {
        let from = self.pos;
        self.pos = to;
        let xy = (to[0] - from[0]).hypot(to[1] - from[1]);
        if de > MIN_E && xy > MIN_XY {
            self.extrude(from, to, xy, de);
        } else {
            if de < -MIN_E {
                self.retractions += 1;
            }
            if de < -MIN_E || xy > MIN_XY || (to[2] - from[2]).abs() > SAME_Z {
                self.joined = false;
            }
            if self.opts.travels && xy > MIN_XY {
                let t = Travel {
                    x0: from[0] as f32,
                    y0: from[1] as f32,
                    x1: to[0] as f32,
                    y1: to[1] as f32,
                };
                match (&self.pending, self.layers.last_mut()) {
                    (None, Some(l)) => l.travels.push(t),
                    _ => self.pending_travels.push(t),
                }
            }
        }
    }

    /// The layer an extrusion at height `z` goes to, opened if need be.
    fn layer_for(&mut self, z: f64) -> usize {
        let open = if let Some(p) = self.pending.take() {
            if !self.markers {
                // Extrusions before the first layer comment are start G-code (a
                // prime line): they join the first layer.
                self.markers = true;
                let early: Vec<Layer> = std::mem::take(&mut self.layers);
                let z = p.z.unwrap_or(z);
                let mut l = self.new_layer(z, p.height);
                for e in early {
                    l.segments.extend(e.segments);
                    l.travels.extend(e.travels);
                }
                self.layers.push(l);
                None
            } else {
                Some((p.z.unwrap_or(z), p.height))
            }
        } else if !self.markers
            && self
                .layers
                .last()
                .is_none_or(|l| (f64::from(l.z) - z).abs() > SAME_Z)
        {
            Some((z, None))
        } else {
            None
        };
        if let Some((z, h)) = open {
            match self.layers.last_mut() {
                Some(l) if (f64::from(l.z) - z).abs() <= SAME_Z => {
                    if let Some(h) = h {
                        l.height = h as f32;
                    }
                }
                _ => {
                    let l = self.new_layer(z, h);
                    self.layers.push(l);
                }
            }
        }
        let l = self.layers.len() - 1;
        if !self.pending_travels.is_empty() {
            let t = std::mem::take(&mut self.pending_travels);
            self.layers[l].travels.extend(t);
        }
        l
    }

    fn new_layer(&self, z: f64, height: Option<f64>) -> Layer {
        let below = self.layers.last().map(|l| f64::from(l.z));
        let height = height.unwrap_or(match below {
            Some(b) if z - b > SAME_Z => z - b,
            Some(_) => FALLBACK_HEIGHT,
            None if z > SAME_Z => z,
            None => FALLBACK_HEIGHT,
        });
        Layer {
            z: z as f32,
            height: height as f32,
            segments: Vec::new(),
            travels: Vec::new(),
        }
    }

    fn extrude(&mut self, from: [f64; 3], to: [f64; 3], xy: f64, de: f64) {
        let hidden = matches!(
            self.role,
            Some(Role::Perimeter | Role::GapFill | Role::SolidInfill | Role::InternalInfill)
        );
        if self.opts.outside_only && hidden {
            self.joined = false;
            return;
        }
        let li = self.layer_for(to[2]);
        let (width, derived) = match self.width {
            Some(w) => (w, false),
            None => {
                self.any_derived = true;
                let h = f64::from(self.layers[li].height);
                (width_from_e(de, xy, self.filament_diameter, h), true)
            }
        };
        let joined = self.joined;
        self.joined = true;
        self.layers[li].segments.push(Segment {
            x0: from[0] as f32,
            y0: from[1] as f32,
            x1: to[0] as f32,
            y1: to[1] as f32,
            width: width as f32,
            feedrate: self.feed as f32,
            role: self.role,
            tool: self.tool,
            joined,
            width_from_e: derived,
        });
    }

    pub(super) fn finish(mut self) -> Result<Toolpath, ParseError> {
        self.layers.retain(|l| !l.segments.is_empty());
        if self.layers.is_empty() {
            return Err(ParseError::NoExtrusion);
        }
        if let Some(d) = self.stated_diameter {
            // Widths were derived before the file named its filament: redo them.
            let k = (d / self.filament_diameter).powi(2);
            let c = 1.0 - std::f64::consts::FRAC_PI_4;
            for l in &mut self.layers {
                let h = f64::from(l.height);
                for s in l.segments.iter_mut().filter(|s| s.width_from_e) {
                    let area = (f64::from(s.width) - h * c) * h * k;
                    s.width = (area / h + h * c).clamp(WIDTH_RANGE.0, WIDTH_RANGE.1) as f32;
                }
            }
            self.filament_diameter = d;
        }
        let bed = self.bed_shape.or_else(|| {
            self.bed_size.map(|[w, h]| {
                if self.origin_center {
                    Rect {
                        min_x: -w / 2.0,
                        min_y: -h / 2.0,
                        max_x: w / 2.0,
                        max_y: h / 2.0,
                    }
                } else {
                    Rect {
                        min_x: 0.0,
                        min_y: 0.0,
                        max_x: w,
                        max_y: h,
                    }
                }
            })
        });
        Ok(Toolpath {
            layers: self.layers,
            bed,
            filament_diameter: self.filament_diameter as f32,
            retractions: self.retractions,
        })
    }
}

/// Line width from extruded filament: the cross-section of `de` mm of filament spread
/// over `xy` mm, as a rectangle with round sides of height `h`.
fn width_from_e(de: f64, xy: f64, diameter: f64, h: f64) -> f64 {
    let area = de * std::f64::consts::PI * diameter * diameter / 4.0 / xy;
    let h = h.max(0.01);
    (area / h + h * (1.0 - std::f64::consts::FRAC_PI_4)).clamp(WIDTH_RANGE.0, WIDTH_RANGE.1)
}

/// A role for a `;TYPE:` (or `; FEATURE:`) name.
pub fn role_from_name(name: &str) -> Option<Role> {
    let name = name.trim();
    if let Some(r) = Role::from_gcode_name(name) {
        return Some(r);
    }
    let lower = name.to_ascii_lowercase();
    Some(match lower.as_str() {
        "outer wall" => Role::ExternalPerimeter,
        "inner wall" => Role::Perimeter,
        "overhang wall" => Role::OverhangPerimeter,
        "sparse infill" | "infill" => Role::InternalInfill,
        "internal solid infill" | "bottom surface" | "solid infill" => Role::SolidInfill,
        "top surface" => Role::TopSolidInfill,
        "bridge" | "internal bridge" => Role::BridgeInfill,
        "gap infill" => Role::GapFill,
        "skirt" | "brim" => Role::SkirtBrim,
        "support" | "support-infill" | "support transition" => Role::SupportMaterial,
        "support interface" | "support-roof" | "support-floor" => Role::SupportInterface,
        "prime tower" | "wipe tower" => Role::PrimeTower,
        _ => return None,
    })
}

/// `key = value` or `key: value` in a comment: the value.
fn setting<'a>(c: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let rest = c.strip_prefix(key)?;
    let rest = read::trim(rest);
    let rest = rest
        .strip_prefix(b"=")
        .or_else(|| rest.strip_prefix(b":"))?;
    Some(read::trim(rest))
}

/// `0x0,250x0,250x210,0x210` (PrusaSlicer's `bed_shape`): the bounding rectangle.
fn parse_bed_shape(v: &[u8]) -> Option<Rect> {
    let v = read::numbers(v);
    if v.len() < 6 || v.len() % 2 != 0 {
        return None;
    }
    let mut r = Rect::EMPTY;
    for p in v.chunks(2) {
        r.add(p[0] as f32, p[1] as f32);
    }
    (r.width() > 0.0 && r.height() > 0.0).then_some(r)
}
