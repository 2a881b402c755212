//! A loopback TCP proxy in front of the real Docker engine's socket, for tests of an
//! engine that goes away: point DOCKER_HOST (or `Engine::connect`) at it, and it passes
//! everything through until it is cut; then it drops every connection and refuses new
//! ones, as a stopped engine would.
//!
//! It can cut by itself once the engine reports that a step whose name mentions a marker
//! has started: the `moby.buildkit.trace` messages of a build response carry BuildKit's
//! `StatusResponse` as base64 protobuf, which is decoded just enough for that, so a
//! dockgen run in a child process can be cut at a chosen step of its build.
//!
//! Runs on a runtime of its own, like the fixture index, and stops when dropped.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use super::fixture_index::base64_lite;

pub struct EngineProxy {
    address: String,
    cut: Arc<watch::Sender<bool>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl EngineProxy {
    /// A proxy that forwards until [`EngineProxy::cut`].
    pub fn start() -> Self {
        Self::start_inner(None)
    }

    /// A proxy that cuts once a build step whose name contains `marker` has started.
    pub fn cutting_on(marker: &str) -> Self {
        Self::start_inner(Some(marker.as_bytes().to_vec()))
    }

    fn start_inner(marker: Option<Vec<u8>>) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("engine-proxy")
            .enable_all()
            .build()
            .expect("proxy runtime");
        // Bound here, not with `block_on`: async tests start proxies too.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let address = format!("tcp://{}", listener.local_addr().expect("local addr"));
        let cut = Arc::new(watch::channel(false).0);
        let socket = engine_socket();
        let serving = cut.clone();
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let mut stopped = serving.subscribe();
            loop {
                let client = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((client, _)) => client,
                        Err(_) => return,
                    },
                    // Dropping the listener: new connections are refused.
                    _ = stopped.wait_for(|cut| *cut) => return,
                };
                tokio::spawn(forward(
                    client,
                    socket.clone(),
                    serving.clone(),
                    marker.clone(),
                ));
            }
        });
        Self {
            address,
            cut,
            runtime: Some(runtime),
        }
    }

    /// `tcp://127.0.0.1:PORT`, for DOCKER_HOST.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Drops every connection now and refuses new ones.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Whether the proxy was cut (by [`EngineProxy::cut`] or its marker).
    pub fn was_cut(&self) -> bool {
        *self.cut.borrow()
    }
}

impl Drop for EngineProxy {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The engine's unix socket: DOCKER_HOST's when it names one, else the default.
fn engine_socket() -> PathBuf {
    std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|host| host.strip_prefix("unix://").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/var/run/docker.sock"))
}

async fn forward(
    client: tokio::net::TcpStream,
    socket: PathBuf,
    cut: Arc<watch::Sender<bool>>,
    marker: Option<Vec<u8>>,
) {
    let mut stopped = cut.subscribe();
    if *stopped.borrow() {
        return;
    }
    let Ok(engine) = tokio::net::UnixStream::connect(&socket).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut engine_read, mut engine_write) = engine.into_split();
    let up = async {
        let _ = tokio::io::copy(&mut client_read, &mut engine_write).await;
        let _ = engine_write.shutdown().await;
    };
    let down = async {
        let mut scanner = marker.map(ProgressScanner::new);
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = match engine_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if client_write.write_all(&buffer[..n]).await.is_err() {
                break;
            }
            if scanner.as_mut().is_some_and(|s| s.feed(&buffer[..n])) {
                cut.send_replace(true);
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::select! {
        _ = async { tokio::join!(up, down) } => {}
        _ = stopped.wait_for(|cut| *cut) => {}
    }
}

/// Finds a started step named with `marker` in the `"aux":"<base64>"` values of an
/// engine's JSON stream.
struct ProgressScanner {
    marker: Vec<u8>,
    pending: Vec<u8>,
}

impl ProgressScanner {
    const KEY: &'static [u8] = b"\"aux\":\"";

    fn new(marker: Vec<u8>) -> Self {
        Self {
            marker,
            pending: Vec::new(),
        }
    }

    /// Whether `bytes` completed a value that reports such a step.
    fn feed(&mut self, bytes: &[u8]) -> bool {
        self.pending.extend_from_slice(bytes);
        let mut found = false;
        let mut consumed = 0;
        while let Some(start) = find(&self.pending[consumed..], Self::KEY) {
            let value_start = consumed + start + Self::KEY.len();
            let Some(length) = self.pending[value_start..].iter().position(|&b| b == b'"') else {
                consumed += start;
                break;
            };
            let value = &self.pending[value_start..value_start + length];
            if let Some(decoded) = std::str::from_utf8(value)
                .ok()
                .and_then(base64_lite::decode)
            {
                found |= started_step(&decoded, &self.marker);
            }
            consumed = value_start + length + 1;
        }
        if find(&self.pending[consumed..], Self::KEY).is_none() {
            // Keep only what could be the start of a key.
            consumed = consumed.max(self.pending.len().saturating_sub(Self::KEY.len()));
        }
        self.pending.drain(..consumed);
        found
    }
}

/// Whether a `moby.buildkit.v1.StatusResponse` has a vertex (field 1) whose name (field
/// 3) contains `marker` and that has a start time (field 5).
fn started_step(status: &[u8], marker: &[u8]) -> bool {
    fields(status).iter().any(|&(number, vertex)| {
        number == 1
            && fields(vertex)
                .iter()
                .any(|&(n, name)| n == 3 && find(name, marker).is_some())
            && fields(vertex).iter().any(|&(n, _)| n == 5)
    })
}

/// The length-delimited fields of a protobuf message, `(number, bytes)`; other wire
/// types are skipped, and anything malformed ends the list.
fn fields(mut message: &[u8]) -> Vec<(u64, &[u8])> {
    fn varint(bytes: &mut &[u8]) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = bytes.split_first()?;
            *bytes = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
    let mut out = Vec::new();
    while let Some(key) = varint(&mut message) {
        let skip = match key & 7 {
            0 => varint(&mut message).map(|_| 0),
            1 => Some(8),
            5 => Some(4),
            2 => varint(&mut message).map(|len| len as usize),
            _ => None,
        };
        let Some(len) = skip.filter(|&len| len <= message.len()) else {
            break;
        };
        let (value, rest) = message.split_at(len);
        if key & 7 == 2 {
            out.push((key >> 3, value));
        }
        message = rest;
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A protobuf length-delimited field.
    fn field(number: u8, value: &[u8]) -> Vec<u8> {
        let mut out = vec![number << 3 | 2, value.len() as u8];
        out.extend_from_slice(value);
        out
    }

    fn vertex(name: &str, started: bool) -> Vec<u8> {
        let mut vertex = field(1, b"sha256:0123");
        vertex.extend(field(3, name.as_bytes()));
        vertex.extend([4 << 3, 1]); // cached: a varint
        if started {
            vertex.extend(field(5, &[8, 0x90, 0x4e]));
        }
        field(1, &vertex)
    }

    fn message(status: &[u8]) -> String {
        format!(
            "{{\"id\":\"moby.buildkit.trace\",\"aux\":\"{}\"}}\r\n",
            base64_lite::encode(status)
        )
    }

    #[test]
    fn the_scanner_finds_a_started_step_in_split_progress_messages() {
        let mut scanner = ProgressScanner::new(b"verify.py".to_vec());
        let listed = message(&vertex("[verify 2/2] RUN python verify.py", false));
        let other = message(&vertex("[final 1/2] RUN pip install", true));
        assert!(!scanner.feed(format!("{listed}{other}").as_bytes()));
        let started = message(&vertex("[verify 2/2] RUN python verify.py", true));
        let (first, second) = started.as_bytes().split_at(started.len() - 20);
        assert!(!scanner.feed(first));
        assert!(scanner.feed(second));
    }

    #[test]
    fn base64_round_trips() {
        for input in [&b""[..], b"a", b"ab", b"abc", b"abcd", b"\x00\xff\x10\x80"] {
            let encoded = base64_lite::encode(input);
            assert_eq!(
                base64_lite::decode(&encoded).as_deref(),
                Some(input),
                "{encoded}"
            );
        }
        for bad in ["a", "ab=c", "YQ==YQ==", "Y!=="] {
            assert_eq!(base64_lite::decode(bad), None, "{bad}");
        }
    }
}
