//! CRC-64/NVME (`x-ms-content-crc64`): the catalogue's check value, values
//! computed by an independent implementation (Azurite's, which Azure's own
//! emulator verifies uploads with), and the same CRC whatever the pieces.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use import_core::checksum::{crc64, Crc64};
use proptest::prelude::*;

/// The bitwise definition, one bit at a time: what the tables must equal.
fn reference(bytes: &[u8]) -> u64 {
    let mut crc = u64::MAX;
    for &b in bytes {
        crc ^= u64::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x9a6c_9329_ac4b_c9b5
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn wire_b64(bytes: &[u8]) -> String {
    let mut c = Crc64::new();
    c.update(bytes);
    B64.encode(c.wire())
}

/// 1,000,003 bytes of a fixed pattern (an odd length: a tail after the
/// 8-byte steps).
fn pattern() -> Vec<u8> {
    (0..1_000_003u32)
        .map(|i| (i.wrapping_mul(31).wrapping_add(i >> 8) & 0xff) as u8)
        .collect()
}

#[test]
fn check_value_of_the_catalogue() {
    assert_eq!(crc64(b"123456789"), 0xae8b_1486_0a79_9888);
    assert_eq!(reference(b"123456789"), 0xae8b_1486_0a79_9888);
}

#[test]
fn header_values_match_azurite() {
    // Computed with Azurite 3.37's CRC64Hash (its `x-ms-content-crc64`
    // check), base64 of the little-endian bytes.
    assert_eq!(wire_b64(b"123456789"), "iJh5CoYUi64=");
    assert_eq!(wire_b64(b""), "AAAAAAAAAAA=");
    assert_eq!(wire_b64(b"Hello, world!\n"), "nncQjwnBx80=");
    assert_eq!(wire_b64(&pattern()), "sPv0ykHYQcI=");
}

#[test]
fn pieces_of_any_size_give_the_same_crc() {
    let data = pattern();
    let whole = crc64(&data);
    assert_eq!(whole, reference(&data));
    for step in [1usize, 3, 7, 8, 9, 15, 16, 17, 31, 4096, 65_537] {
        let mut c = Crc64::new();
        for piece in data.chunks(step) {
            c.update(piece);
        }
        assert_eq!(c.finish(), whole, "pieces of {step} bytes");
    }
    let mut c = Crc64::new();
    c.update(b"something else");
    c.reset();
    c.update(&data);
    assert_eq!(c.finish(), whole, "after reset");
}

/// Every length from 0 to 40 bytes (no 16-byte step, one, two, with and
/// without a tail), whole and cut at every point, starting at every offset
/// of a buffer (unaligned loads).
#[test]
fn short_lengths_and_every_cut_give_the_bitwise_crc() {
    let data = pattern();
    for start in 0..16 {
        for len in 0..=40 {
            let bytes = &data[start..start + len];
            let want = reference(bytes);
            assert_eq!(crc64(bytes), want, "{len} bytes at offset {start}");
            for cut in 0..=len {
                let mut c = Crc64::new();
                c.update(&bytes[..cut]);
                c.update(&bytes[cut..]);
                assert_eq!(c.finish(), want, "{len} bytes at {start}, cut at {cut}");
            }
        }
    }
}

proptest! {
    #[test]
    fn tables_equal_the_bitwise_definition(data in proptest::collection::vec(any::<u8>(), 0..300), cut in 0usize..300) {
        let cut = cut.min(data.len());
        let mut c = Crc64::new();
        c.update(&data[..cut]);
        c.update(&data[cut..]);
        prop_assert_eq!(c.finish(), reference(&data));
    }
}
