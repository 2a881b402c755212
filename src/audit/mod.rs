//! Audit views computed from a lock, without building: the dependency tree and the
//! difference between two locks from the lock alone; `check`'s findings and `sbom`'s
//! CycloneDX document and `report`'s HTML page from the lock and what its profile's
//! indexes say about each locked file (`facts`). The built image's own views (exported by
//! `templates/scripts/artifacts.py`) must agree with them.
//!
//! Imports the lock, the index and the inputs, nothing to their right: no rendering,
//! no engine.

pub mod check;
pub mod diff;
pub mod facts;
pub mod pictures;
pub mod report;
pub mod sbom;
pub mod tree;
pub mod vulns;

pub use tree::{Branch, DependencyTree, Edge, Node, TreeError, View};
