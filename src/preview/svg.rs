//! One layer as SVG, in millimetres: the `viewBox` is the picture's size in mm and the
//! `width`/`height` say `mm`, so a 20 mm line measures 20 mm on screen at 100 % and on
//! paper.
//!
//! Structure (stable, for tools that read it): `<g id="extrusions">` holds one `<path>`
//! per run of joined lines of one colour and width, stroked as wide as extruded with
//! round caps; `<g id="travels">` the dashed travels; `<g id="scale-bar">` a
//! `<line id="scale-bar-line">` and its `<text id="scale-bar-label">`; `<g
//! id="legend">` a swatch and a label per role, tool or speed shown; `<text
//! id="title">` the layer's number and Z.

use std::fmt::Write;

use super::layout::{Layout, Metrics, Scale, layout};
use super::toolpath::Toolpath;
use super::{
    BACKGROUND, INK, Palette, PictureOptions, PreviewError, TRAVEL, layer_title, picture_region,
    runs,
};

/// Text height as a share of the picture's larger side, and its bounds, mm.
const FONT_SHARE: f64 = 0.03;
const FONT_RANGE: (f64, f64) = (1.0, 8.0);
/// Average advance of a sans-serif character, in text heights.
const CHAR_W: f64 = 0.62;
/// Travel lines: width and dash pattern, in text heights.
const TRAVEL_W: f64 = 0.06;
const TRAVEL_DASH: (f64, f64) = (0.5, 0.35);

/// The SVG picture of layer `index` (0-based) of `tp`.
///
/// ```
/// use lamina::preview::{layer_svg, PictureOptions};
/// use lamina::preview::toolpath::{parse_bytes, ParseOptions};
/// let g = b"M83\n;LAYER_CHANGE\n;Z:0.2\n;HEIGHT:0.2\nG1 Z0.2\nG1 X0 Y0\n;TYPE:External perimeter\n;WIDTH:0.45\nG1 X20 E1\nG1 Y20 E1\nG1 X0 E1\nG1 Y0 E1\n";
/// let tp = parse_bytes(g, &ParseOptions::default()).unwrap();
/// let svg = layer_svg(&tp, 0, &PictureOptions::default()).unwrap();
/// assert!(svg.contains("External perimeter"));
/// assert_eq!(svg.matches("<path ").count(), 1);
/// ```
pub fn layer_svg(
    tp: &Toolpath,
    index: usize,
    opts: &PictureOptions,
) -> Result<String, PreviewError> {
    let layer = tp.layers.get(index).ok_or(PreviewError::NoLayer {
        asked: index + 1,
        count: tp.layers.len(),
    })?;
    let palette = Palette::new(tp, opts.color);
    let legend = palette.legend([layer]);
    let labels: Vec<String> = legend.iter().map(|(_, l)| l.clone()).collect();
    let region = picture_region(tp, index, opts);
    let side = f64::from(region.width().max(region.height()));
    let font = (side * FONT_SHARE).clamp(FONT_RANGE.0, FONT_RANGE.1);
    let lay = layout(
        region,
        Scale::PerMm(1.0),
        Metrics {
            font,
            char_w: font * CHAR_W,
        },
        &labels,
    );

    let mut s = String::with_capacity(256 + layer.segments.len() * 16);
    let (w, h) = (lay.width, lay.height);
    let _ = write!(
        s,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}mm\" height=\"{}mm\" viewBox=\"0 0 {} {}\" \
         font-family=\"Helvetica, Arial, sans-serif\">\n",
        num(w),
        num(h),
        num(w),
        num(h)
    );
    let title = layer_title(tp, index);
    let _ = writeln!(s, "<title>{}</title>", escape(&title));
    let _ = writeln!(
        s,
        "<rect id=\"background\" x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"{}\"/>",
        num(w),
        num(h),
        hex(BACKGROUND)
    );
    if opts.bed {
        if let Some(b) = tp.bed {
            let (x0, y0) = lay.map(b.min_x, b.max_y);
            let _ = writeln!(
                s,
                "<rect id=\"bed\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#262a31\" stroke=\"#3a3f48\" stroke-width=\"{}\"/>",
                num(x0),
                num(y0),
                num(f64::from(b.width()) * lay.scale),
                num(f64::from(b.height()) * lay.scale),
                num(font * TRAVEL_W)
            );
        }
    }
    text(&mut s, "title", lay.title.0, lay.title.1, &lay, &title);

    s.push_str(
        "<g id=\"extrusions\" fill=\"none\" stroke-linecap=\"round\" stroke-linejoin=\"round\">\n",
    );
    for r in runs(layer, &palette) {
        let segs = &layer.segments[r.start..r.end];
        let (x, y) = lay.map(segs[0].x0, segs[0].y0);
        let _ = write!(s, "<path d=\"M{} {}", num(x), num(y));
        for seg in segs {
            let (x, y) = lay.map(seg.x1, seg.y1);
            let _ = write!(s, " {} {}", num(x), num(y));
        }
        let _ = writeln!(
            s,
            "\" stroke=\"{}\" stroke-width=\"{}\"/>",
            hex(r.color),
            num(f64::from(r.width) * lay.scale)
        );
    }
    s.push_str("</g>\n");

    if opts.travels && !layer.travels.is_empty() {
        let _ = writeln!(
            s,
            "<g id=\"travels\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\" stroke-dasharray=\"{} {}\" stroke-opacity=\"0.8\">",
            hex(TRAVEL),
            num(font * TRAVEL_W),
            num(font * TRAVEL_DASH.0),
            num(font * TRAVEL_DASH.1)
        );
        for t in &layer.travels {
            let (x0, y0) = lay.map(t.x0, t.y0);
            let (x1, y1) = lay.map(t.x1, t.y1);
            let _ = writeln!(
                s,
                "<path d=\"M{} {} L{} {}\"/>",
                num(x0),
                num(y0),
                num(x1),
                num(y1)
            );
        }
        s.push_str("</g>\n");
    }

    let b = &lay.bar;
    let tick = font * 0.35;
    let _ = writeln!(
        s,
        "<g id=\"scale-bar\" stroke=\"{}\" stroke-width=\"{}\">",
        hex(INK),
        num(font * 0.12)
    );
    let _ = writeln!(
        s,
        "<line id=\"scale-bar-line\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" data-mm=\"{}\"/>",
        num(b.x0),
        num(b.y),
        num(b.x1),
        num(b.y),
        num(b.mm)
    );
    for x in [b.x0, b.x1] {
        let _ = writeln!(
            s,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>",
            num(x),
            num(b.y - tick),
            num(x),
            num(b.y + tick)
        );
    }
    text(
        &mut s,
        "scale-bar-label",
        b.label_x,
        b.label_top,
        &lay,
        &b.label,
    );
    s.push_str("</g>\n<g id=\"legend\">\n");
    for ((color, label), item) in legend.iter().zip(&lay.legend) {
        let _ = writeln!(
            s,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"/>",
            num(item.x),
            num(item.top),
            num(item.size),
            num(item.size),
            hex(*color)
        );
        text(
            &mut s,
            "",
            item.label_x,
            item.top + (item.size - font) / 2.0,
            &lay,
            label,
        );
    }
    s.push_str("</g>\n</svg>\n");
    Ok(s)
}

/// A text whose capitals span `top` to `top + font`.
fn text(s: &mut String, id: &str, x: f64, top: f64, lay: &Layout, t: &str) {
    let font = lay.metrics.font;
    // Capitals are about 0.72 of the font size in common sans-serif faces.
    let size = font / 0.72;
    let id = if id.is_empty() {
        String::new()
    } else {
        format!(" id=\"{id}\"")
    };
    let _ = writeln!(
        s,
        "<text{id} x=\"{}\" y=\"{}\" font-size=\"{}\" fill=\"{}\">{}</text>",
        num(x),
        num(top + font),
        num(size),
        hex(INK),
        escape(t)
    );
}

/// A number with at most 3 decimals, without trailing zeros.
fn num(v: f64) -> String {
    let mut s = format!("{v:.3}");
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

fn hex(c: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(num(20.0), "20");
        assert_eq!(num(0.45), "0.45");
        assert_eq!(num(-0.0001), "0");
        assert_eq!(num(1.23456), "1.235");
    }
}
