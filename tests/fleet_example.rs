//! The fleet example config is valid, and documents every DET0320 mutable element.

const FLEET: &str = include_str!("../packaging/config/fleet-example.toml");

#[test]
fn fleet_example_is_a_valid_config() {
    let config = picket::config::Config::from_toml_str(FLEET, "fleet-example.toml")
        .unwrap_or_else(|e| panic!("fleet example invalid:\n{e}"));
    assert_ne!(
        config,
        picket::config::Config::default(),
        "it changes something"
    );
}

#[test]
fn every_mutable_element_is_documented_with_its_default() {
    for element in [
        "UtilityNameList",
        "UserContextScope",
        "ExecutionFrequencyThreshold",
        "ShellCommandWatchlist",
        "TerminalBinaryDenylist",
        "CommandPatternList",
        "SuspiciousParentProcesses",
        "TimeWindow",
    ] {
        let comment = FLEET
            .lines()
            .skip_while(|l| !l.starts_with(&format!("# {element}:")))
            .take_while(|l| l.starts_with('#'))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(!comment.is_empty(), "{element} has a comment");
        assert!(
            comment.contains("efault"),
            "{element}'s comment names its default: {comment}"
        );
    }
}
