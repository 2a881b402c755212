//! Audit views computed from a lock (and its profile's indexes), without building:
//! the facts they share, `check`'s findings and `sbom`'s CycloneDX document.

pub mod check;
pub mod facts;
pub mod sbom;
