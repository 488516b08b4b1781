//! Fuzz target: any bytes through parse and check must never panic or overflow the stack.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let files = routec::policy_files::SourceFiles::single("fuzz.route", data.to_vec());
    let (_, diagnostics) = routec::check_files(&files);
    // Rendering reads spans back out of the source: it must not panic either.
    for d in diagnostics.sorted().into_iter().take(8) {
        let _ = routec::diagnostic::render(&files, d, false);
    }
});
