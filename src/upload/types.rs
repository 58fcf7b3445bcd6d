//! The engine's public types: where to upload ([`UploadTarget`]), what a
//! finished upload reports ([`UploadResult`]), and its constants.

use import_core::plan::Protocol;
use wasm_bindgen::JsValue;

/// Rate assumed before any part has been sent, to warn that the upload
/// URL may expire first: 2 MiB/s (16 Mbit/s, a modest uplink).
pub const ASSUMED_BYTES_PER_SECOND: f64 = 2.0 * 1024.0 * 1024.0;
/// Default minimum interval between byte-level progress reports.
pub const DEFAULT_PROGRESS_INTERVAL_MS: f64 = 100.0;
/// `code` of the warning sent when the upload is projected to finish after
/// the URL expires.
pub const EXPIRY_WARNING_CODE: &str = "URL_EXPIRES_BEFORE_FINISH";
/// `code` of a whole-object checksum that storage reported differently.
pub const CHECKSUM_MISMATCH_CODE: &str = "CHECKSUM_MISMATCH";

/// Where to upload: the create-job response's `uploadUrl`, `method`,
/// `headers` and `expiresAt`.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadTarget {
    /// The pre-signed URL.
    pub url: String,
    /// HTTP method of the upload (`PUT`).
    pub method: String,
    /// Headers every upload request must carry (merged in as given).
    pub headers: Vec<(String, String)>,
    /// When the URL stops working (milliseconds since the epoch).
    pub expires_at_ms: Option<f64>,
}

/// What a finished upload reports (`UploadResult` in TypeScript).
#[derive(Debug, Clone, PartialEq)]
pub struct UploadResult {
    /// The protocol used.
    pub protocol: Protocol,
    /// Bytes uploaded (the file's size).
    pub size: u64,
    /// Bytes per part of the plan.
    pub part_size: u64,
    /// Parts in the plan.
    pub parts: u64,
    /// Parts skipped because a previous session had stored them.
    pub parts_skipped: u64,
    /// HTTP requests sent to storage (retries included).
    pub requests: u32,
    /// Of those, retries.
    pub retries: u32,
    /// The committed object's ETag, when storage returned one.
    pub etag: Option<String>,
    /// Base64 MD5 of the whole object as storage reported it (GCS
    /// `md5Hash`, Azure Put Blob and S3 single PUT), when it did.
    pub storage_md5: Option<String>,
    /// Where the resume record was kept: `custom`, `localStorage`,
    /// `indexedDB` or `memory`.
    pub resume_store: &'static str,
    /// How requests were sent: `xhr` (byte-level progress) or `fetch`.
    pub transport: &'static str,
    /// Milliseconds from start to finish.
    pub duration_ms: f64,
}

impl UploadResult {
    /// The `UploadResult` JavaScript sees (camelCase, `null` for absent
    /// strings).
    pub fn to_js(&self) -> JsValue {
        let o = js_sys::Object::new();
        let set = |k: &str, v: JsValue| crate::shape::set(&o, k, &v);
        let num = |n: f64| JsValue::from_f64(n);
        let opt = |s: &Option<String>| s.as_deref().map_or(JsValue::NULL, JsValue::from_str);
        set("protocol", JsValue::from_str(self.protocol.as_str()));
        set("size", num(self.size as f64));
        set("partSize", num(self.part_size as f64));
        set("parts", num(self.parts as f64));
        set("partsSkipped", num(self.parts_skipped as f64));
        set("requests", num(self.requests.into()));
        set("retries", num(self.retries.into()));
        set("etag", opt(&self.etag));
        set("storageMd5", opt(&self.storage_md5));
        set("resumeStore", JsValue::from_str(self.resume_store));
        set("transport", JsValue::from_str(self.transport));
        set("durationMs", num(self.duration_ms));
        o.into()
    }
}
