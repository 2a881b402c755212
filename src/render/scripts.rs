//! STUB: replaced by the scripts branch.
pub const SCRIPTS: &[(&str, &str)] = &[];
