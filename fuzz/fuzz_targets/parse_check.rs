//! Fuzz target: any bytes through parse and check must never panic or overflow the stack.
//! Rendering is kept out of the hot loop: only the first diagnostic of an input is rendered,
//! which still reads spans back out of the source.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let files = routec::policy_files::SourceFiles::single("fuzz.route", data.to_vec());
    let (_, diagnostics) = routec::check_files(&files);
    if let Some(first) = diagnostics.sorted().into_iter().next() {
        let _ = routec::diagnostic::render(&files, first, false);
    }
});
