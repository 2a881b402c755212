//! Commands tie the stages together; the only layer that touches the file system
//! and the network.

pub mod build;
pub mod files;
pub mod lock;
pub mod matrix;
pub mod profiles;
pub mod render;

use std::io::IsTerminal;

/// Outcomes that exit with code 1 rather than 2: the tool worked, the answer is "no".
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Already printed (e.g. the diff of a stale lock).
    #[error("see above")]
    Reported,
    #[error("{0}")]
    Resolution(String),
}

/// Log to stderr: warnings by default, more with `-v`, `DOCKGEN_LOG` for a filter.
pub fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "dockgen=debug,info",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("DOCKGEN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Whether to draw progress bars: on a terminal, unless asked to be quiet.
pub fn show_progress(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// The progress bar of network work: a spinner with counts, on stderr.
pub fn progress_bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos}/{len} {wide_msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}
