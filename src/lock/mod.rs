//! The lock file: writer and reader. (in progress)
