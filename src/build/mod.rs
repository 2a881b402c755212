//! Building rendered plans on a Docker engine: the connection and the build itself
//! (`engine`), and turning BuildKit's status stream into progress output (`progress`).

pub mod engine;
pub mod progress;
