//! Each file in `tests/bad/` states the diagnostics it must produce, as `# expect CODE: TEXT`
//! lines (TEXT is the underlined source text); the rendered report is snapshot-tested.

use routec::diagnostic::render;
use routec::policy_files::SourceFiles;

use crate::test::repo;

fn expectations(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# expect "))
        .map(|l| {
            let (code, underlined) = l.split_once(": ").unwrap_or((l.trim_end_matches(':'), ""));
            (code.to_string(), underlined.to_string())
        })
        .collect()
}

#[test]
fn bad_policies_report_exactly_their_diagnostics() {
    let dir = repo().join("tests/bad");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "route"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 50, "corpus is missing");
    let mut failures = Vec::new();
    for path in &paths {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let relative = format!("tests/bad/{name}.route");
        let files = SourceFiles::load(&repo().join(&relative)).unwrap();
        let mut files = files;
        // A stable path in rendered reports, wherever the repository is.
        files.files[0].path = relative.clone().into();
        let expected = expectations(&files.files[0].text);
        assert!(!expected.is_empty(), "{relative} has no `# expect` line");
        let (_, diagnostics) = routec::load(&files);
        let sorted = diagnostics.sorted();
        let actual: Vec<(String, String)> = sorted
            .iter()
            .map(|d| (d.kind.code(), files.text(d.span).to_string()))
            .collect();
        if actual != expected {
            failures.push(format!(
                "{relative}\n  expected {expected:?}\n  actual   {actual:?}"
            ));
        }
        let rendered: String = sorted.iter().map(|d| render(&files, d, false)).collect();
        insta::assert_snapshot!(name, rendered);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
