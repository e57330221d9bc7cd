//! Which of an agent's permission options a decision of the page means.
//! Option ids differ per agent (`proceed_once`, `once`, `approved`, …):
//! options are chosen by kind, never by position or id.

use crate::protocol::Decision;
use agent_client_protocol_schema::v1::{PermissionOption, PermissionOptionKind};

/// The option id to answer with, or None: answer `cancelled` (the agent
/// offered nothing of that kind).
pub fn option_for(options: &[PermissionOption], decision: Decision) -> Option<String> {
    use PermissionOptionKind::*;
    let preference: &[PermissionOptionKind] = match decision {
        Decision::Allow => &[AllowOnce, AllowAlways],
        Decision::AllowAlways | Decision::SkipAll => &[AllowAlways, AllowOnce],
        Decision::Deny => &[RejectOnce, RejectAlways],
    };
    preference.iter().find_map(|kind| {
        options
            .iter()
            .find(|o| o.kind == *kind)
            .map(|o| o.option_id.0.to_string())
    })
}

/// The decision an explicitly chosen option stands for.
pub fn decision_of(options: &[PermissionOption], option_id: &str) -> Option<Decision> {
    let option = options.iter().find(|o| &*o.option_id.0 == option_id)?;
    Some(match option.kind {
        PermissionOptionKind::AllowOnce => Decision::Allow,
        PermissionOptionKind::AllowAlways => Decision::AllowAlways,
        _ => Decision::Deny,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(json: &str) -> Vec<PermissionOption> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn decisions_pick_by_kind_whatever_the_ids_and_order() {
        // Gemini's options, as recorded in ACP-AGENTS.md.
        let gemini = options(
            r#"[{"optionId":"proceed_always","name":"Allow for this session","kind":"allow_always"},
                {"optionId":"proceed_once","name":"Allow","kind":"allow_once"},
                {"optionId":"cancel","name":"Reject","kind":"reject_once"}]"#,
        );
        assert_eq!(
            option_for(&gemini, Decision::Allow).unwrap(),
            "proceed_once"
        );
        assert_eq!(
            option_for(&gemini, Decision::AllowAlways).unwrap(),
            "proceed_always"
        );
        assert_eq!(option_for(&gemini, Decision::Deny).unwrap(), "cancel");
        // codex-acp offers no allow_always and no reject_once.
        let codex = options(
            r#"[{"optionId":"approved","name":"Yes","kind":"allow_once"},
                {"optionId":"abort","name":"No","kind":"reject_always"}]"#,
        );
        assert_eq!(
            option_for(&codex, Decision::AllowAlways).unwrap(),
            "approved"
        );
        assert_eq!(option_for(&codex, Decision::Deny).unwrap(), "abort");
        assert_eq!(option_for(&[], Decision::Allow), None);
        assert_eq!(decision_of(&gemini, "cancel"), Some(Decision::Deny));
        assert_eq!(
            decision_of(&gemini, "proceed_always"),
            Some(Decision::AllowAlways)
        );
        assert_eq!(decision_of(&gemini, "other"), None);
    }
}
