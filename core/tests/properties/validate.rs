//! The value and row rules (`import_core::validate`): any text, as any data
//! type, under any import mode, is decided without a panic, and the
//! verdicts agree with the rules' reference:
//!
//! * a value is `Empty` exactly when it is empty or only whitespace;
//! * the modes nest: what `strict` accepts `balanced` accepts as the same
//!   value, and what `balanced` accepts `landing_friendly` accepts as the
//!   same value (for `string`, trimmed);
//! * `strict` takes typed values only as written: none with surrounding
//!   whitespace;
//! * an accepted value is written in its type's canonical form: read again
//!   (its text form) under the same mode it comes back unchanged, and under
//!   `strict` too, except URLs, whose scheme `balanced` and
//!   `landing_friendly` accept in any case and keep as written;
//! * rows: what a mode accepts, every more lenient mode accepts, with the
//!   same values where no value was coerced.

use import_core::rules::{DataType, ImportMode};
use import_core::validate::{check_value, Mapping, RowValidator, Value, ValueError};
use indexmap::IndexMap;
use proptest::prelude::*;
use proptest::sample::select;

use crate::config;

use ImportMode::{Balanced, LandingFriendly as Landing, Strict};

/// Whitespace around a value: none most of the time, else ASCII or not.
fn padding() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        4 => Just(""),
        1 => select(vec![" ", "  ", "\t", "\u{a0}", "\u{3000}", "\r\n", "\u{85}"]),
    ]
}

fn date_parts() -> impl Strategy<Value = (u32, u32, u32)> {
    (
        prop_oneof![3 => 1900u32..2100, 1 => 0u32..=10_000],
        0u32..=13,
        0u32..=32,
    )
}

/// A date in one of the forms the rules name (and some they refuse).
fn date() -> impl Strategy<Value = String> {
    (date_parts(), 0..6).prop_map(|((y, m, d), form)| match form {
        0 | 1 => format!("{y:04}-{m:02}-{d:02}"),
        2 => format!("{m}/{d}/{y}"),
        3 => format!("{d}.{m}.{y:04}"),
        4 => format!("{y}/{m:02}/{d:02}"),
        _ => format!("{m:02}-{d:02}-{y}"),
    })
}

/// A datetime: a date, a separator, a time, a timezone in any of the
/// forms the rules name (or none).
fn datetime() -> impl Strategy<Value = String> {
    (
        date(),
        select(vec!["T", "T", "t", " "]),
        (0u32..=25, 0u32..=61, 0u32..=61),
        select(vec!["", "", ".5", ".123456789", "."]),
        select(vec![
            "Z", "Z", "z", "+00:00", "+01:00", "-14:00", "+23:59", "+24:00", "+0530", "-05", "UTC",
            " GMT", " AM", " PM", "PM", "",
        ]),
        any::<bool>(),
    )
        .prop_map(|(date, sep, (h, mi, s), frac, tz, seconds)| {
            if seconds {
                format!("{date}{sep}{h:02}:{mi:02}:{s:02}{frac}{tz}")
            } else {
                format!("{date}{sep}{h}:{mi:02}{tz}")
            }
        })
}

/// Numbers written as the rules read them, or nearly.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| format!("+{n}")),
        any::<u64>().prop_map(|n| format!("{n}{}", "0".repeat(n as usize % 4))),
        any::<f64>().prop_map(|x| x.to_string()),
        any::<f64>().prop_map(|x| format!("{x:e}")),
        any::<f32>().prop_map(|x| format!("{x:E}")),
        (0u32..1_000_000, 0u32..1000).prop_map(|(a, b)| format!("{a},{b:03}.5")),
        (0u32..1000).prop_map(|n| format!(".{n}")),
        (0u32..1000).prop_map(|n| format!("{n}.")),
        (0u32..1000).prop_map(|n| format!("{n}.0")),
    ]
}

/// Phone numbers: E.164 and the spellings `landing_friendly` cleans up.
fn phone() -> impl Strategy<Value = String> {
    (
        select(vec!["+", "+", "00", "", "+0"]),
        prop::collection::vec(0u8..10, 0..18),
        select(vec!["", " ", "-", ".", "(", ")"]),
    )
        .prop_map(|(prefix, digits, sep)| {
            let mut s = prefix.to_string();
            for (i, d) in digits.iter().enumerate() {
                if i % 3 == 2 {
                    s.push_str(sep);
                }
                s.push(char::from(b'0' + d));
            }
            s
        })
}

/// E-mail addresses and URLs, right and wrong.
fn address() -> impl Strategy<Value = String> {
    let label = select(vec!["a", "example", "x-y", "", "é", "com", "WWW"]);
    (
        select(vec![
            "", "https://", "http://", "HTTPS://", "Http://", "ftp://", "ann@", "@", "a@@",
        ]),
        prop::collection::vec(label, 0..4),
        select(vec!["", "/", "/page?q=1#f", " x", "@x.io", "."]),
    )
        .prop_map(|(head, labels, tail)| format!("{head}{}{tail}", labels.join(".")))
}

/// A value each type's canonical form takes (`strict` accepts it).
fn canonical(data_type: DataType) -> BoxedStrategy<String> {
    let day = (1900u32..2100, 1u32..=12, 1u32..=28);
    match data_type {
        DataType::String => tokens().boxed(),
        DataType::Integer => any::<i64>().prop_map(|n| n.to_string()).boxed(),
        DataType::Number => prop_oneof![
            any::<i32>().prop_map(|n| n.to_string()),
            (-1e9f64..1e9).prop_map(|x| x.to_string()),
            (-1e300f64..1e300).prop_map(|x| format!("{x:e}")),
        ]
        .boxed(),
        DataType::Boolean => select(vec!["true", "false"])
            .prop_map(str::to_string)
            .boxed(),
        DataType::Date => day
            .prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}"))
            .boxed(),
        DataType::Datetime => (
            day,
            (0u32..24, 0u32..60, 0u32..60),
            select(vec!["", ".5", ".000001"]),
            select(vec!["Z", "+01:00", "-09:30", "+14:00", "-00:00"]),
        )
            .prop_map(|((y, mo, d), (h, mi, s), frac, tz)| {
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{tz}")
            })
            .boxed(),
        DataType::Email => (
            select(vec!["ann", "a.b", "x+tag", "Ann"]),
            select(vec!["example.com", "x.io", "mail.example.org"]),
        )
            .prop_map(|(l, d)| format!("{l}@{d}"))
            .boxed(),
        DataType::Phone => (1u8..10, prop::collection::vec(0u8..10, 1..14))
            .prop_map(|(first, rest)| {
                let digits: String = rest.iter().map(|d| char::from(b'0' + d)).collect();
                format!("+{first}{digits}")
            })
            .boxed(),
        DataType::Url => select(vec![
            "https://example.com",
            "http://x.io/a?b=c",
            "https://a.b/#f",
        ])
        .prop_map(str::to_string)
        .boxed(),
    }
}

/// Text built from the pieces the rules look at.
fn tokens() -> impl Strategy<Value = String> {
    let token = select(vec![
        "0",
        "1",
        "7",
        "42",
        "-",
        "+",
        ".",
        ",",
        ":",
        "/",
        "@",
        "e",
        "E",
        "T",
        "t",
        "Z",
        "z",
        " ",
        "true",
        "FALSE",
        "yes",
        "No",
        "on",
        "f",
        "AM",
        "pm",
        "UTC",
        "gmt",
        "http://",
        "https://",
        "www.",
        "com",
        "x",
        "é",
        "\u{a0}",
        "\u{2003}",
        "(",
        ")",
        "00",
        "2026-04-21",
        "10:00",
        "9999",
        "12/31/",
        "29.02.",
    ]);
    prop::collection::vec(token, 0..8).prop_map(|t| t.concat())
}

/// Any text, weighted towards what each data type reads.
fn raw_value() -> impl Strategy<Value = String> {
    let core = prop_oneof![
        2 => any::<String>(),
        3 => tokens(),
        2 => date(),
        3 => datetime(),
        3 => number(),
        1 => select(vec!["true", "false", "TRUE", "False", "yes", "N", "1", "0", "t", "Off", "maybe"])
            .prop_map(str::to_string),
        2 => phone(),
        2 => address(),
        3 => select(DataType::ALL.to_vec()).prop_flat_map(canonical),
    ];
    (padding(), core, padding()).prop_map(|(a, c, b)| format!("{a}{c}{b}"))
}

fn check_modes(data_type: DataType, raw: &str) -> Result<(), TestCaseError> {
    let verdicts = ImportMode::ALL.map(|mode| (mode, check_value(data_type, raw, mode)));
    for (mode, verdict) in &verdicts {
        let blank = raw.trim().is_empty();
        prop_assert_eq!(
            matches!(verdict, Err(ValueError::Empty)),
            blank,
            "{:?} {:?} under {:?}: {:?}",
            data_type,
            raw,
            mode,
            verdict
        );
        match verdict {
            Ok(value) => {
                prop_assert!(!value.is_null());
                let text = value.to_string();
                let again = check_value(data_type, &text, *mode);
                prop_assert_eq!(
                    again.as_ref(),
                    Ok(value),
                    "{:?} {:?} under {:?} read as {:?}",
                    data_type,
                    raw,
                    mode,
                    text
                );
                if data_type != DataType::Url {
                    let strict = check_value(data_type, &text, Strict);
                    prop_assert_eq!(
                        strict.as_ref(),
                        Ok(value),
                        "{:?} {:?} under {:?} read as {:?}, then strict",
                        data_type,
                        raw,
                        mode,
                        text
                    );
                }
            }
            Err(ValueError::Invalid(why)) => prop_assert!(!why.is_empty()),
            Err(ValueError::Empty) => {}
        }
    }
    let [(_, balanced), (_, strict), (_, landing)] = &verdicts;
    if let Ok(v) = strict {
        prop_assert_eq!(balanced.as_ref(), Ok(v), "{:?} {:?}", data_type, raw);
        if data_type != DataType::String {
            prop_assert_eq!(raw.trim(), raw, "strict took a padded {:?}", data_type);
        }
    }
    if let Ok(v) = balanced {
        let expected = match data_type {
            DataType::String => Value::String(raw.trim().to_string()),
            _ => v.clone(),
        };
        prop_assert_eq!(landing.as_ref(), Ok(&expected), "{:?} {:?}", data_type, raw);
    }
    Ok(())
}

/// One column per data type; `email` is the key.
const COLUMNS: [(&str, DataType); 9] = [
    ("email", DataType::Email),
    ("name", DataType::String),
    ("age", DataType::Integer),
    ("score", DataType::Number),
    ("active", DataType::Boolean),
    ("birthday", DataType::Date),
    ("seen", DataType::Datetime),
    ("phone", DataType::Phone),
    ("site", DataType::Url),
];

/// A value for each column: mostly one in its type's canonical form, so
/// that every mode accepts some rows.
fn row() -> impl Strategy<Value = Vec<String>> {
    COLUMNS
        .iter()
        .map(|&(_, t)| {
            prop_oneof![
                8 => canonical(t),
                1 => raw_value(),
                1 => (padding(), canonical(t), padding()).prop_map(|(a, c, b)| format!("{a}{c}{b}")),
                1 => Just(String::new()),
            ]
        })
        .collect::<Vec<_>>()
}

proptest! {
    #![proptest_config(config(8000))]

    /// Every data type under every mode: no panic, and the verdicts agree
    /// (see the module docs).
    #[test]
    fn values_are_decided_consistently_in_every_mode(raw in raw_value()) {
        for data_type in DataType::ALL {
            check_modes(data_type, &raw)?;
        }
    }

    /// Whole rows: no panic, and what a mode accepts every more lenient
    /// mode accepts.
    #[test]
    fn rows_accepted_in_a_mode_are_accepted_in_more_lenient_ones(
        fields in row(),
        undeclared in any::<bool>(),
    ) {
        let mut source_fields: IndexMap<String, DataType> =
            COLUMNS.iter().map(|&(c, t)| (c.to_string(), t)).collect();
        if undeclared {
            // Strict refuses every row of a file with an undeclared column.
            source_fields.shift_remove("name");
        }
        let field_map: IndexMap<String, String> =
            COLUMNS.iter().map(|&(c, _)| (c.to_string(), c.to_string())).collect();
        let header: Vec<&str> = COLUMNS.iter().map(|&(c, _)| c).collect();
        let mapping = Mapping::new(&source_fields, &field_map);
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        let verdict = |mode| {
            RowValidator::new(&header, mapping, mode, &["email"])
                .expect("the header holds every mapped column")
                .validate(1, &fields)
        };
        let (strict, balanced, landing) = (verdict(Strict), verdict(Balanced), verdict(Landing));
        if undeclared {
            prop_assert!(strict.is_err());
        }
        if let Ok(s) = &strict {
            prop_assert_eq!(balanced.as_ref(), Ok(s));
        }
        if let Ok(b) = &balanced {
            let l = landing.as_ref().map_err(|e| TestCaseError::fail(format!("{e}")))?;
            for ((b, l), (column, t)) in b.values.iter().zip(&l.values).zip(COLUMNS) {
                match (b, t) {
                    (Value::String(s), DataType::String) => {
                        prop_assert_eq!(l, &Value::String(s.trim().to_string()), "{}", column)
                    }
                    _ => prop_assert_eq!(l, b, "{}", column),
                }
            }
        }
    }
}
