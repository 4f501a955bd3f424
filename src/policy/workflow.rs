//! The members' side of the cycle as a policy sets it (`[workflow]`): leave lead
//! time, what the platform proposes (EQ-3, TW-5), and which items a member may
//! declare (SD-2). Pure: the services in `crate::cycle` read it.

use serde::Serialize;

use super::model::{Effect, ItemSubject, Policy, Trigger};

/// The members' side of the cycle as the policy sets it (`[workflow]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workflow {
    /// A member asks for leave at least this many minutes before the activity starts.
    pub leave_lead_minutes: i64,
    /// Absences proposed at a session's close (EQ-3); none where absences do not count.
    pub absence: Option<AbsenceProposal>,
    /// Months without attending proposed at month end (TW-5).
    pub inactive: Option<InactiveProposal>,
}

impl Workflow {
    pub const DEFAULT_LEAVE_LEAD_MINUTES: i64 = 60;
}

impl Default for Workflow {
    fn default() -> Self {
        Self {
            leave_lead_minutes: Self::DEFAULT_LEAVE_LEAD_MINUTES,
            absence: None,
            inactive: None,
        }
    }
}

/// EQ-3: an absence is proposed as `without_leave` (−1) or, with approved leave,
/// `with_leave` (−0.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AbsenceProposal {
    pub rule: String,
    pub without_leave: String,
    pub with_leave: String,
}

/// TW-5: `months` consecutive months without attending proposes `item` (the veto).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InactiveProposal {
    pub rule: String,
    pub months: u32,
    pub item: String,
}

/// An item a member may declare, as the policy names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Declarable {
    pub code: String,
    pub label: String,
    pub rule: String,
}

impl Policy {
    /// Items a member may declare themselves (SD-2): person items of rules that award
    /// points; deductions and vetoes are found by the branch, never declared.
    pub fn declarable_items(&self) -> Vec<Declarable> {
        let mut out: Vec<Declarable> = Vec::new();
        for rule in &self.rules {
            let person_index = self.indexes.get(rule.index).is_some_and(|i| !i.orgs);
            if !person_index || rule.effect == Effect::Deduct || rule.outcome.is_some() {
                continue;
            }
            for source in &rule.sources {
                let Trigger::Item(codes) = &source.on else {
                    continue;
                };
                for code in codes {
                    if self.item(ItemSubject::Person, code).is_none()
                        || out.iter().any(|d| &d.code == code)
                    {
                        continue;
                    }
                    out.push(Declarable {
                        code: code.clone(),
                        label: source.label.clone().unwrap_or_else(|| rule.label.clone()),
                        rule: rule.id.to_string(),
                    });
                }
            }
        }
        out
    }

    /// What people call an item of this policy (its rule's label) and the rule's ID.
    pub fn item_label(&self, code: &str) -> Option<(String, String)> {
        self.rules.iter().find_map(|rule| {
            rule.sources.iter().find_map(|s| match &s.on {
                Trigger::Item(codes) if codes.iter().any(|c| c == code) => Some((
                    s.label.clone().unwrap_or_else(|| rule.label.clone()),
                    rule.id.to_string(),
                )),
                _ => None,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::policy::PolicySet;

    #[test]
    fn presets_set_the_workflow_eq_3_tw_5() {
        let set = PolicySet::builtin().unwrap();
        let erqi = set.get("erqi-2021").unwrap();
        let a = erqi.workflow.absence.as_ref().unwrap();
        assert_eq!(
            (a.without_leave.as_str(), a.with_leave.as_str()),
            ("absence_unexcused", "absence_excused")
        );
        assert_eq!(erqi.workflow.leave_lead_minutes, 60);
        let town = set.get("town-2019").unwrap();
        assert_eq!(town.workflow.inactive.as_ref().unwrap().months, 6);
        // Absences do not count under xihu-2017 (XH-15.1 counts days attended).
        let xihu = set.get("xihu-2017").unwrap();
        assert!(xihu.workflow.absence.is_none() && xihu.workflow.inactive.is_none());
    }

    #[test]
    fn declarable_items_are_awards_only_sd_2() {
        let set = PolicySet::builtin().unwrap();
        let sd = set.get("sdtbu-2018").unwrap();
        let codes: Vec<String> = sd.declarable_items().into_iter().map(|d| d.code).collect();
        assert!(codes.contains(&"contribution".to_owned()), "{codes:?}");
        assert!(!codes.contains(&"negative_list".to_owned()), "{codes:?}");
        let erqi = set.get("erqi-2021").unwrap();
        let codes: Vec<String> = erqi
            .declarable_items()
            .into_iter()
            .map(|d| d.code)
            .collect();
        assert!(!codes.iter().any(|c| c.starts_with("absence")), "{codes:?}");
    }
}
