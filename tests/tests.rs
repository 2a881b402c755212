//! One integration-test binary: every file below is a module of it.

mod support;

mod accelerator;
mod audit;
mod build;
mod build_failures;
mod cli;
mod detect;
mod diff;
mod direct;
mod emulation;
mod engine;
mod error_words;
mod examples;
mod fixture_index;
mod hostile;
mod index;
mod index_priority;
mod local_dirs;
mod lock;
mod lock_integrity;
mod malformed;
mod pylock;
mod render;
mod render_direct;
mod report;
mod repository;
mod scan;
mod scripts;
mod sdist_builds;
mod secrets;
mod tree;
mod tree_limits;
mod vcs;
mod wheelhouse;
mod wheels;
