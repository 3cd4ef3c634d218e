//! Secrets: generation from the OS RNG, the `dnsl_<id>_<secret>` token layout, salted SHA-256
//! digests as stored in the key file, and constant-time comparison.

use sha2::{Digest, Sha256};

use crate::KeyError;

/// Every token starts with this, so leaked keys are easy to recognise (and to scan for).
pub const TOKEN_PREFIX: &str = "dnsl_";
/// Characters in a key id (non-secret; 40 random bits, used only to find the entry).
pub(crate) const ID_LEN: usize = 8;
/// Characters in the secret part of a token (5 bits each: 160 bits).
pub(crate) const SECRET_LEN: usize = 32;
/// Bytes of salt per key.
pub(crate) const SALT_LEN: usize = 16;

/// Lower-case RFC 4648 base32 alphabet: no padding, no ambiguous case.
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// `n` random base32 characters, 5 bits of OS randomness each (256 is a multiple of 32, so
/// masking a random byte is unbiased).
fn random_base32(n: usize) -> Result<String, KeyError> {
    let mut bytes = vec![0u8; n];
    fill_random(&mut bytes)?;
    Ok(bytes.iter().map(|b| ALPHABET[(b & 0x1f) as usize] as char).collect())
}

/// Fills `buf` from the OS random number generator.
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<(), KeyError> {
    getrandom::fill(buf).map_err(|e| KeyError::Random(e.to_string()))
}

/// A fresh key id.
pub(crate) fn new_id() -> Result<String, KeyError> {
    random_base32(ID_LEN)
}

/// A fresh token for key id `id`: `dnsl_<id>_<32 base32 chars>`.
pub(crate) fn new_token(id: &str) -> Result<String, KeyError> {
    Ok(format!("{TOKEN_PREFIX}{id}_{}", random_base32(SECRET_LEN)?))
}

/// True if `s` has the shape of a key id.
pub(crate) fn is_id(s: &str) -> bool {
    s.len() == ID_LEN && s.bytes().all(|b| ALPHABET.contains(&b))
}

/// The key id inside a presented token, if the token has the dnsledger shape.
pub(crate) fn token_id(presented: &str) -> Option<&str> {
    let rest = presented.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (is_id(id) && secret.len() == SECRET_LEN).then_some(id)
}

/// A salted digest as stored in the key file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hash {
    /// The per-key random salt.
    pub salt: Vec<u8>,
    /// SHA-256(salt || token).
    pub digest: [u8; 32],
}

impl Hash {
    /// Hashes `token` with a fresh random salt.
    pub fn new(token: &str) -> Result<Hash, KeyError> {
        let mut salt = vec![0u8; SALT_LEN];
        fill_random(&mut salt)?;
        let digest = digest(&salt, token);
        Ok(Hash { salt, digest })
    }

    /// True if `presented` hashes to this digest (constant time in the digest comparison).
    pub fn verify(&self, presented: &str) -> bool {
        constant_time_eq(&digest(&self.salt, presented), &self.digest)
    }

    /// Parses `sha256:<salt hex>:<digest hex>`.
    pub fn parse(s: &str) -> Result<Hash, String> {
        let shape = "expected \"sha256:<salt hex>:<64 hex digits>\"";
        let rest = s.strip_prefix("sha256:").ok_or_else(|| format!("hash: {shape}"))?;
        let (salt, dig) = rest.split_once(':').ok_or_else(|| format!("hash: {shape}"))?;
        let salt = hex_decode(salt)
            .filter(|s| (8..=64).contains(&s.len()))
            .ok_or_else(|| format!("hash: the salt must be 16 to 128 hex digits ({shape})"))?;
        let digest: [u8; 32] = hex_decode(dig)
            .and_then(|d| d.try_into().ok())
            .ok_or_else(|| format!("hash: the digest must be 64 hex digits ({shape})"))?;
        Ok(Hash { salt, digest })
    }
}

impl std::fmt::Display for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sha256:{}:{}", hex_encode(&self.salt), hex_encode(&self.digest))
    }
}

/// SHA-256(salt || token).
pub(crate) fn digest(salt: &[u8], token: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(token.as_bytes());
    h.finalize().into()
}

/// Compares two byte strings in time that depends only on their lengths (lengths are public:
/// both are SHA-256 digests here), never stopping at the first differing byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    // keep the optimiser from turning the fold back into an early-exit comparison
    std::hint::black_box(diff) == 0
}

/// Lower-case hex.
pub(crate) fn hex_encode(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// Hex (either case) to bytes; `None` unless an even number of hex digits.
pub(crate) fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let nib = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    s.as_bytes().chunks(2).map(|p| Some(nib(p[0])? << 4 | nib(p[1])?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_documented_shape_and_are_unique() {
        let id = new_id().unwrap();
        assert!(is_id(&id), "{id}");
        let t = new_token(&id).unwrap();
        assert_eq!(t.len(), TOKEN_PREFIX.len() + ID_LEN + 1 + SECRET_LEN);
        assert!(t.starts_with(&format!("dnsl_{id}_")));
        assert_eq!(token_id(&t), Some(id.as_str()));
        assert_ne!(t, new_token(&id).unwrap());
        for bad in ["", "dnsl_", "dnsl_abcdefgh", "xxxx_abcdefgh_", "dnsl_ABCDEFGH_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"] {
            assert_eq!(token_id(bad), None, "{bad}");
        }
        assert_eq!(token_id("dnsl_abcdefgh_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), Some("abcdefgh"));
    }

    #[test]
    fn hash_verifies_and_round_trips() {
        let t = new_token("abcdefgh").unwrap();
        let h = Hash::new(&t).unwrap();
        assert!(h.verify(&t));
        assert!(!h.verify(&new_token("abcdefgh").unwrap()));
        assert!(!h.verify(""));
        // one character changed, at the start and at the end
        let mut first = t.clone().into_bytes();
        first[0] ^= 1;
        assert!(!h.verify(&String::from_utf8(first).unwrap()));
        let mut last = t.clone().into_bytes();
        *last.last_mut().unwrap() ^= 1;
        assert!(!h.verify(&String::from_utf8(last).unwrap()));
        let text = h.to_string();
        assert!(text.starts_with("sha256:"));
        assert!(!text.contains(&t));
        assert_eq!(Hash::parse(&text).unwrap(), h);
        // the digest is SHA-256(salt || token)
        let mut direct = Sha256::new();
        direct.update([&h.salt[..], t.as_bytes()].concat());
        let direct: [u8; 32] = direct.finalize().into();
        assert_eq!(direct, h.digest);
    }

    #[test]
    fn hash_parse_rejects_malformed() {
        let d = "0".repeat(64);
        for bad in [
            String::new(),
            format!("md5:00112233445566778899aabbccddeeff:{d}"),
            format!("sha256:00112233445566778899aabbccddeeff{d}"),
            format!("sha256:0011:{d}"),
            format!("sha256:00112233445566778899aabbccddeefg:{d}"),
            "sha256:00112233445566778899aabbccddeeff:00".to_string(),
        ] {
            assert!(Hash::parse(&bad).is_err(), "{bad}");
        }
        assert!(Hash::parse(&format!("sha256:00112233445566778899AABBCCDDEEFF:{d}")).is_ok());
    }

    #[test]
    fn constant_time_eq_compares_every_byte() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(&[7; 32], &[7; 32]));
        assert!(!constant_time_eq(&[7; 32], &[7; 31]));
        for i in 0..32 {
            for bit in 0..8 {
                let mut b = [7u8; 32];
                b[i] ^= 1 << bit;
                assert!(!constant_time_eq(&[7; 32], &b), "byte {i} bit {bit}");
            }
        }
    }

    #[test]
    fn hex() {
        assert_eq!(hex_encode(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(hex_decode("00abFF"), Some(vec![0, 0xab, 0xff]));
        assert_eq!(hex_decode("0"), None);
        assert_eq!(hex_decode("zz"), None);
    }
}
