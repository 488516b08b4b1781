//! `routec serve`: answers Exotel from a policy until told to stop (Ctrl-C or SIGTERM),
//! finishing the requests under way.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use routec::server::{AppState, Serving, app};
use routec::source::SourceFiles;

use super::{EXIT_ERRORS, EXIT_USAGE, print_diagnostics};

pub fn run(policy_path: &Path, listen: &str, budget: Duration) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    runtime.block_on(serve(policy_path, listen, budget))
}

async fn serve(policy_path: &Path, listen: &str, budget: Duration) -> ExitCode {
    let files = match SourceFiles::load(policy_path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let (prepared, diagnostics) = routec::prepare(&files).await;
    print_diagnostics(&files, &diagnostics);
    let Some(prepared) = prepared else {
        eprintln!(
            "error: `{}` does not load; not serving",
            policy_path.display()
        );
        return ExitCode::from(EXIT_ERRORS);
    };
    let name = prepared.policy.checked.name.clone();
    let serving = Serving {
        prepared,
        loaded_at: jiff::Timestamp::now(),
    };
    let state = Arc::new(AppState::new(Some(serving), budget));
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "error: cannot listen on {listen}: {}",
                e.to_string().to_lowercase()
            );
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let addr = listener
        .local_addr()
        .map_or_else(|_| listen.to_string(), |a| a.to_string());
    say(&format!("routec: serving policy `{name}` on http://{addr}"));
    let served = axum::serve(listener, app(state))
        .with_graceful_shutdown(stop_signal())
        .await;
    match served {
        Ok(()) => {
            say("routec: stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            say(&format!("error: the server failed: {e}"));
            ExitCode::from(EXIT_ERRORS)
        }
    }
}

/// Writes a line to stderr; a server must not panic because nobody reads it any more.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Resolves on Ctrl-C or SIGTERM.
async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
