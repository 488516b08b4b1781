//! The load benchmark's baseline: a bare axum handler that returns a fixed Connect answer,
//! on the same runtime settings as `routec serve`. `benches/load.sh` measures both in one run.
//!
//! Run: `cargo bench --profile release --bench baseline -- --serve 127.0.0.1:18081` (routec's
//! build settings, as `benches/load.sh` runs it). Without `--serve` it exits at once, so that
//! `cargo bench` does not hang on it.

use axum::Router;
use axum::routing::get;

const ANSWER: &str = r#"{"fetch_after_attempt":false,"destination":{"numbers":["+919800000002"]},"record":false,"recording_channels":"single","parallel_ringing":{"activate":false,"max_parallel_attempts":1}}"#;

async fn connect() -> ([(axum::http::HeaderName, &'static str); 1], &'static str) {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        ANSWER,
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(addr) = args
        .iter()
        .position(|a| a == "--serve")
        .and_then(|i| args.get(i + 1))
    else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let app = Router::new().route("/exotel/connect", get(connect).post(connect));
        let listener = tokio::net::TcpListener::bind(addr).await.expect("listen");
        eprintln!("baseline: serving on http://{addr}");
        axum::serve(listener, app).await.expect("serve");
    });
}
