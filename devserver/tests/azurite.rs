//! `--storage azurite=URL` against a real Azurite (started from the
//! workspace's `node_modules`, one per test, killed at the end): the
//! emulator hands out SAS URLs it signs itself, a client uploads to Azurite
//! with Put Block + Put Block List, the start check reads the size back from
//! Azurite, the blob streams back through `open_blob_reader` and the
//! processor imports it from there, and Azurite itself refuses tampered and
//! expired signatures.
//!
//! Azurite comes from the workspace's npm devDependencies: when it is not
//! installed these tests fail (run `npm ci` in the repository root).

mod common;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use common::{job_upload, wait, Emu};
use import_devserver::config::StorageMode;
use import_devserver::storage::azurite::{Azurite, SasPermission, CONTAINER};
use import_devserver::storage::BlobPath;
use serde_json::{json, Value};

const W: &str = "dev-write";

/// A running Azurite blob service; killed on drop.
struct AzuriteProcess {
    child: Child,
    /// `http://127.0.0.1:PORT/devstoreaccount1`.
    url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for AzuriteProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the devserver crate sits in the workspace root")
        .to_path_buf()
}

/// Starts Azurite's blob service on a free port with a fresh location.
fn start_azurite() -> AzuriteProcess {
    let root = repo_root();
    let main = root.join("node_modules/azurite/dist/src/blob/main.js");
    assert!(
        main.is_file(),
        "Azurite is not installed ({} is missing): run `npm ci` in the repository root to install \
         the workspace's npm devDependencies, then run these tests again",
        main.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("azurite.log");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new("node")
        .current_dir(&root)
        .arg(&main)
        .args([
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            &port.to_string(),
            "-l",
        ])
        .arg(dir.path().join("data"))
        .args(["--skipApiVersionCheck", "--loose", "--disableTelemetry"])
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("could not run `node` to start Azurite: {e}"));
    let mut az = AzuriteProcess {
        child,
        url: format!("http://127.0.0.1:{port}/devstoreaccount1"),
        log,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return az;
        }
        if let Some(status) = az.child.try_wait().unwrap() {
            panic!(
                "Azurite exited ({status}) before listening:\n{}",
                std::fs::read_to_string(&az.log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "Azurite did not listen on port {port} within 30 s:\n{}",
            std::fs::read_to_string(&az.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An emulator in azurite mode (its processor running).
async fn emu(az: &AzuriteProcess) -> Emu {
    let url = az.url.clone();
    common::start_processing_with(move |c| c.storage = StorageMode::Azurite(url)).await
}

/// A profiles CSV of `rows` rows (a few hundred KB for 5,000).
fn csv(rows: usize) -> Vec<u8> {
    let mut s = String::from("email,first_name\r\n");
    for i in 0..rows {
        s.push_str(&format!("user{i:05}@example.com,Name {i}\r\n"));
    }
    s.into_bytes()
}

/// Creates a job for `data` and sets a balanced profiles mapping; returns
/// the create response's `data`.
async fn ready_job(emu: &Emu, data: &[u8]) -> Value {
    let (s, b) = emu
        .post(
            "/import-jobs",
            W,
            &json!({"objectName": "profiles", "fileName": "people.csv", "fileSize": data.len()}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let d = b["data"].clone();
    let id = d["jobId"].as_str().unwrap();
    let (s, b) = emu
        .post(
            &format!("/import-jobs/{id}/mapping"),
            W,
            &json!({
                "sourceFields": {"email": "string", "first_name": "string"},
                "fieldMap": {"email": "email", "first_name": "first_name"},
                "importMode": "balanced"
            }),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    d
}

/// The block id of part `n` (base64 of a fixed-width string).
fn block_id(n: usize) -> String {
    B64.encode(format!("block-{n:06}"))
}

/// Put Block of each part with the returned headers (Azurite accepts
/// `x-ms-blob-type` there); returns the block ids.
async fn put_blocks(emu: &Emu, target: &Value, parts: &[&[u8]]) -> Vec<String> {
    let url = target["uploadUrl"].as_str().unwrap();
    let mut ids = Vec::new();
    for (n, part) in parts.iter().enumerate() {
        let id = block_id(n);
        let mut req = emu.http.put(format!(
            "{url}&comp=block&blockid={}",
            urlencoding::encode(&id)
        ));
        for (k, v) in target["headers"].as_object().unwrap() {
            req = req.header(k, v.as_str().unwrap());
        }
        let r = req.body(part.to_vec()).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
        ids.push(id);
    }
    ids
}

/// Put Block List, deliberately WITHOUT `x-ms-blob-type` (with it, Azurite
/// would store the XML as the blob).
async fn put_block_list(emu: &Emu, target: &Value, ids: &[String]) -> reqwest::Response {
    let url = target["uploadUrl"].as_str().unwrap();
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>{}</BlockList>",
        ids.iter()
            .map(|id| format!("<Latest>{id}</Latest>"))
            .collect::<String>()
    );
    emu.http
        .put(format!("{url}&comp=blocklist"))
        .header("content-type", "application/xml")
        .body(xml)
        .send()
        .await
        .unwrap()
}

/// Reads the whole blob through `open_blob_reader` on a blocking thread.
async fn read_back(emu: &Emu, landing: &str) -> Option<Vec<u8>> {
    let state = emu.server.state.clone();
    let landing = landing.to_string();
    tokio::task::spawn_blocking(move || {
        state
            .storage
            .open_blob_reader(&landing)
            .unwrap()
            .map(|mut r| {
                let mut buf = Vec::new();
                r.read_to_end(&mut buf).unwrap();
                buf
            })
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_uploaded_to_azurite_pass_the_start_check_and_read_back() {
    let az = start_azurite();
    let emu = emu(&az).await;
    let data = csv(5_000);
    let target = ready_job(&emu, &data).await;
    let id = target["jobId"].as_str().unwrap();
    let landing = target["landingPath"].as_str().unwrap();

    // A real SAS URL of the Azurite blob, as Azure documents it.
    let url = target["uploadUrl"].as_str().unwrap();
    let prefix = format!("{}/{CONTAINER}/{landing}?", az.url);
    assert!(url.starts_with(&prefix), "{url}");
    let query: Vec<(String, String)> = url::form_urlencoded_pairs(&url[prefix.len()..]);
    let get = |k: &str| {
        query
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no `{k}` in the SAS"))
    };
    assert_eq!(get("sr"), "b");
    assert_eq!(get("sp"), "cw");
    assert_eq!(get("spr"), "https,http");
    assert!(get("sv") >= "2020-12-06", "{}", get("sv"));
    assert_eq!(get("se"), target["expiresAt"].as_str().unwrap());
    assert_eq!(B64.decode(get("sig")).unwrap().len(), 32);
    assert_eq!(target["method"], "PUT");
    assert_eq!(target["headers"], json!({"x-ms-blob-type": "BlockBlob"}));

    // Staged blocks alone are not an upload: start is refused.
    let (a, b) = data.split_at(data.len() / 2 + 7);
    let ids = put_blocks(&emu, &target, &[a, b]).await;
    assert_eq!(
        emu.server.state.storage.uploaded_size(landing).unwrap(),
        None
    );
    let (s, body) = emu
        .post(&format!("/import-jobs/{id}/start"), W, &json!({}))
        .await;
    assert_eq!(s, 409, "{body}");
    assert_eq!(body["error"]["details"]["foundBytes"], 0, "{body}");

    let r = put_block_list(&emu, &target, &ids).await;
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
    assert_eq!(
        emu.server.state.storage.uploaded_size(landing).unwrap(),
        Some(data.len() as u64)
    );
    let (s, body) = emu
        .post(&format!("/import-jobs/{id}/start"), W, &json!({}))
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["data"]["status"], "started", "{body}");

    // The bytes Azurite holds are exactly the bytes sent, in block order.
    let back = read_back(&emu, landing).await.expect("the blob exists");
    assert_eq!(back.len(), data.len());
    assert!(back == data, "the blob read back differs from the upload");

    // Nothing landed in the emulator's own store.
    assert!(emu
        .server
        .state
        .storage
        .open_blob_std(landing)
        .unwrap()
        .is_none());

    // The processor streams the blob from Azurite and imports every row.
    let status = wait(&emu, W, id).await;
    assert_eq!(status["state"], "completed", "{status}");
    assert_eq!(status["rowsTotal"], 5_000, "{status}");
    assert_eq!(status["rowsImported"], 5_000, "{status}");
    assert_eq!(status["mergedInserts"], 5_000, "{status}");
    assert_eq!(status["rowsRejected"], 0, "{status}");
    emu.server.stop().await;
}

#[tokio::test]
async fn azurite_refuses_tampered_expired_and_wrong_permission_urls() {
    let az = start_azurite();
    let emu = emu(&az).await;
    let data = b"email,first_name\r\nann@example.com,Ann\r\n".to_vec();
    let target = ready_job(&emu, &data).await;
    let url = target["uploadUrl"].as_str().unwrap().to_string();
    let put = |u: String| {
        emu.http
            .put(u)
            .header("x-ms-blob-type", "BlockBlob")
            .body(data.clone())
            .send()
    };

    // Tampered: signature, permission, expiry, blob name.
    let sig_at = url.find("&sig=").unwrap() + 5;
    let mut bad_sig = url.clone();
    let c = if &url[sig_at..sig_at + 1] == "A" {
        "B"
    } else {
        "A"
    };
    bad_sig.replace_range(sig_at..sig_at + 1, c);
    let more_rights = url.replace("&sp=cw&", "&sp=rcwd&");
    let later = {
        let se = url.split("&se=").nth(1).unwrap().split('&').next().unwrap();
        url.replace(se, "2099-01-01T00%3A00%3A00Z")
    };
    let other_blob = url.replace("/file?", "/other?");
    for (what, u) in [
        ("signature", bad_sig),
        ("permission", more_rights),
        ("expiry", later),
        ("blob name", other_blob),
    ] {
        assert_ne!(u, url, "{what} not tampered");
        let r = put(u).await.unwrap();
        assert_eq!(r.status().as_u16(), 403, "tampered {what}");
        // Azure answers AuthenticationFailed; Azurite AuthorizationFailure.
        let code = r.headers()["x-ms-error-code"].to_str().unwrap();
        assert!(
            code == "AuthorizationFailure" || code == "AuthenticationFailed",
            "tampered {what}: {code}"
        );
    }

    // The untampered URL uploads (Put Blob) but cannot read (write-only).
    let r = put(url.clone()).await.unwrap();
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
    let r = emu.http.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403);

    // Expired: a job created while the emulator's clock is two days behind
    // gets an upload URL whose expiry has already passed in Azurite's time.
    emu.clock.advance(chrono::Duration::days(-2));
    let old = ready_job(&emu, &data).await;
    let r = put(old["uploadUrl"].as_str().unwrap().to_string())
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(r.headers()["x-ms-error-code"], "AuthorizationFailure");
    emu.server.stop().await;
}

/// The current-thread runtime (the default of `#[tokio::test]`) also works:
/// the size check and the reader do their blocking I/O in place.
#[tokio::test]
async fn size_reader_and_remove_follow_the_azurite_blob() {
    let az = start_azurite();
    let emu = emu(&az).await;
    let st = &emu.server.state.storage;
    let landing = "jobs/imp_test/file";
    assert_eq!(st.uploaded_size(landing).unwrap(), None);
    assert!(st.open_blob_reader(landing).unwrap().is_none());

    let data = csv(100);
    let exp = chrono::Utc::now() + chrono::Duration::minutes(5);
    let t = st.upload_target(landing, exp, 1 << 20);
    let r = emu
        .http
        .put(&t.url)
        .header("x-ms-blob-type", "BlockBlob")
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(st.uploaded_size(landing).unwrap(), Some(data.len() as u64));
    let mut back = Vec::new();
    st.open_blob_reader(landing)
        .unwrap()
        .unwrap()
        .read_to_end(&mut back)
        .unwrap();
    assert!(back == data);

    st.remove(landing).unwrap();
    assert_eq!(st.uploaded_size(landing).unwrap(), None);
    assert!(st.open_blob_reader(landing).unwrap().is_none());
    // Removing again is not an error.
    st.remove(landing).unwrap();
    emu.server.stop().await;
}

#[tokio::test]
async fn azurite_answers_browser_preflights_for_uploads() {
    let az = start_azurite();
    let emu = emu(&az).await;
    let exp = chrono::Utc::now() + chrono::Duration::minutes(5);
    let t = emu
        .server
        .state
        .storage
        .upload_target("jobs/imp_cors/file", exp, 1 << 20);
    let r = emu
        .http
        .request(reqwest::Method::OPTIONS, &t.url)
        .header("origin", "http://page.example:5173")
        .header("access-control-request-method", "PUT")
        .header(
            "access-control-request-headers",
            "x-ms-blob-type,content-type,content-md5",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let h = r.headers();
    let allow_origin = h["access-control-allow-origin"].to_str().unwrap();
    assert!(
        allow_origin == "*" || allow_origin == "http://page.example:5173",
        "{allow_origin}"
    );
    let methods = h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_ascii_uppercase();
    assert!(methods.contains("PUT"), "{methods}");
    let headers = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(headers.contains("x-ms-blob-type"), "{headers}");
    emu.server.stop().await;
}

#[tokio::test]
async fn the_emulator_refuses_to_start_without_a_usable_azurite() {
    // Nothing listens on this port.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (mut config, _clock, _dir) = common::test_config();
    config.storage = StorageMode::Azurite(format!("http://127.0.0.1:{port}/devstoreaccount1"));
    let e = import_devserver::serve(config)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("not reachable"), "{e}");
    assert!(!e.contains("sig="), "{e}");

    // A key Azurite does not know: refused at start-up, naming the fix.
    let az = start_azurite();
    let wrong = B64.encode([7u8; 64]);
    let client = Azurite::new(&az.url, Some(&wrong)).unwrap();
    let e = client.prepare().unwrap_err().to_string();
    assert!(e.contains("403"), "{e}");
    assert!(e.contains("AZURITE_ACCOUNT_KEY"), "{e}");
    assert!(!e.contains("sig="), "{e}");

    // With the right key, a SAS the client signs itself reads nothing yet.
    let good = Azurite::new(&az.url, None).unwrap();
    good.prepare().unwrap();
    let path = BlobPath::new("jobs/none/file").unwrap();
    assert_eq!(good.blob_size(&path).unwrap(), None);
    let url = good.sas_url(
        &path,
        SasPermission::Read,
        chrono::Utc::now() + chrono::Duration::minutes(1),
    );
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(r.headers()["x-ms-error-code"], "BlobNotFound");
}

/// Query pairs of a URL query string, percent-decoded.
mod url {
    pub fn form_urlencoded_pairs(q: &str) -> Vec<(String, String)> {
        q.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (
                    urlencoding::decode(k).unwrap().into_owned(),
                    urlencoding::decode(v).unwrap().into_owned(),
                )
            })
            .collect()
    }
}

#[tokio::test]
async fn the_upload_read_back_endpoint_streams_the_azurite_blob() {
    use sha2::{Digest, Sha256};
    let az = start_azurite();
    let emu = emu(&az).await;
    // Several MiB of non-CSV bytes: many streamed chunks.
    let data: Vec<u8> = (0..3 * 1024 * 1024 + 5)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    let target = ready_job(&emu, &data).await;
    let id = target["jobId"].as_str().unwrap();

    // Staged blocks only: nothing is committed, 404 in the API's envelope.
    let parts: Vec<&[u8]> = data.chunks(1024 * 1024).collect();
    let ids = put_blocks(&emu, &target, &parts).await;
    let (s, _, body) = job_upload(&emu, id, Some(W)).await;
    assert_eq!(s, 404);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "CDP_ETL.NOT_FOUND", "{v}");

    let r = put_block_list(&emu, &target, &ids).await;
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
    let (s, headers, body) = job_upload(&emu, id, Some("dev-read")).await;
    assert_eq!(s, 200);
    assert_eq!(
        headers["content-length"].to_str().unwrap(),
        data.len().to_string()
    );
    assert_eq!(body.len(), data.len());
    assert_eq!(
        Sha256::digest(&body),
        Sha256::digest(&data),
        "SHA-256 of the blob read back from Azurite"
    );
    let r = emu
        .http
        .head(emu.api(&format!("/import-jobs/{id}/upload")))
        .bearer_auth(W)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()["content-length"].to_str().unwrap(),
        data.len().to_string()
    );
    emu.server.stop().await;
}
