//! Application assignments: CreateApplicationAssignment, DescribeApplicationAssignment,
//! ListApplicationAssignments and DeleteApplicationAssignment.

use super::*;

pub(super) fn principal(doc: &Value) -> R<(&str, &str)> {
    let id = required(doc, "PrincipalId", "principalId")?;
    if id.len() > 47 || !PRINCIPAL_ID.is_match(id) {
        return Err(bad_pattern(
            "principalId",
            id,
            "([0-9a-f]{10}-|)[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}",
        ));
    }
    let t = required(doc, "PrincipalType", "principalType")?;
    if t != "USER" && t != "GROUP" {
        return Err(validation(format!(
            "1 validation error detected: Value '{t}' at 'principalType' failed to satisfy constraint: Member must satisfy enum value set: [USER, GROUP]"
        )));
    }
    Ok((t, id))
}

impl SsoAdminService {
    pub(crate) async fn create_application_assignment(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        let (t, id) = principal(doc)?;
        self.allow(caller, meta, "sso:CreateApplicationAssignment", arn)?;
        let (_, instance) = self.owned_application(caller, arn).await?;
        let exists = match t {
            "USER" => self
                .store
                .get_identity_user(&instance.identity_store_id, id)
                .await?
                .is_some(),
            _ => self
                .store
                .get_identity_group(&instance.identity_store_id, id)
                .await?
                .is_some(),
        };
        if !exists {
            return Err(IdentityCenterError::ResourceNotFound(format!(
                "The {} {id} does not exist in the instance's identity store.",
                t.to_lowercase()
            )));
        }
        let key = format!("{t}:{id}");
        if self
            .get_setting(arn, AppSetting::Assignment, &key)
            .await?
            .is_some()
        {
            return Err(IdentityCenterError::Conflict(
                "The principal is already assigned to the application.".into(),
            ));
        }
        self.put_setting(
            arn,
            AppSetting::Assignment,
            &key,
            json!({"PrincipalType": t, "PrincipalId": id}),
        )
        .await?;
        Ok(reply(
            json!({}),
            json!({"applicationArn": arn, "principalId": id, "principalType": t}),
            vec![app_resource(arn)],
            false,
        ))
    }

    pub(crate) async fn describe_application_assignment(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        let (t, id) = principal(doc)?;
        self.allow(caller, meta, "sso:DescribeApplicationAssignment", arn)?;
        self.owned_application(caller, arn).await?;
        self.get_setting(arn, AppSetting::Assignment, &format!("{t}:{id}"))
            .await?
            .ok_or_else(|| {
                IdentityCenterError::ResourceNotFound("The assignment does not exist.".into())
            })?;
        Ok(reply(
            json!({"ApplicationArn": arn, "PrincipalType": t, "PrincipalId": id}),
            json!({"applicationArn": arn, "principalId": id, "principalType": t}),
            vec![app_resource(arn)],
            true,
        ))
    }

    pub(crate) async fn list_application_assignments(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        let paging = Paging::parse(doc)?;
        self.allow(caller, meta, "sso:ListApplicationAssignments", arn)?;
        self.owned_application(caller, arn).await?;
        let all = self.list_settings(arn, AppSetting::Assignment).await?;
        let body = paging.page(&all, "ApplicationAssignments", |(k, _)| k, |(_, d)| {
            json!({"ApplicationArn": arn, "PrincipalType": d["PrincipalType"], "PrincipalId": d["PrincipalId"]})
        })?;
        Ok(reply(
            body,
            json!({"applicationArn": arn}),
            vec![app_resource(arn)],
            true,
        ))
    }

    pub(crate) async fn delete_application_assignment(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        let (t, id) = principal(doc)?;
        self.allow(caller, meta, "sso:DeleteApplicationAssignment", arn)?;
        self.owned_application(caller, arn).await?;
        if !self
            .delete_setting(arn, AppSetting::Assignment, &format!("{t}:{id}"))
            .await?
        {
            return Err(IdentityCenterError::ResourceNotFound(
                "The assignment does not exist.".into(),
            ));
        }
        Ok(reply(
            json!({}),
            json!({"applicationArn": arn, "principalId": id, "principalType": t}),
            vec![app_resource(arn)],
            false,
        ))
    }
}
