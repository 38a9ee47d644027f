//! The static schema of a service model: services, operations, shapes and members.

use std::sync::OnceLock;

/// The wire protocol a service speaks, from the model's `metadata.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `query`: form-encoded input with `Action` and `Version`, XML output.
    Query,
    /// `json`: `X-Amz-Target` dispatch, JSON in and out.
    Json,
    /// `rest-json`: HTTP method and URI templates, JSON bodies.
    RestJson,
    /// `rest-xml`: HTTP method and URI templates, XML bodies.
    RestXml,
}

/// One AWS service as its model describes it.
#[derive(Debug)]
pub struct Service {
    /// The endpoint prefix, e.g. `sts`.
    pub endpoint_prefix: &'static str,
    /// The SigV4 signing name (the credential scope's service), e.g. `sts`.
    pub signing_name: &'static str,
    /// The CloudTrail event source, e.g. `sts.amazonaws.com`.
    pub event_source: &'static str,
    pub service_id: &'static str,
    pub protocol: Protocol,
    pub api_version: &'static str,
    pub xml_namespace: Option<&'static str>,
    pub target_prefix: Option<&'static str>,
    pub json_version: Option<&'static str>,
    /// Operations sorted by name.
    pub operations: &'static [Operation],
}

impl Service {
    /// Finds an operation by its exact name.
    pub fn operation(&self, name: &str) -> Option<&'static Operation> {
        self.operations.binary_search_by(|op| op.name.cmp(name)).ok().and_then(|i| self.operations.get(i))
    }
}

/// One operation of a service.
#[derive(Debug)]
pub struct Operation {
    pub name: &'static str,
    pub http_method: &'static str,
    pub request_uri: &'static str,
    /// The HTTP status of a successful response (rest protocols; 200 unless the model says).
    pub response_code: u16,
    pub input: Option<&'static Shape>,
    pub output: Option<&'static Shape>,
    /// The query protocol's `<OperationResult>` wrapper element.
    pub result_wrapper: Option<&'static str>,
    /// Whether the call changes no state (CloudTrail's `readOnly`).
    pub read_only: bool,
    /// The request carries no signature (`authtype: none`): AssumeRoleWithWebIdentity and
    /// AssumeRoleWithSAML, which a token or an assertion authenticates instead.
    pub unsigned: bool,
    /// The model marks it deprecated: a request that also fits a current operation (S3's
    /// `GetBucketLifecycle` beside `GetBucketLifecycleConfiguration`) is the current one's.
    pub deprecated: bool,
}

/// A named shape with its kind and traits.
#[derive(Debug)]
pub struct Shape {
    pub name: &'static str,
    pub kind: Kind,
    /// The model marks the value as sensitive: never logged, redacted from audit events.
    pub sensitive: bool,
}

/// The kind of a shape and its constraints.
#[derive(Debug)]
pub enum Kind {
    String(StringRules),
    Integer(Range),
    Long(Range),
    Float(Range),
    Double(Range),
    Boolean,
    Timestamp(Option<TimestampFormat>),
    Blob(Range),
    List(ListShape),
    Map(MapShape),
    Structure(StructShape),
}

/// Inclusive bounds from the model's `min` and `max`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Range {
    pub min: Option<i64>,
    pub max: Option<i64>,
}

#[derive(Debug)]
pub struct StringRules {
    /// Length bounds, in characters.
    pub len: Range,
    pub pattern: Option<&'static Pattern>,
    /// Allowed values when the shape is an enum; empty otherwise.
    pub enum_values: &'static [&'static str],
}

#[derive(Debug)]
pub struct ListShape {
    pub member: &'static Shape,
    /// The member element's `locationName` (`member` when absent).
    pub member_name: Option<&'static str>,
    pub flattened: bool,
    pub len: Range,
}

#[derive(Debug)]
pub struct MapShape {
    pub key: &'static Shape,
    pub value: &'static Shape,
    pub key_name: Option<&'static str>,
    pub value_name: Option<&'static str>,
    pub flattened: bool,
    pub len: Range,
}

#[derive(Debug)]
pub struct StructShape {
    pub members: &'static [Member],
    /// Present on exception shapes.
    pub error: Option<ErrorInfo>,
    /// The member that is the whole HTTP body (rest protocols), if one is.
    pub payload: Option<&'static str>,
}

impl StructShape {
    /// Finds a member by its model name.
    pub fn member_index(&self, name: &str) -> Option<usize> {
        self.members.iter().position(|m| m.name == name)
    }
}

/// The `error` trait of an exception shape.
#[derive(Debug, Clone, Copy)]
pub struct ErrorInfo {
    pub code: &'static str,
    pub http_status: u16,
    pub sender_fault: bool,
}

/// A structure member.
#[derive(Debug)]
pub struct Member {
    /// The model's member name, e.g. `RoleSessionName`.
    pub name: &'static str,
    pub shape: &'static Shape,
    /// The wire name when it differs from `name`.
    pub location_name: Option<&'static str>,
    pub required: bool,
    pub location: Location,
    pub flattened: bool,
    pub xml_attribute: bool,
    pub timestamp_format: Option<TimestampFormat>,
}

impl Member {
    /// The name on the wire.
    pub fn wire_name(&self) -> &'static str {
        self.location_name.unwrap_or(self.name)
    }
}

/// Where a member travels in an HTTP message (rest protocols).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Body,
    Uri,
    QueryString,
    Header,
    Headers,
    StatusCode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampFormat {
    Iso8601,
    UnixTimestamp,
    Rfc822,
}

/// A model `pattern`, compiled on first use. AWS patterns match the whole value.
pub struct Pattern {
    pub source: &'static str,
    compiled: OnceLock<Option<regex::Regex>>,
}

impl std::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Pattern").field(&self.source).finish()
    }
}

impl Pattern {
    pub const fn new(source: &'static str) -> Self {
        Self { source, compiled: OnceLock::new() }
    }

    /// Whether `value` matches the whole pattern. A pattern this engine cannot compile (the models
    /// use Java syntax) accepts every value rather than rejecting valid input.
    pub fn is_match(&self, value: &str) -> bool {
        let compiled = self.compiled.get_or_init(|| regex::Regex::new(&format!("^(?:{})$", self.source)).ok());
        compiled.as_ref().is_none_or(|re| re.is_match(value))
    }
}
