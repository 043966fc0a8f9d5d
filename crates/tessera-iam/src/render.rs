//! XML renderings of IAM entities, shared by the actions that return them.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tessera_core::{Arn, Deployment, iso8601};
use tessera_store::{ManagedPolicyRecord, RoleRecord, UserRecord};
use tessera_wire::xml::Writer;

/// RFC 3986 unreserved characters stay; everything else is percent-encoded.
const DOCUMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// IAM returns policy documents URL-encoded; botocore and the AWS CLI decode them.
pub fn encode_document(doc: &str) -> String {
    utf8_percent_encode(doc, DOCUMENT).to_string()
}

pub fn tags(w: &mut Writer, tags: &[(String, String)]) {
    if tags.is_empty() {
        return;
    }
    w.open("Tags");
    for (k, v) in tags {
        w.open("member");
        w.elem("Key", k);
        w.elem("Value", v);
        w.close("member");
    }
    w.close("Tags");
}

pub fn role(w: &mut Writer, d: &Deployment, r: &RoleRecord) {
    w.open("Role");
    role_fields(w, d, r, true);
    w.close("Role");
}

pub fn role_fields(w: &mut Writer, d: &Deployment, r: &RoleRecord, with_tags: bool) {
    w.elem("Path", &r.path);
    w.elem("RoleName", &r.name);
    w.elem("RoleId", &r.role_id);
    w.elem(
        "Arn",
        &Arn::iam(
            &d.partition,
            &r.account_id,
            format!("role{}{}", r.path, r.name),
        )
        .to_string(),
    );
    w.elem("CreateDate", &iso8601(r.created_at));
    w.elem(
        "AssumeRolePolicyDocument",
        &encode_document(&r.trust_policy),
    );
    w.opt("Description", r.description.as_deref());
    w.elem("MaxSessionDuration", &r.max_session_duration.to_string());
    if let Some(b) = &r.permissions_boundary {
        w.open("PermissionsBoundary");
        w.elem("PermissionsBoundaryType", "Policy");
        w.elem("PermissionsBoundaryArn", b);
        w.close("PermissionsBoundary");
    }
    if with_tags {
        tags(w, &r.tags);
    }
}

pub fn user(w: &mut Writer, d: &Deployment, u: &UserRecord) {
    w.open("User");
    user_fields(w, d, u);
    tags(w, &u.tags);
    w.close("User");
}

pub fn user_fields(w: &mut Writer, d: &Deployment, u: &UserRecord) {
    w.elem("Path", &u.path);
    w.elem("UserName", &u.name);
    w.elem("UserId", &u.user_id);
    w.elem(
        "Arn",
        &Arn::iam(
            &d.partition,
            &u.account_id,
            format!("user{}{}", u.path, u.name),
        )
        .to_string(),
    );
    w.elem("CreateDate", &iso8601(u.created_at));
    if let Some(b) = &u.permissions_boundary {
        w.open("PermissionsBoundary");
        w.elem("PermissionsBoundaryType", "Policy");
        w.elem("PermissionsBoundaryArn", b);
        w.close("PermissionsBoundary");
    }
}

pub fn policy_fields(w: &mut Writer, p: &ManagedPolicyRecord, attachments: i64) {
    w.elem("PolicyName", &p.name);
    w.elem("PolicyId", &p.policy_id);
    w.elem("Arn", &p.arn);
    w.elem("Path", &p.path);
    w.elem("DefaultVersionId", "v1");
    w.elem("AttachmentCount", &attachments.to_string());
    w.elem("PermissionsBoundaryUsageCount", "0");
    w.elem("IsAttachable", "true");
    w.opt("Description", p.description.as_deref());
    w.elem("CreateDate", &iso8601(p.created_at));
    w.elem("UpdateDate", &iso8601(p.created_at));
}
