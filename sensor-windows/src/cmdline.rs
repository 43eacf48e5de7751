//! Splitting a Windows command line into argv the way `CommandLineToArgvW` does.
//!
//! Windows hands a process one string; each program splits it itself. Winlogbeat and
//! Elastic Defend fill `process.args` with the split that `CommandLineToArgvW` (shell32)
//! gives, so Picket does the same, without calling Windows, so replay works everywhere.
//!
//! The rules, as that function applies them:
//! - The first argument (the program) is special: if the line starts with `"`, it runs to
//!   the next `"` (backslashes are plain characters there); otherwise it runs to the first
//!   space or tab. A line starting with whitespace has an empty program name.
//! - Later arguments are separated by runs of spaces and tabs outside quotes.
//! - `2n` backslashes then `"` give `n` backslashes, and the `"` opens or closes quoting;
//!   `2n+1` backslashes then `"` give `n` backslashes and a literal `"`; backslashes not
//!   followed by `"` are literal.
//! - Inside quotes, runs of quotes count: every third quote of a run is a literal `"`, and
//!   a run that leaves two pending quotes ends the quoted part (so `""` is an empty
//!   argument, and `"a""b"` is `a"b`).

/// Splits `line` into arguments with `CommandLineToArgvW` rules. An empty line gives no
/// arguments (Windows would substitute the current program's path; a recorded event has
/// none to give).
///
/// Works on bytes: every byte the rules look at (space, tab, `"`, `\\`) is ASCII, and
/// no byte of a multi-byte UTF-8 character is, so each argument is cut at character
/// boundaries and stays UTF-8.
pub fn split_command_line(line: &str) -> Vec<String> {
    let bytes = line.as_bytes();
    let mut args = Vec::new();
    if bytes.is_empty() {
        return args;
    }
    let text = |v: Vec<u8>| {
        String::from_utf8(v).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    };
    let blank = |b: u8| b == b' ' || b == b'\t';

    // The program name.
    let mut i;
    if bytes[0] == b'"' {
        let end = bytes[1..]
            .iter()
            .position(|&b| b == b'"')
            .map_or(bytes.len(), |k| k + 1);
        args.push(line[1..end].to_string());
        i = (end + 1).min(bytes.len());
    } else {
        let end = bytes.iter().position(|&b| blank(b)).unwrap_or(bytes.len());
        args.push(line[..end].to_string());
        i = end;
    }
    while i < bytes.len() && blank(bytes[i]) {
        i += 1;
    }
    if i >= bytes.len() {
        return args;
    }

    // The other arguments.
    let mut current: Vec<u8> = Vec::new();
    let mut in_arg = true; // we stopped on a non-blank byte
    let mut quotes = 0u32; // pending quote count: odd = inside quotes
    let mut backslashes = 0usize;
    while i < bytes.len() {
        let c = bytes[i];
        if blank(c) && quotes == 0 {
            args.push(text(std::mem::take(&mut current)));
            while i < bytes.len() && blank(bytes[i]) {
                i += 1;
            }
            in_arg = i < bytes.len();
            backslashes = 0;
            continue;
        }
        match c {
            b'\\' => {
                current.push(b'\\');
                backslashes += 1;
                i += 1;
            }
            b'"' => {
                // The backslashes just copied: keep half of them.
                let keep = current.len() - backslashes + backslashes / 2;
                current.truncate(keep);
                if backslashes % 2 == 0 {
                    quotes += 1; // an opening or closing quote, not copied
                } else {
                    current.push(b'"'); // an escaped quote
                }
                backslashes = 0;
                i += 1;
                // A run of quotes: every third one is a literal quote.
                while i < bytes.len() && bytes[i] == b'"' {
                    quotes += 1;
                    if quotes == 3 {
                        current.push(b'"');
                        quotes = 0;
                    }
                    i += 1;
                }
                if quotes == 2 {
                    quotes = 0;
                }
            }
            _ => {
                // This byte (a blank here is inside quotes) and up to the next one the
                // rules look at, in one copy.
                let run = 1 + bytes[i + 1..]
                    .iter()
                    .position(|&b| matches!(b, b' ' | b'\t' | b'"' | b'\\'))
                    .unwrap_or(bytes.len() - i - 1);
                current.extend_from_slice(&bytes[i..i + run]);
                backslashes = 0;
                i += run;
            }
        }
    }
    if in_arg {
        args.push(text(current));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::split_command_line as split;

    // The first, char-by-char version of the rules, kept as the reference the byte
    // version must agree with.
    // Splits `line` into arguments with `CommandLineToArgvW` rules. An empty line gives no
    // arguments (Windows would substitute the current program's path; a recorded event has
    // none to give).
    fn reference(line: &str) -> Vec<String> {
        let chars: Vec<char> = line.chars().collect();
        let mut args = Vec::new();
        if chars.is_empty() {
            return args;
        }
        let mut i = 0;

        // The program name.
        let mut program = String::new();
        if chars[0] == '"' {
            i = 1;
            while i < chars.len() && chars[i] != '"' {
                program.push(chars[i]);
                i += 1;
            }
            if i < chars.len() {
                i += 1; // the closing quote
            }
        } else {
            while i < chars.len() && !is_blank(chars[i]) {
                program.push(chars[i]);
                i += 1;
            }
        }
        args.push(program);
        while i < chars.len() && is_blank(chars[i]) {
            i += 1;
        }
        if i >= chars.len() {
            return args;
        }

        // The other arguments.
        let mut current = String::new();
        let mut in_arg = true; // we stopped on a non-blank character
        let mut quotes = 0u32; // pending quote count: odd = inside quotes
        let mut backslashes = 0usize;
        while i < chars.len() {
            let c = chars[i];
            if is_blank(c) && quotes == 0 {
                args.push(std::mem::take(&mut current));
                while i < chars.len() && is_blank(chars[i]) {
                    i += 1;
                }
                in_arg = i < chars.len();
                backslashes = 0;
                continue;
            }
            match c {
                '\\' => {
                    current.push('\\');
                    backslashes += 1;
                    i += 1;
                }
                '"' => {
                    // The backslashes just copied: keep half of them.
                    let keep = current.len() - backslashes + backslashes / 2;
                    current.truncate(keep);
                    if backslashes % 2 == 0 {
                        quotes += 1; // an opening or closing quote, not copied
                    } else {
                        current.push('"'); // an escaped quote
                    }
                    backslashes = 0;
                    i += 1;
                    // A run of quotes: every third one is a literal quote.
                    while i < chars.len() && chars[i] == '"' {
                        quotes += 1;
                        if quotes == 3 {
                            current.push('"');
                            quotes = 0;
                        }
                        i += 1;
                    }
                    if quotes == 2 {
                        quotes = 0;
                    }
                }
                _ => {
                    current.push(c);
                    backslashes = 0;
                    i += 1;
                }
            }
        }
        if in_arg {
            args.push(current);
        }
        args
    }

    fn is_blank(c: char) -> bool {
        c == ' ' || c == '\t'
    }

    #[test]
    fn the_byte_version_agrees_with_the_reference_on_generated_lines() {
        // Deterministic lines over the bytes the rules care about and some that are
        // not ASCII.
        let alphabet = [" ", "\t", "\"", "\\", "a", "é", "€", "b c", "\\\""];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut line = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 12) as usize;
            let mut x = seed;
            for _ in 0..len {
                line.push_str(alphabet[(x % alphabet.len() as u64) as usize]);
                x /= alphabet.len() as u64;
                if x == 0 {
                    x = seed.rotate_left(7) | 1;
                }
            }
            assert_eq!(split(&line), reference(&line), "{line:?}");
        }
    }

    fn v(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sysmon_command_lines_from_the_iis_webshell_sample() {
        assert_eq!(
            split(r#""c:\windows\system32\cmd.exe" /c net user"#),
            v(&[r"c:\windows\system32\cmd.exe", "/c", "net", "user"])
        );
        // Two spaces between the words, as Sysmon recorded them.
        assert_eq!(split("net  user"), v(&["net", "user"]));
        assert_eq!(
            split(r"C:\Windows\system32\net1  user"),
            v(&[r"C:\Windows\system32\net1", "user"])
        );
    }

    #[test]
    fn w3wp_parent_command_line_keeps_unc_pipe_and_empty_argument() {
        let line = r#"c:\windows\system32\inetsrv\w3wp.exe -ap "DefaultAppPool" -v "v2.0" -l "webengine4.dll" -a \\.\pipe\iisipm719e5ea8-b97b-40d0-96b6-44cca91790fe -h "C:\inetpub\temp\apppools\DefaultAppPool\DefaultAppPool.config" -w "" -m 0 -t 20"#;
        assert_eq!(
            split(line),
            v(&[
                r"c:\windows\system32\inetsrv\w3wp.exe",
                "-ap",
                "DefaultAppPool",
                "-v",
                "v2.0",
                "-l",
                "webengine4.dll",
                "-a",
                r"\\.\pipe\iisipm719e5ea8-b97b-40d0-96b6-44cca91790fe",
                "-h",
                r"C:\inetpub\temp\apppools\DefaultAppPool\DefaultAppPool.config",
                "-w",
                "",
                "-m",
                "0",
                "-t",
                "20",
            ])
        );
    }

    #[test]
    fn backslash_rules() {
        // The documented CommandLineToArgvW examples (program name first).
        assert_eq!(split(r#"p "abc" d e"#), v(&["p", "abc", "d", "e"]));
        assert_eq!(
            split(r#"p a\\b d"e f"g h"#),
            v(&["p", r"a\\b", "de fg", "h"])
        );
        assert_eq!(split(r#"p a\\\"b c d"#), v(&["p", r#"a\"b"#, "c", "d"]));
        assert_eq!(split(r#"p a\\\\"b c" d e"#), v(&["p", r"a\\b c", "d", "e"]));
        // A trailing backslash before the closing quote of a path argument.
        assert_eq!(split(r#"p "C:\dir\\" x"#), v(&["p", r"C:\dir\", "x"]));
        assert_eq!(split(r#"p "C:\dir\" x"#), v(&["p", r#"C:\dir" x"#]));
    }

    #[test]
    fn quote_runs() {
        assert_eq!(split(r#"p "a""b""#), v(&["p", r#"a"b"#]));
        assert_eq!(split(r#"p """"#), v(&["p", r#"""#]));
        assert_eq!(split(r#"p a"" b"#), v(&["p", "a", "b"]));
        assert_eq!(split(r#"p """a b""""#), v(&["p", r#""a"#, r#"b""#]));
    }

    #[test]
    fn program_name_is_special() {
        // Backslash-quote is not an escape in the program name, and quoting can stop
        // in the middle of a word.
        assert_eq!(
            split(r#""C:\a b\x.exe"y z"#),
            v(&[r"C:\a b\x.exe", "y", "z"])
        );
        assert_eq!(split(r#"C:\a\"b c"#), v(&[r#"C:\a\"b"#, "c"]));
        assert_eq!(split(" leading"), v(&["", "leading"]));
        assert_eq!(split("\tp\t\tq\t"), v(&["", "p", "q"]));
    }

    #[test]
    fn empty_and_blank_lines() {
        assert!(split("").is_empty());
        assert_eq!(split("prog"), v(&["prog"]));
        assert_eq!(split("prog   "), v(&["prog"]));
        assert_eq!(
            split("netsh  I p a v l=8001"),
            v(&["netsh", "I", "p", "a", "v", "l=8001"])
        );
    }
}
