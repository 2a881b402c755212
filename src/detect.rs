//! `dockgen detect`: what this host is (architecture, C library, Python, its GPUs) and
//! which profile fits it, or whether it can run a given profile's image.
//!
//! Everything is read the way an operator would check it by hand, so that a fixture
//! root and fake tools on `PATH` stand in for real hardware in the tests:
//! - NVIDIA GPUs: `nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version
//!   --format=csv`, and the driver's CUDA version from `nvidia-smi`'s banner; without
//!   `nvidia-smi`, the driver version and GPU models from `/proc/driver/nvidia`;
//! - a Jetson: `/etc/nv_tegra_release` (the L4T release), `/proc/device-tree/model`;
//! - AMD GPUs: `rocminfo`'s GPU agents (`gfx942`, marketing name), else the KFD
//!   topology under `/sys/class/kfd`, and ROCm's version from `/opt/rocm/.info/version`;
//! - the architecture from `/proc/sys/kernel/arch` (else this build's), the C library
//!   from the C library itself, Python from `python3`.

use std::path::PathBuf;
use std::process::Command;

use serde::Serialize;

/// What was found on the host.
#[derive(Debug, Clone, Serialize)]
pub struct Host {
    /// `x86_64` or `aarch64`.
    pub machine: String,
    /// `glibc 2.36`; `None` when not glibc.
    pub libc: Option<String>,
    /// `3.11.2`; `None` without a `python3`.
    pub python: Option<String>,
    pub nvidia: Option<Nvidia>,
    pub jetson: Option<Jetson>,
    pub amd: Option<Amd>,
    /// What could not be read, in words (a tool that failed, an unreadable file).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Nvidia {
    pub gpus: Vec<NvidiaGpu>,
    pub driver: Option<String>,
    /// The newest CUDA the driver supports (`12.4`), from `nvidia-smi`'s banner or the
    /// driver version.
    pub cuda: Option<String>,
    /// `nvidia-smi` or `/proc/driver/nvidia`.
    pub source: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct NvidiaGpu {
    pub name: String,
    /// `8.0`; `None` where only `/proc` was read.
    pub compute_capability: Option<String>,
    pub memory_mib: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Jetson {
    /// `NVIDIA Jetson AGX Orin Developer Kit`.
    pub model: Option<String>,
    /// `36.4.0`.
    pub l4t: Option<String>,
    /// The compute capability of the module's GPU (`8.7` for Orin).
    pub compute_capability: Option<String>,
    /// The CUDA of the JetPack that L4T release comes with (`12.6` for r36.4).
    pub cuda: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Amd {
    pub gpus: Vec<AmdGpu>,
    /// `6.2.0`.
    pub rocm: Option<String>,
    /// `rocminfo` or `/sys/class/kfd`.
    pub source: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct AmdGpu {
    /// `gfx942`.
    pub gfx: String,
    pub name: Option<String>,
}

/// Where to look: the file system root (`/` but for tests) and how to run a tool.
pub struct Probe {
    pub root: PathBuf,
}

impl Probe {
    fn read(&self, path: &str) -> Option<String> {
        let bytes = std::fs::read(self.root.join(path.trim_start_matches('/'))).ok()?;
        Some(
            String::from_utf8_lossy(&bytes)
                .trim_end_matches(['\0', '\n', ' '])
                .to_string(),
        )
    }

    fn list(&self, path: &str) -> Vec<PathBuf> {
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(self.root.join(path.trim_start_matches('/')))
                .map(|dir| dir.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default();
        entries.sort();
        entries
    }

    /// A tool's stdout when it is on `PATH` and exits 0; `Err` says why not, `Ok(None)`
    /// when it is not installed.
    fn run(&self, tool: &str, args: &[&str]) -> Result<Option<String>, String> {
        match Command::new(tool).args(args).output() {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(format!("cannot run `{tool}`: {error}")),
            Ok(output) if output.status.success() => {
                Ok(Some(String::from_utf8_lossy(&output.stdout).into_owned()))
            }
            Ok(output) => Err(format!(
                "`{tool} {}` failed ({}): {}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )),
        }
    }

    /// Everything about the host.
    pub fn host(&self) -> Host {
        let mut notes = Vec::new();
        let machine = self
            .read("/proc/sys/kernel/arch")
            .map(|arch| arch.trim().to_string())
            .filter(|arch| !arch.is_empty())
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        let python = match self.run(
            "python3",
            &["-c", "import platform; print(platform.python_version())"],
        ) {
            Ok(out) => out.map(|out| out.trim().to_string()),
            Err(note) => {
                notes.push(note);
                None
            }
        };
        let jetson = self.jetson();
        let nvidia = self.nvidia(&mut notes);
        let amd = self.amd(&mut notes);
        Host {
            machine,
            libc: libc_version(),
            python,
            nvidia,
            jetson,
            amd,
            notes,
        }
    }

    fn nvidia(&self, notes: &mut Vec<String>) -> Option<Nvidia> {
        let query = [
            "--query-gpu=name,compute_cap,memory.total,driver_version",
            "--format=csv",
        ];
        match self.run("nvidia-smi", &query) {
            Ok(Some(csv)) => {
                let (gpus, driver) = parse_gpu_csv(&csv);
                let cuda = match self.run("nvidia-smi", &[]) {
                    Ok(Some(banner)) => banner_cuda(&banner),
                    _ => None,
                }
                .or_else(|| driver.as_deref().and_then(cuda_of_driver));
                if gpus.is_empty() {
                    notes.push("`nvidia-smi` lists no GPU".into());
                    return None;
                }
                return Some(Nvidia {
                    gpus,
                    driver,
                    cuda,
                    source: "nvidia-smi",
                });
            }
            Ok(None) => {}
            Err(note) => notes.push(note),
        }
        // The kernel module alone: its version and the GPUs' models.
        let version = self.read("/proc/driver/nvidia/version")?;
        let driver = proc_driver_version(&version);
        let gpus: Vec<NvidiaGpu> = self
            .list("/proc/driver/nvidia/gpus")
            .iter()
            .filter_map(|dir| std::fs::read_to_string(dir.join("information")).ok())
            .filter_map(|info| {
                info.lines()
                    .find_map(|line| line.strip_prefix("Model:"))
                    .map(|model| NvidiaGpu {
                        name: model.trim().to_string(),
                        compute_capability: None,
                        memory_mib: None,
                    })
            })
            .collect();
        Some(Nvidia {
            cuda: driver.as_deref().and_then(cuda_of_driver),
            gpus,
            driver,
            source: "/proc/driver/nvidia",
        })
    }

    fn jetson(&self) -> Option<Jetson> {
        let release = self.read("/etc/nv_tegra_release");
        // `NVIDIA Jetson AGX Orin Developer Kit`, but also `NVIDIA Orin NX Developer
        // Kit`: with L4T's release file, any model is the board's.
        let model = self
            .read("/proc/device-tree/model")
            .filter(|model| release.is_some() || model.contains("Jetson"));
        if release.is_none() && model.is_none() {
            return None;
        }
        let l4t = release.as_deref().and_then(l4t_release);
        let compute_capability = model.as_deref().and_then(jetson_compute_capability);
        Some(Jetson {
            cuda: l4t.as_deref().and_then(jetpack_cuda),
            model,
            l4t,
            compute_capability,
        })
    }

    fn amd(&self, notes: &mut Vec<String>) -> Option<Amd> {
        let rocm = self
            .read("/opt/rocm/.info/version")
            .and_then(|version| version.split(['-', '\n']).next().map(str::to_string))
            .filter(|version| !version.is_empty());
        match self.run("rocminfo", &[]) {
            Ok(Some(out)) => {
                let gpus = parse_rocminfo(&out);
                if !gpus.is_empty() {
                    return Some(Amd {
                        gpus,
                        rocm,
                        source: "rocminfo",
                    });
                }
            }
            Ok(None) => {}
            Err(note) => notes.push(note),
        }
        let gpus: Vec<AmdGpu> = self
            .list("/sys/class/kfd/kfd/topology/nodes")
            .iter()
            .filter_map(|node| std::fs::read_to_string(node.join("properties")).ok())
            .filter_map(|properties| kfd_gfx(&properties))
            .map(|gfx| AmdGpu { gfx, name: None })
            .collect();
        (!gpus.is_empty()).then_some(Amd {
            gpus,
            rocm,
            source: "/sys/class/kfd",
        })
    }
}

/// The C library this process runs on: glibc's own version call.
fn libc_version() -> Option<String> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: gnu_get_libc_version returns a pointer to a static NUL-terminated
        // string owned by glibc.
        let version = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) };
        Some(format!("glibc {}", version.to_string_lossy()))
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        None
    }
}

/// GPUs and the driver version from `nvidia-smi --query-gpu=... --format=csv`: a header
/// line (`name, compute_cap, memory.total [MiB], driver_version`), then a line per GPU
/// (`NVIDIA A100-SXM4-80GB, 8.0, 81920 MiB, 550.54.15`). Columns are found by their
/// header, so any order (and other fields) reads.
pub fn parse_gpu_csv(csv: &str) -> (Vec<NvidiaGpu>, Option<String>) {
    let mut lines = csv.lines().filter(|line| !line.trim().is_empty());
    let Some(header) = lines.next() else {
        return (Vec::new(), None);
    };
    let columns: Vec<String> = header
        .split(',')
        .map(|field| {
            field
                .trim()
                .split([' ', '['])
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    let at = |name: &str| columns.iter().position(|column| column == name);
    let (name_at, cc_at, memory_at, driver_at) = (
        at("name"),
        at("compute_cap"),
        at("memory.total"),
        at("driver_version"),
    );
    let mut gpus = Vec::new();
    let mut driver = None;
    for line in lines {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let field = |at: Option<usize>| {
            at.and_then(|at| fields.get(at).copied())
                .filter(|value| !value.is_empty() && !value.starts_with('['))
        };
        let Some(name) = field(name_at) else {
            continue;
        };
        gpus.push(NvidiaGpu {
            name: name.to_string(),
            compute_capability: field(cc_at).map(str::to_string),
            memory_mib: field(memory_at)
                .and_then(|memory| memory.trim_end_matches("MiB").trim().parse().ok()),
        });
        if let Some(version) = field(driver_at) {
            driver.get_or_insert_with(|| version.to_string());
        }
    }
    (gpus, driver)
}

/// `CUDA Version: 12.4` from `nvidia-smi`'s banner.
pub fn banner_cuda(banner: &str) -> Option<String> {
    let at = banner.find("CUDA Version:")? + "CUDA Version:".len();
    let version: String = banner[at..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    (!version.is_empty()).then_some(version)
}

/// The driver version in `/proc/driver/nvidia/version` (`NVRM version: NVIDIA UNIX
/// x86_64 Kernel Module  550.54.14  Thu Feb 22 01:44:30 UTC 2024`).
pub fn proc_driver_version(text: &str) -> Option<String> {
    let line = text
        .lines()
        .find(|line| line.starts_with("NVRM version:"))?;
    line.split_whitespace()
        .find(|word| {
            word.contains('.')
                && word
                    .split('.')
                    .all(|part| part.chars().all(|c| c.is_ascii_digit()))
        })
        .map(str::to_string)
}

/// The newest CUDA a Linux driver supports, from NVIDIA's table of minimum driver
/// versions (CUDA Toolkit release notes, table 3).
pub fn cuda_of_driver(driver: &str) -> Option<String> {
    let have = numbers(driver);
    DRIVERS
        .iter()
        .find(|(minimum, _)| have >= numbers(minimum))
        .map(|(_, cuda)| cuda.to_string())
}

/// The oldest Linux driver that runs CUDA `major`.x (through minor version
/// compatibility: `525.60.13` for 12).
pub fn minimum_driver(major: u64) -> Option<&'static str> {
    DRIVERS
        .iter()
        .rev()
        .find(|(_, cuda)| numbers(cuda)[0] == major)
        .map(|(driver, _)| *driver)
}

/// NVIDIA's minimum Linux driver for each CUDA release, newest first.
const DRIVERS: [(&str, &str); 13] = [
    ("580.65.06", "13.0"),
    ("575.51.03", "12.9"),
    ("570.26", "12.8"),
    ("560.28.03", "12.6"),
    ("555.42.02", "12.5"),
    ("550.54.14", "12.4"),
    ("545.23.06", "12.3"),
    ("535.54.03", "12.2"),
    ("530.30.02", "12.1"),
    ("525.60.13", "12.0"),
    ("520.61.05", "11.8"),
    ("515.43.04", "11.7"),
    ("450.80.02", "11.0"),
];

fn numbers(version: &str) -> Vec<u64> {
    version
        .split('.')
        .map(|part| part.parse().unwrap_or(0))
        .collect()
}

/// `36.4.0` from `# R36 (release), REVISION: 4.0, GCID: ..., BOARD: generic, ...`.
pub fn l4t_release(text: &str) -> Option<String> {
    let major: String = text
        .split("# R")
        .nth(1)?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let revision = text.split("REVISION:").nth(1)?.split(',').next()?.trim();
    (!major.is_empty()).then(|| format!("{major}.{revision}"))
}

/// The CUDA of the JetPack an L4T release belongs to.
pub fn jetpack_cuda(l4t: &str) -> Option<String> {
    let parts = numbers(l4t);
    let cuda = match (parts.first()?, parts.get(1).copied().unwrap_or(0)) {
        (36, minor) if minor >= 4 => "12.6",
        (36, _) => "12.2",
        (35, _) => "11.4",
        (34, _) => "11.4",
        (32, _) => "10.2",
        _ => return None,
    };
    Some(cuda.to_string())
}

/// The GPU's compute capability of a Jetson module, from its device-tree model.
pub fn jetson_compute_capability(model: &str) -> Option<String> {
    let cc = if model.contains("Thor") {
        "11.0"
    } else if model.contains("Orin") {
        "8.7"
    } else if model.contains("Xavier") {
        "7.2"
    } else if model.contains("TX2") {
        "6.2"
    } else if model.contains("Nano") || model.contains("TX1") {
        "5.3"
    } else {
        return None;
    };
    Some(cc.to_string())
}

/// The GPU agents of `rocminfo`'s output: each `Name: gfx...` of an agent whose
/// `Device Type` is `GPU`, with its `Marketing Name`.
pub fn parse_rocminfo(text: &str) -> Vec<AmdGpu> {
    let mut gpus = Vec::new();
    for agent in text
        .split("*******")
        .filter(|part| part.contains("Device Type:"))
    {
        let field = |name: &str| {
            agent.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                (key.trim() == name).then(|| value.trim().to_string())
            })
        };
        if field("Device Type").as_deref() != Some("GPU") {
            continue;
        }
        let Some(gfx) = field("Name").filter(|name| name.starts_with("gfx")) else {
            continue;
        };
        gpus.push(AmdGpu {
            gfx,
            name: field("Marketing Name").filter(|name| !name.is_empty()),
        });
    }
    gpus
}

/// `gfx942` from a KFD topology node's `gfx_target_version 90402`; `None` for a CPU
/// node (version 0).
pub fn kfd_gfx(properties: &str) -> Option<String> {
    let version: u64 = properties.lines().find_map(|line| {
        line.strip_prefix("gfx_target_version")
            .and_then(|value| value.trim().parse().ok())
    })?;
    if version == 0 {
        return None;
    }
    let (major, minor, step) = (version / 10000, version / 100 % 100, version % 100);
    Some(format!("gfx{major}{minor:x}{step:x}"))
}

/// A change a derived profile makes to the built-in it extends.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// The profile field: `accelerator.compute_capabilities`.
    pub field: &'static str,
    pub from: String,
    pub to: String,
}

/// Which profile fits the host, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Choice {
    /// The built-in profile that fits, or that the written one extends.
    pub builtin: &'static str,
    /// The name of the derived profile when there are changes.
    pub name: String,
    pub reasons: Vec<String>,
    pub changes: Vec<Change>,
    /// The derived profile (YAML), when there are changes.
    pub yaml: Option<String>,
}

fn joined(list: &[String]) -> String {
    list.join(", ")
}

/// `items` in first-seen order, a repeated one once as `8 x item`.
pub fn counted(items: &[String]) -> Vec<String> {
    let mut seen: Vec<(&String, usize)> = Vec::new();
    for item in items {
        match seen.iter_mut().find(|(s, _)| *s == item) {
            Some((_, count)) => *count += 1,
            None => seen.push((item, 1)),
        }
    }
    seen.into_iter()
        .map(|(item, count)| {
            if count == 1 {
                item.clone()
            } else {
                format!("{count} x {item}")
            }
        })
        .collect()
}

/// The profile that fits `host`.
pub fn choose(host: &Host) -> Choice {
    let mut reasons = Vec::new();
    let mut changes = Vec::new();
    let arm = host.machine == "aarch64";
    let builtin = if let Some(jetson) = &host.jetson {
        reasons.push(format!(
            "a Jetson: {}, L4T {}",
            jetson.model.as_deref().unwrap_or("model unknown"),
            jetson.l4t.as_deref().unwrap_or("unknown")
        ));
        let profile = crate::input::profile::builtin("jetson-orin").expect("built-in");
        cuda_changes(
            &profile,
            jetson.compute_capability.iter().cloned().collect(),
            None,
            None,
            &mut reasons,
            &mut changes,
        );
        reasons.extend(l4t_fit(jetson));
        "jetson-orin"
    } else if let Some(nvidia) = host.nvidia.as_ref().filter(|n| !n.gpus.is_empty()) {
        let gpus: Vec<String> = nvidia.gpus.iter().map(|gpu| gpu.name.clone()).collect();
        reasons.push(format!(
            "NVIDIA GPU{}: {}; driver {}, which supports CUDA {}",
            if gpus.len() == 1 { "" } else { "s" },
            joined(&counted(&gpus)),
            nvidia.driver.as_deref().unwrap_or("unknown"),
            nvidia.cuda.as_deref().unwrap_or("unknown")
        ));
        let profile = crate::input::profile::builtin("cuda12-x86_64").expect("built-in");
        let mut capabilities: Vec<String> = nvidia
            .gpus
            .iter()
            .filter_map(|gpu| gpu.compute_capability.clone())
            .collect();
        capabilities.sort_by_key(|cc| numbers(cc));
        capabilities.dedup();
        // The oldest CUDA whose wheels carry kernels for every GPU here.
        let needed = capabilities
            .iter()
            .map(|cc| {
                if numbers(cc) >= numbers("10.0") {
                    "12.8"
                } else {
                    "12.4"
                }
            })
            .max_by(|a, b| numbers(a).cmp(&numbers(b)));
        cuda_changes(
            &profile,
            capabilities,
            needed,
            nvidia.cuda.as_deref(),
            &mut reasons,
            &mut changes,
        );
        if arm {
            changes.push(Change {
                field: "platform",
                from: "linux/amd64".into(),
                to: "linux/arm64".into(),
            });
            reasons.push("an aarch64 host (Grace): the image is for linux/arm64".into());
        }
        "cuda12-x86_64"
    } else if let Some(amd) = &host.amd {
        let profile = crate::input::profile::builtin("rocm6-x86_64").expect("built-in");
        let mut targets: Vec<String> = amd.gpus.iter().map(|gpu| gpu.gfx.clone()).collect();
        targets.sort();
        targets.dedup();
        let names: Vec<String> = amd
            .gpus
            .iter()
            .map(|gpu| match &gpu.name {
                Some(name) => format!("{name} ({})", gpu.gfx),
                None => gpu.gfx.clone(),
            })
            .collect();
        reasons.push(format!(
            "AMD GPU{}: {}; ROCm {} on the host",
            if names.len() == 1 { "" } else { "s" },
            joined(&counted(&names)),
            amd.rocm.as_deref().unwrap_or("not found")
        ));
        if let crate::input::profile::Accelerator::Rocm { gfx_targets, .. } = &profile.accelerator {
            if targets.iter().all(|gfx| gfx_targets.contains(gfx)) {
                reasons.push(format!(
                    "{} in the profile's targets ({})",
                    joined(&targets),
                    joined(gfx_targets)
                ));
            } else {
                reasons.push(format!(
                    "{} not in the profile's targets ({}): the profile lists this host's",
                    joined(&targets),
                    joined(gfx_targets)
                ));
                changes.push(Change {
                    field: "accelerator.gfx_targets",
                    from: joined(gfx_targets),
                    to: joined(&targets),
                });
            }
        }
        "rocm6-x86_64"
    } else {
        reasons.push(
            "no GPU found: no `nvidia-smi` or NVIDIA driver, no Jetson, no AMD GPU agent".into(),
        );
        if arm {
            changes.push(Change {
                field: "platform",
                from: "linux/amd64".into(),
                to: "linux/arm64".into(),
            });
            reasons.push("an aarch64 host: the CPU profile for linux/arm64".into());
        }
        "cpu-x86_64"
    };
    let name = if changes.is_empty() {
        builtin.to_string()
    } else if builtin == "cpu-x86_64" && changes.len() == 1 {
        "cpu-arm64".to_string()
    } else {
        format!("{builtin}-host")
    };
    let yaml = (!changes.is_empty()).then(|| derived_yaml(builtin, &name, host, &changes));
    Choice {
        builtin,
        name,
        reasons,
        changes,
        yaml,
    }
}

/// Whether the board's L4T release is the one `jetson-orin`'s images are for (r36.4,
/// JetPack 6.1 and later), in words.
fn l4t_fit(jetson: &Jetson) -> Option<String> {
    let l4t = jetson.l4t.as_deref()?;
    let parts = numbers(l4t);
    let cuda = jetson.cuda.as_deref().unwrap_or("unknown");
    Some(match (parts[0], parts.get(1).copied().unwrap_or(0)) {
        (36, minor) if minor >= 4 => format!(
            "L4T {l4t} is JetPack 6.1 or later (CUDA {cuda}), which the profile's \
             l4t-jetpack r36.4 images are for"
        ),
        (36, _) => format!(
            "L4T {l4t} is JetPack 6.0 (CUDA {cuda}): the profile's l4t-jetpack r36.4 \
             images expect r36.4 or later; update the board (JetPack 6.1+)"
        ),
        _ => format!(
            "L4T {l4t} (CUDA {cuda}) is not JetPack 6: the profile's images and index are \
             JetPack 6's; flash JetPack 6, or write a profile with JetPack {}'s l4t images \
             and index",
            if parts[0] == 35 { "5" } else { "this release" }
        ),
    })
}

/// What a CUDA host changes in `profile`: the compute capabilities when one is not in
/// its list, the CUDA version when the GPUs need a newer one (`needed`); `driver` is
/// the newest CUDA the driver runs.
fn cuda_changes(
    profile: &crate::input::profile::Profile,
    capabilities: Vec<String>,
    needed: Option<&str>,
    driver: Option<&str>,
    reasons: &mut Vec<String>,
    changes: &mut Vec<Change>,
) {
    let crate::input::profile::Accelerator::Cuda {
        version,
        compute_capabilities,
    } = &profile.accelerator
    else {
        return;
    };
    if !capabilities.is_empty() {
        if capabilities
            .iter()
            .all(|cc| compute_capabilities.contains(cc))
        {
            reasons.push(format!(
                "compute capability {} in the profile's list ({})",
                joined(&capabilities),
                joined(compute_capabilities)
            ));
        } else {
            reasons.push(format!(
                "compute capability {} not in the profile's list ({}): the profile lists \
                 this host's",
                joined(&capabilities),
                joined(compute_capabilities)
            ));
            changes.push(Change {
                field: "accelerator.compute_capabilities",
                from: joined(compute_capabilities),
                to: joined(&capabilities),
            });
        }
    }
    let target = match needed {
        Some(needed) if numbers(needed) > numbers(version) => {
            reasons.push(format!(
                "these GPUs need CUDA {needed} or later (the profile has {version})"
            ));
            changes.push(Change {
                field: "accelerator.version",
                from: version.clone(),
                to: needed.to_string(),
            });
            needed.to_string()
        }
        _ => version.clone(),
    };
    match driver {
        Some(driver) if numbers(driver)[0] < numbers(&target)[0] => reasons.push(format!(
            "the driver supports CUDA {driver} only: CUDA {target} images need a newer \
             driver (update it before running the image)"
        )),
        Some(driver) if numbers(driver) < numbers(&target) => reasons.push(format!(
            "the driver supports CUDA {driver}: CUDA {target} images run through CUDA's \
             minor version compatibility"
        )),
        Some(driver) => reasons.push(format!(
            "the driver supports CUDA {driver}: the profile's CUDA {target} runs"
        )),
        None => {}
    }
}

/// A profile that `extends:` the built-in with `changes`.
fn derived_yaml(builtin: &str, name: &str, host: &Host, changes: &[Change]) -> String {
    let list = |text: &str| {
        text.split(", ")
            .map(|item| format!("\"{item}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut yaml = format!(
        "# Written by `dockgen detect` for this host ({}): `{builtin}` with what differs.\n\
         name: {name}\nextends: {builtin}\n",
        host.machine
    );
    for change in changes.iter().filter(|c| c.field == "platform") {
        yaml.push_str(&format!("platform: {}\n", change.to));
    }
    let accelerator: Vec<&Change> = changes
        .iter()
        .filter(|c| c.field.starts_with("accelerator."))
        .collect();
    if !accelerator.is_empty() {
        yaml.push_str("accelerator:\n");
        for change in &accelerator {
            let key = change.field.trim_start_matches("accelerator.");
            match key {
                "version" => yaml.push_str(&format!("  version: \"{}\"\n", change.to)),
                _ => yaml.push_str(&format!("  {key}: [{}]\n", list(&change.to))),
            }
        }
    }
    if let Some(version) = changes.iter().find(|c| c.field == "accelerator.version") {
        // PyTorch's index for that CUDA (`cu128`), in place of the built-in's.
        let tag = format!("cu{}", version.to.replace('.', ""));
        yaml.push_str(&format!(
            "indexes:\n  - name: pytorch-{tag}\n    url: https://download.pytorch.org/whl/{tag}\n    \
             packages: [torch, torchvision, torchaudio]\n  - name: pypi\n    url: https://pypi.org/simple\n"
        ));
    }
    if let Some(capabilities) = changes
        .iter()
        .find(|c| c.field == "accelerator.compute_capabilities")
    {
        yaml.push_str(&format!(
            "env:\n  TORCH_CUDA_ARCH_LIST: \"{}\"\n",
            capabilities.to.replace(", ", " ")
        ));
    }
    yaml
}

/// One finding of `detect --profile`: whether this host can run the profile's image.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// `architecture`, `gpu`, `driver`, `compute-capability`, `gfx-target`, `l4t`.
    pub check: &'static str,
    /// `ok`, `problem` (the image cannot run as meant) or `note`.
    pub status: &'static str,
    pub detail: String,
}

/// Whether this host can run `profile`'s image, check by check.
pub fn check(host: &Host, profile: &crate::input::profile::Profile) -> Vec<Finding> {
    use crate::input::profile::Accelerator;
    let mut findings = Vec::new();
    let mut push = |check, status, detail: String| {
        findings.push(Finding {
            check,
            status,
            detail,
        })
    };
    let machine = profile.platform.machine();
    if machine == host.machine {
        push(
            "architecture",
            "ok",
            format!("the image is for {machine}, as this host"),
        );
    } else {
        push(
            "architecture",
            "problem",
            format!(
                "the image is for {machine}; this host is {}: it would run only under \
                 emulation, without the GPU",
                host.machine
            ),
        );
    }
    match &profile.accelerator {
        Accelerator::Cpu => {
            if host.nvidia.is_some() || host.amd.is_some() || host.jetson.is_some() {
                push(
                    "gpu",
                    "note",
                    "a CPU profile: this host's GPU goes unused".into(),
                );
            }
        }
        Accelerator::Cuda {
            version,
            compute_capabilities,
        } => {
            let (capabilities, driver_cuda): (Vec<(String, Option<String>)>, Option<String>) =
                if let Some(jetson) = &host.jetson {
                    match l4t_fit(jetson) {
                        Some(words)
                            if words.contains("update the board")
                                || words.contains("not JetPack 6") =>
                        {
                            push("l4t", "problem", words)
                        }
                        Some(words) => push("l4t", "ok", words),
                        None => {}
                    }
                    (
                        vec![(
                            jetson.model.clone().unwrap_or_else(|| "Jetson".into()),
                            jetson.compute_capability.clone(),
                        )],
                        jetson.cuda.clone(),
                    )
                } else if let Some(nvidia) = host.nvidia.as_ref().filter(|n| !n.gpus.is_empty()) {
                    (
                        nvidia
                            .gpus
                            .iter()
                            .map(|gpu| (gpu.name.clone(), gpu.compute_capability.clone()))
                            .collect(),
                        nvidia.cuda.clone(),
                    )
                } else {
                    push(
                        "gpu",
                        "problem",
                        "no NVIDIA GPU: no `nvidia-smi`, no /proc/driver/nvidia, no Jetson; \
                         the image runs, its GPU checks fail"
                            .into(),
                    );
                    (Vec::new(), None)
                };
            if host.jetson.is_none() {
                match driver_cuda.as_deref() {
                    Some(driver) if numbers(driver)[0] < numbers(version)[0] => push(
                        "driver",
                        "problem",
                        format!(
                            "the driver supports CUDA {driver}; the image's CUDA {version} \
                             needs a driver for CUDA {} ({} or later)",
                            numbers(version)[0],
                            minimum_driver(numbers(version)[0]).unwrap_or("a newer one")
                        ),
                    ),
                    Some(driver) if numbers(driver) < numbers(version) => push(
                        "driver",
                        "note",
                        format!(
                            "the driver supports CUDA {driver}, older than the image's \
                             {version}: it runs through CUDA's minor version compatibility \
                             (no PTX JIT for newer code)"
                        ),
                    ),
                    Some(driver) => push(
                        "driver",
                        "ok",
                        format!("the driver supports CUDA {driver}; the image's is {version}"),
                    ),
                    None if !capabilities.is_empty() => push(
                        "driver",
                        "note",
                        "the driver's CUDA version is unknown".into(),
                    ),
                    None => {}
                }
            }
            for (name, capability) in capabilities {
                match capability {
                    Some(cc) if compute_capabilities.contains(&cc) => push(
                        "compute-capability",
                        "ok",
                        format!("{name}: compute capability {cc} is in the profile's list"),
                    ),
                    Some(cc) => push(
                        "compute-capability",
                        "problem",
                        format!(
                            "{name}: compute capability {cc} is not in the profile's list \
                             ({}): its builds carry no kernels for it",
                            joined(compute_capabilities)
                        ),
                    ),
                    None => push(
                        "compute-capability",
                        "note",
                        format!("{name}: compute capability unknown (no `nvidia-smi`)"),
                    ),
                }
            }
        }
        Accelerator::Rocm {
            version,
            gfx_targets,
        } => match &host.amd {
            None => push(
                "gpu",
                "problem",
                "no AMD GPU: no `rocminfo` GPU agent, no KFD GPU node; the image runs, its GPU \
                 checks fail"
                    .into(),
            ),
            Some(amd) => {
                if let Some(rocm) = &amd.rocm {
                    push(
                        "rocm",
                        "note",
                        format!("ROCm {rocm} on the host; the image brings ROCm {version}"),
                    );
                }
                for gpu in &amd.gpus {
                    let name = gpu.name.clone().unwrap_or_else(|| gpu.gfx.clone());
                    if gfx_targets.contains(&gpu.gfx) {
                        push(
                            "gfx-target",
                            "ok",
                            format!("{name}: {} is in the profile's targets", gpu.gfx),
                        );
                    } else {
                        push(
                            "gfx-target",
                            "problem",
                            format!(
                                "{name}: {} is not in the profile's targets ({})",
                                gpu.gfx,
                                joined(gfx_targets)
                            ),
                        );
                    }
                }
            }
        },
    }
    // Eight identical GPUs are one line.
    let mut merged: Vec<(Finding, usize)> = Vec::new();
    for finding in findings {
        match merged.last_mut() {
            Some((last, count))
                if last.check == finding.check
                    && last.status == finding.status
                    && last.detail == finding.detail =>
            {
                *count += 1
            }
            _ => merged.push((finding, 1)),
        }
    }
    merged
        .into_iter()
        .map(|(mut finding, count)| {
            if count > 1 {
                finding.detail = format!("{count} x {}", finding.detail);
            }
            finding
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// Captured from real machines: `tests/fixtures/detect/SOURCES.md`.
    fn fixture(path: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/detect")
            .join(path);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn nvidia_outputs_read() {
        assert_eq!(
            banner_cuda(&fixture("a100/nvidia-smi.txt")).as_deref(),
            Some("12.5")
        );
        assert_eq!(
            banner_cuda(&fixture("parts/jetson-nvidia-smi.txt")).as_deref(),
            Some("12.6")
        );
        let (gpus, driver) = parse_gpu_csv(&fixture("h100/nvidia-smi-query.csv"));
        assert_eq!(driver.as_deref(), Some("590.48.01"));
        assert_eq!(
            (
                gpus[0].name.as_str(),
                gpus[0].compute_capability.as_deref(),
                gpus[0].memory_mib
            ),
            ("NVIDIA H100 80GB HBM3", Some("9.0"), Some(81559))
        );
        let versions = [
            fixture("h100-driver-only/root/proc/driver/nvidia/version"),
            fixture("parts/proc-driver-nvidia-version-525-open-arch.txt"),
            fixture("parts/proc-driver-nvidia-version-jetson-orin-nx-r35.txt"),
        ];
        let drivers: Vec<Option<String>> = versions
            .iter()
            .map(|text| proc_driver_version(text))
            .collect();
        assert_eq!(
            drivers,
            [
                Some("565.57.01".into()),
                Some("525.60.11".into()),
                Some("35.3.1".into())
            ]
        );
        // 525.60.11 is just below CUDA 12.0's 525.60.13.
        let cuda: Vec<Option<String>> = ["565.57.01", "525.60.11", "525.60.13", "35.3.1"]
            .iter()
            .map(|driver| cuda_of_driver(driver))
            .collect();
        assert_eq!(
            cuda,
            [
                Some("12.6".into()),
                Some("11.8".into()),
                Some("12.0".into()),
                None
            ]
        );
    }

    #[test]
    fn jetson_files_read() {
        assert_eq!(
            l4t_release(&fixture("jetson-orin/root/etc/nv_tegra_release")).as_deref(),
            Some("36.3.0")
        );
        assert_eq!(jetpack_cuda("36.3.0").as_deref(), Some("12.2"));
        assert_eq!(jetpack_cuda("36.4.3").as_deref(), Some("12.6"));
        assert_eq!(jetpack_cuda("35.3.1").as_deref(), Some("11.4"));
        let model = fixture("parts/jetson-device-tree-model-orin-nx.txt");
        assert_eq!(jetson_compute_capability(&model).as_deref(), Some("8.7"));
    }

    #[test]
    fn amd_outputs_read() {
        let gpus = parse_rocminfo(&fixture("mi300x/rocminfo.txt"));
        assert_eq!(gpus.len(), 4, "{gpus:?}");
        assert_eq!(gpus[0].gfx, "gfx942");
        assert_eq!(gpus[0].name.as_deref(), Some("AMD Instinct MI300X"));
        assert_eq!(
            kfd_gfx(&fixture("parts/kfd-properties.txt")).as_deref(),
            Some("gfx942")
        );
        assert_eq!(
            kfd_gfx(&fixture("parts/kfd-properties-mi350x-gfx950.txt")).as_deref(),
            Some("gfx950")
        );
        assert_eq!(
            kfd_gfx("gfx_target_version 90010\n").as_deref(),
            Some("gfx90a")
        );
        assert_eq!(
            kfd_gfx("gfx_target_version 110000\n").as_deref(),
            Some("gfx1100")
        );
        assert_eq!(kfd_gfx("gfx_target_version 0\n"), None);
    }
}
