//! The validity period (notBefore, notAfter) of an X.509 certificate, read from its DER, for
//! the certificate-expiry metric of `dnsledger serve`.
//!
//! Hand-written on purpose: rustls and rustls-webpki check validity but do not expose it, and
//! the crates that do (x509-parser, x509-cert) bring a general ASN.1 stack for two fields at a
//! fixed place in the structure. This reads only the DER tag-length headers on the path
//! `Certificate → tbsCertificate → validity` (RFC 5280 §4.1), checking every length against the
//! input, and the two times (UTCTime or GeneralizedTime, UTC). It decides nothing about trust.

/// Why a certificate's validity could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("certificate validity: {0}")]
pub struct ValidityError(pub &'static str);

/// The validity period of a certificate, in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// notBefore.
    pub not_before: i64,
    /// notAfter.
    pub not_after: i64,
}

/// One DER element: tag, contents, and what follows it.
fn element(buf: &[u8]) -> Result<(u8, &[u8], &[u8]), ValidityError> {
    let err = ValidityError("truncated or malformed DER");
    let (&tag, rest) = buf.split_first().ok_or(err.clone())?;
    let (&first, rest) = rest.split_first().ok_or(err.clone())?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return Err(err);
        }
        let len = rest[..n].iter().fold(0usize, |a, &b| (a << 8) | b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(err);
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

fn expect<'a>(buf: &'a [u8], tag: u8, what: &'static str) -> Result<(&'a [u8], &'a [u8]), ValidityError> {
    match element(buf)? {
        (t, body, rest) if t == tag => Ok((body, rest)),
        _ => Err(ValidityError(what)),
    }
}

const SEQUENCE: u8 = 0x30;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const VERSION_TAG: u8 = 0xa0;

/// Reads the validity period of a DER-encoded X.509 certificate.
pub fn validity(der: &[u8]) -> Result<Validity, ValidityError> {
    let (cert, _) = expect(der, SEQUENCE, "not a certificate (no outer SEQUENCE)")?;
    let (mut tbs, _) = expect(cert, SEQUENCE, "no tbsCertificate")?;
    if tbs.first() == Some(&VERSION_TAG) {
        tbs = element(tbs)?.2;
    }
    let (_, _serial, rest) = element(tbs)?;
    let (_signature, rest) = expect(rest, SEQUENCE, "no signature algorithm")?;
    let (_issuer, rest) = expect(rest, SEQUENCE, "no issuer")?;
    let (validity, _) = expect(rest, SEQUENCE, "no validity")?;
    let (t1, b1, rest) = element(validity)?;
    let (t2, b2, _) = element(rest)?;
    Ok(Validity { not_before: time(t1, b1)?, not_after: time(t2, b2)? })
}

/// A UTCTime (`YYMMDDHHMMSSZ`, years 1950–2049) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn time(tag: u8, s: &[u8]) -> Result<i64, ValidityError> {
    let digits = |b: &[u8]| -> Result<i64, ValidityError> {
        b.iter().try_fold(0i64, |a, &c| {
            if c.is_ascii_digit() {
                Ok(a * 10 + i64::from(c - b'0'))
            } else {
                Err(ValidityError("non-digit in a time"))
            }
        })
    };
    let (year, rest) = match (tag, s.len()) {
        (UTC_TIME, 13) => {
            let yy = digits(&s[..2])?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &s[2..])
        }
        (GENERALIZED_TIME, 15) => (digits(&s[..4])?, &s[4..]),
        _ => return Err(ValidityError("time is neither UTCTime nor GeneralizedTime in UTC")),
    };
    if rest[10] != b'Z' {
        return Err(ValidityError("time not in UTC"));
    }
    let (mo, d, h, mi, se) =
        (digits(&rest[0..2])?, digits(&rest[2..4])?, digits(&rest[4..6])?, digits(&rest[6..8])?, digits(&rest[8..10])?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return Err(ValidityError("time out of range"));
    }
    Ok(days_from_civil(year, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(time(UTC_TIME, b"700101000000Z"), Ok(0));
        assert_eq!(time(UTC_TIME, b"240229123456Z"), Ok(1_709_210_096));
        assert_eq!(time(GENERALIZED_TIME, b"20500101000000Z"), Ok(2_524_608_000));
        assert_eq!(time(UTC_TIME, b"491231235959Z"), Ok(2_524_607_999));
        assert!(time(UTC_TIME, b"240229123456+0100").is_err());
        assert!(time(UTC_TIME, b"241329123456Z").is_err());
        assert!(time(GENERALIZED_TIME, b"240229123456Z").is_err());
    }

    #[test]
    fn malformed_input_is_an_error_never_a_panic() {
        assert!(validity(&[]).is_err());
        assert!(validity(&[0x30, 0x82, 0xff]).is_err());
        assert!(validity(&[0x30, 0x03, 0x30, 0x01, 0x02]).is_err());
        // every truncation of a well-formed prefix
        let mut v =
            vec![0x30, 0x22, 0x30, 0x20, 0xa0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x01, 0x01, 0x30, 0x00, 0x30, 0x00];
        v.extend_from_slice(&[0x30, 0x10, 0x17, 0x0d]);
        v.extend_from_slice(b"700101000000Z");
        for cut in 0..v.len() {
            let _ = validity(&v[..cut]);
        }
    }
}
