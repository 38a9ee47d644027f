//! The service crates as the pipeline sees them: each one's action table, the service's own
//! error for input its model refuses, and how its CloudTrail records name request parameters.

use std::collections::HashMap;
use std::sync::LazyLock;

use rampart_core::actions::Action;

/// Every service's action table, by the service's endpoint prefix.
pub static TABLES: &[(&str, &[Action])] = &[
    ("cloudtrail", rampart_cloudtrail::ACTIONS),
    ("elasticloadbalancing", rampart_elb::ACTIONS),
    ("guardduty", rampart_guardduty::ACTIONS),
    ("iam", rampart_iam::actions::IAM),
    ("kms", rampart_kms::ACTIONS),
    ("organizations", rampart_organizations::ACTIONS),
    ("s3", rampart_s3::ACTIONS),
    ("s3-control", rampart_s3::CONTROL_ACTIONS),
    ("shield", rampart_shield::ACTIONS),
    ("sts", rampart_iam::actions::STS),
    ("wafv2", rampart_waf::ACTIONS),
];

static INDEX: LazyLock<HashMap<(&'static str, &'static str), &'static Action>> = LazyLock::new(|| {
    TABLES.iter().flat_map(|(service, table)| table.iter().map(move |a| ((*service, a.operation), a))).collect()
});

/// The action-table row of an operation, if it has one.
pub fn action(service: &str, operation: &str) -> Option<&'static Action> {
    INDEX.get(&(service, operation)).copied()
}

/// The namespace of a service's IAM actions: its endpoint prefix, but for S3 Control, whose
/// actions are S3's (`s3:PutAccountPublicAccessBlock`).
pub fn iam_prefix(endpoint_prefix: &'static str) -> &'static str {
    match endpoint_prefix {
        "s3-control" => "s3",
        p => p,
    }
}

/// How CloudTrail names an operation's event, as `(eventSource, eventName)`: S3 Control's
/// account-level Block Public Access calls are S3 events named for the account (as
/// `PutAccountPublicAccessBlock`, its IAM action); every other operation is its service's, by
/// its own name.
pub fn event_names(service: &'static rampart_shapes::Service, operation: &'static str) -> (&'static str, &'static str) {
    match (service.endpoint_prefix, operation) {
        ("s3-control", "GetPublicAccessBlock") => ("s3.amazonaws.com", "GetAccountPublicAccessBlock"),
        ("s3-control", "PutPublicAccessBlock") => ("s3.amazonaws.com", "PutAccountPublicAccessBlock"),
        ("s3-control", "DeletePublicAccessBlock") => ("s3.amazonaws.com", "DeleteAccountPublicAccessBlock"),
        ("s3-control", op) => ("s3.amazonaws.com", op),
        (_, op) => (service.event_source, op),
    }
}

/// A service's own error for an input its model's constraints refuse, by the members that
/// failed, where it has one (the pipeline answers `ValidationException` otherwise).
pub fn validation_code(endpoint_prefix: &str, failed_members: &[String]) -> Option<&'static str> {
    match endpoint_prefix {
        "cloudtrail" => rampart_cloudtrail::validation_code(failed_members),
        // Organizations reports every input its model refuses as InvalidInputException.
        // See <https://docs.aws.amazon.com/organizations/latest/APIReference/CommonErrors.html>.
        "organizations" => Some("InvalidInputException"),
        // ELB reports input its model refuses as ValidationError.
        // See <https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/CommonErrors.html>.
        "elasticloadbalancing" => Some("ValidationError"),
        // Shield reports a value its model refuses as InvalidParameterException.
        // See <https://docs.aws.amazon.com/waf/latest/DDOSAPIReference/CommonErrors.html>.
        "shield" => Some("InvalidParameterException"),
        // WAFv2 reports a value its model refuses as WAFInvalidParameterException.
        // See <https://docs.aws.amazon.com/waf/latest/APIReference/CommonErrors.html>.
        "wafv2" => Some("WAFInvalidParameterException"),
        // S3 has no ValidationException. A value its model refuses inside an XML body (a member
        // nested in the payload) did not validate against S3's schema: MalformedXML. One in a
        // header or the query string is an InvalidArgument.
        // See <https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList>.
        // A region S3 has no buckets in (`us-east-1` is named by no constraint at all).
        "s3" if failed_members.iter().any(|m| m == "createBucketConfiguration.locationConstraint") => {
            Some("InvalidLocationConstraint")
        }
        "s3" if !failed_members.is_empty() && failed_members.iter().all(|m| m.contains('.')) => Some("MalformedXML"),
        "s3" if !failed_members.is_empty() => Some("InvalidArgument"),
        // S3 Control answers a malformed request with its general InvalidRequest.
        // See <https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_PutPublicAccessBlock.html>.
        "s3-control" => Some("InvalidRequest"),
        // GuardDuty answers any input it refuses with BadRequestException.
        // See <https://docs.aws.amazon.com/guardduty/latest/APIReference/CommonErrors.html>.
        "guardduty" => Some("BadRequestException"),
        _ => None,
    }
}

/// A request's parameters as the service's CloudTrail records name them (`host`: the request's
/// Host header); most services record them as the model names them.
pub fn audit_parameters(signing_name: &str, params: serde_json::Value, host: Option<&str>) -> serde_json::Value {
    match signing_name {
        "s3" => rampart_s3::audit_parameters(params, host),
        _ => params,
    }
}

#[cfg(test)]
mod tests {
    use rampart_core::actions::KNOWN_KEYS;
    use rampart_core::actions::Target::*;

    use super::*;

    #[test]
    fn every_row_names_a_model_operation_its_members_and_known_keys() {
        for (service, table) in TABLES {
            let model = rampart_shapes::services()
                .iter()
                .find(|s| s.endpoint_prefix == *service)
                .unwrap_or_else(|| panic!("no model for {service}"));
            let mut previous = "";
            for row in *table {
                assert!(row.operation > previous, "{service} table not sorted at {}", row.operation);
                previous = row.operation;
                let op = model
                    .operation(row.operation)
                    .unwrap_or_else(|| panic!("{service}:{} not in model", row.operation));
                let has = |m: &str| matches!(op.input.map(|s| &s.kind), Some(rampart_shapes::Kind::Structure(st)) if st.member_index(m).is_some());
                for t in row.resources {
                    let members: Vec<&str> = match t {
                        All | Listing(_) | Caller | StsSelf => vec![],
                        Named(_, m) | Arn(m) | KeyOwner(m) => vec![m],
                        New(_, m) => vec![m, "Path"],
                        Renamed(_, m, p) | Object(m, p) | ServiceLinkedRole(m, p) => vec![m, p],
                        Bucket(m) | FederatedUser(m) | OidcUrl(m) | Trail(m) | AccountRoot(m) | AccessReport(m)
                        | DelegationRequest(m) => vec![m],
                        // A template's placeholders, but the request's own Region and account.
                        Formed(template) => template
                            .split('{')
                            .skip(1)
                            .filter_map(|p| p.split_once('}').map(|(name, _)| name))
                            .filter(|name| !matches!(*name, "region" | "account"))
                            .collect(),
                    };
                    for m in members {
                        assert!(has(m), "{service}:{} has no member {m}", row.operation);
                    }
                }
                for k in row.keys {
                    assert!(KNOWN_KEYS.contains(k), "{service}:{} names unknown key {k}", row.operation);
                }
            }
        }
    }
}
