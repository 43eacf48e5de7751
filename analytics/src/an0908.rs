//! AN0908 (IaaS): enumeration of cloud networks (VPCs, subnets, network interfaces,
//! route tables, security groups, peerings, gateways, load balancers, Direct Connect)
//! through the providers' APIs, on cloud audit events (one API call = one event,
//! `event.category: api`: AWS CloudTrail, GCP Cloud Audit Logs), and through the cloud
//! CLIs on hosts of any OS ([`crate::cloud_cli`]).
//!
//! - The API list: (`event.provider`, `event.action`) pairs, per service; GCP method
//!   names without their version prefix (`v1.compute.networks.list` is
//!   `networks.list`).
//! - Origin: the user agent's class (`cli`, `sdk`, `iac`, `console`, `service`,
//!   `unknown`); calls from origins out of scope are counted and left.
//! - `ServicePrincipalAllowlist`: allowlisted principals (ARN globs, role names, session
//!   names, account ids, GCP service accounts; service-linked roles and AWS's own calls
//!   by default) raise nothing and count toward no burst.
//! - Single calls: a person's call from a `single_call_origins` origin (the CLI) gives a
//!   low alert, medium when denied; SDK and IaC calls only count toward bursts.
//! - `BurstQueryThreshold`: distinct APIs or calls within a window, per principal and
//!   per source address, give one alert per burst; later calls fold into it until the
//!   window passes quiet ([`BurstState`], bounded, on the events' own clock).
//! - Denied calls raise severity: a burst with enough of them is high.

use crate::cloud_cli::CloudCli;
use crate::common::short;
use crate::config::{An0908Config, ApiOrigin};
use crate::glob::{Glob, GlobList};
use crate::hit::Hit;
use chrono::{DateTime, TimeDelta, Utc};
use sensor_core::alert::Severity;
use sensor_core::event::{Event, FieldValue};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::net::IpAddr;

/// Most principals and source addresses whose recent calls are remembered; past this
/// the one idle longest is dropped (counted in `state_evictions`).
pub(crate) const MAX_BURST_KEYS: usize = 16_384;

/// Most recent calls one principal or address keeps (enough for any `calls` threshold).
const MAX_CALLS_PER_KEY: usize = 10_000;

/// Most earlier calls a burst alert carries in `picket.related_events`.
const MAX_RELATED: usize = 20;

/// Most distinct API names a burst alert lists in its message.
const MAX_NAMED_APIS: usize = 12;

/// Most principals a source-address burst names in its message.
const MAX_NAMED_PRINCIPALS: usize = 5;

/// A cloud trail arrives minutes after the calls it records, so windows run on the
/// calls' own clock: state expires by the latest call seen, or, when no call came for
/// this long, by the tick's clock less this.
const MAX_SOURCE_LAG: TimeDelta = TimeDelta::hours(1);

/// The APIs of one service.
#[derive(Debug, Clone, Default)]
struct ServiceApis {
    exact: HashSet<String>,
    globs: Vec<Glob>,
    /// GCP: the service's short name (`compute`), stripped from method names.
    gcp_label: Option<String>,
}

/// Strips a GCP method's version prefix (`v1.`, `beta.`, `alpha.`, `v1beta1.`) and the
/// service's short name (`compute.`).
fn gcp_method<'a>(method: &'a str, label: &str) -> &'a str {
    let mut m = method;
    if let Some((head, rest)) = m.split_once('.') {
        let h = head.to_ascii_lowercase();
        let version = h == "beta"
            || h == "alpha"
            || (h.starts_with('v') && h[1..].starts_with(|c: char| c.is_ascii_digit()));
        if version {
            m = rest;
        }
    }
    if let Some((head, rest)) = m.split_once('.') {
        if head.eq_ignore_ascii_case(label) {
            m = rest;
        }
    }
    m
}

impl ServiceApis {
    fn matches(&self, action: &str) -> bool {
        let a = match &self.gcp_label {
            Some(label) => gcp_method(action, label),
            None => action,
        };
        self.exact.contains(&a.to_lowercase()) || self.globs.iter().any(|g| g.matches(a))
    }
}

/// Who made a call, read once per event from the cloud fields.
#[derive(Debug, Default)]
pub(crate) struct Principal<'a> {
    /// `user.id`, else the identity ARN, else `user.name`.
    pub(crate) id: Option<&'a str>,
    pub(crate) name: Option<&'a str>,
    /// `aws.cloudtrail.user_identity.type` (`IAMUser`, `AssumedRole`, `AWSService`, ...).
    pub(crate) kind: Option<&'a str>,
    pub(crate) arn: Option<&'a str>,
    pub(crate) issuer_arn: Option<&'a str>,
    pub(crate) role: Option<String>,
    pub(crate) session: Option<String>,
    pub(crate) account: Option<&'a str>,
    pub(crate) invoked_by: Option<&'a str>,
    pub(crate) email: Option<&'a str>,
}

fn str_field<'a>(ev: &'a Event, path: &str) -> Option<&'a str> {
    match ev.field(path) {
        FieldValue::Str(s) if !s.trim().is_empty() => Some(s),
        _ => None,
    }
}

fn true_field(ev: &Event, path: &str) -> bool {
    match ev.field(path) {
        FieldValue::Str(s) => s.eq_ignore_ascii_case("true"),
        FieldValue::Bool(b) => b,
        _ => false,
    }
}

/// The role and session of an `assumed-role/ROLE/SESSION` ARN, or the role of a
/// `role/PATH/ROLE` ARN.
fn role_of_arn(arn: &str) -> (Option<&str>, Option<&str>) {
    let Some(resource) = arn.splitn(6, ':').nth(5) else {
        return (None, None);
    };
    if let Some(rest) = resource.strip_prefix("assumed-role/") {
        let mut parts = rest.splitn(2, '/');
        return (parts.next(), parts.next());
    }
    if let Some(rest) = resource.strip_prefix("role/") {
        return (rest.rsplit('/').next(), None);
    }
    (None, None)
}

impl<'a> Principal<'a> {
    pub(crate) fn of(ev: &'a Event) -> Principal<'a> {
        let ui = "aws.cloudtrail.user_identity";
        let arn = str_field(ev, &format!("{ui}.arn"));
        let issuer_arn = str_field(ev, &format!("{ui}.session_context.session_issuer.arn"));
        let issuer_name = str_field(
            ev,
            &format!("{ui}.session_context.session_issuer.user_name"),
        );
        let user_id = ev.user.id.as_deref().filter(|s| !s.trim().is_empty());
        let name = ev.user.name.as_deref().filter(|s| !s.trim().is_empty());
        let kind = str_field(ev, &format!("{ui}.type"));
        let (arn_role, arn_session) = user_id.or(arn).map(role_of_arn).unwrap_or_default();
        let role = issuer_name
            .or(arn_role)
            .or_else(|| issuer_arn.and_then(|a| role_of_arn(a).0))
            .map(str::to_string);
        let session = arn_session
            .or_else(|| {
                (kind == Some("AssumedRole"))
                    .then_some(name)
                    .flatten()
                    .filter(|n| Some(*n) != issuer_name)
            })
            .map(str::to_string);
        let email = str_field(ev, "gcp.audit.authentication_info.principal_email").or_else(|| {
            let gcp = ev
                .cloud
                .as_ref()
                .and_then(|c| c.provider.as_deref())
                .is_some_and(|p| p.eq_ignore_ascii_case("gcp"));
            gcp.then_some(user_id.or(name)).flatten()
        });
        Principal {
            id: user_id.or(arn).or(email).or(name),
            name,
            kind,
            arn: arn.or(user_id.filter(|u| u.starts_with("arn:"))),
            issuer_arn,
            role,
            session,
            account: str_field(ev, &format!("{ui}.account_id")).or_else(|| {
                ev.cloud
                    .as_ref()
                    .and_then(|c| c.account.as_ref())
                    .and_then(|a| a.id.as_deref())
            }),
            invoked_by: str_field(ev, &format!("{ui}.invoked_by")),
            email,
        }
    }

    fn service_linked(&self) -> bool {
        let linked_arn = |a: &str| a.contains(":role/aws-service-role/");
        self.role
            .as_deref()
            .is_some_and(|r| r.starts_with("AWSServiceRoleFor"))
            || self.arn.is_some_and(linked_arn)
            || self.issuer_arn.is_some_and(linked_arn)
    }

    /// For messages: `IAM user alice (arn…)`, `role R session S (arn…)`, an email.
    pub(crate) fn label(&self) -> String {
        let id = self.id.unwrap_or("an unknown principal");
        match (self.kind, self.role.as_deref(), self.session.as_deref()) {
            (Some("AssumedRole"), Some(r), Some(s)) => format!("role {r} session {s} ({id})"),
            (Some("AssumedRole"), Some(r), None) => format!("role {r} ({id})"),
            (Some("IAMUser"), _, _) => match self.name {
                Some(n) if n != id => format!("IAM user {n} ({id})"),
                _ => format!("IAM user {id}"),
            },
            (Some("AWSService"), _, _) => format!("AWS service {id}"),
            _ => match self.name {
                Some(n) if n != id => format!("{n} ({id})"),
                _ => id.to_string(),
            },
        }
    }
}

/// The compiled `[analytics.an0908.service_principal_allowlist]`.
#[derive(Debug, Clone)]
struct Allowlist {
    arns: GlobList,
    role_names: GlobList,
    session_names: GlobList,
    account_ids: HashSet<String>,
    gcp_accounts: GlobList,
    gcp_agents: GlobList,
    service_linked_roles: bool,
    aws_service_calls: bool,
}

impl Allowlist {
    /// Why `p` (calling in `ev`) is allowed, if it is.
    fn reason(&self, ev: &Event, p: &Principal<'_>) -> Option<String> {
        for a in [p.id, p.arn, p.issuer_arn].into_iter().flatten() {
            if let Some(g) = self.arns.find(a) {
                return Some(format!("{a} matches arns entry {:?}", g.source()));
            }
        }
        if let Some(r) = p.role.as_deref() {
            if let Some(g) = self.role_names.find(r) {
                return Some(format!(
                    "role {r} matches role_names entry {:?}",
                    g.source()
                ));
            }
        }
        if let Some(s) = p.session.as_deref() {
            if let Some(g) = self.session_names.find(s) {
                return Some(format!(
                    "session {s} matches session_names entry {:?}",
                    g.source()
                ));
            }
        }
        if let Some(acct) = p.account.filter(|a| self.account_ids.contains(a.trim())) {
            return Some(format!("account {acct} is in account_ids"));
        }
        if let Some(email) = p.email {
            if let Some(g) = self.gcp_accounts.find(email) {
                return Some(format!(
                    "{email} matches gcp_service_accounts entry {:?}",
                    g.source()
                ));
            }
            if let Some(g) = self.gcp_agents.find(email) {
                return Some(format!(
                    "{email} is a Google-managed service agent (gcp_service_agents {:?})",
                    g.source()
                ));
            }
        }
        if self.service_linked_roles && p.service_linked() {
            return Some(format!(
                "{} is an AWS service-linked role (service_linked_roles)",
                p.role.as_deref().or(p.id).unwrap_or("the caller")
            ));
        }
        if self.aws_service_calls {
            if p.kind == Some("AWSService") {
                return Some("identity type AWSService (aws_service_calls)".into());
            }
            if let Some(by) = p.invoked_by {
                return Some(format!("invoked by {by} (aws_service_calls)"));
            }
            let internal = |s: Option<&str>| s.is_some_and(|s| s.trim() == "AWS Internal");
            let source = ev
                .source
                .as_ref()
                .and_then(|s| s.address.as_deref().or(s.ip.as_deref()));
            let agent = ev.user_agent.as_ref().and_then(|u| u.original.as_deref());
            if internal(source) || internal(agent) {
                return Some("made by AWS Internal (aws_service_calls)".into());
            }
        }
        None
    }
}

/// The compiled origin classes, in the order they are tried.
#[derive(Debug, Clone)]
struct Origins {
    classes: Vec<(ApiOrigin, GlobList)>,
    in_scope: HashSet<ApiOrigin>,
    console_sessions: bool,
}

impl Origins {
    /// The origin of `ev` and the pattern that decided it.
    fn classify(&self, ev: &Event) -> (ApiOrigin, Option<String>) {
        let ua = ev
            .user_agent
            .as_ref()
            .and_then(|u| u.original.as_deref())
            .map(|u| {
                let t = u.trim();
                t.strip_prefix('[')
                    .and_then(|x| x.strip_suffix(']'))
                    .unwrap_or(t)
                    .trim()
            })
            .unwrap_or("");
        let mut found = (ApiOrigin::Unknown, None);
        if !ua.is_empty() {
            if let Some((o, g)) = self
                .classes
                .iter()
                .find_map(|(o, list)| list.find(ua).map(|g| (*o, g)))
            {
                found = (o, Some(g.source().to_string()));
            }
        }
        if self.console_sessions
            && matches!(found.0, ApiOrigin::Service | ApiOrigin::Unknown)
            && true_field(ev, "aws.cloudtrail.session_credential_from_console")
        {
            return (
                ApiOrigin::Console,
                Some("session_credential_from_console".into()),
            );
        }
        found
    }
}

/// Burst thresholds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BurstSettings {
    distinct: usize,
    distinct_window: TimeDelta,
    calls: usize,
    calls_window: TimeDelta,
    by_principal: bool,
    by_source: bool,
    severity: Severity,
    min_failures: usize,
    failed_severity: Severity,
}

impl BurstSettings {
    fn on(&self) -> bool {
        (self.distinct >= 2 || self.calls >= 2) && (self.by_principal || self.by_source)
    }

    /// The longest enabled window: how long a burst stays open after its last call,
    /// and how long calls are kept.
    fn longest(&self) -> TimeDelta {
        let mut w = TimeDelta::zero();
        if self.distinct >= 2 {
            w = w.max(self.distinct_window);
        }
        if self.calls >= 2 {
            w = w.max(self.calls_window);
        }
        w
    }
}

fn secs(s: u64) -> TimeDelta {
    TimeDelta::seconds(i64::try_from(s).unwrap_or(86_400).min(86_400))
}

/// The compiled `[analytics.an0908]`.
#[derive(Debug, Clone)]
pub(crate) struct An0908 {
    severity: Severity,
    single_call_origins: HashSet<ApiOrigin>,
    apis: HashMap<String, ServiceApis>,
    origins: Origins,
    allow: Allowlist,
    failed_codes: GlobList,
    failed_severity: Severity,
    pub(crate) burst: BurstSettings,
    pub(crate) cli: Option<CloudCli>,
}

/// What one call did to the counters.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CallCounts {
    pub(crate) allowlisted: bool,
    pub(crate) out_of_scope: bool,
    pub(crate) folded: bool,
    pub(crate) evicted: u64,
}

/// The facts of one listed, in-scope call.
struct Call<'a> {
    service: &'a str,
    api: &'a str,
    origin: ApiOrigin,
    origin_pattern: Option<String>,
    failed: Option<&'a str>,
    principal: Principal<'a>,
}

impl An0908 {
    pub(crate) fn build(cfg: &An0908Config) -> An0908 {
        let mut apis: HashMap<String, ServiceApis> = HashMap::new();
        for (provider, _, names) in cfg.api_list.services() {
            let gcp_label = provider
                .strip_suffix(".googleapis.com")
                .map(|l| l.to_string());
            let entry = apis.entry(provider.clone()).or_insert_with(|| ServiceApis {
                gcp_label: gcp_label.clone(),
                ..ServiceApis::default()
            });
            for n in names {
                let n = n.trim();
                let n = match &gcp_label {
                    Some(l) => gcp_method(n, l),
                    None => n,
                };
                if n.is_empty() {
                    continue;
                }
                if n.contains('*') || n.contains('?') {
                    entry.globs.push(Glob::new(n, true));
                } else {
                    entry.exact.insert(n.to_lowercase());
                }
            }
        }
        let o = &cfg.origin;
        let s = &cfg.service_principal_allowlist;
        let b = &cfg.burst_query_threshold;
        let f = &cfg.failed_calls;
        An0908 {
            severity: cfg.severity,
            single_call_origins: cfg.single_call_origins.iter().copied().collect(),
            apis,
            origins: Origins {
                classes: vec![
                    (ApiOrigin::Console, GlobList::new(&o.console)),
                    (ApiOrigin::Iac, GlobList::new(&o.iac)),
                    (ApiOrigin::Cli, GlobList::new(&o.cli)),
                    (ApiOrigin::Sdk, GlobList::new(&o.sdk)),
                    (ApiOrigin::Service, GlobList::new(&o.service)),
                ],
                in_scope: o.in_scope.iter().copied().collect(),
                console_sessions: o.console_session_is_console,
            },
            allow: Allowlist {
                arns: GlobList::new(&s.arns),
                role_names: GlobList::new(&s.role_names),
                session_names: GlobList::new(&s.session_names),
                account_ids: s.account_ids.iter().map(|a| a.trim().to_string()).collect(),
                gcp_accounts: GlobList::new(&s.gcp_service_accounts),
                gcp_agents: GlobList::new(&s.gcp_service_agents),
                service_linked_roles: s.service_linked_roles,
                aws_service_calls: s.aws_service_calls,
            },
            failed_codes: GlobList::new(&f.error_codes),
            failed_severity: f.single_call_severity,
            burst: BurstSettings {
                distinct: b.distinct_apis as usize,
                distinct_window: secs(b.distinct_window_secs),
                calls: (b.calls as usize).min(MAX_CALLS_PER_KEY),
                calls_window: secs(b.calls_window_secs),
                by_principal: b.by_principal,
                by_source: b.by_source_address,
                severity: b.severity,
                min_failures: f.burst_min_failures as usize,
                failed_severity: f.burst_severity,
            },
            cli: cfg
                .cli
                .enabled
                .then(|| CloudCli::build(&cfg.cli, &cfg.api_list)),
        }
    }

    /// Whether bursts are on (state worth carrying over a reload).
    pub(crate) fn bursts_on(&self) -> bool {
        self.burst.on()
    }

    /// The API-list entry `ev` calls: (service, API name as the event spells it).
    fn listed<'a>(&self, ev: &'a Event) -> Option<(&'a str, &'a str)> {
        let service = ev.event.provider.as_deref()?.trim();
        let api = ev.event.action.as_deref()?.trim();
        let apis = self.apis.get(&service.to_ascii_lowercase())?;
        apis.matches(api).then_some((service, api))
    }

    /// Looks at one cloud API call: returns its alerts, and what it did to the counters.
    pub(crate) fn on_call(
        &self,
        ev: &Event,
        state: &mut BurstState,
        counts: &mut CallCounts,
    ) -> Vec<Hit> {
        let Some((service, api)) = self.listed(ev) else {
            return Vec::new();
        };
        let principal = Principal::of(ev);
        if self.allow.reason(ev, &principal).is_some() {
            counts.allowlisted = true;
            return Vec::new();
        }
        let (origin, origin_pattern) = self.origins.classify(ev);
        if !self.origins.in_scope.contains(&origin) {
            counts.out_of_scope = true;
            return Vec::new();
        }
        let failed = ev
            .error
            .as_ref()
            .and_then(|e| e.code.as_deref())
            .map(str::trim)
            .filter(|c| self.failed_codes.matches(c));
        let call = Call {
            service,
            api,
            origin,
            origin_pattern,
            failed,
            principal,
        };
        let mut hits = Vec::new();
        let mut in_burst = false;
        if self.burst.on() {
            let now = ev.timestamp;
            let mut keys: Vec<(BurstBy, String, String)> = Vec::new();
            if self.burst.by_principal {
                if let Some(id) = call.principal.id {
                    let provider = cloud_provider(ev);
                    keys.push((
                        BurstBy::Principal,
                        format!("p\u{1f}{provider}\u{1f}{id}"),
                        call.principal.label(),
                    ));
                }
            }
            if self.burst.by_source {
                if let Some(ip) = source_ip(ev) {
                    keys.push((BurstBy::Source, format!("s\u{1f}{ip}"), ip.to_string()));
                }
            }
            for (by, key, label) in keys {
                let entry = CallEntry {
                    at: now,
                    api: api.to_string(),
                    failed: failed.is_some(),
                    principal: call.principal.id.unwrap_or("").to_string(),
                    origin,
                };
                match state.record(by, key, entry, ev, &self.burst, &mut counts.evicted) {
                    Recorded::Folded => {
                        in_burst = true;
                        counts.folded = true;
                    }
                    Recorded::Opened(b) => {
                        in_burst = true;
                        hits.push(self.burst_hit(ev, &call, *b, &label));
                    }
                    Recorded::Counted => {}
                }
            }
        }
        let service_principal = call.principal.kind == Some("AWSService")
            || call.principal.invoked_by.is_some()
            || call.principal.service_linked()
            || call
                .principal
                .email
                .is_some_and(|e| self.allow.gcp_agents.matches(e));
        if !in_burst && self.single_call_origins.contains(&origin) && !service_principal {
            hits.push(self.single_hit(ev, &call));
        }
        hits
    }

    fn single_hit(&self, ev: &Event, call: &Call<'_>) -> Hit {
        let severity = if call.failed.is_some() {
            self.severity.max(self.failed_severity)
        } else {
            self.severity
        };
        let mut hit = Hit::new("AN0908", "ApiList", call.api, severity);
        let denied = match call.failed {
            Some(code) => format!(", and was denied ({code}): severity raised"),
            None => String::new(),
        };
        hit.message = format!(
            "{} called {} {}{}{}{}: network enumeration (the API list), a single call from {} ({}){denied}",
            call.principal.label(),
            call.service,
            call.api,
            where_label(ev),
            from_label(ev),
            agent_label(ev),
            origin_words(call.origin),
            call.origin.as_str(),
        );
        call_details(&mut hit, ev, call);
        hit
    }

    fn burst_hit(&self, ev: &Event, call: &Call<'_>, b: Burst, label: &str) -> Hit {
        let s = &self.burst;
        let (threshold, window) = match b.form {
            BurstForm::Distinct => (s.distinct, s.distinct_window.num_seconds()),
            BurstForm::Calls => (s.calls, s.calls_window.num_seconds()),
        };
        let raised = s.min_failures > 0 && b.failures >= s.min_failures;
        let severity = if raised {
            s.severity.max(s.failed_severity)
        } else {
            s.severity
        };
        let form = match b.form {
            BurstForm::Distinct => format!("{threshold} distinct APIs in {window} s"),
            BurstForm::Calls => format!("{threshold} calls in {window} s"),
        };
        let mut hit = Hit::new("AN0908", "BurstQueryThreshold", form.clone(), severity);
        let mut named: Vec<&str> = b
            .distinct
            .iter()
            .map(String::as_str)
            .take(MAX_NAMED_APIS)
            .collect();
        if b.distinct.len() > MAX_NAMED_APIS {
            named.push("…");
        }
        let calls = format!(
            "{} network-enumeration API calls ({} distinct: {})",
            b.calls,
            b.distinct.len(),
            named.join(", ")
        );
        let who = match b.by {
            BurstBy::Principal => format!("{label} made {calls}{}", from_label(ev)),
            BurstBy::Source => {
                let mut names: Vec<&str> = b
                    .principals
                    .iter()
                    .map(String::as_str)
                    .take(MAX_NAMED_PRINCIPALS)
                    .collect();
                if b.principals.len() > MAX_NAMED_PRINCIPALS {
                    names.push("…");
                }
                format!(
                    "{calls} came from {label}, by {} principals ({})",
                    b.principals.len(),
                    names.join(", ")
                )
            }
        };
        let denied = if b.failures > 0 {
            format!(
                "; {} of them denied{}",
                b.failures,
                if raised {
                    format!(" (at least {}: severity raised)", s.min_failures)
                } else {
                    String::new()
                }
            )
        } else {
            String::new()
        };
        let origins: Vec<&str> = b.origins.iter().map(|o| o.as_str()).collect();
        hit.message = format!(
            "{who} within {} s{} (BurstQueryThreshold: {form}, {} by {}){denied}; origins {}; the last was {} {}{}",
            b.span_secs,
            where_label(ev),
            match b.form {
                BurstForm::Distinct => "distinct APIs",
                BurstForm::Calls => "calls",
            },
            b.by.as_str().replace('_', " "),
            origins.join(", "),
            call.service,
            call.api,
            agent_label(ev),
        );
        call_details(&mut hit, ev, call);
        hit.detail("burst_by", b.by.as_str());
        hit.detail("burst_key", label);
        hit.detail(
            "burst_form",
            match b.form {
                BurstForm::Distinct => "distinct_apis",
                BurstForm::Calls => "calls",
            },
        );
        hit.detail("burst_calls", b.calls);
        hit.detail("burst_distinct_apis", b.distinct.clone());
        hit.detail("burst_failed_calls", b.failures);
        hit.detail("burst_span_secs", b.span_secs);
        hit.detail("burst_principals", b.principals.clone());
        hit.detail("burst_origins", origins);
        hit.detail("threshold_count", threshold);
        hit.detail("threshold_window_secs", window);
        hit.detail("burst_quiet_secs", s.longest().num_seconds());
        hit.related = b.related;
        hit
    }

    /// A cloud CLI command run on a host.
    pub(crate) fn cli_hit(&self, ev: &Event) -> Option<Hit> {
        self.cli.as_ref()?.check(ev)
    }
}

fn cloud_provider(ev: &Event) -> &str {
    ev.cloud
        .as_ref()
        .and_then(|c| c.provider.as_deref())
        .unwrap_or("")
}

/// The caller's address, when it is one: `source.ip`, else `source.address` if it
/// parses; unspecified addresses (the `0.0.0.0` of anonymised records) are none.
fn source_ip(ev: &Event) -> Option<IpAddr> {
    let s = ev.source.as_ref()?;
    [s.ip.as_deref(), s.address.as_deref()]
        .into_iter()
        .flatten()
        .find_map(|a| crate::cidr::parse_ip(a.trim()))
        .filter(|ip| !ip.is_unspecified())
}

fn where_label(ev: &Event) -> String {
    let Some(c) = ev.cloud.as_ref() else {
        return String::new();
    };
    let provider = c.provider.as_deref().unwrap_or("");
    let account = c.account.as_ref().and_then(|a| a.id.as_deref());
    let kind = if provider.eq_ignore_ascii_case("gcp") {
        "GCP project"
    } else if provider.eq_ignore_ascii_case("aws") {
        "AWS account"
    } else {
        "account"
    };
    match (account, c.region.as_deref()) {
        (Some(a), Some(r)) => format!(" in {kind} {a} ({r})"),
        (Some(a), None) => format!(" in {kind} {a}"),
        (None, Some(r)) => format!(" in {r}"),
        (None, None) => String::new(),
    }
}

fn from_label(ev: &Event) -> String {
    ev.source
        .as_ref()
        .and_then(|s| s.ip.as_deref().or(s.address.as_deref()))
        .map(|a| format!(" from {a}"))
        .unwrap_or_default()
}

fn agent_label(ev: &Event) -> String {
    ev.user_agent
        .as_ref()
        .and_then(|u| u.original.as_deref())
        .map(|u| u.trim().trim_start_matches('['))
        .and_then(|u| u.split_whitespace().next())
        .map(|t| format!(" with {}", short(t.trim_end_matches([']', ',']))))
        .unwrap_or_default()
}

fn origin_words(o: ApiOrigin) -> &'static str {
    match o {
        ApiOrigin::Cli => "the command line",
        ApiOrigin::Sdk => "an SDK",
        ApiOrigin::Iac => "infrastructure as code",
        ApiOrigin::Console => "the web console",
        ApiOrigin::Service => "a cloud service",
        ApiOrigin::Unknown => "an unknown client",
    }
}

fn call_details(hit: &mut Hit, ev: &Event, call: &Call<'_>) {
    hit.detail("via", "cloud_api");
    hit.detail("api_service", call.service);
    hit.detail("api_name", call.api);
    hit.detail("origin", call.origin.as_str());
    if let Some(p) = &call.origin_pattern {
        hit.detail("origin_pattern", p.clone());
    }
    if let Some(c) = ev.cloud.as_ref() {
        if let Some(p) = c.provider.as_deref() {
            hit.detail("cloud_provider", p);
        }
        if let Some(a) = c.account.as_ref().and_then(|a| a.id.as_deref()) {
            hit.detail("cloud_account_id", a);
        }
        if let Some(r) = c.region.as_deref() {
            hit.detail("cloud_region", r);
        }
    }
    if let Some(ua) = ev.user_agent.as_ref().and_then(|u| u.original.as_deref()) {
        hit.detail("user_agent", short(ua));
    }
    if let Some(s) = ev
        .source
        .as_ref()
        .and_then(|s| s.ip.as_deref().or(s.address.as_deref()))
    {
        hit.detail("source_address", s);
    }
    if let Some(code) = ev.error.as_ref().and_then(|e| e.code.as_deref()) {
        hit.detail("error_code", code);
    }
    hit.detail("denied", call.failed.is_some());
    let p = &call.principal;
    if let Some(id) = p.id {
        hit.detail("principal", id);
    }
    if let Some(k) = p.kind {
        hit.detail("identity_type", k);
    }
    if let Some(r) = p.role.as_deref() {
        hit.detail("role_name", r);
    }
    if let Some(s) = p.session.as_deref() {
        hit.detail("session_name", s);
    }
}

// ---------------------------------------------------------------- bursts ----------

/// What a burst is counted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BurstBy {
    Principal,
    Source,
}

impl BurstBy {
    fn as_str(self) -> &'static str {
        match self {
            BurstBy::Principal => "principal",
            BurstBy::Source => "source_address",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BurstForm {
    Distinct,
    Calls,
}

#[derive(Debug, Clone)]
struct CallEntry {
    at: DateTime<Utc>,
    api: String,
    failed: bool,
    principal: String,
    origin: ApiOrigin,
}

/// One principal's or address's recent calls, and its open burst.
#[derive(Debug, Clone, Default)]
struct Track {
    calls: VecDeque<CallEntry>,
    /// The latest calls' events, for evidence.
    events: VecDeque<Event>,
    /// When the open burst's latest call was; `None`: no burst open.
    open_until_quiet_from: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
}

/// A burst that just opened.
#[derive(Debug)]
struct Burst {
    by: BurstBy,
    form: BurstForm,
    calls: usize,
    distinct: Vec<String>,
    failures: usize,
    principals: Vec<String>,
    origins: BTreeSet<ApiOrigin>,
    span_secs: i64,
    related: Vec<Event>,
}

#[derive(Debug)]
enum Recorded {
    /// Counted, no burst.
    Counted,
    /// A burst opened with this call.
    Opened(Box<Burst>),
    /// Folded into the open burst.
    Folded,
}

/// Recent in-scope calls per principal and per source address, with their open bursts:
/// bounded ([`MAX_BURST_KEYS`]), expired on ticks by the calls' own clock, carried over
/// a reload.
#[derive(Debug, Clone, Default)]
pub(crate) struct BurstState {
    tracks: HashMap<String, Track>,
    /// The latest call time seen.
    latest: Option<DateTime<Utc>>,
}

impl BurstState {
    /// Principals and addresses held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.tracks.len()
    }

    fn record(
        &mut self,
        by: BurstBy,
        key: String,
        call: CallEntry,
        ev: &Event,
        s: &BurstSettings,
        evicted: &mut u64,
    ) -> Recorded {
        let now = call.at;
        self.latest = Some(self.latest.map_or(now, |l| l.max(now)));
        if !self.tracks.contains_key(&key) && self.tracks.len() >= MAX_BURST_KEYS {
            let idlest = self
                .tracks
                .iter()
                .min_by_key(|(_, t)| t.last)
                .map(|(k, _)| k.clone());
            if let Some(k) = idlest {
                self.tracks.remove(&k);
                *evicted += 1;
            }
        }
        let quiet = s.longest();
        let track = self.tracks.entry(key).or_default();
        track.last = Some(track.last.map_or(now, |l| l.max(now)));
        if let Some(last) = track.open_until_quiet_from {
            if now - last < quiet {
                track.open_until_quiet_from = Some(last.max(now));
                return Recorded::Folded;
            }
            track.open_until_quiet_from = None;
        }
        while track.calls.front().is_some_and(|c| now - c.at >= quiet) {
            track.calls.pop_front();
        }
        while track
            .events
            .front()
            .is_some_and(|e| now - e.timestamp >= quiet)
        {
            track.events.pop_front();
        }
        if s.calls < 2 {
            // Only distinct APIs count: the latest call of each API is enough.
            track.calls.retain(|c| c.api != call.api);
        }
        track.calls.push_back(call);
        if track.calls.len() > MAX_CALLS_PER_KEY {
            track.calls.pop_front();
        }
        track.events.push_back(ev.clone());
        if track.events.len() > MAX_RELATED + 1 {
            track.events.pop_front();
        }

        let within = |w: TimeDelta| move |c: &&CallEntry| now - c.at < w;
        let mut form = None;
        if s.distinct >= 2 {
            let distinct: HashSet<&str> = track
                .calls
                .iter()
                .filter(within(s.distinct_window))
                .map(|c| c.api.as_str())
                .collect();
            if distinct.len() >= s.distinct {
                form = Some((BurstForm::Distinct, s.distinct_window));
            }
        }
        if form.is_none() && s.calls >= 2 {
            let n = track.calls.iter().filter(within(s.calls_window)).count();
            if n >= s.calls {
                form = Some((BurstForm::Calls, s.calls_window));
            }
        }
        let Some((form, window)) = form else {
            return Recorded::Counted;
        };
        let calls: Vec<&CallEntry> = track.calls.iter().filter(within(window)).collect();
        let principals: BTreeSet<&str> = calls
            .iter()
            .map(|c| c.principal.as_str())
            .filter(|p| !p.is_empty())
            .collect();
        if by == BurstBy::Source && s.by_principal && principals.len() == 1 {
            // One principal's calls: its own burst says it.
            return Recorded::Counted;
        }
        let distinct: BTreeSet<&str> = calls.iter().map(|c| c.api.as_str()).collect();
        let first = calls.iter().map(|c| c.at).min().unwrap_or(now);
        let count = calls.len();
        let mut related: Vec<Event> = track
            .events
            .iter()
            .filter(|e| now - e.timestamp < window)
            .cloned()
            .collect();
        // The triggering call is the alert's own event.
        related.pop();
        if related.len() > MAX_RELATED {
            related.drain(..related.len() - MAX_RELATED);
        }
        let burst = Burst {
            by,
            form,
            calls: count,
            distinct: distinct.iter().map(|d| d.to_string()).collect(),
            failures: calls.iter().filter(|c| c.failed).count(),
            principals: principals.iter().map(|p| p.to_string()).collect(),
            origins: calls.iter().map(|c| c.origin).collect(),
            span_secs: (now - first).num_seconds(),
            related,
        };
        track.calls.clear();
        track.events.clear();
        track.open_until_quiet_from = Some(now);
        Recorded::Opened(Box::new(burst))
    }

    /// Closes bursts quiet for their window and forgets calls older than it, on the
    /// calls' clock: by the latest call seen, not the tick's `now` (a trail arrives
    /// minutes late), unless that is more than [`MAX_SOURCE_LAG`] behind `now` (the
    /// source went quiet); never ahead of `now`.
    pub(crate) fn prune(&mut self, now: DateTime<Utc>, a: &An0908) {
        let quiet = a.burst.longest();
        let horizon = match self.latest {
            Some(l) => now.min(l.max(now - MAX_SOURCE_LAG)),
            None => now,
        };
        self.tracks.retain(|_, t| {
            if t.open_until_quiet_from
                .is_some_and(|last| horizon - last >= quiet)
            {
                t.open_until_quiet_from = None;
            }
            while t.calls.front().is_some_and(|c| horizon - c.at >= quiet) {
                t.calls.pop_front();
            }
            while t
                .events
                .front()
                .is_some_and(|e| horizon - e.timestamp >= quiet)
            {
                t.events.pop_front();
            }
            !t.calls.is_empty() || t.open_until_quiet_from.is_some()
        });
        if self.tracks.is_empty() {
            self.latest = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::An0908Config;

    fn an0908(cfg: &An0908Config) -> An0908 {
        let mut problems = Vec::new();
        cfg.check_values(&mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        An0908::build(cfg)
    }

    #[test]
    fn gcp_method_names_lose_their_version_and_service() {
        assert_eq!(
            gcp_method("v1.compute.networks.list", "compute"),
            "networks.list"
        );
        assert_eq!(
            gcp_method("beta.compute.subnetworks.aggregatedList", "compute"),
            "subnetworks.aggregatedList"
        );
        assert_eq!(
            gcp_method("alpha.compute.routes.list", "compute"),
            "routes.list"
        );
        assert_eq!(gcp_method("v1beta1.compute.x.list", "compute"), "x.list");
        assert_eq!(
            gcp_method("compute.networks.list", "compute"),
            "networks.list"
        );
        assert_eq!(gcp_method("networks.list", "compute"), "networks.list");
        assert_eq!(gcp_method("vpc.list", "compute"), "vpc.list");
    }

    #[test]
    fn arns_give_roles_and_sessions() {
        assert_eq!(
            role_of_arn("arn:aws:sts::111111111111:assumed-role/Admin/alice"),
            (Some("Admin"), Some("alice"))
        );
        assert_eq!(
            role_of_arn("arn:aws:iam::111111111111:role/aws-service-role/x.amazonaws.com/AWSServiceRoleForX"),
            (Some("AWSServiceRoleForX"), None)
        );
        assert_eq!(
            role_of_arn("arn:aws:iam::111111111111:user/bob"),
            (None, None)
        );
        assert_eq!(role_of_arn("not an arn"), (None, None));
    }

    fn call(host: &str, secs: i64) -> (CallEntry, Event) {
        let mut e = Event {
            timestamp: DateTime::UNIX_EPOCH + TimeDelta::seconds(secs),
            ..Event::default()
        };
        e.host.name = Some(host.into());
        (
            CallEntry {
                at: e.timestamp,
                api: "DescribeVpcs".into(),
                failed: false,
                principal: host.into(),
                origin: ApiOrigin::Cli,
            },
            e,
        )
    }

    #[test]
    fn burst_state_is_bounded_and_expires() {
        let a = an0908(&An0908Config::default());
        let mut state = BurstState::default();
        let mut evicted = 0;
        for i in 0..MAX_BURST_KEYS + 7 {
            let (c, e) = call(&format!("p{i}"), i as i64);
            let r = state.record(
                BurstBy::Principal,
                format!("k{i}"),
                c,
                &e,
                &a.burst,
                &mut evicted,
            );
            assert!(matches!(r, Recorded::Counted));
        }
        assert_eq!(state.len(), MAX_BURST_KEYS);
        assert_eq!(evicted, 7);
        // The oldest went first: k0..k6.
        assert!(!state.tracks.contains_key("k0"));
        assert!(state.tracks.contains_key("k7"));
        // A tick 20 minutes after the last call (a trail arriving late) expires by the
        // calls' clock: the calls of the last 300 s stay.
        let last = DateTime::UNIX_EPOCH + TimeDelta::seconds((MAX_BURST_KEYS + 6) as i64);
        state.prune(last + TimeDelta::minutes(20), &a);
        assert_eq!(state.len(), 300);
        // With no call for more than an hour, the tick's clock (less the hour) decides.
        state.prune(last + TimeDelta::minutes(64), &a);
        assert_eq!(state.len(), 60);
        state.prune(last + TimeDelta::days(30), &a);
        assert_eq!(state.len(), 0);
    }

    #[test]
    fn one_api_repeated_keeps_one_entry_without_the_calls_form() {
        let mut cfg = An0908Config::default();
        cfg.burst_query_threshold.calls = 0;
        let a = an0908(&cfg);
        let mut state = BurstState::default();
        let mut evicted = 0;
        for i in 0..100 {
            let (c, e) = call("p", i);
            state.record(
                BurstBy::Principal,
                "k".into(),
                c,
                &e,
                &a.burst,
                &mut evicted,
            );
        }
        assert_eq!(state.tracks["k"].calls.len(), 1);
        assert!(state.tracks["k"].events.len() <= MAX_RELATED + 1);
    }
}
