//! Audit views: what a lock says, computed from the lock alone (no index, no engine).

pub mod diff;
