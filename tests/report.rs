//! `dockgen report` end to end: the real binary against loopback fixture indexes (the
//! set-up of `tests/audit.rs`), on a hand-written lock with errors, a warning, an sdist
//! to build, licenses every way metadata gives them, and metadata that tries to inject
//! markup. The whole page is snapshotted; then headless Chromium (Debian's `chromium`)
//! loads it and the test asserts on what renders: the text a reader sees, the size
//! chart's bars (each top-level requirement's unpacked size and what only it pulls in,
//! against the fixture wheels' own zip directories) and the graph's boxes and lines, that
//! the hostile values are text and not elements, that nothing outside the page is
//! fetched, and that a screenshot is not blank.
//!
//! Needs `chromium` on the PATH (`apt-get install chromium`); fails, saying so, without it.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;
use std::process::Command;

use crate::audit::{MANYLINUX_X86, Scratch, lock_text, pin, wheel};
use crate::support::fixture_index::{Api, FixtureFile, FixtureIndex};
use crate::support::wheels::SdistSpec;

const HOSTILE_LICENSE: &str = "<script>document.title='pwned'</script>";
const HOSTILE_EXPRESSION: &str = "MIT\" onmouseover=\"x\" <img src=x onerror=alert(1)>";

/// What a fixture file takes installed, as the report counts it: a wheel's unpacked
/// files (from its zip directory, read here with the zip crate), an sdist's own bytes.
fn installed_size(file: &FixtureFile) -> u64 {
    if !file.filename.ends_with(".whl") {
        return file.bytes.len() as u64;
    }
    let mut archive = zip::ZipArchive::new(Cursor::new(&file.bytes)).expect("a wheel");
    (0..archive.len())
        .map(|i| archive.by_index_raw(i).expect("an entry").size())
        .sum()
}

/// A CUDA 12.4 profile `gpu` over two fixture indexes and its lock `locks/gpu.txt`;
/// each package's installed size.
fn report_scratch() -> (
    Scratch,
    FixtureIndex,
    FixtureIndex,
    BTreeMap<&'static str, u64>,
) {
    let torch = wheel(
        "torch",
        "2.5.1+cu124",
        "cp311-cp311-linux_x86_64",
        &["torch/__init__.py"],
        &[],
        &["License-Expression: BSD-3-Clause"],
    );
    let torchvision = wheel(
        "torchvision",
        "0.20.1+cpu",
        "cp311-cp311-linux_x86_64",
        &["torchvision/__init__.py"],
        &["torch==2.5.1"],
        &["License-Expression: BSD-3-Clause"],
    );
    let fastapi = wheel(
        "fastapi",
        "0.110.0",
        "py3-none-any",
        &["fastapi/__init__.py"],
        &["starlette<0.37.0,>=0.36.3", "pydantic>=1.7.4"],
        &["License-Expression: MIT"],
    );
    let starlette = wheel(
        "starlette",
        "0.36.3",
        "py3-none-any",
        &["starlette/__init__.py"],
        &[],
        &["License: BSD 3-Clause License\n        \n        Copyright (c) 2018, Encode OSS Ltd."],
    );
    let pydantic = wheel(
        "pydantic",
        "2.6.0",
        "py3-none-any",
        &["pydantic/__init__.py"],
        &[],
        &[
            "Classifier: License :: OSI Approved :: MIT License",
            "Classifier: Programming Language :: Python :: 3",
        ],
    );
    let cv2 = &["cv2/__init__.py", "cv2/cv2.abi3.so"];
    let opencv = wheel(
        "opencv-python",
        "4.10.0.84",
        &format!("cp37-abi3-{MANYLINUX_X86}"),
        cv2,
        &[],
        &["License-Expression: Apache-2.0"],
    );
    let headless = wheel(
        "opencv-python-headless",
        "4.10.0.84",
        &format!("cp37-abi3-{MANYLINUX_X86}"),
        cv2,
        &[],
        &["License-Expression: Apache-2.0"],
    );
    let hostile = wheel(
        "hostile",
        "1.0",
        "py3-none-any",
        &["hostile/__init__.py"],
        &[],
        &[&format!("License: {HOSTILE_LICENSE}")],
    );
    let hostile_expression = wheel(
        "hostile-expression",
        "1.0",
        "py3-none-any",
        &["hostile_expression/__init__.py"],
        &[],
        &[&format!("License-Expression: {HOSTILE_EXPRESSION}")],
    );
    let mut native = SdistSpec::new("native-ext", "1.0");
    native.build_system = Some(
        "[build-system]\nrequires = [\"scikit-build-core>=0.9\", \"pybind11>=2.12\"]\n\
         build-backend = \"scikit_build_core.build\"\n"
            .to_string(),
    );
    let native = FixtureFile::from_sdist_spec(&native);
    let sizes = BTreeMap::from([
        ("fastapi", installed_size(&fastapi)),
        ("hostile", installed_size(&hostile)),
        ("hostile-expression", installed_size(&hostile_expression)),
        ("native-ext", installed_size(&native)),
        ("opencv-python", installed_size(&opencv)),
        ("opencv-python-headless", installed_size(&headless)),
        ("pydantic", installed_size(&pydantic)),
        ("starlette", installed_size(&starlette)),
        ("torch", installed_size(&torch)),
        ("torchvision", installed_size(&torchvision)),
    ]);

    let lock = lock_text(
        "gpu",
        &[
            pin(
                "fastapi",
                "0.110.0",
                vec![&fastapi],
                &["-r ../requirements.in"],
            ),
            pin("hostile", "1.0", vec![&hostile], &["-r ../requirements.in"]),
            pin(
                "hostile-expression",
                "1.0",
                vec![&hostile_expression],
                &["hostile"],
            ),
            pin(
                "native-ext",
                "1.0",
                vec![&native],
                &["-r ../requirements.in"],
            ),
            pin(
                "opencv-python",
                "4.10.0.84",
                vec![&opencv],
                &["-r ../requirements.in"],
            ),
            pin(
                "opencv-python-headless",
                "4.10.0.84",
                vec![&headless],
                &["-r ../requirements.in"],
            ),
            // Shared: the size chart's `shared by several` bar.
            pin(
                "pydantic",
                "2.6.0",
                vec![&pydantic],
                &["fastapi (>=1.7.4)", "hostile"],
            ),
            pin(
                "starlette",
                "0.36.3",
                vec![&starlette],
                &["fastapi (>=0.36.3,<0.37.0)"],
            ),
            pin(
                "torch",
                "2.5.1+cu124",
                vec![&torch],
                &["torchvision (==2.5.1)"],
            ),
            pin(
                "torchvision",
                "0.20.1+cpu",
                vec![&torchvision],
                &["-r ../requirements.in"],
            ),
        ],
    );
    let pytorch = FixtureIndex::builder()
        .api(Api::Html)
        .sidecars(false)
        .project("torch", vec![torch])
        .project("torchvision", vec![torchvision])
        .start();
    let pypi = FixtureIndex::builder()
        .api(Api::Json)
        .project("fastapi", vec![fastapi])
        .project("starlette", vec![starlette])
        .project("pydantic", vec![pydantic])
        .project("opencv-python", vec![opencv])
        .project("opencv-python-headless", vec![headless])
        .project("hostile", vec![hostile])
        .project("hostile-expression", vec![hostile_expression])
        .project("native-ext", vec![native])
        .start();
    let mut scratch = Scratch::new();
    scratch.label(&pytorch, "pytorch");
    scratch.label(&pypi, "pypi");
    scratch.profile(
        "gpu",
        "cuda12-x86_64",
        &[
            ("pytorch", &pytorch, &["torch", "torchvision"]),
            ("pypi", &pypi, &[]),
        ],
    );
    scratch.write("locks/gpu.txt", &lock);
    (scratch, pytorch, pypi, sizes)
}

#[test]
fn report_is_one_deterministic_page_that_renders_in_chromium() {
    let (scratch, pytorch, pypi, sizes) = report_scratch();
    let epoch = [("SOURCE_DATE_EPOCH", "1700000000")];
    let run = scratch.dockgen(
        &["report", "--profile", "gpu.yaml", "-o", "out/report.html"],
        &epoch,
    );
    // The checks find errors; the page is written all the same, and exits 0.
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr
            .contains("wrote the report of 10 packages -> out/report.html (2 errors, 3 warnings)"),
        "{}",
        run.stderr
    );
    let html = scratch.read("out/report.html");
    insta::assert_snapshot!("report_html", scratch.redact(&html));

    // Inert and self-contained: the hostile values are escaped text, nothing is loaded.
    assert!(!html.contains("<script"), "a script element in the page");
    assert!(!html.contains("<img"), "an img element in the page");
    assert!(html.contains("&lt;script&gt;document.title="));
    for external in [
        "src=\"", "href=\"", "http://", "https://", "url(", "@import",
    ] {
        assert!(!html.contains(external), "`{external}` in the page");
    }

    // Deterministic: offline, from the cache, the same bytes; without
    // SOURCE_DATE_EPOCH, the same page less its one time line.
    pypi.clear_requests();
    pytorch.clear_requests();
    let again = scratch.dockgen(
        &["report", "--profile", "gpu.yaml", "--offline", "-o", "-"],
        &epoch,
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.raw_stdout, html);
    assert!(pypi.requests().is_empty() && pytorch.requests().is_empty());
    let timeless = scratch.dockgen(
        &[
            "report",
            "--profile",
            "gpu.yaml",
            "--offline",
            "-q",
            "-o",
            "report.html",
        ],
        &[],
    );
    assert_eq!(timeless.code, 0, "{}", timeless.stderr);
    assert_eq!(timeless.stderr, "");
    let generated = "<dt>Generated</dt><dd class=\"mono\">2023-11-14T22:13:20Z</dd>\n";
    assert!(html.contains(generated));
    assert_eq!(scratch.read("report.html"), html.replace(generated, ""));

    let rendered = render_in_chromium(&scratch.path().join("out/report.html"), scratch.path());
    let text = |section: &str| {
        rendered.sections[section]
            .as_str()
            .unwrap_or_else(|| panic!("section `{section}` rendered no text"))
            .to_string()
    };
    assert_eq!(rendered.title, "dockgen report: gpu");
    assert_eq!(rendered.scripts, 0);
    assert_eq!(rendered.images, 0);
    assert!(
        rendered.resources.is_empty(),
        "the page fetched {:?}",
        rendered.resources
    );
    let summary = text("summary");
    for expected in [
        "Profile\ngpu",
        "Target\nlinux/amd64, CPython 3.11",
        "Lock\nlocks/gpu.txt",
        "Packages\n10 (9 from wheels, 1 built from source)",
        "Indexes\npytorch, pypi",
        "2\nerrors",
        "3\nwarnings",
    ] {
        assert!(
            summary.contains(expected),
            "`{expected}` not in:\n{summary}"
        );
    }
    let checks = text("checks");
    for expected in [
        "ERROR duplicate-module: opencv-python==4.10.0.84, opencv-python-headless==4.10.0.84",
        "ERROR wrong-accelerator-build: torchvision==0.20.1+cpu",
        "WARNING sdist-build: native-ext==1.0",
        "WARNING tag-only-image\n\nnvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04, the builder image",
        "(build requirements scikit-build-core>=0.9, pybind11>=2.12, backend scikit_build_core.build)",
        "Fix: keep one of them",
    ] {
        assert!(checks.contains(expected), "`{expected}` not in:\n{checks}");
    }
    // Each package under what requires it, as pipdeptree nests them.
    assert_eq!(
        rendered.tree,
        [
            "0 fastapi==0.110.0",
            "1 pydantic [required: >=1.7.4, installed: 2.6.0]",
            "1 starlette [required: >=0.36.3,<0.37.0, installed: 0.36.3]",
            "0 hostile==1.0",
            "1 hostile-expression [required: Any, installed: 1.0]",
            "1 pydantic [required: Any, installed: 2.6.0]",
            "0 native-ext==1.0",
            "0 opencv-python==4.10.0.84",
            "0 opencv-python-headless==4.10.0.84",
            "0 torchvision==0.20.1+cpu",
            "1 torch [required: ==2.5.1, installed: 2.5.1+cu124]",
        ]
    );
    // One bar per top-level requirement, largest first: itself, then what only it pulls
    // in; then what several share.
    let size = |name: &str| sizes[name];
    let mut expected: Vec<(String, u64, u64)> = vec![
        ("fastapi 0.110.0".into(), size("fastapi"), size("starlette")),
        (
            "hostile 1.0".into(),
            size("hostile"),
            size("hostile-expression"),
        ),
        ("native-ext 1.0".into(), size("native-ext"), 0),
        ("opencv-python 4.10.0.84".into(), size("opencv-python"), 0),
        (
            "opencv-python-headless 4.10.0.84".into(),
            size("opencv-python-headless"),
            0,
        ),
        (
            "torchvision 0.20.1+cpu".into(),
            size("torchvision"),
            size("torch"),
        ),
    ];
    expected.sort_by(|a, b| (b.1 + b.2).cmp(&(a.1 + a.2)).then(a.0.cmp(&b.0)));
    expected.push(("shared by several".into(), 0, size("pydantic")));
    let bars: Vec<(String, u64, u64)> = rendered
        .bars
        .iter()
        .map(|bar| (bar.label.clone(), bar.own, bar.exclusive))
        .collect();
    assert_eq!(bars, expected);
    // Drawn: the longest bar spans the chart's 420 pixels, and each is as long as its
    // share of it.
    let longest = (expected[0].1 + expected[0].2) as f64;
    for bar in &rendered.bars {
        let share = (bar.own + bar.exclusive) as f64 / longest * 420.0;
        assert!(
            (bar.width - share).abs() < 1.0,
            "`{}` is {} pixels wide, not {share}",
            bar.label,
            bar.width
        );
    }
    // Every package a box, every `# via` edge a line, all drawn.
    assert_eq!((rendered.graph_nodes, rendered.graph_edges), (10, 5));
    assert!(rendered.graph_width > 100.0, "{}", rendered.graph_width);
    assert!(
        text("graph").contains("torchvision 0.20.1+cpu"),
        "{}",
        text("graph")
    );

    let packages = text("packages");
    for expected in [
        "fastapi\nFixture package fastapi\t0.110.0\twheel fastapi-0.110.0-py3-none-any.whl",
        "\tBSD 3-Clause License\t",
        "\tMIT License\t",
        // The hostile values, as a reader sees them: text.
        &format!("\t{HOSTILE_LICENSE}\tpypi"),
        &format!("\t{HOSTILE_EXPRESSION}\tpypi"),
        "native-ext\nFixture package native-ext\t1.0\tsdist native_ext-1.0.tar.gz",
        "10 packages",
    ] {
        assert!(
            packages.contains(expected),
            "`{expected}` not in:\n{packages}"
        );
    }
    let sdists = text("sdists");
    assert!(
        sdists.contains("native-ext==1.0\tnative_ext-1.0.tar.gz\t")
            && sdists.contains("scikit-build-core>=0.9, pybind11>=2.12\tscikit_build_core.build"),
        "{sdists}"
    );
    assert_ne!(rendered.title, "pwned");
    assert_screenshot_shows_something(&scratch.path().join("out/report.html"), scratch.path());
}

#[test]
fn report_errors_exit_2_and_write_nothing() {
    let (scratch, _pytorch, _pypi, _sizes) = report_scratch();
    // A cold cache and `--offline`: nothing to report from.
    let offline = scratch.dockgen(&["report", "--profile", "gpu.yaml", "--offline"], &[]);
    let no_lock = scratch.dockgen(&["report", "--profile", "cpu-x86_64"], &[]);
    for run in [&offline, &no_lock] {
        assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
        assert_eq!(run.stdout, "");
    }
    assert!(
        no_lock
            .stderr
            .contains("cannot read the lock `locks/cpu-x86_64.txt`: run `dockgen lock --profile cpu-x86_64` first"),
        "{}",
        no_lock.stderr
    );
    assert!(
        offline
            .stderr
            .contains("cannot read what `locks/gpu.txt` installs"),
        "{}",
        offline.stderr
    );
    assert!(!scratch.path().join("report.html").exists());
}

// ---------------------------------------------------------------------------------
// Chromium

/// `chromium --headless ARGS`, with a throw-away profile in `scratch`; its stdout.
fn chromium(scratch: &Path, args: &[&str]) -> String {
    let profile = tempfile::tempdir_in(scratch).expect("tempdir");
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run chromium ({e}); `bash scripts/test.sh` installs it (as root with apt-get) or says how")
        });
    assert!(
        output.status.success(),
        "chromium {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What Chromium rendered of the page.
/// A bar of the size chart as rendered: its label (from its tooltip), its bytes (from
/// its data attributes) and its rectangles' drawn width.
struct Bar {
    label: String,
    own: u64,
    exclusive: u64,
    width: f64,
}

struct Rendered {
    title: String,
    /// Each section's rendered text (`innerText`: what a reader sees), by id.
    sections: serde_json::Value,
    /// Each item of the dependency tree: its depth, a space, its first line.
    tree: Vec<String>,
    /// The size chart's bars, in order.
    bars: Vec<Bar>,
    /// The graph's boxes and lines, and its drawn width.
    graph_nodes: u64,
    graph_edges: u64,
    graph_width: f64,
    /// `<script>` and `<img>` elements in the rendered document.
    scripts: u64,
    images: u64,
    /// Everything the page fetched.
    resources: Vec<serde_json::Value>,
}

/// Loads `page` in a frame of a probe page whose script (the report has none) reads
/// the rendered document and writes what it found into its own DOM, which
/// `--dump-dom` prints.
fn render_in_chromium(page: &Path, scratch: &Path) -> Rendered {
    let probe = scratch.join("probe.html");
    std::fs::write(
        &probe,
        format!(
            r##"<!DOCTYPE html><html><body>
<iframe id="report" src="{}" style="width:1280px;height:900px"></iframe>
<pre id="result"></pre>
<script>
document.getElementById("report").onload = function () {{
  var doc = this.contentDocument;
  var sections = {{}};
  doc.querySelectorAll("section").forEach(function (s) {{ sections[s.id] = s.innerText; }});
  document.getElementById("result").textContent = JSON.stringify({{
    title: doc.title,
    sections: sections,
    tree: Array.from(doc.querySelectorAll("#tree li")).map(function (li) {{
      var depth = 0;
      for (var up = li.parentElement; up; up = up.parentElement) {{ if (up.tagName === "LI") depth++; }}
      return depth + " " + li.innerText.split("\n")[0];
    }}),
    bars: Array.from(doc.querySelectorAll("#sizes g.bar")).map(function (g) {{
      var width = 0;
      g.querySelectorAll("rect").forEach(function (r) {{ width += r.getBBox().width; }});
      return {{ label: g.querySelector("title").textContent.split(":")[0],
               own: Number(g.getAttribute("data-own")),
               exclusive: Number(g.getAttribute("data-exclusive")), width: width }};
    }}),
    graphNodes: doc.querySelectorAll("#graph g.node").length,
    graphEdges: doc.querySelectorAll("#graph path.edge").length,
    graphWidth: doc.querySelector("#graph svg") ? doc.querySelector("#graph svg").getBBox().width : 0,
    scripts: doc.querySelectorAll("script").length,
    images: doc.querySelectorAll("img").length,
    resources: this.contentWindow.performance.getEntriesByType("resource").map(function (r) {{ return r.name; }}),
  }});
}};
</script>
</body></html>"##,
            file_url(page)
        ),
    )
    .expect("write the probe page");
    let dom = chromium(
        scratch,
        &[
            "--allow-file-access-from-files",
            "--virtual-time-budget=10000",
            "--dump-dom",
            &file_url(&probe),
        ],
    );
    let start = dom.find("<pre id=\"result\">").expect("the probe's result") + 17;
    let end = start + dom[start..].find("</pre>").expect("the end of the result");
    let json = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&");
    let value: serde_json::Value = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("the probe's result is not JSON ({e}): {json}"));
    Rendered {
        title: value["title"].as_str().unwrap_or_default().to_string(),
        sections: value["sections"].clone(),
        tree: value["tree"]
            .as_array()
            .expect("tree")
            .iter()
            .map(|item| item.as_str().expect("a tree item").to_string())
            .collect(),
        bars: value["bars"]
            .as_array()
            .expect("bars")
            .iter()
            .map(|bar| Bar {
                label: bar["label"].as_str().expect("a label").to_string(),
                own: bar["own"].as_u64().expect("own"),
                exclusive: bar["exclusive"].as_u64().expect("exclusive"),
                width: bar["width"].as_f64().expect("a width"),
            })
            .collect(),
        graph_nodes: value["graphNodes"].as_u64().expect("graph nodes"),
        graph_edges: value["graphEdges"].as_u64().expect("graph edges"),
        graph_width: value["graphWidth"].as_f64().expect("graph width"),
        scripts: value["scripts"].as_u64().expect("scripts"),
        images: value["images"].as_u64().expect("images"),
        resources: value["resources"].as_array().cloned().unwrap_or_default(),
    }
}

/// A screenshot of the page is a PNG of the window's size with more in it than a
/// blank page: its decompressed rows hold many different byte values.
fn assert_screenshot_shows_something(page: &Path, scratch: &Path) {
    let png = scratch.join("screenshot.png");
    chromium(
        scratch,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,900",
            &file_url(page),
        ],
    );
    let bytes = std::fs::read(&png).expect("chromium wrote the screenshot");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 900));
    // The IDAT chunks, concatenated, are one zlib stream of the filtered rows.
    let mut data = Vec::new();
    let mut at = 8;
    while at + 8 <= bytes.len() {
        let length = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        if &bytes[at + 4..at + 8] == b"IDAT" {
            data.extend_from_slice(&bytes[at + 8..at + 8 + length]);
        }
        at += 12 + length;
    }
    let mut rows = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::ZlibDecoder::new(&data[..]), &mut rows)
        .expect("the screenshot's pixels inflate");
    let distinct: std::collections::BTreeSet<u8> = rows.iter().copied().collect();
    assert!(
        distinct.len() > 64,
        "the screenshot looks blank: {} distinct byte values",
        distinct.len()
    );
}

fn file_url(path: &Path) -> String {
    url::Url::from_file_path(path)
        .expect("an absolute path")
        .to_string()
}
