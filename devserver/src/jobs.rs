//! The import job endpoints (`/public/v1/import-jobs…`): create, mapping,
//! start, status and errors, the job state machine
//! `pending → ready → running → completed | failed`, the 10-running-jobs
//! limit, 30-day retention, and recovery of jobs interrupted by a restart.
//!
//! # Emulator choices where the documentation is silent
//!
//! * **Unknown `objectName`** on create, or an object whose
//!   `ingestion.fileImport` is false: 422 `CDP_ETL.VALIDATION.REQUEST_SCHEMA`
//!   with `details.field = "objectName"` (the body references something the
//!   workspace schema does not have; 404 is kept for the job in the path).
//! * **`targetListId`** must name a list of the caller's workspace, else 422
//!   `CDP_ETL.VALIDATION.REQUEST_SCHEMA` (`details.field = "targetListId"`);
//!   see [`check_target_list`].
//! * **`landingPath`** is `jobs/{jobId}/file`, as the spec's example prints
//!   it; the original file name is kept on the job. The upload URL expires
//!   `--upload-url-ttl` seconds (default 24 h) after creation.
//! * **Order of checks** on mapping: 404 (job), 409 (state), 400 (body and
//!   request rules), 422 (object fields, template); on start: 404, 409
//!   (state), 400 (body), 409 (upload), 409 (running limit). A job that can
//!   no longer change is reported as such whatever the body.
//! * **Re-mapping while `ready`** is allowed and replaces the mapping; once
//!   started, any mapping or start is 409 `CDP_ETL.JOB.STATE_CONFLICT`.
//! * **Unknown destination fields**: 422 `CDP_ETL.VALIDATION.REQUEST_SCHEMA`
//!   listing them (`details.unknownFields`) and the object's fields
//!   (`details.validFields`); the job keeps its state (`pending`, or `ready`
//!   with its previous mapping).
//! * **Templates** (`saveAsTemplate`, `templateId`) belong to the workspace.
//!   A template stores `sourceFields`, `fieldMap` and `importMode`; a mapping
//!   request with `templateId` uses them, its own `importMode` (when given)
//!   overriding the template's. An unknown `templateId` is 422
//!   `CDP_ETL.VALIDATION.REQUEST_SCHEMA` with `details.field = "templateId"`.
//!   The id of a saved template is returned as `templateId` in the mapping
//!   response (an extension). Template names need not be unique.
//! * **Start** needs state `ready` and a committed upload whose size equals
//!   `fileSize` (else 409 `CDP_ETL.JOB.UPLOAD_INCOMPLETE`, with expected and
//!   found bytes), and fewer than 10 `running` jobs in the workspace (else
//!   409 `CDP_ETL.JOB.CONCURRENCY_LIMIT`). The job then becomes `running`
//!   with stage `queued` and waits for the processor (see
//!   [`crate::db::Db::claim_next_queued`]). The start body is optional and
//!   its options are ignored.
//! * **Status** always carries every field of the spec (counters 0,
//!   `startedAt` and `errorSummary` null until they have values) plus the
//!   extensions `jobId`, `objectName` and, for a failed job, `errorMessage`.
//!   `successRate` is `validRows / readRows` rounded down to 4 decimals (0 before
//!   any row is read). Stage is `upload` until the job starts.
//! * **Retention:** a job that is not running is deleted 30 days after its
//!   last change (`updatedAt`), with its upload and error file; afterwards
//!   every endpoint answers 404. Expiry is checked on access and by a sweep
//!   every five minutes.
//! * **Restart:** at start-up ([`on_start`]), each job left `running` by a
//!   previous process (stopped or killed) ends exactly one way:
//!   * still `queued` (never claimed by the processor): it stays queued
//!     and is processed as usual;
//!   * its records were committed (the records database's `_merged_jobs`
//!     holds it: the process stopped between that commit and the job's
//!     `completed`, which live in two databases): it is `completed` with
//!     the figures recorded in the same transaction as its records, so it
//!     completes once and its rows count once;
//!   * otherwise (stopped while reading, validating or merging, before the
//!     commit): `failed` with [`INTERRUPTED_MESSAGE`], its partial counters
//!     kept; its transaction never committed, so the object's records are
//!     exactly as before the job, and an error file it had begun is
//!     removed.
//! * **Errors:** `{hasErrors: false}` until the processor records an error
//!   file; then `errorFileUrl` is a signed storage URL valid 24 hours (never
//!   past the job's retention), and each call gives a fresh one.
//! * **Idempotency-Key** works on all three POSTs; see [`crate::idempotency`].

use std::sync::Arc;
use std::time::Duration as StdDuration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use import_core::codes;
use import_core::rules::{self, RuleViolation};
use import_core::wire::{
    CreateJobRequest, CreateJobResponse, ErrorsResponse, JobState, JobStatus, MappingRequest,
    MappingResponse, ObjectSchema, StartRequest, StartResponse,
};
use indexmap::IndexMap;
use serde_json::json;

use crate::app::{App, AppState};
use crate::auth::Caller;
use crate::clock::rfc3339;
use crate::db::{Counters, Job, JobOptions, StartOutcome, StoredMapping, Template};
use crate::error::{envelope, ok, ApiError, ApiResult};
use crate::idempotency;
use crate::json::{parse_json, LimitedBody};

/// Scope of the import POSTs.
pub const SCOPE_WRITE: &str = "cdp:imports:write";
/// Scope of the import GETs.
pub const SCOPE_READ: &str = "cdp:imports:read";
/// At most this many `running` jobs per workspace.
pub const MAX_RUNNING_JOBS: u64 = 10;
/// Jobs (and their error files) are kept this long after their last change.
pub const RETENTION: Duration = Duration::days(30);
/// Lifetime of an `errorFileUrl`.
pub const ERROR_FILE_URL_TTL: Duration = Duration::hours(24);
/// How often expired jobs and idempotency records are swept.
pub const SWEEP_INTERVAL: StdDuration = StdDuration::from_secs(300);
/// `errorMessage` of jobs failed at start-up because a previous process
/// stopped while they were running.
pub const INTERRUPTED_MESSAGE: &str =
    "Processing was interrupted by a server restart before its rows were merged; nothing was \
     imported. Create a new job and upload the file again.";
/// Stage of a job before it starts.
pub const STAGE_UPLOAD: &str = "upload";
/// Stage of a started job waiting for the processor.
pub const STAGE_QUEUED: &str = "queued";

/// Called once at start-up: fails jobs interrupted by a previous process,
/// purges expired jobs and starts the periodic sweep.
pub fn on_start(state: &AppState) -> anyhow::Result<()> {
    for id in state.db.interrupted_jobs()? {
        let Some(merged) = crate::processor::merge::merged_job(&state.config.data_dir, &id)? else {
            continue;
        };
        let Some(c) = merged else {
            // Merged by an emulator that kept no completion: failed below,
            // the message says so.
            continue;
        };
        let counters = Counters {
            read_rows: c.read_rows,
            valid_rows: c.valid_rows,
            invalid_rows: c.invalid_rows,
            merged_inserts: c.merged_inserts,
            merged_updates: c.merged_updates,
        };
        if let Some(outcome) = &c.profile_unification {
            state.db.set_profile_unification(&id, outcome)?;
        }
        state.db.complete_job(
            &id,
            &counters,
            c.error_summary.as_ref(),
            c.error_file.as_deref(),
            c.error_count,
            state.now(),
        )?;
        tracing::warn!(job = %id, "completed a job whose records were committed before a restart");
    }
    let failed = state
        .db
        .fail_interrupted(INTERRUPTED_MESSAGE, state.now())?;
    for id in &failed {
        // An error file written before the stop belongs to no completed job.
        let path = crate::processor::error_file::error_file_path(id);
        if let Err(e) = state.storage.remove(&path) {
            tracing::warn!(job = %id, error = %e, "could not remove an interrupted job's error file");
        }
    }
    if !failed.is_empty() {
        tracing::warn!(
            count = failed.len(),
            jobs = %failed.join(","),
            "failed jobs interrupted by a restart"
        );
    }
    sweep(state)?;
    let weak = Arc::downgrade(state);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_INTERVAL);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(state) = weak.upgrade() else { break };
            if let Err(e) = sweep(&state) {
                tracing::error!(error = %e, "retention sweep failed");
            }
        }
    });
    Ok(())
}

/// Deletes jobs past retention (with their error files) and idempotency
/// records past 24 hours.
pub fn sweep(state: &App) -> anyhow::Result<()> {
    let now = state.now();
    let purged = state.db.purge_jobs_before(now - RETENTION)?;
    for job in &purged {
        let paths = std::iter::once(&job.landing_path).chain(job.error_file.as_ref());
        for path in paths {
            if let Err(e) = state.storage.remove(path) {
                tracing::warn!(job = %job.id, error = %e, "could not delete a purged job's file");
            }
        }
    }
    if !purged.is_empty() {
        tracing::info!(count = purged.len(), "purged jobs past retention");
    }
    state.db.purge_idempotency_before(now - idempotency::TTL)?;
    Ok(())
}

/// 400 for a broken request rule, with `details {rule, field}`.
pub fn rule_error(v: RuleViolation) -> ApiError {
    ApiError::bad_request(v.message).with_details(json!({ "rule": v.rule, "field": v.field }))
}

fn schema_error(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        codes::REQUEST_SCHEMA,
        message,
    )
}

/// The schema of an object that accepts file imports, else 422.
fn importable_object<'a>(state: &'a App, object_name: &str) -> ApiResult<&'a ObjectSchema> {
    let importable = || -> Vec<String> {
        state
            .catalog
            .objects()
            .filter(|o| o.summary.ingestion.file_import)
            .map(|o| o.summary.object_name.clone())
            .collect()
    };
    let Some(schema) = state.catalog.get(object_name) else {
        let valid = importable();
        return Err(schema_error(format!(
            "Unknown object `{object_name}`: it is not in this workspace's schema. Objects that \
             accept file imports: {}.",
            valid.join(", ")
        ))
        .with_details(json!({
            "field": "objectName",
            "value": object_name,
            "validObjects": valid,
        })));
    };
    if !schema.summary.ingestion.file_import {
        let valid = importable();
        return Err(schema_error(format!(
            "Object `{object_name}` does not accept file imports (its ingestion.fileImport is \
             false). Objects that accept file imports: {}.",
            valid.join(", ")
        ))
        .with_details(json!({
            "field": "objectName",
            "value": object_name,
            "validObjects": valid,
        })));
    }
    Ok(schema)
}

/// `targetListId` must name a list of the caller's workspace: otherwise 422
/// `CDP_ETL.VALIDATION.REQUEST_SCHEMA` with `details {field: "targetListId",
/// listId}` (like an unknown `objectName`: the body references something the
/// workspace does not have; a list of another workspace is reported the same).
pub fn check_target_list(state: &App, caller: &Caller, list_id: Option<&str>) -> ApiResult<()> {
    let Some(list_id) = list_id else {
        return Ok(());
    };
    if crate::lists::get_list(&state.db, &caller.workspace, list_id)?.is_some() {
        return Ok(());
    }
    Err(schema_error(format!(
        "targetListId `{list_id}` is not a list of this workspace: create it with POST /lists, \
         or find its id with GET /lists?name=<list name>."
    ))
    .with_details(json!({ "field": "targetListId", "listId": list_id })))
}

fn job_not_found(job_id: &str) -> ApiError {
    ApiError::not_found(format!(
        "Import job `{job_id}` not found in this workspace (it may have passed the 30-day \
         retention)."
    ))
    .with_details(json!({ "jobId": job_id }))
}

/// The job of the caller's workspace, or 404 (also past retention, in which
/// case it is purged now).
pub fn load_job(state: &App, caller: &Caller, job_id: &str) -> ApiResult<Job> {
    if !job_id.starts_with("imp_") {
        return Err(job_not_found(job_id));
    }
    let job = state
        .db
        .get_job(&caller.workspace, job_id)?
        .ok_or_else(|| job_not_found(job_id))?;
    let now = state.now();
    if job.state != JobState::Running && job.updated_at + RETENTION <= now {
        sweep(state)?;
        return Err(job_not_found(job_id));
    }
    Ok(job)
}

fn new_id(prefix: &str, now: DateTime<Utc>) -> String {
    let ulid = ulid::Ulid::from_datetime(std::time::SystemTime::from(now));
    format!("{prefix}{ulid}")
}

// ----- create ---------------------------------------------------------------

/// `POST /import-jobs` → 201 with the upload slot.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    LimitedBody(body): LimitedBody,
) -> ApiResult<Response> {
    caller.require(SCOPE_WRITE)?;
    idempotency::guard(
        &state,
        &caller,
        &headers,
        "POST",
        "/import-jobs",
        &body,
        || create_job(&state, &caller, &body),
    )
    .await
}

async fn create_job(state: &App, caller: &Caller, body: &[u8]) -> ApiResult<Response> {
    let req: CreateJobRequest = parse_json(body)?;
    let valid = rules::check_create(&req).map_err(rule_error)?;
    importable_object(state, &valid.object_name)?;
    check_target_list(state, caller, valid.target_list_id.as_deref())?;

    let now = state.now();
    let id = new_id("imp_", now);
    let landing_path = format!("jobs/{id}/file");
    let ttl = i64::try_from(state.config.upload_url_ttl_secs).unwrap_or(i64::MAX / 1000);
    let expires_at = now + Duration::seconds(ttl);
    let target = state
        .storage
        .upload_target(&landing_path, expires_at, valid.file_size);
    let job = Job {
        id: id.clone(),
        workspace: caller.workspace.clone(),
        requested_by: caller.subject.clone(),
        object_name: valid.object_name,
        file_name: valid.file_name,
        file_size: valid.file_size,
        options: JobOptions {
            list_name: valid.list_name,
            target_list_id: valid.target_list_id,
            auto_profile_after_import: valid.auto_profile_after_import,
            audience_name: valid.audience_name,
        },
        state: JobState::Pending,
        stage: STAGE_UPLOAD.into(),
        mapping: None,
        import_mode: None,
        landing_path: landing_path.clone(),
        upload_expires_at: expires_at,
        counters: Counters::default(),
        error_summary: None,
        error_message: None,
        error_file: None,
        error_count: 0,
        created_at: now,
        started_at: None,
        finished_at: None,
        updated_at: now,
        profile_unification: None,
    };
    state.db.insert_job(&job)?;
    tracing::info!(job = %id, workspace = %caller.workspace, object = %job.object_name, "job created");
    Ok(envelope(
        StatusCode::CREATED,
        CreateJobResponse {
            job_id: id,
            upload_url: target.url,
            expires_at: rfc3339(expires_at),
            landing_path,
            method: target.method,
            headers: target.headers,
            requested_by: caller.subject.clone(),
        },
    ))
}

// ----- mapping --------------------------------------------------------------

/// `POST /import-jobs/{job_id}/mapping` → 200 `{ok: true}`; the job is `ready`.
pub async fn set_mapping(
    State(state): State<AppState>,
    caller: Caller,
    Path(job_id): Path<String>,
    headers: HeaderMap,
    LimitedBody(body): LimitedBody,
) -> ApiResult<Response> {
    caller.require(SCOPE_WRITE)?;
    let path = format!("/import-jobs/{job_id}/mapping");
    idempotency::guard(&state, &caller, &headers, "POST", &path, &body, || {
        map_job(&state, &caller, &job_id, &body)
    })
    .await
}

fn mapping_conflict(job_id: &str, state: JobState) -> ApiError {
    ApiError::conflict(
        codes::JOB_STATE_CONFLICT,
        format!(
            "The mapping of job `{job_id}` cannot be changed: the job is `{}`. A mapping can be \
             set while the job is `pending` or `ready`; once started, a job is terminal. Create a \
             new job to import with another mapping.",
            state.as_str()
        ),
    )
    .with_details(json!({
        "jobId": job_id,
        "state": state.as_str(),
        "allowedStates": ["pending", "ready"],
    }))
}

async fn map_job(state: &App, caller: &Caller, job_id: &str, body: &[u8]) -> ApiResult<Response> {
    let job = load_job(state, caller, job_id)?;
    if !matches!(job.state, JobState::Pending | JobState::Ready) {
        return Err(mapping_conflict(job_id, job.state));
    }
    let req: MappingRequest = parse_json(body)?;
    let valid = rules::check_mapping(&req).map_err(rule_error)?;
    let schema = importable_object(state, &job.object_name)?;

    let mapping = match &valid.template_id {
        Some(template_id) => {
            if req.source_fields.is_some() || req.field_map.is_some() {
                return Err(ApiError::bad_request(
                    "Give either `templateId` or `sourceFields` and `fieldMap`, not both.",
                )
                .with_details(json!({ "rule": rules::MAPPING_CONFLICT, "field": "templateId" })));
            }
            let template = state
                .db
                .get_template(&caller.workspace, template_id)?
                .ok_or_else(|| {
                    schema_error(format!(
                        "Unknown mapping template `{template_id}` in this workspace. Use the \
                         `templateId` returned by a mapping request with `saveAsTemplate`, or \
                         send `sourceFields` and `fieldMap`."
                    ))
                    .with_details(json!({ "field": "templateId", "value": template_id }))
                })?;
            StoredMapping {
                import_mode: if req.import_mode.is_some() {
                    valid.import_mode.as_str().to_string()
                } else {
                    template.mapping.import_mode.clone()
                },
                template_id: Some(template.id),
                ..template.mapping
            }
        }
        None => {
            let field_map = valid.field_map.clone().unwrap_or_default();
            let source_fields: IndexMap<String, String> = valid
                .source_fields
                .iter()
                .flatten()
                .map(|(name, t)| (name.clone(), t.as_str().to_string()))
                .collect();
            StoredMapping {
                source_fields,
                field_map,
                import_mode: valid.import_mode.as_str().to_string(),
                template_id: None,
            }
        }
    };

    check_destinations(schema, &mapping)?;

    let now = state.now();
    match state.db.set_mapping(&job.id, &mapping, now)? {
        Ok(()) => {}
        Err(Some(s)) => return Err(mapping_conflict(job_id, s)),
        Err(None) => return Err(job_not_found(job_id)),
    }

    let template_id = match valid.save_as_template {
        Some(name) => {
            let id = new_id("tpl_", now);
            state.db.insert_template(&Template {
                id: id.clone(),
                workspace: caller.workspace.clone(),
                name,
                object_name: job.object_name.clone(),
                mapping: StoredMapping {
                    template_id: None,
                    ..mapping
                },
                created_by: caller.subject.clone(),
                created_at: now,
            })?;
            Some(id)
        }
        None => None,
    };
    Ok(ok(MappingResponse {
        ok: true,
        template_id,
    }))
}

/// 422 unless every `fieldMap` destination is a field of the object.
fn check_destinations(schema: &ObjectSchema, mapping: &StoredMapping) -> ApiResult<()> {
    let unknown: Vec<(&String, &String)> = mapping
        .field_map
        .iter()
        .filter(|(_, dest)| !schema.fields.iter().any(|f| &f.name == *dest))
        .collect();
    let Some((first_src, _)) = unknown.first() else {
        return Ok(());
    };
    let valid: Vec<&str> = schema.fields.iter().map(|f| f.name.as_str()).collect();
    let names: Vec<String> = unknown.iter().map(|(_, d)| format!("`{d}`")).collect();
    Err(schema_error(format!(
        "The mapping references {} unknown destination field{} of object `{}`: {}. Valid fields: \
         {}. The job was not changed.",
        unknown.len(),
        if unknown.len() == 1 { "" } else { "s" },
        schema.summary.object_name,
        names.join(", "),
        valid.join(", "),
    ))
    .with_details(json!({
        "field": format!("fieldMap.{first_src}"),
        "objectName": schema.summary.object_name,
        "unknownFields": unknown
            .iter()
            .map(|(src, dest)| json!({ "source": src, "destination": dest }))
            .collect::<Vec<_>>(),
        "validFields": valid,
    })))
}

// ----- start ----------------------------------------------------------------

/// `POST /import-jobs/{job_id}/start` → 200; the job is `running` / `queued`.
pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    Path(job_id): Path<String>,
    headers: HeaderMap,
    LimitedBody(body): LimitedBody,
) -> ApiResult<Response> {
    caller.require(SCOPE_WRITE)?;
    let path = format!("/import-jobs/{job_id}/start");
    idempotency::guard(&state, &caller, &headers, "POST", &path, &body, || {
        start_job(&state, &caller, &job_id, &body)
    })
    .await
}

fn start_conflict(job_id: &str, state: JobState) -> ApiError {
    let message = match state {
        JobState::Pending => format!(
            "Job `{job_id}` cannot start: it is `pending` (no mapping yet). Set the mapping with \
             POST /import-jobs/{job_id}/mapping, then start it; start is allowed only in state \
             `ready`."
        ),
        other => format!(
            "Job `{job_id}` has already been started (state `{}`). Once started, a job is \
             terminal; create a new job to import again.",
            other.as_str()
        ),
    };
    ApiError::conflict(codes::JOB_STATE_CONFLICT, message).with_details(json!({
        "jobId": job_id,
        "state": state.as_str(),
        "allowedStates": ["ready"],
    }))
}

async fn start_job(state: &App, caller: &Caller, job_id: &str, body: &[u8]) -> ApiResult<Response> {
    let job = load_job(state, caller, job_id)?;
    if job.state != JobState::Ready {
        return Err(start_conflict(job_id, job.state));
    }
    let _options: StartRequest = parse_json(body)?;

    let found = state
        .storage
        .uploaded_size(&job.landing_path)
        .map_err(|e| {
            tracing::error!(job = %job.id, error = %e, "storage size check failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                codes::UNAVAILABLE,
                "Storage is unavailable, so the upload could not be checked. Retry shortly.",
            )
            .with_retry_after(5)
        })?;
    if found != Some(job.file_size) {
        let now = state.now();
        let mut message = match found {
            None => format!(
                "Job `{job_id}` cannot start: no upload found. PUT the file ({} bytes, the \
                 declared fileSize) to the job's uploadUrl with the returned headers, then start \
                 again.",
                job.file_size
            ),
            Some(n) => format!(
                "Job `{job_id}` cannot start: the upload has {n} bytes but fileSize declared {} \
                 bytes. Finish (or redo) the upload, then start again.",
                job.file_size
            ),
        };
        if now >= job.upload_expires_at {
            message.push_str(&format!(
                " The upload URL expired at {}; create a new job to upload again.",
                rfc3339(job.upload_expires_at)
            ));
        }
        return Err(
            ApiError::conflict(codes::UPLOAD_INCOMPLETE, message).with_details(json!({
                "jobId": job_id,
                "expectedBytes": job.file_size,
                "foundBytes": found.unwrap_or(0),
                "uploadExpiresAt": rfc3339(job.upload_expires_at),
            })),
        );
    }

    match state
        .db
        .start_job(&caller.workspace, job_id, state.now(), MAX_RUNNING_JOBS)?
    {
        StartOutcome::Started(job) => {
            state.db.notify_queued();
            tracing::info!(job = %job.id, workspace = %job.workspace, "job queued");
            Ok(ok(StartResponse {
                status: "started".into(),
                job_id: job.id,
                lane: "standard".into(),
                message: "Job queued for processing".into(),
            }))
        }
        StartOutcome::WrongState(s) => Err(start_conflict(job_id, s)),
        StartOutcome::LimitReached(n) => Err(ApiError::conflict(
            codes::CONCURRENCY_LIMIT,
            format!(
                "Job `{job_id}` cannot start: this workspace already has {n} running jobs (the \
                 limit is {MAX_RUNNING_JOBS}). Start it again once one of them has completed or \
                 failed."
            ),
        )
        .with_details(json!({
            "jobId": job_id,
            "running": n,
            "limit": MAX_RUNNING_JOBS,
        }))),
        StartOutcome::NotFound => Err(job_not_found(job_id)),
    }
}

// ----- status & errors --------------------------------------------------------

/// The status body of a job.
pub fn job_status(job: &Job) -> JobStatus {
    let c = job.counters;
    let success_rate = if c.read_rows == 0 {
        0.0
    } else {
        // Rounded down, so a job with rejected rows never reads 1.0.
        (c.valid_rows as f64 / c.read_rows as f64 * 10_000.0).floor() / 10_000.0
    };
    JobStatus {
        stage: job.stage.clone(),
        state: job.state,
        read_rows: c.read_rows,
        valid_rows: c.valid_rows,
        invalid_rows: c.invalid_rows,
        merged_inserts: c.merged_inserts,
        merged_updates: c.merged_updates,
        started_at: job.started_at.map(rfc3339),
        updated_at: rfc3339(job.updated_at),
        rows_total: c.read_rows,
        rows_imported: c.valid_rows,
        rows_rejected: c.invalid_rows,
        success_rate,
        error_summary: job.error_summary.clone().filter(|m| !m.is_empty()),
        error_message: if job.state == JobState::Failed {
            job.error_message.clone()
        } else {
            None
        },
        job_id: Some(job.id.clone()),
        object_name: Some(job.object_name.clone()),
        profile_unification: job.profile_unification,
    }
}

/// `GET /import-jobs/{job_id}`.
pub async fn status(
    State(state): State<AppState>,
    caller: Caller,
    Path(job_id): Path<String>,
) -> ApiResult<Response> {
    caller.require(SCOPE_READ)?;
    let job = load_job(&state, &caller, &job_id)?;
    Ok(ok(job_status(&job)))
}

/// `GET /import-jobs/{job_id}/errors`: `{hasErrors: false}` until the
/// processor has written rejected rows to an error file; then the file's
/// signed URL, its expiry and the number of rejected rows.
pub async fn errors(
    State(state): State<AppState>,
    caller: Caller,
    Path(job_id): Path<String>,
) -> ApiResult<Response> {
    caller.require(SCOPE_READ)?;
    let job = load_job(&state, &caller, &job_id)?;
    let body = match (&job.error_file, job.error_count) {
        (Some(file), n) if n > 0 => {
            let (url, expires_at) = error_file_link(&state, &job, file);
            ErrorsResponse {
                has_errors: true,
                error_file_url: Some(url),
                expires_at: Some(rfc3339(expires_at)),
                error_count: Some(n),
            }
        }
        _ => ErrorsResponse {
            has_errors: false,
            error_file_url: None,
            expires_at: None,
            error_count: None,
        },
    };
    Ok(ok(body))
}

/// Signed download URL of a job's error file and when it expires: 24 hours
/// from now (a later call gives a fresh URL), but never past the job's
/// retention.
fn error_file_link(state: &App, job: &Job, error_file: &str) -> (String, DateTime<Utc>) {
    let expires_at = (state.now() + ERROR_FILE_URL_TTL).min(job.updated_at + RETENTION);
    (
        state.storage.signed_download_url(error_file, expires_at),
        expires_at,
    )
}
