//! `dockgen detect`: the profile that fits this host, or whether it can run one
//! (`detect`).

use std::io::Write;

use anyhow::Context;

use super::Failure;
use super::files::{display_path, write_atomically};
use crate::cli::DetectArgs;
use crate::detect::{Choice, Finding, Host, Probe, check, choose, counted};
use crate::input::profile;

pub fn run(args: &DetectArgs, quiet: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let cwd = std::env::current_dir().context("cannot determine the current directory")?;
    if !args.root.is_dir() {
        anyhow::bail!(
            "`--root {}` is not a directory (it stands for `/`)",
            args.root.display()
        );
    }
    let host = Probe {
        root: args.root.clone(),
    }
    .host();
    let json = args.format == "json";
    if let Some(spec) = &args.profile {
        let profile =
            profile::load(spec, &cwd).with_context(|| format!("cannot load profile `{spec}`"))?;
        let findings = check(&host, &profile);
        let runs = findings.iter().all(|f| f.status != "problem");
        if json {
            let document = serde_json::json!({
                "host": host,
                "profile": profile.name,
                "runs": runs,
                "findings": findings,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&document)?)?;
        } else {
            write_host(out, &host)?;
            writeln!(
                out,
                "profile {}: {}",
                profile.name,
                if runs {
                    "this host can run its image"
                } else {
                    "this host cannot run its image as meant"
                }
            )?;
            write_findings(out, &findings)?;
        }
        out.flush()?;
        return if runs {
            Ok(())
        } else {
            Err(Failure::Reported.into())
        };
    }
    let choice = choose(&host);
    if let Some(path) = &args.write {
        let text = choice.yaml.clone().unwrap_or_else(|| {
            format!(
                "# Written by `dockgen detect`: the built-in `{0}` fits this host as it is.\n\
                 name: {0}-host\nextends: {0}\n",
                choice.builtin
            )
        });
        let full = cwd.join(path);
        write_atomically(&full, text.as_bytes())?;
        if !quiet {
            eprintln!(
                "wrote profile `{}` -> {}",
                text.lines()
                    .find_map(|line| line.strip_prefix("name: "))
                    .unwrap_or(&choice.name),
                display_path(&full, &cwd)
            );
        }
    }
    if json {
        let document = serde_json::json!({
            "host": host,
            "profile": choice.name,
            "extends": choice.builtin,
            "reasons": choice.reasons,
            "changes": choice.changes,
            "yaml": choice.yaml,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&document)?)?;
    } else {
        write_host(out, &host)?;
        write_choice(out, &choice)?;
    }
    out.flush()?;
    Ok(())
}

fn write_host(out: &mut dyn Write, host: &Host) -> std::io::Result<()> {
    writeln!(
        out,
        "host: {}, {}, Python {}",
        host.machine,
        host.libc.as_deref().unwrap_or("libc unknown"),
        host.python.as_deref().unwrap_or("not found (no `python3`)")
    )?;
    if let Some(nvidia) = &host.nvidia {
        let gpus: Vec<String> = nvidia
            .gpus
            .iter()
            .map(|gpu| {
                let mut facts = Vec::new();
                if let Some(cc) = &gpu.compute_capability {
                    facts.push(format!("compute capability {cc}"));
                }
                if let Some(mib) = gpu.memory_mib {
                    facts.push(format!("{mib} MiB"));
                }
                if facts.is_empty() {
                    gpu.name.clone()
                } else {
                    format!("{} ({})", gpu.name, facts.join(", "))
                }
            })
            .collect();
        for gpu in counted(&gpus) {
            writeln!(out, "gpu: {gpu}")?;
        }
        writeln!(
            out,
            "nvidia driver: {}, CUDA {} (from {})",
            nvidia.driver.as_deref().unwrap_or("unknown"),
            nvidia.cuda.as_deref().unwrap_or("unknown"),
            nvidia.source
        )?;
    }
    if let Some(jetson) = &host.jetson {
        writeln!(
            out,
            "jetson: {}, L4T {}, CUDA {}, compute capability {}",
            jetson.model.as_deref().unwrap_or("model unknown"),
            jetson.l4t.as_deref().unwrap_or("unknown"),
            jetson.cuda.as_deref().unwrap_or("unknown"),
            jetson.compute_capability.as_deref().unwrap_or("unknown")
        )?;
    }
    if let Some(amd) = &host.amd {
        let gpus: Vec<String> = amd
            .gpus
            .iter()
            .map(|gpu| format!("{} ({})", gpu.name.as_deref().unwrap_or("AMD GPU"), gpu.gfx))
            .collect();
        for gpu in counted(&gpus) {
            writeln!(out, "gpu: {gpu}")?;
        }
        writeln!(
            out,
            "rocm: {} (GPUs from {})",
            amd.rocm.as_deref().unwrap_or("not found in /opt/rocm"),
            amd.source
        )?;
    }
    for note in &host.notes {
        writeln!(out, "note: {note}")?;
    }
    Ok(())
}

fn write_choice(out: &mut dyn Write, choice: &Choice) -> std::io::Result<()> {
    if choice.changes.is_empty() {
        writeln!(out, "profile: {}", choice.builtin)?;
    } else {
        writeln!(
            out,
            "profile: {} (extends {}; `--write FILE` writes it)",
            choice.name, choice.builtin
        )?;
    }
    for reason in &choice.reasons {
        writeln!(out, "  - {reason}")?;
    }
    for change in &choice.changes {
        writeln!(out, "  {}: {} -> {}", change.field, change.from, change.to)?;
    }
    if let Some(yaml) = &choice.yaml {
        writeln!(out)?;
        out.write_all(yaml.as_bytes())?;
    }
    Ok(())
}

fn write_findings(out: &mut dyn Write, findings: &[Finding]) -> std::io::Result<()> {
    for finding in findings {
        writeln!(
            out,
            "  {} {}: {}",
            finding.status, finding.check, finding.detail
        )?;
    }
    Ok(())
}
