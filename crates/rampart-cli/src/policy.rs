//! `rampart policy`: validate and simulate AWS IAM policies offline, with the same engine the
//! server enforces with. No server needed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use rampart_policy::{Context, Input, Named, Policy, PolicyKind, Principal, Severity, decide, diagnose};
use serde_json::json;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Check policy files: each problem at its line and column, with its statement (numbered
    /// from 1): errors as IAM reports them (MalformedPolicyDocument), element names that are not
    /// policy elements, actions no AWS service documents, and likely mistakes. Exits 1 when any
    /// file has an error.
    Validate {
        /// The policy kind: identity, boundary, session, trust, resource, scp or rcp.
        #[arg(long, default_value = "identity", value_parser = parse_kind)]
        kind: PolicyKind,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Decide one request as AWS would and show the statements that decided. Exits 0 when
    /// allowed, 1 when denied.
    Simulate(Box<SimulateArgs>),
    /// Show an AWS managed policy: its ARN, default version and document. Exits 1 when there is
    /// none of that name.
    #[command(after_help = "Examples:\n  rampart policy show ReadOnlyAccess\n  rampart policy show \
                            arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole > lambda.json")]
    Show {
        /// The policy's name or ARN.
        policy: String,
        /// Print the document alone (to save as a file).
        #[arg(long)]
        document_only: bool,
    },
}

/// What `rampart policy simulate` reads.
#[derive(clap::Args)]
pub struct SimulateArgs {
    /// Identity-based policy files of the principal (repeatable).
    #[arg(long = "policy")]
    policies: Vec<PathBuf>,
    /// A permissions boundary.
    #[arg(long)]
    boundary: Option<PathBuf>,
    /// Session policy files (repeatable); present means the session has session policies.
    #[arg(long = "session-policy")]
    session_policies: Vec<PathBuf>,
    /// A resource-based policy of the resource.
    #[arg(long)]
    resource_policy: Option<PathBuf>,
    /// The account that owns the resource (default: the principal's).
    #[arg(long)]
    resource_account: Option<String>,
    /// SCP files, one per level from the organization root down to the account (repeatable).
    #[arg(long = "scp")]
    scps: Vec<PathBuf>,
    /// RCP files, one per level (repeatable).
    #[arg(long = "rcp")]
    rcps: Vec<PathBuf>,
    /// The principal's ARN: `…:root`, `…:user/NAME` or `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    #[arg(long, default_value = "arn:aws:iam::123456789012:user/simulated")]
    principal: String,
    /// The action, e.g. `s3:GetObject`.
    #[arg(long)]
    action: String,
    /// The resource ARN, or `*`.
    #[arg(long, default_value = "*")]
    resource: String,
    /// A context value: `KEY=TYPE:VALUE`, types as the IAM simulator's (string, stringList,
    /// numeric, boolean, date, ip, binary, arn; lists comma-separated). Repeatable.
    #[arg(long = "context")]
    context: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn parse_kind(s: &str) -> Result<PolicyKind, String> {
    Ok(match s {
        "identity" => PolicyKind::Identity,
        "boundary" => PolicyKind::Boundary,
        "session" => PolicyKind::Session,
        "trust" => PolicyKind::Trust,
        "resource" => PolicyKind::Resource,
        "scp" => PolicyKind::Scp,
        "rcp" => PolicyKind::Rcp,
        _ => return Err(format!("unknown policy kind `{s}`")),
    })
}

pub fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Validate { kind, json, files } => validate(kind, json, &files),
        Command::Show { policy, document_only } => Ok(show(&policy, document_only)),
        Command::Simulate(args) => {
            let SimulateArgs {
                policies,
                boundary,
                session_policies,
                resource_policy,
                resource_account,
                scps,
                rcps,
                principal,
                action,
                resource,
                context,
                json,
            } = *args;
            let load = |p: &Path, k: PolicyKind| -> anyhow::Result<Policy> {
                let text = std::fs::read_to_string(p).with_context(|| format!("cannot read `{}`", p.display()))?;
                Policy::parse(&text, k).map_err(|e| anyhow::anyhow!("`{}`: MalformedPolicyDocument: {e}", p.display()))
            };
            let identity: Vec<Policy> =
                policies.iter().map(|p| load(p, PolicyKind::Identity)).collect::<Result<_, _>>()?;
            let boundary_p = boundary.as_deref().map(|p| load(p, PolicyKind::Boundary)).transpose()?;
            let session: Vec<Policy> =
                session_policies.iter().map(|p| load(p, PolicyKind::Session)).collect::<Result<_, _>>()?;
            let resource_p = resource_policy.as_deref().map(|p| load(p, PolicyKind::Resource)).transpose()?;
            let scp_p: Vec<Policy> = scps.iter().map(|p| load(p, PolicyKind::Scp)).collect::<Result<_, _>>()?;
            let rcp_p: Vec<Policy> = rcps.iter().map(|p| load(p, PolicyKind::Rcp)).collect::<Result<_, _>>()?;
            let name = |p: &Path| p.display().to_string();
            let names: Vec<String> = policies.iter().map(|p| name(p)).collect();
            let identity_n: Vec<Named<'_>> =
                identity.iter().zip(&names).map(|(p, n)| Named { name: n, policy: p }).collect();
            let session_names: Vec<String> = session_policies.iter().map(|p| name(p)).collect();
            let session_n: Vec<Named<'_>> =
                session.iter().zip(&session_names).map(|(p, n)| Named { name: n, policy: p }).collect();
            let scp_names: Vec<String> = scps.iter().map(|p| name(p)).collect();
            let scp_levels: Vec<[Named<'_>; 1]> =
                scp_p.iter().zip(&scp_names).map(|(p, n)| [Named { name: n, policy: p }]).collect();
            let scp_refs: Vec<&[Named<'_>]> = scp_levels.iter().map(|l| &l[..]).collect();
            let rcp_names: Vec<String> = rcps.iter().map(|p| name(p)).collect();
            let rcp_levels: Vec<[Named<'_>; 1]> =
                rcp_p.iter().zip(&rcp_names).map(|(p, n)| [Named { name: n, policy: p }]).collect();
            let rcp_refs: Vec<&[Named<'_>]> = rcp_levels.iter().map(|l| &l[..]).collect();
            let boundary_name = boundary.as_deref().map(name).unwrap_or_default();
            let resource_name = resource_policy.as_deref().map(name).unwrap_or_default();
            let principal = parse_principal(&principal)?;
            let ctx = parse_context(&context)?;
            let input = Input {
                action: &action,
                resource: &resource,
                principal: &principal,
                context: &ctx,
                identity: &identity_n,
                boundary: boundary_p.as_ref().map(|p| Named { name: &boundary_name, policy: p }),
                session: (!session_n.is_empty()).then_some(&session_n[..]),
                scps: &scp_refs,
                rcps: &rcp_refs,
                resource_policy: resource_p.as_ref().map(|p| Named { name: &resource_name, policy: p }),
                resource_account: resource_account.as_deref(),
                resource_policy_required: false,
            };
            let d = decide(&input);
            let matched: Vec<serde_json::Value> = d
                .matched
                .iter()
                .map(|m| json!({"policy": m.policy, "statement": m.index, "sid": m.sid, "effect": format!("{:?}", m.effect)}))
                .collect();
            if json {
                let out = json!({
                    "decision": d.kind.as_str(),
                    "matchedStatements": matched,
                    "missingContextValues": d.missing_context,
                    "organizationsDecision": d.organizations_allowed.map(|a| if a { "allowed" } else { "implicitDeny" }),
                    "permissionsBoundaryDecision": d.boundary_allowed.map(|a| if a { "allowed" } else { "implicitDeny" }),
                    "reason": (!d.is_allowed()).then(|| d.reason(&action)),
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("{}", d.kind.as_str());
                if !d.is_allowed() {
                    println!(
                        "  {} is not authorized to perform: {action} on resource: {resource} {}",
                        principal.arn,
                        d.reason(&action)
                    );
                }
                for m in &d.matched {
                    let sid = m.sid.map(|s| format!(" ({s})")).unwrap_or_default();
                    println!("  matched: {} statement {}{sid}: {:?}", m.policy, m.index + 1, m.effect);
                }
                if !d.missing_context.is_empty() {
                    println!("  missing context values: {}", d.missing_context.join(", "));
                }
            }
            Ok(if d.is_allowed() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
    }
}

fn validate(kind: PolicyKind, json: bool, files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    let mut reports = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).with_context(|| format!("cannot read `{}`", f.display()))?;
        // IAM's verdict, as the API words it; the diagnostics locate and explain it.
        let verdict = Policy::parse(&text, kind);
        let diagnostics = diagnose(&text, kind);
        let valid = verdict.is_ok() && diagnostics.iter().all(|d| d.severity != Severity::Error);
        failed |= !valid;
        if json {
            let listed: Vec<_> = diagnostics
                .iter()
                .map(|d| {
                    json!({
                        "severity": if d.severity == Severity::Error { "error" } else { "warning" },
                        "line": d.line,
                        "column": d.column,
                        "statement": d.statement,
                        "message": d.message,
                    })
                })
                .collect();
            let error = verdict.as_ref().err().map(|e| json!({"code": e.code(), "message": e.message}));
            reports.push(json!({"file": f, "valid": valid, "error": error, "diagnostics": listed}));
            continue;
        }
        if valid {
            println!("{}: valid", f.display());
        }
        for d in &diagnostics {
            let severity = if d.severity == Severity::Error { "error" } else { "warning" };
            let statement = d.statement.map(|n| format!("statement {n}: ")).unwrap_or_default();
            println!("{}:{}:{}: {severity}: {statement}{}", f.display(), d.line, d.column, d.message);
        }
        if let Err(e) = &verdict
            && !diagnostics.iter().any(|d| d.severity == Severity::Error)
        {
            println!("{}: error: {}: {}", f.display(), e.code(), e.message);
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Prints an AWS managed policy found by ARN or name.
fn show(policy: &str, document_only: bool) -> ExitCode {
    let found = if policy.starts_with("arn:") {
        rampart_iam::iam::aws_managed(policy)
    } else {
        rampart_iam::iam::aws_managed_named(policy)
    };
    let Some(p) = found else {
        eprintln!("rampart: `{policy}` is not an AWS managed policy (names and ARNs are case-sensitive)");
        return ExitCode::from(1);
    };
    let document = p.versions.get(&p.default_version).map(|v| v.document.as_str()).unwrap_or("{}");
    let pretty = serde_json::from_str::<serde_json::Value>(document)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| document.to_owned());
    if !document_only {
        println!("{}", p.arn());
        println!("  default version: {} (updated {})", p.default_version, p.updated.date());
        if let Some(d) = &p.description {
            println!("  {d}");
        }
    }
    println!("{pretty}");
    ExitCode::SUCCESS
}

fn parse_principal(arn: &str) -> anyhow::Result<Principal> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, _, service, _, account, resource] = parts.as_slice() else { bail!("principal `{arn}` is not an ARN") };
    Ok(match (*service, *resource) {
        ("iam", "root") => Principal::root(account),
        ("iam", r) if r.starts_with("user/") => {
            let path_name = r.trim_start_matches("user");
            let (path, name) =
                path_name.rsplit_once('/').map(|(p, n)| (format!("{p}/"), n)).unwrap_or(("/".into(), path_name));
            Principal::user(account, &path, name)
        }
        ("sts", r) if r.starts_with("assumed-role/") => {
            let mut it = r.trim_start_matches("assumed-role/").splitn(2, '/');
            let (Some(role), Some(session)) = (it.next(), it.next()) else {
                bail!("principal `{arn}` needs a role and a session name")
            };
            Principal::role_session(account, "/", role, session)
        }
        _ => bail!("principal `{arn}` must be a root, user or assumed-role ARN"),
    })
}

fn parse_context(entries: &[String]) -> anyhow::Result<Context> {
    let mut ctx = Context::new();
    for e in entries {
        let (key, typed) = e.split_once('=').with_context(|| format!("context `{e}` must be KEY=TYPE:VALUE"))?;
        let (ty, value) = typed.split_once(':').with_context(|| format!("context `{e}` must be KEY=TYPE:VALUE"))?;
        const TYPES: &[&str] = &["string", "numeric", "boolean", "date", "ip", "binary", "arn"];
        match ty.strip_suffix("List") {
            Some(base) if TYPES.contains(&base) => {
                ctx.set_many(key, value.split(',').map(str::to_owned).collect());
            }
            None if TYPES.contains(&ty) => {
                ctx.set(key, value);
            }
            _ => bail!(
                "context type `{ty}` is not one of string, numeric, boolean, date, ip, binary, arn (or their List forms)"
            ),
        }
    }
    Ok(ctx)
}
