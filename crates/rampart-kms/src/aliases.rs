//! Aliases: friendly names for keys, in an account and region. `alias/aws/` names are AWS's own.
//! See <https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html>.

use rampart_core::{Ctx, ServiceError, TxCtx, keys, records};
use rampart_shapes::generated::kms as shapes;
use rampart_store::Tx;

use super::keys_api::page;
use super::{AliasRecord, KeyRecord, alias_arn, find, invalid_state, validation};

/// An alias name as AWS accepts it: `alias/` then letters, digits, `/_-`, not `alias/aws/`.
fn check_name(name: &str) -> Result<(), ServiceError> {
    let Some(rest) = name.strip_prefix("alias/") else {
        return Err(validation(format!("Alias must start with the prefix \"alias/\". Please see {name}")));
    };
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b)) {
        return Err(validation(format!(
            "1 validation error detected: Value '{name}' at 'aliasName' failed to satisfy constraint: Member must \
             satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
        )));
    }
    if name.starts_with("alias/aws/") {
        return Err(ServiceError::new(
            "NotAuthorizedException",
            400,
            "Cannot create or modify an alias that starts with alias/aws/: those are reserved for AWS managed keys.",
        ));
    }
    Ok(())
}

/// The key an alias may point to: the caller's own, by key id or ARN (not another alias), not
/// pending deletion.
fn target(tx: &Tx<'_>, ctx: &TxCtx<'_>, key_id: &str) -> Result<std::sync::Arc<KeyRecord>, ServiceError> {
    if key_id.starts_with("alias/") || key_id.contains(":alias/") {
        return Err(validation("An alias points to a key, not to another alias: give a key id or key ARN."));
    }
    let key = find(&records::tx_reader(tx), ctx.principal, ctx.region, key_id, false, ctx.now)?;
    if key.state == "PendingDeletion" {
        return Err(invalid_state(format!("{} is pending deletion.", key.arn())));
    }
    Ok(key)
}

pub fn create_alias(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::CreateAliasRequest) -> Result<(), ServiceError> {
    check_name(&input.alias_name)?;
    let key = target(tx, ctx, &input.target_key_id)?;
    let at = keys::kms_alias(&ctx.principal.account_id, ctx.region, &input.alias_name);
    if tx.get(&at)?.is_some() {
        return Err(ServiceError::new(
            "AlreadyExistsException",
            400,
            format!(
                "An alias with the name {} already exists",
                alias_arn(ctx.region, &ctx.principal.account_id, &input.alias_name)
            ),
        ));
    }
    index(tx, &ctx.principal.account_id, ctx.region, &key.id, |names| names.push(input.alias_name.clone()))?;
    let record = AliasRecord { name: input.alias_name, target: key.id.clone(), created: ctx.now, updated: ctx.now };
    records::write_tx(tx, &at, &record)
}

/// Changes the list of aliases that point to a key (for `kms:ResourceAliases`).
pub(crate) fn index(
    tx: &mut Tx<'_>,
    account: &str,
    region: &str,
    key_id: &str,
    change: impl FnOnce(&mut Vec<String>),
) -> Result<(), ServiceError> {
    let at = keys::kms_key_aliases(account, region, key_id);
    let mut names: Vec<String> = records::read_tx(tx, &at)?.unwrap_or_default();
    change(&mut names);
    names.sort();
    names.dedup();
    if names.is_empty() {
        tx.delete(&at)?;
        Ok(())
    } else {
        records::write_tx(tx, &at, &names)
    }
}

/// The names of the aliases that point to a key.
pub(crate) fn aliases_of(get: &records::Reader<'_>, key: &KeyRecord) -> Result<Vec<String>, ServiceError> {
    Ok(records::read_with(get, &keys::kms_key_aliases(&key.account, &key.region, &key.id))?.unwrap_or_default())
}

/// Builds every key's alias list once, for aliases made before the lists were kept.
pub(crate) fn build_index(tx: &mut Tx<'_>) -> Result<(), ServiceError> {
    if tx.get(keys::KMS_ALIAS_INDEX_BUILT)?.is_some() {
        return Ok(());
    }
    let mut lists: std::collections::BTreeMap<Vec<u8>, Vec<String>> = std::collections::BTreeMap::new();
    for (k, v) in tx.scan_prefix(keys::KMS_RECORDS, None, usize::MAX >> 1, false)? {
        let text = String::from_utf8_lossy(&k).into_owned();
        let parts: Vec<&str> = text.splitn(4, '/').collect();
        if let ["kms", account, region, rest] = parts.as_slice()
            && rest.starts_with("alias/")
            && let Ok(a) = records::decode::<AliasRecord>(&k, &v)
        {
            lists.entry(keys::kms_key_aliases(account, region, &a.target)).or_default().push(a.name);
        }
    }
    for (at, mut names) in lists {
        names.sort();
        records::write_tx(tx, &at, &names)?;
    }
    tx.put(keys::KMS_ALIAS_INDEX_BUILT, b"1")?;
    Ok(())
}

/// Points an alias at another key, which must be of the same type and usage, as AWS requires.
pub fn update_alias(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::UpdateAliasRequest) -> Result<(), ServiceError> {
    check_name(&input.alias_name)?;
    let at = keys::kms_alias(&ctx.principal.account_id, ctx.region, &input.alias_name);
    let mut alias: AliasRecord = records::read_tx(tx, &at)?.ok_or_else(|| {
        super::not_found(format!("Alias '{}'", alias_arn(ctx.region, &ctx.principal.account_id, &input.alias_name)))
    })?;
    let key = target(tx, ctx, &input.target_key_id)?;
    let current = records::read_tx::<KeyRecord>(tx, &keys::kms_key(&key.account, &key.region, &alias.target))?;
    if let Some(c) = current
        && (c.usage != key.usage || (c.spec == "SYMMETRIC_DEFAULT") != (key.spec == "SYMMETRIC_DEFAULT"))
    {
        return Err(validation(
            "The new target key must be of the same key type and key usage as the key the alias points to.",
        ));
    }
    let account = &ctx.principal.account_id;
    index(tx, account, ctx.region, &alias.target, |names| names.retain(|n| *n != alias.name))?;
    index(tx, account, ctx.region, &key.id, |names| names.push(alias.name.clone()))?;
    alias.target.clone_from(&key.id);
    alias.updated = ctx.now;
    records::write_tx(tx, &at, &alias)
}

pub fn delete_alias(tx: &mut Tx<'_>, ctx: &TxCtx<'_>, input: shapes::DeleteAliasRequest) -> Result<(), ServiceError> {
    let at = keys::kms_alias(&ctx.principal.account_id, ctx.region, &input.alias_name);
    let Some(alias) = records::read_tx::<AliasRecord>(tx, &at)? else {
        return Err(super::not_found(format!(
            "Alias '{}'",
            alias_arn(ctx.region, &ctx.principal.account_id, &input.alias_name)
        )));
    };
    index(tx, &ctx.principal.account_id, ctx.region, &alias.target, |names| names.retain(|n| *n != alias.name))?;
    tx.delete(&at)?;
    Ok(())
}

/// The account's aliases in the region, by name; only those of one key when `KeyId` names it.
pub fn list_aliases(
    ctx: &Ctx<'_>,
    input: shapes::ListAliasesRequest,
) -> Result<shapes::ListAliasesResponse, ServiceError> {
    let (account, region) = (&ctx.principal.account_id, ctx.region);
    let only = match &input.key_id {
        Some(k) => Some(find(&records::cached_reader(ctx.db), ctx.principal, region, k, false, ctx.now)?.id.clone()),
        None => None,
    };
    let all: Vec<AliasRecord> = records::scan_records(ctx.db, &keys::kms_aliases(account, region))?;
    // The predefined aliases of AWS managed keys not made yet: listed with no TargetKeyId, as
    // ListAliases lists "predefined aliases that AWS has created but has not yet associated with
    // a KMS key" (API_ListAliases.html); not when the listing is of one key's aliases.
    let predefined: Vec<String> = super::managed::SERVICES
        .iter()
        .map(|service| format!("alias/aws/{service}"))
        .filter(|name| only.is_none() && !all.iter().any(|a| a.name == *name))
        .collect();
    let mut entries: Vec<shapes::AliasListEntry> = all
        .into_iter()
        .filter(|a| only.as_ref().is_none_or(|id| *id == a.target))
        .map(|a| shapes::AliasListEntry {
            alias_arn: Some(alias_arn(region, account, &a.name)),
            alias_name: Some(a.name),
            target_key_id: Some(a.target),
            creation_date: Some(a.created),
            last_updated_date: Some(a.updated),
        })
        .collect();
    entries.extend(predefined.into_iter().map(|name| shapes::AliasListEntry {
        alias_arn: Some(alias_arn(region, account, &name)),
        alias_name: Some(name),
        target_key_id: None,
        creation_date: None,
        last_updated_date: None,
    }));
    entries.sort_by(|a, b| a.alias_name.cmp(&b.alias_name));
    let (aliases, next_marker, truncated) = page(entries, input.marker.as_deref(), input.limit)?;
    Ok(shapes::ListAliasesResponse { aliases: Some(aliases), next_marker, truncated: Some(truncated) })
}

/// Removes the aliases of a key being destroyed.
pub(crate) fn delete_aliases_of(tx: &mut Tx<'_>, key: &KeyRecord) -> Result<(), ServiceError> {
    for (k, v) in tx.scan_prefix(&keys::kms_aliases(&key.account, &key.region), None, usize::MAX >> 1, false)? {
        if records::decode::<AliasRecord>(&k, &v).is_ok_and(|a| a.target == key.id) {
            tx.delete(&k)?;
        }
    }
    tx.delete(&keys::kms_key_aliases(&key.account, &key.region, &key.id))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Aliases made before keys kept their alias lists get them on the first sweep, once.
    #[tokio::test]
    async fn alias_lists_are_built_once_from_the_aliases() {
        let dir = tempfile::tempdir().unwrap();
        let db = rampart_store::Db::open_sqlite(&dir.path().join("t.db")).unwrap();
        let lists = db
            .transact(|tx| -> Result<_, ServiceError> {
                let at = time::OffsetDateTime::UNIX_EPOCH;
                for (name, target) in [("alias/b", "k1"), ("alias/a", "k1"), ("alias/c", "k2")] {
                    let a = AliasRecord { name: name.into(), target: target.into(), created: at, updated: at };
                    records::write_tx(tx, &keys::kms_alias("111122223333", "us-east-1", name), &a)?;
                }
                build_index(tx)?;
                let list = |tx: &Tx<'_>, id: &str| {
                    records::read_tx::<Vec<String>>(tx, &keys::kms_key_aliases("111122223333", "us-east-1", id))
                };
                let first = (list(tx, "k1")?, list(tx, "k2")?);
                // Built once: a list changed afterwards is not rebuilt.
                records::write_tx(tx, &keys::kms_key_aliases("111122223333", "us-east-1", "k2"), &vec!["alias/x"])?;
                build_index(tx)?;
                Ok((first, list(tx, "k2")?))
            })
            .await
            .unwrap();
        assert_eq!(lists.0.0, Some(vec!["alias/a".to_owned(), "alias/b".to_owned()]));
        assert_eq!(lists.0.1, Some(vec!["alias/c".to_owned()]));
        assert_eq!(lists.1, Some(vec!["alias/x".to_owned()]));
    }
}
