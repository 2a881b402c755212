//! How an error reaches the terminal: its chain of causes, each said once.

/// The error and its causes, each said once: see [`crate::errors::chain`].
pub fn describe(error: &anyhow::Error) -> String {
    crate::errors::chain(error.as_ref())
}

#[cfg(test)]
mod tests {
    use anyhow::Context;

    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read `x`: {source}")]
    struct Quoting {
        source: std::io::Error,
    }

    #[test]
    fn a_quoted_cause_is_said_once() {
        let io = || std::io::Error::from(std::io::ErrorKind::NotFound);
        let error = Err::<(), _>(Quoting { source: io() })
            .context("cannot load the profile")
            .unwrap_err();
        assert_eq!(
            describe(&error),
            "cannot load the profile: cannot read `x`: entity not found"
        );
        // A cause that is not quoted is still printed, as `{:#}` prints it.
        let error = Err::<(), _>(io()).context("cannot read `y`").unwrap_err();
        assert_eq!(describe(&error), "cannot read `y`: entity not found");
        assert_eq!(describe(&error), format!("{error:#}"));
    }
}
