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
//! Table-driven, 8 bytes per step ("slicing-by-8"), in two lanes: the first
//! and second halves of a piece run side by side, the second from a state
//! of zero, and are joined by carrying the first half's state over the
//! second half's length (`shift`). A CRC is linear: the state after `a ‖ b`
//! from `s` is the state after `a` from `s` carried over `len(b)` zero
//! bytes, XOR the state after `b` from zero. In one lane every step waits
//! for the one before (eight lookups, then their XOR), and that wait, not
//! the lookups, is what bounds the loop in WebAssembly engines; two lanes
//! keep twice the lookups in flight.
//!
//! Measured (`examples/crc64_throughput.rs` natively; the same code built
//! for wasm32 as the browser build is, size-optimised, in Node 20), 1 MiB
//! pieces, medians, on a busy machine:
//!
//! | | one lane | two lanes | slicing-by-16, one lane |
//! |---|---:|---:|---:|
//! | native x86-64 | 1,845-1,872 MiB/s | 2,830-3,268 | 2,030-2,040 |
//! | wasm in V8 | 1,334-1,414 | 1,535-1,665 | 1,319-1,366 |
//!
//! The eight 256-entry tables (16 KiB) are computed when a [`Crc64`] is
//! made, not stored in the binary: in the browser build they would cost
//! 16 KiB of data that does not compress, where the code that builds them
//! is a few dozen bytes and runs in microseconds.

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
        let half = bytes.len() / 16 * 8;
        let (lanes, tail) = bytes.split_at(2 * half);
        let (first, second_half) = lanes.split_at(half);
        let (mut xs, mut ys) = (first.chunks_exact(8), second_half.chunks_exact(8));
        let (mut crc, mut second) = (self.state, 0);
        while let (Some(x), Some(y)) = (xs.next(), ys.next()) {
            crc = step(t, crc ^ word(x));
            second = step(t, second ^ word(y));
        }
        // Over no bytes (a piece under 16 bytes) the shift keeps the state.
        crc = shift(crc, half as u64) ^ second;
        for &b in tail {
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

/// 8 bytes as a little-endian word. `try_into`, not `copy_from_slice`: the
/// size-optimised browser build kept `copy_from_slice` as a call (a length
/// check and a copy through the stack) for every 8 bytes, which made the
/// CRC about half as fast; an array of 8 is one 64-bit load.
#[inline(always)]
fn word(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes.try_into().unwrap_or([0; 8]))
}

/// One slicing-by-8 step: the state after 8 bytes whose XOR with the state
/// before is `v`.
#[inline(always)]
fn step(t: &[[u64; 256]; 8], v: u64) -> u64 {
    let b = |i: u32| ((v >> (8 * i)) & 0xff) as usize;
    t[7][b(0)]
        ^ t[6][b(1)]
        ^ t[5][b(2)]
        ^ t[4][b(3)]
        ^ t[3][b(4)]
        ^ t[2][b(5)]
        ^ t[1][b(6)]
        ^ t[0][b(7)]
}

/// `a · b` modulo the polynomial, both in the reflected form (the top bit
/// is x⁰).
fn multiply(a: u64, mut b: u64) -> u64 {
    let mut product = 0;
    for i in (0..64).rev() {
        product ^= b & ((a >> i) & 1).wrapping_neg();
        b = (b >> 1) ^ (POLY & (b & 1).wrapping_neg());
    }
    product
}

/// The state `crc` carried over `n` zero bytes: `crc · x^(8n)` modulo the
/// polynomial, by squaring (about 2 × 20 multiplications for a MiB).
fn shift(mut crc: u64, mut n: u64) -> u64 {
    // x⁸, reflected.
    let mut power = 1 << 55;
    while n != 0 {
        if n & 1 == 1 {
            crc = multiply(power, crc);
        }
        power = multiply(power, power);
        n >>= 1;
    }
    crc
}

/// CRC-64/NVME of `bytes`.
pub fn crc64(bytes: &[u8]) -> u64 {
    let mut c = Crc64::new();
    c.update(bytes);
    c.finish()
}
