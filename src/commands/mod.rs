//! Commands tie the stages together; the only layer that touches the file system
//! and the network.

pub mod build;
pub mod check;
pub mod detect;
pub mod diff;
pub mod errors;
pub mod files;
pub mod lock;
pub mod manual;
pub mod matrix;
mod pinned;
pub mod profiles;
pub mod render;
pub mod report;
pub mod sbom;
pub mod scan;
pub mod tree;

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
        .with_writer(|| MaskedStderr)
        .with_target(false)
        .without_time()
        .with_ansi(ansi_on_stderr(std::env::var_os("NO_COLOR")))
        .try_init();
}

/// Whether stderr gets colours: only a terminal, and not when `NO_COLOR` is set to
/// anything but the empty string (<https://no-color.org>).
fn ansi_on_stderr(no_color: Option<std::ffi::OsString>) -> bool {
    no_color.is_none_or(|value| value.is_empty()) && std::io::stderr().is_terminal()
}

/// stderr through [`crate::secrets::text`]. The log formatter writes each event in one
/// `write_all`, so a secret is never split across two writes.
struct MaskedStderr;

impl std::io::Write for MaskedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = crate::secrets::text(&String::from_utf8_lossy(buf));
        std::io::stderr().write_all(text.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
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

/// Index client options from the command line's network flags.
/// The URLs of a lock's direct references as requested (`${VAR}` expanded), for the
/// client's credentials: their userinfo goes to their hosts.
pub fn direct_urls(lock: &crate::lock::LockFile) -> Vec<url::Url> {
    lock.pins
        .iter()
        .filter_map(|(name, pin)| {
            let refs = crate::index::direct::DirectRefs::from_lock_pin(
                name,
                pin.url.as_deref()?,
                &[],
                String::new(),
            );
            Some(refs.ok()?.iter().next()?.request_url().clone())
        })
        .collect()
}

pub fn client_options(
    network: &crate::cli::NetworkArgs,
    progress: Option<indicatif::ProgressBar>,
) -> crate::index::registry::ClientOptions {
    let timeout = std::time::Duration::from_secs(network.timeout);
    crate::index::registry::ClientOptions {
        cache_dir: network.cache_dir.clone(),
        offline: network.offline,
        connect_timeout: timeout,
        read_timeout: timeout,
        retries: network.retries,
        concurrency: network.concurrency,
        progress,
        ..Default::default()
    }
}

/// The lock of `profile`: `explicit` when given, else `<locks_dir>/<name>.txt`, with
/// its text and its parsed pins. A missing lock says how to make one.
pub fn read_profile_lock(
    cwd: &std::path::Path,
    explicit: Option<&std::path::Path>,
    locks_dir: &std::path::Path,
    profile_name: &str,
    spec: &str,
) -> anyhow::Result<(std::path::PathBuf, String, crate::lock::LockFile)> {
    let lock_path = match explicit {
        Some(path) => cwd.join(path),
        None => cwd.join(locks_dir).join(format!("{profile_name}.txt")),
    };
    let text = crate::input::text::read_text(&lock_path).map_err(|error| {
        let shown = files::display_path(&lock_path, cwd);
        let context = if error.kind() == std::io::ErrorKind::NotFound {
            format!("cannot read the lock `{shown}`: run `dockgen lock --profile {spec}` first")
        } else {
            format!("cannot read the lock `{shown}`")
        };
        anyhow::Error::new(error).context(context)
    })?;
    let lock = crate::lock::parse(&text, &lock_path)?;
    Ok((lock_path, text, lock))
}

#[cfg(test)]
mod tests {
    use super::ansi_on_stderr;

    #[test]
    fn no_color_with_a_value_turns_log_colours_off() {
        assert!(!ansi_on_stderr(Some("1".into())));
        assert!(!ansi_on_stderr(Some("false".into())));
        // Unset or empty: colours exactly when stderr is a terminal.
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        assert_eq!(ansi_on_stderr(None), terminal);
        assert_eq!(ansi_on_stderr(Some("".into())), terminal);
    }
}
