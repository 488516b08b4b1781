//! The `routec` command line: parses arguments and runs one subcommand.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "routec",
    version,
    about = "Call-routing policies for Exotel, checked and served"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check policies for errors and warnings.
    Check {
        /// Policy files or directories (a directory is one policy of all its `.route` files).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// How to print diagnostics.
        #[arg(long, value_enum, default_value_t = cli::Format::Human)]
        format: cli::Format,
        /// Fail (exit 1) on warnings too.
        #[arg(long)]
        deny_warnings: bool,
        /// Touch no network: SQL sources' queries are not checked against their databases.
        /// The mode for CI jobs of policy repositories.
        #[arg(long)]
        offline: bool,
    },
    /// Decide one call and print the decision as JSON.
    Eval {
        /// The policy: a `.route` file or a directory.
        policy: PathBuf,
        /// The case: call, time, facts and agent state, as JSON or YAML (`-` for stdin).
        #[arg(long)]
        input: PathBuf,
        /// Also explain, on stderr, which rules were tried and why.
        #[arg(long)]
        explain: bool,
        /// Look nothing up: facts the case does not give are missing.
        #[arg(long)]
        offline: bool,
    },
    /// Answer Exotel's Connect and Passthru applets from a policy.
    Serve {
        /// The policy: a `.route` file or a directory [default: rules].
        policy: Option<PathBuf>,
        /// Settings in YAML (each can also be set by a `ROUTEC_*` variable).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Address Exotel calls: `/exotel/*` and health [default: 127.0.0.1:8080].
        #[arg(long)]
        listen: Option<String>,
        /// Address of the operators' endpoints: `/v1/*` and `/metrics`
        /// [default: 127.0.0.1:9090]; beyond loopback only with an admin token.
        #[arg(long)]
        admin_listen: Option<String>,
        /// How long each Exotel answer may wait for data sources, in milliseconds
        /// [default: 1000].
        #[arg(long)]
        budget_ms: Option<u64>,
        /// A candidate policy to evaluate beside the active one on every live call, reported
        /// at `/v1/shadow` (it never answers a call).
        #[arg(long, value_name = "PATH")]
        shadow: Option<PathBuf>,
    },
    /// Run test cases (YAML files of cases with expectations).
    Test {
        /// Test files, or directories: every `tests.yaml` below them.
        #[arg(required_unless_present = "generate")]
        paths: Vec<PathBuf>,
        /// Run only the cases whose name contains PATTERN.
        #[arg(long, value_name = "PATTERN")]
        run: Option<String>,
        /// Also list, per rule and per `or` fallback, how many cases fired it, and what no
        /// case fired.
        #[arg(long)]
        coverage: bool,
        /// How to print results.
        #[arg(long, value_enum, default_value_t = cli::Format::Human)]
        format: cli::Format,
        /// Also write the results as JUnit XML to FILE.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Write a `tests.yaml` with a case for every reachable rule, `or` fallback and
        /// `otherwise` of POLICY, instead of running tests.
        #[arg(long, value_name = "POLICY", conflicts_with_all = ["paths", "run", "coverage", "junit"])]
        generate: Option<PathBuf>,
        /// Where `--generate` writes [default: stdout].
        #[arg(
            short = 'o',
            long = "output",
            value_name = "FILE",
            requires = "generate"
        )]
        output: Option<PathBuf>,
    },
    /// Show which calls two versions of a policy route differently (exit 0 equivalent,
    /// 1 different, 2 error).
    Diff {
        /// The old version: a `.route` file or a directory.
        old: PathBuf,
        /// The new version.
        new: PathBuf,
        /// How to print the report.
        #[arg(long, value_enum, default_value_t = cli::Format::Human)]
        format: cli::Format,
    },
    /// Replay call logs through the policy with simulated agent occupancy: calls per rule,
    /// team and agent, and with `--against`, what a change moves.
    Simulate {
        /// The policy: a `.route` file or a directory.
        policy: PathBuf,
        /// Call logs: CSV exports of Exotel's call details, with a header row.
        #[arg(long, required = true, num_args = 1..)]
        calls: Vec<PathBuf>,
        /// Also replay through this policy (the current one) and compare.
        #[arg(long, value_name = "OLD")]
        against: Option<PathBuf>,
        /// Ask the policy's sources (files, HTTP, SQL; cached as live) for facts the logs do
        /// not give; without it they are missing, as with `eval --offline`.
        #[arg(long)]
        lookup: bool,
        /// How to print the report.
        #[arg(long, value_enum, default_value_t = cli::Format::Human)]
        format: cli::Format,
    },
    /// Print the policy's decision structure as a graph (Graphviz DOT or Mermaid).
    Graph {
        /// The policy: a `.route` file or a directory.
        policy: PathBuf,
        /// `dot` (render with `dot -Tsvg`) or `mermaid` (renders in GitHub Markdown).
        #[arg(long, value_enum, default_value_t = cli::graph::GraphFormat::Dot)]
        format: cli::graph::GraphFormat,
    },
    /// Rewrite policies in the canonical layout (`docs/language.md`, Layout).
    Fmt {
        /// Files or directories (every `.route` file under them), or `-` for stdin to stdout.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Write nothing; list the files that are not formatted and exit 1 if there are any.
        #[arg(long)]
        check: bool,
        /// Write nothing; print a unified diff of what would change.
        #[arg(long)]
        diff: bool,
    },
    /// Serve the language server protocol on stdin and stdout, for editors.
    Lsp,
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), for `man -l -` or /usr/share/man/man1.
    Man,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { cli::EXIT_USAGE } else { 0 });
        }
    };
    match cli.command {
        Command::Check {
            paths,
            format,
            deny_warnings,
            offline,
        } => cli::check::run(&paths, format, deny_warnings, offline),
        Command::Eval {
            policy,
            input,
            explain,
            offline,
        } => cli::eval::run(&policy, &input, explain, offline),
        Command::Test {
            paths,
            run,
            coverage,
            format,
            junit,
            generate,
            output,
        } => match generate {
            Some(policy) => cli::witness::run(&policy, output.as_deref()),
            None => cli::test::run(
                &paths,
                &cli::test::Options {
                    run,
                    coverage,
                    format,
                    junit,
                },
            ),
        },
        Command::Serve {
            policy,
            config,
            listen,
            admin_listen,
            budget_ms,
            shadow,
        } => cli::serve::run(
            config.as_deref(),
            [policy, shadow],
            [listen, admin_listen],
            budget_ms,
        ),
        Command::Graph { policy, format } => cli::graph::run(&policy, format),
        Command::Simulate {
            policy,
            calls,
            against,
            lookup,
            format,
        } => cli::simulate::run(
            &policy,
            &calls,
            cli::simulate::Options {
                against: against.as_deref(),
                lookup,
                format,
            },
        ),
        Command::Diff { old, new, format } => cli::diff::run(&old, &new, format),
        Command::Fmt { paths, check, diff } => {
            cli::fmt::run(&paths, cli::fmt::Mode { check, diff })
        }
        Command::Lsp => match routec::lsp::run() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: the language server stopped: {e}");
                ExitCode::from(cli::EXIT_USAGE)
            }
        },
        Command::Completions { shell } => {
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "routec", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Man => {
            let mut page = Vec::new();
            if let Err(e) = clap_mangen::Man::new(Cli::command()).render(&mut page) {
                eprintln!("error: cannot write the manual page: {e}");
                return ExitCode::from(cli::EXIT_USAGE);
            }
            use std::io::Write as _;
            let _ = std::io::stdout().write_all(&page);
            ExitCode::SUCCESS
        }
    }
}
