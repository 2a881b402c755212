//! One integration-test binary: every file below is a module of it.

mod support;

mod audit;
mod build;
mod build_failures;
mod diff;
mod engine;
mod error_words;
mod examples;
mod fixture_index;
mod index;
mod lock;
mod lock_integrity;
mod render;
mod report;
mod scripts;
mod tree;
mod tree_limits;
mod wheelhouse;
mod wheels;
