//! Private keys in PEM as `native_tls::Identity::from_pkcs8` takes them: PKCS#8 only, and
//! its first bytes must be the `BEGIN PRIVATE KEY` line. Keys made by older tools (and by
//! `openssl genrsa -traditional`, `openssl ecparam -genkey`) are PKCS#1 RSA or SEC1 EC;
//! they are rewrapped here into PKCS#8 (RFC 5208: version, algorithm, the key as an
//! OCTET STRING), which needs only a little DER, so no crypto library is linked for it.
//!
//! May touch: nothing; pure functions.

/// Why a key could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyError {
    /// No `-----BEGIN ... PRIVATE KEY-----` block.
    NoKey,
    /// An encrypted key: there is no passphrase setting.
    Encrypted,
    /// A PEM block that does not decode or whose DER is not what its label says.
    Malformed(&'static str),
    /// A private key of a kind this does not convert.
    Unsupported(String),
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyError::NoKey => f.write_str(
                "no PEM private key found (expected a BEGIN PRIVATE KEY, BEGIN RSA PRIVATE KEY or BEGIN EC PRIVATE KEY block)",
            ),
            KeyError::Encrypted => f.write_str(
                "the key is encrypted; decrypt it first: openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pkcs8",
            ),
            KeyError::Malformed(what) => write!(f, "the PEM key is malformed: {what}"),
            KeyError::Unsupported(label) => write!(
                f,
                "unsupported key type \"{label}\"; convert it: openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pkcs8"
            ),
        }
    }
}

/// rsaEncryption, 1.2.840.113549.1.1.1, as a DER OID (tag, length, value).
const OID_RSA: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];
/// id-ecPublicKey, 1.2.840.10045.2.1.
const OID_EC: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

/// The key in `pem` as a PKCS#8 PEM block, converted when it is PKCS#1 RSA or SEC1 EC.
/// Other blocks in the file (`EC PARAMETERS`, a certificate) are passed over.
pub(crate) fn pkcs8_pem(pem: &[u8]) -> Result<Vec<u8>, KeyError> {
    let text = std::str::from_utf8(pem).map_err(|_| KeyError::Malformed("not text"))?;
    for (label, body) in blocks(text) {
        if !label.ends_with("PRIVATE KEY") {
            continue;
        }
        // Legacy OpenSSL encryption keeps the label and adds `Proc-Type: 4,ENCRYPTED`
        // headers to the body.
        if label == "ENCRYPTED PRIVATE KEY" || body.contains("ENCRYPTED") {
            return Err(KeyError::Encrypted);
        }
        let der = base64_decode(body).ok_or(KeyError::Malformed("bad base64"))?;
        let pkcs8 = match label {
            "PRIVATE KEY" => der,
            "RSA PRIVATE KEY" => wrap(OID_RSA, &[0x05, 0x00], &der)?,
            "EC PRIVATE KEY" => {
                let curve = sec1_curve(&der)?;
                wrap(OID_EC, curve, &der)?
            }
            other => return Err(KeyError::Unsupported(other.to_string())),
        };
        return Ok(to_pem("PRIVATE KEY", &pkcs8));
    }
    Err(KeyError::NoKey)
}

/// Each `-----BEGIN L-----` … `-----END L-----` block as (L, base64 body).
fn blocks(text: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let begin = rest.find("-----BEGIN ")?;
        let after = &rest[begin + "-----BEGIN ".len()..];
        let label_end = after.find("-----")?;
        let label = &after[..label_end];
        let body_start = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let end = body_start.find(&end_marker)?;
        rest = &body_start[end + end_marker.len()..];
        Some((label, &body_start[..end]))
    })
}

/// PrivateKeyInfo ::= SEQUENCE { version 0, AlgorithmIdentifier { oid, params }, OCTET
/// STRING key }.
fn wrap(oid: &[u8], params: &[u8], key: &[u8]) -> Result<Vec<u8>, KeyError> {
    // The inner key must itself be one DER SEQUENCE, else OpenSSL's error would be a
    // puzzle about PKCS#8 rather than about the file.
    let (tag, _, rest) = tlv(key).ok_or(KeyError::Malformed("the key is not DER"))?;
    if tag != 0x30 || !rest.is_empty() {
        return Err(KeyError::Malformed("the key is not one DER SEQUENCE"));
    }
    let mut alg = oid.to_vec();
    alg.extend_from_slice(params);
    let mut body = vec![0x02, 0x01, 0x00];
    body.extend(der(0x30, &alg));
    body.extend(der(0x04, key));
    Ok(der(0x30, &body))
}

/// The named curve OID (tag and all) in a SEC1 ECPrivateKey's `[0] parameters`:
/// SEQUENCE { INTEGER 1, OCTET STRING key, [0] OID OPTIONAL, [1] BIT STRING OPTIONAL }.
fn sec1_curve(key: &[u8]) -> Result<&[u8], KeyError> {
    let bad = KeyError::Malformed("not a SEC1 EC private key");
    let (tag, mut inner, _) = tlv(key).ok_or(bad.clone())?;
    if tag != 0x30 {
        return Err(bad);
    }
    while !inner.is_empty() {
        let (tag, value, rest) = tlv(inner).ok_or(bad.clone())?;
        if tag == 0xa0 {
            let (oid_tag, _, after) = tlv(value).ok_or(bad.clone())?;
            if oid_tag != 0x06 || !after.is_empty() {
                return Err(KeyError::Malformed(
                    "the EC key names its curve by explicit parameters, not by name",
                ));
            }
            return Ok(value);
        }
        inner = rest;
    }
    Err(KeyError::Malformed("the EC key does not name its curve"))
}

/// Splits one DER TLV off `data`: (tag, value, rest).
fn tlv(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = data.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// One DER TLV with a definite length.
fn der(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(value);
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding, whitespace ignored; `None` on any other byte.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    let mut padding = false;
    for b in text.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                padding = true;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return None,
        };
        if padding {
            return None; // data after padding
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// A PEM block with 64-column base64.
fn to_pem(label: &str, der: &[u8]) -> Vec<u8> {
    let mut b64 = Vec::with_capacity(der.len() * 4 / 3 + 4);
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(B64[((n >> (18 - 6 * i)) & 63) as usize]);
            } else {
                b64.push(b'=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n").into_bytes();
    for line in b64.chunks(64) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.extend_from_slice(format!("-----END {label}-----\n").as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for data in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"] {
            let pem = to_pem("X", data);
            let text = std::str::from_utf8(&pem).expect("ascii");
            let (label, body) = blocks(text).next().expect("a block");
            assert_eq!(label, "X");
            assert_eq!(base64_decode(body).as_deref(), Some(data));
        }
        assert_eq!(base64_decode("Zm9v\nYmFy").as_deref(), Some(&b"foobar"[..]));
        assert_eq!(base64_decode("Zm9v!"), None);
        assert_eq!(base64_decode("Zg==Zg=="), None);
    }

    #[test]
    fn der_lengths_use_the_short_and_long_forms() {
        assert_eq!(der(0x04, &[1, 2]), vec![0x04, 2, 1, 2]);
        let long = der(0x04, &[0u8; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
        let (tag, value, rest) = tlv(&long).expect("parses back");
        assert_eq!((tag, value.len(), rest.len()), (0x04, 300, 0));
        assert_eq!(tlv(&[0x04, 0x85, 1, 1, 1, 1, 1]), None, "5 length bytes");
        assert_eq!(tlv(&[0x04, 3, 1]), None, "cut short");
    }

    #[test]
    fn pkcs1_is_wrapped_with_the_rsa_algorithm() {
        // A stand-in SEQUENCE: the wrapper checks the shape, not the numbers.
        let inner = der(0x30, &[0x02, 0x01, 0x00]);
        let pem = to_pem("RSA PRIVATE KEY", &inner);
        let out = pkcs8_pem(&pem).expect("converted");
        assert!(out.starts_with(b"-----BEGIN PRIVATE KEY-----"));
        let text = std::str::from_utf8(&out).expect("ascii");
        let (_, body) = blocks(text).next().expect("block");
        let der = base64_decode(body).expect("base64");
        let (tag, info, _) = tlv(&der).expect("outer");
        assert_eq!(tag, 0x30);
        let (_, version, rest) = tlv(info).expect("version");
        assert_eq!(version, [0]);
        let (_, alg, rest) = tlv(rest).expect("algorithm");
        assert!(alg.starts_with(OID_RSA));
        let (tag, key, _) = tlv(rest).expect("key");
        assert_eq!((tag, key), (0x04, &inner[..]));
    }

    #[test]
    fn sec1_takes_its_curve_into_the_algorithm() {
        let p256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
        let mut body = vec![0x02, 0x01, 0x01];
        body.extend(der(0x04, &[7; 32]));
        body.extend(der(0xa0, p256));
        let inner = der(0x30, &body);
        let mut file =
            b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
                .to_vec();
        file.extend(to_pem("EC PRIVATE KEY", &inner));
        let out = pkcs8_pem(&file).expect("converted");
        let text = std::str::from_utf8(&out).expect("ascii");
        let der = base64_decode(blocks(text).next().expect("block").1).expect("b64");
        let needle: Vec<u8> = [OID_EC, p256].concat();
        assert!(der.windows(needle.len()).any(|w| w == needle));
    }

    #[test]
    fn refusals_say_why() {
        assert_eq!(pkcs8_pem(b"nothing here"), Err(KeyError::NoKey));
        let enc = to_pem("ENCRYPTED PRIVATE KEY", &der(0x30, &[]));
        assert_eq!(pkcs8_pem(&enc), Err(KeyError::Encrypted));
        let dsa = to_pem("DSA PRIVATE KEY", &der(0x30, &[]));
        assert!(matches!(pkcs8_pem(&dsa), Err(KeyError::Unsupported(_))));
        let junk = b"-----BEGIN RSA PRIVATE KEY-----\n!!!\n-----END RSA PRIVATE KEY-----\n";
        assert!(matches!(pkcs8_pem(junk), Err(KeyError::Malformed(_))));
    }
}
