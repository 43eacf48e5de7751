//! Sigma field names to Picket's ECS paths, per log source product (the table in
//! docs/sigma.md). Follows the community's ECS mapping (pySigma's `ecs_windows`) where
//! Picket's events carry the field; a field no event of that product carries is `None`,
//! so the rule is refused instead of never matching. A table, no I/O.

/// Which hosts a rule's log source runs on (`host.os.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Product {
    Windows,
    Linux,
    Macos,
}

impl Product {
    pub(crate) fn parse(s: &str) -> Option<Product> {
        match s {
            "windows" => Some(Product::Windows),
            "linux" => Some(Product::Linux),
            "macos" => Some(Product::Macos),
            _ => None,
        }
    }

    /// The `host.os.type` value.
    pub(crate) fn os_type(self) -> &'static str {
        match self {
            Product::Windows => "windows",
            Product::Linux => "linux",
            Product::Macos => "macos",
        }
    }
}

/// Where a Sigma field's values are looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// Any of these ECS paths (one for most fields; two where Sysmon and Security 4688
    /// name the same thing differently).
    Paths(&'static [&'static str]),
    /// Windows `User`: `DOMAIN\name` from `user.domain` and `user.name`.
    WindowsUser,
    /// Sysmon's `Hashes` (`SHA1=…,MD5=…,IMPHASH=…`), split by Picket into
    /// `process.hash.*` and `process.pe.imphash`.
    Hashes,
}

/// The paths each hash algorithm went to (Picket lower-cases hash values).
pub(crate) const HASH_PATHS: &[(&str, &str)] = &[
    ("md5", "process.hash.md5"),
    ("sha1", "process.hash.sha1"),
    ("sha256", "process.hash.sha256"),
    ("imphash", "process.pe.imphash"),
];

/// The mapping of `field` for `product`; `None` when its events never carry it.
pub(crate) fn target(field: &str, product: Product) -> Option<Target> {
    use Target::Paths;
    // Fields every product's process starts carry (the Linux and macOS collectors, and
    // the process table for the parent).
    let common = match field {
        "Image" => Some(Paths(&["process.executable"])),
        "CommandLine" => Some(Paths(&["process.command_line"])),
        "ParentImage" => Some(Paths(&["process.parent.executable"])),
        "ParentCommandLine" => Some(Paths(&["process.parent.command_line"])),
        "CurrentDirectory" => Some(Paths(&["process.working_directory"])),
        "ProcessId" => Some(Paths(&["process.pid"])),
        "ParentProcessId" => Some(Paths(&["process.parent.pid"])),
        _ => None,
    };
    if common.is_some() {
        return common;
    }
    match product {
        Product::Linux | Product::Macos => match field {
            "User" => Some(Paths(&["user.name"])),
            _ => None,
        },
        Product::Windows => match field {
            "User" => Some(Target::WindowsUser),
            "Hashes" => Some(Target::Hashes),
            "OriginalFileName" => Some(Paths(&["process.pe.original_file_name"])),
            "Description" => Some(Paths(&["process.pe.description"])),
            "Product" => Some(Paths(&["process.pe.product"])),
            "Company" => Some(Paths(&["process.pe.company"])),
            "FileVersion" => Some(Paths(&["process.pe.file_version"])),
            "md5" => Some(Paths(&["process.hash.md5"])),
            "sha1" => Some(Paths(&["process.hash.sha1"])),
            "sha256" => Some(Paths(&["process.hash.sha256"])),
            "Imphash" => Some(Paths(&["process.pe.imphash"])),
            "ProcessGuid" => Some(Paths(&["process.entity_id"])),
            "ParentProcessGuid" => Some(Paths(&["process.parent.entity_id"])),
            // Raw event data of replayed Sysmon 1 / Security 4688 records.
            "IntegrityLevel" => Some(Paths(&[
                "winlog.event_data.IntegrityLevel",
                "winlog.event_data.MandatoryLabel",
            ])),
            "LogonId" => Some(Paths(&[
                "winlog.event_data.LogonId",
                "winlog.event_data.TargetLogonId",
            ])),
            "ParentUser" => Some(Paths(&["winlog.event_data.ParentUser"])),
            "LogonGuid" => Some(Paths(&["winlog.event_data.LogonGuid"])),
            "TerminalSessionId" => Some(Paths(&["winlog.event_data.TerminalSessionId"])),
            "Provider_Name" => Some(Paths(&["winlog.provider_name"])),
            _ => None,
        },
    }
}

/// The path a `fieldref` compares, where it differs from [`target`] (the Windows user
/// as one `DOMAIN\name` string, as Sysmon writes it beside `ParentUser`).
pub(crate) fn fieldref_paths(field: &str, product: Product) -> Option<&'static [&'static str]> {
    match target(field, product)? {
        Target::Paths(p) => Some(p),
        Target::WindowsUser => Some(&["winlog.event_data.User"]),
        Target::Hashes => Some(&["winlog.event_data.Hashes"]),
    }
}
