//! Index credentials: where they come from, which requests carry them, and keeping
//! them out of every URL that leaves this module.
//!
//! Sources, first match wins, per index:
//! 1. userinfo in the index URL as given (e.g. expanded from `${TOKEN}` in a
//!    requirements file);
//! 2. `DOCKGEN_INDEX_<NAME>_USERNAME` / `DOCKGEN_INDEX_<NAME>_PASSWORD`, NAME being the
//!    index name uppercased with every non-alphanumeric turned into `_`. A password
//!    alone is a token: it is sent as basic auth with the username `__token__`, the
//!    convention of PyPI, GitLab and devpi; a username alone is sent with an empty
//!    password;
//! 3. netrc (`$NETRC`, else `~/.netrc`), looked up by the host of each request.
//!
//! Every password bound here is registered with [`crate::secrets`], so no output shows
//! it even where it is not part of a URL.
//!
//! Credentials of sources 1 and 2 are bound to the index's origin (scheme, host, port):
//! the index pages and files on that same origin get them, a file hosted elsewhere
//! (a CDN) does not.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use url::Url;

/// A username and password. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "****"))
            .finish()
    }
}

impl Credentials {
    /// The credentials in a URL's userinfo (percent-decoded), if any.
    pub fn from_url(url: &Url) -> Option<Self> {
        if url.username().is_empty() && url.password().is_none() {
            return None;
        }
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        Some(Self {
            username: decode(url.username()),
            password: url.password().map(decode),
        })
    }

    /// Credentials from `DOCKGEN_INDEX_<NAME>_USERNAME` / `_PASSWORD`, read through
    /// `env` so tests need not touch the process environment.
    pub fn from_env(index_name: &str, env: &dyn Fn(&str) -> Option<String>) -> Option<Self> {
        let prefix = env_prefix(index_name);
        let username = env(&format!("{prefix}_USERNAME")).filter(|s| !s.is_empty());
        let password = env(&format!("{prefix}_PASSWORD")).filter(|s| !s.is_empty());
        match (username, password) {
            (None, None) => None,
            (Some(username), password) => Some(Self { username, password }),
            (None, Some(password)) => Some(Self {
                username: "__token__".to_owned(),
                password: Some(password),
            }),
        }
    }
}

/// `DOCKGEN_INDEX_<NAME>` for an index name: uppercased, non-alphanumerics to `_`.
pub fn env_prefix(index_name: &str) -> String {
    let name: String = index_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("DOCKGEN_INDEX_{name}")
}

/// Scheme, host and port: the unit credentials are bound to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Origin(String);

impl Origin {
    fn of(url: &Url) -> Self {
        Self(url.origin().ascii_serialization())
    }
}

/// Which credentials each request gets.
#[derive(Debug, Default, Clone)]
pub struct AuthStore {
    by_origin: BTreeMap<Origin, Credentials>,
    netrc: BTreeMap<String, Credentials>,
}

impl AuthStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds `credentials` to the origin of `url`. The first binding of an origin wins,
    /// so indexes listed first take precedence.
    pub fn insert(&mut self, url: &Url, credentials: Credentials) {
        if let Some(password) = &credentials.password {
            crate::secrets::register_credential(password);
        }
        self.by_origin.entry(Origin::of(url)).or_insert(credentials);
    }

    /// Adds the machines of a netrc file. An unreadable or malformed file is logged
    /// and skipped: netrc is a fallback, not a requirement.
    pub fn load_netrc(&mut self, path: &Path) {
        match netrc::Netrc::from_file(path) {
            Ok(parsed) => {
                for (host, entry) in parsed.hosts {
                    let password = (!entry.password.is_empty()).then_some(entry.password);
                    if let Some(password) = &password {
                        crate::secrets::register_credential(password);
                    }
                    self.netrc.insert(
                        host,
                        Credentials {
                            username: entry.login,
                            password,
                        },
                    );
                }
            }
            Err(err) => {
                // The parser's message quotes lines of the file only by position.
                tracing::warn!("ignoring netrc file `{}`: {err}", path.display());
            }
        }
    }

    /// The netrc file the environment points at (`$NETRC`, else `~/.netrc`), if any.
    pub fn default_netrc_path() -> Option<std::path::PathBuf> {
        netrc::Netrc::get_file()
    }

    /// Credentials for a request to `url`: the index credentials of its origin, else
    /// the netrc entry of its host.
    pub fn for_url(&self, url: &Url) -> Option<&Credentials> {
        self.by_origin
            .get(&Origin::of(url))
            .or_else(|| url.host_str().and_then(|host| self.netrc.get(host)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn env_prefix_uppercases_and_replaces() {
        assert_eq!(env_prefix("pytorch-cu124"), "DOCKGEN_INDEX_PYTORCH_CU124");
        assert_eq!(env_prefix("my.index"), "DOCKGEN_INDEX_MY_INDEX");
    }

    #[test]
    fn env_password_alone_is_a_token() {
        let env = |k: &str| (k == "DOCKGEN_INDEX_PRIVATE_PASSWORD").then(|| "s3cret".to_owned());
        let creds = Credentials::from_env("private", &env).unwrap();
        assert_eq!(creds.username, "__token__");
        assert_eq!(creds.password.as_deref(), Some("s3cret"));
        assert_eq!(
            format!("{creds:?}"),
            r#"Credentials { username: "__token__", password: Some("****") }"#
        );
    }

    #[test]
    fn userinfo_is_decoded_and_stripped() {
        let u = url("https://me:p%40ss@example.com/simple/");
        let creds = Credentials::from_url(&u).unwrap();
        assert_eq!(creds.password.as_deref(), Some("p@ss"));
        assert!(Credentials::from_url(&url("https://example.com/")).is_none());
    }

    #[test]
    fn credentials_stay_on_their_origin() {
        let mut store = AuthStore::new();
        let creds = Credentials {
            username: "u".into(),
            password: Some("p".into()),
        };
        store.insert(&url("https://example.com/simple/"), creds.clone());
        assert_eq!(
            store.for_url(&url("https://example.com/files/a.whl")),
            Some(&creds)
        );
        assert_eq!(store.for_url(&url("https://cdn.example.com/a.whl")), None);
        assert_eq!(store.for_url(&url("http://example.com/a.whl")), None);
        assert_eq!(store.for_url(&url("https://example.com:8443/a.whl")), None);
    }

    #[test]
    fn netrc_by_host() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("netrc");
        std::fs::write(&path, "machine example.org\nlogin bob\npassword hunter2\n").unwrap();
        let mut store = AuthStore::new();
        store.load_netrc(&path);
        let creds = store
            .for_url(&url("https://example.org/simple/x/"))
            .unwrap();
        assert_eq!(creds.username, "bob");
        assert_eq!(creds.password.as_deref(), Some("hunter2"));
        assert_eq!(store.for_url(&url("https://example.com/")), None);
    }
}
