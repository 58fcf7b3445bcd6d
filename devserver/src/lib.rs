//! import-devserver: a faithful local emulator of the Import Jobs API, its
//! OAuth 2.0 token endpoint, the Metadata API and pre-signed storage.
//!
//! Start it with [`serve`] (tests bind port 0) or the `import-devserver`
//! binary. See the crate README (`devserver/README.md`) for every emulator
//! choice made where the API's documentation is silent.

pub mod app;
pub mod audiences;
pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod exposure;
pub mod faults;
pub mod hold;
pub mod idempotency;
pub mod jobs;
pub mod json;
pub mod lists;
pub mod metadata;
pub mod oauth;
pub mod processor;
pub mod ratelimit;
pub mod storage;

pub use app::{serve, App, AppState, Server};
pub use config::Config;
