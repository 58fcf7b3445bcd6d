//! Where acknowledged parts are recorded, so an upload can resume after a
//! page reload (or in a fresh client) without sending them again.
//!
//! The record is import-core's [`PartSet`] string (a few dozen bytes for the
//! usual "a prefix plus a few" shape, at most about 8.4 KB), stored under
//! `import-uploader:upload:<key>`, where the key names the job (or the URL)
//! and the file's fingerprint (name, size, lastModified). Backends, first
//! match wins:
//!
//! 1. `resumeStore` given in the options: any object with `getItem(key)`,
//!    `setItem(key, value)` and `removeItem(key)`, synchronous or returning
//!    promises (Node scripts, edge workers, a database);
//! 2. `localStorage` where the runtime has one and it is usable (pages,
//!    Deno);
//! 3. IndexedDB where present (Web Workers), database `import-uploader`,
//!    object store `uploads`;
//! 4. an in-memory map, which lives as long as the loaded module (Node,
//!    workerd): it still lets a fresh `ImportClient` or `resumeUpload` skip
//!    acknowledged parts, but not a restart.
//!
//! Storage failures (quota, privacy modes) never fail an upload: the record
//! is a convenience, and losing it only means sending parts again.

use import_core::plan::{PartSet, Protocol};
use js_sys::{Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(module = "/js/host.js")]
extern "C" {
    /// A backend of `js/host.js`: `name`, and `get`/`set`/`remove`
    /// returning promises that never reject.
    #[derive(Debug, Clone)]
    pub type JsStore;
    #[wasm_bindgen(js_name = openResumeStore)]
    fn open_resume_store(custom: &JsValue) -> Promise;
    #[wasm_bindgen(method, getter)]
    fn name(this: &JsStore) -> JsValue;
    #[wasm_bindgen(method)]
    fn get(this: &JsStore, key: &str) -> Promise;
    #[wasm_bindgen(method)]
    fn set(this: &JsStore, key: &str, value: &str) -> Promise;
    #[wasm_bindgen(method)]
    fn remove(this: &JsStore, key: &str) -> Promise;
}

/// What is stored: the protocol and the acknowledged parts, as
/// `<protocol>|<PartSet>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub protocol: Protocol,
    pub parts: PartSet,
}

impl Record {
    fn encode(&self) -> String {
        format!("{}|{}", self.protocol.as_str(), self.parts)
    }

    fn decode(s: &str) -> Option<Record> {
        let (protocol, parts) = s.split_once('|')?;
        Some(Record {
            protocol: protocol.parse().ok()?,
            parts: parts.parse().ok()?,
        })
    }
}

/// The backend chosen for an upload (see the module docs); the calls into
/// storage are `js/host.js`'s.
#[derive(Debug, Clone)]
pub struct ResumeStore {
    store: JsStore,
    name: &'static str,
}

impl ResumeStore {
    /// The caller's store, else the first backend that works here.
    pub async fn choose(custom: Option<JsValue>) -> ResumeStore {
        let store: JsStore = JsFuture::from(open_resume_store(
            custom.as_ref().unwrap_or(&JsValue::UNDEFINED),
        ))
        .await
        .unwrap_or_else(|e| e)
        .unchecked_into();
        let name = match store.name().as_string().as_deref() {
            Some("custom") => "custom",
            Some("localStorage") => "localStorage",
            Some("indexedDB") => "indexedDB",
            _ => "memory",
        };
        ResumeStore { store, name }
    }

    /// `custom`, `localStorage`, `indexedDB` or `memory`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The record under `key`, if any and readable.
    pub async fn load(&self, key: &str) -> Option<Record> {
        let text = JsFuture::from(self.store.get(key))
            .await
            .ok()?
            .as_string()?;
        Record::decode(&text)
    }

    /// Saves `record` under `key` (failures ignored).
    pub async fn save(&self, key: &str, record: &Record) {
        let _ = JsFuture::from(self.store.set(key, &record.encode())).await;
    }

    /// Forgets `key` (failures ignored).
    pub async fn remove(&self, key: &str) {
        let _ = JsFuture::from(self.store.remove(key)).await;
    }
}

/// The file part of a resume key: `name:size:lastModified` of a `File` or
/// a file source (`Blob`s have no name or date: just the size; a source
/// may give a `lastModified` too, as the Node entry's path sources do).
pub fn fingerprint(source: &super::source::Source) -> String {
    let get = |k: &str| Reflect::get(source.value(), &JsValue::from_str(k)).unwrap_or_default();
    let name = get("name").as_string().unwrap_or_default();
    let modified = get("lastModified")
        .as_f64()
        .map(crate::js::whole_number)
        .unwrap_or_default();
    format!(
        "{}:{}:{}",
        name,
        crate::js::whole_number(source.size()),
        modified
    )
}
