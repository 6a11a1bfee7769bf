//! Where things go on a layer picture: title on top, the layer to scale, then the
//! scale bar and the legend. Shared by SVG (units are millimetres) and PNG (units are
//! pixels).

use super::toolpath::Rect;
use super::{format_mm, nice_length};

/// Margin around the drawn region, as a share of its larger side.
const MARGIN_SHARE: f32 = 0.05;
/// Smallest margin, mm.
const MIN_MARGIN: f32 = 1.0;
/// Smallest region drawn, mm (a single dot of a layer still gets a frame).
const MIN_REGION: f32 = 4.0;
/// The scale bar is at most this share of the drawing's width.
const BAR_SHARE: f64 = 0.3;

/// How the picture is scaled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scale {
    /// Units per mm; the picture grows to fit the region and the legend.
    PerMm(f64),
    /// The picture's width in units; the scale follows.
    Width(f64),
}

/// Text size in picture units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Metrics {
    /// Height of capitals.
    pub font: f64,
    /// Advance per character.
    pub char_w: f64,
}

/// The scale bar: a line `mm` long, with its label.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bar {
    pub x0: f64,
    pub x1: f64,
    pub y: f64,
    pub mm: f64,
    pub label: String,
    pub label_x: f64,
    pub label_top: f64,
}

/// One legend entry: a square swatch and its label.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Item {
    pub x: f64,
    pub top: f64,
    pub size: f64,
    pub label_x: f64,
}

/// A computed layout.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Layout {
    pub width: f64,
    pub height: f64,
    /// Units per mm.
    pub scale: f64,
    /// The region of the bed drawn, mm (with margins).
    pub region: Rect,
    /// Top of the drawing area.
    pub draw_top: f64,
    pub metrics: Metrics,
    /// Top-left of the title.
    pub title: (f64, f64),
    pub bar: Bar,
    /// Legend entries, in the order of the labels given.
    pub legend: Vec<Item>,
}

impl Layout {
    /// Where a point of the bed lands (Y up on the bed, down in the picture).
    pub fn map(&self, x: f32, y: f32) -> (f64, f64) {
        (
            f64::from(x - self.region.min_x) * self.scale,
            self.draw_top + f64::from(self.region.max_y - y) * self.scale,
        )
    }

    /// Height of the drawing area.
    #[cfg(test)]
    pub fn draw_height(&self) -> f64 {
        f64::from(self.region.height()) * self.scale
    }
}

/// Lay out a picture of `content` (mm) with legend `labels`.
pub(crate) fn layout(content: Rect, scale: Scale, m: Metrics, labels: &[String]) -> Layout {
    let content = if content.is_empty() {
        Rect {
            min_x: 0.0,
            min_y: 0.0,
            max_x: MIN_REGION,
            max_y: MIN_REGION,
        }
    } else {
        content
    };
    let side = content.width().max(content.height());
    let margin = (side * MARGIN_SHARE).max(MIN_MARGIN);
    let mut region = content.inflate(margin);
    for (lo, hi) in [
        (&mut region.min_x, &mut region.max_x),
        (&mut region.min_y, &mut region.max_y),
    ] {
        let grow = (MIN_REGION - (*hi - *lo)).max(0.0) / 2.0;
        *lo -= grow;
        *hi += grow;
    }
    let pad = m.font * 0.8;
    let swatch = m.font * 1.1;
    let item_w = |label: &str| swatch + m.font * 0.5 + label.chars().count() as f64 * m.char_w;
    let widest = labels.iter().map(|l| item_w(l)).fold(0.0, f64::max);
    let title_w = 44.0 * m.char_w;
    let scale = match scale {
        Scale::PerMm(s) => {
            // Widen the region (centred) when the legend needs more room.
            let need = (widest + 2.0 * pad).max(title_w + 2.0 * pad) / s;
            let have = f64::from(region.width());
            if need > have {
                let grow = ((need - have) / 2.0) as f32;
                region.min_x -= grow;
                region.max_x += grow;
            }
            s
        }
        Scale::Width(w) => w / f64::from(region.width()),
    };
    let width = f64::from(region.width()) * scale;
    let header = m.font * 2.4;
    let title = (pad, m.font * 0.7);
    let draw_top = header;
    let draw_h = f64::from(region.height()) * scale;

    // Scale bar: a round length, at most a share of the width.
    let mut y = draw_top + draw_h + m.font * 1.2;
    let bar_mm = nice_length(width * BAR_SHARE / scale);
    let label = format_mm(bar_mm);
    let bar = Bar {
        x0: pad,
        x1: pad + bar_mm * scale,
        y: y + m.font * 0.5,
        mm: bar_mm,
        label_x: pad + bar_mm * scale + m.font * 0.6,
        label_top: y,
        label,
    };
    y += m.font * 2.0;

    // Legend: left to right, wrapping.
    let mut legend = Vec::with_capacity(labels.len());
    let mut x = pad;
    let row_h = m.font * 1.8;
    for l in labels {
        let w = item_w(l);
        if x > pad && x + w > width - pad {
            x = pad;
            y += row_h;
        }
        legend.push(Item {
            x,
            top: y + (m.font - swatch) / 2.0,
            size: swatch,
            label_x: x + swatch + m.font * 0.5,
        });
        x += w + m.font * 1.5;
    }
    if !labels.is_empty() {
        y += row_h;
    }
    let height = y + m.font * 0.4;
    Layout {
        width,
        height,
        scale,
        region,
        draw_top,
        metrics: m,
        title,
        bar,
        legend,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square() -> Rect {
        Rect {
            min_x: 100.0,
            min_y: 100.0,
            max_x: 120.0,
            max_y: 120.0,
        }
    }

    #[test]
    fn scale_is_exact_and_y_points_down() {
        let m = Metrics {
            font: 1.5,
            char_w: 0.9,
        };
        let l = layout(square(), Scale::PerMm(1.0), m, &["Perimeter".into()]);
        let (x0, y0) = l.map(100.0, 100.0);
        let (x1, y1) = l.map(120.0, 120.0);
        assert!((x1 - x0 - 20.0).abs() < 1e-9);
        assert!((y0 - y1 - 20.0).abs() < 1e-9);
        assert!(x0 > 0.0 && x1 < l.width && y1 >= l.draw_top);
        assert!((l.bar.x1 - l.bar.x0 - l.bar.mm).abs() < 1e-9);
        assert!(l.legend[0].top > l.draw_top + l.draw_height());
        assert!(l.height > l.legend[0].top);
    }

    #[test]
    fn fixed_width_sets_the_scale() {
        let m = Metrics {
            font: 14.0,
            char_w: 12.0,
        };
        let l = layout(square(), Scale::Width(800.0), m, &[]);
        assert!((l.width - 800.0).abs() < 1e-9);
        let (x0, _) = l.map(100.0, 100.0);
        let (x1, _) = l.map(120.0, 100.0);
        assert!((x1 - x0 - 20.0 * l.scale).abs() < 1e-6);
        // The legend wraps within the width.
        let labels: Vec<String> = (0..12).map(|i| format!("Role number {i}")).collect();
        let l = layout(square(), Scale::Width(400.0), m, &labels);
        assert!(
            l.legend
                .iter()
                .all(|i| i.label_x + 13.0 * 12.0 <= 400.0 + 1e-6)
        );
        assert!(l.legend.last().unwrap().top > l.legend[0].top);
    }
}
