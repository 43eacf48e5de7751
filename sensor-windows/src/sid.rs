//! Security identifiers: well-known SIDs for account names, and binary SIDs to strings.
//!
//! Sysmon writes the user of a new process as a name (`NT AUTHORITY\SYSTEM`), not a SID;
//! the Elastic rule excludes `user.id : "S-1-5-18"`. For the built-in service accounts
//! the SID is fixed, so Picket fills `user.id` for them as Winlogbeat's pipelines do. Other
//! names stay without an id: guessing one would be worse than leaving it missing.
//!
//! The kernel's ETW process events carry the user as a binary SID, sometimes behind a
//! `TOKEN_USER` header ([`sid_from_etw_bytes`]).

/// The SID of a built-in account named `domain\name` (or just `name`), for the accounts
/// whose SIDs are the same on every Windows: `SYSTEM` (S-1-5-18), `LOCAL SERVICE`
/// (S-1-5-19) and `NETWORK SERVICE` (S-1-5-20), in the `NT AUTHORITY` domain (English and
/// the common localized spellings). Case-insensitive.
pub fn well_known_sid(domain: Option<&str>, name: &str) -> Option<&'static str> {
    if let Some(domain) = domain {
        let d = domain.trim().to_uppercase();
        let nt_authority = matches!(d.as_str(), "NT AUTHORITY" | "AUTORITE NT" | "NT-AUTORITÄT");
        if !nt_authority {
            return None;
        }
    }
    let n = name.trim().to_uppercase();
    match n.as_str() {
        "SYSTEM" | "LOCAL SYSTEM" | "LOCALSYSTEM" | "SYSTÈME" => Some("S-1-5-18"),
        "LOCAL SERVICE" | "LOCALSERVICE" | "SERVICE LOCAL" | "LOKALER DIENST" => Some("S-1-5-19"),
        "NETWORK SERVICE" | "NETWORKSERVICE" | "SERVICE RÉSEAU" | "NETZWERKDIENST" => {
            Some("S-1-5-20")
        }
        _ => None,
    }
}

/// Splits `DOMAIN\name` into its parts; a name without a backslash has no domain.
pub fn split_account(account: &str) -> (Option<&str>, &str) {
    match account.split_once('\\') {
        Some((domain, name)) => (Some(domain), name),
        None => (None, account),
    }
}

/// Formats a binary SID (`S-1-<authority>-<sub>...`). `None` if the bytes are not a SID
/// (wrong revision, or shorter than its sub-authority count says).
pub fn sid_to_string(bytes: &[u8]) -> Option<String> {
    let len = sid_len(bytes)?;
    let bytes = &bytes[..len];
    let count = usize::from(bytes[1]);
    let mut authority = 0u64;
    for b in &bytes[2..8] {
        authority = (authority << 8) | u64::from(*b);
    }
    let mut out = format!("S-1-{authority}");
    for i in 0..count {
        let at = 8 + 4 * i;
        let sub = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        out.push('-');
        out.push_str(&sub.to_string());
    }
    Some(out)
}

/// The length of the SID at the start of `bytes`, if it is one.
fn sid_len(bytes: &[u8]) -> Option<usize> {
    if bytes.len() < 8 || bytes[0] != 1 {
        return None;
    }
    let count = usize::from(bytes[1]);
    if count > 15 {
        return None;
    }
    let len = 8 + 4 * count;
    (bytes.len() >= len).then_some(len)
}

/// The user SID of a kernel ETW event property, as a string.
///
/// The NT Kernel Logger's `UserSID` is declared as a WBEM SID: a `TOKEN_USER` structure
/// (a SID pointer and an attributes word, two pointer sizes long on the logging machine)
/// followed by the SID itself. A plain SID (TDH's `SID` in-type) has no header. This
/// accepts both: it reads the SID after the header when that is where a valid one is,
/// and at the start otherwise. A null pointer in the header means no SID. Never panics.
pub fn sid_from_etw_bytes(bytes: &[u8], pointer_size: usize) -> Option<String> {
    let header = 2 * pointer_size;
    if bytes.len() > header {
        if bytes[..pointer_size].iter().all(|b| *b == 0) && sid_len(bytes).is_none() {
            return None;
        }
        if let Some(sid) = sid_to_string(&bytes[header..]) {
            return Some(sid);
        }
    }
    sid_to_string(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// S-1-5-21-1587066498-1489273250-1035260531-1106, the user01 SID in the
    /// DE_RDP_Tunnel_5156 sample, in its binary form.
    fn user01_sid() -> Vec<u8> {
        let mut b = vec![1u8, 5, 0, 0, 0, 0, 0, 5];
        for sub in [21u32, 1587066498, 1489273250, 1035260531, 1106] {
            b.extend_from_slice(&sub.to_le_bytes());
        }
        b
    }

    #[test]
    fn names_of_builtin_service_accounts_get_their_sids() {
        assert_eq!(
            well_known_sid(Some("NT AUTHORITY"), "SYSTEM"),
            Some("S-1-5-18")
        );
        assert_eq!(
            well_known_sid(Some("nt authority"), "Local Service"),
            Some("S-1-5-19")
        );
        assert_eq!(
            well_known_sid(Some("NT AUTHORITY"), "NETWORK SERVICE"),
            Some("S-1-5-20")
        );
        assert_eq!(
            well_known_sid(Some("AUTORITE NT"), "Système"),
            Some("S-1-5-18")
        );
        assert_eq!(well_known_sid(None, "SYSTEM"), Some("S-1-5-18"));
        // Other accounts have no fixed SID.
        assert_eq!(well_known_sid(Some("IIS APPPOOL"), "DefaultAppPool"), None);
        assert_eq!(well_known_sid(Some("IEWIN7"), "IEUser"), None);
        assert_eq!(well_known_sid(Some("EXAMPLE"), "SYSTEM"), None);
    }

    #[test]
    fn account_split() {
        assert_eq!(
            split_account(r"IIS APPPOOL\DefaultAppPool"),
            (Some("IIS APPPOOL"), "DefaultAppPool")
        );
        assert_eq!(split_account("IEUser"), (None, "IEUser"));
    }

    #[test]
    fn binary_sids_format() {
        assert_eq!(
            sid_to_string(&user01_sid()).as_deref(),
            Some("S-1-5-21-1587066498-1489273250-1035260531-1106")
        );
        assert_eq!(
            sid_to_string(&[1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0]).as_deref(),
            Some("S-1-5-18")
        );
        assert_eq!(
            sid_to_string(&[1, 2, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0]),
            None,
            "short"
        );
        assert_eq!(
            sid_to_string(&[2, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0]),
            None,
            "revision"
        );
        assert_eq!(sid_to_string(&[]), None);
    }

    #[test]
    fn etw_sids_with_and_without_token_user_header() {
        let sid = user01_sid();
        let want = Some("S-1-5-21-1587066498-1489273250-1035260531-1106".to_string());
        // 64-bit header: pointer (non-null), attributes, padding.
        let mut with64 = vec![0x10, 0x20, 0x30, 0x40, 0xff, 0xff, 0, 0];
        with64.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        with64.extend_from_slice(&sid);
        assert_eq!(sid_from_etw_bytes(&with64, 8), want);
        // 32-bit header.
        let mut with32 = vec![0x10, 0x20, 0x30, 0x40, 0, 0, 0, 0];
        with32.extend_from_slice(&sid);
        assert_eq!(sid_from_etw_bytes(&with32, 4), want);
        // A bare SID.
        assert_eq!(sid_from_etw_bytes(&sid, 8), want);
        // A null pointer: no SID follows.
        assert_eq!(sid_from_etw_bytes(&[0u8; 16], 8), None);
        // Garbage and truncation never panic.
        assert_eq!(sid_from_etw_bytes(&with64[..20], 8), None);
        assert_eq!(sid_from_etw_bytes(&[1], 8), None);
    }
}
