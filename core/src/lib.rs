//! import-core: the pure-Rust heart of import-uploader.
//!
//! No JavaScript, no I/O. Fed values and byte chunks by its callers:
//!
//! | module | what it holds |
//! |---|---|
//! | [`wire`] | every request and response body of the API, exact field names (serde) |
//! | [`contract`] | the same bodies described once as shapes: the checker's tables, the `.d.ts`, the OpenAPI document |
//! | [`rules`] | request rules (create, mapping), each with its own code |
//! | [`csv`] | a streaming CSV reader fed chunks of any size (on `csv-core`) |
//! | [`validate`] | per-row validation under the three import modes |
//! | [`plan`] | upload planning: protocol detection, parts, block ids, resume records |
//! | [`checksum`] | CRC-64/NVME, the checksum Azure verifies in `x-ms-content-crc64` |
//! | [`retry`] | retry classification, full-jitter backoff, status polling schedule |
//! | [`codes`] | the API's `CDP_ETL…` error codes |
//! | [`broker`] | the edge broker's upload tickets, job handles, policy, routes, rate limit |
//! | [`verdict`] | the verdict on one file: what the emulator decides, shared with the preflight |
//! | [`preflight`] | sniffing, type inference, mapping suggestions and the predicted verdict |
//!
//! Both the wasm crate and the emulator (`import-devserver`) build on it:
//! the client checks its requests with the same [`rules`] the emulator
//! applies, and plans and retries with [`plan`] and [`retry`]. [`validate`]
//! decides rows in the emulator, and [`verdict`] the whole file; the
//! client's [`preflight`] runs both to predict the emulator's verdict.
#![deny(missing_docs)]

pub mod broker;
pub mod checksum;
pub mod codes;
pub mod contract;
pub mod csv;
pub mod plan;
pub mod preflight;
pub mod retry;
pub mod rules;
pub mod validate;
pub mod verdict;
pub mod wire;

/// 50 GB, the API's maximum file size (53,687,091,200 bytes).
pub const MAX_FILE_SIZE: u64 = 50 * 1024 * 1024 * 1024;
