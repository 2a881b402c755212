//! Building for another architecture than the engine's: BuildKit runs the foreign
//! steps through the kernel's binfmt_misc, which hands each foreign binary to a QEMU
//! user-mode emulator. Without a registered handler every `RUN` of the build fails
//! with "exec format error", well into the build; this module finds that out before
//! anything is fetched or built, and says how to register one.
//!
//! Only an engine on this machine can be checked (its binfmt_misc is this kernel's).
//! The handler must carry the `F` (fix-binary) flag: the kernel then opens the
//! emulator when it is registered, so it need not exist inside the build's
//! containers, which is how Debian's `qemu-user-static` registers it.

use std::path::Path;

/// Where the kernel's binfmt_misc is mounted; `DOCKGEN_BINFMT_MISC` names another
/// directory (a host that mounts it elsewhere, or the tests).
pub const BINFMT_MISC: &str = "/proc/sys/fs/binfmt_misc";

/// How the build's platform runs on the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Emulation {
    /// The engine's own architecture.
    Native,
    /// Through this binfmt_misc handler (`qemu-aarch64`).
    Qemu { handler: String },
    /// Another architecture on an engine elsewhere, whose handlers cannot be seen
    /// from here: the build relies on them.
    Unchecked,
}

impl Emulation {
    /// The handler, for the build report: `None` for a native build.
    pub fn handler(&self) -> Option<&str> {
        match self {
            Emulation::Qemu { handler } => Some(handler),
            Emulation::Native | Emulation::Unchecked => None,
        }
    }
}

/// The kernel's name (`uname -m`, and QEMU's) of a platform's architecture:
/// `linux/arm64` -> `aarch64`. `None` for a platform this does not know.
pub fn machine(platform: &str) -> Option<&'static str> {
    let arch = platform.split('/').nth(1)?;
    Some(match arch {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        "arm" => "arm",
        "386" => "i386",
        "ppc64le" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        _ => return None,
    })
}

/// How a build for `platform` runs on an engine whose architecture is `engine_arch`
/// (`x86_64`, as the engine reports it). `local`: the engine runs on this machine,
/// so the handlers in `binfmt_dir` are its. `Err` says why the build cannot run and
/// how to make it run.
pub fn check(
    platform: &str,
    engine_arch: &str,
    local: bool,
    binfmt_dir: &Path,
) -> Result<Emulation, String> {
    // An engine that does not say its architecture is taken at its word, as is a
    // platform this does not know: the build shows what runs.
    let Some(machine) = machine(platform).filter(|_| !engine_arch.is_empty()) else {
        return Ok(Emulation::Unchecked);
    };
    if machine == engine_arch || !local {
        return Ok(if machine == engine_arch {
            Emulation::Native
        } else {
            Emulation::Unchecked
        });
    }
    let handler = format!("qemu-{machine}");
    let fix = format!(
        "install and register the emulator, then build again:\n    \
         apt-get install qemu-user-static binfmt-support\n    \
         update-binfmts --enable {handler}"
    );
    let cannot = |why: String| {
        format!(
            "cannot build for {platform} on this {engine_arch} engine: {why}; {fix}\n\
             (binfmt_misc is read at `{}`; `DOCKGEN_BINFMT_MISC` names another directory)",
            binfmt_dir.display()
        )
    };
    if !binfmt_dir.join("status").is_file() {
        return Err(cannot(format!(
            "binfmt_misc is not mounted (mount it with `mount -t binfmt_misc binfmt_misc \
             {BINFMT_MISC}`)"
        )));
    }
    let Ok(entry) = std::fs::read_to_string(binfmt_dir.join(&handler)) else {
        return Err(cannot(format!(
            "no `{handler}` handler is registered with binfmt_misc"
        )));
    };
    let mut lines = entry.lines();
    if lines.next().map(str::trim) != Some("enabled") {
        return Err(cannot(format!("the `{handler}` handler is disabled")));
    }
    let fix_binary = lines
        .find_map(|line| line.strip_prefix("flags:"))
        .is_some_and(|flags| flags.trim().contains('F'));
    if !fix_binary {
        return Err(cannot(format!(
            "the `{handler}` handler lacks the F (fix-binary) flag, so the emulator would \
             have to exist inside every build container"
        )));
    }
    Ok(Emulation::Qemu { handler })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGISTERED: &str = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\n\
                              flags: POCF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\n\
                              mask ffffffffffffff00fffffffffffffffffeffffff\n";

    fn binfmt(entries: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("status"), "enabled\n").unwrap();
        for (name, text) in entries {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn a_registered_fix_binary_handler_emulates() {
        let dir = binfmt(&[("qemu-aarch64", REGISTERED)]);
        assert_eq!(
            check("linux/arm64", "x86_64", true, dir.path()),
            Ok(Emulation::Qemu {
                handler: "qemu-aarch64".into()
            })
        );
        assert_eq!(
            check("linux/amd64", "x86_64", true, dir.path()),
            Ok(Emulation::Native)
        );
        assert_eq!(
            check("linux/arm64", "x86_64", false, Path::new("/nonexistent")),
            Ok(Emulation::Unchecked),
            "a remote engine's handlers cannot be seen"
        );
    }

    #[test]
    fn each_missing_piece_is_named_with_the_fix() {
        let why = |dir: &Path| {
            let message = check("linux/arm64/v8", "x86_64", true, dir).unwrap_err();
            assert!(
                message.contains("update-binfmts --enable qemu-aarch64"),
                "{message}"
            );
            message
                .split(": ")
                .nth(1)
                .and_then(|rest| rest.split("; ").next())
                .unwrap()
                .to_string()
        };
        let unmounted = tempfile::tempdir().unwrap();
        assert_eq!(
            why(unmounted.path()),
            "binfmt_misc is not mounted (mount it with `mount -t binfmt_misc binfmt_misc \
             /proc/sys/fs/binfmt_misc`)"
        );
        assert_eq!(
            why(binfmt(&[]).path()),
            "no `qemu-aarch64` handler is registered with binfmt_misc"
        );
        let disabled = REGISTERED.replacen("enabled", "disabled", 1);
        assert_eq!(
            why(binfmt(&[("qemu-aarch64", &disabled)]).path()),
            "the `qemu-aarch64` handler is disabled"
        );
        let without_f = REGISTERED.replace("flags: POCF", "flags: OC");
        assert_eq!(
            why(binfmt(&[("qemu-aarch64", &without_f)]).path()),
            "the `qemu-aarch64` handler lacks the F (fix-binary) flag, so the emulator would \
             have to exist inside every build container"
        );
    }

    #[test]
    fn platforms_name_the_kernels_machine() {
        assert_eq!(machine("linux/arm64"), Some("aarch64"));
        assert_eq!(machine("linux/arm64/v8"), Some("aarch64"));
        assert_eq!(machine("linux/amd64"), Some("x86_64"));
        assert_eq!(machine("linux/mips64"), None);
        assert_eq!(machine("linux"), None);
    }
}
