//! Custom key stores (CloudHSM clusters and external key managers): Rampart keeps every key's
//! material itself, so an account has none, and each operation answers as AWS answers an account
//! without any.
//! See <https://docs.aws.amazon.com/kms/latest/developerguide/key-store-overview.html>.

use rampart_core::{Ctx, ServiceError, TxCtx};
use rampart_shapes::generated::kms as shapes;
use rampart_store::Tx;

fn not_found() -> ServiceError {
    ServiceError::new(
        "CustomKeyStoreNotFoundException",
        400,
        "The request was rejected because KMS cannot find a custom key store with the specified key store name or ID.",
    )
}

pub fn describe_custom_key_stores(
    _ctx: &Ctx<'_>,
    input: shapes::DescribeCustomKeyStoresRequest,
) -> Result<shapes::DescribeCustomKeyStoresResponse, ServiceError> {
    if input.custom_key_store_id.is_some() || input.custom_key_store_name.is_some() {
        return Err(not_found());
    }
    Ok(shapes::DescribeCustomKeyStoresResponse {
        custom_key_stores: Some(Vec::new()),
        next_marker: None,
        truncated: Some(false),
    })
}

/// No CloudHSM cluster exists to back a key store, and no external key store proxy is reached.
pub fn create_custom_key_store(
    _tx: &mut Tx<'_>,
    _ctx: &TxCtx<'_>,
    input: shapes::CreateCustomKeyStoreRequest,
) -> Result<shapes::CreateCustomKeyStoreResponse, ServiceError> {
    if input.custom_key_store_type.as_deref() == Some("EXTERNAL_KEY_STORE") {
        return Err(ServiceError::new(
            "XksProxyUriUnreachableException",
            400,
            "KMS was unable to reach the specified XksProxyUriPath: Rampart does not connect to external key store \
             proxies.",
        ));
    }
    Err(ServiceError::new(
        "CloudHsmClusterNotFoundException",
        400,
        "The request was rejected because KMS cannot find the CloudHSM cluster with the specified cluster ID.",
    ))
}

pub fn connect_custom_key_store(
    _tx: &mut Tx<'_>,
    _ctx: &TxCtx<'_>,
    _input: shapes::ConnectCustomKeyStoreRequest,
) -> Result<shapes::ConnectCustomKeyStoreResponse, ServiceError> {
    Err(not_found())
}

pub fn disconnect_custom_key_store(
    _tx: &mut Tx<'_>,
    _ctx: &TxCtx<'_>,
    _input: shapes::DisconnectCustomKeyStoreRequest,
) -> Result<shapes::DisconnectCustomKeyStoreResponse, ServiceError> {
    Err(not_found())
}

pub fn delete_custom_key_store(
    _tx: &mut Tx<'_>,
    _ctx: &TxCtx<'_>,
    _input: shapes::DeleteCustomKeyStoreRequest,
) -> Result<shapes::DeleteCustomKeyStoreResponse, ServiceError> {
    Err(not_found())
}

pub fn update_custom_key_store(
    _tx: &mut Tx<'_>,
    _ctx: &TxCtx<'_>,
    _input: shapes::UpdateCustomKeyStoreRequest,
) -> Result<shapes::UpdateCustomKeyStoreResponse, ServiceError> {
    Err(not_found())
}
