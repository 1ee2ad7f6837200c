//! Standard base64 (RFC 4648 §4, the alphabet with `+` and `/`), as Zyte API uses for
//! `httpResponseBody` and `httpRequestBody`.
//!
//! Policy: [`decode`] is strict about the alphabet but lenient about padding, since some encoders
//! omit it: trailing `=` may be present or absent, but a `=` anywhere else, a character outside
//! the alphabet, or a length that leaves a lone 6-bit group is an error. Whitespace is not
//! skipped (Zyte API never wraps lines). [`encode`] always pads. The module is small on purpose:
//! a dependency would cost more code size than these few lines.
//!
//! ```
//! use session_host_sdk::base64;
//! assert_eq!(base64::encode(b"token"), "dG9rZW4=");
//! assert_eq!(base64::decode("dG9rZW4").unwrap(), b"token");
//! ```

use std::fmt;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Why [`decode`] rejected its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// A byte outside the alphabet (or a `=` before the end), at this offset.
    InvalidByte(usize),
    /// The input, without padding, has a length of 4n+1, which no encoder produces.
    InvalidLength,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::InvalidByte(at) => write!(f, "invalid base64 byte at offset {at}"),
            DecodeError::InvalidLength => f.write_str("invalid base64 length"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// The 6-bit value of an alphabet byte.
fn sextet(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes standard base64, with or without trailing padding.
pub fn decode(input: &str) -> Result<Vec<u8>, DecodeError> {
    let bytes = input.as_bytes();
    let data = &bytes[..bytes.len() - bytes.iter().rev().take(2).take_while(|&&b| b == b'=').count()];
    if data.len() % 4 == 1 {
        return Err(DecodeError::InvalidLength);
    }
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    for (index, chunk) in data.chunks(4).enumerate() {
        let mut group = 0u32;
        for (offset, &byte) in chunk.iter().enumerate() {
            let value = sextet(byte).ok_or(DecodeError::InvalidByte(index * 4 + offset))?;
            group |= u32::from(value) << (18 - 6 * offset);
        }
        let [_, b0, b1, b2] = group.to_be_bytes();
        out.extend_from_slice(&[b0, b1, b2][..chunk.len() - 1]);
    }
    Ok(out)
}

/// Encodes `input` as padded standard base64.
pub fn encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let mut group = [0u8; 3];
        group[..chunk.len()].copy_from_slice(chunk);
        let value = u32::from_be_bytes([0, group[0], group[1], group[2]]);
        for position in 0..4 {
            if position <= chunk.len() {
                out.push(char::from(ALPHABET[(value >> (18 - 6 * position)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4648 §10 test vectors.
    const VECTORS: &[(&str, &str)] = &[
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];

    #[test]
    fn rfc4648_vectors_round_trip() {
        for (plain, encoded) in VECTORS {
            assert_eq!(encode(plain.as_bytes()), *encoded);
            assert_eq!(decode(encoded).as_deref(), Ok(plain.as_bytes()));
        }
    }

    #[test]
    fn padding_is_optional() {
        assert_eq!(decode("Zg").as_deref(), Ok(&b"f"[..]));
        assert_eq!(decode("Zm8").as_deref(), Ok(&b"fo"[..]));
    }

    #[test]
    fn all_byte_values_round_trip() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(decode(&encode(&bytes)), Ok(bytes));
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(decode("Zm9v!"), Err(DecodeError::InvalidLength));
        assert_eq!(decode("Zm9-"), Err(DecodeError::InvalidByte(3)));
        assert_eq!(decode("Z=9v"), Err(DecodeError::InvalidByte(1)));
        assert_eq!(decode("Zm9vY"), Err(DecodeError::InvalidLength));
        assert_eq!(decode("Zg==="), Err(DecodeError::InvalidByte(2)));
    }
}
