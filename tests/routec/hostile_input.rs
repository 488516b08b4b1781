//! No input may panic the parser or the checker.

use proptest::prelude::*;
use routec::diagnostic::Kind;
use routec::policy_files::SourceFiles;

fn check(text: impl Into<Vec<u8>>) -> routec::diagnostic::Diagnostics {
    let files = SourceFiles::single("hostile.route", text);
    routec::check_files(&files).1
}

fn codes(text: impl Into<Vec<u8>>) -> Vec<String> {
    check(text).sorted().iter().map(|d| d.kind.code()).collect()
}

#[test]
fn empty_file_only_lacks_otherwise() {
    assert_eq!(codes(""), ["route::missing-otherwise"]);
    assert_eq!(codes("# only a comment\n"), ["route::missing-otherwise"]);
}

#[test]
fn non_utf8_names_the_byte_offset() {
    let diags = check(b"policy \"caf\xe9\"\n".to_vec());
    let d = &diags.errors[0];
    assert_eq!(d.kind, Kind::InvalidUtf8 { offset: 11 });
    assert_eq!(
        d.message(),
        "file is not valid UTF-8: invalid byte at offset 11"
    );
}

#[test]
fn binary_garbage_is_a_syntax_error() {
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    assert!(check(garbage).has_errors());
    assert_eq!(codes("\0\0\0"), ["route::syntax"]);
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let deep = format!(
        "when {}x{} -> queue q\notherwise -> queue q\n",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    assert_eq!(codes(deep), ["route::too-deep"]);
    let nots = format!(
        "when {}x -> queue q\notherwise -> queue q\n",
        "not ".repeat(100_000)
    );
    assert_eq!(codes(nots), ["route::too-deep"]);
    // Nesting within the limit is fine.
    let ok = format!(
        "when {}call.digits == \"1\"{} -> queue q\notherwise -> queue q\n",
        "(".repeat(30),
        ")".repeat(30)
    );
    assert_eq!(codes(ok), Vec::<String>::new());
}

#[test]
fn long_and_chains_do_not_recurse() {
    let chain = vec!["call.digits == \"1\""; 50_000].join(" and ");
    let text = format!("when {chain} -> queue q\notherwise -> queue q\n");
    assert_eq!(codes(text), Vec::<String>::new());
}

#[test]
fn megabyte_lines_are_handled() {
    let name = "a".repeat(1 << 20);
    let text = format!("agent {name} \"+919800000002\"\nteam T [{name}]\notherwise -> team T\n");
    assert_eq!(codes(text), Vec::<String>::new());
    let junk = format!("when {} -> queue q\n", "?".repeat(1 << 20));
    assert_eq!(codes(junk), ["route::syntax"]);
}

#[test]
fn unterminated_strings_and_unknown_escapes() {
    assert_eq!(
        codes("policy \"abc\notherwise -> queue q\n"),
        ["route::syntax"]
    );
    assert_eq!(codes("policy \"abc"), ["route::syntax"]);
    assert_eq!(
        codes("policy \"a\\zb\"\notherwise -> queue q\n"),
        ["route::unknown-escape"]
    );
    assert_eq!(codes("policy \"a\\"), ["route::syntax"]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check(bytes);
    }

    #[test]
    fn arbitrary_token_soup_never_panics(tokens in proptest::collection::vec(prop_oneof![
        Just("when"), Just("->"), Just("team"), Just("agent"), Just("or"), Just("and"), Just("not"),
        Just("("), Just(")"), Just("["), Just("]"), Just("{"), Just("}"), Just("\"x\""), Just("1"),
        Just("call.digits"), Just("=="), Just("in"), Just("exists"), Just("otherwise"), Just("rule"),
        Just("r:"), Just("agents where speaks"), Just("schedule s"), Just("mon-fri"), Just("09:00-18:00"),
        Just("map m by prefix(call.from)"), Just("\"+9180\" =>"), Just("enum"), Just(","), Just("\n"),
    ], 0..64)) {
        check(tokens.join(" "));
    }
}
