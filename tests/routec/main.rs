//! Integration tests: the real `routec` binary and the library, one test binary.

mod check_cli;
mod corpus;
mod hostile_input;
mod policies;
mod test;
