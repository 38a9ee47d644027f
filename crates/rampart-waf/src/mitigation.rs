//! Rules another service puts in a web ACL on its owner's behalf: Shield Advanced's automatic
//! application layer mitigation adds a rate-based rule to the web ACL of a resource under
//! attack, and removes it when the attack ends. The web ACL's lock token changes with each, as
//! with any change, and proxies enforce the new rules on their next request.
//! See <https://docs.aws.amazon.com/waf/latest/developerguide/ddos-automatic-app-layer-response-rg.html>.

use rampart_core::{ServiceError, keys, records};
use rampart_shapes::generated::wafv2 as shapes;
use rampart_store::Tx;

use super::{Kind, Stored, wire};

/// The web ACL associated with a resource, by ARN.
pub fn associated_web_acl(get: &records::Reader<'_>, resource_arn: &str) -> Result<Option<String>, ServiceError> {
    #[derive(serde::Deserialize)]
    struct Association {
        web_acl_arn: String,
    }
    Ok(records::read_with::<Association>(get, &keys::waf_association(resource_arn))?.map(|a| a.web_acl_arn))
}

fn edit(tx: &mut Tx<'_>, web_acl_arn: &str, change: impl FnOnce(&mut Vec<shapes::Rule>)) -> Result<(), ServiceError> {
    let Some((place, Kind::WebAcl, _, id)) = super::parse_arn(web_acl_arn) else { return Ok(()) };
    let key = place.key(Kind::WebAcl, &id);
    let Some(mut stored) = records::read_tx::<Stored>(tx, &key)? else { return Ok(()) };
    let mut acl: shapes::WebACL = stored.body()?;
    let mut rules = acl.rules.take().unwrap_or_default();
    change(&mut rules);
    let groups = |arn: &str| -> Option<i64> {
        let (place, kind, _, id) = super::parse_arn(arn)?;
        let s = records::read_tx::<Stored>(tx, &place.key(kind, &id)).ok()??;
        s.body::<shapes::RuleGroup>().ok().map(|g| g.capacity)
    };
    acl.capacity = Some(super::capacity::rules(&rules, &groups));
    acl.rules = Some(rules);
    stored.body = wire(acl);
    stored.lock_token = super::new_token();
    records::write_tx(tx, &key, &stored)
}

/// Puts `rule` in a web ACL, in place of a rule of its name.
pub fn insert_rule(tx: &mut Tx<'_>, web_acl_arn: &str, rule: shapes::Rule) -> Result<(), ServiceError> {
    edit(tx, web_acl_arn, |rules| {
        rules.retain(|r| r.name != rule.name);
        rules.push(rule);
    })
}

/// Takes the rule of a name out of a web ACL.
pub fn remove_rule(tx: &mut Tx<'_>, web_acl_arn: &str, name: &str) -> Result<(), ServiceError> {
    edit(tx, web_acl_arn, |rules| rules.retain(|r| r.name != name))
}
