//! The profiles built into the binary.

use serde::Serialize;

/// The three kinds of profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A machine.
    Printer,
    /// A filament.
    Material,
    /// Print settings.
    Quality,
}

impl Kind {
    /// The kind's name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Printer => "printer",
            Kind::Material => "material",
            Kind::Quality => "quality",
        }
    }
}

/// One built-in profile file.
pub(crate) struct Builtin {
    pub kind: Kind,
    pub name: &'static str,
    pub text: &'static str,
}

macro_rules! builtin {
    ($kind:ident, $dir:literal, $name:literal) => {
        Builtin {
            kind: Kind::$kind,
            name: $name,
            text: include_str!(concat!("../../profiles/", $dir, "/", $name, ".toml")),
        }
    };
}

/// Every built-in profile. Names starting with `_` are bases for inheritance only.
pub(crate) const BUILTIN: &[Builtin] = &[
    builtin!(Printer, "printer", "_marlin"),
    builtin!(Printer, "printer", "generic-220"),
    builtin!(Printer, "printer", "prusa-mk3s"),
    builtin!(Printer, "printer", "dual-marlin"),
    builtin!(Printer, "printer", "idex-marlin"),
    builtin!(Printer, "printer", "_klipper"),
    builtin!(Printer, "printer", "klipper-ender3"),
    builtin!(Printer, "printer", "_reprapfirmware"),
    builtin!(Printer, "printer", "duet-corexy-300"),
    builtin!(Material, "material", "pla"),
    builtin!(Material, "material", "petg"),
    builtin!(Material, "material", "tpu"),
    builtin!(Material, "material", "pva"),
    builtin!(Material, "material", "bvoh"),
    builtin!(Material, "material", "hips"),
    builtin!(Quality, "quality", "_common"),
    builtin!(Quality, "quality", "0.10mm"),
    builtin!(Quality, "quality", "0.20mm"),
    builtin!(Quality, "quality", "0.28mm"),
];

/// A profile as `lamina profiles list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfileInfo {
    /// Its kind.
    pub kind: Kind,
    /// Its name.
    pub name: String,
    /// The description it gives.
    pub description: String,
}

/// Every built-in profile that can be chosen (bases excluded).
pub fn list() -> Vec<ProfileInfo> {
    BUILTIN
        .iter()
        .filter(|b| !b.name.starts_with('_'))
        .map(|b| ProfileInfo {
            kind: b.kind,
            name: b.name.to_string(),
            description: b
                .text
                .parse::<toml::Table>()
                .ok()
                .and_then(|t| {
                    t.get("description")
                        .and_then(|d| d.as_str())
                        .map(str::to_owned)
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// The built-in profile of `kind` called `name`.
pub(crate) fn find(kind: Kind, name: &str) -> Option<&'static Builtin> {
    BUILTIN.iter().find(|b| b.kind == kind && b.name == name)
}
