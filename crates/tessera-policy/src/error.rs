//! Errors raised while parsing and validating a policy document.

/// What kind of problem a [`PolicyError`] reports, for callers that need to
/// branch on it (e.g. to pick an AWS error code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PolicyErrorKind {
    /// The document is not valid JSON, or the top level is not an object.
    Syntax,
    /// The document contains characters outside `\t \n \r U+0020..=U+00FF`.
    InvalidCharacters,
    /// The document exceeds the size quota of its policy kind.
    TooLarge,
    /// A field that the policy grammar does not know.
    UnknownField,
    /// The same key appears twice in one JSON object.
    DuplicateKey,
    /// A field has the wrong JSON type (e.g. a number where a string is needed).
    InvalidType,
    /// `Version` is neither `2012-10-17` nor `2008-10-17`.
    InvalidVersion,
    /// `Statement` is missing or empty.
    MissingStatement,
    /// A `Sid` with characters outside `[A-Za-z0-9]`.
    InvalidSid,
    /// `Effect` is missing or not exactly `Allow`/`Deny`.
    InvalidEffect,
    /// `Action`/`NotAction` missing, doubled or malformed.
    InvalidAction,
    /// `Resource`/`NotResource` missing, doubled or malformed.
    InvalidResource,
    /// A malformed `Principal`/`NotPrincipal` value.
    InvalidPrincipal,
    /// A principal in a policy kind that must not have one.
    PrincipalNotAllowed,
    /// A resource or trust policy statement without `Principal`/`NotPrincipal`.
    MissingPrincipal,
    /// A malformed `Condition` block, unknown operator or bad value.
    InvalidCondition,
}

/// A policy document was rejected. `Display` (and [`PolicyError::message`])
/// gives an AWS-like `MalformedPolicyDocument` message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PolicyError {
    kind: PolicyErrorKind,
    message: String,
}

impl PolicyError {
    pub(crate) fn new(kind: PolicyErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn syntax() -> Self {
        Self::new(PolicyErrorKind::Syntax, "Syntax errors in policy.")
    }

    /// The category of the problem.
    pub fn kind(&self) -> PolicyErrorKind {
        self.kind
    }

    /// The human-readable, AWS-like message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The AWS error code an IAM/STS front end would most likely return:
    /// `LimitExceeded` for size-quota violations, `ValidationError` for
    /// characters outside the allowed set, `MalformedPolicyDocument` otherwise.
    pub fn aws_error_code(&self) -> &'static str {
        match self.kind {
            PolicyErrorKind::TooLarge => "LimitExceeded",
            PolicyErrorKind::InvalidCharacters => "ValidationError",
            _ => "MalformedPolicyDocument",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_message() {
        let e = PolicyError::syntax();
        assert_eq!(e.to_string(), "Syntax errors in policy.");
        assert_eq!(e.message(), "Syntax errors in policy.");
        assert_eq!(e.kind(), PolicyErrorKind::Syntax);
        assert_eq!(e.aws_error_code(), "MalformedPolicyDocument");
        let big = PolicyError::new(PolicyErrorKind::TooLarge, "x");
        assert_eq!(big.aws_error_code(), "LimitExceeded");
        let chars = PolicyError::new(PolicyErrorKind::InvalidCharacters, "x");
        assert_eq!(chars.aws_error_code(), "ValidationError");
    }
}
