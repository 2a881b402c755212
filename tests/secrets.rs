//! Secrets never reach an output: every command is run with credentials in play (a
//! literal password in an input's `--index-url`, a `${TOK}` expanded into an index
//! URL's userinfo, into an index URL's path and into a direct URL,
//! `DOCKGEN_INDEX_<NAME>_PASSWORD`, a netrc entry, a foreign lock whose header carries
//! a credentialed URL and a `?token=`), succeeding and failing, quiet and at `-v`/`-vv`;
//! then every stdout, every stderr and every file dockgen wrote under the temp dir (the
//! cache included) is searched for each secret and the Basic authorizations made of it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::fixture_index::{Auth, FixtureFile, FixtureIndex, base64_lite};
use crate::support::wheels::WheelSpec;

/// In `requirements.in` as written: `http://ci-bot:LITERAL@.../simple/`.
const LITERAL: &str = "lit-pw-9f2e71c4";
/// The value of `${TOK}`: in an index URL's userinfo and path, and a direct URL's path.
const TOKEN: &str = "tok-val-82bc4f1d";
/// `DOCKGEN_INDEX_VAULT_PASSWORD`.
const ENV_PASSWORD: &str = "env-pw-5a7e20b3";
/// In a foreign lock's header only: userinfo and a `?token=`.
const HEADER_PASSWORD: &str = "hdr-pw-c0ffee77";
const HEADER_TOKEN: &str = "hdr-qt-d00dfeed";

fn pure(name: &str, version: &str) -> FixtureFile {
    let spec = WheelSpec::new(name, version);
    FixtureFile::from_spec(&spec).uploaded("2024-06-01T00:00:00Z")
}

/// What one run printed.
struct Run {
    args: String,
    code: i32,
    stdout: String,
    stderr: String,
}

struct Scratch {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    /// Files the test wrote (inputs that hold secrets on purpose), with their bytes.
    inputs: BTreeMap<PathBuf, Vec<u8>>,
    runs: Vec<Run>,
}

impl Scratch {
    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&mut self, relative: &str, text: &str) {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("create dir");
        std::fs::write(&path, text).expect("write input");
        self.inputs.insert(path, text.as_bytes().to_vec());
    }

    /// `dockgen ARGS` in `dir` (relative), with the scratch environment plus `env`.
    fn run_in(&mut self, dir: &str, args: &[&str], env: &[(&str, &str)]) -> &Run {
        let mut command = crate::support::dockgen_command(self.path());
        command
            .current_dir(self.path().join(dir))
            .args(args)
            .env("DOCKER_HOST", closed_port_url("tcp"));
        for (key, value) in &self.env {
            command.env(key, value);
        }
        for (key, value) in env {
            command.env(key, value);
        }
        let output = command.output().expect("run dockgen");
        self.runs.push(Run {
            args: format!("{args:?} in {dir}"),
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
        self.runs.last().expect("just pushed")
    }

    fn run(&mut self, args: &[&str]) -> &Run {
        self.run_in(".", args, &[])
    }

    /// A run that must exit with `code`.
    fn expect(&mut self, code: i32, args: &[&str]) -> &Run {
        self.expect_env(code, args, &[])
    }

    fn expect_env(&mut self, code: i32, args: &[&str], env: &[(&str, &str)]) -> &Run {
        let run = self.run_in(".", args, env);
        assert_eq!(
            run.code, code,
            "dockgen {}:\n{}\n{}",
            run.args, run.stdout, run.stderr
        );
        run
    }
}

/// A URL on loopback where nothing listens (the port was bound, then released).
fn closed_port_url(scheme: &str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("{scheme}://127.0.0.1:{port}")
}

fn host(fixture: &FixtureIndex) -> String {
    fixture.base().trim_start_matches("http://").to_owned()
}

/// Every form a secret could take in an output.
fn needles() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for secret in [LITERAL, TOKEN, ENV_PASSWORD, HEADER_PASSWORD, HEADER_TOKEN] {
        out.push((secret.to_owned(), secret.to_owned()));
        for user in ["ci-bot", "__token__", "vault-bot", "u"] {
            out.push((
                format!("Basic {user}:{secret}"),
                base64_lite::encode(format!("{user}:{secret}").as_bytes()),
            ));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn no_secret_reaches_any_output_of_any_command() {
    // `lib` behind the literal password (Basic auth checked), `other` on an index
    // reached through `${TOK}` userinfo, `gated` behind the environment's token (a
    // profile index, Basic auth checked).
    let private = FixtureIndex::builder()
        .auth(Auth::Basic {
            username: "ci-bot".into(),
            password: LITERAL.into(),
        })
        .project("lib", vec![pure("lib", "1.0")])
        .start();
    let tokened = FixtureIndex::builder()
        .project("other", vec![pure("other", "2.0")])
        .start();
    // `pathy` on an index whose path holds the token, as some hosts' do.
    let pathed = FixtureIndex::builder()
        .prefix(&format!("/{TOKEN}"))
        .project("pathy", vec![pure("pathy", "4.0")])
        .start();
    let vault = FixtureIndex::builder()
        .auth(Auth::Basic {
            username: "__token__".into(),
            password: ENV_PASSWORD.into(),
        })
        .project("gated", vec![pure("gated", "3.0")])
        .start();

    let mut scratch = Scratch {
        dir: tempfile::tempdir().expect("tempdir"),
        env: Vec::new(),
        inputs: BTreeMap::new(),
        runs: Vec::new(),
    };
    // netrc serves the audit views, which read the lock's (credential-free) index
    // URLs; it names hosts, not ports, so every loopback index without credentials of
    // its own gets its password.
    let netrc = format!("machine 127.0.0.1\nlogin ci-bot\npassword {LITERAL}\n");
    scratch.write("netrc", &netrc);
    let netrc_path = scratch.path().join("netrc").display().to_string();
    scratch.env = vec![
        ("NETRC".into(), netrc_path),
        ("TOK".into(), TOKEN.into()),
        ("DOCKGEN_INDEX_VAULT_PASSWORD".into(), ENV_PASSWORD.into()),
    ];
    scratch.write(
        "vault.yaml",
        &format!(
            "name: vault\nextends: cpu-x86_64\nindexes:\n  - name: vault\n    url: {}\n    packages: [gated]\n",
            vault.url()
        ),
    );
    let good = format!(
        "--index-url http://ci-bot:{LITERAL}@{}/simple/\n\
         --extra-index-url http://ci-bot:${{TOK}}@{}/simple/\n\
         --extra-index-url http://{}/${{TOK}}/simple/\n\
         lib\nother\ngated\npathy\n",
        host(&private),
        host(&tokened),
        host(&pathed)
    );
    scratch.write("requirements.in", &good);

    // Locks that succeed, at every log level, and their checks.
    scratch.expect(0, &["lock", "--profile", "vault.yaml"]);
    scratch.expect(0, &["lock", "--profile", "vault.yaml", "-v", "--upgrade"]);
    scratch.expect(0, &["lock", "--profile", "vault.yaml", "-vv", "--pylock"]);
    scratch.expect(0, &["lock", "--profile", "vault.yaml", "--check", "-vv"]);
    let lock = std::fs::read_to_string(scratch.path().join("locks/vault.txt")).expect("lock");
    assert!(lock.contains("gated==3.0"), "{lock}");
    assert!(
        lock.contains("lib==1.0") && lock.contains("other==2.0") && lock.contains("pathy==4.0"),
        "{lock}"
    );
    // The lock names the token in the index path by its variable, as pip reads it.
    assert!(
        lock.contains(&format!(
            "--extra-index-url http://{}/${{TOK}}/simple/\n",
            host(&pathed)
        )),
        "{lock}"
    );

    // A foreign lock (hand-edited, another tool's) whose header carries credentials.
    let foreign = lock
        .replace(
            &format!("http://{}/simple/", host(&private)),
            &format!("http://u:{HEADER_PASSWORD}@{}/simple/", host(&private)),
        )
        .replace(
            &format!("http://{}/simple/", host(&tokened)),
            &format!("http://{}/simple/?token={HEADER_TOKEN}", host(&tokened)),
        );
    assert_ne!(foreign, lock, "the header was not edited:\n{lock}");
    scratch.write("old/vault.txt", &foreign);

    // `lock --check` against the foreign lock: stale, and its diff shows the header.
    std::fs::copy(
        scratch.path().join("old/vault.txt"),
        scratch.path().join("locks/vault.txt"),
    )
    .expect("copy");
    scratch.expect(1, &["lock", "--profile", "vault.yaml", "--check"]);
    scratch.expect(0, &["lock", "--profile", "vault.yaml", "-v"]);

    // Every audit view and generator, on the lock dockgen wrote.
    for args in [
        &["render", "--profile", "vault.yaml", "-vv"][..],
        &["render", "--profile", "vault.yaml", "--check"],
        &["matrix", "--profile", "vault.yaml"],
        &["tree", "--profile", "vault.yaml"],
        &["tree", "--profile", "vault.yaml", "--json-tree"],
        &["check", "--profile", "vault.yaml", "-vv"],
        &["check", "--profile", "vault.yaml", "--format", "json"],
        &["sbom", "--profile", "vault.yaml", "-v"],
        &["sbom", "--profile", "vault.yaml", "-o", "sbom.json"],
        &["report", "--profile", "vault.yaml", "-vv"],
        &["profiles"],
        &["profiles", "show", "vault.yaml"],
    ] {
        let run = scratch.run(args);
        assert_eq!(
            run.code, 0,
            "dockgen {}:\n{}\n{}",
            run.args, run.stdout, run.stderr
        );
    }

    // `diff` and the audit views on the foreign lock.
    for format in ["text", "json"] {
        let run = scratch.run(&[
            "diff",
            "old/vault.txt",
            "locks/vault.txt",
            "--format",
            format,
            "-vv",
        ]);
        assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
        assert!(run.stdout.contains("index"), "{}", run.stdout);
    }
    for args in [
        &["tree", "--profile", "vault.yaml", "--lock", "old/vault.txt"][..],
        &[
            "check",
            "--profile",
            "vault.yaml",
            "--lock",
            "old/vault.txt",
            "-vv",
        ],
        &[
            "sbom",
            "--profile",
            "vault.yaml",
            "--lock",
            "old/vault.txt",
            "-o",
            "old-sbom.json",
        ],
        &[
            "report",
            "--profile",
            "vault.yaml",
            "--lock",
            "old/vault.txt",
            "-o",
            "old.html",
        ],
    ] {
        scratch.run(args);
    }
    // A foreign lock's credentials never enter a rendered build.
    let run = scratch.run(&[
        "render",
        "--profile",
        "vault.yaml",
        "--lock",
        "old/vault.txt",
        "--out-dir",
        "old-build",
    ]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("carries credentials"), "{}", run.stderr);

    // Build fails fast: no engine answers on a closed loopback port.
    let run = scratch.run(&["build", "--profile", "vault.yaml", "-vv"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);

    // Failing runs: each input below is broken in one way, with a secret on the line.
    let unreachable = closed_port_url("http");
    let failing: Vec<(&str, String, &[&str])> = vec![
        (
            "bad option after a credentialed URL",
            format!(
                "--index-url http://ci-bot:{LITERAL}@{}/simple/ junk\nlib\n",
                host(&private)
            ),
            &[],
        ),
        (
            "invalid URL with a literal password",
            format!("--index-url http://ci-bot:{LITERAL}@127.0.0.1:99999/simple/\nlib\n"),
            &[],
        ),
        (
            "invalid URL with an expanded token",
            "--index-url http://ci-bot:${TOK}@127.0.0.1:99999/simple/\nlib\n".to_owned(),
            &[],
        ),
        (
            "a bad requirement after an expanded token",
            "--extra-index-url http://${TOK}@127.0.0.1:1/simple/\nlib @@ ${TOK}\n".to_owned(),
            &[],
        ),
        (
            "unreachable index",
            format!(
                "--index-url http://ci-bot:${{TOK}}@{}/simple/\nlib\n",
                &unreachable[7..]
            ),
            &["-vv", "--retries", "0", "--timeout", "2"],
        ),
        (
            "unreachable index, literal password",
            format!(
                "--index-url http://ci-bot:{LITERAL}@{}/simple/\nlib\n",
                &unreachable[7..]
            ),
            &["-v", "--retries", "0", "--timeout", "2"],
        ),
        (
            "a token in an index URL's path",
            format!(
                "--index-url http://{}/${{TOK}}/simple/\nlib\n",
                host(&private)
            ),
            &["-vv", "--retries", "0"],
        ),
        (
            "a token in an index URL's query",
            format!(
                "--index-url http://{}/simple/?token={LITERAL}\nnothing-here\n",
                host(&private)
            ),
            &["-vv", "--retries", "0"],
        ),
        (
            "direct URL refused",
            format!(
                "--index-url http://ci-bot:{LITERAL}@{}/simple/\nlib @ http://127.0.0.1:1/${{TOK}}/lib-1.0-py3-none-any.whl\n",
                host(&private)
            ),
            &["-vv"],
        ),
        (
            "direct URL with userinfo refused",
            "lib @ http://ci-bot:${TOK}@127.0.0.1:1/lib-1.0-py3-none-any.whl\n".to_owned(),
            &[],
        ),
        (
            "no solution",
            format!(
                "--index-url http://ci-bot:{LITERAL}@{}/simple/\nlib>5\n",
                host(&private)
            ),
            &["-v"],
        ),
    ];
    for (what, input, extra) in &failing {
        scratch.write("bad/requirements.in", input);
        let mut args = vec!["lock", "--profile", "../vault.yaml", "--locks-dir", "locks"];
        args.extend_from_slice(extra);
        let run = scratch.run_in("bad", &args, &[]);
        assert!(
            run.code == 1 || run.code == 2,
            "{what}: exit {}\n{}\n{}",
            run.code,
            run.stdout,
            run.stderr
        );
        assert!(!run.stderr.is_empty(), "{what}: no message");
    }
    // The environment's token, wrong: refused with a 401 that names no credential.
    scratch.expect_env(
        2,
        &[
            "lock",
            "--profile",
            "vault.yaml",
            "--cache-dir",
            "cache-wrong",
            "-vv",
            "--retries",
            "0",
        ],
        &[("DOCKGEN_INDEX_VAULT_PASSWORD", "wrong-but-also-secret")],
    );
    // Command-line values clap rejects are quoted back: masked.
    scratch.expect(
        2,
        &[
            "render",
            "--profile",
            "vault.yaml",
            "--index-url",
            &format!("http://ci-bot:{LITERAL}@127.0.0.1:99999/simple/"),
        ],
    );
    scratch.expect(
        2,
        &[
            "render",
            "--profile",
            "vault.yaml",
            "--index-url",
            &format!("http://ci-bot:{LITERAL}@127.0.0.1/simple/"),
        ],
    );

    // Nothing printed holds a secret...
    let mut leaks = Vec::new();
    for run in &scratch.runs {
        for (what, needle) in needles() {
            for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
                if text.contains(&needle) {
                    leaks.push(format!("{what} on the {stream} of {}:\n{text}", run.args));
                }
            }
        }
        assert!(
            !run.stderr.contains("wrong-but-also-secret"),
            "{}",
            run.stderr
        );
    }
    // ... nor any file dockgen wrote (the inputs hold them on purpose).
    let written: Vec<PathBuf> = crate::support::walk(scratch.path())
        .into_iter()
        .filter(|path| {
            scratch
                .inputs
                .get(path)
                .is_none_or(|bytes| std::fs::read(path).ok().as_ref() != Some(bytes))
        })
        .collect();
    for expected in [
        "locks/vault.txt",
        "locks/pylock.vault.toml",
        "build/vault/Dockerfile",
        "sbom.json",
        "report.html",
        "docker-bake.hcl",
    ] {
        assert!(
            written.contains(&scratch.path().join(expected)),
            "`{expected}` was not written: {written:#?}"
        );
    }
    assert!(
        written
            .iter()
            .any(|p| p.starts_with(scratch.path().join("cache"))),
        "the cache is empty"
    );
    for path in &written {
        let bytes = std::fs::read(path).expect("read written file");
        for (what, needle) in needles() {
            if contains(&bytes, &needle) {
                leaks.push(format!("{what} in `{}`", path.display()));
            }
        }
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n\n"));

    // The masks say where something was left out.
    let shown: String = scratch
        .runs
        .iter()
        .map(|r| format!("{}\n{}", r.stdout, r.stderr))
        .collect();
    assert!(shown.contains("http://ci-bot:****@"), "{shown}");
    assert!(shown.contains("/${TOK}/"), "{shown}");
}

/// A parse error quotes the line as written: a literal password masked, a `${VAR}`
/// shown by name, the caret under the same token as in the file.
#[test]
fn parse_errors_quote_the_line_with_its_secrets_masked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |input: &str| {
        std::fs::write(dir.path().join("requirements.in"), input).expect("write");
        let output = Command::new(env!("CARGO_BIN_EXE_dockgen"))
            .current_dir(dir.path())
            .args(["lock", "--offline"])
            .env("TOK", TOKEN)
            .env("DOCKGEN_CACHE_DIR", dir.path().join("cache"))
            .output()
            .expect("run dockgen");
        assert_eq!(output.status.code(), Some(2));
        String::from_utf8_lossy(&output.stderr).replace(&dir.path().display().to_string(), "[tmp]")
    };
    insta::assert_snapshot!(
        run(&format!("--index-url https://ci-bot:{LITERAL}@host.invalid/simple junk\n")),
        @r"
    error: [tmp]/requirements.in:1:64: `junk` is not an option, nor the value of one: a line that starts with an option holds only options; put a requirement on a line of its own
        --index-url https://ci-bot:****@host.invalid/simple junk
                                                            ^^^^
    "
    );
    insta::assert_snapshot!(
        run("-i https://${TOK}@host.invalid:99999/simple\n"),
        @r"
    error: [tmp]/requirements.in:1:4: invalid URL: invalid port number; expected an absolute URL like `https://pypi.org/simple`
        -i https://${TOK}@host.invalid:99999/simple
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
    "
    );
    insta::assert_snapshot!(
        run(&format!("six ; python_version > \"3\" and https://u:{LITERAL}@h/x\n")),
        @r#"
    error: [tmp]/requirements.in:1:32: Expected a quoted string or a valid marker name, found `https://u:****@h/x`
        six ; python_version > "3" and https://u:****@h/x
                                       ^^^^^^^^^^^^^^^^^^
    "#
    );
}

/// A credential in an index URL's query is written to the lock only by name
/// (`?token=${TOK}`, which pip expands); a literal one is refused, since the lock
/// would have to carry it masked and pip would send the mask.
#[test]
fn a_query_token_reaches_the_lock_only_as_its_variable() {
    let index = FixtureIndex::builder()
        .project("lib", vec![pure("lib", "1.0")])
        .start();
    let mut scratch = Scratch {
        dir: tempfile::tempdir().expect("tempdir"),
        env: vec![("TOK".into(), TOKEN.into())],
        inputs: BTreeMap::new(),
        runs: Vec::new(),
    };
    let base = index.base();
    scratch.write(
        "requirements.in",
        &format!("--index-url {base}/simple/?token=${{TOK}}\nlib\n"),
    );
    scratch.expect(0, &["lock", "--profile", "cpu-x86_64"]);
    let lock = std::fs::read_to_string(scratch.path().join("locks/cpu-x86_64.txt")).expect("lock");
    assert!(
        lock.contains(&format!("--index-url {base}/simple/?token=${{TOK}}\n")),
        "{lock}"
    );
    assert!(!lock.contains(TOKEN), "{lock}");

    scratch.write(
        "requirements.in",
        &format!("--index-url {base}/simple/?token={LITERAL}\nlib\n"),
    );
    let run = scratch.expect(2, &["lock", "--profile", "cpu-x86_64", "-o", "other.txt"]);
    assert_eq!(
        run.stderr,
        format!(
            "error: the index URL `{base}/simple/?token=****` carries a credential in its \
             query; the lock names its indexes by URL for pip, and would have to write it \
             masked: write the value as `${{VAR}}` (at least 8 characters; pip expands it \
             too) or give the index its credentials through netrc or \
             `DOCKGEN_INDEX_<NAME>_USERNAME`/`_PASSWORD`\n"
        )
    );
    assert!(!scratch.path().join("other.txt").exists());

    // A direct reference alike.
    scratch.write(
        "requirements.in",
        &format!("lib @ {base}/files/lib-1.0-py3-none-any.whl?token={LITERAL}\n"),
    );
    let run = scratch.expect(2, &["lock", "--profile", "cpu-x86_64", "-o", "other.txt"]);
    assert_eq!(
        run.stderr,
        format!(
            "error: `lib @ {base}/files/lib-1.0-py3-none-any.whl?token=****` \
             (requirements.in:1) carries a credential in its URL's query; the lock names \
             the archive by URL for pip, and would have to write it masked: write the \
             value as `${{VAR}}` (at least 8 characters; pip expands it too), or put the \
             credentials in netrc\n"
        )
    );
    assert!(!scratch.path().join("other.txt").exists());
}
