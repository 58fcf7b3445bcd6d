//! A prepared statement whose text values are bound by reference.
//!
//! rusqlite binds every text as `SQLITE_TRANSIENT`: SQLite copies it into a
//! buffer of its own (an allocation and a copy per value). A merge binds
//! millions of values that already sit in one buffer of encoded rows and
//! stay there until the statement has run, so [`BulkStatement`] binds them
//! as `SQLITE_STATIC` instead, through SQLite's C interface. With the
//! several rows per `INSERT` that [`super::merge`] writes, this about
//! halves the cost of writing a row.
//!
//! The one rule the caller keeps (documented on [`BulkStatement::bind_text`]):
//! a text bound by reference must stay valid and unchanged until the
//! statement has been stepped and reset, or bound again.

use std::ffi::{c_int, CString};
use std::marker::PhantomData;
use std::ptr::NonNull;

use rusqlite::{ffi, Connection};

/// A statement of `conn`, finalised on drop.
pub struct BulkStatement<'c> {
    stmt: NonNull<ffi::sqlite3_stmt>,
    db: *mut ffi::sqlite3,
    _conn: PhantomData<&'c Connection>,
}

impl std::fmt::Debug for BulkStatement<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkStatement").finish_non_exhaustive()
    }
}

impl<'c> BulkStatement<'c> {
    /// Prepares `sql` (one statement).
    pub fn prepare(conn: &'c Connection, sql: &str) -> rusqlite::Result<Self> {
        let text = CString::new(sql).map_err(|_| rusqlite::Error::InvalidQuery)?;
        // SAFETY: the connection's handle is valid while `conn` lives, which
        // the lifetime `'c` ties this statement to; `text` outlives the call.
        let db = unsafe { conn.handle() };
        let mut stmt = std::ptr::null_mut();
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(db, text.as_ptr(), -1, &mut stmt, std::ptr::null_mut())
        };
        check(db, rc)?;
        let stmt = NonNull::new(stmt).ok_or(rusqlite::Error::InvalidQuery)?;
        Ok(BulkStatement {
            stmt,
            db,
            _conn: PhantomData,
        })
    }

    /// Binds a text by reference (`SQLITE_STATIC`, no copy).
    ///
    /// # Safety
    /// `text` must stay valid and unchanged until this parameter is bound
    /// again, or the statement is finalised, or it has been stepped and
    /// reset by [`BulkStatement::execute`] for the last time with it bound
    /// (SQLite reads bound values only while stepping).
    pub unsafe fn bind_text(&mut self, i: usize, text: &[u8]) -> rusqlite::Result<()> {
        // SAFETY: the caller keeps `text` alive as documented above.
        unsafe { self.bind_text_with(i, text, ffi::SQLITE_STATIC()) }
    }

    /// Binds a text that SQLite copies (`SQLITE_TRANSIENT`).
    pub fn bind_text_copy(&mut self, i: usize, text: &str) -> rusqlite::Result<()> {
        // SAFETY: SQLite copies the text before returning.
        unsafe { self.bind_text_with(i, text.as_bytes(), ffi::SQLITE_TRANSIENT()) }
    }

    /// `sqlite3_bind_text` with `destructor` (`SQLITE_STATIC` or
    /// `SQLITE_TRANSIENT`).
    ///
    /// # Safety
    /// With `SQLITE_STATIC`, as [`BulkStatement::bind_text`].
    unsafe fn bind_text_with(
        &mut self,
        i: usize,
        text: &[u8],
        destructor: ffi::sqlite3_destructor_type,
    ) -> rusqlite::Result<()> {
        let len = c_int::try_from(text.len()).map_err(|_| {
            rusqlite::Error::ToSqlConversionFailure("a text of 2 GiB or more".into())
        })?;
        // SAFETY: a valid statement; the text's lifetime is the caller's
        // part (see above).
        let rc = unsafe {
            ffi::sqlite3_bind_text(
                self.stmt.as_ptr(),
                index(i)?,
                text.as_ptr().cast(),
                len,
                destructor,
            )
        };
        check(self.db, rc)
    }

    /// Binds an integer.
    pub fn bind_i64(&mut self, i: usize, n: i64) -> rusqlite::Result<()> {
        // SAFETY: a valid statement and parameter index.
        let rc = unsafe { ffi::sqlite3_bind_int64(self.stmt.as_ptr(), index(i)?, n) };
        check(self.db, rc)
    }

    /// Binds a floating-point number.
    pub fn bind_f64(&mut self, i: usize, x: f64) -> rusqlite::Result<()> {
        // SAFETY: a valid statement and parameter index.
        let rc = unsafe { ffi::sqlite3_bind_double(self.stmt.as_ptr(), index(i)?, x) };
        check(self.db, rc)
    }

    /// Binds NULL.
    pub fn bind_null(&mut self, i: usize) -> rusqlite::Result<()> {
        // SAFETY: a valid statement and parameter index.
        let rc = unsafe { ffi::sqlite3_bind_null(self.stmt.as_ptr(), index(i)?) };
        check(self.db, rc)
    }

    /// Runs the statement (one that returns no rows) and resets it, keeping
    /// its bindings; returns how many rows it changed.
    pub fn execute(&mut self) -> rusqlite::Result<u64> {
        // SAFETY: a valid statement; `sqlite3_changes` reads the count of the
        // statement that just finished on this connection, and the
        // connection is used by one thread at a time (it is not `Sync`).
        unsafe {
            let rc = ffi::sqlite3_step(self.stmt.as_ptr());
            let changes = ffi::sqlite3_changes64(self.db);
            let reset = ffi::sqlite3_reset(self.stmt.as_ptr());
            match rc {
                ffi::SQLITE_DONE => {
                    check(self.db, reset)?;
                    Ok(changes.max(0) as u64)
                }
                ffi::SQLITE_ROW => Err(rusqlite::Error::ExecuteReturnedResults),
                _ => check(self.db, rc).map(|()| 0),
            }
        }
    }
}

impl Drop for BulkStatement<'_> {
    fn drop(&mut self) {
        // SAFETY: the statement was prepared by this value and is finalised
        // once.
        unsafe {
            ffi::sqlite3_finalize(self.stmt.as_ptr());
        }
    }
}

/// SQLite's 1-based parameter index.
fn index(i: usize) -> rusqlite::Result<c_int> {
    c_int::try_from(i).map_err(|_| rusqlite::Error::InvalidParameterCount(i, 0))
}

/// `Ok` for `SQLITE_OK`, else the connection's error.
fn check(db: *mut ffi::sqlite3, rc: c_int) -> rusqlite::Result<()> {
    if rc == ffi::SQLITE_OK {
        return Ok(());
    }
    // SAFETY: `db` is a valid connection; SQLite owns the message, which is
    // copied before the next call on the connection.
    let message = unsafe {
        let m = ffi::sqlite3_errmsg(db);
        (!m.is_null()).then(|| std::ffi::CStr::from_ptr(m).to_string_lossy().into_owned())
    };
    Err(rusqlite::Error::SqliteFailure(ffi::Error::new(rc), message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_by_reference_and_reports_changes_and_errors() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (a TEXT PRIMARY KEY, b INTEGER, c REAL, d)")
            .unwrap();
        let mut s = BulkStatement::prepare(
            &conn,
            "INSERT OR IGNORE INTO t VALUES (?1, ?2, ?3, ?4), (?5, ?2, ?3, ?4)",
        )
        .unwrap();
        let rows = b"onetwo".to_vec();
        unsafe {
            s.bind_text(1, &rows[..3]).unwrap();
            s.bind_text(5, &rows[3..]).unwrap();
        }
        s.bind_i64(2, 7).unwrap();
        s.bind_f64(3, 2.5).unwrap();
        s.bind_null(4).unwrap();
        assert_eq!(s.execute().unwrap(), 2);
        // Both keys exist now: ignored.
        assert_eq!(s.execute().unwrap(), 0);
        s.bind_text_copy(5, "three").unwrap();
        assert_eq!(s.execute().unwrap(), 1);
        drop(s);
        let got: Vec<(String, i64, f64, Option<i64>)> = conn
            .prepare("SELECT a, b, c, d FROM t ORDER BY a")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            got,
            [
                ("one".into(), 7, 2.5, None),
                ("three".into(), 7, 2.5, None),
                ("two".into(), 7, 2.5, None)
            ]
        );

        let mut plain =
            BulkStatement::prepare(&conn, "INSERT INTO t VALUES (?1, 1, 1, 1)").unwrap();
        plain.bind_text_copy(1, "one").unwrap();
        let err = plain.execute().unwrap_err();
        assert!(err.to_string().contains("UNIQUE"), "{err}");
        assert!(BulkStatement::prepare(&conn, "INSERT INTO nowhere VALUES (1)").is_err());
        assert!(s_returns_rows(&conn));
    }

    fn s_returns_rows(conn: &Connection) -> bool {
        let mut s = BulkStatement::prepare(conn, "SELECT 1").unwrap();
        matches!(s.execute(), Err(rusqlite::Error::ExecuteReturnedResults))
    }
}
