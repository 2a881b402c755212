//! The Python that runs metadata builds: the host's `python3.X` of the target's minor
//! version when there is one, else another Python 3 (with a warning, as uv does), or
//! the one `--python` names.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;

use pep440_rs::Version;

use crate::input::profile::{Libc, LibcFamily};
use crate::input::target::Target;

/// One probed interpreter.
#[derive(Debug)]
pub struct Interpreter {
    /// As found (on `PATH` or given); the build environment links to `executable`.
    pub path: PathBuf,
    /// `sys.executable`, symlinks resolved: what a build environment runs.
    pub executable: PathBuf,
    pub version: Version,
    /// `(major, minor)`.
    pub minor: (u64, u64),
    /// The environment build requirements are resolved for.
    pub target: Target,
    /// What the build cache keys on, e.g. `cp311-x86_64-glibc2.36`.
    pub key: String,
}

impl Interpreter {
    /// `3.11` for messages.
    pub fn short(&self) -> String {
        format!("{}.{}", self.minor.0, self.minor.1)
    }
}

/// Asks the interpreter what it is; one line of JSON, nothing imported beyond the
/// standard library, site-packages off (`-I`).
const PROBE: &str = r#"
import json, os, platform, sys
try:
    libc = os.confstr("CS_GNU_LIBC_VERSION") or ""
except (ValueError, OSError, AttributeError):
    libc = ""
print(json.dumps({
    "implementation": sys.implementation.name,
    "version": platform.python_version(),
    "machine": platform.machine(),
    "libc": libc,
    "executable": os.path.realpath(sys.executable),
}))
"#;

#[derive(serde::Deserialize)]
struct Probe {
    implementation: String,
    version: String,
    machine: String,
    libc: String,
    executable: PathBuf,
}

/// Runs the probe in `path`; `Err` says why it is no usable build interpreter.
pub fn probe(path: &Path) -> Result<Interpreter, String> {
    let output = Command::new(path)
        .args(["-I", "-c", PROBE])
        .stdin(Stdio::null())
        .env_remove("PYTHONHOME")
        .env_remove("PYTHONPATH")
        .output()
        .map_err(|err| format!("cannot run it: {err}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or("").trim();
        return Err(format!("it exited with {}: {last}", output.status));
    }
    if output.stdout.iter().all(u8::is_ascii_whitespace) {
        return Err("it printed nothing when asked for its version: is it a Python?".into());
    }
    let probe: Probe = serde_json::from_slice(&output.stdout)
        .map_err(|err| format!("it answered the probe with something else ({err})"))?;
    if probe.implementation != "cpython" {
        return Err(format!(
            "it is {}, and dockgen builds with CPython",
            probe.implementation
        ));
    }
    let version = Version::from_str(&probe.version)
        .map_err(|err| format!("its version `{}` is not valid: {err}", probe.version))?;
    let release = version.release();
    let minor = match (release.first(), release.get(1)) {
        (Some(3), Some(&minor)) => (3, minor),
        _ => return Err(format!("it is Python {version}, not Python 3")),
    };
    // `glibc 2.36`; anything else (musl answers nothing) is taken as the oldest
    // manylinux, which only narrows the wheels a build environment may use.
    let glibc = probe
        .libc
        .strip_prefix("glibc ")
        .and_then(|v| v.split_once('.'))
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .unwrap_or((2, 17));
    let libc = Libc {
        family: LibcFamily::Glibc,
        version: glibc,
    };
    let target = Target::cpython_linux(&version, &probe.machine, &libc)?;
    Ok(Interpreter {
        path: path.to_path_buf(),
        key: format!(
            "cp{}{}-{}-glibc{}.{}",
            minor.0, minor.1, probe.machine, glibc.0, glibc.1
        ),
        executable: probe.executable,
        version,
        minor,
        target,
    })
}

/// What [`find`] chose, and the warning to show when it is not the target's version.
pub struct Found {
    pub interpreter: Interpreter,
    pub warning: Option<String>,
}

/// The interpreter for metadata builds of a target with Python `(3, minor)`:
/// `requested` when given, else `python3.<minor>` on `PATH`, else `python3` or
/// `python` of another version.
pub fn find(requested: Option<&Path>, target: (u64, u64)) -> Result<Found, String> {
    let wanted = format!("{}.{}", target.0, target.1);
    if let Some(path) = requested {
        let interpreter =
            probe(path).map_err(|why| format!("`--python {}`: {why}", path.display()))?;
        let warning = (interpreter.minor != target).then(|| {
            format!(
                "metadata builds run on `{}` (Python {}), but the profile targets Python \
                 {wanted}: an sdist whose dependencies depend on the Python version is \
                 locked as Python {} sees it",
                path.display(),
                interpreter.version,
                interpreter.short()
            )
        });
        return Ok(Found {
            interpreter,
            warning,
        });
    }
    let mut tried = Vec::new();
    let mut fallback = None;
    for name in [format!("python{wanted}"), "python3".into(), "python".into()] {
        let Some(path) = on_path(&name) else {
            tried.push(format!("`{name}`: not on PATH"));
            continue;
        };
        match probe(&path) {
            Ok(found) if found.minor == target => {
                return Ok(Found {
                    interpreter: found,
                    warning: None,
                });
            }
            Ok(found) => {
                tried.push(format!("`{name}`: Python {}", found.version));
                fallback.get_or_insert(found);
            }
            Err(why) => tried.push(format!("`{name}`: {why}")),
        }
    }
    match fallback {
        Some(found) => Ok(Found {
            warning: Some(format!(
                "no Python {wanted} found for metadata builds; using `{}` (Python {}): an \
                 sdist whose dependencies depend on the Python version is locked as Python \
                 {} sees it (install python{wanted} or give `--python`)",
                found.path.display(),
                found.version,
                found.short()
            )),
            interpreter: found,
        }),
        None => Err(format!(
            "no Python found to build sdists' metadata with ({}); install python{wanted} \
             or give `--python PATH`, or lock with `--no-build`",
            tried.join("; ")
        )),
    }
}

/// Where `--python VALUE` points: a path (relative to `cwd`) when it has a `/`, else
/// an executable of that name on `PATH` (`--python python3.10`).
pub fn locate(given: &Path, cwd: &Path) -> PathBuf {
    match given.to_str() {
        Some(name) if !name.contains('/') => on_path(name).unwrap_or_else(|| cwd.join(given)),
        _ => cwd.join(given),
    }
}

/// The first executable `name` on `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_python_is_probed() {
        let path = on_path("python3").expect("python3 is on PATH");
        let interpreter = probe(&path).expect("python3 probes");
        assert_eq!(interpreter.minor.0, 3);
        assert!(
            interpreter
                .key
                .starts_with(&format!("cp3{}-", interpreter.minor.1))
        );
        assert_eq!(interpreter.target.python, interpreter.version);
    }

    #[test]
    fn another_minor_version_is_used_with_a_warning() {
        // No `python3.99` exists: `python3` builds, and the warning says so.
        let found = find(None, (3, 99)).expect("python3 is on PATH");
        let warning = found.warning.expect("a warning for another version");
        assert!(
            warning.starts_with(&format!(
                "no Python 3.99 found for metadata builds; using `{}` (Python {})",
                found.interpreter.path.display(),
                found.interpreter.version
            )),
            "{warning}"
        );
        assert!(
            warning.ends_with("(install python3.99 or give `--python`)"),
            "{warning}"
        );
    }

    #[test]
    fn a_missing_requested_python_is_an_error_naming_it() {
        let Err(error) = find(Some(Path::new("/nonexistent/python9")), (3, 11)) else {
            panic!("a missing --python was accepted");
        };
        assert!(
            error.starts_with("`--python /nonexistent/python9`: cannot run it"),
            "{error}"
        );
    }

    #[test]
    fn something_that_is_no_python_is_refused() {
        let Err(error) = find(Some(Path::new("/bin/true")), (3, 11)) else {
            panic!("/bin/true was taken for a Python");
        };
        assert!(
            error.starts_with("`--python /bin/true`: it printed nothing"),
            "{error}"
        );
    }
}
