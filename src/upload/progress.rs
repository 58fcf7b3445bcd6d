//! Upload progress: bytes and parts done, rate and ETA, delivered to the
//! `onProgress` callback and as `progress` `CustomEvent`s.
//!
//! A report is sent on every acknowledged part and phase change; in between,
//! where the transport reports bytes as they go (XMLHttpRequest upload
//! events in browsers), at most once per interval (100 ms by default).
//! Bytes of a request that is cancelled or fails are taken back, so
//! `loaded` counts what storage received in requests still standing.

use std::cell::RefCell;

use js_sys::Function;
use wasm_bindgen::JsValue;
use web_sys::EventTarget;

use crate::events::{call_callback, dispatch};
use crate::runtime::monotonic_ms;

/// Where the upload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Sending the file's bytes.
    Upload,
    /// Committing the parts (Azure Put Block List).
    Commit,
    /// Finished: storage holds the whole file.
    Complete,
}

/// One progress report (`Progress` in TypeScript).
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub phase: Phase,
    /// Bytes storage has received (acknowledged parts plus the bytes of
    /// requests in flight, where the runtime reports them).
    pub loaded: u64,
    /// The file's size.
    pub total: u64,
    /// Parts acknowledged (skipped parts of a resumed upload included).
    pub parts_done: u64,
    pub parts_total: u64,
    /// Average rate of this session (bytes skipped on resume excluded).
    pub bytes_per_second: f64,
    /// Seconds left at that rate; `null` until a rate is known.
    pub eta_seconds: Option<f64>,
}

impl Phase {
    /// `upload`, `commit` or `complete`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Upload => "upload",
            Phase::Commit => "commit",
            Phase::Complete => "complete",
        }
    }
}

impl Progress {
    /// The `UploadProgress` JavaScript sees.
    pub fn to_js(&self) -> JsValue {
        let o = js_sys::Object::new();
        let set = |k: &str, v: JsValue| crate::shape::set(&o, k, &v);
        set("phase", JsValue::from_str(self.phase.as_str()));
        set("loaded", JsValue::from_f64(self.loaded as f64));
        set("total", JsValue::from_f64(self.total as f64));
        set("partsDone", JsValue::from_f64(self.parts_done as f64));
        set("partsTotal", JsValue::from_f64(self.parts_total as f64));
        set("bytesPerSecond", JsValue::from_f64(self.bytes_per_second));
        set(
            "etaSeconds",
            self.eta_seconds.map_or(JsValue::NULL, JsValue::from_f64),
        );
        o.into()
    }
}

#[derive(Debug)]
struct State {
    phase: Phase,
    acked_bytes: u64,
    /// Bytes sent of each part in flight (a few: at most `concurrency`;
    /// a list is smaller code than a hash map).
    in_flight: Vec<(u64, u64)>,
    parts_done: u64,
    /// Bytes that were already stored when this session started.
    skipped_bytes: u64,
    started_ms: f64,
    last_emit_ms: f64,
}

/// Tracks and reports one upload's progress.
#[derive(Debug)]
pub struct Tracker {
    total: u64,
    parts_total: u64,
    interval_ms: f64,
    callback: Option<Function>,
    target: EventTarget,
    state: RefCell<State>,
}

impl Tracker {
    /// A tracker for `total` bytes in `parts_total` parts, reporting to
    /// `callback` and `target` at most every `interval_ms` between parts.
    pub fn new(
        total: u64,
        parts_total: u64,
        interval_ms: f64,
        callback: Option<Function>,
        target: EventTarget,
    ) -> Self {
        let now = monotonic_ms();
        Tracker {
            total,
            parts_total,
            interval_ms,
            callback,
            target,
            state: RefCell::new(State {
                phase: Phase::Upload,
                acked_bytes: 0,
                in_flight: Vec::new(),
                parts_done: 0,
                skipped_bytes: 0,
                started_ms: now,
                last_emit_ms: f64::NEG_INFINITY,
            }),
        }
    }

    /// Parts already stored before this session (a resume): counted as done,
    /// not in the rate.
    pub fn skipped(&self, parts: u64, bytes: u64) {
        let mut s = self.state.borrow_mut();
        s.parts_done += parts;
        s.acked_bytes += bytes;
        s.skipped_bytes += bytes;
    }

    /// Bytes of part `index` sent so far (byte-level transports): reported
    /// at most once per interval.
    pub fn part_bytes(&self, index: u64, sent: u64) {
        let due = {
            let mut s = self.state.borrow_mut();
            match s.in_flight.iter_mut().find(|(i, _)| *i == index) {
                Some(entry) => entry.1 = sent,
                None => s.in_flight.push((index, sent)),
            }
            monotonic_ms() - s.last_emit_ms >= self.interval_ms
        };
        if due {
            self.emit();
        }
    }

    /// Part `index` was not stored (failed or cancelled): its bytes are
    /// taken back.
    pub fn part_reset(&self, index: u64) {
        self.state
            .borrow_mut()
            .in_flight
            .retain(|(i, _)| *i != index);
    }

    /// Part `index` of `len` bytes was acknowledged: always reported.
    pub fn part_done(&self, index: u64, len: u64) {
        {
            let mut s = self.state.borrow_mut();
            s.in_flight.retain(|(i, _)| *i != index);
            s.acked_bytes += len;
            s.parts_done += 1;
        }
        self.emit();
    }

    /// Storage persisted exactly `bytes` bytes, `parts` whole parts, so far
    /// (a GCS session answers with its offset, whatever was sent): always
    /// reported.
    pub fn set_persisted(&self, bytes: u64, parts: u64) {
        {
            let mut s = self.state.borrow_mut();
            s.in_flight.clear();
            s.acked_bytes = bytes;
            s.parts_done = parts;
        }
        self.emit();
    }

    /// Enters `phase`: always reported.
    pub fn phase(&self, phase: Phase) {
        {
            let mut s = self.state.borrow_mut();
            s.phase = phase;
            if phase == Phase::Complete {
                s.in_flight.clear();
                s.acked_bytes = self.total;
                s.parts_done = self.parts_total;
            }
        }
        self.emit();
    }

    /// Bytes per second so far in this session.
    pub fn rate(&self) -> f64 {
        let s = self.state.borrow();
        Self::rate_of(&s)
    }

    fn rate_of(s: &State) -> f64 {
        let elapsed = (monotonic_ms() - s.started_ms) / 1000.0;
        let sent = Self::loaded_of(s).saturating_sub(s.skipped_bytes) as f64;
        if elapsed > 0.05 && sent > 0.0 {
            sent / elapsed
        } else {
            0.0
        }
    }

    fn loaded_of(s: &State) -> u64 {
        s.acked_bytes + s.in_flight.iter().map(|(_, n)| n).sum::<u64>()
    }

    /// The current report.
    pub fn snapshot(&self) -> Progress {
        let s = self.state.borrow();
        let loaded = Self::loaded_of(&s).min(self.total);
        let rate = Self::rate_of(&s);
        let eta_seconds = if s.phase == Phase::Complete {
            Some(0.0)
        } else if rate > 0.0 {
            Some((self.total - loaded) as f64 / rate)
        } else {
            None
        };
        Progress {
            phase: s.phase,
            loaded,
            total: self.total,
            parts_done: s.parts_done.min(self.parts_total),
            parts_total: self.parts_total,
            bytes_per_second: rate,
            eta_seconds,
        }
    }

    fn emit(&self) {
        self.state.borrow_mut().last_emit_ms = monotonic_ms();
        let report = self.snapshot();
        let detail = report.to_js();
        call_callback(self.callback.as_ref(), &detail);
        dispatch(&self.target, "progress", &detail);
    }
}
