//! One layer as PNG: the same picture as the SVG (title, layer to scale, scale bar,
//! legend), rasterised with `tiny-skia` at a stated number of pixels per millimetre or
//! to a stated width. Labels use lamina's small built-in bitmap font.

use tiny_skia::{
    Color, LineCap, LineJoin, Paint, PathBuilder, Pixmap, Rect as SkRect, Stroke, StrokeDash,
    Transform,
};

use super::font;
use super::layout::{Metrics, Scale, layout};
use super::toolpath::{Layer, Toolpath};
use super::{
    BACKGROUND, INK, MAX_PIXELS_SIDE, Palette, PictureOptions, PreviewError, TRAVEL, layer_title,
    picture_region, runs,
};

/// Narrowest PNG picture, pixels (room for the legend).
pub const MIN_WIDTH: u32 = 160;

/// How large a PNG picture is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PngSize {
    /// Pixels per millimetre of the bed: the picture's size follows from the region.
    PxPerMm(f64),
    /// The picture's width in pixels; the scale follows.
    Width(u32),
}

impl Default for PngSize {
    fn default() -> Self {
        PngSize::Width(1200)
    }
}

/// The PNG picture of layer `index` (0-based) of `tp`.
///
/// ```
/// use lamina::preview::{layer_png, PictureOptions, PngSize};
/// use lamina::preview::toolpath::{parse_bytes, ParseOptions};
/// let g = b"M83\nG1 Z0.2\nG1 X0 Y0\n;TYPE:Perimeter\n;WIDTH:0.45\nG1 X20 E1\nG1 Y20 E1\n";
/// let tp = parse_bytes(g, &ParseOptions::default()).unwrap();
/// let png = layer_png(&tp, 0, &PictureOptions::default(), PngSize::Width(400)).unwrap();
/// assert_eq!(&png[1..4], b"PNG");
/// ```
pub fn layer_png(
    tp: &Toolpath,
    index: usize,
    opts: &PictureOptions,
    size: PngSize,
) -> Result<Vec<u8>, PreviewError> {
    let pixmap = render_layer(tp, index, opts, size)?;
    encode(&pixmap)
}

/// Encode a pixmap as PNG.
pub(crate) fn encode(p: &Pixmap) -> Result<Vec<u8>, PreviewError> {
    p.encode_png()
        .map_err(|e| PreviewError::BadSize(format!("cannot encode the PNG: {e}")))
}

/// The font pixel size for a picture about `width` pixels wide.
pub(crate) fn font_scale(width: f64) -> u32 {
    ((width / 450.0).round() as u32).clamp(1, 4)
}

/// A pixmap of the given size, or a clear error.
pub(crate) fn new_pixmap(w: f64, h: f64) -> Result<Pixmap, PreviewError> {
    let (wi, hi) = (w.ceil().max(1.0) as u64, h.ceil().max(1.0) as u64);
    if !(w.is_finite() && h.is_finite()) || wi > MAX_PIXELS_SIDE || hi > MAX_PIXELS_SIDE {
        return Err(PreviewError::TooLarge {
            width: if w.is_finite() { wi } else { u64::MAX },
            height: if h.is_finite() { hi } else { u64::MAX },
        });
    }
    Pixmap::new(wi as u32, hi as u32).ok_or(PreviewError::TooLarge {
        width: wi,
        height: hi,
    })
}

fn render_layer(
    tp: &Toolpath,
    index: usize,
    opts: &PictureOptions,
    size: PngSize,
) -> Result<Pixmap, PreviewError> {
    let layer = tp.layers.get(index).ok_or(PreviewError::NoLayer {
        asked: index + 1,
        count: tp.layers.len(),
    })?;
    let palette = Palette::new(tp, opts.color);
    let legend = palette.legend([layer]);
    let labels: Vec<String> = legend.iter().map(|(_, l)| l.to_uppercase()).collect();
    let region = picture_region(tp, index, opts);
    let (scale, approx_w) = match size {
        PngSize::PxPerMm(p) => {
            if !(p.is_finite() && p > 0.0) {
                return Err(PreviewError::BadSize(format!(
                    "pixels per mm must be a positive number, not {p}"
                )));
            }
            (Scale::PerMm(p), f64::from(region.width()) * p)
        }
        PngSize::Width(w) => {
            if w < MIN_WIDTH {
                return Err(PreviewError::BadSize(format!(
                    "a PNG picture must be at least {MIN_WIDTH} pixels wide, not {w}"
                )));
            }
            (Scale::Width(f64::from(w)), f64::from(w))
        }
    };
    let fs = font_scale(approx_w);
    let m = Metrics {
        font: f64::from(font::GLYPH_H * fs),
        char_w: f64::from(font::ADVANCE * fs),
    };
    let lay = layout(region, scale, m, &labels);
    let mut pm = new_pixmap(lay.width, lay.height)?;
    pm.fill(color(BACKGROUND));
    if opts.bed {
        if let Some(b) = tp.bed {
            let (x0, y0) = lay.map(b.min_x, b.max_y);
            let (x1, y1) = lay.map(b.max_x, b.min_y);
            fill_rect(&mut pm, x0, y0, x1 - x0, y1 - y0, [0x26, 0x2a, 0x31]);
        }
    }
    let transform = Transform::identity();
    draw_layer(
        &mut pm,
        layer,
        &palette,
        &|x, y| lay.map(x, y),
        lay.scale,
        transform,
    );
    if opts.travels && !layer.travels.is_empty() {
        let mut pb = PathBuilder::new();
        for t in &layer.travels {
            let (x0, y0) = lay.map(t.x0, t.y0);
            let (x1, y1) = lay.map(t.x1, t.y1);
            pb.move_to(x0 as f32, y0 as f32);
            pb.line_to(x1 as f32, y1 as f32);
        }
        if let Some(path) = pb.finish() {
            let w = (fs as f32).max(1.0);
            let stroke = Stroke {
                width: w,
                dash: StrokeDash::new(vec![4.0 * w, 3.0 * w], 0.0),
                ..Stroke::default()
            };
            pm.stroke_path(&path, &paint(TRAVEL, 200), &stroke, transform, None);
        }
    }

    // Title, scale bar, legend.
    draw_text(
        &mut pm,
        &layer_title(tp, index),
        lay.title.0,
        lay.title.1,
        fs,
        INK,
    );
    let b = &lay.bar;
    let lw = f64::from(fs).max(1.0);
    fill_rect(&mut pm, b.x0, b.y - lw / 2.0, b.x1 - b.x0, lw, INK);
    let tick = m.font * 0.35;
    for x in [b.x0, b.x1 - lw] {
        fill_rect(&mut pm, x, b.y - tick, lw, 2.0 * tick, INK);
    }
    draw_text(&mut pm, &b.label, b.label_x, b.label_top, fs, INK);
    for ((c, label), item) in legend.iter().zip(&lay.legend) {
        fill_rect(&mut pm, item.x, item.top, item.size, item.size, *c);
        let top = item.top + (item.size - m.font) / 2.0;
        draw_text(&mut pm, label, item.label_x, top, fs, INK);
    }
    Ok(pm)
}

/// Stroke a layer's runs as wide as extruded, with round caps and joins.
pub(crate) fn draw_layer(
    pm: &mut Pixmap,
    layer: &Layer,
    palette: &Palette,
    map: &dyn Fn(f32, f32) -> (f64, f64),
    scale: f64,
    transform: Transform,
) {
    for r in runs(layer, palette) {
        let segs = &layer.segments[r.start..r.end];
        let mut pb = PathBuilder::with_capacity(segs.len() + 1, segs.len() + 1);
        let (x, y) = map(segs[0].x0, segs[0].y0);
        pb.move_to(x as f32, y as f32);
        for s in segs {
            let (x, y) = map(s.x1, s.y1);
            pb.line_to(x as f32, y as f32);
        }
        let Some(path) = pb.finish() else { continue };
        let stroke = Stroke {
            width: (f64::from(r.width) * scale) as f32,
            line_cap: LineCap::Round,
            line_join: LineJoin::Round,
            ..Stroke::default()
        };
        pm.stroke_path(&path, &paint(r.color, 255), &stroke, transform, None);
    }
}

pub(crate) fn color(c: [u8; 3]) -> Color {
    Color::from_rgba8(c[0], c[1], c[2], 255)
}

pub(crate) fn paint(c: [u8; 3], alpha: u8) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color_rgba8(c[0], c[1], c[2], alpha);
    p.anti_alias = true;
    p
}

pub(crate) fn fill_rect(pm: &mut Pixmap, x: f64, y: f64, w: f64, h: f64, c: [u8; 3]) {
    if let Some(r) = SkRect::from_xywh(x as f32, y as f32, w.max(0.5) as f32, h.max(0.5) as f32) {
        let mut p = paint(c, 255);
        p.anti_alias = false;
        pm.fill_rect(r, &p, Transform::identity(), None);
    }
}

/// Draw text with the bitmap font, top-left at `(x, y)`, font pixels `fs` wide.
pub(crate) fn draw_text(pm: &mut Pixmap, text: &str, x: f64, y: f64, fs: u32, c: [u8; 3]) {
    let (w, h) = (pm.width() as i32, pm.height() as i32);
    let s = fs as i32;
    let px = tiny_skia::ColorU8::from_rgba(c[0], c[1], c[2], 255).premultiply();
    let pixels = pm.pixels_mut();
    font::draw_text(
        &text.to_uppercase(),
        x.round() as i32,
        y.round() as i32,
        fs,
        |gx, gy| {
            for yy in gy.max(0)..(gy + s).min(h) {
                for xx in gx.max(0)..(gx + s).min(w) {
                    pixels[(yy * w + xx) as usize] = px;
                }
            }
        },
    );
}
