//! What an upload reads: a `Blob` (or `File`), or a file source, any object
//! `{ size, name?, type?, lastModified?, read(offset, length) }` whose
//! `read` resolves with exactly `length` bytes (a `Uint8Array`) from byte
//! `offset`. A file source is how files that are not Blobs are uploaded:
//! in Node, the package's entry turns a path (or a `file:` URL) into one
//! over a `FileHandle`, its size taken from `stat` (never `fs.openAsBlob`,
//! whose Blobs of files over 2 GiB read empty or wrap their size); a
//! transcoding step can be one too.
//!
//! A Blob is sliced and sent as it is (the runtime streams it); a file
//! source's part is read once into memory, hashed, and sent as those bytes,
//! so at most one part per request in flight is held, plus the one being
//! hashed. The checks and the reads are `js/host.js` (`fileSource`,
//! `readSource`, `sourceStream`).

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::Blob;

use crate::error::ClientError;
use crate::js::describe;

#[wasm_bindgen(module = "/js/host.js")]
extern "C" {
    /// 1 for a Blob, 2 for a file source, else why `value` is neither.
    #[wasm_bindgen(js_name = fileSource)]
    fn file_source(value: &JsValue) -> JsValue;
    /// `source.read(offset, length)`, checked to be `length` bytes.
    #[wasm_bindgen(js_name = readSource)]
    fn read_source(source: &JsValue, offset: f64, length: f64) -> Promise;
    /// A `ReadableStream` of bytes `[start, end)` of a file source.
    #[wasm_bindgen(js_name = sourceStream)]
    pub(crate) fn source_stream(source: &JsValue, start: f64, end: f64) -> JsValue;
}

/// The file an upload reads.
#[derive(Debug, Clone)]
pub enum Source {
    /// A `Blob` or `File`: sliced.
    Blob(Blob),
    /// A file source: read by byte offset.
    Reader(JsValue),
}

impl Source {
    /// Checks what JavaScript passed as the file.
    pub fn from_js(value: JsValue) -> Result<Source, ClientError> {
        let kind = file_source(&value);
        match kind.as_f64() {
            Some(1.0) => Ok(Source::Blob(value.unchecked_into())),
            Some(_) => Ok(Source::Reader(value)),
            None => Err(ClientError::invalid(
                Some("file"),
                kind.as_string().unwrap_or_default(),
            )),
        }
    }

    /// The JavaScript value (its `name`, `size`, `lastModified`).
    pub fn value(&self) -> &JsValue {
        match self {
            Source::Blob(b) => b.as_ref(),
            Source::Reader(r) => r,
        }
    }

    /// The size in bytes (a file source's was checked to be a whole number).
    pub fn size(&self) -> f64 {
        match self {
            Source::Blob(b) => b.size(),
            Source::Reader(r) => crate::shape::get(r, "size").as_f64().unwrap_or(f64::NAN),
        }
    }

    /// Bytes `[start, end)` of a file source.
    pub async fn read(reader: &JsValue, start: u64, end: u64) -> Result<Uint8Array, ClientError> {
        JsFuture::from(read_source(reader, start as f64, (end - start) as f64))
            .await
            .map(JsCast::unchecked_into)
            .map_err(|e| unreadable(&e))
    }
}

/// The file could not be read.
pub(crate) fn unreadable(e: &JsValue) -> ClientError {
    ClientError::invalid(
        Some("blob"),
        format!(
            "Cannot read the file (was it changed or removed while uploading?): {}",
            describe(e)
        ),
    )
}
