//! Every body of the API, described once (see [`super`]).
//!
//! One `shape` entry makes two statics: `NAME`, the [`Shape`] a checker
//! reads, and `NAME_DOC`, its [`ShapeDoc`]. A field line is
//!
//! ```text
//! [@ext] "jsonName": KIND [=> "TypeScript type"], NEED, "what it is";
//! ```
//!
//! where `@ext` marks an extension of the emulator's (not in the API's
//! documentation), KIND is a [`Kind`], NEED a [`Need`]. `closed` shapes
//! refuse unknown fields (request bodies); `extends BASE` puts BASE's fields
//! first.

use super::{Field, FieldDoc, Kind::*, Need, Shape, ShapeDoc};

/// The states of a job, in the order the API's table lists them.
pub const JOB_STATES: &[&str] = &["pending", "ready", "running", "completed", "failed"];

macro_rules! contract {
    ($(
        $(#[doc = $sdoc:literal])*
        $NAME:ident, $DOC:ident = $tsname:literal $(extends $BASE:ident, $BASEDOC:ident)? $(, $closed:ident)? {
            $( $(@$ext:ident)? $fname:literal : $kind:expr $(=> $ts:literal)?, $need:ident, $fdoc:literal; )*
        }
    )*) => {
        $(
            $(#[doc = $sdoc])*
            pub static $NAME: Shape = Shape {
                base: contract!(@opt $(&$BASE)?),
                fields: &[$(Field($fname, $kind, Need::$need)),*],
                deny_unknown: contract!(@flag $($closed)?),
            };
            #[doc = concat!("The documentation of [`", stringify!($NAME), "`].")]
            pub static $DOC: ShapeDoc = ShapeDoc {
                shape: &$NAME,
                name: $tsname,
                doc: concat!($($sdoc, "\n"),*),
                base: contract!(@opt $(&$BASEDOC)?),
                fields: &[$(FieldDoc {
                    name: $fname,
                    ts: contract!(@opt $($ts)?),
                    doc: $fdoc,
                    extension: contract!(@flag $($ext)?),
                }),*],
            };
        )*
        /// The documentation of every shape, in this file's order.
        pub static ALL_SHAPES: &[&ShapeDoc] = &[$(&$DOC),*];
    };
    (@opt) => { None };
    (@opt $x:expr) => { Some($x) };
    (@flag) => { false };
    (@flag $x:ident) => { true };
}

contract! {
    /// Body of `POST /import-jobs`.
    CREATE_JOB_REQUEST, CREATE_JOB_REQUEST_DOC = "CreateJobRequest", closed {
        "objectName": Str, Rule, "Target object, e.g. `profiles` or `orders`.";
        "fileName": Str, Rule, "Original file name, with extension, e.g. `spring-2026.csv`.";
        "fileSize": U64, Rule, "File size in bytes: 1 byte to 50 GB.";
        "createList": Bool, Opt, "Create a static list from the imported records (needs `listName`).";
        "listName": Str, Opt, "Name of the list to create; required when `createList` is true.";
        "targetListId": Str, Opt, "Add the imported records to this existing list.";
        "autoProfileAfterImport": Bool, Opt, "Run profile unification after the job completes.";
        "createAudience": Bool, Opt, "Create a dynamic audience from the imported records (needs `audienceName`).";
        "audienceName": Str, Opt, "Name of the audience to create; required when `createAudience` is true.";
    }

    /// `data` of the `POST /import-jobs` response (201).
    CREATE_JOB_RESPONSE, CREATE_JOB_RESPONSE_DOC = "CreateJobResponse" {
        "jobId": Str, Req, "`imp_` followed by a ULID.";
        "uploadUrl": Str, Req, "Pre-signed URL the file is uploaded to.";
        "expiresAt": Str, Req, "When `uploadUrl` stops working (RFC 3339).";
        "landingPath": Str, Req, "Where the file lands in storage.";
        "method": Str, Req, "HTTP method of the upload, `PUT`.";
        "headers": StrMap, Req, "Headers every upload request must carry, merged with its own.";
        "requestedBy": Str, Req, "Who created the job.";
    }

    /// The `saveAsTemplate` member of a mapping request.
    SAVE_AS_TEMPLATE, SAVE_AS_TEMPLATE_DOC = "SaveAsTemplate", closed {
        "name": Str, Rule, "Template name, 1 to 200 characters.";
    }

    /// Body of `POST /import-jobs/{jobId}/mapping`.
    MAPPING_REQUEST, MAPPING_REQUEST_DOC = "MappingRequest", closed {
        "sourceFields": StrMap => "Record<string, DataType>", Opt, "Source columns in file order: `{ columnName: dataType }`.";
        "fieldMap": StrMap, Opt, "Source column → destination field; unlisted columns are ignored.";
        "importMode": Str => "ImportMode", Opt, "Default `balanced`; `custom` is reserved.";
        "templateId": Str, Opt, "Reuse a saved mapping template instead of `sourceFields`/`fieldMap`.";
        "saveAsTemplate": Obj(&SAVE_AS_TEMPLATE), Opt, "Save this mapping as a template.";
    }

    /// `data` of the mapping response.
    MAPPING_RESPONSE, MAPPING_RESPONSE_DOC = "MappingResponse" {
        "ok": Bool, Req, "Always `true`.";
        @ext "templateId": Str, Opt, "Id of the template `saveAsTemplate` saved.";
    }

    /// Body of `POST /import-jobs/{jobId}/start`: optional, any object.
    START_REQUEST, START_REQUEST_DOC = "StartRequest" {
    }

    /// `data` of `POST /import-jobs/{jobId}/start`.
    START_RESPONSE, START_RESPONSE_DOC = "StartResponse" {
        "status": Str, Req, "`started`.";
        "jobId": Str, Req, "The job.";
        "lane": Str, Req, "Processing lane, e.g. `standard`.";
        "message": Str, Req, "For people, e.g. `Job queued for processing`.";
    }

    /// What the profile unification of `autoProfileAfterImport` merged.
    PROFILE_UNIFICATION, PROFILE_UNIFICATION_DOC = "ProfileUnification" {
        "profilesExamined": U64, Req, "Profile records of the workspace examined.";
        "profilesMerged": U64, Req, "Records linked to at least one other record.";
        "clusters": U64, Req, "Unified profiles made of more than one record.";
    }

    /// `data` of `GET /import-jobs/{jobId}`.
    JOB_STATUS, JOB_STATUS_DOC = "JobStatus" {
        "stage": Str, Req, "Processing stage, e.g. `upload`, `queued`, `parse`, `validate`, `merge`.";
        "state": Enum(JOB_STATES) => "JobState", Req, "The job's state; `completed` and `failed` are terminal.";
        "readRows": U64, Req, "Data rows read so far.";
        "validRows": U64, Req, "Rows that passed validation.";
        "invalidRows": U64, Req, "Rows rejected.";
        "mergedInserts": U64, Req, "Valid rows that created a record.";
        "mergedUpdates": U64, Req, "Valid rows that updated an existing record.";
        "startedAt": Str, Null, "When processing started (RFC 3339), `null` before start.";
        "updatedAt": Str, Req, "Last change (RFC 3339).";
        "rowsTotal": U64, Req, "Same as `readRows`.";
        "rowsImported": U64, Req, "Same as `validRows`.";
        "rowsRejected": U64, Req, "Same as `invalidRows`.";
        "successRate": F64, Req, "`validRows / readRows` (0 when nothing was read).";
        "errorSummary": U64Map, Null, "`{ errorCode: count }`, `null` when nothing was rejected.";
        "errorMessage": Str, Opt, "Why a `failed` job failed.";
        @ext "jobId": Str, Opt, "The job's id.";
        @ext "objectName": Str, Opt, "The target object.";
        @ext "profileUnification": Obj(&PROFILE_UNIFICATION), Opt, "What the profile unification of `autoProfileAfterImport` merged (absent when it did not run).";
    }

    /// `data` of `GET /import-jobs/{jobId}/errors`.
    ERRORS_RESPONSE, ERRORS_RESPONSE_DOC = "ErrorsResponse" {
        "hasErrors": Bool, Req, "Whether any row was rejected.";
        "errorFileUrl": Str, Opt, "Pre-signed URL of the JSONL error file.";
        "expiresAt": Str, Opt, "When `errorFileUrl` stops working (RFC 3339).";
        "errorCount": U64, Opt, "Rejected rows (lines of the file).";
    }

    /// One rejected row: one line of the JSONL error file.
    ERROR_ROW, ERROR_ROW_DOC = "ErrorRow" {
        "rowNumber": U64, Req, "1-based data row number (the header is row 0).";
        "sourceRow": StrMap, Req, "The row's source columns, by header name.";
        "error": Str, Req, "Why the row was rejected, for people.";
        @ext "code": Str, Opt, "Row error code, e.g. `VALIDATION_TYPE_MISMATCH`.";
        @ext "column": Str, Opt, "The offending column, when there is one.";
    }

    /// Which ingestion paths an object supports.
    INGESTION, INGESTION_DOC = "ObjectIngestion" {
        "single": Bool, Req, "Single-record writes supported.";
        "jsonBatch": Bool, Req, "Batch writes supported.";
        "fileImport": Bool, Req, "Import jobs supported: offer only objects where this is true.";
        "defaultWriteMode": Enum(&["upsert", "append"]), Req, "`upsert` merges on the identity key, `append` inserts every row.";
    }

    /// One item of `GET /metadata/objects`.
    OBJECT_SUMMARY, OBJECT_SUMMARY_DOC = "ObjectSummary" {
        "objectName": Str, Req, "API name, e.g. `profiles`.";
        "displayName": Str, Req, "Display name.";
        "pluralDisplayName": Str, Req, "Plural display name.";
        "objectType": Enum(&["profile", "event"]), Req, "`profile` (stateful entity) or `event` (event stream).";
        "activeVersion": U32, Req, "Schema version.";
        "primaryProfileRoot": Bool, Req, "Whether this is the workspace's primary profile object.";
        "ingestion": Obj(&INGESTION), Req, "Supported ingestion paths.";
    }

    /// `data` of `GET /metadata/objects`.
    OBJECT_LIST, OBJECT_LIST_DOC = "ObjectList" {
        "items": List(&OBJECT_SUMMARY), Req, "This page's objects.";
        "page": U32, Opt, "1-based page number.";
        "pageSize": U32, Opt, "Page size.";
        "totalItems": U64, Opt, "Items in all pages.";
        "totalPages": U64, Opt, "Number of pages.";
    }

    /// A field of an object schema.
    FIELD_DESCRIPTOR, FIELD_DESCRIPTOR_DOC = "FieldDescriptor" {
        "name": Str, Req, "Field name (schema spelling, usually snake_case).";
        "type": Str => "DataType", Req, "Data type name.";
        "nullable": Bool, Req, "Whether the field may be null.";
        "enumValues": StrList, Null, "Allowed values, or `null` when unconstrained.";
        "identityKey": Bool, False, "Whether this field is an identity key.";
        "description": Str, Opt, "For people.";
    }

    /// `data` of `GET /metadata/objects/{objectName}`.
    OBJECT_SCHEMA, OBJECT_SCHEMA_DOC = "ObjectSchema" extends OBJECT_SUMMARY, OBJECT_SUMMARY_DOC {
        "description": Str, Req, "For people.";
        "identityKeys": StrList, Req, "Identity-key fields; the first is the merge key of `upsert` objects.";
        "fields": List(&FIELD_DESCRIPTOR), Req, "Every field.";
    }

    /// Body of `POST /lists`.
    CREATE_LIST_REQUEST, CREATE_LIST_REQUEST_DOC = "CreateListRequest", closed {
        "name": Str, Rule, "1 to 200 characters.";
        "description": Str, Opt, "At most 2000 characters.";
    }

    /// A list, as the Lists API returns it.
    LIST, LIST_DOC = "List" {
        "id": Str, Req, "`lst_` followed by a ULID.";
        "name": Str, Req, "Name.";
        "description": Str, Null, "Description.";
        "type": Str, Req, "`static`.";
        "containerType": Str, Req, "`list`.";
        "membershipBehavior": Str, Req, "`snapshot`.";
        "populationSource": Str, Req, "`manual` or `import`.";
        "status": Str, Req, "`active`.";
        "memberCount": U64, Req, "Members.";
        "createdAt": Str, Opt, "Creation time (RFC 3339).";
    }

    /// `data` of `GET /lists`.
    LIST_PAGE, LIST_PAGE_DOC = "ListPage" {
        "items": List(&LIST), Req, "This page's lists.";
        "page": U32, Opt, "1-based page number.";
        "pageSize": U32, Opt, "Page size.";
        "totalItems": U64, Opt, "Items in all pages.";
        "totalPages": U64, Opt, "Number of pages.";
    }

    /// The `error` member of the error envelope.
    API_ERROR_BODY, API_ERROR_BODY_DOC = "ApiErrorBody" {
        "code": Str, Req, "Machine-readable code, e.g. `CDP_ETL.VALIDATION.REQUEST_INVALID`.";
        "message": Str, Req, "For people.";
        "details": Any, Opt, "Error-specific details, e.g. `{ field, rule }`.";
        "remediation": Str, Opt, "What to do about it.";
    }

    /// The error envelope of every failed API call.
    ERROR_ENVELOPE, ERROR_ENVELOPE_DOC = "ErrorEnvelope" {
        "success": Bool, Req, "Always `false`.";
        "correlationId": Str, Opt, "Also sent as the `x-correlation-id` header; give it to support.";
        "error": Obj(&API_ERROR_BODY), Req, "What went wrong.";
    }

    /// RFC 6749 §5.1 access token response of `POST /oauth/token`.
    TOKEN_RESPONSE, TOKEN_RESPONSE_DOC = "TokenResponse" {
        "access_token": Str, Req, "The JWT.";
        "token_type": Str, Req, "`Bearer`.";
        "expires_in": U64, Req, "Lifetime in seconds.";
        "scope": Str, Opt, "Granted scopes, space-separated.";
    }

    /// RFC 6749 §5.2 error response of `POST /oauth/token`.
    OAUTH_ERROR, OAUTH_ERROR_DOC = "OAuthError" {
        "error": Str, Req, "`invalid_request`, `invalid_client`, `unsupported_grant_type`, `invalid_scope`, …";
        "error_description": Str, Opt, "For people.";
    }
}
