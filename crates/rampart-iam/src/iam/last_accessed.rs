//! Last accessed information (IAM's access advisor): which services — and for tracked services
//! which actions — each user and role last attempted to use, when and where, against what their
//! policies allow; the least-privilege report.
//!
//! Every authenticated request by a user or a role session is noted by the pipeline as it is
//! audited ([`access_record`]: one small record per entity and action, at most once a minute),
//! so a report reads a few records per entity instead of the whole event history.
//! See <https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_last-accessed.html>.

use std::collections::{BTreeMap, BTreeSet};

use rampart_core::records::{self, read_cached};
use rampart_core::{Ctx, Principal, PrincipalKind, ServiceError, TxCtx, keys};
use rampart_policy::{Policy, PolicyKind};
use rampart_shapes::generated::iam as shapes;
use rampart_store::{Db, KeyValue, StoreError, Tx};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::groups::GroupRecord;
use super::roles::RoleRecord;
use super::{ManagedPolicyRecord, UserRecord, aws_managed};

/// The reads a report makes: from the store (ListPoliciesGrantingServiceAccess), or inside the
/// transaction that keeps the report (GenerateServiceLastAccessedDetails).
trait Reads {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    fn scan(&self, prefix: &[u8]) -> Result<Vec<KeyValue>, StoreError>;
}

impl Reads for Db {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.get_cached(key)?.map(|b| b.to_vec()))
    }

    fn scan(&self, prefix: &[u8]) -> Result<Vec<KeyValue>, StoreError> {
        self.scan_prefix(prefix, None, usize::MAX >> 1, false)
    }
}

impl Reads for Tx<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Tx::get(self, key)
    }

    fn scan(&self, prefix: &[u8]) -> Result<Vec<KeyValue>, StoreError> {
        self.scan_prefix(prefix, None, usize::MAX >> 1, false)
    }
}

fn record<T: for<'de> Deserialize<'de>>(r: &impl Reads, key: &[u8]) -> Result<Option<T>, ServiceError> {
    r.get(key)?.map(|b| records::decode(key, &b)).transpose()
}

fn scan_records<T: for<'de> Deserialize<'de>>(r: &impl Reads, prefix: &[u8]) -> Result<Vec<T>, ServiceError> {
    r.scan(prefix)?.iter().map(|(k, v)| records::decode(k, v)).collect()
}

/// Services whose actions AWS tracks one by one in an ACTION_LEVEL report.
const TRACKED: &[&str] = &["ec2", "iam", "lambda", "s3"];

/// One entity's last attempt at one action.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessUse {
    #[serde(with = "time::serde::rfc3339")]
    pub date: OffsetDateTime,
    pub region: String,
}

/// The entity whose access a principal's request counts for: an IAM user, a role through its
/// sessions, or the account's root user (as `root`: IAM's own reports cover users and roles, the
/// Organizations access report every principal of an account); `None` for federated callers.
pub fn access_entity(principal: &Principal) -> Option<&str> {
    match principal.kind {
        PrincipalKind::IAMUser => Some(principal.user_id.as_str()),
        PrincipalKind::AssumedRole => principal.session.as_ref().map(|s| s.role_id.as_str()),
        PrincipalKind::Root => Some("root"),
        _ => None,
    }
}

/// The key under which an entity's attempt at `action` (`service:Action`) is noted.
pub fn access_record(account: &str, entity: &str, action: &str) -> Vec<u8> {
    keys::access_use(account, entity, &action.to_ascii_lowercase())
}

/// An entity a report covers.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entity {
    id: String,
    arn: String,
    name: String,
    path: String,
    /// `USER` or `ROLE`.
    kind: String,
}

/// Where a policy granting access comes from.
#[derive(Debug, Clone)]
enum Source {
    Inline { owner_type: &'static str, owner: String, name: String },
    Managed { arn: String },
}

/// A generated report, kept for the Get calls.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Job {
    v: u32,
    granularity: String,
    #[serde(with = "time::serde::rfc3339")]
    created: OffsetDateTime,
    entities: Vec<Entity>,
    /// The services the policies allow, by prefix, with the actions they allow of tracked ones.
    services: BTreeMap<String, Vec<String>>,
    /// Each entity's last attempts, by entity id then `service:action`.
    uses: BTreeMap<String, BTreeMap<String, AccessUse>>,
}

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::new("InvalidInput", 400, message)
}

fn no_such_entity(arn: &str) -> ServiceError {
    ServiceError::new("NoSuchEntity", 404, format!("The entity {arn} cannot be found."))
}

/// A managed policy's default version, AWS's or the account's.
fn managed(r: &impl Reads, arn: &str) -> Result<Option<String>, ServiceError> {
    let policy = match aws_managed(arn) {
        Some(p) => Some(p),
        None => {
            let Some((account, rest)) = arn.strip_prefix("arn:aws:iam::").and_then(|a| a.split_once(":policy/")) else {
                return Ok(None);
            };
            let name = rest.rsplit('/').next().unwrap_or(rest);
            record::<ManagedPolicyRecord>(r, &keys::policy(account, name))?.filter(|p| p.arn() == arn)
        }
    };
    Ok(policy.and_then(|p| p.versions.get(&p.default_version).map(|v| v.document.clone())))
}

fn user_entity(u: &UserRecord) -> Entity {
    Entity { id: u.id.clone(), arn: u.arn(), name: u.name.clone(), path: u.path.clone(), kind: "USER".into() }
}

fn role_entity(r: &RoleRecord) -> Entity {
    Entity { id: r.id.clone(), arn: r.arn(), name: r.name.clone(), path: r.path.clone(), kind: "ROLE".into() }
}

fn group_sources(db: &impl Reads, g: &GroupRecord) -> Result<Vec<(Source, String)>, ServiceError> {
    let mut out: Vec<(Source, String)> = g
        .inline_policies
        .iter()
        .map(|(n, d)| (Source::Inline { owner_type: "GROUP", owner: g.name.clone(), name: n.clone() }, d.clone()))
        .collect();
    for arn in &g.attached {
        if let Some(d) = managed(db, arn)? {
            out.push((Source::Managed { arn: arn.clone() }, d));
        }
    }
    Ok(out)
}

/// The entities a report covers and the policy documents (with where each comes from) that say
/// what they may use.
type Subject = (Vec<Entity>, Vec<(Source, String)>);

/// What a report's ARN names: the entities whose attempts count, and the policies that say which
/// services they may use.
fn subject(db: &impl Reads, account: &str, arn: &str) -> Result<Subject, ServiceError> {
    let resource = arn.strip_prefix(&format!("arn:aws:iam::{account}:")).ok_or_else(|| {
        invalid(format!("ARN {arn} is not valid: give a user, group, role or policy of this account."))
    })?;
    let name_in = |rest: &str| rest.rsplit('/').next().unwrap_or(rest).to_owned();
    if let Some(rest) = resource.strip_prefix("user/") {
        let u = record::<UserRecord>(db, &keys::user(account, &name_in(rest)))?
            .filter(|u| u.arn() == arn)
            .ok_or_else(|| no_such_entity(arn))?;
        let mut sources: Vec<(Source, String)> = u
            .inline_policies
            .iter()
            .map(|(n, d)| (Source::Inline { owner_type: "USER", owner: u.name.clone(), name: n.clone() }, d.clone()))
            .collect();
        for a in &u.attached {
            if let Some(d) = managed(db, a)? {
                sources.push((Source::Managed { arn: a.clone() }, d));
            }
        }
        for g in &u.groups {
            if let Some(group) = record::<GroupRecord>(db, &keys::group(account, g))? {
                sources.extend(group_sources(db, &group)?);
            }
        }
        return Ok((vec![user_entity(&u)], sources));
    }
    if let Some(rest) = resource.strip_prefix("role/") {
        let r = record::<RoleRecord>(db, &keys::role(account, &name_in(rest)))?
            .filter(|r| r.arn() == arn)
            .ok_or_else(|| no_such_entity(arn))?;
        let mut sources: Vec<(Source, String)> = r
            .inline_policies
            .iter()
            .map(|(n, d)| (Source::Inline { owner_type: "ROLE", owner: r.name.clone(), name: n.clone() }, d.clone()))
            .collect();
        for a in &r.attached {
            if let Some(d) = managed(db, a)? {
                sources.push((Source::Managed { arn: a.clone() }, d));
            }
        }
        return Ok((vec![role_entity(&r)], sources));
    }
    if let Some(rest) = resource.strip_prefix("group/") {
        let g = record::<GroupRecord>(db, &keys::group(account, &name_in(rest)))?
            .filter(|g| g.arn() == arn)
            .ok_or_else(|| no_such_entity(arn))?;
        let mut members = Vec::new();
        for m in &g.members {
            if let Some(u) = record::<UserRecord>(db, &keys::user(account, m))? {
                members.push(user_entity(&u));
            }
        }
        return Ok((members, group_sources(db, &g)?));
    }
    if resource.starts_with("policy/") {
        let doc = managed(db, arn)?.ok_or_else(|| no_such_entity(arn))?;
        // The entities the policy is attached to, directly or through a group.
        let mut entities: BTreeMap<String, Entity> = BTreeMap::new();
        for u in scan_records::<UserRecord>(db, &keys::users(account))? {
            if u.attached.contains(arn) {
                entities.insert(u.id.clone(), user_entity(&u));
            }
        }
        for r in scan_records::<RoleRecord>(db, &keys::roles(account))? {
            if r.attached.contains(arn) {
                entities.insert(r.id.clone(), role_entity(&r));
            }
        }
        for g in scan_records::<GroupRecord>(db, &keys::groups(account))? {
            if g.attached.contains(arn) {
                for m in &g.members {
                    if let Some(u) = record::<UserRecord>(db, &keys::user(account, m))? {
                        entities.insert(u.id.clone(), user_entity(&u));
                    }
                }
            }
        }
        return Ok((entities.into_values().collect(), vec![(Source::Managed { arn: arn.to_owned() }, doc)]));
    }
    // AWS reports on users, groups, roles and policies only.
    Err(invalid(format!("ARN {arn} is not valid: give a user, group, role or policy of this account.")))
}

/// The services (and actions) the documents allow. A document that no longer parses grants nothing.
fn allowed(docs: &[(Source, String)]) -> BTreeMap<String, BTreeSet<&'static str>> {
    let mut out: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    for (_, doc) in docs {
        let Ok(policy) = Policy::parse(doc, PolicyKind::Identity) else { continue };
        for (service, actions) in rampart_policy::allowed_actions(&policy) {
            out.entry(service.to_owned()).or_default().extend(actions);
        }
    }
    out
}

/// Generates a report for a user, group, role or managed policy and answers its job id. Rampart
/// computes it at once, in the transaction that keeps it, from the noted attempts;
/// GetServiceLastAccessedDetails reads it.
pub fn generate_service_last_accessed_details(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::GenerateServiceLastAccessedDetailsRequest,
) -> Result<shapes::GenerateServiceLastAccessedDetailsResponse, ServiceError> {
    let account = &ctx.principal.account_id;
    let granularity = input.granularity.unwrap_or_else(|| "SERVICE_LEVEL".to_owned());
    let (entities, sources) = subject(&*tx, account, &input.arn)?;
    let services = allowed(&sources)
        .into_iter()
        .map(|(service, actions)| {
            let tracked = granularity == "ACTION_LEVEL" && TRACKED.contains(&service.as_str());
            let actions = if tracked { actions.into_iter().map(str::to_owned).collect() } else { Vec::new() };
            (service, actions)
        })
        .collect();
    let mut uses = BTreeMap::new();
    for e in &entities {
        let mut mine = BTreeMap::new();
        for (k, v) in tx.scan(&keys::access_uses(account, &e.id))? {
            let Some(action) = k.rsplit(|b| *b == b'/').next() else { continue };
            let used: AccessUse = records::decode(&k, &v)?;
            mine.insert(String::from_utf8_lossy(action).into_owned(), used);
        }
        uses.insert(e.id.clone(), mine);
    }
    let job = Job { v: 1, granularity, created: ctx.now, entities, services, uses };
    let id = uuid::Uuid::new_v4().to_string();
    records::write_tx(tx, &keys::access_job(account, &id), &job)?;
    Ok(shapes::GenerateServiceLastAccessedDetailsResponse { job_id: Some(id) })
}

fn read_job(ctx: &Ctx<'_>, id: &str) -> Result<Job, ServiceError> {
    read_cached(ctx.db, &keys::access_job(&ctx.principal.account_id, id))?
        .ok_or_else(|| ServiceError::new("NoSuchEntity", 404, format!("No job with JobId {id} exists.")))
}

/// The latest attempt among `uses` whose action is in `service`, with whose it was.
fn latest<'j>(job: &'j Job, service: &str) -> (Option<(&'j Entity, &'j AccessUse)>, i32) {
    let prefix = format!("{service}:");
    let mut best: Option<(&Entity, &AccessUse)> = None;
    let mut entities = 0;
    for e in &job.entities {
        let mine = job.uses.get(&e.id).into_iter().flatten().filter(|(a, _)| a.starts_with(&prefix));
        let Some((_, u)) = mine.max_by_key(|(_, u)| u.date) else { continue };
        entities += 1;
        if best.is_none_or(|(_, b)| u.date > b.date) {
            best = Some((e, u));
        }
    }
    (best, entities)
}

/// The service's full name, from the service models where Rampart has one, else its prefix.
pub fn service_name(prefix: &str) -> String {
    rampart_shapes::catalog::AWS_SERVICES
        .iter()
        .find(|s| s.signing_name == prefix)
        .map_or_else(|| prefix.to_owned(), |s| s.name.to_owned())
}

pub fn get_service_last_accessed_details(
    ctx: &Ctx<'_>,
    input: shapes::GetServiceLastAccessedDetailsRequest,
) -> Result<shapes::GetServiceLastAccessedDetailsResponse, ServiceError> {
    let job = read_job(ctx, &input.job_id)?;
    let mut services = Vec::new();
    for (service, actions) in &job.services {
        let (last, entities) = latest(&job, service);
        let tracked = (!actions.is_empty()).then(|| {
            actions
                .iter()
                .filter_map(|a| {
                    let key = format!("{service}:{}", a.to_ascii_lowercase());
                    let (e, u) = job
                        .entities
                        .iter()
                        .filter_map(|e| job.uses.get(&e.id)?.get(&key).map(|u| (e, u)))
                        .max_by_key(|(_, u)| u.date)?;
                    Some(shapes::TrackedActionLastAccessed {
                        action_name: Some(a.clone()),
                        last_accessed_entity: Some(e.arn.clone()),
                        last_accessed_time: Some(u.date),
                        last_accessed_region: Some(u.region.clone()),
                    })
                })
                .collect::<Vec<_>>()
        });
        services.push(shapes::ServiceLastAccessed {
            service_name: service_name(service),
            service_namespace: service.clone(),
            last_authenticated: last.map(|(_, u)| u.date),
            last_authenticated_entity: last.map(|(e, _)| e.arn.clone()),
            last_authenticated_region: last.map(|(_, u)| u.region.clone()),
            total_authenticated_entities: Some(entities),
            tracked_actions_last_accessed: tracked.filter(|t| !t.is_empty()),
        });
    }
    let (services_last_accessed, truncated, marker) =
        super::page_items(services, input.marker.as_deref(), input.max_items)?;
    Ok(shapes::GetServiceLastAccessedDetailsResponse {
        job_status: "COMPLETED".to_owned(),
        job_type: Some(job.granularity.clone()),
        job_creation_date: job.created,
        services_last_accessed,
        job_completion_date: job.created,
        is_truncated: Some(truncated),
        marker,
        error: None,
    })
}

pub fn get_service_last_accessed_details_with_entities(
    ctx: &Ctx<'_>,
    input: shapes::GetServiceLastAccessedDetailsWithEntitiesRequest,
) -> Result<shapes::GetServiceLastAccessedDetailsWithEntitiesResponse, ServiceError> {
    let job = read_job(ctx, &input.job_id)?;
    let prefix = format!("{}:", input.service_namespace.to_ascii_lowercase());
    let mut details: Vec<(Option<OffsetDateTime>, shapes::EntityDetails)> = job
        .entities
        .iter()
        .map(|e| {
            let last = job
                .uses
                .get(&e.id)
                .into_iter()
                .flatten()
                .filter(|(a, _)| a.starts_with(&prefix))
                .map(|(_, u)| u.date)
                .max();
            let info = shapes::EntityInfo {
                arn: e.arn.clone(),
                name: e.name.clone(),
                r#type: e.kind.clone(),
                id: e.id.clone(),
                path: Some(e.path.clone()),
            };
            (last, shapes::EntityDetails { entity_info: info, last_authenticated: last })
        })
        .collect();
    // The most recent first, then those that never used the service.
    details.sort_by_key(|d| std::cmp::Reverse(d.0));
    let details: Vec<shapes::EntityDetails> = details.into_iter().map(|(_, d)| d).collect();
    let (entity_details_list, truncated, marker) =
        super::page_items(details, input.marker.as_deref(), input.max_items)?;
    Ok(shapes::GetServiceLastAccessedDetailsWithEntitiesResponse {
        job_status: "COMPLETED".to_owned(),
        job_creation_date: job.created,
        job_completion_date: job.created,
        entity_details_list,
        is_truncated: Some(truncated),
        marker,
        error: None,
    })
}

/// Which of an entity's policies allow each asked service: inline ones with their owner,
/// managed ones by ARN.
pub fn list_policies_granting_service_access(
    ctx: &Ctx<'_>,
    input: shapes::ListPoliciesGrantingServiceAccessRequest,
) -> Result<shapes::ListPoliciesGrantingServiceAccessResponse, ServiceError> {
    if !input.arn.contains(":user/") && !input.arn.contains(":role/") && !input.arn.contains(":group/") {
        return Err(invalid(format!("ARN {} is not valid: give a user, group or role of this account.", input.arn)));
    }
    let (_, sources) = subject(ctx.db, &ctx.principal.account_id, &input.arn)?;
    let granted: Vec<(&Source, BTreeSet<String>)> = sources
        .iter()
        .map(|(source, doc)| {
            let services = Policy::parse(doc, PolicyKind::Identity)
                .map(|p| rampart_policy::allowed_actions(&p).into_iter().map(|(s, _)| s.to_owned()).collect())
                .unwrap_or_default();
            (source, services)
        })
        .collect();
    let entries = input
        .service_namespaces
        .iter()
        .map(|ns| {
            let ns = ns.to_ascii_lowercase();
            let policies = granted
                .iter()
                .filter(|(_, services)| services.contains(&ns))
                .map(|(source, _)| match source {
                    Source::Inline { owner_type, owner, name } => shapes::PolicyGrantingServiceAccess {
                        policy_name: name.clone(),
                        policy_type: "INLINE".to_owned(),
                        policy_arn: None,
                        entity_type: Some((*owner_type).to_owned()),
                        entity_name: Some(owner.clone()),
                    },
                    Source::Managed { arn } => shapes::PolicyGrantingServiceAccess {
                        policy_name: arn.rsplit('/').next().unwrap_or(arn).to_owned(),
                        policy_type: "MANAGED".to_owned(),
                        policy_arn: Some(arn.clone()),
                        entity_type: None,
                        entity_name: None,
                    },
                })
                .collect();
            shapes::ListPoliciesGrantingServiceAccessEntry { service_namespace: Some(ns), policies: Some(policies) }
        })
        .collect();
    Ok(shapes::ListPoliciesGrantingServiceAccessResponse {
        policies_granting_service_access: entries,
        is_truncated: Some(false),
        marker: None,
    })
}
