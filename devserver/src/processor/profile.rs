//! Profile unification: what a job created with `autoProfileAfterImport`
//! runs after its rows are merged (stage `profile`).
//!
//! The API documents only that the flag "triggers profile unification after
//! the job completes"; the emulator's rule, documented here, follows the
//! identity guide (profiles merge when they share an identifier; phone
//! numbers are compared in E.164).
//!
//! # The rule
//!
//! * **Which records:** every record of the workspace's profile object (the
//!   object with `primaryProfileRoot: true`, `profiles` by default),
//!   whichever object the job imported. Records are keyed by the object's
//!   merge key (its first identity key, `email`), so records sharing that
//!   key are already one record.
//! * **Secondary identifiers:** the object's other identity keys, plus its
//!   fields named [`SECONDARY_IDENTIFIERS`] (`customer_id`, `external_id`,
//!   `anonymous_id`, `phone`). Values are compared trimmed; phone numbers by
//!   their digits alone (E.164 without the `+`; a leading international
//!   `00` is dropped, so `+44 20 7946 0000` and `0044 20 7946 0000` match).
//!   Empty values link nothing.
//! * **Linking:** two records sharing the value of one secondary identifier
//!   belong to one unified profile, transitively (A shares a phone with B,
//!   B a customer id with C: A, B and C are one profile). Different
//!   identifiers never match each other (a customer id equal to a phone
//!   number does not link).
//! * **Result:** every examined record gets the id of its unified profile in
//!   the column `_unified_id`: `up_` and 20 hex digits derived from the
//!   workspace and the smallest merge key of the profile, so a record that
//!   shares nothing is a profile of its own and the id is stable while the
//!   profile keeps its smallest member. Records are linked, never deleted or
//!   rewritten: their fields stay as imported.
//! * **Reported** in the job status as the extension `profileUnification`:
//!   `profilesExamined` (records examined), `clusters` (unified profiles of
//!   more than one record) and `profilesMerged` (records in those clusters).
//!
//! The step runs inside the job's merge transaction, so it is all or
//! nothing with the merge. It re-examines the whole workspace (memory and
//! time grow with the workspace's profiles, not with the file).

use std::collections::HashMap;

use import_core::wire::{ObjectSchema, ProfileUnification};
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use super::merge::{ident, table_name};

/// Field names that identify a profile besides its identity keys.
pub const SECONDARY_IDENTIFIERS: &[&str] = &["customer_id", "external_id", "anonymous_id", "phone"];

/// Column holding a record's unified profile id.
pub const UNIFIED_ID_COLUMN: &str = "_unified_id";

/// Runs the unification of `workspace`'s records of the profile object
/// `schema`, inside the caller's open transaction.
pub fn unify(
    conn: &Connection,
    schema: &ObjectSchema,
    workspace: &str,
) -> rusqlite::Result<ProfileUnification> {
    let Some(key) = schema.identity_keys.first() else {
        return Ok(ProfileUnification::default());
    };
    let table = table_name(&schema.summary.object_name);
    let exists = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [&table],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if !exists {
        return Ok(ProfileUnification::default());
    }
    let columns: Vec<String> = {
        let mut stmt = conn.prepare(&format!("PRAGMA table_info({})", ident(&table)))?;
        let names = stmt
            .query_map([], |r| r.get::<_, String>(1))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        names
    };
    if !columns.iter().any(|c| c == UNIFIED_ID_COLUMN) {
        conn.execute_batch(&format!(
            "ALTER TABLE {} ADD COLUMN {UNIFIED_ID_COLUMN} TEXT",
            ident(&table)
        ))?;
    }
    // (field, is a phone number)
    let identifiers: Vec<(&str, bool)> = schema
        .fields
        .iter()
        .filter(|f| f.name != *key && columns.contains(&f.name))
        .filter(|f| {
            schema.identity_keys.contains(&f.name)
                || SECONDARY_IDENTIFIERS.contains(&f.name.as_str())
        })
        .map(|f| (f.name.as_str(), f.data_type == "phone" || f.name == "phone"))
        .collect();

    let select: Vec<String> = std::iter::once(key.as_str())
        .chain(identifiers.iter().map(|(f, _)| *f))
        .map(|c| format!("CAST({} AS TEXT)", ident(c)))
        .chain(std::iter::once(UNIFIED_ID_COLUMN.to_string()))
        .collect();
    let mut stmt = conn.prepare(&format!(
        "SELECT {} FROM {} WHERE _workspace = ?1 ORDER BY 1",
        select.join(", "),
        ident(&table)
    ))?;
    let mut rows = stmt.query([workspace])?;
    let mut keys: Vec<String> = Vec::new();
    let mut current: Vec<Option<String>> = Vec::new();
    let mut sets = DisjointSets::default();
    // (identifier index, normalised value) → first record holding it
    let mut seen: HashMap<(usize, String), u32> = HashMap::new();
    while let Some(row) = rows.next()? {
        let i = sets.push();
        keys.push(row.get::<_, Option<String>>(0)?.unwrap_or_default());
        for (n, (_, phone)) in identifiers.iter().enumerate() {
            let Some(raw) = row.get::<_, Option<String>>(n + 1)? else {
                continue;
            };
            let Some(value) = normalise(&raw, *phone) else {
                continue;
            };
            match seen.entry((n, value)) {
                std::collections::hash_map::Entry::Occupied(e) => sets.union(*e.get(), i),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(i);
                }
            }
        }
        current.push(row.get(identifiers.len() + 1)?);
    }
    drop(rows);
    drop(stmt);
    drop(seen);

    let n = keys.len();
    let mut size = vec![0u64; n];
    // Smallest member of each set: rows are in key order, so the first one
    // met.
    let mut first = vec![u32::MAX; n];
    for i in 0..n as u32 {
        let r = sets.find(i) as usize;
        size[r] += 1;
        if first[r] == u32::MAX {
            first[r] = i;
        }
    }
    let mut outcome = ProfileUnification {
        profiles_examined: n as u64,
        ..Default::default()
    };
    for &s in size.iter().filter(|s| **s > 1) {
        outcome.clusters += 1;
        outcome.profiles_merged += s;
    }

    let mut update = conn.prepare(&format!(
        "UPDATE {} SET {UNIFIED_ID_COLUMN} = ?1 WHERE _workspace = ?2 AND {} = ?3",
        ident(&table),
        ident(key)
    ))?;
    let mut ids: HashMap<u32, String> = HashMap::new();
    for i in 0..n as u32 {
        let r = sets.find(i) as usize;
        let id: &str = ids
            .entry(r as u32)
            .or_insert_with(|| unified_id(workspace, &keys[first[r] as usize]));
        if current[i as usize].as_deref() != Some(id) {
            update.execute(params![id, workspace, keys[i as usize]])?;
        }
    }
    Ok(outcome)
}

/// The comparable form of an identifier's value; None when it links
/// nothing (empty).
pub fn normalise(raw: &str, phone: bool) -> Option<String> {
    let v = if phone {
        let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
        let international = !raw.trim_start().starts_with('+') && digits.starts_with("00");
        if international {
            digits[2..].to_string()
        } else {
            digits
        }
    } else {
        raw.trim().to_string()
    };
    (!v.is_empty()).then_some(v)
}

/// The unified profile id of the profile whose smallest merge key is `key`.
pub fn unified_id(workspace: &str, key: &str) -> String {
    let mut h = Sha256::new();
    h.update(workspace.as_bytes());
    h.update([0]);
    h.update(key.as_bytes());
    let digest = h.finalize();
    let hex: String = digest.iter().take(10).map(|b| format!("{b:02x}")).collect();
    format!("up_{hex}")
}

/// Union–find over record indexes (path halving, union by size).
#[derive(Debug, Default)]
struct DisjointSets {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl DisjointSets {
    fn push(&mut self) -> u32 {
        let i = self.parent.len() as u32;
        self.parent.push(i);
        self.size.push(1);
        i
    }

    fn find(&mut self, mut i: u32) -> u32 {
        while self.parent[i as usize] != i {
            let grand = self.parent[self.parent[i as usize] as usize];
            self.parent[i as usize] = grand;
            i = grand;
        }
        i
    }

    fn union(&mut self, a: u32, b: u32) {
        let (mut a, mut b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        if self.size[a as usize] < self.size[b as usize] {
            std::mem::swap(&mut a, &mut b);
        }
        self.parent[b as usize] = a;
        self.size[a as usize] += self.size[b as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::Catalog;
    use crate::processor::merge::ensure_table;

    fn insert(
        conn: &Connection,
        ws: &str,
        email: &str,
        customer: Option<&str>,
        phone: Option<&str>,
    ) {
        conn.execute(
            "INSERT INTO obj_profiles (_workspace, _created_job, _updated_job, email, \
             customer_id, phone) VALUES (?1, 'j', 'j', ?2, ?3, ?4)",
            params![ws, email, customer, phone],
        )
        .unwrap();
    }

    fn unified(conn: &Connection, ws: &str, email: &str) -> String {
        conn.query_row(
            "SELECT _unified_id FROM obj_profiles WHERE _workspace = ?1 AND email = ?2",
            [ws, email],
            |r| r.get(0),
        )
        .unwrap()
    }

    #[test]
    fn phone_normalisation_compares_digits() {
        assert_eq!(
            normalise("+44 20 7946 0000", true).as_deref(),
            Some("442079460000")
        );
        assert_eq!(
            normalise("0044 20 7946 0000", true).as_deref(),
            Some("442079460000")
        );
        assert_eq!(normalise(" c-1 ", false).as_deref(), Some("c-1"));
        assert_eq!(normalise("  ", false), None);
        assert_eq!(normalise("()", true), None);
    }

    #[test]
    fn records_sharing_an_identifier_are_linked_transitively_per_workspace() {
        let catalog = Catalog::defaults();
        let profiles = catalog.get("profiles").unwrap();
        let conn = Connection::open_in_memory().unwrap();
        // Before the table exists: nothing to examine.
        assert_eq!(
            unify(&conn, profiles, "ws").unwrap(),
            ProfileUnification::default()
        );
        ensure_table(&conn, profiles).unwrap();
        insert(&conn, "ws", "a@x.io", Some("C1"), None);
        insert(&conn, "ws", "b@x.io", Some(" C1 "), Some("+14155550123"));
        insert(&conn, "ws", "c@x.io", None, Some("0014155550123"));
        insert(&conn, "ws", "d@x.io", Some("C2"), Some(""));
        insert(&conn, "ws", "e@x.io", Some("14155550123"), None);
        insert(&conn, "other", "f@x.io", Some("C1"), None);
        let got = unify(&conn, profiles, "ws").unwrap();
        assert_eq!(
            got,
            ProfileUnification {
                profiles_examined: 5,
                profiles_merged: 3,
                clusters: 1
            }
        );
        let a = unified(&conn, "ws", "a@x.io");
        assert_eq!(a, unified_id("ws", "a@x.io"));
        assert_eq!(unified(&conn, "ws", "b@x.io"), a);
        assert_eq!(unified(&conn, "ws", "c@x.io"), a);
        assert_ne!(unified(&conn, "ws", "d@x.io"), a);
        // A customer id equal to a phone's digits does not link.
        assert_ne!(unified(&conn, "ws", "e@x.io"), a);
        // Another workspace is untouched.
        let f: Option<String> = conn
            .query_row(
                "SELECT _unified_id FROM obj_profiles WHERE _workspace = 'other'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(f, None);
        // Running again changes nothing.
        assert_eq!(unify(&conn, profiles, "ws").unwrap(), got);
    }
}
