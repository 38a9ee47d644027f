//! The operations Rampart serves: `(service, operation)` → handler, typed at the edges.

use std::collections::HashMap;
use std::sync::Arc;

use rampart_core::{Ctx, ServiceError, TxCtx};
use rampart_iam::{iam, sts};
use rampart_organizations as orgs;
use rampart_shapes::generated::{
    cloudtrail as cloudtrail_shapes, elbv2 as elb_shapes, guardduty as gd_shapes, iam as iam_shapes, kms as kms_shapes,
    organizations as org_shapes, s3 as s3_shapes, s3control as s3control_shapes, shield as shield_shapes,
    sts as sts_shapes, wafv2 as waf_shapes,
};
use rampart_shapes::{FromValue, IntoValue, Value};
use rampart_store::Tx;

pub type ReadFn = Box<dyn Fn(&Ctx<'_>, Value) -> Result<Value, ServiceError> + Send + Sync>;
/// Runs on a blocking thread before a write (see [`Handler::Prepared`]).
pub type PrepareFn = Arc<dyn Fn(&Ctx<'_>, Value) -> Result<Value, ServiceError> + Send + Sync>;
/// Runs inside the store transaction on the writer thread.
pub type WriteFn = Arc<dyn Fn(&mut Tx<'_>, &TxCtx<'_>, Value) -> Result<Value, ServiceError> + Send + Sync>;

/// How an operation runs.
pub enum Handler {
    /// Reads state only; its audit event is queued with the next group commit.
    Read(ReadFn),
    /// Changes state; it runs in a transaction, and its audit event commits with it.
    Write(WriteFn),
    /// Changes state after `prepare` has done the slow or read-only part on a blocking thread
    /// (checking and hashing a password), so neither the store's writer nor the async workers
    /// wait on it.
    Prepared { prepare: PrepareFn, write: WriteFn },
    /// Reads state, unless the input asks for something that must be recorded (an MFA code spent
    /// by AssumeRole): then it runs as a write.
    ReadUnless { read: ReadFn, write: WriteFn, writes: fn(&Value) -> bool },
}

fn input<I: FromValue>(v: Value) -> Result<I, ServiceError> {
    I::from_value(v).map_err(|e| {
        tracing::error!(error = %e, "decoded input does not fit its type");
        ServiceError::internal()
    })
}

fn read<I: FromValue + 'static, O: IntoValue + 'static>(f: fn(&Ctx<'_>, I) -> Result<O, ServiceError>) -> Handler {
    Handler::Read(Box::new(move |ctx, v| f(ctx, input(v)?).map(IntoValue::into_value)))
}

fn write<I: FromValue + 'static, O: IntoValue + 'static>(
    f: fn(&mut Tx<'_>, &TxCtx<'_>, I) -> Result<O, ServiceError>,
) -> Handler {
    Handler::Write(Arc::new(move |tx, ctx, v| f(tx, ctx, input(v)?).map(IntoValue::into_value)))
}

/// An S3 write whose request may carry `x-amz-mfa` ("SERIAL CODE"): the code is checked against
/// the caller's own MFA device, and its step spent, inside the write's transaction before the S3
/// handler runs, so the handler reads a present `MFA` member as proven (MFA Delete). A wrong code
/// fails the request as STS fails one; temporary credentials cannot carry MFA to S3, as in AWS.
fn s3_write_with_mfa<I: FromValue + 'static, O: IntoValue + 'static>(
    f: fn(&mut Tx<'_>, &TxCtx<'_>, I) -> Result<O, ServiceError>,
    mfa: fn(&I) -> Option<&str>,
) -> Handler {
    Handler::Write(Arc::new(move |tx, ctx, v| {
        let i: I = input(v)?;
        if let Some(header) = mfa(&i) {
            if ctx.principal.temporary.is_some() {
                return Err(ServiceError::new(
                    "InvalidRequest",
                    400,
                    "DevPay and Mfa are mutually exclusive authorization methods.",
                ));
            }
            let (serial, code) = header.trim().split_once(' ').ok_or_else(|| {
                ServiceError::new(
                    "InvalidRequest",
                    400,
                    "x-amz-mfa must hold the MFA device's serial number, a space, and its current code",
                )
            })?;
            iam::accept_mfa_code(tx, ctx, serial, code.trim())?;
        }
        f(tx, ctx, i).map(IntoValue::into_value)
    }))
}

fn read_unless<I: FromValue + 'static, O: IntoValue + 'static>(
    read: fn(&Ctx<'_>, I) -> Result<O, ServiceError>,
    write: fn(&mut Tx<'_>, &TxCtx<'_>, I) -> Result<O, ServiceError>,
    writes: fn(&Value) -> bool,
) -> Handler {
    let (Handler::Read(read), Handler::Write(write)) = (self::read(read), self::write(write)) else {
        unreachable!("read() and write() build their own variants")
    };
    Handler::ReadUnless { read, write, writes }
}

/// `prepare` turns the input into what `write` takes: the input itself with its slow part done
/// (a password hashed), or what it computed (new keys, sealed).
fn prepared<I: FromValue + 'static, P: FromValue + IntoValue + 'static, O: IntoValue + 'static>(
    prepare: fn(&Ctx<'_>, I) -> Result<P, ServiceError>,
    write: fn(&mut Tx<'_>, &TxCtx<'_>, P) -> Result<O, ServiceError>,
) -> Handler {
    let Handler::Write(write) = self::write(write) else { unreachable!("write() builds its own variant") };
    let prepare: PrepareFn = Arc::new(move |ctx, v| prepare(ctx, input(v)?).map(IntoValue::into_value));
    Handler::Prepared { prepare, write }
}

/// Whether an STS input carries an MFA code (`TokenCode`), whose step must be recorded as spent.
fn has_token_code(v: &Value) -> bool {
    v.string_field(&sts_shapes::SH_AssumeRoleRequest, "TokenCode").is_some()
}

/// Every served operation, by service endpoint prefix and operation name.
pub struct Dispatch {
    handlers: HashMap<(&'static str, &'static str), Handler>,
}

impl Dispatch {
    pub fn new() -> Self {
        let sts = sts_shapes::SERVICE.endpoint_prefix;
        let iam = iam_shapes::SERVICE.endpoint_prefix;
        let s3 = s3_shapes::SERVICE.endpoint_prefix;
        let s3control = s3control_shapes::SERVICE.endpoint_prefix;
        let trail = cloudtrail_shapes::SERVICE.endpoint_prefix;
        let org = org_shapes::SERVICE.endpoint_prefix;
        let kms = kms_shapes::SERVICE.endpoint_prefix;
        let mut handlers = HashMap::from([
            ((kms, "CreateKey"), prepared(rampart_kms::prepare_create_key, rampart_kms::create_key)),
            ((kms, "DescribeKey"), read(rampart_kms::describe_key)),
            ((kms, "ListKeys"), read(rampart_kms::list_keys)),
            ((kms, "UpdateKeyDescription"), write(rampart_kms::update_key_description)),
            ((kms, "EnableKey"), write(rampart_kms::enable_key)),
            ((kms, "DisableKey"), write(rampart_kms::disable_key)),
            ((kms, "ScheduleKeyDeletion"), write(rampart_kms::schedule_key_deletion)),
            ((kms, "CancelKeyDeletion"), write(rampart_kms::cancel_key_deletion)),
            ((kms, "GetKeyPolicy"), read(rampart_kms::get_key_policy)),
            ((kms, "PutKeyPolicy"), write(rampart_kms::put_key_policy)),
            ((kms, "ListKeyPolicies"), read(rampart_kms::list_key_policies)),
            ((kms, "TagResource"), write(rampart_kms::tag_resource)),
            ((kms, "UntagResource"), write(rampart_kms::untag_resource)),
            ((kms, "ListResourceTags"), read(rampart_kms::list_resource_tags)),
            ((kms, "EnableKeyRotation"), write(rampart_kms::enable_key_rotation)),
            ((kms, "DisableKeyRotation"), write(rampart_kms::disable_key_rotation)),
            ((kms, "GetKeyRotationStatus"), read(rampart_kms::get_key_rotation_status)),
            ((kms, "RotateKeyOnDemand"), write(rampart_kms::rotate_key_on_demand)),
            ((kms, "ListKeyRotations"), read(rampart_kms::list_key_rotations)),
            ((kms, "CreateAlias"), write(rampart_kms::create_alias)),
            ((kms, "UpdateAlias"), write(rampart_kms::update_alias)),
            ((kms, "DeleteAlias"), write(rampart_kms::delete_alias)),
            ((kms, "ListAliases"), read(rampart_kms::list_aliases)),
            ((kms, "Encrypt"), read(rampart_kms::encrypt)),
            ((kms, "Decrypt"), read(rampart_kms::decrypt)),
            ((kms, "ReEncrypt"), read(rampart_kms::re_encrypt)),
            ((kms, "GenerateDataKey"), read(rampart_kms::generate_data_key)),
            ((kms, "GenerateDataKeyWithoutPlaintext"), read(rampart_kms::generate_data_key_without_plaintext)),
            ((kms, "GenerateRandom"), read(rampart_kms::generate_random)),
            ((kms, "Sign"), read(rampart_kms::sign)),
            ((kms, "Verify"), read(rampart_kms::verify)),
            ((kms, "GetPublicKey"), read(rampart_kms::get_public_key)),
            ((kms, "GenerateMac"), read(rampart_kms::generate_mac)),
            ((kms, "VerifyMac"), read(rampart_kms::verify_mac)),
            ((kms, "CreateGrant"), write(rampart_kms::create_grant)),
            ((kms, "ListGrants"), read(rampart_kms::list_grants)),
            ((kms, "ListRetirableGrants"), read(rampart_kms::list_retirable_grants)),
            ((kms, "RetireGrant"), write(rampart_kms::retire_grant)),
            ((kms, "RevokeGrant"), write(rampart_kms::revoke_grant)),
            ((kms, "GenerateDataKeyPair"), read(rampart_kms::generate_data_key_pair)),
            ((kms, "GenerateDataKeyPairWithoutPlaintext"), read(rampart_kms::generate_data_key_pair_without_plaintext)),
            ((kms, "DescribeCustomKeyStores"), read(rampart_kms::describe_custom_key_stores)),
            ((kms, "CreateCustomKeyStore"), write(rampart_kms::create_custom_key_store)),
            ((kms, "ConnectCustomKeyStore"), write(rampart_kms::connect_custom_key_store)),
            ((kms, "DisconnectCustomKeyStore"), write(rampart_kms::disconnect_custom_key_store)),
            ((kms, "DeleteCustomKeyStore"), write(rampart_kms::delete_custom_key_store)),
            ((kms, "UpdateCustomKeyStore"), write(rampart_kms::update_custom_key_store)),
            ((kms, "GetParametersForImport"), read(rampart_kms::get_parameters_for_import)),
            ((kms, "ImportKeyMaterial"), write(rampart_kms::import_key_material)),
            ((kms, "DeleteImportedKeyMaterial"), write(rampart_kms::delete_imported_key_material)),
            ((kms, "DeriveSharedSecret"), read(rampart_kms::derive_shared_secret)),
            ((kms, "GetKeyLastUsage"), read(rampart_kms::get_key_last_usage)),
            ((kms, "ReplicateKey"), write(rampart_kms::replicate_key)),
            ((kms, "UpdatePrimaryRegion"), write(rampart_kms::update_primary_region)),
            ((org, "CreateOrganization"), write(orgs::create_organization)),
            ((org, "EnableAllFeatures"), write(orgs::enable_all_features)),
            ((org, "DescribeOrganization"), read(orgs::describe_organization)),
            ((org, "DeleteOrganization"), write(orgs::delete_organization)),
            ((org, "ListRoots"), read(orgs::list_roots)),
            ((org, "CreateOrganizationalUnit"), write(orgs::create_organizational_unit)),
            ((org, "DescribeOrganizationalUnit"), read(orgs::describe_organizational_unit)),
            ((org, "UpdateOrganizationalUnit"), write(orgs::update_organizational_unit)),
            ((org, "DeleteOrganizationalUnit"), write(orgs::delete_organizational_unit)),
            ((org, "ListOrganizationalUnitsForParent"), read(orgs::list_organizational_units_for_parent)),
            ((org, "ListChildren"), read(orgs::list_children)),
            ((org, "ListParents"), read(orgs::list_parents)),
            ((org, "CreateAccount"), write(orgs::create_account)),
            ((org, "CreateGovCloudAccount"), write(orgs::create_gov_cloud_account)),
            ((org, "DescribeCreateAccountStatus"), read(orgs::describe_create_account_status)),
            ((org, "ListAccounts"), read(orgs::list_accounts)),
            ((org, "ListAccountsWithInvalidEffectivePolicy"), read(orgs::list_accounts_with_invalid_effective_policy)),
            ((org, "ListEffectivePolicyValidationErrors"), read(orgs::list_effective_policy_validation_errors)),
            (
                (org, "InviteOrganizationToTransferResponsibility"),
                write(orgs::invite_organization_to_transfer_responsibility),
            ),
            ((org, "DescribeResponsibilityTransfer"), read(orgs::describe_responsibility_transfer)),
            ((org, "ListInboundResponsibilityTransfers"), read(orgs::list_inbound_responsibility_transfers)),
            ((org, "ListOutboundResponsibilityTransfers"), read(orgs::list_outbound_responsibility_transfers)),
            ((org, "UpdateResponsibilityTransfer"), write(orgs::update_responsibility_transfer)),
            ((org, "TerminateResponsibilityTransfer"), write(orgs::terminate_responsibility_transfer)),
            ((org, "ListAccountsForParent"), read(orgs::list_accounts_for_parent)),
            ((org, "DescribeAccount"), read(orgs::describe_account)),
            ((org, "MoveAccount"), write(orgs::move_account)),
            ((org, "CloseAccount"), write(orgs::close_account)),
            ((org, "CreatePolicy"), write(orgs::create_policy)),
            ((org, "DescribePolicy"), read(orgs::describe_policy)),
            ((org, "UpdatePolicy"), write(orgs::update_policy)),
            ((org, "DeletePolicy"), write(orgs::delete_policy)),
            ((org, "ListPolicies"), read(orgs::list_policies)),
            ((org, "AttachPolicy"), write(orgs::attach_policy)),
            ((org, "DetachPolicy"), write(orgs::detach_policy)),
            ((org, "ListPoliciesForTarget"), read(orgs::list_policies_for_target)),
            ((org, "ListTargetsForPolicy"), read(orgs::list_targets_for_policy)),
            ((org, "EnablePolicyType"), write(orgs::enable_policy_type)),
            ((org, "DisablePolicyType"), write(orgs::disable_policy_type)),
            ((org, "TagResource"), write(orgs::tag_resource)),
            ((org, "UntagResource"), write(orgs::untag_resource)),
            ((org, "ListTagsForResource"), read(orgs::list_tags_for_resource)),
            ((org, "EnableAWSServiceAccess"), write(orgs::enable_aws_service_access)),
            ((org, "DisableAWSServiceAccess"), write(orgs::disable_aws_service_access)),
            ((org, "ListAWSServiceAccessForOrganization"), read(orgs::list_aws_service_access_for_organization)),
            ((org, "ListDelegatedAdministrators"), read(orgs::list_delegated_administrators)),
            ((org, "RegisterDelegatedAdministrator"), write(orgs::register_delegated_administrator)),
            ((org, "DeregisterDelegatedAdministrator"), write(orgs::deregister_delegated_administrator)),
            ((org, "ListDelegatedServicesForAccount"), read(orgs::list_delegated_services_for_account)),
            ((org, "PutResourcePolicy"), write(orgs::put_resource_policy)),
            ((org, "DescribeResourcePolicy"), read(orgs::describe_resource_policy)),
            ((org, "DeleteResourcePolicy"), write(orgs::delete_resource_policy)),
            ((org, "InviteAccountToOrganization"), write(orgs::invite_account_to_organization)),
            ((org, "AcceptHandshake"), write(orgs::accept_handshake)),
            ((org, "DeclineHandshake"), write(orgs::decline_handshake)),
            ((org, "CancelHandshake"), write(orgs::cancel_handshake)),
            ((org, "DescribeHandshake"), read(orgs::describe_handshake)),
            ((org, "ListHandshakesForAccount"), read(orgs::list_handshakes_for_account)),
            ((org, "ListHandshakesForOrganization"), read(orgs::list_handshakes_for_organization)),
            ((org, "LeaveOrganization"), write(orgs::leave_organization)),
            ((org, "ListCreateAccountStatus"), read(orgs::list_create_account_status)),
            ((org, "DescribeEffectivePolicy"), read(orgs::describe_effective_policy)),
            ((org, "RemoveAccountFromOrganization"), write(orgs::remove_account_from_organization)),
            ((trail, "LookupEvents"), read(rampart_cloudtrail::lookup_events)),
            ((trail, "CreateTrail"), write(rampart_cloudtrail::create_trail)),
            ((trail, "UpdateTrail"), write(rampart_cloudtrail::update_trail)),
            ((trail, "GetTrail"), read(rampart_cloudtrail::get_trail)),
            ((trail, "DescribeTrails"), read(rampart_cloudtrail::describe_trails)),
            ((trail, "ListTrails"), read(rampart_cloudtrail::list_trails)),
            ((trail, "DeleteTrail"), write(rampart_cloudtrail::delete_trail)),
            ((trail, "StartLogging"), write(rampart_cloudtrail::start_logging)),
            ((trail, "StopLogging"), write(rampart_cloudtrail::stop_logging)),
            ((trail, "GetTrailStatus"), read(rampart_cloudtrail::get_trail_status)),
            ((trail, "GetEventSelectors"), read(rampart_cloudtrail::get_event_selectors)),
            ((trail, "PutEventSelectors"), write(rampart_cloudtrail::put_event_selectors)),
            ((trail, "PutResourcePolicy"), write(rampart_cloudtrail::put_resource_policy)),
            ((trail, "GetResourcePolicy"), read(rampart_cloudtrail::get_resource_policy)),
            ((trail, "DeleteResourcePolicy"), write(rampart_cloudtrail::delete_resource_policy)),
            ((trail, "GetInsightSelectors"), read(rampart_cloudtrail::get_insight_selectors)),
            ((trail, "PutInsightSelectors"), write(rampart_cloudtrail::put_insight_selectors)),
            ((trail, "GetEventConfiguration"), read(rampart_cloudtrail::get_event_configuration)),
            ((trail, "PutEventConfiguration"), write(rampart_cloudtrail::put_event_configuration)),
            ((trail, "AddTags"), write(rampart_cloudtrail::add_tags)),
            ((trail, "RemoveTags"), write(rampart_cloudtrail::remove_tags)),
            ((trail, "ListTags"), read(rampart_cloudtrail::list_tags)),
            ((trail, "ListPublicKeys"), read(rampart_cloudtrail::list_public_keys)),
            ((s3, "ListBuckets"), read(rampart_s3::list_buckets)),
            ((s3, "CreateBucket"), write(rampart_s3::create_bucket)),
            ((s3, "HeadBucket"), read(rampart_s3::head_bucket)),
            ((s3, "DeleteBucket"), write(rampart_s3::delete_bucket)),
            ((s3, "PutObject"), write(rampart_s3::put_object)),
            ((s3, "GetObject"), read(rampart_s3::get_object)),
            ((s3, "HeadObject"), read(rampart_s3::head_object)),
            ((s3, "GetObjectAttributes"), read(rampart_s3::get_object_attributes)),
            (
                (s3, "DeleteObject"),
                s3_write_with_mfa(rampart_s3::delete_object, |i: &s3_shapes::DeleteObjectRequest| i.mfa.as_deref()),
            ),
            ((s3, "ListObjectsV2"), read(rampart_s3::list_objects_v2)),
            ((s3, "ListObjects"), read(rampart_s3::list_objects)),
            ((s3, "GetBucketLocation"), read(rampart_s3::get_bucket_location)),
            ((s3, "ListObjectVersions"), read(rampart_s3::list_object_versions)),
            ((s3, "CopyObject"), write(rampart_s3::copy_object)),
            ((s3, "CreateMultipartUpload"), write(rampart_s3::create_multipart_upload)),
            ((s3, "UploadPart"), prepared(rampart_s3::prepare_upload_part, rampart_s3::upload_part)),
            ((s3, "UploadPartCopy"), write(rampart_s3::upload_part_copy)),
            ((s3, "CompleteMultipartUpload"), write(rampart_s3::complete_multipart_upload)),
            ((s3, "AbortMultipartUpload"), write(rampart_s3::abort_multipart_upload)),
            ((s3, "ListParts"), read(rampart_s3::list_parts)),
            ((s3, "ListMultipartUploads"), read(rampart_s3::list_multipart_uploads)),
            (
                (s3, "DeleteObjects"),
                s3_write_with_mfa(rampart_s3::delete_objects, |i: &s3_shapes::DeleteObjectsRequest| i.mfa.as_deref()),
            ),
            ((s3, "GetObjectTagging"), read(rampart_s3::get_object_tagging)),
            ((s3, "PutObjectTagging"), write(rampart_s3::put_object_tagging)),
            ((s3, "DeleteObjectTagging"), write(rampart_s3::delete_object_tagging)),
            ((s3, "GetObjectAcl"), read(rampart_s3::get_object_acl)),
            ((s3, "PutObjectAcl"), write(rampart_s3::put_object_acl)),
            ((s3, "PutBucketPolicy"), write(rampart_s3::put_bucket_policy)),
            ((s3, "GetBucketPolicy"), read(rampart_s3::get_bucket_policy)),
            ((s3, "DeleteBucketPolicy"), write(rampart_s3::delete_bucket_policy)),
            ((s3, "GetBucketPolicyStatus"), read(rampart_s3::get_bucket_policy_status)),
            ((s3, "PutPublicAccessBlock"), write(rampart_s3::put_public_access_block)),
            ((s3, "GetPublicAccessBlock"), read(rampart_s3::get_public_access_block)),
            ((s3, "DeletePublicAccessBlock"), write(rampart_s3::delete_public_access_block)),
            ((s3, "PutBucketOwnershipControls"), write(rampart_s3::put_bucket_ownership_controls)),
            ((s3, "GetBucketOwnershipControls"), read(rampart_s3::get_bucket_ownership_controls)),
            ((s3, "DeleteBucketOwnershipControls"), write(rampart_s3::delete_bucket_ownership_controls)),
            ((s3, "GetBucketAcl"), read(rampart_s3::get_bucket_acl)),
            ((s3, "PutBucketAcl"), write(rampart_s3::put_bucket_acl)),
            ((s3, "PutBucketEncryption"), write(rampart_s3::put_bucket_encryption)),
            ((s3, "GetBucketEncryption"), read(rampart_s3::get_bucket_encryption)),
            ((s3, "DeleteBucketEncryption"), write(rampart_s3::delete_bucket_encryption)),
            (
                (s3, "PutBucketVersioning"),
                s3_write_with_mfa(rampart_s3::put_bucket_versioning, |i: &s3_shapes::PutBucketVersioningRequest| {
                    i.mfa.as_deref()
                }),
            ),
            ((s3, "GetBucketVersioning"), read(rampart_s3::get_bucket_versioning)),
            ((s3, "PutBucketTagging"), write(rampart_s3::put_bucket_tagging)),
            ((s3, "GetBucketTagging"), read(rampart_s3::get_bucket_tagging)),
            ((s3, "DeleteBucketTagging"), write(rampart_s3::delete_bucket_tagging)),
            ((s3, "GetObjectLockConfiguration"), read(rampart_s3::get_object_lock_configuration)),
            ((s3, "PutObjectLockConfiguration"), write(rampart_s3::put_object_lock_configuration)),
            ((s3, "PutObjectRetention"), write(rampart_s3::put_object_retention)),
            ((s3, "GetObjectRetention"), read(rampart_s3::get_object_retention)),
            ((s3, "PutObjectLegalHold"), write(rampart_s3::put_object_legal_hold)),
            ((s3, "GetObjectLegalHold"), read(rampart_s3::get_object_legal_hold)),
            ((s3control, "PutPublicAccessBlock"), write(rampart_s3::control::put_public_access_block)),
            ((s3control, "GetPublicAccessBlock"), read(rampart_s3::control::get_public_access_block)),
            ((s3control, "DeletePublicAccessBlock"), write(rampart_s3::control::delete_public_access_block)),
            ((sts, "GetCallerIdentity"), read(sts::get_caller_identity)),
            ((sts, "GetAccessKeyInfo"), read(sts::get_access_key_info)),
            ((sts, "DecodeAuthorizationMessage"), read(sts::decode_authorization_message)),
            ((sts, "AssumeRole"), read_unless(sts::assume_role, sts::assume_role_with_mfa, has_token_code)),
            ((sts, "GetSessionToken"), write(sts::get_session_token)),
            ((sts, "GetFederationToken"), read(sts::get_federation_token)),
            ((sts, "GetWebIdentityToken"), read(sts::get_web_identity_token)),
            ((sts, "GetDelegatedAccessToken"), read(sts::get_delegated_access_token)),
            ((sts, "AssumeRoot"), read(sts::assume_root)),
            ((iam, "CreateUser"), write(iam::create_user)),
            ((iam, "GetUser"), read(iam::get_user)),
            ((iam, "ListUsers"), read(iam::list_users)),
            ((iam, "UpdateUser"), write(iam::update_user)),
            ((iam, "DeleteUser"), write(iam::delete_user)),
            ((iam, "CreateAccessKey"), write(iam::create_access_key)),
            ((iam, "ListAccessKeys"), read(iam::list_access_keys)),
            ((iam, "DeleteAccessKey"), write(iam::delete_access_key)),
            ((iam, "UpdateAccessKey"), write(iam::update_access_key)),
            ((iam, "GetAccessKeyLastUsed"), read(iam::get_access_key_last_used)),
            ((iam, "PutUserPolicy"), write(iam::put_user_policy)),
            ((iam, "GetUserPolicy"), read(iam::get_user_policy)),
            ((iam, "ListUserPolicies"), read(iam::list_user_policies)),
            ((iam, "DeleteUserPolicy"), write(iam::delete_user_policy)),
            ((iam, "CreateGroup"), write(iam::create_group)),
            ((iam, "GetGroup"), read(iam::get_group)),
            ((iam, "ListGroups"), read(iam::list_groups)),
            ((iam, "UpdateGroup"), write(iam::update_group)),
            ((iam, "DeleteGroup"), write(iam::delete_group)),
            ((iam, "AddUserToGroup"), write(iam::add_user_to_group)),
            ((iam, "RemoveUserFromGroup"), write(iam::remove_user_from_group)),
            ((iam, "ListGroupsForUser"), read(iam::list_groups_for_user)),
            ((iam, "PutGroupPolicy"), write(iam::put_group_policy)),
            ((iam, "GetGroupPolicy"), read(iam::get_group_policy)),
            ((iam, "ListGroupPolicies"), read(iam::list_group_policies)),
            ((iam, "DeleteGroupPolicy"), write(iam::delete_group_policy)),
            ((iam, "CreatePolicy"), write(iam::create_policy)),
            ((iam, "GetPolicy"), read(iam::get_policy)),
            ((iam, "GetPolicyVersion"), read(iam::get_policy_version)),
            ((iam, "ListPolicies"), read(iam::list_policies)),
            ((iam, "DeletePolicy"), write(iam::delete_policy)),
            ((iam, "AttachUserPolicy"), write(iam::attach_user_policy)),
            ((iam, "DetachUserPolicy"), write(iam::detach_user_policy)),
            ((iam, "ListAttachedUserPolicies"), read(iam::list_attached_user_policies)),
            ((iam, "AttachGroupPolicy"), write(iam::attach_group_policy)),
            ((iam, "DetachGroupPolicy"), write(iam::detach_group_policy)),
            ((iam, "ListAttachedGroupPolicies"), read(iam::list_attached_group_policies)),
            ((iam, "PutUserPermissionsBoundary"), write(iam::put_user_permissions_boundary)),
            ((iam, "DeleteUserPermissionsBoundary"), write(iam::delete_user_permissions_boundary)),
            ((iam, "TagUser"), write(iam::tag_user)),
            ((iam, "UntagUser"), write(iam::untag_user)),
            ((iam, "ListUserTags"), read(iam::list_user_tags)),
            ((iam, "CreatePolicyVersion"), write(iam::create_policy_version)),
            ((iam, "ListPolicyVersions"), read(iam::list_policy_versions)),
            ((iam, "SetDefaultPolicyVersion"), write(iam::set_default_policy_version)),
            ((iam, "DeletePolicyVersion"), write(iam::delete_policy_version)),
            ((iam, "CreateRole"), write(iam::create_role)),
            ((iam, "GetRole"), read(iam::get_role)),
            ((iam, "ListRoles"), read(iam::list_roles)),
            ((iam, "UpdateRole"), write(iam::update_role)),
            ((iam, "UpdateRoleDescription"), write(iam::update_role_description)),
            ((iam, "UpdateAssumeRolePolicy"), write(iam::update_assume_role_policy)),
            ((iam, "DeleteRole"), write(iam::delete_role)),
            ((iam, "PutRolePolicy"), write(iam::put_role_policy)),
            ((iam, "GetRolePolicy"), read(iam::get_role_policy)),
            ((iam, "ListRolePolicies"), read(iam::list_role_policies)),
            ((iam, "DeleteRolePolicy"), write(iam::delete_role_policy)),
            ((iam, "AttachRolePolicy"), write(iam::attach_role_policy)),
            ((iam, "DetachRolePolicy"), write(iam::detach_role_policy)),
            ((iam, "ListAttachedRolePolicies"), read(iam::list_attached_role_policies)),
            ((iam, "CreateAccountAlias"), write(iam::create_account_alias)),
            ((iam, "DeleteAccountAlias"), write(iam::delete_account_alias)),
            ((iam, "ListAccountAliases"), read(iam::list_account_aliases)),
            ((iam, "GetAccountSummary"), read(iam::get_account_summary)),
            ((iam, "UploadSSHPublicKey"), write(iam::upload_ssh_public_key)),
            ((iam, "GetSSHPublicKey"), read(iam::get_ssh_public_key)),
            ((iam, "ListSSHPublicKeys"), read(iam::list_ssh_public_keys)),
            ((iam, "UpdateSSHPublicKey"), write(iam::update_ssh_public_key)),
            ((iam, "DeleteSSHPublicKey"), write(iam::delete_ssh_public_key)),
            ((iam, "UploadSigningCertificate"), write(iam::upload_signing_certificate)),
            ((iam, "ListSigningCertificates"), read(iam::list_signing_certificates)),
            ((iam, "UpdateSigningCertificate"), write(iam::update_signing_certificate)),
            ((iam, "DeleteSigningCertificate"), write(iam::delete_signing_certificate)),
            ((iam, "UploadServerCertificate"), write(iam::upload_server_certificate)),
            ((iam, "GetServerCertificate"), read(iam::get_server_certificate)),
            ((iam, "ListServerCertificates"), read(iam::list_server_certificates)),
            ((iam, "UpdateServerCertificate"), write(iam::update_server_certificate)),
            (
                (iam, "DeleteServerCertificate"),
                prepared(
                    |ctx, i| iam::prepare_delete_server_certificate(ctx, i, rampart_elb::balancer_using_certificate),
                    iam::delete_server_certificate,
                ),
            ),
            ((iam, "TagServerCertificate"), write(iam::tag_server_certificate)),
            ((iam, "UntagServerCertificate"), write(iam::untag_server_certificate)),
            ((iam, "ListServerCertificateTags"), read(iam::list_server_certificate_tags)),
            ((iam, "CreateServiceSpecificCredential"), write(iam::create_service_specific_credential)),
            ((iam, "ListServiceSpecificCredentials"), read(iam::list_service_specific_credentials)),
            ((iam, "ResetServiceSpecificCredential"), write(iam::reset_service_specific_credential)),
            ((iam, "UpdateServiceSpecificCredential"), write(iam::update_service_specific_credential)),
            ((iam, "DeleteServiceSpecificCredential"), write(iam::delete_service_specific_credential)),
            ((iam, "ListOrganizationsFeatures"), read(iam::list_organizations_features)),
            (
                (iam, "EnableOrganizationsRootCredentialsManagement"),
                write(iam::enable_organizations_root_credentials_management),
            ),
            (
                (iam, "DisableOrganizationsRootCredentialsManagement"),
                write(iam::disable_organizations_root_credentials_management),
            ),
            ((iam, "EnableOrganizationsRootSessions"), write(iam::enable_organizations_root_sessions)),
            ((iam, "DisableOrganizationsRootSessions"), write(iam::disable_organizations_root_sessions)),
            ((iam, "GenerateServiceLastAccessedDetails"), write(iam::generate_service_last_accessed_details)),
            ((iam, "GenerateOrganizationsAccessReport"), write(orgs::generate_organizations_access_report)),
            ((iam, "GetOrganizationsAccessReport"), read(orgs::get_organizations_access_report)),
            ((iam, "GetServiceLastAccessedDetails"), read(iam::get_service_last_accessed_details)),
            (
                (iam, "GetServiceLastAccessedDetailsWithEntities"),
                read(iam::get_service_last_accessed_details_with_entities),
            ),
            ((iam, "ListPoliciesGrantingServiceAccess"), read(iam::list_policies_granting_service_access)),
            ((iam, "SetSecurityTokenServicePreferences"), write(iam::set_security_token_service_preferences)),
            ((iam, "GetAccountAuthorizationDetails"), read(iam::get_account_authorization_details)),
            ((iam, "ListEntitiesForPolicy"), read(iam::list_entities_for_policy)),
            ((iam, "GenerateCredentialReport"), write(iam::generate_credential_report)),
            ((iam, "GetCredentialReport"), read(iam::get_credential_report)),
            ((iam, "TagRole"), write(iam::tag_role)),
            ((iam, "UntagRole"), write(iam::untag_role)),
            ((iam, "ListRoleTags"), read(iam::list_role_tags)),
            (
                (iam, "EnableOutboundWebIdentityFederation"),
                prepared(
                    iam::prepare_enable_outbound_web_identity_federation,
                    iam::enable_outbound_web_identity_federation,
                ),
            ),
            ((iam, "DisableOutboundWebIdentityFederation"), write(iam::disable_outbound_web_identity_federation)),
            ((iam, "GetOutboundWebIdentityFederationInfo"), read(iam::get_outbound_web_identity_federation_info)),
            ((iam, "CreateServiceLinkedRole"), write(iam::create_service_linked_role)),
            ((iam, "CreateDelegationRequest"), write(iam::create_delegation_request)),
            ((iam, "AssociateDelegationRequest"), write(iam::associate_delegation_request)),
            ((iam, "UpdateDelegationRequest"), write(iam::update_delegation_request)),
            ((iam, "AcceptDelegationRequest"), write(iam::accept_delegation_request)),
            ((iam, "SendDelegationToken"), write(iam::send_delegation_token)),
            ((iam, "RejectDelegationRequest"), write(iam::reject_delegation_request)),
            ((iam, "GetDelegationRequest"), read(iam::get_delegation_request)),
            ((iam, "ListDelegationRequests"), read(iam::list_delegation_requests)),
            ((iam, "GetHumanReadableSummary"), read(iam::get_human_readable_summary)),
            ((iam, "DeleteServiceLinkedRole"), write(iam::delete_service_linked_role)),
            ((iam, "GetServiceLinkedRoleDeletionStatus"), read(iam::get_service_linked_role_deletion_status)),
            ((iam, "CreateLoginProfile"), prepared(iam::prepare_create_login_profile, iam::create_login_profile)),
            ((iam, "GetLoginProfile"), read(iam::get_login_profile)),
            ((iam, "UpdateLoginProfile"), prepared(iam::prepare_update_login_profile, iam::update_login_profile)),
            ((iam, "DeleteLoginProfile"), write(iam::delete_login_profile)),
            ((iam, "ChangePassword"), prepared(iam::prepare_change_password, iam::change_password)),
            ((iam, "UpdateAccountPasswordPolicy"), write(iam::update_account_password_policy)),
            ((iam, "GetAccountPasswordPolicy"), read(iam::get_account_password_policy)),
            ((iam, "DeleteAccountPasswordPolicy"), write(iam::delete_account_password_policy)),
            ((iam, "CreateVirtualMFADevice"), write(iam::create_virtual_mfa_device)),
            ((iam, "EnableMFADevice"), write(iam::enable_mfa_device)),
            ((iam, "ResyncMFADevice"), write(iam::resync_mfa_device)),
            ((iam, "DeactivateMFADevice"), write(iam::deactivate_mfa_device)),
            ((iam, "DeleteVirtualMFADevice"), write(iam::delete_virtual_mfa_device)),
            ((iam, "ListMFADevices"), read(iam::list_mfa_devices)),
            ((iam, "GetMFADevice"), read(iam::get_mfa_device)),
            ((iam, "ListVirtualMFADevices"), read(iam::list_virtual_mfa_devices)),
            ((iam, "TagMFADevice"), write(iam::tag_mfa_device)),
            ((iam, "UntagMFADevice"), write(iam::untag_mfa_device)),
            ((iam, "ListMFADeviceTags"), read(iam::list_mfa_device_tags)),
            ((iam, "TagPolicy"), write(iam::tag_policy)),
            ((iam, "UntagPolicy"), write(iam::untag_policy)),
            ((iam, "ListPolicyTags"), read(iam::list_policy_tags)),
            ((iam, "TagInstanceProfile"), write(iam::tag_instance_profile)),
            ((iam, "UntagInstanceProfile"), write(iam::untag_instance_profile)),
            ((iam, "ListInstanceProfileTags"), read(iam::list_instance_profile_tags)),
            ((iam, "PutRolePermissionsBoundary"), write(iam::put_role_permissions_boundary)),
            ((iam, "DeleteRolePermissionsBoundary"), write(iam::delete_role_permissions_boundary)),
            ((iam, "CreateInstanceProfile"), write(iam::create_instance_profile)),
            ((iam, "GetInstanceProfile"), read(iam::get_instance_profile)),
            ((iam, "ListInstanceProfiles"), read(iam::list_instance_profiles)),
            ((iam, "ListInstanceProfilesForRole"), read(iam::list_instance_profiles_for_role)),
            ((iam, "AddRoleToInstanceProfile"), write(iam::add_role_to_instance_profile)),
            ((iam, "RemoveRoleFromInstanceProfile"), write(iam::remove_role_from_instance_profile)),
            ((iam, "DeleteInstanceProfile"), write(iam::delete_instance_profile)),
            ((iam, "CreateOpenIDConnectProvider"), write(iam::create_open_id_connect_provider)),
            ((iam, "GetOpenIDConnectProvider"), read(iam::get_open_id_connect_provider)),
            ((iam, "ListOpenIDConnectProviders"), read(iam::list_open_id_connect_providers)),
            ((iam, "DeleteOpenIDConnectProvider"), write(iam::delete_open_id_connect_provider)),
            ((iam, "AddClientIDToOpenIDConnectProvider"), write(iam::add_client_id_to_open_id_connect_provider)),
            (
                (iam, "RemoveClientIDFromOpenIDConnectProvider"),
                write(iam::remove_client_id_from_open_id_connect_provider),
            ),
            ((iam, "UpdateOpenIDConnectProviderThumbprint"), write(iam::update_open_id_connect_provider_thumbprint)),
            ((iam, "TagOpenIDConnectProvider"), write(iam::tag_open_id_connect_provider)),
            ((iam, "UntagOpenIDConnectProvider"), write(iam::untag_open_id_connect_provider)),
            ((iam, "ListOpenIDConnectProviderTags"), read(iam::list_open_id_connect_provider_tags)),
            ((iam, "CreateSAMLProvider"), write(iam::create_saml_provider)),
            ((iam, "GetSAMLProvider"), read(iam::get_saml_provider)),
            ((iam, "ListSAMLProviders"), read(iam::list_saml_providers)),
            ((iam, "UpdateSAMLProvider"), write(iam::update_saml_provider)),
            ((iam, "DeleteSAMLProvider"), write(iam::delete_saml_provider)),
            ((iam, "TagSAMLProvider"), write(iam::tag_saml_provider)),
            ((iam, "UntagSAMLProvider"), write(iam::untag_saml_provider)),
            ((iam, "ListSAMLProviderTags"), read(iam::list_saml_provider_tags)),
            ((iam, "SimulatePrincipalPolicy"), read(iam::simulate_principal_policy)),
            ((iam, "SimulateCustomPolicy"), read(iam::simulate_custom_policy)),
            ((iam, "GetContextKeysForPrincipalPolicy"), read(iam::get_context_keys_for_principal_policy)),
            ((iam, "GetContextKeysForCustomPolicy"), read(iam::get_context_keys_for_custom_policy)),
        ]);
        let elb = elb_shapes::SERVICE.endpoint_prefix;
        handlers.extend([
            ((elb, "AddTags"), write(rampart_elb::add_tags)),
            (
                (elb, "CreateListener"),
                prepared(
                    |ctx, i| rampart_elb::prepare_listener_certificates(ctx, i, iam::server_certificate_exists),
                    rampart_elb::create_listener,
                ),
            ),
            ((elb, "CreateRule"), write(rampart_elb::create_rule)),
            ((elb, "DeleteRule"), write(rampart_elb::delete_rule)),
            ((elb, "DescribeRules"), read(rampart_elb::describe_rules)),
            ((elb, "ModifyRule"), write(rampart_elb::modify_rule)),
            ((elb, "SetRulePriorities"), write(rampart_elb::set_rule_priorities)),
            ((elb, "CreateLoadBalancer"), write(rampart_elb::create_load_balancer)),
            ((elb, "CreateTargetGroup"), write(rampart_elb::create_target_group)),
            ((elb, "DeleteListener"), write(rampart_elb::delete_listener)),
            ((elb, "DeleteLoadBalancer"), write(rampart_elb::delete_load_balancer)),
            ((elb, "DeleteTargetGroup"), write(rampart_elb::delete_target_group)),
            ((elb, "DeregisterTargets"), write(rampart_elb::deregister_targets)),
            ((elb, "DescribeCapacityReservation"), read(rampart_elb::describe_capacity_reservation)),
            ((elb, "DescribeListenerAttributes"), read(rampart_elb::describe_listener_attributes)),
            ((elb, "DescribeListeners"), read(rampart_elb::describe_listeners)),
            ((elb, "DescribeLoadBalancerAttributes"), read(rampart_elb::describe_load_balancer_attributes)),
            ((elb, "DescribeLoadBalancers"), read(rampart_elb::describe_load_balancers)),
            ((elb, "DescribeTags"), read(rampart_elb::describe_tags)),
            ((elb, "DescribeTargetGroupAttributes"), read(rampart_elb::describe_target_group_attributes)),
            ((elb, "DescribeTargetGroups"), read(rampart_elb::describe_target_groups)),
            ((elb, "DescribeTargetHealth"), read(rampart_elb::describe_target_health)),
            (
                (elb, "AddListenerCertificates"),
                prepared(
                    |ctx, i| rampart_elb::prepare_listener_certificates(ctx, i, iam::server_certificate_exists),
                    rampart_elb::add_listener_certificates,
                ),
            ),
            ((elb, "DescribeListenerCertificates"), read(rampart_elb::describe_listener_certificates)),
            ((elb, "RemoveListenerCertificates"), write(rampart_elb::remove_listener_certificates)),
            ((elb, "DescribeSSLPolicies"), read(rampart_elb::describe_ssl_policies)),
            (
                (elb, "ModifyListener"),
                prepared(
                    |ctx, i| rampart_elb::prepare_listener_certificates(ctx, i, iam::server_certificate_exists),
                    rampart_elb::modify_listener,
                ),
            ),
            ((elb, "ModifyListenerAttributes"), write(rampart_elb::modify_listener_attributes)),
            ((elb, "ModifyLoadBalancerAttributes"), write(rampart_elb::modify_load_balancer_attributes)),
            ((elb, "ModifyTargetGroup"), write(rampart_elb::modify_target_group)),
            ((elb, "ModifyTargetGroupAttributes"), write(rampart_elb::modify_target_group_attributes)),
            ((elb, "RegisterTargets"), write(rampart_elb::register_targets)),
            ((elb, "RemoveTags"), write(rampart_elb::remove_tags)),
        ]);
        let gd = gd_shapes::SERVICE.endpoint_prefix;
        handlers.extend([
            ((gd, "ArchiveFindings"), write(rampart_guardduty::archive_findings)),
            ((gd, "CreateDetector"), write(rampart_guardduty::create_detector)),
            (
                (gd, "CreateMalwareProtectionPlan"),
                prepared(
                    |ctx, i| {
                        rampart_guardduty::malware::prepare_create_malware_protection_plan(
                            ctx,
                            i,
                            iam::service_role_may,
                        )
                    },
                    rampart_guardduty::malware::create_malware_protection_plan,
                ),
            ),
            ((gd, "GetMalwareProtectionPlan"), read(rampart_guardduty::malware::get_malware_protection_plan)),
            (
                (gd, "UpdateMalwareProtectionPlan"),
                prepared(
                    |ctx, i| {
                        rampart_guardduty::malware::prepare_update_malware_protection_plan(
                            ctx,
                            i,
                            iam::service_role_may,
                        )
                    },
                    rampart_guardduty::malware::update_malware_protection_plan,
                ),
            ),
            ((gd, "DeleteMalwareProtectionPlan"), write(rampart_guardduty::malware::delete_malware_protection_plan)),
            ((gd, "ListMalwareProtectionPlans"), read(rampart_guardduty::malware::list_malware_protection_plans)),
            (
                (gd, "SendObjectMalwareScan"),
                prepared(
                    rampart_guardduty::malware::prepare_object_malware_scan,
                    rampart_guardduty::malware::send_object_malware_scan,
                ),
            ),
            ((gd, "ListMalwareScans"), read(rampart_guardduty::malware::list_malware_scans)),
            ((gd, "GetMalwareScan"), read(rampart_guardduty::malware::get_malware_scan)),
            ((gd, "StartMalwareScan"), write(rampart_guardduty::malware::start_malware_scan)),
            ((gd, "DescribeMalwareScans"), read(rampart_guardduty::malware::describe_malware_scans)),
            ((gd, "GetMalwareScanSettings"), read(rampart_guardduty::malware::get_malware_scan_settings)),
            ((gd, "UpdateMalwareScanSettings"), write(rampart_guardduty::malware::update_malware_scan_settings)),
            ((gd, "CreateFilter"), write(rampart_guardduty::create_filter)),
            ((gd, "CreateIPSet"), write(rampart_guardduty::create_ip_set)),
            ((gd, "CreatePublishingDestination"), write(rampart_guardduty::create_publishing_destination)),
            ((gd, "DeletePublishingDestination"), write(rampart_guardduty::delete_publishing_destination)),
            ((gd, "DescribePublishingDestination"), read(rampart_guardduty::describe_publishing_destination)),
            ((gd, "ListPublishingDestinations"), read(rampart_guardduty::list_publishing_destinations)),
            ((gd, "UpdatePublishingDestination"), write(rampart_guardduty::update_publishing_destination)),
            ((gd, "CreateSampleFindings"), write(rampart_guardduty::create_sample_findings)),
            ((gd, "CreateThreatIntelSet"), write(rampart_guardduty::create_threat_intel_set)),
            ((gd, "DeleteDetector"), write(rampart_guardduty::delete_detector)),
            ((gd, "DeleteFilter"), write(rampart_guardduty::delete_filter)),
            ((gd, "DeleteIPSet"), write(rampart_guardduty::delete_ip_set)),
            ((gd, "DeleteThreatIntelSet"), write(rampart_guardduty::delete_threat_intel_set)),
            ((gd, "GetDetector"), read(rampart_guardduty::get_detector)),
            ((gd, "GetFilter"), read(rampart_guardduty::get_filter)),
            ((gd, "GetFindings"), read(rampart_guardduty::get_findings)),
            ((gd, "GetFindingsStatistics"), read(rampart_guardduty::get_findings_statistics)),
            ((gd, "GetIPSet"), read(rampart_guardduty::get_ip_set)),
            ((gd, "GetThreatIntelSet"), read(rampart_guardduty::get_threat_intel_set)),
            ((gd, "GetUsageStatistics"), read(rampart_guardduty::get_usage_statistics)),
            ((gd, "ListDetectors"), read(rampart_guardduty::list_detectors)),
            ((gd, "ListFilters"), read(rampart_guardduty::list_filters)),
            ((gd, "ListFindings"), read(rampart_guardduty::list_findings)),
            ((gd, "ListIPSets"), read(rampart_guardduty::list_ip_sets)),
            ((gd, "ListTagsForResource"), read(rampart_guardduty::list_tags_for_resource)),
            ((gd, "ListThreatIntelSets"), read(rampart_guardduty::list_threat_intel_sets)),
            ((gd, "TagResource"), write(rampart_guardduty::tag_resource)),
            ((gd, "UnarchiveFindings"), write(rampart_guardduty::unarchive_findings)),
            ((gd, "UntagResource"), write(rampart_guardduty::untag_resource)),
            ((gd, "UpdateDetector"), write(rampart_guardduty::update_detector)),
            ((gd, "UpdateFilter"), write(rampart_guardduty::update_filter)),
            ((gd, "UpdateFindingsFeedback"), write(rampart_guardduty::update_findings_feedback)),
            ((gd, "UpdateIPSet"), write(rampart_guardduty::update_ip_set)),
            ((gd, "UpdateThreatIntelSet"), write(rampart_guardduty::update_threat_intel_set)),
            ((gd, "GetRemainingFreeTrialDays"), read(rampart_guardduty::get_remaining_free_trial_days)),
            ((gd, "ListCoverage"), read(rampart_guardduty::list_coverage)),
            ((gd, "GetCoverageStatistics"), read(rampart_guardduty::get_coverage_statistics)),
            ((gd, "CreateThreatEntitySet"), write(rampart_guardduty::create_threat_entity_set)),
            ((gd, "CreateTrustedEntitySet"), write(rampart_guardduty::create_trusted_entity_set)),
            ((gd, "DeleteThreatEntitySet"), write(rampart_guardduty::delete_threat_entity_set)),
            ((gd, "DeleteTrustedEntitySet"), write(rampart_guardduty::delete_trusted_entity_set)),
            ((gd, "GetThreatEntitySet"), read(rampart_guardduty::get_threat_entity_set)),
            ((gd, "GetTrustedEntitySet"), read(rampart_guardduty::get_trusted_entity_set)),
            ((gd, "ListThreatEntitySets"), read(rampart_guardduty::list_threat_entity_sets)),
            ((gd, "ListTrustedEntitySets"), read(rampart_guardduty::list_trusted_entity_sets)),
            ((gd, "UpdateThreatEntitySet"), write(rampart_guardduty::update_threat_entity_set)),
            ((gd, "UpdateTrustedEntitySet"), write(rampart_guardduty::update_trusted_entity_set)),
            ((gd, "AcceptAdministratorInvitation"), write(rampart_guardduty::accept_administrator_invitation)),
            ((gd, "AcceptInvitation"), write(rampart_guardduty::accept_invitation)),
            ((gd, "CreateMembers"), write(rampart_guardduty::create_members)),
            ((gd, "DeclineInvitations"), write(rampart_guardduty::decline_invitations)),
            ((gd, "DeleteInvitations"), write(rampart_guardduty::delete_invitations)),
            ((gd, "DeleteMembers"), write(rampart_guardduty::delete_members)),
            ((gd, "DescribeOrganizationConfiguration"), read(rampart_guardduty::describe_organization_configuration)),
            ((gd, "DisableOrganizationAdminAccount"), write(rampart_guardduty::disable_organization_admin_account)),
            (
                (gd, "DisassociateFromAdministratorAccount"),
                write(rampart_guardduty::disassociate_from_administrator_account),
            ),
            ((gd, "DisassociateFromMasterAccount"), write(rampart_guardduty::disassociate_from_master_account)),
            ((gd, "DisassociateMembers"), write(rampart_guardduty::disassociate_members)),
            ((gd, "EnableOrganizationAdminAccount"), write(rampart_guardduty::enable_organization_admin_account)),
            ((gd, "GetAdministratorAccount"), read(rampart_guardduty::get_administrator_account)),
            ((gd, "GetInvitationsCount"), read(rampart_guardduty::get_invitations_count)),
            ((gd, "GetMasterAccount"), read(rampart_guardduty::get_master_account)),
            ((gd, "GetMemberDetectors"), read(rampart_guardduty::get_member_detectors)),
            ((gd, "GetMembers"), read(rampart_guardduty::get_members)),
            ((gd, "GetOrganizationStatistics"), read(rampart_guardduty::get_organization_statistics)),
            ((gd, "InviteMembers"), write(rampart_guardduty::invite_members)),
            ((gd, "ListInvitations"), read(rampart_guardduty::list_invitations)),
            ((gd, "ListMembers"), read(rampart_guardduty::list_members)),
            ((gd, "ListOrganizationAdminAccounts"), read(rampart_guardduty::list_organization_admin_accounts)),
            ((gd, "StartMonitoringMembers"), write(rampart_guardduty::start_monitoring_members)),
            ((gd, "StopMonitoringMembers"), write(rampart_guardduty::stop_monitoring_members)),
            ((gd, "UpdateMemberDetectors"), write(rampart_guardduty::update_member_detectors)),
            ((gd, "UpdateOrganizationConfiguration"), write(rampart_guardduty::update_organization_configuration)),
        ]);
        let shield = shield_shapes::SERVICE.endpoint_prefix;
        handlers.extend([
            ((shield, "AssociateDRTLogBucket"), write(rampart_shield::associate_drt_log_bucket)),
            ((shield, "AssociateDRTRole"), write(rampart_shield::associate_drt_role)),
            ((shield, "AssociateHealthCheck"), write(rampart_shield::associate_health_check)),
            (
                (shield, "AssociateProactiveEngagementDetails"),
                write(rampart_shield::associate_proactive_engagement_details),
            ),
            ((shield, "CreateProtection"), write(rampart_shield::create_protection)),
            ((shield, "CreateProtectionGroup"), write(rampart_shield::create_protection_group)),
            ((shield, "CreateSubscription"), write(rampart_shield::create_subscription)),
            ((shield, "DeleteProtection"), write(rampart_shield::delete_protection)),
            ((shield, "DeleteProtectionGroup"), write(rampart_shield::delete_protection_group)),
            ((shield, "DeleteSubscription"), write(rampart_shield::delete_subscription)),
            ((shield, "DescribeAttack"), read(rampart_shield::describe_attack)),
            ((shield, "DescribeAttackStatistics"), read(rampart_shield::describe_attack_statistics)),
            ((shield, "DescribeDRTAccess"), read(rampart_shield::describe_drt_access)),
            ((shield, "DescribeEmergencyContactSettings"), read(rampart_shield::describe_emergency_contact_settings)),
            ((shield, "DescribeProtection"), read(rampart_shield::describe_protection)),
            ((shield, "DescribeProtectionGroup"), read(rampart_shield::describe_protection_group)),
            ((shield, "DescribeSubscription"), read(rampart_shield::describe_subscription)),
            (
                (shield, "DisableApplicationLayerAutomaticResponse"),
                write(rampart_shield::disable_application_layer_automatic_response),
            ),
            ((shield, "DisableProactiveEngagement"), write(rampart_shield::disable_proactive_engagement)),
            ((shield, "DisassociateDRTLogBucket"), write(rampart_shield::disassociate_drt_log_bucket)),
            ((shield, "DisassociateDRTRole"), write(rampart_shield::disassociate_drt_role)),
            ((shield, "DisassociateHealthCheck"), write(rampart_shield::disassociate_health_check)),
            (
                (shield, "EnableApplicationLayerAutomaticResponse"),
                write(rampart_shield::enable_application_layer_automatic_response),
            ),
            ((shield, "EnableProactiveEngagement"), write(rampart_shield::enable_proactive_engagement)),
            ((shield, "GetSubscriptionState"), read(rampart_shield::get_subscription_state)),
            ((shield, "ListAttacks"), read(rampart_shield::list_attacks)),
            ((shield, "ListProtectionGroups"), read(rampart_shield::list_protection_groups)),
            ((shield, "ListProtections"), read(rampart_shield::list_protections)),
            ((shield, "ListResourcesInProtectionGroup"), read(rampart_shield::list_resources_in_protection_group)),
            ((shield, "ListTagsForResource"), read(rampart_shield::list_tags_for_resource)),
            ((shield, "TagResource"), write(rampart_shield::tag_resource)),
            ((shield, "UntagResource"), write(rampart_shield::untag_resource)),
            (
                (shield, "UpdateApplicationLayerAutomaticResponse"),
                write(rampart_shield::update_application_layer_automatic_response),
            ),
            ((shield, "UpdateEmergencyContactSettings"), write(rampart_shield::update_emergency_contact_settings)),
            ((shield, "UpdateProtectionGroup"), write(rampart_shield::update_protection_group)),
            ((shield, "UpdateSubscription"), write(rampart_shield::update_subscription)),
        ]);
        let waf = waf_shapes::SERVICE.endpoint_prefix;
        handlers.extend([
            ((waf, "CheckCapacity"), read(rampart_waf::check_capacity)),
            ((waf, "GetTopPathStatisticsByTraffic"), read(rampart_waf::get_top_path_statistics_by_traffic)),
            ((waf, "CreateAPIKey"), write(rampart_waf::create_api_key)),
            ((waf, "DeleteAPIKey"), write(rampart_waf::delete_api_key)),
            ((waf, "DeleteFirewallManagerRuleGroups"), write(rampart_waf::delete_firewall_manager_rule_groups)),
            ((waf, "DeletePermissionPolicy"), write(rampart_waf::delete_permission_policy)),
            ((waf, "DescribeAllManagedProducts"), read(rampart_waf::describe_all_managed_products)),
            ((waf, "DescribeManagedProductsByVendor"), read(rampart_waf::describe_managed_products_by_vendor)),
            ((waf, "GenerateMobileSdkReleaseUrl"), read(rampart_waf::generate_mobile_sdk_release_url)),
            ((waf, "GetDecryptedAPIKey"), read(rampart_waf::get_decrypted_api_key)),
            ((waf, "GetManagedRuleSet"), read(rampart_waf::get_managed_rule_set)),
            ((waf, "GetMobileSdkRelease"), read(rampart_waf::get_mobile_sdk_release)),
            ((waf, "GetPermissionPolicy"), read(rampart_waf::get_permission_policy)),
            ((waf, "GetRateBasedStatementManagedKeys"), read(rampart_waf::get_rate_based_statement_managed_keys)),
            ((waf, "ListAPIKeys"), read(rampart_waf::list_api_keys)),
            ((waf, "ListManagedRuleSets"), read(rampart_waf::list_managed_rule_sets)),
            ((waf, "ListMobileSdkReleases"), read(rampart_waf::list_mobile_sdk_releases)),
            ((waf, "PutManagedRuleSetVersions"), write(rampart_waf::put_managed_rule_set_versions)),
            ((waf, "PutPermissionPolicy"), write(rampart_waf::put_permission_policy)),
            (
                (waf, "UpdateManagedRuleSetVersionExpiryDate"),
                write(rampart_waf::update_managed_rule_set_version_expiry_date),
            ),
            ((waf, "PutLoggingConfiguration"), write(rampart_waf::put_logging_configuration)),
            ((waf, "GetLoggingConfiguration"), read(rampart_waf::get_logging_configuration)),
            ((waf, "DeleteLoggingConfiguration"), write(rampart_waf::delete_logging_configuration)),
            ((waf, "ListLoggingConfigurations"), read(rampart_waf::list_logging_configurations)),
            ((waf, "GetSampledRequests"), read(rampart_waf::get_sampled_requests)),
            ((waf, "ListAvailableManagedRuleGroups"), read(rampart_waf::list_available_managed_rule_groups)),
            (
                (waf, "ListAvailableManagedRuleGroupVersions"),
                read(rampart_waf::list_available_managed_rule_group_versions),
            ),
            ((waf, "DescribeManagedRuleGroup"), read(rampart_waf::describe_managed_rule_group)),
            ((waf, "AssociateWebACL"), write(rampart_waf::associate_web_acl)),
            ((waf, "DisassociateWebACL"), write(rampart_waf::disassociate_web_acl)),
            ((waf, "GetWebACLForResource"), read(rampart_waf::get_web_acl_for_resource)),
            ((waf, "ListResourcesForWebACL"), read(rampart_waf::list_resources_for_web_acl)),
            ((waf, "CreateIPSet"), write(rampart_waf::create_ip_set)),
            ((waf, "GetIPSet"), read(rampart_waf::get_ip_set)),
            ((waf, "UpdateIPSet"), write(rampart_waf::update_ip_set)),
            ((waf, "DeleteIPSet"), write(rampart_waf::delete_ip_set)),
            ((waf, "ListIPSets"), read(rampart_waf::list_ip_sets)),
            ((waf, "CreateRegexPatternSet"), write(rampart_waf::create_regex_pattern_set)),
            ((waf, "GetRegexPatternSet"), read(rampart_waf::get_regex_pattern_set)),
            ((waf, "UpdateRegexPatternSet"), write(rampart_waf::update_regex_pattern_set)),
            ((waf, "DeleteRegexPatternSet"), write(rampart_waf::delete_regex_pattern_set)),
            ((waf, "ListRegexPatternSets"), read(rampart_waf::list_regex_pattern_sets)),
            ((waf, "CreateRuleGroup"), write(rampart_waf::create_rule_group)),
            ((waf, "GetRuleGroup"), read(rampart_waf::get_rule_group)),
            ((waf, "UpdateRuleGroup"), write(rampart_waf::update_rule_group)),
            ((waf, "DeleteRuleGroup"), write(rampart_waf::delete_rule_group)),
            ((waf, "ListRuleGroups"), read(rampart_waf::list_rule_groups)),
            ((waf, "CreateWebACL"), write(rampart_waf::create_web_acl)),
            ((waf, "GetWebACL"), read(rampart_waf::get_web_acl)),
            ((waf, "UpdateWebACL"), write(rampart_waf::update_web_acl)),
            ((waf, "DeleteWebACL"), write(rampart_waf::delete_web_acl)),
            ((waf, "ListWebACLs"), read(rampart_waf::list_web_acls)),
            ((waf, "TagResource"), write(rampart_waf::tag_resource)),
            ((waf, "UntagResource"), write(rampart_waf::untag_resource)),
            ((waf, "ListTagsForResource"), read(rampart_waf::list_tags_for_resource)),
        ]);
        // Bucket sub-resources kept as written, handled by the model's shapes (no Rust types).
        for sub in rampart_s3::subresources::SUBRESOURCES {
            let (put, get) = (sub.put, sub.get);
            handlers.insert(
                (s3, put),
                Handler::Write(Arc::new(move |tx, ctx, v| rampart_s3::subresources::put(tx, ctx, put, v))),
            );
            handlers
                .insert((s3, get), Handler::Read(Box::new(move |ctx, v| rampart_s3::subresources::get(ctx, get, v))));
            if let Some(delete) = sub.delete {
                handlers.insert(
                    (s3, delete),
                    Handler::Write(Arc::new(move |tx, ctx, v| rampart_s3::subresources::delete(tx, ctx, delete, v))),
                );
            }
        }
        Self { handlers }
    }

    /// The services with at least one operation served (endpoint prefixes), sorted, each with
    /// how many of its operations are served.
    pub fn served(&self) -> Vec<(&'static str, usize)> {
        let mut counts = std::collections::BTreeMap::new();
        for (service, _) in self.handlers.keys() {
            *counts.entry(*service).or_insert(0) += 1;
        }
        counts.into_iter().collect()
    }

    pub fn get(&self, service: &'static str, operation: &'static str) -> Option<&Handler> {
        self.handlers.get(&(service, operation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every served operation declares its action, resources and keys in the one table.
    #[test]
    fn every_served_operation_has_a_row_in_the_action_table() {
        let d = Dispatch::new();
        let missing: Vec<_> =
            d.handlers.keys().filter(|(service, op)| crate::services::action(service, op).is_none()).collect();
        assert!(missing.is_empty(), "operations without an action-table row: {missing:?}");
    }

    /// Every served operation's shapes have Rust types (`xtask/typed-operations.txt`), and no
    /// operation has types it does not need.
    #[test]
    fn the_typed_operations_are_the_served_ones() {
        let d = Dispatch::new();
        let typed = |service: &str| -> &'static [&'static str] {
            match service {
                "iam" => iam_shapes::TYPED_OPERATIONS,
                "sts" => sts_shapes::TYPED_OPERATIONS,
                "s3" => s3_shapes::TYPED_OPERATIONS,
                "s3-control" => s3control_shapes::TYPED_OPERATIONS,
                "cloudtrail" => cloudtrail_shapes::TYPED_OPERATIONS,
                "organizations" => org_shapes::TYPED_OPERATIONS,
                "kms" => kms_shapes::TYPED_OPERATIONS,
                "wafv2" => waf_shapes::TYPED_OPERATIONS,
                "elasticloadbalancing" => elb_shapes::TYPED_OPERATIONS,
                "shield" => shield_shapes::TYPED_OPERATIONS,
                "guardduty" => gd_shapes::TYPED_OPERATIONS,
                _ => &[],
            }
        };
        // The kept bucket sub-resources are served by the model's shapes, by design.
        let by_shape = |s: &str, op: &str| s == "s3" && rampart_s3::subresources::operations().any(|o| o == op);
        let untyped: Vec<_> = d.handlers.keys().filter(|(s, op)| !typed(s).contains(op) && !by_shape(s, op)).collect();
        assert!(untyped.is_empty(), "served operations missing from xtask/typed-operations.txt: {untyped:?}");
        // The two STS operations served without a signature are run outside the table.
        let unneeded: Vec<_> = [
            "iam",
            "sts",
            "s3",
            "s3-control",
            "cloudtrail",
            "organizations",
            "kms",
            "wafv2",
            "elasticloadbalancing",
            "shield",
            "guardduty",
        ]
        .into_iter()
        .flat_map(|s| typed(s).iter().map(move |op| (s, *op)))
        .filter(|(s, op)| !d.handlers.contains_key(&(*s, *op)))
        .filter(|(_, op)| !matches!(*op, "AssumeRoleWithSAML" | "AssumeRoleWithWebIdentity"))
        .collect();
        assert!(unneeded.is_empty(), "typed but not served: {unneeded:?}");
    }
}
