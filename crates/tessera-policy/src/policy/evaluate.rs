//! Evaluation of one policy against a request: which statements apply, and the effect.

use super::{Effect, Evaluation, Policy, Statement};
use crate::context::RequestContext;
use crate::principal::PrincipalMatch;

impl Statement {
    /// `None` if the statement does not apply, else how the principal matched.
    fn applies(&self, req: &RequestContext) -> Option<PrincipalMatch> {
        let ctx = &req.context;
        let action_hit = self
            .actions
            .iter()
            .any(|p| p.matches(&req.action, true, ctx));
        if action_hit == self.not_action {
            return None;
        }
        if let Some((negated, pats)) = &self.resources {
            let hit = pats.iter().any(|p| p.matches(&req.resource, ctx));
            if hit == *negated {
                return None;
            }
        }
        let pm = match &self.principal {
            None => PrincipalMatch::Yes,
            Some((false, spec)) => match spec.matches(req.principal.as_ref()) {
                PrincipalMatch::No => return None,
                m => m,
            },
            Some((true, spec)) if spec.exempts(req.principal.as_ref()) => return None,
            Some((true, _)) => PrincipalMatch::Yes,
        };
        if self.conditions.iter().all(|c| c.evaluate(ctx)) {
            Some(pm)
        } else {
            None
        }
    }
}

impl Policy {
    /// Evaluates this policy alone: `Some(Deny)` if any applicable statement
    /// denies, `Some(Allow)` if any applicable statement allows, `None` if no
    /// statement applies.
    pub fn evaluate(&self, req: &RequestContext) -> Option<Effect> {
        let mut allowed = false;
        for s in &self.statements {
            if s.effect == Effect::Allow && allowed {
                continue;
            }
            if s.applies(req).is_some() {
                match s.effect {
                    Effect::Deny => return Some(Effect::Deny),
                    Effect::Allow => allowed = true,
                }
            }
        }
        allowed.then_some(Effect::Allow)
    }

    /// Like [`Policy::evaluate`], also telling whether an allow named the
    /// caller's own user / session ARN.
    pub fn evaluate_detailed(&self, req: &RequestContext) -> Evaluation {
        let mut out = Evaluation::default();
        for (i, s) in self.statements.iter().enumerate() {
            if s.effect == Effect::Allow && out.allowed_directly {
                continue;
            }
            if let Some(pm) = s.applies(req) {
                match s.effect {
                    Effect::Deny => {
                        return Evaluation {
                            explicit_deny: true,
                            deny_statement: u32::try_from(i).ok(),
                            ..Evaluation::default()
                        };
                    }
                    Effect::Allow => {
                        out.allowed = true;
                        out.allowed_beyond_account |= pm != PrincipalMatch::Account;
                        out.allowed_directly |= pm == PrincipalMatch::Direct;
                    }
                }
            }
        }
        out
    }
}
