//! URL signatures of the emulator's storage.
//!
//! Every storage URL the emulator hands out carries three query parameters:
//!
//! | param | meaning |
//! |---|---|
//! | `se`  | expiry, Unix epoch seconds; the URL is valid while now < `se` |
//! | `sp`  | permission: `w` (write: `PUT`) or `r` (read: `GET`/`HEAD`) |
//! | `sig` | HMAC-SHA256, base64url without padding |
//!
//! GCS-mode session URLs carry a fourth, `upload_id`, which names the
//! resumable session and is covered by the signature. Upload URLs also carry
//! `sz`, the most bytes the blob may hold (the job's declared `fileSize`),
//! covered by the signature too: storage refuses to commit more, whatever the
//! protocol (see [`super`]).
//!
//! The MAC is computed with a 256-bit key generated once and kept in the data
//! directory (`keys/storage-hmac.key`, hex), over the string
//! `"v1\n{sp}\n{se}\n{mode}\n{path}\n{upload_id}"`, or with `sz`
//! `"v2\n{sp}\n{se}\n{mode}\n{path}\n{upload_id}\n{sz}"`, where `mode` is
//! `azure`, `s3` or `gcs` and `path` is the percent-decoded landing path. A
//! URL is therefore valid for exactly one path, one permission, one storage
//! mode and one size bound, until its expiry; nothing else (in particular no
//! `Authorization` header) authorises a storage request.

use std::path::Path;

use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What a signed URL allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// `sp=r`: `GET` / `HEAD` of the blob.
    Read,
    /// `sp=w`: `PUT` (uploads).
    Write,
}

impl Permission {
    /// The `sp` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "r",
            Permission::Write => "w",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "r" => Some(Permission::Read),
            "w" => Some(Permission::Write),
            _ => None,
        }
    }
}

/// The signature parameters found on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// `sp`.
    pub permission: Permission,
    /// `se`, epoch seconds.
    pub expires: i64,
    /// `upload_id` (GCS sessions), empty otherwise.
    pub upload_id: String,
    /// `sz`: the most bytes the blob may hold (upload URLs).
    pub max_size: Option<u64>,
}

/// Why a request's signature does not authorise it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    /// `se`, `sp` or `sig` missing or unparsable.
    Missing(&'static str),
    /// The MAC does not match (tampered path, expiry, permission or key).
    Mismatch,
    /// Valid signature, but `se` has passed.
    Expired {
        /// The URL's expiry, epoch seconds.
        expired_at: i64,
    },
}

/// The HMAC key and the mode it signs for.
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
    mode: &'static str,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("key", &"<redacted>")
            .field("mode", &self.mode)
            .finish()
    }
}

/// File name of the key inside `DATA_DIR/keys/`.
pub const KEY_FILE: &str = "storage-hmac.key";

impl Signer {
    /// Loads the key from `DATA_DIR/keys/storage-hmac.key`, creating it (32
    /// random bytes, hex) on first use.
    pub fn load_or_create(data_dir: &Path, mode: &'static str) -> anyhow::Result<Self> {
        let dir = data_dir.join("keys");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating key directory {}", dir.display()))?;
        let file = dir.join(KEY_FILE);
        let key = match std::fs::read_to_string(&file) {
            Ok(text) => decode_hex(text.trim()).filter(|k| k.len() >= 16).with_context(|| {
                format!(
                    "storage key file {} is not a hex key of at least 16 bytes; delete it to generate a new one",
                    file.display()
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = vec![0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut key);
                write_private(&file, &hex(&key))
                    .with_context(|| format!("writing storage key {}", file.display()))?;
                key
            }
            Err(e) => {
                return Err(e).with_context(|| format!("reading storage key {}", file.display()))
            }
        };
        Ok(Signer { key, mode })
    }

    /// The query string (without `?`) that authorises `permission` on `path`
    /// until `expires` (epoch seconds), for at most `max_size` bytes.
    pub fn query(
        &self,
        path: &str,
        permission: Permission,
        expires: i64,
        upload_id: &str,
        max_size: Option<u64>,
    ) -> String {
        let sig = self.mac(path, permission, expires, upload_id, max_size);
        let mut q = String::new();
        if !upload_id.is_empty() {
            q.push_str("upload_id=");
            q.push_str(&urlencoding::encode(upload_id));
            q.push('&');
        }
        q.push_str(&format!("se={expires}&sp={}&", permission.as_str()));
        if let Some(n) = max_size {
            q.push_str(&format!("sz={n}&"));
        }
        q.push_str(&format!("sig={sig}"));
        q
    }

    /// Checks the signature parameters of a request for `path` at time `now`
    /// (epoch seconds). The permission is returned, not checked: the caller
    /// compares it with what the method needs.
    pub fn verify(
        &self,
        path: &str,
        query: &[(String, String)],
        now: i64,
    ) -> Result<Grant, SignatureError> {
        let get = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let sig = get("sig").ok_or(SignatureError::Missing("sig"))?;
        let expires: i64 = get("se")
            .ok_or(SignatureError::Missing("se"))?
            .parse()
            .map_err(|_| SignatureError::Missing("se"))?;
        let permission = get("sp")
            .and_then(Permission::parse)
            .ok_or(SignatureError::Missing("sp"))?;
        let upload_id = get("upload_id").unwrap_or("").to_string();
        let max_size = match get("sz") {
            None => None,
            Some(n) => Some(n.parse().map_err(|_| SignatureError::Missing("sz"))?),
        };
        let given = URL_SAFE_NO_PAD
            .decode(sig.trim_end_matches('='))
            .map_err(|_| SignatureError::Mismatch)?;
        self.hmac(path, permission, expires, &upload_id, max_size)
            .verify_slice(&given)
            .map_err(|_| SignatureError::Mismatch)?;
        if now >= expires {
            return Err(SignatureError::Expired {
                expired_at: expires,
            });
        }
        Ok(Grant {
            permission,
            expires,
            upload_id,
            max_size,
        })
    }

    fn hmac(
        &self,
        path: &str,
        permission: Permission,
        expires: i64,
        upload_id: &str,
        max_size: Option<u64>,
    ) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        let sp = permission.as_str();
        let mode = self.mode;
        let text = match max_size {
            None => format!("v1\n{sp}\n{expires}\n{mode}\n{path}\n{upload_id}"),
            Some(n) => format!("v2\n{sp}\n{expires}\n{mode}\n{path}\n{upload_id}\n{n}"),
        };
        mac.update(text.as_bytes());
        mac
    }

    fn mac(
        &self,
        path: &str,
        permission: Permission,
        expires: i64,
        upload_id: &str,
        max_size: Option<u64>,
    ) -> String {
        URL_SAFE_NO_PAD.encode(
            self.hmac(path, permission, expires, upload_id, max_size)
                .finalize()
                .into_bytes(),
        )
    }
}

/// Splits a raw query string into percent-decoded pairs. `+` is kept as a
/// literal plus (block ids are base64, which uses it).
pub fn parse_query(raw: Option<&str>) -> Vec<(String, String)> {
    raw.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| {
                urlencoding::decode(s)
                    .map(|c| c.into_owned())
                    .unwrap_or_else(|_| s.to_string())
            };
            (dec(k), dec(v))
        })
        .collect()
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn write_private(file: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(file)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        Signer {
            key: vec![7; 32],
            mode: "azure",
        }
    }

    #[test]
    fn round_trip_and_refusals() {
        let s = signer();
        let q = parse_query(Some(&s.query(
            "jobs/a/f.csv",
            Permission::Write,
            100,
            "",
            None,
        )));
        let g = s.verify("jobs/a/f.csv", &q, 99).unwrap();
        assert_eq!(g.permission, Permission::Write);
        assert_eq!(
            s.verify("jobs/b/f.csv", &q, 99),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            s.verify("jobs/a/f.csv", &q, 100),
            Err(SignatureError::Expired { expired_at: 100 })
        );
        let other_mode = Signer {
            key: vec![7; 32],
            mode: "s3",
        };
        assert_eq!(
            other_mode.verify("jobs/a/f.csv", &q, 99),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            s.verify("jobs/a/f.csv", &[], 99),
            Err(SignatureError::Missing("sig"))
        );
    }

    #[test]
    fn upload_id_is_signed() {
        let s = signer();
        let mut q = parse_query(Some(&s.query("p", Permission::Write, 100, "abc", None)));
        assert!(s.verify("p", &q, 1).is_ok());
        q[0].1 = "abd".into();
        assert_eq!(s.verify("p", &q, 1), Err(SignatureError::Mismatch));
    }

    #[test]
    fn the_size_bound_is_signed() {
        let s = signer();
        let q = parse_query(Some(&s.query("p", Permission::Write, 100, "", Some(10))));
        assert_eq!(s.verify("p", &q, 1).unwrap().max_size, Some(10));
        // Raised, or dropped: the signature no longer matches.
        let raised: Vec<_> = q
            .iter()
            .map(|(k, v)| (k.clone(), if k == "sz" { "11".into() } else { v.clone() }))
            .collect();
        assert_eq!(s.verify("p", &raised, 1), Err(SignatureError::Mismatch));
        let dropped: Vec<_> = q.iter().filter(|(k, _)| k != "sz").cloned().collect();
        assert_eq!(s.verify("p", &dropped, 1), Err(SignatureError::Mismatch));
    }
}
