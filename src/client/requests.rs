//! The requests of the API calls as JavaScript passes them: each checked
//! against its wire shape as the API would (through its JSON form), then
//! with import-core's rules, before anything is sent.

use import_core::rules;
use import_core::wire::CreateJobRequest;
use wasm_bindgen::prelude::*;

use crate::error::ClientError;
use crate::shape::{self, Shape};

/// A path segment (job id, object name): non-empty, percent-encoded.
pub(super) fn path_segment(value: &str, field: &str) -> Result<String, ClientError> {
    if value.trim().is_empty() {
        return Err(ClientError::invalid(
            Some(field),
            format!("`{field}` is required."),
        ));
    }
    Ok(String::from(js_sys::encode_uri_component(value)))
}

/// A request checked against its shape: the typed request (for the rules)
/// and the JSON text to send.
#[derive(Debug, Clone)]
pub(crate) struct Parsed<T> {
    pub request: T,
    pub json: String,
}

/// A start body: any JSON object (`{}` by default).
#[derive(Debug, Clone)]
pub(crate) struct StartBody(pub(super) String);

impl Default for StartBody {
    fn default() -> Self {
        StartBody("{}".into())
    }
}

/// Checks a JS request object against `shape` as the API would (through
/// its JSON form: unknown fields and wrong types refused), reporting shape
/// errors as `validation` errors. Returns the normalised copy.
#[inline(never)]
fn parse_request(
    request: &JsValue,
    method: &str,
    shape: &'static Shape,
) -> Result<(JsValue, String), ClientError> {
    if !request.is_object() {
        return Err(ClientError::invalid(
            None,
            format!("{method} needs a request object."),
        ));
    }
    let invalid = |e: String| ClientError::invalid(None, format!("Invalid {method} request: {e}."));
    let value =
        shape::check(&shape::json_copy(request).map_err(invalid)?, shape).map_err(invalid)?;
    let json = shape::stringify(&value).unwrap_or_else(|| "{}".into());
    Ok((value, json))
}

/// A string map member as its entries in order.
fn string_map(value: &JsValue, key: &str) -> Option<Vec<(String, String)>> {
    let v = shape::get(value, key);
    if v.is_undefined() {
        return None;
    }
    Some(
        shape::entries(&v)
            .into_iter()
            .map(|(k, v)| (k, v.as_string().unwrap_or_default()))
            .collect(),
    )
}

/// A `createJob` request.
pub(crate) fn parse_create(
    request: &JsValue,
    method: &str,
) -> Result<Parsed<CreateJobRequest>, ClientError> {
    let (v, json) = parse_request(request, method, &shape::CREATE_JOB_REQUEST)?;
    let s = |k: &str| shape::get_str(&v, k);
    let b = |k: &str| shape::get_bool(&v, k);
    Ok(Parsed {
        request: CreateJobRequest {
            object_name: s("objectName"),
            file_name: s("fileName"),
            file_size: shape::get_f64(&v, "fileSize").map(|n| n as u64),
            create_list: b("createList"),
            list_name: s("listName"),
            target_list_id: s("targetListId"),
            auto_profile_after_import: b("autoProfileAfterImport"),
            create_audience: b("createAudience"),
            audience_name: s("audienceName"),
        },
        json,
    })
}

/// A `setMapping` request (`MappingRequest`) as the mapping rules read it:
/// its maps as entries in order, not the wire type's hash maps.
#[derive(Debug, Clone, Default)]
pub(crate) struct MappingInput {
    source_fields: Option<Vec<(String, String)>>,
    field_map: Option<Vec<(String, String)>>,
    import_mode: Option<String>,
    template_id: Option<String>,
    /// `saveAsTemplate`, when given, with its `name`.
    save_as_template: Option<Option<String>>,
}

impl MappingInput {
    fn view(&self) -> rules::MappingView<'_> {
        fn entries(m: &[(String, String)]) -> Vec<(&str, &str)> {
            m.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
        }
        rules::MappingView {
            source_fields: self.source_fields.as_deref().map(entries),
            field_map: self.field_map.as_deref().map(entries),
            import_mode: self.import_mode.as_deref(),
            template_id: self.template_id.as_deref(),
            save_as_template: self.save_as_template.as_ref().map(Option::as_deref),
        }
    }
}

/// A `setMapping` request.
pub(crate) fn parse_mapping(
    request: &JsValue,
    method: &str,
) -> Result<Parsed<MappingInput>, ClientError> {
    let (v, json) = parse_request(request, method, &shape::MAPPING_REQUEST)?;
    let save = shape::get(&v, "saveAsTemplate");
    Ok(Parsed {
        request: MappingInput {
            source_fields: string_map(&v, "sourceFields"),
            field_map: string_map(&v, "fieldMap"),
            import_mode: shape::get_str(&v, "importMode"),
            template_id: shape::get_str(&v, "templateId"),
            save_as_template: (!save.is_undefined()).then(|| shape::get_str(&save, "name")),
        },
        json,
    })
}

/// A `start` body: any JSON object.
pub(super) fn parse_start(body: &JsValue, method: &str) -> Result<StartBody, ClientError> {
    let invalid = |e: String| ClientError::invalid(None, format!("Invalid {method} request: {e}."));
    if !body.is_object() {
        return Err(ClientError::invalid(
            None,
            format!("{method} needs a request object."),
        ));
    }
    let v = shape::json_copy(body).map_err(invalid)?;
    if !shape::is_plain_object(&v) {
        return Err(invalid("invalid type: sequence, expected a map".into()));
    }
    Ok(StartBody(
        shape::stringify(&v).unwrap_or_else(|| "{}".into()),
    ))
}

/// The mapping rules, with hints lower-cased by the runtime
/// (`String.prototype.toLowerCase`) rather than Rust's case tables.
pub(super) fn check_mapping(
    request: &MappingInput,
) -> Result<(), import_core::rules::RuleViolation> {
    rules::check_mapping_with(&request.view(), &|s| {
        String::from(js_sys::JsString::from(s).to_lower_case())
    })
}
