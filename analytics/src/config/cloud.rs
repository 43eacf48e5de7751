//! `[analytics.an0908]` (IaaS): enumeration of cloud networks (VPCs, subnets, network
//! interfaces, route tables, security groups, peerings, gateways, load balancers, Direct
//! Connect / Interconnect) through the providers' APIs, read from cloud audit events
//! (AWS CloudTrail, GCP Cloud Audit Logs: `event.category: api`), and through the cloud
//! CLIs on hosts of any OS (process starts).
//!
//! DET0320 names two mutable elements for AN0908, `ServicePrincipalAllowlist` and
//! `BurstQueryThreshold`; each is a sub-table here. What the analytic looks for (the API
//! list, the origin classes of user agents, the failed-call codes and the host CLI
//! commands) is a sub-table too, with its defaults documented and tested.
//!
//! Name lists take case-insensitive globs (`*` any run, `?` one character) unless said
//! otherwise. Patterns are checked by building them once in [`crate::Analytics::build`];
//! the value checks here are ranges, names and shapes.

use sensor_core::alert::Severity;
use sensor_core::config::Problems;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Where an API call came from, decided from its user agent (see [`OriginClasses`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiOrigin {
    /// A command-line tool a person types into: the AWS CLI (also in CloudShell), AWS
    /// Tools for PowerShell, gcloud, the Azure CLI and Azure PowerShell.
    Cli,
    /// A program using a cloud SDK (Boto3, the AWS SDKs for Go, Java, JavaScript, .NET,
    /// ..., Google API client libraries, Azure SDKs).
    Sdk,
    /// Infrastructure as code: Terraform, CloudFormation, the AWS CDK, Pulumi, Ansible,
    /// Crossplane.
    Iac,
    /// The web consoles (AWS Management Console, Google Cloud console), browsers.
    Console,
    /// A cloud service calling on its own or a user's behalf (`AWS Internal`, a
    /// `*.amazonaws.com` service host).
    Service,
    /// No pattern matched (or no user agent at all).
    Unknown,
}

impl ApiOrigin {
    /// `cli`, `sdk`, `iac`, `console`, `service`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiOrigin::Cli => "cli",
            ApiOrigin::Sdk => "sdk",
            ApiOrigin::Iac => "iac",
            ApiOrigin::Console => "console",
            ApiOrigin::Service => "service",
            ApiOrigin::Unknown => "unknown",
        }
    }
}

/// `[analytics.an0908]`: cloud network enumeration (IaaS).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct An0908Config {
    /// Run AN0908 on cloud API events and on host process starts.
    pub enabled: bool,
    /// Severity of a single call from one of `single_call_origins` (a person's
    /// interactive CLI call).
    pub severity: Severity,
    /// Origins whose single calls alert on their own, when the caller is not a service
    /// principal. Calls from other in-scope origins only count toward bursts.
    pub single_call_origins: Vec<ApiOrigin>,
    /// The network enumeration APIs, per service.
    pub api_list: ApiList,
    /// Origin classes of user agents, and which are in scope.
    pub origin: OriginClasses,
    /// `ServicePrincipalAllowlist`.
    pub service_principal_allowlist: ServicePrincipalAllowlist,
    /// `BurstQueryThreshold`.
    pub burst_query_threshold: BurstQueryThreshold,
    /// Denied calls and the severity they give.
    pub failed_calls: FailedCalls,
    /// The cloud CLIs run on hosts (process starts of any OS).
    pub cli: CloudCliCommands,
}

impl Default for An0908Config {
    fn default() -> Self {
        Self {
            enabled: true,
            severity: Severity::Low,
            single_call_origins: vec![ApiOrigin::Cli],
            api_list: ApiList::default(),
            origin: OriginClasses::default(),
            service_principal_allowlist: ServicePrincipalAllowlist::default(),
            burst_query_threshold: BurstQueryThreshold::default(),
            failed_calls: FailedCalls::default(),
            cli: CloudCliCommands::default(),
        }
    }
}

/// `[analytics.an0908.api_list]`: the network enumeration APIs, matched on (`event.provider`,
/// `event.action`). Each list is API names as the audit log writes them (CloudTrail
/// `eventName`; GCP `methodName` without its version prefix and service name:
/// `v1.compute.networks.list` and `beta.compute.networks.list` are `networks.list`),
/// case-insensitive, globs allowed. A list given in a config replaces that service's
/// default list; the other services keep theirs.
///
/// Instances (`DescribeInstances`, `instances.list`), regions and availability zones are
/// not in the lists: they are cloud infrastructure discovery (T1580), not network
/// discovery, and the consoles and most tools call them all the time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiList {
    /// Amazon EC2 / VPC (`ec2.amazonaws.com`; AWS CLI `aws ec2`).
    pub ec2: Vec<String>,
    /// Elastic Load Balancing, classic and v2 (`elasticloadbalancing.amazonaws.com`; `aws
    /// elb`, `aws elbv2`).
    pub elasticloadbalancing: Vec<String>,
    /// AWS Direct Connect (`directconnect.amazonaws.com`; `aws directconnect`).
    pub directconnect: Vec<String>,
    /// AWS Network Firewall (`network-firewall.amazonaws.com`; `aws network-firewall`).
    pub network_firewall: Vec<String>,
    /// AWS Network Manager / Cloud WAN (`networkmanager.amazonaws.com`; `aws
    /// networkmanager`).
    pub networkmanager: Vec<String>,
    /// Amazon Route 53 (`route53.amazonaws.com`; `aws route53`). Empty by default: hosted
    /// zones and records are DNS configuration (closer to T1016 than to connections),
    /// and DNS automation lists them constantly. Add `ListHostedZones`,
    /// `ListResourceRecordSets`, ... to watch them.
    pub route53: Vec<String>,
    /// Google Compute Engine networking (`compute.googleapis.com`; `gcloud compute`, see
    /// `cli.gcloud_commands`).
    pub compute: Vec<String>,
    /// Other services: `event.provider` (`globalaccelerator.amazonaws.com`,
    /// `networkconnectivity.googleapis.com`) → API names. An AWS service's CLI name is
    /// the provider's first label (`aws globalaccelerator`).
    pub other: BTreeMap<String, Vec<String>>,
}

impl Default for ApiList {
    fn default() -> Self {
        Self {
            ec2: strings(&[
                // VPCs, subnets, interfaces, addresses
                "DescribeVpcs",
                "DescribeVpcAttribute",
                "DescribeSubnets",
                "GetSubnetCidrReservations",
                "DescribeNetworkInterfaces",
                "DescribeNetworkInterfaceAttribute",
                "DescribeNetworkInterfacePermissions",
                "DescribeAddresses",
                "DescribePublicIpv4Pools",
                "DescribeIpams",
                "DescribeIpamPools",
                "DescribeDhcpOptions",
                "DescribeFlowLogs",
                // routing
                "DescribeRouteTables",
                "DescribeManagedPrefixLists",
                "GetManagedPrefixListEntries",
                "DescribePrefixLists",
                // filtering
                "DescribeSecurityGroups",
                "DescribeSecurityGroupRules",
                "DescribeSecurityGroupReferences",
                "DescribeStaleSecurityGroups",
                "GetSecurityGroupsForVpc",
                "DescribeNetworkAcls",
                // peering and gateways
                "DescribeVpcPeeringConnections",
                "DescribeNatGateways",
                "DescribeInternetGateways",
                "DescribeEgressOnlyInternetGateways",
                "DescribeCarrierGateways",
                "DescribeLocalGateways",
                "DescribeLocalGatewayRouteTables",
                "DescribeLocalGatewayVirtualInterfaces",
                // endpoints
                "DescribeVpcEndpoints",
                "DescribeVpcEndpointServices",
                "DescribeVpcEndpointConnections",
                "DescribeVpcEndpointServiceConfigurations",
                "DescribeVpcEndpointConnectionNotifications",
                "DescribeInstanceConnectEndpoints",
                // transit gateways
                "DescribeTransitGateways",
                "DescribeTransitGatewayAttachments",
                "DescribeTransitGatewayVpcAttachments",
                "DescribeTransitGatewayPeeringAttachments",
                "DescribeTransitGatewayConnects",
                "DescribeTransitGatewayConnectPeers",
                "DescribeTransitGatewayRouteTables",
                "DescribeTransitGatewayMulticastDomains",
                "GetTransitGatewayRouteTableAssociations",
                "GetTransitGatewayRouteTablePropagations",
                "GetTransitGatewayAttachmentPropagations",
                "SearchTransitGatewayRoutes",
                // VPN
                "DescribeVpnConnections",
                "DescribeVpnGateways",
                "DescribeCustomerGateways",
                "DescribeClientVpnEndpoints",
                "DescribeClientVpnConnections",
                "DescribeClientVpnRoutes",
                "DescribeClientVpnTargetNetworks",
                // analysis and mirroring
                "DescribeNetworkInsightsPaths",
                "DescribeNetworkInsightsAnalyses",
                "DescribeTrafficMirrorSessions",
                "DescribeTrafficMirrorTargets",
                "DescribeTrafficMirrorFilters",
                // EC2-Classic
                "DescribeVpcClassicLink",
                "DescribeVpcClassicLinkDnsSupport",
                "DescribeClassicLinkInstances",
            ]),
            elasticloadbalancing: strings(&[
                "DescribeLoadBalancers",
                "DescribeLoadBalancerAttributes",
                "DescribeListeners",
                "DescribeRules",
                "DescribeTargetGroups",
                "DescribeTargetGroupAttributes",
                "DescribeTargetHealth",
                "DescribeInstanceHealth",
            ]),
            directconnect: strings(&[
                "DescribeConnections",
                "DescribeHostedConnections",
                "DescribeInterconnects",
                "DescribeLags",
                "DescribeVirtualInterfaces",
                "DescribeVirtualGateways",
                "DescribeDirectConnectGateways",
                "DescribeDirectConnectGatewayAssociations",
                "DescribeDirectConnectGatewayAttachments",
                "DescribeRouterConfiguration",
            ]),
            network_firewall: strings(&[
                "ListFirewalls",
                "DescribeFirewall",
                "ListFirewallPolicies",
                "DescribeFirewallPolicy",
            ]),
            networkmanager: strings(&[
                "DescribeGlobalNetworks",
                "GetSites",
                "GetDevices",
                "GetLinks",
                "GetConnections",
                "ListCoreNetworks",
                "GetCoreNetwork",
            ]),
            route53: Vec::new(),
            compute: strings(&[
                "networks.list",
                "networks.get",
                "networks.listPeeringRoutes",
                "networks.getEffectiveFirewalls",
                "subnetworks.list",
                "subnetworks.aggregatedList",
                "subnetworks.listUsable",
                "subnetworks.get",
                "firewalls.list",
                "firewalls.get",
                "firewallPolicies.list",
                "networkFirewallPolicies.list",
                "regionNetworkFirewallPolicies.list",
                "routes.list",
                "addresses.list",
                "addresses.aggregatedList",
                "globalAddresses.list",
                "routers.list",
                "routers.aggregatedList",
                "routers.get",
                "routers.getRouterStatus",
                "interconnects.list",
                "interconnectAttachments.list",
                "interconnectAttachments.aggregatedList",
                "vpnGateways.list",
                "vpnGateways.aggregatedList",
                "targetVpnGateways.list",
                "targetVpnGateways.aggregatedList",
                "vpnTunnels.list",
                "vpnTunnels.aggregatedList",
                "externalVpnGateways.list",
                "forwardingRules.list",
                "forwardingRules.aggregatedList",
                "globalForwardingRules.list",
                "backendServices.list",
                "backendServices.aggregatedList",
                "networkEndpointGroups.list",
                "networkEndpointGroups.aggregatedList",
                "serviceAttachments.list",
                "serviceAttachments.aggregatedList",
                "packetMirrorings.list",
                "packetMirrorings.aggregatedList",
            ]),
            other: BTreeMap::new(),
        }
    }
}

impl ApiList {
    /// Every list with its `event.provider` and (for AWS services) the AWS CLI service
    /// names that call it.
    pub fn services(&self) -> Vec<(String, Vec<String>, &[String])> {
        let aws = |p: &str| format!("{p}.amazonaws.com");
        let mut out: Vec<(String, Vec<String>, &[String])> = vec![
            (aws("ec2"), strings(&["ec2"]), &self.ec2),
            (
                aws("elasticloadbalancing"),
                strings(&["elbv2", "elb"]),
                &self.elasticloadbalancing,
            ),
            (
                aws("directconnect"),
                strings(&["directconnect"]),
                &self.directconnect,
            ),
            (
                aws("network-firewall"),
                strings(&["network-firewall"]),
                &self.network_firewall,
            ),
            (
                aws("networkmanager"),
                strings(&["networkmanager"]),
                &self.networkmanager,
            ),
            (aws("route53"), strings(&["route53"]), &self.route53),
            ("compute.googleapis.com".into(), Vec::new(), &self.compute),
        ];
        for (provider, names) in &self.other {
            let p = provider.trim().to_ascii_lowercase();
            let cli = match p.strip_suffix(".amazonaws.com") {
                Some(label) if !label.contains('.') => vec![label.to_string()],
                _ => Vec::new(),
            };
            out.push((p, cli, names));
        }
        out
    }
}

/// `[analytics.an0908.origin]`: where a call came from, from its user agent
/// (`user_agent.original`, with the `[...]` S3 puts around it removed). The classes are
/// tried in this order and the first with a matching pattern wins: `console`, `iac`,
/// `cli`, `sdk`, `service`; no match is `unknown`. The order matters: Terraform's agent
/// names the Go SDK it is built on, the console's back end names the Java SDK, AWS CLI v1
/// names botocore, and console and CloudFormation hosts end in `.amazonaws.com`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OriginClasses {
    /// Origins whose calls AN0908 looks at (single calls and bursts); calls from the
    /// others are counted (`an0908_out_of_scope`) and not analysed. Default: `cli`, `sdk`,
    /// `iac` (DET0320: "using CLI or SDKs") and `unknown` (custom tools and attack
    /// frameworks often send no agent or their own). `console` is out (browsing the
    /// console fires dozens of Describe calls a minute), and so is `service`.
    pub in_scope: Vec<ApiOrigin>,
    /// Web consoles and browsers.
    pub console: Vec<String>,
    /// Infrastructure-as-code tools.
    pub iac: Vec<String>,
    /// Command-line tools.
    pub cli: Vec<String>,
    /// SDKs.
    pub sdk: Vec<String>,
    /// Cloud services.
    pub service: Vec<String>,
    /// A call whose agent is `service` or `unknown` but that was made with console
    /// session credentials (`aws.cloudtrail.session_credential_from_console: true`, as
    /// the console's `AWS Internal` calls are) is `console`. (CloudShell's AWS CLI calls
    /// carry console credentials too, and stay `cli`.)
    pub console_session_is_console: bool,
}

impl Default for OriginClasses {
    fn default() -> Self {
        Self {
            in_scope: vec![
                ApiOrigin::Cli,
                ApiOrigin::Sdk,
                ApiOrigin::Iac,
                ApiOrigin::Unknown,
            ],
            console: strings(&[
                "console.amazonaws.com",
                "console.*.amazonaws.com",
                "*.console.aws.amazon.com*",
                "signin.amazonaws.com",
                "*ConsoleFrontend*",
                "Mozilla/*",
            ]),
            iac: strings(&[
                "*Terraform/*",
                "*terraform-provider-*",
                "cloudformation.amazonaws.com",
                "*aws-cdk/*",
                "*pulumi*",
                "*Ansible/*",
                "*crossplane*",
            ]),
            cli: strings(&[
                "aws-cli/*",
                "*AWSPowerShell*",
                "google-cloud-sdk*",
                "*gcloud/*",
                "*command/gcloud.*",
                "AZURECLI/*",
                "*AzurePowershell*",
            ]),
            sdk: strings(&[
                "*aws-sdk-*",
                "*Boto3/*",
                "*Botocore/*",
                "*google-api-*-client*",
                "*gl-python/*",
                "*gl-go/*",
                "*gl-java/*",
                "*gl-node/*",
                "*gapic/*",
                "*azsdk-*",
            ]),
            service: strings(&["AWS Internal", "aws-internal/*", "*.amazonaws.com"]),
            console_session_is_console: true,
        }
    }
}

/// `[analytics.an0908.service_principal_allowlist]`: `ServicePrincipalAllowlist`, the
/// automation allowed to enumerate networks (provisioning, inventory, security scanners).
/// A call by an allowlisted principal raises nothing and counts toward no burst; it is
/// counted (`an0908_allowlisted` in `picket status`). Each list is of one kind, globs,
/// case-insensitive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServicePrincipalAllowlist {
    /// ARNs: the caller's (`user.id`, `aws.cloudtrail.user_identity.arn`) or, for an
    /// assumed role, the role's (`…session_context.session_issuer.arn`):
    /// `"arn:aws:iam::111122223333:role/terraform-ci"` allows every session of the role.
    pub arns: Vec<String>,
    /// IAM role names (the session issuer's `user_name`, or the role in an
    /// `assumed-role/ROLE/SESSION` ARN).
    pub role_names: Vec<String>,
    /// Role session names (the `SESSION` of an `assumed-role/ROLE/SESSION` ARN).
    pub session_names: Vec<String>,
    /// AWS account ids whose principals are allowed (the caller's account,
    /// `aws.cloudtrail.user_identity.account_id`, else `cloud.account.id`); for GCP the
    /// project (`cloud.account.id`).
    pub account_ids: Vec<String>,
    /// GCP principals by email (`user.id`, `gcp.audit.authentication_info.principal_email`):
    /// `"deployer@my-project.iam.gserviceaccount.com"`, `"*@ci-project.iam.gserviceaccount.com"`.
    pub gcp_service_accounts: Vec<String>,
    /// Google-managed service agents (GCP's own services acting in a project).
    pub gcp_service_agents: Vec<String>,
    /// Allow AWS service-linked roles (`AWSServiceRoleFor*`, roles under
    /// `arn:aws:iam::*:role/aws-service-role/`).
    pub service_linked_roles: bool,
    /// Allow calls AWS services make themselves or on a caller's behalf: identity type
    /// `AWSService`, an `invoked_by` service, or a source or agent of `AWS Internal`.
    pub aws_service_calls: bool,
}

impl Default for ServicePrincipalAllowlist {
    fn default() -> Self {
        Self {
            arns: Vec::new(),
            role_names: Vec::new(),
            session_names: Vec::new(),
            account_ids: Vec::new(),
            gcp_service_accounts: Vec::new(),
            gcp_service_agents: strings(&[
                "service-*@gcp-sa-*.iam.gserviceaccount.com",
                "service-*@*-system.iam.gserviceaccount.com",
                "service-*@container-engine-robot.iam.gserviceaccount.com",
                "*@cloudservices.gserviceaccount.com",
            ]),
            service_linked_roles: true,
            aws_service_calls: true,
        }
    }
}

/// `[analytics.an0908.burst_query_threshold]`: `BurstQueryThreshold`, an unusual number of
/// network Describe/List calls in a short time, by one principal (`user.id`) and,
/// separately, from one source address (`source.ip`; an unspecified address such as the
/// `0.0.0.0` of anonymised records, or a service name, is no address). Either form
/// opens a burst: `distinct_apis` distinct APIs within `distinct_window_secs`, or `calls`
/// calls within `calls_window_secs`. A burst gives one alert naming the count, the
/// distinct APIs and the window, with the calls as evidence; further calls fold into it
/// (counted as `an0908_burst_calls_folded`, no new alert) until the longest enabled
/// window passes with no call. A source-address burst whose calls all come from one
/// principal is that principal's burst and is not alerted twice. At most 16384
/// principals and addresses are tracked (the idlest is dropped, counted in
/// `state_evictions`).
///
/// Defaults: 6 distinct APIs in 10 s is Elastic's anchor (more than 5 distinct Describe
/// and List calls in 10 s from the AWS CLI); 50 calls in 5 minutes is Splunk's anchor
/// (more than 50 Describe/List/Get calls by one user), which on a network-only list is a
/// strong signal for an enumeration script or tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BurstQueryThreshold {
    /// Distinct APIs that make a burst (0 turns this form off).
    pub distinct_apis: u32,
    /// ... within this many seconds.
    pub distinct_window_secs: u64,
    /// Calls (any APIs, repeats included) that make a burst (0 turns this form off).
    pub calls: u32,
    /// ... within this many seconds.
    pub calls_window_secs: u64,
    /// Count per principal.
    pub by_principal: bool,
    /// Count per source address.
    pub by_source_address: bool,
    /// Severity of a burst alert (`failed_calls.burst_severity` with enough denials).
    pub severity: Severity,
}

impl Default for BurstQueryThreshold {
    fn default() -> Self {
        Self {
            distinct_apis: 6,
            distinct_window_secs: 10,
            calls: 50,
            calls_window_secs: 300,
            by_principal: true,
            by_source_address: true,
            severity: Severity::Medium,
        }
    }
}

/// `[analytics.an0908.failed_calls]`: denied calls (`error.code`). A principal probing
/// what its credentials may list gets denials; they raise severity: a single denied
/// call from a `single_call_origins` origin is `single_call_severity` (medium: one
/// denial may be a wrong region or profile), a burst with at least
/// `burst_min_failures` denied calls is `burst_severity` (high: repeated denied
/// enumeration is stolen-credential reconnaissance). Other errors (throttling, bad
/// parameters) are calls like any other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FailedCalls {
    /// `error.code` values (globs) that mean the call was denied: AWS
    /// `Client.UnauthorizedOperation`, `UnauthorizedOperation`, `AccessDenied`,
    /// `AccessDeniedException`; GCP status 7 (`PERMISSION_DENIED`).
    pub error_codes: Vec<String>,
    /// Severity of a single denied call.
    pub single_call_severity: Severity,
    /// Denied calls in a burst that make it `burst_severity` (0 turns the raise off).
    pub burst_min_failures: u32,
    /// Severity of such a burst.
    pub burst_severity: Severity,
}

impl Default for FailedCalls {
    fn default() -> Self {
        Self {
            error_codes: strings(&[
                "*UnauthorizedOperation",
                "AccessDenied*",
                "7",
                "PERMISSION_DENIED",
            ]),
            single_call_severity: Severity::Medium,
            burst_min_failures: 3,
            burst_severity: Severity::High,
        }
    }
}

/// `[analytics.an0908.cli]`: the cloud CLIs run on a host, on process starts of any OS.
/// Program names are globs on the file name with `.exe`, `.cmd` and `.bat` removed. The
/// collector sees the interpreter's argv, so the wrappers are read too: `python -Im
/// azure.cli …` (Linux) and `python.exe -IBm azure.cli …` (Windows) for `az`, `python
/// …/lib/gcloud.py …` for gcloud, `python …/bin/aws …` for AWS CLI v1. A program started
/// as a `#!` script by a shell (`/usr/bin/az`, `/usr/bin/gcloud` are shell wrappers) is
/// left to the interpreter the wrapper starts, so one command gives one alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CloudCliCommands {
    /// Watch the cloud CLIs on hosts.
    pub enabled: bool,
    /// Severity of a match.
    pub severity: Severity,
    /// The AWS CLI (v2 is a binary `aws`/`aws.exe`; v1 a Python script `aws`).
    pub aws_programs: Vec<String>,
    /// Python modules that are the AWS CLI (`python -m awscli`).
    pub aws_modules: Vec<String>,
    /// The CLI spelling of every exact AWS API name in `api_list` counts (`DescribeVpcs`
    /// → `aws ec2 describe-vpcs`, ELB → `aws elb` and `aws elbv2`). AWS CLI global
    /// options (`--region x`, `--profile x`, `--output json`, ...) may come before or
    /// after the command.
    pub aws_from_api_list: bool,
    /// More AWS CLI commands: `"service operation"` (`"ec2 describe-instances"`).
    pub aws_commands: Vec<String>,
    /// The Azure CLI.
    pub az_programs: Vec<String>,
    /// Python modules that are the Azure CLI.
    pub az_modules: Vec<String>,
    /// Azure CLI commands as words (`"network vnet list"`), typed exactly; options may
    /// follow.
    pub az_commands: Vec<String>,
    /// gcloud (the `gcloud` launcher and the `gcloud.py` the interpreter runs).
    pub gcloud_programs: Vec<String>,
    /// gcloud commands as words (`"compute networks list"`), after any release track
    /// (`alpha`, `beta`, `preview`); flags may come anywhere.
    pub gcloud_commands: Vec<String>,
    /// Python interpreters whose script or `-m` module is read.
    pub interpreters: Vec<String>,
    /// PowerShell hosts whose command line (and `-EncodedCommand`) is searched for
    /// `powershell_cmdlets`.
    pub powershell_hosts: Vec<String>,
    /// Cmdlets of AWS Tools for PowerShell, Az PowerShell and Google Cloud Tools for
    /// PowerShell, matched as whole words (`Get-EC2Vpc` does not match
    /// `Get-EC2VpcAttribute`).
    pub powershell_cmdlets: Vec<String>,
}

impl Default for CloudCliCommands {
    fn default() -> Self {
        Self {
            enabled: true,
            severity: Severity::Low,
            aws_programs: strings(&["aws"]),
            aws_modules: strings(&["awscli"]),
            aws_from_api_list: true,
            aws_commands: Vec::new(),
            az_programs: strings(&["az"]),
            az_modules: strings(&["azure.cli"]),
            az_commands: strings(&[
                "network vnet list",
                "network vnet show",
                "network vnet list-available-ips",
                "network vnet subnet list",
                "network vnet subnet show",
                "network vnet peering list",
                "network vnet peering show",
                "network nic list",
                "network nic show",
                "network nic list-effective-nsg",
                "network nic show-effective-route-table",
                "network nsg list",
                "network nsg show",
                "network nsg rule list",
                "network public-ip list",
                "network public-ip show",
                "network lb list",
                "network lb show",
                "network route-table list",
                "network route-table show",
                "network route-table route list",
                "network nat gateway list",
                "network vnet-gateway list",
                "network vpn-connection list",
                "network local-gateway list",
                "network express-route list",
                "network private-endpoint list",
                "network private-link-service list",
                "network application-gateway list",
                "network firewall list",
            ]),
            gcloud_programs: strings(&["gcloud", "gcloud.py"]),
            gcloud_commands: strings(&[
                "compute networks list",
                "compute networks describe",
                "compute networks subnets list",
                "compute networks subnets list-usable",
                "compute networks subnets describe",
                "compute networks peerings list",
                "compute networks peerings list-routes",
                "compute firewall-rules list",
                "compute firewall-rules describe",
                "compute firewall-policies list",
                "compute network-firewall-policies list",
                "compute routes list",
                "compute addresses list",
                "compute routers list",
                "compute routers describe",
                "compute routers get-status",
                "compute interconnects list",
                "compute interconnects attachments list",
                "compute vpn-tunnels list",
                "compute vpn-gateways list",
                "compute target-vpn-gateways list",
                "compute forwarding-rules list",
                "compute backend-services list",
                "compute network-endpoint-groups list",
            ]),
            interpreters: strings(&["python*", "pythonw*", "py"]),
            powershell_hosts: strings(&["powershell", "pwsh", "powershell_ise"]),
            powershell_cmdlets: strings(&[
                // AWS Tools for PowerShell
                "Get-EC2Vpc",
                "Get-EC2Subnet",
                "Get-EC2NetworkInterface",
                "Get-EC2RouteTable",
                "Get-EC2SecurityGroup",
                "Get-EC2SecurityGroupRule",
                "Get-EC2NetworkAcl",
                "Get-EC2InternetGateway",
                "Get-EC2NatGateway",
                "Get-EC2VpcPeeringConnection",
                "Get-EC2VpcEndpoint",
                "Get-EC2TransitGateway",
                "Get-EC2TransitGatewayAttachment",
                "Get-EC2Address",
                "Get-EC2FlowLog",
                "Get-EC2DhcpOption",
                "Get-EC2VpnConnection",
                "Get-EC2VpnGateway",
                "Get-EC2CustomerGateway",
                "Get-ELB2LoadBalancer",
                "Get-ELB2TargetGroup",
                "Get-ELB2Listener",
                "Get-ELBLoadBalancer",
                "Get-DCConnection",
                "Get-DCVirtualInterface",
                // Az PowerShell
                "Get-AzVirtualNetwork",
                "Get-AzVirtualNetworkSubnetConfig",
                "Get-AzVirtualNetworkPeering",
                "Get-AzNetworkInterface",
                "Get-AzNetworkSecurityGroup",
                "Get-AzPublicIpAddress",
                "Get-AzLoadBalancer",
                "Get-AzRouteTable",
                "Get-AzVirtualNetworkGateway",
                "Get-AzVirtualNetworkGatewayConnection",
                "Get-AzExpressRouteCircuit",
                "Get-AzPrivateEndpoint",
                "Get-AzFirewall",
                "Get-AzNatGateway",
                "Get-AzEffectiveRouteTable",
                "Get-AzEffectiveNetworkSecurityGroup",
                // Google Cloud Tools for PowerShell
                "Get-GceNetwork",
                "Get-GceFirewall",
                "Get-GceRoute",
                "Get-GceAddress",
                "Get-GceForwardingRule",
            ]),
        }
    }
}

fn non_empty(field: &str, list: &[String], problems: &mut Problems) {
    for (i, item) in list.iter().enumerate() {
        if item.trim().is_empty() {
            problems.push((
                format!("{field}[{i}]"),
                "expected a name or pattern, found an empty string".into(),
            ));
        }
    }
}

fn one_word(field: &str, list: &[String], what: &str, problems: &mut Problems) {
    for (i, item) in list.iter().enumerate() {
        if item.trim().is_empty() {
            problems.push((
                format!("{field}[{i}]"),
                format!("expected {what}, found an empty string"),
            ));
        } else if item.split_whitespace().count() > 1 {
            problems.push((
                format!("{field}[{i}]"),
                format!("expected {what} (one word), found {item:?}"),
            ));
        }
    }
}

fn words(field: &str, list: &[String], min: usize, example: &str, problems: &mut Problems) {
    for (i, item) in list.iter().enumerate() {
        let n = item.split_whitespace().count();
        let bad_word = item
            .split_whitespace()
            .find(|w| w.starts_with('-') || w.contains('*') || w.contains('?'));
        if n < min || bad_word.is_some() {
            problems.push((
                format!("{field}[{i}]"),
                format!(
                    "expected at least {min} command words without options or wildcards ({example:?}), found {item:?}"
                ),
            ));
        }
    }
}

fn threshold(field: &str, name: &str, count: u32, max: u32, problems: &mut Problems) {
    if count == 1 || count > max {
        problems.push((
            format!("{field}.{name}"),
            format!("expected 0 (off) or 2 to {max}, found {count}"),
        ));
    }
}

impl An0908Config {
    pub(crate) fn check_values(&self, problems: &mut Problems) {
        let f = "analytics.an0908.api_list";
        let a = &self.api_list;
        for (name, list) in [
            ("ec2", &a.ec2),
            ("elasticloadbalancing", &a.elasticloadbalancing),
            ("directconnect", &a.directconnect),
            ("network_firewall", &a.network_firewall),
            ("networkmanager", &a.networkmanager),
            ("route53", &a.route53),
            ("compute", &a.compute),
        ] {
            one_word(&format!("{f}.{name}"), list, "an API name", problems);
        }
        for (provider, list) in &a.other {
            let p = provider.trim();
            if p.is_empty() || p.contains(char::is_whitespace) || !p.contains('.') {
                problems.push((
                    format!("{f}.other"),
                    format!(
                        "expected a service such as \"globalaccelerator.amazonaws.com\", found {provider:?}"
                    ),
                ));
            }
            one_word(
                &format!("{f}.other.{provider}"),
                list,
                "an API name",
                problems,
            );
        }

        let f = "analytics.an0908.origin";
        let o = &self.origin;
        for (name, list) in [
            ("console", &o.console),
            ("iac", &o.iac),
            ("cli", &o.cli),
            ("sdk", &o.sdk),
            ("service", &o.service),
        ] {
            non_empty(&format!("{f}.{name}"), list, problems);
        }

        let f = "analytics.an0908.service_principal_allowlist";
        let s = &self.service_principal_allowlist;
        for (name, list) in [
            ("arns", &s.arns),
            ("role_names", &s.role_names),
            ("session_names", &s.session_names),
            ("gcp_service_accounts", &s.gcp_service_accounts),
            ("gcp_service_agents", &s.gcp_service_agents),
        ] {
            one_word(&format!("{f}.{name}"), list, "a name or pattern", problems);
        }
        for (i, id) in s.account_ids.iter().enumerate() {
            let t = id.trim();
            if t.is_empty() || t.contains(char::is_whitespace) {
                problems.push((
                    format!("{f}.account_ids[{i}]"),
                    format!(
                        "expected an account id such as \"111122223333\" (or a GCP project), found {id:?}"
                    ),
                ));
            }
        }

        let f = "analytics.an0908.burst_query_threshold";
        let b = &self.burst_query_threshold;
        threshold(f, "distinct_apis", b.distinct_apis, 1_000, problems);
        threshold(f, "calls", b.calls, 10_000, problems);
        for (on, secs, name) in [
            (
                b.distinct_apis > 0,
                b.distinct_window_secs,
                "distinct_window_secs",
            ),
            (b.calls > 0, b.calls_window_secs, "calls_window_secs"),
        ] {
            if on && !(1..=86_400).contains(&secs) {
                problems.push((
                    format!("{f}.{name}"),
                    format!("expected 1 to 86400 seconds, found {secs}"),
                ));
            }
        }

        let f = "analytics.an0908.failed_calls";
        non_empty(
            &format!("{f}.error_codes"),
            &self.failed_calls.error_codes,
            problems,
        );

        let f = "analytics.an0908.cli";
        let c = &self.cli;
        for (name, list) in [
            ("aws_programs", &c.aws_programs),
            ("aws_modules", &c.aws_modules),
            ("az_programs", &c.az_programs),
            ("az_modules", &c.az_modules),
            ("gcloud_programs", &c.gcloud_programs),
            ("interpreters", &c.interpreters),
            ("powershell_hosts", &c.powershell_hosts),
            ("powershell_cmdlets", &c.powershell_cmdlets),
        ] {
            one_word(&format!("{f}.{name}"), list, "a name", problems);
        }
        for (i, item) in c.aws_commands.iter().enumerate() {
            let n = item.split_whitespace().count();
            if n != 2 || item.contains('*') || item.split_whitespace().any(|w| w.starts_with('-')) {
                problems.push((
                    format!("{f}.aws_commands[{i}]"),
                    format!(
                        "expected a service and an operation (\"ec2 describe-instances\"), found {item:?}"
                    ),
                ));
            }
        }
        words(
            &format!("{f}.az_commands"),
            &c.az_commands,
            2,
            "network vnet list",
            problems,
        );
        words(
            &format!("{f}.gcloud_commands"),
            &c.gcloud_commands,
            2,
            "compute networks list",
            problems,
        );
    }
}
