//! IAM's operations that need AWS Organizations (centralized root access). Until Rampart serves
//! Organizations every account stands outside one, and these answer as IAM answers such an
//! account.
//! See <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user.html#id_root-user-access-management>.

use rampart_core::{Ctx, ServiceError};

/// The answer of every operation here: the account belongs to no organization.
pub fn no_organization<I, O>(_ctx: &Ctx<'_>, _input: I) -> Result<O, ServiceError> {
    Err(ServiceError::new(
        "OrganizationNotFoundException",
        400,
        "The request was rejected because no organization is associated with your account.",
    ))
}
