//! Runs one workload's training step in a loop, for a profiler:
//!
//! ```sh
//! cargo build --profile profiling --example profile_step
//! perf record -g ./target/profiling/examples/profile_step w2 2000
//! ```
//!
//! The first argument picks the workload (`w2`, `w3`, `w4`), the second the number of steps.

#[path = "../benches/common/mod.rs"]
mod common;

fn main() {
    // As perf_report and the benchmarks: the main thread is one of the pool's threads.
    surefire::tensor::init_thread_pool(0).expect("the first use of the thread pool");
    let which = std::env::args().nth(1).unwrap_or_default();
    let mut work = match which.as_str() {
        "w3" => common::w3(),
        "w4" => common::w4(),
        _ => common::w2(),
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
