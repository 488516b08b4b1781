//! Reads a policy (one `.route` file or a directory of them) into a map of source files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Index of a file in [`SourceFiles`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span {
            file,
            start: start as u32,
            end: end as u32,
        }
    }

    /// The smallest span covering both (they must be in the same file).
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
}

/// One source file: its path as given to the user and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    /// Shared, so that each rendered diagnostic does not copy the whole file.
    pub text: Arc<str>,
    /// Byte offset of the first byte that is not UTF-8, if any; `text` is then a lossy copy.
    pub invalid_utf8_at: Option<usize>,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, bytes: Vec<u8>) -> SourceFile {
        let (text, invalid_utf8_at) = match String::from_utf8(bytes) {
            Ok(text) => (text, None),
            Err(err) => {
                let at = err.utf8_error().valid_up_to();
                (
                    String::from_utf8_lossy(err.as_bytes()).into_owned(),
                    Some(at),
                )
            }
        };
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceFile {
            path: path.into(),
            text: text.into(),
            invalid_utf8_at,
            line_starts,
        }
    }

    /// The 0-based line a byte offset is on.
    pub fn line_of(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&s| s <= offset) - 1
    }

    /// The byte offset where 0-based `line` starts, if the file has that line.
    pub fn line_start(&self, line: usize) -> Option<usize> {
        self.line_starts.get(line).copied()
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_of(offset);
        let start = self.line_starts[line];
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line + 1, column + 1)
    }
}

/// All files of one policy, in lexical path order, plus what the policy is called by default.
#[derive(Debug, Clone, Default)]
pub struct SourceFiles {
    pub files: Vec<SourceFile>,
    /// The file or directory name: the policy's name when it sets none.
    pub default_name: String,
    /// Directory that relative data paths in the policy are resolved against.
    pub base_dir: PathBuf,
}

/// A policy path that could not be read.
#[derive(Debug)]
pub struct LoadError {
    pub path: PathBuf,
    pub message: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot read `{}`: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for LoadError {}

impl SourceFiles {
    /// Reads a `.route` file, or every `.route` file below a directory in lexical path order.
    pub fn load(path: &Path) -> Result<SourceFiles, LoadError> {
        let err = |path: &Path, e: std::io::Error| LoadError {
            path: path.to_path_buf(),
            message: e.to_string().to_lowercase(),
        };
        let meta = std::fs::metadata(path).map_err(|e| err(path, e))?;
        let mut paths = Vec::new();
        let base_dir = if meta.is_dir() {
            collect_route_files(path, &mut paths).map_err(|e| err(path, e))?;
            if paths.is_empty() {
                return Err(LoadError {
                    path: path.to_path_buf(),
                    message: "the directory holds no `.route` file".into(),
                });
            }
            paths.sort();
            path.to_path_buf()
        } else {
            paths.push(path.to_path_buf());
            path.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        let mut files = Vec::with_capacity(paths.len());
        for p in paths {
            let bytes = std::fs::read(&p).map_err(|e| err(&p, e))?;
            files.push(SourceFile::new(p, bytes));
        }
        let default_name = path
            .canonicalize()
            .ok()
            .as_deref()
            .unwrap_or(path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "policy".into());
        Ok(SourceFiles {
            files,
            default_name,
            base_dir,
        })
    }

    /// A policy of one in-memory file, for tests, fuzzing and benchmarks.
    pub fn single(path: &str, text: impl Into<Vec<u8>>) -> SourceFiles {
        SourceFiles {
            files: vec![SourceFile::new(path, text.into())],
            default_name: Path::new(path)
                .file_stem()
                .map_or_else(|| "policy".into(), |s| s.to_string_lossy().into_owned()),
            base_dir: PathBuf::from("."),
        }
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn ids(&self) -> impl Iterator<Item = FileId> + '_ {
        (0..self.files.len() as u32).map(FileId)
    }

    /// The text a span covers.
    pub fn text(&self, span: Span) -> &str {
        self.get(span.file)
            .text
            .get(span.start as usize..span.end as usize)
            .unwrap_or("")
    }
}

fn collect_route_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            // Hidden directories (.git, editor state) and build output are never policy.
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !name.starts_with('.') && name != "target" {
                collect_route_files(&path, out)?;
            }
        } else if path.extension().is_some_and(|e| e == "route") {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let f = SourceFile::new("a.route", "ab\nçd x".as_bytes().to_vec());
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(3), (2, 1));
        assert_eq!(f.line_col("ab\nçd ".len()), (2, 4));
    }

    #[test]
    fn invalid_utf8_is_located() {
        let f = SourceFile::new("a.route", b"policy \"x\xff\"".to_vec());
        assert_eq!(f.invalid_utf8_at, Some(9));
    }
}
