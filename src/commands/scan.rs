//! `dockgen scan`: a project's imports against a lock (`scan`).

use std::io::Write;
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::Context;
use pep508_rs::PackageName;

use super::Failure;
use super::check::Audit;
use super::files::display_path;
use crate::cli::ScanArgs;
use crate::index::PackageSource;
use crate::scan::{self, Outcome};

pub fn run(args: &ScanArgs, quiet: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let cwd = std::env::current_dir().context("cannot determine the current directory")?;
    let paths: Vec<PathBuf> = if args.paths.is_empty() {
        vec![cwd.clone()]
    } else {
        args.paths.iter().map(|path| cwd.join(path)).collect()
    };
    let (files, local) = scan::python_files(&paths)?;
    if files.is_empty() {
        anyhow::bail!(
            "no Python file under {}",
            paths
                .iter()
                .map(|p| format!("`{}`", display_path(p, &cwd)))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let parsed = scan::parse(&args.python, &files)?;
    let audit = Audit::gather(&cwd, &args.selected, &args.network, quiet)?;
    let minor = |version: &str| {
        version
            .split('.')
            .nth(1)
            .and_then(|minor| minor.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let target = audit.profile.python.to_string();
    let stdlib = scan::stdlib_for(&parsed.stdlib, minor(&parsed.python), minor(&target));
    let mut outcome = scan::analyze(&parsed, &stdlib, &local, &audit.facts, &cwd);
    suggest(&mut outcome, &audit);

    let lock = display_path(&audit.lock_path, &cwd);
    if args.format == "json" {
        let document = serde_json::json!({
            "lock": lock,
            "profile": audit.profile.name,
            "target_python": target,
            "parser_python": outcome.python,
            "files": outcome.files,
            "local_modules": outcome.local,
            "missing": outcome.missing,
            "unused": outcome.unused,
            "provided": outcome.provided,
            "unparsable": outcome.unparsable.iter().map(|(file, error)| {
                serde_json::json!({"file": file, "error": error})
            }).collect::<Vec<_>>(),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&document)?)?;
    } else {
        write_text(out, &outcome, &lock, &target)?;
    }
    out.flush()?;
    if outcome.missing.iter().any(|missing| !missing.optional) {
        return Err(Failure::Reported.into());
    }
    Ok(())
}

/// The distribution to add for each missing module: a known differing import name,
/// else a project of that name on the profile's indexes.
fn suggest(outcome: &mut Outcome, audit: &Audit) {
    let known = scan::known_distributions();
    for missing in &mut outcome.missing {
        if let Some(dist) = known.get(missing.module.as_str()) {
            missing.suggestion = Some(dist.to_string());
            missing.suggested_by = Some("a known import name".into());
            continue;
        }
        let Ok(name) = PackageName::from_str(&missing.module) else {
            continue;
        };
        if let Ok(Some(project)) = audit.client.project(&name)
            && !project.files.is_empty()
        {
            missing.suggestion = Some(name.to_string());
            missing.suggested_by = Some(format!("a project on index `{}`", project.files[0].index));
        }
    }
}

fn write_text(
    out: &mut dyn Write,
    outcome: &Outcome,
    lock: &str,
    target: &str,
) -> std::io::Result<()> {
    writeln!(
        out,
        "scanned {} Python file{} against {lock} (Python {target}'s standard library, {} local module{})",
        outcome.files,
        if outcome.files == 1 { "" } else { "s" },
        outcome.local.len(),
        if outcome.local.len() == 1 { "" } else { "s" },
    )?;
    for missing in &outcome.missing {
        let add = match (&missing.suggestion, &missing.suggested_by) {
            (Some(dist), Some(by)) => format!("; add `{dist}` ({by})"),
            _ => "; no distribution of that name found".to_string(),
        };
        if missing.optional {
            writeln!(
                out,
                "missing (optional): {}, at {}:{} (inside a function or `try:` block){add}",
                missing.module, missing.file, missing.line
            )?;
        } else {
            writeln!(
                out,
                "missing: {}, first imported at {}:{}{add}",
                missing.module, missing.file, missing.line
            )?;
        }
    }
    for unused in &outcome.unused {
        writeln!(
            out,
            "unused: {unused} (an input requires it; nothing imports it or a package that requires it)"
        )?;
    }
    if !outcome.unused.is_empty() {
        writeln!(
            out,
            "  (a server or tool that runs as a command, such as gunicorn, is never imported)"
        )?;
    }
    for (file, error) in &outcome.unparsable {
        writeln!(out, "warning: {file}: Python cannot parse it: {error}")?;
    }
    let required = outcome.missing.iter().filter(|m| !m.optional).count();
    if required > 0 {
        writeln!(
            out,
            "{required} missing import{}",
            if required == 1 { "" } else { "s" }
        )?;
    } else {
        writeln!(out, "no missing import")?;
    }
    Ok(())
}
