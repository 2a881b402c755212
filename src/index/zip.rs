//! A remote wheel's METADATA by HTTP range requests, without downloading the wheel:
//! read the tail (end of central directory, ZIP64 locator and record, and usually the
//! whole central directory), then the one METADATA entry, and inflate it.
//!
//! The reading is independent of the HTTP client through [`RangeRead`]. Typical cost:
//! one request for wheels up to 64 KiB, two for most others, three when the central
//! directory alone is larger than the first tail read (wheels with thousands of files).

use std::future::Future;
use std::io::Read;
use std::str::FromStr;
use std::sync::Arc;

use super::CoreMetadata;
use super::filename::WheelFilename;
use super::metadata::{
    MAX_METADATA_BYTES, MetadataError, WheelEntry, check_wheel_matches, parse_core_metadata,
    select_dist_info_metadata,
};

/// The first read: the end of central directory record with any comment but a
/// near-64-KiB one (wheels have none), and the central directory of wheels with up to
/// several hundred files.
pub const TAIL_BYTES: u64 = 64 * 1024;

/// Byte ranges of one remote file.
pub trait RangeRead {
    /// The last `len` bytes of the file (all of it when it is shorter), and the
    /// file's total length. Over HTTP: `Range: bytes=-{len}`, the total from
    /// `Content-Range`, so no `HEAD` round trip is needed.
    fn read_tail(
        &self,
        len: u64,
    ) -> impl Future<Output = Result<(u64, Vec<u8>), RangeError>> + Send;

    /// `len` bytes from `offset`.
    fn read(
        &self,
        offset: u64,
        len: u64,
    ) -> impl Future<Output = Result<Vec<u8>, RangeError>> + Send;
}

/// What a [`RangeRead`] can fail with.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RangeError {
    /// The server ignores or refuses ranges (a `200` with the whole body, `416`, no
    /// `Content-Range`): the caller should download the whole file instead.
    #[error("{0}")]
    Unsupported(String),
    /// Anything else (network, HTTP status): the reader's own error.
    #[error(transparent)]
    Other(Arc<dyn std::error::Error + Send + Sync>),
}

/// Core metadata of the remote wheel `filename`, read by ranges.
///
/// [`MetadataError::range_unsupported`] tells the caller to fall back to downloading
/// the whole file; [`MetadataError::Archive`] means the zip itself is broken.
pub async fn wheel_metadata_by_ranges<R: RangeRead>(
    reader: &R,
    filename: &str,
) -> Result<CoreMetadata, MetadataError> {
    let (bytes, source) = wheel_metadata_bytes_by_ranges(reader, filename).await?;
    parse_core_metadata(&bytes, &source)
}

/// The raw, checked METADATA bytes of the remote wheel (what a cache stores), with the
/// name of the entry for error messages.
pub async fn wheel_metadata_bytes_by_ranges<R: RangeRead>(
    reader: &R,
    filename: &str,
) -> Result<(Vec<u8>, String), MetadataError> {
    let wheel = WheelFilename::from_str(filename)?;
    let mut remote = Remote {
        reader,
        filename,
        start: 0,
        bytes: Vec::new(),
    };
    remote.read_tail().await?;
    let (directory, central_start) = remote.central_directory().await?;
    let entry = select_dist_info_metadata(
        directory.iter().map(|entry| entry.name.as_str()),
        &wheel,
        filename,
    )?;
    let entry = directory
        .iter()
        .find(|candidate| candidate.name == entry)
        .ok_or_else(|| remote.corrupt(format!("`{entry}` vanished from the central directory")))?;
    let bytes = remote
        .entry_contents(entry, &directory, central_start)
        .await?;
    let source = format!("{} in {filename}", entry.name);
    let metadata = parse_core_metadata(&bytes, &source)?;
    check_wheel_matches(&metadata, &wheel, filename)?;
    Ok((bytes, source))
}

/// Every entry of the remote zip `filename` (name and uncompressed size), in central
/// directory order, read by ranges (the tail, and the rest of the central directory
/// when it is larger): what a wheel installs, without downloading it. Names are
/// decoded as [`wheel_metadata_by_ranges`] decodes them.
pub async fn entries_by_ranges<R: RangeRead>(
    reader: &R,
    filename: &str,
) -> Result<Vec<WheelEntry>, MetadataError> {
    let mut remote = Remote {
        reader,
        filename,
        start: 0,
        bytes: Vec::new(),
    };
    remote.read_tail().await?;
    let (directory, _) = remote.central_directory().await?;
    Ok(directory
        .into_iter()
        .map(|entry| WheelEntry {
            name: entry.name,
            size: entry.uncompressed_size,
        })
        .collect())
}

const EOCD_SIGNATURE: u32 = 0x0605_4b50;
const EOCD_LEN: usize = 22;
const ZIP64_LOCATOR_SIGNATURE: u32 = 0x0706_4b50;
const ZIP64_LOCATOR_LEN: usize = 20;
const ZIP64_EOCD_SIGNATURE: u32 = 0x0606_4b50;
const ZIP64_EOCD_LEN: usize = 56;
const CENTRAL_SIGNATURE: u32 = 0x0201_4b50;
const CENTRAL_LEN: usize = 46;
const LOCAL_SIGNATURE: u32 = 0x0403_4b50;
const LOCAL_LEN: usize = 30;
const ZIP64_EXTRA_ID: u16 = 0x0001;

/// One central directory entry, sizes and offset already widened from ZIP64 extras.
#[derive(Debug)]
struct Entry {
    name: String,
    raw_name: Vec<u8>,
    flags: u16,
    method: u16,
    crc32: u32,
    compressed_size: u64,
    uncompressed_size: u64,
    local_header_offset: u64,
}

/// The remote file, and the suffix of it read so far: `bytes` is `[start, end of file)`.
struct Remote<'a, R> {
    reader: &'a R,
    filename: &'a str,
    start: u64,
    bytes: Vec<u8>,
}

impl<R: RangeRead> Remote<'_, R> {
    fn corrupt(&self, message: String) -> MetadataError {
        MetadataError::Archive {
            filename: self.filename.to_string(),
            message,
        }
    }

    fn range_error(&self, err: RangeError) -> MetadataError {
        match err {
            RangeError::Unsupported(reason) => MetadataError::RangeUnsupported {
                filename: self.filename.to_string(),
                reason,
            },
            RangeError::Other(source) => MetadataError::Fetch {
                filename: self.filename.to_string(),
                source,
            },
        }
    }

    async fn read_tail(&mut self) -> Result<(), MetadataError> {
        let (total, bytes) = self
            .reader
            .read_tail(TAIL_BYTES)
            .await
            .map_err(|err| self.range_error(err))?;
        let expected = TAIL_BYTES.min(total);
        if (bytes.len() as u64) < expected || bytes.len() as u64 > total {
            return Err(MetadataError::RangeUnsupported {
                filename: self.filename.to_string(),
                reason: format!(
                    "asked for the last {expected} of {total} bytes, got {}",
                    bytes.len()
                ),
            });
        }
        self.start = total - bytes.len() as u64;
        self.bytes = bytes;
        Ok(())
    }

    async fn read(&self, offset: u64, len: u64) -> Result<Vec<u8>, MetadataError> {
        let bytes = self
            .reader
            .read(offset, len)
            .await
            .map_err(|err| self.range_error(err))?;
        if bytes.len() as u64 != len {
            return Err(MetadataError::RangeUnsupported {
                filename: self.filename.to_string(),
                reason: format!(
                    "asked for {len} bytes at offset {offset}, got {}",
                    bytes.len()
                ),
            });
        }
        Ok(bytes)
    }

    /// Extend the suffix read so far down to `offset`.
    async fn extend_to(&mut self, offset: u64) -> Result<(), MetadataError> {
        if offset < self.start {
            let mut bytes = self.read(offset, self.start - offset).await?;
            bytes.extend_from_slice(&self.bytes);
            self.bytes = bytes;
            self.start = offset;
        }
        Ok(())
    }

    /// `len` bytes at absolute `offset`, which must lie within the suffix read so far.
    fn slice(&self, offset: u64, len: usize) -> Result<&[u8], MetadataError> {
        offset
            .checked_sub(self.start)
            .and_then(|at| usize::try_from(at).ok())
            .and_then(|at| self.bytes.get(at..at.checked_add(len)?))
            .ok_or_else(|| {
                self.corrupt(format!(
                    "a structure at offset {offset} lies outside the file"
                ))
            })
    }

    /// The entries of the central directory, and where it starts.
    async fn central_directory(&mut self) -> Result<(Vec<Entry>, u64), MetadataError> {
        let eocd = self.find_eocd()?;
        let record = self.slice(eocd, EOCD_LEN)?;
        let disk = le16(record, 4);
        let directory_disk = le16(record, 6);
        let mut count = u64::from(le16(record, 10));
        let mut size = u64::from(le32(record, 12));
        let mut offset = u64::from(le32(record, 16));
        if disk != 0 || directory_disk != 0 {
            return Err(self.corrupt("it spans several disks".to_string()));
        }

        // A ZIP64 locator right before the end record points at the ZIP64 end record,
        // whose counts and offsets replace the saturated 16/32-bit ones.
        let locator = eocd.checked_sub(ZIP64_LOCATOR_LEN as u64);
        if let Some(locator) = locator.filter(|&at| at >= self.start)
            && le32(self.slice(locator, ZIP64_LOCATOR_LEN)?, 0) == ZIP64_LOCATOR_SIGNATURE
        {
            let record_offset = le64(self.slice(locator, ZIP64_LOCATOR_LEN)?, 8);
            if record_offset.checked_add(ZIP64_EOCD_LEN as u64) > Some(locator) {
                return Err(self.corrupt("the ZIP64 end record overlaps its locator".to_string()));
            }
            self.extend_to(record_offset).await?;
            let record = self.slice(record_offset, ZIP64_EOCD_LEN)?;
            if le32(record, 0) != ZIP64_EOCD_SIGNATURE {
                return Err(
                    self.corrupt("the ZIP64 locator points at no ZIP64 end record".to_string())
                );
            }
            count = le64(record, 32);
            size = le64(record, 40);
            offset = le64(record, 48);
        }

        if offset.checked_add(size).is_none_or(|end| end > eocd) {
            return Err(self.corrupt(format!(
                "the central directory ({size} bytes at offset {offset}) overlaps its end record"
            )));
        }
        self.extend_to(offset).await?;
        let size = usize::try_from(size)
            .map_err(|_| self.corrupt("the central directory is too large".to_string()))?;
        let entries = self.parse_central_directory(self.slice(offset, size)?, count)?;
        Ok((entries, offset))
    }

    /// The end of central directory record: scanning back from the end, the first
    /// signature whose comment length reaches exactly the end of the file.
    fn find_eocd(&self) -> Result<u64, MetadataError> {
        let bytes = &self.bytes;
        let last = bytes
            .len()
            .checked_sub(EOCD_LEN)
            .ok_or_else(|| self.corrupt("it is too short".to_string()))?;
        (0..=last)
            .rev()
            .find(|&at| {
                le32(bytes, at) == EOCD_SIGNATURE
                    && at + EOCD_LEN + usize::from(le16(bytes, at + 20)) == bytes.len()
            })
            .map(|at| self.start + at as u64)
            .ok_or_else(|| {
                self.corrupt(
                    "it is not a zip archive: it has no end of central directory record"
                        .to_string(),
                )
            })
    }

    fn parse_central_directory(
        &self,
        bytes: &[u8],
        count: u64,
    ) -> Result<Vec<Entry>, MetadataError> {
        let mut entries = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let header = bytes
                .get(at..at + CENTRAL_LEN)
                .filter(|header| le32(header, 0) == CENTRAL_SIGNATURE)
                .ok_or_else(|| {
                    self.corrupt(format!("no central directory header at its byte {at}"))
                })?;
            let name_len = usize::from(le16(header, 28));
            let extra_len = usize::from(le16(header, 30));
            let comment_len = usize::from(le16(header, 32));
            let end = at + CENTRAL_LEN + name_len + extra_len + comment_len;
            let raw_name = bytes
                .get(at + CENTRAL_LEN..at + CENTRAL_LEN + name_len)
                .ok_or_else(|| self.corrupt("a central directory entry is cut off".to_string()))?;
            let extra = bytes
                .get(at + CENTRAL_LEN + name_len..at + CENTRAL_LEN + name_len + extra_len)
                .ok_or_else(|| self.corrupt("a central directory entry is cut off".to_string()))?;
            let mut entry = Entry {
                name: String::from_utf8_lossy(raw_name).into_owned(),
                raw_name: raw_name.to_vec(),
                flags: le16(header, 8),
                method: le16(header, 10),
                crc32: le32(header, 16),
                compressed_size: u64::from(le32(header, 20)),
                uncompressed_size: u64::from(le32(header, 24)),
                local_header_offset: u64::from(le32(header, 42)),
            };
            self.apply_zip64_extra(&mut entry, extra)?;
            entries.push(entry);
            at = end;
        }
        if entries.len() as u64 != count {
            return Err(self.corrupt(format!(
                "its end record counts {count} entries, the central directory holds {}",
                entries.len()
            )));
        }
        Ok(entries)
    }

    /// Saturated (`0xFFFFFFFF`) sizes and offset come from the ZIP64 extra field, in
    /// the order uncompressed size, compressed size, offset, each only if saturated.
    fn apply_zip64_extra(&self, entry: &mut Entry, mut extra: &[u8]) -> Result<(), MetadataError> {
        const SATURATED: u64 = 0xFFFF_FFFF;
        let wanted = [
            entry.uncompressed_size,
            entry.compressed_size,
            entry.local_header_offset,
        ]
        .iter()
        .filter(|&&value| value == SATURATED)
        .count();
        if wanted == 0 {
            return Ok(());
        }
        while extra.len() >= 4 {
            let (id, len) = (le16(extra, 0), usize::from(le16(extra, 2)));
            let data = extra.get(4..4 + len).ok_or_else(|| {
                self.corrupt(format!("the extra field of `{}` is cut off", entry.name))
            })?;
            if id == ZIP64_EXTRA_ID {
                let mut values = data.chunks_exact(8).map(|chunk| le64(chunk, 0));
                for field in [
                    &mut entry.uncompressed_size,
                    &mut entry.compressed_size,
                    &mut entry.local_header_offset,
                ] {
                    if *field == SATURATED {
                        *field = values.next().ok_or_else(|| {
                            self.corrupt(format!(
                                "the ZIP64 extra field of `{}` is short",
                                entry.name
                            ))
                        })?;
                    }
                }
                return Ok(());
            }
            extra = &extra[4 + len..];
        }
        Err(self.corrupt(format!(
            "`{}` has saturated sizes but no ZIP64 extra field",
            entry.name
        )))
    }

    /// The uncompressed contents of `entry`. Its local header, data and any data
    /// descriptor end where the next entry (or the central directory) begins, so one
    /// read covers them whatever the length of the local extra field.
    async fn entry_contents(
        &self,
        entry: &Entry,
        directory: &[Entry],
        central_start: u64,
    ) -> Result<Vec<u8>, MetadataError> {
        if entry.flags & 1 != 0 {
            return Err(self.corrupt(format!("`{}` is encrypted", entry.name)));
        }
        if entry.uncompressed_size > MAX_METADATA_BYTES
            || entry.compressed_size > MAX_METADATA_BYTES
        {
            return Err(self.corrupt(format!(
                "`{}` is larger than {MAX_METADATA_BYTES} bytes",
                entry.name
            )));
        }
        let begin = entry.local_header_offset;
        let end = directory
            .iter()
            .map(|other| other.local_header_offset)
            .filter(|&offset| offset > begin)
            .chain([central_start])
            .min()
            .unwrap_or(central_start);
        // Local header + the longest name and extra field + data + data descriptor.
        let most = LOCAL_LEN as u64 + 2 * 0xFFFF + entry.compressed_size + 24;
        let end = end.min(begin.saturating_add(most));
        if end <= begin {
            return Err(self.corrupt(format!("`{}` has no room for its data", entry.name)));
        }
        let len = usize::try_from(end - begin)
            .map_err(|_| self.corrupt(format!("`{}` is too large", entry.name)))?;
        let fetched;
        let span = if begin >= self.start {
            self.slice(begin, len)?
        } else {
            fetched = self.read(begin, end - begin).await?;
            &fetched[..]
        };

        let header = span
            .get(..LOCAL_LEN)
            .filter(|header| le32(header, 0) == LOCAL_SIGNATURE)
            .ok_or_else(|| self.corrupt(format!("`{}` has no local header", entry.name)))?;
        let name_len = usize::from(le16(header, 26));
        let extra_len = usize::from(le16(header, 28));
        if span.get(LOCAL_LEN..LOCAL_LEN + name_len) != Some(&entry.raw_name[..]) {
            return Err(self.corrupt(format!(
                "the local header of `{}` names another file",
                entry.name
            )));
        }
        let data_start = LOCAL_LEN + name_len + extra_len;
        let data = usize::try_from(entry.compressed_size)
            .ok()
            .and_then(|size| span.get(data_start..data_start.checked_add(size)?))
            .ok_or_else(|| self.corrupt(format!("the data of `{}` is cut off", entry.name)))?;

        let contents = match entry.method {
            0 => data.to_vec(),
            8 => {
                let mut contents = Vec::new();
                flate2::read::DeflateDecoder::new(data)
                    .take(entry.uncompressed_size + 1)
                    .read_to_end(&mut contents)
                    .map_err(|err| {
                        self.corrupt(format!("`{}` does not inflate: {err}", entry.name))
                    })?;
                contents
            }
            method => {
                return Err(self.corrupt(format!(
                    "`{}` uses compression method {method}; wheels use only stored (0) or \
                     deflate (8)",
                    entry.name
                )));
            }
        };
        let mut crc = flate2::Crc::new();
        crc.update(&contents);
        if contents.len() as u64 != entry.uncompressed_size || crc.sum() != entry.crc32 {
            return Err(self.corrupt(format!(
                "`{}` does not match its size and CRC-32",
                entry.name
            )));
        }
        Ok(contents)
    }
}

fn le16(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn le32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn le64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use futures::executor::block_on;

    use super::*;
    use crate::index::metadata::test_wheels::WheelSpec;
    use crate::index::metadata::tests::render;
    use crate::index::metadata::wheel_metadata;

    /// A file served from memory, recording every read as `(offset, len)`.
    struct Served {
        bytes: Vec<u8>,
        reads: Mutex<Vec<(u64, u64)>>,
        ranges: bool,
    }

    impl Served {
        fn new(bytes: Vec<u8>) -> Served {
            Served {
                bytes,
                reads: Mutex::new(Vec::new()),
                ranges: true,
            }
        }

        fn reads(&self) -> Vec<(u64, u64)> {
            self.reads.lock().unwrap().clone()
        }
    }

    impl RangeRead for Served {
        async fn read_tail(&self, len: u64) -> Result<(u64, Vec<u8>), RangeError> {
            if !self.ranges {
                return Err(RangeError::Unsupported(
                    "HTTP 200 instead of 206".to_string(),
                ));
            }
            let total = self.bytes.len() as u64;
            let start = total.saturating_sub(len);
            self.reads.lock().unwrap().push((start, total - start));
            Ok((total, self.bytes[start as usize..].to_vec()))
        }

        async fn read(&self, offset: u64, len: u64) -> Result<Vec<u8>, RangeError> {
            self.reads.lock().unwrap().push((offset, len));
            let end = (offset + len).min(self.bytes.len() as u64);
            Ok(self.bytes[offset as usize..end as usize].to_vec())
        }
    }

    /// Incompressible, deterministic bytes (xorshift).
    fn noise(len: usize) -> Vec<u8> {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    }

    fn spec() -> WheelSpec {
        WheelSpec {
            requires_dist: vec![
                "numpy>=1.26".to_string(),
                "rich; extra == 'cli'".to_string(),
            ],
            provides_extra: vec!["cli".to_string()],
            requires_python: Some(">=3.10".to_string()),
            files: vec![("pkg/__init__.py".to_string(), b"VALUE = 1\n".to_vec())],
            ..WheelSpec::new("pkg", "1.0+cu124")
        }
    }

    /// The metadata read by ranges (checked equal to the whole-wheel read), and the reads.
    fn read_by_ranges(spec: &WheelSpec) -> (String, Vec<(u64, u64)>, u64) {
        let (filename, bytes) = spec.build();
        let whole = wheel_metadata(&bytes, &filename).unwrap();
        let served = Served::new(bytes);
        let by_ranges = block_on(wheel_metadata_by_ranges(&served, &filename)).unwrap();
        assert_eq!(by_ranges, whole);
        (
            render(&by_ranges),
            served.reads(),
            served.bytes.len() as u64,
        )
    }

    #[test]
    fn small_wheel_takes_one_read() {
        let (metadata, reads, total) = read_by_ranges(&spec());
        assert_eq!(reads, [(0, total)]);
        insta::assert_snapshot!(metadata);
    }

    #[test]
    fn metadata_far_from_the_end_takes_a_second_read_of_just_the_entry() {
        let spec = WheelSpec {
            dist_info_first: true,
            files: vec![("pkg/blob.bin".to_string(), noise(300_000))],
            ..spec()
        };
        let (_, reads, total) = read_by_ranges(&spec);
        assert_eq!(reads.len(), 2, "{reads:?}");
        assert_eq!(reads[0], (total - TAIL_BYTES, TAIL_BYTES));
        // The second read starts at the first entry and stops at the next one.
        assert_eq!(reads[1].0, 0);
        assert!(reads[1].1 < 2_000, "{reads:?}");
    }

    #[test]
    fn central_directory_larger_than_the_tail_is_read_in_full() {
        let files = (0..1500)
            .map(|i| {
                (
                    format!("pkg/a/rather/deeply/nested/module_number_{i:05}.py"),
                    Vec::new(),
                )
            })
            .collect();
        let spec = WheelSpec { files, ..spec() };
        let (_, reads, total) = read_by_ranges(&spec);
        // Tail, the rest of the central directory, then METADATA before it.
        assert_eq!(reads.len(), 3, "{reads:?}");
        assert_eq!(reads[0], (total - TAIL_BYTES, TAIL_BYTES));
        assert_eq!(reads[1].0 + reads[1].1, reads[0].0);
        assert!(reads[2].0 < reads[1].0);
    }

    #[test]
    fn zip64_and_stored_wheels() {
        for spec in [
            WheelSpec {
                zip64: true,
                ..spec()
            },
            WheelSpec {
                stored: true,
                ..spec()
            },
            WheelSpec {
                zip64: true,
                stored: true,
                ..spec()
            },
        ] {
            let (_, reads, _) = read_by_ranges(&spec);
            assert_eq!(reads.len(), 1);
        }
        // The ZIP64 writer really wrote a ZIP64 end record and locator.
        let (_, bytes) = WheelSpec {
            zip64: true,
            ..spec()
        }
        .build();
        let signature = ZIP64_LOCATOR_SIGNATURE.to_le_bytes();
        assert!(bytes.windows(4).any(|window| window == signature));
    }

    #[test]
    fn entries_match_the_zip_crate_and_take_the_reads_the_directory_needs() {
        let small = spec();
        let files = (0..1500)
            .map(|i| (format!("pkg/generated/module_number_{i:05}.py"), Vec::new()))
            .collect();
        let large = WheelSpec { files, ..spec() };
        for (spec, expected_reads) in [(small, 1), (large, 2)] {
            let (filename, bytes) = spec.build();
            let whole = crate::index::metadata::wheel_entries(&bytes, &filename).unwrap();
            let served = Served::new(bytes);
            let entries = block_on(entries_by_ranges(&served, &filename)).unwrap();
            assert_eq!(entries, whole);
            let record = entries
                .iter()
                .find(|entry| entry.name == "pkg-1.0+cu124.dist-info/RECORD")
                .expect("the RECORD entry");
            assert!(record.size > 0);
            assert_eq!(served.reads().len(), expected_reads, "{:?}", served.reads());
        }
    }

    #[test]
    fn a_server_without_ranges_is_told_apart_from_a_broken_zip() {
        let (filename, bytes) = spec().build();
        let mut served = Served::new(bytes);
        served.ranges = false;
        let err = block_on(wheel_metadata_by_ranges(&served, &filename)).unwrap_err();
        assert!(err.range_unsupported(), "{err}");

        let broken = Served::new(noise(100_000));
        let err = block_on(wheel_metadata_by_ranges(&broken, &filename)).unwrap_err();
        assert!(!err.range_unsupported());
        insta::assert_snapshot!(err.to_string());
    }

    /// A server that answers every range with fewer bytes than asked.
    struct Truncating(Served);

    impl RangeRead for Truncating {
        async fn read_tail(&self, len: u64) -> Result<(u64, Vec<u8>), RangeError> {
            let (total, mut bytes) = self.0.read_tail(len).await?;
            bytes.truncate(bytes.len() / 2);
            Ok((total, bytes))
        }

        async fn read(&self, offset: u64, len: u64) -> Result<Vec<u8>, RangeError> {
            self.0.read(offset, len).await
        }
    }

    #[test]
    fn short_reads_mean_ranges_are_unsupported() {
        let (filename, bytes) = spec().build();
        let served = Truncating(Served::new(bytes));
        let err = block_on(wheel_metadata_by_ranges(&served, &filename)).unwrap_err();
        assert!(err.range_unsupported(), "{err}");
    }

    #[test]
    fn unsupported_compression_and_bad_crc_are_errors() {
        let (filename, bytes) = WheelSpec {
            stored: true,
            ..spec()
        }
        .build();
        let name = b"pkg-1.0+cu124.dist-info/METADATA";
        let central = bytes
            .windows(4)
            .enumerate()
            .filter(|(_, window)| *window == CENTRAL_SIGNATURE.to_le_bytes())
            .map(|(at, _)| at)
            .find(|&at| bytes[at + CENTRAL_LEN..].starts_with(name))
            .unwrap();

        let mut bzip2 = bytes.clone();
        bzip2[central + 10..central + 12].copy_from_slice(&12u16.to_le_bytes());
        let mut bad_crc = bytes.clone();
        bad_crc[central + 16] ^= 0xFF;

        let errors: Vec<String> = [bzip2, bad_crc]
            .into_iter()
            .map(|bytes| {
                block_on(wheel_metadata_by_ranges(&Served::new(bytes), &filename))
                    .unwrap_err()
                    .to_string()
            })
            .collect();
        insta::assert_snapshot!(errors.join("\n"));
    }
}
