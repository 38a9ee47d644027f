//! The bucket sub-resources Rampart keeps (CORS, which `cors` answers browsers by; website,
//! lifecycle, replication, logging, request payment, transfer acceleration, notifications, which
//! it does not act on): each is stored
//! as its owner wrote it and returned as S3 returns it, and a bucket without one answers as S3
//! answers (an error naming what is missing, or an empty or default document), so tools that read
//! every sub-resource (Terraform's `aws_s3_bucket`) work. They are handled by the model's shapes,
//! not by Rust types: one table row each.
//! See <https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html>.

use rampart_core::{Ctx, ServiceError, TxCtx, records};
use rampart_shapes::generated::s3 as shapes;
use rampart_shapes::{Kind, Shape, Value};
use rampart_store::Tx;

use crate::{bucket, bucket_key, bucket_tx};

/// How a bucket without the sub-resource answers its read.
#[derive(Debug, Clone, Copy)]
enum Absent {
    /// An error: code and message, 404.
    Error(&'static str, &'static str),
    /// This document (awsJson of the payload shape); `{}` for an empty one.
    Default(&'static str),
}

/// One kept sub-resource and its operations.
#[derive(Debug)]
pub struct SubResource {
    name: &'static str,
    pub put: &'static str,
    pub get: &'static str,
    pub delete: Option<&'static str>,
    absent: Absent,
}

pub static SUBRESOURCES: &[SubResource] = &[
    SubResource {
        name: "cors",
        put: "PutBucketCors",
        get: "GetBucketCors",
        delete: Some("DeleteBucketCors"),
        absent: Absent::Error("NoSuchCORSConfiguration", "The CORS configuration does not exist"),
    },
    SubResource {
        name: "website",
        put: "PutBucketWebsite",
        get: "GetBucketWebsite",
        delete: Some("DeleteBucketWebsite"),
        absent: Absent::Error(
            "NoSuchWebsiteConfiguration",
            "The specified bucket does not have a website configuration",
        ),
    },
    SubResource {
        name: "lifecycle",
        put: "PutBucketLifecycleConfiguration",
        get: "GetBucketLifecycleConfiguration",
        delete: Some("DeleteBucketLifecycle"),
        absent: Absent::Error("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist"),
    },
    SubResource {
        name: "replication",
        put: "PutBucketReplication",
        get: "GetBucketReplication",
        delete: Some("DeleteBucketReplication"),
        absent: Absent::Error("ReplicationConfigurationNotFoundError", "The replication configuration was not found"),
    },
    SubResource {
        name: "logging",
        put: "PutBucketLogging",
        get: "GetBucketLogging",
        delete: None,
        absent: Absent::Default("{}"),
    },
    SubResource {
        name: "requestPayment",
        put: "PutBucketRequestPayment",
        get: "GetBucketRequestPayment",
        delete: None,
        absent: Absent::Default(r#"{"Payer":"BucketOwner"}"#),
    },
    SubResource {
        name: "accelerate",
        put: "PutBucketAccelerateConfiguration",
        get: "GetBucketAccelerateConfiguration",
        delete: None,
        absent: Absent::Default("{}"),
    },
    SubResource {
        name: "notification",
        put: "PutBucketNotificationConfiguration",
        get: "GetBucketNotificationConfiguration",
        delete: None,
        absent: Absent::Default("{}"),
    },
];

/// Every operation this module serves.
pub fn operations() -> impl Iterator<Item = &'static str> {
    SUBRESOURCES.iter().flat_map(|s| [Some(s.put), Some(s.get), s.delete]).flatten()
}

fn find(operation: &str) -> Result<&'static SubResource, ServiceError> {
    SUBRESOURCES
        .iter()
        .find(|s| s.put == operation || s.get == operation || s.delete == Some(operation))
        .ok_or_else(ServiceError::internal)
}

fn members(shape: &'static Shape) -> &'static [rampart_shapes::Member] {
    match &shape.kind {
        Kind::Structure(st) => st.members,
        _ => &[],
    }
}

/// The PUT operation's payload member shape: what is stored.
fn payload_shape(sub: &SubResource) -> Result<(&'static str, &'static Shape), ServiceError> {
    let op = shapes::SERVICE.operation(sub.put).ok_or_else(ServiceError::internal)?;
    let input = op.input.ok_or_else(ServiceError::internal)?;
    let Kind::Structure(st) = &input.kind else { return Err(ServiceError::internal()) };
    let name = st.payload.ok_or_else(ServiceError::internal)?;
    let member = st.members.iter().find(|m| m.name == name).ok_or_else(ServiceError::internal)?;
    Ok((name, member.shape))
}

fn bucket_name<'v>(shape: &'static Shape, input: &'v Value) -> Result<&'v str, ServiceError> {
    input.string_field(shape, "Bucket").ok_or_else(ServiceError::internal)
}

/// Stores the payload of a PUT.
pub fn put(tx: &mut Tx<'_>, _ctx: &TxCtx<'_>, operation: &str, input: Value) -> Result<Value, ServiceError> {
    let sub = find(operation)?;
    let op = shapes::SERVICE.operation(operation).ok_or_else(ServiceError::internal)?;
    let shape = op.input.ok_or_else(ServiceError::internal)?;
    let (payload, payload_shape) = payload_shape(sub)?;
    let mut b = bucket_tx(tx, bucket_name(shape, &input)?)?;
    let (_, value) = input.field(shape, payload).ok_or_else(crate::malformed_xml)?;
    b.configs.insert(sub.name.to_owned(), rampart_wire::json::encode(value, payload_shape));
    records::write_tx(tx, &bucket_key(&b.name), &b)?;
    Ok(Value::Struct(Vec::new()))
}

/// Forgets a sub-resource.
pub fn delete(tx: &mut Tx<'_>, _ctx: &TxCtx<'_>, operation: &str, input: Value) -> Result<Value, ServiceError> {
    let sub = find(operation)?;
    let op = shapes::SERVICE.operation(operation).ok_or_else(ServiceError::internal)?;
    let shape = op.input.ok_or_else(ServiceError::internal)?;
    let mut b = bucket_tx(tx, bucket_name(shape, &input)?)?;
    b.configs.remove(sub.name);
    records::write_tx(tx, &bucket_key(&b.name), &b)?;
    Ok(Value::Struct(Vec::new()))
}

/// Answers a GET: the stored document in the output's shape (as the output's payload member when
/// it has one of the stored shape, else member by member), or what a bucket without it answers.
pub fn get(ctx: &Ctx<'_>, operation: &str, input: Value) -> Result<Value, ServiceError> {
    let sub = find(operation)?;
    let op = shapes::SERVICE.operation(operation).ok_or_else(ServiceError::internal)?;
    let shape = op.input.ok_or_else(ServiceError::internal)?;
    let output = op.output.ok_or_else(ServiceError::internal)?;
    let (_, payload_shape) = payload_shape(sub)?;
    let b = bucket(ctx.db, bucket_name(shape, &input)?)?;
    let text = match (b.configs.get(sub.name), sub.absent) {
        (Some(t), _) => t.as_str(),
        (None, Absent::Default(d)) => d,
        (None, Absent::Error(code, message)) => return Err(ServiceError::new(code, 404, message)),
    };
    let stored =
        rampart_wire::json::decode_input(text.as_bytes(), payload_shape).map_err(|_| ServiceError::internal())?;
    let out_members = members(output);
    if let Some(i) = out_members.iter().position(|m| std::ptr::eq(m.shape, payload_shape)) {
        let mut fields = vec![None; out_members.len()];
        if let Some(f) = fields.get_mut(i) {
            *f = Some(stored);
        }
        return Ok(Value::Struct(fields));
    }
    let Value::Struct(stored_fields) = stored else { return Err(ServiceError::internal()) };
    let stored_members = members(payload_shape);
    let fields = out_members
        .iter()
        .map(|m| {
            let i = stored_members.iter().position(|s| s.name == m.name)?;
            stored_fields.get(i).cloned().flatten()
        })
        .collect();
    Ok(Value::Struct(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_names_operations_of_the_model() {
        for op in operations() {
            assert!(shapes::SERVICE.operation(op).is_some(), "{op}");
        }
        for sub in SUBRESOURCES {
            let (_, shape) = payload_shape(sub).expect("a payload");
            if let Absent::Default(d) = sub.absent {
                assert!(rampart_wire::json::decode_input(d.as_bytes(), shape).is_ok(), "{}", sub.name);
            }
        }
    }
}
