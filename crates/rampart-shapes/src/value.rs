//! The protocol-neutral value tree that wire codecs produce and consume, and typed conversions.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::schema::Shape;

/// A decoded value, shaped by the schema that produced it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Integer(i64),
    Float(f64),
    String(String),
    Timestamp(OffsetDateTime),
    Blob(Vec<u8>),
    List(Vec<Value>),
    Map(Vec<(String, Value)>),
    /// Members in the order of the structure's schema; `None` for absent members.
    Struct(Vec<Option<Value>>),
}

/// A value did not have the kind its Rust type expects; a codegen or codec bug, never user input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("shape mismatch: expected {expected}")]
pub struct ShapeError {
    pub expected: &'static str,
}

fn mismatch<T>(expected: &'static str) -> Result<T, ShapeError> {
    Err(ShapeError { expected })
}

/// Binary data (`blob` shapes).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Blob(pub Vec<u8>);

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Blob({} bytes)", self.0.len())
    }
}

/// Types generated for a named model shape.
pub trait HasShape {
    const SHAPE: &'static Shape;
}

pub trait FromValue: Sized {
    fn from_value(v: Value) -> Result<Self, ShapeError>;
}

pub trait IntoValue {
    fn into_value(self) -> Value;
}

/// Converts a present member, failing when a required member is absent.
pub fn required<T: FromValue>(v: Option<Option<Value>>) -> Result<T, ShapeError> {
    match v.flatten() {
        Some(v) => T::from_value(v),
        None => mismatch("a required member"),
    }
}

/// Converts an optional member.
pub fn optional<T: FromValue>(v: Option<Option<Value>>) -> Result<Option<T>, ShapeError> {
    v.flatten().map(T::from_value).transpose()
}

impl Value {
    /// A present member of a structure value, by model name, with its shape.
    pub fn field(&self, shape: &'static Shape, name: &str) -> Option<(&'static Shape, &Value)> {
        let (crate::Kind::Structure(st), Value::Struct(fields)) = (&shape.kind, self) else { return None };
        let i = st.member_index(name)?;
        Some((st.members.get(i)?.shape, fields.get(i)?.as_ref()?))
    }

    /// A present string member of a structure value, by model name.
    pub fn string_field(&self, shape: &'static Shape, name: &str) -> Option<&str> {
        match self.field(shape, name)? {
            (_, Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// The members of a structure value, checked against the schema's member count.
    pub fn into_struct(self, members: usize) -> Result<Vec<Option<Value>>, ShapeError> {
        match self {
            Value::Struct(fields) if fields.len() == members => Ok(fields),
            _ => mismatch("a structure"),
        }
    }
}

/// Operations whose model has no input shape take `()`.
impl FromValue for () {
    fn from_value(v: Value) -> Result<Self, ShapeError> {
        match v {
            Value::Struct(fields) if fields.is_empty() => Ok(()),
            _ => mismatch("no input"),
        }
    }
}

impl IntoValue for () {
    fn into_value(self) -> Value {
        Value::Struct(Vec::new())
    }
}

impl FromValue for String {
    fn from_value(v: Value) -> Result<Self, ShapeError> {
        match v {
            Value::String(s) => Ok(s),
            _ => mismatch("a string"),
        }
    }
}
impl IntoValue for String {
    fn into_value(self) -> Value {
        Value::String(self)
    }
}

impl FromValue for bool {
    fn from_value(v: Value) -> Result<Self, ShapeError> {
        match v {
            Value::Bool(b) => Ok(b),
            _ => mismatch("a boolean"),
        }
    }
}
impl IntoValue for bool {
    fn into_value(self) -> Value {
        Value::Bool(self)
    }
}

impl FromValue for i32 {
    fn from_value(v: Value) -> Result<Self, ShapeError> {
        match v {
            Value::Integer(i) => i32::try_from(i).or_else(|_| mismatch("a 32-bit integer")),
            _ => mismatch("an integer"),
        }
    }
}
impl IntoValue for i32 {
    fn into_value(self) -> Value {
        Value::Integer(i64::from(self))
    }
}

impl FromValue for i64 {
    fn from_value(v: Value) -> Result<Self, ShapeError> {
        match v {
            Value::Integer(i) => Ok(i),
            _ => mismatch("an integer"),
        }
    }
}
impl IntoValue for i64 {
    fn into_value(self) -> Value {
        Value::Integer(self)
    }
}

impl FromValue for f64 {
    fn from_value(v: Value) -> Result<Self, ShapeError> {
        match v {
            Value::Float(f) => Ok(f),
            #[expect(clippy::cast_precision_loss, reason = "model numbers fit a double")]
            Value::Integer(i) => Ok(i as f64),
            _ => mismatch("a number"),
        }
    }
}
impl IntoValue for f64 {
    fn into_value(self) -> Value {
        Value::Float(self)
    }
}

impl FromValue for OffsetDateTime {
    fn from_value(v: Value) -> Result<Self, ShapeError> {
        match v {
            Value::Timestamp(t) => Ok(t),
            _ => mismatch("a timestamp"),
        }
    }
}
impl IntoValue for OffsetDateTime {
    fn into_value(self) -> Value {
        Value::Timestamp(self)
    }
}

impl FromValue for Blob {
    fn from_value(v: Value) -> Result<Self, ShapeError> {
        match v {
            Value::Blob(b) => Ok(Blob(b)),
            _ => mismatch("a blob"),
        }
    }
}
impl IntoValue for Blob {
    fn into_value(self) -> Value {
        Value::Blob(self.0)
    }
}

impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(v: Value) -> Result<Self, ShapeError> {
        match v {
            Value::List(items) => items.into_iter().map(T::from_value).collect(),
            _ => mismatch("a list"),
        }
    }
}
impl<T: IntoValue> IntoValue for Vec<T> {
    fn into_value(self) -> Value {
        Value::List(self.into_iter().map(IntoValue::into_value).collect())
    }
}

impl<T: FromValue> FromValue for BTreeMap<String, T> {
    fn from_value(v: Value) -> Result<Self, ShapeError> {
        match v {
            Value::Map(entries) => entries.into_iter().map(|(k, v)| Ok((k, T::from_value(v)?))).collect(),
            _ => mismatch("a map"),
        }
    }
}
impl<T: IntoValue> IntoValue for BTreeMap<String, T> {
    fn into_value(self) -> Value {
        Value::Map(self.into_iter().map(|(k, v)| (k, v.into_value())).collect())
    }
}
