//! JUnit XML of `routec test` results (`--junit FILE`), as CI systems read it: a test suite
//! per test file, a test case per case, a `failure` with the reason.

use std::path::Path;

use super::test::CaseResult;

pub fn xml(results: &[CaseResult]) -> String {
    let mut suites: Vec<(&Path, Vec<&CaseResult>)> = Vec::new();
    for r in results {
        match suites.iter_mut().find(|(f, _)| *f == r.file.as_path()) {
            Some((_, cases)) => cases.push(r),
            None => suites.push((&r.file, vec![r])),
        }
    }
    let failures = results.iter().filter(|r| r.failure.is_some()).count();
    let total: f64 = results.iter().map(|r| r.seconds).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"routec test\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{total:.6}\">\n",
        results.len()
    ));
    for (i, (file, cases)) in suites.iter().enumerate() {
        let name = escape(&file.display().to_string());
        let failed = cases.iter().filter(|r| r.failure.is_some()).count();
        let time: f64 = cases.iter().map(|r| r.seconds).sum();
        out.push_str(&format!(
            "  <testsuite id=\"{i}\" name=\"{name}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" skipped=\"0\" time=\"{time:.6}\">\n",
            cases.len()
        ));
        for case in cases {
            out.push_str(&format!(
                "    <testcase name=\"{}\" classname=\"{name}\" time=\"{:.6}\"",
                escape(&case.name),
                case.seconds
            ));
            match &case.failure {
                None => out.push_str("/>\n"),
                Some(why) => {
                    let first = why.lines().next().unwrap_or_default();
                    out.push_str(&format!(
                        ">\n      <failure message=\"{}\" type=\"mismatch\">{}</failure>\n    </testcase>\n",
                        escape(first),
                        escape(why)
                    ));
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Text for an XML attribute or element; characters XML 1.0 cannot hold are dropped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_xml_cannot_hold() {
        assert_eq!(escape("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
    }
}
