//! `lamina profiles`: the built-in profiles and their resolved values.

use anyhow::Result;
use clap::{Args, Subcommand};
use lamina::profile;

use super::{out, out_json};

/// Options of `lamina profiles`.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  lamina profiles list\n  lamina profiles show prusa-mk3s\n  lamina profiles show my-printer.toml --json"
)]
pub struct ProfilesArgs {
    #[command(subcommand)]
    command: Option<ProfilesCommand>,
    /// Print JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum ProfilesCommand {
    /// List the built-in printer, material and quality profiles.
    List,
    /// Show every value of a profile, inheritance applied.
    Show {
        /// A profile name or a TOML file.
        name: String,
    },
}

/// Run `lamina profiles`.
pub fn run(args: ProfilesArgs) -> Result<()> {
    match args.command.unwrap_or(ProfilesCommand::List) {
        ProfilesCommand::List => {
            let list = profile::list();
            if args.json {
                out_json(&list)?;
            } else {
                out(format_args!("{:<9} {:<12} DESCRIPTION", "KIND", "NAME"))?;
                for p in list {
                    out(format_args!(
                        "{:<9} {:<12} {}",
                        p.kind.name(),
                        p.name,
                        p.description
                    ))?;
                }
            }
        }
        ProfilesCommand::Show { name } => {
            let (kind, text) = profile::show(&name)?;
            if args.json {
                let table: toml::Table = text.parse()?;
                let value = serde_json::json!({ "kind": kind, "name": name, "values": table });
                out_json(&value)?;
            } else {
                out(format_args!(
                    "# {} profile '{name}', every value\n{}",
                    kind.name(),
                    text.trim_end()
                ))?;
            }
        }
    }
    Ok(())
}
