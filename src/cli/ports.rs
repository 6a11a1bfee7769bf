//! `lamina ports`: the serial ports a printer may be on.

use clap::Args;

use super::Global;

/// Arguments of `lamina ports`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  lamina ports\n  lamina ports --json")]
pub struct PortsArgs {
    /// Print the list as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Run `lamina ports`.
pub fn run(args: PortsArgs, global: Global) -> anyhow::Result<()> {
    let ports = lamina::serial::port::list_ports()
        .map_err(|e| anyhow::anyhow!("cannot list the serial ports: {e}"))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&ports)?);
        return Ok(());
    }
    if ports.is_empty() {
        if !global.quiet {
            eprintln!("no serial ports found (is the printer plugged in and switched on?)");
        }
        return Ok(());
    }
    for p in &ports {
        let mut line = format!("{}\t{}", p.name, p.kind);
        if let Some(id) = &p.usb_id {
            line.push_str(&format!("\t{id}"));
        }
        if let Some(d) = &p.description {
            line.push_str(&format!("\t{d}"));
        }
        println!("{line}");
    }
    Ok(())
}
