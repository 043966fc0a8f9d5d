//! IAM OpenID Connect identity providers.

use crate::prelude::*;

impl IamService {
    pub(crate) async fn create_oidc_provider(&self, r: &Req<'_>) -> R<Outcome> {
        let Req {
            caller,
            meta,
            params: p,
        } = *r;
        let acct = caller.account.as_str();
        let url = p.require("Url")?;
        let host_path = oidc_url(url, self.allow_http_issuers)?;
        let client_ids = p.list("ClientIDList")?;
        for c in &client_ids {
            if c.is_empty() || c.chars().count() > 255 {
                return Err(IamError::ValidationError(
                    "1 validation error detected: Value at 'clientIDList' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 255, Member must have length greater than or equal to 1]".into(),
                ));
            }
        }
        if client_ids.len() > 100 {
            return Err(IamError::LimitExceeded(
                "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: 100".into(),
            ));
        }
        let thumbprints = p.list("ThumbprintList")?;
        for t in &thumbprints {
            if t.len() != 40 || !t.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(IamError::ValidationError(format!(
                    "1 validation error detected: Value '{t}' at 'thumbprintList' failed to satisfy constraint: Member must have length 40 and consist of hexadecimal characters"
                )));
            }
        }
        if thumbprints.len() > 5 {
            return Err(IamError::LimitExceeded(
                "Cannot exceed quota for ThumbprintsPerOpenIdConnectProvider: 5".into(),
            ));
        }
        let tags = parse_tags(p)?;
        let arn = self.arn(acct, &format!("oidc-provider/{host_path}"));
        self.allow(
            caller,
            meta,
            "iam:CreateOpenIDConnectProvider",
            &arn,
            ContextKeys::new(),
        )
        .await?;
        let rec = OidcProviderRecord {
            arn: arn.clone(),
            account_id: acct.to_owned(),
            url: host_path.clone(),
            client_ids,
            thumbprints,
            tags,
            created_at: now_secs(meta),
        };
        match self.store.create_oidc_provider(&rec).await {
            Err(tessera_store::StoreError::Conflict) => {
                return Err(IamError::EntityAlreadyExists(format!(
                    "Provider with url {url} already exists."
                )));
            }
            r => r?,
        }
        let mut w = Writer::new();
        w.elem("OpenIDConnectProviderArn", &arn);
        render::tags(&mut w, &rec.tags);
        Ok(Outcome {
            result_xml: w.finish(),
            details: EventDetails {
                user_identity: None,
                request_parameters: json!({"url": url, "clientIDList": rec.client_ids, "thumbprintList": rec.thumbprints, "tags": tags_json(&rec.tags)}),
                response_elements: json!({"openIDConnectProviderArn": arn}),
                resources: vec![self.resource("AWS::IAM::OIDCProvider", &arn, acct)],
                read_only: false,
            },
        })
    }

    pub(crate) async fn existing_oidc(&self, acct: &str, arn: &str) -> R<OidcProviderRecord> {
        if tessera_core::Arn::parse(arn).is_err() || arn.len() > 2048 {
            return Err(IamError::ValidationError(format!(
                "1 validation error detected: Value '{arn}' at 'openIDConnectProviderArn' failed to satisfy constraint: Member must be a valid ARN"
            )));
        }
        self.store
            .get_oidc_provider(arn)
            .await?
            .filter(|o| o.account_id == acct)
            .ok_or_else(|| {
                IamError::NoSuchEntity(format!("OpenIDConnect Provider not found for arn {arn}"))
            })
    }

    pub(crate) async fn get_oidc_provider(&self, r: &Req<'_>) -> R<Outcome> {
        let Req {
            caller,
            meta,
            params: p,
        } = *r;
        let acct = caller.account.as_str();
        let arn = p.require("OpenIDConnectProviderArn")?;
        self.allow(
            caller,
            meta,
            "iam:GetOpenIDConnectProvider",
            arn,
            ContextKeys::new(),
        )
        .await?;
        let rec = self.existing_oidc(acct, arn).await?;
        let mut w = Writer::new();
        w.elem("Url", &rec.url);
        w.open("ClientIDList");
        for c in &rec.client_ids {
            w.elem("member", c);
        }
        w.close("ClientIDList");
        w.open("ThumbprintList");
        for t in &rec.thumbprints {
            w.elem("member", t);
        }
        w.close("ThumbprintList");
        w.elem("CreateDate", &tessera_core::iso8601(rec.created_at));
        render::tags(&mut w, &rec.tags);
        Ok(Outcome {
            result_xml: w.finish(),
            details: read_details(
                json!({"openIDConnectProviderArn": arn}),
                self.resource("AWS::IAM::OIDCProvider", arn, acct),
            ),
        })
    }

    pub(crate) async fn list_oidc_providers(&self, r: &Req<'_>) -> R<Outcome> {
        let Req { caller, meta, .. } = *r;
        let acct = caller.account.as_str();
        self.allow(
            caller,
            meta,
            "iam:ListOpenIDConnectProviders",
            &self.arn(acct, "oidc-provider/"),
            ContextKeys::new(),
        )
        .await?;
        let mut w = Writer::new();
        w.open("OpenIDConnectProviderList");
        for o in self.store.list_oidc_providers(acct).await? {
            w.open("member");
            w.elem("Arn", &o.arn);
            w.close("member");
        }
        w.close("OpenIDConnectProviderList");
        Ok(Outcome {
            result_xml: w.finish(),
            details: read_details(json!({}), self.account_resource(acct)),
        })
    }

    pub(crate) async fn delete_oidc_provider(&self, r: &Req<'_>) -> R<Outcome> {
        let Req {
            caller,
            meta,
            params: p,
        } = *r;
        let acct = caller.account.as_str();
        let arn = p.require("OpenIDConnectProviderArn")?;
        self.allow(
            caller,
            meta,
            "iam:DeleteOpenIDConnectProvider",
            arn,
            ContextKeys::new(),
        )
        .await?;
        self.existing_oidc(acct, arn).await?;
        self.store.delete_oidc_provider(arn).await?;
        Ok(Outcome {
            result_xml: String::new(),
            details: write_details(
                json!({"openIDConnectProviderArn": arn}),
                self.resource("AWS::IAM::OIDCProvider", arn, acct),
            ),
        })
    }
}

/// `https://host[:port]/path` → `host[:port]/path`, as IAM names OIDC providers. `http://`
/// is accepted only for loopback hosts and only when `allow_http`.
fn oidc_url(url: &str, allow_http: bool) -> R<String> {
    let bad = || {
        IamError::ValidationError(format!(
            "The URL {url} is not valid: it must begin with https:// and name a host."
        ))
    };
    if url.is_empty() || url.chars().count() > 255 {
        return Err(IamError::ValidationError(
            "1 validation error detected: Value at 'url' failed to satisfy constraint: Member must have length less than or equal to 255 and greater than or equal to 1".into(),
        ));
    }
    names::oidc_issuer_host_path(url, allow_http).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oidc_urls() {
        assert_eq!(
            oidc_url("https://idp.example.com/tenant/", false).unwrap(),
            "idp.example.com/tenant/"
        );
        assert_eq!(
            oidc_url("https://127.0.0.1:8443", false).unwrap(),
            "127.0.0.1:8443"
        );
        assert!(oidc_url("http://idp.example.com", false).is_err());
        assert!(
            oidc_url("http://idp.example.com", true).is_err(),
            "http only on loopback"
        );
        assert!(oidc_url("http://127.0.0.1:9000", false).is_err());
        assert_eq!(
            oidc_url("http://127.0.0.1:9000", true).unwrap(),
            "127.0.0.1:9000"
        );
        assert!(oidc_url("https://", false).is_err());
        assert!(oidc_url("https://a.b/x?y", false).is_err());
    }
}
