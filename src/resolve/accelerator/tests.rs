//! The accelerator judgement over locks written out by hand from real metadata: PyPI's
//! torch for CUDA 12 (`nvidia-*-cu12`) and for CUDA 13 (the unsuffixed toolkit wheels,
//! or NVIDIA's `cuda-toolkit` metapackage), PyTorch's `+cuXYZ` and `+rocmX.Y` builds,
//! AMD's `rocm[libraries]` builds, and PyPI's torchvision pinning torch exactly.

use std::collections::BTreeMap;
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::{PackageName, Requirement};

use super::*;
use crate::input::profile;

/// A lock: `(name, version, index, requires-dist)` per package.
struct Lock {
    packages: Vec<(PackageName, Version, String, Vec<Requirement>)>,
}

impl Lock {
    fn new() -> Self {
        Self {
            packages: Vec::new(),
        }
    }

    fn add(mut self, name: &str, version: &str, index: &str, requires: &[&str]) -> Self {
        self.packages.push((
            PackageName::from_str(name).unwrap(),
            Version::from_str(version).unwrap(),
            index.to_string(),
            requires
                .iter()
                .map(|r| Requirement::from_str(r).unwrap_or_else(|e| panic!("{r}: {e}")))
                .collect(),
        ));
        self
    }

    /// Every runtime wheel these requirement lines name, at the version they pin.
    fn with_pins(mut self, lines: &[&str]) -> Self {
        for line in lines {
            let requirement: Requirement = Requirement::from_str(line).unwrap();
            let pinned = line
                .split(';')
                .next()
                .unwrap()
                .split("==")
                .nth(1)
                .unwrap()
                .trim()
                .trim_end_matches(".*");
            if !self.packages.iter().any(|p| p.0 == requirement.name) {
                self = self.add(requirement.name.as_ref(), pinned, "pypi", &[]);
            }
        }
        self
    }

    fn builds(&self, target: &Target) -> Builds<'_> {
        self.packages
            .iter()
            .map(|(name, version, index, requires)| {
                let build = Build::new(name, version, index, requires, &[], target, |name| {
                    self.packages.iter().find(|p| p.0 == *name).map(|p| &p.1)
                });
                (name, build)
            })
            .collect()
    }

    /// `lock`'s verdict on `package` for a built-in profile whose pins are `pinned`
    /// (`package -> index`): `ok` or the error.
    fn judge(&self, profile_name: &str, package: &str, pinned: &[(&str, &str)]) -> String {
        let profile = profile::builtin(profile_name).unwrap();
        let target = Target::from_profile(&profile).unwrap();
        let policy = AcceleratorPolicy {
            accelerator: profile.accelerator.clone(),
            packages: profile.accelerated_packages.clone(),
            pinned: pinned
                .iter()
                .map(|(p, i)| (PackageName::from_str(p).unwrap(), i.to_string()))
                .collect::<BTreeMap<_, _>>(),
        };
        let builds = self.builds(&target);
        match check_build(
            &PackageName::from_str(package).unwrap(),
            &builds,
            &policy,
            profile_name,
        ) {
            Ok(()) => "ok".to_string(),
            Err(error) => error.to_string(),
        }
    }

    fn claims(&self, package: &str) -> Vec<String> {
        let profile = profile::builtin("cuda12-x86_64").unwrap();
        let target = Target::from_profile(&profile).unwrap();
        let builds = self.builds(&target);
        claims(&builds[&PackageName::from_str(package).unwrap()])
            .into_iter()
            .map(|c| format!("{}: {}", c.runtime, c.evidence))
            .collect()
    }
}

/// PyPI's torch 2.5.1 (CUDA 12.4), as its METADATA lists it.
const TORCH_251_CU12: &[&str] = &[
    "filelock",
    "typing-extensions>=4.8.0",
    "networkx",
    "jinja2",
    "fsspec",
    "nvidia-cuda-nvrtc-cu12==12.4.127; platform_system == \"Linux\" and platform_machine == \"x86_64\"",
    "nvidia-cuda-runtime-cu12==12.4.127; platform_system == \"Linux\" and platform_machine == \"x86_64\"",
    "nvidia-cuda-cupti-cu12==12.4.127; platform_system == \"Linux\" and platform_machine == \"x86_64\"",
    "nvidia-cudnn-cu12==9.1.0.70; platform_system == \"Linux\" and platform_machine == \"x86_64\"",
    "nvidia-cublas-cu12==12.4.5.8; platform_system == \"Linux\" and platform_machine == \"x86_64\"",
    "nvidia-cufft-cu12==11.2.1.3; platform_system == \"Linux\" and platform_machine == \"x86_64\"",
    "nvidia-curand-cu12==10.3.5.147; platform_system == \"Linux\" and platform_machine == \"x86_64\"",
    "nvidia-cusolver-cu12==11.6.1.9; platform_system == \"Linux\" and platform_machine == \"x86_64\"",
    "nvidia-cusparse-cu12==12.3.1.170; platform_system == \"Linux\" and platform_machine == \"x86_64\"",
    "nvidia-nccl-cu12==2.21.5; platform_system == \"Linux\" and platform_machine == \"x86_64\"",
    "nvidia-nvtx-cu12==12.4.127; platform_system == \"Linux\" and platform_machine == \"x86_64\"",
    "nvidia-nvjitlink-cu12==12.4.127; platform_system == \"Linux\" and platform_machine == \"x86_64\"",
    "sympy==1.13.1; python_version >= \"3.9\"",
    "opt-einsum>=3.3; extra == \"opt-einsum\"",
];

/// A PyPI torch built for CUDA 13.0 that names the toolkit wheels itself (the shape of
/// torch 2.9's cu130 builds).
const TORCH_CU13_WHEELS: &[&str] = &[
    "filelock",
    "typing-extensions>=4.10.0",
    "nvidia-cuda-nvrtc==13.0.48; platform_system == \"Linux\"",
    "nvidia-cuda-runtime==13.0.96; platform_system == \"Linux\"",
    "nvidia-cuda-cupti==13.0.48; platform_system == \"Linux\"",
    "nvidia-cudnn-cu13==9.13.0.50; platform_system == \"Linux\"",
    "nvidia-cublas==13.0.0.19; platform_system == \"Linux\"",
    "nvidia-cufft==12.0.0.15; platform_system == \"Linux\"",
    "nvidia-curand==10.4.0.35; platform_system == \"Linux\"",
    "nvidia-cusparse==12.6.2.49; platform_system == \"Linux\"",
    "nvidia-nccl-cu13==2.27.7; platform_system == \"Linux\"",
    "nvidia-nvjitlink==13.0.39; platform_system == \"Linux\"",
];

/// A PyPI torch built for CUDA 13.0 through NVIDIA's metapackage (the shape of torch
/// 2.14's METADATA).
const TORCH_CU13_TOOLKIT: &[&str] = &[
    "filelock",
    "typing-extensions>=4.10.0",
    "cuda-toolkit[cublas,cudart,cufft,cufile,cupti,curand,cusolver,cusparse,nvjitlink,nvrtc,nvtx]==13.0.2",
    "cuda-bindings<14,>=13.0.3; platform_system == \"Linux\" and python_version < \"3.15\"",
    "nvidia-cudnn-cu13==9.24.0.43; platform_system == \"Linux\"",
    "nvidia-cusparselt-cu13==0.8.1; platform_system == \"Linux\"",
    "nvidia-nccl-cu13==2.30.7; platform_system == \"Linux\"",
    "nvidia-nvshmem-cu13==3.4.5; platform_system == \"Linux\"",
    "optree>=0.13.0; extra == \"optree\"",
];

/// A lock holding PyPI's torch `version` with `requires`, and what it requires.
fn pypi_torch(version: &str, requires: &[&str]) -> Lock {
    Lock::new()
        .add("torch", version, "pypi", requires)
        .add("filelock", "3.16.1", "pypi", &[])
        .add("typing-extensions", "4.12.2", "pypi", &[])
        .with_pins(
            &requires
                .iter()
                .copied()
                .filter(|r| r.starts_with("nvidia-") || r.starts_with("cuda-toolkit"))
                .collect::<Vec<_>>(),
        )
}

/// PyPI's torchvision: requires torch exactly, names no CUDA of its own.
fn with_torchvision(lock: Lock, torch: &str) -> Lock {
    lock.add(
        "torchvision",
        "0.30.0",
        "pypi",
        &["numpy", &format!("torch=={torch}"), "pillow!=8.3.*,>=5.3.0"],
    )
    .add("numpy", "2.1.3", "pypi", &[])
    .add("pillow", "11.0.0", "pypi", &[])
}

#[test]
fn cuda_versions_come_from_labels_names_and_runtime_wheels() {
    assert_eq!(
        pypi_torch("2.5.1", TORCH_251_CU12).claims("torch"),
        vec![
            "CUDA 12.4: requires `nvidia-cuda-nvrtc-cu12==12.4.127 ; platform_machine == 'x86_64' and platform_system == 'Linux'`"
        ]
    );
    assert_eq!(
        pypi_torch("2.15.0", TORCH_CU13_WHEELS).claims("torch"),
        vec!["CUDA 13.0: requires `nvidia-cuda-nvrtc==13.0.48 ; platform_system == 'Linux'`"]
    );
    assert_eq!(
        pypi_torch("2.15.0", TORCH_CU13_TOOLKIT).claims("torch"),
        vec![
            "CUDA 13.0: requires `cuda-toolkit[cublas,cudart,cufft,cufile,cupti,curand,cusolver,cusparse,nvjitlink,nvrtc,nvtx]==13.0.2`"
        ]
    );
    // A runtime wheel the lock does not hold says nothing (its marker did not apply).
    assert!(
        Lock::new()
            .add("torch", "2.5.1", "pypi", TORCH_251_CU12)
            .claims("torch")
            .is_empty()
    );
    // An unsuffixed library versioned on its own is no evidence (cuFFT 12.0 ships
    // with CUDA 13.0).
    assert!(
        Lock::new()
            .add("app", "1.0", "pypi", &["nvidia-cufft==12.0.0.15"])
            .add("nvidia-cufft", "12.0.0.15", "pypi", &[])
            .claims("app")
            .is_empty()
    );
    // A range: the locked version tells the major, nothing tells the minor.
    assert_eq!(
        Lock::new()
            .add("app", "1.0", "pypi", &["nvidia-cuda-runtime>=13"])
            .add("nvidia-cuda-runtime", "13.1.80", "pypi", &[])
            .claims("app"),
        vec!["CUDA 13: requires `nvidia-cuda-runtime>=13`, locked as 13.1.80"]
    );
    assert_eq!(
        Lock::new()
            .add("app", "1.0", "pypi", &["nvidia-cuda-runtime==13.0.96.*"])
            .add("nvidia-cuda-runtime", "13.0.96", "pypi", &[])
            .claims("app"),
        vec!["CUDA 13.0: requires `nvidia-cuda-runtime==13.0.96.*`"]
    );
    assert_eq!(
        Lock::new()
            .add("cupy-cuda12x", "13.3.0", "pypi", &[])
            .claims("cupy-cuda12x"),
        vec!["CUDA 12: its name `cupy-cuda12x`"]
    );
}

#[test]
fn labels_name_cpu_cuda_and_rocm_builds() {
    let runtime = |v: &str| label_runtime(&Version::from_str(v).unwrap()).map(|r| r.to_string());
    for (version, expected) in [
        ("2.5.1+cpu", Some("CPU-only")),
        ("2.5.1+cpu.cxx11.abi", Some("CPU-only")),
        ("2.5.1+cu124", Some("CUDA 12.4")),
        ("2.9.0+cu130", Some("CUDA 13.0")),
        ("1.13.1+cu116", Some("CUDA 11.6")),
        ("2.5.1+rocm6.2", Some("ROCm 6.2")),
        ("2.9.1+rocm7.2.1", Some("ROCm 7.2")),
        ("3.8.0+git4cff872c.rocm10.0.0", Some("ROCm 10.0")),
        ("2.7.1+rocmsdk20250905", None),
        ("2.5.0a0+872d972e41.nv24.08", None),
        ("2.5.1", None),
    ] {
        assert_eq!(runtime(version).as_deref(), expected, "{version}");
    }
}

#[test]
fn compatibility_is_the_same_kind_and_major_version() {
    let cuda = |major, minor| Runtime::Cuda {
        major,
        minor: Some(minor),
    };
    let profile = cuda(12, 4);
    assert!(runs_on(cuda(12, 4), profile));
    assert!(runs_on(cuda(12, 6), profile), "minor version compatibility");
    assert!(runs_on(cuda(12, 1), profile));
    assert!(runs_on(
        Runtime::Cuda {
            major: 12,
            minor: None
        },
        profile
    ));
    assert!(!runs_on(cuda(13, 0), profile));
    assert!(!runs_on(cuda(11, 8), profile));
    assert!(!runs_on(Runtime::Cpu, profile));
    let rocm = |major, minor| Runtime::Rocm {
        major,
        minor: Some(minor),
    };
    assert!(runs_on(rocm(6, 4), rocm(6, 2)));
    assert!(!runs_on(rocm(7, 2), rocm(6, 2)));
    assert!(!runs_on(rocm(6, 2), profile));
}

#[test]
fn pypi_torch_for_cuda_12_passes_on_the_cuda_12_profile() {
    let lock = with_torchvision(pypi_torch("2.5.1", TORCH_251_CU12), "2.5.1");
    assert_eq!(lock.judge("cuda12-x86_64", "torch", &[]), "ok");
    // PyPI's torchvision requires `torch==2.5.1`: an exact pin on a CUDA 12 build.
    assert_eq!(lock.judge("cuda12-x86_64", "torchvision", &[]), "ok");
    // CUDA 12.6 builds run on the CUDA 12.4 profile (minor version compatibility).
    let cu126 = Lock::new().add("torch", "2.6.0+cu126", "pypi", &[]);
    assert_eq!(cu126.judge("cuda12-x86_64", "torch", &[]), "ok");
}

#[test]
fn pypi_torch_for_cuda_13_fails_on_the_cuda_12_profile() {
    for (shape, requires) in [
        ("wheels", TORCH_CU13_WHEELS),
        ("toolkit", TORCH_CU13_TOOLKIT),
    ] {
        let lock = with_torchvision(pypi_torch("2.15.0", requires), "2.15.0");
        insta::assert_snapshot!(
            format!("cuda13_torch_{shape}"),
            lock.judge("cuda12-x86_64", "torch", &[])
        );
        // torchvision inherits torch's CUDA 13 through its exact pin.
        insta::assert_snapshot!(
            format!("cuda13_torchvision_{shape}"),
            lock.judge("cuda12-x86_64", "torchvision", &[])
        );
    }
    // From the index the profile pins torch to: that index is the wrong one.
    let pinned = Lock::new().add("torch", "2.9.0+cu130", "pytorch-cu124", &[]);
    insta::assert_snapshot!(
        "cuda13_torch_from_the_pinned_index",
        pinned.judge("cuda12-x86_64", "torch", &[("torch", "pytorch-cu124")])
    );
}

#[test]
fn exact_pins_inherit_the_build_they_pin() {
    // torchvision pinning a CPU torch is no CUDA build either.
    let cpu = with_torchvision(
        Lock::new().add("torch", "2.5.1+cpu", "pytorch-cpu", &[]),
        "2.5.1",
    );
    insta::assert_snapshot!(cpu.judge("cuda12-x86_64", "torchvision", &[]), @"`torchvision` 0.30.0 (from index `pypi`) is a CPU-only build (requires `torch==2.5.1` exactly, locked as 2.5.1+cpu: local version `+cpu`), but profile `cuda12-x86_64` needs a CUDA 12.4 build; pin `torchvision` to the accelerator index in the profile's `indexes` (with `packages: [torchvision]`) or require a `+cu124` build");
    // A lower bound is no pin: nothing says which build it was made against.
    let loose = Lock::new()
        .add("torch", "2.5.1+cu124", "pytorch-cu124", &[])
        .add("torchvision", "0.20.1", "pypi", &["torch>=2.5"]);
    insta::assert_snapshot!(loose.judge("cuda12-x86_64", "torchvision", &[]), @"`torchvision` 0.20.1 (from index `pypi`) is not recognisably a CUDA build (no `+cu` label, no CUDA runtime requirements, no exact pin on an accelerated build, not from a pinned accelerator index), but profile `cuda12-x86_64` needs a CUDA 12.4 build; pin `torchvision` to the accelerator index in the profile's `indexes` (with `packages: [torchvision]`) or require a `+cu124` build");
    // Pinning torch to an index of unlabelled builds (Jetson's) vouches for it, and so
    // for what pins it exactly.
    let jetson = Lock::new().add("torch", "2.5.0", "jetson-ai-lab", &[]).add(
        "torchaudio",
        "2.5.0",
        "pypi",
        &["torch==2.5.0"],
    );
    let pins = [("torch", "jetson-ai-lab")];
    assert_eq!(jetson.judge("jetson-orin", "torch", &pins), "ok");
    assert_eq!(jetson.judge("jetson-orin", "torchaudio", &pins), "ok");
}

#[test]
fn rocm_builds_are_held_to_the_rocm_major_version() {
    let amd = |rocm: &str| {
        Lock::new()
            .add(
                "torch",
                "2.9.1",
                "amd",
                &[&format!("rocm[libraries]=={rocm}")],
            )
            .add("rocm", rocm, "amd", &[])
    };
    assert_eq!(amd("6.4.1").judge("rocm6-x86_64", "torch", &[]), "ok");
    insta::assert_snapshot!(amd("7.2.1").judge("rocm6-x86_64", "torch", &[]), @"`torch` 2.9.1 (from index `amd`) is a ROCm 7.2 build (requires `rocm[libraries]==7.2.1`), but profile `rocm6-x86_64` needs a ROCm 6.2 build; builds for ROCm 6.x run on it: require a `torch` built for ROCm 6.x, by pinning `torch` to an index of such builds in the profile's `indexes` (with `packages: [torch]`, e.g. PyTorch's `https://download.pytorch.org/whl/rocm6.2`) or requiring a version whose build is for ROCm 6.x; or lock with a profile for ROCm 7");
    let labelled = Lock::new().add("torch", "2.5.1+rocm6.2", "pytorch-rocm62", &[]);
    assert_eq!(labelled.judge("rocm6-x86_64", "torch", &[]), "ok");
    let cuda = Lock::new().add("torch", "2.5.1+cu124", "pytorch-cu124", &[]);
    insta::assert_snapshot!(cuda.judge("rocm6-x86_64", "torch", &[]), @"`torch` 2.5.1+cu124 (from index `pytorch-cu124`) is a CUDA 12.4 build (local version `+cu124`), but profile `rocm6-x86_64` needs a ROCm 6.2 build; builds for ROCm 6.x run on it: require a `torch` built for ROCm 6.x, by pinning `torch` to an index of such builds in the profile's `indexes` (with `packages: [torch]`, e.g. PyTorch's `https://download.pytorch.org/whl/rocm6.2`) or requiring a version whose build is for ROCm 6.x; or lock with a profile for CUDA");
}
