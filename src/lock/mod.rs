//! The lock file, the single source of truth of what gets installed: a
//! pip-compatible requirements file with exact pins, one `--hash` per file the
//! target can install (a git pin, `name @ git+URL@<commit>`, has none), and `# via`
//! annotations. Writer and reader live together so that what one writes the other
//! reads.

pub mod pylock;
mod read;
#[cfg(test)]
mod tests;
mod write;

pub use read::{
    LockFile, LockedPin, Provenance, ReadError, SourceOption, Via, ViaPackage, parse, provenance,
    read, source_option,
};
pub use write::{
    GIT_DEFAULT_REVISION, GIT_PINS_NOTE, LockHeader, check, git_pin_comment, is_git_pin, render,
};
