//! Everything dockgen reads before it talks to an index: `requirements.in` files,
//! `pyproject.toml`, target profiles, and the target environment (PEP 508 markers
//! and compatible wheel tags) derived from a profile.

pub mod pep508;
pub mod profile;
pub mod pyproject;
pub mod requirements;
pub mod target;
pub mod text;
