//! Pictures of toolpaths: what a G-code file will print, layer by layer.
//!
//! ```text
//!  G-code --> toolpath::read_file --> Toolpath --> svg / png    one layer, to scale
//!                                              --> html         all layers, 3D (WebGL)
//!                                              --> thumbnail    the part, shaded
//! ```
//!
//! [`toolpath`] reads any G-code with PrusaSlicer-style comments (lamina's own,
//! PrusaSlicer's, Cura's, OrcaSlicer's) into plain data; the other modules draw it.
//! Layer pictures are exact: an SVG is in millimetres (20 mm in the print measure
//! 20 mm in the picture), a PNG has a stated number of pixels per millimetre.

pub mod html;
pub mod png;
pub mod svg;
pub mod thumbnail;
pub mod toolpath;

mod font;
mod layout;
mod raster;

pub use html::html_viewer;
pub use png::{PngSize, layer_png};
pub use svg::layer_svg;
pub use thumbnail::{contact_sheet_png, side_view_png, thumbnail_png};
pub use toolpath::{Layer, ParseOptions, Rect, Segment, Toolpath, Travel, read_file};

use crate::path::Role;

/// What the colours of a picture tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorBy {
    /// The role of each line (external perimeter, infill, support, ...).
    #[default]
    Role,
    /// The tool (extruder) that prints it.
    Tool,
    /// Its speed, slow (blue) to fast (red).
    Speed,
}

/// How to draw one layer.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PictureOptions {
    /// What the colours tell.
    pub color: ColorBy,
    /// Draw travel moves as thin dashed lines (the toolpath must have been read with
    /// [`ParseOptions::travels`]).
    pub travels: bool,
    /// Show the whole bed (as the file states it, else the extent of all layers)
    /// instead of the layer's own extent.
    pub bed: bool,
}

/// Why a picture could not be drawn.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PreviewError {
    /// No such layer.
    #[error("layer {asked} does not exist: the file has layers 1 to {count}")]
    NoLayer {
        /// The layer asked for (1-based).
        asked: usize,
        /// Number of layers.
        count: usize,
    },
    /// The picture would be too large to hold.
    #[error(
        "the picture would be {width} x {height} pixels (at most {MAX_PIXELS_SIDE} a side): ask for fewer pixels per mm"
    )]
    TooLarge {
        /// Width, pixels.
        width: u64,
        /// Height, pixels.
        height: u64,
    },
    /// A size that cannot be drawn.
    #[error("{0}")]
    BadSize(String),
}

/// Largest side of a PNG picture, pixels.
pub const MAX_PIXELS_SIDE: u64 = 16_384;

/// Background of layer pictures (dark, so that every role colour stands out).
pub const BACKGROUND: [u8; 3] = [0x1d, 0x20, 0x26];
/// Text and scale bar colour.
pub const INK: [u8; 3] = [0xe6, 0xe8, 0xec];
/// Colour of travel moves.
pub const TRAVEL: [u8; 3] = [0x8a, 0x93, 0xa3];

/// The colour of a role (`None`: custom G-code such as a prime line).
///
/// ```
/// use lamina::path::Role;
/// use lamina::preview::role_color;
/// assert_ne!(role_color(Some(Role::ExternalPerimeter)), role_color(Some(Role::Perimeter)));
/// ```
pub fn role_color(role: Option<Role>) -> [u8; 3] {
    match role {
        Some(Role::ExternalPerimeter) => [0xff, 0x8c, 0x1a],
        Some(Role::Perimeter) => [0xff, 0xd8, 0x3f],
        Some(Role::OverhangPerimeter) => [0x3c, 0x7d, 0xff],
        Some(Role::GapFill) => [0xf4, 0xf4, 0xf4],
        Some(Role::SolidInfill) => [0xb3, 0x4a, 0xd9],
        Some(Role::TopSolidInfill) => [0xff, 0x3b, 0x3b],
        Some(Role::BridgeInfill) => [0x7f, 0xd0, 0xff],
        Some(Role::InternalInfill) => [0xa8, 0x5a, 0x32],
        Some(Role::SkirtBrim) => [0x1a, 0xbc, 0x9c],
        Some(Role::SupportMaterial) => [0x3f, 0xbf, 0x4f],
        Some(Role::SupportInterface) => [0xb6, 0xf0, 0x6a],
        Some(Role::PrimeTower) => [0x9a, 0x9a, 0x9a],
        None => [0x6f, 0x7f, 0xb0],
    }
}

/// The name shown for a role in legends.
pub fn role_label(role: Option<Role>) -> &'static str {
    role.map_or("Custom", Role::gcode_name)
}

/// The colour of a tool (cycles after eight tools).
pub fn tool_color(tool: u8) -> [u8; 3] {
    const TOOLS: [[u8; 3]; 8] = [
        [0xff, 0x8c, 0x1a],
        [0x3c, 0x9b, 0xff],
        [0x3f, 0xbf, 0x4f],
        [0xff, 0x4f, 0xa3],
        [0xff, 0xd8, 0x3f],
        [0xb3, 0x4a, 0xd9],
        [0x1a, 0xbc, 0x9c],
        [0xf4, 0xf4, 0xf4],
    ];
    TOOLS[usize::from(tool) % TOOLS.len()]
}

/// The colour of a speed at `t` between the slowest (0) and fastest (1): blue, cyan,
/// green, yellow, red.
pub fn speed_color(t: f32) -> [u8; 3] {
    const STOPS: [[f32; 3]; 5] = [
        [40.0, 80.0, 230.0],
        [30.0, 200.0, 220.0],
        [60.0, 200.0, 70.0],
        [245.0, 215.0, 40.0],
        [235.0, 50.0, 40.0],
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    } * 4.0;
    let k = (t.floor() as usize).min(3);
    let f = t - k as f32;
    let (a, b) = (STOPS[k], STOPS[k + 1]);
    [0, 1, 2].map(|i| (a[i] + (b[i] - a[i]) * f).round() as u8)
}

/// Colours segments for one picture.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Palette {
    mode: ColorBy,
    speed_lo: f32,
    speed_hi: f32,
}

impl Palette {
    /// A palette for the whole toolpath (speeds scaled over all layers so that
    /// pictures of different layers agree).
    pub(crate) fn new(tp: &Toolpath, mode: ColorBy) -> Self {
        let (lo, hi) = tp.speed_range();
        Palette {
            mode,
            speed_lo: lo,
            speed_hi: hi,
        }
    }

    /// Position of a speed on the colour scale, 0 to 1.
    pub(crate) fn speed_t(&self, v: f32) -> f32 {
        if self.speed_hi - self.speed_lo < 1e-3 {
            0.5
        } else {
            (v - self.speed_lo) / (self.speed_hi - self.speed_lo)
        }
    }

    pub(crate) fn color(&self, s: &Segment) -> [u8; 3] {
        match self.mode {
            ColorBy::Role => role_color(s.role),
            ColorBy::Tool => tool_color(s.tool),
            ColorBy::Speed => speed_color(self.speed_t(s.feedrate)),
        }
    }

    /// Legend entries for the segments of `layers`: only roles or tools present; for
    /// speed, five steps over the range.
    pub(crate) fn legend<'a>(
        &self,
        layers: impl IntoIterator<Item = &'a Layer>,
    ) -> Vec<([u8; 3], String)> {
        match self.mode {
            ColorBy::Role => {
                let mut present = [false; Role::ALL.len() + 1];
                for s in layers.into_iter().flat_map(|l| l.segments.iter()) {
                    present[s.role.map_or(Role::ALL.len(), |r| r as usize)] = true;
                }
                let mut out: Vec<_> = Role::ALL
                    .iter()
                    .filter(|r| present[**r as usize])
                    .map(|r| (role_color(Some(*r)), role_label(Some(*r)).to_string()))
                    .collect();
                if present[Role::ALL.len()] {
                    out.push((role_color(None), role_label(None).to_string()));
                }
                out
            }
            ColorBy::Tool => {
                let mut present = [false; 256];
                for s in layers.into_iter().flat_map(|l| l.segments.iter()) {
                    present[usize::from(s.tool)] = true;
                }
                (0..=255u8)
                    .filter(|t| present[usize::from(*t)])
                    .map(|t| (tool_color(t), format!("T{t}")))
                    .collect()
            }
            ColorBy::Speed => {
                let steps = if self.speed_hi - self.speed_lo < 1e-3 {
                    1
                } else {
                    5
                };
                (0..steps)
                    .map(|k| {
                        let t = if steps == 1 {
                            0.5
                        } else {
                            k as f32 / (steps - 1) as f32
                        };
                        let v = self.speed_lo + (self.speed_hi - self.speed_lo) * t;
                        (speed_color(t), format!("{v:.0} mm/s"))
                    })
                    .collect()
            }
        }
    }
}

/// A maximal chain of joined segments drawn with one colour and width.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Run {
    pub start: usize,
    pub end: usize,
    pub color: [u8; 3],
    pub width: f32,
}

/// Width difference (relative) that starts a new run.
const RUN_WIDTH_TOLERANCE: f32 = 0.02;

/// Cut a layer's segments into runs: a new run at every break (travel, retraction,
/// role or tool change), colour change, or width change of more than 2 %.
pub(crate) fn runs(layer: &Layer, palette: &Palette) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    for (i, s) in layer.segments.iter().enumerate() {
        let c = palette.color(s);
        if let Some(r) = out.last_mut() {
            if s.joined
                && r.color == c
                && (s.width - r.width).abs() <= RUN_WIDTH_TOLERANCE * r.width
            {
                r.end = i + 1;
                continue;
            }
        }
        out.push(Run {
            start: i,
            end: i + 1,
            color: c,
            width: s.width,
        });
    }
    out
}

/// The largest of 1, 2 and 5 times a power of ten not above `v` (for scale bars).
///
/// ```
/// assert_eq!(lamina::preview::nice_length(37.0), 20.0);
/// assert_eq!(lamina::preview::nice_length(5.5), 5.0);
/// assert_eq!(lamina::preview::nice_length(0.3), 0.2);
/// ```
pub fn nice_length(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [5.0, 2.0, 1.0] {
        if m * p <= v * (1.0 + 1e-9) {
            return m * p;
        }
    }
    p
}

/// A length for labels: "20 mm", "0.5 mm".
pub(crate) fn format_mm(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0} mm")
    } else {
        let s = format!("{v:.3}");
        format!("{} mm", s.trim_end_matches('0').trim_end_matches('.'))
    }
}

/// The region a layer picture shows (before margins).
pub(crate) fn picture_region(tp: &Toolpath, layer: usize, opts: &PictureOptions) -> Rect {
    let l = &tp.layers[layer];
    let mut r = if opts.bed {
        tp.bed.unwrap_or_else(|| tp.extent_with_width())
    } else {
        l.extent_with_width()
    };
    if opts.travels && !opts.bed {
        for t in &l.travels {
            r.add(t.x0, t.y0);
            r.add(t.x1, t.y1);
        }
    }
    r
}

/// The title of a layer picture.
pub(crate) fn layer_title(tp: &Toolpath, layer: usize) -> String {
    let l = &tp.layers[layer];
    format!(
        "Layer {} of {}, Z {:.2} mm (height {:.2} mm)",
        layer + 1,
        tp.layers.len(),
        l.z,
        l.height
    )
}

/// Check a 1-based layer number.
pub fn check_layer(tp: &Toolpath, layer: usize) -> Result<usize, PreviewError> {
    if layer == 0 || layer > tp.layers.len() {
        Err(PreviewError::NoLayer {
            asked: layer,
            count: tp.layers.len(),
        })
    } else {
        Ok(layer - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_colours_are_distinct() {
        let mut all: Vec<[u8; 3]> = Role::ALL.iter().map(|r| role_color(Some(*r))).collect();
        all.push(role_color(None));
        all.push(BACKGROUND);
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n);
    }

    #[test]
    fn speed_scale_ends() {
        assert_eq!(speed_color(0.0), [40, 80, 230]);
        assert_eq!(speed_color(1.0), [235, 50, 40]);
        assert_eq!(speed_color(f32::NAN), speed_color(0.0));
    }

    #[test]
    fn nice_lengths_and_labels() {
        assert_eq!(nice_length(100.0), 100.0);
        assert_eq!(nice_length(99.0), 50.0);
        assert_eq!(nice_length(1.9), 1.0);
        assert_eq!(format_mm(20.0), "20 mm");
        assert_eq!(format_mm(0.5), "0.5 mm");
    }
}
