//! The Metadata API: the object schemas a workspace can import into.
//!
//! * `GET /public/v1/metadata/objects` → `data.items[]`, one
//!   [`ObjectSummary`] per object (`objectName`, `displayName`,
//!   `pluralDisplayName`, `objectType`, `activeVersion`, `primaryProfileRoot`,
//!   `ingestion`). The list is not paged (no `page`/`pageSize` members).
//! * `GET /public/v1/metadata/objects/{object_name}` → the
//!   [`ObjectSchema`]: the summary keys plus `description`, `identityKeys`
//!   and `fields`. An unknown object is 404 `CDP_ETL.NOT_FOUND`.
//!
//! Both need the `cdp:metadata:read` scope (403 `CDP_ETL.AUTH.FORBIDDEN`
//! otherwise). Object names are matched exactly (case-sensitive).
//!
//! # Field descriptor (emulator design: the documentation's is unreadable)
//!
//! ```json
//! {"name": "tier", "type": "string", "nullable": true,
//!  "enumValues": ["bronze", "silver", "gold"], "identityKey": false,
//!  "description": "Loyalty tier."}
//! ```
//!
//! * `name`: the field's schema name (what `fieldMap` values refer to).
//! * `type`: one of `string`, `integer`, `number`, `boolean`, `date` (ISO 8601
//!   date), `datetime` (ISO 8601 with a timezone), `email`, `phone` (E.164),
//!   `url`: the wire names of [`import_core::rules::DataType`], so the
//!   client's preflight and the emulator validate with the same rules.
//! * `nullable`: whether a row may leave the field empty.
//! * `enumValues`: the allowed values, or `null` when unconstrained.
//! * `identityKey`: whether the field is one of the object's `identityKeys`.
//! * `description`: for people; omitted when there is none.
//!
//! # Default objects
//!
//! * `profiles`: `profile`, version 3, the primary profile root, `upsert` on
//!   identity key `email`; fields `email`, `customer_id`, `first_name`,
//!   `last_name`, `phone`, `signed_up_at`, `birth_date`, `loyalty_points`,
//!   `lifetime_value`, `opted_in`, `tier`.
//! * `orders`: `event`, version 1, `append`, identity key `order_id`; fields
//!   `order_id`, `email`, `amount`, `currency`, `ordered_at`, `quantity`,
//!   `status`.
//!
//! Both are defined in `devserver/objects.json`, a `--schema` file (below).
//! Every workspace sees the same catalogue.
//!
//! # `--schema FILE`
//!
//! A JSON file `{"objects": [ObjectSchema, …]}`, each object in exactly the
//! shape `GET /metadata/objects/{object_name}` returns, e.g.
//!
//! ```json
//! {"objects": [{
//!   "objectName": "stores", "displayName": "Store", "pluralDisplayName": "Stores",
//!   "objectType": "profile", "activeVersion": 1, "primaryProfileRoot": false,
//!   "ingestion": {"single": true, "jsonBatch": true, "fileImport": true,
//!                 "defaultWriteMode": "upsert"},
//!   "description": "Physical stores.", "identityKeys": ["store_id"],
//!   "fields": [
//!     {"name": "store_id", "type": "string", "nullable": false, "identityKey": true},
//!     {"name": "opened_on", "type": "date", "nullable": true}
//!   ]}]}
//! ```
//!
//! An object whose `objectName` is already known replaces it; others are
//! added after the defaults. `enumValues` and `identityKey` may be omitted
//! (`null`, `false`). The file is checked at start-up and the emulator
//! refuses to start, naming the object, field and problem, when:
//! the JSON is malformed or misses a member; an `objectName` is not 1–64
//! characters of lowercase letters, digits and `_` starting with a letter,
//! or appears twice; an object has no fields, a field name is empty or
//! repeated, a `type` is not one of the data types above, `enumValues` is
//! empty or repeats a value; an `identityKeys` entry names no field, is
//! repeated, or names a nullable field; a field is flagged `identityKey`
//! without being listed in `identityKeys` (or the reverse); an `upsert`
//! object has no identity key; or more than one object ends up with
//! `primaryProfileRoot: true`.

use std::collections::HashSet;

use anyhow::Context;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use import_core::rules::DataType;
use import_core::wire::{FieldDescriptor, ObjectSchema, ObjectSummary, Page, WriteMode};
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::auth::Caller;
use crate::config::Config;
use crate::error::{ok, ApiError, ApiResult};

/// The built-in objects (`devserver/objects.json`), in the `--schema` file's
/// format: a starting point for a schema file of one's own, and the one
/// definition of `profiles` and `orders` (the preflight's tests read it too).
pub const DEFAULT_OBJECTS: &str = include_str!("../objects.json");

/// Scope of the Metadata API.
pub const SCOPE: &str = "cdp:metadata:read";

/// The object schemas of the Metadata API, in listing order.
#[derive(Debug, Clone)]
pub struct Catalog {
    objects: IndexMap<String, ObjectSchema>,
}

/// The `--schema` file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemaFile {
    objects: Vec<serde_json::Value>,
}

/// The members of an [`ObjectSchema`] beyond its summary, read separately so
/// that errors carry the exact path (`fields[1].type`), which a flattened
/// struct loses.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SchemaRest {
    description: String,
    identity_keys: Vec<String>,
    fields: Vec<FieldDescriptor>,
}

/// Deserialises `value`, naming the path of a problem under `prefix`.
fn from_value<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
    prefix: &str,
) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        match (prefix.is_empty(), path == ".") {
            (true, true) => e.inner().to_string(),
            (true, false) => format!("{path}: {}", e.inner()),
            (false, true) => format!("{prefix}: {}", e.inner()),
            (false, false) => format!("{prefix}.{path}: {}", e.inner()),
        }
    })
}

impl Catalog {
    /// Loads the default objects and `--schema` (a start-up error naming the
    /// file and the problem when it is unreadable or invalid).
    pub fn load(config: &Config) -> anyhow::Result<Catalog> {
        let mut catalog = Catalog::defaults();
        if let Some(path) = &config.schema {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the schema file {}", path.display()))?;
            catalog
                .merge_json(&text)
                .map_err(|e| anyhow::anyhow!("schema file {}: {e}", path.display()))?;
        }
        Ok(catalog)
    }

    /// The built-in objects, `profiles` and `orders`, from
    /// [`DEFAULT_OBJECTS`].
    pub fn defaults() -> Catalog {
        let mut catalog = Catalog {
            objects: IndexMap::new(),
        };
        if let Err(e) = catalog.merge_json(DEFAULT_OBJECTS) {
            // The file is part of the source and checked by the tests.
            panic!("devserver/objects.json: {e}");
        }
        catalog
    }

    /// Adds or replaces the objects of a schema file's text; on error the
    /// catalogue is unchanged and the message names the problem.
    pub fn merge_json(&mut self, text: &str) -> Result<(), String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        if !value.is_object() {
            return Err(r#"the file must hold a JSON object {"objects": [...]}"#.into());
        }
        let file: SchemaFile = from_value(value, "")?;
        let mut merged = self.objects.clone();
        let mut seen = HashSet::new();
        for (i, v) in file.objects.into_iter().enumerate() {
            let at = format!("objects[{i}]");
            let summary: ObjectSummary = from_value(v.clone(), &at)?;
            let rest: SchemaRest = from_value(v, &at)?;
            let object = ObjectSchema {
                summary,
                description: rest.description,
                identity_keys: rest.identity_keys,
                fields: rest.fields,
            };
            let name = object.summary.object_name.clone();
            if !seen.insert(name.clone()) {
                return Err(format!("objects[{i}]: object `{name}` appears twice"));
            }
            validate(&object).map_err(|e| format!("objects[{i}] (`{name}`): {e}"))?;
            merged.insert(name, object);
        }
        let roots: Vec<&str> = merged
            .values()
            .filter(|o| o.summary.primary_profile_root)
            .map(|o| o.summary.object_name.as_str())
            .collect();
        if roots.len() > 1 {
            return Err(format!(
                "more than one object has primaryProfileRoot: true ({}); keep one",
                roots.join(", ")
            ));
        }
        self.objects = merged;
        Ok(())
    }

    /// The schema of `object_name`, if the object exists.
    pub fn get(&self, object_name: &str) -> Option<&ObjectSchema> {
        self.objects.get(object_name)
    }

    /// Every object, in listing order.
    pub fn objects(&self) -> impl Iterator<Item = &ObjectSchema> {
        self.objects.values()
    }
}

/// Checks one object of a schema file.
fn validate(o: &ObjectSchema) -> Result<(), String> {
    let name = &o.summary.object_name;
    let name_ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !name_ok {
        return Err(
            "objectName must be 1-64 characters of lowercase letters, digits and `_`, starting with a letter"
                .into(),
        );
    }
    if o.fields.is_empty() {
        return Err("the object has no fields".into());
    }
    let mut names = HashSet::new();
    for (j, f) in o.fields.iter().enumerate() {
        if f.name.trim().is_empty() {
            return Err(format!("fields[{j}]: the field name is empty"));
        }
        if !names.insert(f.name.as_str()) {
            return Err(format!("field `{}` appears twice", f.name));
        }
        if DataType::parse(&f.data_type).is_none() {
            return Err(format!(
                "field `{}`: unknown type `{}` (use one of {})",
                f.name,
                f.data_type,
                DataType::ALL.map(DataType::as_str).join(", ")
            ));
        }
        if let Some(values) = &f.enum_values {
            if values.is_empty() {
                return Err(format!(
                    "field `{}`: enumValues is empty (use null for no constraint)",
                    f.name
                ));
            }
            let mut seen = HashSet::new();
            if let Some(dup) = values.iter().find(|v| !seen.insert(v.as_str())) {
                return Err(format!(
                    "field `{}`: enum value `{dup}` appears twice",
                    f.name
                ));
            }
        }
    }
    let mut keys = HashSet::new();
    for k in &o.identity_keys {
        if !keys.insert(k.as_str()) {
            return Err(format!("identity key `{k}` appears twice"));
        }
        let field = o
            .fields
            .iter()
            .find(|f| &f.name == k)
            .ok_or_else(|| format!("identity key `{k}` is not one of the object's fields"))?;
        if field.nullable {
            return Err(format!(
                "identity key `{k}` must not be nullable (set \"nullable\": false)"
            ));
        }
        if !field.identity_key {
            return Err(format!(
                "field `{k}` is listed in identityKeys but not flagged \"identityKey\": true"
            ));
        }
    }
    if let Some(f) = o
        .fields
        .iter()
        .find(|f| f.identity_key && !keys.contains(f.name.as_str()))
    {
        return Err(format!(
            "field `{}` is flagged \"identityKey\": true but missing from identityKeys",
            f.name
        ));
    }
    if o.summary.ingestion.default_write_mode == WriteMode::Upsert && o.identity_keys.is_empty() {
        return Err("an upsert object needs at least one identity key (identityKeys)".into());
    }
    Ok(())
}

/// `GET /metadata/objects`.
pub async fn list_objects(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    caller.require(SCOPE)?;
    let items: Vec<ObjectSummary> = state.catalog.objects().map(|o| o.summary.clone()).collect();
    Ok(ok(Page {
        items,
        page: None,
        page_size: None,
        total_items: None,
        total_pages: None,
    }))
}

/// `GET /metadata/objects/{object_name}`.
pub async fn get_object(
    State(state): State<AppState>,
    caller: Caller,
    object_name: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    caller.require(SCOPE)?;
    let Path(object_name) = object_name
        .map_err(|_| ApiError::bad_request("The object name in the path is not valid UTF-8."))?;
    match state.catalog.get(&object_name) {
        Some(schema) => Ok(ok(schema)),
        None => {
            let known: Vec<&str> = state
                .catalog
                .objects()
                .map(|o| o.summary.object_name.as_str())
                .collect();
            let shown: String = object_name.chars().take(100).collect();
            Err(ApiError::not_found(format!(
                "Unknown object `{shown}`. Known objects: {}.",
                known.join(", ")
            ))
            .with_details(json!({ "objectName": shown, "knownObjects": known })))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_their_own_validation() {
        let c = Catalog::defaults();
        for o in c.objects() {
            validate(o).unwrap();
        }
        assert_eq!(
            c.objects()
                .map(|o| o.summary.object_name.as_str())
                .collect::<Vec<_>>(),
            ["profiles", "orders"]
        );
    }

    #[test]
    fn merge_reports_the_path_of_a_missing_member() {
        let mut c = Catalog::defaults();
        let e = c
            .merge_json(r#"{"objects": [{"objectName": "x"}]}"#)
            .unwrap_err();
        assert!(e.contains("objects[0]"), "{e}");
        assert!(e.contains("missing field"), "{e}");
        assert_eq!(c.objects().count(), 2);
    }
}
