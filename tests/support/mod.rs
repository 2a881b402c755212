//! Test infrastructure shared by the integration test modules.

pub mod fixture_index;
