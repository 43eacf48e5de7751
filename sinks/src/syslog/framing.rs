//! Transport framing of RFC 5424 messages: octet counting (RFC 6587 3.4.1, `LEN SP MSG`)
//! on TCP and TLS; UDP carries one message per datagram and needs none.
//!
//! Octet counting rather than LF framing because the JSON payload may hold any byte a
//! command line can, and a length prefix cannot be confused by them.
//!
//! May touch: nothing; pure functions.

/// `LEN SP MSG`.
pub fn octet_frame(msg: &[u8]) -> Vec<u8> {
    let mut out = format!("{} ", msg.len()).into_bytes();
    out.extend_from_slice(msg);
    out
}

/// Splits a stream of octet-counted frames back into messages, as a collector reads
/// them; `None` if the stream is not a whole number of well-formed frames.
pub fn split_octet_frames(mut stream: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut frames = Vec::new();
    while !stream.is_empty() {
        let space = stream.iter().position(|&b| b == b' ')?;
        let len: usize = std::str::from_utf8(&stream[..space]).ok()?.parse().ok()?;
        let body = stream.get(space + 1..space + 1 + len)?;
        frames.push(body.to_vec());
        stream = &stream[space + 1 + len..];
    }
    Some(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_their_length_and_split_back() {
        assert_eq!(octet_frame(b"abc"), b"3 abc");
        let messages: [&[u8]; 3] = [b"<13>1 a b", b"with\nnewline and 12 spaces", b""];
        let stream: Vec<u8> = messages.iter().flat_map(|m| octet_frame(m)).collect();
        let back = split_octet_frames(&stream).expect("well formed");
        assert_eq!(back, messages.map(<[u8]>::to_vec));
        assert_eq!(split_octet_frames(b"5 abc"), None, "a cut frame");
        assert_eq!(split_octet_frames(b"x abc"), None, "no length");
    }
}
