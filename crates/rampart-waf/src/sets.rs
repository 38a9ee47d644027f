//! IP sets (CIDR blocks of one IP version) and regex pattern sets (linear-time regular
//! expressions), which statements reference by ARN.
//! See <https://docs.aws.amazon.com/waf/latest/developerguide/waf-referenced-set-managing.html>.

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::generated::wafv2 as shapes;
use rampart_store::Tx;

use super::{Kind, Place, Summary, change, delete, insert, invalid_parameter, named, page, wire};

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

pub fn create_ip_set(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateIPSetRequest,
) -> Result<shapes::CreateIPSetResponse, ServiceError> {
    let place = Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    check_addresses(&input.ip_address_version, &input.addresses)?;
    let (version, addresses) = (input.ip_address_version, input.addresses);
    let (name, description) = (input.name.clone(), input.description.clone());
    let stored = insert(tx, &place, Kind::IpSet, (input.name, input.description, input.tags), |id, arn| {
        wire(shapes::IPSet {
            name,
            id: id.to_owned(),
            arn: arn.to_owned(),
            description,
            ip_address_version: version,
            addresses,
        })
    })?;
    Ok(shapes::CreateIPSetResponse { summary: Some(Summary::of(&stored)) })
}

pub fn get_ip_set(ctx: &Ctx<'_>, input: shapes::GetIPSetRequest) -> Result<shapes::GetIPSetResponse, ServiceError> {
    let place = Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    let stored = named(&records::cached_reader(ctx.db), &place, Kind::IpSet, &input.name, &input.id)?;
    Ok(shapes::GetIPSetResponse { ip_set: Some(stored.body()?), lock_token: Some(stored.lock_token) })
}

pub fn update_ip_set(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::UpdateIPSetRequest,
) -> Result<shapes::UpdateIPSetResponse, ServiceError> {
    let place = Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    let named = (input.name.as_str(), input.id.as_str(), input.lock_token.as_str());
    let description = input.description.clone();
    let next = change(tx, &place, Kind::IpSet, named, input.description, |body: &mut shapes::IPSet| {
        check_addresses(&body.ip_address_version, &input.addresses)?;
        body.addresses = input.addresses;
        body.description = description;
        Ok(())
    })?;
    Ok(shapes::UpdateIPSetResponse { next_lock_token: Some(next) })
}

/// Deletes an IP set no rule group or web ACL references.
pub fn delete_ip_set(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteIPSetRequest,
) -> Result<shapes::DeleteIPSetResponse, ServiceError> {
    let place = Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    delete(tx, &place, Kind::IpSet, (&input.name, &input.id, &input.lock_token))?;
    Ok(shapes::DeleteIPSetResponse {})
}

pub fn list_ip_sets(
    ctx: &Ctx<'_>,
    input: shapes::ListIPSetsRequest,
) -> Result<shapes::ListIPSetsResponse, ServiceError> {
    let place = Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    let all: Vec<_> = super::all(ctx.db, &place, Kind::IpSet)?.iter().map(Summary::of).collect();
    let (ip_sets, next_marker) = page(all, input.next_marker.as_deref(), input.limit)?;
    Ok(shapes::ListIPSetsResponse { next_marker, ip_sets: Some(ip_sets) })
}

pub fn create_regex_pattern_set(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::CreateRegexPatternSetRequest,
) -> Result<shapes::CreateRegexPatternSetResponse, ServiceError> {
    let place = Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    check_patterns(&input.regular_expression_list)?;
    let (name, description, list) = (input.name.clone(), input.description.clone(), input.regular_expression_list);
    let stored = insert(tx, &place, Kind::RegexPatternSet, (input.name, input.description, input.tags), |id, arn| {
        wire(shapes::RegexPatternSet {
            name: Some(name),
            id: Some(id.to_owned()),
            arn: Some(arn.to_owned()),
            description,
            regular_expression_list: Some(list),
        })
    })?;
    Ok(shapes::CreateRegexPatternSetResponse { summary: Some(Summary::of(&stored)) })
}

pub fn get_regex_pattern_set(
    ctx: &Ctx<'_>,
    input: shapes::GetRegexPatternSetRequest,
) -> Result<shapes::GetRegexPatternSetResponse, ServiceError> {
    let place = Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
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
    let place = Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    check_patterns(&input.regular_expression_list)?;
    let named = (input.name.as_str(), input.id.as_str(), input.lock_token.as_str());
    let description = input.description.clone();
    let next =
        change(tx, &place, Kind::RegexPatternSet, named, input.description, |body: &mut shapes::RegexPatternSet| {
            body.regular_expression_list = Some(input.regular_expression_list);
            body.description = description;
            Ok(())
        })?;
    Ok(shapes::UpdateRegexPatternSetResponse { next_lock_token: Some(next) })
}

pub fn delete_regex_pattern_set(
    tx: &mut Tx<'_>,
    ctx: &TxCtx<'_>,
    input: shapes::DeleteRegexPatternSetRequest,
) -> Result<shapes::DeleteRegexPatternSetResponse, ServiceError> {
    let place = Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    delete(tx, &place, Kind::RegexPatternSet, (&input.name, &input.id, &input.lock_token))?;
    Ok(shapes::DeleteRegexPatternSetResponse {})
}

pub fn list_regex_pattern_sets(
    ctx: &Ctx<'_>,
    input: shapes::ListRegexPatternSetsRequest,
) -> Result<shapes::ListRegexPatternSetsResponse, ServiceError> {
    let place = Place::of(&ctx.principal.account_id, ctx.region, &input.scope)?;
    let all: Vec<_> = super::all(ctx.db, &place, Kind::RegexPatternSet)?.iter().map(Summary::of).collect();
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
