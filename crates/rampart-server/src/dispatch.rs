//! The operations Rampart serves: `(service, operation)` → handler, typed at the edges.

use std::collections::HashMap;

use rampart_services::{Ctx, ServiceError, sts};
use rampart_shapes::generated::sts as sts_shapes;
use rampart_shapes::{FromValue, IntoValue, Value};

type ReadFn = Box<dyn Fn(&Ctx<'_>, Value) -> Result<Value, ServiceError> + Send + Sync>;

/// How an operation runs.
pub enum Handler {
    /// Reads state only; its audit event is queued with the next group commit.
    Read(ReadFn),
}

fn read<I: FromValue + 'static, O: IntoValue + 'static>(f: fn(&Ctx<'_>, I) -> Result<O, ServiceError>) -> Handler {
    Handler::Read(Box::new(move |ctx, v| {
        let input = I::from_value(v).map_err(|e| {
            tracing::error!(request_id = ctx.request_id, error = %e, "decoded input does not fit its type");
            ServiceError::internal()
        })?;
        f(ctx, input).map(IntoValue::into_value)
    }))
}

/// Every served operation, by service endpoint prefix and operation name.
pub struct Dispatch {
    handlers: HashMap<(&'static str, &'static str), Handler>,
}

impl Dispatch {
    pub fn new() -> Self {
        let mut handlers = HashMap::new();
        handlers.insert((sts_shapes::SERVICE.endpoint_prefix, "GetCallerIdentity"), read(sts::get_caller_identity));
        Self { handlers }
    }

    pub fn get(&self, service: &'static str, operation: &'static str) -> Option<&Handler> {
        self.handlers.get(&(service, operation))
    }
}
