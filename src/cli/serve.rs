//! `routec serve`: answers Exotel from a policy until told to stop (Ctrl-C or SIGTERM),
//! finishing the requests under way.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use routec::server::{AppState, Serving, app, say};
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
    let mut state = AppState::new(Some(Serving::new(prepared, &files)), budget);
    state.policy_path = Some(policy_path.to_path_buf());
    state.admin_token = std::env::var("ROUTEC_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    state.exotel_token = std::env::var("ROUTEC_EXOTEL_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    let state = Arc::new(state);
    // Kept alive for as long as the server runs.
    let _watcher = watch(Arc::clone(&state), &files.base_dir);
    reload_on_hangup(Arc::clone(&state));
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

/// Reloads when files under `dir` change, once they settle: an editor's save is several
/// events, and a `git checkout` many.
fn watch(state: Arc<AppState>, dir: &Path) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let watching = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let root = std::fs::canonicalize(watching).unwrap_or_else(|_| watching.to_path_buf());
    let events_root = root.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && (event.kind.is_create() || event.kind.is_modify() || event.kind.is_remove())
            && event
                .paths
                .iter()
                .any(|p| relevant(p.strip_prefix(&events_root).unwrap_or(p)))
        {
            let _ = tx.send(());
        }
    })
    .map_err(|e| {
        say(&format!(
            "routec: cannot watch `{}` for changes: {e}",
            dir.display()
        ))
    })
    .ok()?;
    if let Err(e) = watcher.watch(&root, notify::RecursiveMode::Recursive) {
        say(&format!(
            "routec: cannot watch `{}` for changes: {e}",
            watching.display()
        ));
        return None;
    }
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, rx.recv()).await {}
            let _ = state.reload().await;
        }
    });
    Some(watcher)
}

const DEBOUNCE: Duration = Duration::from_millis(250);

/// Changes worth a reload (`path` is below the watched directory): not editor swap files,
/// hidden files or build output.
fn relevant(path: &Path) -> bool {
    !path.components().any(|c| {
        let c = c.as_os_str().to_string_lossy();
        c.starts_with('.') && c.len() > 1 && c != ".." || c == "target"
    }) && !path.file_name().is_some_and(|n| {
        n.to_string_lossy().ends_with('~') || n.to_string_lossy().ends_with(".swp")
    })
}

/// Reloads on SIGHUP.
fn reload_on_hangup(state: Arc<AppState>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hangup.recv().await.is_some() {
            let _ = state.reload().await;
        }
    });
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
