//! Runs one workload's training step in a loop, for a profiler:
//!
//! ```sh
//! cargo build --profile profiling --example profile_step
//! perf record -g ./target/profiling/examples/profile_step w2 2000
//! ```
//!
//! The first argument picks the workload (`w2`, `w3`, `w4`), the second the number of steps,
//! the third how the step is written (`natural`, the default, `modules` or `fastest`).

#[path = "../benches/common/mod.rs"]
mod common;

fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    let way = match std::env::args().nth(3).as_deref() {
        Some("modules") => common::Way::Modules,
        Some("fastest") => common::Way::Fastest,
        _ => common::Way::Natural,
    };
    let mut work = match which.as_str() {
        "w3" => common::w3(way),
        "w4" => common::w4(way),
        _ => common::w2(way),
    };
    let steps: u32 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let start = std::time::Instant::now();
    for _ in 0..steps {
        work.step();
    }
    eprintln!("{:?} per step", start.elapsed() / steps);
}
