//! Hashing parts ahead of the senders. With checksums on, a Blob source's
//! parts are hashed by ONE lane, in the order they are sent: part N+1 is
//! hashed while the parts up to N are sending, the lane never waits for a
//! send slot, and a sender waits only for its own part's header. The lane
//! reads a MiB at a time into one buffer it keeps for the whole file, so a
//! single read of the file is in flight however many parts are sending
//! (each sender reading and hashing its own part kept `concurrency` reads
//! open at once).
//!
//! A header is computed once per part, and every retry of that part sends
//! it again with the same Blob slice: a file changed after hashing is
//! refused by the storage's check instead of storing other bytes. File
//! sources (`{ size, read }`) are not hashed here: their part is read into
//! memory once, hashed and sent as those bytes (see `Ctx::part_body`).

use std::cell::{Cell, RefCell};
use std::task::Poll;

use js_sys::Uint8Array;

use super::session::{Check, Ctx, HASH_STEP};
use super::source::Source;

/// The integrity header of one part: name and base64 value.
type Header = (&'static str, String);

pub(crate) struct HashLane {
    check: Check,
    /// Parts to hash, in sending order.
    order: Vec<u64>,
    /// Headers hashed and not yet taken, by part index.
    headers: RefCell<Vec<Option<Header>>>,
    finished: Cell<bool>,
}

impl HashLane {
    /// A lane for `order`'s parts when they are hashed apart from being
    /// read (a Blob source with checksums on); otherwise none.
    pub fn new(ctx: &Ctx, order: &[u64], check: Check) -> Option<HashLane> {
        if !ctx.checksum || !matches!(ctx.source, Source::Blob(_)) || order.is_empty() {
            return None;
        }
        Some(HashLane {
            check,
            order: order.to_vec(),
            headers: RefCell::new((0..ctx.plan.part_count()).map(|_| None).collect()),
            finished: Cell::new(false),
        })
    }

    /// Hashes every part in order. Waits while the upload is paused; ends
    /// when it is stopped, and stops it when the file cannot be read.
    pub async fn run(&self, ctx: &Ctx) {
        let mut view = Uint8Array::new_with_length(HASH_STEP as u32);
        for &i in &self.order {
            if ctx.control.ready().await.is_err() {
                break;
            }
            let Some(part) = ctx.plan.part(i) else { break };
            match ctx
                .digest_with(part.offset, part.end(), self.check, &mut view)
                .await
            {
                Ok(h) => {
                    if let Some(slot) = self.headers.borrow_mut().get_mut(i as usize) {
                        *slot = Some(h);
                    }
                }
                Err(e) => {
                    ctx.control.fail(e);
                    break;
                }
            }
        }
        self.finished.set(true);
    }

    /// Part `i`'s header once the lane has hashed it; None when the lane
    /// ended without it (the upload was stopped: the caller's next step
    /// reports why).
    ///
    /// Registers no waker: the lane and the senders are polled by one task
    /// (`for_each_part`), the lane first, so whatever wakes the lane to
    /// store a header polls the waiting senders right after it.
    pub async fn header(&self, i: u64) -> Option<Header> {
        std::future::poll_fn(|_| {
            let taken = self
                .headers
                .borrow_mut()
                .get_mut(i as usize)
                .and_then(Option::take);
            if taken.is_some() || self.finished.get() {
                return Poll::Ready(taken);
            }
            Poll::Pending
        })
        .await
    }
}
