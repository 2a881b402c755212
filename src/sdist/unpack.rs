//! Unpacking sdists and wheels from untrusted indexes: every entry stays inside the
//! destination (no absolute paths, no `..`, no links that leave it), and the whole is
//! bounded in size and entry count.

use std::fs;
use std::io::{self, BufRead, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// The most an archive may unpack to, and the most entries it may hold.
const MAX_UNPACKED_BYTES: u64 = 4 << 30;
const MAX_ENTRIES: usize = 200_000;

/// Where an entry named `name` goes under `dest`, or `None` when it would leave it.
fn inside(dest: &Path, name: &Path) -> Option<PathBuf> {
    let mut path = dest.to_path_buf();
    let mut depth = 0usize;
    for component in name.components() {
        match component {
            Component::Normal(part) => {
                path.push(part);
                depth += 1;
            }
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (depth > 0).then_some(path)
}

/// Whether a symlink at `entry` (relative to the archive root) pointing to `target`
/// stays inside the archive.
fn link_stays_inside(entry: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    let mut depth = entry.components().count() as isize - 1;
    for component in target.components() {
        match component {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return false,
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

/// Counts bytes and entries against the limits, across the threads of one archive.
struct Budget {
    bytes: AtomicU64,
    entries: AtomicUsize,
}

impl Budget {
    fn new() -> Self {
        Self {
            bytes: AtomicU64::new(0),
            entries: AtomicUsize::new(0),
        }
    }

    fn entry(&self) -> Result<(), String> {
        if self.entries.fetch_add(1, Ordering::Relaxed) >= MAX_ENTRIES {
            return Err(format!("it has more than {MAX_ENTRIES} entries"));
        }
        Ok(())
    }

    /// Copies `reader` (the archive's entry `name`) to a new file at `path`, counting
    /// its bytes.
    fn copy(&self, reader: &mut dyn Read, name: &Path, path: &Path) -> Result<(), String> {
        let left = MAX_UNPACKED_BYTES.saturating_sub(self.bytes.load(Ordering::Relaxed));
        let mut file = fs::File::create(path)
            .map_err(|err| format!("cannot create `{}`: {err}", path.display()))?;
        let written =
            copy_in_chunks(&mut reader.take(left + 1), &mut file).map_err(|err| match err {
                Broken::Read(err) => format!("its entry `{}` is damaged: {err}", name.display()),
                Broken::Write(err) => format!("cannot write `{}`: {err}", path.display()),
            })?;
        if self.bytes.fetch_add(written, Ordering::Relaxed) + written > MAX_UNPACKED_BYTES {
            return Err(format!(
                "it unpacks to more than {} GiB",
                MAX_UNPACKED_BYTES >> 30
            ));
        }
        Ok(())
    }
}

/// `io::copy` with a large buffer: it writes a file 8 KiB at a time otherwise, and the
/// few gigabytes of a build environment with torch then cost a million system calls.
/// The buffer is the thread's own, made once: torch's wheel alone has 15,000 entries.
fn copy_in_chunks(reader: &mut dyn Read, writer: &mut dyn Write) -> Result<u64, Broken> {
    const CHUNK: usize = 1 << 20;
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUFFER.with_borrow_mut(|buffer| {
        if buffer.is_empty() {
            buffer.resize(CHUNK, 0);
        }
        let mut total = 0;
        loop {
            let n = match reader.read(buffer) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(Broken::Read(err)),
            };
            writer.write_all(&buffer[..n]).map_err(Broken::Write)?;
            total += n as u64;
        }
    })
}

/// Which side of a copy failed.
enum Broken {
    Read(io::Error),
    Write(io::Error),
}

/// A zip entry's raw deflate data, inflated by zlib-rs and checked against the entry's
/// CRC-32 and size. Inflating is the largest share of the CPU time of unpacking torch
/// and its CUDA wheels into a build environment, and zlib-rs does it in about 70% of
/// the time of miniz_oxide, flate2's default backend (measured on such a build: 15 s
/// of CPU down to 11). flate2 keeps miniz_oxide: its `zlib-rs` feature would also
/// change the bytes of every archive dockgen compresses.
struct Inflated<R> {
    input: R,
    inflate: zlib_rs::Inflate,
    crc: crc32fast::Hasher,
    expected: (u32, u64),
    done: bool,
}

impl<R: BufRead> Inflated<R> {
    fn new(input: R, crc32: u32, size: u64) -> Self {
        Self {
            input,
            inflate: zlib_rs::Inflate::new(false, 15),
            crc: crc32fast::Hasher::new(),
            expected: (crc32, size),
            done: false,
        }
    }

    fn fill(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let invalid = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_string());
        loop {
            let input = self.input.fill_buf()?;
            let end = input.is_empty();
            let (read, wrote) = (self.inflate.total_in(), self.inflate.total_out());
            let flush = if end {
                zlib_rs::InflateFlush::Finish
            } else {
                zlib_rs::InflateFlush::NoFlush
            };
            let status = self
                .inflate
                .decompress(input, out, flush)
                .map_err(|err| invalid(err.as_str()))?;
            let consumed = usize::try_from(self.inflate.total_in() - read).unwrap_or(usize::MAX);
            let written = usize::try_from(self.inflate.total_out() - wrote).unwrap_or(usize::MAX);
            self.input.consume(consumed);
            if status == zlib_rs::Status::StreamEnd {
                self.done = true;
                return Ok(written);
            }
            if written > 0 {
                return Ok(written);
            }
            if end || consumed == 0 {
                return Err(invalid("the compressed data ends early"));
            }
        }
    }
}

impl<R: BufRead> Read for Inflated<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.done || out.is_empty() {
            return Ok(0);
        }
        let n = self.fill(out)?;
        self.crc.update(&out[..n]);
        if self.done {
            let found = (self.crc.clone().finalize(), self.inflate.total_out());
            if found != self.expected {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "its data does not match the CRC-32 and size the archive records",
                ));
            }
        }
        Ok(n)
    }
}

fn create_parent(path: &Path) -> Result<(), String> {
    match path.parent() {
        Some(parent) => fs::create_dir_all(parent)
            .map_err(|err| format!("cannot create `{}`: {err}", parent.display())),
        None => Ok(()),
    }
}

/// Unpacks a `.tar.gz`/`.tgz` archive into `dest`. Regular files, directories and
/// symlinks that stay inside are kept; other entry kinds (devices, hard links to
/// outside) are refused.
pub fn tar_gz(archive: &Path, dest: &Path) -> Result<(), String> {
    let file = fs::File::open(archive).map_err(|err| format!("cannot open it: {err}"))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(io::BufReader::new(file)));
    let budget = Budget::new();
    let entries = tar
        .entries()
        .map_err(|err| format!("it is not a tar archive: {err}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|err| format!("it is not a valid tar.gz: {err}"))?;
        budget.entry()?;
        let name = entry
            .path()
            .map_err(|err| format!("an entry has an unreadable name: {err}"))?
            .into_owned();
        let Some(path) = inside(dest, &name) else {
            return Err(format!(
                "its entry `{}` would be written outside the archive's directory",
                name.display()
            ));
        };
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            fs::create_dir_all(&path)
                .map_err(|err| format!("cannot create `{}`: {err}", path.display()))?;
        } else if kind.is_file() || kind == tar::EntryType::Continuous {
            create_parent(&path)?;
            budget.copy(&mut entry, &name, &path)?;
            let mode = entry.header().mode().unwrap_or(0o644);
            set_mode(&path, mode)?;
        } else if kind.is_symlink() {
            let target = entry
                .link_name()
                .ok()
                .flatten()
                .map(|t| t.into_owned())
                .unwrap_or_default();
            if !link_stays_inside(&name, &target) {
                return Err(format!(
                    "its link `{}` -> `{}` points outside the archive",
                    name.display(),
                    target.display()
                ));
            }
            create_parent(&path)?;
            std::os::unix::fs::symlink(&target, &path)
                .map_err(|err| format!("cannot create `{}`: {err}", path.display()))?;
        } else if kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions()
            || kind.is_gnu_longname()
            || kind.is_gnu_longlink()
        {
            // Handled by the tar reader.
        } else {
            return Err(format!(
                "its entry `{}` is a {kind:?}, which an sdist has no use for",
                name.display()
            ));
        }
    }
    Ok(())
}

/// An archive larger than this is unpacked by several threads (torch's wheel alone
/// takes seconds on one).
const PARALLEL_UNZIP_BYTES: u64 = 64 << 20;
const UNZIP_THREADS: usize = 4;

/// What [`zip`] maps entry names with: `None` skips the entry.
pub type Rename<'a> = &'a (dyn Fn(&Path) -> Option<PathBuf> + Sync);

/// Unpacks a zip archive (an sdist `.zip` or a wheel) into `dest`; `rename` maps an
/// entry's name to where it goes under `dest` (`None` skips the entry). A large one is
/// unpacked by several threads, each taking every n-th entry.
pub fn zip(archive: &Path, dest: &Path, rename: Rename<'_>) -> Result<(), String> {
    let size = fs::metadata(archive)
        .map_err(|err| format!("cannot open it: {err}"))?
        .len();
    let threads = if size > PARALLEL_UNZIP_BYTES {
        UNZIP_THREADS
    } else {
        1
    };
    let budget = Budget::new();
    let failure: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for part in 0..threads {
            let (budget, failure) = (&budget, &failure);
            scope.spawn(move || {
                if let Err(why) = zip_part(archive, dest, rename, budget, (part, threads)) {
                    failure
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get_or_insert(why);
                }
            });
        }
    });
    match failure.into_inner().unwrap_or_else(PoisonError::into_inner) {
        Some(why) => Err(why),
        None => Ok(()),
    }
}

/// The entries `part` (of `parts`) of the zip: those whose index is `part` modulo `parts`.
fn zip_part(
    archive: &Path,
    dest: &Path,
    rename: Rename<'_>,
    budget: &Budget,
    (part, parts): (usize, usize),
) -> Result<(), String> {
    let file = fs::File::open(archive).map_err(|err| format!("cannot open it: {err}"))?;
    let mut zip = ::zip::ZipArchive::new(io::BufReader::new(file))
        .map_err(|err| format!("it is not a valid zip archive: {err}"))?;
    for i in (part..zip.len()).step_by(parts) {
        budget.entry()?;
        let mut entry = zip
            .by_index_raw(i)
            .map_err(|err| format!("it is not a valid zip archive: {err}"))?;
        let raw = PathBuf::from(String::from_utf8_lossy(entry.name_raw()).into_owned());
        let Some(name) = entry.enclosed_name() else {
            return Err(format!(
                "its entry `{}` would be written outside the archive's directory",
                raw.display()
            ));
        };
        let Some(relative) = rename(&name) else {
            continue;
        };
        let Some(path) = inside(dest, &relative) else {
            return Err(format!(
                "its entry `{}` would be written outside the archive's directory",
                raw.display()
            ));
        };
        if entry.is_dir() {
            fs::create_dir_all(&path)
                .map_err(|err| format!("cannot create `{}`: {err}", path.display()))?;
            continue;
        }
        if entry.is_symlink() {
            return Err(format!(
                "its entry `{}` is a symbolic link, which dockgen does not unpack from a zip",
                raw.display()
            ));
        }
        create_parent(&path)?;
        let mode = entry.unix_mode();
        if entry.compression() == ::zip::CompressionMethod::Deflated {
            let (crc32, size) = (entry.crc32(), entry.size());
            let compressed = io::BufReader::with_capacity(1 << 16, &mut entry);
            budget.copy(&mut Inflated::new(compressed, crc32, size), &raw, &path)?;
        } else {
            // Stored (or another method): the zip crate reads and checks it.
            drop(entry);
            let mut entry = zip
                .by_index(i)
                .map_err(|err| format!("it is not a valid zip archive: {err}"))?;
            budget.copy(&mut entry, &raw, &path)?;
        }
        if let Some(mode) = mode {
            set_mode(&path, mode)?;
        }
    }
    Ok(())
}

/// Keeps the permission bits that matter (executable or not), never setuid/setgid.
fn set_mode(path: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if mode & 0o111 != 0 { 0o755 } else { 0o644 };
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|err| format!("cannot set the mode of `{}`: {err}", path.display()))
}

/// The one top-level directory of an unpacked sdist (`name-version/`).
pub fn top_dir(dest: &Path) -> Result<PathBuf, String> {
    let mut dirs = Vec::new();
    for entry in fs::read_dir(dest).map_err(|err| format!("cannot read it back: {err}"))? {
        let entry = entry.map_err(|err| format!("cannot read it back: {err}"))?;
        dirs.push(entry.path());
    }
    match dirs.as_slice() {
        [only] if only.is_dir() => Ok(only.clone()),
        _ => Err(format!(
            "it should hold one top-level directory, but it holds {} entries",
            dirs.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_that_leave_the_destination_are_refused() {
        let dest = Path::new("/tmp/x");
        assert_eq!(
            inside(dest, Path::new("a/b")),
            Some(PathBuf::from("/tmp/x/a/b"))
        );
        assert_eq!(
            inside(dest, Path::new("./a")),
            Some(PathBuf::from("/tmp/x/a"))
        );
        assert_eq!(inside(dest, Path::new("a/../../b")), None);
        assert_eq!(inside(dest, Path::new("/etc/passwd")), None);
        assert_eq!(inside(dest, Path::new(".")), None);
    }

    #[test]
    fn links_may_point_within_the_archive_only() {
        assert!(link_stays_inside(
            Path::new("p-1/a/link"),
            Path::new("../b")
        ));
        assert!(link_stays_inside(
            Path::new("p-1/link"),
            Path::new("sub/file")
        ));
        assert!(!link_stays_inside(
            Path::new("p-1/link"),
            Path::new("../../etc")
        ));
        assert!(!link_stays_inside(
            Path::new("p-1/link"),
            Path::new("/etc/passwd")
        ));
    }

    #[test]
    fn a_tar_with_a_parent_entry_is_refused_and_writes_nothing_outside() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("evil-1.0.tar.gz");
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            fs::File::create(&archive).unwrap(),
            flate2::Compression::fast(),
        ));
        let mut header = tar::Header::new_gnu();
        let body = b"owned";
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        // `set_path` refuses `..`; write the name bytes as a hostile archive would.
        header.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"../escaped.tx");
        header.set_cksum();
        builder.append(&header, &body[..]).unwrap();
        builder.into_inner().unwrap().finish().unwrap();
        let dest = dir.path().join("out");
        fs::create_dir(&dest).unwrap();
        let error = tar_gz(&archive, &dest).unwrap_err();
        assert_eq!(
            error,
            "its entry `../escaped.tx` would be written outside the archive's directory"
        );
        assert!(!dir.path().join("escaped.tx").exists());
    }

    /// A zip with a deflated entry of several megabytes (many reads), a stored one and
    /// an executable one, as a wheel has them.
    fn sample_zip(path: &Path) -> Vec<(&'static str, Vec<u8>)> {
        use ::zip::write::SimpleFileOptions;
        let big: Vec<u8> = (0..3_000_000u32)
            .flat_map(|i| (i.wrapping_mul(2_654_435_761) >> 13).to_le_bytes())
            .collect();
        let files = vec![
            ("pkg/__init__.py", b"VERSION = '1.0'\n".repeat(500)),
            ("pkg/_native.so", big),
            ("pkg-1.0.dist-info/RECORD", b"pkg/__init__.py,,\n".to_vec()),
            ("bin/tool", b"#!/bin/sh\necho hi\n".to_vec()),
        ];
        let mut zip = ::zip::ZipWriter::new(fs::File::create(path).unwrap());
        for (name, body) in &files {
            let options = match *name {
                "pkg-1.0.dist-info/RECORD" => SimpleFileOptions::default()
                    .compression_method(::zip::CompressionMethod::Stored),
                "bin/tool" => SimpleFileOptions::default().unix_permissions(0o755),
                _ => SimpleFileOptions::default(),
            };
            zip.start_file(*name, options).unwrap();
            io::Write::write_all(&mut zip, body).unwrap();
        }
        zip.finish().unwrap();
        files
    }

    #[test]
    fn a_zip_unpacks_to_the_same_bytes_and_modes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("pkg-1.0-py3-none-any.whl");
        let files = sample_zip(&archive);
        let dest = dir.path().join("out");
        zip(&archive, &dest, &|p| Some(p.to_path_buf())).unwrap();
        for (name, body) in &files {
            assert_eq!(&fs::read(dest.join(name)).unwrap(), body, "{name}");
        }
        let mode = |name: &str| fs::metadata(dest.join(name)).unwrap().permissions().mode();
        assert_eq!(mode("bin/tool") & 0o111, 0o111);
        assert_eq!(mode("pkg/__init__.py") & 0o111, 0);
    }

    #[test]
    fn a_zip_entry_whose_crc_does_not_match_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("pkg-1.0-py3-none-any.whl");
        let files = sample_zip(&archive);
        // The CRC-32 of `pkg/_native.so`, in its local header and the central
        // directory, replaced by another: the data no longer matches it.
        let crc = crc32fast::hash(&files[1].1).to_le_bytes();
        let mut bytes = fs::read(&archive).unwrap();
        let mut replaced = 0;
        for at in 0..bytes.len() - 4 {
            if bytes[at..at + 4] == crc {
                bytes[at] ^= 0xff;
                replaced += 1;
            }
        }
        assert_eq!(replaced, 2);
        fs::write(&archive, bytes).unwrap();
        let error = zip(&archive, &dir.path().join("out"), &|p| {
            Some(p.to_path_buf())
        })
        .unwrap_err();
        assert_eq!(
            error,
            "its entry `pkg/_native.so` is damaged: its data does not match the CRC-32 \
             and size the archive records"
        );
    }

    #[test]
    fn deflate_data_that_ends_early_is_an_error_not_a_short_file() {
        let body = b"metadata ".repeat(10_000);
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        io::Write::write_all(&mut encoder, &body).unwrap();
        let raw = encoder.finish().unwrap();
        let crc = crc32fast::hash(&body);
        let mut whole = Vec::new();
        Inflated::new(&raw[..], crc, body.len() as u64)
            .read_to_end(&mut whole)
            .unwrap();
        assert_eq!(whole, body);
        let mut short = Vec::new();
        let error = Inflated::new(&raw[..raw.len() / 2], crc, body.len() as u64)
            .read_to_end(&mut short)
            .unwrap_err();
        assert_eq!(error.to_string(), "the compressed data ends early");
        let error = Inflated::new(&b"\xff\xff\xff\xff"[..], crc, 1)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }
}
