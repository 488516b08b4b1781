//! The process's own figures (the `process_*` metrics every Prometheus client exports), read
//! from `/proc/self` when scraped. Where `/proc` is missing, they are left out.

use std::fmt::Error;

use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

/// Clock ticks per second and page size: Linux's on every platform routec is built for.
const TICKS_PER_SECOND: f64 = 100.0;
const PAGE_BYTES: f64 = 4096.0;

struct Figures {
    cpu_seconds: f64,
    resident_bytes: f64,
    virtual_bytes: f64,
    threads: f64,
    start_time_seconds: Option<f64>,
    open_fds: Option<f64>,
    max_fds: Option<f64>,
}

fn read() -> Option<Figures> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name is in brackets and may hold spaces: fields are counted after it.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // Field numbers of proc(5), less the three before and at the bracket.
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<f64>().ok());
    let boot_time = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("btime ")?.trim().parse::<f64>().ok())
    });
    let max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))?
                .split_whitespace()
                .nth(3)?
                .parse::<f64>()
                .ok()
        });
    Some(Figures {
        cpu_seconds: (field(14)? + field(15)?) / TICKS_PER_SECOND,
        threads: field(20)?,
        start_time_seconds: boot_time
            .zip(field(22))
            .map(|(b, t)| b + t / TICKS_PER_SECOND),
        virtual_bytes: field(23)?,
        resident_bytes: field(24)? * PAGE_BYTES,
        open_fds: std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| d.count() as f64),
        max_fds,
    })
}

pub fn encode(e: &mut DescriptorEncoder<'_>) -> Result<(), Error> {
    let Some(f) = read() else {
        return Ok(());
    };
    let mut one = |name: &str, help: &str, kind: MetricType, value: Option<f64>| {
        let Some(value) = value else {
            return Ok(());
        };
        let mut metric = e.encode_descriptor(name, help, None, kind)?;
        if kind == MetricType::Counter {
            metric.encode_counter::<NoLabelSet, f64, f64>(&value, None)
        } else {
            metric.encode_gauge(&value)
        }
    };
    one(
        "process_cpu_seconds",
        "Total user and system CPU time spent in seconds.",
        MetricType::Counter,
        Some(f.cpu_seconds),
    )?;
    one(
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        MetricType::Gauge,
        Some(f.resident_bytes),
    )?;
    one(
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes.",
        MetricType::Gauge,
        Some(f.virtual_bytes),
    )?;
    one(
        "process_threads",
        "Number of OS threads in the process.",
        MetricType::Gauge,
        Some(f.threads),
    )?;
    one(
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        MetricType::Gauge,
        f.start_time_seconds,
    )?;
    one(
        "process_open_fds",
        "Number of open file descriptors.",
        MetricType::Gauge,
        f.open_fds,
    )?;
    one(
        "process_max_fds",
        "Maximum number of open file descriptors.",
        MetricType::Gauge,
        f.max_fds,
    )
}
