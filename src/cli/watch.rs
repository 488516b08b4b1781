//! What makes `routec serve` reload: changes to the policy's files (seen by the file system's
//! events, or by polling where there are none, as on a network file system) and SIGHUP.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use routec::server::config::WatchMode;
use routec::server::{AppState, Trigger};

/// The directory to watch for a policy that has not loaded: the directory itself, or a
/// file's directory.
pub fn dir_of(policy: &Path) -> PathBuf {
    if policy.is_dir() {
        policy.to_path_buf()
    } else {
        policy.parent().map(Path::to_path_buf).unwrap_or_default()
    }
}

/// Starts watching `dir` as the configuration says; the file system's watcher, if one is used,
/// watches for as long as it lives.
pub fn start(state: Arc<AppState>, dir: &Path) -> Option<notify::RecommendedWatcher> {
    let root = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    match state.config.watch {
        WatchMode::Off => None,
        WatchMode::Poll => {
            let every = Duration::from_millis(state.config.watch_interval_ms.max(100));
            poll(state, root.to_path_buf(), every);
            None
        }
        WatchMode::Events => events(state, root),
    }
}

/// Reloads when files under `dir` change, once they settle: an editor's save is several
/// events, a `git checkout` many, and a Kubernetes ConfigMap update a few renames.
fn events(state: Arc<AppState>, dir: &Path) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let root = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
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
    .map_err(|e| tracing::error!("cannot watch `{}` for changes: {e}", dir.display()))
    .ok()?;
    if let Err(e) = watcher.watch(&root, notify::RecursiveMode::Recursive) {
        tracing::error!(
            "cannot watch `{}` for changes: {e}; set `watch: poll` to poll it",
            dir.display()
        );
        return None;
    }
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, rx.recv()).await {}
            let _ = state.reload(Trigger::Watch).await;
        }
    });
    Some(watcher)
}

const DEBOUNCE: Duration = Duration::from_millis(250);

/// Reloads when what `dir` holds looks different from the last look, every `every`.
fn poll(state: Arc<AppState>, dir: PathBuf, every: Duration) {
    // The first look is taken here, before the listener opens, not when the task first runs:
    // on a busy machine that could come after a change made once the server answered, and
    // the change would never be seen.
    let mut last = fingerprint(&dir);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let now = fingerprint(&dir);
            if now != last {
                last = now;
                let _ = state.reload(Trigger::Poll).await;
            }
        }
    });
}

/// Each relevant file under `dir` with its size and modification time, symbolic links
/// followed (a ConfigMap's files are links into its `..data` directory).
fn fingerprint(dir: &Path) -> Vec<(PathBuf, Option<PathBuf>, u64, Option<SystemTime>)> {
    let mut seen = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&at) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if !relevant(path.strip_prefix(dir).unwrap_or(&path)) {
                continue;
            }
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                // A ConfigMap's timestamped directories are reached through `..data`.
                if !entry.file_name().to_string_lossy().starts_with("..")
                    || entry.file_name() == "..data"
                {
                    stack.push(path);
                }
            } else {
                let target = std::fs::canonicalize(&path).ok();
                seen.push((path, target, meta.len(), meta.modified().ok()));
            }
        }
    }
    seen.sort();
    seen
}

/// Changes worth a reload (`path` is below the watched directory): not editor swap files,
/// version control or build output. Dot directories count: Kubernetes swaps a ConfigMap's
/// files in by renaming `..data`.
fn relevant(path: &Path) -> bool {
    let ignored_dir = |c: std::path::Component<'_>| {
        let c = c.as_os_str();
        c == ".git" || c == "target"
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    !path.components().any(ignored_dir)
        && !name.ends_with('~')
        && !name.ends_with(".swp")
        && !name.ends_with(".swx")
}

/// Reloads on SIGHUP.
pub fn reload_on_hangup(state: Arc<AppState>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hangup.recv().await.is_some() {
            let _ = state.reload(Trigger::Signal).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configmap_swaps_count_and_editor_files_do_not() {
        assert!(relevant(Path::new("..data")));
        assert!(relevant(Path::new(
            "..2026_11_30_10_00_00.123/policy.route"
        )));
        assert!(relevant(Path::new("policy.route")));
        assert!(!relevant(Path::new(".git/index")));
        assert!(!relevant(Path::new("policy.route~")));
        assert!(!relevant(Path::new(".policy.route.swp")));
        assert!(!relevant(Path::new("target/debug/x")));
    }
}
