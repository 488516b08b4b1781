//! Parses an edited policy from its earlier parse: the items of each file before and after an
//! edit are reused, moved to their new place, and only the edited stretch is parsed again.
//! The result is the one [`super::parse`] gives; the language server needs it within a
//! keystroke on a policy of thousands of rules.
//!
//! Why reuse is exact: the parser, started at an offset, reads only the text from there on,
//! and each item ends where the next is looked for. An item is kept from before the edit when
//! the item after it ends before the edit too (looking for a continuation reads no further
//! than that item's first word). Parsing goes on item by item from there until an item ends
//! inside the unchanged tail of the file, at the place an earlier item ended: the rest of the
//! file then parses as it did, each item moved by the change in length.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::ast::{Item, Policy};
use super::parse::{Recovery, parse_whole, recover, unparsable};
use super::spans::shift;
use crate::diagnostic::Diagnostics;
use crate::policy_files::{FileId, SourceFiles};

/// A file that parsed without an error, kept to reparse it after an edit.
#[derive(Clone)]
pub struct ParsedFile {
    text: Arc<str>,
    file: FileId,
    items: Vec<Item>,
    /// Where each item starts.
    starts: Vec<usize>,
    /// Where each item ends: where the parser looks for the next.
    ends: Vec<usize>,
}

impl ParsedFile {
    fn new(text: Arc<str>, file: FileId) -> ParsedFile {
        ParsedFile {
            text,
            file,
            items: Vec::new(),
            starts: Vec::new(),
            ends: Vec::new(),
        }
    }

    fn push(&mut self, item: Item, start: usize, end: usize) {
        self.items.push(item);
        self.starts.push(start);
        self.ends.push(end);
    }

    /// The index of the item the parser finds first when it looks from `offset` on (the
    /// number of items when it finds the end), if `offset` is between two items, outside a
    /// comment: there, only blanks and comments come before that item.
    fn next_from(&self, offset: usize) -> Option<usize> {
        let i = self.starts.partition_point(|&s| s < offset);
        let gap = i.checked_sub(1).map_or(0, |i| self.ends[i]);
        let line = self.text.get(gap..offset)?.rsplit('\n').next()?;
        (!line.contains('#')).then_some(i)
    }
}

/// The last parse without errors of each file, by path, to reuse.
pub type Parsed = HashMap<PathBuf, ParsedFile>;

/// Parses every file of a policy as [`super::parse`] does, reusing what `earlier` holds of
/// each; `earlier` then holds, for each file, this parse if it had no error and the one it
/// held otherwise (while a user types, the edit from the last good text stays small).
pub fn reparse(files: &SourceFiles, earlier: &mut Parsed) -> (Policy, Diagnostics) {
    let mut policy = Policy::default();
    let mut diagnostics = Diagnostics::default();
    let mut now = Parsed::new();
    for id in files.ids() {
        let file = files.get(id);
        if unparsable(id, file, &mut diagnostics) {
            continue;
        }
        let text = &file.text;
        let mut errors = Diagnostics::default();
        let old = earlier.remove(&file.path);
        let parsed = match &old {
            Some(old) => edited(old, id, text, &mut errors),
            None => whole(id, text, &mut errors),
        };
        if errors.errors.is_empty() && errors.warnings.is_empty() {
            policy.items.extend(parsed.items.iter().cloned());
            now.insert(file.path.clone(), parsed);
        } else {
            policy.items.extend(parsed.items);
            diagnostics.extend(errors);
            if let Some(old) = old {
                now.insert(file.path.clone(), old);
            }
        }
    }
    *earlier = now;
    (policy, diagnostics)
}

/// The file parsed from its start, as [`super::parse`] does.
fn whole(id: FileId, text: &Arc<str>, diags: &mut Diagnostics) -> ParsedFile {
    let mut parsed = ParsedFile::new(text.clone(), id);
    match parse_whole(id, text) {
        Some(whole) => {
            for p in whole.items {
                parsed.push(p.item, p.start, p.end);
            }
            for e in whole.errors {
                diags.push(e);
            }
        }
        None => {
            for p in recover(id, text, diags) {
                parsed.push(p.item, p.start, p.end);
            }
        }
    }
    parsed
}

/// `old` edited into `text`, reusing its items around the edit.
fn edited(old: &ParsedFile, id: FileId, text: &Arc<str>, diags: &mut Diagnostics) -> ParsedFile {
    let (was, now) = (old.text.as_bytes(), text.as_bytes());
    let prefix = was.iter().zip(now).take_while(|(a, b)| a == b).count();
    let room = was.len().min(now.len()) - prefix;
    let suffix = was
        .iter()
        .rev()
        .zip(now.iter().rev())
        .take(room)
        .take_while(|(a, b)| a == b)
        .count();
    let delta = now.len() as i64 - was.len() as i64;
    // From here on the text is as it was, `delta` bytes later.
    let tail = now.len() - suffix;

    // Items whose next item ends before the edit are kept.
    let keep = old.ends.partition_point(|&e| e <= prefix).saturating_sub(1);
    let mut parsed = ParsedFile::new(text.clone(), id);
    for i in 0..keep {
        let mut item = old.items[i].clone();
        if id != old.file {
            shift(&mut item, id, 0);
        }
        parsed.push(item, old.starts[i], old.ends[i]);
    }
    let mut recovery = Recovery {
        id,
        text,
        offset: keep.checked_sub(1).map_or(0, |i| old.ends[i]),
        after_rule: keep
            .checked_sub(1)
            .is_some_and(|i| matches!(old.items[i], Item::Rule(_) | Item::Otherwise(_))),
        done: false,
    };
    while !recovery.done {
        let at = recovery.offset;
        if at >= tail
            && let Some(next) = old.next_from((at as i64 - delta) as usize)
        {
            for i in next..old.items.len() {
                let mut item = old.items[i].clone();
                shift(&mut item, id, delta);
                let moved = |offset: usize| (offset as i64 + delta) as usize;
                parsed.push(item, moved(old.starts[i]), moved(old.ends[i]));
            }
            break;
        }
        if let Some(p) = recovery.step(diags) {
            parsed.push(p.item, p.start, p.end);
        }
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy_files::SourceFile;
    use proptest::prelude::*;

    fn files(text: &str) -> SourceFiles {
        SourceFiles::single("p.route", text)
    }

    /// Every `.route` file of the repository's rules and examples.
    fn shipped() -> Vec<String> {
        let mut out = Vec::new();
        for dir in ["rules", "examples"] {
            for entry in walk(std::path::Path::new(dir)) {
                out.push(std::fs::read_to_string(entry).unwrap());
            }
        }
        out
    }

    fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else if path.extension().is_some_and(|e| e == "route") {
                out.push(path);
            }
        }
        out.sort();
        out
    }

    fn parses(text: &str) -> bool {
        crate::syntax::parse(&files(text)).1.errors.is_empty()
    }

    /// Reparsing `new` after `old` gives what parsing `new` gives.
    fn same_as_parse(old: &str, new: &str) {
        let mut earlier = Parsed::new();
        reparse(&files(old), &mut earlier);
        let (policy, diags) = reparse(&files(new), &mut earlier);
        let (expected, expected_diags) = crate::syntax::parse(&files(new));
        assert_eq!(policy, expected, "old:\n{old}\nnew:\n{new}");
        assert_eq!(diags.errors.len(), expected_diags.errors.len());
    }

    #[test]
    fn edits_at_the_start_middle_and_end() {
        let old = "policy \"p\"\nagent a \"+911\"\nteam t [a]\n\n\
                   rule one: when call.digits == \"1\" -> team t\n\
                   rule two: when call.digits == \"2\" -> team t\n\
                   otherwise -> team t\n";
        for (from, to) in [
            ("policy \"p\"", "policy \"pq\""),
            ("\"1\" -> team t", "\"1\" -> team t or agent a"),
            ("rule two", "# note\nrule two"),
            ("rule two: when", "rule twice: when"),
            ("otherwise -> team t\n", "otherwise -> agent a\n"),
            ("\n\nrule one", "\nrule one"),
            ("rule one: when call.digits == \"1\" -> team t\n", ""),
            ("agent a", "agent  a"),
        ] {
            assert!(parses(old) && parses(&old.replacen(from, to, 1)), "{to}");
            same_as_parse(old, &old.replacen(from, to, 1));
        }
    }

    #[test]
    fn an_item_that_now_ends_where_a_comment_was() {
        // The schedule ends at its `}`: in the old text, that place is inside the comment, so
        // what follows it is not the old items' text.
        let old = "schedule s { mon-fri 09:00-18:00 }\n# foo } z\nagent b \"+912\"\n";
        let new = old.replace("}\n# foo } z", "} z");
        assert!(parses(old) && !parses(&new));
        same_as_parse(old, &new);
    }

    #[test]
    fn an_edit_with_a_syntax_error_and_its_mend() {
        let old = "agent a \"+911\"\nrule one: when call.digits == \"1\" -> agent a\notherwise -> agent a\n";
        let broken = old.replace("-> agent a\notherwise", "-> agent\notherwise");
        assert!(parses(old) && !parses(&broken));
        same_as_parse(old, &broken);
        let mut earlier = Parsed::new();
        reparse(&files(old), &mut earlier);
        let (_, diags) = reparse(&files(&broken), &mut earlier);
        assert!(diags.has_errors());
        same_as_parse(&broken, old);
    }

    #[test]
    fn a_file_whose_place_in_the_policy_changed() {
        let text = "agent a \"+911\"\notherwise -> agent a\n";
        let mut earlier = Parsed::new();
        reparse(&files(text), &mut earlier);
        let two = SourceFiles {
            files: vec![
                SourceFile::new("a.route", b"agent b \"+912\"\n".to_vec()),
                SourceFile::new("p.route", text.replace("-> agent a", "-> agent b").into()),
            ],
            default_name: "p".into(),
            base_dir: ".".into(),
        };
        let (policy, _) = reparse(&two, &mut earlier);
        assert_eq!(policy, crate::syntax::parse(&two).0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Any splice of a shipped policy, even one that breaks it, reparses as it parses.
        #[test]
        fn splices_of_shipped_policies(
            pick in any::<prop::sample::Index>(),
            at in any::<prop::sample::Index>(),
            len in 0usize..40,
            from in any::<prop::sample::Index>(),
            take in 0usize..60,
        ) {
            let texts = shipped();
            let old = pick.get(&texts);
            let boundaries: Vec<usize> = (0..=old.len()).filter(|&i| old.is_char_boundary(i)).collect();
            let start = *at.get(&boundaries);
            let end = boundaries.iter().copied().filter(|&i| i >= start).nth(len).unwrap_or(old.len());
            let source = *from.get(&boundaries);
            let source_end = boundaries.iter().copied().filter(|&i| i >= source).nth(take).unwrap_or(old.len());
            let new = format!("{}{}{}", &old[..start], &old[source..source_end], &old[end..]);
            same_as_parse(old, &new);
        }

        /// Lines of a shipped policy moved, dropped or repeated: most of these parse.
        #[test]
        fn line_edits_of_shipped_policies(
            pick in any::<prop::sample::Index>(),
            at in any::<prop::sample::Index>(),
            len in 0usize..4,
            from in any::<prop::sample::Index>(),
            take in 0usize..4,
        ) {
            let texts = shipped();
            let old = pick.get(&texts);
            let lines: Vec<&str> = old.split_inclusive('\n').collect();
            let start = at.index(lines.len() + 1);
            let end = (start + len).min(lines.len());
            let source = from.index(lines.len() + 1);
            let source_end = (source + take).min(lines.len());
            let new: String = lines[..start]
                .iter()
                .chain(&lines[source..source_end])
                .chain(&lines[end..])
                .copied()
                .collect();
            same_as_parse(old, &new);
        }
    }
}
