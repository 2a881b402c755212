//! `fill_wheelhouse` against loopback fixture indexes: the host file store, hard links
//! into `wheels/`, incremental refills, `--offline` with a warm store, and the errors
//! for hashes no file has, corrupt store entries and files that do not match their
//! published hash.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use dockgen::build::wheelhouse::{WheelhouseOptions, WheelhouseReport, fill_wheelhouse};
use dockgen::index::registry::{ClientOptions, IndexConfig, NetrcSource, RegistryClient};
use dockgen::lock::LockFile;

use crate::support::fixture_index::{FixtureFile, FixtureIndex, HashMode};

fn client(fixture: &FixtureIndex, cache: &Path, offline: bool) -> RegistryClient {
    let options = ClientOptions {
        cache_dir: Some(cache.to_path_buf()),
        offline,
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(5),
        retries: 1,
        retry_base: Duration::from_millis(5),
        netrc: NetrcSource::Disabled,
        env_credentials: false,
        ..ClientOptions::default()
    };
    let index = IndexConfig {
        name: "idx".to_owned(),
        url: fixture.url(),
        packages: None,
        exclude_newer: None,
    };
    RegistryClient::new(vec![index], Vec::new(), options).unwrap()
}

/// A lock pinning each `(name, version, files)` with the files' hashes.
fn lock(pins: &[(&str, &str, &[&FixtureFile])]) -> LockFile {
    let mut text = String::new();
    for (name, version, files) in pins {
        text.push_str(&format!("{name}=={version}"));
        for file in *files {
            text.push_str(&format!(" \\\n    --hash=sha256:{}", file.sha256()));
        }
        text.push('\n');
    }
    dockgen::lock::parse(&text, Path::new("locks/test.txt")).unwrap()
}

fn fill(
    lock: &LockFile,
    client: &RegistryClient,
    dest: &Path,
) -> Result<WheelhouseReport, dockgen::build::wheelhouse::WheelhouseError> {
    fill_wheelhouse(lock, client, Some(dest), &WheelhouseOptions::default())
}

/// The report without byte counts (asserted separately), one file per line.
fn summary(report: &WheelhouseReport) -> String {
    let mut out = format!(
        "linked={} copied={} downloaded={} corrupt={} removed={:?}\n",
        report.linked, report.copied, report.downloaded, report.corrupt, report.removed
    );
    for f in &report.files {
        out.push_str(&format!(
            "{} {}=={} sha256={}\n",
            f.filename,
            f.package,
            f.version,
            &f.sha256[..12]
        ));
    }
    out
}

fn inode(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().ino()
}

fn sorted_dir(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn sha256_of(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

struct Files {
    six: FixtureFile,
    attrs_wheel: FixtureFile,
    attrs_sdist: FixtureFile,
    /// The index publishes no hash for it: found by version, hashed by downloading.
    idna: FixtureFile,
    certifi: FixtureFile,
}

fn files() -> Files {
    Files {
        six: FixtureFile::wheel("six", "1.16.0", "py2.py3-none-any", &[], 0),
        attrs_wheel: FixtureFile::wheel("attrs", "23.1.0", "py3-none-any", &[], 2000),
        attrs_sdist: FixtureFile::sdist("attrs", "23.1.0", "2.1", &[], &[]),
        idna: FixtureFile::wheel("idna", "3.7", "py3-none-any", &[], 100).hash(HashMode::Absent),
        certifi: FixtureFile::wheel("certifi", "2024.2.2", "py3-none-any", &[], 0),
    }
}

fn fixture(f: &Files) -> FixtureIndex {
    FixtureIndex::builder()
        .project("six", vec![f.six.clone()])
        .project("attrs", vec![f.attrs_wheel.clone(), f.attrs_sdist.clone()])
        .project(
            "idna",
            vec![
                FixtureFile::wheel("idna", "3.6", "py3-none-any", &[], 0).hash(HashMode::Absent),
                f.idna.clone(),
            ],
        )
        .project("certifi", vec![f.certifi.clone()])
        .start()
}

#[test]
fn fills_incrementally_from_the_store_and_works_offline_when_warm() {
    let f = files();
    let fixture = fixture(&f);
    let cache = tempfile::tempdir().unwrap();
    let context = tempfile::tempdir().unwrap();
    let wheels = context.path().join("wheels");
    let first_lock = lock(&[
        ("attrs", "23.1.0", &[&f.attrs_wheel, &f.attrs_sdist]),
        ("idna", "3.7", &[&f.idna]),
        ("six", "1.16.0", &[&f.six]),
    ]);

    // Cold: every file downloaded, every file a link into the store.
    let report = fill(&first_lock, &client(&fixture, cache.path(), false), &wheels).unwrap();
    let mut log = fixture.request_lines();
    log.sort();
    insta::assert_snapshot!(
        "cold_fill",
        format!("{}\n{}", summary(&report), log.join("\n"))
    );
    let all = [&f.attrs_wheel, &f.attrs_sdist, &f.idna, &f.six];
    assert_eq!(
        report.bytes_downloaded,
        all.iter().map(|f| f.bytes.len() as u64).sum::<u64>()
    );
    assert_eq!(report.bytes_cached, 0);
    for file in all {
        let linked = wheels.join(&file.filename);
        assert_eq!(sha256_of(&linked), file.sha256());
        assert_eq!(std::fs::metadata(&linked).unwrap().nlink(), 2);
    }
    let inodes: Vec<u64> = all
        .iter()
        .map(|f| inode(&wheels.join(&f.filename)))
        .collect();

    // One pin added: one page and one file fetched, the rest untouched in place.
    fixture.clear_requests();
    let second_lock = lock(&[
        ("attrs", "23.1.0", &[&f.attrs_wheel, &f.attrs_sdist]),
        ("certifi", "2024.2.2", &[&f.certifi]),
        ("idna", "3.7", &[&f.idna]),
        ("six", "1.16.0", &[&f.six]),
    ]);
    let report = fill(
        &second_lock,
        &client(&fixture, cache.path(), false),
        &wheels,
    )
    .unwrap();
    insta::assert_snapshot!(
        "one_pin_added",
        format!(
            "{}\n{}",
            summary(&report),
            fixture.request_lines().join("\n")
        )
    );
    assert_eq!(report.bytes_downloaded, f.certifi.bytes.len() as u64);
    assert_eq!(
        report.bytes_cached,
        all.iter().map(|f| f.bytes.len() as u64).sum::<u64>()
    );
    let after: Vec<u64> = all
        .iter()
        .map(|f| inode(&wheels.join(&f.filename)))
        .collect();
    assert_eq!(
        after, inodes,
        "unchanged files must stay the same store inodes"
    );

    // Offline, warm store, fresh context: not one request.
    fixture.clear_requests();
    let offline_wheels = context.path().join("offline-wheels");
    let report = fill(
        &second_lock,
        &client(&fixture, cache.path(), true),
        &offline_wheels,
    )
    .unwrap();
    assert_eq!(fixture.request_lines(), Vec::<String>::new());
    assert_eq!((report.downloaded, report.linked), (0, 5));
    assert_eq!(
        inode(&offline_wheels.join(&f.six.filename)),
        inode(&wheels.join(&f.six.filename))
    );

    // A pin dropped: its file leaves the wheelhouse, still no request.
    let report = fill(&first_lock, &client(&fixture, cache.path(), true), &wheels).unwrap();
    assert_eq!(report.removed, vec![f.certifi.filename.clone()]);
    assert_eq!(
        sorted_dir(&wheels),
        report
            .files
            .iter()
            .map(|f| f.filename.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(fixture.request_lines(), Vec::<String>::new());
}

#[test]
fn a_hash_no_file_has_names_package_version_hash_and_indexes() {
    let f = files();
    let fixture = fixture(&f);
    let cache = tempfile::tempdir().unwrap();
    let context = tempfile::tempdir().unwrap();
    let text = format!(
        "six==1.16.0 \\\n    --hash=sha256:{}\n    --hash=sha256:{}\n",
        f.six.sha256(),
        "0".repeat(64)
    );
    let lock = dockgen::lock::parse(&text, Path::new("locks/test.txt")).unwrap();
    let error = fill(
        &lock,
        &client(&fixture, cache.path(), false),
        &context.path().join("wheels"),
    )
    .unwrap_err();
    insta::assert_snapshot!(error.to_string(), @"no file of `six==1.16.0` has the locked hash `sha256:0000000000000000000000000000000000000000000000000000000000000000` (searched `idx`); the file was removed or replaced on the index, or the lock was made against other indexes: re-lock with `dockgen lock`");
}

#[test]
fn a_corrupt_store_entry_is_detected_and_fetched_again() {
    let f = files();
    let fixture = fixture(&f);
    let cache = tempfile::tempdir().unwrap();
    let context = tempfile::tempdir().unwrap();
    let wheels = context.path().join("wheels");
    let lock = lock(&[
        ("attrs", "23.1.0", &[&f.attrs_wheel]),
        ("six", "1.16.0", &[&f.six]),
    ]);
    fill(&lock, &client(&fixture, cache.path(), false), &wheels).unwrap();

    // Same length, other bytes: only hashing can tell.
    let hash = f.attrs_wheel.sha256();
    let entry = cache
        .path()
        .join("files-v1/sha256")
        .join(&hash[..2])
        .join(&hash);
    let mut bytes = std::fs::read(&entry).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    let mut permissions = std::fs::metadata(&entry).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o644);
    std::fs::set_permissions(&entry, permissions).unwrap();
    std::fs::write(&entry, &bytes).unwrap();

    // The project page is still fresh in the HTTP cache: only the file is fetched.
    fixture.clear_requests();
    let report = fill(&lock, &client(&fixture, cache.path(), false), &wheels).unwrap();
    insta::assert_snapshot!(
        format!("{}\n{}", summary(&report), fixture.request_lines().join("\n")),
        @r"
    linked=2 copied=0 downloaded=1 corrupt=1 removed=[]
    attrs-23.1.0-py3-none-any.whl attrs==23.1.0 sha256=752fb5c95b07
    six-1.16.0-py2.py3-none-any.whl six==1.16.0 sha256=7c30bbf1421a

    GET /files/attrs-23.1.0-py3-none-any.whl -> 200
    "
    );
    assert_eq!(sha256_of(&entry), hash);
    assert_eq!(sha256_of(&wheels.join(&f.attrs_wheel.filename)), hash);
    assert_eq!(inode(&wheels.join(&f.attrs_wheel.filename)), inode(&entry));
}

#[test]
fn a_file_that_does_not_match_its_published_hash_names_file_and_index() {
    let bad = FixtureFile::wheel("six", "1.16.0", "py2.py3-none-any", &[], 0).hash(HashMode::Wrong);
    let fixture = FixtureIndex::builder()
        .project("six", vec![bad.clone()])
        .start();
    let cache = tempfile::tempdir().unwrap();
    let context = tempfile::tempdir().unwrap();
    // The lock has what the index published (it was locked from the listing).
    use sha2::Digest;
    let published = hex::encode(sha2::Sha256::digest(b"not the file"));
    let text = format!("six==1.16.0 \\\n    --hash=sha256:{published}\n");
    let lock = dockgen::lock::parse(&text, Path::new("locks/test.txt")).unwrap();
    let wheels = context.path().join("wheels");
    let error = fill(&lock, &client(&fixture, cache.path(), false), &wheels).unwrap_err();
    insta::assert_snapshot!(error.to_string().replace(&bad.sha256(), "[actual]"), @"cannot fetch the locked files of `six`: `six-1.16.0-py2.py3-none-any.whl` from index `idx` does not match its published hash: expected sha256 `fd611b728e7fda802b450bbdbe84ef6e625e2a0b4df4dae2eff07e5442fdcc53`, got `[actual]`; the file was changed or corrupted on the index, do not install it");
    assert!(!wheels.join(&bad.filename).exists());
    assert_eq!(
        sorted_dir(&cache.path().join("files-v1/sha256/tmp")),
        Vec::<String>::new(),
        "no partial download is left in the store"
    );
}

#[test]
fn a_wheelhouse_on_another_file_system_gets_copies() {
    let f = files();
    let fixture = fixture(&f);
    let cache = tempfile::tempdir().unwrap();
    // /dev/shm is tmpfs where it exists; without a second file system there is nothing
    // to test here.
    let Ok(context) = tempfile::tempdir_in("/dev/shm") else {
        return;
    };
    if std::fs::metadata(context.path()).unwrap().dev()
        == std::fs::metadata(cache.path()).unwrap().dev()
    {
        return;
    }
    let wheels = context.path().join("wheels");
    let lock = lock(&[("six", "1.16.0", &[&f.six])]);
    let report = fill(&lock, &client(&fixture, cache.path(), false), &wheels).unwrap();
    assert_eq!((report.linked, report.copied), (0, 1));
    assert_eq!(sha256_of(&wheels.join(&f.six.filename)), f.six.sha256());
    let again = fill(&lock, &client(&fixture, cache.path(), true), &wheels).unwrap();
    assert_eq!((again.copied, again.downloaded), (1, 0));
    assert_eq!(sha256_of(&wheels.join(&f.six.filename)), f.six.sha256());
}

/// With the target given, a pin's sdist is neither fetched nor linked when the lock
/// has a wheel of it the target installs; a pin whose only wheel is for another
/// platform, or that has only an sdist, keeps its sdist. A store that already holds
/// the sdist does not put it back into the wheelhouse.
#[test]
fn sdists_are_left_out_where_the_target_has_a_wheel() {
    let attrs_wheel = FixtureFile::wheel("attrs", "23.1.0", "py3-none-any", &[], 0);
    let attrs_sdist = FixtureFile::sdist("attrs", "23.1.0", "2.1", &[], &[]);
    let fast_mac = FixtureFile::wheel("fast", "1.0", "cp311-cp311-macosx_11_0_arm64", &[], 0);
    let fast_sdist = FixtureFile::sdist("fast", "1.0", "2.1", &[], &[]);
    let plain_sdist = FixtureFile::sdist("plain", "2.0", "2.1", &[], &[]);
    let fixture = FixtureIndex::builder()
        .project("attrs", vec![attrs_wheel.clone(), attrs_sdist.clone()])
        .project("fast", vec![fast_mac.clone(), fast_sdist.clone()])
        .project("plain", vec![plain_sdist.clone()])
        .start();
    let lock = lock(&[
        ("attrs", "23.1.0", &[&attrs_wheel, &attrs_sdist]),
        ("fast", "1.0", &[&fast_mac, &fast_sdist]),
        ("plain", "2.0", &[&plain_sdist]),
    ]);
    let profile = dockgen::input::profile::builtin("cpu-x86_64").unwrap();
    let options = WheelhouseOptions {
        target: Some(dockgen::input::target::Target::from_profile(&profile).unwrap()),
        ..WheelhouseOptions::default()
    };
    let kept = [&attrs_wheel, &fast_mac, &fast_sdist, &plain_sdist];
    let names = |files: &[&FixtureFile]| {
        let mut names: Vec<String> = files.iter().map(|f| f.filename.clone()).collect();
        names.sort();
        names
    };

    let cache = tempfile::tempdir().unwrap();
    let context = tempfile::tempdir().unwrap();
    let wheels = context.path().join("wheels");
    let client = client(&fixture, cache.path(), false);
    let report = fill_wheelhouse(&lock, &client, Some(&wheels), &options).unwrap();
    assert_eq!(report.sdists_left_out, 1);
    assert_eq!(sorted_dir(&wheels), names(&kept));
    assert_eq!(
        report.bytes_downloaded,
        kept.iter().map(|f| f.bytes.len() as u64).sum::<u64>()
    );
    let fetched = fixture.request_lines();
    assert!(
        !fetched
            .iter()
            .any(|line| line.contains(&attrs_sdist.filename)),
        "the sdist is not fetched: {fetched:#?}"
    );

    // Without a target every locked file is fetched; with one again, the sdist now in
    // the store stays out of the wheelhouse.
    fill_wheelhouse(&lock, &client, Some(&wheels), &WheelhouseOptions::default()).unwrap();
    assert!(wheels.join(&attrs_sdist.filename).is_file());
    let report = fill_wheelhouse(&lock, &client, Some(&wheels), &options).unwrap();
    assert_eq!(report.removed, std::slice::from_ref(&attrs_sdist.filename));
    assert_eq!(
        report.bytes_cached,
        kept.iter().map(|f| f.bytes.len() as u64).sum::<u64>(),
        "the sdist in the store is not counted"
    );
    assert_eq!(sorted_dir(&wheels), names(&kept));
}
