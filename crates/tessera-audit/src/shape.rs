//! How a request becomes its audit record, as CloudTrail shapes one: the caller as
//! `userIdentity` (root, IAM user, assumed role with its session context, web identity and
//! the directory user it acts for), the outcome, and why a refused request was refused.

use crate::{AuditRecord, EventDetails};
use serde_json::{Value, json};
use tessera_core::{Caller, Principal, RequestMeta};

/// Everything the pipeline knows of a finished request.
#[derive(Debug)]
pub struct ApiCall<'a> {
    pub meta: &'a RequestMeta,
    pub region: &'a str,
    pub partition: &'a str,
    /// The service's `eventSource`.
    pub event_source: &'a str,
    /// The operation (`Unknown` when the request named none).
    pub event_name: &'a str,
    pub caller: Option<&'a Caller>,
    /// The access key the request was signed with, when it was signed (even if refused).
    pub access_key_id: Option<&'a str>,
    /// The error's code and message, for a failed request.
    pub error: Option<(&'a str, &'a str)>,
    /// What the service said (or the defaults).
    pub details: EventDetails,
    /// A data event (S3 objects) rather than a management event.
    pub data_event: bool,
    pub event_id: String,
}

/// The audit record of a request. A refused request keeps why it was refused (what each
/// refusing decision saw, from `meta.decisions`); a request that succeeded despite a refused
/// probe along the way keeps nothing of it.
pub fn api_call(c: ApiCall<'_>) -> AuditRecord {
    let mut details = c.details;
    let decisions = c.meta.decisions.take();
    if c.error.is_some() && !decisions.is_empty() {
        if !details.additional_event_data.is_object() {
            details.additional_event_data = json!({});
        }
        details.additional_event_data["authorizationDecisions"] = Value::Array(decisions);
    }
    let account = c
        .caller
        .map(|caller| caller.account.to_string())
        .unwrap_or_default();
    AuditRecord {
        event_version: "1.11",
        user_identity: details
            .user_identity
            .unwrap_or_else(|| user_identity(c.caller, c.access_key_id, c.partition)),
        event_time: c.meta.now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        event_source: c.event_source.into(),
        event_name: c.event_name.into(),
        aws_region: c.region.into(),
        source_ip_address: c.meta.source_ip.to_string(),
        user_agent: c.meta.user_agent.clone(),
        error_code: c.error.map(|(code, _)| code.to_owned()),
        error_message: c.error.map(|(_, message)| message.to_owned()),
        request_parameters: details.request_parameters,
        response_elements: details.response_elements,
        additional_event_data: details.additional_event_data,
        request_id: c.meta.request_id.clone(),
        event_id: c.event_id,
        read_only: details.read_only,
        resources: details.resources,
        event_type: "AwsApiCall",
        management_event: !c.data_event,
        recipient_account_id: account,
        event_category: if c.data_event { "Data" } else { "Management" },
    }
}

/// The caller as CloudTrail's `userIdentity`.
pub fn user_identity(
    caller: Option<&Caller>,
    access_key_id: Option<&str>,
    partition: &str,
) -> Value {
    let Some(c) = caller else {
        return json!({"type": "Unknown", "accessKeyId": access_key_id});
    };
    let arn = c.arn(partition);
    match &c.principal {
        Principal::Root => json!({"type": "Root", "principalId": c.account.as_str(), "arn": arn,
            "accountId": c.account.as_str(), "accessKeyId": c.access_key_id}),
        Principal::User { name, user_id, .. } => {
            json!({"type": "IAMUser", "principalId": user_id, "arn": arn,
            "accountId": c.account.as_str(), "accessKeyId": c.access_key_id, "userName": name})
        }
        Principal::AssumedRole {
            role_name, role_id, ..
        } => {
            let session = c.session.as_deref();
            let mut v = json!({"type": "AssumedRole", "principalId": c.user_id(), "arn": arn,
                "accountId": c.account.as_str(), "accessKeyId": c.access_key_id,
                "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": role_id,
                    "arn": c.principal_arn(partition), "accountId": c.account.as_str(), "userName": role_name},
                    "attributes": {"creationDate": session.map(|s| tessera_core::iso8601(s.issued_at)),
                        "mfaAuthenticated": "false"}}});
            if let Some(si) = session.and_then(|s| s.source_identity.as_deref()) {
                v["sessionContext"]["sourceIdentity"] = json!(si);
            }
            if let Some(w) = session.and_then(|s| s.web_identity.as_ref()) {
                v["sessionContext"]["webIdFederationData"] =
                    json!({"federatedProvider": w.provider_arn, "attributes": {}});
            }
            // An identity-enhanced session (and Access Grants credentials vended for a
            // directory user) acts on behalf of that user.
            if let Some(ic) = session.and_then(|s| s.identity_context.as_ref()) {
                v["onBehalfOf"] =
                    json!({"userId": ic.user_id, "identityStoreArn": ic.identity_store_arn});
            }
            v
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> RequestMeta {
        RequestMeta {
            request_id: "r-1".into(),
            source_ip: "192.0.2.7".parse().unwrap(),
            user_agent: "test".into(),
            now: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            secure_transport: false,
            decisions: Default::default(),
        }
    }

    fn call<'a>(meta: &'a RequestMeta, error: Option<(&'a str, &'a str)>) -> ApiCall<'a> {
        ApiCall {
            meta,
            region: "us-east-1",
            partition: "aws",
            event_source: "example.amazonaws.com",
            event_name: "DoThing",
            caller: None,
            access_key_id: Some("AKIAEXAMPLE"),
            error,
            details: EventDetails::default(),
            data_event: false,
            event_id: "e-1".into(),
        }
    }

    #[test]
    fn a_refused_request_keeps_why_and_an_unsigned_caller_is_unknown() {
        let m = meta();
        m.decisions.push(json!({"denied": "no statement allows"}));
        let r = api_call(call(&m, Some(("AccessDenied", "no"))));
        assert_eq!(r.user_identity["type"], "Unknown");
        assert_eq!(r.user_identity["accessKeyId"], "AKIAEXAMPLE");
        assert_eq!(r.error_code.as_deref(), Some("AccessDenied"));
        assert_eq!(
            r.additional_event_data["authorizationDecisions"][0]["denied"],
            "no statement allows"
        );
        assert_eq!(r.event_time, "2027-01-15T08:00:00Z");
        assert_eq!(r.event_category, "Management");

        // A success drops the refused probes it met on the way.
        let m = meta();
        m.decisions.push(json!({"denied": "probe"}));
        let r = api_call(call(&m, None));
        assert!(r.additional_event_data.is_null());
        assert!(r.error_code.is_none());
    }
}
