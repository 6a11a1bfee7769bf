//! `lamina preview`: pictures of a G-code file's toolpaths (one layer as SVG or PNG, or
//! all layers in a 3D HTML viewer).

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, ValueEnum};
use lamina::preview::html::HtmlOptions;
use lamina::preview::toolpath::{ParseOptions, read_file};
use lamina::preview::{
    ColorBy, PictureOptions, PngSize, PreviewError, check_layer, html_viewer, layer_png, layer_svg,
};

use super::{Global, usage};

/// Options of `lamina preview`.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  lamina preview skull.gcode --layer 40 -o layer40.svg\n  \
                  lamina preview skull.gcode --z 12.6 -o z12.png --color speed --travel\n  \
                  lamina preview skull.gcode --layer 1 -o first.png --bed --px-per-mm 5\n  \
                  lamina preview skull.gcode -o skull.html   # all layers in 3D, in a browser",
    long_about = "Draw what a G-code file prints. An SVG or PNG shows one layer from above, to \
                  scale (an SVG in millimetres, a PNG at --px-per-mm or --size), with a legend, \
                  a scale bar and the layer's Z. An HTML file shows every layer in 3D (WebGL, \
                  one self-contained file, no network) with a layer slider. Layers are numbered \
                  from 1. Reads the comments of lamina, PrusaSlicer, Cura and OrcaSlicer."
)]
pub struct PreviewArgs {
    /// The G-code file.
    #[arg(value_name = "FILE.gcode")]
    gcode: PathBuf,
    /// Output file: .svg or .png (one layer), .html (all layers, 3D).
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
    /// The layer to draw, numbered from 1 (for HTML: the layer shown first).
    #[arg(long, value_name = "N", conflicts_with = "z")]
    layer: Option<usize>,
    /// Draw the layer holding this height, mm.
    #[arg(long, value_name = "Z", allow_negative_numbers = true)]
    z: Option<f32>,
    /// What the colours tell.
    #[arg(long, value_enum, ignore_case = true, default_value_t = ColorArg::Role)]
    color: ColorArg,
    /// Draw travel moves (thin dashed lines).
    #[arg(long)]
    travel: bool,
    /// Show the whole bed instead of the layer's extent.
    #[arg(long)]
    bed: bool,
    /// PNG resolution, pixels per millimetre.
    #[arg(long, value_name = "PX", conflicts_with = "size")]
    px_per_mm: Option<f64>,
    /// PNG width in pixels (default 1200 unless --px-per-mm is given).
    #[arg(long, value_name = "PX")]
    size: Option<u32>,
}

/// `--color` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ColorArg {
    /// By extrusion role (perimeter, infill, support, ...).
    Role,
    /// By tool (extruder).
    Tool,
    /// By speed.
    Speed,
}

/// Output formats, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Svg,
    Png,
    Html,
}

fn format_of(path: &Path) -> Option<Format> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "svg" => Some(Format::Svg),
        "png" => Some(Format::Png),
        "html" | "htm" => Some(Format::Html),
        _ => None,
    }
}

/// Run `lamina preview`.
pub fn run(args: PreviewArgs, global: Global) -> Result<()> {
    let out = &args.output;
    let Some(format) = format_of(out) else {
        return Err(usage!(
            "cannot tell the picture format of '{}': give an output file ending in .svg, .png or .html",
            out.display()
        ));
    };
    if format != Format::Png && (args.size.is_some() || args.px_per_mm.is_some()) {
        return Err(usage!("--size and --px-per-mm apply to PNG pictures only"));
    }
    let pending = lamina::output::PendingFile::create(out)?;
    let color = match args.color {
        ColorArg::Role => ColorBy::Role,
        ColorArg::Tool => ColorBy::Tool,
        ColorArg::Speed => ColorBy::Speed,
    };
    let parse = ParseOptions {
        travels: args.travel && format != Format::Html,
        ..ParseOptions::default()
    };
    let tp = read_file(&args.gcode, &parse)?;
    let name = args.gcode.display();
    let count = tp.layers.len();
    let (zlo, zhi) = (tp.layers[0].z, tp.layers[count - 1].z);

    let index = match (args.layer, args.z) {
        (Some(n), _) => {
            Some(check_layer(&tp, n).map_err(|_| {
                usage!("layer {n} is out of range: '{name}' has layers 1 to {count}")
            })?)
        }
        (None, Some(z)) => Some(tp.layer_at_z(z).ok_or_else(|| {
            usage!("no layer at Z {z} mm: the layers of '{name}' span Z {zlo:.2} to {zhi:.2} mm")
        })?),
        (None, None) => None,
    };

    let bytes: Vec<u8> = match format {
        Format::Html => {
            let title = args
                .gcode
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut page = Vec::new();
            html_viewer(
                &tp,
                &HtmlOptions {
                    title,
                    initial_layer: index,
                    color,
                },
                &mut page,
            )?;
            page
        }
        Format::Svg | Format::Png => {
            let Some(index) = index else {
                return Err(usage!(
                    "a picture of one layer needs --layer N or --z Z: '{name}' has layers 1 to {count} (Z {zlo:.2} to {zhi:.2} mm); for all layers write an .html file"
                ));
            };
            let opts = PictureOptions {
                color,
                travels: args.travel,
                bed: args.bed,
            };
            let drawn: Result<Vec<u8>, PreviewError> = if format == Format::Svg {
                layer_svg(&tp, index, &opts).map(String::into_bytes)
            } else {
                let size = match (args.px_per_mm, args.size) {
                    (Some(p), _) => PngSize::PxPerMm(p),
                    (None, Some(w)) => PngSize::Width(w),
                    (None, None) => PngSize::default(),
                };
                layer_png(&tp, index, &opts, size)
            };
            match drawn {
                Ok(b) => b,
                Err(e @ (PreviewError::BadSize(_) | PreviewError::TooLarge { .. })) => {
                    return Err(usage!("{e}"));
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    pending.write(|w| w.write_all(&bytes))?;
    if !global.quiet {
        let what = match index {
            Some(i) if format != Format::Html => {
                format!("layer {} of {}, Z {:.2} mm", i + 1, count, tp.layers[i].z)
            }
            _ => format!(
                "{count} layers, {} segments, {:.1} MB",
                tp.segment_count(),
                bytes.len() as f64 / 1e6
            ),
        };
        eprintln!("wrote {}: {what}", out.display());
    }
    Ok(())
}
