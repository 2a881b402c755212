//! The one integration-test binary: each module tests one area through the public API.

mod support;

mod fixture_index;
mod index;
