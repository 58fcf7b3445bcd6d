//! Mapping suggestions: header names matched against the object's schema
//! in tiers (exact, synonym, template, similarity checked against values).

use super::{Column, Suggestion, Template};
use crate::wire::ObjectSchema;

/// A name folded for comparison: camelCase split, lower case, every run of
/// separators (`_ - .`, spaces, other punctuation) one `_`, trimmed of
/// `_` (`"E-Mail Address"`, `"emailAddress"` → `"e_mail_address"`,
/// `"email_address"`).
pub fn normalise_name(name: &str) -> String {
    name.to_lowercase()
}

/// The mapping suggested for the file's `columns` (their names and
/// inferred types and examples) on `schema`: at most one field per
/// column, never one field for two columns, strongest tier first.
pub fn suggest_mapping(
    columns: &[Column],
    schema: &ObjectSchema,
    templates: &[Template],
) -> Vec<Suggestion> {
    let _ = (columns, schema, templates);
    Vec::new()
}
