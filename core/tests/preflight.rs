//! The preflight on its own: encoding and dialect sniffing (including the
//! small samples and decimal-comma files other sniffers get wrong), type
//! inference with the validator's parsers, mapping suggestions and their
//! rules, the normaliser, and bad input (empty, header only, binary, a
//! 20 MB line, 100,000 columns, invalid UTF-8 inside a chunk).

use import_core::preflight::{
    needs_normalising, normalise_name, sniff_dialect, sniff_encoding, suggest_mapping, Column,
    DialectOverrides, LineEnding, MappingChoice, MatchReason, Normaliser, Preflight,
    PreflightOptions, Preflighter, Template,
};
use import_core::rules::{DataType, ImportMode};
use import_core::wire::{FieldDescriptor, ObjectSchema};
use indexmap::IndexMap;

fn field(name: &str, t: &str, key: bool) -> FieldDescriptor {
    FieldDescriptor {
        name: name.into(),
        data_type: t.into(),
        nullable: !key,
        enum_values: None,
        identity_key: key,
        description: None,
    }
}

/// The emulator's `profiles` object, as its Metadata API serves it: read
/// from the file that defines the emulator's built-in objects (a file, not
/// a dependency on the emulator's crate), in the `--schema` file format.
fn profiles() -> ObjectSchema {
    #[derive(serde::Deserialize)]
    struct SchemaFile {
        objects: Vec<ObjectSchema>,
    }
    let file: SchemaFile = serde_json::from_str(include_str!("../../devserver/objects.json"))
        .expect("devserver/objects.json is a schema file");
    file.objects
        .into_iter()
        .find(|o| o.summary.object_name == "profiles")
        .expect("devserver/objects.json defines profiles")
}

fn run(bytes: &[u8], options: PreflightOptions) -> Preflight {
    let mut p = Preflighter::new(options);
    p.feed(bytes);
    p.finish()
}

fn run_chunked(bytes: &[u8], options: PreflightOptions, chunk: usize) -> Preflight {
    let mut p = Preflighter::new(options);
    for c in bytes.chunks(chunk) {
        p.feed(c);
    }
    p.finish()
}

fn with_schema() -> PreflightOptions {
    PreflightOptions::for_schema(profiles(), ImportMode::Balanced)
}

// ---------------------------------------------------------------------------
// Encoding

#[test]
fn byte_order_marks_decide_the_encoding() {
    let g = sniff_encoding(b"\xEF\xBB\xBFemail\n");
    assert_eq!(
        (g.encoding.as_str(), g.bom, g.bom_length),
        ("utf-8", true, 3)
    );
    let g = sniff_encoding(b"\xFF\xFEe\0m\0");
    assert_eq!(
        (g.encoding.as_str(), g.bom, g.bom_length),
        ("utf-16le", true, 2)
    );
    let g = sniff_encoding(b"\xFE\xFF\0e\0m");
    assert_eq!(
        (g.encoding.as_str(), g.bom, g.bom_length),
        ("utf-16be", true, 2)
    );
    assert_eq!(g.confidence, 1.0);
}

#[test]
fn utf16_without_a_bom_is_told_by_its_nul_bytes() {
    let le: Vec<u8> = "email,name\nann@example.com,Ann\n"
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    let be: Vec<u8> = "email,name\nann@example.com,Ann\n"
        .encode_utf16()
        .flat_map(|u| u.to_be_bytes())
        .collect();
    assert_eq!(sniff_encoding(&le).encoding, "utf-16le");
    assert_eq!(sniff_encoding(&be).encoding, "utf-16be");
    assert!(!sniff_encoding(&le).binary);
}

#[test]
fn valid_utf8_is_utf8_even_cut_inside_a_character() {
    let text = "name,city\nZoë,Zürich\n名前,東京\n".as_bytes();
    assert_eq!(sniff_encoding(text).encoding, "utf-8");
    assert_eq!(sniff_encoding(text).confidence, 1.0);
    // Cut in the middle of 京 (three bytes).
    let cut = &text[..text.len() - 3];
    assert_eq!(sniff_encoding(cut).encoding, "utf-8");
    assert_eq!(sniff_encoding(b"plain,ascii\n1,2\n").encoding, "utf-8");
}

#[test]
fn binary_files_are_marked_binary() {
    for head in [
        &b"PK\x03\x04\x14\0\x06\0"[..],
        &[0x1F, 0x8B, 8, 0, 0, 0][..],
        &b"%PDF-1.7\n"[..],
        &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1][..],
        &b"a,b\n\0\0\0\x01\x02,c\n"[..],
    ] {
        assert!(sniff_encoding(head).binary, "{head:?}");
    }
}

fn encode(label: &str, text: &str) -> Vec<u8> {
    let enc = encoding_rs::Encoding::for_label(label.as_bytes()).unwrap();
    let (bytes, _, unmappable) = enc.encode(text);
    assert!(!unmappable, "{label} cannot encode the test text");
    bytes.into_owned()
}

#[test]
fn legacy_encodings_are_guessed_from_byte_statistics() {
    let cases = [
        (
            "windows-1252",
            "nom;prénom;ville;société\nMüller;Zoë;Besançon;Bäckerei Größe\nGarcía;José;Málaga;Señor Peña\nLefèvre;Hélène;Orléans;Crème brûlée\n",
        ),
        (
            "windows-1250",
            "nazwisko;imię;miasto\nKowalski;Paweł;Łódź\nWiśniewska;Małgorzata;Kraków\nŚliwiński;Żaneta;Gdańsk\nDvořák;Šárka;Brno\n",
        ),
        (
            "windows-1251",
            "фамилия;имя;город\nИванов;Сергей;Москва\nПетрова;Анна;Новосибирск\nСмирнов;Дмитрий;Екатеринбург\n",
        ),
        (
            "shift_jis",
            "氏名,住所,電話\n山田太郎,東京都新宿区,0312345678\nさとう はなこ,おおさかし,0661234567\nスズキ イチロウ,ナゴヤシ,0521234567\n",
        ),
        (
            "gbk",
            "姓名,城市,公司\n张伟,北京市,华为技术有限公司\n王芳,上海市,阿里巴巴集团\n李娜,广州市,腾讯科技深圳有限公司\n刘洋,成都市,字节跳动\n",
        ),
        (
            "euc-kr",
            "이름,도시,회사\n김민준,서울특별시,삼성전자\n이서연,부산광역시,현대자동차\n박지훈,대구광역시,엘지전자\n최수빈,인천광역시,에스케이하이닉스\n",
        ),
    ];
    for (label, text) in cases {
        let bytes = encode(label, text);
        let g = sniff_encoding(&bytes);
        assert_eq!(g.encoding, label, "{text}");
        assert!(
            g.confidence > 0.0 && g.confidence < 1.0,
            "{label}: {}",
            g.confidence
        );
        assert!(!g.bom && !g.binary);
    }
}

// ---------------------------------------------------------------------------
// Dialect

#[test]
fn the_delimiter_is_found_on_samples_of_two_lines() {
    // Python's csv.Sniffer raises "Could not determine delimiter" on
    // samples this small.
    for (text, d) in [
        ("email,name\nann@example.com,Ann\n", ','),
        ("email;name\nann@example.com;Ann\n", ';'),
        ("email\tname\nann@example.com\tAnn\n", '\t'),
        ("email|name\nann@example.com|Ann\n", '|'),
        ("a;b\n1;2", ';'),
    ] {
        assert_eq!(sniff_dialect(text.as_bytes()).delimiter, d, "{text:?}");
    }
}

#[test]
fn semicolon_files_with_decimal_commas_are_read_with_semicolons() {
    // What Excel writes in much of Europe. Splitting at commas gives a
    // header of one column and rows of two or three: Papa Parse's and
    // Python's guess is `,` for files like these.
    let texts = [
        "\u{feff}email;first_name;lifetime_value;loyalty_points\r\nann@example.com;Ann;1234,50;12\r\nbob@example.com;Bob;99,9;3\r\n",
        "name;price;weight\nApple;1,5;0,25\nPear;2,25;0,3\nPlum;0,99;0,05\n",
        "produkt;preis\nTee;3,50\n",
    ];
    for text in texts {
        let d = sniff_dialect(text.as_bytes());
        assert_eq!(d.delimiter, ';', "{text:?}");
        assert!(d.has_header);
    }
    let d = sniff_dialect(texts[0].as_bytes());
    assert!(d.bom);
    assert_eq!(d.line_ending, LineEnding::Crlf);
}

#[test]
fn a_file_of_one_column_is_read_with_commas() {
    // No candidate delimiter in it at all, or one only inside quotes: one
    // column, read as the API reads it (`,`), its header noticed.
    for text in [
        "email\nann@example.com\nbob@example.com\n",
        "email\r\nann@example.com\r\n",
        "note\n\"a;b|c\"\n\"d\te\"\n",
    ] {
        let d = sniff_dialect(text.as_bytes());
        assert_eq!(d.delimiter, ',', "{text:?}");
        assert!(d.has_header, "{text:?}");
    }
    // Only the semicolon splits this sample: the absent ones are not tried.
    assert_eq!(sniff_dialect(b"a;b\n1;2\n3;4\n").delimiter, ';');
}

#[test]
fn quoted_delimiters_do_not_count() {
    let text = "name,note\n\"Smith; J\",\"a;b;c\"\n\"Doe; K\",\"x;y\"\n\"Roe; L\",plain\n";
    assert_eq!(sniff_dialect(text.as_bytes()).delimiter, ',');
    let text = "name;note\n\"Smith, J\";\"a,b,c\"\n\"Doe, K\";\"x,y\"\n";
    assert_eq!(sniff_dialect(text.as_bytes()).delimiter, ';');
}

#[test]
fn line_endings_are_reported() {
    for (text, le) in [
        ("a,b\n1,2\n", LineEnding::Lf),
        ("a,b\r\n1,2\r\n", LineEnding::Crlf),
        ("a,b\r1,2\r", LineEnding::Cr),
        ("a,b\r\n1,2\n", LineEnding::Mixed),
        ("a,b", LineEnding::None),
        // A line break inside quotes is a value, not a line ending.
        ("a,b\r\n\"x\ny\",2\r\n", LineEnding::Crlf),
    ] {
        assert_eq!(sniff_dialect(text.as_bytes()).line_ending, le, "{text:?}");
    }
}

#[test]
fn a_file_of_data_without_a_header_is_noticed() {
    let d = sniff_dialect(b"ann@example.com,Ann,12\nbob@example.com,Bob,3\n");
    assert!(!d.has_header);
    let d = sniff_dialect(b"email,name,points\nann@example.com,Ann,12\nbob@example.com,Bob,3\n");
    assert!(d.has_header);
    let d = sniff_dialect(b"1,2,3\n4,5,6\n");
    assert!(!d.has_header);
    let d = sniff_dialect(b"a,b,c\n4,5,6\n");
    assert!(d.has_header);
}

#[test]
fn the_sniff_looks_at_a_sample_and_overrides_win() {
    let text = "a;b\n1;2\n";
    let p = run(text.as_bytes(), PreflightOptions::default());
    assert_eq!(p.dialect.delimiter, ';');
    let p = run(
        text.as_bytes(),
        PreflightOptions {
            dialect: DialectOverrides {
                delimiter: Some(','),
                has_header: Some(false),
                encoding: None,
            },
            ..Default::default()
        },
    );
    assert_eq!(p.dialect.delimiter, ',');
    assert!(!p.dialect.has_header);
    assert_eq!(p.columns.len(), 1);
    assert!(p
        .problems
        .iter()
        .any(|p| p.code == "HEADER_LOOKS_LIKE_DATA"));
}

// ---------------------------------------------------------------------------
// Types

fn column(p: &Preflight, name: &str) -> Column {
    p.columns
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .clone()
}

#[test]
fn each_type_is_inferred_with_the_validators_parsers() {
    let text = "s,i,n,b,d,dt,e,p,u,empty\n\
        x,1,1.5,true,2026-04-21,2026-04-21T10:00:00Z,a@x.io,+14155550123,https://x.io,\n\
        y,-2,2,false,2024-02-29,2026-04-21T10:00:00+02:00,b@x.io,+447700900123,http://y.io/a,\n\
        z,30,3e2,TRUE,1999-12-31,2026-04-21T10:00:00.5Z,c@y.org,+33612345678,https://z.io,\n";
    let p = run(text.as_bytes(), PreflightOptions::default());
    let expect = [
        ("s", DataType::String),
        ("i", DataType::Integer),
        ("n", DataType::Number),
        ("b", DataType::Boolean),
        ("d", DataType::Date),
        ("dt", DataType::Datetime),
        ("e", DataType::Email),
        ("p", DataType::Phone),
        ("u", DataType::Url),
        ("empty", DataType::String),
    ];
    for (name, t) in expect {
        let c = column(&p, name);
        assert_eq!(c.inferred_type, t, "{name}");
        assert_eq!(c.confidence, 1.0, "{name}");
        assert_eq!(c.misfit_count, 0, "{name}");
    }
    assert_eq!(column(&p, "empty").empty_count, 3);
    assert_eq!(column(&p, "i").examples, ["1", "-2", "30"]);
    assert_eq!(p.mapping.source_fields["i"], "integer");
    assert_eq!(p.mapping.source_fields["dt"], "datetime");
}

#[test]
fn misfits_are_counted_under_the_jobs_mode() {
    let mut text = String::from("points\n");
    for i in 0..19 {
        text.push_str(&format!("{i}\n"));
    }
    text.push_str("lots\n");
    for (mode, misfits) in [
        (ImportMode::Balanced, 1),
        (ImportMode::Strict, 1),
        (ImportMode::LandingFriendly, 1),
    ] {
        let p = run(
            text.as_bytes(),
            PreflightOptions {
                import_mode: mode,
                ..Default::default()
            },
        );
        let c = column(&p, "points");
        assert_eq!(c.inferred_type, DataType::Integer);
        assert_eq!(c.misfit_count, misfits);
        assert_eq!(c.misfits, ["lots"]);
        assert!((c.confidence - 0.95).abs() < 1e-6);
    }
    // Surrounding spaces: fine in balanced, misfits in strict.
    let text = "n\n 1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n";
    let strict = run(
        text.as_bytes(),
        PreflightOptions {
            import_mode: ImportMode::Strict,
            ..Default::default()
        },
    );
    assert_eq!(column(&strict, "n").misfit_count, 1);
    let balanced = run(text.as_bytes(), PreflightOptions::default());
    assert_eq!(column(&balanced, "n").misfit_count, 0);
}

#[test]
fn landing_friendly_coerced_forms_count_but_decimal_commas_stay_text() {
    let text = "flag;when;price\nyes;04/21/2026;1,5\nno;04/22/2026;2,25\nyes;12/31/2025;0,99\n";
    let landing = run(
        text.as_bytes(),
        PreflightOptions {
            import_mode: ImportMode::LandingFriendly,
            ..Default::default()
        },
    );
    assert_eq!(column(&landing, "flag").inferred_type, DataType::Boolean);
    assert_eq!(column(&landing, "when").inferred_type, DataType::Date);
    // landing_friendly would read 1,5 as 15.
    assert_eq!(column(&landing, "price").inferred_type, DataType::String);
    let balanced = run(text.as_bytes(), PreflightOptions::default());
    assert_eq!(column(&balanced, "flag").inferred_type, DataType::String);
    assert_eq!(column(&balanced, "when").inferred_type, DataType::String);
}

// ---------------------------------------------------------------------------
// Mapping suggestions

#[test]
fn names_normalise_case_separators_and_camel_case() {
    assert_eq!(normalise_name("E-Mail Address"), "e_mail_address");
    assert_eq!(normalise_name("emailAddress"), "email_address");
    assert_eq!(normalise_name("  First.Name "), "first_name");
    assert_eq!(normalise_name("Amount (USD)"), "amount");
    assert_eq!(normalise_name("ZIP_code"), "zip_code");
    assert_eq!(normalise_name("(x)"), "x");
}

#[test]
fn suggestions_come_in_tiers() {
    let text = "E-Mail Address;FName;Surname;Mobile Phone;Points Balanse;Birthday;tier\n\
        ann@example.com;Ann;Lee;+14155550123;12;1990-01-02;gold\n";
    let p = run(text.as_bytes(), with_schema());
    let by_column: IndexMap<&str, (&str, MatchReason)> = p
        .suggestions
        .iter()
        .map(|s| (s.column.as_str(), (s.field.as_str(), s.reason)))
        .collect();
    assert_eq!(by_column["E-Mail Address"], ("email", MatchReason::Synonym));
    assert_eq!(by_column["FName"], ("first_name", MatchReason::Synonym));
    assert_eq!(by_column["Surname"], ("last_name", MatchReason::Synonym));
    assert_eq!(by_column["Mobile Phone"], ("phone", MatchReason::Synonym));
    assert_eq!(by_column["Birthday"], ("birth_date", MatchReason::Synonym));
    assert_eq!(by_column["tier"], ("tier", MatchReason::Exact));
    // A typo, caught by similarity, and its values are integers.
    assert_eq!(
        by_column["Points Balanse"],
        ("loyalty_points", MatchReason::Similar)
    );
    assert_eq!(p.mapping.field_map["E-Mail Address"], "email");
    // Mapped columns are declared as their fields' types.
    assert_eq!(p.mapping.source_fields["E-Mail Address"], "email");
    assert_eq!(p.mapping.source_fields["Birthday"], "date");
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    assert_eq!(p.prediction.valid_rows, 1);
    // Separators and case alone make an exact match.
    let p = run(b"E-Mail,First-Name\na@x.io,Ann\n", with_schema());
    assert_eq!(p.suggestions[0].reason, MatchReason::Exact);
    assert_eq!(p.suggestions[1].reason, MatchReason::Exact);
}

#[test]
fn email_consent_never_maps_to_email() {
    for text in [
        "Email consent,Name\nyes,Ann\nno,Bob\n",
        "Email Consent,Email Address\ntrue,ann@example.com\nfalse,bob@example.com\n",
        "email_domain,emailconsent,email opt-in date\nexample.com,yes,2026-01-01\n",
    ] {
        let p = run(text.as_bytes(), with_schema());
        for s in &p.suggestions {
            if s.field == "email" {
                let c = s.column.to_lowercase();
                assert!(
                    !c.contains("consent") && !c.contains("domain") && !c.contains("date"),
                    "{text:?}: {s:?}"
                );
            }
        }
    }
    // With a real e-mail column beside it, the consent goes to opted_in.
    let p = run(
        b"Email Consent,Email Address\ntrue,ann@example.com\nfalse,bob@example.com\n",
        with_schema(),
    );
    assert_eq!(p.mapping.field_map["Email Address"], "email");
    assert_eq!(p.mapping.field_map["Email Consent"], "opted_in");
}

#[test]
fn no_field_gets_two_sources_and_an_unmapped_key_is_a_problem() {
    let p = run(
        b"Email,E-mail,email_address,Name\na@x.io,b@x.io,c@x.io,Ann\n",
        with_schema(),
    );
    let to_email: Vec<_> = p
        .mapping
        .field_map
        .values()
        .filter(|f| *f == "email")
        .collect();
    assert_eq!(to_email.len(), 1);
    assert_eq!(p.mapping.field_map["Email"], "email");

    let p = run(b"Name,Points\nAnn,3\n", with_schema());
    let problem = p
        .problems
        .iter()
        .find(|p| p.code == "KEY_NOT_MAPPED")
        .expect("a key problem");
    assert_eq!(problem.field.as_deref(), Some("email"));
    // The job would fail on its header: predicted with the emulator's message.
    let failure = p.prediction.failure.as_ref().unwrap();
    assert_eq!(failure.code, "KEY_NOT_MAPPED");
    assert!(failure
        .message
        .contains("fieldMap maps no column to the key field"));

    // Two sources on one field in a given mapping.
    let given = MappingChoice {
        source_fields: [("a", "string"), ("b", "string")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        field_map: [("a", "email"), ("b", "email")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    // An IndexMap cannot hold a field twice as a key, but two columns to
    // one field it can.
    let p = run(
        b"a,b\nx@y.io,z@y.io\n",
        PreflightOptions {
            mapping: Some(given),
            ..with_schema()
        },
    );
    assert!(p.problems.iter().any(|p| p.code == "FIELD_MAPPED_TWICE"));
}

#[test]
fn a_saved_template_maps_its_columns() {
    let template = Template {
        id: Some("tpl_1".into()),
        name: "CRM export".into(),
        source_fields: [
            ("cm_1", "string"),
            ("pb_v2", "integer"),
            ("grp_lvl", "string"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        field_map: [
            ("cm_1", "email"),
            ("pb_v2", "loyalty_points"),
            ("grp_lvl", "tier"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    };
    let p = run(
        b"cm_1,pb_v2,grp_lvl\nann@example.com,3,gold\n",
        PreflightOptions {
            templates: vec![template.clone()],
            ..with_schema()
        },
    );
    for s in &p.suggestions {
        assert_eq!(s.reason, MatchReason::Template, "{s:?}");
    }
    assert_eq!(p.mapping.field_map, template.field_map);
    // Without the template nothing knows these internal names.
    let p = run(
        b"cm_1,pb_v2,grp_lvl\nann@example.com,3,gold\n",
        with_schema(),
    );
    assert!(!p.mapping.field_map.contains_key("cm_1"));
}

#[test]
fn suggest_mapping_is_usable_alone() {
    let columns = vec![Column {
        name: "Zip".into(),
        index: 0,
        inferred_type: DataType::String,
        confidence: 1.0,
        examples: vec!["10115".into()],
        misfits: vec![],
        misfit_count: 0,
        empty_count: 0,
    }];
    let mut schema = profiles();
    schema.fields.push(field("postal_code", "string", false));
    let s = suggest_mapping(&columns, &schema, &[]);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].field, "postal_code");
    assert_eq!(s[0].reason, MatchReason::Synonym);
}

// ---------------------------------------------------------------------------
// The prediction

#[test]
fn the_prediction_counts_rows_as_the_rules_do() {
    let text = "\u{feff}email;first_name;loyalty_points\r\n\
        ann@example.com;Ann;1\r\n\
        not-an-email;Bob;2\r\n\
        ;Carl;3\r\n\
        dan@example.com;Dan\r\n\
        eve@example.com;\"Eve\r\nSmith\";x\r\n";
    let p = run(text.as_bytes(), with_schema());
    assert_eq!(p.dialect.delimiter, ';');
    assert!(p.dialect.bom);
    let pr = &p.prediction;
    assert_eq!((pr.read_rows, pr.valid_rows, pr.invalid_rows), (5, 1, 4));
    let summary = pr.error_summary.as_ref().unwrap();
    assert_eq!(summary["VALIDATION_TYPE_MISMATCH"], 2);
    assert_eq!(summary["REQUIRED_FIELD_MISSING"], 1);
    assert_eq!(summary["ROW_MALFORMED"], 1);
    let rows: Vec<u64> = pr.first_errors.iter().map(|e| e.row_number).collect();
    assert_eq!(rows, [2, 3, 4, 5]);
    assert_eq!(pr.first_errors[0].source_row["email"], "not-an-email");
    assert!(p.problems.iter().any(|p| p.code == "RAGGED_ROWS"));
    assert!(!p.sampled);
    assert!(p.needs_normalising);
}

#[test]
fn the_answer_does_not_depend_on_how_the_file_is_cut() {
    let mut text = String::from("email;first_name;lifetime_value;opted_in\r\n");
    for i in 0..3000 {
        let email = if i % 97 == 0 {
            "broken".to_string()
        } else {
            format!("u{i}@example.com")
        };
        text.push_str(&format!(
            "{email};\"Name {i};x\";{}.{};{}\r\n",
            i,
            i % 100,
            i % 2 == 0
        ));
    }
    let whole = run(text.as_bytes(), with_schema());
    for chunk in [1usize, 7, 4096, 65_536, 100_000] {
        let p = run_chunked(text.as_bytes(), with_schema(), chunk);
        assert_eq!(p, whole, "chunk {chunk}");
    }
    assert_eq!(whole.prediction.read_rows, 3000);
    assert_eq!(whole.prediction.invalid_rows, 31);
}

#[test]
fn a_sample_says_so_and_leaves_out_its_cut_record() {
    let mut text = String::from("email,n\n");
    for i in 0..100 {
        text.push_str(&format!("u{i}@example.com,{i}\n"));
    }
    let cut = &text.as_bytes()[..text.len() - 5];
    let mut p = Preflighter::new(with_schema());
    p.feed(cut);
    let s = p.finish_sample();
    assert!(s.sampled);
    assert_eq!(s.prediction.read_rows, 99);
    assert_eq!(s.prediction.invalid_rows, 0);
    assert_eq!(s.bytes_examined, cut.len() as u64);
}

// ---------------------------------------------------------------------------
// Bad input: a clear answer, never a hang or a panic

#[test]
fn an_empty_file_is_a_clear_problem() {
    let p = run(b"", with_schema());
    assert!(p.problems.iter().any(|p| p.code == "EMPTY_FILE"));
    assert_eq!(
        p.prediction.failure.as_ref().unwrap().code,
        "FILE_NO_HEADER"
    );
    assert_eq!(p.prediction.read_rows, 0);
    let p = run(b"\r\n\n\r\n", with_schema());
    assert_eq!(
        p.prediction.failure.as_ref().unwrap().code,
        "FILE_NO_HEADER"
    );
}

#[test]
fn a_header_alone_reads_no_rows() {
    let p = run(b"email,first_name\r\n", with_schema());
    assert!(p.problems.iter().any(|p| p.code == "NO_DATA_ROWS"));
    assert_eq!(p.prediction.read_rows, 0);
    assert!(p.prediction.failure.is_none());
    assert_eq!(p.mapping.field_map["email"], "email");
}

#[test]
fn a_binary_file_is_named_for_what_it_is() {
    let mut zip = b"PK\x03\x04".to_vec();
    zip.extend((0..20_000u32).map(|i| (i * 7919 % 251) as u8));
    let p = run(&zip, with_schema());
    let f = p.prediction.failure.as_ref().unwrap();
    assert_eq!(f.code, "FILE_NOT_CSV");
    assert!(f.message.contains("zip archive"), "{}", f.message);
    assert_eq!(p.prediction.read_rows, 0);
}

#[test]
fn a_20_mb_single_line_is_one_header() {
    let mut line = Vec::with_capacity(20 << 20);
    while line.len() < 20 << 20 {
        line.extend_from_slice(b"abcdefghijklmnopqrstuvwxy");
    }
    let p = run_chunked(&line, with_schema(), 1 << 20);
    assert_eq!(p.columns.len(), 1);
    assert_eq!(p.prediction.read_rows, 0);
    assert_eq!(
        p.prediction.failure.as_ref().unwrap().code,
        "KEY_NOT_MAPPED"
    );
    assert_eq!(p.bytes_examined, line.len() as u64);
}

#[test]
fn a_header_of_100000_columns_fails_clearly() {
    let mut text = (0..100_000)
        .map(|i| format!("c{i}"))
        .collect::<Vec<_>>()
        .join(",");
    text.push('\n');
    text.push_str(&",".repeat(99_999));
    text.push('\n');
    let p = run_chunked(text.as_bytes(), with_schema(), 64 * 1024);
    let f = p.prediction.failure.as_ref().unwrap();
    assert_eq!(f.code, "HEADER_TOO_MANY_COLUMNS");
    assert!(f.message.contains("100000 columns"), "{}", f.message);
    assert!(p.columns.is_empty());
}

#[test]
fn invalid_utf8_in_the_middle_of_a_chunk_rejects_that_row_only() {
    let mut bytes = b"email,first_name\nann@example.com,Ann\nbob@example.com,B".to_vec();
    bytes.push(0xFF);
    bytes.extend_from_slice(b"b\ncat@example.com,Cat\n");
    // Also a valid character cut across two chunks.
    bytes.extend_from_slice("dan@example.com,Zoë\n".as_bytes());
    let at = bytes.len() - 3;
    let mut p = Preflighter::new(PreflightOptions {
        dialect: DialectOverrides {
            encoding: Some(sniff_encoding(b"utf-8 by the host")),
            ..Default::default()
        },
        ..with_schema()
    });
    p.feed(&bytes[..at]);
    p.feed(&bytes[at..]);
    let p = p.finish();
    let pr = &p.prediction;
    assert_eq!((pr.read_rows, pr.valid_rows, pr.invalid_rows), (4, 3, 1));
    assert_eq!(pr.first_errors[0].code.as_deref(), Some("INVALID_ENCODING"));
    assert_eq!(pr.first_errors[0].row_number, 2);
}

#[test]
fn bytes_that_are_not_utf8_are_flagged_for_the_host() {
    let bytes = encode("windows-1252", "name;city\nZoë;Besançon\nJosé;Málaga\n");
    let p = run(&bytes, PreflightOptions::default());
    assert_eq!(p.dialect.encoding, "windows-1252");
    assert!(p.problems.iter().any(|p| p.code == "NOT_UTF8"));
    assert!(p.needs_normalising);
}

// ---------------------------------------------------------------------------
// Normalising

fn records_of(bytes: &[u8], delimiter: u8) -> Vec<(u64, Vec<String>)> {
    use import_core::csv::{CsvOptions, CsvStream, RecordEvent};
    let mut out = Vec::new();
    let mut s = CsvStream::new(CsvOptions::with_delimiter(delimiter));
    let mut on = |ev: RecordEvent<'_>| match ev {
        RecordEvent::Header(r) | RecordEvent::Row(r) => out.push((
            r.row_number,
            r.fields.iter().map(|f| f.to_string()).collect(),
        )),
        RecordEvent::Error(e) => out.push((e.row_number, e.fields.clone())),
    };
    s.feed(bytes, &mut on);
    s.finish(&mut on);
    out
}

#[test]
fn the_normaliser_writes_what_the_api_reads_as_the_original() {
    let text = "\u{feff}email;note;amount\r\n\r\n\
        ann@example.com;\"says \"\"hi\"\"; bye\";1,5\r\n\
        bob@example.com;\"two\r\nlines\";2,25\r\n\
        \"\"\r\n\
        ragged;row\r\n\
        \r\n\
        cat@example.com;a,b;3";
    let dialect = sniff_dialect(text.as_bytes());
    assert_eq!(dialect.delimiter, ';');
    assert!(needs_normalising(&dialect));
    for chunk in [1usize, 2, 5, 1000] {
        let mut n = Normaliser::new(&dialect);
        let mut out = Vec::new();
        for c in text.as_bytes().chunks(chunk) {
            n.push(c, &mut out);
        }
        n.finish(&mut out);
        assert_eq!(n.written(), out.len() as u64);
        assert!(!out.starts_with(&[0xEF, 0xBB, 0xBF]));
        assert_eq!(
            records_of(&out, b','),
            records_of(text.as_bytes(), b';'),
            "chunk {chunk}"
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "email,note,amount\nann@example.com,\"says \"\"hi\"\"; bye\",\"1,5\"\n\
             bob@example.com,\"two\r\nlines\",\"2,25\"\n\"\"\nragged,row\ncat@example.com,\"a,b\",3\n"
        );
    }
}

#[test]
fn a_whole_preflight_gives_the_exact_normalised_size() {
    let mut text = String::from("email;first_name;lifetime_value\r\n");
    for i in 0..20_000 {
        text.push_str(&format!("u{i}@example.com;\"N, {i}\";{i},5\r\n"));
    }
    let p = run_chunked(text.as_bytes(), with_schema(), 10_000);
    let mut n = Normaliser::new(&p.dialect);
    let mut out = Vec::new();
    n.push(text.as_bytes(), &mut out);
    n.finish(&mut out);
    assert_eq!(p.normalised_size, Some(out.len() as u64));
    // A comma UTF-8 file needs none.
    let p = run(b"email,n\na@x.io,1\n", with_schema());
    assert!(!p.needs_normalising);
    assert_eq!(p.normalised_size, None);
}

#[test]
fn the_answer_serialises_with_the_documented_names() {
    let p = run(b"email;n\na@x.io;1\nbad;2\n", with_schema());
    let v = serde_json::to_value(&p).unwrap();
    for key in [
        "dialect",
        "columns",
        "mapping",
        "suggestions",
        "problems",
        "prediction",
        "sampled",
        "bytesExamined",
        "needsNormalising",
        "normalisedSize",
    ] {
        assert!(v.get(key).is_some(), "{key}");
    }
    for key in [
        "encoding",
        "confidence",
        "bom",
        "delimiter",
        "quote",
        "lineEnding",
        "hasHeader",
    ] {
        assert!(v["dialect"].get(key).is_some(), "dialect.{key}");
    }
    assert_eq!(v["dialect"]["delimiter"], ";");
    for key in [
        "name",
        "index",
        "inferredType",
        "confidence",
        "examples",
        "misfits",
    ] {
        assert!(v["columns"][0].get(key).is_some(), "columns[].{key}");
    }
    assert!(v["mapping"]["sourceFields"].is_object());
    assert!(v["mapping"]["fieldMap"].is_object());
    for key in ["column", "field", "score", "reason"] {
        assert!(
            v["suggestions"][0].get(key).is_some(),
            "suggestions[].{key}"
        );
    }
    for key in [
        "readRows",
        "validRows",
        "invalidRows",
        "errorSummary",
        "firstErrors",
    ] {
        assert!(v["prediction"].get(key).is_some(), "prediction.{key}");
    }
    assert_eq!(v["prediction"]["firstErrors"][0]["rowNumber"], 2);
    assert_eq!(
        v["prediction"]["firstErrors"][0]["sourceRow"]["email"],
        "bad"
    );
    // Options read from JSON, every member optional.
    let o: PreflightOptions = serde_json::from_str(r#"{"importMode":"strict"}"#).unwrap();
    assert_eq!(o.import_mode, ImportMode::Strict);
    let o: PreflightOptions = serde_json::from_str("{}").unwrap();
    assert_eq!(o, PreflightOptions::default());
}
