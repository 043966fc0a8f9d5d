//! Data access: GetDataAccess (match, then vend a session of the location's role),
//! ListCallerAccessGrants and GetAccessGrantsInstanceForPrefix. GetDataAccess reads only the
//! grant index, the directory view, the principal view and the key ring: no store.

use crate::control::{INSTANCE_TYPE, details, page};
use crate::error::AgError;
use crate::{AccessGrantsService, R, Req, document, validate};
use serde_json::{Value, json};
use tessera_authz::Access;
use tessera_authz::directory::Directory;
use tessera_authz::grants::{CallerIdentities, GranteeKind, InstanceEntry};
use tessera_core::session::IdentityContext;
use tessera_core::{Caller, GrantPermission, GrantScope, Principal, SessionClaims, iso8601};
use tessera_crypto::session::session_access_key_id;
use tessera_policy::{ContextKeys, PrincipalRef};
use tessera_service::{Body, Reply};
use tessera_wire::CommonError;

/// GetDataAccess's documented duration bounds and default.
const MIN_DURATION: i64 = 900;
const MAX_DURATION: i64 = 43_200;
const DEFAULT_DURATION: i64 = 3600;

/// The caller's identities that may hold grants of `inst`: its IAM identity (the role of a
/// role session), and for an identity-enhanced session of the instance's Identity Center,
/// the directory user and that user's groups.
fn identities<'a>(
    caller: &'a Caller,
    iam_arn: &'a str,
    inst: &InstanceEntry,
    directory: &'a Directory,
) -> CallerIdentities<'a> {
    let ic = directory_context(caller, inst);
    CallerIdentities {
        iam: if caller.is_root() {
            Vec::new()
        } else {
            vec![iam_arn]
        },
        user: ic.map(|c| c.user_id.as_str()),
        // The user's groups, borrowed from the directory snapshot.
        groups: ic
            .map(|c| {
                directory
                    .groups_of(&c.user_id)
                    .map(String::as_str)
                    .collect()
            })
            .unwrap_or_default(),
        application_arn: ic.map(|c| c.application_arn.as_str()),
    }
}

/// The identity context of the caller's session, when it comes from the Identity Center
/// instance associated with `inst`.
fn directory_context<'c>(caller: &'c Caller, inst: &InstanceEntry) -> Option<&'c IdentityContext> {
    let ic = caller.session.as_deref()?.identity_context.as_ref()?;
    (inst.record.identity_center_arn.as_deref() == Some(ic.instance_arn.as_str())).then_some(ic)
}

impl AccessGrantsService {
    pub(crate) fn get_data_access(&self, r: &Req<'_>) -> R<Reply> {
        let inst_arn = self.instance_arn(&r.account);
        let target_s = r
            .param("target")
            .ok_or_else(|| AgError::InvalidRequest("Missing required parameter target".into()))?;
        let perm_s = r.param("permission").ok_or_else(|| {
            AgError::InvalidRequest("Missing required parameter permission".into())
        })?;
        let target = validate::s3_path("target", target_s).map_err(AgError::InvalidRequest)?;
        let permission = GrantPermission::parse(perm_s).ok_or_else(|| {
            AgError::InvalidRequest(format!(
                "permission must be one of READ, WRITE, READWRITE, not {perm_s:?}"
            ))
        })?;
        let duration = match r.param("durationSeconds") {
            None => DEFAULT_DURATION,
            Some(d) => d
                .parse::<i64>()
                .ok()
                .filter(|d| (MIN_DURATION..=MAX_DURATION).contains(d))
                .ok_or_else(|| {
                    AgError::InvalidRequest(format!(
                        "durationSeconds must be between {MIN_DURATION} and {MAX_DURATION}, not {d:?}"
                    ))
                })?,
        };
        let minimal = match r.param("privilege").unwrap_or("Default") {
            "Default" => false,
            "Minimal" => true,
            p => {
                return Err(AgError::InvalidRequest(format!(
                    "privilege must be Default or Minimal, not {p:?}"
                )));
            }
        };
        let target_type = r.param("targetType");
        match target_type {
            None => {}
            Some("Object") if target.wildcard => {
                return Err(AgError::InvalidRequest(
                    "targetType Object names one object; the target may not end with *".into(),
                ));
            }
            Some("Object") => {}
            Some(t) => {
                return Err(AgError::InvalidRequest(format!(
                    "targetType must be Object, not {t:?}"
                )));
            }
        }
        let audit_context = r.param("auditContext");
        if let Some(a) = audit_context
            && !(1..=2048).contains(&a.chars().count())
        {
            return Err(AgError::InvalidRequest(
                "auditContext must be between 1 and 2048 characters long".into(),
            ));
        }
        let params = json!({"target": target_s, "permission": perm_s,
            "durationSeconds": r.param("durationSeconds").map(|_| duration),
            "privilege": r.param("privilege"), "targetType": target_type, "auditContext": audit_context});

        let snap = self.grants.get();
        self.authorize(
            r.caller,
            r.meta,
            &snap,
            &r.account,
            "s3:GetDataAccess",
            &inst_arn,
        )?;
        let inst = snap
            .instance(&r.account)
            .ok_or(AgError::InstanceNotExists)?;
        let p = &self.deployment.partition;
        let iam_arn = r.caller.principal_arn(p);
        let directory = self.directory.get();
        let who = identities(r.caller, &iam_arn, inst, &directory);
        let key = format!(
            "{}{}",
            target.index_key(),
            if target.wildcard { "*" } else { "" }
        );
        let Some(m) = inst.grants.best(&key, permission, &who) else {
            // Why, for the audit record: who asked (as grantees), and the nearest grants.
            let near: Vec<_> = inst
                .grants
                .nearest(&key, permission, &who, 3)
                .into_iter()
                .map(|n| {
                    json!({"grantId": n.grant_id(), "grantScope": n.scope,
                        "grantee": {"granteeType": n.grantee_kind.as_str(), "granteeIdentifier": &*n.grantee},
                        "permission": n.permission.as_str(), "whyNot": n.miss.as_str()})
                })
                .collect();
            r.meta.decisions.push(json!({
                "decision": "NoGrantMatched",
                "action": "s3:GetDataAccess",
                "target": target_s,
                "permission": perm_s,
                "callerGrantees": {"iam": &who.iam, "directoryUser": who.user, "directoryGroups": &who.groups,
                    "application": who.application_arn},
                "nearestGrants": near,
            }));
            return Err(AgError::Common(CommonError::AccessDenied(format!(
                "You do not have {perm_s} permission to {target_s}"
            ))));
        };
        let location = inst
            .locations
            .get(&*m.location_id)
            .ok_or(AgError::Common(CommonError::InternalFailure))?;
        let role_arn = location.iam_role_arn.as_str();
        let not_assumable = || {
            AgError::StsNotAuthorized(format!(
                "S3 Access Grants is not authorized to assume the location role {role_arn}: its trust policy must allow the service principal {} sts:AssumeRole",
                crate::SERVICE_PRINCIPAL
            ))
        };
        let (role_account, role_path, role_name) =
            validate::role_arn(role_arn).ok_or_else(not_assumable)?;
        let role = self
            .authz
            .principals()
            .role(&role_account, &role_name)
            .filter(|e| e.record.path == role_path)
            .ok_or_else(not_assumable)?;
        let trust = role.trust.as_ref().ok_or_else(not_assumable)?;

        // What the session carries: the user's identity context (directory callers), or a
        // source identity (IAM grantees); the trust policy must allow setting it.
        let context = directory_context(r.caller, inst).cloned();
        let source_identity = if context.is_none() {
            r.caller
                .session
                .as_deref()
                .and_then(|s| s.source_identity.clone())
                .or_else(|| match &r.caller.principal {
                    Principal::User { name, .. } => Some(name.clone()),
                    Principal::AssumedRole { session_name, .. } => Some(session_name.clone()),
                    Principal::Root => None,
                })
        } else {
            None
        };
        let mut extra = ContextKeys::new();
        extra.insert("aws:SourceAccount", r.account.clone());
        extra.insert("aws:SourceArn", inst_arn.clone());
        if let Some(c) = &context {
            extra.insert_multi(
                "sts:RequestContextProviders",
                ["arn:aws:iam::aws:contextProvider/IdentityCenter".to_owned()],
            );
            for (k, v) in c.condition_keys() {
                extra.insert(format!("sts:RequestContext/{k}"), v);
            }
        }
        if let Some(s) = &source_identity {
            extra.insert("sts:SourceIdentity", s.clone());
        }
        let mut actions = vec!["sts:AssumeRole"];
        if context.is_some() {
            actions.push("sts:SetContext");
        }
        if source_identity.is_some() {
            actions.push("sts:SetSourceIdentity");
        }
        // One request context for all three: only the action changes between them.
        self.authz
            .check_federated_actions(
                PrincipalRef::service(crate::SERVICE_PRINCIPAL),
                r.meta,
                &actions,
                Access {
                    action: actions[0],
                    resource: role_arn,
                    resource_account: &role_account,
                    resource_policy: Some(trust),
                    extra,
                },
            )
            .map_err(|(action, _)| {
                AgError::StsNotAuthorized(format!(
                    "S3 Access Grants is not authorized to assume the location role {role_arn}: its trust policy must allow the service principal {} {action}",
                    crate::SERVICE_PRINCIPAL
                ))
            })?;
        if duration > role.record.max_session_duration {
            return Err(AgError::StsValidation(format!(
                "The requested DurationSeconds {duration} exceeds the MaxSessionDuration ({}) of the location role {role_arn}",
                role.record.max_session_duration
            )));
        }

        let (scope, prefix) = if minimal {
            (target.index_key(), target.wildcard)
        } else {
            (m.scope.clone(), m.prefix)
        };
        let matched = format!("s3://{scope}{}", if prefix { "*" } else { "" });
        let grant_id = m.grant_id();
        let now = r.meta.now.timestamp();
        let claims = SessionClaims {
            access_key_id: session_access_key_id(),
            account: role.record.account_id.clone(),
            role_name: role.record.name.clone(),
            role_id: role.record.role_id.clone(),
            role_path: role.record.path.clone(),
            session_name: format!("access-grants-{}", uuid::Uuid::new_v4()),
            issued_at: now,
            expires_at: now + duration,
            source_identity,
            policy: None,
            policy_arns: Vec::new(),
            tags: Vec::new(),
            transitive_tag_keys: Vec::new(),
            chain_depth: 0,
            web_identity: None,
            identity_context: context.clone(),
            grant: Some(GrantScope {
                instance_arn: inst_arn.clone(),
                grant_id: grant_id.clone(),
                scope,
                prefix,
                permission,
                request_id: r.meta.request_id.clone(),
            }),
        };
        let (token, secret) = self.ring.get().issue(&claims);
        let grantee_type = m.grantee_kind.as_str();
        let grantee_id = m.grantee.to_string();
        let xml = document("GetDataAccessResult", |w| {
            w.open("Credentials");
            w.elem("AccessKeyId", &claims.access_key_id);
            w.elem("SecretAccessKey", &secret);
            w.elem("SessionToken", &token);
            w.elem("Expiration", &iso8601(claims.expires_at));
            w.close("Credentials");
            w.elem("MatchedGrantTarget", &matched);
            w.open("Grantee");
            w.elem("GranteeType", grantee_type);
            w.elem("GranteeIdentifier", &grantee_id);
            w.close("Grantee");
        });
        let grant_arn = self.grant_arn(&r.account, &grant_id);
        let mut d = details(
            &r.account,
            params,
            &[
                (INSTANCE_TYPE, &inst_arn),
                ("AWS::S3::AccessGrant", &grant_arn),
            ],
            true,
        );
        d.additional_event_data = json!({
            "matchedGrantId": grant_id,
            "matchedGrantScope": m.grant_scope(),
            "matchedGrantTarget": matched,
            "grantee": {"granteeType": grantee_type, "granteeIdentifier": grantee_id},
            "permission": perm_s,
            "vendedAccessKeyId": claims.access_key_id,
            "vendedSession": format!("arn:{p}:sts::{}:assumed-role/{}/{}", claims.account, claims.role_name, claims.session_name),
            "identitystore:UserId": context.as_ref().map(|c| c.user_id.clone()),
            "identitystore:IdentityStoreArn": context.as_ref().map(|c| c.identity_store_arn.clone()),
        });
        Ok(Reply {
            body: Body::Xml(xml),
            details: d,
        })
    }

    pub(crate) async fn list_caller_grants(&self, r: &Req<'_>) -> R<Reply> {
        let inst_arn = self.instance_arn(&r.account);
        let snap = self.grants.get();
        self.authorize(
            r.caller,
            r.meta,
            &snap,
            &r.account,
            "s3:ListCallerAccessGrants",
            &inst_arn,
        )?;
        let inst = snap
            .instance(&r.account)
            .ok_or(AgError::InstanceNotExists)?;
        let scope = r.param("grantscope");
        if let Some(s) = scope
            && (s.is_empty()
                || s.chars().count() > validate::MAX_SCOPE_CHARS
                || !s.starts_with("s3://"))
        {
            return Err(AgError::InvalidRequest(
                "grantscope must be an S3 path of the form s3://bucket/prefix".into(),
            ));
        }
        let by_app = match r.param("allowedByApplication") {
            None | Some("false") => false,
            Some("true") => true,
            Some(v) => {
                return Err(AgError::InvalidRequest(format!(
                    "allowedByApplication must be true or false, not {v:?}"
                )));
            }
        };
        let iam_arn = r.caller.principal_arn(&self.deployment.partition);
        let directory = self.directory.get();
        let who = identities(r.caller, &iam_arn, inst, &directory);
        let stem = scope.map(|s| s.trim_end_matches('*'));
        let all: Vec<_> = self
            .store
            .list_ag_grants(&r.account)
            .await?
            .into_iter()
            .filter(|g| {
                let held = match GranteeKind::parse(&g.grantee_type) {
                    Some(GranteeKind::Iam) => who.iam.contains(&g.grantee_id.as_str()),
                    Some(GranteeKind::DirectoryUser) => who.user == Some(g.grantee_id.as_str()),
                    Some(GranteeKind::DirectoryGroup) => {
                        who.groups.contains(&g.grantee_id.as_str())
                    }
                    None => false,
                };
                let app_ok = !by_app
                    || g.application_arn.is_none()
                    || g.application_arn.as_deref() == who.application_arn;
                // Relevant to the scope: the grant covers it, or lies within it.
                let relevant = stem.is_none_or(|st| {
                    let gs = g.grant_scope.trim_end_matches('*');
                    let covers = if g.grant_scope.ends_with('*') {
                        st.starts_with(gs)
                    } else {
                        st == g.grant_scope
                    };
                    covers || gs.starts_with(st)
                });
                held && app_ok && relevant
            })
            .collect();
        let (items, next) = page(all, r)?;
        let xml = document("ListCallerAccessGrantsResult", |w| {
            w.opt("NextToken", next.as_deref());
            w.open("CallerAccessGrantsList");
            for g in &items {
                w.open("AccessGrant");
                w.elem("Permission", &g.permission);
                w.elem("GrantScope", &g.grant_scope);
                w.opt("ApplicationArn", g.application_arn.as_deref());
                w.close("AccessGrant");
            }
            w.close("CallerAccessGrantsList");
        });
        let params: Value = json!({"grantscope": scope, "allowedByApplication": r.param("allowedByApplication"),
            "maxResults": r.param("maxResults")});
        Ok(Reply {
            body: Body::Xml(xml),
            details: details(&r.account, params, &[(INSTANCE_TYPE, &inst_arn)], true),
        })
    }

    pub(crate) fn instance_for_prefix(&self, r: &Req<'_>) -> R<Reply> {
        let prefix = r
            .param("s3prefix")
            .ok_or_else(|| AgError::InvalidRequest("Missing required parameter s3prefix".into()))?;
        let with_slash = match prefix.strip_prefix("s3://") {
            Some(rest) if !rest.contains('/') => format!("{prefix}/*"),
            _ => prefix.to_owned(),
        };
        let path = validate::s3_path("s3prefix", &with_slash).map_err(AgError::InvalidRequest)?;
        let stem = format!("s3://{}", path.index_key());
        let snap = self.grants.get();
        // A bucket location (`s3://b`, `s3://b/`) covers that bucket only, not `s3://b2`.
        let covers = |i: &InstanceEntry| {
            i.locations.values().any(|l| {
                let scope = &l.location_scope;
                match scope.strip_prefix("s3://") {
                    Some("") => true,
                    Some(rest) if !rest.contains('/') => stem.starts_with(&format!("{scope}/")),
                    _ => stem.starts_with(scope.as_str()),
                }
            })
        };
        // The account asked about first, then any other instance whose locations cover it.
        let found = snap
            .instance(&r.account)
            .filter(|i| covers(i))
            .or_else(|| snap.instances().find(|i| covers(i)))
            .map(|i| i.record.account_id.clone());
        let Some(owner) = found else {
            // Authorise against the asked-about instance before saying nothing is there.
            let arn = self.instance_arn(&r.account);
            self.authorize(
                r.caller,
                r.meta,
                &snap,
                &r.account,
                "s3:GetAccessGrantsInstanceForPrefix",
                &arn,
            )?;
            return Err(AgError::InstanceNotExists);
        };
        let arn = self.instance_arn(&owner);
        self.authorize(
            r.caller,
            r.meta,
            &snap,
            &owner,
            "s3:GetAccessGrantsInstanceForPrefix",
            &arn,
        )?;
        let xml = document("GetAccessGrantsInstanceForPrefixResult", |w| {
            w.elem("AccessGrantsInstanceArn", &arn);
            w.elem("AccessGrantsInstanceId", "default");
        });
        Ok(Reply {
            body: Body::Xml(xml),
            details: details(
                &owner,
                json!({"s3Prefix": prefix}),
                &[(INSTANCE_TYPE, &arn)],
                true,
            ),
        })
    }
}
