//! dockgen: hash-locked, per-hardware-profile Python dependency locks, and the
//! multi-stage container builds that install them.
//!
//! Data flows one way, and a module only imports the stages to its left:
//!
//! ```text
//! input -> index -> resolve -> lock -> (render -> build -> artifacts)
//!                                   \-> audit (views computed from the lock alone)
//! ```
//!
//! `audit` is the part of the verify stage's artifacts that needs no image: views (the
//! dependency tree) computed from the lock alone.
//!
//! `secrets` sits below them all: the one way a URL or a message is made fit for
//! output, used by `input` and `index` alike; `errors` says an error's chain of
//! causes in one line, each cause once.
//!
//! `commands` is the only layer that ties stages together and touches the file
//! system and the network; `main.rs` parses arguments and maps errors to exit codes.

pub mod audit;
pub mod build;
pub mod cli;
pub mod commands;
pub mod detect;
pub mod errors;
pub mod index;
pub mod input;
pub mod lock;
pub mod render;
pub mod resolve;
pub mod scan;
pub mod sdist;
pub mod secrets;

#[cfg(test)]
mod fuzz;
