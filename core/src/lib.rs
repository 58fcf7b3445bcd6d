//! import-core: the pure-Rust heart of import-uploader.
//!
//! No JavaScript, no I/O: wire types of the Import Jobs API ([`wire`]), the
//! request rules shared by the browser client and the emulator ([`rules`]),
//! and the API's error codes ([`codes`]). Both the wasm crate and the
//! emulator (`import-devserver`) build on it, so the browser's preflight and
//! the server's verdict can never disagree.
#![deny(missing_docs)]

pub mod codes;
pub mod csv;
pub mod rules;
pub mod validate;
pub mod wire;

/// 50 GB, the API's maximum file size (53,687,091,200 bytes).
pub const MAX_FILE_SIZE: u64 = 50 * 1024 * 1024 * 1024;
