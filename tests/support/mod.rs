//! Test infrastructure shared by the integration tests: real wheels and sdists, and
//! loopback fixture indexes that behave like PyPI, the PyTorch indexes and Jetson's.

#![allow(dead_code)]

pub mod fixture_index;
pub mod wheels;
