// CRC-64/NVME (Azure's `x-ms-content-crc64`) of bytes, in plain JavaScript
// with BigInt, one bit at a time: an implementation independent of the
// engine's tables, to check the header each request carries. Test use only.

const POLY = 0x9a6c9329ac4bc9b5n;
const MASK = 0xffffffffffffffffn;

/** The header value: base64 of the CRC's 8 bytes, least significant first. */
export function crc64Base64(bytes) {
  let crc = MASK;
  for (const b of bytes) {
    crc ^= BigInt(b);
    for (let k = 0; k < 8; k++) crc = crc & 1n ? (crc >> 1n) ^ POLY : crc >> 1n;
  }
  crc ^= MASK;
  const out = new Uint8Array(8);
  for (let i = 0; i < 8; i++) out[i] = Number((crc >> BigInt(8 * i)) & 0xffn);
  let s = '';
  for (const b of out) s += String.fromCharCode(b);
  return btoa(s);
}
