//! `routec serve`: answers Exotel from a policy until told to stop (Ctrl-C or SIGTERM),
//! finishing the requests under way.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::service::TowerToHyperService;
use routec::policy_files::SourceFiles;
use routec::server::config::{StateSettings, StoreKind};
use routec::server::{AppState, Config, Serving, Shortcut, admin_app, listen, logging};
use routec::state::StateStore;
use routec::state::memory::MemoryStore;
use routec::state::redis::RedisStore;

use super::watch;
use super::{EXIT_ERRORS, EXIT_USAGE, print_diagnostics};

pub fn run(
    config_file: Option<&Path>,
    [policy, shadow]: [Option<PathBuf>; 2],
    [listen, admin_listen]: [Option<String>; 2],
    budget_ms: Option<u64>,
) -> ExitCode {
    let (mut config, warnings) = match Config::load(config_file, std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            tell!("{e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    logging::init(config.log.format, &config.log.level);
    for warning in warnings {
        tracing::warn!("{}", warning.trim_start_matches("warning: "));
    }
    // Flags win over the file and the environment.
    if let Some(policy) = policy {
        config.policy = policy;
    }
    if shadow.is_some() {
        config.shadow = shadow;
    }
    if let Some(listen) = listen {
        config.listen = listen;
    }
    if let Some(admin_listen) = admin_listen {
        config.admin_listen = admin_listen;
    }
    if let Some(refusal) = config.admin_listen_refusal() {
        tracing::error!("{}", refusal.trim_start_matches("error: "));
        return ExitCode::from(EXIT_USAGE);
    }
    if let Some(budget_ms) = budget_ms {
        config.budget_ms = budget_ms;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    runtime.block_on(serve(config))
}

/// Loads the policy to serve first: `None` when it does not load (reported), in which case
/// the server starts only with a static fallback configured.
async fn first_policy(config: &Config) -> Result<Option<(Serving, PathBuf)>, ExitCode> {
    let path = &config.policy;
    let files = match SourceFiles::load(path) {
        Ok(f) => f,
        Err(e) if config.fallback.is_set() => {
            tracing::error!("{e}");
            return Ok(None);
        }
        Err(e) => {
            tracing::error!("{e}");
            return Err(ExitCode::from(EXIT_USAGE));
        }
    };
    let (prepared, diagnostics) = routec::prepare(&files).await;
    print_diagnostics(&files, &diagnostics);
    match prepared {
        Some(prepared) => Ok(Some((
            Serving::new(prepared, &files).noting(&diagnostics),
            files.base_dir,
        ))),
        None if config.fallback.is_set() => {
            tracing::error!(
                "`{}` does not load; answering the static fallback until it does",
                path.display()
            );
            Ok(None)
        }
        None => {
            tracing::error!("`{}` does not load; not serving", path.display());
            Err(ExitCode::from(EXIT_ERRORS))
        }
    }
}

async fn serve(config: Config) -> ExitCode {
    let first = match first_policy(&config).await {
        Ok(first) => first,
        Err(code) => return code,
    };
    let listen = config.listen.clone();
    let admin_listen = config.admin_listen.clone();
    let policy_path = config.policy.clone();
    let (serving, watched) = match first {
        Some((serving, base_dir)) => (Some(serving), base_dir),
        None => (None, watch::dir_of(&policy_path)),
    };
    let name = serving
        .as_ref()
        .map(|s| s.prepared.policy.checked.name.clone());
    let store = match open_store(&config.state) {
        Ok(store) => store,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    // Said at start, not found out at the first call: the server still starts.
    if let StateStore::Redis(redis) = &store
        && !redis.ping().await
    {
        tracing::warn!(
            "redis at {} does not answer; decisions use this replica's own state \
             (`state: redis unavailable`) until it does",
            config.state.redis_url
        );
    }
    let shadow_path = config.shadow.clone();
    let mut state = AppState::with_store(serving, config, store);
    state.policy_path = Some(policy_path);
    if let Some(path) = &shadow_path {
        let shadow = routec::server::shadow::Shadow::new(path.clone());
        match shadow.reload().await {
            Ok(version) => tracing::info!(
                candidate = %path.display(),
                version = %version,
                "shadowing live calls with a candidate policy"
            ),
            Err(refusal) => tracing::error!(
                candidate = %path.display(),
                "the shadow candidate does not load; nothing is shadowed until it does: {}",
                refusal.trim_end()
            ),
        }
        state.shadow = Some(shadow);
    }
    let state = Arc::new(state);
    save_periodically(Arc::clone(&state));
    // Kept alive for as long as the server runs.
    let _watcher = watch::start(Arc::clone(&state), &watched);
    let _shadow_watcher = shadow_path.map(|p| watch::start(Arc::clone(&state), &watch::dir_of(&p)));
    watch::reload_on_hangup(Arc::clone(&state));
    let listener = match tokio::net::TcpListener::bind(&listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(
                "cannot listen on {listen}: {}",
                e.to_string().to_lowercase()
            );
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let admin_listener = match tokio::net::TcpListener::bind(&admin_listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(
                "cannot listen on {admin_listen} (admin_listen): {}",
                e.to_string().to_lowercase()
            );
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let admin_addr = admin_listener
        .local_addr()
        .map_or_else(|_| admin_listen.clone(), |a| a.to_string());
    let addr = listener
        .local_addr()
        .map_or_else(|_| listen.clone(), |a| a.to_string());
    match name {
        Some(name) => tracing::info!("serving policy `{name}` on http://{addr}"),
        None => tracing::info!("serving the static fallback on http://{addr}"),
    }
    tracing::info!("admin endpoints (/v1, /metrics) and the console on http://{admin_addr}");
    // One stop signal ends both listeners, each after the requests under way.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let closing = Arc::clone(&state);
    tokio::spawn(async move {
        stop_signal().await;
        let _ = stop.send(true);
        // Open live feeds end, or the graceful stop would wait for them.
        closing.console.live.close();
    });
    let until_stopped = |mut stopping: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    let state_for_shutdown = Arc::clone(&state);
    let limits = state.config.limits.clone();
    let admin = listen::serve(
        admin_listener,
        TowerToHyperService::new(admin_app(Arc::clone(&state))),
        &limits,
        until_stopped(stopping.clone()),
    );
    let exotel = listen::serve(
        listener,
        Shortcut::new(state),
        &limits,
        until_stopped(stopping),
    );
    tokio::join!(exotel, admin);
    state_for_shutdown.flush_log(Duration::from_secs(2));
    if let Err(e) = state_for_shutdown.store.save() {
        tracing::error!("agent state not saved: {e}");
    }
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

/// The agent state store the configuration names.
fn open_store(settings: &StateSettings) -> Result<StateStore, String> {
    match settings.store {
        StoreKind::Memory => {
            let (store, problem) = MemoryStore::open(settings.snapshot.clone());
            if let Some(problem) = problem {
                tracing::warn!("{problem}");
            }
            Ok(StateStore::Memory(Box::new(store)))
        }
        StoreKind::Redis => {
            let store = RedisStore::connect(&settings.redis_url, &settings.key_prefix)?;
            tracing::info!(
                "agent state in redis at {} (keys `{{{}}}:…`)",
                settings.redis_url,
                settings.key_prefix
            );
            Ok(StateStore::Redis(store))
        }
    }
}

/// Writes the memory store's snapshot every `snapshot_secs` when something changed.
fn save_periodically(state: Arc<AppState>) {
    let every = Duration::from_secs(state.config.state.snapshot_secs.max(1));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            // Writing a large state takes a while: not on a thread that answers calls.
            let saving = Arc::clone(&state);
            let saved = tokio::task::spawn_blocking(move || saving.store.save()).await;
            if let Ok(Err(e)) = saved {
                tracing::error!("agent state not saved: {e}");
            }
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
