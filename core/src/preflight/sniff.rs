//! Sniffing: the encoding of raw bytes ([`sniff_encoding`]) and the CSV
//! dialect of UTF-8 text ([`sniff_dialect`]).
//!
//! # Encoding
//!
//! A byte order mark decides; then bytes that are valid UTF-8 are UTF-8;
//! else the likely legacy encoding is guessed from byte statistics, for the
//! encodings spreadsheet exports are written in: windows-1252 (Western
//! Europe and the Americas), windows-1250 / ISO-8859-2 (Central Europe),
//! windows-1251 (Cyrillic), Shift_JIS, GBK and EUC-KR. UTF-16 without a BOM
//! is told by its NUL bytes. The guess only names a `TextDecoder` label: no
//! decoding table ships here (chardetng, the detector of Firefox, weighs
//! more than the preflight module's whole budget in wasm; see
//! `docs/design.md`).
//!
//! # Dialect
//!
//! The delimiter is the one of `,` `;` tab `|` that makes the most uniform
//! table over the sample's records (at most [`DIALECT_SNIFF_ROWS`] data
//! rows and the header), quotes honoured: the share of records with the most
//! common field count, that count being at least 2, the header agreeing.
//! A semicolon file whose numbers have decimal commas (`1,5`) is therefore
//! read with `;`: splitting it at commas gives rows of uneven width and a
//! header of one column.

use csv_core::{ReadRecordResult, ReaderBuilder};

use super::{Dialect, EncodingGuess, LineEnding, DIALECT_SNIFF_ROWS};
use crate::rules::{DataType, ImportMode};
use crate::validate::accepts;
use crate::verdict::{check_head, looks_utf16, FileFailure, NotCsv};

const UTF8_BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

fn guess(encoding: &str, confidence: f32) -> EncodingGuess {
    EncodingGuess {
        encoding: encoding.into(),
        confidence,
        bom: false,
        bom_length: 0,
        binary: false,
    }
}

/// Guesses the encoding of a file from its first bytes (a few KiB are
/// plenty; 64 KiB is better for legacy encodings).
pub fn sniff_encoding(head: &[u8]) -> EncodingGuess {
    let bom = |encoding: &str, len: usize| EncodingGuess {
        encoding: encoding.into(),
        confidence: 1.0,
        bom: true,
        bom_length: len,
        binary: false,
    };
    if head.starts_with(&UTF8_BOM) {
        return bom("utf-8", 3);
    }
    if head.starts_with(&[0xFF, 0xFE]) {
        return bom("utf-16le", 2);
    }
    if head.starts_with(&[0xFE, 0xFF]) {
        return bom("utf-16be", 2);
    }
    match check_head(head) {
        Err(FileFailure::NotCsv(NotCsv::Utf16)) => {
            let window = &head[..head.len().min(crate::verdict::SNIFF_BYTES)];
            let odd_nuls = window
                .iter()
                .skip(1)
                .step_by(2)
                .filter(|b| **b == 0)
                .count();
            let encoding = if odd_nuls > 0 { "utf-16le" } else { "utf-16be" };
            debug_assert!(looks_utf16(window));
            return guess(encoding, 0.9);
        }
        Err(_) => {
            let mut g = guess("utf-8", 0.0);
            g.binary = true;
            return g;
        }
        Ok(()) => {}
    }
    match std::str::from_utf8(head) {
        Ok(_) => return guess("utf-8", 1.0),
        // Cut in the middle of a character at the very end: still UTF-8.
        Err(e) if e.error_len().is_none() => return guess("utf-8", 1.0),
        Err(_) => {}
    }
    legacy(head)
}

/// The likely legacy encoding of bytes that are not UTF-8.
fn legacy(head: &[u8]) -> EncodingGuess {
    let high: Vec<usize> = (0..head.len()).filter(|&i| head[i] >= 0x80).collect();
    let n = high.len().max(1) as f32;
    // High bytes with ASCII on both sides: accented letters of a
    // single-byte encoding (é in "café,"), rarely a double-byte character.
    let isolated = high
        .iter()
        .filter(|&&i| (i == 0 || head[i - 1] < 0x80) && head.get(i + 1).is_none_or(|b| *b < 0x80))
        .count() as f32;
    let (sjis, gbk, euckr) = (
        double_byte_fit(head, is_sjis_lead, is_sjis_trail),
        double_byte_fit(
            head,
            |b| (0x81..=0xFE).contains(&b),
            |b| (0x40..=0xFE).contains(&b) && b != 0x7F,
        ),
        double_byte_fit(
            head,
            |b| (0xA1..=0xFE).contains(&b),
            |b| (0xA1..=0xFE).contains(&b),
        ),
    );
    if isolated / n < 0.5 {
        // Runs of high bytes: a double-byte encoding, or Cyrillic.
        let lower_cyrillic = high.iter().filter(|&&i| head[i] >= 0xE0).count() as f32 / n;
        if lower_cyrillic >= 0.6 && sjis < 1.0 && gbk < 1.0 {
            return guess("windows-1251", 0.6);
        }
        if sjis >= 1.0 {
            // Hiragana and katakana leads (0x82, 0x83) mark Japanese.
            let kana = high
                .iter()
                .filter(|&&i| matches!(head[i], 0x82 | 0x83))
                .count() as f32;
            if kana / n > 0.1 || gbk < 1.0 {
                return guess("shift_jis", if gbk < 1.0 { 0.8 } else { 0.6 });
            }
        }
        if euckr >= 1.0 {
            // Hangul syllables have leads 0xB0..=0xC8; Chinese spreads its
            // leads to 0xF7.
            let leads = lead_bytes(head, |b| (0xA1..=0xFE).contains(&b));
            let beyond = leads.iter().filter(|&&b| b > 0xC8).count() as f32;
            if beyond / (leads.len().max(1) as f32) < 0.05 {
                return guess("euc-kr", 0.6);
            }
            return guess("gbk", 0.6);
        }
        if gbk >= 1.0 {
            return guess("gbk", 0.6);
        }
        if lower_cyrillic >= 0.5 {
            return guess("windows-1251", 0.5);
        }
    }
    // A single-byte Latin encoding. Central European letters live at
    // 0xA1..=0xBF (ISO-8859-2) or 0x8A..=0x9F (windows-1250), where
    // windows-1252 has symbols and punctuation.
    let central = high
        .iter()
        .filter(|&&i| matches!(head[i], 0xA1 | 0xA3 | 0xA5 | 0xA6 | 0xA9..=0xAC | 0xAE | 0xAF | 0xB1 | 0xB3 | 0xB5 | 0xB6 | 0xB9..=0xBC | 0xBE | 0xBF))
        .count() as f32;
    let cp1250_only = high
        .iter()
        .filter(|&&i| matches!(head[i], 0x8A | 0x8C..=0x8F | 0x9A | 0x9C..=0x9F))
        .count() as f32;
    if (central + cp1250_only) / n > 0.25 {
        let label = if cp1250_only > 0.0 {
            "windows-1250"
        } else {
            "iso-8859-2"
        };
        return guess(label, 0.5);
    }
    let letters = high.iter().filter(|&&i| head[i] >= 0xC0).count() as f32;
    let confidence = if letters / n >= 0.5 && isolated / n >= 0.5 {
        0.8
    } else {
        0.5
    };
    guess("windows-1252", confidence)
}

fn is_sjis_lead(b: u8) -> bool {
    matches!(b, 0x81..=0x9F | 0xE0..=0xFC)
}

fn is_sjis_trail(b: u8) -> bool {
    matches!(b, 0x40..=0x7E | 0x80..=0xFC)
}

/// Share of the high bytes that form valid characters of a double-byte
/// encoding (1 when every one does). Shift_JIS's single-byte katakana
/// (0xA1..=0xDF) count as valid for it.
fn double_byte_fit(head: &[u8], lead: impl Fn(u8) -> bool, trail: impl Fn(u8) -> bool) -> f32 {
    let (mut ok, mut bad, mut i) = (0usize, 0usize, 0usize);
    let sjis_kana = is_sjis_lead(0x81) && lead(0x81) && !lead(0xA1);
    while i < head.len() {
        let b = head[i];
        if b < 0x80 {
            i += 1;
        } else if sjis_kana && (0xA1..=0xDF).contains(&b) {
            ok += 1;
            i += 1;
        } else if lead(b) {
            match head.get(i + 1) {
                Some(&t) if trail(t) => {
                    ok += 2;
                    i += 2;
                }
                // Cut at the end of the sample.
                None => i += 1,
                Some(_) => {
                    bad += 1;
                    i += 1;
                }
            }
        } else {
            bad += 1;
            i += 1;
        }
    }
    if ok + bad == 0 {
        0.0
    } else {
        ok as f32 / (ok + bad) as f32
    }
}

fn lead_bytes(head: &[u8], lead: impl Fn(u8) -> bool) -> Vec<u8> {
    let (mut out, mut i) = (Vec::new(), 0);
    while i < head.len() {
        if lead(head[i]) && i + 1 < head.len() {
            out.push(head[i]);
            i += 2;
        } else {
            i += 1;
        }
    }
    out
}

/// The delimiters the sniff chooses among, in order of preference when
/// they tie.
pub const DELIMITERS: [char; 4] = [',', ';', '\t', '|'];

/// Sniffs the dialect of the start of a file (UTF-8 text; a UTF-8 BOM is
/// noted and skipped). `sample` may end in the middle of a record: a last
/// record without a line break after it is weighed only when the sample is
/// smaller than [`super::DIALECT_SNIFF_BYTES`] (then it is taken to be the
/// whole file).
pub fn sniff_dialect(sample: &[u8]) -> Dialect {
    let complete = sample.len() < super::DIALECT_SNIFF_BYTES;
    sniff_dialect_with(sample, complete)
}

/// [`sniff_dialect`], told whether `sample` is the whole file.
pub(crate) fn sniff_dialect_with(sample: &[u8], complete: bool) -> Dialect {
    let bom = sample.starts_with(&UTF8_BOM);
    let text = if bom { &sample[3..] } else { sample };
    let mut best: Option<(f32, char, Vec<Vec<String>>)> = None;
    for d in DELIMITERS {
        // A delimiter the sample does not hold splits nothing: its rows are
        // one column wide, which scores 0 and never wins (the fallback below
        // reads such a file as one column).
        if memchr::memchr(d as u8, text).is_none() {
            continue;
        }
        let records = records(text, d as u8, complete);
        let score = uniformity(&records);
        let better = match &best {
            None => true,
            Some((s, _, _)) => score > *s + 1e-6,
        };
        if better {
            best = Some((score, d, records));
        }
    }
    let (score, mut delimiter, mut rows) = best.unwrap_or((0.0, ',', Vec::new()));
    if score <= 0.0 {
        // No delimiter splits anything: one column; read as the API does.
        delimiter = ',';
        rows = records(text, b',', complete);
    }
    Dialect {
        encoding: "utf-8".into(),
        confidence: 1.0,
        bom,
        delimiter,
        quote: '"',
        line_ending: line_ending(text),
        has_header: has_header(&rows),
    }
}

/// The records of a sample split with `delimiter` (quotes honoured), the
/// header and at most [`DIALECT_SNIFF_ROWS`] data rows, blank lines
/// skipped. Each field is kept to its first 256 bytes.
fn records(text: &[u8], delimiter: u8, complete: bool) -> Vec<Vec<String>> {
    let mut reader = ReaderBuilder::new().delimiter(delimiter).build();
    let mut out = Vec::new();
    let mut input = text;
    let mut field_buf = vec![0u8; 64 * 1024];
    let mut ends = vec![0usize; 256];
    let mut record: Vec<String> = Vec::new();
    let mut partial_len = 0usize;
    let mut ends_at = 0usize;
    let mut finished = false;
    while out.len() <= DIALECT_SNIFF_ROWS && !finished {
        let (res, nin, nout, nend) =
            reader.read_record(input, &mut field_buf[partial_len..], &mut ends[ends_at..]);
        input = &input[nin..];
        partial_len += nout;
        ends_at += nend;
        match res {
            ReadRecordResult::InputEmpty => {
                if !complete {
                    break;
                }
                // The end of the whole file.
                let (res, _, nout, nend) =
                    reader.read_record(&[], &mut field_buf[partial_len..], &mut ends[ends_at..]);
                partial_len += nout;
                ends_at += nend;
                if matches!(res, ReadRecordResult::Record) {
                    push_record(&mut out, &mut record, &field_buf, &ends[..ends_at]);
                }
                finished = true;
            }
            ReadRecordResult::OutputFull => {
                // A huge field: the sample is no table; give up here.
                break;
            }
            ReadRecordResult::OutputEndsFull => {
                if ends.len() >= 1 << 16 {
                    break;
                }
                let n = ends.len();
                ends.resize(n * 2, 0);
            }
            ReadRecordResult::Record => {
                push_record(&mut out, &mut record, &field_buf, &ends[..ends_at]);
                partial_len = 0;
                ends_at = 0;
            }
            ReadRecordResult::End => finished = true,
        }
    }
    out
}

fn push_record(out: &mut Vec<Vec<String>>, record: &mut Vec<String>, buf: &[u8], ends: &[usize]) {
    record.clear();
    let mut start = 0;
    for &end in ends {
        let field = &buf[start..end];
        let cut = &field[..field.len().min(256)];
        record.push(String::from_utf8_lossy(cut).into_owned());
        start = end;
    }
    // Blank lines are skipped, as the reader of the API does.
    if record.len() == 1 && record[0].is_empty() {
        return;
    }
    out.push(std::mem::take(record));
}

/// How uniform a table the records make: the share of records of the most
/// common width (at least 2), a tenth more when the header has that width.
/// 0 when no record splits.
fn uniformity(records: &[Vec<String>]) -> f32 {
    if records.is_empty() {
        return 0.0;
    }
    let mut counts: Vec<(usize, usize)> = Vec::new();
    for r in records {
        match counts.iter_mut().find(|(w, _)| *w == r.len()) {
            Some((_, n)) => *n += 1,
            None => counts.push((r.len(), 1)),
        }
    }
    // The most common width; the wider one on a tie.
    let (width, n) = counts
        .iter()
        .copied()
        .max_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)))
        .unwrap_or((1, 0));
    if width < 2 {
        return 0.0;
    }
    let share = n as f32 / records.len() as f32;
    let header_agrees = if records[0].len() == width { 0.1 } else { 0.0 };
    share + header_agrees
}

/// The line endings outside quoted values.
fn line_ending(text: &[u8]) -> LineEnding {
    let (mut lf, mut crlf, mut cr) = (0usize, 0usize, 0usize);
    let mut quoted = false;
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'"' => quoted = !quoted,
            b'\r' if !quoted => {
                if text.get(i + 1) == Some(&b'\n') {
                    crlf += 1;
                    i += 1;
                } else if i + 1 < text.len() {
                    cr += 1;
                } else {
                    // A sample cut between \r and \n: count it as \r\n when
                    // the rest of the file says so.
                    crlf += usize::from(lf == 0 && cr == 0 && crlf > 0);
                    cr += usize::from(crlf == 0);
                }
            }
            b'\n' if !quoted => lf += 1,
            _ => {}
        }
        i += 1;
    }
    match (lf > 0, crlf > 0, cr > 0) {
        (false, false, false) => LineEnding::None,
        (true, false, false) => LineEnding::Lf,
        (false, true, false) => LineEnding::Crlf,
        (false, false, true) => LineEnding::Cr,
        _ => LineEnding::Mixed,
    }
}

/// Types a header cell is told apart from its column's values by.
const TYPED: [DataType; 7] = [
    DataType::Integer,
    DataType::Number,
    DataType::Date,
    DataType::Datetime,
    DataType::Email,
    DataType::Phone,
    DataType::Url,
];

/// Whether the first record names the columns. A file has a header (the
/// API reads the first record as one) unless the first record looks like
/// the data below it: a column whose values are of a type (numbers, dates,
/// e-mail addresses, …) whose first cell is of that type too, and no
/// column whose first cell stands apart from its values.
fn has_header(rows: &[Vec<String>]) -> bool {
    let Some((first, data)) = rows.split_first() else {
        return true;
    };
    if data.is_empty() {
        // One record: a header of names unless every cell is typed data.
        return !first
            .iter()
            .all(|c| !c.trim().is_empty() && TYPED.iter().any(|t| is(*t, c)));
    }
    let (mut like_data, mut apart) = (0, 0);
    for (i, cell) in first.iter().enumerate() {
        let values: Vec<&str> = data
            .iter()
            .filter_map(|r| r.get(i))
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
            .collect();
        if values.is_empty() {
            continue;
        }
        for t in TYPED {
            // Nine values in ten of type `t`; given up on as soon as more
            // than a tenth are not.
            let mut misfits = 0;
            let fits = values.iter().all(|v| {
                misfits += usize::from(!is(t, v));
                misfits * 10 <= values.len()
            });
            if fits {
                if is(t, cell) {
                    like_data += 1;
                } else {
                    apart += 1;
                }
                break;
            }
        }
    }
    !(like_data > 0 && apart == 0)
}

fn is(t: DataType, v: &str) -> bool {
    accepts(t, v, ImportMode::Balanced)
}
