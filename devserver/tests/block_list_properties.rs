//! Generated-input tests (proptest) of the emulator's Put Block List
//! parser (`storage::azure_blocks::parse_block_list`): XML-ish text never
//! makes it panic, only parse or be refused with a reason; a list of block
//! ids written as Azure's documentation shows it parses back to the same
//! list; and a parsed list written again parses the same.
//!
//! Case counts fit CI; `PROPTEST_CASES` raises them (`cargo xtask fuzz`).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use import_devserver::storage::azure_blocks::{parse_block_list, BlockKind};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::Config as ProptestConfig;

/// `ci_cases` cases, or `PROPTEST_CASES` when it is set.
fn config(ci_cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(ci_cases);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

const KINDS: [(BlockKind, &str); 3] = [
    (BlockKind::Latest, "Latest"),
    (BlockKind::Committed, "Committed"),
    (BlockKind::Uncommitted, "Uncommitted"),
];

fn name(kind: BlockKind) -> &'static str {
    KINDS.iter().find(|(k, _)| *k == kind).unwrap().1
}

/// Text made of the pieces of a block list, in any order; documents
/// close to a block list; and any text.
fn xml_ish() -> impl Strategy<Value = String> {
    let id_piece = select(vec![
        "AAA=", "QUJD", "+", "/", "=", "&amp;", "&#43;", "&#x2B;", "&#47;", "&#61;", "&lt;",
        "&gt;", "&quot;", "&apos;", "&", ";", ">", " ", "\n", "é", "x",
    ]);
    let id = prop_oneof![
        9 => prop::collection::vec(id_piece, 0..6).prop_map(|p| p.concat()),
        1 => Just("a<b".to_string()),
    ];
    let entry = (
        prop_oneof![
            12 => select(vec!["Latest", "Committed", "Uncommitted"]),
            1 => select(vec!["Foo", "latest", ""]),
        ],
        id,
        prop_oneof![
            12 => select(vec!["", " ", "\n", "\r\n  "]),
            1 => select(vec!["</Latest>", "<Latest>", "x"]),
        ],
    )
        .prop_map(|(name, id, gap)| format!("<{name}>{id}</{name}>{gap}"));
    let document = (
        select(vec!["", "<?xml version=\"1.0\"?>", "\u{feff}", " \n"]),
        prop::collection::vec(entry, 0..6),
        prop_oneof![
            6 => select(vec!["</BlockList>", "</BlockList>\n"]),
            1 => select(vec!["", "</BlockList>x", "</BlockList></BlockList>"]),
        ],
    )
        .prop_map(|(head, entries, tail)| format!("{head}<BlockList>{}{tail}", entries.concat()));
    let piece = select(vec![
        "<",
        ">",
        "</",
        "/>",
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>",
        "<?xml",
        "?>",
        "<BlockList>",
        "</BlockList>",
        "BlockList",
        "<Latest>",
        "</Latest>",
        "<Committed>",
        "</Committed>",
        "<Uncommitted>",
        "</Uncommitted>",
        "Latest",
        "<Foo>",
        "</Foo>",
        "AAA=",
        "AAE=",
        "MDAwMDAx",
        "+",
        "/",
        "=",
        "&amp;",
        "&#43;",
        "&#x2B;",
        "&#47;",
        "&lt;",
        "&",
        ";",
        "#",
        " ",
        "\n",
        "\r\n",
        "\t",
        "\u{feff}",
        "é",
        "😀",
    ]);
    prop_oneof![
        1 => any::<String>(),
        3 => prop::collection::vec(piece, 0..24).prop_map(|p| p.concat()),
        3 => document,
    ]
}

/// A block list: entries of any kind, ids of one length (as Azure
/// requires of one blob), base64 of arbitrary bytes.
fn block_list() -> impl Strategy<Value = Vec<(BlockKind, Vec<u8>)>> {
    (1usize..=64).prop_flat_map(|len| {
        prop::collection::vec(
            (
                select(KINDS.map(|(k, _)| k).to_vec()),
                prop::collection::vec(any::<u8>(), len),
            ),
            0..20,
        )
    })
}

/// How a client may lay the document out.
#[derive(Debug, Clone)]
struct Layout {
    bom: bool,
    declaration: bool,
    /// Between elements: nothing, spaces, line breaks, tabs.
    gap: &'static str,
    /// Write `+`, `/` and `=` of ids as character references.
    references: bool,
}

fn layout() -> impl Strategy<Value = Layout> {
    (
        any::<bool>(),
        any::<bool>(),
        select(vec!["", "\n", "\n  ", "\r\n\t", " "]),
        any::<bool>(),
    )
        .prop_map(|(bom, declaration, gap, references)| Layout {
            bom,
            declaration,
            gap,
            references,
        })
}

/// The Put Block List body as Azure's documentation shows it:
///
/// ```xml
/// <?xml version="1.0" encoding="utf-8"?>
/// <BlockList>
///   <Committed>first-base64-encoded-block-id</Committed>
///   <Uncommitted>second-base64-encoded-block-id</Uncommitted>
///   <Latest>third-base64-encoded-block-id</Latest>
/// </BlockList>
/// ```
fn write(list: &[(BlockKind, String)], how: &Layout) -> String {
    let mut xml = String::new();
    if how.bom {
        xml.push('\u{feff}');
    }
    if how.declaration {
        xml.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
        xml.push_str(how.gap);
    }
    xml.push_str("<BlockList>");
    for (kind, id) in list {
        let mut text = String::new();
        for c in id.chars() {
            match c {
                '&' => text.push_str("&amp;"),
                '<' => text.push_str("&lt;"),
                '>' => text.push_str("&gt;"),
                '+' if how.references => text.push_str("&#43;"),
                '/' if how.references => text.push_str("&#47;"),
                '=' if how.references => text.push_str("&#61;"),
                c => text.push(c),
            }
        }
        let name = name(*kind);
        xml.push_str(how.gap);
        xml.push_str(&format!("<{name}>{text}</{name}>"));
    }
    xml.push_str(how.gap);
    xml.push_str("</BlockList>");
    xml.push_str(how.gap);
    xml
}

proptest! {
    #![proptest_config(config(20_000))]

    /// XML-ish text: parsed or refused with a reason, never a panic.
    #[test]
    fn block_list_parser_never_panics(xml in xml_ish()) {
        if let Err(why) = parse_block_list(&xml) {
            prop_assert!(!why.is_empty());
        }
    }

    /// Ids written as the documentation shows parse back to the same list.
    #[test]
    fn block_lists_written_as_azure_documents_them_parse_back(
        list in block_list(),
        how in layout(),
    ) {
        let list: Vec<(BlockKind, String)> =
            list.into_iter().map(|(k, id)| (k, B64.encode(id))).collect();
        let xml = write(&list, &how);
        prop_assert_eq!(parse_block_list(&xml), Ok(list), "{}", xml);
    }

    /// What the parser accepts, written again, parses the same.
    #[test]
    fn parsed_block_lists_written_again_parse_the_same(xml in xml_ish(), how in layout()) {
        if let Ok(list) = parse_block_list(&xml) {
            let again = write(&list, &how);
            prop_assert_eq!(parse_block_list(&again), Ok(list), "{:?} written as {:?}", xml, again);
        }
    }
}
