//! One upload from start to finish: the plan, the resume record, the
//! protocol's driver, and the result.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use import_core::plan::{PartSet, PlanOptions, Protocol, UploadPlan};
use web_sys::EventTarget;

use super::control::UploadControl;
use super::options::UploadOptions;
use super::progress::{Phase, Tracker};
use super::resume_store::{self, ResumeStore};
use super::session::Ctx;
use super::source::Source;
use super::transport::Transport;
use super::types::{UploadResult, UploadTarget, ASSUMED_BYTES_PER_SECOND};
use super::{azure_blocks, gcs_resumable, single_put};
use crate::error::ClientError;
use crate::events::new_event_target;
use crate::runtime::monotonic_ms;

/// Uploads `source` to `target`. `control` pauses, resumes and aborts it (pass
/// `&UploadControl::new()` when not needed); `opts.signal` is followed too.
pub async fn upload_to_target(
    source: &Source,
    target: &UploadTarget,
    opts: &UploadOptions,
    control: &UploadControl,
) -> Result<UploadResult, ClientError> {
    let events = opts.events.clone().unwrap_or_else(new_event_target);
    if let Some(signal) = &opts.signal {
        control.follow_signal(signal);
    }
    let result = run(source, target, opts, control, events).await;
    control.release();
    result
}

async fn run(
    source: &Source,
    target: &UploadTarget,
    opts: &UploadOptions,
    control: &UploadControl,
    events: EventTarget,
) -> Result<UploadResult, ClientError> {
    let started_ms = monotonic_ms();
    if let Some(e) = control.stop_error() {
        return Err(e);
    }
    let size = source.size();
    if !(size.is_finite() && size >= 0.0) {
        return Err(ClientError::invalid(
            Some("blob"),
            "The file's size is unknown.",
        ));
    }
    let size = size as u64;
    let protocol = opts
        .protocol
        .unwrap_or_else(|| Protocol::detect(&target.url, &target.headers));
    let plan = UploadPlan::new(
        size,
        protocol,
        &PlanOptions {
            part_size: opts.part_size,
            concurrency: opts.concurrency,
            single_request_threshold: None,
            max_file_size: None,
        },
    )
    .map_err(|e| ClientError::Validation {
        rule: Some(e.code().to_string()),
        field: match &e {
            import_core::plan::PlanError::InvalidOption { option, .. } => Some(option.to_string()),
            _ => Some("fileSize".to_string()),
        },
        message: capitalise(&e.to_string()),
    })?;

    let store = ResumeStore::choose(opts.resume_store.clone()).await;
    let resume_key = opts.resume_key.clone().unwrap_or_else(|| {
        format!(
            "url:{}:{}",
            crate::fetch::redact(&target.url),
            resume_store::fingerprint(source)
        )
    });
    let mut record = PartSet::new(&plan);
    if opts.resume && !plan.is_single_request() {
        if let Some(saved) = store.load(&resume_key).await {
            if saved.protocol == protocol && saved.parts.matches(&plan) {
                record = saved.parts;
            }
        }
    }

    let tracker = Rc::new(Tracker::new(
        size,
        plan.part_count(),
        opts.progress_interval_ms,
        opts.on_progress.clone(),
        events.clone(),
    ));
    let ctx = Ctx {
        source: source.clone(),
        target: target.clone(),
        transport: Transport::choose(opts.fetch.clone(), opts.use_xhr),
        control: control.clone(),
        tracker,
        retry: opts.retry,
        checksum: opts.checksum,
        events,
        requests: Cell::new(0),
        retries: Cell::new(0),
        warned: Cell::new(false),
        started_ms,
        store,
        resume_key,
        record: RefCell::new(record),
        plan,
    };

    let skipped = ctx.record.borrow().len();
    if skipped > 0 {
        let bytes = ctx.record.borrow().acked_bytes(&ctx.plan);
        ctx.tracker.skipped(skipped, bytes);
    }
    ctx.check_expired(None)?;
    let remaining_bytes = size.saturating_sub(ctx.record.borrow().acked_bytes(&ctx.plan));
    ctx.warn_if_late(remaining_bytes as f64 / ASSUMED_BYTES_PER_SECOND);

    let outcome = match protocol {
        Protocol::AzureBlocks => azure_blocks::upload(&ctx).await,
        Protocol::SinglePut => single_put::upload(&ctx).await,
        Protocol::GcsResumable => gcs_resumable::upload(&ctx, opts.resume).await,
    };
    let committed = match outcome {
        Ok(c) => c,
        Err(e) => {
            // Another part's failure or an abort may be the real cause.
            return Err(control.stop_error().unwrap_or(e));
        }
    };
    ctx.tracker.phase(Phase::Complete);
    ctx.store.remove(&ctx.resume_key).await;
    Ok(UploadResult {
        protocol,
        size,
        part_size: ctx.plan.part_size(),
        parts: ctx.plan.part_count(),
        parts_skipped: skipped,
        requests: ctx.requests.get(),
        retries: ctx.retries.get(),
        etag: committed.etag,
        storage_md5: committed.storage_md5,
        resume_store: ctx.store.name(),
        transport: ctx.transport.name(),
        duration_ms: monotonic_ms() - started_ms,
    })
}

/// `s` with an upper-case first letter and a full stop. The messages are
/// the plan's own, which begin with an ASCII letter or an option name.
fn capitalise(s: &str) -> String {
    if s.is_empty() {
        return String::new();
    }
    let mut out = s.to_string();
    if let Some(first) = out.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    out + "."
}
