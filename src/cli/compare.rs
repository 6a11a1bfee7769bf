//! `lamina compare`: one model, several support strategies, the figures side by side.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
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
    /// Print the table as JSON on standard output.
    #[arg(long)]
    json: bool,
}

/// One strategy's figures.
#[derive(Debug, Serialize)]
struct Row {
    strategy: String,
    support_filament_mm: f64,
    support_filament_g: f64,
    soluble_filament_mm: f64,
    contact_area_mm2: f64,
    interior_support_mm3: f64,
    time_s: f64,
    time: String,
    tool_changes: usize,
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
    let mut rows = Vec::new();
    for (strategy, settings) in strategies.iter().zip(&settings) {
        let objects = placed_objects(&args.models, &args.job, settings, &global)?;
        if !global.quiet {
            eprintln!("slicing with {strategy} support...");
        }
        let r = &lamina::pipeline::slice(
            &objects,
            settings,
            &|_, _, _| {},
            lamina::pipeline::Output::Discard,
        )?;
        let s = r.support.clone().unwrap_or_default();
        rows.push(Row {
            strategy: strategy.clone(),
            support_filament_mm: s.filament_mm,
            support_filament_g: s.filament_g,
            soluble_filament_mm: r.soluble_filament_mm,
            contact_area_mm2: s.contact_area_mm2,
            interior_support_mm3: s.interior_volume_mm3,
            time_s: r.time_s,
            time: r.time.clone(),
            tool_changes: r.tool_changes,
        });
    }
    if args.json {
        return out_json(&rows);
    }
    out(format_args!(
        "{:<9} {:>19} {:>7} {:>12} {:>12} {:>14} {:>12} {:>8}",
        "support",
        "support filament mm",
        "g",
        "soluble mm",
        "contact mm2",
        "interior mm3",
        "time",
        "changes"
    ))?;
    for r in &rows {
        out(format_args!(
            "{:<9} {:>19.1} {:>7.2} {:>12.1} {:>12.1} {:>14.1} {:>12} {:>8}",
            r.strategy,
            r.support_filament_mm,
            r.support_filament_g,
            r.soluble_filament_mm,
            r.contact_area_mm2,
            r.interior_support_mm3,
            r.time,
            r.tool_changes
        ))?;
    }
    Ok(())
}
