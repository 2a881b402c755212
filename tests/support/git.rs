//! Git repositories for the VCS tests: made with the `git` CLI with fixed names, emails
//! and dates (so commit ids are the same in every run), and served over git's smart
//! HTTP protocol on loopback by `git http-backend` run as a CGI program.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A git command with no user or system config and a fixed identity and date.
pub fn git(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.invalid")
        .env("GIT_AUTHOR_DATE", "2024-06-01T00:00:00Z")
        .env("GIT_COMMITTER_NAME", "Test Author")
        .env("GIT_COMMITTER_EMAIL", "author@example.invalid")
        .env("GIT_COMMITTER_DATE", "2024-06-01T00:00:00Z");
    command
}

/// A repository at `dir` (created, branch `main`).
pub struct Repo {
    pub dir: PathBuf,
}

impl Repo {
    pub fn init(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        super::run(git(dir).args(["init", "--quiet", "--initial-branch=main"]));
        Self {
            dir: dir.to_path_buf(),
        }
    }

    /// Writes `files` and commits every change; the new commit's id.
    pub fn commit(&self, message: &str, files: &[(String, String)]) -> String {
        for (path, text) in files {
            let path = self.dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        super::run(git(&self.dir).args(["add", "--all"]));
        super::run(git(&self.dir).args(["commit", "--quiet", "-m", message]));
        self.rev("HEAD")
    }

    /// Tags HEAD (moving the tag if it exists).
    pub fn tag(&self, name: &str) {
        super::run(git(&self.dir).args(["tag", "--force", name]));
    }

    pub fn branch(&self, name: &str, start: &str) {
        super::run(git(&self.dir).args(["branch", "--force", name, start]));
    }

    pub fn rev(&self, rev: &str) -> String {
        super::run(git(&self.dir).args(["rev-parse", rev]))
            .trim()
            .to_string()
    }
}

/// `git http-backend` behind a loopback HTTP/1.1 server, serving the repositories
/// under `root` at `http://127.0.0.1:PORT/<name>`, optionally only to Basic
/// credentials. One request per connection.
pub struct GitHttpServer {
    port: u16,
    requests: Arc<AtomicUsize>,
}

impl GitHttpServer {
    pub fn start(root: &Path) -> Self {
        Self::start_with_auth(root, None)
    }

    /// Answers 401 to requests without `Authorization: Basic` of `credentials`.
    pub fn start_with_auth(root: &Path, credentials: Option<(&str, &str)>) -> Self {
        let expected = credentials.map(|(user, password)| {
            format!(
                "Basic {}",
                super::fixture_index::base64_lite::encode(format!("{user}:{password}").as_bytes())
            )
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let (root, count) = (root.to_path_buf(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                count.fetch_add(1, Ordering::SeqCst);
                let (root, expected) = (root.clone(), expected.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &root, expected.as_deref());
                });
            }
        });
        Self { port, requests }
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn serve(stream: TcpStream, root: &Path, expected: Option<&str>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if let Some(length) = header("content-length") {
        let length: usize = length.parse().unwrap_or(0);
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    } else if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    if let Some(expected) = expected
        && header("authorization").as_deref() != Some(expected)
    {
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        return stream.flush();
    }
    let mut command = Command::new("git");
    command
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("CONTENT_LENGTH", body.len().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (name, variable) in [
        ("content-type", "CONTENT_TYPE"),
        ("content-encoding", "HTTP_CONTENT_ENCODING"),
        ("git-protocol", "GIT_PROTOCOL"),
    ] {
        if let Some(value) = header(name) {
            command.env(variable, value);
        }
    }
    let mut child = command.spawn()?;
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let mut output = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut output)?;
    let _ = writer.join();
    child.wait()?;
    // CGI output: headers (`Status:` among them), a blank line, the body.
    let split = output
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| (at, 4))
        .or_else(|| {
            output
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|at| (at, 2))
        });
    let (head, body) = match split {
        Some((at, len)) => (
            String::from_utf8_lossy(&output[..at]).into_owned(),
            &output[at + len..],
        ),
        None => (String::new(), &output[..]),
    };
    let mut status = "200 OK".to_string();
    let mut response = Vec::new();
    for line in head.lines() {
        match line.split_once(':') {
            Some((name, value)) if name.eq_ignore_ascii_case("status") => {
                status = value.trim().to_string();
            }
            Some(_) => response.push(line.to_string()),
            None => {}
        }
    }
    let mut stream = stream;
    write!(stream, "HTTP/1.1 {status}\r\n")?;
    for line in response {
        write!(stream, "{line}\r\n")?;
    }
    write!(
        stream,
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    stream.flush()
}
