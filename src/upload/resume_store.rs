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

use std::cell::RefCell;

use import_core::plan::{PartSet, Protocol};
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Prefix of every key.
const KEY_PREFIX: &str = "import-uploader:upload:";

/// IndexedDB database and object store names.
const IDB_NAME: &str = "import-uploader";
const IDB_STORE: &str = "uploads";

thread_local! {
    /// The in-memory records: `(key, record)` pairs (few: one per unfinished
    /// upload; a list is smaller code than a hash map).
    static MEMORY: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
    /// The opened IndexedDB database (opened once per module).
    static IDB: RefCell<Option<JsValue>> = const { RefCell::new(None) };
}

/// A resume record: the protocol and the acknowledged parts.
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

/// One of the backends above.
#[derive(Debug, Clone)]
pub enum ResumeStore {
    /// The caller's `resumeStore` object.
    Custom(JsValue),
    /// `globalThis.localStorage`.
    Local(web_sys::Storage),
    /// An IndexedDB database (`IDBDatabase`).
    IndexedDb(JsValue),
    /// The module-wide in-memory map.
    Memory,
}

impl ResumeStore {
    /// The caller's store if given, else `localStorage` if usable, else
    /// IndexedDB if it opens, else memory.
    pub async fn choose(custom: Option<JsValue>) -> ResumeStore {
        if let Some(c) = custom {
            return ResumeStore::Custom(c);
        }
        // Reading `localStorage` throws in some contexts (opaque origins,
        // disabled storage); Node 22+ may expose a broken one: probe it.
        let local = Reflect::get(&js_sys::global(), &JsValue::from_str("localStorage"))
            .ok()
            .and_then(|v| v.dyn_into::<web_sys::Storage>().ok())
            .filter(|s| {
                let probe = format!("{KEY_PREFIX}probe");
                s.set_item(&probe, "1").is_ok() && s.remove_item(&probe).is_ok()
            });
        if let Some(s) = local {
            return ResumeStore::Local(s);
        }
        match open_idb().await {
            Some(db) => ResumeStore::IndexedDb(db),
            None => ResumeStore::Memory,
        }
    }

    /// Which backend, for results and diagnostics.
    pub fn name(&self) -> &'static str {
        match self {
            ResumeStore::Custom(_) => "custom",
            ResumeStore::Local(_) => "localStorage",
            ResumeStore::IndexedDb(_) => "indexedDB",
            ResumeStore::Memory => "memory",
        }
    }

    /// The record under `key`, if any and readable.
    pub async fn load(&self, key: &str) -> Option<Record> {
        let key = format!("{KEY_PREFIX}{key}");
        let text = match self {
            ResumeStore::Custom(obj) => call(obj, "getItem", &[JsValue::from_str(&key)])
                .await
                .and_then(|v| v.as_string()),
            ResumeStore::Local(s) => s.get_item(&key).ok().flatten(),
            ResumeStore::IndexedDb(db) => idb_op(db, "readonly", "get", &[JsValue::from_str(&key)])
                .await
                .and_then(|v| v.as_string()),
            ResumeStore::Memory => MEMORY.with(|m| {
                m.borrow()
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| v.clone())
            }),
        }?;
        Record::decode(&text)
    }

    /// Saves `record` under `key` (failures ignored).
    pub async fn save(&self, key: &str, record: &Record) {
        let key = format!("{KEY_PREFIX}{key}");
        let value = record.encode();
        match self {
            ResumeStore::Custom(obj) => {
                call(
                    obj,
                    "setItem",
                    &[JsValue::from_str(&key), JsValue::from_str(&value)],
                )
                .await;
            }
            ResumeStore::Local(s) => {
                let _ = s.set_item(&key, &value);
            }
            ResumeStore::IndexedDb(db) => {
                idb_op(
                    db,
                    "readwrite",
                    "put",
                    &[JsValue::from_str(&value), JsValue::from_str(&key)],
                )
                .await;
            }
            ResumeStore::Memory => MEMORY.with(|m| {
                let mut m = m.borrow_mut();
                match m.iter_mut().find(|(k, _)| *k == key) {
                    Some(entry) => entry.1 = value,
                    None => m.push((key, value)),
                }
            }),
        }
    }

    /// Removes the record under `key` (the upload finished or was replaced).
    pub async fn remove(&self, key: &str) {
        let key = format!("{KEY_PREFIX}{key}");
        match self {
            ResumeStore::Custom(obj) => {
                call(obj, "removeItem", &[JsValue::from_str(&key)]).await;
            }
            ResumeStore::Local(s) => {
                let _ = s.remove_item(&key);
            }
            ResumeStore::IndexedDb(db) => {
                idb_op(db, "readwrite", "delete", &[JsValue::from_str(&key)]).await;
            }
            ResumeStore::Memory => MEMORY.with(|m| {
                m.borrow_mut().retain(|(k, _)| *k != key);
            }),
        }
    }
}

/// Calls `obj[method](...args)`, awaiting a returned promise; `None` on any
/// failure.
async fn call(obj: &JsValue, method: &str, args: &[JsValue]) -> Option<JsValue> {
    let f = Reflect::get(obj, &JsValue::from_str(method))
        .ok()?
        .dyn_into::<Function>()
        .ok()?;
    let array: js_sys::Array = args.iter().collect();
    let v = f.apply(obj, &array).ok()?;
    if v.is_instance_of::<Promise>() {
        JsFuture::from(v.unchecked_into::<Promise>()).await.ok()
    } else {
        Some(v)
    }
}

/// Waits for an `IDBRequest` (its `onsuccess` / `onerror` are the
/// promise's own resolve / reject: no Rust closure to keep alive) and
/// returns its `result`.
async fn idb_request(req: &JsValue) -> Option<JsValue> {
    let promise = Promise::new(&mut |resolve: Function, reject: Function| {
        let _ = Reflect::set(req, &JsValue::from_str("onsuccess"), &resolve);
        let _ = Reflect::set(req, &JsValue::from_str("onerror"), &reject);
    });
    JsFuture::from(promise).await.ok()?;
    Reflect::get(req, &JsValue::from_str("result")).ok()
}

/// Calls `obj[method](...args)` synchronously; `None` if it is missing or
/// throws.
fn call_sync(obj: &JsValue, method: &str, args: &[JsValue]) -> Option<JsValue> {
    let f = Reflect::get(obj, &JsValue::from_str(method))
        .ok()?
        .dyn_into::<Function>()
        .ok()?;
    let array: js_sys::Array = args.iter().collect();
    f.apply(obj, &array).ok()
}

/// Opens (once) the `import-uploader` database, creating its store.
async fn open_idb() -> Option<JsValue> {
    if let Some(db) = IDB.with(|d| d.borrow().clone()) {
        return Some(db);
    }
    let factory = Reflect::get(&js_sys::global(), &JsValue::from_str("indexedDB"))
        .ok()
        .filter(|f| f.is_object())?;
    let req = call_sync(
        &factory,
        "open",
        &[JsValue::from_str(IDB_NAME), JsValue::from_f64(1.0)],
    )?;
    let r = req.clone();
    let upgrade = Closure::once_into_js(move |_: JsValue| {
        if let Ok(db) = Reflect::get(&r, &JsValue::from_str("result")) {
            let _ = call_sync(&db, "createObjectStore", &[JsValue::from_str(IDB_STORE)]);
        }
    });
    let _ = Reflect::set(&req, &JsValue::from_str("onupgradeneeded"), &upgrade);
    let db = idb_request(&req).await.filter(|d| d.is_object())?;
    IDB.with(|d| *d.borrow_mut() = Some(db.clone()));
    Some(db)
}

/// One request on the `uploads` store in its own transaction.
async fn idb_op(db: &JsValue, mode: &str, method: &str, args: &[JsValue]) -> Option<JsValue> {
    let tx = call_sync(
        db,
        "transaction",
        &[JsValue::from_str(IDB_STORE), JsValue::from_str(mode)],
    )?;
    let store = call_sync(&tx, "objectStore", &[JsValue::from_str(IDB_STORE)])?;
    let req = call_sync(&store, method, args)?;
    idb_request(&req).await
}

/// The file part of a resume key: `name:size:lastModified` of a `File`
/// (`Blob`s have no name or date: just the size).
pub fn fingerprint(blob: &web_sys::Blob) -> String {
    let get = |k: &str| Reflect::get(blob, &JsValue::from_str(k)).unwrap_or_default();
    let name = get("name").as_string().unwrap_or_default();
    let modified = get("lastModified")
        .as_f64()
        .map(crate::js::whole_number)
        .unwrap_or_default();
    format!(
        "{}:{}:{}",
        name,
        crate::js::whole_number(blob.size()),
        modified
    )
}
