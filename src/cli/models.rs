//! Loading models with a progress bar, and the transform options.

use std::path::{Path, PathBuf};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use lamina::mesh::{Object, io, place::Transform};

use super::{Global, usage};

/// Load every object of every file, in order.
pub fn load_models(paths: &[PathBuf], global: &Global) -> Result<Vec<Object>> {
    let mut objects = Vec::new();
    for path in paths {
        let bar = if global.show_progress() {
            let b = ProgressBar::new(0);
            b.set_style(
                ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b.set_message(format!("loading {}", path.display()));
            Some(b)
        } else {
            None
        };
        let report = |done: u64, total: u64| {
            if let Some(b) = &bar {
                b.set_length(total);
                b.set_position(done);
            }
        };
        let loaded = io::load_with_progress(path, &report);
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        objects.extend(loaded?);
    }
    Ok(objects)
}

/// Load models given as `MODEL` or `MODEL@N`, and `--tool N MODEL` pairs (`pairs` as
/// clap gives them: N, MODEL, N, MODEL...). When any model is assigned to a tool, all
/// the models are parts of one assembly (in their file coordinates; unassigned ones on
/// tool 0); the objects of a 3MF file that assigns extruders are one assembly too.
/// Returns the objects and the file each came from.
pub fn load_assigned(
    models: &[PathBuf],
    pairs: &[String],
    tools: usize,
    global: &Global,
) -> Result<(Vec<Object>, Vec<PathBuf>)> {
    let mut specs: Vec<(PathBuf, Option<usize>)> = models.iter().map(|m| split_tool(m)).collect();
    for pair in pairs.chunks(2) {
        let [n, model] = pair else {
            return Err(usage!(
                "--tool takes a tool number and a model: --tool 1 aneurysm.stl"
            ));
        };
        let tool: usize = n
            .parse()
            .map_err(|_| usage!("--tool {n} {model}: '{n}' is not a tool number (0, 1, ...)"))?;
        specs.push((PathBuf::from(model), Some(tool)));
    }
    // With any tool assignment, the models are parts of one assembly.
    let assembly = specs.iter().any(|(_, t)| t.is_some());
    let mut objects = Vec::new();
    let mut files = Vec::new();
    for (k, (path, tool)) in specs.iter().enumerate() {
        if let Some(t) = tool {
            if *t >= tools {
                return Err(usage!(
                    "{}: tool {t} does not exist; the printer has {tools} tool{} (numbered from 0)",
                    path.display(),
                    if tools == 1 { "" } else { "s" }
                ));
            }
        }
        let mut loaded = load_models(std::slice::from_ref(path), global)?;
        for o in &mut loaded {
            if assembly {
                o.tool = Some(tool.unwrap_or(0));
                o.group = Some(0);
            } else if o.tool.is_some() {
                if o.tool.is_some_and(|t| t >= tools) {
                    anyhow::bail!(
                        "{}: object '{}' is assigned to extruder {} but the printer has {tools} tool{}",
                        path.display(),
                        o.name,
                        o.tool.unwrap_or(0) + 1,
                        if tools == 1 { "" } else { "s" }
                    );
                }
                o.group = Some(k + 1);
            }
        }
        files.extend(std::iter::repeat_n(path.clone(), loaded.len()));
        objects.extend(loaded);
    }
    Ok((objects, files))
}

/// Mesh file extensions: G-code written under one of them would pass for a model.
const MESH_EXTENSIONS: [&str; 3] = ["stl", "obj", "3mf"];

/// Refuse a G-code output that would replace one of the models (`models` and `pairs` as
/// [`load_assigned`] takes them) or that has a mesh file's extension: a typo such as
/// `lamina slice skull.stl -o skull.stl` must not turn the scan into G-code.
pub fn check_gcode_output(output: &Path, models: &[PathBuf], pairs: &[String]) -> Result<()> {
    if output.as_os_str() == "-" {
        return Ok(());
    }
    let inputs = models
        .iter()
        .map(|m| split_tool(m).0)
        .chain(pairs.chunks(2).filter_map(|p| p.get(1)).map(PathBuf::from));
    for model in inputs {
        if lamina::output::same_file(output, &model) {
            return Err(usage!(
                "-o '{}' is the model '{}': the G-code would replace it; give the output a name ending in .gcode",
                output.display(),
                model.display()
            ));
        }
    }
    let ext = output
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    if let Some(ext) = ext.filter(|e| MESH_EXTENSIONS.contains(&e.as_str())) {
        return Err(usage!(
            "-o '{}' names a .{ext} mesh file, but slice writes G-code; give the output a name ending in .gcode",
            output.display()
        ));
    }
    Ok(())
}

/// `MODEL@N` → (MODEL, Some(N)) when MODEL is not itself a file with that name.
fn split_tool(arg: &std::path::Path) -> (PathBuf, Option<usize>) {
    let s = arg.to_string_lossy();
    if !arg.exists() {
        if let Some((path, n)) = s.rsplit_once('@') {
            if let Ok(t) = n.parse::<usize>() {
                return (PathBuf::from(path), Some(t));
            }
        }
    }
    (arg.to_path_buf(), None)
}

/// Parse `--scale F` or `--scale X,Y,Z`.
pub fn parse_scale(s: &str) -> Result<[f64; 3]> {
    let v = parse_numbers(s, "--scale")?;
    let scale = match v.as_slice() {
        [f] => [*f; 3],
        [x, y, z] => [*x, *y, *z],
        _ => {
            return Err(usage!(
                "--scale takes one factor or three (X,Y,Z), got '{s}'"
            ));
        }
    };
    if scale.contains(&0.0) {
        return Err(usage!("--scale cannot be zero"));
    }
    Ok(scale)
}

/// Parse `--rotate X,Y,Z` (degrees about each axis; all three are required, so that
/// `--rotate 90` is not silently taken for one axis).
pub fn parse_rotate(s: &str) -> Result<[f64; 3]> {
    match parse_numbers(s, "--rotate")?.as_slice() {
        [x, y, z] => Ok([*x, *y, *z]),
        [a] => Err(usage!(
            "--rotate takes three angles in degrees, X,Y,Z: for {a} degrees about Z write --rotate 0,0,{a}"
        )),
        _ => Err(usage!(
            "--rotate takes three angles in degrees (X,Y,Z), got '{s}'"
        )),
    }
}

fn parse_numbers(s: &str, flag: &str) -> Result<Vec<f64>> {
    s.split(',')
        .map(|p| {
            p.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| usage!("{flag}: '{}' is not a number", p.trim()))
        })
        .collect()
}

/// The transform from the options.
pub fn transform(scale: Option<&str>, rotate: Option<&str>) -> Result<Transform> {
    Ok(Transform {
        scale: scale.map(parse_scale).transpose()?.unwrap_or([1.0; 3]),
        rotate_deg: rotate.map(parse_rotate).transpose()?.unwrap_or([0.0; 3]),
    })
}
