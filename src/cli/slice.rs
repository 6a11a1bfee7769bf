//! `lamina slice`: models to G-code.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use lamina::mesh::place;
use lamina::output::{ExitOnSignal, PendingFile};
use lamina::pipeline::{self, Report, Stage};
use lamina::preview::Toolpath;
use lamina::profile::Settings;
use lamina::vessel::core;

use super::models::{load_assigned, transform};
use super::profile_args::ProfileArgs;
use super::{Global, ModelFile, out_json, stdout_error, usage};

/// Support styles on the command line.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SupportArg {
    /// No support.
    None,
    /// Grid (line) support under every overhang.
    Grid,
    /// Branching tree support: less material, small contact tips.
    Tree,
}

/// Support standing inside the model on the command line.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsideArg {
    /// Generate it like any other support.
    Allow,
    /// Leave enclosed regions (lumens, sacs) without support.
    None,
    /// Print it with the soluble tool (dual-nozzle printers).
    Soluble,
}

/// Soluble support modes on the command line.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SolubleArg {
    /// All support in the soluble material.
    All,
    /// Only the interface touching the model; the body in the model's material.
    Interface,
}

/// Where a vessel wall ends open, on the command line.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum VesselOpenArg {
    /// Nowhere: the wall closes round every end.
    None,
    /// Where the lumen mesh is open or cut flat (a segmentation's cut planes).
    Auto,
    /// At the lumen's bottom and top planes.
    Z,
}

impl VesselOpenArg {
    /// The `vessel_open` setting it stands for.
    pub fn setting(self) -> String {
        let v = match self {
            VesselOpenArg::None => "none",
            VesselOpenArg::Auto => "auto",
            VesselOpenArg::Z => "z",
        };
        format!("vessel_open={v}")
    }
}

/// How the model is turned before printing, on the command line.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrientArg {
    /// As the file has it (after --rotate).
    File,
    /// The orientation needing the least support (see `lamina orient`).
    Auto,
}

/// Options of `lamina slice`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    lamina slice examples/vessel_phantom.stl -o vessel.gcode\n  \
    lamina slice skull.stl -o skull.gcode --printer prusa-mk3s --quality 0.28mm --support tree\n  \
    lamina slice aneurysm.3mf -o a.gcode --set perimeters=3 --set fill_density=10 --json\n  \
    lamina slice brain.stl -o - --rotate 0,0,90 --scale 0.5 | head\n  \
    lamina slice aneurysm.stl -o a.gcode --printer dual-marlin --material pla --material pva --soluble\n  \
    lamina slice vessel.stl aneurysm.stl@1 -o two.gcode --printer dual-marlin --material pla --material petg\n  \
    lamina slice lumen.stl -o wall.gcode --vessel-wall 1.2 --orient auto --support grid\n  \
    lamina slice lumen.stl -o core.gcode --core --printer dual-marlin --support grid\n\n\
    Tools are numbered from 0 (T0, T1). MODEL@N or --tool N MODEL prints a model with tool N;\n\
    the models are then parts of one assembly and keep their positions from the\n\
    files (segmentations of one scan share coordinates). Where parts overlap, the one\n\
    listed later keeps the overlap.")]
pub struct SliceArgs {
    /// Model files (STL, OBJ, 3MF); several are placed side by side. `MODEL@N` prints
    /// the model with tool N.
    #[arg(required_unless_present = "tool", value_name = "MODEL")]
    models: Vec<PathBuf>,
    /// Output G-code file (`-` for standard output).
    #[arg(short, long, value_name = "OUT.gcode")]
    output: PathBuf,
    #[command(flatten)]
    job: JobArgs,
    /// Also write pictures into DIR: a contact sheet of sampled layers and a side view.
    #[arg(long, value_name = "DIR")]
    preview: Option<PathBuf>,
    /// Print a JSON summary on standard output.
    #[arg(long)]
    json: bool,
}

/// What to print and how: shared by `lamina slice` and `lamina print`.
#[derive(Args, Debug)]
pub struct JobArgs {
    #[command(flatten)]
    profiles: ProfileArgs,
    /// Print MODEL with tool N (repeatable): `--tool 1 aneurysm.stl`.
    #[arg(long, num_args = 2, value_names = ["N", "MODEL"])]
    tool: Vec<String>,
    /// Soluble support on a dual-nozzle printer (a tool loaded with PVA or BVOH): all
    /// support, or only the interface touching the model.
    #[arg(long, value_enum, ignore_case = true, num_args = 0..=1, default_missing_value = "all", value_name = "MODE")]
    soluble: Option<SolubleArg>,
    /// Support style (default: the quality profile's).
    #[arg(long, value_enum, ignore_case = true)]
    support: Option<SupportArg>,
    /// Overhang threshold in degrees from the horizontal: flatter surfaces get support.
    #[arg(long, value_name = "DEG")]
    support_angle: Option<f64>,
    /// Support standing inside the model (lumens, sacs).
    #[arg(long, value_enum, ignore_case = true, value_name = "MODE")]
    support_inside: Option<InsideArg>,
    /// Scale: one factor, or X,Y,Z factors.
    #[arg(long, value_name = "F")]
    scale: Option<String>,
    /// Rotate X,Y,Z degrees (applied after scaling); all three angles are required.
    #[arg(long, value_name = "X,Y,Z", allow_hyphen_values = true)]
    rotate: Option<String>,
    /// Turn the model before printing: `auto` picks the orientation needing the least
    /// support (after --rotate), as `lamina orient` ranks them.
    #[arg(long, value_enum, value_name = "HOW")]
    orient: Option<OrientArg>,
    /// Print the model as a dissolvable mould core: in a soluble material (PVA unless
    /// --material names another; tool 0), on thin layers with a slow, smooth outer
    /// wall and a sparse interior; support from tool 1 on printers with two tools.
    #[arg(long, conflicts_with = "vessel_wall")]
    core: bool,
    /// Read the mesh as a vessel lumen and print its wall, T mm thick, lumen hollow
    /// (the wall is printed solid).
    #[arg(long, value_name = "T")]
    vessel_wall: Option<f64>,
    /// Where the vessel wall ends open (default auto: open and flat-cut ends).
    #[arg(long, value_enum, value_name = "WHERE", requires = "vessel_wall")]
    vessel_open: Option<VesselOpenArg>,
}

impl JobArgs {
    /// Check the options that need no file read (`--scale`, `--rotate`): a usage
    /// error for a malformed one.
    pub fn check(&self) -> Result<()> {
        transform(self.scale.as_deref(), self.rotate.as_deref()).map(drop)
    }

    /// The `--tool N MODEL` pairs as given (N, MODEL, N, MODEL...).
    pub fn tools(&self) -> &[String] {
        &self.tool
    }

    /// The settings these options select.
    pub fn settings(&self) -> Result<Settings> {
        self.settings_with(Vec::new())
    }

    /// The settings with `more` overrides applied after these options' own.
    pub fn settings_with(&self, more: Vec<String>) -> Result<Settings> {
        let mut extra = Vec::new();
        if let Some(s) = self.support {
            let v = match s {
                SupportArg::None => "none",
                SupportArg::Grid => "grid",
                SupportArg::Tree => "tree",
            };
            extra.push(format!("support_material={v}"));
        }
        if let Some(a) = self.support_angle {
            extra.push(format!("support_threshold={a}"));
        }
        if let Some(m) = self.support_inside {
            let v = match m {
                InsideArg::Allow => "allow",
                InsideArg::None => "none",
                InsideArg::Soluble => "soluble",
            };
            extra.push(format!("support_inside={v}"));
        }
        if let Some(m) = self.soluble {
            let v = match m {
                SolubleArg::All => "all",
                SolubleArg::Interface => "interface",
            };
            extra.push(format!("soluble_support={v}"));
        }
        if let Some(t) = self.vessel_wall {
            extra.push(format!("vessel_wall={t}"));
            // A thin wall is all surface: printed solid, with no sparse gaps.
            extra.push("fill_density=100".into());
        }
        if let Some(o) = self.vessel_open {
            extra.push(o.setting());
        }
        extra.extend(more);
        let mut selection = self.profiles.selection(extra);
        if !self.core {
            return Ok(lamina::profile::resolve(&selection)?);
        }
        let tools = lamina::profile::resolve(&selection)?.printer.tools();
        let mut core = core::overrides(tools);
        core.append(&mut selection.overrides);
        selection.overrides = core;
        selection.materials = core::materials(&selection.materials, tools);
        let settings = lamina::profile::resolve(&selection)?;
        if let Some(m) = settings.materials.first()
            && !m.soluble
        {
            return Err(usage!(
                "--core prints the core with tool 0, which is loaded with {}: a core needs a \
                 soluble material there (--material pva or --material bvoh first)",
                m.filament_type
            ));
        }
        Ok(settings)
    }
}

impl JobArgs {
    /// Turn `objects` as `--orient` asks: with `auto`, `--scale` and `--rotate` are
    /// applied here, the assembly is turned to the orientation needing the least
    /// support, and what is left for placing is no transform. Otherwise the user's
    /// transform is returned for placing.
    pub fn turn(
        &self,
        objects: &mut [lamina::mesh::Object],
        settings: &Settings,
        global: &Global,
    ) -> Result<(place::Transform, Option<lamina::orient::Orientation>)> {
        let t = transform(self.scale.as_deref(), self.rotate.as_deref())?;
        if self.orient != Some(OrientArg::Auto) {
            return Ok((t, None));
        }
        if !t.is_identity() {
            for o in objects.iter_mut() {
                place::apply(&mut o.mesh, &t.matrix());
            }
        }
        let found = lamina::orient::exact::search(objects, settings, true);
        let best = found.best.first().copied().unwrap_or(found.as_is);
        let m = best.rotation().to_homogeneous();
        for o in objects.iter_mut() {
            place::apply(&mut o.mesh, &m);
        }
        if !global.quiet {
            eprintln!(
                "orient: turned by --rotate {} (support {:.0} mm³, {:.0} mm³ of it inside; \
                 {:.0} mm³ as the file has it)",
                super::orient::rotate_text(&best),
                best.cost.support_mm3,
                best.cost.enclosed_mm3,
                found.as_is.cost.support_mm3
            );
        }
        Ok((place::Transform::default(), Some(best)))
    }
}

/// Load and place the models as `slice` does.
pub fn placed_objects(
    models: &[PathBuf],
    job: &JobArgs,
    settings: &Settings,
    global: &Global,
) -> Result<Vec<lamina::mesh::Object>> {
    Ok(placed_and_turned(models, job, settings, global)?.0)
}

/// Load, turn (`--orient`) and place the models; what `--orient auto` chose.
fn placed_and_turned(
    models: &[PathBuf],
    job: &JobArgs,
    settings: &Settings,
    global: &Global,
) -> Result<(
    Vec<lamina::mesh::Object>,
    Option<lamina::orient::Orientation>,
)> {
    // Malformed --scale or --rotate is told before the models are read.
    transform(job.scale.as_deref(), job.rotate.as_deref())?;
    let (mut objects, files) = load_assigned(models, &job.tool, settings.printer.tools(), global)?;
    let (t, orientation) = job.turn(&mut objects, settings, global)?;
    let bed = pipeline::bed(settings);
    place::arrange(&mut objects, &[t], &bed, place::DEFAULT_SPACING).map_err(|e| {
        // An object that cannot be placed: the error names its file too.
        let file = e
            .object()
            .and_then(|name| objects.iter().position(|o| o.name == name))
            .and_then(|i| files.get(i));
        match file {
            Some(f) => anyhow::Error::new(ModelFile {
                path: f.clone(),
                error: e,
            }),
            None => e.into(),
        }
    })?;
    Ok((objects, orientation))
}

/// Slice `models` with `settings` into `output` (`-` for standard output).
///
/// The output is checked before anything is loaded (a missing folder, a folder, a
/// named pipe or a device is refused at once), and Ctrl-C while slicing removes the
/// temporary file and ends the command.
pub fn slice_to(
    models: &[PathBuf],
    job: &JobArgs,
    settings: &Settings,
    output: &Path,
    toolpath: bool,
    global: &Global,
) -> Result<Report> {
    let _interrupts = ExitOnSignal::new();
    let pending = if output.as_os_str() == "-" {
        None
    } else {
        Some(PendingFile::create(output)?)
    };
    let (objects, orientation) = placed_and_turned(models, job, settings, global)?;
    let unit_warnings: Vec<String> = objects
        .iter()
        .filter_map(|o| {
            let size = o.mesh.bounding_box()?.size();
            place::unit_warning(&o.name, size)
        })
        .collect();

    let bar = if global.show_progress() {
        let b = ProgressBar::new_spinner();
        b.set_style(
            ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        Some(b)
    } else {
        None
    };
    let progress = |stage: Stage, _done: usize, _total: usize| {
        if let Some(b) = &bar {
            b.set_message(stage.name().to_string());
        }
    };
    // The G-code's body waits in an unnamed temporary file on the destination's disk
    // until its header can be written; a failure of the job is told as itself, not as
    // a failed write.
    let mut report = None;
    let mut failure = None;
    let mut run = |out: &mut dyn Write, spill_dir: &Path| {
        let target = pipeline::Output::Gcode {
            out,
            spill_dir,
            toolpath,
        };
        match pipeline::slice(&objects, settings, &progress, target) {
            Ok(r) => {
                report = Some(r);
                Ok(())
            }
            // Writing failed (a full disk, a closed pipe): told as the write's failure.
            Err(pipeline::PipelineError::Gcode(lamina::gcode::GcodeError::Io(e))) => Err(e),
            Err(e) => {
                let message = e.to_string();
                failure = Some(e);
                Err(std::io::Error::other(message))
            }
        }
    };
    let written = match pending {
        None => {
            let mut lock = std::io::stdout().lock();
            run(&mut lock, &std::env::temp_dir())
                .and_then(|()| lock.flush())
                .map_err(stdout_error)
        }
        Some(file) => {
            let dir = match output.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            file.write(|w| run(w, &dir)).map_err(anyhow::Error::from)
        }
    };
    if let Some(e) = failure {
        return Err(e.into());
    }
    written?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let mut report = report.ok_or_else(|| anyhow::anyhow!("slicing gave no report"))?;
    report.warnings.extend(unit_warnings);
    report.orientation = orientation;
    if job.core {
        let infill = report
            .extrusion_mm
            .get(&lamina::path::Role::InternalInfill)
            .copied()
            .unwrap_or(0.0);
        let material = settings
            .materials
            .first()
            .map_or("", |m| m.filament_type.as_str());
        report.core = Some(core::report(
            &objects,
            material,
            infill,
            settings.print.layer_height,
        ));
    }
    Ok(report)
}

/// Tell the user what was written (and what to watch out for).
pub fn tell(r: &Report, output: &Path, global: &Global) {
    if global.quiet {
        return;
    }
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    let grams: f64 = r.filament.iter().map(|f| f.weight_g).sum();
    let metres: f64 = r.filament.iter().map(|f| f.filament_mm).sum::<f64>() / 1000.0;
    if let Some(c) = &r.core {
        eprintln!(
            "core: {:.0} mm³ of {}, {:.0} mm² of surface to dissolve from ({:.0} mm² more \
             inside once the shell is through)",
            c.volume_mm3, c.material, c.surface_mm2, c.infill_surface_mm2
        );
    }
    if output.as_os_str() != "-" {
        eprintln!(
            "wrote {}: {} layers, {}, {:.2} m of filament ({:.1} g)",
            output.display(),
            r.layers,
            r.time,
            metres,
            grams
        );
    }
}

/// Run `lamina slice`.
pub fn run(args: SliceArgs, global: Global) -> Result<()> {
    if args.output.as_os_str() == "-" && args.json {
        return Err(usage!(
            "--json prints on standard output, so it needs -o FILE (not -o -)"
        ));
    }
    if args.output.as_os_str() == "-" && args.preview.is_some() {
        return Err(usage!(
            "--preview names its pictures after the G-code file, so it needs -o FILE (not -o -)"
        ));
    }
    if let Some(dir) = args.preview.as_ref().filter(|d| d.exists() && !d.is_dir()) {
        anyhow::bail!(
            "cannot write pictures into '{}': it is a file, not a folder",
            dir.display()
        );
    }
    if let Some(dir) = &args.preview {
        lamina::output::check_folder(dir)?;
    }
    super::models::check_gcode_output(&args.output, &args.models, &args.job.tool)?;
    // Where the time goes, for `--json`.
    let clock = args.json.then(lamina::timing::Recorder::start);
    let settings = args.job.settings()?;
    let mut r = slice_to(
        &args.models,
        &args.job,
        &settings,
        &args.output,
        args.preview.is_some(),
        &global,
    )?;
    let pictures = match (&args.preview, r.toolpath.take()) {
        (Some(dir), Some(tp)) => write_pictures(&tp, &args.output, dir)?,
        _ => Vec::new(),
    };
    if args.json {
        let mut v = serde_json::to_value(&r)?;
        if args.preview.is_some() {
            v["preview"] = serde_json::json!(pictures);
        }
        if let Some(clock) = clock {
            v["timings"] = serde_json::to_value(clock.finish())?;
        }
        out_json(&v)?;
    } else {
        tell(&r, &args.output, &global);
        if !global.quiet {
            for p in &pictures {
                eprintln!("wrote {p}");
            }
        }
    }
    Ok(())
}

/// Layers to sample on the contact sheet.
const SHEET_LAYERS: usize = 12;
/// Picture widths, pixels.
const SHEET_WIDTH: u32 = 1600;
const SIDE_SIZE: [u32; 2] = [1200, 800];

/// The contact sheet and side view of the toolpath `tp` of `gcode` (built while it was
/// written), written into `dir`; their paths.
fn write_pictures(tp: &Toolpath, gcode: &Path, dir: &Path) -> Result<Vec<String>> {
    let _busy = lamina::timing::enter(lamina::timing::Stage::Preview);
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the preview folder '{}'", dir.display()))?;
    let stem = gcode
        .file_stem()
        .map_or_else(|| "lamina".to_string(), |s| s.to_string_lossy().to_string());
    let pictures = [
        (
            dir.join(format!("{stem}-layers.png")),
            lamina::preview::contact_sheet_png(tp, SHEET_LAYERS, SHEET_WIDTH),
        ),
        (
            dir.join(format!("{stem}-side.png")),
            lamina::preview::side_view_png(tp, SIDE_SIZE[0], SIDE_SIZE[1]),
        ),
    ];
    let mut out = Vec::new();
    for (path, png) in pictures {
        PendingFile::create(&path)?.write(|w| w.write_all(&png))?;
        out.push(path.display().to_string());
    }
    Ok(out)
}
