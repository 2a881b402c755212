//! Registries: which one an image reference names, the credentials for it, and pushing
//! a built image there.
//!
//! Credentials are looked up as the docker CLI looks them up, so that `docker login`
//! is all a runner needs: `DOCKGEN_REGISTRY_USERNAME` and `DOCKGEN_REGISTRY_PASSWORD`
//! first (a CI secret, for every registry this build talks to), then the Docker
//! config (`$DOCKER_CONFIG/config.json`, default `~/.docker/config.json`): its
//! `credHelpers` entry for the registry, its `credsStore`, its `auths` entry. They go
//! to the engine in the request's auth header and nowhere else: every password read is
//! registered as a secret, so no message or log can show it.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use bollard::auth::DockerCredentials;
use futures::StreamExt;

use super::engine::Engine;
use crate::secrets;

/// The key Docker Hub's credentials are stored under in the Docker config.
const DOCKER_HUB: &str = "https://index.docker.io/v1/";

/// The registry host an image reference names (`127.0.0.1:5000/app:1` ->
/// `127.0.0.1:5000`); Docker Hub's key when it names none (`app:1`, `org/app`).
pub fn registry_of(reference: &str) -> String {
    match reference.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => {
            if first == "docker.io" || first == "index.docker.io" {
                DOCKER_HUB.to_string()
            } else {
                first.to_string()
            }
        }
        _ => DOCKER_HUB.to_string(),
    }
}

/// Where the credentials come from; the source is what the report may show.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub registry: String,
    pub username: String,
    secret: String,
    /// `DOCKGEN_REGISTRY_USERNAME`, `credHelpers (docker-credential-pass)`, ...
    pub source: String,
}

impl Credentials {
    /// For the engine: a password, or an identity token when the helper gave one
    /// (Docker's convention: the user name `<token>`).
    pub fn for_engine(&self) -> DockerCredentials {
        let token = self.username == "<token>";
        DockerCredentials {
            username: (!token).then(|| self.username.clone()),
            password: (!token).then(|| self.secret.clone()),
            identitytoken: token.then(|| self.secret.clone()),
            serveraddress: Some(self.registry.clone()),
            ..DockerCredentials::default()
        }
    }
}

/// The Docker config's directory: `DOCKER_CONFIG`, else `~/.docker`.
pub fn docker_config_dir() -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir)),
        None => std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker")),
    }
}

/// The credentials for `registry`, `None` when there are none (anonymous access).
/// `env` reads the environment. `Err` names the file or helper that could not be read.
pub fn credentials(
    registry: &str,
    config_dir: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Option<Credentials>> {
    let env = |name: &str| env(name).filter(|v| !v.is_empty());
    match (
        env("DOCKGEN_REGISTRY_USERNAME"),
        env("DOCKGEN_REGISTRY_PASSWORD"),
    ) {
        (Some(username), Some(secret)) => {
            secrets::register_credential(&secret);
            return Ok(Some(Credentials {
                registry: registry.to_string(),
                username,
                secret,
                source: "DOCKGEN_REGISTRY_USERNAME and DOCKGEN_REGISTRY_PASSWORD".into(),
            }));
        }
        (Some(_), None) | (None, Some(_)) => anyhow::bail!(
            "set both DOCKGEN_REGISTRY_USERNAME and DOCKGEN_REGISTRY_PASSWORD, or neither"
        ),
        (None, None) => {}
    }
    let Some(dir) = config_dir else {
        return Ok(None);
    };
    let path = dir.join("config.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => anyhow::bail!("cannot read the Docker config `{}`: {e}", path.display()),
    };
    let config: DockerConfig = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("the Docker config `{}`: {e}", path.display()))?;
    let helper = config
        .cred_helpers
        .get(registry)
        .map(|h| (h, "credHelpers"))
        .or(config.creds_store.as_ref().map(|h| (h, "credsStore")));
    // A store without this registry: `auths` may still hold it, as for docker.
    if let Some((helper, key)) = helper
        && let Some((username, secret)) = from_helper(helper, registry)?
    {
        secrets::register_credential(&secret);
        return Ok(Some(Credentials {
            registry: registry.to_string(),
            username,
            secret,
            source: format!("{key} (docker-credential-{helper}) in {}", path.display()),
        }));
    }
    let Some(entry) = config.auths.get(registry) else {
        return Ok(None);
    };
    let (username, secret) = if let Some(token) = &entry.identitytoken {
        ("<token>".to_string(), token.clone())
    } else if let Some(auth) = &entry.auth {
        let bad = || {
            anyhow::anyhow!(
                "the Docker config `{}`: `auths.\"{registry}\".auth` is not base64 of `user:password`",
                path.display()
            )
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| bad())?;
        let text = String::from_utf8(decoded).map_err(|_| bad())?;
        let (user, password) = text.split_once(':').ok_or_else(bad)?;
        (user.to_string(), password.to_string())
    } else {
        return Ok(None);
    };
    secrets::register_credential(&secret);
    Ok(Some(Credentials {
        registry: registry.to_string(),
        username,
        secret,
        source: format!("auths in {}", path.display()),
    }))
}

#[derive(Debug, Default, serde::Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: HashMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct AuthEntry {
    auth: Option<String>,
    identitytoken: Option<String>,
}

#[derive(serde::Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

/// `docker-credential-<helper> get`, the registry on stdin: `None` when the helper has
/// no credentials for it.
fn from_helper(helper: &str, registry: &str) -> anyhow::Result<Option<(String, String)>> {
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            anyhow::anyhow!(
                "the Docker config names the credential helper `{helper}`, but `{program}` \
                 cannot be run: {e}"
            )
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading is answered by its exit status below.
        let _ = stdin.write_all(registry.as_bytes());
    }
    let output = child
        .wait_with_output()
        .map_err(|e| anyhow::anyhow!("`{program} get`: {e}"))?;
    let said = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        // The protocol's answer for a registry the store does not hold.
        if said.contains("credentials not found") {
            return Ok(None);
        }
        anyhow::bail!(
            "`{program} get` for `{registry}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let answer: HelperAnswer = serde_json::from_str(&said).map_err(|e| {
        anyhow::anyhow!("`{program} get` for `{registry}` did not answer with credentials: {e}")
    })?;
    Ok(Some((answer.username, answer.secret)))
}

/// What a push did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Pushed {
    pub tag: String,
    /// The manifest's digest in the registry, `sha256:...`.
    pub digest: Option<String>,
}

/// Pushes `tag` (which the engine has) to its registry.
pub async fn push(
    engine: &Engine,
    tag: &str,
    credentials: Option<&Credentials>,
) -> anyhow::Result<Pushed> {
    let (repository, version) = split_tag(tag);
    let options = bollard::query_parameters::PushImageOptions {
        tag: Some(version.to_string()),
        platform: None,
    };
    let mut stream = engine.docker().push_image(
        repository,
        Some(options),
        credentials.map(Credentials::for_engine),
    );
    let mut digest = None;
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| {
            let reason = match e {
                bollard::errors::Error::DockerStreamError { error } => error,
                other => other.to_string(),
            };
            let refused = ["unauthorized", "authentication required", "denied"]
                .iter()
                .any(|word| reason.to_lowercase().contains(word));
            let hint = match (refused, credentials) {
                (true, None) => "; no credentials were found for it: `docker login`, or set \
                     DOCKGEN_REGISTRY_USERNAME and DOCKGEN_REGISTRY_PASSWORD"
                    .to_string(),
                (true, Some(c)) => format!("; the credentials came from {}", c.source),
                (false, _) => String::new(),
            };
            anyhow::anyhow!(
                "cannot push `{tag}` to `{}`: {}{hint}",
                registry_of(tag),
                secrets::text(&reason)
            )
        })?;
        // `<tag>: digest: sha256:... size: N`, the last status of a push.
        if let Some(status) = info.status
            && let Some(rest) = status.split(" digest: ").nth(1)
        {
            digest = rest.split_whitespace().next().map(String::from);
        }
    }
    Ok(Pushed {
        tag: tag.to_string(),
        digest,
    })
}

/// `repo[:tag]` -> (`repo`, `tag`), `latest` when none; a registry's port is not a tag.
pub fn split_tag(reference: &str) -> (&str, &str) {
    match reference.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (reference, "latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_of_a_reference() {
        assert_eq!(registry_of("127.0.0.1:5000/app:1"), "127.0.0.1:5000");
        assert_eq!(registry_of("localhost/app"), "localhost");
        assert_eq!(registry_of("ghcr.io/org/app:tag"), "ghcr.io");
        assert_eq!(registry_of("org/app:tag"), DOCKER_HUB);
        assert_eq!(registry_of("app"), DOCKER_HUB);
        assert_eq!(registry_of("docker.io/org/app"), DOCKER_HUB);
        assert_eq!(
            split_tag("127.0.0.1:5000/app"),
            ("127.0.0.1:5000/app", "latest")
        );
        assert_eq!(
            split_tag("127.0.0.1:5000/app:v1"),
            ("127.0.0.1:5000/app", "v1")
        );
    }

    fn config(text: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("config.json"), text).expect("config");
        dir
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn credentials_come_from_the_environment_first_then_the_docker_config() {
        // `me:s3cret-registry-pw`
        let dir = config(
            r#"{"auths": {"reg.example:5000": {"auth": "bWU6czNjcmV0LXJlZ2lzdHJ5LXB3"},
                          "tok.example": {"identitytoken": "tok-123456789"}}}"#,
        );
        let found = credentials("reg.example:5000", Some(dir.path()), no_env)
            .expect("read")
            .expect("found");
        assert_eq!(
            (found.username.as_str(), found.secret.as_str()),
            ("me", "s3cret-registry-pw")
        );
        assert!(found.source.starts_with("auths in "), "{}", found.source);
        assert_eq!(
            crate::secrets::text("s3cret-registry-pw"),
            crate::secrets::MASK
        );
        let engine = found.for_engine();
        assert_eq!(engine.password.as_deref(), Some("s3cret-registry-pw"));
        assert_eq!(engine.serveraddress.as_deref(), Some("reg.example:5000"));

        let token = credentials("tok.example", Some(dir.path()), no_env)
            .expect("read")
            .expect("found")
            .for_engine();
        assert_eq!(token.identitytoken.as_deref(), Some("tok-123456789"));
        assert_eq!(token.username, None);

        assert!(
            credentials("other.example", Some(dir.path()), no_env)
                .expect("read")
                .is_none()
        );
        let env = |name: &str| match name {
            "DOCKGEN_REGISTRY_USERNAME" => Some("ci".to_string()),
            "DOCKGEN_REGISTRY_PASSWORD" => Some("ci-password-123".to_string()),
            _ => None,
        };
        let found = credentials("reg.example:5000", Some(dir.path()), env)
            .expect("read")
            .expect("found");
        assert_eq!(found.username, "ci");
        let half = |name: &str| (name == "DOCKGEN_REGISTRY_USERNAME").then(|| "ci".to_string());
        let error = credentials("reg.example:5000", Some(dir.path()), half).unwrap_err();
        assert_eq!(
            error.to_string(),
            "set both DOCKGEN_REGISTRY_USERNAME and DOCKGEN_REGISTRY_PASSWORD, or neither"
        );
    }

    #[test]
    fn a_broken_docker_config_is_named() {
        let dir = config(r#"{"auths": {"reg.example": {"auth": "not base64!"}}}"#);
        let error = credentials("reg.example", Some(dir.path()), no_env).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "the Docker config `{}`: `auths.\"reg.example\".auth` is not base64 of `user:password`",
                dir.path().join("config.json").display()
            )
        );
        let dir = config(r#"{"credHelpers": {"reg.example": "dockgen-no-such-helper"}}"#);
        let error = credentials("reg.example", Some(dir.path()), no_env).unwrap_err();
        assert!(
            error.to_string().starts_with(
                "the Docker config names the credential helper `dockgen-no-such-helper`, but \
                 `docker-credential-dockgen-no-such-helper` cannot be run: "
            ),
            "{error}"
        );
        assert!(
            credentials("reg.example", None, no_env)
                .expect("none")
                .is_none()
        );
    }
}
