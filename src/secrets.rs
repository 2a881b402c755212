//! Secrets: what dockgen must never print or write, and the one way URLs and text are
//! made fit for output. `input` and `index` both use it, so it sits below them.
//!
//! A secret reaches dockgen in three shapes, each with one rule:
//!
//! - **userinfo** (`user:password@host`). A URL output as a value ([`url`]: a lock
//!   header, a log line, an error naming a request) loses it entirely, as the lock
//!   always did: pip then takes credentials from netrc, keyring or the environment, and
//!   a masked `****@` would only make it send `****`. Inside free text ([`text`]: an
//!   input line quoted in an error, a foreign lock's header in a diff) it is masked as
//!   pip's `redact_auth_from_url` masks it, `user:****@` (a username alone is often a
//!   token: `****@`), so the reader sees where something was left out. A part written
//!   as `${VAR}` stays as written: the name is not the secret.
//! - **query tokens**: the value of a query parameter named like a credential
//!   ([`QUERY_KEYS`]: `token`, `access_token`, `X-Amz-Signature`, ...) becomes `****`,
//!   in [`url`] and [`text`] alike. Other parameters are kept.
//! - **known values**: every `${VAR}` value an input expands and every password read
//!   from the environment, a URL or netrc is registered where it is read
//!   ([`register_expansion`], [`register_credential`]), as written and percent-encoded;
//!   wherever [`url`] or [`text`] later meets it, it is shown as `${VAR}` or `****`. A
//!   value that is an address (a URL, a host name) is not a secret: the lock keeps
//!   naming its index by it. The register is process-wide because the environment it
//!   mirrors is: what reads a secret registers it, and every sink masks it (stderr,
//!   logs, the URLs of written files) without a value threaded through every stage.
//!   Registered values shorter than [`MIN_KNOWN_LEN`] are not searched for (`${PY}` =
//!   `3` must not turn every `3` into `${PY}`); such values are still kept out by the
//!   structural rules above, and an input's own error messages mask every value that
//!   line expanded, whatever its length.
//!
//! Whole files and stdout are not searched for known values: a lock is read by pip, and
//! a coincidental match inside a hash or a name would corrupt it. What they hold of a
//! URL goes through [`url`] or, for text quoted from a foreign file, [`text`].

use std::ops::Range;
use std::sync::RwLock;

use url::Url;

/// What a masked secret is shown as.
pub const MASK: &str = "****";

/// Registered values shorter than this are not searched for (see the module docs).
pub const MIN_KNOWN_LEN: usize = 8;

/// Query parameters whose values are credentials (compared case-insensitively): tokens
/// of package hosts and CI systems, and the signatures of pre-signed S3, GCS and Azure
/// URLs.
pub const QUERY_KEYS: &[&str] = &[
    "access_token",
    "api-key",
    "api_key",
    "apikey",
    "auth",
    "auth_token",
    "client_secret",
    "key",
    "pass",
    "passwd",
    "password",
    "private_token",
    "pwd",
    "secret",
    "sig",
    "signature",
    "token",
    "x-amz-credential",
    "x-amz-security-token",
    "x-amz-signature",
    "x-goog-credential",
    "x-goog-signature",
];

/// `(value, shown as)`, longest value first.
static REGISTER: RwLock<Vec<(String, String)>> = RwLock::new(Vec::new());

/// Remembers that `value` came from expanding `${name}`: it is shown as `${name}`.
/// An address (a URL, a host name) is not remembered: it names where a secret goes,
/// the URL rules mask what it holds (userinfo, query tokens), and a lock must keep
/// naming its index by that address, not by a variable pip may not have.
pub fn register_expansion(value: &str, name: &str) {
    if !is_address(value) {
        register(value, format!("${{{name}}}"));
    }
}

/// A URL with a host (`https://...`), a host name whose last label is a word
/// (`pypi.example.com`, `mirror.local:8080`) or an IP address. A token with dots (a JWT)
/// ends in random characters, not in a word.
fn is_address(value: &str) -> bool {
    if Url::parse(value).is_ok_and(|url| url.has_host()) {
        return true;
    }
    let host = match value.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => host,
        _ => value,
    };
    if host.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
}

/// Remembers a password or token: it is shown as [`MASK`].
pub fn register_credential(value: &str) {
    register(value, MASK.to_owned());
}

/// What the `url` crate percent-encodes in a path (and a query, nearly).
const PATH: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// ... and in userinfo.
const USERINFO: &percent_encoding::AsciiSet = &PATH
    .add(b'/')
    .add(b':')
    .add(b';')
    .add(b'=')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'|');

/// Registers `value` as written and in the forms it takes inside a URL.
fn register(value: &str, shown: String) {
    if value.len() < MIN_KNOWN_LEN {
        return;
    }
    for set in [PATH, USERINFO] {
        let encoded = percent_encoding::utf8_percent_encode(value, set).to_string();
        if encoded != value {
            register_one(&encoded, shown.clone());
        }
    }
    register_one(value, shown);
}

fn register_one(value: &str, shown: String) {
    let mut register = REGISTER.write().unwrap_or_else(|e| e.into_inner());
    // Kept sorted, longest first (then by value), so `Redacted::new` need not sort it.
    let at = register.binary_search_by(|(v, _)| {
        value
            .len()
            .cmp(&v.len())
            .then_with(|| v.as_str().cmp(value))
    });
    if let Err(at) = at {
        register.insert(at, (value.to_owned(), shown));
    }
}

/// A URL fit for output as a value: no userinfo, credential query values and known
/// values masked.
pub fn url(url: &Url) -> String {
    text(without_userinfo(url).as_str())
}

/// A URL read as text (from a file someone else may have written): without its
/// userinfo, as [`url`] shows it, else as written with [`text`]'s masks.
pub fn url_text(value: &str) -> String {
    match Url::parse(value) {
        Ok(parsed) if !parsed.username().is_empty() || parsed.password().is_some() => url(&parsed),
        _ => text(value),
    }
}

/// `url` without userinfo, nothing else changed: a URL that may still be requested (or
/// used as a key), but not yet one fit for output.
pub fn without_userinfo(url: &Url) -> Url {
    let mut url = url.clone();
    // Only fails for URLs that cannot have userinfo (`file:`, `data:`), which have none.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url
}

/// Free text fit for output: known values, and the userinfo and credential query
/// values of every URL in it, masked.
pub fn text(text: &str) -> String {
    Redacted::new(text, &[]).text
}

/// Text with its secrets masked, and where each byte of the original went, so that a
/// caret line drawn under the original can be drawn under the redacted text.
#[derive(Debug, Clone)]
pub struct Redacted {
    text: String,
    /// `(range in the original, range in `text`)`, in order, not overlapping.
    edits: Vec<(Range<usize>, Range<usize>)>,
}

impl Redacted {
    /// `original` with its secrets masked; `local` adds `(value, shown as)` pairs that
    /// are masked whatever their length (e.g. the values one input line expanded).
    pub fn new(original: &str, local: &[(String, String)]) -> Self {
        let mut found: Vec<(Range<usize>, String)> = Vec::new();
        let register = REGISTER.read().unwrap_or_else(|e| e.into_inner());
        let find = |(value, shown): &(String, String)| {
            for (start, _) in original.match_indices(value.as_str()) {
                found.push((start..start + value.len(), shown.clone()));
            }
        };
        if local.is_empty() {
            // The register is kept longest first.
            register.iter().for_each(find);
        } else {
            let mut known: Vec<&(String, String)> = local
                .iter()
                .filter(|(value, _)| !value.is_empty())
                .chain(register.iter())
                .collect();
            known.sort_by_key(|(value, _)| std::cmp::Reverse(value.len()));
            known.into_iter().for_each(find);
        }
        drop(register);
        // After the known values: where a URL's mask covers exactly a known value
        // (`?token=` and the value of `${TOK}`), the value's own name is shown, which
        // a reader (and pip, in a lock) can use.
        url_edits(original, &mut found);
        if found.is_empty() {
            return Self {
                text: original.to_owned(),
                edits: Vec::new(),
            };
        }

        // Overlapping edits merge into one mask: a secret is never shown in part.
        found.sort_by(|a, b| a.0.start.cmp(&b.0.start).then(b.0.end.cmp(&a.0.end)));
        let mut merged: Vec<(Range<usize>, String)> = Vec::new();
        for (range, shown) in found {
            match merged.last_mut() {
                Some((last, last_shown)) if range.start < last.end => {
                    if range.end > last.end {
                        last.end = range.end;
                        *last_shown = MASK.to_owned();
                    }
                }
                _ => merged.push((range, shown)),
            }
        }

        let mut text = String::with_capacity(original.len());
        let mut edits = Vec::with_capacity(merged.len());
        let mut at = 0;
        for (range, shown) in merged {
            text.push_str(&original[at..range.start]);
            let start = text.len();
            text.push_str(&shown);
            edits.push((range.clone(), start..text.len()));
            at = range.end;
        }
        text.push_str(&original[at..]);
        Self { text, edits }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn into_string(self) -> String {
        self.text
    }

    /// Where bytes `range` of the original lie in the redacted text; a mask they touch
    /// is covered whole.
    pub fn span(&self, range: Range<usize>) -> Range<usize> {
        let mut start = None;
        let mut shift: isize = 0;
        for (from, to) in &self.edits {
            if start.is_none() && range.start < from.end {
                start = Some(if range.start < from.start {
                    range.start.saturating_add_signed(shift)
                } else {
                    to.start
                });
            }
            if range.end <= from.start {
                break;
            }
            if range.end < from.end {
                return start.unwrap_or(to.start)..to.end;
            }
            shift = to.end as isize - from.end as isize;
        }
        let end = range.end.saturating_add_signed(shift);
        start.unwrap_or_else(|| range.start.saturating_add_signed(shift))..end
    }
}

/// Ends a URL inside free text.
fn ends_url(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>')
}

/// Whether `s` is written only of `${NAME}` references (not a secret: its name).
fn is_reference(s: &str) -> bool {
    let mut rest = s;
    while !rest.is_empty() {
        let Some(after) = rest.strip_prefix("${") else {
            return false;
        };
        let Some(end) = after.find('}') else {
            return false;
        };
        let name = &after[..end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return false;
        }
        rest = &after[end + 1..];
    }
    !s.is_empty()
}

/// The masks of every URL in `text`: its userinfo, and credential query values.
fn url_edits(text: &str, out: &mut Vec<(Range<usize>, String)>) {
    for (sep, _) in text.match_indices("://") {
        let scheme_len = text[..sep]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .count();
        if scheme_len == 0 {
            continue;
        }
        let start = sep + 3;
        let rest = &text[start..];
        let url_len = rest.find(ends_url).unwrap_or(rest.len());
        let url = &rest[..url_len];
        let authority_len = url.find(['/', '?', '#']).unwrap_or(url.len());
        let authority = &url[..authority_len];
        if let Some(at) = authority.rfind('@') {
            let userinfo = &authority[..at];
            match userinfo.split_once(':') {
                Some((_, password)) => {
                    if !password.is_empty() && !is_reference(password) {
                        let from = start + userinfo.len() - password.len();
                        out.push((from..start + at, MASK.to_owned()));
                    }
                }
                None => {
                    if !userinfo.is_empty() && !is_reference(userinfo) {
                        out.push((start..start + at, MASK.to_owned()));
                    }
                }
            }
        }
        let Some(query_at) = url[authority_len..]
            .find('?')
            .map(|q| authority_len + q + 1)
        else {
            continue;
        };
        let query_len = url[query_at..].find('#').unwrap_or(url.len() - query_at);
        let mut offset = start + query_at;
        for pair in url[query_at..query_at + query_len].split(['&', ';']) {
            if let Some((key, value)) = pair.split_once('=') {
                let key = percent_encoding::percent_decode_str(key).decode_utf8_lossy();
                if !value.is_empty()
                    && !is_reference(value)
                    && QUERY_KEYS.iter().any(|k| k.eq_ignore_ascii_case(&key))
                {
                    let from = offset + pair.len() - value.len();
                    out.push((from..offset + pair.len(), MASK.to_owned()));
                }
            }
            offset += pair.len() + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(s: &str) -> String {
        text(s)
    }

    #[test]
    fn url_drops_userinfo_and_masks_query_tokens() {
        let u = Url::parse("https://user:p%40ss@example.com:8080/simple/x/?a=1&token=abc&Sig=zz#f")
            .unwrap();
        assert_eq!(
            url(&u),
            "https://example.com:8080/simple/x/?a=1&token=****&Sig=****#f"
        );
        let plain = Url::parse("https://pypi.org/simple/?key=").unwrap();
        assert_eq!(url(&plain), "https://pypi.org/simple/?key=");
        assert_eq!(
            url_text("https://u:p@pypi.org/simple"),
            "https://pypi.org/simple"
        );
        assert_eq!(url_text("https://pypi.org"), "https://pypi.org");
        assert_eq!(url_text("not a url?token=x"), "not a url?token=x");
        assert_eq!(url_text("https://h?token=x"), "https://h?token=****");
    }

    #[test]
    fn the_register_stays_longest_first() {
        for value in [
            "reg-bbbbbbbbbb",
            "reg-aaaaaaaaaaaaaaa",
            "reg-aaaaaaaaaa",
            "reg-bbbbbbbbbb",
        ] {
            register_credential(value);
        }
        let register = REGISTER.read().unwrap();
        assert!(
            register
                .windows(2)
                .all(|w| (std::cmp::Reverse(w[0].0.len()), &w[0].0)
                    < (std::cmp::Reverse(w[1].0.len()), &w[1].0)),
            "{register:?}"
        );
    }

    #[test]
    fn without_userinfo_keeps_the_rest() {
        let u = Url::parse("https://me:p%40ss@example.com/simple/").unwrap();
        assert_eq!(without_userinfo(&u).as_str(), "https://example.com/simple/");
    }

    #[test]
    fn text_masks_userinfo_as_pip_does() {
        assert_eq!(
            redact("--index-url https://u:LITERALPW@host.invalid/simple junk"),
            "--index-url https://u:****@host.invalid/simple junk"
        );
        assert_eq!(
            redact("see `https://tok3n@pypi.fury.io/me/`."),
            "see `https://****@pypi.fury.io/me/`."
        );
        assert_eq!(
            redact("git+https://a:b@h/r.git@v1 and http://h/x@y"),
            "git+https://a:****@h/r.git@v1 and http://h/x@y"
        );
        // What the user wrote as a reference is not a secret: the name is shown.
        assert_eq!(
            redact("-i https://__token__:${TOK}@h/simple ${A}@h2 https://${USER}@h3/"),
            "-i https://__token__:${TOK}@h/simple ${A}@h2 https://${USER}@h3/"
        );
        assert_eq!(redact("no urls: a@b c:d ://x@y"), "no urls: a@b c:d ://x@y");
        assert_eq!(
            redact("https://h/p?X-Amz-Signature=abc#x"),
            "https://h/p?X-Amz-Signature=****#x"
        );
    }

    #[test]
    fn registered_values_are_masked_from_their_length_on() {
        register_expansion("expanded-value-7c1e", "TOK");
        register_credential("pass word/7c1e");
        register_expansion("short", "SHORT");
        assert_eq!(
            redact("x-expanded-value-7c1e-y pass word/7c1e pass%20word%2F7c1e short"),
            "x-${TOK}-y **** **** short"
        );
        let u = Url::parse("https://h/expanded-value-7c1e/simple/").unwrap();
        assert_eq!(url(&u), "https://h/${TOK}/simple/");
        register_expansion("a b{c}-7c1e", "ODD");
        let u = Url::parse("https://h/a b{c}-7c1e/?token=x").unwrap();
        assert_eq!(url(&u), "https://h/${ODD}/?token=****");
        // A query credential that is a known value is shown by its name, which pip
        // can expand from a lock; any other stays masked.
        let u = Url::parse("https://h/simple/?token=expanded-value-7c1e&key=x").unwrap();
        assert_eq!(url(&u), "https://h/simple/?token=${TOK}&key=****");
    }

    #[test]
    fn addresses_are_not_registered() {
        register_expansion("https://mirror-7c1e.example/simple", "INDEX");
        register_expansion("pypi-7c1e.example.com", "HOST");
        register_expansion("https://u:p@h-7c1e.example/simple", "WITH_CREDENTIALS");
        assert_eq!(
            redact("https://mirror-7c1e.example/simple pypi-7c1e.example.com"),
            "https://mirror-7c1e.example/simple pypi-7c1e.example.com"
        );
        // ... while what it holds is still masked by the URL rules.
        assert_eq!(
            redact("https://u:p@h-7c1e.example/simple"),
            "https://u:****@h-7c1e.example/simple"
        );
        register_expansion("eyJhbGciOi.eyJzdWIiOi.SflKxwRJSM3", "JWT");
        assert_eq!(redact("x eyJhbGciOi.eyJzdWIiOi.SflKxwRJSM3"), "x ${JWT}");
        register_expansion("10.20.30.40:8080", "IP");
        assert_eq!(redact("10.20.30.40:8080"), "10.20.30.40:8080");
    }

    #[test]
    fn local_values_are_masked_whatever_their_length() {
        let local = [("ab".to_owned(), "${AB}".to_owned())];
        assert_eq!(Redacted::new("xaby", &local).as_str(), "x${AB}y");
    }

    #[test]
    fn spans_map_through_masks() {
        let original = "-i https://u:secretpw@h/simple junk";
        let r = Redacted::new(original, &[]);
        assert_eq!(r.as_str(), "-i https://u:****@h/simple junk");
        let junk = original.find("junk").unwrap();
        assert_eq!(&r.as_str()[r.span(junk..original.len())], "junk");
        assert_eq!(&r.as_str()[r.span(0..2)], "-i");
        let url = original.find("https").unwrap();
        assert_eq!(
            &r.as_str()[r.span(url..junk - 1)],
            "https://u:****@h/simple"
        );
        let pw = original.find("secretpw").unwrap();
        assert_eq!(&r.as_str()[r.span(pw + 2..pw + 4)], "****");
        assert_eq!(&r.as_str()[r.span(pw + 2..pw + 10)], "****@h");
        assert_eq!(&r.as_str()[r.span(3..pw + 4)], "https://u:****");
    }

    #[test]
    fn overlapping_masks_merge() {
        register_credential("overlap-secret-91ab");
        assert_eq!(
            redact("https://u:overlap-secret-91ab@h/ overlap-secret-91ab"),
            "https://u:****@h/ ****"
        );
    }
}
