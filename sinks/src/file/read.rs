//! Reading the alert log's lines back (`picket alerts`): the line format is this
//! module's sibling's, so its reader lives here too. Pure: no I/O.

use serde_json::Value;

/// One line of the alert log, kept both raw (for exact JSON output) and parsed.
#[derive(Debug, Clone)]
pub struct LoggedAlert {
    /// The line exactly as written (without its newline).
    pub raw: String,
    /// Parsed JSON.
    pub value: Value,
}

/// Parses one log line; `None` for a line that is not a JSON object in UTF-8.
pub fn parse_line(line: &[u8]) -> Option<LoggedAlert> {
    let raw = std::str::from_utf8(line).ok()?;
    let value: Value = serde_json::from_str(raw).ok()?;
    value.is_object().then(|| LoggedAlert {
        raw: raw.to_string(),
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_objects_in_utf8_are_alerts() {
        let a = parse_line(br#"{"n": 1}"#).expect("an object");
        assert_eq!(a.raw, r#"{"n": 1}"#);
        assert_eq!(a.value["n"], 1);
        for bad in [
            &b"[1]"[..],
            b"not json",
            b"\"s\"",
            b"{\"n\": 1",
            b"{\"s\": \"\xff\"}",
        ] {
            assert!(parse_line(bad).is_none(), "{bad:?}");
        }
    }
}
