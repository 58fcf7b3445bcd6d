//! Hold points for crash tests: a way to stop the processor at a known
//! moment so that a test can kill the process (`kill -9`) exactly there and
//! check what a restart makes of the job.
//!
//! The environment variable `IMPORT_DEVSERVER_HOLD` names one point. When a
//! job reaches it, the emulator prints
//!
//! ```text
//! hold: POINT job=JOB_ID
//! ```
//!
//! on stderr and the job's thread waits there for ever (the rest of the
//! emulator keeps serving). Without the variable (always, outside tests)
//! nothing happens. The points:
//!
//! * `read`: the file is being read: rows have been validated and queued
//!   or written inside the job's uncommitted transaction (at the first
//!   progress report with rows);
//! * `merge`: every row is written inside the transaction, which is not
//!   committed yet;
//! * `committed`: the records are committed, the job is not yet
//!   `completed` (its completion lives in another database).

use std::sync::OnceLock;

/// The environment variable naming the hold point.
pub const ENV: &str = "IMPORT_DEVSERVER_HOLD";

/// Every point [`ENV`] may name.
pub const POINTS: [&str; 3] = ["read", "merge", "committed"];

fn chosen() -> Option<&'static str> {
    static CHOSEN: OnceLock<Option<String>> = OnceLock::new();
    CHOSEN
        .get_or_init(|| {
            let v = std::env::var(ENV).ok()?;
            let v = v.trim().to_string();
            if POINTS.contains(&v.as_str()) {
                Some(v)
            } else {
                eprintln!(
                    "{ENV}={v} names no hold point (known: {}); ignored",
                    POINTS.join(", ")
                );
                None
            }
        })
        .as_deref()
}

/// Called by the processor at `point` for job `job_id`: holds the calling
/// thread for ever when [`ENV`] names that point.
pub fn at(point: &str, job_id: &str) {
    if chosen() != Some(point) {
        return;
    }
    {
        use std::io::Write;
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "hold: {point} job={job_id}");
        let _ = err.flush();
    }
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
