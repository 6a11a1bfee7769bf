//! Reading G-code back into toolpaths: layers of extrusion segments, with the role,
//! tool, width and speed of each.
//!
//! The reader understands the comments PrusaSlicer writes (lamina writes the same):
//! `;LAYER_CHANGE`, `;Z:`, `;HEIGHT:`, `;TYPE:`, `;WIDTH:`; Cura's `;LAYER:n` and
//! `;TYPE:WALL-OUTER` family; and the `; CHANGE_LAYER`, `; Z_HEIGHT:`, `; FEATURE:`,
//! `; LINE_WIDTH:` family of Bambu Studio and OrcaSlicer. Without width comments a
//! line's width follows from the filament it uses (E per mm of travel), the filament
//! diameter and the layer height. Without layer comments layers follow the Z of the
//! extrusions.
//!
//! The file is read line by line into one reused buffer and parsed as bytes: memory
//! grows with the number of segments kept, not with the file.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::path::Role;

/// Filament diameter assumed until the file states one, mm.
pub const DEFAULT_FILAMENT_DIAMETER: f32 = 1.75;
/// Largest distance between an arc (`G2`/`G3`) and the chords that replace it, mm.
pub const ARC_TOLERANCE: f64 = 0.01;
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
/// Lines looked at for signs of a binary file.
const SNIFF_LINES: usize = 2000;
/// Most chords one arc is cut into.
const MAX_ARC_CHORDS: usize = 2048;

/// One straight extrusion: a line of plastic from `(x0, y0)` to `(x1, y1)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// Start X, mm.
    pub x0: f32,
    /// Start Y, mm.
    pub y0: f32,
    /// End X, mm.
    pub x1: f32,
    /// End Y, mm.
    pub y1: f32,
    /// Line width, mm (from `;WIDTH:` or derived from the extruded filament).
    pub width: f32,
    /// Speed, mm/s.
    pub feedrate: f32,
    /// What the line is for; `None` for custom G-code and unknown `;TYPE:` names.
    pub role: Option<Role>,
    /// The tool (extruder) that printed it.
    pub tool: u8,
    /// Whether it continues the previous segment of its layer without a break (no
    /// travel, retraction, role or tool change in between).
    pub joined: bool,
    /// Whether the width was derived from the extruded filament (no width comment).
    pub width_from_e: bool,
}

impl Segment {
    /// Length in XY, mm.
    pub fn length(&self) -> f32 {
        (self.x1 - self.x0).hypot(self.y1 - self.y0)
    }
}

/// One non-extruding move in XY.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Travel {
    /// Start X, mm.
    pub x0: f32,
    /// Start Y, mm.
    pub y0: f32,
    /// End X, mm.
    pub x1: f32,
    /// End Y, mm.
    pub y1: f32,
}

/// An axis-aligned rectangle in XY, mm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    /// Smallest X.
    pub min_x: f32,
    /// Smallest Y.
    pub min_y: f32,
    /// Largest X.
    pub max_x: f32,
    /// Largest Y.
    pub max_y: f32,
}

impl Rect {
    /// The empty rectangle: the union of nothing (grows with [`Rect::add`]).
    pub const EMPTY: Rect = Rect {
        min_x: f32::INFINITY,
        min_y: f32::INFINITY,
        max_x: f32::NEG_INFINITY,
        max_y: f32::NEG_INFINITY,
    };

    /// Grow to hold the point.
    pub fn add(&mut self, x: f32, y: f32) {
        self.min_x = self.min_x.min(x);
        self.min_y = self.min_y.min(y);
        self.max_x = self.max_x.max(x);
        self.max_y = self.max_y.max(y);
    }

    /// Grow to hold another rectangle.
    pub fn union(&mut self, o: &Rect) {
        if !o.is_empty() {
            self.add(o.min_x, o.min_y);
            self.add(o.max_x, o.max_y);
        }
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.min_x > self.max_x || self.min_y > self.max_y
    }

    /// Width, mm (0 when empty).
    pub fn width(&self) -> f32 {
        (self.max_x - self.min_x).max(0.0)
    }

    /// Height (Y extent), mm (0 when empty).
    pub fn height(&self) -> f32 {
        (self.max_y - self.min_y).max(0.0)
    }

    /// The rectangle grown by `d` on every side.
    pub fn inflate(&self, d: f32) -> Rect {
        Rect {
            min_x: self.min_x - d,
            min_y: self.min_y - d,
            max_x: self.max_x + d,
            max_y: self.max_y + d,
        }
    }
}

/// One layer: what is printed at one height.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layer {
    /// Top of the layer (the nozzle height), mm.
    pub z: f32,
    /// Layer height, mm.
    pub height: f32,
    /// Extrusions in print order.
    pub segments: Vec<Segment>,
    /// Travel moves in print order (empty unless asked for).
    pub travels: Vec<Travel>,
}

impl Layer {
    /// The extent of the extrusions' centre lines.
    pub fn extent(&self) -> Rect {
        let mut r = Rect::EMPTY;
        for s in &self.segments {
            r.add(s.x0, s.y0);
            r.add(s.x1, s.y1);
        }
        r
    }

    /// The extent of the extruded lines, their width included.
    pub fn extent_with_width(&self) -> Rect {
        let mut r = Rect::EMPTY;
        for s in &self.segments {
            let h = s.width * 0.5;
            r.add(s.x0.min(s.x1) - h, s.y0.min(s.y1) - h);
            r.add(s.x0.max(s.x1) + h, s.y0.max(s.y1) + h);
        }
        r
    }

    /// Number of extrusion runs: maximal chains of joined segments.
    pub fn run_count(&self) -> usize {
        self.segments.iter().filter(|s| !s.joined).count()
    }
}

/// A G-code file read back: its layers bottom to top (layers without extrusion are
/// left out) and what its comments say about the machine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Toolpath {
    /// Layers in print order.
    pub layers: Vec<Layer>,
    /// The printable area, when the file states it (`bed_shape`, or lamina's
    /// `bed_size` and `origin`).
    pub bed: Option<Rect>,
    /// Filament diameter used for widths derived from E, mm.
    pub filament_diameter: f32,
    /// Retractions: moves that pull filament back (negative E) and firmware
    /// retractions (`G10` without words).
    pub retractions: usize,
}

impl Toolpath {
    /// The extent of all extrusions' centre lines.
    pub fn extent(&self) -> Rect {
        let mut r = Rect::EMPTY;
        for l in &self.layers {
            r.union(&l.extent());
        }
        r
    }

    /// The extent of all extruded lines, their width included.
    pub fn extent_with_width(&self) -> Rect {
        let mut r = Rect::EMPTY;
        for l in &self.layers {
            r.union(&l.extent_with_width());
        }
        r
    }

    /// The extent of the lines with a role (leaving out custom G-code such as a prime
    /// line along the bed's edge); all lines when none has a role.
    pub fn part_extent(&self) -> Rect {
        let mut r = Rect::EMPTY;
        for s in self.layers.iter().flat_map(|l| l.segments.iter()) {
            if s.role.is_some() {
                r.add(s.x0, s.y0);
                r.add(s.x1, s.y1);
            }
        }
        if r.is_empty() { self.extent() } else { r }
    }

    /// Total number of extrusion segments.
    pub fn segment_count(&self) -> usize {
        self.layers.iter().map(|l| l.segments.len()).sum()
    }

    /// The number of tools used (highest tool number plus one; at least 1).
    pub fn tool_count(&self) -> usize {
        self.layers
            .iter()
            .flat_map(|l| l.segments.iter())
            .map(|s| usize::from(s.tool) + 1)
            .max()
            .unwrap_or(1)
    }

    /// Slowest and fastest extrusion speed, mm/s.
    pub fn speed_range(&self) -> (f32, f32) {
        let mut lo = f32::INFINITY;
        let mut hi = 0.0f32;
        for s in self.layers.iter().flat_map(|l| l.segments.iter()) {
            lo = lo.min(s.feedrate);
            hi = hi.max(s.feedrate);
        }
        if lo > hi { (0.0, 0.0) } else { (lo, hi) }
    }

    /// The layer holding height `z` (the first whose top is at or above it), if `z`
    /// is within the print.
    pub fn layer_at_z(&self, z: f32) -> Option<usize> {
        let first = self.layers.first()?;
        if z < first.z - first.height - 1e-4 {
            return None;
        }
        self.layers.iter().position(|l| l.z >= z - 1e-4)
    }
}

/// How to read a file.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ParseOptions {
    /// Keep travel moves (for pictures that show them).
    pub travels: bool,
    /// Keep only the extrusions that can show from outside the part (external walls,
    /// top and bridge surfaces, support, tower, skirt): a picture of the part for a
    /// fraction of the memory.
    pub outside_only: bool,
    /// Filament diameter, mm; `None` to take it from the file's comments
    /// (`filament_diameter = ...`), else [`DEFAULT_FILAMENT_DIAMETER`].
    pub filament_diameter: Option<f32>,
}

/// Why G-code could not be read (without the file name; see [`LoadError`]).
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Nothing in the file.
    #[error("the file is empty")]
    Empty,
    /// PrusaSlicer's binary G-code.
    #[error("this is binary G-code (.bgcode); export plain text G-code instead")]
    BinaryGcode,
    /// Binary data or text without G-code commands.
    #[error("this is not G-code (no G or M commands found)")]
    NotGcode,
    /// G-code that extrudes nothing.
    #[error("the G-code has no extrusion moves (nothing would be printed)")]
    NoExtrusion,
    /// Reading failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A G-code file could not be loaded: the path and the reason.
pub type LoadError = crate::input::LoadError<ParseError>;

/// Read a G-code file.
///
/// ```no_run
/// use lamina::preview::toolpath::{read_file, ParseOptions};
/// let tp = read_file("part.gcode".as_ref(), &ParseOptions::default()).unwrap();
/// println!("{} layers", tp.layers.len());
/// ```
pub fn read_file(path: &Path, opts: &ParseOptions) -> Result<Toolpath, LoadError> {
    let file = File::open(path).map_err(|source| LoadError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(LoadError::Open {
            path: path.to_path_buf(),
            source: std::io::Error::other("it is a directory"),
        });
    }
    parse(BufReader::with_capacity(1 << 20, file), opts).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Read G-code held in memory.
///
/// ```
/// use lamina::preview::toolpath::{parse_bytes, ParseOptions};
/// let g = b"G90\nM83\n;LAYER_CHANGE\n;Z:0.2\n;HEIGHT:0.2\nG1 Z0.2\nG1 X0 Y0\n;TYPE:External perimeter\n;WIDTH:0.45\nG1 X20 E1 F1800\nG1 Y20 E1\n";
/// let tp = parse_bytes(g, &ParseOptions::default()).unwrap();
/// assert_eq!(tp.layers.len(), 1);
/// assert_eq!(tp.layers[0].segments.len(), 2);
/// assert_eq!(tp.layers[0].segments[1].width, 0.45);
/// ```
pub fn parse_bytes(data: &[u8], opts: &ParseOptions) -> Result<Toolpath, ParseError> {
    parse(data, opts)
}

/// Read G-code from any buffered reader, line by line.
pub fn parse<R: BufRead>(mut reader: R, opts: &ParseOptions) -> Result<Toolpath, ParseError> {
    let mut p = Parser::new(opts);
    let mut line = Vec::with_capacity(256);
    let mut any_bytes = false;
    let mut n = 0usize;
    loop {
        line.clear();
        let read = (&mut reader).take(1 << 20).read_until(b'\n', &mut line)?;
        if read == 0 {
            break;
        }
        if !any_bytes {
            if line.starts_with(b"GCDE") {
                return Err(ParseError::BinaryGcode);
            }
            any_bytes = true;
        }
        if n < SNIFF_LINES && line.contains(&0) {
            return Err(ParseError::NotGcode);
        }
        n += 1;
        if line.len() >= 1 << 20 && line.last() != Some(&b'\n') {
            // A line of a megabyte is no G-code: skip the rest of it.
            let mut rest = Vec::new();
            reader.read_until(b'\n', &mut rest)?;
            p.junk_lines += 1;
            continue;
        }
        p.line(&line);
    }
    if !any_bytes || (p.code_lines == 0 && p.junk_lines == 0) {
        return Err(ParseError::Empty);
    }
    if p.code_lines == 0 || p.junk_lines > p.code_lines {
        return Err(ParseError::NotGcode);
    }
    p.finish()
}

/// G-code read as it is written, with no copy of the text kept: pictures of G-code
/// being generated (thumbnails) cost the toolpath only.
///
/// ```
/// use std::io::Write;
/// use lamina::preview::toolpath::{ParseOptions, ToolpathWriter};
/// let mut w = ToolpathWriter::new(&ParseOptions::default());
/// w.write_all(b"M83\nG1 Z0.2\nG1 X0 Y0\nG1 X2").unwrap();
/// w.write_all(b"0 E1\n").unwrap();
/// let tp = w.finish().unwrap();
/// assert_eq!(tp.layers[0].segments[0].x1, 20.0);
/// ```
pub struct ToolpathWriter {
    parser: Parser,
    /// The start of a line whose end has not been written yet.
    partial: Vec<u8>,
}

impl ToolpathWriter {
    /// A writer that parses with `opts`.
    pub fn new(opts: &ParseOptions) -> Self {
        ToolpathWriter {
            parser: Parser::new(opts),
            partial: Vec::new(),
        }
    }

    /// The toolpath of everything written.
    pub fn finish(mut self) -> Result<Toolpath, ParseError> {
        if !self.partial.is_empty() {
            self.parser.line(&self.partial);
        }
        if self.parser.code_lines == 0 {
            return Err(ParseError::NotGcode);
        }
        self.parser.finish()
    }
}

impl std::io::Write for ToolpathWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut rest = buf;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            let (line, tail) = rest.split_at(i + 1);
            if self.partial.is_empty() {
                self.parser.line(line);
            } else {
                self.partial.extend_from_slice(line);
                self.parser.line(&self.partial);
                self.partial.clear();
            }
            rest = tail;
        }
        self.partial.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A layer announced by a comment, opened at its first extrusion.
#[derive(Debug, Clone, Copy, Default)]
struct PendingLayer {
    z: Option<f64>,
    height: Option<f64>,
}

/// The words of one command line that matter here.
#[derive(Debug, Default, Clone, Copy)]
struct Words {
    x: Option<f64>,
    y: Option<f64>,
    z: Option<f64>,
    e: Option<f64>,
    f: Option<f64>,
    i: Option<f64>,
    j: Option<f64>,
    r: Option<f64>,
}

struct Parser {
    opts: ParseOptions,
    layers: Vec<Layer>,
    /// Physical position (after G92 offsets), mm.
    pos: [f64; 3],
    /// G92 offsets: physical = logical + offset.
    offset: [f64; 3],
    e: f64,
    feed: f64,
    absolute_xyz: bool,
    absolute_e: bool,
    units: f64,
    role: Option<Role>,
    tool: u8,
    width: Option<f64>,
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
    code_lines: usize,
    junk_lines: usize,
    retractions: usize,
}

impl Parser {
    fn new(opts: &ParseOptions) -> Self {
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

    fn line(&mut self, raw: &[u8]) {
        let mut s = trim(raw);
        if s.is_empty() {
            return;
        }
        if s[0] == b';' {
            self.comment(trim(&s[1..]));
            return;
        }
        if let Some(k) = s.iter().position(|&c| c == b';') {
            s = trim(&s[..k]);
        }
        if let Some(k) = s.iter().position(|&c| c == b'*') {
            s = &s[..k];
        }
        let mut i = 0;
        // Line number.
        if s.first().map(|c| c.to_ascii_uppercase()) == Some(b'N') {
            i = 1;
            if parse_number(s, &mut i).is_none() {
                self.junk_lines += 1;
                return;
            }
        }
        skip_spaces(s, &mut i);
        if i >= s.len() {
            return;
        }
        let letter = s[i].to_ascii_uppercase();
        i += 1;
        if !letter.is_ascii_alphabetic() {
            self.junk_lines += 1;
            return;
        }
        let Some(code) = parse_number(s, &mut i) else {
            // Things like `M117 Hello` pass; words like `solid` do not.
            self.junk_lines += 1;
            return;
        };
        if i < s.len() && !matches!(s[i], b' ' | b'\t') && !s[i].is_ascii_alphabetic() {
            self.junk_lines += 1;
            return;
        }
        self.code_lines += 1;
        match letter {
            b'G' => {
                let g = code;
                if g == 0.0 || g == 1.0 {
                    let w = words(s, i);
                    self.linear(&w);
                } else if g == 2.0 || g == 3.0 {
                    let w = words(s, i);
                    self.arc(&w, g == 2.0);
                } else if g == 10.0 {
                    // Firmware retraction; with words (`G10 P0 S200`) it sets tool
                    // temperatures or offsets instead.
                    if !s[i..].iter().any(u8::is_ascii_alphabetic) {
                        self.retractions += 1;
                    }
                } else if g == 90.0 {
                    self.absolute_xyz = true;
                } else if g == 91.0 {
                    self.absolute_xyz = false;
                } else if g == 92.0 {
                    let w = words(s, i);
                    self.set_position(&w);
                } else if g == 20.0 {
                    self.units = 25.4;
                } else if g == 21.0 {
                    self.units = 1.0;
                } else if g == 28.0 {
                    self.home(&words(s, i));
                }
            }
            b'M' => {
                if code == 82.0 {
                    self.absolute_e = true;
                } else if code == 83.0 {
                    self.absolute_e = false;
                }
            }
            b'T' if (0.0..256.0).contains(&code) && code.fract() == 0.0 => {
                let t = code as u8;
                if t != self.tool {
                    self.tool = t;
                    self.joined = false;
                }
            }
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
            if let (Some(z), Some(p)) = (number(v), self.pending.as_mut()) {
                p.z = Some(z);
            }
        } else if let Some(v) = c
            .strip_prefix(b"HEIGHT:")
            .or_else(|| c.strip_prefix(b"LAYER_HEIGHT:"))
        {
            // Only a layer's own height counts: a height change within a layer
            // (a bridge) is not the layer's.
            if let (Some(h), Some(p)) = (number(v).filter(|h| *h > 0.0), self.pending.as_mut()) {
                p.height = Some(h);
            }
        } else if let Some(v) = c
            .strip_prefix(b"TYPE:")
            .or_else(|| c.strip_prefix(b"FEATURE:"))
        {
            let role = role_from_name(std::str::from_utf8(v).unwrap_or(""));
            if role != self.role {
                self.role = role;
                self.joined = false;
            }
        } else if let Some(v) = c
            .strip_prefix(b"WIDTH:")
            .or_else(|| c.strip_prefix(b"LINE_WIDTH:"))
        {
            self.width = number(v).filter(|w| *w > 0.0);
        } else if let Some(v) = setting(c, b"filament_diameter") {
            if let Some(d) = number(v).filter(|d| *d > 0.0) {
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
            let v: Vec<f64> = numbers(v);
            if v.len() >= 2 && v[0] > 0.0 && v[1] > 0.0 {
                self.bed_size = Some([v[0] as f32, v[1] as f32]);
            }
        } else if let Some(v) = setting(c, b"origin") {
            self.origin_center = v.windows(6).any(|w| w.eq_ignore_ascii_case(b"center"));
        }
    }

    fn marker(&mut self) {
        self.pending = Some(PendingLayer::default());
        self.joined = false;
    }

    fn home(&mut self, w: &Words) {
        let all = w.x.is_none() && w.y.is_none() && w.z.is_none();
        for (k, v) in [w.x, w.y, w.z].into_iter().enumerate() {
            if all || v.is_some() {
                self.pos[k] = 0.0;
                self.offset[k] = 0.0;
            }
        }
        self.joined = false;
    }

    fn set_position(&mut self, w: &Words) {
        for (k, v) in [w.x, w.y, w.z].into_iter().enumerate() {
            if let Some(v) = v {
                self.offset[k] = self.pos[k] - v * self.units;
            }
        }
        if let Some(e) = w.e {
            self.e = e * self.units;
        }
        if w.x.is_none() && w.y.is_none() && w.z.is_none() && w.e.is_none() {
            self.e = 0.0;
        }
    }

    fn target(&self, w: &Words) -> [f64; 3] {
        let mut t = self.pos;
        for (k, v) in [w.x, w.y, w.z].into_iter().enumerate() {
            if let Some(v) = v {
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

    fn e_delta(&mut self, w: &Words) -> f64 {
        match w.e {
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

    fn linear(&mut self, w: &Words) {
        if let Some(f) = w.f.filter(|f| *f > 0.0) {
            self.feed = f * self.units / 60.0;
        }
        let to = self.target(w);
        let de = self.e_delta(w);
        self.move_to(to, de);
    }

    fn arc(&mut self, w: &Words, clockwise: bool) {
        if let Some(f) = w.f.filter(|f| *f > 0.0) {
            self.feed = f * self.units / 60.0;
        }
        let to = self.target(w);
        let de = self.e_delta(w);
        let from = self.pos;
        let (dx, dy) = (to[0] - from[0], to[1] - from[1]);
        let centre = if w.i.is_some() || w.j.is_some() {
            Some((
                from[0] + w.i.unwrap_or(0.0) * self.units,
                from[1] + w.j.unwrap_or(0.0) * self.units,
            ))
        } else if let Some(r) = w.r {
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

    fn finish(mut self) -> Result<Toolpath, ParseError> {
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

fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

fn skip_spaces(s: &[u8], i: &mut usize) {
    while *i < s.len() && matches!(s[*i], b' ' | b'\t') {
        *i += 1;
    }
}

/// `key = value` or `key: value` in a comment: the value.
fn setting<'a>(c: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let rest = c.strip_prefix(key)?;
    let rest = trim(rest);
    let rest = rest
        .strip_prefix(b"=")
        .or_else(|| rest.strip_prefix(b":"))?;
    Some(trim(rest))
}

/// The first number in a byte string.
fn number(s: &[u8]) -> Option<f64> {
    let mut i = 0;
    while i < s.len() && !(s[i].is_ascii_digit() || matches!(s[i], b'-' | b'+' | b'.')) {
        i += 1;
    }
    parse_number(s, &mut i)
}

/// Every number in a byte string.
fn numbers(s: &[u8]) -> Vec<f64> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        if s[i].is_ascii_digit() || matches!(s[i], b'-' | b'.') {
            let start = i;
            match parse_number(s, &mut i) {
                Some(v) => out.push(v),
                None => i = start + 1,
            }
        } else {
            i += 1;
        }
    }
    out
}

/// `0x0,250x0,250x210,0x210` (PrusaSlicer's `bed_shape`): the bounding rectangle.
fn parse_bed_shape(v: &[u8]) -> Option<Rect> {
    let v = numbers(v);
    if v.len() < 6 || v.len() % 2 != 0 {
        return None;
    }
    let mut r = Rect::EMPTY;
    for p in v.chunks(2) {
        r.add(p[0] as f32, p[1] as f32);
    }
    (r.width() > 0.0 && r.height() > 0.0).then_some(r)
}

const POW10: [f64; 19] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18,
];

/// A G-code number at `s[*i..]` (sign, digits, point, digits; no exponent: `E` is a
/// word of its own), advancing `i` past it.
fn parse_number(s: &[u8], i: &mut usize) -> Option<f64> {
    let mut k = *i;
    skip_spaces(s, &mut k);
    let neg = match s.get(k) {
        Some(b'-') => {
            k += 1;
            true
        }
        Some(b'+') => {
            k += 1;
            false
        }
        _ => false,
    };
    let mut mant: u64 = 0;
    let mut digits = 0usize;
    let mut frac = 0usize;
    let mut seen_point = false;
    let mut extra_int = 0i32;
    while k < s.len() {
        let c = s[k];
        if c.is_ascii_digit() {
            if digits < 18 {
                mant = mant * 10 + u64::from(c - b'0');
                digits += 1;
                if seen_point {
                    frac += 1;
                }
            } else if !seen_point {
                extra_int += 1;
            }
            k += 1;
        } else if c == b'.' && !seen_point {
            seen_point = true;
            k += 1;
        } else {
            break;
        }
    }
    if digits == 0 {
        return None;
    }
    *i = k;
    let mut v = mant as f64 / POW10[frac];
    if extra_int > 0 {
        v *= 10f64.powi(extra_int);
    }
    Some(if neg { -v } else { v })
}

/// The X, Y, Z, E, F, I, J, R words from `s[i..]`.
fn words(s: &[u8], mut i: usize) -> Words {
    let mut w = Words::default();
    while i < s.len() {
        let c = s[i].to_ascii_uppercase();
        i += 1;
        if !c.is_ascii_alphabetic() {
            continue;
        }
        let Some(v) = parse_number(s, &mut i) else {
            continue;
        };
        if !v.is_finite() {
            continue;
        }
        match c {
            b'X' => w.x = Some(v),
            b'Y' => w.y = Some(v),
            b'Z' => w.z = Some(v),
            b'E' => w.e = Some(v),
            b'F' => w.f = Some(v),
            b'I' => w.i = Some(v),
            b'J' => w.j = Some(v),
            b'R' => w.r = Some(v),
            _ => {}
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(g: &str) -> Toolpath {
        parse_bytes(g.as_bytes(), &ParseOptions::default()).unwrap()
    }

    #[test]
    fn numbers_parse_like_std() {
        for s in [
            "0",
            "1",
            "-1.5",
            "+2.25",
            ".5",
            "-.125",
            "123456.789",
            "0.00069",
            "7.",
        ] {
            let mut i = 0;
            let v = parse_number(s.as_bytes(), &mut i).unwrap();
            let want: f64 = s.trim_end_matches('.').parse().unwrap();
            assert!((v - want).abs() < 1e-12, "{s}: {v}");
            assert_eq!(i, s.len());
        }
        let mut i = 0;
        assert_eq!(parse_number(b"X", &mut i), None);
        // `E` after a number is the next word, not an exponent.
        let w = words(b" X1E5", 0);
        assert_eq!((w.x, w.e), (Some(1.0), Some(5.0)));
    }

    #[test]
    fn absolute_and_relative_e_retractions_and_g92() {
        let g = "M82\nG92 E0\n;LAYER_CHANGE\n;Z:0.2\nG1 Z0.2\nG1 X0 Y0\n;TYPE:Perimeter\n\
                 G1 X10 E1\nG1 E-1\nG1 X20\nG1 E1\nG1 X30 E2\nG92 E0\nG1 X40 E1\n\
                 M83\nG1 X50 E0.5\nG1 E-2\nG1 X60\nG1 E2\nG1 X70 E0.5\n";
        let tp = parse_str(g);
        let segs = &tp.layers[0].segments;
        let xs: Vec<(f32, f32)> = segs.iter().map(|s| (s.x0, s.x1)).collect();
        assert_eq!(
            xs,
            vec![(0., 10.), (20., 30.), (30., 40.), (40., 50.), (60., 70.)]
        );
        let joined: Vec<bool> = segs.iter().map(|s| s.joined).collect();
        assert_eq!(joined, vec![false, false, true, true, false]);
        assert!(segs.iter().all(|s| s.role == Some(Role::Perimeter)));
        // Two pulled back by E, none by the un-retractions.
        assert_eq!(tp.retractions, 2);
        let fw = parse_str(
            "M83\nG1 Z0.2\nG1 X0 Y0\nG1 X10 E1\nG10\nG1 X20\nG11\nG10 P0 S200\nG1 X30 E1\n",
        );
        assert_eq!(fw.retractions, 1);
    }

    #[test]
    fn relative_xyz_and_offsets() {
        let g = "G91\nM83\nG1 Z0.2\nG1 X5 Y5\nG1 X10 E1\nG90\nG92 X0 Y0\nG1 X10 E1\n";
        let tp = parse_str(g);
        let s = &tp.layers[0].segments;
        assert_eq!((s[0].x0, s[0].x1, s[0].y1), (5.0, 15.0, 5.0));
        // After G92 X0 at X15, X10 is physical X25.
        assert_eq!((s[1].x0, s[1].x1), (15.0, 25.0));
        assert!((tp.layers[0].z - 0.2).abs() < 1e-6);
    }

    #[test]
    fn width_from_comment_or_filament() {
        // 0.45 x 0.2 line: area = (0.45 - 0.2) * 0.2 + pi * 0.01.
        let area = (0.45 - 0.2) * 0.2 + std::f64::consts::PI * 0.01;
        let e_per_mm = area / (std::f64::consts::PI * 1.75 * 1.75 / 4.0);
        let g = format!(
            "M83\n;LAYER_CHANGE\n;Z:0.2\n;HEIGHT:0.2\nG1 Z0.2\nG1 X0 Y0\nG1 X10 E{:.6}\n;WIDTH:0.6\nG1 X20 E0.5\n",
            e_per_mm * 10.0
        );
        let tp = parse_str(&g);
        let s = &tp.layers[0].segments;
        assert!((s[0].width - 0.45).abs() < 1e-3, "{}", s[0].width);
        assert!(s[0].width_from_e);
        assert_eq!(s[1].width, 0.6);
        // With a 2.85 mm filament stated at the end (as PrusaSlicer does), derived
        // widths are redone.
        let g2 = format!("{g}; filament_diameter = 2.85\n");
        let tp = parse_str(&g2);
        let w = tp.layers[0].segments[0].width;
        assert!(w > 1.0, "{w}");
        assert_eq!(tp.filament_diameter, 2.85);
    }

    #[test]
    fn arcs_become_chords_on_the_circle() {
        // A half circle of radius 10 around (10, 0), counter-clockwise from (20,0).
        let g = "M83\nG1 Z0.2\nG1 X20 Y0\nG3 X0 Y0 I-10 J0 E3\n";
        let tp = parse_str(g);
        let s = &tp.layers[0].segments;
        assert!(s.len() > 20);
        for seg in s {
            let r = (seg.x1 - 10.0).hypot(seg.y1);
            assert!((r - 10.0).abs() < 1e-3);
            assert!(seg.y1 >= -1e-4, "ccw from (20,0) to (0,0) passes y > 0");
        }
        let last = s.last().unwrap();
        assert_eq!((last.x1, last.y1), (0.0, 0.0));
        assert!(s[1..].iter().all(|s| s.joined));
        // Clockwise with R: passes below.
        let tp = parse_str("M83\nG1 Z0.2\nG1 X20 Y0\nG2 X0 Y0 R10 E3\n");
        assert!(tp.layers[0].segments.iter().all(|s| s.y1 <= 1e-4));
    }

    #[test]
    fn layers_from_comments_z_or_cura() {
        // No comments: layers follow Z; a z-hop travel does not make a layer.
        let g = "M83\nG1 Z0.2\nG1 X0 Y0\nG1 X10 E1\nG1 Z0.6\nG1 X0\nG1 Z0.2\nG1 X5 E1\n\
                 G1 Z0.4\nG1 X10 E1\n";
        let tp = parse_str(g);
        assert_eq!(tp.layers.len(), 2);
        assert_eq!(tp.layers[0].segments.len(), 2);
        assert!((tp.layers[1].height - 0.2).abs() < 1e-6);
        // Cura: ;LAYER:n, types in capitals, tool changes.
        let g = ";FLAVOR:Marlin\n;LAYER_COUNT:2\nM82\n;LAYER:0\nG0 Z0.3\nG0 X0 Y0\n\
                 ;TYPE:WALL-OUTER\nG1 X10 E1\n;TYPE:FILL\nG1 Y10 E2\n;LAYER:1\nT1\nG0 Z0.5\n\
                 ;TYPE:SUPPORT\nG1 X0 E3\n";
        let tp = parse_str(g);
        assert_eq!(tp.layers.len(), 2);
        let s0 = &tp.layers[0].segments;
        assert_eq!(s0[0].role, Some(Role::ExternalPerimeter));
        assert_eq!(s0[1].role, Some(Role::InternalInfill));
        assert!(!s0[1].joined, "a role change breaks the run");
        assert_eq!(tp.layers[1].segments[0].tool, 1);
        assert_eq!(tp.layers[1].segments[0].role, Some(Role::SupportMaterial));
        assert_eq!(tp.tool_count(), 2);
    }

    #[test]
    fn prime_line_joins_the_first_layer() {
        let g = "M83\nG1 Z0.3\nG1 X0 Y0\nG1 Y100 E10\n;LAYER_CHANGE\n;Z:0.2\n;HEIGHT:0.2\n\
                 G1 Z0.2\nG1 X50 Y50\n;TYPE:Perimeter\nG1 X60 E1\n;LAYER_CHANGE\n;Z:0.4\n\
                 ;HEIGHT:0.2\nG1 Z0.4\nG1 X70 E1\n";
        let tp = parse_str(g);
        assert_eq!(tp.layers.len(), 2);
        assert_eq!(tp.layers[0].z, 0.2);
        assert_eq!(tp.layers[0].segments.len(), 2);
        assert_eq!(tp.layers[0].segments[0].role, None);
    }

    #[test]
    fn outside_only_keeps_what_shows() {
        let g = "M83\n;LAYER_CHANGE\n;Z:0.2\nG1 Z0.2\nG1 X0 Y0\n;TYPE:Perimeter\nG1 X10 E1\n\
                 ;TYPE:External perimeter\nG1 Y10 E1\n;TYPE:Internal infill\nG1 X0 E1\n\
                 ;TYPE:Top solid infill\nG1 Y0 E1\n";
        let opts = ParseOptions {
            outside_only: true,
            ..ParseOptions::default()
        };
        let tp = parse_bytes(g.as_bytes(), &opts).unwrap();
        let roles: Vec<_> = tp.layers[0].segments.iter().map(|s| s.role).collect();
        assert_eq!(
            roles,
            [Some(Role::ExternalPerimeter), Some(Role::TopSolidInfill)]
        );
        assert!(tp.layers[0].segments.iter().all(|s| !s.joined));
        assert_eq!(parse_str(g).layers[0].segments.len(), 4);
    }

    #[test]
    fn travels_kept_when_asked() {
        let g = "M83\n;LAYER_CHANGE\n;Z:0.2\nG1 Z0.2\nG1 X5 Y5\nG1 X10 E1\nG1 X20 Y20\nG1 X30 E1\n";
        let opts = ParseOptions {
            travels: true,
            ..ParseOptions::default()
        };
        let tp = parse_bytes(g.as_bytes(), &opts).unwrap();
        assert_eq!(tp.layers[0].travels.len(), 2);
        assert_eq!(parse_str(g).layers[0].travels.len(), 0);
    }

    #[test]
    fn bad_input_is_told_apart() {
        let o = ParseOptions::default();
        assert!(matches!(parse_bytes(b"", &o), Err(ParseError::Empty)));
        assert!(matches!(parse_bytes(b"\n\n", &o), Err(ParseError::Empty)));
        assert!(matches!(
            parse_bytes(b"solid cube\n facet normal 0 0 1\n outer loop\n", &o),
            Err(ParseError::NotGcode)
        ));
        assert!(matches!(
            parse_bytes(b"\x00\x01\x02binary", &o),
            Err(ParseError::NotGcode)
        ));
        assert!(matches!(
            parse_bytes(b"GCDE\x01\x00\x00\x00", &o),
            Err(ParseError::BinaryGcode)
        ));
        assert!(matches!(
            parse_bytes(b"G28\nG1 X10 Y10 F3000\nM104 S0\n", &o),
            Err(ParseError::NoExtrusion)
        ));
    }

    #[test]
    fn bed_from_comments() {
        let base = "M83\nG1 Z0.2\nG1 X5 Y5\nG1 X10 E1\n";
        let tp = parse_str(&format!("{base}; bed_shape = 0x0,250x0,250x210,0x210\n"));
        assert_eq!(tp.bed.unwrap().max_x, 250.0);
        assert_eq!(tp.bed.unwrap().max_y, 210.0);
        let tp = parse_str(&format!(
            "{base}; bed_size = [220.0, 200.0]\n; origin = \"center\"\n"
        ));
        assert_eq!(tp.bed.unwrap().min_x, -110.0);
        assert_eq!(tp.bed.unwrap().max_y, 100.0);
    }

    #[test]
    fn layer_at_z_picks_the_layer_holding_it() {
        let g = "M83\n;LAYER_CHANGE\n;Z:0.2\n;HEIGHT:0.2\nG1 Z0.2\nG1 X10 E1\n\
                 ;LAYER_CHANGE\n;Z:0.4\n;HEIGHT:0.2\nG1 Z0.4\nG1 X0 E1\n";
        let tp = parse_str(g);
        assert_eq!(tp.layer_at_z(0.2), Some(0));
        assert_eq!(tp.layer_at_z(0.3), Some(1));
        assert_eq!(tp.layer_at_z(0.4), Some(1));
        assert_eq!(tp.layer_at_z(0.5), None);
    }
}
