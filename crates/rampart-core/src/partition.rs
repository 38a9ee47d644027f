//! AWS partitions: a request signed for a Region of `aws-cn`, `aws-us-gov` or an isolated
//! partition sees ARNs of that partition, as AWS shows them there.
//!
//! Rampart keeps one form inside: every ARN it stores, builds or matches is `arn:aws:…`. At the
//! edges of a request, the strings of its input lose their partition (`arn:aws-cn:` becomes
//! `arn:aws:`) and the strings of its answer gain it back, so policies written for a partition
//! match that partition's callers and resources, and every ARN a client reads is its partition's.
//! Trails deliver each event in the partition of its Region.

/// The partition of a Region, by the Region name patterns of botocore's `partitions.json`.
pub fn of_region(region: &str) -> &'static str {
    const PREFIXES: &[(&str, &str)] = &[
        ("cn-", "aws-cn"),
        ("aws-cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("aws-us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("aws-iso-b-", "aws-iso-b"),
        ("us-isof-", "aws-iso-f"),
        ("aws-iso-f-", "aws-iso-f"),
        ("us-iso-", "aws-iso"),
        ("aws-iso-", "aws-iso"),
        ("eu-isoe-", "aws-iso-e"),
        ("aws-iso-e-", "aws-iso-e"),
        ("eusc-", "aws-eusc"),
    ];
    PREFIXES.iter().find(|(p, _)| region.starts_with(p)).map_or("aws", |(_, partition)| partition)
}

/// The Region a partition's global services (IAM, Organizations) sign for and record their calls
/// in: each partition's global endpoint's credential scope in botocore's `endpoints.json` (the
/// partitions without one have a single Region).
pub fn global_region(partition: &str) -> &'static str {
    match partition {
        "aws-cn" => "cn-north-1",
        "aws-us-gov" => "us-gov-west-1",
        "aws-iso" => "us-iso-east-1",
        "aws-iso-b" => "us-isob-east-1",
        "aws-iso-f" => "us-isof-south-1",
        "aws-iso-e" => "eu-isoe-west-1",
        "aws-eusc" => "eusc-de-east-1",
        _ => "us-east-1",
    }
}

/// `text` with the ARNs of `partition` in Rampart's inner form (`arn:aws:`); `None` when it
/// names none.
pub fn inward(text: &str, partition: &str) -> Option<String> {
    replace(text, partition, "aws")
}

/// `text` with Rampart's inner ARNs in `partition`'s form; `None` when it names none. ARNs in
/// URL-encoded documents (IAM's policy documents) are found too.
pub fn outward(text: &str, partition: &str) -> Option<String> {
    replace(text, "aws", partition)
}

fn replace(text: &str, from: &str, to: &str) -> Option<String> {
    if from == to {
        return None;
    }
    let (plain, encoded) = (format!("arn:{from}:"), format!("arn%3A{from}%3A"));
    if !text.contains(&plain) && !text.contains(&encoded) {
        return None;
    }
    Some(text.replace(&plain, &format!("arn:{to}:")).replace(&encoded, &format!("arn%3A{to}%3A")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_map_to_their_partitions() {
        for (region, partition) in [
            ("us-east-1", "aws"),
            ("eu-west-1", "aws"),
            ("cn-north-1", "aws-cn"),
            ("cn-northwest-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
            ("us-isof-south-1", "aws-iso-f"),
            ("eu-isoe-west-1", "aws-iso-e"),
            ("eusc-de-east-1", "aws-eusc"),
        ] {
            assert_eq!(of_region(region), partition, "{region}");
        }
    }

    #[test]
    fn arns_cross_the_edge_both_ways_and_nothing_else_changes() {
        let policy = r#"{"Resource":["arn:aws-cn:s3:::b/*","arn:aws-cn:iam::123456789012:root"]}"#;
        let inner = inward(policy, "aws-cn").unwrap();
        assert_eq!(inner, r#"{"Resource":["arn:aws:s3:::b/*","arn:aws:iam::123456789012:root"]}"#);
        assert_eq!(outward(&inner, "aws-cn").unwrap(), policy);
        assert_eq!(
            outward("%7B%22arn%3Aaws%3Aiam%3A%3A1%3Aroot", "aws-us-gov").unwrap(),
            "%7B%22arn%3Aaws-us-gov%3Aiam%3A%3A1%3Aroot"
        );
        // Another partition's ARN, and the inner form in an `aws` request, stay as they are.
        assert_eq!(inward("arn:aws-us-gov:s3:::b", "aws-cn"), None);
        assert_eq!(outward("arn:aws-cn:s3:::b", "aws-cn"), None);
        assert_eq!(outward("arn:aws:s3:::b", "aws"), None);
        assert_eq!(inward("no arns here", "aws-cn"), None);
    }
}
