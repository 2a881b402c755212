//! Resolution: PubGrub over the target environment. (in progress)
