//! Command-line interface: every flag documents itself here, once; `--help` and the
//! README's command reference come from these doc comments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use url::Url;

/// Hash-locked Python dependencies and verified container builds, per hardware target.
///
/// dockgen resolves a `requirements.in` for a target profile (CPU, CUDA x86_64,
/// Jetson Orin, ROCm) without needing that machine, and writes a lock that
/// `pip install --require-hashes` accepts on the target.
#[derive(Debug, Parser)]
#[command(name = "dockgen", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// More log output (-v: debug, -vv: trace). `DOCKGEN_LOG` takes a tracing filter too.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on stderr; no progress bar.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Resolve requirements into a hash-locked lock file per profile.
    ///
    /// Writes `locks/<profile>.txt` beside the input. Pins of an existing lock are
    /// kept while they still satisfy the inputs; `--upgrade` and `--upgrade-package`
    /// lift them. Exit codes: 0 locked (or up to date), 1 no solution or a stale lock
    /// under `--check`, 2 any other error.
    Lock(Box<LockArgs>),
    /// Render the build of a lock: a multi-stage Dockerfile and its context files.
    ///
    /// Reads `locks/<profile>.txt` and writes `build/<profile>/`: `Dockerfile` (stages
    /// inputs, runtime-base, resolver, builder-base, wheel-builder, final, verify, export,
    /// image), `.dockerignore`, the lock as the build reads it, and dockgen's helper
    /// scripts. Exit codes: 0 rendered (or up to date), 1 stale under `--check`, 2 any
    /// other error.
    Render(RenderArgs),
    /// Build a lock's image on the Docker engine, verify it, and export its artifacts.
    ///
    /// Fetches every locked file on the host into a content-addressed store (credentials
    /// stay on the host), renders the plan, and builds it through BuildKit: first up to
    /// the artifacts (the verify stage records every check), exported to
    /// `artifacts/<profile>/`, then, when every check passed, the `image` target. Checks
    /// that the image's dependency tree equals the lock's (`dockgen tree`) and writes
    /// `build-report.json`. Packages reach the build from a package server on the host's
    /// loopback (see `--delivery`). `DOCKER_HOST` selects the engine. Exit codes: 0 built
    /// and verified, 1 a check failed or the image differs from the lock, 2 any other
    /// error.
    Build(BuildArgs),
    /// Print a lock's dependency tree, from the lock alone, as pipdeptree prints it.
    ///
    /// Each package under the packages it requires, each edge with the requirement it
    /// comes from (`[required: >=0.40.0,<0.48.0, installed: 0.47.3]`), exactly as
    /// pipdeptree 4.2.16 prints the environment the lock installs (`--pipdeptree 2`:
    /// as 2.35.3 does; names are the lock's, which dockgen writes normalized: `pyyaml`
    /// where pipdeptree prints `PyYAML`). Requirements through an extra are edges where
    /// a locked package asks for that extra (`, extra: standard`); a subtree already
    /// shown under the same root ends `(*)`. `dockgen build` checks that the built
    /// image's tree equals this one. Exit codes: 0 printed, 2 any error (no lock, a
    /// `--packages` pattern that matches nothing).
    Tree(TreeArgs),
    /// Write a `docker-bake.hcl` and a GitHub Actions matrix with one target per profile.
    ///
    /// Renders nothing and reads no lock: the files name the plans `dockgen render`
    /// writes and the tags and BuildKit cache each target uses; `--github-workflow`
    /// adds a whole workflow. Exit codes: 0 written (or up to date), 1 a file is stale
    /// under `--check`, 2 any other error (a bad image or cache reference, a profile
    /// that does not load).
    Matrix(MatrixArgs),
    /// Compare the imports of a project's Python files with a lock.
    ///
    /// Reads every `.py` file under PATH (skipping virtual environments, build output
    /// and caches) with Python's own parser (`python3`), and accounts for each imported
    /// top-level module: the target Python's standard library, the project's own
    /// modules, or a locked distribution that installs it (its wheel's file list, from
    /// the profile's indexes through the cache). Reports missing imports with the
    /// distribution to add where one can be named, and requirements of the inputs that
    /// nothing imports. Exit codes: 0 nothing missing (unused requirements and optional
    /// imports are warnings), 1 an import no locked distribution provides, 2 the scan
    /// could not run.
    Scan(ScanArgs),
    /// Inspect this host and print the profile that fits it, or check one against it.
    ///
    /// Reads the architecture, the C library, `python3`, NVIDIA GPUs (`nvidia-smi`, else
    /// /proc/driver/nvidia), a Jetson (/etc/nv_tegra_release, /proc/device-tree/model)
    /// and AMD GPUs (`rocminfo`, else /sys/class/kfd), and prints the built-in profile
    /// that fits, or a profile that `extends:` one with what differs, and why. With no
    /// GPU it prints the CPU profile. With `--profile`, says whether this host can run
    /// that profile's image. Exit codes: 0 printed (with `--profile`: it can run), 1 with
    /// `--profile`, it cannot, 2 any other error.
    Detect(DetectArgs),
    /// List the built-in profiles, or show one fully resolved.
    ///
    /// Exit codes: 0 listed or shown, 2 any error (an unknown name, a profile file that
    /// does not load or whose `extends:` chain is broken).
    Profiles(ProfilesArgs),
    /// Print a shell completion script.
    ///
    /// For bash: `dockgen completions bash > ~/.local/share/bash-completion/completions/dockgen`;
    /// zsh: into a directory on `$fpath` as `_dockgen`; fish:
    /// `~/.config/fish/completions/dockgen.fish`. Generated from the same definitions
    /// as `--help`. Exit codes: 0 printed, 2 any error.
    Completions {
        /// The shell.
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the manual page `dockgen(1)`, or write every page into a directory.
    ///
    /// `dockgen man | man -l -` reads it; `dockgen man --out-dir DIR` writes
    /// `dockgen.1` and one page per command (`dockgen-lock.1`, ...) for
    /// `/usr/local/share/man/man1`. Generated from the same definitions as `--help`.
    /// Exit codes: 0 written, 2 any error.
    Man {
        /// Write every page here (created if missing) instead of `dockgen.1` to stdout.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
    /// Compare two locks: packages added, removed, upgraded and downgraded, files
    /// changed under the same version (a replaced file is flagged as suspicious), and
    /// the header lines that decide what gets locked.
    ///
    /// OLD and NEW are lock files, or `REV:PATH` for a lock at a git revision (PATH is
    /// relative to the current directory, as for a file; git finds the repository from
    /// the lock's directory). One lock alone is compared at `--rev` (default `HEAD`)
    /// with the file as it is; `--profile NAME` alone does that for
    /// `<locks-dir>/NAME.txt`. Reads only the locks. Examples:
    ///
    ///   dockgen diff locks/cpu-x86_64.txt                # HEAD against the working file
    ///
    ///   dockgen diff --rev main --profile cuda12-x86_64  # main against the working file
    ///
    ///   dockgen diff HEAD~3:locks/cpu-x86_64.txt old/cpu-x86_64.txt
    ///
    /// Versions compare by PEP 440. Under the same version, hashes only added (a wheel
    /// uploaded later) or only gone (a file deleted or yanked) are listed; a hash gone
    /// and another new means a file was replaced, which an index should never do: it
    /// is flagged SUSPICIOUS unless the two locks name different targets (a new Python
    /// takes other wheels). Exit codes: 0 no differences, 1 differences (`--fail-on`
    /// says which count), 2 any other error (a lock missing or unreadable, a failing
    /// git).
    Diff(DiffArgs),
    /// Find problems in a lock before building it.
    ///
    /// Reads the lock and asks the profile's indexes (through the cache; `--offline`
    /// makes no request) about every locked file. Errors: several distributions that
    /// install the same top-level module (`duplicate-module`), packages asking for
    /// different CUDA runtimes (`cuda-conflict`), a CPU-only or otherwise wrong build of
    /// an accelerated package on a GPU profile (`wrong-accelerator-build`,
    /// `cpu-only-package`), no locked file that installs on the target
    /// (`no-compatible-file`), locked files the indexes no longer serve (`unknown-hash`,
    /// `not-on-index`). Warnings: sdists built in the wheel-builder stage, with their
    /// build requirements (`sdist-build`), CPU-only packages the profile does not list as
    /// accelerated. With `--vulns`, known vulnerabilities from an OSV-compatible service
    /// (`vulnerability`, with the smallest upgrade that fixes each). Exit codes: 0 no
    /// errors (warnings allowed), 1 errors found, 2 the check could not run.
    Check(CheckArgs),
    /// Write a CycloneDX 1.6 SBOM of what a lock installs, without building it.
    ///
    /// One component per pin (purl, the SHA-256 of every locked file, licenses as the
    /// metadata declares them, the files as distribution references), and the
    /// dependency graph of the lock's `# via`. Metadata comes from the profile's indexes
    /// through the cache (`--offline` makes no request). The timestamp comes from
    /// `SOURCE_DATE_EPOCH` (none without it); the serial number from the lock, so the
    /// same lock gives the same SBOM. Exit codes: 0 written, 2 any error.
    Sbom(SbomArgs),
    /// Write one self-contained HTML page about a lock, without building it.
    ///
    /// The page shows a summary (profile, target, the lock's SHA-256, package count,
    /// total download size, check counts), `dockgen check`'s findings with their text,
    /// the dependency tree (`dockgen tree`, as nested lists), every package with the
    /// file the target installs, its size, licenses (as `dockgen sbom` reads them) and
    /// index, and the sdists the wheel-builder stage builds with their build
    /// requirements. Reads the lock and asks the profile's indexes through the cache
    /// (`--offline` makes no request). Inline CSS only: no script, no external
    /// resource; every value from the lock, an index or a package's metadata is escaped.
    /// The same lock and cache give the same bytes: the page carries a time only from
    /// `SOURCE_DATE_EPOCH`. Exit codes: 0 written, also when the checks found errors
    /// (the page shows them; `dockgen check` is the gate), 2 any error.
    Report(ReportArgs),
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Profile to render: a built-in name or a YAML file. Repeatable.
    #[arg(
        short,
        long = "profile",
        value_name = "NAME|FILE",
        default_value = "cpu-x86_64"
    )]
    pub profiles: Vec<String>,

    /// The lock to render (one profile only) [default: `<locks-dir>/<profile>.txt`].
    #[arg(long, value_name = "PATH")]
    pub lock: Option<PathBuf>,

    /// Where the locks are.
    #[arg(long, value_name = "DIR", default_value = "locks")]
    pub locks_dir: PathBuf,

    /// Where the plans go: `<out-dir>/<profile>/`.
    #[arg(long, value_name = "DIR", default_value = "build")]
    pub out_dir: PathBuf,

    /// Deliver packages from a `wheels/` directory in the build context (filled by
    /// `dockgen build`, or by you) instead of from indexes during the build. dockgen
    /// puts the files of the lock's direct references there itself (archives, and
    /// git pins' commits and local directories exported as `name-VERSION.tar.gz`).
    #[arg(long, conflicts_with = "index_url")]
    pub wheelhouse: bool,

    /// Have the build fetch from this index instead of the lock's (no credentials:
    /// a rendered build never holds any). Repeat for extra indexes.
    #[arg(long, value_name = "URL")]
    pub index_url: Vec<url::Url>,

    /// Do not write: exit 1 and print a diff when a rendered file is missing or stale.
    #[arg(long)]
    pub check: bool,

    /// `text` (messages on stderr) or `json`: one JSON document on stdout with, per
    /// profile, the lock read, the plan's directory and each file's status (`written`,
    /// `unchanged`; under `--check`, `up-to-date` or `stale` with its diff).
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub format: String,

    /// For `--wheelhouse` renders of locks with direct references, whose files
    /// dockgen fetches (or exports from git) into `wheels/`.
    #[command(flatten)]
    pub network: NetworkArgs,
}

/// Which lock a command reads: the profile's, where the locks are, or a lock named
/// outright. Shared by every command that reads one profile's lock.
#[derive(Debug, Args)]
pub struct LockSelection {
    /// The profile: a built-in name (see `dockgen profiles`) or a YAML file.
    #[arg(short, long, value_name = "NAME|FILE", default_value = "cpu-x86_64")]
    pub profile: String,

    /// The lock [default: `<locks-dir>/<profile>.txt`].
    #[arg(long, value_name = "PATH")]
    pub lock: Option<PathBuf>,

    /// Where the locks are.
    #[arg(long, value_name = "DIR", default_value = "locks")]
    pub locks_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub selected: LockSelection,

    /// Where the plan is rendered: `<out-dir>/<profile>/`.
    #[arg(long, value_name = "DIR", default_value = "build")]
    pub out_dir: PathBuf,

    /// Where artifacts and the build report go: `<artifacts-dir>/<profile>/`.
    #[arg(long, value_name = "DIR", default_value = "artifacts")]
    pub artifacts_dir: PathBuf,

    /// Image tag; repeatable [default: `dockgen/<profile>:latest`].
    #[arg(short, long = "tag", value_name = "NAME:TAG")]
    pub tags: Vec<String>,

    /// Build every step again, ignoring BuildKit's cache.
    #[arg(long)]
    pub no_cache: bool,

    /// Have the engine pull newer versions of the base images first. Off by default:
    /// the profile's images are used as the engine has them.
    #[arg(long, value_name = "BOOL", default_value_t = false, num_args = 0..=1,
          default_missing_value = "true", action = clap::ArgAction::Set)]
    pub pull: bool,

    /// The platform to build for, `os/arch[/variant]` [default: the profile's]. Another
    /// architecture than the engine's builds under QEMU emulation: for an engine on
    /// this machine, a missing binfmt_misc handler stops the build before it starts,
    /// with the commands that register one (`DOCKGEN_BINFMT_MISC` names the directory
    /// to read, default `/proc/sys/fs/binfmt_misc`).
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,

    /// Push every tag to its registry once the image is built and verified (a tag must
    /// name the registry: `registry.example:5000/team/app:cpu`). The image carries
    /// BuildKit's inline cache, so the pushed image is the `--cache-from` of the next
    /// build on any runner. Credentials: `DOCKGEN_REGISTRY_USERNAME` and
    /// `DOCKGEN_REGISTRY_PASSWORD`, else the Docker config (`docker login`'s
    /// credential helpers or `auths`); they reach only the engine.
    #[arg(long)]
    pub push: bool,

    /// An image whose inline build cache the build may reuse (an earlier `--push`),
    /// pulled from its registry by the engine as needed: every stage the image holds
    /// that did not change is not built again. Repeatable; a missing image is no error.
    #[arg(long = "cache-from", value_name = "IMAGE")]
    pub cache_from: Vec<String>,

    /// A build argument, `KEY=VALUE`; repeatable. The rendered Dockerfile declares
    /// none, so these reach only what a base image's ONBUILD or your own edits use.
    #[arg(long = "build-arg", value_name = "KEY=VALUE", value_parser = parse_build_arg)]
    pub build_args: Vec<(String, String)>,

    /// How locked files reach the build. `served`: from a package server dockgen runs
    /// on the host's loopback for the build (the build runs with the host's network);
    /// a rebuild fetches only files the build cache lacks. `context`: in a `wheels/`
    /// directory of the build context, re-sent whole on every build; works with an
    /// engine on another machine. `auto`: `served` for an engine on this machine
    /// (unix socket or loopback), `context` otherwise.
    #[arg(long, value_name = "HOW", default_value = "auto", value_parser = ["auto", "served", "context"])]
    pub delivery: String,

    /// Progress output: `auto` (a live view on a terminal, plain lines otherwise),
    /// `tty`, `plain` or `quiet`.
    #[arg(long, value_name = "MODE", default_value = "auto")]
    pub progress: String,

    #[command(flatten)]
    pub network: NetworkArgs,
}

fn parse_build_arg(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("`{text}`: expected KEY=VALUE")),
    }
}

#[derive(Debug, Args)]
pub struct TreeArgs {
    #[command(flatten)]
    pub selected: LockSelection,

    /// Each package under the packages that require it (`pipdeptree --reverse`);
    /// roots are then the packages that require nothing.
    #[arg(short, long)]
    pub reverse: bool,

    /// Only these packages and what they reach (with `--reverse`: what requires them).
    /// Comma-separated; wildcards as in `fnmatch` (`torch*`); names match normalized.
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub packages: Vec<String>,

    /// Output: `text` (pipdeptree's tree), `json-tree` (`pipdeptree --json-tree`:
    /// nested, with `required_version` per edge) or `json` (`pipdeptree --json`: each
    /// package with its direct requirements; with `--reverse`, its dependents, which
    /// `--pipdeptree 2` cannot show).
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json", "json-tree"])]
    pub format: String,

    /// Whose layout: `4`, pipdeptree 4.x's (what `pip install pipdeptree` gives:
    /// requirements through an extra another package asks for are edges, a subtree
    /// shown before under the same root ends `(*)`, specifiers ordered by version), or
    /// `2`, pipdeptree 2.x's (no extras, every subtree in full).
    #[arg(long, value_name = "MAJOR", default_value = "4", value_parser = ["4", "2"])]
    pub pipdeptree: String,

    /// Same as `--format json-tree`.
    #[arg(long, conflicts_with_all = ["format", "json"])]
    pub json_tree: bool,

    /// Same as `--format json`.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Python files or directories to scan [default: the current directory].
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    #[command(flatten)]
    pub selected: LockSelection,

    /// `text` or `json`.
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub format: String,

    /// The Python whose parser reads the files (`ast`); any Python 3.8 or later reads
    /// what the target's reads, bar new syntax.
    #[arg(long, value_name = "PATH", default_value = "python3")]
    pub python: String,

    #[command(flatten)]
    pub network: NetworkArgs,
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Check whether this host can run this profile's image (architecture, GPU, driver
    /// CUDA version, compute capability or gfx target) instead of choosing one.
    #[arg(short, long, value_name = "NAME|FILE")]
    pub profile: Option<String>,

    /// Also write the profile that fits to FILE (YAML; the built-in's name in an
    /// `extends:` line when nothing differs). Not with `--profile`.
    #[arg(long, value_name = "FILE", conflicts_with = "profile")]
    pub write: Option<PathBuf>,

    /// Output: `text` or `json`.
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub format: String,

    /// Read /proc, /sys, /etc and /opt under DIR instead of `/` (for another system's
    /// files, or the tests' fixtures).
    #[arg(
        long,
        value_name = "DIR",
        env = "DOCKGEN_DETECT_ROOT",
        default_value = "/"
    )]
    pub root: PathBuf,
}

#[derive(Debug, Args)]
pub struct MatrixArgs {
    /// Profiles, one bake target each: built-in names or YAML files. Repeatable.
    #[arg(short, long = "profile", value_name = "NAME|FILE", required = true)]
    pub profiles: Vec<String>,

    /// Where `dockgen render` put the plans, as the bake file should refer to it.
    #[arg(long, value_name = "DIR", default_value = "build")]
    pub build_dir: String,

    /// Image repository for the tags (`<image>:<profile>`).
    #[arg(long, value_name = "REPO", default_value = "dockgen-app")]
    pub image: String,

    /// BuildKit cache: `gha` (GitHub Actions cache, one scope per profile) or
    /// `registry:<REF>` (tags `<REF>:buildcache-<profile>`).
    #[arg(long, value_name = "KIND", default_value = "gha")]
    pub cache: String,

    /// Directory for `docker-bake.hcl` and `dockgen-matrix.json`.
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    pub out_dir: PathBuf,

    /// Also write a complete GitHub Actions workflow to FILE
    /// (`.github/workflows/dockgen.yml`): one job per profile on a runner of its
    /// platform, each `dockgen build --push` of the committed lock to
    /// `<image>:<profile>` with the previous push as `--cache-from`, the artifacts
    /// uploaded. `--image` must then name a repository in a registry (`ghcr.io/org/app`).
    #[arg(long, value_name = "FILE")]
    pub github_workflow: Option<PathBuf>,

    /// The workflow's command that puts `dockgen` on the runner's PATH.
    #[arg(
        long,
        value_name = "COMMAND",
        default_value = "cargo install --locked dockgen"
    )]
    pub install_command: String,

    /// Do not write: exit 1 and print a diff when a file is missing or stale.
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// The input: a requirements file (pip syntax) or a `pyproject.toml`.
    #[arg(default_value = "requirements.in")]
    pub input: PathBuf,

    /// Target profile: a built-in name (see `dockgen profiles`) or a YAML file.
    /// Repeat to lock several targets in one run; they share all index work.
    #[arg(
        short,
        long = "profile",
        value_name = "NAME|FILE",
        default_value = "cpu-x86_64"
    )]
    pub profiles: Vec<String>,

    /// Write the lock here instead of `<locks-dir>/<profile>.txt` (one profile only).
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// Directory for the locks [default: `locks/` beside the input].
    #[arg(long, value_name = "DIR")]
    pub locks_dir: Option<PathBuf>,

    /// With a `pyproject.toml` input: include this optional-dependency group. Repeatable.
    #[arg(long = "extra", value_name = "NAME")]
    pub extras: Vec<String>,

    /// A requirements file whose entries replace every requirement on the same
    /// package, whoever declares it (for broken upstream metadata). Repeatable.
    #[arg(long = "override", value_name = "FILE")]
    pub overrides: Vec<PathBuf>,

    /// Ignore files uploaded at or after this time, on every index: an RFC 3339
    /// timestamp, or a date `YYYY-MM-DD`, which keeps the files uploaded during that
    /// day (UTC; uv ends it in the local time zone). Overrides the profile's
    /// `exclude_newer`.
    #[arg(long, value_name = "DATE")]
    pub exclude_newer: Option<String>,

    /// Allow pre-releases for every package (by default only where a requirement
    /// names one, or where nothing else satisfies).
    #[arg(long)]
    pub pre: bool,

    /// How the general indexes (those without a `packages:` list) share a package.
    /// Their order: the input's `--extra-index-url`s first, as given, then its
    /// `--index-url` (or the profile's indexes), as uv orders them.
    #[arg(long, value_enum, value_name = "STRATEGY", default_value_t)]
    pub index_strategy: IndexStrategyArg,

    /// Ignore the pins of the existing lock: take the newest versions allowed.
    #[arg(short = 'U', long)]
    pub upgrade: bool,

    /// Lift the existing pin of this package only. Repeatable.
    #[arg(short = 'P', long = "upgrade-package", value_name = "NAME")]
    pub upgrade_packages: Vec<String>,

    /// `text` (messages on stderr) or `json`: when the run ends, one JSON document on
    /// stdout with, per profile, the lock's path, its status, its pins and what changed
    /// against the lock it replaces (the README gives the schema). Messages still go
    /// to stderr.
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub format: String,

    /// Do not write: exit 1 and print a diff when a lock is missing or stale. A lock
    /// whose `# inputs-digest` matches its current inputs and its own text is up to
    /// date without resolving (no index asked); otherwise the inputs are resolved and
    /// the result compared.
    #[arg(long)]
    pub check: bool,

    /// Also write a PEP 751 `pylock.<profile>.toml` beside each lock.
    #[arg(long)]
    pub pylock: bool,

    #[command(flatten)]
    pub network: NetworkArgs,

    // Last: its help heading would apply to the options after it.
    #[command(flatten)]
    pub builds: MetadataBuildArgs,
}

/// How `lock` learns the dependencies of sdists whose metadata is not static.
#[derive(Debug, Args)]
#[command(next_help_heading = "Metadata builds")]
pub struct MetadataBuildArgs {
    /// Never run an sdist's build backend: an sdist whose dependencies only a build
    /// can tell is an error that lists the versions with wheels. By default `lock`
    /// builds such sdists' metadata (PEP 517), as pip and uv do, which runs code from
    /// the sdist on this machine.
    #[arg(long)]
    pub no_build: bool,

    /// The Python that runs metadata builds: a path, or a name on PATH
    /// (`python3.10`) [default: `python3.X` on PATH for the profile's Python 3.X, else
    /// `python3`, with a warning].
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,

    /// Seconds one build hook may run before it is stopped.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub build_timeout: u64,
}

/// `dockgen lock --index-strategy` (uv's names and meanings).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum IndexStrategyArg {
    /// Take every version of a package from the first index that has it; later
    /// indexes are never asked for it. Safe: a package published under the same name
    /// on a public index cannot replace the one on your private index.
    #[default]
    FirstIndex,
    /// Ask every index; try all versions of the first index that has the package
    /// (newest first) before any of the next one's. Unsafe: when none of the first
    /// index's versions fits, a same-named package from another index is used.
    UnsafeFirstMatch,
    /// Ask every index and pick the best version among all of them (pip's way; where
    /// two list the same version, the earlier index's files are used). Unsafe: anyone
    /// who publishes a higher version of one of your private package names on a
    /// public index (dependency confusion) gets it into the lock. Prefer listing such
    /// packages under their index's `packages:` in a profile.
    UnsafeBestMatch,
}

#[derive(Debug, Args)]
pub struct NetworkArgs {
    /// Use only the cache; fail if something is not in it.
    #[arg(long, env = "DOCKGEN_OFFLINE")]
    pub offline: bool,

    /// Cache directory [default: `$DOCKGEN_CACHE_DIR`, `$XDG_CACHE_HOME/dockgen`, or
    /// `~/.cache/dockgen`].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Seconds to wait for an index to connect or to send more data. A whole request
    /// (headers and body) may take 4 times this, plus 1 s per MiB of a file download.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 30,
        env = "DOCKGEN_HTTP_TIMEOUT"
    )]
    pub timeout: u64,

    /// Retries of a request that failed with a 5xx, 429, a reset or a timeout (after
    /// the `Retry-After` the index asks for, up to 60 s). A redirect loop is not retried.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub retries: u32,

    /// Requests in flight at once.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub concurrency: usize,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The old lock: a path, or `REV:PATH` for that file at a git revision. Alone: the
    /// lock to compare at `--rev` with the file as it is.
    #[arg(value_name = "OLD")]
    pub old: Option<String>,

    /// The new lock: a path, or `REV:PATH`.
    #[arg(value_name = "NEW", conflicts_with = "revs")]
    pub new: Option<String>,

    /// With one lock (or `--profile`): the git revision to read the old lock at, the
    /// new one being the file as it is. Given twice: the old lock at the first
    /// revision, the new at the second [default: `HEAD`].
    #[arg(long = "rev", value_name = "REV")]
    pub revs: Vec<String>,

    /// Compare the lock of this profile, `<locks-dir>/<name>.txt` (a built-in name, or
    /// a YAML file naming the profile), at `--rev` with the file as it is.
    #[arg(short, long, value_name = "NAME|FILE", conflicts_with = "old")]
    pub profile: Option<String>,

    /// Where the locks are, for `--profile` [default: `locks`].
    #[arg(long, value_name = "DIR", requires = "profile", conflicts_with = "old")]
    pub locks_dir: Option<PathBuf>,

    /// Output: `text` (a changelog, for people) or `json` (every key always present,
    /// lists sorted by package name).
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub format: String,

    /// What exits 1: `any` difference (as `diff` does), only a `suspicious` file
    /// replacement (for a CI gate that lets normal updates through), or `never` (print
    /// only; errors still exit 2).
    #[arg(long, value_name = "WHAT", default_value = "any", value_parser = ["any", "suspicious", "never"])]
    pub fail_on: String,
}

/// Known vulnerabilities from an OSV-compatible service, for `check`, `sbom` and
/// `report`.
#[derive(Debug, Args)]
pub struct VulnArgs {
    /// Also ask an OSV-compatible service about every pin: each advisory is an error
    /// finding (id, aliases, severity, the smallest upgrade that fixes it). Answers are
    /// cached; `--offline` uses them and says how old they are.
    #[arg(long)]
    pub vulns: bool,

    /// The service (`POST /v1/querybatch`, `GET /v1/vulns/ID`); a bearer token for it in
    /// `DOCKGEN_OSV_TOKEN` when set.
    #[arg(
        long,
        value_name = "URL",
        env = "DOCKGEN_OSV_URL",
        default_value = "https://api.osv.dev"
    )]
    pub osv_url: Url,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub selected: LockSelection,

    #[command(flatten)]
    pub vulns: VulnArgs,

    /// `text` (one block per finding, then a summary) or `json`.
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub format: String,

    #[command(flatten)]
    pub network: NetworkArgs,
}

#[derive(Debug, Args)]
pub struct SbomArgs {
    #[command(flatten)]
    pub selected: LockSelection,

    /// With `--vulns`, the known vulnerabilities go into the document's
    /// `vulnerabilities`.
    #[command(flatten)]
    pub vulns: VulnArgs,

    /// `json` (the CycloneDX document) or `text` (one line per component).
    #[arg(long, value_name = "FORMAT", default_value = "json", value_parser = ["text", "json"])]
    pub format: String,

    /// Write here (atomically) instead of to stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    #[command(flatten)]
    pub network: NetworkArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub selected: LockSelection,

    /// With `--vulns`, the known vulnerabilities are among the page's findings.
    #[command(flatten)]
    pub vulns: VulnArgs,

    /// Where to write the page (atomically); `-` for stdout.
    #[arg(short, long, value_name = "FILE", default_value = "report.html")]
    pub output: PathBuf,

    #[command(flatten)]
    pub network: NetworkArgs,
}

#[derive(Debug, Args)]
pub struct ProfilesArgs {
    #[command(subcommand)]
    pub command: Option<ProfilesCommand>,

    /// `text` (a table; for `show`, YAML) or `json` (`list`: an array of the built-in
    /// profiles, each as `show` gives it; `show`: the profile as one object, the same
    /// fields as its YAML).
    #[arg(long, global = true, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
}

#[derive(Debug, Subcommand)]
pub enum ProfilesCommand {
    /// List the built-in profiles (the default).
    List,
    /// Print one profile with `extends:` applied, as YAML.
    Show {
        /// A built-in name or a YAML file.
        #[arg(value_name = "NAME|FILE")]
        profile: String,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
