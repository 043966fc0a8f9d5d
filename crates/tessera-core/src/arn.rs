use std::fmt;

/// A parsed Amazon Resource Name: `arn:partition:service:region:account:resource`.
///
/// The resource part keeps any further `:` or `/` characters verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Arn {
    pub partition: String,
    pub service: String,
    pub region: String,
    pub account: String,
    pub resource: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArnError {
    #[error("ARN {0:?} is not of the form arn:partition:service:region:account:resource")]
    Malformed(String),
}

impl Arn {
    pub fn parse(s: &str) -> Result<Arn, ArnError> {
        let bad = || ArnError::Malformed(s.to_owned());
        let mut parts = s.splitn(6, ':');
        if parts.next() != Some("arn") {
            return Err(bad());
        }
        let partition = parts.next().ok_or_else(bad)?;
        let service = parts.next().ok_or_else(bad)?;
        let region = parts.next().ok_or_else(bad)?;
        let account = parts.next().ok_or_else(bad)?;
        let resource = parts.next().ok_or_else(bad)?;
        if partition.is_empty() || service.is_empty() || resource.is_empty() {
            return Err(bad());
        }
        if s.chars().any(|c| c.is_control()) {
            return Err(bad());
        }
        Ok(Arn {
            partition: partition.into(),
            service: service.into(),
            region: region.into(),
            account: account.into(),
            resource: resource.into(),
        })
    }

    /// `arn:{partition}:iam::{account}:{resource}`
    pub fn iam(partition: &str, account: &str, resource: impl Into<String>) -> Arn {
        Arn {
            partition: partition.into(),
            service: "iam".into(),
            region: String::new(),
            account: account.into(),
            resource: resource.into(),
        }
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition, self.service, self.region, self.account, self.resource
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_role_arn() {
        let a = Arn::parse("arn:aws:iam::111111111111:role/path/ApplicationRole").unwrap();
        assert_eq!(a.service, "iam");
        assert_eq!(a.region, "");
        assert_eq!(a.account, "111111111111");
        assert_eq!(a.resource, "role/path/ApplicationRole");
    }

    #[test]
    fn rejects_short_forms() {
        for bad in [
            "",
            "arn",
            "arn:aws",
            "arn:aws:iam::1",
            "urn:aws:iam::1:x",
            "arn::iam::1:x",
            "arn:aws:iam::1:",
        ] {
            assert!(Arn::parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn display_round_trips(p in "[a-z-]{1,10}", s in "[a-z0-9-]{1,10}", r in "[a-z0-9-]{0,12}",
                               a in "[0-9]{0,12}", res in "[A-Za-z0-9/:+=,.@_-]{1,40}") {
            let arn = Arn { partition: p, service: s, region: r, account: a, resource: res };
            prop_assert_eq!(Arn::parse(&arn.to_string()).unwrap(), arn);
        }

        #[test]
        fn parse_never_panics(s in any::<String>()) {
            let _ = Arn::parse(&s);
        }
    }
}
