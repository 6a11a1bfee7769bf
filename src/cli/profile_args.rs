//! Profile selection options shared by the commands that slice.

use clap::Args;
use lamina::profile::ProfileSelection;

/// Which printer, materials and quality to use.
#[derive(Args, Debug, Clone, Default)]
pub struct ProfileArgs {
    /// Printer profile: a built-in name (`lamina profiles list`) or a TOML file.
    #[arg(long, value_name = "P")]
    pub printer: Option<String>,
    /// Material profile, once per tool (the first one fills unnamed tools).
    #[arg(long, value_name = "M")]
    pub material: Vec<String>,
    /// Quality (print settings) profile.
    #[arg(long, value_name = "Q")]
    pub quality: Option<String>,
    /// Override a setting: KEY=VALUE, or KEY[N]=VALUE for tool N (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

impl ProfileArgs {
    /// The selection these options describe, with `extra` overrides applied before the
    /// user's own `--set`.
    pub fn selection(&self, extra: Vec<String>) -> ProfileSelection {
        let mut overrides = extra;
        overrides.extend(self.set.iter().cloned());
        ProfileSelection {
            printer: self.printer.clone().unwrap_or_default(),
            materials: self.material.clone(),
            quality: self.quality.clone().unwrap_or_default(),
            overrides,
        }
    }
}
