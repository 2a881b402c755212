//! Isolated build environments: a virtual environment made by hand (`pyvenv.cfg` and a
//! link to the interpreter, as `python -m venv --without-pip` makes it, without
//! needing the `venv` module) and filled by unpacking wheels into it, the way an
//! installer lays a wheel out (PEP 427), without pip.

use std::fs;
use std::path::{Path, PathBuf};

use super::python::Interpreter;
use super::unpack;

/// One environment.
#[derive(Debug)]
pub struct Venv {
    pub root: PathBuf,
    site_packages: PathBuf,
}

impl Venv {
    /// Makes an empty environment at `root` (which must not exist yet) for `python`.
    pub fn create(root: &Path, python: &Interpreter) -> Result<Self, String> {
        let fail = |what: &Path, err: std::io::Error| format!("`{}`: {err}", what.display());
        let bin = root.join("bin");
        let site_packages = root
            .join("lib")
            .join(format!("python{}", python.short()))
            .join("site-packages");
        fs::create_dir_all(&bin).map_err(|err| fail(&bin, err))?;
        fs::create_dir_all(&site_packages).map_err(|err| fail(&site_packages, err))?;
        let home = python
            .executable
            .parent()
            .ok_or_else(|| format!("`{}` has no directory", python.executable.display()))?;
        let config = format!(
            "home = {}\ninclude-system-site-packages = false\nversion = {}\n",
            home.display(),
            python.version
        );
        let cfg = root.join("pyvenv.cfg");
        fs::write(&cfg, config).map_err(|err| fail(&cfg, err))?;
        for name in ["python", "python3"] {
            let link = bin.join(name);
            std::os::unix::fs::symlink(&python.executable, &link)
                .map_err(|err| fail(&link, err))?;
        }
        Ok(Self {
            root: root.to_path_buf(),
            site_packages,
        })
    }

    pub fn python(&self) -> PathBuf {
        self.root.join("bin").join("python")
    }

    /// Lays the wheel at `wheel` out in the environment: its root and its
    /// `.data/purelib`, `.data/platlib` into site-packages, `.data/scripts` into `bin`,
    /// `.data/headers` and `.data/data` under the environment's root. Console-script
    /// entry points are not generated: build backends are imported, not run.
    pub fn install(&self, wheel: &Path) -> Result<(), String> {
        let site = self
            .site_packages
            .strip_prefix(&self.root)
            .expect("site-packages is inside the environment")
            .to_path_buf();
        let rename = |entry: &Path| -> Option<PathBuf> {
            let mut parts = entry.components();
            let first = parts.next()?.as_os_str().to_str()?;
            if !first.ends_with(".data") {
                return Some(site.join(entry));
            }
            let scheme = parts.next()?.as_os_str().to_str()?;
            let rest = parts.as_path();
            if rest.as_os_str().is_empty() {
                return None;
            }
            match scheme {
                "purelib" | "platlib" => Some(site.join(rest)),
                "scripts" => Some(PathBuf::from("bin").join(rest)),
                "headers" => Some(PathBuf::from("include").join(rest)),
                "data" => Some(rest.to_path_buf()),
                _ => None,
            }
        };
        unpack::zip(wheel, &self.root, &rename)
    }
}
