//! Helpers the analytics share: which platform an event is from, command-line forms,
//! PowerShell `-EncodedCommand` decoding, who and where.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use sensor_core::alert::{Technique, Threat};
use sensor_core::event::{file_name, Event};
use std::borrow::Cow;

/// The platform an event comes from, which decides the analytic that applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    /// Windows: AN0903.
    Windows,
    /// Linux: AN0904.
    Linux,
    /// macOS: AN0905.
    Macos,
}

impl Platform {
    /// `windows`, `linux`, `macos`.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Windows => "windows",
            Platform::Linux => "linux",
            Platform::Macos => "macos",
        }
    }

    /// The DET0320 analytic for the platform.
    pub fn analytic(self) -> &'static str {
        match self {
            Platform::Windows => "AN0903",
            Platform::Linux => "AN0904",
            Platform::Macos => "AN0905",
        }
    }

    fn from_word(w: &str) -> Option<Platform> {
        match w.to_ascii_lowercase().as_str() {
            "windows" => Some(Platform::Windows),
            "linux" | "debian" | "ubuntu" | "rhel" | "redhat" | "centos" | "fedora" | "suse"
            | "alpine" | "arch" | "freebsd" | "openbsd" | "netbsd" | "unix" => {
                Some(Platform::Linux)
            }
            "macos" | "darwin" | "osx" | "mac" => Some(Platform::Macos),
            _ => None,
        }
    }
}

/// Which platform `ev` is from:
/// 1. `host.os.type` (`windows`, `linux`, `macos`), then `host.os.family`; other Unix
///    systems (`freebsd`, `openbsd`, `netbsd`) take the Linux analytic, AN0904;
/// 2. the collector (`picket.collector`): `linux-ebpf` → Linux, `macos-eslogger` and
///    `replay-eslogger` → macOS, `windows-etw` and `replay-evtx` → Windows;
/// 3. the executable's path style: a drive letter or backslash, or a name ending in
///    `.exe` → Windows; `/System/`, `/Applications/`, `/Library/`, `/private/` or a
///    `.app/` bundle → macOS; any other absolute `/` path → Linux.
///
/// `None` when nothing tells; then no platform analytic runs (the Elastic rules and the
/// TimeWindow correlation still do).
pub fn platform_of(ev: &Event) -> Option<Platform> {
    if let Some(os) = &ev.host.os {
        if let Some(p) = os.os_type.as_deref().and_then(Platform::from_word) {
            return Some(p);
        }
        if let Some(p) = os.family.as_deref().and_then(Platform::from_word) {
            return Some(p);
        }
    }
    if let Some(c) = ev.picket.collector.as_deref() {
        match c {
            "linux-ebpf" => return Some(Platform::Linux),
            "macos-eslogger" | "replay-eslogger" => return Some(Platform::Macos),
            "windows-etw" | "replay-evtx" => return Some(Platform::Windows),
            _ => {}
        }
    }
    let path = ev
        .process
        .executable
        .as_deref()
        .or(ev.process.name.as_deref())?;
    let b = path.as_bytes();
    let drive = b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\';
    if drive || path.contains('\\') || ends_with_ci(path, ".exe") {
        return Some(Platform::Windows);
    }
    if ["/System/", "/Applications/", "/Library/", "/private/"]
        .iter()
        .any(|p| path.starts_with(p))
        || path.contains(".app/")
    {
        return Some(Platform::Macos);
    }
    path.starts_with('/').then_some(Platform::Linux)
}

/// The kind of device a log event is from, which decides AN0906 or AN0907.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Device {
    /// VMware ESXi (`observer.type: hypervisor`): AN0906.
    Esxi,
    /// A router, switch, firewall or other network device: AN0907.
    Network,
}

/// The device `ev` is a log event from: `observer.type` `hypervisor` → ESXi; `router`,
/// `switch`, `firewall`, `network` → a network device; only for the log actions
/// (`event.action` `command`, `login`, `session-start`, `session-end`). `None` for host
/// events.
pub fn device_of(ev: &Event) -> Option<Device> {
    let action = ev.event.action.as_deref()?;
    if !matches!(
        action,
        "command" | "login" | "session-start" | "session-end"
    ) {
        return None;
    }
    let kind = ev.observer.as_ref()?.kind.as_deref()?;
    if kind.eq_ignore_ascii_case("hypervisor") {
        return Some(Device::Esxi);
    }
    ["router", "switch", "firewall", "network"]
        .iter()
        .any(|k| kind.eq_ignore_ascii_case(k))
        .then_some(Device::Network)
}

/// Whether `ev` is one cloud API call (AN0908): `event.category` `api` from a cloud
/// (`cloud.provider` set, or `event.dataset` `aws.cloudtrail` / `gcp.audit`). Such an
/// event is `info`, never a process start.
pub fn is_cloud_api(ev: &Event) -> bool {
    if !ev
        .event
        .category
        .iter()
        .any(|c| c.eq_ignore_ascii_case("api"))
    {
        return false;
    }
    let provider = ev
        .cloud
        .as_ref()
        .and_then(|c| c.provider.as_deref())
        .is_some_and(|p| !p.trim().is_empty());
    provider
        || ev
            .event
            .dataset
            .as_deref()
            .is_some_and(|d| d == "aws.cloudtrail" || d == "gcp.audit")
}

/// ASCII case-insensitive `ends_with`.
pub fn ends_with_ci(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len()
        && s.as_bytes()[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

/// The command line as the event gives it: `process.command_line`, else the joined
/// args, else the executable or name.
pub fn command_line(ev: &Event) -> Cow<'_, str> {
    if let Some(c) = ev.process.command_line.as_deref().filter(|c| !c.is_empty()) {
        return Cow::Borrowed(c);
    }
    if !ev.process.args.is_empty() {
        return Cow::Owned(sensor_core::event::join_command_line(&ev.process.args));
    }
    Cow::Borrowed(
        ev.process
            .executable
            .as_deref()
            .or(ev.process.name.as_deref())
            .unwrap_or(""),
    )
}

/// Writes `s` into `out` with `"` and `^` removed and whitespace runs collapsed to one
/// space (case kept): the form regex patterns see.
pub fn clean_into(s: &str, out: &mut String) {
    out.clear();
    // Most command lines are already clean: then one scan and a copy instead of a push
    // per character.
    if is_clean_ascii(s.as_bytes()) {
        out.push_str(s);
        return;
    }
    if s.is_ascii() {
        // The same as below, a byte at a time (every ASCII byte is one character).
        let mut space = false;
        for &b in s.as_bytes() {
            match b {
                b'"' | b'^' => {}
                b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' => space = true,
                b => {
                    if space && !out.is_empty() {
                        out.push(' ');
                    }
                    space = false;
                    out.push(char::from(b));
                }
            }
        }
        return;
    }
    let mut space = false;
    for c in s.chars() {
        match c {
            '"' | '^' => {}
            c if c.is_whitespace() => space = true,
            c => {
                if space && !out.is_empty() {
                    out.push(' ');
                }
                space = false;
                out.push(c);
            }
        }
    }
}

/// Whether [`clean_into`] would copy `b` unchanged: ASCII with no `"` or `^`, and no
/// whitespace but single spaces between other characters.
fn is_clean_ascii(b: &[u8]) -> bool {
    // The ASCII characters `char::is_whitespace` holds for.
    let ws = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    if b.first().is_some_and(|&c| ws(c)) || b.last().is_some_and(|&c| ws(c)) {
        return false;
    }
    let mut prev_space = false;
    for &c in b {
        if c >= 0x80 || c == b'"' || c == b'^' || (ws(c) && (c != b' ' || prev_space)) {
            return false;
        }
        prev_space = c == b' ';
    }
    true
}

/// Characters that belong to a word for keyword boundaries.
pub fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'$') || b >= 0x80
}

/// Writes the keyword form of `s` into `out`: cleaned (see [`clean_into`]), lower case,
/// and `.exe` dropped where it ends a word (`NET.EXE use` → `net use`).
pub fn normalize_into(s: &str, clean: &mut String, out: &mut String) {
    clean_into(s, clean);
    out.clear();
    if clean.is_ascii() {
        out.push_str(clean);
        out.make_ascii_lowercase();
    } else {
        for c in clean.chars() {
            if c.is_ascii() {
                out.push(c.to_ascii_lowercase());
            } else {
                out.extend(c.to_lowercase());
            }
        }
    }
    // Drop ".exe" where it ends a word, in place.
    let mut from = 0;
    while let Some(at) = find_dot_exe(out.as_bytes(), from) {
        let ends_word = out.as_bytes().get(at + 4).is_none_or(|b| !is_word_byte(*b));
        if ends_word {
            out.replace_range(at..at + 4, "");
            from = at;
        } else {
            from = at + 1;
        }
    }
}

/// The first `.exe` in `b` at or after `from` (a byte scan: cheaper than a substring
/// searcher for lines this short).
fn find_dot_exe(b: &[u8], from: usize) -> Option<usize> {
    let rest = b.get(from..)?;
    rest.iter()
        .enumerate()
        .filter(|(_, &c)| c == b'.')
        .map(|(i, _)| from + i)
        .find(|&i| b.get(i + 1..i + 4) == Some(b"exe"))
}

/// The arguments of `ev`: `process.args`, or the command line split Windows-style
/// (whitespace outside double quotes).
pub fn args_of(ev: &Event) -> Cow<'_, [String]> {
    if !ev.process.args.is_empty() {
        return Cow::Borrowed(&ev.process.args);
    }
    let line = ev.process.command_line.as_deref().unwrap_or("");
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    Cow::Owned(out)
}

/// ASCII case-insensitive `starts_with` (`prefix` in lower case).
pub fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// ASCII case-insensitive `contains`, without allocating.
pub fn contains_ci(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let Some(&first) = n.first() else {
        return true;
    };
    if h.len() < n.len() {
        return false;
    }
    // Compare in full only where the first byte matches.
    let first = first.to_ascii_lowercase();
    (0..=h.len() - n.len())
        .any(|i| h[i].to_ascii_lowercase() == first && h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// Decodes a PowerShell `-EncodedCommand` payload if `ev` is PowerShell with one.
pub fn encoded_powershell(ev: &Event) -> Option<String> {
    let name = ev
        .process
        .name
        .as_deref()
        .or(ev.process.executable.as_deref().map(file_name))?;
    let is_ps = starts_with_ci(name, "powershell") || starts_with_ci(name, "pwsh");
    let line_mentions = || {
        ev.process
            .command_line
            .as_deref()
            .is_some_and(|c| contains_ci(c, "powershell") || contains_ci(c, "pwsh"))
    };
    if !is_ps && !line_mentions() {
        return None;
    }
    let args = args_of(ev);
    let mut iter = args.iter();
    while let Some(a) = iter.next() {
        let Some(flag) = a.strip_prefix('-').or_else(|| a.strip_prefix('/')) else {
            continue;
        };
        let flag = flag.to_ascii_lowercase();
        let is_enc =
            flag == "ec" || (flag.starts_with('e') && "encodedcommand".starts_with(flag.as_str()));
        if is_enc {
            let payload = iter.next()?;
            return decode_utf16le_base64(payload);
        }
    }
    None
}

/// Base64 as .NET's `Convert.FromBase64String` reads it, which is what PowerShell runs
/// an `-EncodedCommand` payload through: the standard alphabet only (no URL-safe `-`
/// or `_`), `=` padding to a multiple of four required, unused trailing bits not
/// checked. Whitespace is removed before decoding ([`decode_utf16le_base64`]).
const POWERSHELL_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical)
        .with_decode_allow_trailing_bits(true),
);

/// An `-EncodedCommand` payload (Base64 of UTF-16LE text) → the text, or `None` when
/// PowerShell would refuse it: a payload it cannot decode never ran.
pub fn decode_utf16le_base64(s: &str) -> Option<String> {
    let compact: String = s
        .chars()
        .filter(|c| !matches!(c, ' ' | '\t' | '\r' | '\n'))
        .collect();
    let bytes = POWERSHELL_BASE64.decode(compact).ok()?;
    if bytes.len() < 2 {
        return None;
    }
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let text = String::from_utf16_lossy(&units);
    (!text.trim().is_empty()).then_some(text)
}

/// Encodes text as PowerShell's `-EncodedCommand` expects (for tests and fixtures).
pub fn encode_utf16le_base64(text: &str) -> String {
    let bytes: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    POWERSHELL_BASE64.encode(bytes)
}

/// The host an event is from, for state keys: `host.id`, else `host.name`.
pub fn host_key(ev: &Event) -> &str {
    ev.host
        .id
        .as_deref()
        .or(ev.host.name.as_deref())
        .unwrap_or("")
}

/// The host's name for messages.
pub fn host_label(ev: &Event) -> &str {
    ev.host
        .name
        .as_deref()
        .or(ev.host.id.as_deref())
        .unwrap_or("an unnamed host")
}

/// The effective user: (`user.effective.id`, `user.effective.name`), each falling back
/// to `user.id` / `user.name`.
pub fn effective_user(ev: &Event) -> (Option<&str>, Option<&str>) {
    let eff = ev.user.effective.as_ref();
    let id = eff.and_then(|u| u.id.as_deref()).or(ev.user.id.as_deref());
    let name = eff
        .and_then(|u| u.name.as_deref())
        .or(ev.user.name.as_deref());
    (id, name)
}

/// The user an event runs as, for state keys (effective id, else name, with domain).
pub fn user_key(ev: &Event) -> Cow<'_, str> {
    let (id, name) = effective_user(ev);
    match (id, name) {
        (Some(id), _) => Cow::Borrowed(id),
        (None, Some(name)) => match ev.user.domain.as_deref() {
            Some(d) => Cow::Owned(format!("{d}\\{name}")),
            None => Cow::Borrowed(name),
        },
        (None, None) => Cow::Borrowed(""),
    }
}

/// The user for messages: `DOMAIN\name (id)`, `name (uid 1000)`, or `an unknown user`.
pub fn user_label(ev: &Event) -> String {
    let (id, name) = effective_user(ev);
    let name = name.map(|n| match ev.user.domain.as_deref() {
        Some(d) if !d.is_empty() => format!("{d}\\{n}"),
        _ => n.to_string(),
    });
    match (name, id) {
        (Some(n), Some(id)) if id.parse::<u32>().is_ok() => format!("{n} (uid {id})"),
        (Some(n), Some(id)) => format!("{n} ({id})"),
        (Some(n), None) => n,
        (None, Some(id)) if id.parse::<u32>().is_ok() => format!("uid {id}"),
        (None, Some(id)) => id.to_string(),
        (None, None) => "an unknown user".to_string(),
    }
}

/// The ancestor chain, nearest first, as (name, executable): `picket.ancestors`, or
/// the parent alone when the process table had nothing.
pub fn ancestor_chain(ev: &Event) -> Vec<(&str, &str)> {
    if !ev.picket.ancestors.is_empty() {
        return ev
            .picket
            .ancestors
            .iter()
            .map(|a| {
                let exe = a.executable.as_deref().unwrap_or("");
                let name = a.name.as_deref().unwrap_or_else(|| file_name(exe));
                (name, exe)
            })
            .collect();
    }
    match ev.process.parent.as_deref() {
        Some(p) if p.name.is_some() || p.executable.is_some() => {
            let exe = p.executable.as_deref().unwrap_or("");
            let name = p.name.as_deref().unwrap_or_else(|| file_name(exe));
            vec![(name, exe)]
        }
        _ => Vec::new(),
    }
}

/// A technique reference.
pub fn technique(id: &str, name: &str) -> Technique {
    let path = id.replace('.', "/");
    Technique {
        id: id.into(),
        name: name.into(),
        reference: format!("https://attack.mitre.org/techniques/{path}/"),
    }
}

/// A tactic reference.
pub fn tactic(id: &str, name: &str) -> Technique {
    Technique {
        id: id.into(),
        name: name.into(),
        reference: format!("https://attack.mitre.org/tactics/{id}/"),
    }
}

/// T1049 under Discovery.
pub fn t1049() -> Threat {
    Threat {
        framework: "MITRE ATT&CK".into(),
        technique: vec![technique("T1049", "System Network Connections Discovery")],
        tactic: Some(tactic("TA0007", "Discovery")),
    }
}

/// Shortens attacker-controlled text for a one-line message.
pub fn short(s: &str) -> String {
    const MAX: usize = 200;
    // Most command lines are short and plain: no byte that starts a control character
    // (C0, DEL, or 0xC2, the lead of C1 and of a few printable ones) means none is there.
    if s.len() <= MAX && !s.bytes().any(|b| b < 0x20 || b == 0x7f || b == 0xc2) {
        return s.to_string();
    }
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= MAX {
        one_line
    } else {
        let mut out: String = one_line.chars().take(MAX).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_makes_one_line_of_at_most_200_characters() {
        assert_eq!(short("netstat -ant"), "netstat -ant");
        assert_eq!(short("a\tb\nc\u{7f}d"), "a b c d");
        // U+0085 is a C1 control; U+00A0 shares its lead byte but is printable.
        assert_eq!(short("x\u{85}y\u{a0}z"), "x y\u{a0}z");
        let long = "é".repeat(150);
        assert_eq!(short(&long), long, "150 characters in 300 bytes stay whole");
        let longer = "b".repeat(201);
        assert_eq!(short(&longer), format!("{}…", "b".repeat(200)));
    }

    #[test]
    fn normalisation() {
        let (mut c, mut n) = (String::new(), String::new());
        normalize_into(
            r#""C:\Windows\System32\NET.EXE"   USE  \\srv\c$"#,
            &mut c,
            &mut n,
        );
        assert_eq!(n, r"c:\windows\system32\net use \\srv\c$");
        normalize_into("cmd /c set > netstat.txt", &mut c, &mut n);
        assert_eq!(n, "cmd /c set > netstat.txt");
        normalize_into("n^e^t^s^t^a^t.exe.exe -ano", &mut c, &mut n);
        assert_eq!(n, "netstat.exe -ano");
        // The already-clean fast path and the general one agree.
        for line in [
            "netstat -ano",
            " netstat -ano",
            "netstat -ano ",
            "netstat\t-ano",
            "netstat\u{0b}-ano",
            "netstat  -ano",
            "net.exe use",
            "NET.EXE.exe",
            "a.exe",
            "x.exefoo.exe",
            "Ünïcode.EXE -a",
        ] {
            let mut slow = String::new();
            let mut space = false;
            for ch in line.chars() {
                match ch {
                    '"' | '^' => {}
                    ch if ch.is_whitespace() => space = true,
                    ch => {
                        if space && !slow.is_empty() {
                            slow.push(' ');
                        }
                        space = false;
                        slow.push(ch);
                    }
                }
            }
            clean_into(line, &mut c);
            assert_eq!(c, slow, "{line:?}");
        }
        normalize_into("x.exefoo.exe", &mut c, &mut n);
        assert_eq!(n, "x.exefoo");
    }

    #[test]
    fn encoded_command_round_trip() {
        let enc = encode_utf16le_base64("Get-NetTCPConnection | Select LocalPort");
        assert_eq!(
            decode_utf16le_base64(&enc).as_deref(),
            Some("Get-NetTCPConnection | Select LocalPort")
        );
        assert_eq!(decode_utf16le_base64("!!!"), None);
    }

    #[test]
    fn encoded_command_is_read_as_powershell_reads_it() {
        let text = "ss ??? >>> ~~~ ||| \u{ff}";
        let enc = encode_utf16le_base64(text);
        assert_eq!(
            enc,
            "cwBzACAAPwA/AD8AIAA+AD4APgAgAH4AfgB+ACAAfAB8AHwAIAD/AA=="
        );
        // Whitespace anywhere is ignored, as Convert.FromBase64String does.
        let spaced = format!(" {}\r\n\t{} ", &enc[..10], &enc[10..]);
        assert_eq!(decode_utf16le_base64(&spaced).as_deref(), Some(text));
        // PowerShell refuses these, so they never ran: no decoded text to match on.
        let url_safe = enc.replace('+', "-").replace('/', "_");
        assert_ne!(url_safe, enc);
        assert_eq!(decode_utf16le_base64(&url_safe), None, "URL-safe alphabet");
        let unpadded = enc.trim_end_matches('=');
        assert_eq!(decode_utf16le_base64(unpadded), None, "missing padding");
        assert_eq!(
            decode_utf16le_base64(&enc[..enc.len() - 5]),
            None,
            "bad length"
        );
        assert_eq!(
            decode_utf16le_base64(&format!("{enc}AAAA")),
            None,
            "data after padding"
        );
        assert_eq!(
            decode_utf16le_base64(&format!("'{enc}'")),
            None,
            "quotes are not Base64"
        );
        // .NET does not check the unused bits of the last character: "QR==" is 'A'.
        assert_eq!(POWERSHELL_BASE64.decode("QR==").ok(), Some(b"A".to_vec()));
    }
}
