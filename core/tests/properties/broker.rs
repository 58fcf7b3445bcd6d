//! The broker's upload tickets and job handles (`import_core::broker`):
//! any text is refused without a panic unless it is validly signed; a
//! minted ticket verifies to its grant until it expires, for its audience
//! only; any single-byte change (a byte replaced, removed or added) makes
//! it invalid.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use import_core::broker::*;
use import_core::codes::broker as code;
use proptest::prelude::*;
use proptest::sample::select;

use crate::config;

const SECRET: &str = "0123456789abcdef0123456789abcdef";
const OTHER: &str = "0123456789abcdef0123456789abcdeF";

/// Text shaped like a compact JWT more often than not: base64url pieces
/// and dots, sometimes the real header or a real ticket's parts.
fn ticket_like() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        3 => "[A-Za-z0-9_-]{0,60}",
        1 => Just("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9".to_string()),
        1 => Just(String::new()),
        1 => any::<String>(),
        1 => prop::collection::vec(any::<u8>(), 0..60).prop_map(|b| URL_SAFE_NO_PAD.encode(b)),
    ];
    prop_oneof![
        1 => any::<String>(),
        4 => prop::collection::vec(part, 1..5).prop_map(|p| p.join(".")),
    ]
}

/// `header.payload.signature` with a correct HS256 signature under
/// `SECRET`, whatever the header and payload say.
fn signed(header: &[u8], payload: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    m.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
    )
}

/// A `now` and JSON text shaped like ticket claims for it, with values
/// right, wrong and odd: mostly all the claims, `iat` near `now` and `exp`
/// near a day after it, so that many are valid; sometimes any members.
fn now_and_claims() -> impl Strategy<Value = (u64, Vec<u8>)> {
    now().prop_flat_map(|now| (Just(now), claims_like(now)))
}

fn claims_like(now: u64) -> impl Strategy<Value = Vec<u8>> {
    let number = prop_oneof![
        Just("0".to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        Just("1.5".to_string()),
        Just("1e400".to_string()),
        Just("\"5\"".to_string()),
        Just("null".to_string()),
    ];
    let text = prop_oneof![
        Just("\"import-uploader-broker\"".to_string()),
        "[a-z\u{0}\u{7f}é]{0,4}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        Just("\"x\"".to_string()),
        Just("null".to_string()),
        Just("[\"profiles\"]".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("7".to_string()),
    ];
    // `iat` up to two minutes either side of now, `exp` a lifetime of a
    // little less than nothing to a little more than a day after it.
    let times = (-120i64..=120, -5i64..=MAX_TICKET_TTL as i64 + 5).prop_map(move |(skew, life)| {
        let iat = now.saturating_add_signed(skew);
        (iat, iat.saturating_add_signed(life))
    });
    let usual = (
        prop_oneof![6 => Just("\"import-uploader-broker\"".to_string()), 1 => text.clone()],
        prop_oneof![6 => "[a-z0-9@.]{1,12}".prop_map(|s| format!("\"{s}\"")), 1 => text.clone()],
        times,
        prop_oneof![
            Just(None),
            Just(Some("[\"profiles\",\"orders\"]")),
            Just(Some("[]"))
        ],
        prop_oneof![Just(None), any::<u64>().prop_map(Some)],
    )
        .prop_map(|(aud, sub, (iat, exp), objects, max)| {
            let mut body = format!("{{\"aud\":{aud},\"sub\":{sub},\"iat\":{iat},\"exp\":{exp}");
            if let Some(o) = objects {
                body.push_str(&format!(",\"objects\":{o}"));
            }
            if let Some(m) = max {
                body.push_str(&format!(",\"maxFileSize\":{m}"));
            }
            body.push('}');
            body.into_bytes()
        });
    let member = prop_oneof![
        (select(vec!["aud", "sub", "objects"]), text.clone()),
        (select(vec!["iat", "exp", "maxFileSize"]), number.clone()),
        (
            select(vec![
                "aud",
                "sub",
                "iat",
                "exp",
                "objects",
                "maxFileSize",
                "extra"
            ]),
            prop_oneof![text, number]
        ),
    ];
    prop_oneof![
        6 => usual,
        3 => prop::collection::vec(member, 0..8).prop_map(|m| {
            let body: Vec<String> = m.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            format!("{{{}}}", body.join(",")).into_bytes()
        }),
        1 => prop::collection::vec(any::<u8>(), 0..40),
    ]
}

/// A grant: usually a valid one, sometimes with a subject `mint_ticket`
/// must refuse.
fn grant() -> impl Strategy<Value = Grant> {
    let subject = prop_oneof![
        8 => "[a-zA-Z0-9@._é😀 -]{1,40}",
        1 => "[a-z]{250,260}",
        1 => any::<String>(),
    ];
    let objects = prop_oneof![
        2 => Just(None),
        4 => prop::collection::vec("[a-z_]{0,20}", 0..6).prop_map(Some),
        // Long enough, now and then, for a ticket over the length limit.
        1 => (1usize..400).prop_map(|n| Some(vec!["an_object_name_of_thirty_chars".to_string(); n])),
    ];
    (subject, objects, any::<Option<u64>>()).prop_map(|(subject, objects, max_file_size)| Grant {
        subject,
        objects,
        max_file_size,
    })
}

/// A "now": mostly realistic Unix seconds, sometimes any, sometimes at
/// the very end of time.
fn now() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => 0u64..=8_000_000_000,
        1 => any::<u64>(),
        1 => u64::MAX - 2 * MAX_TICKET_TTL..=u64::MAX,
    ]
}

/// The text with its byte `at` replaced by `by`, removed, or with `by`
/// inserted before it; `None` when that is no change or not UTF-8 (tickets
/// are ASCII, so every change of one is UTF-8).
fn changed(ticket: &str, how: u8, at: usize, by: u8) -> Option<String> {
    let mut bytes = ticket.as_bytes().to_vec();
    let at = at % (bytes.len() + 1);
    match how % 3 {
        0 if at < bytes.len() && bytes[at] != by => bytes[at] = by,
        1 if at < bytes.len() => {
            bytes.remove(at);
        }
        2 => bytes.insert(at, by),
        _ => return None,
    }
    String::from_utf8(bytes).ok()
}

proptest! {
    #![proptest_config(config(8000))]

    /// Text that is not a ticket signed with the secret is refused as
    /// invalid (never a panic, never "expired"); so is any job handle not
    /// made for the subject.
    #[test]
    fn arbitrary_text_is_refused_as_a_ticket(text in ticket_like(), now in now()) {
        let refusal = verify_ticket(SECRET, &text, now).unwrap_err();
        prop_assert_eq!((refusal.status, refusal.code), (401, code::TICKET_INVALID));
        let refusal = open_job_handle(SECRET, "alice", &text).unwrap_err();
        prop_assert_eq!((refusal.status, refusal.code), (403, code::JOB_FORBIDDEN));
    }

    /// Signed tickets with any header and claims: never a panic, and a
    /// ticket is accepted only when its header says HS256 without `crit`
    /// and its claims are a valid grant for the broker's audience, issued
    /// at most `CLOCK_SKEW` ahead of the clock, living 1 s to a day, not
    /// yet expired.
    #[test]
    fn signed_tickets_with_any_claims_are_checked(
        header in prop_oneof![
            3 => Just(br#"{"alg":"HS256","typ":"JWT"}"#.to_vec()),
            1 => select(vec![
                &br#"{"alg":"none"}"#[..], br#"{"alg":"HS512"}"#, b"[]", b"{", br#"{"alg":"HS256"}"#,
                br#"{"alg":"HS256","crit":["b64"],"b64":false}"#, br#"{"alg":"HS256","crit":[]}"#,
            ]).prop_map(<[u8]>::to_vec),
            1 => prop::collection::vec(any::<u8>(), 0..20),
        ],
        (now, claims) in now_and_claims(),
    ) {
        let ticket = signed(&header, &claims);
        match verify_ticket(SECRET, &ticket, now) {
            Ok(grant) => {
                let h: serde_json::Value = serde_json::from_slice(&header).unwrap();
                prop_assert_eq!(h["alg"].as_str(), Some("HS256"));
                prop_assert!(h.get("crit").is_none());
                let c: TicketClaims = serde_json::from_slice(&claims).unwrap();
                prop_assert_eq!(c.aud.as_str(), TICKET_AUDIENCE);
                prop_assert!(c.iat <= now.saturating_add(CLOCK_SKEW));
                prop_assert!(c.exp > c.iat && c.exp - c.iat <= MAX_TICKET_TTL);
                prop_assert!(c.exp > now);
                prop_assert!(grant.check().is_ok());
                prop_assert_eq!(grant, Grant { subject: c.sub, objects: c.objects, max_file_size: c.max_file_size });
            }
            Err(refusal) => {
                prop_assert_eq!(refusal.status, 401);
                prop_assert!(
                    refusal.code == code::TICKET_INVALID || refusal.code == code::TICKET_EXPIRED,
                    "{}", refusal.code
                );
            }
        }
    }

}

proptest! {
    #![proptest_config(config(5000))]

    /// A minted ticket verifies to its grant from `now` until just before
    /// it expires, is expired from then on, is invalid under another
    /// secret, and any single-byte change makes it invalid.
    #[test]
    fn minted_tickets_round_trip_and_any_change_is_refused(
        grant in grant(),
        ttl in prop_oneof![Just(1u64), Just(MAX_TICKET_TTL), 1..=MAX_TICKET_TTL, Just(0), Just(MAX_TICKET_TTL + 1)],
        now in now(),
        how in any::<u8>(),
        at in any::<usize>(),
        by in 0u8..128,
    ) {
        let Ok(ticket) = mint_ticket(SECRET, &grant, ttl, now) else {
            // Refused only for a bad grant or lifetime, or a ticket that
            // would be too long to verify.
            prop_assert!(
                grant.check().is_err()
                    || !(1..=MAX_TICKET_TTL).contains(&ttl)
                    || now.checked_add(ttl).is_none()
                    || grant.objects.as_ref().is_some_and(|o| o.concat().len() > 4000)
            );
            return Ok(());
        };
        prop_assert!(grant.check().is_ok());
        for at in [now, now + ttl - 1] {
            let verified = verify_ticket(SECRET, &ticket, at);
            prop_assert_eq!(verified.as_ref(), Ok(&grant));
        }
        let expired = verify_ticket(SECRET, &ticket, now + ttl).unwrap_err();
        prop_assert_eq!(expired.code, code::TICKET_EXPIRED);
        prop_assert_eq!(verify_ticket(OTHER, &ticket, now).unwrap_err().code, code::TICKET_INVALID);
        // Another audience's ticket is invalid here, and valid there.
        let staging = mint_ticket_for(SECRET, "staging", &grant, ttl, now).unwrap();
        prop_assert_eq!(verify_ticket(SECRET, &staging, now).unwrap_err().code, code::TICKET_INVALID);
        let verified = verify_ticket_for(SECRET, "staging", &staging, now);
        prop_assert_eq!(verified.as_ref(), Ok(&grant));
        if let Some(altered) = changed(&ticket, how, at, by) {
            let refusal = verify_ticket(SECRET, &altered, now).unwrap_err();
            prop_assert_eq!(refusal.code, code::TICKET_INVALID, "{}", altered);
        }
    }

    /// A job handle opens to its job id for its subject only, and any
    /// single-byte change makes it forbidden.
    #[test]
    fn job_handles_open_only_unchanged_and_for_their_subject(
        job_id in prop_oneof!["imp_[0-9A-Z]{26}", "[a-z.]{1,12}", any::<String>()],
        subject in "[a-z]{1,8}",
        how in any::<u8>(),
        at in any::<usize>(),
        by in 0u8..128,
    ) {
        let handle = job_handle(SECRET, &subject, &job_id);
        let opened = open_job_handle(SECRET, &subject, &handle);
        if job_id.is_empty() {
            prop_assert!(opened.is_err());
            return Ok(());
        }
        prop_assert_eq!(opened.as_deref(), Ok(job_id.as_str()));
        let other_subject = subject.clone() + "x";
        prop_assert!(open_job_handle(SECRET, &other_subject, &handle).is_err());
        prop_assert!(open_job_handle(OTHER, &subject, &handle).is_err());
        if let Some(altered) = changed(&handle, how, at, by) {
            prop_assert!(open_job_handle(SECRET, &subject, &altered).is_err(), "{}", altered);
        }
    }
}
