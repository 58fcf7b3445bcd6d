//! import-uploader: the JavaScript-facing API of the Import Jobs client,
//! compiled to WebAssembly and shipped as the `import-uploader` npm package.
//!
//! This crate is deliberately thin: JS interop and I/O only. Request rules,
//! wire types and error codes live in `import-core`, so the checks made here
//! before anything is sent are the very checks the emulator makes on arrival.
//!
//! It touches only the global scope (`globalThis` and its `fetch`), never
//! `window`, so one build runs in a page, a Web Worker, Node, Deno and
//! Cloudflare workerd.
//!
//! * [`version`]: the package version.
//! * [`ImportClient`]: `new ImportClient({ baseUrl, token | getToken, fetch?,
//!   headers?, retry? })`, with every endpoint of the Import Jobs and
//!   Metadata APIs, `waitForCompletion` and `errorRows` (see [`client`]).
//! * Every failure rejects with one error shape, an `Error` named
//!   `ImportError` carrying `kind`, `status`, `code`, `message`,
//!   `correlationId` and `retryable` (see [`error`]).

use wasm_bindgen::prelude::*;

#[cfg(feature = "broker")]
pub mod broker;
pub mod client;
pub mod error;
mod fetch;
#[cfg(target_arch = "wasm32")]
mod heap;
mod js;
mod options;
mod promise;
pub mod runtime;
mod shape;

pub use client::ImportClient;

/// A small allocator instead of Rust's default (see [`heap`]): this crate
/// keeps file bytes in JS objects, not in wasm memory.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: heap::Allocator = heap::Allocator::new();
pub use error::ClientError;

/// The package version (the crate's, which is also the npm package's).
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

pub mod events;
pub use client::error_rows::ErrorRows;
pub mod upload;
pub use upload::{
    upload_to_target, Upload, UploadControl, UploadOptions, UploadResult, UploadTarget,
};
