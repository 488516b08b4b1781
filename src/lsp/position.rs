//! Positions as the Language Server Protocol counts them (lines, and UTF-16 code units within
//! a line) to byte offsets and back, and `file://` URIs to paths and back.

use std::path::{Path, PathBuf};

use crate::policy_files::SourceFile;

/// The byte offset of an LSP position in `file` (clamped to the line's end).
pub fn offset(file: &SourceFile, line: u32, character: u32) -> usize {
    let text: &str = &file.text;
    let Some(start) = file.line_start(line as usize) else {
        return text.len();
    };
    let mut units = 0;
    for (i, c) in text[start..].char_indices() {
        if c == '\n' || units >= character as usize {
            return start + i;
        }
        units += c.len_utf16();
    }
    text.len()
}

/// The LSP position `{line, character}` of a byte offset.
pub fn position(file: &SourceFile, offset: usize) -> serde_json::Value {
    let text: &str = &file.text;
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let line = file.line_of(offset);
    let line_start = file.line_start(line).unwrap_or(0);
    let character: usize = text[line_start..offset].chars().map(char::len_utf16).sum();
    serde_json::json!({"line": line, "character": character})
}

pub fn range(file: &SourceFile, start: usize, end: usize) -> serde_json::Value {
    serde_json::json!({"start": position(file, start), "end": position(file, end)})
}

/// The path of a `file://` URI (percent-escapes decoded).
pub fn path_of(uri: &str) -> Option<PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h)? * 16 + hex(l)?) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(PathBuf::from(String::from_utf8(out).ok()?))
}

/// The `file://` URI of a path, with what a URI cannot hold escaped.
pub fn uri_of(path: &Path) -> String {
    let mut uri = String::from("file://");
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_utf16_units_as_the_protocol_does() {
        let text = "# é𝄞\nagent ravi";
        let file = SourceFile::new("p.route", text.into());
        assert_eq!(
            position(&file, text.find("agent").unwrap()),
            serde_json::json!({"line": 1, "character": 0})
        );
        // `é` is one unit, `𝄞` two.
        assert_eq!(
            position(&file, text.find('\n').unwrap()),
            serde_json::json!({"line": 0, "character": 5})
        );
        assert_eq!(offset(&file, 0, 5), text.find('\n').unwrap());
        assert_eq!(offset(&file, 1, 6), text.find("ravi").unwrap());
        assert_eq!(offset(&file, 7, 0), text.len());
    }

    #[test]
    fn uris_and_paths_round_trip() {
        let path = Path::new("/tmp/my rules/p.route");
        assert_eq!(uri_of(path), "file:///tmp/my%20rules/p.route");
        assert_eq!(path_of(&uri_of(path)).as_deref(), Some(path));
    }
}
