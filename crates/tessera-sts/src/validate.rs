//! Input rules for STS parameters, with AWS's constraint messages.

use crate::{IDENTITY_CENTER_PROVIDER, StsError};
use tessera_core::names::tag_chars_ok;
use tessera_wire::CommonError;
use tessera_wire::query::QueryParams;

type R<T> = Result<T, StsError>;

pub fn length(field: &str, v: &str, min: usize, max: usize) -> R<()> {
    let n = v.chars().count();
    if n < min || n > max {
        return Err(StsError::Common(CommonError::Validation(format!(
            "1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must have length less than or equal to {max} and greater than or equal to {min}"
        ))));
    }
    Ok(())
}

fn pattern(field: &str, v: &str, extra: &str, shown: &str) -> R<()> {
    if v.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || extra.contains(c))
    {
        Ok(())
    } else {
        Err(StsError::Common(CommonError::Validation(format!(
            "1 validation error detected: Value '{v}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: {shown}"
        ))))
    }
}

/// `RoleSessionName`: 2–64 characters of `[\w+=,.@-]`.
pub fn session_name(field: &str, v: &str) -> R<()> {
    length(field, v, 2, 64)?;
    pattern(field, v, "+=,.@-", "[\\w+=,.@-]*")
}

/// `ExternalId`: 2–1224 characters of `[\w+=,.@:/-]`.
pub fn external_id(v: &str) -> R<()> {
    length("externalId", v, 2, 1224)?;
    pattern("externalId", v, "+=,.@:/-", "[\\w+=,.@:\\/-]*")
}

/// `SourceIdentity`: 2–64 characters of `[\w+=,.@-]`, not starting with `aws:`.
pub fn source_identity(v: &str) -> R<()> {
    length("sourceIdentity", v, 2, 64)?;
    pattern("sourceIdentity", v, "+=,.@-", "[\\w+=,.@-]*")?;
    if v.to_ascii_lowercase().starts_with("aws:") {
        return Err(StsError::Common(CommonError::Validation(
            "SourceIdentity must not begin with the prefix aws:".into(),
        )));
    }
    Ok(())
}

/// Inline session policy text: printable Latin-1 plus tab, LF and CR.
pub fn session_policy_text(doc: &str) -> R<()> {
    length("policy", doc, 1, 100_000)?;
    if doc
        .chars()
        .all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'))
    {
        Ok(())
    } else {
        Err(StsError::Common(CommonError::Validation(
            "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+".into(),
        )))
    }
}

/// `Tags.member.N.Key/Value`: at most 50, keys 1–128 and values 0–256 of
/// `[\p{L}\p{Z}\p{N}_.:/=+\-@]`, keys unique ignoring case.
pub fn tags(p: &QueryParams) -> R<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for t in p.struct_list("Tags")? {
        let key = t.get("Key").ok_or_else(|| {
            StsError::Common(CommonError::MissingParameter(
                "Tags.member.N.Key is required".into(),
            ))
        })?;
        let value = t.get("Value").ok_or_else(|| {
            StsError::Common(CommonError::MissingParameter(
                "Tags.member.N.Value is required".into(),
            ))
        })?;
        if key.is_empty() || key.chars().count() > 128 || !tag_chars_ok(key) {
            return Err(StsError::Common(CommonError::Validation(format!(
                "1 validation error detected: Value '{key}' at 'tags.member.key' failed to satisfy constraint: Member must have length less than or equal to 128 and satisfy regular expression pattern: [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]+"
            ))));
        }
        if value.chars().count() > 256 || !tag_chars_ok(value) {
            return Err(StsError::Common(CommonError::Validation(
                "1 validation error detected: Value at 'tags.member.value' failed to satisfy constraint: Member must have length less than or equal to 256 and satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*".into(),
            )));
        }
        if out.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
            return Err(StsError::Common(CommonError::Validation(format!(
                "Duplicate tag keys found: {key}. Tag keys are case insensitive."
            ))));
        }
        out.push((key.clone(), value.clone()));
    }
    if out.len() > 50 {
        return Err(StsError::Common(CommonError::Validation(
            "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50".into(),
        )));
    }
    Ok(out)
}

/// `TransitiveTagKeys.member.N`: each must name a tag of this request.
pub fn transitive_keys(p: &QueryParams, tags: &[(String, String)]) -> R<Vec<String>> {
    let keys = p.list("TransitiveTagKeys")?;
    if keys.len() > 50 {
        return Err(StsError::Common(CommonError::Validation(
            "1 validation error detected: Value at 'transitiveTagKeys' failed to satisfy constraint: Member must have length less than or equal to 50".into(),
        )));
    }
    for k in &keys {
        if !tags.iter().any(|(t, _)| t.eq_ignore_ascii_case(k)) {
            return Err(StsError::Common(CommonError::Validation(format!(
                "The transitive tag key {k} is not a tag key of this request."
            ))));
        }
    }
    Ok(keys)
}

/// `ProvidedContexts.member.N.{ProviderArn, ContextAssertion}`: 1–5 entries, each well formed
/// and naming the Identity Center provider; a session carries one identity context, so the
/// provider may appear once. Returns the assertion, if any.
pub fn provided_contexts(p: &QueryParams) -> R<Option<String>> {
    let list = p.struct_list("ProvidedContexts")?;
    if list.is_empty() {
        return Ok(None);
    }
    if list.len() > 5 {
        return Err(StsError::Common(CommonError::Validation(
            "1 validation error detected: Value at 'providedContexts' failed to satisfy constraint: Member must have length less than or equal to 5".into(),
        )));
    }
    let mut found = None;
    for c in &list {
        let arn = c.get("ProviderArn").ok_or_else(|| {
            StsError::Common(CommonError::MissingParameter(
                "ProvidedContexts.member.N.ProviderArn is required".into(),
            ))
        })?;
        let assertion = c.get("ContextAssertion").ok_or_else(|| {
            StsError::Common(CommonError::MissingParameter(
                "ProvidedContexts.member.N.ContextAssertion is required".into(),
            ))
        })?;
        length("providedContexts.member.providerArn", arn, 20, 2048)?;
        length(
            "providedContexts.member.contextAssertion",
            assertion,
            4,
            2048,
        )?;
        if arn != IDENTITY_CENTER_PROVIDER {
            return Err(StsError::Common(CommonError::Validation(format!(
                "Invalid context provider {arn}: the only context provider is {IDENTITY_CENTER_PROVIDER}."
            ))));
        }
        if found.replace(assertion.clone()).is_some() {
            return Err(StsError::Common(CommonError::Validation(format!(
                "ProvidedContexts names the {IDENTITY_CENTER_PROVIDER} provider more than once."
            ))));
        }
    }
    Ok(found)
}

/// `arn:{partition}:iam::{account}:role{path}{name}` → (account, path, name).
pub fn role_arn(arn: &str, partition: &str) -> R<(String, String, String)> {
    let bad = || {
        StsError::Common(CommonError::Validation(format!(
            "{arn} is not a valid role ARN: expected arn:{partition}:iam::ACCOUNT:role/NAME"
        )))
    };
    let a = tessera_core::Arn::parse(arn).map_err(|_| bad())?;
    if a.partition != partition || a.service != "iam" || !a.region.is_empty() {
        return Err(bad());
    }
    tessera_core::AccountId::parse(&a.account).map_err(|_| bad())?;
    let rest = a.resource.strip_prefix("role/").ok_or_else(bad)?;
    let (path, name) = match rest.rfind('/') {
        Some(i) => (format!("/{}", &rest[..=i]), &rest[i + 1..]),
        None => ("/".to_owned(), rest),
    };
    tessera_core::names::role_name("roleArn", name).map_err(|_| bad())?;
    Ok((a.account, path, name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns() {
        assert_eq!(
            role_arn("arn:aws:iam::111111111111:role/ApplicationRole", "aws").unwrap(),
            ("111111111111".into(), "/".into(), "ApplicationRole".into())
        );
        assert_eq!(
            role_arn("arn:aws:iam::111111111111:role/team/a/R", "aws").unwrap(),
            ("111111111111".into(), "/team/a/".into(), "R".into())
        );
        for bad in [
            "arn:aws:iam::111111111111:user/R",
            "arn:aws:iam::1111:role/R",
            "arn:aws-cn:iam::111111111111:role/R",
            "arn:aws:sts::111111111111:role/R",
            "arn:aws:iam::111111111111:role/",
            "ApplicationRole",
        ] {
            assert!(role_arn(bad, "aws").is_err(), "{bad}");
        }
    }

    #[test]
    fn session_tags_refuse_control_characters() {
        let q = |query: &str| QueryParams::parse(&[query.as_bytes()]).unwrap();
        let ok = q(
            "Tags.member.1.Key=team&Tags.member.1.Value=data%20lake&Tags.member.2.Key=%C3%A9quipe&Tags.member.2.Value=x",
        );
        assert_eq!(tags(&ok).unwrap().len(), 2);
        for bad in [
            "Tags.member.1.Key=a%09b&Tags.member.1.Value=v",
            "Tags.member.1.Key=a%0Ab&Tags.member.1.Value=v",
            "Tags.member.1.Key=k&Tags.member.1.Value=a%0Db",
            "Tags.member.1.Key=k&Tags.member.1.Value=a%00b",
        ] {
            assert!(
                matches!(
                    tags(&q(bad)),
                    Err(StsError::Common(CommonError::Validation(_)))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn names_and_ids() {
        assert!(session_name("s", "ok-session_1@x").is_ok());
        assert!(session_name("s", "a").is_err());
        assert!(session_name("s", "has space").is_err());
        assert!(session_name("s", &"a".repeat(65)).is_err());
        assert!(external_id("urn:a/b-c").is_ok());
        assert!(external_id("x").is_err());
        assert!(source_identity("alice").is_ok());
        assert!(source_identity("aws:alice").is_err());
        assert!(session_policy_text("{\"a\":1}").is_ok());
        assert!(session_policy_text("é ok").is_ok());
        assert!(session_policy_text("\u{100}").is_err());
    }

    #[test]
    fn contexts() {
        let ok = QueryParams::parse(&[b"A=1"]).unwrap();
        assert!(provided_contexts(&ok).is_ok());
        let good = QueryParams::parse(&[b"ProvidedContexts.member.1.ProviderArn=arn%3Aaws%3Aiam%3A%3Aaws%3AcontextProvider%2FIdentityCenter&ProvidedContexts.member.1.ContextAssertion=abcd"]).unwrap();
        assert_eq!(provided_contexts(&good).unwrap().as_deref(), Some("abcd"));
        let twice = QueryParams::parse(&[b"ProvidedContexts.member.1.ProviderArn=arn%3Aaws%3Aiam%3A%3Aaws%3AcontextProvider%2FIdentityCenter&ProvidedContexts.member.1.ContextAssertion=abcd&ProvidedContexts.member.2.ProviderArn=arn%3Aaws%3Aiam%3A%3Aaws%3AcontextProvider%2FIdentityCenter&ProvidedContexts.member.2.ContextAssertion=efgh"]).unwrap();
        assert!(provided_contexts(&twice).is_err());
        let wrong = QueryParams::parse(&[b"ProvidedContexts.member.1.ProviderArn=arn%3Aaws%3Aiam%3Aaws%3A%3AcontextProvider%2FIdentityCenter&ProvidedContexts.member.1.ContextAssertion=abcd"]).unwrap();
        assert!(
            provided_contexts(&wrong)
                .unwrap_err()
                .to_string()
                .contains("Invalid context provider")
        );
        let short = QueryParams::parse(&[b"ProvidedContexts.member.1.ProviderArn=arn%3Aaws%3Aiam%3A%3Aaws%3AcontextProvider%2FIdentityCenter&ProvidedContexts.member.1.ContextAssertion=ab"]).unwrap();
        assert!(
            provided_contexts(&short)
                .unwrap_err()
                .to_string()
                .contains("contextAssertion")
        );
    }
}
