//! AWS request and response shapes generated from botocore's service models, and the schema they follow.
//!
//! Each service module in `generated/` holds plain Rust types for the model's structures, a static
//! [`Shape`] for every shape (names, wire names, constraints, sensitivity), and conversions between the
//! typed structs and the protocol-neutral [`Value`] tree. The wire codecs in `rampart-wire` walk the
//! schema, so a new service needs only `cargo xtask codegen`.

pub mod catalog;
mod schema;
mod validate;
mod value;

pub mod generated;

pub use schema::{
    ErrorInfo, Kind, ListShape, Location, MapShape, Member, Operation, Pattern, Protocol, Range, Service, Shape,
    StringRules, StructShape, TimestampFormat,
};
pub use validate::{Invalid, ValidationFailure, validate};
pub use value::{Blob, FromValue, HasShape, IntoValue, ShapeError, Value, optional, required};

/// Every service whose shapes are generated, for lookup by the server.
pub fn services() -> &'static [&'static Service] {
    generated::SERVICES
}
