//! A loaded, validated policy: what the engine runs. Built from TOML by `spec.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::Serialize;

use super::engine::FastMap;
use super::facts::{ActivityKind, FieldValue, Fields, Method, Role};
use super::workflow::Workflow;

/// A policy: indexes, rules, year-end rules and group rules, plus the choices
/// it made where the source document is unclear.
#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    pub title: String,
    /// The regulation it implements.
    pub source: Option<String>,
    /// Where it was loaded from (a built-in path or a file).
    pub file: String,
    /// Every choice made where RULES.md says AMBIGUOUS (and other readings worth showing).
    pub choices: Vec<Choice>,
    pub indexes: Vec<Index>,
    pub rules: Vec<Rule>,
    pub year_end: Vec<YearEndRule>,
    pub groups: Vec<GroupRule>,
    /// How a fixed-day check-in is judged: its window and classes (XH-8.1, TW-2).
    pub checkin: CheckinWindow,
    /// Leave lead time and what the platform proposes to the secretary (EQ-3, TW-5).
    pub workflow: Workflow,
    /// How results are published and objected to (TW-6, SD-4, SD-5, EQ-4); `None`:
    /// the policy asks for no publicity (anything published takes the defaults).
    pub publicity: Option<PublicitySettings>,
    /// `[rewards]` (积分超市, TW-7): what a closed year's result earns; `None`: the
    /// policy turns no points into rewards.
    pub rewards: Option<Rewards>,
    /// How a branch scorecard's results are read (JH-5, JH-7); `None`: no scorecard.
    pub assessment: Option<AssessmentSettings>,
    pub(crate) dispatch: Vec<Dispatch>,
    pub(crate) items: HashMap<(ItemSubject, String), ItemSpec>,
}

/// A documented reading of an unclear rule, shown to users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Choice {
    pub rule_id: String,
    pub question: String,
    pub choice: String,
    /// The other readings the document allows (empty where the file names none).
    pub alternatives: Vec<String>,
}

/// How long after the start of a fixed activity day a check-in still counts, and
/// whether one after the start is late. The check-in layer reads it
/// (`checkin::judge`); the engine's tiers, where a policy has them, must agree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckinWindow {
    /// The rule that sets it (XH-8.1, TW-2 …).
    pub rule: String,
    /// Seconds after the start a check-in still counts, as late (XH-8.1: 15 minutes);
    /// `None`: any time of the activity's day counts, with no lateness (TW-2).
    pub late_seconds: Option<i64>,
}

/// `[publicity]`: which periods an organization publishes (公示), for how long, who may
/// object and how long the branch has to answer. Read by `review::publicity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicitySettings {
    /// The rule that asks for it (TW-6 …); empty for the defaults.
    pub rule: String,
    /// `month`, `quarter`, `half_year`, `year`: the periods that may be published.
    pub periods: Vec<String>,
    /// The shortest window in days (TW-6: at least 5).
    pub min_days: i64,
    /// The window offered by default.
    pub days: i64,
    /// Objections are answered by the window's end plus these days.
    pub answer_days: i64,
    /// Anyone without an account (SD-5 师生群众) may object on a public form.
    pub public_objections: bool,
    /// The list is ranked by score (EQ-4 排名公示) rather than sorted by name.
    pub ranking: bool,
    /// A resolved objection is filed (备案) with the organization above (SD-5).
    pub file_with_parent: bool,
}

impl PublicitySettings {
    /// What a publication takes where the policy has no `[publicity]`.
    pub fn fallback() -> Self {
        Self {
            rule: String::new(),
            periods: ["month", "quarter", "half_year", "year"]
                .map(str::to_owned)
                .to_vec(),
            min_days: 1,
            days: 5,
            answer_days: 5,
            public_objections: false,
            ranking: false,
            file_with_parent: false,
        }
    }
}

/// `[assessment]`: the branch scorecard's reading (`review::scorecard`): a Chinese
/// label per rating of the organization index, which ratings count as passing, the
/// yearly pass-rate targets and when results are due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssessmentSettings {
    /// The rule that names the ratings (JH-5).
    pub rule: String,
    /// Rating value → label (`excellent` → 优秀).
    pub rating_labels: Vec<(String, String)>,
    /// Ratings that count towards the pass rate (达标率).
    pub passing: Vec<String>,
    /// The rule (or document passage) that sets the targets.
    pub target_rule: String,
    /// `(from year, share)`, ascending: the target from that year on.
    pub targets: Vec<(i32, Decimal)>,
    /// The rule that sets the due date (JH-7).
    pub due_rule: String,
    /// Results are due by the end of this month of the next year.
    pub due_month: u32,
}

impl AssessmentSettings {
    pub fn rating_label<'a>(&'a self, value: &'a str) -> &'a str {
        self.rating_labels
            .iter()
            .find(|(v, _)| v == value)
            .map_or(value, |(_, l)| l.as_str())
    }

    /// The pass-rate target of `year`: the latest entry from that year or before.
    pub fn target(&self, year: i32) -> Option<Decimal> {
        self.targets
            .iter()
            .rev()
            .find(|(from, _)| *from <= year)
            .map(|(_, s)| *s)
    }
}

/// A score kept for one kind of subject: `vanguard`, `applicant`, `fortress`.
#[derive(Debug, Clone)]
pub struct Index {
    pub id: Arc<str>,
    pub label: String,
    /// Roles of persons it covers; empty for an organization index.
    pub roles: Vec<Role>,
    /// Whether it scores organizations.
    pub orgs: bool,
    pub floor: Option<Floor>,
    pub unqualified: Unqualified,
    pub stars: Vec<Band<u8>>,
    pub ratings: Vec<Band<Arc<str>>>,
    pub marks: Vec<Mark>,
    /// The policy's `[rewards]` when they are earned by this index.
    pub reward: Option<Rewards>,
    pub categories: Vec<Category>,
    pub composite: Option<Composite>,
}

impl Index {
    /// The rating of a score by the index's bands (JH-5: 110 → excellent …).
    pub fn rating(&self, score: Decimal) -> Option<&str> {
        band(&self.ratings, score).map(|r| r.as_ref())
    }
}

/// The score never ends the year below `at` (XH-15.4, TW-4).
#[derive(Debug, Clone)]
pub struct Floor {
    pub at: Decimal,
    pub rule: Arc<str>,
    pub label: String,
}

/// What an "unqualified" outcome does to the score and stars (XH-15.3).
#[derive(Debug, Clone, Copy, Default)]
pub struct Unqualified {
    pub zero_score: bool,
    pub stars: bool,
}

/// `value` for scores below `below`; the last band has no upper bound.
#[derive(Debug, Clone)]
pub struct Band<T> {
    pub below: Option<Decimal>,
    pub value: T,
}

pub(crate) fn band<T>(bands: &[Band<T>], score: Decimal) -> Option<&T> {
    bands
        .iter()
        .find(|b| b.below.is_none_or(|below| score < below))
        .map(|b| &b.value)
}

/// A flag set on results below a score (TW-7 "below 80: no awards").
#[derive(Debug, Clone)]
pub struct Mark {
    pub below: Decimal,
    pub flag: Arc<str>,
    pub label: String,
}

/// `[rewards]`: a closed year's result of `index` from `min_score` up is credited to
/// the rewards ledger (积分超市), redeemable for at most `yuan_per_point` yuan a point
/// (TW-7: 60 and above, at most 5 yuan; `None`: no yuan cap). Parsed here only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rewards {
    pub rule: String,
    pub index: String,
    pub min_score: Decimal,
    pub yuan_per_point: Option<Decimal>,
}

impl Rewards {
    /// Whether a year's score earns rewards ("60分以上": 60 included).
    pub fn earns(&self, score: Decimal) -> bool {
        score >= self.min_score
    }

    /// The most a year's score may be redeemed for, in yuan (`None`: no cap).
    pub fn yuan_cap(&self, score: Decimal) -> Option<Decimal> {
        self.yuan_per_point.map(|p| p * score)
    }
}

/// Rules grouped under a yearly cap (XH-14 bonuses ≤ 15, TW-1 base 60 / incentive 40).
#[derive(Debug, Clone)]
pub struct Category {
    pub id: String,
    pub label: String,
    pub cap: Option<Decimal>,
    pub rule: Option<Arc<str>>,
}

/// `points_weight × score + weight × input` where input is an item's number (EQ-5).
#[derive(Debug, Clone)]
pub struct Composite {
    pub rule: Arc<str>,
    pub label: String,
    pub points_weight: Decimal,
    pub item: String,
    pub field: String,
    pub weight: Decimal,
}

/// One line of a policy: which facts it scores, how many points, how often, up to what.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: Arc<str>,
    pub index: usize,
    pub label: String,
    pub category: Option<usize>,
    pub effect: Effect,
    pub sources: Vec<Source>,
    pub once: Option<Once>,
    pub schedule: Option<Schedule>,
    /// Yearly maximum of the rule's points (of deductions, for a deducting rule).
    pub cap: Option<Decimal>,
    /// Points granted at the start of the year (a scorecard item's weight, JH-2).
    pub opening: Option<Decimal>,
    pub multiply: Vec<Multiplier>,
    pub outcome: Option<RuleOutcome>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    #[default]
    Award,
    Deduct,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleOutcome {
    /// One-vote veto: the year's score is 0 (TW-5, EQ-3, SD-1, JH-4).
    Veto,
    /// The subject is unqualified for the year (XH-15.3).
    Unqualified,
}

/// Which facts feed a rule, and the points each one asks.
#[derive(Debug, Clone)]
pub struct Source {
    pub on: Trigger,
    /// Check-in methods that score; others get nothing (XH-8.1, XH-8.2, XH-13).
    pub methods: Option<Vec<Method>>,
    pub methods_rule: Option<Arc<str>>,
    /// How a check-in by a method that earns nothing is judged: attendance without
    /// points (XH-8.1 补签: year-end counts such as XH-15.1 count it).
    pub unscored_outcome: Option<Arc<str>>,
    pub points: Points,
    pub outcome: Option<Arc<str>>,
    pub label: Option<String>,
    pub late_registration: Option<LateRegistration>,
}

#[derive(Debug, Clone)]
pub enum Trigger {
    CheckIn(Vec<ActivityKind>),
    Makeup(Vec<ActivityKind>),
    Item(Vec<String>),
    /// Activities held by the organization being scored.
    Held(Vec<ActivityKind>),
}

#[derive(Debug, Clone)]
pub enum Points {
    /// The rule's schedule decides, or the fact only changes the status.
    None,
    Fixed(Decimal),
    /// The activity's branch-set points (XH-8.2).
    Activity,
    /// A number the branch puts on the fact, up to `max`.
    Graded {
        field: String,
        max: Option<Decimal>,
        default: Option<Decimal>,
    },
    /// Points by a text field's level (JH-3: national 6 … superior committee 2).
    Levels {
        field: String,
        values: Vec<(String, Decimal)>,
    },
    /// Check-in time against the activity start (XH-8.1: on time 5, ≤ 15 min 3).
    Tiers {
        tiers: Vec<Tier>,
        beyond: Beyond,
    },
}

#[derive(Debug, Clone)]
pub struct Tier {
    pub within_seconds: i64,
    pub points: Decimal,
    pub outcome: Arc<str>,
    pub label: String,
}

#[derive(Debug, Clone)]
pub struct Beyond {
    pub outcome: Arc<str>,
    pub label: String,
}

/// Only one fact counts per period and key (XH-5.4 same business same day; TW-2 once a month).
#[derive(Debug, Clone)]
pub struct Once {
    pub per: Period,
    pub by: Vec<KeyField>,
    pub keep: Keep,
    pub rule: Arc<str>,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyField {
    Activity,
    Item,
    Field(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    Month,
    Quarter,
    HalfYear,
    #[default]
    Year,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Keep {
    /// The earliest fact counts.
    #[default]
    First,
    /// The fact asking the most counts (ties: the earliest), never a sum (XH-8.1).
    Best,
}

/// Points by occurrence: the k-th counted fact asks `points[k]`, the last repeats (XH-11).
#[derive(Debug, Clone)]
pub struct Schedule {
    pub points: Vec<Decimal>,
    pub label: Option<String>,
}

/// Points times `factor` when a boolean field is set (TW-3.1 leading role ×2).
#[derive(Debug, Clone)]
pub struct Multiplier {
    pub field: String,
    pub factor: Decimal,
    pub rule: Arc<str>,
    pub label: String,
}

/// Points times `factor` when an activity was registered after the end of the
/// `working_days`-th working day after the day it ended (XH-6).
#[derive(Debug, Clone)]
pub struct LateRegistration {
    pub working_days: u32,
    pub factor: Decimal,
    pub rule: Arc<str>,
    pub label: String,
}

/// A rule assessed at year end only (XH-15.1): counts counted facts of some rules.
#[derive(Debug, Clone)]
pub struct YearEndRule {
    pub id: Arc<str>,
    pub index: usize,
    pub label: String,
    pub count_rules: Vec<String>,
    pub outcomes: Vec<String>,
    pub below: u32,
    pub effect: Effect,
    pub points: Decimal,
}

/// A rule comparing subjects (SD-6 quota, EQ-5/EQ-6 last place).
#[derive(Debug, Clone)]
pub struct GroupRule {
    pub id: Arc<str>,
    pub index: usize,
    pub label: String,
    pub kind: GroupKind,
}

#[derive(Debug, Clone)]
pub enum GroupKind {
    Quota(Quota),
    LastPlace(LastPlace),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Within the subject's branch.
    Org,
    /// Across every subject evaluated together (the whole committee).
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    Floor,
    Nearest,
    Ceil,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ties {
    /// Subjects tied across the quota line all stay below it.
    Exclude,
    /// Subjects tied across the quota line all get in (the quota is exceeded).
    Include,
}

/// At most `share` of a scope's subjects get `stars`, and only from `min_score` (SD-6).
#[derive(Debug, Clone)]
pub struct Quota {
    pub stars: u8,
    pub min_score: Decimal,
    pub share: Decimal,
    pub scope: Scope,
    pub rounding: Rounding,
    pub ties: Ties,
}

/// Subjects of `roles` last in rankings often enough get an outcome (EQ-5, EQ-6).
#[derive(Debug, Clone)]
pub struct LastPlace {
    pub roles: Vec<Role>,
    pub any: Vec<Ranking>,
    pub unqualified: bool,
    pub rating: Option<Arc<str>>,
    pub flag: Option<Arc<str>>,
}

/// Ranking by the points earned in each `period` of the year within `scope`.
#[derive(Debug, Clone)]
pub struct Ranking {
    pub period: Period,
    pub scope: Scope,
    pub times: u32,
    pub consecutive: bool,
}

/// Whether an item is recorded on a person or an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemSubject {
    Person,
    Org,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Number,
    Text,
    Bool,
}

impl FieldKind {
    pub fn name(self) -> &'static str {
        match self {
            FieldKind::Number => "a number",
            FieldKind::Text => "a string",
            FieldKind::Bool => "true or false",
        }
    }
}

/// A field an item reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldSpec {
    pub name: String,
    pub kind: FieldKind,
    pub required: bool,
    /// The values a level field may take.
    pub allowed: Option<Vec<String>>,
}

/// An item code the policy knows, with the fields its rules read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemSpec {
    pub code: String,
    pub subject: ItemSubject,
    pub fields: Vec<FieldSpec>,
}

/// A rule reading an item (see [`Policy::item_rules`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemRule<'a> {
    pub rule_id: &'a str,
    pub rule_label: &'a str,
    /// The name of the case that reads the item (or the rule's label).
    pub label: &'a str,
    pub deduct: bool,
    /// The rule changes the status only (XH-15.3), or records without points.
    pub outcome_only: bool,
}

/// Why an item's fields are not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldProblem {
    pub field: String,
    pub reason: String,
}

impl ItemSpec {
    pub fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Checks that the fields the policy reads are present and of the right kind.
    pub fn check(&self, fields: &Fields) -> Result<(), FieldProblem> {
        for spec in &self.fields {
            let problem = |reason: String| FieldProblem {
                field: spec.name.clone(),
                reason,
            };
            match fields.get(&spec.name) {
                None if spec.required => return Err(problem("missing".to_owned())),
                None => {}
                Some(v) => {
                    let kind = match v {
                        FieldValue::Number(_) => FieldKind::Number,
                        FieldValue::Text(_) => FieldKind::Text,
                        FieldValue::Bool(_) => FieldKind::Bool,
                    };
                    if kind != spec.kind {
                        return Err(problem(format!("expected {}", spec.kind.name())));
                    }
                    if let (Some(allowed), FieldValue::Text(t)) = (&spec.allowed, v)
                        && !allowed.iter().any(|a| a == t)
                    {
                        return Err(problem(format!(
                            "unknown value \"{t}\" (one of {})",
                            allowed.join(", ")
                        )));
                    }
                    if let FieldValue::Number(n) = v
                        && n.is_sign_negative()
                        && !n.is_zero()
                    {
                        return Err(problem("must not be negative".to_owned()));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Rule sources by fact kind, for one index: (rule, source) pairs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dispatch {
    pub checkin: [Vec<(usize, usize)>; ActivityKind::ALL.len()],
    pub makeup: [Vec<(usize, usize)>; ActivityKind::ALL.len()],
    pub held: [Vec<(usize, usize)>; ActivityKind::ALL.len()],
    pub items: FastMap<String, Vec<(usize, usize)>>,
    pub openings: Vec<usize>,
}

impl Policy {
    /// Whether make-up study for an activity of `kind` can earn points (XH-8.1: 2):
    /// where it earns nothing, no one is offered it.
    pub fn makeup_scores(&self, kind: ActivityKind) -> bool {
        self.rules.iter().flat_map(|r| &r.sources).any(|s| {
            matches!(&s.on, Trigger::Makeup(kinds) if kinds.contains(&kind))
                && match &s.points {
                    Points::None => false,
                    Points::Fixed(p) => !p.is_zero(),
                    _ => true,
                }
        })
    }

    /// The index that scores persons of `role`, if any.
    pub fn index_for_role(&self, role: Role) -> Option<usize> {
        self.indexes.iter().position(|i| i.roles.contains(&role))
    }

    /// The index that scores organizations, if any.
    pub fn org_index(&self) -> Option<usize> {
        self.indexes.iter().position(|i| i.orgs)
    }

    pub fn index(&self, id: &str) -> Option<&Index> {
        self.indexes.iter().find(|i| &*i.id == id)
    }

    /// An item code the policy scores for persons or organizations.
    pub fn item(&self, subject: ItemSubject, code: &str) -> Option<&ItemSpec> {
        self.items.get(&(subject, code.to_owned()))
    }

    /// Every item code, sorted by subject and code.
    pub fn items(&self) -> Vec<&ItemSpec> {
        let mut v: Vec<_> = self.items.values().collect();
        v.sort_by(|a, b| (a.subject as u8, &a.code).cmp(&(b.subject as u8, &b.code)));
        v
    }

    /// The name of a rule, a year-end rule or a group rule (`XH-8.1` → 党员固定活动日).
    pub fn rule_label(&self, id: &str) -> Option<&str> {
        self.rules
            .iter()
            .find(|r| &*r.id == id)
            .map(|r| r.label.as_str())
            .or_else(|| {
                self.year_end
                    .iter()
                    .find(|r| &*r.id == id)
                    .map(|r| r.label.as_str())
            })
            .or_else(|| {
                self.groups
                    .iter()
                    .find(|r| &*r.id == id)
                    .map(|r| r.label.as_str())
            })
    }

    /// The rules that read an item, each with the name of the case that reads it
    /// ("市级优秀共产党员", else the rule's own), so people choose items by name.
    pub fn item_rules(&self, code: &str) -> Vec<ItemRule<'_>> {
        self.rules
            .iter()
            .flat_map(|r| r.sources.iter().map(move |s| (r, s)))
            .filter(
                |(_, s)| matches!(&s.on, Trigger::Item(codes) if codes.iter().any(|c| c == code)),
            )
            .map(|(r, s)| ItemRule {
                rule_id: &r.id,
                rule_label: &r.label,
                label: s.label.as_deref().unwrap_or(&r.label),
                deduct: r.effect == Effect::Deduct,
                outcome_only: matches!(s.points, Points::None) && r.schedule.is_none(),
            })
            .collect()
    }
}
