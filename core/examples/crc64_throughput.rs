//! Throughput of CRC-64/NVME (`import_core::checksum`, the
//! `x-ms-content-crc64` check of Azure uploads), fed 1 MiB at a time as the
//! upload engine feeds it, over a buffer of random bytes held in memory.
//!
//! ```text
//! cargo run --release -p import-core --example crc64_throughput [MIB] [RUNS]
//! ```
//!
//! A benchmark program, not a test: it prints a table (every run and the
//! median) and asserts nothing. The browser build runs the same code
//! compiled to WebAssembly; `cargo xtask bench upload` measures it there.

use std::time::Instant;

use import_core::checksum::Crc64;

const PIECE: usize = 1 << 20;

fn main() {
    let mut args = std::env::args().skip(1);
    let mib: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(256);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5).max(1);
    // xorshift64: incompressible bytes without a dependency.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let data: Vec<u8> = (0..PIECE)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let mut crc = Crc64::new();
    let mut rates = Vec::with_capacity(runs);
    println!("CRC-64/NVME, {mib} MiB in 1 MiB pieces");
    println!("{:>5} {:>10} {:>20}", "run", "MiB/s", "crc");
    for run in 1..=runs {
        crc.reset();
        let t = Instant::now();
        for _ in 0..mib {
            crc.update(&data);
        }
        let rate = mib as f64 / t.elapsed().as_secs_f64();
        println!("{run:>5} {rate:>10.0} {:>#20x}", crc.finish());
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    println!("{:>5} {:>10.0}", "median", rates[rates.len() / 2]);
}
