//! The one Identity Center model the sso-admin API writes and the token endpoint reads: the
//! kinds of stored objects and application settings, and the change counter their writes
//! bump.

/// The change counter of sso-admin configuration (issuers, applications, their settings).
pub const COUNTER: &str = "identity-center";

/// A stored sso-admin object's kind (`sso_objects.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    TrustedTokenIssuer,
    Application,
}

impl Kind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::TrustedTokenIssuer => "tti",
            Kind::Application => "app",
        }
    }
}

/// An application setting's kind (`sso_app_settings.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppSetting {
    /// Keyed by grant type.
    Grant,
    /// Keyed by scope.
    Scope,
    /// Keyed by authentication method type (`IAM`).
    AuthenticationMethod,
    /// One per application, key `""`.
    AssignmentConfiguration,
    /// Keyed by `USER:<id>` or `GROUP:<id>`.
    Assignment,
}

impl AppSetting {
    pub const fn as_str(self) -> &'static str {
        match self {
            AppSetting::Grant => "grant",
            AppSetting::Scope => "scope",
            AppSetting::AuthenticationMethod => "auth",
            AppSetting::AssignmentConfiguration => "assignment-config",
            AppSetting::Assignment => "assignment",
        }
    }
}
