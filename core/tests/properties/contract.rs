//! The wire contract's shape checker (`import_core::contract::check`), for
//! every shape of the contract:
//!
//! * any JSON value is checked without a panic, and a copy it hands back
//!   passes again unchanged;
//! * a value made to the shape passes, and its copy is the value as the
//!   checker documents it: unknown fields of open shapes dropped, `null`
//!   or absent optional fields left out (or `null`, or `false`, as the
//!   field's presence says), nested objects likewise;
//! * the same value with a wrong type in one field (at any depth) is
//!   refused, and the message names that field's path.

use import_core::contract::{check, Kind, Need, Shape, ShapeDoc, ALL_SHAPES};
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::strategy::Union;
use serde_json::{json, Map, Number, Value};

use crate::config;

/// A finite number (JSON has no others), without rejecting cases: a
/// million cases would run into proptest's limit of rejections.
fn finite() -> impl Strategy<Value = Value> {
    any::<f64>().prop_map(|x| Value::Number(Number::from_f64(x).unwrap_or_else(|| 0.into())))
}

/// Any JSON value.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        finite(),
        ".{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An object with some of `shape`'s field names (and others), holding any
/// JSON: deeper into the checker than any value gets.
fn shape_ish(shape: &'static Shape) -> impl Strategy<Value = Value> {
    let mut names: Vec<&str> = shape.all_fields().map(|f| f.0).collect();
    names.push("extra");
    prop::collection::btree_map(select(names), any_json(), 0..8)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
}

/// A whole number as JSON: an integer, or now and then a float without a
/// fraction (JavaScript writes no difference).
fn whole_number(max: u64) -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (0..=max).prop_map(Value::from),
        1 => (0..=max.min(u32::MAX as u64)).prop_map(|n| json!(n as f64)),
    ]
}

/// A value of `kind` and its copy as the checker hands it back.
fn of_kind(kind: Kind) -> BoxedStrategy<(Value, Value)> {
    let same = |s: BoxedStrategy<Value>| s.prop_map(|v| (v.clone(), v)).boxed();
    match kind {
        Kind::Str => same(any::<String>().prop_map(Value::String).boxed()),
        Kind::Bool => same(any::<bool>().prop_map(Value::Bool).boxed()),
        Kind::U32 => same(whole_number(u32::MAX as u64).boxed()),
        Kind::U64 => same(whole_number(u64::MAX).boxed()),
        Kind::F64 => same(prop_oneof![finite(), any::<i64>().prop_map(Value::from),].boxed()),
        Kind::Enum(names) => same(select(names).prop_map(Value::from).boxed()),
        Kind::StrMap => same(
            prop::collection::btree_map(".{0,6}", any::<String>().prop_map(Value::String), 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect()))
                .boxed(),
        ),
        Kind::U64Map => same(
            prop::collection::btree_map(".{0,6}", whole_number(u64::MAX), 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect()))
                .boxed(),
        ),
        Kind::StrList => same(
            prop::collection::vec(any::<String>().prop_map(Value::String), 0..4)
                .prop_map(Value::Array)
                .boxed(),
        ),
        // (Never null where a value is required: no shape has such a field.)
        Kind::Any => same(any_json().boxed()),
        Kind::Obj(shape) => object(shape),
        Kind::List(shape) => prop::collection::vec(object(shape), 0..3)
            .prop_map(|items| {
                let (values, copies) = items.into_iter().unzip();
                (Value::Array(values), Value::Array(copies))
            })
            .boxed(),
    }
}

/// How a field that may be absent is sent.
#[derive(Debug, Clone, Copy)]
enum Presence {
    Present,
    Absent,
    Null,
}

/// One field of a made object: name, presence rule, how it is sent, its
/// value and copy.
type FieldValue = (&'static str, Need, Presence, (Value, Value));

/// An object made to `shape` (unknown fields only where it is open) and
/// its copy as the checker hands it back.
fn object(shape: &'static Shape) -> BoxedStrategy<(Value, Value)> {
    let fields: Vec<BoxedStrategy<FieldValue>> = shape
        .all_fields()
        .map(|f| {
            let presence = if f.2 == Need::Req {
                Just(Presence::Present).boxed()
            } else {
                prop_oneof![
                    2 => Just(Presence::Present),
                    1 => Just(Presence::Absent),
                    1 => Just(Presence::Null),
                ]
                .boxed()
            };
            (Just(f.0), Just(f.2), presence, of_kind(f.1)).boxed()
        })
        .collect();
    let extra = if shape.deny_unknown {
        Just(Map::new()).boxed()
    } else {
        prop::collection::btree_map("[a-z]{1,6}_x", any_json(), 0..3)
            .prop_map(|m| m.into_iter().collect())
            .boxed()
    };
    (fields, extra)
        .prop_map(|(fields, extra)| {
            let (mut value, mut copy) = (extra, Map::new());
            for (name, need, presence, (v, c)) in fields {
                // An `Any` field holding null is absent too.
                let presence = match presence {
                    Presence::Present if v.is_null() && need != Need::Req => Presence::Null,
                    p => p,
                };
                match presence {
                    Presence::Present => {
                        value.insert(name.into(), v);
                        copy.insert(name.into(), c);
                    }
                    Presence::Absent | Presence::Null => {
                        if let Presence::Null = presence {
                            value.insert(name.into(), Value::Null);
                        }
                        match need {
                            Need::Null => {
                                copy.insert(name.into(), Value::Null);
                            }
                            Need::False => {
                                copy.insert(name.into(), Value::Bool(false));
                            }
                            _ => {}
                        }
                    }
                }
            }
            (Value::Object(value), Value::Object(copy))
        })
        .boxed()
}

/// Every shape with a value made to it and that value's copy.
fn shape_and_value() -> impl Strategy<Value = (&'static ShapeDoc, (Value, Value))> {
    Union::new(
        ALL_SHAPES
            .iter()
            .map(|doc| (Just(*doc), object(doc.shape)).boxed()),
    )
}

/// A place a wrong type can go: its path as the checker writes it, the
/// JSON pointer to it, its kind, and whether `null` is wrong there.
struct Site {
    path: String,
    pointer: String,
    kind: Kind,
    null_is_wrong: bool,
}

fn sites(value: &Value, shape: &'static Shape, path: &str, pointer: &str, out: &mut Vec<Site>) {
    let Value::Object(map) = value else { return };
    for field in shape.all_fields() {
        let Some(v) = map.get(field.0).filter(|v| !v.is_null()) else {
            continue;
        };
        let at = if path.is_empty() {
            field.0.to_string()
        } else {
            format!("{path}.{}", field.0)
        };
        let ptr = format!("{pointer}/{}", escape_pointer(field.0));
        out.push(Site {
            path: at.clone(),
            pointer: ptr.clone(),
            kind: field.1,
            null_is_wrong: field.2 == Need::Req,
        });
        items(v, field.1, &at, &ptr, out);
    }
}

/// The sites inside a value of `kind`: map entries, list items, fields.
fn items(v: &Value, kind: Kind, at: &str, ptr: &str, out: &mut Vec<Site>) {
    match (kind, v) {
        (Kind::Obj(inner), _) => sites(v, inner, at, ptr, out),
        (Kind::List(inner), Value::Array(list)) => {
            for (i, item) in list.iter().enumerate() {
                let (at, ptr) = (format!("{at}[{i}]"), format!("{ptr}/{i}"));
                out.push(Site {
                    path: at.clone(),
                    pointer: ptr.clone(),
                    kind: Kind::Obj(inner),
                    null_is_wrong: true,
                });
                sites(item, inner, &at, &ptr, out);
            }
        }
        (Kind::StrList, Value::Array(list)) => {
            for i in 0..list.len() {
                out.push(Site {
                    path: format!("{at}[{i}]"),
                    pointer: format!("{ptr}/{i}"),
                    kind: Kind::Str,
                    null_is_wrong: true,
                });
            }
        }
        (Kind::StrMap | Kind::U64Map, Value::Object(map)) => {
            let item = if matches!(kind, Kind::StrMap) {
                Kind::Str
            } else {
                Kind::U64
            };
            for key in map.keys() {
                out.push(Site {
                    path: format!("{at}.{key}"),
                    pointer: format!("{ptr}/{}", escape_pointer(key)),
                    kind: item,
                    null_is_wrong: true,
                });
            }
        }
        _ => {}
    }
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Values that are not of `kind` (none for `Any`).
fn wrong_values(kind: Kind) -> Vec<Value> {
    match kind {
        Kind::Str => vec![json!(5), json!(true), json!([]), json!({})],
        Kind::Bool => vec![json!("true"), json!(0), json!([false])],
        Kind::U32 => vec![json!(-1), json!(1.5), json!(4_294_967_296u64), json!("1")],
        Kind::U64 => vec![json!(-1), json!(0.5), json!("7"), json!(1e20), json!({})],
        Kind::F64 => vec![json!("1.0"), json!(false), json!([])],
        Kind::Enum(_) => vec![json!("not-one-of-them"), json!(3), json!([])],
        Kind::StrMap | Kind::U64Map => vec![json!([]), json!("x"), json!(5)],
        Kind::Obj(_) => vec![json!("x"), json!([]), json!(1)],
        Kind::List(_) | Kind::StrList => vec![json!({}), json!("x"), json!(true)],
        Kind::Any => vec![],
    }
}

proptest! {
    #![proptest_config(config(5000))]

    /// Any JSON, and objects with the shape's field names holding any
    /// JSON: no panic, and a copy handed back passes again unchanged.
    #[test]
    fn shape_checker_never_panics(
        doc in select(ALL_SHAPES.to_vec()),
        value in prop_oneof![any_json(), select(ALL_SHAPES.to_vec()).prop_flat_map(|d| shape_ish(d.shape))],
    ) {
        if let Ok(copy) = check(&value, doc.shape) {
            prop_assert!(copy.is_object());
            let again = check(&copy, doc.shape);
            prop_assert_eq!(again.as_ref(), Ok(&copy), "{}", doc.name);
        }
    }

}

proptest! {
    // Fewer: making values to the shapes is the slow part in the test profile.
    #![proptest_config(config(2000))]

    /// A value made to a shape passes, and comes back as documented.
    #[test]
    fn values_made_to_a_shape_pass((doc, (value, copy)) in shape_and_value()) {
        let checked = check(&value, doc.shape);
        prop_assert_eq!(checked.as_ref(), Ok(&copy), "{}: {}", doc.name, value);
    }

    /// One field of a wrong type, at any depth: refused, naming the field.
    #[test]
    fn a_wrong_type_in_one_field_is_refused_naming_it(
        (doc, (mut value, _)) in shape_and_value(),
        site in any::<Index>(),
        wrong in any::<Index>(),
    ) {
        let mut found = Vec::new();
        sites(&value, doc.shape, "", "", &mut found);
        found.retain(|s| !matches!(s.kind, Kind::Any));
        // (Not prop_assume: a million cases would run into proptest's
        // limit of rejections.)
        if found.is_empty() {
            return Ok(());
        }
        let site = site.get(&found);
        let mut candidates = wrong_values(site.kind);
        if site.null_is_wrong {
            candidates.push(Value::Null);
        }
        let bad = wrong.get(&candidates).clone();
        *value.pointer_mut(&site.pointer).expect("the site is in the value") = bad.clone();
        let refusal = check(&value, doc.shape);
        let named = format!("`{}`", site.path);
        prop_assert!(
            refusal.as_ref().is_err_and(|why| why.contains(&named)),
            "{}: {} at {} gave {:?}", doc.name, bad, site.path, refusal
        );
    }
}
