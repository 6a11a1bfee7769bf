//! `lamina compare`: one model, several support strategies, the figures side by side.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use lamina::audit::{AuditOptions, audit};
use lamina::preview::toolpath::ParseOptions;
use serde::Serialize;

use super::slice::{JobArgs, placed_objects};
use super::{Global, out, out_json, usage};

/// Options of `lamina compare`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    lamina compare aneurysm.stl --support grid,tree\n  \
    lamina compare aneurysm.stl --support grid,tree,soluble --printer dual-marlin \\\n    \
      --material pla --material pva --json\n\n\
    `soluble` is grid support printed in the soluble material (a dual-nozzle printer\n\
    with PVA or BVOH loaded).")]
pub struct CompareArgs {
    /// Model files (STL, OBJ, 3MF).
    #[arg(required = true, value_name = "MODEL")]
    models: Vec<PathBuf>,
    /// Strategies to compare, comma-separated: none, grid, tree, soluble.
    #[arg(long = "support", value_name = "LIST", default_value = "grid,tree")]
    strategies: String,
    #[command(flatten)]
    job: JobArgs,
    /// Also keep each strategy's G-code in this folder, as `<model>-<strategy>.gcode`.
    #[arg(long, value_name = "DIR")]
    gcode_dir: Option<PathBuf>,
    /// Print the table as JSON on standard output.
    #[arg(long)]
    json: bool,
}

/// One strategy's figures. Held, floating, contact, inside, retractions and travel are
/// measured from the G-code read back against the placed models.
#[derive(Debug, Serialize)]
struct Row {
    strategy: String,
    /// Share of the overhang points (surfaces flatter than the support angle) with
    /// extrusion under them; `null` when the models have no overhang.
    held: Option<f64>,
    overhang_points: usize,
    support_filament_mm: f64,
    support_filament_g: f64,
    soluble_filament_mm: f64,
    support_length_mm: f64,
    floating_support_mm: f64,
    floating_share: f64,
    contact_area_mm2: f64,
    support_inside_mm3: f64,
    support_inside_share: f64,
    retractions: usize,
    travel_mm: f64,
    extrusion_mm: f64,
    time_s: f64,
    time: String,
    tool_changes: usize,
    /// Where the G-code was kept (`--gcode-dir`).
    #[serde(skip_serializing_if = "Option::is_none")]
    gcode: Option<PathBuf>,
}

/// Run `lamina compare`.
pub fn run(args: CompareArgs, global: Global) -> Result<()> {
    let strategies: Vec<String> = args
        .strategies
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    if strategies.is_empty() {
        return Err(usage!(
            "--support needs at least one of none, grid, tree, soluble"
        ));
    }
    // Every name and its settings are checked before the first slice.
    let settings: Vec<lamina::profile::Settings> = strategies
        .iter()
        .map(|strategy| match strategy.as_str() {
            "none" => Ok(vec!["support_material=none".into()]),
            "grid" => Ok(vec!["support_material=grid".into()]),
            "tree" => Ok(vec!["support_material=tree".into()]),
            "soluble" => Ok(vec![
                "support_material=grid".into(),
                "soluble_support=all".into(),
            ]),
            other => Err(usage!(
                "unknown support strategy '{other}': use none, grid, tree or soluble"
            )),
        })
        .map(|overrides| args.job.settings_with(overrides?))
        .collect::<Result<_>>()?;
    if let Some(dir) = &args.gcode_dir {
        lamina::output::check_folder(dir)?;
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot make the folder '{}': {e}", dir.display()))?;
    }
    let stem = args.models[0]
        .file_stem()
        .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned());
    // Ctrl-C leaves no half-written G-code in --gcode-dir.
    let _interrupts = lamina::output::ExitOnSignal::new();
    let mut rows = Vec::new();
    for (strategy, settings) in strategies.iter().zip(&settings) {
        let objects = placed_objects(&args.models, &args.job, settings, &global)?;
        if !global.quiet {
            eprintln!("slicing with {strategy} support...");
        }
        // The G-code goes to a file and is read back: the figures are what it prints.
        let scratch;
        let (path, kept) = match &args.gcode_dir {
            Some(dir) => {
                let path = dir.join(format!("{stem}-{strategy}.gcode"));
                (path.clone(), Some(path))
            }
            None => {
                scratch = tempfile::Builder::new()
                    .prefix("lamina-compare-")
                    .suffix(".gcode")
                    .tempfile()?;
                (scratch.path().to_path_buf(), None)
            }
        };
        let spill_dir = path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let mut report = None;
        lamina::output::write_atomically(&path, |out| {
            let target = lamina::pipeline::Output::Gcode {
                out,
                spill_dir: &spill_dir,
                toolpath: false,
            };
            let r = lamina::pipeline::slice(&objects, settings, &|_, _, _| {}, target)
                .map_err(std::io::Error::other)?;
            report = Some(r);
            Ok(())
        })?;
        let r = report.ok_or_else(|| anyhow::anyhow!("slicing gave no report"))?;
        let options = ParseOptions {
            travels: true,
            ..ParseOptions::default()
        };
        let toolpath = lamina::preview::toolpath::read_file(&path, &options)?;
        let meshes: Vec<&lamina::mesh::Mesh> = objects.iter().map(|o| &o.mesh).collect();
        let a = audit(
            &toolpath,
            &meshes,
            &AuditOptions {
                threshold_deg: settings.print.support_threshold,
                top_gap: settings.print.support_top_z_gap,
                wall: settings.print.vessel_wall,
            },
        );
        let s = r.support.clone().unwrap_or_default();
        rows.push(Row {
            strategy: strategy.clone(),
            held: a.held,
            overhang_points: a.overhang_points,
            support_filament_mm: s.filament_mm,
            support_filament_g: s.filament_g,
            soluble_filament_mm: r.soluble_filament_mm,
            support_length_mm: a.support_mm,
            floating_support_mm: a.floating_mm,
            floating_share: a.floating_share(),
            contact_area_mm2: a.contact_area_mm2,
            support_inside_mm3: a.inside_mm3,
            support_inside_share: a.inside_share(),
            retractions: a.retractions,
            travel_mm: a.travel_mm,
            extrusion_mm: a.extrusion_mm,
            time_s: r.time_s,
            time: r.time.clone(),
            tool_changes: r.tool_changes,
            gcode: kept,
        });
    }
    if args.json {
        return out_json(&rows);
    }
    out(format_args!(
        "{:<9} {:>6} {:>9} {:>7} {:>9} {:>11} {:>11} {:>8} {:>9} {:>11} {:>8}",
        "support",
        "held",
        "filament",
        "g",
        "soluble",
        "on air",
        "contact",
        "inside",
        "retracts",
        "time",
        "changes"
    ))?;
    out(format_args!(
        "{:<9} {:>6} {:>9} {:>7} {:>9} {:>11} {:>11} {:>8} {:>9} {:>11} {:>8}",
        "", "", "mm", "", "mm", "mm", "mm2", "cm3", "", "", ""
    ))?;
    for r in &rows {
        let held = r.held.map_or_else(|| "-".into(), |h| format!("{:.3}", h));
        let on_air = format!(
            "{:.0} ({:.1}%)",
            r.floating_support_mm,
            r.floating_share * 100.0
        );
        out(format_args!(
            "{:<9} {:>6} {:>9.0} {:>7.2} {:>9.0} {:>11} {:>11.0} {:>8.2} {:>9} {:>11} {:>8}",
            r.strategy,
            held,
            r.support_filament_mm,
            r.support_filament_g,
            r.soluble_filament_mm,
            on_air,
            r.contact_area_mm2,
            r.support_inside_mm3 / 1000.0,
            r.retractions,
            r.time,
            r.tool_changes
        ))?;
    }
    if let Some(first) = rows.first() {
        out(format_args!(
            "held: share of {} overhang points (surfaces flatter than the support angle) with \
             plastic under them; on air: support with nothing below it; contact: the \
             support's top the model rests on across the gap; inside: support in the model's cavities. Measured from \
             the G-code.",
            first.overhang_points
        ))?;
    }
    Ok(())
}
