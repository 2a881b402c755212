//! The lock file, the single source of truth of what gets installed: a
//! pip-compatible requirements file with exact pins, one `--hash` per file the
//! target can install (a source-tree pin, `name @ git+URL@<commit>` or a local
//! directory's `name @ file:///path`, has none), and `# via`
//! annotations. Writer and reader live together so that what one writes the other
//! reads.

pub mod digest;
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
    DIRECTORY_PIN_MARK, GIT_DEFAULT_REVISION, LockHeader, SOURCE_TREE_PINS_NOTE, check,
    directory_pin_comment, git_pin_comment, is_directory_pin, is_git_pin, is_source_tree_pin,
    render,
};
