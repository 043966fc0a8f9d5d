//! Audit records and the port they leave through.
//!
//! Every request yields exactly one [`AuditRecord`], shaped like a CloudTrail event, handed to
//! an [`AuditSink`]. Records never hold secrets: services put `HIDDEN_DUE_TO_SECURITY_REASONS`
//! where a secret or token would be, and credentials never appear in `responseElements`.
//!
//! The sinks here are deliberately simple ([`JsonLinesSink`] appends one JSON object per line
//! and flushes; [`MemorySink`] keeps records for tests). Hash-chaining, signed digests and
//! `tessera audit verify` are planned on top of this port.

use serde::Serialize;
use serde_json::Value;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

/// What secrets are replaced with in audit records.
pub const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// One CloudTrail-shaped event.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub event_version: &'static str,
    pub user_identity: Value,
    pub event_time: String,
    pub event_source: String,
    pub event_name: String,
    pub aws_region: String,
    #[serde(rename = "sourceIPAddress")]
    pub source_ip_address: String,
    pub user_agent: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    pub request_parameters: Value,
    pub response_elements: Value,
    #[serde(rename = "requestID")]
    pub request_id: String,
    #[serde(rename = "eventID")]
    pub event_id: String,
    pub read_only: bool,
    pub resources: Vec<Resource>,
    pub event_type: &'static str,
    pub management_event: bool,
    pub recipient_account_id: String,
    pub event_category: &'static str,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Resource {
    #[serde(rename = "accountId", skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(rename = "ARN")]
    pub arn: String,
}

/// What a service tells the server about a request it handled, for the audit record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventDetails {
    /// Overrides the `userIdentity` the server derives from the authenticated caller (for
    /// unsigned calls such as `AssumeRoleWithWebIdentity`, whose identity is the token's).
    pub user_identity: Option<Value>,
    pub request_parameters: Value,
    pub response_elements: Value,
    pub resources: Vec<Resource>,
    pub read_only: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit sink io: {0}")]
    Io(#[from] std::io::Error),
}

/// The port every request's audit record goes through.
pub trait AuditSink: Send + Sync + std::fmt::Debug {
    fn record(&self, record: &AuditRecord) -> Result<(), AuditError>;
}

/// Appends one JSON object per line to a file and flushes after each record.
#[derive(Debug)]
pub struct JsonLinesSink {
    file: Mutex<File>,
}

impl JsonLinesSink {
    pub fn open(path: &Path) -> Result<JsonLinesSink, AuditError> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(JsonLinesSink {
            file: Mutex::new(file),
        })
    }
}

impl AuditSink for JsonLinesSink {
    fn record(&self, record: &AuditRecord) -> Result<(), AuditError> {
        let mut line = serde_json::to_vec(record).expect("audit records serialise");
        line.push(b'\n');
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(&line)?;
        f.flush()?;
        Ok(())
    }
}

/// Keeps records in memory (tests, and `tessera dev` introspection).
#[derive(Debug, Default)]
pub struct MemorySink {
    records: Mutex<Vec<AuditRecord>>,
}

impl MemorySink {
    pub fn records(&self) -> Vec<AuditRecord> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl AuditSink for MemorySink {
    fn record(&self, record: &AuditRecord) -> Result<(), AuditError> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(record.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AuditRecord {
        AuditRecord {
            event_version: "1.11",
            user_identity: serde_json::json!({"type": "Root", "accountId": "111111111111"}),
            event_time: "2026-01-01T00:00:00Z".into(),
            event_source: "iam.amazonaws.com".into(),
            event_name: "CreateRole".into(),
            aws_region: "us-east-1".into(),
            source_ip_address: "127.0.0.1".into(),
            user_agent: "test".into(),
            error_code: None,
            error_message: None,
            request_parameters: serde_json::json!({"roleName": "R"}),
            response_elements: Value::Null,
            request_id: "r".into(),
            event_id: "e".into(),
            read_only: false,
            resources: vec![Resource {
                account_id: Some("111111111111".into()),
                kind: "AWS::IAM::Role".into(),
                arn: "arn:aws:iam::111111111111:role/R".into(),
            }],
            event_type: "AwsApiCall",
            management_event: true,
            recipient_account_id: "111111111111".into(),
            event_category: "Management",
        }
    }

    #[test]
    fn cloudtrail_field_names() {
        let v = serde_json::to_value(sample()).unwrap();
        for k in [
            "eventVersion",
            "userIdentity",
            "eventTime",
            "eventSource",
            "eventName",
            "awsRegion",
            "sourceIPAddress",
            "requestParameters",
            "responseElements",
            "requestID",
            "eventID",
            "readOnly",
            "resources",
            "eventType",
            "managementEvent",
            "recipientAccountId",
            "eventCategory",
        ] {
            assert!(v.get(k).is_some(), "missing {k}");
        }
        assert!(v.get("errorCode").is_none());
        assert_eq!(v["resources"][0]["ARN"], "arn:aws:iam::111111111111:role/R");
    }

    #[test]
    fn json_lines_appends() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("audit.jsonl");
        let s = JsonLinesSink::open(&p).unwrap();
        s.record(&sample()).unwrap();
        s.record(&sample()).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text.lines().count(), 2);
        for l in text.lines() {
            let v: Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["eventName"], "CreateRole");
        }
    }
}
