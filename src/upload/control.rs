//! Pause, resume and abort of one upload, shared by the JS `Upload` handle
//! and the engine's workers.
//!
//! * `abort(reason)` (or the caller's `AbortSignal`) cancels in-flight
//!   requests and backoff sleeps; the upload rejects with kind `aborted`.
//! * `pause()` cancels in-flight requests too (their parts are sent again
//!   on resume, so a pause takes effect at once even with large parts) and
//!   holds every worker before its next request; `resume()` releases them.
//! * A fatal error of one part stops the others the same way as an abort,
//!   but the upload rejects with that error.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{AbortController, AbortSignal};

use crate::error::ClientError;

/// Why the upload stopped.
#[derive(Debug, Clone)]
enum Stop {
    /// `abort()` or the caller's signal, with its reason.
    Aborted(JsValue),
    /// A part failed for good.
    Failed(ClientError),
}

/// The caller's signal and the listener registered on it.
type SignalListener = (AbortSignal, Closure<dyn FnMut(JsValue)>);

#[derive(Debug)]
struct State {
    paused: Cell<bool>,
    stop: RefCell<Option<Stop>>,
    /// Cancels every request and sleep when the upload stops.
    stop_controller: AbortController,
    /// Cancels the requests in flight when the upload pauses; replaced on
    /// every pause.
    request_controller: RefCell<AbortController>,
    wakers: RefCell<Vec<Waker>>,
    /// Keeps the caller's signal listener alive.
    signal_listener: RefCell<Option<SignalListener>>,
}

/// The shared control of one upload (cheap to clone).
#[derive(Debug, Clone)]
pub struct UploadControl {
    state: Rc<State>,
}

impl Default for UploadControl {
    fn default() -> Self {
        Self::new()
    }
}

fn controller() -> AbortController {
    AbortController::new().unwrap_or_else(|e| {
        wasm_bindgen::throw_str(&format!(
            "this runtime cannot construct an AbortController: {}",
            crate::js::describe(&e)
        ))
    })
}

impl UploadControl {
    /// A running, unpaused control.
    pub fn new() -> Self {
        UploadControl {
            state: Rc::new(State {
                paused: Cell::new(false),
                stop: RefCell::new(None),
                stop_controller: controller(),
                request_controller: RefCell::new(controller()),
                wakers: RefCell::new(Vec::new()),
                signal_listener: RefCell::new(None),
            }),
        }
    }

    /// Follows the caller's `AbortSignal`: aborts when it fires (at once if
    /// it already has).
    pub fn follow_signal(&self, signal: &AbortSignal) {
        if signal.aborted() {
            self.abort(signal.reason());
            return;
        }
        let me = self.clone();
        let sig = signal.clone();
        let listener = Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| {
            me.abort(sig.reason());
        });
        let _ = signal.add_event_listener_with_callback("abort", listener.as_ref().unchecked_ref());
        *self.state.signal_listener.borrow_mut() = Some((signal.clone(), listener));
    }

    /// Stops following the caller's signal (when the upload has settled).
    pub fn release(&self) {
        if let Some((signal, listener)) = self.state.signal_listener.borrow_mut().take() {
            let _ = signal
                .remove_event_listener_with_callback("abort", listener.as_ref().unchecked_ref());
        }
    }

    /// Aborts: cancels requests and sleeps; no effect once stopped.
    pub fn abort(&self, reason: JsValue) {
        self.stop_with(Stop::Aborted(reason));
    }

    /// Stops the other workers after a fatal error (the first one wins).
    pub fn fail(&self, error: ClientError) {
        self.stop_with(Stop::Failed(error));
    }

    fn stop_with(&self, stop: Stop) {
        {
            let mut s = self.state.stop.borrow_mut();
            if s.is_some() {
                return;
            }
            *s = Some(stop);
        }
        self.state.stop_controller.abort();
        self.state.request_controller.borrow().abort();
        self.wake();
    }

    /// The error the upload ends with, once stopped.
    pub fn stop_error(&self) -> Option<ClientError> {
        match &*self.state.stop.borrow() {
            None => None,
            Some(Stop::Aborted(reason)) => Some(ClientError::aborted(reason)),
            Some(Stop::Failed(e)) => Some(e.clone()),
        }
    }

    /// Whether the upload was stopped (aborted or failed).
    pub fn is_stopped(&self) -> bool {
        self.state.stop.borrow().is_some()
    }

    /// Pauses: cancels requests in flight, holds workers until `resume()`.
    pub fn pause(&self) {
        if self.state.paused.replace(true) || self.is_stopped() {
            return;
        }
        let old = self.state.request_controller.replace(controller());
        old.abort();
    }

    /// Resumes after `pause()`.
    pub fn resume(&self) {
        if self.state.paused.replace(false) {
            self.wake();
        }
    }

    /// Whether paused.
    pub fn is_paused(&self) -> bool {
        self.state.paused.get()
    }

    /// The signal for a request sent now: fires on pause or stop. Each
    /// request gets its own controller, chained to the shared one only while
    /// the returned guard lives, so listeners a runtime's fetch adds to the
    /// signal (Node's keeps them until garbage collection) never pile up on
    /// one long-lived signal across thousands of parts.
    pub fn request_signal(&self) -> RequestSignal {
        let shared = self.state.request_controller.borrow().signal();
        let own = controller();
        if shared.aborted() {
            own.abort();
        }
        let chained = own.clone();
        let listener = Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| chained.abort());
        let _ = shared.add_event_listener_with_callback("abort", listener.as_ref().unchecked_ref());
        RequestSignal {
            shared,
            own,
            listener,
        }
    }

    /// The signal for sleeps: fires on stop only.
    pub fn stop_signal(&self) -> AbortSignal {
        self.state.stop_controller.signal()
    }

    fn wake(&self) {
        for w in self.state.wakers.borrow_mut().drain(..) {
            w.wake();
        }
    }

    /// Waits while paused; fails once stopped.
    pub fn ready(&self) -> Ready {
        Ready {
            control: self.clone(),
        }
    }
}

/// One request's abort signal (see [`UploadControl::request_signal`]);
/// unhooked from the upload's shared signal when dropped.
pub struct RequestSignal {
    shared: AbortSignal,
    own: AbortController,
    listener: Closure<dyn FnMut(JsValue)>,
}

impl RequestSignal {
    /// The signal to hand to the request.
    pub fn signal(&self) -> AbortSignal {
        self.own.signal()
    }
}

impl Drop for RequestSignal {
    fn drop(&mut self) {
        let _ = self
            .shared
            .remove_event_listener_with_callback("abort", self.listener.as_ref().unchecked_ref());
    }
}

/// See [`UploadControl::ready`].
pub struct Ready {
    control: UploadControl,
}

impl Future for Ready {
    type Output = Result<(), ClientError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(e) = self.control.stop_error() {
            return Poll::Ready(Err(e));
        }
        if !self.control.is_paused() {
            return Poll::Ready(Ok(()));
        }
        self.control
            .state
            .wakers
            .borrow_mut()
            .push(cx.waker().clone());
        Poll::Pending
    }
}
