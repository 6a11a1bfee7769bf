//! Profiles: printer, material and print (quality) settings as TOML files.
//!
//! The profiles under `profiles/` are built into the binary, so lamina runs from
//! anywhere; a user's own file works too (any name containing `/` or ending in
//! `.toml`). A profile states only what differs from its parent (`inherits = "name"`)
//! or from the defaults. `--set key=value` overrides any setting, checked against the
//! setting's type; `--set key[N]=value` sets element N of a per-tool list, or the
//! material of tool N. An unknown key is an error that suggests the nearest known key.
//!
//! ```
//! use lamina::profile::{resolve, ProfileSelection};
//! let sel = ProfileSelection {
//!     overrides: vec!["layer_height=0.15".into(), "temperature=205".into()],
//!     ..ProfileSelection::default()
//! };
//! let s = resolve(&sel).unwrap();
//! assert_eq!(s.print.layer_height, 0.15);
//! assert_eq!(s.materials[0].temperature, 205.0);
//!
//! let typo = ProfileSelection { overrides: vec!["layer_heigth=0.1".into()], ..Default::default() };
//! assert!(resolve(&typo).unwrap_err().to_string().contains("did you mean 'layer_height'"));
//! ```

mod builtin;
mod resolve;
mod settings;
mod template;

pub use builtin::{Kind, ProfileInfo, list};
pub use resolve::{ProfileError, ProfileSelection, from_toml, resolve, show};
pub use settings::*;
pub use template::{TemplateVars, render_template};

/// The default printer profile.
pub const DEFAULT_PRINTER: &str = "generic-220";
/// The default material profile.
pub const DEFAULT_MATERIAL: &str = "pla";
/// The default quality profile.
pub const DEFAULT_QUALITY: &str = "0.20mm";
