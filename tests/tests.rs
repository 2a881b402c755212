//! One integration-test binary: every file below is a module of it.

mod support;

mod audit;
mod build;
mod engine;
mod examples;
mod fixture_index;
mod index;
mod lock;
mod render;
mod scripts;
mod wheelhouse;
mod wheels;
