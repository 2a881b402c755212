//! BuildKit's status stream as build events, and the three ways of showing them:
//! `tty` (a live view, one line per running step), `plain` (one line per step event and
//! every log line prefixed by its step, for CI logs) and `quiet` (errors only).
//!
//! [`StatusDecoder`] owns the per-step state: BuildKit resends a vertex every time one of
//! its fields changes, and splits a step's output into chunks that do not end on line
//! boundaries, so both are folded here into one event per change and one event per line.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use bollard::moby::buildkit::v1::StatusResponse;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown (`--progress tty|plain|quiet`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressMode {
    /// A live view redrawn in place: one line per running step.
    Tty,
    /// Append-only lines, for logs that are not a terminal.
    Plain,
    /// Nothing but the error at the end.
    Quiet,
}

impl ProgressMode {
    /// `Tty` when standard error is a terminal, else `Plain`.
    pub fn detect() -> ProgressMode {
        if std::io::stderr().is_terminal() {
            ProgressMode::Tty
        } else {
            ProgressMode::Plain
        }
    }

    /// The sink for this mode, writing to standard error.
    pub fn sink(self) -> Box<dyn ProgressSink + Send> {
        match self {
            ProgressMode::Tty => Box::new(TtyProgress::new()),
            ProgressMode::Plain => Box::new(PlainProgress::new(std::io::stderr())),
            ProgressMode::Quiet => Box::new(QuietProgress),
        }
    }
}

/// One step's number (in order of first appearance, as `docker build` numbers them) and name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub number: usize,
    pub name: String,
}

/// What happened to a step, in the order BuildKit reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildEvent {
    Started(Step),
    /// The step's result came from the build cache; it did not run.
    Cached(Step),
    Done {
        step: Step,
        duration: Duration,
    },
    Failed {
        step: Step,
        error: String,
    },
    /// One line of a step's output (stdout and stderr alike), without its newline.
    Log {
        step: Step,
        line: String,
    },
}

/// Receives build events as they happen.
pub trait ProgressSink {
    fn event(&mut self, event: &BuildEvent);
    /// The build ended (successfully or not): settle the display.
    fn finish(&mut self) {}
}

/// What is known about one step (a BuildKit vertex) at the end of a build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepRecord {
    pub number: usize,
    pub name: String,
    /// The vertex digest, BuildKit's identity for the step.
    pub digest: String,
    pub started: Option<jiff::Timestamp>,
    pub completed: Option<jiff::Timestamp>,
    pub cached: bool,
    /// BuildKit's error for this step, when it failed.
    pub error: Option<String>,
}

impl StepRecord {
    /// How long the step ran, when it both started and completed.
    pub fn duration(&self) -> Option<Duration> {
        let (start, end) = (self.started?, self.completed?);
        Duration::try_from(end.duration_since(start)).ok()
    }
}

#[derive(Debug)]
struct VertexState {
    record: StepRecord,
    announced_start: bool,
    announced_end: bool,
    partial_line: Vec<u8>,
    lines: Vec<String>,
}

impl VertexState {
    fn step(&self) -> Step {
        Step {
            number: self.record.number,
            name: self.record.name.clone(),
        }
    }
}

/// Folds `StatusResponse`s into [`BuildEvent`]s and per-step records.
#[derive(Debug, Default)]
pub struct StatusDecoder {
    vertices: BTreeMap<String, VertexState>,
    next_number: usize,
}

/// A protobuf timestamp's `(seconds, nanos)` as a jiff timestamp.
fn timestamp(parts: Option<(i64, i32)>) -> Option<jiff::Timestamp> {
    let (seconds, nanos) = parts?;
    jiff::Timestamp::new(seconds, nanos).ok()
}

impl StatusDecoder {
    pub fn new() -> StatusDecoder {
        StatusDecoder::default()
    }

    fn state(&mut self, digest: &str) -> &mut VertexState {
        let next_number = &mut self.next_number;
        self.vertices.entry(digest.to_string()).or_insert_with(|| {
            *next_number += 1;
            VertexState {
                record: StepRecord {
                    number: *next_number,
                    name: String::new(),
                    digest: digest.to_string(),
                    started: None,
                    completed: None,
                    cached: false,
                    error: None,
                },
                announced_start: false,
                announced_end: false,
                partial_line: Vec::new(),
                lines: Vec::new(),
            }
        })
    }

    /// The events one status message adds, in order. A step that ends in this message
    /// has this message's output lines shown before its `DONE` or `ERROR`.
    pub fn decode(&mut self, status: &StatusResponse) -> Vec<BuildEvent> {
        let mut events = Vec::new();
        let mut consumed = vec![false; status.logs.len()];
        for vertex in &status.vertexes {
            let state = self.state(&vertex.digest);
            if !vertex.name.is_empty() {
                state.record.name = vertex.name.clone();
            }
            let step = state.step();
            state.record.cached |= vertex.cached;
            let started = vertex.started.as_ref().map(|t| (t.seconds, t.nanos));
            if let Some(started) = timestamp(started) {
                state.record.started.get_or_insert(started);
            }
            let completed = vertex.completed.as_ref().map(|t| (t.seconds, t.nanos));
            if let Some(completed) = timestamp(completed) {
                state.record.completed = Some(completed);
            }
            if !vertex.error.is_empty() {
                state.record.error = Some(vertex.error.clone());
            }
            if state.announced_end {
                continue;
            }
            if vertex.cached {
                state.announced_end = true;
                events.push(BuildEvent::Cached(step));
                continue;
            }
            if state.record.started.is_some() && !state.announced_start {
                state.announced_start = true;
                events.push(BuildEvent::Started(step.clone()));
            }
            if state.record.completed.is_none() {
                continue;
            }
            state.announced_end = true;
            for (index, log) in status.logs.iter().enumerate() {
                if log.vertex == vertex.digest && !consumed[index] {
                    consumed[index] = true;
                    split_lines(state, &log.msg, &mut events);
                }
            }
            if let Some(line) = flush_partial(state) {
                events.push(BuildEvent::Log {
                    step: step.clone(),
                    line,
                });
            }
            match &state.record.error {
                Some(error) => events.push(BuildEvent::Failed {
                    step,
                    error: error.clone(),
                }),
                None => events.push(BuildEvent::Done {
                    step,
                    duration: state.record.duration().unwrap_or_default(),
                }),
            }
        }
        for (log, done) in status.logs.iter().zip(consumed) {
            if !done {
                let state = self.state(&log.vertex);
                split_lines(state, &log.msg, &mut events);
            }
        }
        events
    }

    /// Every step seen, in order of first appearance.
    pub fn records(&self) -> Vec<StepRecord> {
        let mut records: Vec<StepRecord> =
            self.vertices.values().map(|v| v.record.clone()).collect();
        records.sort_by_key(|r| r.number);
        records
    }

    /// Every complete log line, each prefixed with its step number (`#3 ...`).
    pub fn log_lines(&self) -> Vec<String> {
        let mut states: Vec<&VertexState> = self.vertices.values().collect();
        states.sort_by_key(|s| s.record.number);
        states
            .iter()
            .flat_map(|s| s.lines.iter().map(|l| format!("#{} {l}", s.record.number)))
            .collect()
    }

    /// The steps that failed, with their last `tail` lines of output.
    pub fn failures(&self, tail: usize) -> Vec<(StepRecord, Vec<String>)> {
        let mut failed: Vec<(StepRecord, Vec<String>)> = self
            .vertices
            .values()
            .filter(|s| s.record.error.is_some())
            .map(|s| {
                let mut lines = s.lines.clone();
                if !s.partial_line.is_empty() {
                    lines.push(String::from_utf8_lossy(&s.partial_line).into_owned());
                }
                let skip = lines.len().saturating_sub(tail);
                (s.record.clone(), lines.split_off(skip))
            })
            .collect();
        failed.sort_by_key(|(r, _)| r.number);
        failed
    }
}

/// Adds `msg` to the step's unfinished line and emits every line it completes.
fn split_lines(state: &mut VertexState, msg: &[u8], events: &mut Vec<BuildEvent>) {
    let step = state.step();
    state.partial_line.extend_from_slice(msg);
    while let Some(end) = state.partial_line.iter().position(|&b| b == b'\n') {
        let rest = state.partial_line.split_off(end + 1);
        let mut line = std::mem::replace(&mut state.partial_line, rest);
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let line = String::from_utf8_lossy(&line).into_owned();
        state.lines.push(line.clone());
        events.push(BuildEvent::Log {
            step: step.clone(),
            line,
        });
    }
}

fn flush_partial(state: &mut VertexState) -> Option<String> {
    if state.partial_line.is_empty() {
        return None;
    }
    let line = String::from_utf8_lossy(&std::mem::take(&mut state.partial_line)).into_owned();
    state.lines.push(line.clone());
    Some(line)
}

fn seconds(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

/// Append-only lines in the style of `docker build --progress plain`.
pub struct PlainProgress<W: Write> {
    out: W,
}

impl<W: Write> PlainProgress<W> {
    pub fn new(out: W) -> PlainProgress<W> {
        PlainProgress { out }
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> ProgressSink for PlainProgress<W> {
    fn event(&mut self, event: &BuildEvent) {
        // A closed standard error must not fail the build: progress is advisory.
        let _ = match event {
            BuildEvent::Started(step) => writeln!(self.out, "#{} {}", step.number, step.name),
            BuildEvent::Cached(step) => {
                writeln!(self.out, "#{} {} CACHED", step.number, step.name)
            }
            BuildEvent::Done { step, duration } => {
                writeln!(self.out, "#{} DONE {}", step.number, seconds(*duration))
            }
            BuildEvent::Failed { step, error } => {
                writeln!(self.out, "#{} ERROR: {error}", step.number)
            }
            BuildEvent::Log { step, line } => writeln!(self.out, "#{} | {line}", step.number),
        };
    }

    fn finish(&mut self) {
        let _ = self.out.flush();
    }
}

/// Nothing while building; the caller reports the error, if any.
pub struct QuietProgress;

impl ProgressSink for QuietProgress {
    fn event(&mut self, _event: &BuildEvent) {}
}

/// A live view: a spinner line per running step with its latest output line; finished
/// steps print once above the live lines with a mark and their duration.
pub struct TtyProgress {
    multi: MultiProgress,
    running: BTreeMap<usize, (ProgressBar, Instant)>,
    style: ProgressStyle,
}

impl Default for TtyProgress {
    fn default() -> Self {
        TtyProgress::new()
    }
}

impl TtyProgress {
    pub fn new() -> TtyProgress {
        TtyProgress::with_target(ProgressDrawTarget::stderr())
    }

    /// The view drawn on `target` (a terminal emulator in the tests).
    pub fn with_target(target: ProgressDrawTarget) -> TtyProgress {
        let style = ProgressStyle::with_template("{spinner} {prefix} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        TtyProgress {
            multi: MultiProgress::with_draw_target(target),
            running: BTreeMap::new(),
            style,
        }
    }

    fn finish_step(&mut self, number: usize, line: String) {
        if let Some((bar, _)) = self.running.remove(&number) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        let _ = self.multi.println(line);
    }
}

impl ProgressSink for TtyProgress {
    fn event(&mut self, event: &BuildEvent) {
        match event {
            BuildEvent::Started(step) => {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(self.style.clone());
                bar.set_prefix(format!("#{} {}", step.number, step.name));
                bar.enable_steady_tick(Duration::from_millis(120));
                self.running.insert(step.number, (bar, Instant::now()));
            }
            BuildEvent::Cached(step) => self.finish_step(
                step.number,
                format!("= #{} {} (cached)", step.number, step.name),
            ),
            BuildEvent::Done { step, duration } => self.finish_step(
                step.number,
                format!("✓ #{} {} {}", step.number, step.name, seconds(*duration)),
            ),
            BuildEvent::Failed { step, error } => self.finish_step(
                step.number,
                format!("✗ #{} {}: {error}", step.number, step.name),
            ),
            BuildEvent::Log { step, line } => {
                if let Some((bar, _)) = self.running.get(&step.number) {
                    let mut shown: String = line.chars().take(80).collect();
                    if shown.len() < line.len() {
                        shown.push('…');
                    }
                    bar.set_message(format!("| {shown}"));
                }
            }
        }
    }

    fn finish(&mut self) {
        for (_, (bar, _)) in std::mem::take(&mut self.running) {
            bar.finish_and_clear();
        }
        let _ = self.multi.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::moby::buildkit::v1::{Vertex, VertexLog};

    fn vertex(digest: &str, name: &str, started: Option<i64>, completed: Option<i64>) -> Vertex {
        let mut v = Vertex {
            digest: digest.into(),
            name: name.into(),
            ..Default::default()
        };
        if let Some(seconds) = started {
            let mut at = v.started.take().unwrap_or_default();
            at.seconds = seconds;
            v.started = Some(at);
        }
        if let Some(seconds) = completed {
            let mut at = v.completed.take().unwrap_or_default();
            at.seconds = seconds;
            v.completed = Some(at);
        }
        v
    }

    fn log(digest: &str, msg: &str) -> VertexLog {
        VertexLog {
            vertex: digest.into(),
            msg: msg.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    /// Repeated vertices, output split mid-line, a cached step and a failed one: one event
    /// per change, one per line, and the plain rendering of them.
    #[test]
    fn folds_a_status_stream_into_events() {
        let mut decoder = StatusDecoder::new();
        let mut plain = PlainProgress::new(Vec::new());
        let mut cached = vertex("sha256:a", "[1/3] FROM base", None, None);
        cached.cached = true;
        let mut failed = vertex("sha256:c", "[3/3] RUN false", Some(105), Some(106));
        failed.error = "exit code: 1".into();
        let messages = [
            StatusResponse {
                vertexes: vec![
                    cached,
                    vertex("sha256:b", "[2/3] RUN make", Some(100), None),
                ],
                ..Default::default()
            },
            StatusResponse {
                vertexes: vec![vertex("sha256:b", "[2/3] RUN make", Some(100), None)],
                logs: vec![
                    log("sha256:b", "compiling\nlin"),
                    log("sha256:b", "king\r\nno newline"),
                ],
                ..Default::default()
            },
            StatusResponse {
                vertexes: vec![vertex("sha256:b", "[2/3] RUN make", Some(100), Some(102))],
                ..Default::default()
            },
            StatusResponse {
                vertexes: vec![failed],
                logs: vec![log("sha256:c", "why\n")],
                ..Default::default()
            },
        ];
        for message in &messages {
            for event in decoder.decode(message) {
                plain.event(&event);
            }
        }
        let text = String::from_utf8(plain.into_inner()).expect("utf-8");
        assert_eq!(
            text,
            "#1 [1/3] FROM base CACHED\n\
             #2 [2/3] RUN make\n\
             #2 | compiling\n\
             #2 | linking\n\
             #2 | no newline\n\
             #2 DONE 2.0s\n\
             #3 [3/3] RUN false\n\
             #3 | why\n\
             #3 ERROR: exit code: 1\n"
        );
        let records = decoder.records();
        assert_eq!(
            records
                .iter()
                .map(|r| (r.number, r.cached, r.duration(), r.error.clone()))
                .collect::<Vec<_>>(),
            [
                (1, true, None, None),
                (2, false, Some(Duration::from_secs(2)), None),
                (
                    3,
                    false,
                    Some(Duration::from_secs(1)),
                    Some("exit code: 1".into())
                ),
            ]
        );
        let failures = decoder.failures(20);
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].1, ["why"]);
    }

    /// The live view on a terminal emulator: running steps as spinner lines with their
    /// latest output, finished steps printed once above them, nothing left on finish
    /// but the finished lines.
    #[test]
    fn tty_view_on_a_terminal() {
        let term = indicatif::InMemoryTerm::new(12, 200);
        let mut view =
            TtyProgress::with_target(ProgressDrawTarget::term_like(Box::new(term.clone())));
        let step = |number: usize, name: &str| Step {
            number,
            name: name.to_string(),
        };
        let base = step(
            1,
            "[runtime-base 1/1] FROM dockgen-test/bookworm-python:3.11",
        );
        let fetch = step(2, "[wheel-builder 2/3] RUN python3.11 /dockgen/fetch.py");
        let pip = step(3, "[wheel-builder 3/3] RUN pip wheel");
        view.event(&BuildEvent::Cached(base));
        view.event(&BuildEvent::Started(fetch.clone()));
        view.event(&BuildEvent::Started(pip.clone()));
        view.event(&BuildEvent::Log {
            step: fetch.clone(),
            line: format!("fetched alpha-1.0-py3-none-any.whl {}", "x".repeat(90)),
        });
        view.event(&BuildEvent::Log {
            step: pip.clone(),
            line: "Processing /wheelhouse/alpha-1.0-py3-none-any.whl".into(),
        });
        // Drawing is rate-limited; the bars' own draw brings the screen up to date.
        for bar in view
            .running
            .values()
            .map(|(bar, _)| bar.clone())
            .collect::<Vec<_>>()
        {
            bar.tick();
        }
        // The spinner frame and the elapsed time move; everything else is fixed.
        let live: Vec<String> = term
            .contents()
            .lines()
            .map(|line| {
                let line = line.trim_end();
                let Some((first, rest)) = line.split_once(' ') else {
                    return line.to_string();
                };
                if first
                    .chars()
                    .all(|c| ('\u{2800}'..='\u{28ff}').contains(&c))
                {
                    let (shown, elapsed) = rest.rsplit_once(' ').unwrap_or((rest, ""));
                    assert!(elapsed.ends_with('s'), "elapsed time: {line}");
                    format!("<spinner> {shown} <elapsed>")
                } else {
                    line.to_string()
                }
            })
            .collect();
        insta::assert_snapshot!("tty_live", live.join("\n"));

        view.event(&BuildEvent::Done {
            step: fetch,
            duration: Duration::from_millis(1500),
        });
        view.event(&BuildEvent::Failed {
            step: pip,
            error: "process did not complete successfully: exit code: 1".into(),
        });
        view.finish();
        insta::assert_snapshot!("tty_finished", term.contents());
    }
}
