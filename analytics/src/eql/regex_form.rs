//! A `regex` operand compiled for speed: rewritten to the regex to search for, and read
//! for the literals every match contains, so the rule index can offer a regex rule only
//! to events holding one of them.
//!
//! Soundness of the literals: every string the regex matches contains one of them after
//! [`fold`](crate::glob::fold). Folding is per character, so the fold of a match is made
//! of the folds of its characters; a character class's alternatives are folded the same
//! way, which is why a case-insensitive `[Pp]` gives the single literal `p`.

use regex_syntax::hir::{Class, Hir, HirKind};

/// The most alternatives a literal set may have before it is not worth indexing.
const MAX_ALTERNATIVES: usize = 16;
/// The most characters of a class expanded into alternatives.
const MAX_CLASS_CHARS: usize = 4;
/// The shortest literal worth an atom: one character is in nearly every command line.
const MIN_LITERAL_CHARS: usize = 2;
/// How many copies of a repeated literal are required (`[ ]{20,}` needs 16 spaces).
const MAX_REPEAT: u32 = 16;

/// The anchored EQL `pattern` as the regex to search for, and the folded literals of
/// which every match contains one (`None`: no such literals). A leading or trailing run
/// of any character (`.*`, as Sigma's searching regexes and many Elastic ones are
/// written) is dropped with its anchor, so the search starts at a literal and stops at
/// the first hit instead of running the whole value through `^.*x.*$`. A pattern that
/// does not parse stays as written, for the regex builder to report.
pub(super) fn search_form(pattern: &str, ci: bool) -> (String, Option<Vec<String>>) {
    let anchored = || format!("^(?:{pattern})$");
    let parsed = regex_syntax::ParserBuilder::new()
        .case_insensitive(ci)
        .dot_matches_new_line(true)
        .build()
        .parse(pattern);
    let Ok(hir) = parsed else {
        return (anchored(), None);
    };
    let literals = required(&hir).filter(|set| {
        !set.is_empty()
            && set.len() <= MAX_ALTERNATIVES
            && set.iter().all(|l| l.chars().count() >= MIN_LITERAL_CHARS)
    });
    let HirKind::Concat(subs) = hir.into_kind() else {
        return (anchored(), literals);
    };
    let open_start = subs.first().is_some_and(is_any_run);
    let open_end = subs.len() > 1 && subs.last().is_some_and(is_any_run);
    if !open_start && !open_end {
        return (anchored(), literals);
    }
    let (from, to) = (usize::from(open_start), subs.len() - usize::from(open_end));
    let rest = Hir::concat(subs.into_iter().take(to).skip(from).collect());
    // The printed HIR is case-folded already (`[Kk\u{212A}]`): `(?-i)` spares the
    // builder folding its classes again, which for wide ones costs millions of steps.
    let searched = format!(
        "(?-i){}(?:{rest}){}",
        if open_start { "" } else { "^" },
        if open_end { "" } else { "$" }
    );
    (searched, literals)
}

/// `.*` with `.` matching every character: zero or more of anything.
fn is_any_run(h: &Hir) -> bool {
    let HirKind::Repetition(rep) = h.kind() else {
        return false;
    };
    if rep.min != 0 || rep.max.is_some() {
        return false;
    }
    match rep.sub.kind() {
        HirKind::Class(Class::Unicode(c)) => {
            matches!(c.ranges(), [r] if r.start() == '\0' && r.end() == char::MAX)
        }
        HirKind::Class(Class::Bytes(c)) => {
            matches!(c.ranges(), [r] if r.start() == 0 && r.end() == u8::MAX)
        }
        _ => false,
    }
}

/// The folded strings `h` matches, when they are few: a literal, a small class, and
/// concatenations and alternations of them. Zero-width assertions match `""`.
fn exact(h: &Hir) -> Option<Vec<String>> {
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(vec![String::new()]),
        HirKind::Literal(lit) => Some(vec![fold_str(std::str::from_utf8(&lit.0).ok()?)]),
        HirKind::Class(Class::Unicode(c)) => {
            let count: u32 = (c.ranges().iter())
                .map(|r| u32::from(r.end()) - u32::from(r.start()) + 1)
                .sum();
            if count as usize > MAX_CLASS_CHARS {
                return None;
            }
            let chars = c.ranges().iter().flat_map(|r| r.start()..=r.end());
            Some(dedup(chars.map(|ch| fold_str(ch.encode_utf8(&mut [0; 4])))))
        }
        HirKind::Class(Class::Bytes(_)) | HirKind::Repetition(_) => None,
        HirKind::Capture(cap) => exact(&cap.sub),
        HirKind::Concat(subs) => subs
            .iter()
            .try_fold(vec![String::new()], |acc, sub| product(&acc, &exact(sub)?)),
        HirKind::Alternation(subs) => {
            let mut all = Vec::new();
            for sub in subs {
                all.extend(exact(sub)?);
            }
            let all = dedup(all.into_iter());
            (all.len() <= MAX_ALTERNATIVES).then_some(all)
        }
    }
}

/// Folded literals of which every match of `h` contains one; the most selective set
/// found (longest shortest literal, then fewest alternatives).
fn required(h: &Hir) -> Option<Vec<String>> {
    if let Some(set) = exact(h).filter(|s| s.iter().all(|l| !l.is_empty())) {
        return Some(set);
    }
    match h.kind() {
        HirKind::Capture(cap) => required(&cap.sub),
        HirKind::Repetition(rep) if rep.min >= 1 => match exact(&rep.sub) {
            Some(set) if set.len() == 1 => {
                let copies = rep.min.min(MAX_REPEAT) as usize;
                Some(vec![set[0].repeat(copies)]).filter(|s| !s[0].is_empty())
            }
            _ => required(&rep.sub),
        },
        HirKind::Alternation(subs) => {
            let mut all = Vec::new();
            for sub in subs {
                all.extend(required(sub)?);
            }
            Some(dedup(all.into_iter()))
        }
        HirKind::Concat(subs) => {
            // A run of subexpressions with few strings spells what that stretch of every
            // match is; any run, or any one subexpression's literals, will do.
            let mut best: Option<Vec<String>> = None;
            let mut run: Option<Vec<String>> = None;
            let consider = |set: Vec<String>, best: &mut Option<Vec<String>>| {
                if set.iter().all(|l| !l.is_empty())
                    && best.as_ref().is_none_or(|b| rank(&set) > rank(b))
                {
                    *best = Some(set);
                }
            };
            for sub in subs {
                match exact(sub) {
                    Some(set) => {
                        // Too many strings to join: the run so far ends, a new one starts.
                        run = Some(match run.take() {
                            None => set,
                            Some(r) => product(&r, &set).unwrap_or_else(|| {
                                consider(r, &mut best);
                                set
                            }),
                        });
                    }
                    None => {
                        if let Some(r) = run.take() {
                            consider(r, &mut best);
                        }
                        if let Some(set) = required(sub) {
                            consider(set, &mut best);
                        }
                    }
                }
            }
            if let Some(r) = run {
                consider(r, &mut best);
            }
            best
        }
        _ => None,
    }
}

/// How selective a literal set is: its shortest literal's length, then fewer
/// alternatives.
fn rank(set: &[String]) -> (usize, std::cmp::Reverse<usize>) {
    let shortest = set.iter().map(|l| l.chars().count()).min().unwrap_or(0);
    (shortest, std::cmp::Reverse(set.len()))
}

/// Every `a` followed by every `b`, when there are few.
fn product(a: &[String], b: &[String]) -> Option<Vec<String>> {
    if a.len() * b.len() > MAX_ALTERNATIVES {
        return None;
    }
    Some(dedup(
        a.iter()
            .flat_map(|x| b.iter().map(move |y| format!("{x}{y}"))),
    ))
}

fn dedup(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = items.collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn fold_str(s: &str) -> String {
    crate::glob::fold(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literals(p: &str, ci: bool) -> Option<Vec<String>> {
        search_form(p, ci).1
    }

    #[test]
    fn runs_of_anything_at_either_end_are_dropped_with_their_anchor() {
        // (pattern, rewritten to start or end open, a value it holds for, one it does not)
        let cases = [
            (".*abc.*", (true, true), "xxabcxx", "xxabxx"),
            ("(?s:.*)x[0-9]+", (true, false), "zzx12", "zzx12z"),
            ("abc.*", (false, true), "abcz", "zabc"),
            ("(?s:.*)(?-s:a.b)(?s:.*)", (true, true), "xxa-bxx", "a\nb"),
        ];
        for (pattern, open, hit, miss) in cases {
            let (searched, _) = search_form(pattern, false);
            let body = searched.strip_prefix("(?-i)").unwrap_or(&searched);
            assert_eq!(
                (!body.starts_with('^'), !body.ends_with('$')),
                open,
                "{pattern} as {searched}"
            );
            let re = regex::Regex::new(&searched).expect("valid");
            assert!(
                re.is_match(hit) && !re.is_match(miss),
                "{pattern} as {searched}"
            );
        }
        // A run inside an alternation is not at the pattern's end.
        assert_eq!(search_form("a|b.*", false).0, "^(?:a|b.*)$");
        assert_eq!(search_form("(", false).0, "^(?:()$");
    }

    #[test]
    fn every_match_contains_one_of_the_literals() {
        assert_eq!(
            literals(r"\$PSHome\[\s*\d{1,3}\s*\]", true),
            Some(vec!["$pshome[".to_string(), "$p\u{17f}home[".to_string()])
        );
        assert_eq!(literals(".*[ ]{20,}.*", false), Some(vec![" ".repeat(16)]));
        assert_eq!(
            literals("(?:foo|bar)x", false),
            Some(vec!["barx".into(), "foox".into()])
        );
        assert_eq!(
            literals(r"\w+`(?:\w+|-|.)`", false),
            None,
            "a single backquote is too short to be worth indexing"
        );
        assert_eq!(literals(".*[0-9]+.*", false), None);
        assert_eq!(literals("ab|.*", false), None);
        assert_eq!(literals("(?i)NET1?\\.exe", false).map(|v| v.len()), Some(1));
    }

    /// Every string of up to four characters over a small alphabet (case pairs, a
    /// newline, the long s and the Kelvin sign, whose folds are special): the searched
    /// form matches exactly what the anchored pattern matches, and every match holds one
    /// of the literals after folding.
    #[test]
    fn the_searched_form_and_the_literals_agree_with_the_pattern_on_every_short_string() {
        let alphabet = [
            'a', 'A', 'b', 'B', '.', ' ', '\n', '1', 's', '\u{17f}', 'k', '\u{212A}',
        ];
        let patterns = [
            (".*ab.*", false),
            (".*ab.*", true),
            ("(?s:.*)(?-s:a.b)(?s:.*)", true),
            ("a|b.*", false),
            ("(?:ab|ba)[ ]{2,}.*", false),
            (".*[Ss]k.*", true),
            ("a.*b", true),
            (".*\\.1", false),
            ("(ab)+ ?(?:ks|1)", true),
        ];
        let mut strings = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = (strings.iter())
                .filter(|s| s.chars().count() == strings.last().map_or(0, |l| l.chars().count()))
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            strings.extend(longer);
        }
        for (pattern, ci) in patterns {
            let build = |p: &str| {
                regex::RegexBuilder::new(p)
                    .case_insensitive(ci)
                    .dot_matches_new_line(true)
                    .build()
                    .expect("valid")
            };
            let anchored = build(&format!("^(?:{pattern})$"));
            let (searched, literals) = search_form(pattern, ci);
            let searched_re = build(&searched);
            for s in &strings {
                let hit = anchored.is_match(s);
                assert_eq!(
                    searched_re.is_match(s),
                    hit,
                    "{pattern} as {searched} on {s:?}"
                );
                if let (true, Some(lits)) = (hit, &literals) {
                    let folded = crate::glob::fold(s);
                    assert!(
                        lits.iter().any(|l| folded.contains(l.as_str())),
                        "{pattern}: {s:?} holds none of {lits:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_literals_hold_for_matching_values() {
        let cases = [
            (
                r"\$env:ComSpec\[(?:\s*\d{1,3}\s*,){2}",
                true,
                "$ENV:comspec[4, 15,",
            ),
            (
                r".*[Ss]ystem32\\[a-z]+\.exe",
                false,
                r"C:\Windows\System32\net.exe",
            ),
            ("k+elvin", true, "\u{212A}ELVIN"),
        ];
        for (p, ci, value) in cases {
            let (searched, lits) = search_form(p, ci);
            let re = regex::RegexBuilder::new(&searched)
                .case_insensitive(ci)
                .build()
                .expect("valid");
            assert!(re.is_match(value), "{p} as {searched} matches {value}");
            let folded = crate::glob::fold(value);
            let lits = lits.expect("literals");
            assert!(
                lits.iter().any(|l| folded.contains(l.as_str())),
                "{value} holds one of {lits:?}"
            );
        }
    }
}
