//! The compact encoding of queued and spilled rows ([`encode_row`]): a tag
//! byte per value, texts as length and bytes; read back field by field
//! ([`Field`], [`Fields`]), compared, combined and bound to statements
//! without decoding whole rows.

use import_core::validate::{Stored, Value};
use rusqlite::Statement;

/// Tags of [`encode_row`].
pub(super) const TAG_NULL: u8 = 0;
pub(super) const TAG_INTEGER: u8 = 1;
pub(super) const TAG_NUMBER: u8 = 2;
pub(super) const TAG_BOOLEAN: u8 = 3;
pub(super) const TAG_STRING: u8 = 4;
pub(super) const TAG_DATE: u8 = 5;
pub(super) const TAG_DATETIME: u8 = 6;

/// Appends the compact encoding of a validated row to `out`: per value a
/// tag byte, then 8 bytes (integer, number), 1 byte (boolean) or a 4-byte
/// length and the UTF-8 bytes (texts), little-endian. Queued and spilled
/// rows take this form: one buffer for many rows, no allocation per value.
pub fn encode_row(row: &[Value], out: &mut Vec<u8>) {
    for v in row {
        encode_value(Stored::of(v), out);
    }
}

/// Appends the encoding of one value of a row (see [`encode_row`]): what
/// the processor writes for each value [`RowValidator::check_each`] hands
/// it, without copying texts into values first.
///
/// [`RowValidator::check_each`]: import_core::validate::RowValidator::check_each
pub fn encode_value(v: Stored<'_>, out: &mut Vec<u8>) {
    let text = |tag: u8, t: &str, out: &mut Vec<u8>| {
        out.push(tag);
        out.extend_from_slice(&(t.len() as u32).to_le_bytes());
        out.extend_from_slice(t.as_bytes());
    };
    match v {
        Stored::Null => out.push(TAG_NULL),
        Stored::Integer(n) => {
            out.push(TAG_INTEGER);
            out.extend_from_slice(&n.to_le_bytes());
        }
        Stored::Number(x) => {
            out.push(TAG_NUMBER);
            out.extend_from_slice(&x.to_bits().to_le_bytes());
        }
        Stored::Boolean(b) => {
            out.push(TAG_BOOLEAN);
            out.push(u8::from(b));
        }
        Stored::String(t) => text(TAG_STRING, t, out),
        Stored::Date(t) => text(TAG_DATE, t, out),
        Stored::Datetime(t) => text(TAG_DATETIME, t, out),
    }
}

/// One value of an encoded row.
#[derive(Debug, Clone, Copy)]
pub(super) enum Field<'a> {
    Null,
    Integer(i64),
    Number(f64),
    Boolean(bool),
    /// String, date or datetime.
    Text(&'a [u8]),
}

impl Field<'_> {
    /// The first 16 bytes of a text as a big-endian number (so that it
    /// orders as the bytes do; shorter texts are padded with zeros, which
    /// [`field_cmp`] then tells apart), 0 for other values.
    pub(super) fn prefix(&self) -> u128 {
        match self {
            Field::Text(t) => {
                let mut b = [0u8; 16];
                let n = t.len().min(16);
                b[..n].copy_from_slice(&t[..n]);
                u128::from_be_bytes(b)
            }
            _ => 0,
        }
    }

    pub(super) fn rank(&self) -> u8 {
        match self {
            Field::Null => 0,
            Field::Integer(_) | Field::Number(_) | Field::Boolean(_) => 1,
            Field::Text(_) => 2,
        }
    }
}

/// The values of an encoded row, in order (stops at a malformed end).
pub(super) struct Fields<'a>(pub(super) &'a [u8]);

impl<'a> Iterator for Fields<'a> {
    type Item = Field<'a>;

    fn next(&mut self) -> Option<Field<'a>> {
        let (&tag, rest) = self.0.split_first()?;
        let eight = |r: &[u8]| -> Option<[u8; 8]> { r.get(..8)?.try_into().ok() };
        let (field, rest) = match tag {
            TAG_NULL => (Field::Null, rest),
            TAG_INTEGER => (Field::Integer(i64::from_le_bytes(eight(rest)?)), &rest[8..]),
            TAG_NUMBER => (
                Field::Number(f64::from_bits(u64::from_le_bytes(eight(rest)?))),
                &rest[8..],
            ),
            TAG_BOOLEAN => (Field::Boolean(*rest.first()? != 0), &rest[1..]),
            TAG_STRING | TAG_DATE | TAG_DATETIME => {
                let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
                let text = rest.get(4..4 + len)?;
                (Field::Text(text), &rest[4 + len..])
            }
            _ => return None,
        };
        self.0 = rest;
        Some(field)
    }
}

/// The values of an encoded row as byte ranges (tag included), in order.
pub(super) fn spans(row: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = row;
    std::iter::from_fn(move || {
        let before = rest;
        let mut fields = Fields(rest);
        fields.next()?;
        let used = before.len() - fields.0.len();
        rest = fields.0;
        Some(&before[..used])
    })
}

/// Appends to `out` the row that writing `earlier` then `later` (two rows of
/// one key) leaves: each value of `later`, or of `earlier` where `later`'s
/// is empty (null), as [`Merger::merge_encoded`]'s `COALESCE` update does.
pub(super) fn combine(earlier: &[u8], later: &[u8], out: &mut Vec<u8>) {
    for (a, b) in spans(earlier).zip(spans(later)) {
        out.extend_from_slice(if b.first() == Some(&TAG_NULL) { a } else { b });
    }
}

/// Value `k` of an encoded row.
pub(super) fn field_at(row: &[u8], k: usize) -> Option<Field<'_>> {
    Fields(row).nth(k)
}

/// Orders key values as the table's B-tree roughly does (only locality
/// depends on it: a key column's values all have the key field's type).
pub(super) fn field_cmp(a: Option<Field<'_>>, b: Option<Field<'_>>) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (Some(a), Some(b)) = (a, b) else {
        return a.is_some().cmp(&b.is_some());
    };
    match (a, b) {
        (Field::Text(x), Field::Text(y)) => x.cmp(y),
        (Field::Integer(x), Field::Integer(y)) => x.cmp(&y),
        (Field::Number(x), Field::Number(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        (Field::Boolean(x), Field::Boolean(y)) => x.cmp(&y),
        _ => a.rank().cmp(&b.rank()),
    }
}

/// Binds an encoded value (booleans as 0/1).
pub(super) fn bind(s: &mut Statement<'_>, i: usize, f: Field<'_>) -> rusqlite::Result<()> {
    match f {
        Field::Null => s.raw_bind_parameter(i, rusqlite::types::Null),
        Field::Text(t) => s.raw_bind_parameter(
            i,
            std::str::from_utf8(t).map_err(rusqlite::Error::Utf8Error)?,
        ),
        Field::Integer(n) => s.raw_bind_parameter(i, n),
        Field::Number(n) => s.raw_bind_parameter(i, n),
        Field::Boolean(b) => s.raw_bind_parameter(i, i64::from(b)),
    }
}
