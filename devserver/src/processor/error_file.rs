//! The JSONL file of a job's rejected rows, written through storage at
//! `errors/{jobId}.jsonl` and served by `GET …/errors` through a signed,
//! expiring URL.
//!
//! One line per rejected row, in file order, as the API documentation shows
//! it plus the row error's code and column
//! ([`import_core::wire::ErrorRow`], made by [`import_core::verdict::error_row`]):
//!
//! ```json
//! {"rowNumber":42,"sourceRow":{"email_address":"not-an-email"},"error":"column \"email_address\": invalid email format: \"not-an-email\" has no @","code":"VALIDATION_TYPE_MISMATCH","column":"email_address"}
//! ```
//!
//! `sourceRow` holds every column of the row by header name, as read from
//! the file. A row with more fields than the header keeps its extra values
//! under `"column N"` (N the 1-based position), and a header name repeated
//! in the file is `"name (column N)"` from its second occurrence on; a row
//! with fewer fields has only the columns it has; a row too large to keep
//! (usually an unclosed quote) has an empty `sourceRow`. Invalid UTF-8 is
//! shown as U+FFFD.
//!
//! The file is streamed to storage as rows are rejected (memory stays flat)
//! and appears only when the job completes; a failed job leaves none.

use std::io::Write;

use import_core::validate::RowError;
use import_core::verdict::error_row;

use crate::storage::{BlobWriter, Storage};

/// Storage path of a job's error file.
pub fn error_file_path(job_id: &str) -> String {
    format!("errors/{job_id}.jsonl")
}

/// The error file of one job, opened at the first rejected row.
#[derive(Debug)]
pub struct ErrorFile {
    path: String,
    writer: Option<BlobWriter>,
    count: u64,
    line: Vec<u8>,
}

impl ErrorFile {
    /// A file for `job_id`; nothing is written until the first row.
    pub fn new(job_id: &str) -> Self {
        ErrorFile {
            path: error_file_path(job_id),
            writer: None,
            count: 0,
            line: Vec::with_capacity(512),
        }
    }

    /// Rows written so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Appends the line of one rejected row; `fields` are its values in
    /// header order.
    pub fn push<S: AsRef<str>, F: AsRef<str>>(
        &mut self,
        storage: &Storage,
        err: &RowError,
        header: &[S],
        fields: &[F],
    ) -> anyhow::Result<()> {
        let row = error_row(err, header, fields);
        self.line.clear();
        serde_json::to_writer(&mut self.line, &row)?;
        self.line.push(b'\n');
        if self.writer.is_none() {
            self.writer = Some(storage.blob_writer(&self.path)?);
        }
        if let Some(w) = self.writer.as_mut() {
            w.write_all(&self.line)?;
        }
        self.count += 1;
        Ok(())
    }

    /// Makes the file visible in storage; returns its path and line count,
    /// or None when no row was rejected.
    pub fn commit(self) -> anyhow::Result<Option<(String, u64)>> {
        match self.writer {
            Some(w) => {
                w.commit()?;
                Ok(Some((self.path, self.count)))
            }
            None => Ok(None),
        }
    }
}
