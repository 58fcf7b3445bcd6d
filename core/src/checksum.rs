//! CRC-64/NVME, the checksum Azure Blob Storage verifies in
//! `x-ms-content-crc64` (Put Blob, Put Block, Put Block List; service
//! version 2019-02-02 and later).
//!
//! Parameters (the CRC catalogue's CRC-64/NVME): width 64, polynomial
//! `0xad93d23594c93659` (reflected `0x9a6c9329ac4bc9b5`), init and xorout
//! all ones, reflected in and out, check value (`"123456789"`)
//! `0xae8b14860a799888`. On the wire: base64 of the 8 bytes, least
//! significant byte first.
//!
//! Table-driven, 8 bytes per step ("slicing-by-8"). The eight 256-entry
//! tables (16 KiB) are computed when a [`Crc64`] is made, not stored in the
//! binary: in the browser build they would cost 16 KiB of data that does
//! not compress, where the code that builds them is a few dozen bytes and
//! runs in microseconds.

/// The reflected CRC-64/NVME polynomial.
const POLY: u64 = 0x9a6c_9329_ac4b_c9b5;

/// A running CRC-64/NVME: [`Crc64::update`] with the bytes in order, then
/// [`Crc64::finish`] (or [`Crc64::wire`] for the header value).
#[derive(Clone)]
pub struct Crc64 {
    tables: Box<[[u64; 256]; 8]>,
    state: u64,
}

impl Default for Crc64 {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Crc64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Crc64({:#018x})", !self.state)
    }
}

impl Crc64 {
    /// A CRC of no bytes yet.
    pub fn new() -> Self {
        let mut t = Box::new([[0u64; 256]; 8]);
        for i in 0..256 {
            let mut c = i as u64;
            for _ in 0..8 {
                c = (c >> 1) ^ (POLY & (c & 1).wrapping_neg());
            }
            t[0][i] = c;
        }
        for k in 1..8 {
            for i in 0..256 {
                let prev = t[k - 1][i];
                t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            }
        }
        Crc64 {
            tables: t,
            state: u64::MAX,
        }
    }

    /// Adds `bytes` (any length; the CRC of a whole is the CRC of its
    /// pieces fed in order).
    pub fn update(&mut self, bytes: &[u8]) {
        let t = &self.tables;
        let mut crc = self.state;
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            // `try_into`, not `copy_from_slice`: the size-optimised browser
            // build kept `copy_from_slice` as a call (a length check and a
            // copy through the stack) for every 8 bytes, which made the
            // CRC about half as fast; an array of 8 is one 64-bit load.
            let v = crc ^ u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
            crc = t[7][(v & 0xff) as usize]
                ^ t[6][((v >> 8) & 0xff) as usize]
                ^ t[5][((v >> 16) & 0xff) as usize]
                ^ t[4][((v >> 24) & 0xff) as usize]
                ^ t[3][((v >> 32) & 0xff) as usize]
                ^ t[2][((v >> 40) & 0xff) as usize]
                ^ t[1][((v >> 48) & 0xff) as usize]
                ^ t[0][(v >> 56) as usize];
        }
        for &b in words.remainder() {
            crc = t[0][((crc ^ u64::from(b)) & 0xff) as usize] ^ (crc >> 8);
        }
        self.state = crc;
    }

    /// The CRC of the bytes so far.
    pub fn finish(&self) -> u64 {
        !self.state
    }

    /// The CRC's 8 bytes as `x-ms-content-crc64` carries them (before
    /// base64): least significant first.
    pub fn wire(&self) -> [u8; 8] {
        self.finish().to_le_bytes()
    }

    /// Starts again from no bytes, keeping the tables.
    pub fn reset(&mut self) {
        self.state = u64::MAX;
    }
}

/// CRC-64/NVME of `bytes`.
pub fn crc64(bytes: &[u8]) -> u64 {
    let mut c = Crc64::new();
    c.update(bytes);
    c.finish()
}
