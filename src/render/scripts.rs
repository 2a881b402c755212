//! The Python scripts dockgen ships into every build context (`templates/scripts/`),
//! compiled into the binary. They run inside the images with the standard library and
//! the environment's pip only:
//!
//! - `check_target.py TARGET_JSON [WHEELHOUSE_DIR | PACKAGES_TXT]`: the interpreter is the
//!   lock's target (machine, Python minor, libc) and accepts every wheel in the wheelhouse.
//! - `fetch.py PACKAGES STORE WHEELHOUSE`: the locked files from `dockgen build`'s package
//!   server, through a BuildKit cache mount, hash-checked.
//! - `wheel_lock.py LOCK WHEELS_DIR OUT`: pins the wheels built for a lock by their hashes.
//! - `verify.py VERIFY_JSON REPORT_OUT`: installed set == lock, `pip check`, imports and
//!   the profile's assertions, as a JSON report.
//! - `artifacts.py LOCK OUT_DIR [WHEEL_LOCK]`: pipdeptree-identical trees, frozen deps,
//!   environment and a CycloneDX SBOM.
//!
//! - `dockgen_lock.py`: the lock parser the others import from beside themselves.
//!
//! Each script's docstring documents its arguments, input JSON and exit codes.

/// `(file name, contents)` of every shipped script, sorted by file name.
pub const SCRIPTS: &[(&str, &str)] = &[
    (
        "artifacts.py",
        include_str!("../../templates/scripts/artifacts.py"),
    ),
    (
        "check_target.py",
        include_str!("../../templates/scripts/check_target.py"),
    ),
    (
        "dockgen_lock.py",
        include_str!("../../templates/scripts/dockgen_lock.py"),
    ),
    ("fetch.py", include_str!("../../templates/scripts/fetch.py")),
    (
        "verify.py",
        include_str!("../../templates/scripts/verify.py"),
    ),
    (
        "wheel_lock.py",
        include_str!("../../templates/scripts/wheel_lock.py"),
    ),
];
