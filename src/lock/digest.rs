//! The inputs digest a lock carries in its header, so that `lock --check` can tell an
//! up-to-date lock without resolving.
//!
//! The digest is the sha256 of two texts: a canonical statement of everything the
//! resolution depends on besides the index (the profile, the parsed requirements,
//! constraints and overrides, the index settings, the options; the caller writes
//! it), and the lock as rendered without the digest line. Equal digests mean that
//! the inputs are what they were and the file is as dockgen wrote it; a relock
//! would keep every pin, since an existing lock's pins are the resolver's
//! preferences. What it cannot see is the index: a yank or a file replaced after
//! the lock is found by a full resolve, not by the digest.

use sha2::{Digest, Sha256};

/// The header line, before the hex digest.
const PREFIX: &str = "# inputs-digest: sha256:";

/// `text` (a rendered lock without a digest) with the digest of `inputs` and itself
/// written after its `# inputs:` line.
pub fn seal(text: &str, inputs: &str) -> String {
    let digest = digest(inputs, text);
    let mut out = String::with_capacity(text.len() + PREFIX.len() + 65);
    let mut written = false;
    for line in text.split_inclusive('\n') {
        out.push_str(line);
        if !written && line.starts_with("# inputs:") {
            out.push_str(PREFIX);
            out.push_str(&digest);
            out.push('\n');
            written = true;
        }
    }
    debug_assert!(written, "a rendered lock has an `# inputs:` line");
    out
}

/// The digest a lock's header records, and its text without that line. Only the
/// leading comment block is searched, where [`seal`] writes it.
pub fn unseal(text: &str) -> (Option<&str>, String) {
    let mut recorded = None;
    let mut rest = String::with_capacity(text.len());
    let mut in_header = true;
    for line in text.split_inclusive('\n') {
        in_header &= line.starts_with('#');
        if in_header
            && recorded.is_none()
            && let Some(hex) = line.strip_prefix(PREFIX)
        {
            recorded = Some(hex.trim_end());
            continue;
        }
        rest.push_str(line);
    }
    (recorded, rest)
}

/// Whether the lock `text` records the digest of `inputs` and of itself: the
/// inputs are unchanged since it was written, and so is the file.
pub fn is_current(text: &str, inputs: &str) -> bool {
    let (recorded, rest) = unseal(text);
    recorded.is_some_and(|hex| hex == digest(inputs, &rest))
}

fn digest(inputs: &str, text: &str) -> String {
    let mut hasher = Sha256::new();
    // Both lengths first: no two pairs of texts hash the same stream.
    hasher.update((inputs.len() as u64).to_le_bytes());
    hasher.update(inputs.as_bytes());
    hasher.update((text.len() as u64).to_le_bytes());
    hasher.update(text.as_bytes());
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = "#\n# generated\n#\n# target: linux/amd64\n# inputs: ../requirements.in\n\
                        #\n--index-url https://pypi.org/simple\n\nsix==1.16.0 \\\n    \
                        --hash=sha256:aa\n    # via -r ../requirements.in\n";

    #[test]
    fn a_sealed_lock_is_current_until_its_inputs_or_its_text_change() {
        let sealed = seal(LOCK, "requirement six");
        let (recorded, rest) = unseal(&sealed);
        assert_eq!(rest, LOCK);
        assert_eq!(recorded.map(str::len), Some(64));
        assert_eq!(
            sealed.lines().nth(5),
            Some(format!("# inputs-digest: sha256:{}", recorded.unwrap()).as_str())
        );
        assert!(is_current(&sealed, "requirement six"));
        assert!(!is_current(&sealed, "requirement six>=1"));
        assert!(!is_current(
            &sealed.replace("1.16.0", "1.17.0"),
            "requirement six"
        ));
        assert!(
            !is_current(LOCK, "requirement six"),
            "no digest: not current"
        );
    }

    #[test]
    fn only_the_header_is_searched_for_the_digest() {
        let sealed = seal(LOCK, "x");
        let (_, rest) = unseal(&sealed);
        let planted = format!("{rest}# inputs-digest: sha256:00\n");
        let (recorded, _) = unseal(&planted);
        assert_eq!(recorded, None);
    }
}
