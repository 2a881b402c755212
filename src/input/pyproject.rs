//! STUB: input helper.
