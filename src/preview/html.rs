//! All layers in 3D in one self-contained HTML file: WebGL, no network, no libraries.
//!
//! The toolpath is embedded compactly: every run of joined segments becomes a chain of
//! vertices whose X and Y are quantised to 16 bits over the print's extent (a step of
//! 3 µm for a 200 mm print), with 16 bits of attributes (role, tool, speed step), both
//! base64 encoded. The page builds one vertex buffer once; the layer slider only
//! changes how much of it is drawn.

use std::io::{self, Write};

use super::toolpath::Toolpath;
use super::{ColorBy, Palette, role_color, role_label, tool_color};
use crate::gcode::thumbnail::base64;
use crate::path::Role;

const TEMPLATE: &str = include_str!("viewer.html");
const SCRIPT: &str = include_str!("viewer.js");
/// Attribute of a vertex that starts a run (the page draws no segment to it).
const MOVE: u16 = 0xFFFF;
/// Role number of custom G-code in the page's palette.
const CUSTOM_ROLE: u16 = Role::ALL.len() as u16;
/// Highest tool number the page tells apart (later tools share its colour).
const MAX_TOOL: u8 = 15;
/// Speed steps (0..=254).
const SPEED_STEPS: f32 = 254.0;

/// The per-vertex arrays of a toolpath, as the page reads them.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Encoded {
    /// Quantised X, Y per vertex.
    pub xy: Vec<u16>,
    /// Attributes per vertex.
    pub attr: Vec<u16>,
    /// Vertices per layer.
    pub counts: Vec<usize>,
    /// Millimetres per quantisation step (X and Y).
    pub step: f64,
    /// X and Y of quantised (0, 0), mm.
    pub origin: [f64; 2],
}

/// Quantise a toolpath for the page.
pub fn encode(tp: &Toolpath) -> Encoded {
    let ext = tp.extent();
    let (ox, oy) = if ext.is_empty() {
        (0.0, 0.0)
    } else {
        (f64::from(ext.min_x), f64::from(ext.min_y))
    };
    let span = f64::from(ext.width().max(ext.height())).max(1e-3);
    let step = span / 65535.0;
    let q = |v: f32, o: f64| (((f64::from(v) - o) / step).round()).clamp(0.0, 65535.0) as u16;
    let palette = Palette::new(tp, ColorBy::Speed);
    let n = tp.segment_count() + tp.layers.iter().map(|l| l.run_count()).sum::<usize>();
    let mut e = Encoded {
        xy: Vec::with_capacity(2 * n),
        attr: Vec::with_capacity(n),
        counts: Vec::with_capacity(tp.layers.len()),
        step,
        origin: [ox, oy],
    };
    for l in &tp.layers {
        let before = e.attr.len();
        for s in &l.segments {
            if !s.joined {
                e.xy.extend([q(s.x0, ox), q(s.y0, oy)]);
                e.attr.push(MOVE);
            }
            let role = s.role.map_or(CUSTOM_ROLE, |r| r as u16);
            let tool = u16::from(s.tool.min(MAX_TOOL));
            let speed = (palette.speed_t(s.feedrate).clamp(0.0, 1.0) * SPEED_STEPS).round() as u16;
            e.xy.extend([q(s.x1, ox), q(s.y1, oy)]);
            e.attr.push(((role | tool << 4) << 8) | speed);
        }
        e.counts.push(e.attr.len() - before);
    }
    e
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
/// let page = String::from_utf8(page).unwrap();
/// assert!(page.contains("<canvas") && !page.contains("https://"));
/// ```
pub fn html_viewer(tp: &Toolpath, opts: &HtmlOptions, out: &mut dyn Write) -> io::Result<()> {
    let title = opts.title.as_str();
    let e = encode(tp);
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
        .zip(&e.counts)
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
        "bounds": [e.origin[0], e.origin[1], ext.max_x, ext.max_y, zmax],
        "q": e.step,
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
    // `<` cannot occur in the JSON but a title could hold `</script>`: escape it.
    let meta = serde_json::to_string(&meta)
        .map_err(io::Error::other)?
        .replace('<', "\\u003c");
    let meta = meta
        .strip_suffix('}')
        .ok_or_else(|| io::Error::other("unexpected JSON"))?;

    let (head, rest) = TEMPLATE
        .split_once("{{DATA}}")
        .ok_or_else(|| io::Error::other("viewer template has no data slot"))?;
    let (mid, tail) = rest
        .split_once("{{SCRIPT}}")
        .ok_or_else(|| io::Error::other("viewer template has no script slot"))?;
    out.write_all(head.replace("{{TITLE}}", &escape_html(title)).as_bytes())?;
    out.write_all(meta.as_bytes())?;
    out.write_all(b",\"xy\":\"")?;
    write_base64(out, e.xy.iter().flat_map(|v| v.to_le_bytes()))?;
    out.write_all(b"\",\"attr\":\"")?;
    write_base64(out, e.attr.iter().flat_map(|v| v.to_le_bytes()))?;
    out.write_all(b"\"}")?;
    out.write_all(mid.as_bytes())?;
    out.write_all(SCRIPT.as_bytes())?;
    out.write_all(tail.as_bytes())?;
    Ok(())
}

/// Base64 of a byte stream, written in blocks (a block's length is a multiple of 3,
/// so the blocks' encodings join into the encoding of the whole).
fn write_base64(out: &mut dyn Write, bytes: impl Iterator<Item = u8>) -> io::Result<()> {
    const BLOCK: usize = 3 * 16 * 1024;
    let mut buf = Vec::with_capacity(BLOCK);
    for b in bytes {
        buf.push(b);
        if buf.len() == BLOCK {
            out.write_all(base64(&buf).as_bytes())?;
            buf.clear();
        }
    }
    out.write_all(base64(&buf).as_bytes())
}

fn round3(v: f32) -> f64 {
    (f64::from(v) * 1000.0).round() / 1000.0
}

fn hex(c: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

fn escape_html(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preview::toolpath::{ParseOptions, parse_bytes};

    #[test]
    fn runs_start_with_a_move_and_coordinates_round_trip() {
        let g = "M83\nT1\nG1 Z0.2\nG1 X10 Y10\n;TYPE:Perimeter\nG1 X30 E1 F1200\nG1 Y20 E1\n\
                 G1 X10\nG1 Y10 E1 F3000\n";
        let tp = parse_bytes(g.as_bytes(), &ParseOptions::default()).unwrap();
        let e = encode(&tp);
        assert_eq!(e.counts, vec![5]);
        assert_eq!(e.attr[0], MOVE);
        assert_eq!(e.attr[3], MOVE);
        let a = e.attr[1];
        assert_eq!(a >> 8, Role::Perimeter as u16 | 1 << 4);
        assert_eq!(a & 0xff, 0, "slowest speed");
        assert_eq!(e.attr[4] & 0xff, 254, "fastest speed");
        let x = |k: usize| e.origin[0] + f64::from(e.xy[2 * k]) * e.step;
        let y = |k: usize| e.origin[1] + f64::from(e.xy[2 * k + 1]) * e.step;
        assert!((x(1) - 30.0).abs() < 1e-3 && (y(2) - 20.0).abs() < 1e-3);
        assert!((x(4) - 10.0).abs() < 1e-3 && (y(4) - 10.0).abs() < 1e-3);
    }

    #[test]
    fn base64_in_blocks_matches_whole() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut out = Vec::new();
        write_base64(&mut out, data.iter().copied()).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), base64(&data));
    }
}
