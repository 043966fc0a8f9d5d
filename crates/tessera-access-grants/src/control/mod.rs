//! The control plane: the instance, its Identity Center association and resource policy,
//! locations, grants and tags. Reads go to the store; every write is folded into the grant
//! index view at once (read-your-writes) and bumps its counter for the other replicas.

mod grants;
mod instance;
mod locations;
mod tags;
use crate::error::AgError;
use crate::{AccessGrantsService, R, Req, document, parse_tags, validate, write_tags};
use serde_json::{Value, json};
use tessera_audit::{EventDetails, Resource};
use tessera_authz::grants::{GrantChange, GranteeKind};
use tessera_core::{GrantPermission, iso8601};
use tessera_policy::{ContextKeys, Policy, PolicyKind};
use tessera_service::{Body, Reply};
use tessera_store::{AgGrantRecord, AgInstanceRecord, AgLocationRecord, AgResource, StoreError};
use tessera_wire::CommonError;
use tessera_wire::xml::{Element, Writer};

pub(crate) const INSTANCE_TYPE: &str = "AWS::S3::AccessGrantsInstance";
const LOCATION_TYPE: &str = "AWS::S3::AccessGrantsLocation";
const GRANT_TYPE: &str = "AWS::S3::AccessGrant";

fn xml_reply(xml: String, details: EventDetails) -> Reply {
    Reply {
        body: Body::Xml(xml),
        details,
    }
}

fn empty_reply(details: EventDetails) -> Reply {
    Reply {
        body: Body::NoContent,
        details,
    }
}

pub(crate) fn details(
    account: &str,
    params: Value,
    resources: &[(&str, &str)],
    read_only: bool,
) -> EventDetails {
    EventDetails {
        request_parameters: params,
        resources: resources
            .iter()
            .map(|(kind, arn)| Resource {
                account_id: Some(account.to_owned()),
                kind: (*kind).to_owned(),
                arn: (*arn).to_owned(),
            })
            .collect(),
        read_only,
        ..EventDetails::default()
    }
}

fn required<'e>(e: &'e Element, name: &str) -> R<&'e str> {
    e.child_text(name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| AgError::InvalidRequest(format!("Missing required field {name}")))
}

/// A page of `items` by `maxResults` (0–1000, default 1000) and `nextToken` (an offset).
pub(crate) fn page<T>(items: Vec<T>, r: &Req<'_>) -> R<(Vec<T>, Option<String>)> {
    let max = match r.param("maxResults") {
        None => 1000,
        Some(m) => match m.parse::<usize>() {
            Ok(0) => 1000,
            Ok(n) if n <= 1000 => n,
            _ => {
                return Err(AgError::InvalidRequest(format!(
                    "maxResults must be between 0 and 1000, not {m:?}"
                )));
            }
        },
    };
    let start = match r.param("nextToken") {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|s| *s <= items.len())
            .ok_or_else(|| {
                AgError::InvalidRequest("The continuation token is not valid.".into())
            })?,
    };
    let end = (start + max).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((
        items.into_iter().skip(start).take(end - start).collect(),
        next,
    ))
}

impl AccessGrantsService {
    /// Authorise `action` on `resource` for the request's caller, by the grant index's
    /// current snapshot.
    pub(super) fn check(&self, r: &Req<'_>, action: &str, resource: &str) -> R<()> {
        let snap = self.grants.get();
        self.authorize(r.caller, r.meta, &snap, &r.account, action, resource)
    }

    /// Fold a write into the grant index view and bump its counter; a failure is logged, not
    /// returned.
    pub(super) async fn fold(&self, change: GrantChange) {
        if let Err(e) = self.grants.write(change).await {
            tracing::warn!(error = %e, "bumping the access-grants counter failed");
        }
    }
}
