//! The broker's rules: tickets, job handles, idempotency keys, policy,
//! routes, rate limit.

use import_core::broker::*;
use import_core::codes::{self, broker as code};

const SECRET: &str = "0123456789abcdef0123456789abcdef";
const OTHER: &str = "fedcba9876543210fedcba9876543210";
const NOW: u64 = 1_800_000_000;

fn grant(subject: &str) -> Grant {
    Grant {
        subject: subject.into(),
        ..Grant::default()
    }
}

#[test]
fn a_minted_ticket_verifies_with_its_claims() {
    let g = Grant {
        subject: "user-42".into(),
        objects: Some(vec!["profiles".into()]),
        max_file_size: Some(1000),
    };
    let t = mint_ticket(SECRET, &g, 600, NOW).unwrap();
    assert_eq!(t.split('.').count(), 3);
    assert!(t.starts_with("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."));
    assert_eq!(verify_ticket(SECRET, &t, NOW).unwrap(), g);
    assert_eq!(verify_ticket(SECRET, &t, NOW + 599).unwrap(), g);
}

#[test]
fn a_ticket_expires_at_exp_exactly() {
    let t = mint_ticket(SECRET, &grant("a"), 1, NOW).unwrap();
    assert!(verify_ticket(SECRET, &t, NOW).is_ok());
    let r = verify_ticket(SECRET, &t, NOW + 1).unwrap_err();
    assert_eq!((r.status, r.code), (401, code::TICKET_EXPIRED));
}

#[test]
fn altered_or_foreign_tickets_are_invalid_not_expired() {
    let t = mint_ticket(SECRET, &grant("alice"), 600, NOW).unwrap();
    // Signed with another secret.
    let r = verify_ticket(OTHER, &t, NOW).unwrap_err();
    assert_eq!((r.status, r.code), (401, code::TICKET_INVALID));
    // The payload swapped for another subject's, signature kept.
    let bob = mint_ticket(SECRET, &grant("bob"), 600, NOW).unwrap();
    let parts: Vec<&str> = t.split('.').collect();
    let bob_parts: Vec<&str> = bob.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], bob_parts[1], parts[2]);
    assert_eq!(
        verify_ticket(SECRET, &forged, NOW).unwrap_err().code,
        code::TICKET_INVALID
    );
    // An expired ticket with a bad signature is invalid (signature first).
    let old = mint_ticket(SECRET, &grant("a"), 1, NOW).unwrap();
    assert_eq!(
        verify_ticket(OTHER, &old, NOW + 100).unwrap_err().code,
        code::TICKET_INVALID
    );
    // One flipped signature character.
    let mut chars: Vec<char> = t.chars().collect();
    let last = chars.len() - 2;
    chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
    let flipped: String = chars.into_iter().collect();
    assert_eq!(
        verify_ticket(SECRET, &flipped, NOW).unwrap_err().code,
        code::TICKET_INVALID
    );
    for junk in ["", "abc", "a.b", "a.b.c.d", "...", &"x".repeat(10_000)] {
        assert_eq!(
            verify_ticket(SECRET, junk, NOW).unwrap_err().code,
            code::TICKET_INVALID,
            "{junk:.20}"
        );
    }
}

#[test]
fn alg_none_and_other_audiences_are_refused() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let claims = format!(
        r#"{{"aud":"import-uploader-broker","sub":"a","iat":{NOW},"exp":{}}}"#,
        NOW + 60
    );
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(&claims)
    );
    assert_eq!(
        verify_ticket(SECRET, &none, NOW).unwrap_err().code,
        code::TICKET_INVALID
    );
    // A correctly signed HS256 JWT for another audience.
    use hmac::{Hmac, Mac};
    let other = format!(
        r#"{{"aud":"something-else","sub":"a","iat":{NOW},"exp":{}}}"#,
        NOW + 60
    );
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(&other)
    );
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    m.update(input.as_bytes());
    let jwt = format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
    );
    let r = verify_ticket(SECRET, &jwt, NOW).unwrap_err();
    assert_eq!(r.code, code::TICKET_INVALID);
    assert!(r.message.contains("audience"), "{}", r.message);
}

#[test]
fn minting_checks_its_inputs() {
    assert!(mint_ticket("short", &grant("a"), 600, NOW)
        .unwrap_err()
        .contains("at least 32"));
    assert!(mint_ticket(SECRET, &grant(""), 600, NOW)
        .unwrap_err()
        .contains("subject"));
    assert!(mint_ticket(SECRET, &grant(&"x".repeat(257)), 600, NOW).is_err());
    assert!(mint_ticket(SECRET, &grant("a\nb"), 600, NOW).is_err());
    assert!(mint_ticket(SECRET, &grant("a"), 0, NOW)
        .unwrap_err()
        .contains("ttlSeconds"));
    assert!(mint_ticket(SECRET, &grant("a"), MAX_TICKET_TTL + 1, NOW).is_err());
    assert!(mint_ticket(SECRET, &grant("a"), MAX_TICKET_TTL, NOW).is_ok());
    assert!(mint_ticket(SECRET, &grant(&"é".repeat(256)), 600, NOW).is_ok());
    // A clock at the end of time is refused, not an overflow.
    assert!(mint_ticket(SECRET, &grant("a"), 600, u64::MAX - 599)
        .unwrap_err()
        .contains("largest time"));
    assert!(mint_ticket(SECRET, &grant("a"), 600, u64::MAX - 600).is_ok());
}

#[test]
fn a_ticket_too_long_to_verify_is_not_minted() {
    // Tickets over 8 KiB are refused unread; one listing many objects used
    // to be minted all the same, and never verified.
    let objects = |n: usize| -> Grant {
        Grant {
            subject: "alice".into(),
            objects: Some((0..n).map(|i| format!("object_number_{i:04}")).collect()),
            max_file_size: None,
        }
    };
    let t = mint_ticket(SECRET, &objects(200), 600, NOW).unwrap();
    assert_eq!(verify_ticket(SECRET, &t, NOW).unwrap(), objects(200));
    let e = mint_ticket(SECRET, &objects(400), 600, NOW).unwrap_err();
    assert!(e.contains("8192-byte limit"), "{e}");
}

#[test]
fn job_handles_open_only_for_their_subject() {
    let h = job_handle(SECRET, "alice", "imp_01JABC");
    assert!(h.starts_with("imp_01JABC."));
    assert_eq!(h.len(), "imp_01JABC.".len() + 22);
    assert_eq!(open_job_handle(SECRET, "alice", &h).unwrap(), "imp_01JABC");
    for (subject, handle) in [
        ("bob", h.clone()),
        ("alice", h.replace("imp_01JABC", "imp_01JABD")),
        ("alice", "imp_01JABC".to_string()),
        ("alice", format!("{h}x")),
        ("alice", format!("imp_01JABC.{}", "A".repeat(22))),
        ("alice", ".".to_string()),
    ] {
        let r = open_job_handle(SECRET, subject, &handle).unwrap_err();
        assert_eq!(
            (r.status, r.code),
            (403, code::JOB_FORBIDDEN),
            "{subject} {handle}"
        );
    }
    assert!(open_job_handle(OTHER, "alice", &h).is_err());
    // Path-safe: base64url only.
    assert!(h
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)));
}

#[test]
fn idempotency_keys_are_scoped_per_subject() {
    let a = idempotency_key(SECRET, "alice", "k1");
    assert_eq!(a, idempotency_key(SECRET, "alice", "k1"));
    assert_ne!(a, idempotency_key(SECRET, "bob", "k1"));
    assert_ne!(a, idempotency_key(SECRET, "alice", "k2"));
    assert_eq!(a.len(), 47);
    assert!(a.bytes().all(|b| b.is_ascii_graphic()));
}

#[test]
fn create_policy() {
    let p = Policy {
        objects: Some(vec!["profiles".into(), "orders".into()]),
        max_file_size: 1000,
        ..Policy::default()
    };
    let g = grant("a");
    let ok = br#"{"objectName":"profiles","fileName":"a.csv","fileSize":1000}"#;
    let req = check_create(&p, &g, ok).unwrap();
    assert_eq!(req.object_name.as_deref(), Some("profiles"));

    let r = check_create(
        &p,
        &g,
        br#"{"objectName":"secrets","fileName":"a.csv","fileSize":1}"#,
    )
    .unwrap_err();
    assert_eq!((r.status, r.code), (403, code::OBJECT_NOT_ALLOWED));
    let r = check_create(
        &p,
        &g,
        br#"{"objectName":"profiles","fileName":"a.csv","fileSize":1001}"#,
    )
    .unwrap_err();
    assert_eq!((r.status, r.code), (413, code::FILE_TOO_LARGE));

    // The grant narrows the policy.
    let narrow = Grant {
        subject: "a".into(),
        objects: Some(vec!["orders".into()]),
        max_file_size: Some(10),
    };
    assert_eq!(
        check_create(&p, &narrow, ok).unwrap_err().code,
        code::OBJECT_NOT_ALLOWED
    );
    let r = check_create(
        &p,
        &narrow,
        br#"{"objectName":"orders","fileName":"a.csv","fileSize":11}"#,
    )
    .unwrap_err();
    assert_eq!(r.code, code::FILE_TOO_LARGE);
    assert!(r.message.contains("at most 10 bytes"), "{}", r.message);
    // A grant cannot widen it.
    let wide = Grant {
        subject: "a".into(),
        objects: Some(vec!["secrets".into(), "profiles".into()]),
        max_file_size: Some(1 << 40),
    };
    assert_eq!(
        check_create(
            &p,
            &wide,
            br#"{"objectName":"secrets","fileName":"a.csv","fileSize":1}"#
        )
        .unwrap_err()
        .code,
        code::OBJECT_NOT_ALLOWED
    );
    assert_eq!(
        check_create(
            &p,
            &wide,
            br#"{"objectName":"profiles","fileName":"a.csv","fileSize":1001}"#
        )
        .unwrap_err()
        .code,
        code::FILE_TOO_LARGE
    );
}

#[test]
fn create_options_need_their_policy_flags() {
    let base = r#""objectName":"profiles","fileName":"a.csv","fileSize":10"#;
    let cases = [
        (r#""createList":true,"listName":"x""#, "createList"),
        (r#""targetListId":"lst_1""#, "targetListId"),
        (
            r#""createAudience":true,"audienceName":"x""#,
            "createAudience",
        ),
        (r#""autoProfileAfterImport":true"#, "autoProfileAfterImport"),
    ];
    let closed = Policy::default();
    let open = Policy {
        allow_create_list: true,
        allow_create_audience: true,
        allow_auto_profile: true,
        ..Policy::default()
    };
    for (extra, field) in cases {
        let body = format!("{{{base},{extra}}}");
        let r = check_create(&closed, &grant("a"), body.as_bytes()).unwrap_err();
        assert_eq!(
            (r.status, r.code),
            (403, code::OPTION_NOT_ALLOWED),
            "{field}"
        );
        assert_eq!(r.details.unwrap()["field"], field);
        assert!(
            check_create(&open, &grant("a"), body.as_bytes()).is_ok(),
            "{field}"
        );
    }
    // Explicit false is fine.
    let body = format!(r#"{{{base},"createList":false,"autoProfileAfterImport":false}}"#);
    assert!(check_create(&closed, &grant("a"), body.as_bytes()).is_ok());
}

#[test]
fn bodies_must_parse_as_the_api_shape() {
    let p = Policy::default();
    for body in [
        &b""[..],
        b"not json",
        b"[]",
        br#"{"objectName":"profiles","unknown":1}"#,
        br#"{"objectName":"profiles","objectName":"orders"}"#,
        br#"{"fileSize":"12"}"#,
    ] {
        let r = check_create(&p, &grant("a"), body).unwrap_err();
        assert_eq!(
            (r.status, r.code),
            (400, codes::REQUEST_INVALID),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    let big = vec![b' '; MAX_BODY + 1];
    assert_eq!(check_create(&p, &grant("a"), &big).unwrap_err().status, 413);
}

#[test]
fn mapping_policy() {
    let p = Policy::default();
    let m = |mode: &str| {
        format!(
            r#"{{"sourceFields":{{"email":"email"}},"fieldMap":{{"email":"email"}},"importMode":"{mode}"}}"#
        )
    };
    for mode in ["strict", "balanced", "landing_friendly"] {
        assert!(check_mapping(&p, m(mode).as_bytes()).is_ok(), "{mode}");
    }
    let r = check_mapping(&p, m("custom").as_bytes()).unwrap_err();
    assert_eq!((r.status, r.code), (403, code::IMPORT_MODE_NOT_ALLOWED));
    // No importMode means the API's default, balanced.
    assert!(check_mapping(&p, br#"{"fieldMap":{"a":"b"}}"#).is_ok());
    let strict_only = Policy {
        import_modes: vec!["strict".into()],
        ..Policy::default()
    };
    assert_eq!(
        check_mapping(&strict_only, br#"{"fieldMap":{"a":"b"}}"#)
            .unwrap_err()
            .code,
        code::IMPORT_MODE_NOT_ALLOWED
    );
    let r = check_mapping(
        &p,
        br#"{"fieldMap":{"a":"b"},"saveAsTemplate":{"name":"t"}}"#,
    )
    .unwrap_err();
    assert_eq!(r.code, code::OPTION_NOT_ALLOWED);
    let r = check_mapping(&p, br#"{"templateId":"tpl_1"}"#).unwrap_err();
    assert_eq!(r.code, code::OPTION_NOT_ALLOWED);
    let with_templates = Policy {
        allow_templates: true,
        ..Policy::default()
    };
    assert!(check_mapping(&with_templates, br#"{"templateId":"tpl_1"}"#).is_ok());
}

#[test]
fn start_bodies() {
    assert_eq!(check_start(b"").unwrap(), None);
    assert_eq!(check_start(b"  \n").unwrap(), None);
    assert_eq!(
        check_start(br#"{"a":1}"#).unwrap().as_deref(),
        Some(r#"{"a":1}"#)
    );
    assert_eq!(check_start(b"[1]").unwrap_err().status, 400);
    // Forwarded as parsed and re-serialised, never raw: a duplicate key
    // reaches the API once, as the broker read it.
    assert_eq!(
        check_start(b" {\"a\" : 1, \"a\": 2 }\n")
            .unwrap()
            .as_deref(),
        Some(r#"{"a":2}"#)
    );
}

#[test]
fn routes() {
    assert_eq!(route("POST", "/import-jobs").unwrap(), Route::CreateJob);
    assert_eq!(
        route("GET", "/import-jobs/h.x").unwrap(),
        Route::Status("h.x".into())
    );
    assert_eq!(
        route("POST", "/import-jobs/h/mapping").unwrap(),
        Route::Mapping("h".into())
    );
    assert_eq!(
        route("POST", "/import-jobs/h/start").unwrap(),
        Route::Start("h".into())
    );
    assert_eq!(
        route("GET", "/import-jobs/h/errors").unwrap(),
        Route::Errors("h".into())
    );
    assert_eq!(route("GET", "/metadata/objects").unwrap(), Route::Objects);
    assert_eq!(
        route("GET", "/metadata/objects/profiles").unwrap(),
        Route::Object("profiles".into())
    );
    for path in [
        "/",
        "/lists",
        "/import-jobs/",
        "/import-jobs//start",
        "/import-jobs/h/other",
        "/oauth/token",
        "/metadata",
        "//import-jobs",
        "//metadata/objects",
        "///import-jobs/h",
    ] {
        let r = route("GET", path).unwrap_err();
        assert_eq!((r.status, r.code), (404, code::ROUTE_NOT_FOUND), "{path}");
    }
    let r = route("GET", "/import-jobs").unwrap_err();
    assert_eq!((r.status, r.code), (405, code::METHOD_NOT_ALLOWED));
    assert_eq!(route("DELETE", "/import-jobs/h").unwrap_err().status, 405);
    assert_eq!(methods_of("/import-jobs/h/start"), Some("POST"));
    assert_eq!(
        Route::Start("h".into()).upstream_path("imp_1"),
        "/import-jobs/imp_1/start"
    );
    assert_eq!(
        Route::Object("orders".into()).upstream_path(""),
        "/metadata/objects/orders"
    );
}

#[test]
fn job_ids_in_answers_become_handles() {
    let body = r#"{"success":true,"data":{"jobId":"imp_1","state":"created"},"correlationId":"c"}"#;
    let out = rewrite_job_id(body, SECRET, "alice").unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let handle = v["data"]["jobId"].as_str().unwrap();
    assert_eq!(open_job_handle(SECRET, "alice", handle).unwrap(), "imp_1");
    assert_eq!(v["data"]["state"], "created");
    assert_eq!(v["correlationId"], "c");
    assert_eq!(
        rewrite_job_id(r#"{"success":true,"data":{"ok":true}}"#, SECRET, "a"),
        None
    );
    assert_eq!(rewrite_job_id("not json", SECRET, "a"), None);
}

#[test]
fn rate_limit_per_subject() {
    let mut rl = RateLimiter::new(3, 60);
    for _ in 0..3 {
        rl.take("a", 0.0).unwrap();
    }
    assert_eq!(rl.take("a", 0.0), Err(20));
    // Another subject has its own bucket.
    rl.take("b", 0.0).unwrap();
    // One token comes back after 20 s.
    assert_eq!(rl.take("a", 19_000.0), Err(1));
    rl.take("a", 20_000.0).unwrap();
    assert!(rl.take("a", 20_000.0).is_err());
    // 0 requests: no limit.
    let mut off = RateLimiter::new(0, 60);
    for _ in 0..1000 {
        off.take("a", 0.0).unwrap();
    }
    let r = rate_limited(7);
    assert_eq!(
        (r.status, r.code, r.retry_after),
        (429, code::RATE_LIMITED, Some(7))
    );
}

#[test]
fn refusal_envelopes_are_the_apis() {
    let r = Refusal::new(403, code::JOB_FORBIDDEN, "no").with_details(serde_json::json!({"x": 1}));
    let v: serde_json::Value = serde_json::from_str(&r.envelope("cid")).unwrap();
    assert_eq!(v["success"], false);
    assert_eq!(v["correlationId"], "cid");
    assert_eq!(v["error"]["code"], "BROKER.JOB.FORBIDDEN");
    assert_eq!(v["error"]["message"], "no");
    assert_eq!(v["error"]["details"]["x"], 1);
}

/// An HS256 JWT of any header and claims, signed with `secret`.
fn signed(secret: &str, header: &str, claims: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
    )
}

const HS256: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

fn claims(iat: u64, exp: u64) -> String {
    format!(r#"{{"aud":"{TICKET_AUDIENCE}","sub":"a","iat":{iat},"exp":{exp}}}"#)
}

#[test]
fn tickets_issued_in_the_future_are_refused_beyond_the_skew() {
    let ok = signed(
        SECRET,
        HS256,
        &claims(NOW + CLOCK_SKEW, NOW + CLOCK_SKEW + 60),
    );
    assert!(verify_ticket(SECRET, &ok, NOW).is_ok());
    let ahead = signed(
        SECRET,
        HS256,
        &claims(NOW + CLOCK_SKEW + 1, NOW + CLOCK_SKEW + 60),
    );
    let r = verify_ticket(SECRET, &ahead, NOW).unwrap_err();
    assert_eq!((r.status, r.code), (401, code::TICKET_INVALID));
    assert!(r.message.contains("future"), "{}", r.message);
}

#[test]
fn tickets_living_longer_than_the_maximum_are_refused() {
    let longest = signed(SECRET, HS256, &claims(NOW, NOW + MAX_TICKET_TTL));
    assert!(verify_ticket(SECRET, &longest, NOW).is_ok());
    // Minted by hand with the secret: a year, or exp before iat.
    for (iat, exp) in [
        (NOW, NOW + MAX_TICKET_TTL + 1),
        (NOW, NOW + 365 * 86_400),
        (NOW, NOW),
        (NOW - 10, NOW - 20),
    ] {
        let t = signed(SECRET, HS256, &claims(iat, exp));
        let r = verify_ticket(SECRET, &t, NOW.min(exp.saturating_sub(1))).unwrap_err();
        assert_eq!(r.code, code::TICKET_INVALID, "iat {iat} exp {exp}");
        assert!(r.message.contains("lifetime"), "{}", r.message);
    }
}

#[test]
fn tickets_with_crit_headers_are_refused() {
    let plain = signed(SECRET, HS256, &claims(NOW, NOW + 60));
    assert!(verify_ticket(SECRET, &plain, NOW).is_ok());
    let crit = signed(
        SECRET,
        r#"{"alg":"HS256","typ":"JWT","crit":["exp"],"exp":1}"#,
        &claims(NOW, NOW + 60),
    );
    let r = verify_ticket(SECRET, &crit, NOW).unwrap_err();
    assert_eq!(r.code, code::TICKET_INVALID);
    assert!(r.message.contains("crit"), "{}", r.message);
}

#[test]
fn the_audience_keeps_environments_apart() {
    let staging = mint_ticket_for(SECRET, "staging", &grant("a"), 600, NOW).unwrap();
    assert_eq!(
        verify_ticket_for(SECRET, "staging", &staging, NOW).unwrap(),
        grant("a")
    );
    let r = verify_ticket_for(SECRET, "production", &staging, NOW).unwrap_err();
    assert_eq!(r.code, code::TICKET_INVALID);
    assert!(r.message.contains("audience"), "{}", r.message);
    // The default audience is neither.
    assert!(verify_ticket(SECRET, &staging, NOW).is_err());
    let default = mint_ticket(SECRET, &grant("a"), 600, NOW).unwrap();
    assert!(verify_ticket_for(SECRET, "staging", &default, NOW).is_err());
    assert!(verify_ticket_for(SECRET, TICKET_AUDIENCE, &default, NOW).is_ok());
    for bad in ["", "a\nb", &"x".repeat(MAX_AUDIENCE_LEN + 1)] {
        assert!(mint_ticket_for(SECRET, bad, &grant("a"), 600, NOW).is_err());
        assert!(check_audience(bad).is_err());
    }
}

#[test]
fn the_fields_policy_limits_mapping_destinations() {
    let p = Policy {
        fields: Some(vec!["email".into(), "first_name".into()]),
        allow_templates: true,
        ..Policy::default()
    };
    let ok =
        br#"{"sourceFields":{"e":"email","f":"string"},"fieldMap":{"e":"email","f":"first_name"}}"#;
    assert!(check_mapping(&p, ok).is_ok());
    let bad = br#"{"sourceFields":{"e":"email","s":"string"},"fieldMap":{"e":"email","s":"lifetime_value"}}"#;
    let r = check_mapping(&p, bad).unwrap_err();
    assert_eq!((r.status, r.code), (403, code::FIELD_NOT_ALLOWED));
    assert!(r.message.contains("lifetime_value"), "{}", r.message);
    let d = r.details.unwrap();
    assert_eq!(d["destination"], "lifetime_value");
    assert_eq!(d["source"], "s");
    // A template's fields cannot be checked.
    let r = check_mapping(&p, br#"{"templateId":"tpl_1"}"#).unwrap_err();
    assert_eq!(r.code, code::FIELD_NOT_ALLOWED);
    // Without the option, any field.
    assert!(check_mapping(&Policy::default(), bad).is_ok());
}

#[test]
fn metadata_answers_keep_only_allowed_objects() {
    let list = r#"{"success":true,"data":{"items":[{"objectName":"profiles"},{"objectName":"orders"},{"objectName":"secrets"}]},"correlationId":"c"}"#;
    let p = Policy {
        objects: Some(vec!["profiles".into(), "orders".into()]),
        ..Policy::default()
    };
    let names = |body: &str| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        v["data"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["objectName"].as_str().unwrap().to_string())
            .collect()
    };
    let out = filter_objects(list, &p, &grant("a")).unwrap();
    assert_eq!(names(&out), ["profiles", "orders"]);
    assert!(out.contains(r#""correlationId":"c""#));
    let narrow = Grant {
        objects: Some(vec!["orders".into()]),
        ..grant("a")
    };
    assert_eq!(
        names(&filter_objects(list, &p, &narrow).unwrap()),
        ["orders"]
    );
    // No narrowing: unchanged.
    assert_eq!(filter_objects(list, &Policy::default(), &grant("a")), None);
    assert!(check_object(&p, &grant("a"), "profiles").is_ok());
    let r = check_object(&p, &grant("a"), "secrets").unwrap_err();
    assert_eq!((r.status, r.code), (403, code::OBJECT_NOT_ALLOWED));
    assert!(check_object(&p, &narrow, "profiles").is_err());
}

#[test]
fn bodies_over_the_limit_have_the_brokers_code() {
    let big = vec![b' '; MAX_BODY + 1];
    let r = check_create(&Policy::default(), &grant("a"), &big).unwrap_err();
    assert_eq!((r.status, r.code), (413, code::REQUEST_TOO_LARGE));
    assert_eq!(body_too_large().code, "BROKER.REQUEST.TOO_LARGE");
}

#[test]
fn the_rate_limiter_remembers_a_bounded_number_of_subjects() {
    // Every subject keeps a partly used bucket, so none is "full" and
    // forgettable for free: the cap must still hold.
    let mut rl = RateLimiter::with_max_subjects(5, 3600, 100);
    for i in 0..10_000 {
        rl.take(&format!("s{i}"), i as f64).unwrap();
        assert!(rl.subjects() <= 100, "{} subjects after {i}", rl.subjects());
    }
    // The most recent subjects are remembered: s9999 has 4 requests left.
    for _ in 0..4 {
        rl.take("s9999", 10_000.0).unwrap();
    }
    assert!(rl.take("s9999", 10_000.0).is_err());
    // A busy subject used recently survives a flood of new ones.
    let mut rl = RateLimiter::with_max_subjects(2, 3600, 50);
    rl.take("busy", 0.0).unwrap();
    rl.take("busy", 0.0).unwrap();
    for i in 0..40 {
        rl.take(&format!("n{i}"), 1.0 + i as f64).unwrap();
        rl.take("busy", 1.0 + i as f64).unwrap_err();
    }
    for i in 40..400 {
        rl.take(&format!("n{i}"), 100.0 + i as f64).unwrap();
        assert!(rl.take("busy", 100.0 + i as f64).is_err(), "at {i}");
    }
}
