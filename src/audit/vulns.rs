//! Known vulnerabilities of a lock's pins, from an OSV-compatible service
//! (`https://api.osv.dev` by default): one `POST /v1/querybatch` for every pin, then
//! `GET /v1/vulns/{id}` for each advisory found, for its aliases, severity and the
//! versions that fix it. Answers are cached (the index cache's `osv` bucket):
//! `--offline` reads them back with their age, and says which pin has none.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use futures::StreamExt;
use pep440_rs::Version;
use pep508_rs::PackageName;
use serde::{Deserialize, Serialize};
use url::Url;

/// Where and how to ask.
pub struct OsvOptions {
    /// The service's base URL (`https://api.osv.dev`).
    pub url: Url,
    /// Sent as `Authorization: Bearer` when set (`DOCKGEN_OSV_TOKEN`).
    pub token: Option<String>,
    pub offline: bool,
    pub cache_dir: Option<PathBuf>,
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum VulnError {
    #[error("cannot ask `{url}` about known vulnerabilities: {reason}")]
    Service { url: String, reason: String },
    #[error(
        "`--offline`: no cached answer of the vulnerability service for `{package}` {version}; \
         run once without `--offline`"
    )]
    NotCached { package: String, version: String },
}

/// One advisory that affects a pin.
#[derive(Debug, Clone, Serialize)]
pub struct Advisory {
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: String,
    /// The database's word (`HIGH`), else the CVSS vector, else `unknown`.
    pub severity: String,
    /// The CVSS vector, when the record has one.
    pub cvss: Option<String>,
    /// Every version that fixes it on some branch, ascending.
    pub fixed: Vec<String>,
    /// The smallest release above the pin that fixes it; `None`: none does yet.
    pub upgrade: Option<String>,
    /// The advisory's page.
    pub url: String,
}

/// What the service says about a lock.
#[derive(Debug, Clone, Serialize)]
pub struct Vulnerabilities {
    /// By pin (`name`, version), the advisories that affect it; pins without any left out.
    pub affected: BTreeMap<(String, String), Vec<Advisory>>,
    pub service: String,
    /// How old the oldest cached answer used is, under `--offline`.
    pub cached_age: Option<Duration>,
}

#[derive(Serialize, Deserialize)]
struct Cached<T> {
    /// Seconds since the epoch.
    fetched: u64,
    value: T,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The index cache's `osv` bucket, when there is a cache.
struct Cache {
    store: Option<crate::index::cache::Cache>,
    service: Url,
}

impl Cache {
    fn key(&self, what: &str) -> String {
        crate::index::cache::Cache::key("osv", &self.service, what)
    }

    fn read<T: for<'de> Deserialize<'de>>(&self, what: &str) -> Option<Cached<T>> {
        self.store
            .as_ref()?
            .read_json(crate::index::cache::Bucket::Osv, &self.key(what))
    }

    fn write<T: Serialize>(&self, what: &str, value: T) {
        if let Some(store) = &self.store {
            let entry = Cached {
                fetched: now(),
                value,
            };
            store.write_json(crate::index::cache::Bucket::Osv, &self.key(what), &entry);
        }
    }
}

/// The advisories that affect each of `pins` (`name`, version).
pub fn query(
    pins: &[(PackageName, String)],
    options: &OsvOptions,
) -> Result<Vulnerabilities, VulnError> {
    let service = options.url.as_str().trim_end_matches('/').to_string();
    let cache = Cache {
        store: options
            .cache_dir
            .clone()
            .map(crate::index::cache::Cache::new),
        service: options.url.clone(),
    };
    let query_key = |name: &PackageName, version: &str| format!("query {name} {version}");
    let vuln_key = |id: &str| format!("vuln {id}");
    let mut oldest: Option<u64> = None;
    let mut ids: Vec<Vec<String>> = Vec::new();
    let mut records: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    if options.offline {
        for (name, version) in pins {
            let cached: Cached<Vec<String>> =
                cache
                    .read(&query_key(name, version))
                    .ok_or_else(|| VulnError::NotCached {
                        package: name.to_string(),
                        version: version.clone(),
                    })?;
            oldest = Some(oldest.map_or(cached.fetched, |o| o.min(cached.fetched)));
            for id in &cached.value {
                let record: Cached<serde_json::Value> =
                    cache
                        .read(&vuln_key(id))
                        .ok_or_else(|| VulnError::NotCached {
                            package: name.to_string(),
                            version: version.clone(),
                        })?;
                records.insert(id.clone(), record.value);
            }
            ids.push(cached.value);
        }
    } else {
        let fail = |reason: String| VulnError::Service {
            url: service.clone(),
            reason,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| fail(e.to_string()))?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(options.timeout)
            .timeout(options.timeout * 4)
            .user_agent(concat!("dockgen/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| fail(e.to_string()))?;
        let send = |request: reqwest::RequestBuilder| {
            let request = match &options.token {
                Some(token) => request.bearer_auth(token),
                None => request,
            };
            async move {
                let response = request.send().await.map_err(|e| e.to_string())?;
                let status = response.status();
                let body = response.bytes().await.map_err(|e| e.to_string())?;
                if !status.is_success() {
                    return Err(format!(
                        "{status}: {}",
                        String::from_utf8_lossy(&body)
                            .chars()
                            .take(200)
                            .collect::<String>()
                    ));
                }
                serde_json::from_slice::<serde_json::Value>(&body)
                    .map_err(|e| format!("not JSON: {e}"))
            }
        };
        ids = runtime.block_on(async {
            let mut found = Vec::new();
            for chunk in pins.chunks(1000) {
                let queries: Vec<serde_json::Value> = chunk
                    .iter()
                    .map(|(name, version)| {
                        serde_json::json!({
                            "package": {"name": name.to_string(), "ecosystem": "PyPI"},
                            "version": version,
                        })
                    })
                    .collect();
                let body = serde_json::to_vec(&serde_json::json!({ "queries": queries }))
                    .expect("queries serialize");
                let answer = send(
                    client
                        .post(format!("{service}/v1/querybatch"))
                        .header("content-type", "application/json")
                        .body(body),
                )
                .await
                .map_err(|reason| fail(format!("querybatch: {reason}")))?;
                let results = answer["results"].as_array().cloned().unwrap_or_default();
                if results.len() != chunk.len() {
                    return Err(fail(format!(
                        "querybatch answered {} results for {} queries",
                        results.len(),
                        chunk.len()
                    )));
                }
                for result in results {
                    let mut list: Vec<String> = result["vulns"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v["id"].as_str().map(str::to_string))
                        .collect();
                    list.sort();
                    list.dedup();
                    found.push(list);
                }
            }
            Ok(found)
        })?;
        let unique: BTreeSet<&String> = ids.iter().flatten().collect();
        let fetched: Vec<(String, Result<serde_json::Value, String>)> = runtime.block_on(
            futures::stream::iter(unique)
                .map(|id| {
                    let request = client.get(format!("{service}/v1/vulns/{id}"));
                    let send = &send;
                    async move { (id.clone(), send(request).await) }
                })
                .buffer_unordered(8)
                .collect(),
        );
        for (id, record) in fetched {
            let record = record.map_err(|reason| fail(format!("`{id}`: {reason}")))?;
            cache.write(&vuln_key(&id), &record);
            records.insert(id, record);
        }
        for ((name, version), list) in pins.iter().zip(&ids) {
            cache.write(&query_key(name, version), list);
        }
    }
    let mut affected = BTreeMap::new();
    for ((name, version), list) in pins.iter().zip(&ids) {
        let advisories: Vec<Advisory> = list
            .iter()
            .filter_map(|id| records.get(id))
            .map(|record| advisory(record, name, version))
            .collect();
        if !advisories.is_empty() {
            affected.insert((name.to_string(), version.clone()), advisories);
        }
    }
    Ok(Vulnerabilities {
        affected,
        service,
        cached_age: oldest.map(|fetched| Duration::from_secs(now().saturating_sub(fetched))),
    })
}

/// What an OSV record says about `name` at `version`.
fn advisory(record: &serde_json::Value, name: &PackageName, version: &str) -> Advisory {
    let id = record["id"].as_str().unwrap_or("?").to_string();
    let strings = |value: &serde_json::Value| -> Vec<String> {
        value
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    };
    let cvss = record["severity"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["type"].as_str().is_some_and(|t| t.starts_with("CVSS")))
        .and_then(|s| s["score"].as_str().map(str::to_string));
    let severity = record["database_specific"]["severity"]
        .as_str()
        .map(str::to_string)
        .or_else(|| cvss.clone())
        .unwrap_or_else(|| "unknown".to_string());
    // The summary, else the details' first line, cut at 200 characters.
    let summary = record["summary"]
        .as_str()
        .or_else(|| record["details"].as_str().and_then(|d| d.lines().next()))
        .unwrap_or("")
        .trim();
    let summary = if summary.chars().count() > 200 {
        format!(
            "{}…",
            summary.chars().take(199).collect::<String>().trim_end()
        )
    } else {
        summary.to_string()
    };
    let url = record["references"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["type"] == "ADVISORY")
        .and_then(|r| r["url"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| format!("https://osv.dev/vulnerability/{id}"));
    let (fixed, upgrade) = fixes(record, name, version);
    Advisory {
        aliases: strings(&record["aliases"]),
        id,
        summary,
        severity,
        cvss,
        fixed,
        upgrade,
        url,
    }
}

/// Every fixed version of `name` in the record, ascending, and the smallest that is
/// above `version` and closes a range `version` is in.
pub fn fixes(
    record: &serde_json::Value,
    name: &PackageName,
    version: &str,
) -> (Vec<String>, Option<String>) {
    let current = Version::from_str(version).ok();
    let mut fixed: Vec<Version> = Vec::new();
    let mut upgrade: Option<Version> = None;
    for affected in record["affected"].as_array().into_iter().flatten() {
        let package = &affected["package"];
        let same = package["ecosystem"] == "PyPI"
            && package["name"]
                .as_str()
                .and_then(|n| PackageName::from_str(n).ok())
                .is_some_and(|n| n == *name);
        if !same {
            continue;
        }
        // Version ranges only: a `GIT` range's events are commits.
        let ranges = affected["ranges"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|range| matches!(range["type"].as_str(), Some("ECOSYSTEM" | "SEMVER")));
        for range in ranges {
            // Events in order: each `introduced` opens an interval, the next `fixed`
            // (or `last_affected`) closes it.
            let mut open: Option<Version> = None;
            for event in range["events"].as_array().into_iter().flatten() {
                let at = |key: &str| event[key].as_str().and_then(|v| Version::from_str(v).ok());
                if let Some(introduced) = at("introduced") {
                    open = Some(introduced);
                } else if let Some(fix) = at("fixed") {
                    if let (Some(start), Some(current)) = (&open, &current)
                        && start <= current
                        && current < &fix
                        && upgrade.as_ref().is_none_or(|u| &fix < u)
                    {
                        upgrade = Some(fix.clone());
                    }
                    fixed.push(fix);
                    open = None;
                } else if event.get("last_affected").is_some() || event.get("limit").is_some() {
                    open = None;
                }
            }
        }
    }
    fixed.sort();
    fixed.dedup();
    (
        fixed.iter().map(ToString::to_string).collect(),
        upgrade.map(|v| v.to_string()),
    )
}

/// `3 h`, `2 d`: an age in words.
pub fn age(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86_400 => format!("{} h", secs / 3600),
        _ => format!("{} d", secs / 86_400),
    }
}
