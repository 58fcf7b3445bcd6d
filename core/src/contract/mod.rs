//! The wire contract: one description of every request and response body,
//! from which everything else that must agree with [`crate::wire`] is made.
//!
//! Each body is described once, in [`shapes`], as a [`Shape`] (field names
//! in documented order, kinds, presence) with its documentation
//! ([`ShapeDoc`]). From that one description:
//!
//! * the wasm crate checks bodies on JavaScript values with a small
//!   interpreter over `JSON.parse` output (no derived deserialisers in the
//!   browser build); [`check`] is the same interpreter over
//!   `serde_json::Value`, for native code and tests;
//! * [`typescript`] writes the TypeScript interfaces of the wire types that
//!   `cargo xtask build` puts into the package's `.d.ts`;
//! * [`openapi`] writes the OpenAPI 3.1 document the emulator serves at
//!   `/openapi.json`.
//!
//! The serde types of [`crate::wire`] stay the emulator's (de)serialisers;
//! tests check that every field they write is in the shape, the
//! TypeScript and the OpenAPI document, and that every example body of the
//! API reference passes the shape check and round-trips through serde.
//!
//! The documentation strings live in separate statics ([`ShapeDoc`]), so a
//! build that only checks bodies (the browser's) links the shapes without
//! their prose.

mod check;
mod openapi;
mod shapes;
mod typescript;

pub use check::check;
pub use openapi::{openapi, Operation, OPERATIONS};
pub use shapes::*;
pub use typescript::typescript;

/// What a value must be.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A string.
    Str,
    /// `true` or `false`.
    Bool,
    /// A whole number 0 ..= u32::MAX.
    U32,
    /// A whole number 0 ..= u64::MAX.
    U64,
    /// Any number.
    F64,
    /// One of these strings.
    Enum(&'static [&'static str]),
    /// An object of strings.
    StrMap,
    /// An object of whole numbers.
    U64Map,
    /// An object of this shape.
    Obj(&'static Shape),
    /// An array of objects of this shape.
    List(&'static Shape),
    /// An array of strings.
    StrList,
    /// Any JSON value.
    Any,
}

/// Whether a field may be absent, and what the checked copy holds then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Present and not `null`.
    Req,
    /// Required by the API, but the shape lets it through absent so that
    /// the request rules ([`crate::rules`]) report it with their own code
    /// and message. Typed as required in TypeScript and OpenAPI.
    Rule,
    /// May be absent or `null`: left out of the copy then.
    Opt,
    /// May be absent or `null`: `null` in the copy then (the response
    /// always carries it).
    Null,
    /// A boolean that is `false` when absent.
    False,
}

/// A field: its JSON name, kind and presence.
#[derive(Debug, Clone, Copy)]
pub struct Field(pub &'static str, pub Kind, pub Need);

/// An object's fields, in the documented order.
#[derive(Debug)]
pub struct Shape {
    /// The fields of another shape that come first (`ObjectSchema` starts
    /// with the fields of `ObjectSummary`).
    pub base: Option<&'static Shape>,
    /// This shape's own fields.
    pub fields: &'static [Field],
    /// Refuse fields not listed (request bodies).
    pub deny_unknown: bool,
}

impl Shape {
    /// Every field, the base's first.
    pub fn all_fields(&'static self) -> impl Iterator<Item = &'static Field> {
        self.base
            .map_or(&[][..], |b| b.fields)
            .iter()
            .chain(self.fields)
    }

    /// The field called `name`.
    pub fn field(&'static self, name: &str) -> Option<&'static Field> {
        self.all_fields().find(|f| f.0 == name)
    }
}

/// The documentation of a [`Shape`]: its type name and what each field is.
#[derive(Debug)]
pub struct ShapeDoc {
    /// The shape.
    pub shape: &'static Shape,
    /// The type's name in TypeScript, OpenAPI and [`crate::wire`].
    pub name: &'static str,
    /// What the body is.
    pub doc: &'static str,
    /// The base shape's documentation, when the shape has a base.
    pub base: Option<&'static ShapeDoc>,
    /// One entry per own field, in the same order as `shape.fields`.
    pub fields: &'static [FieldDoc],
}

/// The documentation of one field.
#[derive(Debug)]
pub struct FieldDoc {
    /// The JSON name (equal to the shape's).
    pub name: &'static str,
    /// The TypeScript type, where it says more than the kind does (a named
    /// union such as `DataType`).
    pub ts: Option<&'static str>,
    /// What the field is, for people.
    pub doc: &'static str,
    /// An extension of the emulator's: not in the API's documentation.
    pub extension: bool,
}

impl ShapeDoc {
    /// The documentation of the shape `shape` is, among [`ALL_SHAPES`].
    pub fn of(shape: &'static Shape) -> Option<&'static ShapeDoc> {
        ALL_SHAPES
            .iter()
            .copied()
            .find(|d| std::ptr::eq(d.shape, shape))
    }

    /// Every field with its documentation, the base's first.
    pub fn all_fields(&'static self) -> impl Iterator<Item = (&'static Field, &'static FieldDoc)> {
        let base = self.base.map_or(&[][..], |b| b.fields);
        self.shape.all_fields().zip(base.iter().chain(self.fields))
    }
}

/// Named TypeScript unions the interfaces refer to (`name`, members).
pub fn ts_unions() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        (
            "DataType",
            crate::rules::DataType::ALL
                .iter()
                .map(|t| t.as_str())
                .collect(),
        ),
        ("JobState", JOB_STATES.to_vec()),
        (
            "ImportMode",
            crate::rules::ImportMode::ALL
                .iter()
                .map(|m| m.as_str())
                .chain([crate::rules::ImportMode::RESERVED])
                .collect(),
        ),
    ]
}

/// A serde type of [`crate::wire`] and the shape that describes it: the
/// tests hold the two together (every field serde writes is in the shape,
/// and every example body passes both).
pub trait Described {
    /// The shape of the type's JSON.
    fn shape() -> &'static Shape;

    /// Checks a JSON body of this type (see [`check`]).
    fn check(value: &serde_json::Value) -> Result<serde_json::Value, String> {
        check(value, Self::shape())
    }
}

macro_rules! described {
    ($($ty:ty => $shape:ident),* $(,)?) => {
        $(impl Described for $ty {
            fn shape() -> &'static Shape {
                &$shape
            }
        })*
    };
}

use crate::wire;

described! {
    wire::CreateJobRequest => CREATE_JOB_REQUEST,
    wire::CreateJobResponse => CREATE_JOB_RESPONSE,
    wire::SaveAsTemplate => SAVE_AS_TEMPLATE,
    wire::MappingRequest => MAPPING_REQUEST,
    wire::MappingResponse => MAPPING_RESPONSE,
    wire::StartResponse => START_RESPONSE,
    wire::ProfileUnification => PROFILE_UNIFICATION,
    wire::JobStatus => JOB_STATUS,
    wire::ErrorsResponse => ERRORS_RESPONSE,
    wire::ErrorRow => ERROR_ROW,
    wire::Ingestion => INGESTION,
    wire::ObjectSummary => OBJECT_SUMMARY,
    wire::Page<wire::ObjectSummary> => OBJECT_LIST,
    wire::FieldDescriptor => FIELD_DESCRIPTOR,
    wire::ObjectSchema => OBJECT_SCHEMA,
    wire::CreateListRequest => CREATE_LIST_REQUEST,
    wire::List => LIST,
    wire::Page<wire::List> => LIST_PAGE,
    wire::ApiErrorBody => API_ERROR_BODY,
    wire::ErrorEnvelope => ERROR_ENVELOPE,
    wire::TokenResponse => TOKEN_RESPONSE,
    wire::OAuthError => OAUTH_ERROR,
}

/// The start body is any object (its options are not documented).
impl Described for wire::StartRequest {
    fn shape() -> &'static Shape {
        &START_REQUEST
    }

    fn check(value: &serde_json::Value) -> Result<serde_json::Value, String> {
        match value {
            serde_json::Value::Object(_) => Ok(value.clone()),
            _ => Err("the start body must be a JSON object".into()),
        }
    }
}

/// The success envelope: its `data` is checked against `T`'s shape.
impl<T: Described> Described for wire::SuccessEnvelope<T> {
    fn shape() -> &'static Shape {
        T::shape()
    }

    fn check(value: &serde_json::Value) -> Result<serde_json::Value, String> {
        let mut out = value.clone();
        match value.get("success") {
            Some(serde_json::Value::Bool(true)) => {}
            _ => return Err("`success` is not `true`".into()),
        }
        let data = value.get("data").ok_or("missing field `data`")?;
        out["data"] = T::check(data)?;
        Ok(out)
    }
}
