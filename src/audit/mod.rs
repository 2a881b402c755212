//! Audit views computed from the lock alone (DESIGN.md's "artifacts" stage): what an
//! environment installed from the lock looks like, without installing it. The built
//! image's own views (exported by `templates/scripts/artifacts.py`) must equal them.
//!
//! Imports the lock and nothing to its right: no rendering, no engine.

pub mod diff;
pub mod tree;

pub use tree::{DependencyTree, Edge, Node, TreeError, View};
