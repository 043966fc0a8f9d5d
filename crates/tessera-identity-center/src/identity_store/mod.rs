//! identitystore (awsJson1.1, target prefix `AWSIdentityStore`, signing name `identitystore`):
//! users (CreateUser, DescribeUser, ListUsers, UpdateUser, DeleteUser, GetUserId), groups
//! (CreateGroup, DescribeGroup, ListGroups, UpdateGroup, DeleteGroup, GetGroupId) and memberships (CreateGroupMembership,
//! DescribeGroupMembership, DeleteGroupMembership, GetGroupMembershipId, ListGroupMemberships,
//! ListGroupMembershipsForMember, IsMemberInGroups).
//! The identity store is the one an account's Identity Center instance owns.

mod attributes;
mod fields;
mod groups;
mod memberships;
#[cfg(test)]
mod tests;
mod users;
pub(crate) mod writes;
use crate::IdentityCenterError;
use crate::request::{allow, signed_document};
use async_trait::async_trait;
#[cfg(test)]
pub(crate) use attributes::has_external_id;
pub(crate) use attributes::{attributes, describe, user_name};
use fields::identity_store_id;
pub(crate) use fields::new_id;
use serde_json::Value;
use std::sync::Arc;
use tessera_audit::{EventDetails, Resource};
use tessera_authz::Authorizer;
use tessera_authz::directory::DirectoryView;
use tessera_core::{Caller, Deployment, RequestMeta};
use tessera_service::{Ctx, Reply, Routing, Service, ServiceSpec};
use tessera_store::{IdentityCenterStore, InstanceRecord};
use tessera_wire::CommonError;
use tessera_wire::{AwsError, Protocol};

tessera_service::operations! {
    /// The identitystore operations Tessera implements so far.
    #[derive(Copy)]
    pub enum IdentityStoreOp {
        CreateUser,
        DescribeUser,
        ListUsers,
        DeleteUser,
        GetUserId,
        UpdateUser,
        CreateGroup,
        DescribeGroup,
        ListGroups,
        DeleteGroup,
        GetGroupId,
        UpdateGroup,
        CreateGroupMembership,
        DescribeGroupMembership,
        DeleteGroupMembership,
        GetGroupMembershipId,
        ListGroupMemberships,
        ListGroupMembershipsForMember,
        IsMemberInGroups,
    }
}

/// The identitystore service's declaration.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "identitystore",
    signing_names: &["identitystore"],
    protocol: Protocol::Json11,
    event_source: "identitystore.amazonaws.com",
    routing: Routing::JsonTarget {
        prefix: "AWSIdentityStore",
    },
};

type R<T> = Result<T, IdentityCenterError>;

#[derive(Debug, Clone)]
pub struct IdentityStoreService {
    store: Arc<dyn IdentityCenterStore>,
    /// The directory view every user and membership write is folded into.
    directory: Arc<DirectoryView>,
    authz: Authorizer,
    deployment: Deployment,
}

fn invalid(field: &str, constraint: &str) -> IdentityCenterError {
    IdentityCenterError::Common(CommonError::Validation(format!(
        "1 validation error detected: Value at '{field}' failed to satisfy constraint: {constraint}"
    )))
}

fn required(field: &str) -> IdentityCenterError {
    invalid(field, "Member must not be null")
}

fn not_found(kind: &str, id: &str) -> IdentityCenterError {
    let resource_type = match kind {
        "User" => "USER",
        "Group" => "GROUP",
        "Membership" => "GROUP_MEMBERSHIP",
        _ => "IDENTITY_STORE",
    };
    IdentityCenterError::NotFound {
        message: format!("{kind} {id} does not exist."),
        resource_type,
        resource_id: Some(id.to_owned()),
    }
}

#[async_trait]
impl Service for IdentityStoreService {
    type Op = IdentityStoreOp;
    type Error = IdentityCenterError;

    fn spec(&self) -> &'static ServiceSpec {
        &SPEC
    }

    async fn call(&self, op: IdentityStoreOp, ctx: &Ctx<'_>) -> R<Reply> {
        let (caller, doc) = signed_document(ctx, "identitystore")?;
        self.run(op, caller, ctx.meta, doc).await
    }

    fn to_aws(&self, e: &IdentityCenterError) -> AwsError {
        e.to_aws()
    }
}

impl IdentityStoreService {
    pub fn new(
        store: Arc<dyn IdentityCenterStore>,
        directory: Arc<DirectoryView>,
        authz: Authorizer,
        deployment: Deployment,
    ) -> IdentityStoreService {
        IdentityStoreService {
            store,
            directory,
            authz,
            deployment,
        }
    }

    /// Run one operation for an authenticated caller with its JSON request document.
    pub async fn run(
        &self,
        op: IdentityStoreOp,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        use IdentityStoreOp::*;
        let store_id = identity_store_id(doc)?;
        match op {
            CreateUser => self.create_user(caller, meta, store_id, doc).await,
            DescribeUser => self.describe_user(caller, meta, store_id, doc).await,
            ListUsers => self.list_users(caller, meta, store_id, doc).await,
            DeleteUser => self.delete_user(caller, meta, store_id, doc).await,
            GetUserId => self.get_user_id(caller, meta, store_id, doc).await,
            UpdateUser => self.update_user(caller, meta, store_id, doc).await,
            UpdateGroup => self.update_group(caller, meta, store_id, doc).await,
            CreateGroup => self.create_group(caller, meta, store_id, doc).await,
            DescribeGroup => self.describe_group(caller, meta, store_id, doc).await,
            ListGroups => self.list_groups(caller, meta, store_id, doc).await,
            DeleteGroup => self.delete_group(caller, meta, store_id, doc).await,
            GetGroupId => self.get_group_id(caller, meta, store_id, doc).await,
            CreateGroupMembership => self.create_membership(caller, meta, store_id, doc).await,
            DescribeGroupMembership => self.describe_membership(caller, meta, store_id, doc).await,
            DeleteGroupMembership => self.delete_membership(caller, meta, store_id, doc).await,
            GetGroupMembershipId => self.get_membership_id(caller, meta, store_id, doc).await,
            ListGroupMemberships => {
                self.list_group_memberships(caller, meta, store_id, doc)
                    .await
            }
            ListGroupMembershipsForMember => {
                self.list_memberships_for_member(caller, meta, store_id, doc)
                    .await
            }
            IsMemberInGroups => self.is_member_in_groups(caller, meta, store_id, doc).await,
        }
    }

    fn store_arn(&self, caller: &Caller, store_id: &str) -> String {
        format!(
            "arn:{}:identitystore::{}:identitystore/{store_id}",
            self.deployment.partition, caller.account
        )
    }

    fn group_arn(&self, group_id: &str) -> String {
        format!(
            "arn:{}:identitystore:::group/{group_id}",
            self.deployment.partition
        )
    }

    fn membership_arn(&self, membership_id: &str) -> String {
        format!(
            "arn:{}:identitystore:::membership/{membership_id}",
            self.deployment.partition
        )
    }

    fn user_arn(&self, user_id: &str) -> String {
        format!(
            "arn:{}:identitystore:::user/{user_id}",
            self.deployment.partition
        )
    }

    fn allow(&self, caller: &Caller, meta: &RequestMeta, action: &str, resource: &str) -> R<()> {
        allow(&self.authz, caller, meta, action, resource)
    }

    /// The caller account's instance owning this identity store (another account's is not
    /// found).
    async fn owned_store(&self, caller: &Caller, store_id: &str) -> R<InstanceRecord> {
        self.store
            .instance_by_identity_store(store_id)
            .await?
            .filter(|i| i.owner_account_id == caller.account.as_str())
            .ok_or_else(|| not_found("Identity store", store_id))
    }

    fn details(
        &self,
        caller: &Caller,
        store_id: &str,
        params: Value,
        read_only: bool,
    ) -> EventDetails {
        EventDetails {
            user_identity: None,
            request_parameters: params,
            response_elements: Value::Null,
            resources: vec![Resource {
                account_id: Some(caller.account.to_string()),
                kind: "AWS::IdentityStore::IdentityStore".into(),
                arn: self.store_arn(caller, store_id),
            }],
            read_only,
            additional_event_data: serde_json::Value::Null,
        }
    }
}
