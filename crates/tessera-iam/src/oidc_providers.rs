//! IAM OpenID Connect identity providers.

use crate::prelude::*;
use tessera_wire::CommonError;

impl IamService {
    pub(crate) async fn create_oidc_provider(&self, r: &Req<'_>) -> R<Outcome> {
        let Req {
            caller,
            meta,
            params: p,
        } = *r;
        let acct = caller.account.as_str();
        let req = CreateOpenIdConnectProviderRequest::parse(p, self.allow_http_issuers)?;
        let (url, host_path) = (req.url, &req.host_path);
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
            client_ids: req.client_id_list.clone(),
            thumbprints: req.thumbprint_list.clone(),
            tags: req.tags.clone(),
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
                request_parameters: request_parameters(&req),
                response_elements: json!({"openIDConnectProviderArn": arn}),
                resources: vec![self.resource("AWS::IAM::OIDCProvider", &arn, acct)],
                read_only: false,
                additional_event_data: serde_json::Value::Null,
            },
        })
    }

    pub(crate) async fn existing_oidc(&self, acct: &str, arn: &str) -> R<OidcProviderRecord> {
        if tessera_core::Arn::parse(arn).is_err() || arn.len() > 2048 {
            return Err(IamError::Common(CommonError::Validation(format!(
                "1 validation error detected: Value '{arn}' at 'openIDConnectProviderArn' failed to satisfy constraint: Member must be a valid ARN"
            ))));
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
        let req = OidcProviderArnRequest::parse(p)?;
        let arn = req.open_id_connect_provider_arn;
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
                request_parameters(&req),
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
            details: read_details(
                request_parameters(&EmptyRequest {}),
                self.account_resource(acct),
            ),
        })
    }

    pub(crate) async fn delete_oidc_provider(&self, r: &Req<'_>) -> R<Outcome> {
        let Req {
            caller,
            meta,
            params: p,
        } = *r;
        let acct = caller.account.as_str();
        let req = OidcProviderArnRequest::parse(p)?;
        let arn = req.open_id_connect_provider_arn;
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
                request_parameters(&req),
                self.resource("AWS::IAM::OIDCProvider", arn, acct),
            ),
        })
    }
}

/// CreateOpenIDConnectProvider. The URL is audited as given; the provider's name
/// (`host[:port]/path`) is derived from it and not audited.
#[derive(Debug, Serialize)]
pub(crate) struct CreateOpenIdConnectProviderRequest<'a> {
    url: &'a str,
    #[serde(skip)]
    host_path: String,
    #[serde(rename = "clientIDList")]
    client_id_list: Vec<String>,
    #[serde(rename = "thumbprintList")]
    thumbprint_list: Vec<String>,
    #[serde(serialize_with = "serialize_tags")]
    tags: Vec<(String, String)>,
}

impl<'a> CreateOpenIdConnectProviderRequest<'a> {
    /// `allow_http`: accept `http://` URLs on loopback hosts (see [`oidc_url`]).
    pub(crate) fn parse(p: &'a QueryParams, allow_http: bool) -> R<Self> {
        let url = p.require("Url")?;
        let host_path = oidc_url(url, allow_http)?;
        let client_id_list = p.list("ClientIDList")?;
        for c in &client_id_list {
            if c.is_empty() || c.chars().count() > 255 {
                return Err(IamError::Common(CommonError::Validation(
                    "1 validation error detected: Value at 'clientIDList' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 255, Member must have length greater than or equal to 1]".into(),
                )));
            }
        }
        if client_id_list.len() > 100 {
            return Err(IamError::LimitExceeded(
                "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: 100".into(),
            ));
        }
        let thumbprint_list = p.list("ThumbprintList")?;
        for t in &thumbprint_list {
            if t.len() != 40 || !t.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(IamError::Common(CommonError::Validation(format!(
                    "1 validation error detected: Value '{t}' at 'thumbprintList' failed to satisfy constraint: Member must have length 40 and consist of hexadecimal characters"
                ))));
            }
        }
        if thumbprint_list.len() > 5 {
            return Err(IamError::LimitExceeded(
                "Cannot exceed quota for ThumbprintsPerOpenIdConnectProvider: 5".into(),
            ));
        }
        let tags = parse_tags(p)?;
        Ok(CreateOpenIdConnectProviderRequest {
            url,
            host_path,
            client_id_list,
            thumbprint_list,
            tags,
        })
    }
}

/// GetOpenIDConnectProvider and DeleteOpenIDConnectProvider. The ARN is checked after
/// authorisation, by `existing_oidc`.
#[derive(Debug, Serialize)]
pub(crate) struct OidcProviderArnRequest<'a> {
    #[serde(rename = "openIDConnectProviderArn")]
    open_id_connect_provider_arn: &'a str,
}

impl<'a> OidcProviderArnRequest<'a> {
    pub(crate) fn parse(p: &'a QueryParams) -> R<Self> {
        Ok(OidcProviderArnRequest {
            open_id_connect_provider_arn: p.require("OpenIDConnectProviderArn")?,
        })
    }
}

/// `https://host[:port]/path` → `host[:port]/path`, as IAM names OIDC providers. `http://`
/// is accepted only for loopback hosts and only when `allow_http`.
fn oidc_url(url: &str, allow_http: bool) -> R<String> {
    let bad = || {
        IamError::Common(CommonError::Validation(format!(
            "The URL {url} is not valid: it must begin with https:// and name a host."
        )))
    };
    if url.is_empty() || url.chars().count() > 255 {
        return Err(IamError::Common(CommonError::Validation(
            "1 validation error detected: Value at 'url' failed to satisfy constraint: Member must have length less than or equal to 255 and greater than or equal to 1".into(),
        )));
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
