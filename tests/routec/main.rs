//! Integration tests: the real `routec` binary and the library, one test binary.

mod calls;
mod check_cli;
mod connect;
mod corpus;
mod crm;
mod diff_cli;
mod eval_cli;
mod eval_oracle;
mod file_sources;
mod fmt_cli;
mod graph_cli;
mod hostile_input;
mod http_sources;
mod lsp;
mod operability;
mod policies;
mod semantics;
mod serve;
mod shadow;
mod shape;
mod simulate_cli;
mod sql_sources;
mod state;
mod test;
mod test_cli;
