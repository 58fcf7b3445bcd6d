//! How the JS-facing API reads an options object: a checker of
//! `js/host.js` reads and checks it, and returns it normalised under the
//! options' own names, with its first complaint, if any. Rust reads that
//! answer through the named getters of an extern type that extends
//! [`Checked`] (one per options object, beside the code that uses it), and
//! makes only the checks that belong to import-core or the wire shapes
//! (protocol names, retry policies, request bodies), in their place among
//! JavaScript's (see [`Checked::complaint_before`]).
//!
//! Shared by the client facade and the upload engine; it depends on
//! nothing but the error type and the shape checker.

use import_core::retry::RetryPolicy;
use js_sys::Array;
use wasm_bindgen::prelude::*;

use crate::error::ClientError;
use crate::shape::{self, Shape};

#[wasm_bindgen]
extern "C" {
    /// An options object as a checker of `js/host.js` returns it.
    #[derive(Debug, Clone)]
    pub type Checked;
    /// The first check that failed, if any.
    #[wasm_bindgen(method, getter)]
    fn complaint(this: &Checked) -> Option<Complaint>;

    /// A failed check: where it comes among the checks, the option it is
    /// about (none: the options object itself) and the message.
    pub type Complaint;
    #[wasm_bindgen(method, getter)]
    fn order(this: &Complaint) -> u32;
    #[wasm_bindgen(method, getter)]
    fn field(this: &Complaint) -> Option<String>;
    #[wasm_bindgen(method, getter)]
    fn message(this: &Complaint) -> String;
}

impl Checked {
    /// Fails with the complaint when the check that made it comes before
    /// `order` (the Rust side's own checks take the places between).
    pub fn complaint_before(&self, order: u32) -> Result<(), ClientError> {
        match self.complaint() {
            Some(c) if c.order() < order => {
                Err(ClientError::invalid(c.field().as_deref(), c.message()))
            }
            _ => Ok(()),
        }
    }

    /// [`Checked::complaint_before`] as its message alone (for the
    /// broker, whose option errors are plain `TypeError`s).
    #[cfg(feature = "broker")]
    pub fn message_before(&self, order: u32) -> Result<(), String> {
        match self.complaint() {
            Some(c) if c.order() < order => Err(c.message()),
            _ => Ok(()),
        }
    }

    /// Fails with the complaint, if any.
    pub fn ok(&self) -> Result<(), ClientError> {
        self.complaint_before(u32::MAX)
    }
}

/// A `[name, value, …]` list (headers, as the checkers give them), as pairs.
pub fn pairs(list: &Array) -> Vec<(String, String)> {
    let text = |j: u32| list.get(j).as_string().unwrap_or_default();
    (0..list.length() / 2)
        .map(|j| (text(2 * j), text(2 * j + 1)))
        .collect()
}

/// A [`RetryPolicy`] from a JS object of `shape` (`RETRY_OPTIONS` or
/// `RETRY_POLICY`); missing fields take the defaults.
pub fn retry_policy(value: &JsValue, shape: &'static Shape) -> Result<RetryPolicy, String> {
    let v = shape::check(&shape::json_copy(value)?, shape)?;
    let d = RetryPolicy::default();
    Ok(RetryPolicy {
        max_attempts: shape::get_f64(&v, "maxAttempts").map_or(d.max_attempts, |n| n as u32),
        base_delay_ms: shape::get_f64(&v, "baseDelayMs").map_or(d.base_delay_ms, |n| n as u64),
        max_delay_ms: shape::get_f64(&v, "maxDelayMs").map_or(d.max_delay_ms, |n| n as u64),
    })
}
