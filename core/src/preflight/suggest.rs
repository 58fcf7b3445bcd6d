//! Mapping suggestions: header names matched against the object's schema,
//! in tiers, strongest first:
//!
//! 1. **exact**: the same name once case, separators (`_ - .`, spaces) and
//!    camelCase are folded away (`Email`, `E-Mail`, `eMail` → `email`;
//!    `FirstName` → `first_name`); score 1;
//! 2. **synonym**: a table of the names exports use ([`SYNONYMS`]):
//!    `email_address`, `e-mail`, `mail` → `email`; `zip`, `postcode` →
//!    `postal_code`; `fname` → `first_name`; …; score 0.95. A name with a
//!    qualifying prefix (`Customer Email`, `Billing Zip`, `Contact: First
//!    Name`) matches the same way, a little lower, unless what is left is
//!    generic (`Customer ID` is not an order's id);
//! 3. **template**: a saved template, at least half of whose columns are in
//!    the header, maps its columns as it did; score 0.9;
//! 4. **similar**: the name closest to a field or one of its synonyms
//!    (Jaro–Winkler, [`SIMILARITY_THRESHOLD`]), accepted only when the
//!    column's values are of the field's type (at least half of them) and
//!    the name carries no qualifier or negation that makes it a different
//!    thing: `Email consent`, `Email Domain`, `Email Opt-in Date` never map
//!    to `email`, nor `Email Opt Out` or `Unsubscribed` to `opted_in`, this
//!    way.
//!
//! Each column gets at most one field and each field at most one column:
//! candidates are taken strongest first, and one whose column or field is
//! taken is dropped.

use super::{Column, MatchReason, Suggestion, Template};
use crate::rules::{DataType, ImportMode};
use crate::validate::accepts;
use crate::wire::ObjectSchema;

/// Lowest Jaro–Winkler similarity of tier 4.
pub const SIMILARITY_THRESHOLD: f64 = 0.88;

/// Longest name (in bytes, folded) compared by similarity.
const MAX_SIMILAR_NAME: usize = 64;

/// Names exports use for common fields: `(field, [names])`, names in the
/// folded form of [`normalise_name`] with underscores removed. A field
/// the schema does not have is skipped; a name listed under two fields
/// goes to the first the schema has.
pub const SYNONYMS: &[(&str, &[&str])] = &[
    (
        "email",
        &[
            "emailaddress",
            "email",
            "mail",
            "emailaddr",
            "emailid",
            "eaddress",
            "primaryemail",
            "contactemail",
            "emailaddresses",
            "courriel",
            "correo",
            "correoelectronico",
            "epost",
        ],
    ),
    (
        "first_name",
        &[
            "firstname",
            "fname",
            "first",
            "givenname",
            "forename",
            "vorname",
            "prenom",
            "nombre",
        ],
    ),
    (
        "last_name",
        &[
            "lastname",
            "lname",
            "last",
            "surname",
            "familyname",
            "nachname",
            "nom",
            "apellido",
            "apellidos",
        ],
    ),
    (
        "full_name",
        &[
            "fullname",
            "name",
            "contactname",
            "customername",
            "displayname",
        ],
    ),
    (
        "phone",
        &[
            "phonenumber",
            "phone",
            "telephone",
            "tel",
            "telephonenumber",
            "mobile",
            "mobilephone",
            "mobilenumber",
            "mobilephonenumber",
            "cell",
            "cellphone",
            "cellnumber",
            "phoneno",
            "smsnumber",
            "sms",
            "smsphone",
            "whatsapp",
            "contactnumber",
            "telefon",
            "telefonnummer",
            "telefono",
            "handy",
        ],
    ),
    (
        "postal_code",
        &[
            "zip",
            "zipcode",
            "postcode",
            "postalcode",
            "postal",
            "plz",
            "zippostalcode",
            "zippostcode",
            "postleitzahl",
            "codepostal",
            "codigopostal",
            "cap",
        ],
    ),
    (
        "city",
        &[
            "city", "town", "locality", "ort", "stadt", "ville", "ciudad",
        ],
    ),
    (
        "state",
        &[
            "state",
            "province",
            "region",
            "stateprovince",
            "stateregion",
            "provincecode",
            "statecode",
            "county",
            "bundesland",
        ],
    ),
    (
        "country",
        &[
            "country",
            "countrycode",
            "nation",
            "countryregion",
            "countryname",
            "countryid",
            "cc",
            "land",
            "pays",
            "pais",
        ],
    ),
    (
        "address_line1",
        &[
            "address",
            "address1",
            "addressline1",
            "street",
            "streetaddress",
            "addr1",
            "streetline1",
            "streetaddressline1",
            "adresse",
            "strasse",
            "direccion",
        ],
    ),
    (
        "address_line2",
        &[
            "address2",
            "addressline2",
            "addr2",
            "streetline2",
            "streetaddressline2",
            "apartment",
            "suite",
        ],
    ),
    (
        "company",
        &[
            "company",
            "companyname",
            "organization",
            "organisation",
            "accountname",
            "employer",
            "businessname",
            "firm",
            "org",
            "firma",
            "unternehmen",
            "empresa",
        ],
    ),
    (
        "job_title",
        &[
            "jobtitle",
            "title",
            "position",
            "role",
            "jobrole",
            "designation",
        ],
    ),
    (
        "customer_id",
        &[
            "customerid",
            "customernumber",
            "custid",
            "clientid",
            "externalid",
            "extid",
            "contactid",
            "recordid",
            "crmid",
            "userid",
            "memberid",
            "accountid",
            "customerno",
            "profileid",
            "subscriberid",
            "leadid",
            "entityid",
            "kundennummer",
            "kundennr",
            "id",
        ],
    ),
    (
        "signed_up_at",
        &[
            "signedupat",
            "signupdate",
            "signedup",
            "signupat",
            "createdat",
            "created",
            "datecreated",
            "createddate",
            "createdtime",
            "createdon",
            "createdate",
            "registrationdate",
            "registeredat",
            "joined",
            "joinedat",
            "joindate",
            "subscribedat",
            "optintime",
            "addedtime",
            "dateadded",
            "membersince",
            "firstseen",
        ],
    ),
    (
        "birth_date",
        &[
            "birthdate",
            "dob",
            "dateofbirth",
            "birthday",
            "bday",
            "geburtsdatum",
            "geburtstag",
            "fechadenacimiento",
        ],
    ),
    (
        "loyalty_points",
        &[
            "loyaltypoints",
            "points",
            "rewardpoints",
            "pointsbalance",
            "loyaltybalance",
            "rewardsbalance",
            "punkte",
            "punktestand",
            "bonuspunkte",
        ],
    ),
    (
        "lifetime_value",
        &[
            "lifetimevalue",
            "ltv",
            "clv",
            "totalspent",
            "totalspend",
            "customerlifetimevalue",
            "lifetimerevenue",
            "lifetimespend",
            "totalrevenue",
            "totalcustomerlifetimevalue",
        ],
    ),
    (
        "opted_in",
        &[
            "optedin",
            "optin",
            "emailoptin",
            "acceptsmarketing",
            "acceptsemailmarketing",
            "emailmarketingconsent",
            "marketingconsent",
            "emailconsent",
            "subscribed",
            "newsletter",
            "newsletteroptin",
            "marketingoptin",
            "consent",
            "hasoptedin",
            "emailsubscribed",
        ],
    ),
    (
        "tier",
        &[
            "tier",
            "loyaltytier",
            "membershiplevel",
            "viptier",
            "membershiptier",
            "level",
            "loyaltylevel",
        ],
    ),
    ("gender", &["gender", "sex", "geschlecht"]),
    (
        "language",
        &[
            "language",
            "locale",
            "preferredlanguage",
            "lang",
            "languagecode",
            "sprache",
        ],
    ),
    (
        "website",
        &[
            "website",
            "url",
            "websiteurl",
            "homepage",
            "web",
            "companywebsite",
            "site",
        ],
    ),
    (
        "lead_source",
        &[
            "leadsource",
            "source",
            "originalsource",
            "acquisitionsource",
            "signupsource",
            "referralsource",
            "channel",
            "utmsource",
        ],
    ),
    (
        "lifecycle_stage",
        &["lifecyclestage", "stage", "contactstage", "funnelstage"],
    ),
    (
        "order_count",
        &[
            "ordercount",
            "totalorders",
            "orders",
            "numberoforders",
            "historicnumberoforders",
            "orderscount",
            "purchasecount",
            "paymentcount",
            "totalpurchases",
        ],
    ),
    (
        "tags",
        &["tags", "tag", "labels", "label", "segments", "lists"],
    ),
    (
        "notes",
        &[
            "notes",
            "note",
            "comments",
            "comment",
            "remarks",
            "description",
            "memo",
        ],
    ),
    (
        "order_id",
        &[
            "orderid",
            "ordernumber",
            "orderno",
            "order",
            "id",
            "transactionid",
            "invoicenumber",
            "invoiceid",
            "incrementid",
            "orderref",
            "orderreference",
            "purchaseid",
            "receiptnumber",
        ],
    ),
    (
        "amount",
        &[
            "amount",
            "total",
            "ordertotal",
            "grandtotal",
            "totalprice",
            "amountpaid",
            "ordervalue",
            "totalamount",
            "nettotal",
            "revenue",
            "value",
            "price",
            "gross",
        ],
    ),
    (
        "currency",
        &[
            "currency",
            "currencycode",
            "curr",
            "isocurrency",
            "ordercurrency",
            "ordercurrencycode",
            "presentmentcurrency",
        ],
    ),
    (
        "ordered_at",
        &[
            "orderedat",
            "orderdate",
            "purchasedate",
            "saledate",
            "transactiondate",
            "orderedon",
            "purchasedat",
            "createdat",
            "created",
            "createddate",
            "orderplaced",
            "date",
            "ordertime",
            "datetime",
            "timestamp",
            "processedat",
        ],
    ),
    (
        "quantity",
        &[
            "quantity",
            "qty",
            "qtyordered",
            "units",
            "lineitemquantity",
            "itemquantity",
            "count",
            "itemcount",
            "numberofitems",
            "items",
        ],
    ),
    (
        "status",
        &[
            "status",
            "orderstatus",
            "financialstatus",
            "paymentstatus",
            "state",
        ],
    ),
    (
        "sku",
        &[
            "sku",
            "productsku",
            "itemsku",
            "lineitemsku",
            "variantsku",
            "productcode",
            "itemcode",
            "articlenumber",
        ],
    ),
    (
        "product_name",
        &[
            "productname",
            "product",
            "itemname",
            "lineitemname",
            "producttitle",
            "item",
            "title",
            "description",
        ],
    ),
    (
        "discount",
        &[
            "discount",
            "discountamount",
            "cartdiscount",
            "discounttotal",
            "totaldiscount",
            "totaldiscounts",
            "couponamount",
        ],
    ),
    (
        "shipping_cost",
        &[
            "shippingcost",
            "shipping",
            "shippingamount",
            "ordershipping",
            "shippingtotal",
            "shippingprice",
            "shippingfee",
            "delivery",
            "deliverycost",
            "freight",
        ],
    ),
    (
        "tax",
        &[
            "tax",
            "taxes",
            "taxamount",
            "taxtotal",
            "totaltax",
            "salestax",
            "ordertax",
            "vat",
            "vatamount",
            "gst",
        ],
    ),
    (
        "payment_method",
        &[
            "paymentmethod",
            "paymentmethodtitle",
            "paymenttype",
            "paymentgateway",
            "tender",
            "gateway",
        ],
    ),
];

/// Prefixes a name may carry for the record it comes from (`Customer
/// Email`, `Billing Zip`), folded.
const PREFIXES: &[&str] = &[
    "customer",
    "contact",
    "billing",
    "shipping",
    "user",
    "subscriber",
    "member",
    "client",
    "account",
    "primary",
    "buyer",
    "lead",
    "person",
    "profile",
    "home",
    "personal",
    "main",
    "ship",
    "bill",
    "recipient",
    "purchaser",
    "default",
    "mailing",
    "address",
    "respondent",
    "order",
    "cart",
    "sale",
    "sales",
    "item",
    "lineitem",
    "product",
    "historic",
    "total",
    "current",
    "your",
];

/// What may not be all that is left of a name once its prefix is dropped:
/// `Customer ID` is not the order's id, `Billing Name` not the contact's.
const GENERIC: &[&str] = &[
    "id", "name", "number", "no", "code", "date", "time", "type", "value", "status", "count", "at",
    "on",
];

/// Words that turn a name into the opposite of a field, or into something
/// else about it: such names never map by similarity (`Email Opt Out`,
/// `Unsubscribed`, `Email Invalid`).
const NEGATIONS: &[&str] = &[
    "out",
    "optout",
    "unsubscribed",
    "unsubscribe",
    "not",
    "no",
    "never",
    "exclude",
    "excluded",
    "suppressed",
    "blocked",
    "invalid",
    "bounced",
    "blacklisted",
    "dnc",
    "donot",
];

/// Words that make a name a different thing than a field it resembles
/// (`Email consent` is no e-mail address): such names never map by
/// similarity.
const QUALIFIERS: &[&str] = &[
    "consent",
    "optin",
    "opt",
    "optout",
    "status",
    "verified",
    "valid",
    "validity",
    "type",
    "flag",
    "subscribed",
    "unsubscribed",
    "bounce",
    "bounced",
    "domain",
    "count",
    "date",
    "sent",
    "opened",
    "open",
    "clicked",
    "click",
    "score",
    "format",
    "permission",
    "source",
    "hash",
    "md5",
    "sha256",
    "rating",
    "preference",
    "preferences",
    "frequency",
    "confirmed",
    "id",
    "code",
    "at",
    "time",
    "on",
    "since",
    "last",
    "updated",
    "changed",
];

/// A name folded for comparison: camelCase split, lower case, every run of
/// separators (`_ - .`, spaces, other punctuation) one `_`, trimmed of
/// `_` (`"E-Mail Address"` → `"e_mail_address"`, `"emailAddress"` →
/// `"email_address"`). Text in parentheses or brackets (`Amount (USD)`)
/// is dropped.
pub fn normalise_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut depth = 0usize;
    let mut prev: Option<char> = None;
    for c in name.chars() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                continue;
            }
            ')' | ']' | '}' => {
                depth = depth.saturating_sub(1);
                continue;
            }
            _ if depth > 0 => continue,
            _ => {}
        }
        if c.is_alphanumeric() {
            if c.is_uppercase() && prev.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit()) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
        prev = Some(c);
    }
    while out.ends_with('_') {
        out.pop();
    }
    if out.is_empty() && !name.is_empty() && depth == 0 {
        // A name of nothing but brackets: keep what was inside.
        return normalise_name(&name.replace(['(', ')', '[', ']', '{', '}'], " "));
    }
    out
}

fn compact(folded: &str) -> String {
    folded.replace('_', "")
}

/// The mapping suggested for the file's `columns` (their names, inferred
/// types and examples) on `schema`: at most one field per column, never one
/// field for two columns, strongest tier first. Suggestions come in column
/// order.
pub fn suggest_mapping(
    columns: &[Column],
    schema: &ObjectSchema,
    templates: &[Template],
) -> Vec<Suggestion> {
    let mut candidates: Vec<(f32, MatchReason, usize, usize)> = Vec::new();
    let fields: Vec<(String, &str)> = schema
        .fields
        .iter()
        .map(|f| (compact(&normalise_name(&f.name)), f.name.as_str()))
        .collect();
    let synonyms_of = |field: &str| -> &'static [&'static str] {
        SYNONYMS
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, s)| *s)
            .unwrap_or(&[])
    };
    // A folded name → (field index, tier, score) by exact or synonym.
    let by_name = |name: &str| -> Option<(usize, MatchReason, f32)> {
        if name.is_empty() {
            return None;
        }
        if let Some(i) = fields.iter().position(|(c, _)| c == name) {
            return Some((i, MatchReason::Exact, 1.0));
        }
        for (field, names) in SYNONYMS {
            if let Some(rank) = names.iter().position(|n| *n == name) {
                if let Some(i) = fields.iter().position(|(_, f)| f == field) {
                    // Earlier synonyms are the stronger names of a field
                    // (`total` before `price`).
                    let score = 0.95 - 0.001 * rank.min(40) as f32;
                    return Some((i, MatchReason::Synonym, score));
                }
            }
        }
        None
    };
    for (ci, col) in columns.iter().enumerate() {
        let folded = normalise_name(&col.name);
        let name = compact(&folded);
        if let Some((fi, reason, score)) = by_name(&name) {
            candidates.push((score, reason, ci, fi));
            continue;
        }
        // Without a qualifying prefix (`Customer Email`, `Billing Zip`).
        let words: Vec<&str> = folded.split('_').filter(|w| !w.is_empty()).collect();
        let mut matched = false;
        for skip in 1..words.len() {
            if !words[..skip].iter().all(|w| PREFIXES.contains(w)) {
                break;
            }
            let rest = words[skip..].concat();
            if words.len() - skip == 1 && GENERIC.contains(&rest.as_str()) {
                break;
            }
            if let Some((fi, reason, score)) = by_name(&rest) {
                candidates.push((score - 0.1, reason, ci, fi));
                matched = true;
                break;
            }
        }
        if matched {
            continue;
        }
        // Tier 4: similarity, checked against the values (not for long
        // names: Jaro-Winkler's cost grows with the square of the length).
        if name.len() > MAX_SIMILAR_NAME
            || words
                .iter()
                .any(|w| NEGATIONS.contains(w) || QUALIFIERS.contains(w))
        {
            continue;
        }
        let mut best: Option<(f64, usize)> = None;
        for (fi, (fname, field)) in fields.iter().enumerate() {
            let mut s = strsim::jaro_winkler(&name, fname);
            for syn in synonyms_of(field) {
                s = s.max(strsim::jaro_winkler(&name, syn));
            }
            if best.is_none_or(|(b, _)| s > b) {
                best = Some((s, fi));
            }
        }
        if let Some((s, fi)) = best {
            let field = &schema.fields[fi];
            if s >= SIMILARITY_THRESHOLD && values_fit(col, DataType::parse(&field.data_type)) {
                candidates.push(((s * 0.85) as f32, MatchReason::Similar, ci, fi));
            }
        }
    }
    // Tier 3: saved templates whose columns are mostly in the header.
    for t in templates {
        if t.source_fields.is_empty() && t.field_map.is_empty() {
            continue;
        }
        let saved: Vec<&String> = if t.source_fields.is_empty() {
            t.field_map.keys().collect()
        } else {
            t.source_fields.keys().collect()
        };
        let present = saved
            .iter()
            .filter(|c| columns.iter().any(|col| col.name == ***c))
            .count();
        if present * 2 < saved.len() || present == 0 {
            continue;
        }
        for (column, field) in &t.field_map {
            let (Some(ci), Some(fi)) = (
                columns.iter().position(|c| &c.name == column),
                schema.fields.iter().position(|f| &f.name == field),
            ) else {
                continue;
            };
            candidates.push((0.9, MatchReason::Template, ci, fi));
        }
    }
    candidates.sort_by(|a, b| {
        b.0.partial_cmp(&a.0)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.1.cmp(&b.1))
            .then(a.2.cmp(&b.2))
    });
    let mut column_taken = vec![false; columns.len()];
    let mut field_taken = vec![false; schema.fields.len()];
    let mut out = Vec::new();
    for (score, reason, ci, fi) in candidates {
        if column_taken[ci] || field_taken[fi] {
            continue;
        }
        column_taken[ci] = true;
        field_taken[fi] = true;
        out.push(Suggestion {
            column: columns[ci].name.clone(),
            field: schema.fields[fi].name.clone(),
            score,
            reason,
        });
    }
    out.sort_by_key(|s| columns.iter().position(|c| c.name == s.column));
    out
}

/// Whether at least half of a column's non-empty examples are of `t` (a
/// `string` field takes anything; a column without values cannot tell, and
/// fits nothing typed).
fn values_fit(col: &Column, t: Option<DataType>) -> bool {
    let t = t.unwrap_or(DataType::String);
    if t == DataType::String {
        return true;
    }
    if col.examples.is_empty() {
        return false;
    }
    let fit = col
        .examples
        .iter()
        .filter(|v| accepts(t, v, ImportMode::LandingFriendly))
        .count();
    fit * 2 >= col.examples.len()
}
