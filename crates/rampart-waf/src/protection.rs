//! What protects a resource: the web ACL associated with each load balancer (`rampart_elb`'s;
//! AssociateWebACL and its kin), and [`Protection`], a load balancer's web ACL compiled with
//! everything it references, which tells when any of those records changes so that the next
//! request is decided by the new rules.
//! See <https://docs.aws.amazon.com/waf/latest/developerguide/web-acl-associating-aws-resource.html>.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rampart_core::{Ctx, ServiceError, TxCtx, keys, records};
use rampart_shapes::generated::wafv2 as shapes;
use rampart_store::{Db, Tx};
use serde::{Deserialize, Serialize};

use super::engine::{References, WebAcl};
use super::{Kind, Place, Stored, invalid_parameter, nonexistent};

/// The caller's load balancer an ARN names.
fn balancer(get: &records::Reader<'_>, account: &str, arn: &str) -> Result<rampart_elb::Record, ServiceError> {
    rampart_elb::load_balancer(get, account, arn)?.ok_or_else(nonexistent)
}

/// An association, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Association {
    web_acl_arn: String,
}

/// The caller's regional web ACL an ARN names.
fn web_acl(get: &records::Reader<'_>, account: &str, arn: &str) -> Result<(Place, Stored), ServiceError> {
    let (place, kind, stored) = super::owned(get, account, arn)?;
    if kind != Kind::WebAcl {
        return Err(nonexistent());
    }
    if place.scope != "regional" {
        return Err(invalid_parameter(
            "RESOURCE_ARN",
            arn,
            "A web ACL of CloudFront's scope is associated through the CloudFront distribution.",
        ));
    }
    Ok((place, stored))
}

pub fn associate_web_acl(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::AssociateWebACLRequest,
) -> Result<shapes::AssociateWebACLResponse, ServiceError> {
    let get = records::tx_reader(tx);
    let account = &ctx.principal.account_id;
    web_acl(&get, account, &input.web_acl_arn)?;
    balancer(&get, account, &input.resource_arn)?;
    drop(get);
    let association = Association { web_acl_arn: input.web_acl_arn };
    records::write_tx(tx, &keys::waf_association(&input.resource_arn), &association)?;
    Ok(shapes::AssociateWebACLResponse {})
}

pub fn disassociate_web_acl(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DisassociateWebACLRequest,
) -> Result<shapes::DisassociateWebACLResponse, ServiceError> {
    balancer(&records::tx_reader(tx), &ctx.principal.account_id, &input.resource_arn)?;
    tx.delete(&keys::waf_association(&input.resource_arn))?;
    Ok(shapes::DisassociateWebACLResponse {})
}

pub fn get_web_acl_for_resource(
    ctx: &Ctx<'_>,
    input: shapes::GetWebACLForResourceRequest,
) -> Result<shapes::GetWebACLForResourceResponse, ServiceError> {
    let get = records::cached_reader(ctx.db);
    balancer(&get, &ctx.principal.account_id, &input.resource_arn)?;
    let Some(a) = records::read_with::<Association>(&get, &keys::waf_association(&input.resource_arn))? else {
        return Ok(shapes::GetWebACLForResourceResponse { web_acl: None });
    };
    let (_, stored) = web_acl(&get, &ctx.principal.account_id, &a.web_acl_arn)?;
    Ok(shapes::GetWebACLForResourceResponse { web_acl: Some(stored.body()?) })
}

fn associations_tx(tx: &Tx<'_>) -> Result<Vec<(String, Association)>, ServiceError> {
    tx.scan_prefix(keys::WAF_ASSOCIATIONS, None, usize::MAX >> 1, false)?
        .iter()
        .map(|(k, v)| {
            let resource =
                String::from_utf8_lossy(k.strip_prefix(keys::WAF_ASSOCIATIONS).unwrap_or_default()).into_owned();
            Ok((resource, records::decode::<Association>(k, v)?))
        })
        .collect()
}

/// Whether a web ACL protects a resource (it cannot be deleted then).
pub(crate) fn associated_tx(tx: &Tx<'_>, web_acl_arn: &str) -> Result<bool, ServiceError> {
    Ok(associations_tx(tx)?.iter().any(|(_, a)| a.web_acl_arn == web_acl_arn))
}

pub fn list_resources_for_web_acl(
    ctx: &Ctx<'_>,
    input: shapes::ListResourcesForWebACLRequest,
) -> Result<shapes::ListResourcesForWebACLResponse, ServiceError> {
    web_acl(&records::cached_reader(ctx.db), &ctx.principal.account_id, &input.web_acl_arn)?;
    // Rampart's protected resources are application load balancers.
    if input.resource_type.as_deref().is_some_and(|t| t != "APPLICATION_LOAD_BALANCER") {
        return Ok(shapes::ListResourcesForWebACLResponse { resource_arns: Some(Vec::new()) });
    }
    let rows = ctx.db.scan_prefix(keys::WAF_ASSOCIATIONS, None, usize::MAX >> 1, false)?;
    let mut arns = Vec::new();
    for (k, v) in &rows {
        let a: Association = records::decode(k, v)?;
        if a.web_acl_arn == input.web_acl_arn {
            arns.push(String::from_utf8_lossy(k.strip_prefix(keys::WAF_ASSOCIATIONS).unwrap_or_default()).into_owned());
        }
    }
    Ok(shapes::ListResourcesForWebACLResponse { resource_arns: Some(arns) })
}

/// A record's key and its bytes as read (`None`: absent).
use rampart_store::{ReadSet, Seen};

/// A load balancer's protection as last loaded: the compiled web ACL (or why there is none to
/// enforce) and the records it came from, as they were.
pub struct Protection {
    /// `Ok(None)`: no web ACL is associated (or named); `Err`: one is, but cannot be enforced.
    pub outcome: Result<Option<(String, Arc<WebAcl>)>, String>,
    seen: ReadSet,
    /// The web ACL was asked for by a name that names none yet: look again every request.
    unresolved: bool,
    /// The web ACL's logging configuration, if it has one.
    pub logging: Option<shapes::LoggingConfiguration>,
}

/// The web ACLs compiled on a node, each with the records it was compiled from. Every load
/// balancer and listener a web ACL protects shares its compiled rules, and so its rate-based
/// rules' counts: AWS counts each rate-based rule of a web ACL as one instance, whatever the web
/// ACL protects.
/// See <https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based.html>.
#[derive(Default)]
pub struct Compiled(Mutex<HashMap<String, Basis>>);

/// A compiled web ACL, the records it was compiled from, and their digest (the same records
/// give the same digest on every node).
type Basis = (Vec<Seen>, Arc<WebAcl>, String);

/// A digest of the records a web ACL was compiled from.
fn digest(basis: &[Seen]) -> String {
    let mut d = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for (key, value) in basis {
        for part in [key.as_slice(), value.as_deref().unwrap_or_default()] {
            d.update(&(part.len() as u64).to_le_bytes());
            d.update(part);
        }
    }
    data_encoding::HEXLOWER.encode(d.finish().as_ref())
}

impl Compiled {
    /// The web ACL `arn` compiled from the records `basis`: the one compiled before from the
    /// same records, else `compile`'s, kept for the next load balancer that asks.
    fn get_or_compile(
        &self,
        arn: &str,
        basis: Vec<Seen>,
        compile: impl FnOnce() -> Result<WebAcl, String>,
    ) -> Result<Arc<WebAcl>, String> {
        let mut all = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((was, acl, _)) = all.get(arn)
            && same(was, &basis)
        {
            return Ok(acl.clone());
        }
        let acl = Arc::new(compile()?);
        let version = digest(&basis);
        all.insert(arn.to_owned(), (basis, acl.clone(), version));
        Ok(acl)
    }

    /// Every web ACL compiled here: its ARN, the digest of its records, and its rules.
    pub(crate) fn each(&self) -> Vec<(String, String, Arc<WebAcl>)> {
        let all = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        all.iter().map(|(arn, (_, acl, version))| (arn.clone(), version.clone(), acl.clone())).collect()
    }
}

/// Whether two reads of records found the same records with the same bytes.
fn same(a: &[Seen], b: &[Seen]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|((ka, va), (kb, vb))| {
            ka == kb
                && match (va, vb) {
                    (Some(x), Some(y)) => Arc::ptr_eq(x, y) || x == y,
                    (None, None) => true,
                    _ => false,
                }
        })
}

/// How a proxy finds its web ACL: the association of its load balancer, else a web ACL of this
/// name in its place (the `--web-acl` shortcut).
pub struct Binding {
    pub balancer_arn: String,
    pub place: Place,
    pub name: Option<String>,
}

impl Protection {
    /// Loads what protects `binding` now, its web ACL compiled once for every load balancer of
    /// the node it protects (`compiled`).
    pub fn load(db: &Db, binding: &Binding, compiled: &Compiled) -> Protection {
        let mut p = Protection { outcome: Ok(None), seen: ReadSet::default(), unresolved: false, logging: None };
        p.outcome = p.resolve(db, binding, compiled);
        p
    }

    /// Whether every record the protection was made from is as it was.
    pub fn fresh(&self, db: &Db) -> bool {
        !self.unresolved && self.seen.unchanged(db)
    }

    fn read(&mut self, db: &Db, key: Vec<u8>) -> Result<Option<Arc<[u8]>>, String> {
        self.seen.read(db, key).map_err(|e| e.to_string())
    }

    fn resolve(
        &mut self,
        db: &Db,
        binding: &Binding,
        compiled: &Compiled,
    ) -> Result<Option<(String, Arc<WebAcl>)>, String> {
        let association = self.read(db, keys::waf_association(&binding.balancer_arn))?;
        let stored: Stored = match (association, &binding.name) {
            (Some(bytes), _) => {
                let a: Association = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
                let (place, kind, _, id) = super::parse_arn(&a.web_acl_arn).ok_or("the associated ARN is not valid")?;
                let bytes = self.read(db, place.key(kind, &id))?.ok_or("the associated web ACL is gone")?;
                serde_json::from_slice(&bytes).map_err(|e| e.to_string())?
            }
            (None, Some(name)) => {
                let found = super::all(db, &binding.place, Kind::WebAcl).map_err(|e| e.message)?;
                let Some(stored) = found.into_iter().find(|s| &s.name == name) else {
                    self.unresolved = true;
                    return Err(format!("no web ACL is named {name}"));
                };
                self.read(db, binding.place.key(Kind::WebAcl, &stored.id))?;
                stored
            }
            (None, None) => return Ok(None),
        };
        let acl: shapes::WebACL = stored.body().map_err(|e| e.message)?;
        // What the compiled rules come from: the web ACL's record and those it references.
        let mut basis: Vec<Seen> = self.seen.records().last().cloned().into_iter().collect();
        self.logging =
            self.read(db, super::visibility::logging_key(&stored.arn))?.and_then(|b| rampart_wire::json::from_wire(&b));
        let mut refs = References::default();
        let mut pending: Vec<String> = Vec::new();
        for rule in acl.rules.iter().flatten() {
            arns(&rule.statement, &mut pending);
        }
        while let Some(arn) = pending.pop() {
            let (place, kind, _, id) = super::parse_arn(&arn).ok_or_else(|| format!("{arn} is not valid"))?;
            let bytes = self.read(db, place.key(kind, &id))?.ok_or_else(|| format!("{arn} is gone"))?;
            basis.extend(self.seen.records().last().cloned());
            let entity: Stored = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
            match kind {
                Kind::IpSet => {
                    refs.ip_sets.insert(arn, entity.body().map_err(|e| e.message)?);
                }
                Kind::RegexPatternSet => {
                    refs.regex_sets.insert(arn, entity.body().map_err(|e| e.message)?);
                }
                Kind::RuleGroup => {
                    let group: shapes::RuleGroup = entity.body().map_err(|e| e.message)?;
                    for rule in group.rules.iter().flatten() {
                        arns(&rule.statement, &mut pending);
                    }
                    refs.rule_groups.insert(arn, group);
                }
                Kind::WebAcl => return Err(format!("{arn} is a web ACL")),
            }
        }
        let compiled = compiled.get_or_compile(&stored.arn, basis, || WebAcl::compile(&acl, &refs).map_err(|e| e.0))?;
        Ok(Some((stored.arn, compiled)))
    }
}

/// The ARNs a statement references.
fn arns(s: &shapes::Statement, out: &mut Vec<String>) {
    if let Some(i) = &s.ip_set_reference_statement {
        out.push(i.arn.clone());
    }
    if let Some(r) = &s.regex_pattern_set_reference_statement {
        out.push(r.arn.clone());
    }
    if let Some(g) = &s.rule_group_reference_statement {
        out.push(g.arn.clone());
    }
    for nested in
        s.and_statement.iter().flat_map(|a| &a.statements).chain(s.or_statement.iter().flat_map(|o| &o.statements))
    {
        arns(nested, out);
    }
    if let Some(n) = &s.not_statement {
        arns(&n.statement, out);
    }
    if let Some(d) = s.rate_based_statement.as_ref().and_then(|r| r.scope_down_statement.as_deref()) {
        arns(d, out);
    }
    if let Some(d) = s.managed_rule_group_statement.as_ref().and_then(|m| m.scope_down_statement.as_deref()) {
        arns(d, out);
    }
}
