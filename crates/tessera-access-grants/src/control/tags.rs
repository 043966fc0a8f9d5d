//! Tags of the instance, locations and grants: tag, untag and list.

use super::*;

impl AccessGrantsService {
    /// The Access Grants resource an ARN names in the request's account.
    pub(super) fn tagged(&self, r: &Req<'_>, arn: &str) -> R<(AgResource, String, String)> {
        let arn = arn.to_owned();
        let base = self.instance_arn(&r.account);
        let bad = || {
            AgError::InvalidRequest(format!(
                "{arn} is not the ARN of an Access Grants resource of account {}",
                r.account
            ))
        };
        if arn.len() > 1011 {
            return Err(bad());
        }
        let rest = arn.strip_prefix(&base).ok_or_else(bad)?;
        let (kind, id) = if rest.is_empty() {
            (AgResource::Instance, "default".to_owned())
        } else if let Some(id) = rest.strip_prefix("/location/") {
            (AgResource::Location, id.to_owned())
        } else if let Some(id) = rest.strip_prefix("/grant/") {
            (AgResource::Grant, id.to_owned())
        } else {
            return Err(bad());
        };
        if !validate::id_ok(&id) {
            return Err(bad());
        }
        Ok((kind, id, arn))
    }

    pub(super) async fn current_tags(
        &self,
        r: &Req<'_>,
        kind: AgResource,
        id: &str,
    ) -> R<Vec<(String, String)>> {
        Ok(match kind {
            AgResource::Instance => self.instance(&r.account).await?.tags,
            AgResource::Location => self.location(r, id).await?.tags,
            AgResource::Grant => self.grant(r, id).await?.tags,
        })
    }

    pub(crate) async fn tag(&self, r: &Req<'_>, arn: &str, add: bool) -> R<Reply> {
        let (kind, id, arn) = self.tagged(r, arn)?;
        self.check(
            r,
            if add {
                "s3:TagResource"
            } else {
                "s3:UntagResource"
            },
            &arn,
        )?;
        let mut tags = self.current_tags(r, kind, &id).await?;
        let params = if add {
            let e = r.xml("TagResourceRequest")?;
            let new = parse_tags(e.child("Tags"))?;
            if new.is_empty() {
                return Err(AgError::InvalidRequest(
                    "Missing required field Tags".into(),
                ));
            }
            for (k, v) in &new {
                match tags.iter_mut().find(|(ek, _)| ek == k) {
                    Some(t) => t.1 = v.clone(),
                    None => tags.push((k.clone(), v.clone())),
                }
            }
            if tags.len() > 50 {
                return Err(AgError::TooManyTags);
            }
            json!({"resourceArn": arn, "tags": new.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>()})
        } else {
            let keys = r.params("tagKeys");
            if keys.is_empty() {
                return Err(AgError::InvalidRequest(
                    "Missing required parameter tagKeys".into(),
                ));
            }
            tags.retain(|(k, _)| !keys.contains(&k.as_str()));
            json!({"resourceArn": arn, "tagKeys": keys})
        };
        if !self.store.set_ag_tags(&r.account, kind, &id, &tags).await? {
            return Err(match kind {
                AgResource::Instance => AgError::InstanceNotExists,
                AgResource::Location => AgError::NoSuchLocation(id),
                AgResource::Grant => AgError::NoSuchGrant(id),
            });
        }
        let kind_name = match kind {
            AgResource::Instance => INSTANCE_TYPE,
            AgResource::Location => LOCATION_TYPE,
            AgResource::Grant => GRANT_TYPE,
        };
        Ok(empty_reply(details(
            &r.account,
            params,
            &[(kind_name, &arn)],
            false,
        )))
    }

    pub(crate) async fn list_tags(&self, r: &Req<'_>, arn: &str) -> R<Reply> {
        let (kind, id, arn) = self.tagged(r, arn)?;
        self.check(r, "s3:ListTagsForResource", &arn)?;
        let tags = self.current_tags(r, kind, &id).await?;
        let xml = document("ListTagsForResourceResult", |w| write_tags(w, &tags));
        Ok(xml_reply(
            xml,
            details(&r.account, json!({"resourceArn": arn}), &[], true),
        ))
    }
}
