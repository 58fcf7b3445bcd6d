//! Rust futures as JavaScript promises, boxed so that every exported async
//! method shares one instance of `future_to_promise` (its task, waker and
//! drop glue) instead of one per method's future type. Used by the client
//! facade and by the upload engine's handle.

use std::future::Future;
use std::pin::Pin;

use js_sys::Promise;
use wasm_bindgen::JsValue;

use crate::error::ClientError;

/// Runs `fut` as a JS `Promise`, rejecting with the JS `ImportError`.
pub fn promise<F>(fut: F) -> Promise
where
    F: Future<Output = Result<JsValue, ClientError>> + 'static,
{
    boxed_promise(Box::pin(fut))
}

/// A boxed future as a JS `Promise` (one `future_to_promise` instance for
/// all such futures).
#[inline(never)]
pub fn js_promise(fut: Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>>) -> Promise {
    wasm_bindgen_futures::future_to_promise(fut)
}

/// [`promise`] of a boxed future.
#[inline(never)]
fn boxed_promise(fut: Pin<Box<dyn Future<Output = Result<JsValue, ClientError>>>>) -> Promise {
    wasm_bindgen_futures::future_to_promise(async move { fut.await.map_err(JsValue::from) })
}
