//! The HTTP layer under every index request: timeouts, retries with backoff, per-request
//! credentials, a concurrency limit, range requests, `--offline`, and [`redact`], the one
//! way a URL reaches an error, a log line or a progress message.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use reqwest::Response;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use url::Url;

use super::IndexError;
use super::auth::AuthStore;

/// A URL fit for output: see [`crate::secrets::url`].
pub use crate::secrets::url as redact;

/// How the client talks to indexes.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of a response (headers or body).
    pub read_timeout: Duration,
    /// Extra attempts after the first, on 5xx, 429, resets and timeouts.
    pub retries: u32,
    /// First backoff; doubled per attempt, capped at 10 s, with jitter.
    pub retry_base: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
    pub offline: bool,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            retries: 3,
            retry_base: Duration::from_millis(250),
            concurrency: 16,
            offline: false,
        }
    }
}

/// A whole response after retries.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

/// Which bytes of a file to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeSpec {
    /// The last `n` bytes (`bytes=-n`).
    Tail(u64),
    /// `bytes=start-end`, `end` inclusive.
    Span { start: u64, end: u64 },
}

/// What a server did with a range request.
#[derive(Debug, Clone)]
pub enum RangeReply {
    /// 206: `body` starts at `start`; `total` is the file size when the server says it.
    Partial {
        start: u64,
        total: Option<u64>,
        body: bytes::Bytes,
    },
    /// 200: the server ignored `Range` and sent the whole file; use it.
    Full(bytes::Bytes),
}

#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    auth: Arc<AuthStore>,
    permits: Arc<Semaphore>,
    settings: HttpSettings,
}

enum Attempt {
    Done(Fetched),
    /// Worth another try: a transient status (kept to report if tries run out) or error.
    Retry(Option<Fetched>, Failure),
}

#[derive(Debug)]
enum Failure {
    Status,
    Timeout,
    Network(String),
}

impl HttpClient {
    pub fn new(settings: HttpSettings, auth: AuthStore) -> Result<Self, IndexError> {
        // Another part of the process may have installed it already; either way it is there.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(concat!("dockgen/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(settings.connect_timeout)
            .read_timeout(settings.read_timeout)
            .build()
            .map_err(|err| IndexError::Config {
                message: format!("cannot build the HTTP client: {}", error_chain(&err)),
            })?;
        Ok(Self {
            client,
            auth: Arc::new(auth),
            permits: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            settings,
        })
    }

    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    fn check_online(&self, index: &str, url: &Url) -> Result<(), IndexError> {
        if self.settings.offline {
            return Err(IndexError::Offline {
                what: format!("`{}` (index `{index}`)", redact(url)),
            });
        }
        Ok(())
    }

    /// GET `url` with retries. Any final status comes back (the caller decides what a
    /// 404 or 304 means); transient ones only once the retries are spent.
    pub async fn get(
        &self,
        index: &str,
        url: &Url,
        headers: HeaderMap,
    ) -> Result<Fetched, IndexError> {
        self.check_online(index, url)?;
        let attempts = self.settings.retries + 1;
        let mut last = None;
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(self.backoff(attempt)).await;
            }
            let permit = self.permits.acquire().await;
            let outcome = self.attempt(url, &headers).await;
            drop(permit);
            match outcome {
                Attempt::Done(fetched) => return Ok(fetched),
                Attempt::Retry(fetched, failure) => {
                    tracing::debug!(
                        "attempt {} of {attempts} for `{}` failed: {failure:?}",
                        attempt + 1,
                        redact(url)
                    );
                    last = Some((fetched, failure));
                }
            }
        }
        let redacted = redact(url);
        Err(match last {
            Some((Some(fetched), _)) => IndexError::Http {
                index: index.to_owned(),
                url: redacted,
                status: fetched.status.as_u16(),
            },
            Some((None, Failure::Timeout)) => IndexError::Timeout {
                index: index.to_owned(),
                url: redacted,
                seconds: self.settings.read_timeout.as_secs_f64(),
                attempts,
            },
            Some((None, Failure::Network(cause))) => IndexError::Network {
                index: index.to_owned(),
                url: redacted,
                attempts,
                cause,
            },
            Some((None, Failure::Status)) | None => IndexError::Network {
                index: index.to_owned(),
                url: redacted,
                attempts,
                cause: "no response".to_owned(),
            },
        })
    }

    /// GET `url`; anything but a 2xx is an [`IndexError::Http`].
    pub async fn get_ok(&self, index: &str, url: &Url) -> Result<bytes::Bytes, IndexError> {
        let fetched = self.get(index, url, HeaderMap::new()).await?;
        if !fetched.status.is_success() {
            return Err(IndexError::Http {
                index: index.to_owned(),
                url: redact(url),
                status: fetched.status.as_u16(),
            });
        }
        Ok(fetched.body)
    }

    /// A range request. Servers that ignore `Range` answer 200 with the whole file,
    /// which comes back as [`RangeReply::Full`] for the caller to use as is.
    pub async fn range(
        &self,
        index: &str,
        url: &Url,
        range: RangeSpec,
    ) -> Result<RangeReply, IndexError> {
        let mut headers = HeaderMap::new();
        let value = match range {
            RangeSpec::Tail(n) => format!("bytes=-{n}"),
            RangeSpec::Span { start, end } => format!("bytes={start}-{end}"),
        };
        headers.insert(header::RANGE, header_value(&value));
        // Byte offsets are into the file, not into a compressed transfer of it.
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        let fetched = self.get(index, url, headers).await?;
        match fetched.status {
            StatusCode::PARTIAL_CONTENT => {
                let content_range = fetched
                    .headers
                    .get(header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_content_range);
                let Some((start, total)) = content_range else {
                    return Err(IndexError::Parse {
                        index: index.to_owned(),
                        url: redact(url),
                        message: "206 response without a usable `Content-Range`".to_owned(),
                    });
                };
                Ok(RangeReply::Partial {
                    start,
                    total,
                    body: fetched.body,
                })
            }
            StatusCode::OK => Ok(RangeReply::Full(fetched.body)),
            status => Err(IndexError::Http {
                index: index.to_owned(),
                url: redact(url),
                status: status.as_u16(),
            }),
        }
    }

    /// Streams `url` through sha256 without keeping the bytes; returns the hex digest.
    pub async fn download_sha256(&self, index: &str, url: &Url) -> Result<String, IndexError> {
        Ok(self.stream(index, url, None).await?.0)
    }

    /// Streams `url` into the file at `path` (created or truncated on every attempt)
    /// and through sha256; returns the hex digest and the byte count.
    pub async fn download_to_path(
        &self,
        index: &str,
        url: &Url,
        path: &std::path::Path,
    ) -> Result<(String, u64), IndexError> {
        self.stream(index, url, Some(path)).await
    }

    async fn stream(
        &self,
        index: &str,
        url: &Url,
        path: Option<&std::path::Path>,
    ) -> Result<(String, u64), IndexError> {
        use tokio::io::AsyncWriteExt;
        self.check_online(index, url)?;
        let io_error = |err: std::io::Error| IndexError::Io {
            path: path.map(|p| p.display().to_string()).unwrap_or_default(),
            message: err.to_string(),
        };
        let attempts = self.settings.retries + 1;
        let mut last = None;
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(self.backoff(attempt)).await;
            }
            let _permit = self.permits.acquire().await;
            let response = match self.send(url, &HeaderMap::new()).await {
                Ok(response) => response,
                Err(failure) => {
                    last = Some(failure);
                    continue;
                }
            };
            let status = response.status();
            if is_transient(status) {
                last = Some(Failure::Status);
                continue;
            }
            if !status.is_success() {
                return Err(IndexError::Http {
                    index: index.to_owned(),
                    url: redact(url),
                    status: status.as_u16(),
                });
            }
            let mut sink = match path {
                Some(path) => Some(tokio::fs::File::create(path).await.map_err(io_error)?),
                None => None,
            };
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            let mut stream = response.bytes_stream();
            let mut broken = None;
            while let Some(chunk) = stream.next().await {
                match chunk {
                    Ok(chunk) => {
                        hasher.update(&chunk);
                        size += chunk.len() as u64;
                        if let Some(file) = &mut sink {
                            file.write_all(&chunk).await.map_err(io_error)?;
                        }
                    }
                    Err(err) => {
                        broken = Some(classify(err));
                        break;
                    }
                }
            }
            match broken {
                None => {
                    if let Some(mut file) = sink {
                        file.flush().await.map_err(io_error)?;
                        file.sync_data().await.map_err(io_error)?;
                    }
                    return Ok((hex::encode(hasher.finalize()), size));
                }
                Some(failure) => last = Some(failure),
            }
        }
        let redacted = redact(url);
        Err(match last {
            Some(Failure::Timeout) => IndexError::Timeout {
                index: index.to_owned(),
                url: redacted,
                seconds: self.settings.read_timeout.as_secs_f64(),
                attempts,
            },
            Some(Failure::Network(cause)) => IndexError::Network {
                index: index.to_owned(),
                url: redacted,
                attempts,
                cause,
            },
            Some(Failure::Status) | None => IndexError::Network {
                index: index.to_owned(),
                url: redacted,
                attempts,
                cause: "the index kept answering with server errors".to_owned(),
            },
        })
    }

    async fn send(&self, url: &Url, headers: &HeaderMap) -> Result<Response, Failure> {
        let clean = super::auth::strip_userinfo(url);
        let mut request = self.client.get(clean.clone()).headers(headers.clone());
        if let Some(creds) = self.auth.for_url(url) {
            request = request.basic_auth(&creds.username, creds.password.as_ref());
        }
        request.send().await.map_err(classify)
    }

    async fn attempt(&self, url: &Url, headers: &HeaderMap) -> Attempt {
        let response = match self.send(url, headers).await {
            Ok(response) => response,
            Err(failure) => return Attempt::Retry(None, failure),
        };
        let status = response.status();
        let response_headers = response.headers().clone();
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(err) => return Attempt::Retry(None, classify(err)),
        };
        let fetched = Fetched {
            status,
            headers: response_headers,
            body,
        };
        if is_transient(status) {
            Attempt::Retry(Some(fetched), Failure::Status)
        } else {
            Attempt::Done(fetched)
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let base = self.settings.retry_base.as_secs_f64() * 2f64.powi(attempt as i32 - 1);
        let capped = base.min(10.0);
        // Full jitter on the upper half spreads retries of many clients hit at once.
        Duration::from_secs_f64(capped * (0.5 + fastrand::f64() * 0.5))
    }
}

fn is_transient(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

fn classify(err: reqwest::Error) -> Failure {
    if err.is_timeout() {
        Failure::Timeout
    } else {
        Failure::Network(error_chain(&err.without_url()))
    }
}

/// An error and its causes, `: `-joined. reqwest errors must have had their URL removed.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `bytes start-end/total` (total may be `*`) -> (start, total).
fn parse_content_range(value: &str) -> Option<(u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (span, total) = rest.split_once('/')?;
    let (start, _end) = span.split_once('-')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((start.trim().parse().ok()?, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_removes_userinfo() {
        let url = Url::parse("https://user:tok@example.com:8080/simple/x/?a=1").unwrap();
        assert_eq!(redact(&url), "https://example.com:8080/simple/x/?a=1");
    }

    #[test]
    fn content_range() {
        assert_eq!(
            parse_content_range("bytes 10-19/100"),
            Some((10, Some(100)))
        );
        assert_eq!(parse_content_range("bytes 0-9/*"), Some((0, None)));
        assert_eq!(parse_content_range("items 0-9/10"), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let client = HttpClient::new(HttpSettings::default(), AuthStore::new()).unwrap();
        let first = client.backoff(1);
        assert!(first >= Duration::from_millis(125) && first <= Duration::from_millis(250));
        assert!(client.backoff(30) <= Duration::from_secs(10));
    }
}
