//! The slicing job, stage after stage: placed objects and settings in, layer plans and
//! their estimate out. Pure: reading the models and writing the G-code happen at the
//! edges (the `lamina` binary).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use serde::Serialize;

use crate::gcode::{
    self, Filament, Flavor, GcodeHook, GcodeJob, MachineConfig, Retraction, TemplateRenderer,
    ToolConfig,
};
use crate::geom::{self, ExPolygon, Point, Polygon, Polyline};
use crate::layer::{self, LayerRegions};
use crate::mesh::Object;
use crate::mesh::place::Bed;
use crate::path::{ExtrusionPath, Role};
use crate::plan::{self, LayerPlan, PlanParams};
use crate::preview::toolpath::{ParseOptions, Toolpath, ToolpathSink};
use crate::profile::{
    Firmware, Origin, ProfileError, Settings, SupportStyle, TemplateVars, render_template,
};
use crate::slice::{self, ChainStats, SliceOptions};
use crate::support::{self, SupportReport};
use crate::timing;

pub use crate::timing::Stage;

/// A job failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The settings (templates) are unusable.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The G-code could not be produced.
    #[error(transparent)]
    Gcode(#[from] gcode::GcodeError),
    /// Nothing to print.
    #[error("nothing to print: the models give no printable layer")]
    Empty,
    /// The prime tower does not fit.
    #[error(transparent)]
    Tower(#[from] plan::tower::TowerError),
    /// No prime line fits beside the models.
    #[error(transparent)]
    Prime(#[from] plan::prime::PrimeError),
    /// The polygon engine failed: the layers would miss parts.
    #[error(
        "the polygon engine failed on {0} operation(s) (a coordinate beyond its range?); \
         the G-code would miss parts of the model, so none was written"
    )]
    Geometry(u64),
    /// The temporary file the G-code waits in until its header is known.
    #[error("cannot make a temporary G-code file in '{}': {source}", dir.display())]
    Spill {
        /// Where it was to be.
        dir: PathBuf,
        /// Why not.
        source: io::Error,
    },
    /// The toolpath for pictures of the print could not be built.
    #[error("the toolpath for the pictures could not be drawn: {0}")]
    Toolpath(#[source] crate::preview::toolpath::ParseError),
    /// The thumbnails the printer profile asks for could not be drawn.
    #[error("the thumbnails for the G-code header could not be drawn: {0}")]
    Thumbnails(#[source] crate::preview::toolpath::ParseError),
}

/// What one object became.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectReport {
    /// Name.
    pub name: String,
    /// Triangles.
    pub triangles: usize,
    /// Layers.
    pub layers: usize,
    /// Size after placement, mm.
    pub size: [f64; 3],
}

/// A summary of the job, for `--json` and the terminal.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Layers printed.
    pub layers: usize,
    /// Per object.
    pub objects: Vec<ObjectReport>,
    /// Estimated print time, s.
    pub time_s: f64,
    /// Estimated print time, readable.
    pub time: String,
    /// Filament per tool.
    pub filament: Vec<gcode::ToolUsage>,
    /// Extruded path length per role, mm (all tools).
    pub extrusion_mm: std::collections::BTreeMap<Role, f64>,
    /// Tool changes.
    pub tool_changes: usize,
    /// Support figures, when support was generated.
    pub support: Option<SupportReport>,
    /// Filament of the tools loaded with soluble material, mm (0 without).
    pub soluble_filament_mm: f64,
    /// The same in grams.
    pub soluble_filament_g: f64,
    /// The prime tower of a multi-tool print.
    pub prime_tower: Option<TowerReport>,
    /// How much mesh damage the slicer had to work around.
    pub outline_repairs: ChainStats,
    /// The mould core's figures, with `--core`.
    pub core: Option<crate::vessel::core::CoreReport>,
    /// The orientation chosen by `--orient auto`, when asked for.
    pub orientation: Option<crate::orient::Orientation>,
    /// Things the user should know.
    pub warnings: Vec<String>,
    /// The support warnings among them with their figures (area, heights, a hint).
    pub warning_details: Vec<support::warn::Warning>,
    /// The toolpath of the G-code written, built from its events as it was written
    /// (what [`crate::preview::read_file`] reads from the file), when
    /// [`Output::Gcode`] asked for it.
    #[serde(skip)]
    pub toolpath: Option<Toolpath>,
}

/// Where the prime tower stands.
#[derive(Debug, Clone, Serialize)]
pub struct TowerReport {
    /// Front-left corner X, mm.
    pub x: f64,
    /// Front-left corner Y, mm.
    pub y: f64,
    /// Side of the square, mm.
    pub side: f64,
    /// Layers it is printed on (up to the last tool change).
    pub layers: usize,
}

/// Where a job's G-code goes.
pub enum Output<'a> {
    /// Nowhere: only the report is wanted (the moves are still simulated for it).
    Discard,
    /// To `out`. The body waits in an unnamed temporary file in `spill_dir` (put it on
    /// the destination's disk: it is as large as the G-code) until the header, which
    /// needs the estimate, can be written before it.
    Gcode {
        /// The destination.
        out: &'a mut dyn Write,
        /// Where the temporary file goes.
        spill_dir: &'a Path,
        /// Also build the whole toolpath for pictures of the print ([`Report::toolpath`]).
        toolpath: bool,
    },
}

/// The printable area of the printer.
pub fn bed(settings: &Settings) -> Bed {
    let [x, y] = settings.printer.bed_size;
    match settings.printer.origin {
        Origin::Corner => Bed::corner_origin(x, y, settings.printer.max_height),
        Origin::Center => Bed {
            min: [-x / 2.0, -y / 2.0],
            max: [x / 2.0, y / 2.0],
            max_height: settings.printer.max_height,
        },
    }
}

/// Layers made together: sectioned, given their walls and infill and their comb
/// regions in parallel, while the chunk before is planned and written. Large enough
/// that both cores have layers to share, small enough that the layers in flight cost
/// little memory.
const CHUNK: usize = 16;

/// Slice placed objects and write their G-code (or only report on it), reporting
/// progress as (stage, done, total).
///
/// The layers flow through the stages: a chunk of layers is sectioned, given its walls,
/// skins and infill (which look a few layers up and down), planned and written while
/// the next chunk is being made, and let go once written, so memory does not grow
/// with the number of layers. Only what needs the whole stack keeps it: support (which
/// works down from every overhang) and the tool changes of multi-tool prints hold
/// every layer's outline, and the automatic brim looks up the part's column as high as
/// it needs to.
pub fn slice(
    objects: &[Object],
    settings: &Settings,
    progress: &(dyn Fn(Stage, usize, usize) + Sync),
    output: Output<'_>,
) -> Result<Report, PipelineError> {
    let clip_failures = geom::clip_failures();
    let p = &settings.print;
    let options = SliceOptions::from_print(p);
    let tools = settings.printer.tools();
    // Vessel models: each mesh is a lumen, and what is printed is the wall round it.
    let walls = crate::vessel::Walls::new(objects, settings);
    let objects = walls.as_ref().map_or(objects, |w| w.objects.as_slice());
    let specs: Vec<Vec<slice::LayerSpec>> = objects
        .iter()
        .enumerate()
        .map(|(o, obj)| match obj.mesh.bounding_box() {
            Some(bb) => {
                let top = walls.as_ref().map_or(bb.max[2], |w| w.walls[o].height);
                slice::layer_specs(p.first_layer_height, p.layer_height, top.max(0.0))
            }
            None => Vec::new(),
        })
        .collect();
    progress(Stage::Slice, 0, objects.len());
    let mut stack = LayerStack::new(objects, &specs, settings, options, walls.as_ref());
    let n = stack.len();
    let mut params = PlanParams::from_settings(settings);
    let support_on = p.support_material != SupportStyle::None;
    // Support works down from every overhang, and the tool changes and the prime
    // tower of a multi-tool print depend on every layer: those need the whole stack.
    if support_on || tools > 1 {
        stack.slice_up_to(n);
    }
    // Support holds, and the warnings speak of, the surface printed: round a lumen, its
    // wall's.
    let wall_surfaces: Vec<crate::mesh::Mesh> = walls.as_ref().map_or(Vec::new(), |w| {
        objects
            .iter()
            .zip(&w.walls)
            .map(|(o, wall)| wall.surface(&o.mesh))
            .collect()
    });
    let mut support_report = None;
    if support_on {
        progress(Stage::Support, 0, 1);
        let _busy = timing::enter(Stage::Support);
        let mut skeleton: Vec<LayerRegions> = (0..n)
            .map(|i| LayerRegions {
                index: i,
                ..LayerRegions::default()
            })
            .collect();
        let meshes: Vec<&crate::mesh::Mesh> = if walls.is_some() {
            wall_surfaces.iter().collect()
        } else {
            objects.iter().map(|o| &o.mesh).collect()
        };
        support_report = support::add_support(&stack.layers, &meshes, &mut skeleton, settings);
        (stack.support, stack.support_areas) = skeleton
            .into_iter()
            .map(|l| (l.support, l.support_areas))
            .unzip();
    }

    if n == 0 {
        return Err(PipelineError::Empty);
    }
    // The skirt and brim are decided from the first layer and, for the automatic brim,
    // the outlines as far up as the part's column is followed.
    stack.slice_up_to(1);
    let lookahead = plan::adhesion_lookahead(&stack.outline(0, true), &params, stack.top_z());
    let last_needed = if tools > 1 {
        n - 1
    } else {
        stack.first_reaching(lookahead)
    };
    stack.slice_up_to(last_needed + 1);
    let mut outlines: Vec<LayerRegions> =
        (0..=last_needed).map(|i| stack.outline(i, false)).collect();
    progress(Stage::Regions, 0, n);
    let mut chunk = stack.make_chunk(0..CHUNK.min(n), &params);
    if let Some(first) = chunk.regions.first() {
        outlines[0] = first.clone();
    }
    let adhesion = plan::adhesion(&outlines, &params);
    let changes = if tools > 1 {
        plan::tower::tool_changes(
            &outlines,
            plan::JobPlanner::adhesion_layers(&params, &adhesion),
        )
    } else {
        Vec::new()
    };
    let tower = match &params.tower {
        Some(t) => plan::tower::place_tower(&outlines, &changes, t)?,
        None => None,
    };
    // Prime lines keep off the first layer: the start G-code's is mirrored to the
    // other side of the bed when it would cross it, the tools' own are laid where
    // there is room.
    let mut keepout = plan::prime::Keepout::new(&outlines[0], &adhesion, tower.as_ref());
    drop(outlines);

    let names: Vec<String> = objects.iter().map(|o| o.name.clone()).collect();
    let mut job = gcode_job(settings, names)?;
    let bed_area = bed(settings);
    let moved_start = plan::prime::clear_start(&job.start_gcode, &bed_area, &mut keepout)?;
    if let Some(m) = &moved_start {
        job.start_gcode.clone_from(&m.gcode);
    }
    // The tools' lines are laid only when there is no tower to prime on.
    if let (Some(lines), None) = (&params.prime, &tower) {
        params.prime = Some(lines.placed(&bed_area, tools, &keepout)?);
    }
    if job.flavor == gcode::Flavor::Klipper {
        job.object_outlines = objects.iter().map(footprint).collect();
    }
    let (spill, whole) = match &output {
        Output::Discard => (None, false),
        Output::Gcode {
            spill_dir,
            toolpath,
            ..
        } => {
            let file = tempfile::tempfile_in(spill_dir).map_err(|source| PipelineError::Spill {
                dir: spill_dir.to_path_buf(),
                source,
            })?;
            (Some(file), *toolpath)
        }
    };
    let pictures = !settings.printer.thumbnails.is_empty() && spill.is_some();
    // The toolpaths drawn from the G-code's events as it is written: what shows from
    // outside for the thumbnails, everything for pictures of the whole print.
    let mut toolpaths = (
        pictures.then(|| {
            let opts = ParseOptions {
                outside_only: true,
                filament_diameter: job.tools.first().map(|t| t.filament.diameter as f32),
                ..ParseOptions::default()
            };
            ToolpathSink::new(&opts, job.flavor, job.relative_e)
        }),
        whole.then(|| ToolpathSink::new(&ParseOptions::default(), job.flavor, job.relative_e)),
    );
    let (estimate, body, layers) = {
        let also = (toolpaths.0.is_some() || toolpaths.1.is_some())
            .then_some(&mut toolpaths as &mut (dyn gcode::moves::Sink + Send));
        let mut sink = PlanSink {
            writer: gcode::GcodeStream::new(&job, spill, also)?,
            empty: Vec::new(),
            written: 0,
            standby: params.standby.as_ref().map(|s| (s, Vec::new())),
        };
        let mut planner = plan::JobPlanner::new(&params, &adhesion, changes, tower.clone());
        let mut start = chunk.range.end;
        loop {
            let next = (start < n).then(|| start..(start + CHUNK).min(n));
            let (made, planned) = rayon::join(
                || next.map(|r| stack.make_chunk(r, &params)),
                || sink.take(&chunk, &mut planner),
            );
            planned?;
            progress(Stage::Regions, chunk.range.end, n);
            match made {
                Some(c) => {
                    start = c.range.end;
                    chunk = c;
                }
                None => break,
            }
        }
        drop(chunk);
        sink.finish()?
    };
    let failed = geom::clip_failures() - clip_failures;
    if failed > 0 {
        return Err(PipelineError::Geometry(failed));
    }
    if !stack.any_islands {
        return Err(PipelineError::Empty);
    }
    let (mut warnings, repairs, object_reports) = stack.finish();
    let warning_details = support::warn::warnings(
        objects,
        walls.is_some().then_some(wall_surfaces.as_slice()),
        settings,
        support_report.as_ref(),
    );
    warnings.extend(
        warning_details
            .iter()
            .map(|w| format!("{} ({})", w.message, w.hint)),
    );
    warnings.extend(moved_start.map(|m| m.note));
    let prime_tower = tower.map(|t| TowerReport {
        x: t.min[0],
        y: t.min[1],
        side: t.side,
        layers: t.last_layer + 1,
    });

    progress(Stage::Write, 0, 1);
    if let Some(r) = support_report.as_mut() {
        for t in &estimate.tools {
            for (role, u) in &t.roles {
                if role.is_support() {
                    r.filament_mm += u.filament_mm;
                }
            }
        }
        let mass_per_mm: f64 = estimate
            .tools
            .iter()
            .map(|t| {
                if t.filament_mm > 0.0 {
                    t.weight_g / t.filament_mm
                } else {
                    0.0
                }
            })
            .fold(0.0, f64::max);
        r.filament_g = r.filament_mm * mass_per_mm;
        r.time_s = estimate
            .role_times
            .iter()
            .filter(|(role, _)| role.is_support())
            .map(|(_, t)| t)
            .sum();
        job.extra_header.extend(r.header_lines());
    }
    let (mut soluble_filament_mm, mut soluble_filament_g) = (0.0, 0.0);
    for (t, m) in estimate.tools.iter().zip(&settings.materials) {
        if m.soluble {
            soluble_filament_mm += t.filament_mm;
            soluble_filament_g += t.weight_g;
        }
    }
    if settings.printer.tools() > 1 {
        job.extra_header.push(format!(
            "soluble filament used [mm] = {soluble_filament_mm:.2}"
        ));
        job.extra_header.push(format!(
            "soluble filament used [g] = {soluble_filament_g:.2}"
        ));
        job.extra_header
            .push(format!("tool changes = {}", estimate.tool_changes));
        if let Some(t) = &prime_tower {
            job.extra_header.push(format!(
                "prime tower = X {:.1} Y {:.1}, {:.1} mm square, {} layers",
                t.x, t.y, t.side, t.layers
            ));
        }
    }
    let mut extrusion_mm: std::collections::BTreeMap<Role, f64> = Default::default();
    for t in &estimate.tools {
        for (role, u) in &t.roles {
            *extrusion_mm.entry(*role).or_default() += u.path_mm;
        }
    }
    let (thumbnail_path, whole_path) = toolpaths;
    if let Some(tp) = thumbnail_path {
        job.thumbnails = thumbnails(tp, &settings.printer.thumbnails)?;
    }
    let toolpath = match whole_path {
        Some(tp) => {
            let _busy = timing::enter(Stage::Preview);
            Some(tp.finish().map_err(PipelineError::Toolpath)?)
        }
        None => None,
    };
    if let (Some(body), Output::Gcode { out, .. }) = (body, output) {
        body.write_to(out, &job, &estimate)?;
    }
    Ok(Report {
        layers,
        objects: object_reports,
        time_s: estimate.total_time,
        time: gcode::format_duration(estimate.total_time),
        filament: estimate.tools.clone(),
        extrusion_mm,
        tool_changes: estimate.tool_changes,
        support: support_report,
        soluble_filament_mm,
        soluble_filament_g,
        prime_tower,
        outline_repairs: repairs,
        core: None,
        orientation: None,
        warnings,
        warning_details,
        toolpath,
    })
}

/// The sliced layers of every object, made as the chunks need them and let go once no
/// chunk needs them any more, with what is learnt along the way (outline repairs,
/// empty layers).
struct LayerStack<'a> {
    objects: &'a [Object],
    settings: &'a Settings,
    options: SliceOptions,
    slicers: Vec<crate::vessel::ObjectSlicer<'a>>,
    /// Every object's layers; the islands of those not sliced yet or let go are empty.
    layers: Vec<Vec<slice::Layer>>,
    /// Layers `0..sliced` are sliced (for every object).
    sliced: usize,
    /// Support paths of every layer, taken as the layers are made.
    support: Vec<Vec<(usize, ExtrusionPath)>>,
    /// Support outlines of every layer (see [`LayerRegions::support_areas`]), taken with
    /// the paths.
    support_areas: Vec<Vec<ExPolygon>>,
    /// Whether any layer has anything to print.
    any_islands: bool,
    repairs: ChainStats,
    empties: Vec<EmptyLayers>,
    /// Whether parts of one assembly printed by different tools must give way to each
    /// other.
    overlapping: bool,
}

/// Layers without material between layers with material, for one object.
#[derive(Default)]
struct EmptyLayers {
    seen_material: bool,
    /// Empty layers above the last layer with material: (count, first z).
    pending: (usize, f64),
    /// Empty layers with material above and below: (count, first z).
    confirmed: (usize, f64),
}

impl EmptyLayers {
    fn add(&mut self, layer: &slice::Layer) {
        if layer.islands.is_empty() {
            if self.seen_material {
                if self.pending.0 == 0 {
                    self.pending.1 = layer.z;
                }
                self.pending.0 += 1;
            }
        } else {
            if self.pending.0 > 0 {
                if self.confirmed.0 == 0 {
                    self.confirmed.1 = self.pending.1;
                }
                self.confirmed.0 += self.pending.0;
                self.pending = (0, 0.0);
            }
            self.seen_material = true;
        }
    }
}

/// A chunk of layers ready to plan.
#[derive(Default)]
struct Chunk {
    range: std::ops::Range<usize>,
    regions: Vec<LayerRegions>,
    combs: Vec<plan::LayerCombs>,
}

impl<'a> LayerStack<'a> {
    fn new(
        objects: &'a [Object],
        specs: &'a [Vec<slice::LayerSpec>],
        settings: &'a Settings,
        options: SliceOptions,
        walls: Option<&crate::vessel::Walls>,
    ) -> LayerStack<'a> {
        let slicers = objects
            .iter()
            .zip(specs)
            .enumerate()
            .map(|(i, (o, s))| {
                let wall = walls.map(|w| &w.walls[i]);
                crate::vessel::ObjectSlicer::new(&o.mesh, s, wall, &options)
            })
            .collect();
        let layers = specs
            .iter()
            .map(|s| {
                s.iter()
                    .map(|spec| slice::Layer {
                        z: spec.z,
                        height: spec.height,
                        slice_z: spec.slice_z,
                        islands: Vec::new(),
                    })
                    .collect()
            })
            .collect();
        let tools = settings.printer.tools();
        let tool = |o: &Object| o.tool.unwrap_or(0).min(tools.saturating_sub(1));
        let overlapping = (1..objects.len()).any(|j| {
            (0..j).any(|i| {
                objects[i].group.is_some()
                    && objects[i].group == objects[j].group
                    && tool(&objects[i]) != tool(&objects[j])
            })
        });
        LayerStack {
            objects,
            settings,
            options,
            slicers,
            layers,
            sliced: 0,
            support: Vec::new(),
            support_areas: Vec::new(),
            any_islands: false,
            repairs: ChainStats::default(),
            empties: (0..objects.len()).map(|_| EmptyLayers::default()).collect(),
            overlapping,
        }
    }

    /// Layers in the print (the tallest object's).
    fn len(&self) -> usize {
        self.layers.iter().map(Vec::len).max().unwrap_or(0)
    }

    /// The top of the highest layer, mm.
    fn top_z(&self) -> f64 {
        self.layers
            .iter()
            .flatten()
            .map(|l| l.z)
            .fold(0.0, f64::max)
    }

    /// The first layer whose top reaches `z` mm (the last layer when none does).
    fn first_reaching(&self, z: f64) -> usize {
        (0..self.len())
            .find(|&i| self.base(i).is_some_and(|l| l.z >= z))
            .unwrap_or(self.len().saturating_sub(1))
    }

    /// The layer that gives merged layer `i` its height: the first object's that has one.
    fn base(&self, i: usize) -> Option<&slice::Layer> {
        self.layers.iter().find_map(|l| l.get(i))
    }

    /// The tool printing object `o`.
    fn tool(&self, o: usize) -> usize {
        let tools = self.settings.printer.tools();
        self.objects[o]
            .tool
            .unwrap_or(0)
            .min(tools.saturating_sub(1))
    }

    /// Section every object up to (not including) layer `end`.
    fn slice_up_to(&mut self, end: usize) {
        let end = end.min(self.len());
        if end <= self.sliced {
            return;
        }
        let range = self.sliced..end;
        let jobs: Vec<(usize, usize)> = (0..self.objects.len())
            .flat_map(|o| {
                let n = self.layers[o].len();
                range.clone().filter(move |&i| i < n).map(move |i| (o, i))
            })
            .collect();
        let (slicers, options) = (&self.slicers, &self.options);
        let made: Vec<(slice::Layer, ChainStats)> = jobs
            .par_iter()
            .map_init(Vec::new, |segments, &(o, i)| {
                slicers[o].layer(i, options, segments)
            })
            .collect();
        for (&(o, i), (layer, stats)) in jobs.iter().zip(made) {
            self.repairs += stats;
            self.empties[o].add(&layer);
            self.any_islands |= !layer.islands.is_empty();
            self.layers[o][i] = layer;
        }
        if self.overlapping {
            self.resolve_overlaps(range.clone());
        }
        self.sliced = end;
    }

    /// Parts of one assembly printed by different tools may overlap (segmentations of a
    /// vessel wall and of the aneurysm it holds share voxels): each layer area goes to
    /// one tool. A later part takes its area out of the earlier ones (list the part
    /// that must show last, e.g. the coloured aneurysm after the clear vessel).
    fn resolve_overlaps(&mut self, range: std::ops::Range<usize>) {
        let objects = self.objects;
        let tools: Vec<usize> = (0..objects.len()).map(|o| self.tool(o)).collect();
        let mut rows: Vec<Vec<Option<slice::Layer>>> = range
            .clone()
            .map(|i| {
                self.layers
                    .iter_mut()
                    .map(|l| l.get_mut(i).map(std::mem::take))
                    .collect()
            })
            .collect();
        rows.par_iter_mut().for_each(|row| {
            let _busy = timing::enter(Stage::Slice);
            for j in 1..row.len() {
                let (earlier, later) = row.split_at_mut(j);
                let Some(cutter) = &later[0] else { continue };
                for (i, target) in earlier.iter_mut().enumerate() {
                    let Some(a) = target else { continue };
                    if objects[i].group.is_none()
                        || objects[i].group != objects[j].group
                        || tools[i] == tools[j]
                    {
                        continue;
                    }
                    if !a.islands.is_empty() && !cutter.islands.is_empty() {
                        a.islands = crate::geom::difference(&a.islands, &cutter.islands);
                    }
                }
            }
        });
        for (i, row) in range.zip(rows) {
            for (o, layer) in row.into_iter().enumerate() {
                if let Some(l) = layer {
                    self.layers[o][i] = l;
                }
            }
        }
    }

    /// Layer `i`'s outlines, as the planner's look at the layers above the first needs
    /// them: each island a box (or, when `exact`, its outline) with its tool, support
    /// as the box round each tool's paths.
    fn outline(&self, i: usize, exact: bool) -> LayerRegions {
        let mut out = LayerRegions {
            index: i,
            ..LayerRegions::default()
        };
        if let Some(base) = self.base(i) {
            out.z = base.z;
            out.height = base.height;
        }
        for (o, layers) in self.layers.iter().enumerate() {
            let Some(l) = layers.get(i) else { continue };
            for isl in &l.islands {
                let Some(b) = isl.bbox() else { continue };
                out.islands.push(layer::IslandPaths {
                    boundary: if exact {
                        isl.clone()
                    } else {
                        ExPolygon::new(Polygon::new(vec![
                            b.min,
                            Point::new(b.max.x, b.min.y),
                            b.max,
                            Point::new(b.min.x, b.max.y),
                        ]))
                    },
                    tool: self.tool(o),
                    ..layer::IslandPaths::default()
                });
            }
        }
        let mut boxes: Vec<(usize, crate::geom::BBox)> = Vec::new();
        for (tool, path) in self.support.get(i).into_iter().flatten() {
            let Some(b) = crate::geom::BBox::of_points(&path.points) else {
                continue;
            };
            match boxes.iter_mut().find(|(t, _)| t == tool) {
                Some((_, acc)) => acc.merge(&b),
                None => boxes.push((*tool, b)),
            }
        }
        for (tool, b) in boxes {
            out.support.push((
                tool,
                ExtrusionPath::open(
                    Role::SupportMaterial,
                    Polyline::new(vec![b.min, b.max]),
                    0.0,
                    0.0,
                ),
            ));
        }
        out
    }

    /// Make the layers of `range`: section what they need, give them their paths and
    /// comb regions, and let go of the sections no later layer needs.
    fn make_chunk(&mut self, range: std::ops::Range<usize>, params: &PlanParams) -> Chunk {
        let s = self.settings;
        let (below, above) = (s.print.bottom_solid_layers, s.print.top_solid_layers);
        self.slice_up_to(range.end + above);
        let window = range.start.saturating_sub(below)..range.end + above;
        let stacks: Vec<layer::IslandStack<'_>> = self
            .layers
            .iter()
            .map(|l| {
                let w = window.start.min(l.len())..window.end.min(l.len());
                layer::IslandStack::new(
                    w.start,
                    l[w].iter().map(|l| l.islands.as_slice()).collect(),
                )
            })
            .collect();
        let jobs: Vec<(usize, usize)> = range
            .clone()
            .flat_map(|i| (0..self.layers.len()).map(move |o| (i, o)))
            .filter(|&(i, o)| i < self.layers[o].len())
            .collect();
        let made: Vec<LayerRegions> = jobs
            .par_iter()
            .map(|&(i, o)| layer::layer_regions(&self.layers[o][i], i, &stacks[o], s, self.tool(o)))
            .collect();
        drop(stacks);
        let mut regions: Vec<LayerRegions> = Vec::with_capacity(range.len());
        for ((i, o), mut r) in jobs.into_iter().zip(made) {
            for isl in &mut r.islands {
                isl.object = o;
            }
            match regions.last_mut() {
                Some(last) if last.index == i => {
                    last.islands.extend(r.islands);
                    last.support.extend(r.support);
                    last.support_areas.extend(r.support_areas);
                }
                _ => regions.push(r),
            }
        }
        for r in &mut regions {
            if let Some(paths) = self.support.get_mut(r.index) {
                r.support.extend(std::mem::take(paths));
            }
            if let Some(areas) = self.support_areas.get_mut(r.index) {
                r.support_areas.extend(std::mem::take(areas));
            }
        }
        // Later chunks look no lower than their first layer less the bottom layers.
        let keep_from = range.end.saturating_sub(below);
        for layers in &mut self.layers {
            for l in layers.iter_mut().take(keep_from) {
                if !l.islands.is_empty() {
                    l.islands = Vec::new();
                }
            }
        }
        let combs = plan::prepare_combs(&regions, params);
        Chunk {
            range,
            regions,
            combs,
        }
    }

    /// What slicing found out: warnings, outline repairs, a report per object.
    fn finish(self) -> (Vec<String>, ChainStats, Vec<ObjectReport>) {
        let mut warnings = Vec::new();
        let mut reports = Vec::new();
        for ((obj, layers), empty) in self.objects.iter().zip(&self.layers).zip(&self.empties) {
            let Some(bb) = obj.mesh.bounding_box() else {
                continue;
            };
            // A layer with nothing between layers with something is a hole in the mesh
            // worth knowing about (or a real gap between separate pieces).
            let (count, z) = empty.confirmed;
            if count > 0 {
                warnings.push(format!(
                    "'{}': {} layer{} inside the model have no material (first at z = {:.2} mm): the model has separate pieces stacked with gaps, or a damaged region",
                    obj.name,
                    count,
                    if count == 1 { "" } else { "s" },
                    z
                ));
            }
            reports.push(ObjectReport {
                name: obj.name.clone(),
                triangles: obj.mesh.faces.len(),
                layers: layers.len(),
                size: bb.size(),
            });
        }
        let repairs = self.repairs;
        if repairs.open_chains > 0 {
            warnings.push(format!(
                "the meshes have holes or flipped faces: {} open outline pieces were joined ({} gaps bridged, {} closed on themselves, {} too far apart and left out); `lamina repair` can fix the mesh itself",
                repairs.open_chains, repairs.gaps_bridged, repairs.closed_on_self, repairs.dropped
            ));
        }
        (warnings, repairs, reports)
    }
}

/// Where plans go: to the G-code as they come, except the top layers left with
/// nothing to print (a tip thinner than a line, dropped as a sliver: the print ends
/// with its last extrusion), and, on multi-tool prints, all of them until the end (the
/// standby temperatures look ahead to each tool's next use).
struct PlanSink<'a> {
    writer: gcode::GcodeStream<'a>,
    /// Plans with nothing to print waiting for one with something.
    empty: Vec<LayerPlan>,
    written: usize,
    standby: Option<(&'a plan::standby::Standby, Vec<LayerPlan>)>,
}

impl PlanSink<'_> {
    /// Plan the layers of `chunk` and pass them on.
    fn take(
        &mut self,
        chunk: &Chunk,
        planner: &mut plan::JobPlanner<'_>,
    ) -> Result<(), PipelineError> {
        for (layer, combs) in chunk.regions.iter().zip(&chunk.combs) {
            let plan = {
                let _busy = timing::enter(Stage::Plan);
                planner.plan_layer(layer, combs)
            };
            match &mut self.standby {
                Some((_, all)) => all.push(plan),
                None => self.put(plan)?,
            }
        }
        Ok(())
    }

    fn put(&mut self, plan: LayerPlan) -> Result<(), PipelineError> {
        let prints = plan
            .steps
            .iter()
            .any(|s| matches!(s, plan::Step::Extrude { .. }));
        if !prints && self.written > 0 {
            self.empty.push(plan);
            return Ok(());
        }
        for p in std::mem::take(&mut self.empty) {
            self.writer.layer(&p)?;
            self.written += 1;
        }
        self.writer.layer(&plan)?;
        self.written += 1;
        Ok(())
    }

    /// The estimate, the body waiting for its header, and the layers written.
    fn finish(mut self) -> Result<(gcode::Estimate, Option<gcode::Body>, usize), PipelineError> {
        if let Some((standby, mut all)) = self.standby.take() {
            {
                let _busy = timing::enter(Stage::Plan);
                plan::standby::manage(&mut all, standby);
            }
            for p in all {
                self.put(p)?;
            }
        }
        let (estimate, body) = self.writer.finish()?;
        Ok((estimate, body, self.written))
    }
}

/// Pictures of the part for the G-code header (printer screens, OctoPrint), drawn from
/// the toolpath built from the G-code's events as it was written.
fn thumbnails(
    toolpath: ToolpathSink,
    sizes: &[[u32; 2]],
) -> Result<Vec<gcode::Thumbnail>, PipelineError> {
    let _busy = timing::enter(Stage::Preview);
    let tp = toolpath.finish().map_err(PipelineError::Thumbnails)?;
    Ok(sizes
        .iter()
        .map(|&[width, height]| gcode::Thumbnail {
            width,
            height,
            png: crate::preview::thumbnail_png(&tp, width, height),
        })
        .collect())
}

/// An object's convex footprint on the bed, mm (its vertices seen from above).
fn footprint(o: &Object) -> Vec<[f64; 2]> {
    let points: Vec<Point> = o
        .mesh
        .vertices
        .iter()
        .map(|v| Point::from_mm(f64::from(v[0]), f64::from(v[1])))
        .collect();
    plan::convex_hull(&points)
        .points
        .iter()
        .map(|p| [geom::unscaled(p.x), geom::unscaled(p.y)])
        .collect()
}

/// The G-code job for `settings`: machine limits, tools, and the profile's templates
/// (start and end rendered now, per-layer and tool-change ones at each use).
pub fn gcode_job(settings: &Settings, models: Vec<String>) -> Result<GcodeJob, ProfileError> {
    let p = &settings.printer;
    let vars = TemplateVars::from_settings(settings);
    let tools = (0..p.tools())
        .map(|t| {
            let m = settings.material(t);
            ToolConfig {
                filament: Filament {
                    diameter: m.filament_diameter,
                    density: m.filament_density,
                    cost_per_kg: m.filament_cost,
                },
                extrusion_multiplier: m.extrusion_multiplier,
                retraction: Retraction {
                    length: if m.retract_length >= 0.0 {
                        m.retract_length
                    } else {
                        p.retract_length
                    },
                    speed: p.retract_speed,
                    deretract_speed: 0.0,
                    restart_extra: p.retract_restart_extra,
                    lift: p.retract_lift,
                    length_toolchange: p.retract_length_toolchange,
                    restart_extra_toolchange: 0.0,
                },
                offset: p.extruder_offset.get(t).copied().unwrap_or([0.0; 2]),
            }
        })
        .collect();
    let start_gcode = render_template(&p.start_gcode, &vars)
        .map_err(|e| ProfileError::Template(format!("start_gcode: {e}")))?;
    let end_gcode = render_template(&p.end_gcode, &vars)
        .map_err(|e| ProfileError::Template(format!("end_gcode: {e}")))?;
    // Check the hook templates now (with sample values), so a bad one fails early.
    let mut sample = vars.clone();
    for (k, v) in [
        ("layer_num", 1.0),
        ("layer_z", 0.4),
        ("previous_tool", 0.0),
        ("next_tool", 1.0),
    ] {
        sample.set_number(k, v);
    }
    for (name, t) in [
        ("before_layer_gcode", &p.before_layer_gcode),
        ("layer_gcode", &p.layer_gcode),
        ("toolchange_gcode", &p.toolchange_gcode),
    ] {
        render_template(t, &sample).map_err(|e| ProfileError::Template(format!("{name}: {e}")))?;
    }
    let (before, after, change) = (
        p.before_layer_gcode.clone(),
        p.layer_gcode.clone(),
        p.toolchange_gcode.clone(),
    );
    let renderer = TemplateRenderer::new(move |ctx| {
        let mut v = vars.clone();
        v.set("layer_num", ctx.layer_num);
        v.set_number("layer_z", ctx.layer_z);
        let template = match ctx.hook {
            GcodeHook::BeforeLayer => &before,
            GcodeHook::AfterLayer => &after,
            GcodeHook::ToolChange {
                previous_tool,
                next_tool,
            } => {
                v.set("previous_tool", previous_tool);
                v.set("next_tool", next_tool);
                &change
            }
        };
        render_template(template, &v).map_err(|e| e.to_string())
    });
    Ok(GcodeJob {
        flavor: match p.firmware {
            Firmware::Marlin => Flavor::Marlin,
            Firmware::Klipper => Flavor::Klipper,
            Firmware::Reprapfirmware => Flavor::RepRapFirmware,
        },
        relative_e: p.relative_e,
        firmware_retraction: p.firmware_retraction,
        firmware_tool_offsets: p.firmware_tool_offsets,
        emit_machine_limits: p.emit_machine_limits,
        travel_speed_z: p.max_feedrate[2].min(12.0),
        tools,
        machine: MachineConfig {
            max_feedrate: p.max_feedrate,
            max_acceleration: p.max_acceleration,
            acceleration: p.acceleration_print,
            retract_acceleration: p.acceleration_retract,
            travel_acceleration: p.acceleration_travel,
            jerk: p.jerk,
            // RepRapFirmware has no junction deviation: its planner limits the
            // instantaneous speed change per axis (M566), like Marlin's classic jerk.
            junction_deviation: match p.firmware {
                Firmware::Reprapfirmware => 0.0,
                _ => p.junction_deviation,
            },
            minimum_feedrate: p.min_feedrate,
            minimum_travel_feedrate: 0.0,
            tool_change_time: p.toolchange_time,
            klipper: (p.firmware == Firmware::Klipper).then_some(gcode::KlipperMotion {
                max_velocity: p.max_feedrate[0].min(p.max_feedrate[1]),
                square_corner_velocity: p.square_corner_velocity,
                minimum_cruise_ratio: p.minimum_cruise_ratio,
            }),
            ..MachineConfig::default()
        },
        start_gcode,
        end_gcode,
        toolchange_gcode: String::new(),
        renderer: Some(renderer),
        models,
        extra_header: vec![format!(
            "profiles = printer {}, material {}, quality {}",
            settings.names.printer,
            settings.names.materials.join(" + "),
            settings.names.quality
        )],
        settings: settings.to_toml(),
        ..GcodeJob::default()
    })
}
