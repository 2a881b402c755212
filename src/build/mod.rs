//! Building a rendered plan on a Docker engine: the packages delivered from the host,
//! the BuildKit build itself and its progress.

pub mod direct;
pub mod emulation;
pub mod engine;
pub mod progress;
pub mod registry;
pub mod serve;
pub mod wheelhouse;
