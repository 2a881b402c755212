//! The accelerator judgement end to end, `lock` and `check` alike: the real binary
//! against a PyPI-like loopback index serving torch the way PyPI does, with no `+cuXYZ`
//! label, the CUDA it was built for shown only by the runtime wheels it requires
//! (`nvidia-*-cu12` for 2.5.1, the unsuffixed `nvidia-cuda-runtime==13.0.96` and
//! `nvidia-*-cu13` for 2.15.0), and torchvision requiring `torch==X` exactly.

use crate::audit::Scratch;
use crate::support::accelerator_wheel;
use crate::support::fixture_index::{Api, FixtureFile, FixtureIndex};

const TORCH_TAGS: &str = "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64";
const LIB_TAGS: &str = "py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64";

fn lib(name: &str, version: &str) -> FixtureFile {
    accelerator_wheel(name, version, LIB_TAGS, &[])
}

/// PyPI, as far as torch 2.5.1 (CUDA 12.4), torch 2.15.0 (CUDA 13.0) and their
/// torchvisions go.
fn pypi() -> FixtureIndex {
    let linux = "platform_system == \"Linux\" and platform_machine == \"x86_64\"";
    FixtureIndex::builder()
        .api(Api::Json)
        .project(
            "torch",
            vec![
                accelerator_wheel(
                    "torch",
                    "2.5.1",
                    TORCH_TAGS,
                    &[
                        "filelock",
                        &format!("nvidia-cuda-runtime-cu12==12.4.127; {linux}"),
                        &format!("nvidia-cudnn-cu12==9.1.0.70; {linux}"),
                        &format!("nvidia-cublas-cu12==12.4.5.8; {linux}"),
                    ],
                ),
                accelerator_wheel(
                    "torch",
                    "2.15.0",
                    TORCH_TAGS,
                    &[
                        "filelock",
                        "nvidia-cuda-runtime==13.0.96; platform_system == \"Linux\"",
                        "nvidia-cudnn-cu13==9.13.0.50; platform_system == \"Linux\"",
                        "nvidia-cublas==13.1.0.3; platform_system == \"Linux\"",
                    ],
                ),
            ],
        )
        .project(
            "torchvision",
            vec![
                accelerator_wheel("torchvision", "0.20.1", TORCH_TAGS, &["torch==2.5.1"]),
                accelerator_wheel("torchvision", "0.30.0", TORCH_TAGS, &["torch==2.15.0"]),
            ],
        )
        .project(
            "nvidia-cuda-runtime-cu12",
            vec![lib("nvidia-cuda-runtime-cu12", "12.4.127")],
        )
        .project(
            "nvidia-cudnn-cu12",
            vec![lib("nvidia-cudnn-cu12", "9.1.0.70")],
        )
        .project(
            "nvidia-cublas-cu12",
            vec![lib("nvidia-cublas-cu12", "12.4.5.8")],
        )
        .project(
            "nvidia-cuda-runtime",
            vec![lib("nvidia-cuda-runtime", "13.0.96")],
        )
        .project(
            "nvidia-cudnn-cu13",
            vec![lib("nvidia-cudnn-cu13", "9.13.0.50")],
        )
        .project("nvidia-cublas", vec![lib("nvidia-cublas", "13.1.0.3")])
        .project(
            "filelock",
            vec![accelerator_wheel("filelock", "3.16.1", "py3-none-any", &[])],
        )
        .start()
}

/// `pypi-cuda.yaml`: the CUDA 12.4 profile taking torch from PyPI (no pytorch index);
/// `unchecked.yaml`: the same with no accelerated packages, to make the locks `check`
/// is run on.
fn project(pypi: &FixtureIndex, requirements: &str) -> Scratch {
    let mut scratch = Scratch::new();
    scratch.label(pypi, "pypi");
    scratch.profile("pypi-cuda", "cuda12-x86_64", &[("pypi", pypi, &[])]);
    scratch.write(
        "unchecked.yaml",
        &format!(
            "name: unchecked\nextends: cuda12-x86_64\naccelerated_packages: []\nindexes:\n  \
             - name: pypi\n    url: {}\n",
            pypi.url()
        ),
    );
    scratch.write("requirements.in", requirements);
    scratch
}

#[test]
fn pypi_torch_for_cuda_13_fails_lock_and_check_on_the_cuda_12_profile() {
    let pypi = pypi();
    let scratch = project(&pypi, "torch\ntorchvision\n");

    let lock = scratch.dockgen(&["lock", "--profile", "pypi-cuda.yaml"], &[]);
    assert_eq!(lock.code, 1, "{}\n{}", lock.stdout, lock.stderr);
    insta::assert_snapshot!("lock_cuda13_torch", lock.stderr);
    assert!(!scratch.path().join("locks/pypi-cuda.txt").exists());

    // The same lock, made without the rule, and checked against the profile.
    let unchecked = scratch.dockgen(&["lock", "--profile", "unchecked.yaml"], &[]);
    assert_eq!(unchecked.code, 0, "{}", unchecked.stderr);
    assert!(
        scratch
            .read("locks/unchecked.txt")
            .contains("torch==2.15.0"),
        "{}",
        scratch.read("locks/unchecked.txt")
    );
    let check = scratch.dockgen(
        &[
            "check",
            "--profile",
            "pypi-cuda.yaml",
            "--lock",
            "locks/unchecked.txt",
        ],
        &[],
    );
    assert_eq!(check.code, 1, "{}\n{}", check.stdout, check.stderr);
    insta::assert_snapshot!("check_cuda13_torch", check.stdout);
    // `check` says what `lock` said, in the same words.
    let verdict = lock
        .stderr
        .lines()
        .find_map(|line| line.split_once("`torch` 2.15.0 (from index `pypi`) is "))
        .map(|(_, rest)| rest.split(", but profile").next().unwrap_or_default())
        .expect("lock names torch 2.15.0");
    assert!(verdict.starts_with("a CUDA 13.0 build"), "{verdict}");
    assert!(check.stdout.contains(verdict), "{}", check.stdout);
    assert!(check.stdout.contains("error[cuda-conflict]"));
}

#[test]
fn pypi_torch_for_cuda_12_and_its_torchvision_pass_lock_and_check() {
    let pypi = pypi();
    let scratch = project(&pypi, "torch==2.5.1\ntorchvision\n");
    let lock = scratch.dockgen(&["lock", "--profile", "pypi-cuda.yaml"], &[]);
    assert_eq!(lock.code, 0, "{}", lock.stderr);
    let text = scratch.read("locks/pypi-cuda.txt");
    for pin in [
        "torch==2.5.1",
        "torchvision==0.20.1",
        "nvidia-cuda-runtime-cu12==12.4.127",
    ] {
        assert!(text.contains(pin), "{pin}:\n{text}");
    }
    let check = scratch.dockgen(&["check", "--profile", "pypi-cuda.yaml"], &[]);
    assert_eq!(check.code, 0, "{}\n{}", check.stdout, check.stderr);
    assert!(
        !check.stdout.contains("accelerator") && !check.stdout.contains("cuda-conflict"),
        "{}",
        check.stdout
    );
}
