//! `dockgen profiles` (a table of the built-in profiles) and `dockgen profiles show`
//! (one profile, built-in or from a file, with its `extends:` chain resolved).

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::input::profile::{self, Accelerator, Profile};

/// Print the built-in profiles as a table: name, platform, python, accelerator, description.
pub fn list(out: &mut dyn Write) -> anyhow::Result<()> {
    let mut rows = vec![[
        "NAME".to_string(),
        "PLATFORM".to_string(),
        "PYTHON".to_string(),
        "ACCELERATOR".to_string(),
        "DESCRIPTION".to_string(),
    ]];
    for name in profile::builtin_names() {
        let profile = profile::builtin(name).with_context(|| {
            format!("built-in profile `{name}` does not load; this is a bug in dockgen")
        })?;
        rows.push(row(&profile));
    }
    let mut widths = [0usize; 5];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in &rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "Show one with `dockgen profiles show NAME`; extend one with `extends: NAME` in your own YAML."
    )?;
    Ok(())
}

fn row(profile: &Profile) -> [String; 5] {
    let accelerator = match &profile.accelerator {
        Accelerator::Cpu => "cpu".to_string(),
        Accelerator::Cuda {
            version,
            compute_capabilities,
        } => format!("cuda {version} (sm {})", compute_capabilities.join(" ")),
        Accelerator::Rocm {
            version,
            gfx_targets,
        } => format!("rocm {version} ({})", gfx_targets.join(" ")),
    };
    [
        profile.name.clone(),
        profile.platform.to_string(),
        profile.python.to_string(),
        accelerator,
        profile.description.clone(),
    ]
}

/// Print one profile, fully resolved (`extends:` applied), as profile YAML.
pub fn show(spec: &str, cwd: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
    let profile = profile::load(spec, cwd)?;
    let yaml = profile::to_yaml(&profile)
        .with_context(|| format!("cannot print profile `{}` as YAML", profile.name))?;
    writeln!(out, "# Profile `{}`, fully resolved.", profile.name)?;
    // A profile never holds userinfo; a token in a query is masked.
    out.write_all(crate::secrets::text(&yaml).as_bytes())?;
    Ok(())
}

/// `profiles --format json`: every built-in profile, as [`show_json`] gives each.
pub fn list_json(out: &mut dyn Write) -> anyhow::Result<()> {
    let mut profiles = Vec::new();
    for name in profile::builtin_names() {
        let profile = profile::builtin(name).with_context(|| {
            format!("built-in profile `{name}` does not load; this is a bug in dockgen")
        })?;
        profiles.push(profile::to_json(&profile)?);
    }
    writeln!(out, "{}", serde_json::to_string_pretty(&profiles)?)?;
    Ok(())
}

/// `profiles show --format json`: one profile, fully resolved, as one JSON object with
/// the fields of its YAML.
pub fn show_json(spec: &str, cwd: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
    let profile = profile::load(spec, cwd)?;
    let json = serde_json::to_string_pretty(&profile::to_json(&profile)?)?;
    writeln!(out, "{}", crate::secrets::text(&json))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lists_every_builtin_as_show_gives_it() {
        let mut out = Vec::new();
        list_json(&mut out).unwrap();
        let listed: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
        let names: Vec<&str> = listed.iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, profile::builtin_names());
        for entry in &listed {
            let mut out = Vec::new();
            show_json(entry["name"].as_str().unwrap(), Path::new("."), &mut out).unwrap();
            let shown: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(&shown, entry);
        }
        insta::assert_snapshot!(String::from_utf8(out).unwrap());
    }

    #[test]
    fn list_builtins() {
        let mut out = Vec::new();
        list(&mut out).unwrap();
        insta::assert_snapshot!(String::from_utf8(out).unwrap());
    }

    #[test]
    fn show_every_builtin() {
        for name in profile::builtin_names() {
            let mut out = Vec::new();
            show(name, Path::new("."), &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            insta::assert_snapshot!(format!("show_{name}"), text);
        }
    }

    #[test]
    fn show_output_loads_back_as_the_same_profile() {
        let dir = tempfile::tempdir().unwrap();
        for name in profile::builtin_names() {
            let mut out = Vec::new();
            show(name, Path::new("."), &mut out).unwrap();
            let path = dir.path().join(format!("{name}.yaml"));
            std::fs::write(&path, &out).unwrap();
            let reloaded = profile::load(path.to_str().unwrap(), dir.path()).unwrap();
            let original = profile::builtin(name).unwrap();
            assert_eq!(
                serde_json::to_value(&reloaded).unwrap(),
                serde_json::to_value(&original).unwrap(),
                "{name}"
            );
        }
    }

    #[test]
    fn show_applies_extends() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("orin-mirror.yaml"),
            "extends: jetson-orin\ndescription: Orin via the internal mirror\nindexes:\n  - name: mirror\n    url: https://mirror.example/simple\n    exclude_newer: 2025-01-31\nenv:\n  OMP_NUM_THREADS: 4\n",
        )
        .unwrap();
        let mut out = Vec::new();
        show("orin-mirror.yaml", dir.path(), &mut out).unwrap();
        insta::assert_snapshot!(String::from_utf8(out).unwrap());
    }

    #[test]
    fn show_unknown_name_lists_builtins() {
        let mut out = Vec::new();
        let err = show("cuda13", Path::new("."), &mut out).unwrap_err();
        insta::assert_snapshot!(err.to_string());
    }
}
