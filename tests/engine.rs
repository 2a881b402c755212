//! `dockgen::build::engine` against the real local Docker engine: BuildKit builds of small
//! multi-stage plans FROM the local test base image (no registry is reachable, and no step
//! fetches anything), cache reuse, a failing step, a local export, an unreachable engine,
//! and the plain progress output.
//!
//! Skipped, with the reason printed, only when no engine answers at DOCKER_HOST.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dockgen::build::engine::{BuildOutcome, BuildRequest, Engine, EngineError};
use dockgen::build::progress::{PlainProgress, ProgressSink, QuietProgress};

use crate::support::docker::{BASE_IMAGE, ensure_base_image, nonce};
use crate::support::engine_proxy::EngineProxy;

/// The engine, with the base image in place; `None` (after saying why) when no engine answers.
async fn engine() -> Option<Engine> {
    let engine = match Engine::from_env() {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("skipped: {e}");
            return None;
        }
    };
    if let Err(e) = engine.ping().await {
        eprintln!("skipped: {e}");
        return None;
    }
    ensure_base_image();
    Some(engine)
}

/// A context directory with `files` written in it.
fn context(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write context file");
    }
    dir
}

fn multi_stage(nonce: &str) -> String {
    format!(
        "FROM {BASE_IMAGE} AS base\n\
         RUN --mount=type=cache,id=dockgen-engine-test,target=/cache \\\n    \
         echo {nonce} > /cache/seen && python3 -c \"print('built {nonce}')\" > /built.txt\n\
         \n\
         FROM base AS app\n\
         COPY app/ /app/\n\
         RUN python3 /app/main.py > /app/out.txt\n\
         \n\
         FROM scratch AS export\n\
         COPY --from=app /app/out.txt /built.txt /\n"
    )
}

fn request(dir: &Path, target: &str) -> BuildRequest {
    BuildRequest {
        context: dir.to_path_buf(),
        target: Some(target.to_string()),
        ..Default::default()
    }
}

fn names(outcome: &BuildOutcome, cached: bool) -> Vec<String> {
    outcome
        .steps
        .iter()
        .filter(|s| s.cached == cached && !s.name.starts_with("[internal]"))
        .map(|s| s.name.clone())
        .collect()
}

async fn remove_image(engine: &Engine, id: &str) {
    let options = bollard::query_parameters::RemoveImageOptions {
        force: true,
        ..Default::default()
    };
    let _ = engine.docker().remove_image(id, Some(options), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builds_a_target_stage_then_reuses_the_cache() {
    let Some(engine) = engine().await else { return };
    let nonce = nonce();
    let dir = context(&[
        ("Dockerfile", &multi_stage(&nonce)),
        ("app/main.py", &format!("print('hello {nonce}')\n")),
        // Not in the `.dockerignore`: must not be sent.
        ("secret.txt", "do not send"),
        (".dockerignore", "# rendered\n*\n!app/\n"),
    ]);
    let tag = format!("dockgen-engine-test:{nonce}");
    let mut request = request(dir.path(), "app");
    request.tags = vec![tag.clone()];
    let first = engine
        .build(request.clone(), &mut QuietProgress)
        .await
        .expect("first build");
    let id = first.image_id.clone().expect("an image id");
    assert!(
        id.starts_with("sha256:") && id.len() == 71,
        "image id `{id}`"
    );
    let inspected = engine
        .docker()
        .inspect_image(&tag)
        .await
        .expect("the tag names the image");
    assert_eq!(inspected.id.as_deref(), Some(id.as_str()));
    // Dockerfile, .dockerignore, app/ and app/main.py: four small entries of a tar.
    assert!(
        first.context_bytes > 0 && first.context_bytes < 16 * 1024,
        "context of {} bytes",
        first.context_bytes
    );
    let ran = names(&first, false);
    assert!(
        ran.iter().any(|n| n.starts_with("[base 2/2] RUN"))
            && ran.iter().any(|n| n.starts_with("[app 1/2] COPY app/"))
            && ran.iter().any(|n| n.starts_with("[app 2/2] RUN")),
        "steps that ran: {ran:#?}"
    );
    assert!(first.steps.iter().all(|s| s.error.is_none()));

    let second = engine
        .build(request, &mut QuietProgress)
        .await
        .expect("second build");
    assert_eq!(second.image_id, first.image_id);
    let cached = names(&second, true);
    let mut expected = vec![
        "[app 1/2] COPY app/ /app/".to_string(),
        "[app 2/2] RUN python3 /app/main.py > /app/out.txt".to_string(),
    ];
    expected.retain(|e| !cached.contains(e));
    assert!(
        expected.is_empty(),
        "not cached: {expected:?}; cached: {cached:#?}"
    );
    assert!(
        cached.iter().any(|n| n.starts_with("[base 2/2] RUN")),
        "cached: {cached:#?}"
    );
    remove_image(&engine, &tag).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_run_names_the_step_and_shows_its_output() {
    let Some(engine) = engine().await else { return };
    let nonce = nonce();
    let dir = context(&[(
        "Dockerfile",
        &format!(
            "FROM {BASE_IMAGE}\n\
             RUN echo 'preparing {nonce}' && python3 -c \"import sys; print('the lock is stale'); sys.exit(3)\"\n"
        ),
    )]);
    let error = engine
        .build(request(dir.path(), ""), &mut QuietProgress)
        .await
        .expect_err("the RUN exits 3");
    let EngineError::StepFailed { step, output, .. } = &error else {
        panic!("not a step failure: {error}");
    };
    assert_eq!(
        step,
        &format!(
            "[2/2] RUN echo 'preparing {nonce}' && python3 -c \"import sys; print('the lock is stale'); sys.exit(3)\""
        )
    );
    assert_eq!(
        output,
        &[
            format!("preparing {nonce}"),
            "the lock is stale".to_string()
        ]
    );
    let message = error.to_string().replace(&nonce, "NONCE");
    insta::assert_snapshot!(message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_a_scratch_stage_to_a_local_directory() {
    let Some(engine) = engine().await else { return };
    let nonce = nonce();
    let dir = context(&[
        ("Dockerfile", &multi_stage(&nonce)),
        ("app/main.py", &format!("print('hello {nonce}')\n")),
    ]);
    let out = tempfile::tempdir().expect("temp dir");
    let target = out.path().join("artifacts");
    let mut request = request(dir.path(), "export");
    request.export_to = Some(target.clone());
    let outcome = engine
        .build(request, &mut QuietProgress)
        .await
        .expect("export build");
    assert_eq!(outcome.image_id, None);
    let mut found: Vec<(String, String)> = std::fs::read_dir(&target)
        .expect("export dir")
        .map(|e| {
            let path: PathBuf = e.expect("entry").path();
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            (
                name,
                std::fs::read_to_string(&path).expect("read exported file"),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("built.txt".to_string(), format!("built {nonce}\n")),
            ("out.txt".to_string(), format!("hello {nonce}\n")),
        ]
    );
}

#[tokio::test]
async fn an_unreachable_engine_fails_fast_naming_the_address() {
    let engine = Engine::connect("tcp://127.0.0.1:1", false).expect("a well-formed address");
    let start = Instant::now();
    let error = engine.ping().await.expect_err("nothing listens on port 1");
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "{:?}",
        start.elapsed()
    );
    insta::assert_snapshot!(error.to_string());

    let missing =
        Engine::connect("unix:///nonexistent/docker.sock", false).expect_err("no such socket");
    insta::assert_snapshot!("missing_socket", missing.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_progress_of_a_small_build() {
    let Some(engine) = engine().await else { return };
    let nonce = nonce();
    let dir = context(&[
        (
            "Dockerfile",
            &format!(
                "FROM {BASE_IMAGE}\n\
                 ARG GREETING\n\
                 COPY hello.txt /hello.txt\n\
                 RUN echo {nonce} \"$GREETING\" && cat /hello.txt\n"
            ),
        ),
        // The nonce in the file too: a COPY of content seen before would be cached.
        ("hello.txt", &format!("hello\n{nonce}\n")),
    ]);
    let mut plain = PlainProgress::new(Vec::new());
    let mut request = request(dir.path(), "");
    request.build_args = [("GREETING".to_string(), "hi from a build arg".to_string())].into();
    request.platform = Some("linux/amd64".into());
    request.network_mode = Some("none".into());
    engine.build(request, &mut plain).await.expect("build");
    plain.finish();
    let text = String::from_utf8(plain.into_inner()).expect("utf-8");
    assert_eq!(
        text.lines()
            .filter(|line| line.contains("] FROM ") && line.contains(BASE_IMAGE))
            .count(),
        1,
        "{text}"
    );
    insta::assert_snapshot!(normalize(&text, &nonce));
}

/// Durations, digests, sizes and the nonce vary between runs; nothing else should.
/// BuildKit also shares the `FROM` step between builds running at once (other tests
/// build on the same base image), and names it after whichever build asked first, so
/// that step's stage label is masked. Whether that step is `CACHED` depends on whether
/// an earlier build (on this engine, since its build cache was last pruned) resolved the
/// base image, so its outcome is masked too. And when that shared step is first
/// reported (before or after the `COPY`) varies, and with it the step numbers the
/// progress gives in order of appearance: the steps are numbered again, in the order
/// their lines appear, and the `FROM` line, whose place varies too, is left out (the
/// test checks it apart).
fn normalize(text: &str, nonce: &str) -> String {
    let mut out = String::new();
    let mut from_step: Option<String> = None;
    for line in text.replace(nonce, "NONCE").lines() {
        if line.contains("] FROM ") {
            from_step = line.split(' ').next().map(str::to_string);
        } else if from_step.as_deref().is_some_and(|step| {
            line == format!("{step} DONE").as_str() || line.starts_with(&format!("{step} DONE "))
        }) {
            continue;
        }
        let line = line
            .strip_suffix(" CACHED")
            .filter(|_| line.contains("] FROM "))
            .unwrap_or(line);
        let masked;
        let line = match (line.find(" ["), line.find("] FROM ")) {
            (Some(open), Some(close)) if open < close => {
                masked = format!("{} [..]{}", &line[..open], &line[close + 1..]);
                masked.as_str()
            }
            _ => line,
        };
        let mut words: Vec<String> = Vec::new();
        for word in line.split(' ') {
            let word = if word.ends_with('s') && word[..word.len() - 1].parse::<f64>().is_ok() {
                "N.Ns".to_string()
            } else if let Some(pos) = word.find("sha256:") {
                format!("{}sha256:DIGEST", &word[..pos])
            } else {
                word.to_string()
            };
            words.push(word);
        }
        out.push_str(&words.join(" "));
        out.push('\n');
    }
    renumber_steps(&out, from_step.as_deref())
}

/// `#N` at the start of each line numbered again by first appearance; the lines of
/// step `from` left out.
fn renumber_steps(text: &str, from: Option<&str>) -> String {
    let mut numbers: std::collections::HashMap<String, String> = Default::default();
    let mut out = String::new();
    for line in text.lines() {
        let (step, rest) = line.split_once(' ').unwrap_or((line, ""));
        let step = if Some(step) == from {
            continue;
        } else if !step.starts_with('#') {
            step.to_string()
        } else {
            let next = format!("#{}", numbers.len() + 1);
            numbers.entry(step.to_string()).or_insert(next).clone()
        };
        out.push_str(&step);
        if !rest.is_empty() {
            out.push(' ');
            out.push_str(rest);
        }
        out.push('\n');
    }
    out
}

#[test]
fn the_context_is_what_the_rendered_dockerignore_lets_through() {
    let dir = context(&[
        ("Dockerfile", "FROM scratch\n"),
        (
            ".dockerignore",
            "# rendered\n*\n!requirements.lock\n!dockgen/\n!wheels/\n",
        ),
        ("requirements.lock", ""),
        ("dockgen/verify.py", ""),
        ("dockgen/sub/target.json", ""),
        ("secret.env", ""),
        ("other/file", ""),
    ]);
    let files = dockgen::build::engine::context_files(dir.path()).expect("context");
    let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    assert_eq!(
        files,
        [
            ".dockerignore",
            "Dockerfile",
            "dockgen",
            "dockgen/sub",
            "dockgen/sub/target.json",
            "dockgen/verify.py",
            "requirements.lock",
        ]
    );

    std::fs::write(dir.path().join(".dockerignore"), "*\n!dockgen/\n**/*.pyc\n").expect("write");
    let error = dockgen::build::engine::context_files(dir.path()).expect_err("a glob");
    insta::assert_snapshot!(
        error
            .to_string()
            .replace(&dir.path().display().to_string(), "CONTEXT")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_going_away_mid_build_is_a_clean_error() {
    let Some(_) = engine().await else { return };
    // Cuts the connection as soon as the long step starts.
    let proxy = EngineProxy::cutting_on("sleep");
    let address = proxy.address().to_string();
    let engine = Engine::connect(&address, false).expect("proxy address");
    let nonce = nonce();
    let dir = context(&[(
        "Dockerfile",
        &format!(
            "FROM scratch AS data\nCOPY Dockerfile /\n\nFROM {BASE_IMAGE}\nRUN echo {nonce} && sleep 30\n"
        ),
    )]);
    let out = tempfile::tempdir().expect("temp dir");
    let mut request = request(dir.path(), "");
    request.export_to = Some(out.path().join("artifacts"));
    let start = Instant::now();
    let error = engine
        .build(request, &mut QuietProgress)
        .await
        .expect_err("the connection is cut");
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    let message = error
        .to_string()
        .replace(&nonce, "NONCE")
        .replace(&address, "ADDRESS");
    assert!(
        matches!(error, EngineError::Disconnected { .. }),
        "{message}"
    );
    insta::assert_snapshot!(message);
    let left: Vec<_> = std::fs::read_dir(out.path()).expect("out dir").collect();
    assert!(left.is_empty(), "half-written export: {left:?}");
}
