//! The Lists API subset and audiences over real HTTP: create, get, list with
//! paging and the exact-name lookup, members (filled through the functions
//! the processor calls), request validation, scopes, workspace isolation,
//! `targetListId` checked at job creation, and audience lookup and preview
//! (including sample records read from a real import's merged records).

mod common;

use std::collections::HashSet;

use common::{add_other_workspace, code, Emu, OTHER};
use import_devserver::config::StaticToken;
use import_devserver::{audiences, lists, processor};
use serde_json::{json, Value};

const W: &str = "dev-write";
const R: &str = "dev-read";
/// A token of the dev workspace with the import scopes only.
const IMPORTS_ONLY: &str = "imports-only";

async fn emu() -> Emu {
    common::start_with(|c| {
        add_other_workspace(c);
        c.tokens.push(StaticToken {
            token: IMPORTS_ONLY.into(),
            scopes: vec!["cdp:imports:write".into(), "cdp:imports:read".into()],
            workspace: "ws_dev".into(),
        });
    })
    .await
}

fn rule(body: &Value) -> &str {
    body["error"]["details"]["rule"].as_str().unwrap_or("")
}

/// Creates a list through the API; returns its `data`.
async fn create_list(emu: &Emu, token: &str, body: Value) -> Value {
    let (s, b) = emu.post("/lists", token, &body).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["success"], true);
    b["data"].clone()
}

fn keys(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn create_returns_the_documented_list_and_get_returns_it_again() {
    let emu = emu().await;
    let (s, b) = emu
        .post(
            "/lists",
            W,
            &json!({"name": "VIP customers", "description": "Spent over 1000"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert!(b["correlationId"].as_str().is_some());
    let d = &b["data"];
    let id = d["id"].as_str().unwrap();
    assert!(id.starts_with("lst_") && id.len() == 30, "{id}");
    assert_eq!(d["name"], "VIP customers");
    assert_eq!(d["description"], "Spent over 1000");
    assert_eq!(d["type"], "static");
    assert_eq!(d["containerType"], "list");
    assert_eq!(d["membershipBehavior"], "snapshot");
    assert_eq!(d["populationSource"], "manual");
    assert_eq!(d["status"], "active");
    assert_eq!(d["memberCount"], 0);
    let created = d["createdAt"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok(),
        "{created}"
    );

    let (s, g) = emu.get(&format!("/lists/{id}"), R).await;
    assert_eq!(s, 200, "{g}");
    assert_eq!(&g["data"], d);

    // Without a description it is null; a new list has no members.
    let d2 = create_list(&emu, W, json!({"name": "Plain"})).await;
    assert_eq!(d2["description"], Value::Null);
    assert_ne!(d2["id"], d["id"]);
    let (s, m) = emu
        .get(&format!("/lists/{}/members", d2["id"].as_str().unwrap()), R)
        .await;
    assert_eq!(s, 200, "{m}");
    assert_eq!(m["data"]["items"], json!([]));
    assert_eq!(m["data"]["totalItems"], 0);
    assert_eq!(m["data"]["totalPages"], 0);
}

#[tokio::test]
async fn lists_are_paged_newest_first_and_found_by_exact_name() {
    let emu = emu().await;
    let mut created = Vec::new();
    for i in 0..5 {
        let d = create_list(&emu, W, json!({"name": format!("List {i}")})).await;
        created.push(d["id"].as_str().unwrap().to_string());
    }

    // Defaults: page 1, pageSize 50.
    let (s, b) = emu.get("/lists", R).await;
    assert_eq!(s, 200, "{b}");
    let d = &b["data"];
    assert_eq!(d["page"], 1);
    assert_eq!(d["pageSize"], 50);
    assert_eq!(d["totalItems"], 5);
    assert_eq!(d["totalPages"], 1);
    let ids: Vec<&str> = d["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    let newest_first: Vec<&str> = created.iter().rev().map(String::as_str).collect();
    assert_eq!(ids, newest_first);

    // Pages of 2: 2 + 2 + 1, then an empty page past the end.
    let mut seen = Vec::new();
    for (page, expected) in [(1, 2), (2, 2), (3, 1), (4, 0)] {
        let (s, b) = emu.get(&format!("/lists?page={page}&pageSize=2"), R).await;
        assert_eq!(s, 200, "{b}");
        let d = &b["data"];
        assert_eq!(d["page"], page);
        assert_eq!(d["pageSize"], 2);
        assert_eq!(d["totalItems"], 5);
        assert_eq!(d["totalPages"], 3);
        let items = d["items"].as_array().unwrap();
        assert_eq!(items.len(), expected, "page {page}: {d}");
        seen.extend(items.iter().map(|l| l["id"].as_str().unwrap().to_string()));
    }
    assert_eq!(seen, newest_first);

    // Exact-name lookup (emulator extension): exact, case-sensitive.
    create_list(&emu, W, json!({"name": "Spring 2026 Backfill"})).await;
    let (s, b) = emu.get("/lists?name=Spring%202026%20Backfill", R).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["totalItems"], 1);
    assert_eq!(b["data"]["items"][0]["name"], "Spring 2026 Backfill");
    let (_, b) = emu.get("/lists?name=Spring+2026+Backfill", R).await;
    assert_eq!(b["data"]["totalItems"], 1, "+ decodes as a space: {b}");
    for miss in [
        "spring%202026%20backfill",
        "Spring",
        "Spring%202026%20Backfill%20",
    ] {
        let (s, b) = emu.get(&format!("/lists?name={miss}"), R).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["data"]["totalItems"], 0, "{miss}: {b}");
        assert_eq!(b["data"]["items"], json!([]));
    }
    // Names need not be unique: the lookup returns every match, newest first.
    let again = create_list(&emu, W, json!({"name": "List 3"})).await;
    let (_, b) = emu.get("/lists?name=List%203&pageSize=10", R).await;
    assert_eq!(b["data"]["totalItems"], 2);
    assert_eq!(b["data"]["items"][0]["id"], again["id"]);
    assert_eq!(b["data"]["items"][1]["id"], created[3].as_str());
}

#[tokio::test]
async fn bad_create_bodies_are_400_with_the_rule_and_field() {
    let emu = emu().await;
    let long_name = "n".repeat(201);
    let long_desc = "d".repeat(2001);
    let cases = [
        (json!({}), "FIELD_REQUIRED", "name"),
        (json!({"name": null}), "FIELD_REQUIRED", "name"),
        (json!({"name": ""}), "FIELD_REQUIRED", "name"),
        (json!({"name": "   "}), "FIELD_REQUIRED", "name"),
        (json!({"name": long_name}), "LIST_NAME_TOO_LONG", "name"),
        (
            json!({"name": "ok", "description": long_desc}),
            "LIST_DESCRIPTION_TOO_LONG",
            "description",
        ),
    ];
    for (body, want_rule, field) in cases {
        let (s, b) = emu.post("/lists", W, &body).await;
        assert_eq!(s, 400, "{body}: {b}");
        assert_eq!(code(&b), "CDP_ETL.VALIDATION.REQUEST_INVALID", "{b}");
        assert_eq!(rule(&b), want_rule, "{body}: {b}");
        assert_eq!(b["error"]["details"]["field"], field, "{b}");
        assert!(
            b["error"]["message"].as_str().unwrap().contains(field),
            "{b}"
        );
    }
    // Wrong types, unknown fields and malformed JSON are 400 as well.
    for body in [
        json!({"name": 42}),
        json!({"name": "x", "title": "typo"}),
        json!({"name": "x", "description": ["a"]}),
    ] {
        let (s, b) = emu.post("/lists", W, &body).await;
        assert_eq!(s, 400, "{body}: {b}");
        assert_eq!(code(&b), "CDP_ETL.VALIDATION.REQUEST_INVALID", "{b}");
    }
    let r = emu
        .http
        .post(emu.api("/lists"))
        .bearer_auth(W)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let b: Value = r.json().await.unwrap();
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Malformed JSON"),
        "{b}"
    );

    // The limits themselves are accepted; characters, not bytes, count.
    let d = create_list(
        &emu,
        W,
        json!({"name": "é".repeat(200), "description": "d".repeat(2000)}),
    )
    .await;
    assert_eq!(d["name"].as_str().unwrap().chars().count(), 200);
    // Nothing was created by the refused requests.
    let (_, b) = emu.get("/lists", R).await;
    assert_eq!(b["data"]["totalItems"], 1, "{b}");
}

#[tokio::test]
async fn bad_paging_and_query_parameters_are_400() {
    let emu = emu().await;
    let list = create_list(&emu, W, json!({"name": "x"})).await;
    let members = format!("/lists/{}/members", list["id"].as_str().unwrap());
    let cases = [
        ("page=0", "PAGE_INVALID", "page"),
        ("page=-1", "PAGE_INVALID", "page"),
        ("page=abc", "PAGE_INVALID", "page"),
        ("page=", "PAGE_INVALID", "page"),
        ("pageSize=0", "PAGE_SIZE_OUT_OF_RANGE", "pageSize"),
        ("pageSize=201", "PAGE_SIZE_OUT_OF_RANGE", "pageSize"),
        ("pageSize=1.5", "PAGE_SIZE_OUT_OF_RANGE", "pageSize"),
        ("pagesize=10", "QUERY_PARAMETER_UNKNOWN", "pagesize"),
        ("page=1&page=2", "QUERY_PARAMETER_REPEATED", "page"),
    ];
    for path in ["/lists", members.as_str()] {
        for (query, want_rule, field) in cases {
            let (s, b) = emu.get(&format!("{path}?{query}"), R).await;
            assert_eq!(s, 400, "{path}?{query}: {b}");
            assert_eq!(code(&b), "CDP_ETL.VALIDATION.REQUEST_INVALID");
            assert_eq!(rule(&b), want_rule, "{path}?{query}: {b}");
            assert_eq!(b["error"]["details"]["field"], field);
        }
        let (s, b) = emu.get(&format!("{path}?page=1&pageSize=200"), R).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["data"]["pageSize"], 200);
    }
    // `name` filters lists, not members.
    let (s, b) = emu.get(&format!("{members}?name=x"), R).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(rule(&b), "QUERY_PARAMETER_UNKNOWN");
}

#[tokio::test]
async fn scopes_are_enforced() {
    let emu = emu().await;
    // dev-read has cdp:lists:read only.
    let (s, b) = emu.post("/lists", R, &json!({"name": "x"})).await;
    assert_eq!(s, 403, "{b}");
    assert_eq!(code(&b), "CDP_ETL.AUTH.FORBIDDEN");
    assert_eq!(b["error"]["details"]["requiredScope"], "cdp:lists:write");
    let (s, _) = emu.get("/lists", R).await;
    assert_eq!(s, 200);

    // A token without any lists scope can neither read nor write.
    let list = create_list(&emu, W, json!({"name": "x"})).await;
    let id = list["id"].as_str().unwrap();
    for path in [
        "/lists".to_string(),
        format!("/lists/{id}"),
        format!("/lists/{id}/members"),
    ] {
        let (s, b) = emu.get(&path, IMPORTS_ONLY).await;
        assert_eq!(s, 403, "{path}: {b}");
        assert_eq!(b["error"]["details"]["requiredScope"], "cdp:lists:read");
    }
    let (s, b) = emu
        .post("/lists", IMPORTS_ONLY, &json!({"name": "x"}))
        .await;
    assert_eq!(s, 403, "{b}");

    // No token at all: 401.
    let r = emu.http.get(emu.api("/lists")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let b: Value = r.json().await.unwrap();
    assert_eq!(code(&b), "CDP_ETL.AUTH.UNAUTHORIZED");
}

#[tokio::test]
async fn lists_of_another_workspace_are_404_and_unlisted() {
    let emu = emu().await;
    let mine = create_list(&emu, W, json!({"name": "Shared name"})).await;
    let id = mine["id"].as_str().unwrap();
    let theirs = create_list(&emu, OTHER, json!({"name": "Shared name"})).await;

    for path in [format!("/lists/{id}"), format!("/lists/{id}/members")] {
        let (s, b) = emu.get(&path, OTHER).await;
        assert_eq!(s, 404, "{path}: {b}");
        assert_eq!(code(&b), "CDP_ETL.NOT_FOUND");
        assert_eq!(b["error"]["details"]["listId"], id);
    }
    let (_, b) = emu.get("/lists?name=Shared%20name", OTHER).await;
    assert_eq!(b["data"]["totalItems"], 1, "{b}");
    assert_eq!(b["data"]["items"][0]["id"], theirs["id"]);
    let (_, b) = emu.get("/lists", W).await;
    assert_eq!(b["data"]["totalItems"], 1, "{b}");
    assert_eq!(b["data"]["items"][0]["id"], mine["id"]);

    // Ids that never existed, or are not list ids at all.
    for bad in ["lst_01HXYZ00000000000000000000", "imp_01HXYZ", "nope"] {
        let (s, b) = emu.get(&format!("/lists/{bad}"), W).await;
        assert_eq!(s, 404, "{bad}: {b}");
        assert_eq!(code(&b), "CDP_ETL.NOT_FOUND");
    }
}

#[tokio::test]
async fn members_filled_by_the_processor_interface_are_normalised_paged_and_idempotent() {
    let emu = emu().await;
    let db = &emu.server.state.db;
    let now = emu.server.state.now();

    // What a completed `createList` job does.
    let id = lists::create_import_list(
        db,
        "ws_dev",
        "Spring 2026 Backfill",
        &keys(&[
            " Ann@Example.com ",
            "bob@example.com",
            "ann@example.com",
            "",
            "   ",
        ]),
        now,
    )
    .unwrap();
    assert!(id.starts_with("lst_"));

    // Found by name, as the documentation tells clients to.
    let (s, b) = emu.get("/lists?name=Spring%202026%20Backfill", R).await;
    assert_eq!(s, 200, "{b}");
    let list = &b["data"]["items"][0];
    assert_eq!(list["id"], id.as_str());
    assert_eq!(list["populationSource"], "import");
    assert_eq!(list["type"], "static");
    assert_eq!(list["memberCount"], 2);

    let (s, b) = emu.get(&format!("/lists/{id}/members"), R).await;
    assert_eq!(s, 200, "{b}");
    let items = b["data"]["items"].as_array().unwrap();
    let got: Vec<&str> = items
        .iter()
        .map(|m| m["contactKey"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["ann@example.com", "bob@example.com"]);
    for m in items {
        let at = m["addedAt"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{at}");
    }

    // What a completed `targetListId` job does: idempotent adds.
    let later = now + chrono::Duration::seconds(5);
    let added = lists::add_members(
        db,
        &id,
        &keys(&["BOB@example.com", "carol@example.com", "dave@example.com"]),
        later,
    )
    .unwrap();
    assert_eq!(added, 2);
    let again = lists::add_members(
        db,
        &id,
        &keys(&["carol@example.com", " Dave@Example.com"]),
        later,
    )
    .unwrap();
    assert_eq!(again, 0);
    let (_, b) = emu.get(&format!("/lists/{id}"), R).await;
    assert_eq!(b["data"]["memberCount"], 4);

    // Members come in the order they were added, paged.
    let mut seen = Vec::new();
    for page in 1..=3 {
        let (s, b) = emu
            .get(&format!("/lists/{id}/members?page={page}&pageSize=3"), R)
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["data"]["totalItems"], 4);
        assert_eq!(b["data"]["totalPages"], 2);
        seen.extend(
            b["data"]["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["contactKey"].as_str().unwrap().to_string()),
        );
    }
    assert_eq!(
        seen,
        [
            "ann@example.com",
            "bob@example.com",
            "carol@example.com",
            "dave@example.com"
        ]
    );

    // Adding to a list that does not exist is an error, not a silent no-op.
    let err = lists::add_members(db, "lst_missing", &keys(&["x@example.com"]), now);
    assert!(
        matches!(err, Err(rusqlite::Error::QueryReturnedNoRows)),
        "{err:?}"
    );
    // An import list of another workspace stays there.
    let (s, _) = emu.get(&format!("/lists/{id}"), OTHER).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn target_list_id_must_name_a_list_of_the_workspace() {
    let emu = emu().await;
    let job = |target: &str| {
        json!({"objectName": "profiles", "fileName": "a.csv", "fileSize": 10,
               "targetListId": target})
    };
    let mine = create_list(&emu, W, json!({"name": "Mine"})).await;
    let theirs = create_list(&emu, OTHER, json!({"name": "Theirs"})).await;

    let (s, b) = emu
        .post("/import-jobs", W, &job(mine["id"].as_str().unwrap()))
        .await;
    assert_eq!(s, 201, "{b}");
    assert!(b["data"]["jobId"].as_str().unwrap().starts_with("imp_"));

    for unknown in [
        "lst_01HXYZ00000000000000000000",
        theirs["id"].as_str().unwrap(),
    ] {
        let (s, b) = emu.post("/import-jobs", W, &job(unknown)).await;
        assert_eq!(s, 422, "{unknown}: {b}");
        assert_eq!(code(&b), "CDP_ETL.VALIDATION.REQUEST_SCHEMA");
        assert_eq!(b["error"]["details"]["field"], "targetListId");
        assert_eq!(b["error"]["details"]["listId"], unknown);
        assert!(
            b["error"]["message"].as_str().unwrap().contains(unknown),
            "{b}"
        );
    }
    // The other workspace can use its own list.
    let (s, b) = emu
        .post("/import-jobs", OTHER, &job(theirs["id"].as_str().unwrap()))
        .await;
    assert_eq!(s, 201, "{b}");
}

#[tokio::test]
async fn post_lists_honours_idempotency_key() {
    let emu = emu().await;
    let send = |body: &'static str| {
        emu.http
            .post(emu.api("/lists"))
            .bearer_auth(W)
            .header("content-type", "application/json")
            .header("idempotency-key", "6f1c1b3e-3a8e-4d0e-9a44-0d9b5b7d2c11")
            .body(body)
            .send()
    };
    let r1 = send(r#"{"name": "Once"}"#).await.unwrap();
    assert_eq!(r1.status().as_u16(), 201);
    let b1: Value = r1.json().await.unwrap();
    let r2 = send(r#"{"name": "Once"}"#).await.unwrap();
    assert_eq!(r2.status().as_u16(), 201);
    let b2: Value = r2.json().await.unwrap();
    assert_eq!(b1["data"]["id"], b2["data"]["id"]);
    let (_, b) = emu.get("/lists", R).await;
    assert_eq!(b["data"]["totalItems"], 1, "{b}");
    // The same key with another body is a conflict.
    let r3 = send(r#"{"name": "Twice"}"#).await.unwrap();
    assert_eq!(r3.status().as_u16(), 409);
}

#[tokio::test]
async fn audiences_are_found_by_name_and_previewed() {
    let emu = emu().await;
    let db = &emu.server.state.db;
    let now = emu.server.state.now();
    let members: Vec<String> = (0..150)
        .map(|i| format!("user{i:03}@example.com"))
        .collect();
    let id = audiences::create_audience(
        db,
        "ws_dev",
        "Spring buyers",
        "profiles",
        "imp_01HXYZ",
        &members,
        now,
    )
    .unwrap();
    assert!(id.starts_with("aud_") && id.len() == 30, "{id}");

    // The emulator extension that hands out the id.
    let (s, b) = emu.get("/audiences?name=Spring%20buyers", W).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["totalItems"], 1);
    let a = &b["data"]["items"][0];
    assert_eq!(a["id"], id.as_str());
    assert_eq!(a["type"], "dynamic");
    assert_eq!(a["objectName"], "profiles");
    assert_eq!(a["jobId"], "imp_01HXYZ");
    assert_eq!(a["memberCount"], 150);
    let (_, b) = emu.get("/audiences?name=spring%20buyers", W).await;
    assert_eq!(b["data"]["totalItems"], 0);

    // Default limit 100; an empty body is allowed.
    let r = emu
        .http
        .post(emu.api(&format!("/audiences/{id}/preview")))
        .bearer_auth(W)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let b: Value = r.json().await.unwrap();
    let d = &b["data"];
    assert_eq!(d["audienceId"], id.as_str());
    assert_eq!(d["matchCount"], 150);
    assert_eq!(d["isExact"], true);
    assert!(d["executionTimeMs"].as_u64().is_some(), "{d}");
    assert_eq!(d["fieldsUsed"], json!(["email"]));
    let samples = d["sampleRecords"].as_array().unwrap();
    assert_eq!(samples.len(), 100);
    // No merged records exist for these keys: each sample is the key alone.
    assert_eq!(samples[0], json!({"email": "user000@example.com"}));

    let (s, b) = emu
        .post(&format!("/audiences/{id}/preview"), W, &json!({"limit": 2}))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["data"]["sampleRecords"],
        json!([{"email": "user000@example.com"}, {"email": "user001@example.com"}])
    );
    assert_eq!(b["data"]["matchCount"], 150);
    let (_, b) = emu
        .post(
            &format!("/audiences/{id}/preview"),
            W,
            &json!({"limit": 1000}),
        )
        .await;
    assert_eq!(b["data"]["sampleRecords"].as_array().unwrap().len(), 150);

    // Limit validation.
    for limit in [json!(0), json!(1001), json!(-5)] {
        let (s, b) = emu
            .post(
                &format!("/audiences/{id}/preview"),
                W,
                &json!({ "limit": limit }),
            )
            .await;
        assert_eq!(s, 400, "{limit}: {b}");
        assert_eq!(rule(&b), "LIMIT_OUT_OF_RANGE", "{b}");
        assert_eq!(b["error"]["details"]["field"], "limit");
    }
    for body in [
        json!({"limit": "10"}),
        json!({"limit": 2.5}),
        json!({"max": 3}),
    ] {
        let (s, b) = emu
            .post(&format!("/audiences/{id}/preview"), W, &body)
            .await;
        assert_eq!(s, 400, "{body}: {b}");
        assert_eq!(code(&b), "CDP_ETL.VALIDATION.REQUEST_INVALID");
    }

    // Scope, workspace, unknown ids.
    let (s, b) = emu
        .post(&format!("/audiences/{id}/preview"), R, &json!({}))
        .await;
    assert_eq!(s, 403, "{b}");
    assert_eq!(
        b["error"]["details"]["requiredScope"],
        "cdp:audiences:preview"
    );
    let (s, _) = emu.get("/audiences", R).await;
    assert_eq!(s, 403);
    // Order of checks: scope, then audience, then body.
    let (s, _) = emu
        .post(&format!("/audiences/{id}/preview"), R, &json!({"limit": 0}))
        .await;
    assert_eq!(s, 403);
    let (s, _) = emu
        .post(
            &format!("/audiences/{id}/preview"),
            OTHER,
            &json!({"limit": 0}),
        )
        .await;
    assert_eq!(s, 404);
    let (s, b) = emu
        .post(&format!("/audiences/{id}/preview"), OTHER, &json!({}))
        .await;
    assert_eq!(s, 404, "{b}");
    assert_eq!(code(&b), "CDP_ETL.NOT_FOUND");
    let (_, b) = emu.get("/audiences", OTHER).await;
    assert_eq!(b["data"]["totalItems"], 0);
    for bad in ["aud_01HXYZ00000000000000000000", "lst_x"] {
        let (s, _) = emu
            .post(&format!("/audiences/{bad}/preview"), W, &json!({}))
            .await;
        assert_eq!(s, 404, "{bad}");
    }
    let (s, b) = emu.get("/audiences?pageSize=500", W).await;
    assert_eq!(s, 400);
    assert_eq!(rule(&b), "PAGE_SIZE_OUT_OF_RANGE");
}

/// Runs a real profiles import through the processor, then an audience of
/// its keys: the preview's samples carry the merged records' fields.
#[tokio::test]
async fn audience_samples_carry_the_merged_record_fields() {
    let emu = emu().await;
    processor::spawn(&emu.server.state).unwrap();
    let csv = b"email,first_name,loyalty_points,opted_in\n\
                Ann@Example.com,Ann,10,true\n\
                bob@example.com,Bob,,false\n";
    let mapping = json!({
        "sourceFields": {"email": "string", "first_name": "string",
                         "loyalty_points": "integer", "opted_in": "boolean"},
        "fieldMap": {"email": "email", "first_name": "first_name",
                     "loyalty_points": "loyalty_points", "opted_in": "opted_in"}
    });
    let (job, status) = common::run(&emu, W, "profiles", csv, mapping).await;
    assert_eq!(status["state"], "completed", "{status}");
    assert_eq!(status["validRows"], 2, "{status}");

    let id = audiences::create_audience(
        &emu.server.state.db,
        "ws_dev",
        "Imported",
        "profiles",
        &job,
        &keys(&["ann@example.com", "bob@example.com", "zed@example.com"]),
        emu.server.state.now(),
    )
    .unwrap();
    let (s, b) = emu
        .post(
            &format!("/audiences/{id}/preview"),
            W,
            &json!({"limit": 10}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let samples = b["data"]["sampleRecords"].as_array().unwrap();
    assert_eq!(samples.len(), 3, "{b}");
    assert_eq!(samples[0]["email"], "ann@example.com");
    assert_eq!(samples[0]["first_name"], "Ann");
    assert_eq!(samples[0]["loyalty_points"], 10);
    assert_eq!(samples[0]["opted_in"], true);
    assert_eq!(samples[1]["first_name"], "Bob");
    assert_eq!(samples[1]["loyalty_points"], Value::Null);
    assert_eq!(samples[1]["opted_in"], false);
    // A key without a merged record is reported by its key alone.
    assert_eq!(samples[2], json!({"email": "zed@example.com"}));
    let fields: HashSet<&str> = samples[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert!(
        fields.iter().all(|f| !f.starts_with('_')),
        "no bookkeeping columns: {fields:?}"
    );
}
