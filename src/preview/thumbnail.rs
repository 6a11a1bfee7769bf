//! Whole-part pictures: the shaded thumbnail embedded in G-code for printer screens,
//! a side view, and a contact sheet of sampled layers.

use rayon::prelude::*;
use tiny_skia::{IntSize, Pixmap, PixmapPaint, Transform};

use super::png::{draw_layer, draw_text, encode, fill_rect, font_scale};
use super::raster::{View, downsample, render, shade};
use super::toolpath::Toolpath;
use super::{BACKGROUND, ColorBy, INK, Palette, format_mm, nice_length};

/// Largest side of a whole-part picture, pixels.
pub const MAX_SIDE: u32 = 8192;
/// Pictures up to this many pixels are drawn at twice the size and scaled down
/// (smooth edges).
const SUPERSAMPLE_PIXELS: usize = 1 << 20;

/// A shaded view of the whole part from the front right, above, coloured by role, on
/// a transparent background, fitted to `width` x `height` pixels (each clamped to 1 to
/// [`MAX_SIDE`]). Returns the PNG file's bytes.
///
/// ```
/// use lamina::preview::thumbnail_png;
/// use lamina::preview::toolpath::{parse_bytes, ParseOptions};
/// let g = b"M83\nG1 Z0.2\nG1 X0 Y0\nG1 X20 E1\nG1 Y20 E1\nG1 Z0.4\nG1 X0 E1\n";
/// let tp = parse_bytes(g, &ParseOptions::default()).unwrap();
/// let png = thumbnail_png(&tp, 220, 124);
/// let img = tiny_skia::Pixmap::decode_png(&png).unwrap();
/// assert_eq!((img.width(), img.height()), (220, 124));
/// ```
pub fn thumbnail_png(tp: &Toolpath, width: u32, height: u32) -> Vec<u8> {
    shaded_png(tp, View::iso(), width, height, None, false)
}

/// The part seen from the front (a projection along Y: X to the right, Z up), shaded,
/// coloured by role, on the dark background, with a scale bar. Returns PNG bytes.
///
/// ```
/// use lamina::preview::side_view_png;
/// use lamina::preview::toolpath::{parse_bytes, ParseOptions};
/// let g = b"M83\nG1 Z0.2\nG1 X0 Y0\nG1 X20 E1\nG1 Z0.4\nG1 X0 E1\n";
/// let tp = parse_bytes(g, &ParseOptions::default()).unwrap();
/// let img = tiny_skia::Pixmap::decode_png(&side_view_png(&tp, 400, 300)).unwrap();
/// assert_eq!(img.width(), 400);
/// ```
pub fn side_view_png(tp: &Toolpath, width: u32, height: u32) -> Vec<u8> {
    shaded_png(tp, View::side(), width, height, Some(BACKGROUND), true)
}

fn shaded_png(
    tp: &Toolpath,
    view: View,
    width: u32,
    height: u32,
    background: Option<[u8; 3]>,
    scale_bar: bool,
) -> Vec<u8> {
    let (w, h) = (
        width.clamp(1, MAX_SIDE) as usize,
        height.clamp(1, MAX_SIDE) as usize,
    );
    let ss = if w * h <= SUPERSAMPLE_PIXELS { 2 } else { 1 };
    let margin = (w.min(h) as f32 * 0.04).max(1.0);
    let palette = Palette::new(tp, ColorBy::Role);
    let color = move |s: &super::Segment| palette.color(s);
    let img = render(tp, view, w * ss, h * ss, margin * ss as f32, &color);
    let mut rgba = shade(&img, background);
    if ss == 2 {
        rgba = downsample(&rgba, w * 2, h * 2);
    }
    let Some(mut pm) = IntSize::from_wh(w as u32, h as u32).and_then(|s| Pixmap::from_vec(rgba, s))
    else {
        return Vec::new();
    };
    if scale_bar && w >= 120 && h >= 60 {
        let fs = font_scale(w as f64);
        let px_per_mm = f64::from(img.scale) / ss as f64;
        let mm = nice_length(w as f64 * 0.25 / px_per_mm);
        let len = mm * px_per_mm;
        let pad = f64::from(6 * fs);
        let y = h as f64 - pad - f64::from(4 * fs);
        fill_rect(&mut pm, pad, y, len, f64::from(fs), INK);
        for x in [pad, pad + len - f64::from(fs)] {
            fill_rect(
                &mut pm,
                x,
                y - f64::from(2 * fs),
                f64::from(fs),
                f64::from(5 * fs),
                INK,
            );
        }
        let label_y = y - f64::from(3 * fs) - f64::from(7 * fs);
        draw_text(&mut pm, &format_mm(mm), pad, label_y, fs, INK);
    }
    encode(&pm).unwrap_or_default()
}

/// A grid of `layers` layers sampled evenly from first to last (all of them if the
/// file has fewer), each drawn from above at one common scale and labelled with its
/// number and Z; `width` pixels wide (clamped to 64 to [`MAX_SIDE`]). Returns PNG
/// bytes.
///
/// ```
/// use lamina::preview::contact_sheet_png;
/// use lamina::preview::toolpath::{parse_bytes, ParseOptions};
/// let g = b"M83\nG1 Z0.2\nG1 X0 Y0\nG1 X20 E1\nG1 Z0.4\nG1 X0 E1\nG1 Z0.6\nG1 X20 E1\n";
/// let tp = parse_bytes(g, &ParseOptions::default()).unwrap();
/// let img = tiny_skia::Pixmap::decode_png(&contact_sheet_png(&tp, 4, 600)).unwrap();
/// assert_eq!(img.width(), 600);
/// ```
pub fn contact_sheet_png(tp: &Toolpath, layers: usize, width: u32) -> Vec<u8> {
    let width = width.clamp(64, MAX_SIDE);
    let total = tp.layers.len();
    let n = layers.clamp(1, total.max(1));
    let picks: Vec<usize> = if total == 0 {
        Vec::new()
    } else if n == 1 {
        vec![total - 1]
    } else {
        let mut v: Vec<usize> = (0..n)
            .map(|k| ((k * (total - 1)) as f64 / (n - 1) as f64).round() as usize)
            .collect();
        v.dedup();
        v
    };
    let n = picks.len().max(1);
    let cols = (n as f64).sqrt().ceil() as u32;
    let rows = (n as u32).div_ceil(cols);
    let tile_w = (width / cols).max(1);
    let fs = font_scale(f64::from(tile_w) * 2.0).min(2);
    let label_h = 11 * fs;
    // The part (a prime line along the bed's edge would shrink every tile), with
    // room for the lines' width.
    let half_width = tp
        .layers
        .iter()
        .flat_map(|l| l.segments.iter())
        .map(|s| s.width)
        .fold(0.0f32, f32::max)
        / 2.0;
    let region = tp.part_extent().inflate(half_width);
    let (rw, rh) = if region.is_empty() {
        (1.0, 1.0)
    } else {
        (region.width().max(1e-3), region.height().max(1e-3))
    };
    let aspect = (rh / rw).clamp(0.25, 4.0);
    let draw_h = ((tile_w as f32) * aspect).round().max(1.0) as u32;
    let tile_h = draw_h + label_h;
    let height = (rows * tile_h).clamp(1, MAX_SIDE);
    let pad = (tile_w as f32 * 0.05).max(2.0);
    let scale = ((tile_w as f32 - 2.0 * pad) / rw)
        .min((draw_h as f32 - 2.0 * pad) / rh)
        .max(1e-3);
    let palette = Palette::new(tp, ColorBy::Role);

    let tiles: Vec<Option<Pixmap>> = picks
        .par_iter()
        .map(|&li| {
            let mut pm = Pixmap::new(tile_w, tile_h)?;
            pm.fill(super::png::color(BACKGROUND));
            let ox = (tile_w as f32 - rw * scale) / 2.0;
            let oy = label_h as f32 + (draw_h as f32 - rh * scale) / 2.0;
            let map = |x: f32, y: f32| {
                (
                    f64::from(ox + (x - region.min_x) * scale),
                    f64::from(oy + (region.max_y - y) * scale),
                )
            };
            let l = &tp.layers[li];
            draw_layer(
                &mut pm,
                l,
                &palette,
                &map,
                f64::from(scale),
                Transform::identity(),
            );
            let label = format!("{} Z {:.2}", li + 1, l.z);
            draw_text(
                &mut pm,
                &label,
                f64::from(2 * fs),
                f64::from(2 * fs),
                fs,
                INK,
            );
            // A thin frame between tiles.
            fill_rect(
                &mut pm,
                0.0,
                0.0,
                1.0,
                f64::from(tile_h),
                [0x33, 0x37, 0x40],
            );
            fill_rect(
                &mut pm,
                0.0,
                0.0,
                f64::from(tile_w),
                1.0,
                [0x33, 0x37, 0x40],
            );
            Some(pm)
        })
        .collect();
    let Some(mut sheet) = Pixmap::new(width, height) else {
        return Vec::new();
    };
    sheet.fill(super::png::color(BACKGROUND));
    for (k, tile) in tiles.iter().enumerate() {
        if let Some(t) = tile {
            let (c, r) = (k as u32 % cols, k as u32 / cols);
            sheet.draw_pixmap(
                (c * tile_w) as i32,
                (r * tile_h) as i32,
                t.as_ref(),
                &PixmapPaint::default(),
                Transform::identity(),
                None,
            );
        }
    }
    encode(&sheet).unwrap_or_default()
}
