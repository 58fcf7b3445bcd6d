//! The streaming engine: [`Preflighter`].

use super::*;

/// A preflight in progress: fed UTF-8 chunks of the file, answers with
/// [`finish`](Self::finish) (the whole file was fed) or
/// [`finish_sample`](Self::finish_sample) (only its start).
pub struct Preflighter {
    options: PreflightOptions,
    fed: u64,
}

impl Preflighter {
    /// A preflight with these options.
    pub fn new(options: PreflightOptions) -> Preflighter {
        Preflighter { options, fed: 0 }
    }

    /// The dialect of a sample alone (raw bytes: encoding and BOM, then the
    /// CSV dialect of the text), without the rest of a preflight.
    pub fn sniff(sample: &[u8]) -> Dialect {
        let enc = sniff_encoding(sample);
        let mut d = sniff_dialect(sample);
        d.encoding = enc.encoding;
        d.confidence = enc.confidence;
        d.bom = enc.bom;
        d
    }

    /// Feeds the next bytes (UTF-8).
    pub fn feed(&mut self, utf8_chunk: &[u8]) {
        self.fed += utf8_chunk.len() as u64;
    }

    /// Bytes fed so far.
    pub fn bytes_fed(&self) -> u64 {
        self.fed
    }

    /// The answer on the whole file.
    pub fn finish(self) -> Preflight {
        self.answer(false)
    }

    /// The answer on the start of a file: the last, possibly incomplete,
    /// record is left out, and the answer says it was sampled.
    pub fn finish_sample(self) -> Preflight {
        self.answer(true)
    }

    fn answer(self, sampled: bool) -> Preflight {
        let _ = &self.options;
        Preflight {
            dialect: Dialect::default(),
            columns: Vec::new(),
            mapping: SuggestedMapping::default(),
            suggestions: Vec::new(),
            problems: Vec::new(),
            prediction: Prediction::default(),
            sampled,
            bytes_examined: self.fed,
            needs_normalising: false,
            normalised_size: None,
        }
    }
}
