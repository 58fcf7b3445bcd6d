//! Upload plans: protocol detection, part layout at every boundary, the
//! protocols' limits up to 50 GB, Azure block ids and block list, GCS
//! ranges, and the resume record.

use std::collections::HashSet;

use import_core::plan::{
    azure_block_list_xml, block_id, content_range, parse_gcs_range_header, status_query_range,
    Part, PartSet, PlanError, PlanOptions, Protocol, UploadPlan, AZURE_MAX_BLOCK_SIZE,
    AZURE_MAX_PUT_BLOB, DEFAULT_PART_SIZE, GCS_CHUNK_MULTIPLE, MAX_PARTS, MIB, SINGLE_PUT_MAX,
};
use import_core::MAX_FILE_SIZE;
use indexmap::IndexMap;

const GIB: u64 = 1024 * MIB;

fn plan(size: u64, protocol: Protocol) -> UploadPlan {
    UploadPlan::new(size, protocol, &PlanOptions::default())
        .unwrap_or_else(|e| panic!("{size} bytes over {protocol}: {e}"))
}

fn with_part_size(part_size: u64) -> PlanOptions {
    PlanOptions {
        part_size: Some(part_size),
        ..PlanOptions::default()
    }
}

/// Checks every invariant a driver relies on, and returns the parts.
fn check_layout(plan: &UploadPlan) -> Vec<Part> {
    let parts: Vec<Part> = plan.parts().collect();
    assert_eq!(parts.len() as u64, plan.part_count(), "part_count");
    assert_eq!(
        plan.parts().len() as u64,
        plan.part_count(),
        "ExactSizeIterator"
    );
    assert!(plan.part_count() >= 1);
    assert!(
        plan.part_count() <= MAX_PARTS,
        "{} parts",
        plan.part_count()
    );
    // Parts cover [0, size) exactly once, in order, with no gaps.
    let mut next = 0;
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(p.index, i as u64);
        assert_eq!(p.offset, next, "part {i} starts at {} not {next}", p.offset);
        assert!(p.len <= plan.part_size());
        if (i as u64) + 1 < plan.part_count() {
            assert_eq!(p.len, plan.part_size(), "only the last part may be short");
        }
        assert!(p.len > 0 || plan.file_size() == 0, "empty part {i}");
        next = p.end();
    }
    assert_eq!(next, plan.file_size(), "parts end at the file size");
    assert_eq!(plan.part(plan.part_count()), None);
    // Random access agrees with iteration, both ways.
    assert_eq!(plan.part(plan.part_count() - 1).as_ref(), parts.last());
    assert_eq!(plan.parts().next_back().as_ref(), parts.last());
    // Protocol limits.
    match plan.protocol() {
        Protocol::AzureBlocks if plan.is_single_request() => {
            assert!(plan.file_size() <= AZURE_MAX_PUT_BLOB);
            assert!(parts.iter().all(|p| p.block_id.is_none()));
        }
        Protocol::AzureBlocks => {
            assert!(plan.part_size() <= AZURE_MAX_BLOCK_SIZE);
            let ids: Vec<&str> = parts
                .iter()
                .map(|p| p.block_id.as_deref().unwrap())
                .collect();
            let len = ids[0].len();
            assert!(
                ids.iter().all(|id| id.len() == len),
                "block ids of one length"
            );
            let unique: HashSet<&&str> = ids.iter().collect();
            assert_eq!(unique.len(), ids.len(), "block ids unique");
        }
        Protocol::SinglePut => {
            assert!(plan.is_single_request());
            assert!(plan.file_size() <= SINGLE_PUT_MAX);
        }
        Protocol::GcsResumable => {
            assert_eq!(plan.concurrency(), 1, "GCS sessions are sequential");
            for p in &parts[..parts.len() - 1] {
                assert_eq!(
                    p.len % GCS_CHUNK_MULTIPLE,
                    0,
                    "GCS chunk {} not 256 KiB-aligned",
                    p.index
                );
            }
            assert!(parts.iter().all(|p| p.block_id.is_none()));
        }
    }
    parts
}

// ---------------------------------------------------------------------------
// Detection
// ---------------------------------------------------------------------------

#[test]
fn detect_follows_the_documented_rules() {
    let none: [(String, String); 0] = [];
    let azure_header = [("X-MS-Blob-Type".to_string(), "BlockBlob".to_string())];
    type Case<'a> = (&'a str, &'a [(String, String)], Protocol);
    let cases: &[Case] = &[
        // The API's Azure answer: the header decides, whatever the URL.
        ("https://upload.example.com/jobs/imp_1/file?sig=abc&se=1&sp=w", &azure_header, Protocol::AzureBlocks),
        ("https://acct.blob.core.windows.net/landing/imp_1.csv?sv=2024-08-04&sr=b&sp=cw&sig=x%2By", &none, Protocol::AzureBlocks),
        ("https://acct.blob.core.chinacloudapi.cn/c/b", &none, Protocol::AzureBlocks),
        ("http://127.0.0.1:10000/devstoreaccount1/landing/f.csv?sv=2025-01-05&sig=x", &none, Protocol::AzureBlocks),
        ("http://devstoreaccount1.blob.localhost:10000/c/f.csv", &none, Protocol::AzureBlocks),
        // A SAS on a custom domain.
        ("https://files.example.com/c/f.csv?sv=2024-08-04&se=2026-01-01&sp=w&sig=abc", &none, Protocol::AzureBlocks),
        // S3 pre-signed, as in the batch-import guide.
        ("https://upload.experiture.ai/jobs/imp_01HXYZ/file?X-Amz-Signature=abc", &none, Protocol::SinglePut),
        ("https://b.s3.amazonaws.com/k?x-amz-algorithm=AWS4-HMAC-SHA256&x-amz-credential=a&x-amz-signature=b", &none, Protocol::SinglePut),
        ("https://b.s3.amazonaws.com/k?AWSAccessKeyId=A&Expires=1&Signature=s", &none, Protocol::SinglePut),
        // GCS session URIs (JSON and XML API), and an initiation URL.
        ("https://storage.googleapis.com/upload/storage/v1/b/bk/o?uploadType=resumable&name=f&upload_id=ADPycd", &none, Protocol::GcsResumable),
        ("https://storage.googleapis.com/bk/f.csv?upload_id=ADPycd", &none, Protocol::GcsResumable),
        ("https://storage.googleapis.com/upload/storage/v1/b/bk/o?uploadType=resumable", &none, Protocol::GcsResumable),
        // A GCS V4 signed PUT URL is a single PUT.
        ("https://storage.googleapis.com/bk/f.csv?X-Goog-Signature=abc&X-Goog-Expires=900", &none, Protocol::SinglePut),
        // This project's emulator in S3 and GCS modes: sig/sp/se but no sv.
        ("http://127.0.0.1:8787/storage/landing/imp_1.csv?se=1900000000&sp=w&sig=abc", &none, Protocol::SinglePut),
        ("http://127.0.0.1:8787/storage/landing/imp_1.csv?se=1900000000&sp=w&upload_id=u1&sig=abc", &none, Protocol::GcsResumable),
        // Unknown: single PUT; an AppendBlob header is not the block protocol.
        ("https://example.com/put-here", &none, Protocol::SinglePut),
        ("not a url at all", &none, Protocol::SinglePut),
        ("", &none, Protocol::SinglePut),
    ];
    for (url, headers, want) in cases {
        assert_eq!(Protocol::detect(url, *headers), *want, "{url}");
    }
    let append = [("x-ms-blob-type".to_string(), "AppendBlob".to_string())];
    assert_eq!(
        Protocol::detect("https://example.com/x", &append),
        Protocol::SinglePut
    );
}

#[test]
fn detect_takes_an_indexmap_as_the_api_returns_it() {
    let mut headers: IndexMap<String, String> = IndexMap::new();
    headers.insert("x-ms-blob-type".into(), "BlockBlob".into());
    assert_eq!(
        Protocol::detect("http://127.0.0.1:8787/storage/x?sig=1&sp=w&se=2", &headers),
        Protocol::AzureBlocks
    );
    let empty: IndexMap<String, String> = IndexMap::new();
    assert_eq!(
        Protocol::detect("http://127.0.0.1:8787/storage/x?sig=1&sp=w&se=2", &empty),
        Protocol::SinglePut
    );
}

#[test]
fn protocol_names_round_trip_and_aliases_parse() {
    for p in Protocol::ALL {
        assert_eq!(p.as_str().parse::<Protocol>().unwrap(), p);
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            format!("\"{}\"", p.as_str())
        );
        assert_eq!(
            serde_json::from_str::<Protocol>(&format!("\"{p}\"")).unwrap(),
            p
        );
    }
    assert_eq!("S3".parse::<Protocol>().unwrap(), Protocol::SinglePut);
    assert_eq!("gcs".parse::<Protocol>().unwrap(), Protocol::GcsResumable);
    assert_eq!(
        "azureBlocks".parse::<Protocol>().unwrap(),
        Protocol::AzureBlocks
    );
    let err = "ftp".parse::<Protocol>().unwrap_err();
    assert!(
        err.to_string()
            .contains("azure-blocks, single-put or gcs-resumable"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// Layout at the boundaries
// ---------------------------------------------------------------------------

#[test]
fn zero_bytes_is_one_empty_request_for_every_protocol() {
    for p in Protocol::ALL {
        let plan = plan(0, p);
        assert!(plan.is_single_request(), "{p}");
        let parts = check_layout(&plan);
        assert_eq!(
            parts,
            vec![Part {
                index: 0,
                offset: 0,
                len: 0,
                block_id: None
            }],
            "{p}"
        );
        assert_eq!(plan.concurrency(), 1);
    }
    // Even when single requests are switched off.
    let opts = PlanOptions {
        single_request_threshold: Some(0),
        ..PlanOptions::default()
    };
    let plan = UploadPlan::new(0, Protocol::AzureBlocks, &opts).unwrap();
    assert!(plan.is_single_request());
}

#[test]
fn one_byte_and_exactly_one_part_are_single_requests() {
    for p in Protocol::ALL {
        for size in [1, DEFAULT_PART_SIZE] {
            let plan = plan(size, p);
            assert!(plan.is_single_request(), "{size} over {p}");
            let parts = check_layout(&plan);
            assert_eq!(parts.len(), 1);
            assert_eq!((parts[0].offset, parts[0].len), (0, size));
            assert!(azure_block_list_xml(&plan).ends_with("<BlockList></BlockList>"));
        }
    }
}

#[test]
fn one_byte_over_one_part_gives_two_parts() {
    let size = DEFAULT_PART_SIZE + 1;
    for p in [Protocol::AzureBlocks, Protocol::GcsResumable] {
        let plan = plan(size, p);
        assert!(!plan.is_single_request());
        let parts = check_layout(&plan);
        assert_eq!(parts.len(), 2);
        assert_eq!((parts[1].offset, parts[1].len), (DEFAULT_PART_SIZE, 1));
        assert_eq!(
            plan.concurrency(),
            if p == Protocol::GcsResumable { 1 } else { 2 }
        );
    }
    let single = plan(size, Protocol::SinglePut);
    assert!(single.is_single_request());
    assert_eq!(check_layout(&single).len(), 1);
}

#[test]
fn many_parts_with_a_short_last_part() {
    let size = 100 * MIB + 12_345;
    let plan = plan(size, Protocol::AzureBlocks);
    let parts = check_layout(&plan);
    assert_eq!(parts.len(), 13);
    assert_eq!(parts[12].len, 4 * MIB + 12_345);
    assert_eq!(plan.concurrency(), 6);
    assert!(!plan.part_size_raised());
    assert_eq!(plan.part_index_at(0), 0);
    assert_eq!(plan.part_index_at(8 * MIB), 1);
    assert_eq!(plan.part_index_at(size + 10), 12);
}

#[test]
fn default_parts_grow_with_files_over_512_mib() {
    // Up to 512 MiB: 8 MiB parts; one byte more: 9 MiB (about 64 parts).
    let half = 512 * MIB;
    assert_eq!(
        plan(half, Protocol::AzureBlocks).part_size(),
        DEFAULT_PART_SIZE
    );
    assert_eq!(plan(half, Protocol::AzureBlocks).part_count(), 64);
    let over = plan(half + 1, Protocol::AzureBlocks);
    assert_eq!(over.part_size(), 9 * MIB);
    assert_eq!(over.part_count(), 57);
    check_layout(&over);
    // 1 GiB: 64 parts of 16 MiB.
    let gib = 1024 * MIB;
    let one = plan(gib, Protocol::AzureBlocks);
    assert_eq!((one.part_size(), one.part_count()), (16 * MIB, 64));
    check_layout(&one);
    // 2 GiB and more: 32 MiB, whatever the protocol of parts.
    for p in [Protocol::AzureBlocks, Protocol::GcsResumable] {
        let two = plan(2 * gib, p);
        assert_eq!((two.part_size(), two.part_count()), (32 * MIB, 64));
        check_layout(&two);
        let four = plan(4 * gib, p);
        assert_eq!((four.part_size(), four.part_count()), (32 * MIB, 128));
        check_layout(&four);
    }
    // A part size given is kept.
    let given = UploadPlan::new(4 * gib, Protocol::AzureBlocks, &with_part_size(8 * MIB)).unwrap();
    assert_eq!((given.part_size(), given.part_count()), (8 * MIB, 512));
}

#[test]
fn part_size_is_raised_to_stay_within_50000_parts() {
    // 1 MiB parts: exactly 50,000 fit; one byte more forces a raise.
    let opts = with_part_size(MIB);
    let fits = UploadPlan::new(MAX_PARTS * MIB, Protocol::AzureBlocks, &opts).unwrap();
    assert_eq!(fits.part_count(), MAX_PARTS);
    assert!(!fits.part_size_raised());
    check_layout(&fits);

    let over = UploadPlan::new(MAX_PARTS * MIB + 1, Protocol::AzureBlocks, &opts).unwrap();
    assert!(over.part_size_raised());
    assert_eq!(over.part_size(), 2 * MIB, "raised to the next whole MiB");
    assert_eq!(over.part_count(), 25_001);
    check_layout(&over);

    // Tiny requested parts on a big file.
    let tiny = UploadPlan::new(20 * GIB, Protocol::GcsResumable, &with_part_size(1)).unwrap();
    assert!(tiny.part_size_raised());
    assert_eq!(tiny.part_size(), MIB);
    assert_eq!(tiny.part_count(), 20_480);
    check_layout(&tiny);
    // 10 GiB at 256 KiB (the GCS minimum) is 40,960 chunks: no raise needed.
    let ok = UploadPlan::new(10 * GIB, Protocol::GcsResumable, &with_part_size(1)).unwrap();
    assert!(!ok.part_size_raised());
    assert_eq!(ok.part_count(), 40_960);

    // 50,000 × 8 MiB + 1 needs a raise too, but is beyond the 50 GB limit
    // of an import; with that limit lifted (own storage), it plans.
    let size = MAX_PARTS * DEFAULT_PART_SIZE + 1;
    let err = UploadPlan::new(size, Protocol::AzureBlocks, &PlanOptions::default()).unwrap_err();
    assert_eq!(err.code(), "FILE_TOO_LARGE");
    let lifted = PlanOptions {
        max_file_size: Some(u64::MAX),
        ..PlanOptions::default()
    };
    let eight = PlanOptions {
        part_size: Some(DEFAULT_PART_SIZE),
        ..lifted.clone()
    };
    let big = UploadPlan::new(size, Protocol::AzureBlocks, &eight).unwrap();
    assert!(big.part_size_raised());
    assert_eq!(big.part_size(), 9 * MIB);
    assert!(big.part_count() <= MAX_PARTS);
    assert_eq!(big.parts().next_back().unwrap().end(), size);
}

#[test]
fn fifty_gb_plans_for_every_protocol() {
    for p in [Protocol::AzureBlocks, Protocol::GcsResumable] {
        for part_size in [None, Some(MIB), Some(256 * 1024), Some(100 * MIB + 7)] {
            let opts = PlanOptions {
                part_size,
                ..PlanOptions::default()
            };
            let plan = UploadPlan::new(MAX_FILE_SIZE, p, &opts).unwrap();
            let parts = check_layout(&plan);
            assert!(!plan.is_single_request());
            if p == Protocol::AzureBlocks {
                let xml = azure_block_list_xml(&plan);
                assert_eq!(xml.matches("<Latest>").count(), parts.len());
            }
        }
    }
    // By default the largest file (50 GiB) goes in 32 MiB parts
    // (default_part_size); in 8 MiB parts when asked.
    let fifty = plan(MAX_FILE_SIZE, Protocol::AzureBlocks);
    assert_eq!(fifty.part_size(), 32 * MIB);
    assert_eq!(fifty.part_count(), 1_600);
    assert_eq!(
        UploadPlan::new(
            MAX_FILE_SIZE,
            Protocol::AzureBlocks,
            &with_part_size(DEFAULT_PART_SIZE)
        )
        .unwrap()
        .part_count(),
        6_400
    );

    let err =
        UploadPlan::new(MAX_FILE_SIZE, Protocol::SinglePut, &PlanOptions::default()).unwrap_err();
    assert_eq!(err.code(), "SINGLE_PUT_TOO_LARGE");

    for p in Protocol::ALL {
        let err = UploadPlan::new(MAX_FILE_SIZE + 1, p, &PlanOptions::default()).unwrap_err();
        assert_eq!(
            err,
            PlanError::FileTooLarge {
                size: MAX_FILE_SIZE + 1,
                max: MAX_FILE_SIZE
            }
        );
        assert!(err.to_string().contains("50 GiB"), "{err}");
    }
}

#[test]
fn single_put_boundary_is_5_gib() {
    assert_eq!(SINGLE_PUT_MAX, 5 * 1024 * 1024 * 1024);
    let at = plan(SINGLE_PUT_MAX, Protocol::SinglePut);
    assert!(at.is_single_request());
    assert_eq!(check_layout(&at)[0].len, SINGLE_PUT_MAX);
    // Part size and threshold do not apply to a single PUT.
    let odd = PlanOptions {
        part_size: Some(1),
        single_request_threshold: Some(0),
        ..PlanOptions::default()
    };
    assert_eq!(
        UploadPlan::new(SINGLE_PUT_MAX, Protocol::SinglePut, &odd)
            .unwrap()
            .part_count(),
        1
    );

    let err = UploadPlan::new(
        SINGLE_PUT_MAX + 1,
        Protocol::SinglePut,
        &PlanOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.code(), "SINGLE_PUT_TOO_LARGE");
    let msg = err.to_string();
    assert!(
        msg.contains("5 GiB") && msg.contains("block") && msg.contains("multipart"),
        "{msg}"
    );
}

#[test]
fn gcs_chunks_are_rounded_up_to_256_kib() {
    for (asked, want) in [
        (1, 256 * 1024),
        (256 * 1024, 256 * 1024),
        (256 * 1024 + 1, 512 * 1024),
        (5 * MIB + 3, 5 * MIB + 256 * 1024),
    ] {
        let plan = UploadPlan::new(
            40 * MIB + 17,
            Protocol::GcsResumable,
            &with_part_size(asked),
        )
        .unwrap();
        assert_eq!(plan.part_size(), want, "asked {asked}");
        assert!(
            !plan.part_size_raised(),
            "rounding to 256 KiB is not a raise"
        );
        let parts = check_layout(&plan);
        assert_ne!(
            parts.last().unwrap().len % GCS_CHUNK_MULTIPLE,
            0,
            "last chunk any size"
        );
    }
    // Azure keeps an odd part size as asked.
    let azure = UploadPlan::new(
        40 * MIB,
        Protocol::AzureBlocks,
        &with_part_size(3 * MIB + 1),
    )
    .unwrap();
    assert_eq!(azure.part_size(), 3 * MIB + 1);
    check_layout(&azure);
}

#[test]
fn single_request_threshold_and_concurrency_options() {
    // Files up to 64 MiB as one Put Blob.
    let opts = PlanOptions {
        single_request_threshold: Some(64 * MIB),
        ..PlanOptions::default()
    };
    assert!(UploadPlan::new(64 * MIB, Protocol::AzureBlocks, &opts)
        .unwrap()
        .is_single_request());
    assert!(!UploadPlan::new(64 * MIB + 1, Protocol::AzureBlocks, &opts)
        .unwrap()
        .is_single_request());
    // The threshold is lowered to Put Blob's 5000 MiB.
    let huge = PlanOptions {
        single_request_threshold: Some(u64::MAX),
        ..PlanOptions::default()
    };
    assert!(
        UploadPlan::new(AZURE_MAX_PUT_BLOB, Protocol::AzureBlocks, &huge)
            .unwrap()
            .is_single_request()
    );
    let over = UploadPlan::new(AZURE_MAX_PUT_BLOB + 1, Protocol::AzureBlocks, &huge).unwrap();
    assert!(!over.is_single_request());
    check_layout(&over);
    // Threshold 0: parts even for one byte.
    let never = PlanOptions {
        single_request_threshold: Some(0),
        ..PlanOptions::default()
    };
    let one = UploadPlan::new(1, Protocol::AzureBlocks, &never).unwrap();
    assert!(!one.is_single_request());
    assert_eq!(check_layout(&one)[0].block_id.as_deref(), Some("MDAwMDAw"));

    let conc = PlanOptions {
        concurrency: Some(16),
        ..PlanOptions::default()
    };
    assert_eq!(
        UploadPlan::new(200 * MIB, Protocol::AzureBlocks, &conc)
            .unwrap()
            .concurrency(),
        16
    );
    assert_eq!(
        UploadPlan::new(20 * MIB, Protocol::AzureBlocks, &conc)
            .unwrap()
            .concurrency(),
        3,
        "no more than the parts"
    );
}

#[test]
fn invalid_options_are_refused_with_the_option_named() {
    let cases = [
        (
            PlanOptions {
                part_size: Some(0),
                ..PlanOptions::default()
            },
            "partSize",
        ),
        (
            PlanOptions {
                concurrency: Some(0),
                ..PlanOptions::default()
            },
            "concurrency",
        ),
        (
            PlanOptions {
                part_size: Some(AZURE_MAX_BLOCK_SIZE + 1),
                ..PlanOptions::default()
            },
            "partSize",
        ),
    ];
    for (opts, option) in cases {
        let err = UploadPlan::new(10 * GIB, Protocol::AzureBlocks, &opts).unwrap_err();
        assert_eq!(err.code(), "INVALID_OPTION");
        assert!(
            matches!(&err, PlanError::InvalidOption { option: o, .. } if *o == option),
            "{err:?}"
        );
        assert!(err.to_string().starts_with(option), "{err}");
    }
    // The largest block is allowed.
    let max = UploadPlan::new(
        10 * GIB,
        Protocol::AzureBlocks,
        &with_part_size(AZURE_MAX_BLOCK_SIZE),
    )
    .unwrap();
    assert_eq!(max.part_count(), 3);
    check_layout(&max);
}

#[test]
fn too_many_parts_even_at_the_largest_block() {
    let lifted = PlanOptions {
        max_file_size: Some(u64::MAX),
        ..PlanOptions::default()
    };
    let limit = MAX_PARTS * AZURE_MAX_BLOCK_SIZE;
    let at = UploadPlan::new(limit, Protocol::AzureBlocks, &lifted).unwrap();
    assert_eq!(at.part_size(), AZURE_MAX_BLOCK_SIZE);
    assert_eq!(at.part_count(), MAX_PARTS);
    let err = UploadPlan::new(limit + 1, Protocol::AzureBlocks, &lifted).unwrap_err();
    assert_eq!(err.code(), "TOO_MANY_PARTS");
    assert!(err.to_string().contains("4000 MiB"), "{err}");
}

#[test]
fn options_deserialise_from_camel_case_json() {
    let opts: PlanOptions = serde_json::from_str(
        r#"{"partSize": 4194304, "concurrency": 6, "singleRequestThreshold": 0}"#,
    )
    .unwrap();
    assert_eq!(opts.part_size, Some(4 * MIB));
    assert_eq!(opts.concurrency, Some(6));
    assert_eq!(opts.single_request_threshold, Some(0));
    assert_eq!(opts.max_file_size, None);
    let plan = UploadPlan::new(10 * MIB, Protocol::AzureBlocks, &opts).unwrap();
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["partCount"], 3);
    assert_eq!(json["protocol"], "azure-blocks");
    let part = serde_json::to_value(plan.part(2).unwrap()).unwrap();
    assert_eq!(
        part,
        serde_json::json!({"index": 2, "offset": 8 * MIB, "len": 2 * MIB, "blockId": "MDAwMDAy"})
    );
}

// ---------------------------------------------------------------------------
// Azure block ids and block list
// ---------------------------------------------------------------------------

#[test]
fn block_ids_are_base64_of_fixed_width_decimals() {
    assert_eq!(block_id(0), "MDAwMDAw"); // "000000"
    assert_eq!(block_id(1), "MDAwMDAx"); // "000001"
    assert_eq!(block_id(49_999), "MDQ5OTk5"); // "049999"
    assert_eq!(block_id(999_999), "OTk5OTk5");
    for i in [0, 7, 12_345, 49_999] {
        let id = block_id(i);
        assert_eq!(id.len(), 8);
        assert!(
            id.bytes().all(|b| b.is_ascii_alphanumeric()),
            "no + / = to escape: {id}"
        );
    }
}

#[test]
fn block_list_xml_lists_every_block_in_order() {
    let plan = UploadPlan::new(3 * MIB, Protocol::AzureBlocks, &with_part_size(MIB)).unwrap();
    assert_eq!(
        azure_block_list_xml(&plan),
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>\
         <Latest>MDAwMDAw</Latest><Latest>MDAwMDAx</Latest><Latest>MDAwMDAy</Latest>\
         </BlockList>"
    );
    // GCS and single requests have no block list to send.
    let gcs = UploadPlan::new(3 * MIB, Protocol::GcsResumable, &with_part_size(MIB)).unwrap();
    assert_eq!(
        azure_block_list_xml(&gcs),
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList></BlockList>"
    );
}

// ---------------------------------------------------------------------------
// GCS helpers
// ---------------------------------------------------------------------------

#[test]
fn gcs_content_ranges_and_range_header() {
    let total = 600 * 1024;
    let plan = UploadPlan::new(total, Protocol::GcsResumable, &with_part_size(256 * 1024)).unwrap();
    let ranges: Vec<String> = plan.parts().map(|p| content_range(&p, total)).collect();
    assert_eq!(
        ranges,
        [
            "bytes 0-262143/614400",
            "bytes 262144-524287/614400",
            "bytes 524288-614399/614400"
        ]
    );
    assert_eq!(status_query_range(total), "bytes */614400");
    let empty = plan_zero_gcs();
    assert_eq!(content_range(&empty.part(0).unwrap(), 0), "bytes */0");

    assert_eq!(parse_gcs_range_header("bytes=0-262143"), Some(262_144));
    assert_eq!(parse_gcs_range_header(" Bytes=0-0 "), Some(1));
    for bad in [
        "",
        "bytes=",
        "bytes=0-",
        "bytes=5-10",
        "bytes=0-x",
        "items=0-1",
        "0-1",
        "bytes=-1",
        "bytes=0-18446744073709551615",
    ] {
        assert_eq!(parse_gcs_range_header(bad), None, "{bad:?}");
    }
}

fn plan_zero_gcs() -> UploadPlan {
    plan(0, Protocol::GcsResumable)
}

#[test]
fn parts_from_resumes_a_gcs_session_at_the_persisted_offset() {
    let total = 2 * MIB + 100;
    let plan = UploadPlan::new(total, Protocol::GcsResumable, &with_part_size(MIB)).unwrap();
    // The server persisted 256 KiB of the first chunk.
    let offset = parse_gcs_range_header("bytes=0-262143").unwrap();
    let rest: Vec<Part> = plan.parts_from(offset).collect();
    assert_eq!(rest.len(), 3);
    assert_eq!(
        (rest[0].index, rest[0].offset, rest[0].len),
        (0, offset, MIB - offset)
    );
    assert_eq!(rest[0].len % GCS_CHUNK_MULTIPLE, 0);
    assert_eq!((rest[1].offset, rest[2].end()), (MIB, total));
    assert_eq!(plan.parts_from(MIB).len(), 2);
    assert_eq!(plan.parts_from(total).count(), 0);
    assert_eq!(plan.parts_from(total + 5).count(), 0);
    assert_eq!(
        plan_zero_gcs().parts_from(0).count(),
        1,
        "the empty object's one request"
    );
}

// ---------------------------------------------------------------------------
// Resume record
// ---------------------------------------------------------------------------

#[test]
fn partset_round_trips_and_picks_the_shorter_form() {
    let plan = UploadPlan::new(
        MAX_FILE_SIZE,
        Protocol::AzureBlocks,
        &with_part_size(1_200_000),
    )
    .unwrap();
    assert_eq!(plan.part_count(), 44_740);
    let mut set = PartSet::new(&plan);
    assert!(set.is_empty());
    let empty = set.to_string();
    assert_eq!(
        empty,
        format!("1:{}:{}:r:", MAX_FILE_SIZE, plan.part_size())
    );
    assert_eq!(PartSet::parse(&empty).unwrap(), set);

    // A prefix plus a few out of order: the range form, a few dozen bytes.
    for i in (0..5000).chain([5001, 5003, 5004]) {
        assert!(set.insert(i));
    }
    assert!(!set.insert(3), "already acknowledged");
    assert!(!set.insert(plan.part_count()), "past the end");
    let s = set.to_string();
    assert!(s.ends_with(":r:0-4999,5001,5003-5004"), "{s}");
    let back = PartSet::parse(&s).unwrap();
    assert_eq!(back, set);
    assert_eq!(back.len(), 5003);

    // Every other part: the bitmap is shorter.
    let mut sparse = PartSet::new(&plan);
    for i in (0..plan.part_count()).step_by(2) {
        sparse.insert(i);
    }
    let s = sparse.to_string();
    assert!(s.contains(":b:"), "bitmap form");
    assert!(s.len() < 9_000, "{} bytes", s.len());
    assert_eq!(PartSet::parse(&s).unwrap(), sparse);

    // All parts.
    let mut full = PartSet::new(&plan);
    for p in plan.parts() {
        full.insert(p.index);
    }
    assert!(full.is_complete());
    assert_eq!(full.acked_bytes(&plan), MAX_FILE_SIZE);
    assert_eq!(PartSet::parse(&full.to_string()).unwrap(), full);
    assert_eq!(full.remaining(&plan).count(), 0);
}

#[test]
fn partset_remaining_skips_acknowledged_parts_of_the_same_plan_only() {
    let plan = UploadPlan::new(10 * MIB + 5, Protocol::AzureBlocks, &with_part_size(MIB)).unwrap();
    let mut set = PartSet::new(&plan);
    for i in [0, 1, 2, 5, 10] {
        set.insert(i);
    }
    let left: Vec<u64> = set.remaining(&plan).map(|p| p.index).collect();
    assert_eq!(left, [3, 4, 6, 7, 8, 9]);
    assert_eq!(set.acked_bytes(&plan), 4 * MIB + 5);
    let restored = PartSet::parse(&set.to_string()).unwrap();
    assert_eq!(
        restored
            .remaining(&plan)
            .map(|p| p.index)
            .collect::<Vec<_>>(),
        left
    );
    assert!(restored.remaining(&plan).all(|p| p.block_id.is_some()));

    // Another part size (or file): nothing is skipped.
    let other = UploadPlan::new(
        10 * MIB + 5,
        Protocol::AzureBlocks,
        &with_part_size(2 * MIB),
    )
    .unwrap();
    assert!(!restored.matches(&other));
    assert_eq!(
        restored.remaining(&other).count() as u64,
        other.part_count()
    );
    assert_eq!(restored.acked_bytes(&other), 0);
}

#[test]
fn partset_single_request_and_empty_file() {
    for size in [0, 1, 5 * MIB] {
        let plan = plan(size, Protocol::AzureBlocks);
        let mut set = PartSet::new(&plan);
        assert_eq!(set.part_count(), 1);
        assert_eq!(set.remaining(&plan).count(), 1);
        set.insert(0);
        let back = PartSet::parse(&set.to_string()).unwrap();
        assert!(back.is_complete() && back.matches(&plan));
        assert_eq!(back.acked_bytes(&plan), size);
        assert_eq!(back.remaining(&plan).count(), 0);
    }
}

#[test]
fn partset_refuses_malformed_records() {
    let plan = UploadPlan::new(10 * MIB, Protocol::AzureBlocks, &with_part_size(MIB)).unwrap();
    let good = {
        let mut s = PartSet::new(&plan);
        s.insert(9);
        s.to_string()
    };
    assert_eq!(good, format!("1:{}:{}:r:9", 10 * MIB, MIB));
    let bad = [
        "".to_string(),
        "garbage".to_string(),
        format!("2:{}:{}:r:9", 10 * MIB, MIB),
        format!("1:ten:{}:r:9", MIB),
        format!("1:{}:0:r:", 10 * MIB),
        format!("1:{}:{}:r:10", 10 * MIB, MIB),
        format!("1:{}:{}:r:5-3", 10 * MIB, MIB),
        format!("1:{}:{}:r:5,4", 10 * MIB, MIB),
        format!("1:{}:{}:r:1-3,3", 10 * MIB, MIB),
        format!("1:{}:{}:x:9", 10 * MIB, MIB),
        format!("1:{}:{}:b:!!", 10 * MIB, MIB),
        format!("1:{}:{}:b:AAAA", 10 * MIB, MIB),
        format!("1:{}:{}:b:__8", 10 * MIB, MIB), // bits past part 9
        format!("1:{}:1:r:", MAX_FILE_SIZE),     // absurd part count
    ];
    for s in bad {
        let err = PartSet::parse(&s).unwrap_err();
        assert!(err.to_string().contains("starts over"), "{err}");
    }
    // The bitmap form of the same record parses.
    let bitmap = format!("1:{}:{}:b:AAI", 10 * MIB, MIB);
    assert_eq!(
        PartSet::parse(&bitmap).unwrap().iter().collect::<Vec<_>>(),
        [9]
    );
}
