//! The `dockgen` binary: parse arguments, run one command, map the outcome to an
//! exit code. Everything else lives in the library.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use dockgen::cli::{Cli, Command, ProfilesCommand};
use dockgen::commands::{self, Failure};

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // clap quotes the offending value, which may be a URL with credentials.
        Err(error) => {
            // Plain text: masking works on the words, not on styled output. A closed
            // pipe (`dockgen --help | head -1`) is no error.
            let text = dockgen::secrets::text(&error.render().to_string());
            let _ = if error.use_stderr() {
                std::io::stderr().lock().write_all(text.as_bytes())
            } else {
                std::io::stdout().lock().write_all(text.as_bytes())
            };
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
    };
    commands::init_logging(cli.verbose, cli.quiet);
    let result = match cli.command {
        Command::Lock(args) => commands::lock::run(&args, cli.quiet),
        Command::Render(args) => commands::render::run(&args, cli.quiet),
        Command::Matrix(args) => commands::matrix::run(&args, cli.quiet),
        Command::Build(args) => commands::build::run(&args, cli.quiet),
        Command::Tree(args) => commands::tree::run(&args, &mut std::io::stdout().lock()),
        Command::Diff(args) => commands::diff::run(&args),
        Command::Check(args) => commands::check::run(&args, cli.quiet),
        Command::Sbom(args) => commands::sbom::run(&args, cli.quiet),
        Command::Report(args) => commands::report::run(&args, cli.quiet),
        Command::Scan(args) => commands::scan::run(&args, cli.quiet, &mut std::io::stdout().lock()),
        Command::Detect(args) => {
            commands::detect::run(&args, cli.quiet, &mut std::io::stdout().lock())
        }
        Command::Completions { shell } => {
            commands::manual::completions(shell, &mut std::io::stdout().lock())
        }
        Command::Man { out_dir } => {
            commands::manual::man(out_dir.as_deref(), cli.quiet, &mut std::io::stdout().lock())
        }
        Command::Profiles(args) => {
            let cwd = std::env::current_dir().unwrap_or_default();
            let mut out = std::io::stdout().lock();
            let json = args.format == "json";
            match args.command.unwrap_or(ProfilesCommand::List) {
                ProfilesCommand::List if json => commands::profiles::list_json(&mut out),
                ProfilesCommand::List => commands::profiles::list(&mut out),
                ProfilesCommand::Show { profile } if json => {
                    commands::profiles::show_json(&profile, &cwd, &mut out)
                }
                ProfilesCommand::Show { profile } => {
                    commands::profiles::show(&profile, &cwd, &mut out)
                }
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if is_broken_pipe(&error) {
                return ExitCode::SUCCESS;
            }
            match error.downcast_ref::<Failure>() {
                // The command already said what it found (a diff, an explanation).
                Some(Failure::Reported) => ExitCode::from(1),
                Some(failure @ Failure::Resolution(_)) => {
                    eprintln!("error: {}", dockgen::secrets::text(&failure.to_string()));
                    ExitCode::from(1)
                }
                None => {
                    eprintln!(
                        "error: {}",
                        dockgen::secrets::text(&commands::errors::describe(&error))
                    );
                    ExitCode::from(2)
                }
            }
        }
    }
}

/// Output cut short by a closed pipe (`dockgen tree | head`) is not an error.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// glibc's malloc gives each thread that allocates its own arena (up to 8 per core),
/// and what is freed into one arena serves only allocations made there. dockgen's
/// index workers parse pages that the resolver threads later drop, so with the default
/// the freed memory of one arena sat unused while another grew. Two arenas cut the
/// peak RSS of `lock` on a 406-pin input (`bench/inputs/wide-128.in`) from 145 to 111
/// MB offline, 210 to 140 MB warm and 335 to 267 MB for three profiles, at the same
/// time offline and about a tenth more on a warm run, whose page fetches allocate on
/// several threads at once. `MALLOC_ARENA_MAX` set in the environment is left to
/// decide.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a malloc parameter; called first thing in `main`,
        // before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
