//! Commands tie the stages together; the only layer that touches the file system
//! and the network.

pub mod profiles;
