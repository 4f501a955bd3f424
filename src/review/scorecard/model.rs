//! The scorecard as data, read from a policy's organization index (no item retyped):
//! base items (JH-2, the rules with an `opening`: weight = opening), vanguard items
//! (JH-3, awarding rules with a `cap`: weight = cap), the one-vote vetoes (JH-4, rules
//! with `outcome = "veto"`), the bottom-line deductions (JH-4: per member counted, the
//! rule's `schedule`; sanctions, the rule's `levels`) and the ratings (JH-5, the
//! index's bands, labelled by `[assessment]`). `compute` adds a scorecard up. Pure.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::policy::{AssessmentSettings, Effect, Index, Points, Policy, RuleOutcome, Trigger};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// 基本分 (JH-2).
    Base,
    /// 先锋分 (JH-3).
    Vanguard,
}

impl Part {
    pub fn label(self) -> &'static str {
        match self {
            Self::Base => "基本分",
            Self::Vanguard => "先锋分",
        }
    }
}

/// One scored indicator: what the branch and the reviewer score, 0 … weight (JH-2.1).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Indicator {
    pub code: String,
    pub label: String,
    /// 政治建设 … 制度建设 for base items, 先锋分 for vanguard items.
    pub category: String,
    pub part: Part,
    #[schema(value_type = String)]
    pub weight: Decimal,
    pub rule_id: String,
}

/// A one-vote-veto item (JH-4).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VetoItem {
    pub code: String,
    pub label: String,
}

/// JH-4: members with 15 or more bottom-line points deducted, by count.
#[derive(Debug, Clone)]
pub struct PerMember {
    pub code: String,
    pub label: String,
    pub schedule_label: Option<String>,
    /// Points of the 1st, 2nd … member counted; the last repeats.
    pub schedule: Vec<Decimal>,
}

impl PerMember {
    pub fn deduction(&self, count: u32) -> Decimal {
        (0..count as usize)
            .map(|i| {
                self.schedule
                    .get(i)
                    .or(self.schedule.last())
                    .copied()
                    .unwrap_or_default()
            })
            .sum()
    }
}

/// JH-4: sanctioned members, points by level.
#[derive(Debug, Clone)]
pub struct Sanctions {
    pub code: String,
    pub label: String,
    pub levels: Vec<(String, Decimal)>,
}

impl Sanctions {
    pub fn points(&self, level: &str) -> Option<Decimal> {
        self.levels
            .iter()
            .find(|(l, _)| l == level)
            .map(|(_, p)| *p)
    }
}

/// The members' threshold of JH-4: "被扣 15 分以上", and 以上 includes 15.
pub const MEMBER_THRESHOLD: Decimal = Decimal::from_parts(15, 0, 0, false, 0);

/// A policy's scorecard.
#[derive(Debug, Clone)]
pub struct Sheet {
    pub policy: String,
    pub title: String,
    pub index_label: String,
    pub indicators: Vec<Indicator>,
    pub vetoes: Vec<VetoItem>,
    pub per_member: Option<PerMember>,
    pub sanctions: Option<Sanctions>,
    pub settings: AssessmentSettings,
    index: Index,
}

fn category_of(label: &str) -> String {
    let head: String = label
        .chars()
        .take_while(|c| !c.is_ascii_digit() && *c != '·')
        .collect();
    if head.is_empty() {
        label.to_owned()
    } else {
        head
    }
}

/// The scorecard of a policy: `None` when it has no organization index with
/// `[assessment]` or no scored items.
pub fn sheet(policy: &Policy) -> Option<Sheet> {
    let settings = policy.assessment.clone()?;
    let ix = policy.org_index()?;
    let index = policy.indexes.get(ix)?.clone();
    let mut indicators = Vec::new();
    let mut vetoes = Vec::new();
    let mut per_member = None;
    let mut sanctions = None;
    for rule in policy.rules.iter().filter(|r| r.index == ix) {
        for source in &rule.sources {
            let Trigger::Item(codes) = &source.on else {
                continue;
            };
            for code in codes {
                if rule.outcome == Some(RuleOutcome::Veto) {
                    vetoes.push(VetoItem {
                        code: code.clone(),
                        label: source.label.clone().unwrap_or_else(|| rule.label.clone()),
                    });
                } else if let Some(weight) = rule.opening {
                    indicators.push(Indicator {
                        code: code.clone(),
                        label: rule.label.clone(),
                        category: category_of(&rule.label),
                        part: Part::Base,
                        weight,
                        rule_id: rule.id.to_string(),
                    });
                } else if rule.effect == Effect::Award {
                    if let Some(cap) = rule.cap {
                        indicators.push(Indicator {
                            code: code.clone(),
                            label: rule.label.clone(),
                            category: Part::Vanguard.label().to_owned(),
                            part: Part::Vanguard,
                            weight: cap,
                            rule_id: rule.id.to_string(),
                        });
                    }
                } else if let Some(schedule) = &rule.schedule {
                    per_member = Some(PerMember {
                        code: code.clone(),
                        label: rule.label.clone(),
                        schedule_label: schedule.label.clone(),
                        schedule: schedule.points.clone(),
                    });
                } else if let Points::Levels { values, .. } = &source.points {
                    sanctions = Some(Sanctions {
                        code: code.clone(),
                        label: rule.label.clone(),
                        levels: values.clone(),
                    });
                }
            }
        }
    }
    if indicators.is_empty() {
        return None;
    }
    Some(Sheet {
        policy: policy.name.clone(),
        title: policy.title.clone(),
        index_label: index.label.clone(),
        indicators,
        vetoes,
        per_member,
        sanctions,
        settings,
        index,
    })
}

/// What a scorecard adds up to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub base: Decimal,
    pub vanguard: Decimal,
    /// Bottom-line deductions (a magnitude).
    pub bottom: Decimal,
    /// base + vanguard − bottom.
    pub items_total: Decimal,
    pub vetoed: bool,
    /// The result: items_total, or 0 when vetoed (the policy's JH-4 choice).
    pub total: Decimal,
    pub rating: Option<String>,
    pub rating_label: Option<String>,
}

impl Sheet {
    pub fn indicator(&self, code: &str) -> Option<&Indicator> {
        self.indicators.iter().find(|i| i.code == code)
    }

    pub fn veto(&self, code: &str) -> Option<&VetoItem> {
        self.vetoes.iter().find(|v| v.code == code)
    }

    pub fn rating_label<'a>(&'a self, value: &'a str) -> &'a str {
        self.settings.rating_label(value)
    }

    /// The ratings from the best down (the index's bands, reversed).
    pub fn rating_order(&self) -> Vec<String> {
        self.index
            .ratings
            .iter()
            .rev()
            .map(|b| b.value.to_string())
            .collect()
    }

    pub fn passing(&self, rating: &str) -> bool {
        self.settings.passing.iter().any(|p| p == rating)
    }

    /// JH-1: base + vanguard − bottom line; JH-4: a veto makes the year 0 and the rating
    /// that of 0 (后进整转); JH-5: the rating from the index's bands.
    pub fn compute(
        &self,
        scores: &HashMap<String, Decimal>,
        members_counted: u32,
        sanction_levels: &[String],
        vetoed: bool,
    ) -> Outcome {
        let sum = |part: Part| -> Decimal {
            self.indicators
                .iter()
                .filter(|i| i.part == part)
                .filter_map(|i| scores.get(&i.code))
                .sum()
        };
        let base = sum(Part::Base);
        let vanguard = sum(Part::Vanguard);
        let mut bottom = self
            .per_member
            .as_ref()
            .map(|p| p.deduction(members_counted))
            .unwrap_or_default();
        if let Some(s) = &self.sanctions {
            bottom += sanction_levels
                .iter()
                .filter_map(|l| s.points(l))
                .sum::<Decimal>();
        }
        let items_total = base + vanguard - bottom;
        let total = if vetoed { Decimal::ZERO } else { items_total };
        let rating = self.index.rating(total).map(str::to_owned);
        let rating_label = rating.as_deref().map(|r| self.rating_label(r).to_owned());
        Outcome {
            base,
            vanguard,
            bottom,
            items_total,
            vetoed,
            total,
            rating,
            rating_label,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn jinhua() -> Sheet {
        let set = crate::policy::PolicySet::builtin().unwrap();
        sheet(&set.get("jinhua-2018").unwrap()).unwrap()
    }

    #[test]
    fn jh_2_the_sheet_is_read_from_the_preset() {
        let s = jinhua();
        let base: Vec<_> = s
            .indicators
            .iter()
            .filter(|i| i.part == Part::Base)
            .collect();
        let vanguard: Vec<_> = s
            .indicators
            .iter()
            .filter(|i| i.part == Part::Vanguard)
            .collect();
        assert_eq!(base.len(), 41);
        assert_eq!(
            base.iter().map(|i| i.weight).sum::<Decimal>(),
            Decimal::from(80)
        );
        assert_eq!(
            vanguard.iter().map(|i| i.weight).sum::<Decimal>(),
            Decimal::from(40)
        );
        assert_eq!(s.vetoes.len(), 4);
        assert_eq!(base[0].category, "政治建设");
        let pm = s.per_member.as_ref().unwrap();
        assert!(pm.label.contains("15 分及以上"), "{}", pm.label);
        assert_eq!(pm.deduction(1), Decimal::from(1));
        assert_eq!(pm.deduction(2), Decimal::from(2));
        assert_eq!(pm.deduction(3), Decimal::from(5));
        assert_eq!(pm.deduction(7), Decimal::from(5));
        assert_eq!(
            s.sanctions.as_ref().unwrap().points("expulsion"),
            Some(Decimal::from(5))
        );
    }

    #[test]
    fn jh_5_ratings_come_from_the_bands() {
        let s = jinhua();
        let at = |n: i64| {
            let mut scores = HashMap::new();
            scores.insert("political_1".to_owned(), Decimal::from(n));
            s.compute(&scores, 0, &[], false).rating_label.unwrap()
        };
        assert_eq!(at(112), "优秀");
        assert_eq!(at(110), "优秀");
        assert_eq!(at(92), "达标");
        assert_eq!(at(90), "达标");
        assert_eq!(at(88), "未达标");
        assert_eq!(at(80), "未达标");
        assert_eq!(at(79), "后进整转");
        let mut scores = HashMap::new();
        scores.insert("political_1".to_owned(), Decimal::from(112));
        let o = s.compute(&scores, 0, &[], true);
        assert_eq!(o.rating_label.as_deref(), Some("后进整转"));
        assert_eq!(o.total, Decimal::ZERO);
    }
}
