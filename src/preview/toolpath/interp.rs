//! The G-code interpreter of the toolpath reader: modes, positions, arcs and the
//! slicers' comments, turned into layers of segments.

use crate::gcode::read::modal::{self, Axes, Modal, Move, Step};
use crate::gcode::read::{self, Code};
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
    /// Modes, offsets, position and feedrate (lamina's one motion interpreter).
    pub(super) modal: Modal,
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
            modal: Modal::new(),
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

    /// Follow one line. A corrupt line ([`read::check`]) is not followed and says why.
    pub(super) fn line(&mut self, raw: &[u8]) -> Result<(), read::Corrupt> {
        let line = read::lex(raw);
        if let Some(c) = line.comment {
            self.comment(read::trim(c));
        }
        read::check(&line)?;
        let c = match line.code {
            None => return Ok(()),
            Some(Code::Command(c)) if !c.ragged => c,
            Some(Code::Extended(_)) => {
                self.code_lines += 1;
                return Ok(());
            }
            Some(Code::Command(_) | Code::Junk) => {
                self.junk_lines += 1;
                return Ok(());
            }
        };
        self.code_lines += 1;
        // (The interpreter refuses what `read::check` refused.)
        let Ok(step) = self.modal.apply(&c) else {
            return Ok(());
        };
        match step {
            Step::Move(m) => self.follow(m),
            Step::Arc(a) => {
                let n = a.chords_by_tolerance(ARC_TOLERANCE, MAX_ARC_CHORDS);
                let mut from = a.from;
                for k in 1..=n {
                    let to = a.point(k, n);
                    self.move_to(from, to, a.de / n as f64);
                    from = to;
                }
            }
            Step::Home => self.joined = false,
            // (Tools beyond the preview's 256 are refused by the interpreter.)
            Step::Tool(t) => self.select_tool(t as u8),
            // Firmware retraction; with words (`G10 P0 S200`) it sets tool temperatures
            // or offsets instead.
            Step::Other if c.is(b'G', 10) && c.words.is_empty() => self.retractions += 1,
            Step::Set | Step::Other => {}
        }
        Ok(())
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
        } else if let Some(v) = setting(c, b"flavor") {
            if let Some(f) = modal::flavor_named(v) {
                self.modal.flavor = f;
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

    /// `G0`/`G1` to the axes given (X, Y, Z, E, F as written).
    pub(super) fn linear(&mut self, a: &Axes) {
        let m = self.modal.linear(a);
        self.follow(m);
    }

    fn follow(&mut self, m: Move) {
        self.move_to(m.from, m.to, m.de);
    }

    fn move_to(&mut self, from: [f64; 3], to: [f64; 3], de: f64) {
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
            feedrate: self.modal.feed.unwrap_or(0.0) as f32,
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
