//! The emulator killed with `kill -9` while it processes a job, at three
//! moments the processor is held at (`IMPORT_DEVSERVER_HOLD`, see
//! `src/hold.rs`): while reading the file, during the merge (every row
//! written, the transaction not committed), and between the records'
//! commit and the job's `completed`. The real binary runs on an ephemeral
//! port with a temporary data directory, is killed (SIGKILL: no clean-up
//! runs), and a new process is started on the same port and data
//! directory. Afterwards the job has ended exactly one way: `failed` with
//! the interrupted message and the object's records exactly as before the
//! job, or `completed` once with exact counts; and a new job with the same
//! file merges it exactly once.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const TOKEN: &str = "dev-write";
/// Existing records (written by a first job before the crash).
const SEEDED: usize = 20_000;
/// Rows of the crashed job: it updates the seeded keys `0..UPDATED` and
/// inserts `SEEDED..SEEDED + INSERTED`, and has `REJECTED` invalid rows.
/// Over 10,000 rows, so a progress report (the `read` hold) comes mid-file.
const UPDATED: usize = 15_000;
const INSERTED: usize = 15_000;
const REJECTED: usize = 7;

/// The emulator binary as a child process.
struct Proc {
    child: Child,
    addr: SocketAddr,
    url: String,
    /// Lines of its stderr.
    stderr: mpsc::Receiver<String>,
}

impl Proc {
    /// Starts the binary on `addr` (port 0: a free one) with `data_dir`,
    /// holding at `hold` if given; waits for its `listening on` line.
    fn start(data_dir: &Path, addr: SocketAddr, hold: Option<&str>) -> Proc {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_import-devserver"));
        cmd.arg("--addr")
            .arg(addr.to_string())
            .arg("--data-dir")
            .arg(data_dir)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match hold {
            Some(point) => cmd.env(import_devserver::hold::ENV, point),
            None => cmd.env_remove(import_devserver::hold::ENV),
        };
        let mut child = cmd.spawn().expect("starting import-devserver");
        let (out_tx, out_rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = out_tx.send(line);
            }
        });
        let (err_tx, err_rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = err_tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = out_rx
                .recv_timeout(left)
                .expect("the emulator printed no `listening on` line");
            if let Some(url) = line.trim().strip_prefix("listening on ") {
                break url.to_string();
            }
        };
        let addr = url
            .trim_start_matches("http://")
            .parse()
            .expect("a socket address");
        Proc {
            child,
            addr,
            url,
            stderr: err_rx,
        }
    }

    /// Waits for the `hold: POINT job=ID` line of `job`.
    fn wait_for_hold(&self, point: &str, job: &str) {
        let want = format!("hold: {point} job={job}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.trim() == want => return,
                Ok(_) => {}
                Err(e) => panic!("the job never reached `{point}` ({e})"),
            }
        }
    }

    /// SIGKILL, as `kill -9`: nothing of the process runs afterwards.
    fn kill_9(mut self) {
        let status = Command::new("kill")
            .args(["-9", &self.child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(exit.signal(), Some(9), "{exit:?}");
    }

    fn api(&self, path: &str) -> String {
        format!("{}/public/v1{path}", self.url)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn csv_seed() -> String {
    let mut csv = String::from("email,first_name\n");
    for i in 0..SEEDED {
        csv.push_str(&format!("user{i}@example.com,Seed {i}\n"));
    }
    csv
}

/// The crashed job's file: updates, inserts, and a few rejected rows
/// spread through it.
fn csv_job() -> String {
    let mut csv = String::from("email,first_name\n");
    for i in 0..UPDATED.max(INSERTED) {
        if i < UPDATED {
            csv.push_str(&format!("user{i}@example.com,Changed {i}\n"));
        }
        if i < INSERTED {
            csv.push_str(&format!("user{}@example.com,New {i}\n", SEEDED + i));
        }
        if i % (UPDATED / REJECTED) == 1 && i / (UPDATED / REJECTED) < REJECTED {
            csv.push_str(&format!("not-an-email-{i},Bad\n"));
        }
    }
    csv
}

fn mapping() -> Value {
    json!({
        "sourceFields": {"email": "string", "first_name": "string"},
        "fieldMap": {"email": "email", "first_name": "first_name"}
    })
}

async fn post(http: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let r = http.post(url).bearer_auth(TOKEN).json(&body).send().await;
    let r = r.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn status(http: &reqwest::Client, p: &Proc, id: &str) -> Value {
    let r = http
        .get(p.api(&format!("/import-jobs/{id}")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json::<Value>().await.unwrap()["data"].clone()
}

/// Creates a job, uploads `csv`, sets the mapping and starts it.
async fn start_job(http: &reqwest::Client, p: &Proc, csv: &str) -> String {
    let (s, b) = post(
        http,
        p.api("/import-jobs"),
        json!({"objectName": "profiles", "fileName": "crash.csv", "fileSize": csv.len()}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let d = &b["data"];
    let id = d["jobId"].as_str().unwrap().to_string();
    let mut put = http.put(d["uploadUrl"].as_str().unwrap());
    for (k, v) in d["headers"].as_object().unwrap() {
        put = put.header(k, v.as_str().unwrap());
    }
    let r = put.body(csv.to_string()).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let (s, b) = post(
        http,
        p.api(&format!("/import-jobs/{id}/mapping")),
        mapping(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = post(http, p.api(&format!("/import-jobs/{id}/start")), json!({})).await;
    assert_eq!(s, 200, "{b}");
    id
}

async fn wait(http: &reqwest::Client, p: &Proc, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let st = status(http, p, id).await;
        if st["state"] == "completed" || st["state"] == "failed" {
            return st;
        }
        assert!(Instant::now() < deadline, "job still running: {st}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A record of `profiles`: e-mail, first name, creating and last updating
/// job numbers.
type Record = (String, Option<String>, i64, i64);
/// Every record of `profiles`, in key order, and the jobs that merged.
type Snapshot = (Vec<Record>, Vec<String>);

/// Reads the [`Snapshot`] of a data directory.
fn snapshot(data_dir: &Path) -> Snapshot {
    let conn =
        rusqlite::Connection::open(data_dir.join(import_devserver::processor::merge::RECORDS_FILE))
            .unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT email, first_name, _created_job, _updated_job FROM obj_profiles \
             ORDER BY _workspace, email",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap();
    let mut stmt = conn
        .prepare("SELECT job_id FROM _merged_jobs ORDER BY job_id")
        .unwrap();
    let jobs = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap();
    (rows, jobs)
}

/// Asserts that a completed job's status and the records show the crashed
/// job's file merged exactly once on top of the seeded records.
fn assert_merged_once(st: &Value, data_dir: &Path, seed_job: &str, job: &str) {
    assert_eq!(st["state"], "completed", "{st}");
    let total = UPDATED + INSERTED + REJECTED;
    assert_eq!(st["readRows"], total, "{st}");
    assert_eq!(st["validRows"], UPDATED + INSERTED, "{st}");
    assert_eq!(st["invalidRows"], REJECTED, "{st}");
    assert_eq!(st["mergedInserts"], INSERTED, "{st}");
    assert_eq!(st["mergedUpdates"], UPDATED, "{st}");
    let (rows, jobs) = snapshot(data_dir);
    assert_eq!(rows.len(), SEEDED + INSERTED);
    let changed = rows
        .iter()
        .filter(|r| r.1.as_deref().is_some_and(|n| n.starts_with("Changed ")))
        .count();
    let new = rows
        .iter()
        .filter(|r| r.1.as_deref().is_some_and(|n| n.starts_with("New ")))
        .count();
    assert_eq!((changed, new), (UPDATED, INSERTED));
    let mut want = vec![seed_job.to_string(), job.to_string()];
    want.sort();
    assert_eq!(jobs, want);
}

/// Seeds the records with a first job (no hold), then starts the job to
/// crash under `hold`, kills the process there and restarts it. Returns
/// the restarted process, the data directory, the seed and crashed jobs'
/// ids, and the records as they were before the crashed job.
async fn crash_at(point: &str, dir: &Path) -> (Proc, String, String, Snapshot) {
    let http = reqwest::Client::new();
    let first = Proc::start(dir, "127.0.0.1:0".parse().unwrap(), None);
    let seed = start_job(&http, &first, &csv_seed()).await;
    let st = wait(&http, &first, &seed).await;
    assert_eq!(
        (&st["state"], &st["mergedInserts"]),
        (&json!("completed"), &json!(SEEDED)),
        "{st}"
    );
    let addr = first.addr;
    first.kill_9();
    let before = snapshot(dir);
    assert_eq!(before.0.len(), SEEDED);

    let held = Proc::start(dir, addr, Some(point));
    let job = start_job(&http, &held, &csv_job()).await;
    held.wait_for_hold(point, &job);
    let st = status(&http, &held, &job).await;
    assert_eq!(st["state"], "running", "{st}");
    held.kill_9();

    let again = Proc::start(dir, addr, None);
    assert_eq!(again.addr, addr, "restarted on the same port");
    (again, seed, job, before)
}

/// Killed at `point` before the commit: the job fails with the interrupted
/// message, the records are exactly as before, nothing is left of its
/// error file, and the same file on a new job merges once.
async fn fails_cleanly(point: &str) {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let (p, seed, job, before) = crash_at(point, dir.path()).await;
    let st = wait(&http, &p, &job).await;
    assert_eq!(st["state"], "failed", "{st}");
    assert_eq!(
        st["errorMessage"],
        import_devserver::jobs::INTERRUPTED_MESSAGE,
        "{st}"
    );
    assert_eq!(
        (&st["mergedInserts"], &st["mergedUpdates"]),
        (&json!(0), &json!(0)),
        "{st}"
    );
    assert_eq!(snapshot(dir.path()), before, "the records changed");
    let errors = job_errors(&http, &p, &job).await;
    assert_eq!(errors["data"]["hasErrors"], false, "{errors}");
    let error_file = dir
        .path()
        .join("blobs/data/errors")
        .join(format!("{job}.jsonl"));
    assert!(!error_file.exists(), "{} left behind", error_file.display());

    // The user does what the message says: a new job with the same file.
    let retry = start_job(&http, &p, &csv_job()).await;
    let st = wait(&http, &p, &retry).await;
    assert_merged_once(&st, dir.path(), &seed, &retry);
}

/// The job's `GET /import-jobs/{id}/errors` answer.
async fn job_errors(http: &reqwest::Client, p: &Proc, job: &str) -> Value {
    let r = http
        .get(p.api(&format!("/import-jobs/{job}/errors")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_reading_the_file_the_job_fails_and_the_records_are_unchanged() {
    fails_cleanly("read").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_during_the_merge_the_job_fails_and_the_records_are_unchanged() {
    fails_cleanly("merge").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_records_commit_the_job_completes_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let (p, seed, job, _) = crash_at("committed", dir.path()).await;
    let st = wait(&http, &p, &job).await;
    assert_merged_once(&st, dir.path(), &seed, &job);
    // Its error file, committed before the records, is served.
    let errors = job_errors(&http, &p, &job).await;
    assert_eq!(errors["data"]["hasErrors"], true, "{errors}");
    assert_eq!(errors["data"]["errorCount"], REJECTED, "{errors}");
    let lines = http
        .get(errors["data"]["errorFileUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(lines.lines().count(), REJECTED);
    // Nothing runs it a second time: the status stays as it is.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(status(&http, &p, &job).await, st);
}
