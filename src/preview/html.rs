//! All layers in 3D in one self-contained HTML file: WebGL, no network, no libraries.
//!
//! The toolpath is packed small ([`pack`]): coordinates on a 10 µm grid, each run of
//! joined segments as the steps from one vertex to the next (small numbers in few
//! bytes), grouped by role so that a layer's walls follow the walls of the layer below
//! (which they mostly repeat), the whole deflated. The bytes sit in the page as they
//! are: the page is read as windows-1252, where every byte is one character, and only
//! the four bytes the HTML parser would not pass through unchanged are escaped. The
//! browser inflates them ([`DecompressionStream`], in every current browser) and builds
//! one vertex buffer once; the layer slider only changes how much of it is drawn.
//!
//! [`DecompressionStream`]: https://developer.mozilla.org/docs/Web/API/DecompressionStream

use std::io::{self, Write};

use flate2::Compression;
use flate2::write::ZlibEncoder;

use super::toolpath::{Segment, Toolpath};
use super::{ColorBy, Palette, role_color, role_label, tool_color};
use crate::path::Role;

const TEMPLATE: &str = include_str!("viewer.html");
const SCRIPT: &str = include_str!("viewer.js");
/// Role number of custom G-code in the page's palette.
const CUSTOM_ROLE: u16 = Role::ALL.len() as u16;
/// Highest tool number the page tells apart (later tools share its colour).
const MAX_TOOL: u8 = 15;
/// Speed steps (0..=254).
const SPEED_STEPS: f32 = 254.0;
/// The grid the page's coordinates are rounded to, mm: a fortieth of a line's width,
/// finer than a pixel at any zoom that shows whole lines; a finer grid costs bytes
/// (the steps between vertices get longer) for nothing seen.
const GRID: f64 = 0.01;
/// Quantised coordinates are 16-bit in the page's vertex buffer: larger prints get a
/// coarser grid.
const GRID_STEPS: f64 = 65535.0;
/// The byte that starts an escape in the embedded data; the next byte is the escaped
/// one plus [`ESCAPE_SHIFT`].
const ESCAPE: u8 = 0x01;
const ESCAPE_SHIFT: u8 = 0x40;
/// Bytes the HTML parser changes or stops at inside a script element: NUL (replaced),
/// carriage return (turned into a line feed) and `<` (which may start `</script>` or a
/// comment); and the escape byte itself.
const ESCAPED: [u8; 4] = [0x00, ESCAPE, b'\r', b'<'];

/// A toolpath packed for the page.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Packed {
    /// The deflated streams (see [`pack`]).
    pub data: Vec<u8>,
    /// Segments per layer.
    pub segments: Vec<usize>,
    /// Millimetres per grid step (X and Y).
    pub step: f64,
    /// X and Y of grid point (0, 0), mm.
    pub origin: [f64; 2],
}

/// Pack a toolpath for the page. Before deflating, the bytes are:
///
/// - the number of role groups; for each, its role number and its runs on every layer;
/// - for each group, the byte lengths of its attribute and coordinate streams;
/// - the streams, group by group.
///
/// A run's attributes are its segment count, its tool, then its speed steps as
/// (repeat, step) pairs; its coordinates are the step from the group's previous run's
/// last vertex to its first, then one step per segment. Counts are LEB128, steps
/// zig-zag LEB128 in grid units, X before Y.
pub fn pack(tp: &Toolpath) -> Packed {
    let ext = tp.extent();
    let (ox, oy) = if ext.is_empty() {
        (0.0, 0.0)
    } else {
        (f64::from(ext.min_x), f64::from(ext.min_y))
    };
    let span = f64::from(ext.width().max(ext.height())).max(0.0);
    let step = GRID.max(span / GRID_STEPS);
    let q = |v: f32, o: f64| ((f64::from(v) - o) / step).round().clamp(0.0, GRID_STEPS) as i64;
    let palette = Palette::new(tp, ColorBy::Speed);
    let speed =
        |s: &Segment| (palette.speed_t(s.feedrate).clamp(0.0, 1.0) * SPEED_STEPS).round() as u8;
    let group_of = |s: &Segment| s.role.map_or(CUSTOM_ROLE, |r| r as u16);

    struct Group {
        role: u16,
        runs: Vec<usize>,
        attrs: Vec<u8>,
        coords: Vec<u8>,
        at: [i64; 2],
    }
    let mut groups: Vec<Group> = Vec::new();
    let mut segments = Vec::with_capacity(tp.layers.len());
    for (li, layer) in tp.layers.iter().enumerate() {
        segments.push(layer.segments.len());
        let mut start = 0;
        while start < layer.segments.len() {
            let first = &layer.segments[start];
            let end = start
                + 1
                + layer.segments[start + 1..]
                    .iter()
                    .take_while(|s| s.joined && group_of(s) == group_of(first))
                    .count();
            let run = &layer.segments[start..end];
            let role = group_of(first);
            let g = match groups.iter().position(|g| g.role == role) {
                Some(g) => g,
                None => {
                    groups.push(Group {
                        role,
                        runs: vec![0; tp.layers.len()],
                        attrs: Vec::new(),
                        coords: Vec::new(),
                        at: [0, 0],
                    });
                    groups.len() - 1
                }
            };
            let g = &mut groups[g];
            g.runs[li] += 1;
            leb128(&mut g.attrs, run.len() as u64);
            g.attrs.push(first.tool.min(MAX_TOOL));
            let mut k = 0;
            while k < run.len() {
                let v = speed(&run[k]);
                let same = run[k..].iter().take_while(|s| speed(s) == v).count();
                leb128(&mut g.attrs, same as u64);
                g.attrs.push(v);
                k += same;
            }
            let mut at = g.at;
            let mut to = |x: i64, y: i64, out: &mut Vec<u8>| {
                leb128(out, zigzag(x - at[0]));
                leb128(out, zigzag(y - at[1]));
                at = [x, y];
            };
            to(q(first.x0, ox), q(first.y0, oy), &mut g.coords);
            for s in run {
                to(q(s.x1, ox), q(s.y1, oy), &mut g.coords);
            }
            g.at = at;
            start = end;
        }
    }
    let mut raw = Vec::new();
    leb128(&mut raw, groups.len() as u64);
    for g in &groups {
        leb128(&mut raw, u64::from(g.role));
        for &n in &g.runs {
            leb128(&mut raw, n as u64);
        }
    }
    for g in &groups {
        leb128(&mut raw, g.attrs.len() as u64);
        leb128(&mut raw, g.coords.len() as u64);
    }
    for g in &groups {
        raw.extend_from_slice(&g.attrs);
        raw.extend_from_slice(&g.coords);
    }
    let mut z = ZlibEncoder::new(Vec::with_capacity(raw.len() / 2), Compression::best());
    // Writing into memory cannot fail.
    let data = z
        .write_all(&raw)
        .and_then(|()| z.finish())
        .unwrap_or_default();
    Packed {
        data,
        segments,
        step,
        origin: [ox, oy],
    }
}

fn leb128(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// `data` as it goes in the page: escaped where the HTML parser would change it.
fn escaped(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 64);
    for &b in data {
        if ESCAPED.contains(&b) {
            out.extend([ESCAPE, b + ESCAPE_SHIFT]);
        } else {
            out.push(b);
        }
    }
    out
}

/// What the viewer page starts with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HtmlOptions {
    /// The name shown (usually the G-code file's).
    pub title: String,
    /// The layer the slider starts at (0-based; the top layer when `None`).
    pub initial_layer: Option<usize>,
    /// The colouring shown first.
    pub color: ColorBy,
}

/// Write the viewer page for `tp` to `out`.
///
/// ```
/// use lamina::preview::{html_viewer, html::HtmlOptions};
/// use lamina::preview::toolpath::{parse_bytes, ParseOptions};
/// let g = b"M83\nG1 Z0.2\nG1 X0 Y0\nG1 X20 E1\nG1 Z0.4\nG1 X0 E1\n";
/// let tp = parse_bytes(g, &ParseOptions::default()).unwrap();
/// let mut page = Vec::new();
/// html_viewer(&tp, &HtmlOptions::default(), &mut page).unwrap();
/// let page = String::from_utf8_lossy(&page);
/// assert!(page.contains("<canvas") && !page.contains("https://"));
/// ```
pub fn html_viewer(tp: &Toolpath, opts: &HtmlOptions, out: &mut dyn Write) -> io::Result<()> {
    let title = opts.title.as_str();
    let packed = pack(tp);
    let ext = tp.extent();
    let zmax = tp.layers.iter().map(|l| l.z).fold(0.0f32, f32::max);
    let (lo, hi) = tp.speed_range();
    let mut roles: Vec<Option<Role>> = Vec::new();
    let mut tools: Vec<u8> = Vec::new();
    for s in tp.layers.iter().flat_map(|l| l.segments.iter()) {
        if !roles.contains(&s.role) {
            roles.push(s.role);
        }
        let t = s.tool.min(MAX_TOOL);
        if !tools.contains(&t) {
            tools.push(t);
        }
    }
    roles.sort_by_key(|r| r.map_or(CUSTOM_ROLE, |r| r as u16));
    tools.sort_unstable();

    let layers: Vec<serde_json::Value> = tp
        .layers
        .iter()
        .zip(&packed.segments)
        .map(|(l, n)| serde_json::json!([round3(l.z), round3(l.height), n]))
        .collect();
    let roles: Vec<serde_json::Value> = roles
        .iter()
        .map(|r| {
            serde_json::json!([
                r.map_or(CUSTOM_ROLE, |r| r as u16),
                role_label(*r),
                hex(role_color(*r))
            ])
        })
        .collect();
    let tools: Vec<serde_json::Value> = tools
        .iter()
        .map(|t| serde_json::json!([t, hex(tool_color(*t))]))
        .collect();
    let bed = tp
        .bed
        .map(|b| serde_json::json!([b.min_x, b.min_y, b.max_x, b.max_y]));
    let focus = tp.part_extent();
    let meta = serde_json::json!({
        "focus": [focus.min_x, focus.min_y, focus.max_x, focus.max_y],
        "title": title,
        "layers": layers,
        "bounds": [packed.origin[0], packed.origin[1], ext.max_x, ext.max_y, zmax],
        "q": packed.step,
        "speed": [lo, hi],
        "roles": roles,
        "tools": tools,
        "bed": bed,
        "initial": opts.initial_layer.map(|i| i + 1),
        "mode": match opts.color {
            ColorBy::Role => 0,
            ColorBy::Tool => 1,
            ColorBy::Speed => 2,
        },
    });
    // The page is windows-1252 (for the embedded bytes): anything beyond ASCII in the
    // JSON is written as an escape, and `<` too, as a title could hold `</script>`.
    let meta = ascii_json(&serde_json::to_string(&meta).map_err(io::Error::other)?);

    let (head, rest) = TEMPLATE
        .split_once("{{DATA}}")
        .ok_or_else(|| io::Error::other("viewer template has no data slot"))?;
    let (mid, rest) = rest
        .split_once("{{BYTES}}")
        .ok_or_else(|| io::Error::other("viewer template has no bytes slot"))?;
    let (mid2, tail) = rest
        .split_once("{{SCRIPT}}")
        .ok_or_else(|| io::Error::other("viewer template has no script slot"))?;
    out.write_all(head.replace("{{TITLE}}", &escape_html(title)).as_bytes())?;
    out.write_all(meta.as_bytes())?;
    out.write_all(mid.as_bytes())?;
    out.write_all(&escaped(&packed.data))?;
    out.write_all(mid2.as_bytes())?;
    out.write_all(SCRIPT.as_bytes())?;
    out.write_all(tail.as_bytes())?;
    Ok(())
}

/// JSON text with every character beyond ASCII, and `<`, as a `\u` escape.
fn ascii_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() && c != '<' {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

fn round3(v: f32) -> f64 {
    (f64::from(v) * 1000.0).round() / 1000.0
}

fn hex(c: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

/// Text for the (windows-1252) page: markup characters and anything beyond ASCII as
/// character references.
fn escape_html(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    for c in t.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if c.is_ascii() => out.push(c),
            c => out.push_str(&format!("&#{};", u32::from(c))),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preview::toolpath::{ParseOptions, parse_bytes};

    /// One unpacked segment: x0, y0, x1, y1 in grid steps, role, tool, speed step.
    type Unpacked = (i64, i64, i64, i64, u16, u8, u8);

    /// The page's reading of [`pack`]'s data, in Rust: per layer, its segments.
    fn unpack(p: &Packed) -> Vec<Vec<Unpacked>> {
        use flate2::read::ZlibDecoder;
        use std::io::Read;
        let mut raw = Vec::new();
        ZlibDecoder::new(p.data.as_slice())
            .read_to_end(&mut raw)
            .unwrap();
        let mut at = 0;
        let num = |raw: &[u8], at: &mut usize| {
            let (mut v, mut shift) = (0u64, 0);
            loop {
                let b = raw[*at];
                *at += 1;
                v |= u64::from(b & 0x7f) << shift;
                shift += 7;
                if b < 0x80 {
                    return v;
                }
            }
        };
        let signed = |v: u64| (v >> 1) as i64 ^ -((v & 1) as i64);
        let layers = p.segments.len();
        let groups = num(&raw, &mut at) as usize;
        let mut runs = Vec::new();
        for _ in 0..groups {
            let role = num(&raw, &mut at) as u16;
            let per_layer: Vec<u64> = (0..layers).map(|_| num(&raw, &mut at)).collect();
            runs.push((role, per_layer));
        }
        let mut lens = Vec::new();
        for _ in 0..groups {
            lens.push((num(&raw, &mut at) as usize, num(&raw, &mut at) as usize));
        }
        let mut cursors = Vec::new();
        for (a, c) in lens {
            cursors.push((at, at + a, [0i64, 0]));
            at += a + c;
        }
        let mut out = vec![Vec::new(); layers];
        for (li, layer) in out.iter_mut().enumerate() {
            for ((role, per_layer), (ac, cc, pos)) in runs.iter().zip(cursors.iter_mut()) {
                for _ in 0..per_layer[li] {
                    let n = num(&raw, ac) as usize;
                    let tool = raw[*ac];
                    *ac += 1;
                    let mut speeds = Vec::new();
                    while speeds.len() < n {
                        let k = num(&raw, ac) as usize;
                        let v = raw[*ac];
                        *ac += 1;
                        speeds.extend(std::iter::repeat_n(v, k));
                    }
                    pos[0] += signed(num(&raw, cc));
                    pos[1] += signed(num(&raw, cc));
                    for sp in speeds {
                        let from = *pos;
                        pos[0] += signed(num(&raw, cc));
                        pos[1] += signed(num(&raw, cc));
                        layer.push((from[0], from[1], pos[0], pos[1], *role, tool, sp));
                    }
                }
            }
        }
        out
    }

    #[test]
    fn packed_segments_come_back_on_the_grid() {
        let g = "M83\nT1\nG1 Z0.2\nG1 X10 Y10\n;TYPE:Perimeter\nG1 X30 E1 F1200\nG1 Y20 E1\n\
                 G1 X10\nG1 Y10 E1 F3000\nG1 Z0.4\n;TYPE:Solid infill\nG1 X12.345 Y10.004 E1\n";
        let tp = parse_bytes(g.as_bytes(), &ParseOptions::default()).unwrap();
        let p = pack(&tp);
        assert_eq!(p.segments, vec![3, 1]);
        assert!((p.step - GRID).abs() < 1e-12);
        let layers = unpack(&p);
        assert_eq!(layers.iter().map(Vec::len).collect::<Vec<_>>(), p.segments);
        let mm = |v: i64, o: f64| o + v as f64 * p.step;
        let (x0, y0, x1, _, role, tool, sp) = layers[0][0];
        assert_eq!((mm(x0, p.origin[0]), mm(y0, p.origin[1])), (10.0, 10.0));
        assert!((mm(x1, p.origin[0]) - 30.0).abs() < 1e-9);
        assert_eq!(
            (role, tool, sp),
            (Role::Perimeter as u16, 1, 0),
            "slowest speed"
        );
        // After the travel back, a new run at the fastest speed.
        let (x0, y0, _, y1, _, _, sp) = layers[0][2];
        assert!((mm(x0, p.origin[0]) - 10.0).abs() < 1e-9);
        assert!((mm(y0, p.origin[1]) - 20.0).abs() < 1e-9);
        assert!((mm(y1, p.origin[1]) - 10.0).abs() < 1e-9);
        assert_eq!(sp, 254, "fastest speed");
        let (x0, _, x1, y1, role, _, _) = layers[1][0];
        assert_eq!(role, Role::SolidInfill as u16);
        assert!((mm(x0, p.origin[0]) - 10.0).abs() < 1e-9);
        // 12.345 and 10.004 land on the 10 µm grid.
        assert!(
            (mm(x1, p.origin[0]) - 12.35).abs() < 1e-9,
            "{}",
            mm(x1, p.origin[0])
        );
        assert!((mm(y1, p.origin[1]) - 10.0).abs() < 1e-9);
    }

    #[test]
    fn escaped_bytes_never_hold_what_the_parser_changes() {
        let data: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        let e = escaped(&data);
        assert!(!e.iter().any(|b| [0u8, b'\r', b'<'].contains(b)));
        let mut back = Vec::new();
        let mut i = 0;
        while i < e.len() {
            if e[i] == ESCAPE {
                back.push(e[i + 1] - ESCAPE_SHIFT);
                i += 2;
            } else {
                back.push(e[i]);
                i += 1;
            }
        }
        assert_eq!(back, data);
    }

    #[test]
    fn json_and_titles_stay_ascii() {
        assert_eq!(
            ascii_json("{\"t\":\"Schädel</script>\"}"),
            "{\"t\":\"Sch\\u00e4del\\u003c/script>\"}"
        );
        assert_eq!(escape_html("Schädel <1>"), "Sch&#228;del &lt;1&gt;");
    }
}
