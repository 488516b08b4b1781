//! `routec fmt`: a policy's source text in, the same tokens in routec's one canonical layout
//! out. Only the space between tokens changes, so comments stay where they were and the
//! policy means what it meant; [`format()`] proves both before it answers.

use crate::policy_files::SourceFiles;
// A line starting with one of these words starts an item; others continue one.
use crate::syntax::ITEM_KEYWORDS as ITEM_STARTS;

/// Lines are wrapped before `and`, `or` and `->` past this many columns.
pub const WIDTH: usize = 100;
/// Indentation of a line inside braces or brackets, per level.
const INDENT: usize = 2;
/// Indentation of a line that continues an item (`-> team T` under its rule).
const CONTINUATION: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token<'a> {
    /// A name, keyword, number, duration, time or date piece: `caller.tier`, `10m`, `09:00`.
    Word(&'a str),
    /// A string literal with its quotes, as written.
    Str(&'a str),
    /// Punctuation and operators: `{`, `->`, `==`, `-`.
    Punct(&'a str),
    /// `# …` to the end of the line, without trailing blanks.
    Comment(&'a str),
    Newline,
}

/// Why a text was not formatted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The text does not parse: it is left as it is (its diagnostics say why).
    SyntaxErrors,
    /// The formatted text would not be the same policy: a bug in the formatter.
    Changed(&'static str),
}

/// Formats one file's text. Refuses text with syntax errors, and any result that would not
/// read back as the same policy with the same comments.
pub fn format(name: &str, text: &str) -> Result<String, Refusal> {
    let before = SourceFiles::single(name, text.as_bytes().to_vec());
    let parsed_before = crate::syntax::parse(&before);
    if parsed_before.1.has_errors() {
        return Err(Refusal::SyntaxErrors);
    }
    let formatted = layout(text);
    // The same tokens, comments included: only whitespace moved.
    let significant = |t: &str| {
        lex(t)
            .into_iter()
            .filter(|t| *t != Token::Newline)
            .map(|t| format!("{t:?}"))
            .collect::<Vec<_>>()
    };
    if significant(text) != significant(&formatted) {
        return Err(Refusal::Changed("the tokens differ"));
    }
    let after = SourceFiles::single(name, formatted.as_bytes().to_vec());
    let parsed_after = crate::syntax::parse(&after);
    if parsed_after.1.has_errors() {
        return Err(Refusal::Changed("the formatted text does not parse"));
    }
    if checked(&before, parsed_before) != checked(&after, parsed_after) {
        return Err(Refusal::Changed("the checked policy differs"));
    }
    if layout(&formatted) != formatted {
        return Err(Refusal::Changed("formatting the result changes it again"));
    }
    Ok(formatted)
}

/// What the checker makes of a parsed file, without positions: the checked policy, or the
/// codes of its diagnostics.
fn checked(
    files: &SourceFiles,
    (ast, mut diagnostics): (crate::syntax::ast::Policy, crate::diagnostic::Diagnostics),
) -> String {
    let (policy, more) = crate::check::check(&ast, files);
    diagnostics.extend(more);
    let mut codes: Vec<String> = diagnostics
        .sorted()
        .into_iter()
        .map(|d| d.kind.code())
        .collect();
    codes.sort();
    let policy = policy.map(|p| without_line_names(&without_spans(&format!("{p:?}"))));
    format!("{policy:?} {codes:?}")
}

/// A rule without a name is named by its line (`line 12`), and formatting may move it: those
/// names are left out of the comparison (the layout documentation says so).
fn without_line_names(debug: &str) -> String {
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug;
    while let Some(at) = rest.find("\"line ") {
        out.push_str(&rest[..at + 6]);
        rest = rest[at + 6..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

/// A `Debug` rendering with every `Span { … }` reduced to `Span`: positions move when only
/// whitespace does.
fn without_spans(debug: &str) -> String {
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug;
    while let Some(at) = rest.find("Span {") {
        out.push_str(&rest[..at + 4]);
        rest = &rest[at..];
        rest = rest.find('}').map_or("", |end| &rest[end + 1..]);
    }
    out.push_str(rest);
    out
}

/// Each name in `text` with its byte offset: the segments of dotted words (`caller`, `tier`
/// in `caller.tier`), outside strings and comments. Numbers and times are left out.
pub fn names(text: &str) -> Vec<(usize, &str)> {
    let base = text.as_ptr() as usize;
    let mut out = Vec::new();
    for token in lex(text) {
        let Token::Word(word) = token else { continue };
        let mut at = word.as_ptr() as usize - base;
        for segment in word.split('.') {
            if segment
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            {
                out.push((at, segment));
            }
            at += segment.len() + 1;
        }
    }
    out
}

/// The tokens of `text` as written, comments and line breaks left out: words (`caller.tier`),
/// strings with their quotes, and punctuation (`->`, `[`).
pub fn tokens(text: &str) -> Vec<&str> {
    lex(text)
        .into_iter()
        .filter_map(|token| match token {
            Token::Word(t) | Token::Str(t) | Token::Punct(t) => Some(t),
            Token::Comment(_) | Token::Newline => None,
        })
        .collect()
}

fn lex(text: &str) -> Vec<Token<'_>> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'.';
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        match b {
            b'\n' => {
                tokens.push(Token::Newline);
                i += 1;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                tokens.push(Token::Comment(text[start..i].trim_end()));
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                if bytes.get(i) == Some(&b'"') {
                    i += 1;
                }
                let end = i.min(bytes.len());
                tokens.push(Token::Str(text.get(start..end).unwrap_or(&text[start..])));
                i = end;
            }
            _ if is_word(b) => {
                while i < bytes.len() {
                    let digit_colon_digit = bytes[i] == b':'
                        && bytes[i - 1].is_ascii_digit()
                        && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
                    if !(is_word(bytes[i]) || digit_colon_digit) {
                        break;
                    }
                    i += 1;
                }
                tokens.push(Token::Word(&text[start..i]));
            }
            _ => {
                let two = text.get(i..i + 2);
                let len = match two {
                    Some("->" | "=>" | "==" | "!=" | "<=" | ">=") => 2,
                    // One character, whatever its width in bytes (a stray `é`, the BOM).
                    _ => text[i..].chars().next().map_or(1, char::len_utf8),
                };
                let punct = &text[i..i + len];
                i += len;
                if punct != "\u{feff}" {
                    tokens.push(Token::Punct(punct));
                }
            }
        }
    }
    tokens
}

fn is_opener(t: &Token<'_>) -> bool {
    matches!(t, Token::Punct("{" | "[" | "("))
}

fn is_closer(t: &Token<'_>) -> bool {
    matches!(t, Token::Punct("}" | "]" | ")"))
}

/// Whether one space goes between two tokens of a line.
fn spaced(prev: &Token<'_>, next: &Token<'_>) -> bool {
    match (prev, next) {
        (_, Token::Comment(_)) => true,
        (Token::Punct("(" | "["), _) => false,
        // `env("CRM_TOKEN")`, `prefix(call.from)`: written as calls.
        (Token::Word("env" | "prefix"), Token::Punct("(")) => false,
        (_, Token::Punct(")" | "]" | "," | ":")) => false,
        // Day and time ranges, dates and negative numbers: `mon-fri`, `09:00-18:00`, `-5`.
        (Token::Punct("-"), _) => false,
        (Token::Word(_) | Token::Str(_) | Token::Punct(")" | "]"), Token::Punct("-")) => false,
        _ => true,
    }
}

/// One line of tokens, its tokens spaced.
fn render(tokens: &[Token<'_>]) -> String {
    let mut line = String::new();
    for (i, token) in tokens.iter().enumerate() {
        if i > 0 && spaced(&tokens[i - 1], token) {
            line.push(' ');
        }
        line.push_str(match token {
            Token::Word(s) | Token::Str(s) | Token::Punct(s) | Token::Comment(s) => s,
            Token::Newline => "",
        });
    }
    line
}

/// The canonical layout (see `docs/language.md`, Layout).
fn layout(text: &str) -> String {
    let tokens = lex(text);
    let lines: Vec<&[Token<'_>]> = tokens.split(|t| *t == Token::Newline).collect();
    // First the indentation of each line with code; comment-only lines then take the
    // indentation of the code they precede.
    let mut indents: Vec<Option<usize>> = Vec::with_capacity(lines.len());
    let mut depth = 0usize;
    let mut in_item = false;
    for line in &lines {
        let Some(first) = line.first() else {
            indents.push(None);
            continue;
        };
        if matches!(first, Token::Comment(_)) {
            indents.push(None);
            continue;
        }
        let starts_item = matches!(first, Token::Word(w) if ITEM_STARTS.contains(w));
        let indent = if is_closer(first) {
            depth.saturating_sub(1) * INDENT
        } else if depth > 0 {
            depth * INDENT
        } else if in_item && !starts_item {
            CONTINUATION
        } else {
            0
        };
        indents.push(Some(indent));
        in_item = true;
        for t in line.iter() {
            if is_opener(t) {
                depth += 1;
            } else if is_closer(t) {
                depth = depth.saturating_sub(1);
            }
        }
    }
    let mut next_indent = 0;
    for i in (0..lines.len()).rev() {
        match indents[i] {
            Some(indent) => next_indent = indent,
            None if !lines[i].is_empty() => indents[i] = Some(next_indent),
            None => {}
        }
    }
    let columns = aligned_columns(&lines, &indents);
    let mut out: Vec<String> = Vec::new();
    for (i, (line, indent)) in lines.iter().zip(&indents).enumerate() {
        if let Some((head, column)) = columns[i] {
            let head_text = render(&line[..head]);
            let pad = column - head_text.chars().count();
            out.push(format!(
                "{head_text}{}{}",
                " ".repeat(pad),
                render(&line[head..])
            ));
            continue;
        }
        let Some(indent) = *indent else {
            // A blank line: runs of them become one, and none opens or ends the file.
            if out.last().is_some_and(|l| !l.is_empty()) {
                out.push(String::new());
            }
            continue;
        };
        for piece in wrap(line, indent) {
            out.push(format!("{}{}", " ".repeat(piece.0), piece.1));
        }
    }
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

/// Items whose declarations are read as a table when several follow each other: their names
/// are padded so that what follows starts in one column.
const ALIGNED: [&str; 3] = ["agent", "team", "rule"];

/// For each line that is aligned: how many tokens its head has (`agent asha`, `rule vip:`)
/// and the column where the rest starts. A run is consecutive top-level lines starting with
/// the same word, with the continuation lines of its items between them; a run of one is
/// not aligned, nor is a line that would then be wider than [`WIDTH`].
fn aligned_columns(
    lines: &[&[Token<'_>]],
    indents: &[Option<usize>],
) -> Vec<Option<(usize, usize)>> {
    let head = |line: &[Token<'_>]| -> Option<(&str, usize)> {
        let Some(Token::Word(word)) = line.first() else {
            return None;
        };
        let word = *ALIGNED.iter().find(|w| *w == word)?;
        let len = if word == "rule" && matches!(line.get(2), Some(Token::Punct(":"))) {
            3
        } else {
            2
        };
        (line.len() > len).then_some((word, len))
    };
    let mut columns = vec![None; lines.len()];
    let mut i = 0;
    while i < lines.len() {
        let Some((word, _)) = head(lines[i]).filter(|_| indents[i] == Some(0)) else {
            i += 1;
            continue;
        };
        // The run: lines starting with `word`, and continuation lines between them.
        let mut members = Vec::new();
        let mut j = i;
        while j < lines.len() {
            match head(lines[j]) {
                Some((w, len)) if w == word && indents[j] == Some(0) => members.push((j, len)),
                _ if indents[j] == Some(CONTINUATION) => {}
                _ => break,
            }
            j += 1;
        }
        if members.len() > 1 {
            let width = |&(k, len): &(usize, usize)| render(&lines[k][..len]).chars().count();
            let column = members.iter().map(width).max().unwrap_or(0) + 1;
            for &(k, len) in &members {
                let rest = render(&lines[k][len..]).chars().count();
                if column + rest <= WIDTH {
                    columns[k] = Some((len, column));
                }
            }
        }
        i = j.max(i + 1);
    }
    columns
}

/// A line as (indent, text) pieces of at most [`WIDTH`] columns where it can be broken:
/// before `and`, `or` and `->` outside brackets, the continuation indented.
fn wrap(line: &[Token<'_>], indent: usize) -> Vec<(usize, String)> {
    let whole = render(line);
    if indent + whole.chars().count() <= WIDTH {
        return vec![(indent, whole)];
    }
    let mut segments: Vec<&[Token<'_>]> = Vec::new();
    let mut start = 0;
    let mut depth = 0usize;
    for (i, t) in line.iter().enumerate() {
        if is_opener(t) {
            depth += 1;
        } else if is_closer(t) {
            depth = depth.saturating_sub(1);
        }
        let breaks = matches!(t, Token::Word("and" | "or") | Token::Punct("->"));
        if breaks && depth == 0 && i > start {
            segments.push(&line[start..i]);
            start = i;
        }
    }
    segments.push(&line[start..]);
    let continuation = if indent == 0 { CONTINUATION } else { indent };
    let mut pieces: Vec<(usize, String)> = Vec::new();
    for segment in segments {
        let text = render(segment);
        match pieces.last_mut() {
            Some((at, current))
                if *at + current.chars().count() + 1 + text.chars().count() <= WIDTH =>
            {
                current.push(' ');
                current.push_str(&text);
            }
            Some(_) => pieces.push((continuation, text)),
            None => pieces.push((indent, text)),
        }
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(text: &str) -> String {
        format("t.route", text).unwrap()
    }

    #[test]
    fn spaces_tokens_one_way_and_keeps_comments() {
        assert_eq!(
            fmt("team  T [ a,b ]   strategy round_robin   # why\n\n\n\notherwise->team T\n"),
            "team T [a, b] strategy round_robin # why\n\notherwise -> team T\n"
        );
    }

    #[test]
    fn indents_blocks_and_continuations() {
        let text = "schedule open {\nmon-fri 09:00-18:00\n  # lunch\n   closed 2026-01-26\n}\n\
                    rule a: when x == 1\n-> queue q\notherwise -> queue q\n";
        assert_eq!(
            format("t.route", text).map_err(|_| ()),
            Ok(
                "schedule open {\n  mon-fri 09:00-18:00\n  # lunch\n  closed 2026-01-26\n}\n\
                rule a: when x == 1\n    -> queue q\notherwise -> queue q\n"
                    .to_string()
            )
        );
    }

    #[test]
    fn wraps_long_conditions_before_and_or() {
        let long = format!(
            "rule a: when {} -> queue q\notherwise -> queue q\n",
            (0..12)
                .map(|i| format!("call.digits == \"{i}\""))
                .collect::<Vec<_>>()
                .join(" or ")
        );
        let out = fmt(&long);
        assert!(out.lines().all(|l| l.chars().count() <= WIDTH), "{out}");
        assert!(out.lines().nth(1).unwrap().starts_with("    or "), "{out}");
        assert_eq!(fmt(&out), out);
    }

    fn comments(text: &str) -> Vec<String> {
        let mut all: Vec<String> = lex(text)
            .into_iter()
            .filter_map(|t| match t {
                Token::Comment(c) => Some(c.to_string()),
                _ => None,
            })
            .collect();
        all.sort();
        all
    }

    /// Every policy of the repository: formatted, it checks the same (`format` proves it),
    /// formatting again changes nothing, and every comment is still there.
    #[test]
    fn every_shipped_policy_formats_idempotently_keeping_comments() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for dir in ["rules", "examples", "tests/bad"] {
            let mut stack = vec![root.join(dir)];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d).unwrap().flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        stack.push(p);
                    } else if p.extension().is_some_and(|x| x == "route") {
                        files.push(p);
                    }
                }
            }
        }
        assert!(files.len() > 20, "{files:?}");
        let mut formatted = 0;
        for path in files {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let name = path.display().to_string();
            match format(&name, &text) {
                Ok(out) => {
                    formatted += 1;
                    assert_eq!(format(&name, &out).as_ref(), Ok(&out), "{name}");
                    assert_eq!(comments(&out), comments(&text), "{name}");
                }
                Err(Refusal::SyntaxErrors) => {}
                Err(e) => panic!("{name}: {e:?}"),
            }
        }
        assert!(formatted > 20);
    }

    use proptest::prelude::*;

    /// Items of a policy, each a line of tokens that the generator spaces at random.
    const ITEMS: [&str; 12] = [
        "policy \"p\"",
        "timezone \"Asia/Kolkata\"",
        "enum Tier { standard, premium }",
        "agent a \"+919800000001\" skills [tech: 2] languages [en, hi]",
        "agent b \"+919800000002\" weight 2",
        "team T [a, b] strategy round_robin ring 2",
        "schedule open { mon-fri 09:00-18:00 closed 2026-01-26 }",
        "map region by prefix(call.from) { \"+9180\" => \"blr\" }",
        "rule r1: when call.digits == \"1\" and not open -> team T or queue q priority 3",
        "rule r2: when (call.digits in [\"2\", \"3\"] or region == \"blr\") -> agents where skill tech >= 2 or team T",
        "when now.hour >= 18 -> number \"+919800000009\"",
        "rule r3: when call.from starts_with \"+91\" -> flow \"ivr\"",
    ];

    fn respace(item: &str, gaps: &[u8]) -> String {
        // Between tokens: one space, several, a tab, or a line break (a continuation).
        let mut out = String::new();
        for (i, word) in item.split(' ').enumerate() {
            if i > 0 {
                out.push_str(match gaps[i % gaps.len()] % 5 {
                    0 | 1 => " ",
                    2 => "    ",
                    3 => "\t",
                    _ if word == "->" || word == "and" || word == "or" => "\n  ",
                    _ => "  ",
                });
            }
            out.push_str(word);
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn generated_policies_format_idempotently_keeping_comments(
            picks in proptest::collection::vec((0..ITEMS.len(), proptest::collection::vec(any::<u8>(), 1..8), 0u8..6), 1..12),
        ) {
            let mut text = String::new();
            for (n, (item, gaps, extra)) in picks.iter().enumerate() {
                match extra {
                    0 => text.push_str(&format!("# note {n}\n")),
                    1 => text.push_str("\n\n\n"),
                    _ => {}
                }
                text.push_str(&respace(ITEMS[*item], gaps));
                if *extra == 2 {
                    text.push_str(&format!("   # trailing {n}"));
                }
                text.push('\n');
            }
            text.push_str("otherwise -> queue general\n");
            let out = format("gen.route", &text);
            prop_assert!(out.is_ok(), "{:?} for\n{}", out, text);
            let out = out.unwrap();
            prop_assert_eq!(format("gen.route", &out), Ok(out.clone()));
            prop_assert_eq!(comments(&out), comments(&text));
            prop_assert!(out.lines().all(|l| l.chars().count() <= WIDTH || !l.contains(" and ")));
        }
    }

    #[test]
    fn leaves_syntax_errors_alone() {
        assert_eq!(format("t.route", "rule a when"), Err(Refusal::SyntaxErrors));
    }
}
