//! The packages PubGrub reasons about.
//!
//! An extra is a virtual package pinned to its base's version, so that
//! `uvicorn[standard]` costs nothing unless something asks for it and can never pick a
//! different `uvicorn` than the plain requirement does.

use std::fmt;

use pep508_rs::{ExtraName, PackageName};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Package {
    /// The inputs of the lock.
    Root,
    Base(PackageName),
    Extra(PackageName, ExtraName),
}

impl Package {
    pub fn name(&self) -> Option<&PackageName> {
        match self {
            Self::Root => None,
            Self::Base(name) | Self::Extra(name, _) => Some(name),
        }
    }
}

impl fmt::Display for Package {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Root => f.write_str("your requirements"),
            Self::Base(name) => write!(f, "{name}"),
            Self::Extra(name, extra) => write!(f, "{name}[{extra}]"),
        }
    }
}
