//! Finding profiles, inheritance, `--set` overrides, validation.

use std::path::{Path, PathBuf};

use toml::{Table, Value};

use super::builtin::{self, BUILTIN, Kind};
use super::settings::{
    Material, Print, Printer, ProfileNames, Settings, SolubleMode, SupportInside, SupportStyle,
};
use super::{DEFAULT_MATERIAL, DEFAULT_PRINTER, DEFAULT_QUALITY};

/// Inheritance deeper than this is taken for a cycle.
const MAX_INHERITANCE: usize = 16;

/// The thickest vessel wall accepted, mm: anatomical vessel walls printed as models
/// are 0.5-3 mm; more is a typed unit mistake (and would section the lumen at every
/// layer for every layer).
const MAX_VESSEL_WALL: f64 = 10.0;

/// Keys every profile may have besides its settings.
const META_KEYS: [&str; 2] = ["inherits", "kind"];

/// Which profiles to use and what to override.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileSelection {
    /// Printer profile name or file (empty: the default).
    pub printer: String,
    /// Material of each tool, by name or file (empty: the default for all).
    pub materials: Vec<String>,
    /// Quality profile name or file (empty: the default).
    pub quality: String,
    /// `key=value` or `key[N]=value` overrides, applied in order.
    pub overrides: Vec<String>,
}

/// Why settings could not be resolved. Each message is one sentence naming the
/// profile or setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// No profile of that name.
    #[error("no {kind} profile '{name}'{}; the {kind} profiles are: {}", suggest(.suggestion), known.join(", "))]
    NotFound {
        /// Kind looked for.
        kind: &'static str,
        /// Name asked for.
        name: String,
        /// Names that exist.
        known: Vec<String>,
        /// The nearest one.
        suggestion: Option<String>,
    },
    /// A profile file could not be read.
    #[error("cannot read profile '{}': {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
    /// A profile is not valid TOML.
    #[error("profile '{name}' is not valid TOML: {message}")]
    Toml {
        /// Profile name or file.
        name: String,
        /// Parser message.
        message: String,
    },
    /// A key no setting has.
    #[error("unknown setting '{key}' in {origin}{}", suggest(.suggestion))]
    UnknownKey {
        /// The key.
        key: String,
        /// Where it was found (a profile, `--set`).
        origin: String,
        /// The nearest known key.
        suggestion: Option<String>,
    },
    /// A key of another kind of profile.
    #[error("'{key}' in {origin} is a {actual} setting, not a {expected} setting")]
    WrongKind {
        /// The key.
        key: String,
        /// Where it was found.
        origin: String,
        /// The kind of profile it was in.
        expected: &'static str,
        /// The kind it belongs to.
        actual: &'static str,
    },
    /// `inherits` loops.
    #[error("profile inheritance loops: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    /// A malformed `--set`.
    #[error("--set expects KEY=VALUE, got '{0}'")]
    BadOverride(String),
    /// A value of the wrong type.
    #[error("{key} expects {expected}, got '{got}'")]
    BadValue {
        /// The key.
        key: String,
        /// What it takes.
        expected: String,
        /// What was given.
        got: String,
    },
    /// A value out of range or inconsistent.
    #[error("{0}")]
    Invalid(String),
    /// A G-code template problem.
    #[error("{0}")]
    Template(String),
}

impl ProfileError {
    /// Whether the error is a mistake on the command line (an unknown profile name, a
    /// malformed or unknown `--set`, a value out of range, options that do not go
    /// together) rather than in a profile file.
    pub fn is_usage(&self) -> bool {
        match self {
            ProfileError::File { .. }
            | ProfileError::Toml { .. }
            | ProfileError::Cycle(_)
            | ProfileError::Template(_) => false,
            ProfileError::UnknownKey { origin, .. } | ProfileError::WrongKind { origin, .. } => {
                origin.starts_with("--set")
            }
            _ => true,
        }
    }
}

fn suggest(s: &Option<String>) -> String {
    match s {
        Some(k) => format!("; did you mean '{k}'?"),
        None => String::new(),
    }
}

/// The default settings of a kind as a TOML table: the list of known keys and types.
fn defaults(kind: Kind) -> Table {
    let t = match kind {
        Kind::Printer => Table::try_from(Printer::default()),
        Kind::Material => Table::try_from(Material::default()),
        Kind::Quality => Table::try_from(Print::default()),
    };
    t.unwrap_or_default()
}

fn all_kinds() -> [Kind; 3] {
    [Kind::Printer, Kind::Material, Kind::Quality]
}

/// Letters a name must have before it is taken as the start of a longer one (`prusa`
/// for `prusa-mk3s`): fewer would match too much.
const PREFIX_MIN: usize = 3;

/// The candidate nearest to `word`, if it is near enough to be a likely typo, else the
/// only candidate that begins with it (`prusa` finds `prusa-mk3s`). Case is ignored
/// (`PLA` finds `pla`).
fn nearest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    let limit = (word.len() / 3).max(2);
    let word = word.to_lowercase();
    let candidates: Vec<&str> = candidates.collect();
    let typo = candidates
        .iter()
        .map(|c| (strsim::levenshtein(&word, &c.to_lowercase()), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string());
    typo.or_else(|| {
        let mut starting = candidates
            .iter()
            .filter(|c| word.len() >= PREFIX_MIN && c.to_lowercase().starts_with(&word));
        match (starting.next(), starting.next()) {
            (Some(c), None) => Some(c.to_string()),
            _ => None,
        }
    })
}

fn is_file(name: &str) -> bool {
    name.contains('/') || name.contains('\\') || name.ends_with(".toml")
}

/// The text of a profile, and a name to show in messages.
fn profile_text(kind: Kind, name: &str) -> Result<(String, String), ProfileError> {
    if is_file(name) {
        let path = Path::new(name);
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::File {
            path: path.to_path_buf(),
            source,
        })?;
        return Ok((text, name.to_string()));
    }
    match builtin::find(kind, name) {
        Some(b) => Ok((b.text.to_string(), name.to_string())),
        None => {
            let known: Vec<String> = BUILTIN
                .iter()
                .filter(|b| b.kind == kind && !b.name.starts_with('_'))
                .map(|b| b.name.to_string())
                .collect();
            Err(ProfileError::NotFound {
                kind: kind.name(),
                name: name.to_string(),
                suggestion: nearest(name, known.iter().map(String::as_str)),
                known,
            })
        }
    }
}

/// Merge `over` into `base`, recursing into tables.
fn merge(base: &mut Table, over: Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(Value::Table(b)), Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Load a profile's table with its parents merged under it.
fn load_table(kind: Kind, name: &str, chain: &mut Vec<String>) -> Result<Table, ProfileError> {
    if chain.iter().any(|c| c == name) || chain.len() > MAX_INHERITANCE {
        let mut c = chain.clone();
        c.push(name.to_string());
        return Err(ProfileError::Cycle(c));
    }
    chain.push(name.to_string());
    let (text, shown) = profile_text(kind, name)?;
    let mut table: Table = text
        .parse()
        .map_err(|e: toml::de::Error| ProfileError::Toml {
            name: shown.clone(),
            message: e.message().to_string(),
        })?;
    check_keys(kind, &table, &format!("profile '{shown}'"))?;
    let parent = match table.remove("inherits") {
        Some(Value::String(p)) => Some(p),
        Some(other) => {
            return Err(ProfileError::BadValue {
                key: "inherits".into(),
                expected: "a profile name".into(),
                got: other.to_string(),
            });
        }
        None => None,
    };
    table.remove("kind");
    match parent {
        Some(p) => {
            let mut base = load_table(kind, &p, chain)?;
            merge(&mut base, table);
            Ok(base)
        }
        None => Ok(table),
    }
}

/// Reject keys that are not settings of `kind`, naming the nearest one.
fn check_keys(kind: Kind, table: &Table, origin: &str) -> Result<(), ProfileError> {
    let known = defaults(kind);
    for key in table.keys() {
        if known.contains_key(key) || META_KEYS.contains(&key.as_str()) {
            continue;
        }
        if let Some(other) = all_kinds()
            .into_iter()
            .find(|k| *k != kind && defaults(*k).contains_key(key))
        {
            return Err(ProfileError::WrongKind {
                key: key.clone(),
                origin: origin.to_string(),
                expected: kind.name(),
                actual: other.name(),
            });
        }
        return Err(ProfileError::UnknownKey {
            key: key.clone(),
            origin: origin.to_string(),
            suggestion: nearest(key, known.keys().map(String::as_str)),
        });
    }
    Ok(())
}

/// A parsed `--set`.
struct Override {
    key: String,
    index: Option<usize>,
    value: String,
    text: String,
}

fn parse_override(text: &str) -> Result<Override, ProfileError> {
    let (lhs, value) = text
        .split_once('=')
        .ok_or_else(|| ProfileError::BadOverride(text.to_string()))?;
    let lhs = lhs.trim();
    if lhs.is_empty() {
        return Err(ProfileError::BadOverride(text.to_string()));
    }
    let (key, index) = match lhs.split_once('[') {
        Some((k, rest)) => {
            let idx = rest
                .strip_suffix(']')
                .and_then(|i| i.trim().parse::<usize>().ok())
                .ok_or_else(|| ProfileError::BadOverride(text.to_string()))?;
            (k.trim().to_string(), Some(idx))
        }
        None => (lhs.to_string(), None),
    };
    Ok(Override {
        key,
        index,
        value: value.trim().to_string(),
        text: text.to_string(),
    })
}

/// Convert `raw` to the type of `like` (a default value), or say what was expected.
fn typed(key: &str, raw: &str, like: &Value) -> Result<Value, ProfileError> {
    let bad = |expected: &str| ProfileError::BadValue {
        key: key.to_string(),
        expected: expected.to_string(),
        got: raw.to_string(),
    };
    let unquoted = raw.trim().trim_matches('"').trim_matches('\'');
    Ok(match like {
        Value::Integer(_) => Value::Integer(unquoted.parse().map_err(|_| bad("an integer"))?),
        Value::Float(_) => {
            let v: f64 = unquoted.parse().map_err(|_| bad("a number"))?;
            if !v.is_finite() {
                return Err(bad("a number"));
            }
            Value::Float(v)
        }
        Value::Boolean(_) => Value::Boolean(match unquoted.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => return Err(bad("true or false")),
        }),
        Value::String(_) => Value::String(unquote_escapes(unquoted)),
        Value::Array(items) => {
            let text = if raw.trim_start().starts_with('[') {
                raw.to_string()
            } else {
                format!("[{raw}]")
            };
            let parsed: Table = format!("v = {text}")
                .parse()
                .map_err(|_| bad("a list, like [0.4, 0.4]"))?;
            let arr = parsed
                .get("v")
                .and_then(Value::as_array)
                .cloned()
                .ok_or_else(|| bad("a list"))?;
            // Elements take the type of the default's elements.
            match items.first() {
                Some(elem) => Value::Array(
                    arr.iter()
                        .map(|v| typed(key, &v.to_string(), elem))
                        .collect::<Result<_, _>>()?,
                ),
                None => Value::Array(arr),
            }
        }
        Value::Table(_) => {
            let parsed: Table = format!("v = {raw}")
                .parse()
                .map_err(|_| bad("a table, like {PVA = 120}"))?;
            parsed.get("v").cloned().ok_or_else(|| bad("a table"))?
        }
        Value::Datetime(_) => return Err(bad("a supported value")),
    })
}

/// `\n` in `--set start_gcode=...` means a new line.
fn unquote_escapes(s: &str) -> String {
    s.replace("\\n", "\n")
}

/// Apply one override to a kind's table.
fn apply(table: &mut Table, kind: Kind, o: &Override) -> Result<(), ProfileError> {
    let default = defaults(kind);
    let like = default
        .get(&o.key)
        .cloned()
        .ok_or_else(|| ProfileError::UnknownKey {
            key: o.key.clone(),
            origin: format!("--set {}", o.text),
            suggestion: None,
        })?;
    match (o.index, &like) {
        (Some(i), Value::Array(items)) => {
            let elem_like = items.first().cloned().unwrap_or(Value::Float(0.0));
            let v = typed(&o.key, &o.value, &elem_like)?;
            let current = table.get(&o.key).cloned().unwrap_or(like.clone());
            let mut arr = current.as_array().cloned().unwrap_or_default();
            if i >= arr.len() {
                let fill = arr.last().cloned().unwrap_or_else(|| v.clone());
                arr.resize(i + 1, fill);
            }
            arr[i] = v;
            table.insert(o.key.clone(), Value::Array(arr));
        }
        (Some(_), _) => {
            return Err(ProfileError::BadValue {
                key: o.key.clone(),
                expected: "a single value (it is not a per-tool list)".into(),
                got: o.text.clone(),
            });
        }
        (None, like) => {
            table.insert(o.key.clone(), typed(&o.key, &o.value, like)?);
        }
    }
    Ok(())
}

/// Deserialise a resolved table, naming the profile in errors.
fn decode<T: serde::de::DeserializeOwned>(table: Table, name: &str) -> Result<T, ProfileError> {
    table.try_into().map_err(|e: toml::de::Error| {
        ProfileError::Invalid(format!("profile '{name}': {}", e.message()))
    })
}

/// Resolve the selection into settings.
pub fn resolve(sel: &ProfileSelection) -> Result<Settings, ProfileError> {
    let or_default = |s: &str, d: &str| {
        if s.is_empty() {
            d.to_string()
        } else {
            s.to_string()
        }
    };
    let printer_name = or_default(&sel.printer, DEFAULT_PRINTER);
    let quality_name = or_default(&sel.quality, DEFAULT_QUALITY);
    let mut material_names: Vec<String> = sel
        .materials
        .iter()
        .filter(|m| !m.is_empty())
        .cloned()
        .collect();
    if material_names.is_empty() {
        material_names.push(DEFAULT_MATERIAL.to_string());
    }

    let mut printer_t = load_table(Kind::Printer, &printer_name, &mut Vec::new())?;
    let mut quality_t = load_table(Kind::Quality, &quality_name, &mut Vec::new())?;
    let mut material_ts = material_names
        .iter()
        .map(|m| load_table(Kind::Material, m, &mut Vec::new()))
        .collect::<Result<Vec<_>, _>>()?;

    // Tools: the printer's nozzle list, after overrides that may change it.
    let overrides = sel
        .overrides
        .iter()
        .map(|o| parse_override(o))
        .collect::<Result<Vec<_>, _>>()?;
    let kind_of = |key: &str| {
        all_kinds()
            .into_iter()
            .find(|k| defaults(*k).contains_key(key))
    };
    for o in &overrides {
        match kind_of(&o.key) {
            Some(Kind::Printer) => apply(&mut printer_t, Kind::Printer, o)?,
            Some(Kind::Quality) => apply(&mut quality_t, Kind::Quality, o)?,
            Some(Kind::Material) => {
                // key[N] picks tool N's material; without an index, every material.
                match o.index {
                    Some(i) => {
                        while material_ts.len() <= i {
                            let first = material_ts[0].clone();
                            material_ts.push(first);
                            material_names.push(material_names[0].clone());
                        }
                        let single = Override {
                            key: o.key.clone(),
                            index: None,
                            value: o.value.clone(),
                            text: o.text.clone(),
                        };
                        apply(&mut material_ts[i], Kind::Material, &single)?;
                    }
                    None => {
                        for t in &mut material_ts {
                            apply(t, Kind::Material, o)?;
                        }
                    }
                }
            }
            None => {
                let all: Vec<String> = all_kinds()
                    .into_iter()
                    .flat_map(|k| defaults(k).keys().cloned().collect::<Vec<_>>())
                    .collect();
                return Err(ProfileError::UnknownKey {
                    key: o.key.clone(),
                    origin: format!("--set {}", o.text),
                    suggestion: nearest(&o.key, all.iter().map(String::as_str)),
                });
            }
        }
    }

    let printer: Printer = decode(printer_t, &printer_name)?;
    let print: Print = decode(quality_t, &quality_name)?;
    let mut materials: Vec<Material> = material_ts
        .into_iter()
        .zip(&material_names)
        .map(|(t, n)| decode(t, n))
        .collect::<Result<_, _>>()?;
    let tools = printer.tools();
    if materials.len() > tools {
        return Err(ProfileError::Invalid(format!(
            "printer '{printer_name}' has {tools} tool{} but {} materials were given",
            if tools == 1 { "" } else { "s" },
            materials.len()
        )));
    }
    while materials.len() < tools {
        materials.push(materials[0].clone());
        material_names.push(material_names[0].clone());
    }
    let mut settings = Settings {
        printer,
        materials,
        print,
        names: ProfileNames {
            printer: printer_name,
            materials: material_names,
            quality: quality_name,
        },
    };
    assign_soluble(&mut settings)?;
    validate(&settings)?;
    Ok(settings)
}

/// Soluble support: the tool loaded with a soluble material prints the interface (and
/// with `soluble_support = all` the whole support, with `support_inside = soluble` the
/// support standing inside the model). Soluble support implies support.
fn assign_soluble(s: &mut Settings) -> Result<(), ProfileError> {
    let q = &mut s.print;
    let wanted =
        q.soluble_support != SolubleMode::Off || q.support_inside == SupportInside::Soluble;
    if !wanted {
        return Ok(());
    }
    let Some(tool) = s.materials.iter().position(|m| m.soluble) else {
        let tools = s.printer.tools();
        return Err(ProfileError::Invalid(if tools < 2 {
            format!(
                "soluble support needs a printer with two tools; '{}' has one (try --printer dual-marlin)",
                s.names.printer
            )
        } else {
            format!(
                "soluble support needs a soluble material on one of the tools, e.g. --material pla --material pva (loaded: {})",
                s.names.materials.join(", ")
            )
        }));
    };
    if q.support_material == SupportStyle::None {
        q.support_material = SupportStyle::Grid;
    }
    match q.soluble_support {
        SolubleMode::All => {
            q.support_tool = tool;
            q.support_interface_tool = tool;
        }
        SolubleMode::Interface => q.support_interface_tool = tool,
        SolubleMode::Off => {}
    }
    Ok(())
}

/// Check ranges and consistency.
/// Largest prime after a tool change, mm³: more than any material's purge volume.
const MAX_TOOLCHANGE_PRIME: f64 = 500.0;

fn validate(s: &Settings) -> Result<(), ProfileError> {
    let bad = |m: String| Err(ProfileError::Invalid(m));
    let p = &s.printer;
    if p.bed_size.iter().any(|v| *v <= 0.0) || p.max_height <= 0.0 {
        return bad(format!(
            "printer '{}': bed_size and max_height must be positive",
            s.names.printer
        ));
    }
    if p.nozzle_diameter.is_empty() || p.nozzle_diameter.iter().any(|d| !(0.05..=2.0).contains(d)) {
        return bad(format!(
            "printer '{}': nozzle_diameter must list one diameter per tool, each between 0.05 and 2 mm",
            s.names.printer
        ));
    }
    if p.extruder_offset.len() < p.nozzle_diameter.len() {
        return bad(format!(
            "printer '{}': extruder_offset needs one [x, y] per tool ({} tools, {} offsets)",
            s.names.printer,
            p.nozzle_diameter.len(),
            p.extruder_offset.len()
        ));
    }
    if !(0.0..=MAX_TOOLCHANGE_PRIME).contains(&p.toolchange_prime) {
        return bad(format!(
            "printer '{}': toolchange_prime is a volume in mm³ between 0 and {MAX_TOOLCHANGE_PRIME}, not {}",
            s.names.printer, p.toolchange_prime
        ));
    }
    if p.max_feedrate
        .iter()
        .chain(&p.max_acceleration)
        .any(|v| *v <= 0.0)
    {
        return bad("max_feedrate and max_acceleration must be positive".into());
    }
    for (m, name) in s.materials.iter().zip(&s.names.materials) {
        if !(0.5..=4.0).contains(&m.filament_diameter) {
            return bad(format!(
                "material '{name}': filament_diameter must be between 0.5 and 4 mm, not {}",
                m.filament_diameter
            ));
        }
        if !(0.3..=3.0).contains(&m.filament_density) {
            return bad(format!(
                "material '{name}': filament_density must be between 0.3 and 3 g/cm³"
            ));
        }
        for (k, v) in [
            ("temperature", m.temperature),
            ("first_layer_temperature", m.first_layer_temperature),
            ("idle_temperature", m.idle_temperature),
            ("bed_temperature", m.bed_temperature),
            ("first_layer_bed_temperature", m.first_layer_bed_temperature),
        ] {
            if !(0.0..=450.0).contains(&v) {
                return bad(format!(
                    "material '{name}': {k} must be between 0 and 450 °C, not {v}"
                ));
            }
        }
        for (k, v) in [
            ("min_fan_speed", m.min_fan_speed),
            ("max_fan_speed", m.max_fan_speed),
            ("bridge_fan_speed", m.bridge_fan_speed),
        ] {
            if !(0.0..=100.0).contains(&v) {
                return bad(format!(
                    "material '{name}': {k} is a percentage (0-100), not {v}"
                ));
            }
        }
        if m.extrusion_multiplier <= 0.0 {
            return bad(format!(
                "material '{name}': extrusion_multiplier must be positive"
            ));
        }
    }
    let q = &s.print;
    let nozzle = p
        .nozzle_diameter
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    if q.layer_height <= 0.0 || q.layer_height > 0.8 * nozzle + 1e-9 {
        return bad(format!(
            "layer_height must be above 0 and at most 80% of the nozzle ({:.2} mm), not {}",
            0.8 * nozzle,
            q.layer_height
        ));
    }
    if q.first_layer_height <= 0.0 || q.first_layer_height > nozzle + 1e-9 {
        return bad(format!(
            "first_layer_height must be above 0 and at most the nozzle diameter ({nozzle} mm), not {}",
            q.first_layer_height
        ));
    }
    if !(0.0..=100.0).contains(&q.fill_density) {
        return bad(format!(
            "fill_density is a percentage (0-100), not {}",
            q.fill_density
        ));
    }
    if !(0.0..=MAX_VESSEL_WALL).contains(&q.vessel_wall) || q.vessel_wall.is_nan() {
        return bad(format!(
            "vessel_wall is a wall thickness in mm (0 for none, at most {MAX_VESSEL_WALL}), not {}",
            q.vessel_wall
        ));
    }
    if q.perimeters > 100 {
        return bad(format!(
            "perimeters must be at most 100, not {}",
            q.perimeters
        ));
    }
    for (k, v) in [
        ("perimeter_speed", q.perimeter_speed),
        ("external_perimeter_speed", q.external_perimeter_speed),
        ("infill_speed", q.infill_speed),
        ("solid_infill_speed", q.solid_infill_speed),
        ("top_solid_infill_speed", q.top_solid_infill_speed),
        ("gap_fill_speed", q.gap_fill_speed),
        ("bridge_speed", q.bridge_speed),
        ("support_material_speed", q.support_material_speed),
        (
            "support_material_interface_speed",
            q.support_material_interface_speed,
        ),
        ("travel_speed", q.travel_speed),
        ("first_layer_speed", q.first_layer_speed),
    ] {
        if v <= 0.0 {
            return bad(format!("{k} must be positive, not {v}"));
        }
    }
    for (k, v) in [
        ("extrusion_width", q.extrusion_width),
        ("first_layer_extrusion_width", q.first_layer_extrusion_width),
        ("perimeter_extrusion_width", q.perimeter_extrusion_width),
        (
            "external_perimeter_extrusion_width",
            q.external_perimeter_extrusion_width,
        ),
        ("infill_extrusion_width", q.infill_extrusion_width),
        (
            "solid_infill_extrusion_width",
            q.solid_infill_extrusion_width,
        ),
        ("top_infill_extrusion_width", q.top_infill_extrusion_width),
        (
            "support_material_extrusion_width",
            q.support_material_extrusion_width,
        ),
    ] {
        if v < 0.0 || v > 3.0 * nozzle {
            return bad(format!(
                "{k} must be 0 (automatic) or up to 3 nozzle widths, not {v}"
            ));
        }
    }
    if !(0.0..=90.0).contains(&q.support_threshold) {
        return bad(format!(
            "support_threshold is an angle from the horizontal (0-90°), not {}",
            q.support_threshold
        ));
    }
    let tools = p.tools();
    for (k, v) in [
        ("support_tool", q.support_tool),
        ("support_interface_tool", q.support_interface_tool),
    ] {
        if v >= tools {
            return bad(format!(
                "{k} is {v} but printer '{}' has {tools} tool{} (numbered from 0)",
                s.names.printer,
                if tools == 1 { "" } else { "s" }
            ));
        }
    }
    Ok(())
}

/// The fully resolved values of one profile, as TOML: `name` is a built-in profile of
/// any kind, or a file.
pub fn show(name: &str) -> Result<(Kind, String), ProfileError> {
    let kind = if is_file(name) {
        let (text, _) = profile_text(Kind::Printer, name)?;
        file_kind(name, &text)?
    } else {
        all_kinds()
            .into_iter()
            .find(|k| builtin::find(*k, name).is_some() && !name.starts_with('_'))
            .ok_or_else(|| {
                let known: Vec<String> = super::list().into_iter().map(|p| p.name).collect();
                ProfileError::NotFound {
                    kind: "printer, material or quality",
                    name: name.to_string(),
                    suggestion: nearest(name, known.iter().map(String::as_str)),
                    known,
                }
            })?
    };
    let table = load_table(kind, name, &mut Vec::new())?;
    let text = match kind {
        Kind::Printer => toml::to_string(&decode::<Printer>(table, name)?),
        Kind::Material => toml::to_string(&decode::<Material>(table, name)?),
        Kind::Quality => toml::to_string(&decode::<Print>(table, name)?),
    }
    .map_err(|e| ProfileError::Invalid(e.to_string()))?;
    Ok((kind, text))
}

/// The kind of a user's profile file: its `kind` key, its parent's kind, or the kind its
/// keys belong to.
fn file_kind(name: &str, text: &str) -> Result<Kind, ProfileError> {
    let table: Table = text
        .parse()
        .map_err(|e: toml::de::Error| ProfileError::Toml {
            name: name.to_string(),
            message: e.message().to_string(),
        })?;
    if let Some(k) = table.get("kind").and_then(Value::as_str) {
        return match k {
            "printer" => Ok(Kind::Printer),
            "material" => Ok(Kind::Material),
            "quality" => Ok(Kind::Quality),
            other => Err(ProfileError::BadValue {
                key: "kind".into(),
                expected: "printer, material or quality".into(),
                got: other.into(),
            }),
        };
    }
    if let Some(parent) = table.get("inherits").and_then(Value::as_str) {
        if let Some(k) = all_kinds()
            .into_iter()
            .find(|k| builtin::find(*k, parent).is_some())
        {
            return Ok(k);
        }
    }
    all_kinds()
        .into_iter()
        .find(|k| {
            let d = defaults(*k);
            table.keys().any(|key| d.contains_key(key) && key != "description")
        })
        .ok_or_else(|| {
            ProfileError::Invalid(format!(
                "cannot tell whether '{name}' is a printer, material or quality profile; add kind = \"printer\" (or material, quality)"
            ))
        })
}

impl Settings {
    /// Every setting as a TOML document (`[printer]`, `[[material]]`, `[print]`), the
    /// record a G-code file's footer carries.
    pub fn to_toml(&self) -> String {
        #[derive(serde::Serialize)]
        struct Doc<'a> {
            printer: &'a Printer,
            print: &'a Print,
            material: &'a [Material],
        }
        toml::to_string(&Doc {
            printer: &self.printer,
            print: &self.print,
            material: &self.materials,
        })
        .unwrap_or_default()
    }
}

/// Read settings back from [`Settings::to_toml`] output.
pub fn from_toml(text: &str) -> Result<(Printer, Print, Vec<Material>), ProfileError> {
    #[derive(serde::Deserialize)]
    struct Doc {
        printer: Printer,
        print: Print,
        material: Vec<Material>,
    }
    let d: Doc = toml::from_str(text).map_err(|e| ProfileError::Toml {
        name: "settings".into(),
        message: e.message().to_string(),
    })?;
    Ok((d.printer, d.print, d.material))
}

#[cfg(test)]
mod tests;
