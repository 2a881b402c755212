//! Helpers shared by the integration tests: builders of fixture distributions.

pub mod wheels;
