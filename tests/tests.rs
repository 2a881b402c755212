//! One integration-test binary: every file below is a module of it.

mod support;

mod accelerator;
mod audit;
mod build;
mod build_failures;
mod diff;
mod direct;
mod engine;
mod examples;
mod fixture_index;
mod hostile;
mod index;
mod lock;
mod render;
mod report;
mod scripts;
mod secrets;
mod tree;
mod wheelhouse;
mod wheels;
