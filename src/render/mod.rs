//! Rendering a lock and its profile into a build: the Dockerfile and its context files.

pub mod scripts;
