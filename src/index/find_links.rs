//! `--find-links` sources: a local directory of distribution files, or an HTML page of
//! links (read with the PEP 503 parser). Their files are added to a project's files from
//! the indexes.

use std::path::{Path, PathBuf};

use url::Url;

use super::IndexError;
use super::simple::PageFile;
use crate::secrets;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindLinksSource {
    /// A directory whose files are distributions.
    Dir(PathBuf),
    /// An HTML page of links to distributions (a `file:` URL to a directory is a `Dir`).
    Page(Url),
}

impl FindLinksSource {
    /// Reads a `--find-links` argument: a URL, else a path relative to `base_dir` (the
    /// directory of the requirements file that named it).
    pub fn parse(value: &str, base_dir: &Path) -> Self {
        match Url::parse(value) {
            Ok(url) if url.scheme() == "file" => match url.to_file_path() {
                Ok(path) => Self::Dir(path),
                Err(()) => Self::Page(url),
            },
            Ok(url) if url.scheme() == "http" || url.scheme() == "https" => Self::Page(url),
            _ => Self::Dir(base_dir.join(value)),
        }
    }

    /// How files from here name their source (`DistFile::index`): path or redacted URL.
    pub fn name(&self) -> String {
        match self {
            Self::Dir(path) => path.display().to_string(),
            Self::Page(url) => secrets::url(url),
        }
    }
}

/// The distribution files of a directory (not recursive), sorted by name, as `file:` URLs.
pub fn list_dir(dir: &Path) -> Result<Vec<PageFile>, IndexError> {
    let io_err = |err: std::io::Error| IndexError::Io {
        path: dir.display().to_string(),
        message: format!("{err}; check the `--find-links` directory"),
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        let Ok(filename) = entry.file_name().into_string() else {
            continue;
        };
        if ![".whl", ".tar.gz", ".zip"]
            .iter()
            .any(|ext| filename.ends_with(ext))
        {
            continue;
        }
        let path = entry.path();
        let Ok(url) = Url::from_file_path(std::path::absolute(&path).unwrap_or(path.clone()))
        else {
            continue;
        };
        let size = entry.metadata().ok().map(|m| m.len());
        files.push(PageFile {
            filename,
            url: url.to_string(),
            sha256: None,
            requires_python: None,
            yanked: None,
            upload_time: None,
            size,
            has_metadata: false,
            metadata_sha256: None,
        });
    }
    files.sort_by(|a, b| a.filename.cmp(&b.filename));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths_and_urls() {
        let base = Path::new("/proj");
        assert_eq!(
            FindLinksSource::parse("wheels", base),
            FindLinksSource::Dir(PathBuf::from("/proj/wheels"))
        );
        assert_eq!(
            FindLinksSource::parse("file:///opt/w", base),
            FindLinksSource::Dir(PathBuf::from("/opt/w"))
        );
        assert_eq!(
            FindLinksSource::parse("https://u:p@x.example/links.html", base).name(),
            "https://x.example/links.html"
        );
    }

    #[test]
    fn lists_distributions_sorted() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b-1.0.tar.gz", "a-1.0-py3-none-any.whl", "notes.txt"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let names: Vec<_> = list_dir(dir.path())
            .unwrap()
            .into_iter()
            .map(|f| f.filename)
            .collect();
        assert_eq!(names, ["a-1.0-py3-none-any.whl", "b-1.0.tar.gz"]);
    }
}
