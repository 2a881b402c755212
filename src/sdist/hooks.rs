//! Running a backend's PEP 517 hooks (`hooks.py`) in a build environment: one process
//! per hook, in its own process group, killed whole at the timeout; its output kept
//! in a log for the error message; its answer read from a file.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pep508_rs::{PackageName, Requirement};

use super::venv::Venv;

/// The hook runner, written next to the builds.
pub const SCRIPT: &str = include_str!("hooks.py");

/// How many of the build's last output lines an error shows.
const TAIL_LINES: usize = 25;

/// One source tree's backend.
pub struct Hook<'a> {
    pub script: &'a Path,
    pub tree: &'a Path,
    pub backend: &'a str,
    pub backend_path: &'a [String],
    pub timeout: Duration,
    pub log: &'a Path,
    /// The run's build directory, shown as `[build]` in the output (it is gone when
    /// the message is read).
    pub work: &'a Path,
}

/// Says whether the build environment has every requirement given.
pub type Installed<'a> = &'a dyn Fn(&[String]) -> bool;

/// Where a backend left the metadata.
#[derive(Debug)]
pub enum Metadata {
    /// The `.dist-info` directory `prepare_metadata_for_build_wheel` made in `out`.
    DistInfo(String),
    /// The wheel `build_wheel` made in `out`.
    Wheel(String),
}

/// Why a hook gave no answer.
#[derive(Debug)]
pub struct HookError {
    pub kind: HookFailure,
    /// The output's last lines, secrets masked.
    pub output: Vec<String>,
}

#[derive(Debug)]
pub enum HookFailure {
    /// The backend's module cannot be imported.
    BackendMissing {
        module: String,
    },
    /// The hook raised; `missing_module` when a `ModuleNotFoundError` was the cause.
    Raised {
        hook: &'static str,
        message: String,
        missing_module: Option<String>,
    },
    TimedOut {
        hook: &'static str,
        after: Duration,
    },
    /// The process died or answered nothing readable.
    Crashed {
        hook: &'static str,
        message: String,
    },
}

impl HookError {
    /// The message for a build of package `name` whose extra build dependencies are
    /// `extra`: what failed, and the fix when one can be named.
    pub fn explain(&self, name: &PackageName, backend: &str, extra: &[Requirement]) -> String {
        // The module's name is the best guess at its distribution's (`torch`); the
        // user knows better where it differs (`cv2` is `opencv-python`).
        let setting = |module: &str| {
            format!(
                "declare the package that provides it for `{name}` in the profile:\n  \
                 extra_build_dependencies:\n    {name}: [\"{}\"]",
                module.split('.').next().unwrap_or(module).replace('_', "-")
            )
        };
        match &self.kind {
            HookFailure::BackendMissing { module } => format!(
                "its build backend's module `{module}` cannot be imported; its \
                 `build-system.requires` does not install `{backend}`"
            ),
            HookFailure::Raised {
                hook,
                message,
                missing_module: Some(module),
            } => {
                let declared = if extra.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (its extra build dependencies: {})",
                        extra
                            .iter()
                            .map(|r| format!("`{r}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                format!(
                    "`{hook}` failed ({message}): the build imports the module `{module}`, \
                     which its build requirements do not install{declared}; {}",
                    setting(module)
                )
            }
            HookFailure::Raised { hook, message, .. } => format!("`{hook}` failed: {message}"),
            HookFailure::TimedOut { hook, after } => format!(
                "{} did not finish within {}s (`--build-timeout`); it was stopped",
                shown(hook),
                after.as_secs()
            ),
            HookFailure::Crashed { hook, message } => format!("{} failed: {message}", shown(hook)),
        }
    }
}

impl Hook<'_> {
    /// `get_requires_for_build_wheel`, then, in the same process when `installed` says
    /// the environment has every requirement it returned,
    /// `prepare_metadata_for_build_wheel` into `out` (or `build_wheel` when the backend
    /// has no such hook): one Python start and one backend import instead of two.
    /// `Ok(Err(requirements))`: the backend asks for these, which the environment lacks.
    pub fn metadata(
        &self,
        venv: &Venv,
        out: &Path,
        installed: Installed<'_>,
    ) -> Result<Result<Metadata, Vec<String>>, HookError> {
        let value = self.run_with(venv, "metadata", Some(out), Some(installed))?;
        let named = |key: &str| value.get(key).and_then(|v| v.as_str()).map(String::from);
        if let Some(requires) = value.get("requires") {
            let requires = serde_json::from_value(requires.clone())
                .map_err(|err| self.crashed("get_requires_for_build_wheel", err.to_string()))?;
            return Ok(Err(requires));
        }
        let (hook, answer) = match (named("dist_info"), named("wheel")) {
            (Some(dist_info), _) => ("prepare_metadata_for_build_wheel", dist_info),
            (None, Some(wheel)) => ("build_wheel", wheel),
            (None, None) => {
                return Err(self.crashed(
                    "prepare_metadata_for_build_wheel",
                    format!("it answered `{value}`"),
                ));
            }
        };
        let name = checked_name(&answer).ok_or_else(|| {
            self.crashed(hook, format!("it named `{answer}`, which is no file name"))
        })?;
        Ok(Ok(match hook {
            "build_wheel" => Metadata::Wheel(name),
            _ => Metadata::DistInfo(name),
        }))
    }

    /// `prepare_metadata_for_build_wheel` into `out`: the `.dist-info` directory's
    /// name, or `None` when the backend has no such hook.
    pub fn prepare_metadata(&self, venv: &Venv, out: &Path) -> Result<Option<String>, HookError> {
        let hook = "prepare_metadata_for_build_wheel";
        let value = self.run(venv, hook, Some(out))?;
        if value.get("unsupported").is_some() {
            return Ok(None);
        }
        let name = value
            .get("dist_info")
            .and_then(|v| v.as_str())
            .ok_or_else(|| self.crashed(hook, format!("it answered `{value}`")))?;
        checked_name(name).map(Some).ok_or_else(|| {
            self.crashed(
                hook,
                format!("it named `{name}`, which is no directory name"),
            )
        })
    }

    /// `build_wheel` into `out`: the wheel's file name.
    pub fn build_wheel(&self, venv: &Venv, out: &Path) -> Result<String, HookError> {
        let hook = "build_wheel";
        let value = self.run(venv, hook, Some(out))?;
        let name = value
            .get("wheel")
            .and_then(|v| v.as_str())
            .ok_or_else(|| self.crashed(hook, format!("it answered `{value}`")))?;
        checked_name(name)
            .ok_or_else(|| self.crashed(hook, format!("it named `{name}`, which is no file name")))
    }

    fn crashed(&self, hook: &'static str, message: String) -> HookError {
        HookError {
            kind: HookFailure::Crashed { hook, message },
            output: tail(self.log, &[(self.work, "[build]"), (self.tree, "[source]")]),
        }
    }

    fn run(
        &self,
        venv: &Venv,
        hook: &'static str,
        directory: Option<&Path>,
    ) -> Result<serde_json::Value, HookError> {
        self.run_with(venv, hook, directory, None)
    }

    /// Runs `hook`; for the `metadata` hook, `installed` answers the runner's question
    /// whether the environment has what `get_requires_for_build_wheel` returned (when
    /// not, the runner stops and the answer is `{"requires": [...]}`).
    fn run_with(
        &self,
        venv: &Venv,
        hook: &'static str,
        directory: Option<&Path>,
        installed: Option<Installed<'_>>,
    ) -> Result<serde_json::Value, HookError> {
        let result = self.log.with_extension(format!("{hook}.json"));
        let asked = PathBuf::from(format!("{}.requires", result.display()));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log)
            .map_err(|err| self.crashed(hook, format!("cannot open its log: {err}")))?;
        let log_err = log
            .try_clone()
            .map_err(|err| self.crashed(hook, format!("cannot open its log: {err}")))?;
        let backend_path = serde_json::to_string(self.backend_path).unwrap_or_default();
        let mut command = Command::new(venv.python());
        command
            .arg(self.script)
            .args([self.backend, &backend_path, hook])
            .arg(&result)
            .args(directory)
            .current_dir(self.tree)
            .stdin(match installed {
                Some(_) => Stdio::piped(),
                None => Stdio::null(),
            })
            .stdout(log)
            .stderr(log_err);
        build_environment(&mut command, venv);
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command
            .spawn()
            .map_err(|err| self.crashed(hook, format!("cannot start Python: {err}")))?;
        let started = Instant::now();
        let mut stdin = child.stdin.take();
        let mut requires: Option<Vec<String>> = None;
        let status = loop {
            if let (Some(installed), Some(mut pipe)) = (installed, stdin.take()) {
                match std::fs::read(&asked) {
                    Ok(bytes) => {
                        let asked: Vec<String> =
                            serde_json::from_slice::<serde_json::Value>(&bytes)
                                .ok()
                                .and_then(|v| serde_json::from_value(v.get("ok")?.clone()).ok())
                                .unwrap_or_default();
                        let go = installed(&asked);
                        // A runner that died meanwhile is reported below, by its exit.
                        let _ = std::io::Write::write_all(
                            &mut pipe,
                            if go { b"go\n" } else { b"stop\n" },
                        );
                        if !go {
                            requires = Some(asked);
                        }
                    }
                    Err(_) => stdin = Some(pipe),
                }
            }
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() >= self.timeout => {
                    kill_group(child.id());
                    let _ = child.wait();
                    return Err(HookError {
                        kind: HookFailure::TimedOut {
                            hook,
                            after: self.timeout,
                        },
                        output: tail(self.log, &[(self.work, "[build]"), (self.tree, "[source]")]),
                    });
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(25)),
                Err(err) => return Err(self.crashed(hook, err.to_string())),
            }
        };
        // What the backend left running in the background goes with it.
        kill_group(child.id());
        tracing::debug!(
            "the `{hook}` hook of {} ran in {:.1}s: {status}",
            self.backend,
            started.elapsed().as_secs_f64()
        );
        let answer: serde_json::Value = match std::fs::read(&result) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|err| self.crashed(hook, format!("its answer is unreadable: {err}")))?,
            Err(_) => {
                return Err(self.crashed(
                    hook,
                    format!("the hook runner exited with {status} and gave no answer"),
                ));
            }
        };
        if let Some(value) = answer.get("ok") {
            return Ok(match requires {
                Some(requires) => serde_json::json!({ "requires": requires }),
                None => value.clone(),
            });
        }
        let text = |key: &str| answer.get(key).and_then(|v| v.as_str()).map(String::from);
        // The hook of the `metadata` runner that failed.
        let hook = match text("hook").as_deref() {
            Some("get_requires_for_build_wheel") => "get_requires_for_build_wheel",
            Some("prepare_metadata_for_build_wheel") => "prepare_metadata_for_build_wheel",
            Some("build_wheel") => "build_wheel",
            _ => hook,
        };
        let kind = match text("error").as_deref() {
            Some("backend-unavailable") => HookFailure::BackendMissing {
                module: text("module").unwrap_or_default(),
            },
            _ => HookFailure::Raised {
                hook,
                message: crate::secrets::text(&text("message").unwrap_or_default()),
                missing_module: text("missing_module"),
            },
        };
        Err(HookError {
            kind,
            output: tail(self.log, &[(self.work, "[build]"), (self.tree, "[source]")]),
        })
    }
}

/// A hook as messages name it; the runner's `metadata` runs two.
fn shown(hook: &str) -> String {
    match hook {
        "metadata" => {
            "`get_requires_for_build_wheel` or `prepare_metadata_for_build_wheel`".to_string()
        }
        hook => format!("`{hook}`"),
    }
}

/// A name the backend returned must be one plain path component.
fn checked_name(name: &str) -> Option<String> {
    let plain = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains('/')
        && !name.contains('\0');
    plain.then(|| name.to_string())
}

/// The build's environment: the user's (a build may need `CC`, `CUDA_HOME`, a proxy),
/// without what would let the host's Python setup or dockgen's credentials in.
fn build_environment(command: &mut Command, venv: &Venv) {
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let drop = key.starts_with("PYTHON")
            || key.starts_with("PIP_")
            || key.starts_with("UV_")
            || key.starts_with("DOCKGEN_")
            || matches!(key, "VIRTUAL_ENV" | "CONDA_PREFIX" | "__PYVENV_LAUNCHER__");
        if drop {
            command.env_remove(key);
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![venv.root.join("bin")];
    dirs.extend(std::env::split_paths(&path));
    if let Ok(joined) = std::env::join_paths(dirs) {
        command.env("PATH", joined);
    }
    command
        .env("VIRTUAL_ENV", &venv.root)
        .env("PYTHONNOUSERSITE", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONIOENCODING", "utf-8");
}

fn kill_group(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .stderr(Stdio::null())
        .status();
}

/// The last lines of the log, secrets masked, control characters escaped.
/// `places` (the build's scratch directory, the source tree) are shown by name: they
/// are gone, or in a temporary directory, when the message is read.
fn tail(log: &Path, places: &[(&Path, &str)]) -> Vec<String> {
    let bytes = std::fs::read(log).unwrap_or_default();
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    for (path, name) in places {
        text = text.replace(&path.display().to_string(), name);
    }
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..]
        .iter()
        .map(|line| crate::input::text::printable(&crate::secrets::text(line)).into_owned())
        .collect()
}
