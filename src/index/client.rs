//! The HTTP layer under every index request: timeouts, retries with backoff, per-request
//! credentials, a concurrency limit, range requests and `--offline`. A URL reaches an
//! error, a log line or a progress message only through [`crate::secrets::url`].

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
use crate::secrets;

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

/// Largest project page (PEP 691 / 503) or find-links page read: PyPI's largest
/// pages are tens of MB.
pub const PAGE_MAX_BYTES: u64 = 128 << 20;
/// Largest distribution file read when the index publishes no size (the largest
/// wheels on PyPI are a few GB).
pub const FILE_MAX_BYTES: u64 = 8 << 30;
/// The total deadline of one attempt is this many `--timeout`s...
const DEADLINE_TIMEOUTS: u32 = 4;
/// ... plus, for whole files, one second per this many bytes expected (a floor of
/// 1 MiB/s on long downloads).
const DEADLINE_BYTES_PER_SECOND: u64 = 1 << 20;
/// Longest wait a `Retry-After` may ask for; a longer one waits this long.
pub const RETRY_AFTER_MAX: Duration = Duration::from_secs(60);

/// How much of a response one request may take: bytes and total time per attempt
/// (headers and the whole body, not only the wait between reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max_bytes: u64,
    pub deadline: Duration,
    /// What the response is, for the error when it is too large.
    pub what: &'static str,
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
    /// No answer within this long (the read timeout or the total deadline).
    Timeout(Duration),
    Network(String),
    /// Not worth another try (a redirect loop): fails at once.
    Fatal(String),
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
                message: format!(
                    "cannot build the HTTP client: {}",
                    crate::errors::chain(&err)
                ),
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

    fn base_deadline(&self) -> Duration {
        self.settings
            .read_timeout
            .max(self.settings.connect_timeout)
            * DEADLINE_TIMEOUTS
    }

    /// For a project or find-links page.
    pub fn page_limit(&self) -> Limit {
        Limit {
            max_bytes: PAGE_MAX_BYTES,
            deadline: self.base_deadline(),
            what: "a project page",
        }
    }

    /// For a `.metadata` sidecar.
    pub fn metadata_limit(&self) -> Limit {
        Limit {
            max_bytes: super::metadata::MAX_METADATA_BYTES,
            deadline: self.base_deadline(),
            what: "a metadata file",
        }
    }

    /// For a whole distribution file (or a range request, which a server may answer
    /// with the whole file): its published size when there is one.
    pub fn file_limit(&self, size: Option<u64>) -> Limit {
        let max_bytes = size.unwrap_or(FILE_MAX_BYTES);
        let seconds = max_bytes.div_ceil(DEADLINE_BYTES_PER_SECOND);
        Limit {
            max_bytes,
            deadline: self.base_deadline() + Duration::from_secs(seconds),
            what: if size.is_some() {
                "a file, more than its published size"
            } else {
                "a file"
            },
        }
    }

    fn check_online(&self, index: &str, url: &Url) -> Result<(), IndexError> {
        if self.settings.offline {
            return Err(IndexError::Offline {
                what: format!("`{}` (index `{index}`)", secrets::url(url)),
            });
        }
        Ok(())
    }

    /// GET `url` with retries. Any final status comes back (the caller decides what a
    /// 404 or 304 means); transient ones only once the retries are spent.
    ///
    /// Each attempt has `limit.deadline` for the whole response and may take
    /// `limit.max_bytes` ([`IndexError::TooLarge`] beyond, not retried). A 429 or 503
    /// with `Retry-After` waits that long (at most [`RETRY_AFTER_MAX`]) before the next
    /// attempt.
    pub async fn get(
        &self,
        index: &str,
        url: &Url,
        headers: HeaderMap,
        limit: Limit,
    ) -> Result<Fetched, IndexError> {
        self.check_online(index, url)?;
        let attempts = self.settings.retries + 1;
        let mut last = None;
        let mut wait = None;
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(self.backoff(attempt).max(wait.unwrap_or_default())).await;
            }
            let permit = self.permits.acquire().await;
            let outcome = self.attempt(index, url, &headers, limit).await?;
            drop(permit);
            match outcome {
                Attempt::Done(fetched) => return Ok(fetched),
                Attempt::Retry(_, Failure::Fatal(cause)) => {
                    return Err(IndexError::Network {
                        index: index.to_owned(),
                        url: secrets::url(url),
                        attempts: attempt + 1,
                        cause,
                    });
                }
                Attempt::Retry(fetched, failure) => {
                    tracing::debug!(
                        "attempt {} of {attempts} for `{}` failed: {failure:?}",
                        attempt + 1,
                        secrets::url(url)
                    );
                    wait = fetched
                        .as_ref()
                        .and_then(|f| retry_after(f.status, &f.headers, jiff::Timestamp::now()));
                    last = Some((fetched, failure));
                }
            }
        }
        let redacted = secrets::url(url);
        Err(match last {
            Some((Some(fetched), _)) => IndexError::Http {
                index: index.to_owned(),
                url: redacted,
                status: fetched.status.as_u16(),
            },
            Some((None, failure)) => self.failed(index, url, attempts, failure),
            None => self.failed(index, url, attempts, Failure::Status),
        })
    }

    /// The error after the last attempt failed with `failure`.
    fn failed(&self, index: &str, url: &Url, attempts: u32, failure: Failure) -> IndexError {
        let index = index.to_owned();
        let url = secrets::url(url);
        match failure {
            Failure::Timeout(after) => IndexError::Timeout {
                index,
                url,
                seconds: after.as_secs_f64(),
                attempts,
            },
            Failure::Network(cause) | Failure::Fatal(cause) => IndexError::Network {
                index,
                url,
                attempts,
                cause,
            },
            Failure::Status => IndexError::Network {
                index,
                url,
                attempts,
                cause: "the index kept answering with server errors".to_owned(),
            },
        }
    }

    /// GET `url`; anything but a 2xx is an [`IndexError::Http`].
    pub async fn get_ok(
        &self,
        index: &str,
        url: &Url,
        limit: Limit,
    ) -> Result<bytes::Bytes, IndexError> {
        let fetched = self.get(index, url, HeaderMap::new(), limit).await?;
        if !fetched.status.is_success() {
            return Err(IndexError::Http {
                index: index.to_owned(),
                url: secrets::url(url),
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
        limit: Limit,
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
        let fetched = self.get(index, url, headers, limit).await?;
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
                        url: secrets::url(url),
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
                url: secrets::url(url),
                status: status.as_u16(),
            }),
        }
    }

    /// Streams `url` through sha256 without keeping the bytes; returns the hex digest.
    /// `size` is the published size, when there is one ([`HttpClient::file_limit`]).
    pub async fn download_sha256(
        &self,
        index: &str,
        url: &Url,
        size: Option<u64>,
    ) -> Result<String, IndexError> {
        Ok(self.stream(index, url, None, size).await?.0)
    }

    /// Streams `url` into the file at `path` (created or truncated on every attempt)
    /// and through sha256; returns the hex digest and the byte count.
    pub async fn download_to_path(
        &self,
        index: &str,
        url: &Url,
        path: &std::path::Path,
        size: Option<u64>,
    ) -> Result<(String, u64), IndexError> {
        self.stream(index, url, Some(path), size).await
    }

    async fn stream(
        &self,
        index: &str,
        url: &Url,
        path: Option<&std::path::Path>,
        size: Option<u64>,
    ) -> Result<(String, u64), IndexError> {
        self.check_online(index, url)?;
        let limit = self.file_limit(size);
        let attempts = self.settings.retries + 1;
        let mut last = None;
        let mut wait = None;
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(self.backoff(attempt).max(wait.unwrap_or_default())).await;
            }
            let _permit = self.permits.acquire().await;
            let outcome =
                tokio::time::timeout(limit.deadline, self.stream_attempt(index, url, path, limit))
                    .await
                    .unwrap_or(Ok(Err((Failure::Timeout(limit.deadline), None))))?;
            match outcome {
                Ok(done) => return Ok(done),
                Err((Failure::Fatal(cause), _)) => {
                    return Err(IndexError::Network {
                        index: index.to_owned(),
                        url: secrets::url(url),
                        attempts: attempt + 1,
                        cause,
                    });
                }
                Err((failure, after)) => {
                    tracing::debug!(
                        "attempt {} of {attempts} for `{}` failed: {failure:?}",
                        attempt + 1,
                        secrets::url(url)
                    );
                    wait = after;
                    last = Some(failure);
                }
            }
        }
        Err(self.failed(index, url, attempts, last.unwrap_or(Failure::Status)))
    }

    /// One attempt of [`HttpClient::stream`]: `Ok(Err(..))` is worth another try
    /// (with the `Retry-After` wait, if the server asked for one).
    async fn stream_attempt(
        &self,
        index: &str,
        url: &Url,
        path: Option<&std::path::Path>,
        limit: Limit,
    ) -> Result<Result<(String, u64), (Failure, Option<Duration>)>, IndexError> {
        use tokio::io::AsyncWriteExt;
        let io_error = |err: std::io::Error| IndexError::Io {
            path: path.map(|p| p.display().to_string()).unwrap_or_default(),
            message: err.to_string(),
        };
        let response = match self.send(url, &HeaderMap::new()).await {
            Ok(response) => response,
            Err(failure) => return Ok(Err((failure, None))),
        };
        let status = response.status();
        if is_transient(status) {
            let wait = retry_after(status, response.headers(), jiff::Timestamp::now());
            return Ok(Err((Failure::Status, wait)));
        }
        if !status.is_success() {
            return Err(IndexError::Http {
                index: index.to_owned(),
                url: secrets::url(url),
                status: status.as_u16(),
            });
        }
        self.check_length(index, url, response.content_length(), limit)?;
        let mut sink = match path {
            Some(path) => Some(tokio::fs::File::create(path).await.map_err(io_error)?),
            None => None,
        };
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(chunk) => {
                    size += chunk.len() as u64;
                    self.check_length(index, url, Some(size), limit)?;
                    hasher.update(&chunk);
                    if let Some(file) = &mut sink {
                        file.write_all(&chunk).await.map_err(io_error)?;
                    }
                }
                Err(err) => return Ok(Err((classify(err, self.settings.read_timeout), None))),
            }
        }
        if let Some(mut file) = sink {
            file.flush().await.map_err(io_error)?;
            file.sync_data().await.map_err(io_error)?;
        }
        Ok(Ok((hex::encode(hasher.finalize()), size)))
    }

    /// [`IndexError::TooLarge`] once `length` bytes exceed the limit.
    fn check_length(
        &self,
        index: &str,
        url: &Url,
        length: Option<u64>,
        limit: Limit,
    ) -> Result<(), IndexError> {
        match length {
            Some(length) if length > limit.max_bytes => Err(IndexError::TooLarge {
                index: index.to_owned(),
                url: secrets::url(url),
                what: limit.what.to_owned(),
                limit: limit.max_bytes,
            }),
            _ => Ok(()),
        }
    }

    async fn send(&self, url: &Url, headers: &HeaderMap) -> Result<Response, Failure> {
        let clean = secrets::without_userinfo(url);
        let mut request = self.client.get(clean.clone()).headers(headers.clone());
        if let Some(creds) = self.auth.for_url(url) {
            request = request.basic_auth(&creds.username, creds.password.as_ref());
        }
        request
            .send()
            .await
            .map_err(|err| classify(err, self.settings.read_timeout))
    }

    /// One attempt of [`HttpClient::get`], within `limit`. A response too large is an
    /// error at once; everything else that failed may be tried again.
    async fn attempt(
        &self,
        index: &str,
        url: &Url,
        headers: &HeaderMap,
        limit: Limit,
    ) -> Result<Attempt, IndexError> {
        let attempt = async {
            let response = match self.send(url, headers).await {
                Ok(response) => response,
                Err(failure) => return Ok(Attempt::Retry(None, failure)),
            };
            let status = response.status();
            let response_headers = response.headers().clone();
            self.check_length(index, url, response.content_length(), limit)?;
            let mut body = Vec::new();
            let mut stream = response.bytes_stream();
            while let Some(chunk) = stream.next().await {
                match chunk {
                    Ok(chunk) => {
                        self.check_length(
                            index,
                            url,
                            Some((body.len() + chunk.len()) as u64),
                            limit,
                        )?;
                        body.extend_from_slice(&chunk);
                    }
                    Err(err) => {
                        return Ok(Attempt::Retry(
                            None,
                            classify(err, self.settings.read_timeout),
                        ));
                    }
                }
            }
            let fetched = Fetched {
                status,
                headers: response_headers,
                body: body.into(),
            };
            Ok(if is_transient(status) {
                Attempt::Retry(Some(fetched), Failure::Status)
            } else {
                Attempt::Done(fetched)
            })
        };
        match tokio::time::timeout(limit.deadline, attempt).await {
            Ok(outcome) => outcome,
            Err(_) => Ok(Attempt::Retry(None, Failure::Timeout(limit.deadline))),
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

/// `read_timeout` is what a timeout error means: no bytes for that long.
fn classify(err: reqwest::Error, read_timeout: Duration) -> Failure {
    if err.is_timeout() {
        Failure::Timeout(read_timeout)
    } else if err.is_redirect() {
        // A redirect loop (or more than 10 redirects) loops again on every try.
        Failure::Fatal(format!(
            "{}; the index redirects in a loop or too often",
            crate::errors::chain(&err.without_url())
        ))
    } else {
        Failure::Network(crate::errors::chain(&err.without_url()))
    }
}

/// How long a 429 or 503 asks to wait (`Retry-After`: seconds, or an HTTP date),
/// at most [`RETRY_AFTER_MAX`].
fn retry_after(status: StatusCode, headers: &HeaderMap, now: jiff::Timestamp) -> Option<Duration> {
    if status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::SERVICE_UNAVAILABLE {
        return None;
    }
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
            let seconds = at.duration_since(now).as_secs_f64();
            Duration::from_secs_f64(seconds.max(0.0))
        }
    };
    Some(wait.min(RETRY_AFTER_MAX))
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
    fn content_range() {
        assert_eq!(
            parse_content_range("bytes 10-19/100"),
            Some((10, Some(100)))
        );
        assert_eq!(parse_content_range("bytes 0-9/*"), Some((0, None)));
        assert_eq!(parse_content_range("items 0-9/10"), None);
    }

    #[test]
    fn retry_after_seconds_or_date_capped() {
        let now: jiff::Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::RETRY_AFTER, HeaderValue::from_str(value).unwrap());
            headers
        };
        let too_many = StatusCode::TOO_MANY_REQUESTS;
        assert_eq!(
            retry_after(too_many, &with("7"), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(StatusCode::SERVICE_UNAVAILABLE, &with("86400"), now),
            Some(RETRY_AFTER_MAX)
        );
        assert_eq!(
            retry_after(too_many, &with("Wed, 01 Jan 2025 00:00:09 GMT"), now),
            Some(Duration::from_secs(9))
        );
        assert_eq!(
            retry_after(too_many, &with("Tue, 31 Dec 2024 23:00:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(too_many, &with("soon"), now), None);
        assert_eq!(
            retry_after(StatusCode::INTERNAL_SERVER_ERROR, &with("7"), now),
            None
        );
    }

    #[test]
    fn limits_bound_bytes_and_time() {
        let client = HttpClient::new(
            HttpSettings {
                read_timeout: Duration::from_secs(3),
                connect_timeout: Duration::from_secs(3),
                ..HttpSettings::default()
            },
            AuthStore::new(),
        )
        .unwrap();
        assert_eq!(client.page_limit().deadline, Duration::from_secs(12));
        assert_eq!(client.page_limit().max_bytes, PAGE_MAX_BYTES);
        let file = client.file_limit(Some(10 << 20));
        assert_eq!(
            (file.max_bytes, file.deadline),
            (10 << 20, Duration::from_secs(22))
        );
        assert_eq!(client.file_limit(None).max_bytes, FILE_MAX_BYTES);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let client = HttpClient::new(HttpSettings::default(), AuthStore::new()).unwrap();
        let first = client.backoff(1);
        assert!(first >= Duration::from_millis(125) && first <= Duration::from_millis(250));
        assert!(client.backoff(30) <= Duration::from_secs(10));
    }
}
