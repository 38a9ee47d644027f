//! IP sets (CIDR blocks of one IP version) and regex pattern sets (linear-time regular
//! expressions), which statements reference by ARN.
//! See <https://docs.aws.amazon.com/waf/latest/developerguide/waf-referenced-set-managing.html>.

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::generated::wafv2 as shapes;
use rampart_store::Tx;

use super::{Kind, Place, Stored, invalid_parameter, locked, named, new_token, page, save, unique, wire};

/// Checks an IP set's addresses: each a CIDR block of the set's IP version.
/// See <https://docs.aws.amazon.com/waf/latest/APIReference/API_IPSet.html>.
fn check_addresses(version: &str, addresses: &[String]) -> Result<(), ServiceError> {
    for address in addresses {
        let fits = match address.parse::<ipnet::IpNet>() {
            Ok(ipnet::IpNet::V4(_)) => version == "IPV4",
            Ok(ipnet::IpNet::V6(_)) => version == "IPV6",
            Err(_) => false,
        };
        if !fits {
            return Err(invalid_parameter(
                "IP_ADDRESS",
                address,
                "The parameter contains formatting that is not valid.",
            ));
        }
    }
    Ok(())
}

/// The most memory a compiled pattern may take; AWS limits a pattern to 200 characters, so this is
/// generous for any pattern AWS accepts and refuses the pathological ones.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Compiles a WAF regular expression as the engine runs it: linear time, no backreferences or
/// lookaround (which AWS WAF refuses too).
/// See <https://docs.aws.amazon.com/waf/latest/developerguide/waf-regex-pattern-support.html>.
pub fn compile_regex(pattern: &str) -> Result<regex::bytes::Regex, String> {
    regex::bytes::RegexBuilder::new(pattern).size_limit(REGEX_SIZE_LIMIT).build().map_err(|e| match e {
        regex::Error::CompiledTooBig(_) => "The regular expression is too complex to run in linear time.".to_owned(),
        e => format!("The regular expression is not valid: {}", e.to_string().lines().last().unwrap_or_default()),
    })
}

pub(crate) fn check_patterns(patterns: &[shapes::Regex]) -> Result<(), ServiceError> {
    for p in patterns {
        let pattern = p.regex_string.as_deref().unwrap_or_default();
        compile_regex(pattern).map_err(|reason| invalid_parameter("REGEX_PATTERN_SET", pattern, &reason))?;
    }
    Ok(())
}

fn summary(s: &Stored) -> shapes::IPSetSummary {
    shapes::IPSetSummary {
        name: Some(s.name.clone()),
        id: Some(s.id.clone()),
        description: s.description.clone(),
        lock_token: Some(s.lock_token.clone()),
        arn: Some(s.arn.clone()),
    }
}

fn pattern_summary(s: &Stored) -> shapes::RegexPatternSetSummary {
    shapes::RegexPatternSetSummary {
        name: Some(s.name.clone()),
        id: Some(s.id.clone()),
        description: s.description.clone(),
        lock_token: Some(s.lock_token.clone()),
        arn: Some(s.arn.clone()),
    }
}

fn tags(tags: Option<Vec<shapes::Tag>>) -> Vec<(String, String)> {
    tags.unwrap_or_default().into_iter().map(|t| (t.key, t.value)).collect()
}

fn place(ctx_account: &str, region: &str, scope: &str) -> Result<Place, ServiceError> {
    Place::of(ctx_account, region, scope)
}

pub fn create_ip_set(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateIPSetRequest,
) -> Result<shapes::CreateIPSetResponse, ServiceError> {
    let place = place(&ctx.principal.account_id, ctx.region, &input.scope)?;
    check_addresses(&input.ip_address_version, &input.addresses)?;
    unique(tx, &place, Kind::IpSet, &input.name)?;
    let id = uuid::Uuid::new_v4().to_string();
    let arn = place.arn(Kind::IpSet, &input.name, &id);
    let body = shapes::IPSet {
        name: input.name.clone(),
        id: id.clone(),
        arn: arn.clone(),
        description: input.description.clone(),
        ip_address_version: input.ip_address_version,
        addresses: input.addresses,
    };
    let stored = Stored {
        name: input.name,
        id,
        arn,
        description: input.description,
        lock_token: new_token(),
        body: wire(body),
        tags: tags(input.tags),
    };
    save(tx, &place, Kind::IpSet, &stored)?;
    Ok(shapes::CreateIPSetResponse { summary: Some(summary(&stored)) })
}

pub fn get_ip_set(ctx: &Ctx<'_>, input: shapes::GetIPSetRequest) -> Result<shapes::GetIPSetResponse, ServiceError> {
    let place = place(&ctx.principal.account_id, ctx.region, &input.scope)?;
    let stored = named(&records::cached_reader(ctx.db), &place, Kind::IpSet, &input.name, &input.id)?;
    Ok(shapes::GetIPSetResponse { ip_set: Some(stored.body()?), lock_token: Some(stored.lock_token) })
}

pub fn update_ip_set(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateIPSetRequest,
) -> Result<shapes::UpdateIPSetResponse, ServiceError> {
    let place = place(&ctx.principal.account_id, ctx.region, &input.scope)?;
    let mut stored = named(&records::tx_reader(tx), &place, Kind::IpSet, &input.name, &input.id)?;
    locked(&stored, &input.lock_token)?;
    let mut body: shapes::IPSet = stored.body()?;
    check_addresses(&body.ip_address_version, &input.addresses)?;
    body.addresses = input.addresses;
    body.description.clone_from(&input.description);
    stored.description = input.description;
    stored.body = wire(body);
    stored.lock_token = new_token();
    save(tx, &place, Kind::IpSet, &stored)?;
    Ok(shapes::UpdateIPSetResponse { next_lock_token: Some(stored.lock_token) })
}

/// Deletes an IP set no rule group or web ACL references.
pub fn delete_ip_set(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteIPSetRequest,
) -> Result<shapes::DeleteIPSetResponse, ServiceError> {
    let place = place(&ctx.principal.account_id, ctx.region, &input.scope)?;
    let stored = named(&records::tx_reader(tx), &place, Kind::IpSet, &input.name, &input.id)?;
    locked(&stored, &input.lock_token)?;
    super::acls::unreferenced(tx, &place, &stored.arn)?;
    super::remove(tx, &place, Kind::IpSet, &stored.id)?;
    Ok(shapes::DeleteIPSetResponse {})
}

pub fn list_ip_sets(
    ctx: &Ctx<'_>,
    input: shapes::ListIPSetsRequest,
) -> Result<shapes::ListIPSetsResponse, ServiceError> {
    let place = place(&ctx.principal.account_id, ctx.region, &input.scope)?;
    let all: Vec<_> = super::all(ctx.db, &place, Kind::IpSet)?.iter().map(summary).collect();
    let (ip_sets, next_marker) = page(all, input.next_marker.as_deref(), input.limit)?;
    Ok(shapes::ListIPSetsResponse { next_marker, ip_sets: Some(ip_sets) })
}

pub fn create_regex_pattern_set(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateRegexPatternSetRequest,
) -> Result<shapes::CreateRegexPatternSetResponse, ServiceError> {
    let place = place(&ctx.principal.account_id, ctx.region, &input.scope)?;
    check_patterns(&input.regular_expression_list)?;
    unique(tx, &place, Kind::RegexPatternSet, &input.name)?;
    let id = uuid::Uuid::new_v4().to_string();
    let arn = place.arn(Kind::RegexPatternSet, &input.name, &id);
    let body = shapes::RegexPatternSet {
        name: Some(input.name.clone()),
        id: Some(id.clone()),
        arn: Some(arn.clone()),
        description: input.description.clone(),
        regular_expression_list: Some(input.regular_expression_list),
    };
    let stored = Stored {
        name: input.name,
        id,
        arn,
        description: input.description,
        lock_token: new_token(),
        body: wire(body),
        tags: tags(input.tags),
    };
    save(tx, &place, Kind::RegexPatternSet, &stored)?;
    Ok(shapes::CreateRegexPatternSetResponse { summary: Some(pattern_summary(&stored)) })
}

pub fn get_regex_pattern_set(
    ctx: &Ctx<'_>,
    input: shapes::GetRegexPatternSetRequest,
) -> Result<shapes::GetRegexPatternSetResponse, ServiceError> {
    let place = place(&ctx.principal.account_id, ctx.region, &input.scope)?;
    let stored = named(&records::cached_reader(ctx.db), &place, Kind::RegexPatternSet, &input.name, &input.id)?;
    Ok(shapes::GetRegexPatternSetResponse {
        regex_pattern_set: Some(stored.body()?),
        lock_token: Some(stored.lock_token),
    })
}

pub fn update_regex_pattern_set(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateRegexPatternSetRequest,
) -> Result<shapes::UpdateRegexPatternSetResponse, ServiceError> {
    let place = place(&ctx.principal.account_id, ctx.region, &input.scope)?;
    let mut stored = named(&records::tx_reader(tx), &place, Kind::RegexPatternSet, &input.name, &input.id)?;
    locked(&stored, &input.lock_token)?;
    check_patterns(&input.regular_expression_list)?;
    let mut body: shapes::RegexPatternSet = stored.body()?;
    body.regular_expression_list = Some(input.regular_expression_list);
    body.description.clone_from(&input.description);
    stored.description = input.description;
    stored.body = wire(body);
    stored.lock_token = new_token();
    save(tx, &place, Kind::RegexPatternSet, &stored)?;
    Ok(shapes::UpdateRegexPatternSetResponse { next_lock_token: Some(stored.lock_token) })
}

pub fn delete_regex_pattern_set(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteRegexPatternSetRequest,
) -> Result<shapes::DeleteRegexPatternSetResponse, ServiceError> {
    let place = place(&ctx.principal.account_id, ctx.region, &input.scope)?;
    let stored = named(&records::tx_reader(tx), &place, Kind::RegexPatternSet, &input.name, &input.id)?;
    locked(&stored, &input.lock_token)?;
    super::acls::unreferenced(tx, &place, &stored.arn)?;
    super::remove(tx, &place, Kind::RegexPatternSet, &stored.id)?;
    Ok(shapes::DeleteRegexPatternSetResponse {})
}

pub fn list_regex_pattern_sets(
    ctx: &Ctx<'_>,
    input: shapes::ListRegexPatternSetsRequest,
) -> Result<shapes::ListRegexPatternSetsResponse, ServiceError> {
    let place = place(&ctx.principal.account_id, ctx.region, &input.scope)?;
    let all: Vec<_> = super::all(ctx.db, &place, Kind::RegexPatternSet)?.iter().map(pattern_summary).collect();
    let (sets, next_marker) = page(all, input.next_marker.as_deref(), input.limit)?;
    Ok(shapes::ListRegexPatternSetsResponse { next_marker, regex_pattern_sets: Some(sets) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_cidr_blocks_of_the_sets_version() {
        assert!(check_addresses("IPV4", &["10.0.0.0/8".into(), "192.0.2.44/32".into()]).is_ok());
        assert!(check_addresses("IPV6", &["2001:db8::/32".into()]).is_ok());
        for (version, bad) in
            [("IPV4", "10.0.0.1"), ("IPV4", "2001:db8::/32"), ("IPV6", "10.0.0.0/8"), ("IPV4", "10.0.0.0/33")]
        {
            let e = check_addresses(version, &[bad.into()]).unwrap_err();
            assert_eq!(e.code, "WAFInvalidParameterException", "{bad}");
        }
    }

    #[test]
    fn patterns_that_need_backtracking_are_refused() {
        assert!(compile_regex("^/admin(/.*)?$").is_ok());
        assert!(compile_regex(r"(a)\1").is_err(), "backreference");
        assert!(compile_regex(r"foo(?=bar)").is_err(), "lookahead");
        assert!(compile_regex("(unclosed").is_err());
    }
}
