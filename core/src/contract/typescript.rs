//! TypeScript interfaces of the wire types, written from the shapes.
//!
//! `cargo xtask build` appends this text to the package's `.d.ts` files;
//! the client's own options and classes stay hand-written beside the code
//! that reads them.

use std::fmt::Write;

use super::{ts_unions, FieldDoc, Kind, Need, ShapeDoc, ALL_SHAPES};

/// The first line of the generated block (the build and the tests find the
/// block by it).
pub const TS_HEADER: &str =
    "// ---- Wire types of the Import Jobs API (generated from import-core's contract) ----";

/// The TypeScript of every union and wire interface.
pub fn typescript() -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{TS_HEADER}\n");
    for (name, members) in ts_unions() {
        let union = members
            .iter()
            .map(|m| format!("\"{m}\""))
            .collect::<Vec<_>>()
            .join(" | ");
        let _ = writeln!(out, "export type {name} = {union};\n");
    }
    for doc in ALL_SHAPES {
        interface(&mut out, doc);
    }
    out
}

fn comment(out: &mut String, indent: &str, text: &str) {
    let lines: Vec<&str> = text.trim().lines().map(str::trim).collect();
    match lines.as_slice() {
        [] => {}
        [one] => {
            let _ = writeln!(out, "{indent}/** {one} */");
        }
        many => {
            let _ = writeln!(out, "{indent}/**");
            for l in many {
                let _ = writeln!(out, "{indent} * {l}");
            }
            let _ = writeln!(out, "{indent} */");
        }
    }
}

fn interface(out: &mut String, doc: &'static ShapeDoc) {
    comment(out, "", doc.doc);
    let extends = doc
        .base
        .map(|b| format!(" extends {}", b.name))
        .unwrap_or_default();
    if doc.shape.fields.is_empty() && doc.base.is_none() {
        let _ = writeln!(
            out,
            "export interface {}{extends} {{\n  [option: string]: unknown;\n}}\n",
            doc.name
        );
        return;
    }
    let _ = writeln!(out, "export interface {}{extends} {{", doc.name);
    for (field, fdoc) in doc.shape.fields.iter().zip(doc.fields) {
        field_line(out, field.0, field.1, field.2, fdoc);
    }
    let _ = writeln!(out, "}}\n");
}

fn field_line(out: &mut String, name: &str, kind: Kind, need: Need, doc: &FieldDoc) {
    let mut text = doc.doc.to_string();
    if doc.extension {
        text.push_str(" (Emulator extension: not in the API's documentation.)");
    }
    comment(out, "  ", &text);
    let ty = doc.ts.map_or_else(|| kind_ts(kind), str::to_string);
    let key = if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        name.to_string()
    } else {
        format!("\"{name}\"")
    };
    let line = match need {
        Need::Req | Need::Rule | Need::False => format!("{key}: {ty};"),
        Need::Opt => format!("{key}?: {ty};"),
        Need::Null => format!("{key}: {ty} | null;"),
    };
    let _ = writeln!(out, "  {line}");
}

/// The TypeScript type of a kind.
pub(super) fn kind_ts(kind: Kind) -> String {
    match kind {
        Kind::Str => "string".into(),
        Kind::Bool => "boolean".into(),
        Kind::U32 | Kind::U64 | Kind::F64 => "number".into(),
        Kind::Enum(names) => names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(" | "),
        Kind::StrMap => "Record<string, string>".into(),
        Kind::U64Map => "Record<string, number>".into(),
        Kind::Obj(s) => shape_name(s),
        Kind::List(s) => format!("{}[]", shape_name(s)),
        Kind::StrList => "string[]".into(),
        Kind::Any => "unknown".into(),
    }
}

fn shape_name(shape: &'static super::Shape) -> String {
    ShapeDoc::of(shape).map_or_else(|| "Record<string, unknown>".into(), |d| d.name.to_string())
}
