//! The policy file format (TOML) and its validation into a [`Policy`].
//!
//! Shapes are checked by serde (`deny_unknown_fields`, typed enums), meaning by
//! `compile`; both report `file:line:column: reason`.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::Deserialize;
use toml::Spanned as S;

use super::decimal::Dec;
use super::error::LoadError;
use super::facts::{ActivityKind, Method, Role};
use super::model::*;
use super::workflow::{AbsenceProposal, InactiveProposal, Workflow};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    name: S<String>,
    title: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    choice: Vec<RawChoice>,
    index: BTreeMap<String, S<RawIndex>>,
    #[serde(default)]
    rule: Vec<S<RawRule>>,
    #[serde(default)]
    year_end: Vec<S<RawYearEnd>>,
    #[serde(default)]
    group: Vec<S<RawGroup>>,
    #[serde(default)]
    checkin: Option<S<RawCheckin>>,
    #[serde(default)]
    workflow: Option<S<RawWorkflow>>,
    publicity: Option<S<RawPublicity>>,
    #[serde(default)]
    rewards: Option<S<RawRewards>>,
    assessment: Option<S<RawAssessment>>,
}

/// `[rewards]` (see `Rewards`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRewards {
    rule: String,
    index: String,
    min_score: Dec,
    #[serde(default)]
    yuan_per_point: Option<Dec>,
}

/// `[assessment]`: how a branch scorecard's results are read (see `AssessmentSettings`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssessment {
    rule: String,
    ratings: BTreeMap<String, String>,
    passing: Vec<String>,
    target_rule: String,
    targets: Vec<RawTarget>,
    due: RawDue,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    from: i32,
    share: Dec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDue {
    rule: String,
    month: u32,
}

/// `[workflow]`: leave lead time and what the platform proposes (see `Workflow`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkflow {
    #[serde(default)]
    leave_lead_minutes: Option<i64>,
    #[serde(default)]
    absence: Option<RawAbsence>,
    #[serde(default)]
    inactive: Option<RawInactive>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAbsence {
    rule: String,
    without_leave: String,
    with_leave: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInactive {
    rule: String,
    months: u32,
    item: String,
}

/// `[publicity]` (see `PublicitySettings`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPublicity {
    rule: String,
    periods: Vec<String>,
    min_days: i64,
    #[serde(default)]
    days: Option<i64>,
    answer_days: i64,
    /// `member`, `public`.
    objectors: Vec<String>,
    #[serde(default)]
    ranking: bool,
    #[serde(default)]
    file_with_parent: bool,
}

/// `[checkin]`: the fixed day's check-in window (see `CheckinWindow`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheckin {
    rule: String,
    until: RawUntil,
    #[serde(default)]
    late_minutes: Option<i64>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum RawUntil {
    /// At most `late_minutes` after the start, as late.
    Late,
    /// Any time of the activity's day.
    DayEnd,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChoice {
    rule: String,
    question: String,
    choice: String,
    /// The other readings the document allows, shown beside the choice.
    #[serde(default)]
    alternatives: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIndex {
    label: String,
    subjects: Vec<S<String>>,
    #[serde(default)]
    floor: Option<RawFloor>,
    #[serde(default)]
    unqualified: Option<RawUnqualified>,
    #[serde(default)]
    stars: Option<S<Vec<RawBand<u8>>>>,
    #[serde(default)]
    ratings: Option<S<Vec<RawBand<String>>>>,
    #[serde(default)]
    marks: Vec<RawMark>,
    #[serde(default)]
    categories: BTreeMap<String, RawCategory>,
    #[serde(default)]
    composite: Option<S<RawComposite>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBand<T> {
    #[serde(default)]
    below: Option<Dec>,
    value: T,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFloor {
    at: Dec,
    rule: String,
    label: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUnqualified {
    zero_score: bool,
    stars: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMark {
    below: Dec,
    flag: String,
    label: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCategory {
    label: String,
    #[serde(default)]
    cap: Option<Dec>,
    #[serde(default)]
    rule: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComposite {
    rule: String,
    label: String,
    points_weight: Dec,
    item: String,
    field: String,
    weight: Dec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    index: S<String>,
    label: String,
    #[serde(default)]
    category: Option<S<String>>,
    #[serde(default)]
    effect: Effect,
    #[serde(default)]
    when: Vec<S<RawSource>>,
    #[serde(default)]
    once: Option<S<RawOnce>>,
    #[serde(default)]
    schedule: Option<S<Vec<Dec>>>,
    #[serde(default)]
    schedule_label: Option<String>,
    #[serde(default)]
    cap: Option<S<Dec>>,
    #[serde(default)]
    opening: Option<S<Dec>>,
    #[serde(default)]
    multiply: Vec<S<RawMultiplier>>,
    #[serde(default)]
    outcome: Option<RuleOutcome>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    #[serde(default)]
    checkin: Option<Vec<ActivityKind>>,
    #[serde(default)]
    makeup: Option<Vec<ActivityKind>>,
    #[serde(default)]
    item: Option<Vec<String>>,
    #[serde(default)]
    held: Option<Vec<ActivityKind>>,
    #[serde(default)]
    methods: Option<Vec<Method>>,
    #[serde(default)]
    methods_rule: Option<String>,
    #[serde(default)]
    unscored_outcome: Option<String>,
    #[serde(default)]
    points: Option<RawPoints>,
    #[serde(default)]
    graded: Option<RawGraded>,
    #[serde(default)]
    levels: Option<RawLevels>,
    #[serde(default)]
    tiers: Option<Vec<RawTier>>,
    #[serde(default)]
    beyond: Option<RawBeyond>,
    #[serde(default)]
    outcome: Option<String>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    late_registration: Option<RawLate>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawPoints {
    Number(Dec),
    Word(String),
}

fn points_field() -> String {
    "points".to_owned()
}

fn level_field() -> String {
    "level".to_owned()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGraded {
    #[serde(default = "points_field")]
    field: String,
    #[serde(default)]
    max: Option<Dec>,
    #[serde(default)]
    default: Option<Dec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLevels {
    #[serde(default = "level_field")]
    field: String,
    values: BTreeMap<String, Dec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTier {
    within_minutes: i64,
    points: Dec,
    outcome: String,
    label: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBeyond {
    outcome: String,
    label: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLate {
    working_days: u32,
    factor: Dec,
    rule: String,
    label: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOnce {
    #[serde(default)]
    per: Period,
    #[serde(default)]
    by: Vec<String>,
    #[serde(default)]
    keep: Keep,
    #[serde(default)]
    rule: Option<String>,
    label: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMultiplier {
    field: String,
    factor: Dec,
    rule: String,
    label: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawYearEnd {
    id: String,
    index: S<String>,
    label: String,
    count: RawCount,
    below: u32,
    #[serde(default)]
    effect: Effect,
    points: Dec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCount {
    rules: Vec<S<String>>,
    outcomes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    id: String,
    index: S<String>,
    label: String,
    #[serde(default)]
    quota: Option<RawQuota>,
    #[serde(default)]
    last_place: Option<RawLastPlace>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuota {
    stars: u8,
    min_score: Dec,
    share: Dec,
    scope: Scope,
    rounding: Rounding,
    ties: Ties,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLastPlace {
    roles: Vec<Role>,
    any: Vec<RawRanking>,
    #[serde(default)]
    unqualified: bool,
    #[serde(default)]
    rating: Option<String>,
    #[serde(default)]
    flag: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRanking {
    period: Period,
    scope: Scope,
    times: u32,
    #[serde(default)]
    consecutive: bool,
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(&self, span: Range<usize>, reason: impl Into<String>) -> LoadError {
        LoadError::at(self.file, self.text, Some(span), reason)
    }
}

fn non_negative(ctx: &Ctx, span: &Range<usize>, what: &str, d: Decimal) -> Result<(), LoadError> {
    if d.is_sign_negative() && !d.is_zero() {
        return Err(ctx.err(
            span.clone(),
            format!(
                "{what} must not be negative (write the magnitude; `effect = \"deduct\"` subtracts)"
            ),
        ));
    }
    Ok(())
}

fn bands<T: Clone>(
    ctx: &Ctx,
    raw: Option<&S<Vec<RawBand<T>>>>,
    what: &str,
) -> Result<Vec<Band<T>>, LoadError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    let list = raw.get_ref();
    let mut out = Vec::with_capacity(list.len());
    let mut last: Option<Decimal> = None;
    for (i, b) in list.iter().enumerate() {
        let is_last = i + 1 == list.len();
        match (b.below, is_last) {
            (None, false) => {
                return Err(ctx.err(
                    raw.span(),
                    format!("{what}: only the last band may omit `below`"),
                ));
            }
            (Some(_), true) => {
                return Err(ctx.err(
                    raw.span(),
                    format!("{what}: the last band must omit `below` so every score has a band"),
                ));
            }
            (Some(Dec(below)), false) => {
                if last.is_some_and(|l| below <= l) {
                    return Err(ctx.err(
                        raw.span(),
                        format!("{what}: `below` must increase band by band"),
                    ));
                }
                last = Some(below);
            }
            (None, true) => {}
        }
        out.push(Band {
            below: b.below.map(|d| d.0),
            value: b.value.clone(),
        });
    }
    Ok(out)
}

/// Reads and validates a policy file; `file` names it in errors.
pub(crate) fn compile(file: &str, text: &str) -> Result<Policy, LoadError> {
    let ctx = Ctx { file, text };
    let raw: RawPolicy = toml::from_str(text).map_err(|e| LoadError::toml(file, text, &e))?;
    if raw.name.get_ref().trim().is_empty() {
        return Err(ctx.err(raw.name.span(), "name must not be empty"));
    }

    let mut indexes = Vec::new();
    let mut index_spans = Vec::new();
    for (id, ri) in &raw.index {
        let span = ri.span();
        let ri = ri.get_ref();
        let mut roles = Vec::new();
        let mut orgs = false;
        for s in &ri.subjects {
            match s.get_ref().as_str() {
                "org" => orgs = true,
                other => match other.parse::<Role>() {
                    Ok(r) => roles.push(r),
                    Err(_) => {
                        return Err(ctx.err(
                            s.span(),
                            format!("unknown subject \"{other}\" (member, probationary, applicant or org)"),
                        ));
                    }
                },
            }
        }
        if orgs != roles.is_empty() {
            return Err(ctx.err(
                span,
                format!("index {id}: subjects must be `org` alone or person roles"),
            ));
        }
        let mut categories = Vec::new();
        for (cid, c) in &ri.categories {
            if let Some(cap) = c.cap {
                non_negative(&ctx, &span, "cap", cap.0)?;
            }
            categories.push(Category {
                id: cid.clone(),
                label: c.label.clone(),
                cap: c.cap.map(|d| d.0),
                rule: c.rule.as_deref().map(Arc::from),
            });
        }
        let composite = match &ri.composite {
            None => None,
            Some(c) => {
                if orgs {
                    return Err(ctx.err(c.span(), "a composite needs a person index"));
                }
                let c = c.get_ref();
                Some(Composite {
                    rule: Arc::from(c.rule.as_str()),
                    label: c.label.clone(),
                    points_weight: c.points_weight.0,
                    item: c.item.clone(),
                    field: c.field.clone(),
                    weight: c.weight.0,
                })
            }
        };
        indexes.push(Index {
            id: Arc::from(id.as_str()),
            label: ri.label.clone(),
            roles,
            orgs,
            floor: ri.floor.as_ref().map(|f| Floor {
                at: f.at.0,
                rule: Arc::from(f.rule.as_str()),
                label: f.label.clone(),
            }),
            unqualified: ri
                .unqualified
                .as_ref()
                .map(|u| Unqualified {
                    zero_score: u.zero_score,
                    stars: u.stars,
                })
                .unwrap_or(Unqualified {
                    zero_score: false,
                    stars: true,
                }),
            stars: bands(&ctx, ri.stars.as_ref(), "stars")?,
            ratings: bands(&ctx, ri.ratings.as_ref(), "ratings")?
                .into_iter()
                .map(|b| Band {
                    below: b.below,
                    value: Arc::from(b.value.as_str()),
                })
                .collect(),
            marks: ri
                .marks
                .iter()
                .map(|m| Mark {
                    below: m.below.0,
                    flag: Arc::from(m.flag.as_str()),
                    label: m.label.clone(),
                })
                .collect(),
            reward: None,
            categories,
            composite,
        });
        index_spans.push(span);
    }
    for (i, idx) in indexes.iter().enumerate() {
        for role in &idx.roles {
            if indexes[..i].iter().any(|o| o.roles.contains(role)) {
                return Err(ctx.err(
                    index_spans[i].clone(),
                    format!("role {role} is in two indexes"),
                ));
            }
        }
        if idx.orgs && indexes[..i].iter().any(|o| o.orgs) {
            return Err(ctx.err(index_spans[i].clone(), "two indexes score organizations"));
        }
    }
    let find_index = |s: &S<String>| -> Result<usize, LoadError> {
        indexes
            .iter()
            .position(|i| &*i.id == s.get_ref().as_str())
            .ok_or_else(|| ctx.err(s.span(), format!("no index \"{}\"", s.get_ref())))
    };

    let mut rules = Vec::new();
    let mut dispatch: Vec<Dispatch> = indexes.iter().map(|_| Dispatch::default()).collect();
    let mut items: HashMap<(ItemSubject, String), ItemSpec> = HashMap::new();
    for rr in &raw.rule {
        let rspan = rr.span();
        let rr = rr.get_ref();
        let index = find_index(&rr.index)?;
        let is_org = indexes[index].orgs;
        let subject = if is_org {
            ItemSubject::Org
        } else {
            ItemSubject::Person
        };
        let category = match &rr.category {
            None => None,
            Some(c) => Some(
                indexes[index]
                    .categories
                    .iter()
                    .position(|x| x.id == *c.get_ref())
                    .ok_or_else(|| {
                        ctx.err(
                            c.span(),
                            format!(
                                "no category \"{}\" in index {}",
                                c.get_ref(),
                                indexes[index].id
                            ),
                        )
                    })?,
            ),
        };
        let schedule = match &rr.schedule {
            None => None,
            Some(s) => {
                if s.get_ref().is_empty() {
                    return Err(ctx.err(s.span(), "schedule must not be empty"));
                }
                for d in s.get_ref() {
                    non_negative(&ctx, &s.span(), "schedule points", d.0)?;
                }
                Some(Schedule {
                    points: s.get_ref().iter().map(|d| d.0).collect(),
                    label: rr.schedule_label.clone(),
                })
            }
        };
        if let Some(c) = &rr.cap {
            non_negative(&ctx, &c.span(), "cap", c.get_ref().0)?;
        }
        if let Some(o) = &rr.opening {
            non_negative(&ctx, &o.span(), "opening", o.get_ref().0)?;
        }
        let mut multiply = Vec::new();
        for m in &rr.multiply {
            let mspan = m.span();
            let m = m.get_ref();
            if m.factor.0 <= Decimal::ZERO {
                return Err(ctx.err(mspan, "factor must be positive"));
            }
            multiply.push(Multiplier {
                field: m.field.clone(),
                factor: m.factor.0,
                rule: Arc::from(m.rule.as_str()),
                label: m.label.clone(),
            });
        }
        let rule_idx = rules.len();
        let mut sources = Vec::new();
        let mut has_items = false;
        let mut has_activity = false;
        for (si, rs) in rr.when.iter().enumerate() {
            let sspan = rs.span();
            let rs = rs.get_ref();
            let triggers = [
                rs.checkin.is_some(),
                rs.makeup.is_some(),
                rs.item.is_some(),
                rs.held.is_some(),
            ];
            if triggers.iter().filter(|t| **t).count() != 1 {
                return Err(ctx.err(
                    sspan,
                    "a `when` needs exactly one of checkin, makeup, item, held",
                ));
            }
            let on = if let Some(k) = &rs.checkin {
                Trigger::CheckIn(k.clone())
            } else if let Some(k) = &rs.makeup {
                Trigger::Makeup(k.clone())
            } else if let Some(k) = &rs.held {
                Trigger::Held(k.clone())
            } else {
                Trigger::Item(rs.item.clone().unwrap_or_default())
            };
            match (&on, is_org) {
                (Trigger::CheckIn(_) | Trigger::Makeup(_), true) => {
                    return Err(ctx.err(
                        sspan,
                        "check-ins and make-up study score persons, not an org index",
                    ));
                }
                (Trigger::Held(_), false) => {
                    return Err(
                        ctx.err(sspan, "`held` scores organizations: use it in an org index")
                    );
                }
                _ => {}
            }
            if rs.unscored_outcome.is_some() && rs.methods.is_none() {
                return Err(ctx.err(sspan.clone(), "unscored_outcome needs `methods`"));
            }
            if rs.methods.is_some() && !matches!(on, Trigger::CheckIn(_)) {
                return Err(ctx.err(sspan, "`methods` applies to check-ins only"));
            }
            if rs.late_registration.is_some() && !matches!(on, Trigger::Held(_)) {
                return Err(ctx.err(
                    sspan,
                    "`late_registration` applies to `held` activities only",
                ));
            }
            let given = [
                rs.points.is_some(),
                rs.graded.is_some(),
                rs.levels.is_some(),
                rs.tiers.is_some(),
            ]
            .iter()
            .filter(|t| **t)
            .count();
            let pointless = schedule.is_some() || rr.outcome.is_some();
            if given > 1 || (given == 0 && !pointless) {
                return Err(ctx.err(
                    sspan,
                    "a `when` needs exactly one of points, graded, levels, tiers (or a rule schedule/outcome)",
                ));
            }
            if given == 1 && schedule.is_some() {
                return Err(ctx.err(
                    sspan,
                    "the rule's schedule sets the points: remove them here",
                ));
            }
            let points = if let Some(p) = &rs.points {
                match p {
                    RawPoints::Number(d) => {
                        non_negative(&ctx, &sspan, "points", d.0)?;
                        Points::Fixed(d.0)
                    }
                    RawPoints::Word(w) if w == "activity" => {
                        if matches!(on, Trigger::Item(_)) {
                            return Err(ctx.err(sspan, "points = \"activity\" needs an activity"));
                        }
                        Points::Activity
                    }
                    RawPoints::Word(w) => {
                        return Err(ctx.err(
                            sspan,
                            format!("points must be a number or \"activity\", not \"{w}\""),
                        ));
                    }
                }
            } else if let Some(g) = &rs.graded {
                if !matches!(on, Trigger::Item(_)) {
                    return Err(
                        ctx.err(sspan, "`graded` reads an item's field: use it with `item`")
                    );
                }
                Points::Graded {
                    field: g.field.clone(),
                    max: g.max.map(|d| d.0),
                    default: g.default.map(|d| d.0),
                }
            } else if let Some(l) = &rs.levels {
                if !matches!(on, Trigger::Item(_)) {
                    return Err(
                        ctx.err(sspan, "`levels` reads an item's field: use it with `item`")
                    );
                }
                for d in l.values.values() {
                    non_negative(&ctx, &sspan, "level points", d.0)?;
                }
                Points::Levels {
                    field: l.field.clone(),
                    values: l.values.iter().map(|(k, v)| (k.clone(), v.0)).collect(),
                }
            } else if let Some(ts) = &rs.tiers {
                if !matches!(on, Trigger::CheckIn(_)) {
                    return Err(ctx.err(
                        sspan,
                        "`tiers` judge check-in times: use them with `checkin`",
                    ));
                }
                let Some(beyond) = &rs.beyond else {
                    return Err(ctx.err(sspan, "`tiers` need a `beyond` for later check-ins"));
                };
                let mut tiers = Vec::new();
                for t in ts {
                    if tiers
                        .last()
                        .is_some_and(|l: &Tier| t.within_minutes * 60 <= l.within_seconds)
                    {
                        return Err(ctx.err(
                            sspan.clone(),
                            "tiers must be in increasing `within_minutes`",
                        ));
                    }
                    tiers.push(Tier {
                        within_seconds: t.within_minutes * 60,
                        points: t.points.0,
                        outcome: Arc::from(t.outcome.as_str()),
                        label: t.label.clone(),
                    });
                }
                Points::Tiers {
                    tiers,
                    beyond: Beyond {
                        outcome: Arc::from(beyond.outcome.as_str()),
                        label: beyond.label.clone(),
                    },
                }
            } else {
                Points::None
            };
            match &on {
                Trigger::Item(codes) => {
                    has_items = true;
                    if codes.is_empty() {
                        return Err(ctx.err(sspan, "`item` lists no item codes"));
                    }
                    let mut fields = Vec::new();
                    match &points {
                        Points::Graded { field, default, .. } => fields.push(FieldSpec {
                            name: field.clone(),
                            kind: FieldKind::Number,
                            required: default.is_none(),
                            allowed: None,
                        }),
                        Points::Levels { field, values } => fields.push(FieldSpec {
                            name: field.clone(),
                            kind: FieldKind::Text,
                            required: true,
                            allowed: Some(values.iter().map(|(k, _)| k.clone()).collect()),
                        }),
                        _ => {}
                    }
                    for m in &multiply {
                        fields.push(FieldSpec {
                            name: m.field.clone(),
                            kind: FieldKind::Bool,
                            required: false,
                            allowed: None,
                        });
                    }
                    if let Some(o) = &rr.once {
                        for b in &o.get_ref().by {
                            if let Some(name) = b.strip_prefix("field:") {
                                fields.push(FieldSpec {
                                    name: name.to_owned(),
                                    kind: FieldKind::Text,
                                    required: true,
                                    allowed: None,
                                });
                            }
                        }
                    }
                    for code in codes {
                        add_item(&ctx, &sspan, &mut items, subject, code, &fields)?;
                        dispatch[index]
                            .items
                            .entry(code.clone())
                            .or_default()
                            .push((rule_idx, si));
                    }
                }
                Trigger::CheckIn(kinds) | Trigger::Makeup(kinds) | Trigger::Held(kinds) => {
                    has_activity = true;
                    let d = &mut dispatch[index];
                    let slots = match &on {
                        Trigger::CheckIn(_) => &mut d.checkin,
                        Trigger::Makeup(_) => &mut d.makeup,
                        _ => &mut d.held,
                    };
                    for k in kinds {
                        slots[k.slot()].push((rule_idx, si));
                    }
                }
            }
            let late_registration = match &rs.late_registration {
                None => None,
                Some(l) => {
                    if l.factor.0 <= Decimal::ZERO {
                        return Err(ctx.err(sspan, "factor must be positive"));
                    }
                    Some(LateRegistration {
                        working_days: l.working_days,
                        factor: l.factor.0,
                        rule: Arc::from(l.rule.as_str()),
                        label: l.label.clone(),
                    })
                }
            };
            sources.push(Source {
                on,
                methods: rs.methods.clone(),
                methods_rule: rs.methods_rule.as_deref().map(Arc::from),
                unscored_outcome: rs.unscored_outcome.as_deref().map(Arc::from),
                points,
                outcome: rs.outcome.as_deref().map(Arc::from),
                label: rs.label.clone(),
                late_registration,
            });
        }
        if sources.is_empty() && rr.opening.is_none() {
            return Err(ctx.err(
                rspan,
                format!("rule {} has no `when` and no `opening`", rr.id),
            ));
        }
        let once = match &rr.once {
            None => None,
            Some(o) => {
                let ospan = o.span();
                let o = o.get_ref();
                if o.by.len() > 2 {
                    return Err(ctx.err(ospan, "`once.by` takes at most two keys"));
                }
                let mut by = Vec::new();
                for b in &o.by {
                    let key = match b.as_str() {
                        "activity" if has_activity && !has_items => KeyField::Activity,
                        "item" if has_items => KeyField::Item,
                        f if f.starts_with("field:") && has_items && !has_activity => {
                            KeyField::Field(f.trim_start_matches("field:").to_owned())
                        }
                        other => {
                            return Err(ctx.err(
                                ospan,
                                format!("`once.by` key \"{other}\" does not fit this rule's facts (activity, item or field:NAME)"),
                            ));
                        }
                    };
                    by.push(key);
                }
                Some(Once {
                    per: o.per,
                    by,
                    keep: o.keep,
                    rule: Arc::from(o.rule.as_deref().unwrap_or(rr.id.as_str())),
                    label: o.label.clone(),
                })
            }
        };
        if rr.opening.is_some() {
            dispatch[index].openings.push(rule_idx);
        }
        rules.push(Rule {
            id: Arc::from(rr.id.as_str()),
            index,
            label: rr.label.clone(),
            category,
            effect: rr.effect,
            sources,
            once,
            schedule,
            cap: rr.cap.as_ref().map(|c| c.get_ref().0),
            opening: rr.opening.as_ref().map(|c| c.get_ref().0),
            multiply,
            outcome: rr.outcome,
        });
    }

    for (i, idx) in indexes.iter().enumerate() {
        if let (Some(c), Some(rc)) = (
            &idx.composite,
            raw.index
                .get(&*idx.id)
                .and_then(|r| r.get_ref().composite.as_ref()),
        ) {
            add_item(
                &ctx,
                &rc.span(),
                &mut items,
                ItemSubject::Person,
                &c.item,
                &[FieldSpec {
                    name: c.field.clone(),
                    kind: FieldKind::Number,
                    required: true,
                    allowed: None,
                }],
            )?;
            if dispatch[i].items.contains_key(&c.item) {
                return Err(ctx.err(
                    rc.span(),
                    format!("composite item \"{}\" is also scored by a rule", c.item),
                ));
            }
        }
    }

    let mut year_end = Vec::new();
    for ye in &raw.year_end {
        let yspan = ye.span();
        let ye = ye.get_ref();
        let index = find_index(&ye.index)?;
        for r in &ye.count.rules {
            if !rules
                .iter()
                .any(|x| x.index == index && *x.id == *r.get_ref().as_str())
            {
                return Err(ctx.err(
                    r.span(),
                    format!("no rule \"{}\" in index {}", r.get_ref(), indexes[index].id),
                ));
            }
        }
        non_negative(&ctx, &yspan, "points", ye.points.0)?;
        year_end.push(YearEndRule {
            id: Arc::from(ye.id.as_str()),
            index,
            label: ye.label.clone(),
            count_rules: ye.count.rules.iter().map(|r| r.get_ref().clone()).collect(),
            outcomes: ye.count.outcomes.clone(),
            below: ye.below,
            effect: ye.effect,
            points: ye.points.0,
        });
    }

    let mut groups = Vec::new();
    for g in &raw.group {
        let gspan = g.span();
        let g = g.get_ref();
        let index = find_index(&g.index)?;
        let kind = match (&g.quota, &g.last_place) {
            (Some(q), None) => {
                if indexes[index].stars.is_empty() {
                    return Err(ctx.err(gspan, "a star quota needs star bands in its index"));
                }
                if q.share.0 < Decimal::ZERO || q.share.0 > Decimal::ONE {
                    return Err(ctx.err(gspan, "share must be between 0 and 1"));
                }
                GroupKind::Quota(Quota {
                    stars: q.stars,
                    min_score: q.min_score.0,
                    share: q.share.0,
                    scope: q.scope,
                    rounding: q.rounding,
                    ties: q.ties,
                })
            }
            (None, Some(l)) => {
                if l.any.is_empty() {
                    return Err(ctx.err(gspan, "`last_place.any` lists no ranking"));
                }
                if l.any
                    .iter()
                    .any(|r| r.period == Period::Day || r.times == 0)
                {
                    return Err(ctx.err(
                        gspan,
                        "rankings are by month, quarter, half_year or year, at least once",
                    ));
                }
                GroupKind::LastPlace(LastPlace {
                    roles: l.roles.clone(),
                    any: l
                        .any
                        .iter()
                        .map(|r| Ranking {
                            period: r.period,
                            scope: r.scope,
                            times: r.times,
                            consecutive: r.consecutive,
                        })
                        .collect(),
                    unqualified: l.unqualified,
                    rating: l.rating.as_deref().map(Arc::from),
                    flag: l.flag.as_deref().map(Arc::from),
                })
            }
            _ => return Err(ctx.err(gspan, "a group rule needs exactly one of quota, last_place")),
        };
        groups.push(GroupRule {
            id: Arc::from(g.id.as_str()),
            index,
            label: g.label.clone(),
            kind,
        });
    }

    let rewards = match &raw.rewards {
        None => None,
        Some(r) => {
            let span = r.span();
            let r = r.get_ref();
            let index = indexes
                .iter_mut()
                .find(|i| &*i.id == r.index.as_str() && !i.orgs)
                .ok_or_else(|| ctx.err(span.clone(), "rewards: index must name a person index"))?;
            if r.min_score.0 < Decimal::ZERO
                || r.yuan_per_point.is_some_and(|y| y.0 <= Decimal::ZERO)
            {
                return Err(ctx.err(span, "rewards: min_score ≥ 0 and yuan_per_point > 0"));
            }
            let rewards = Rewards {
                rule: r.rule.clone(),
                index: r.index.clone(),
                min_score: r.min_score.0,
                yuan_per_point: r.yuan_per_point.map(|y| y.0),
            };
            index.reward = Some(rewards.clone());
            Some(rewards)
        }
    };
    let checkin = checkin_window(&ctx, raw.checkin.as_ref(), &rules)?;
    let workflow = workflow(&ctx, raw.workflow.as_ref(), &items)?;
    let publicity = raw
        .publicity
        .as_ref()
        .map(|p| publicity_settings(&ctx, p))
        .transpose()?;
    let assessment = raw
        .assessment
        .as_ref()
        .map(|a| assessment_settings(&ctx, a, &indexes))
        .transpose()?;
    Ok(Policy {
        checkin,
        workflow,
        publicity,
        rewards,
        assessment,
        name: raw.name.get_ref().clone(),
        title: raw.title,
        source: raw.source,
        file: file.to_owned(),
        choices: raw
            .choice
            .into_iter()
            .map(|c| Choice {
                rule_id: c.rule,
                question: c.question,
                choice: c.choice,
                alternatives: c.alternatives,
            })
            .collect(),
        indexes,
        rules,
        year_end,
        groups,
        dispatch,
        items,
    })
}

/// `[workflow]`: every item it names must be a person item of this policy.
fn workflow(
    ctx: &Ctx,
    raw: Option<&S<RawWorkflow>>,
    items: &HashMap<(ItemSubject, String), ItemSpec>,
) -> Result<Workflow, LoadError> {
    let Some(raw) = raw else {
        return Ok(Workflow::default());
    };
    let span = raw.span();
    let w = raw.get_ref();
    let known = |code: &str| -> Result<String, LoadError> {
        if items.contains_key(&(ItemSubject::Person, code.to_owned())) {
            Ok(code.to_owned())
        } else {
            Err(ctx.err(
                span.clone(),
                format!("workflow names item \"{code}\", which no rule of this policy scores"),
            ))
        }
    };
    let lead = w
        .leave_lead_minutes
        .unwrap_or(Workflow::DEFAULT_LEAVE_LEAD_MINUTES);
    if lead < 0 {
        return Err(ctx.err(span, "leave_lead_minutes must not be negative"));
    }
    let absence = match &w.absence {
        Some(a) => Some(AbsenceProposal {
            rule: a.rule.clone(),
            without_leave: known(&a.without_leave)?,
            with_leave: known(&a.with_leave)?,
        }),
        None => None,
    };
    let inactive = match &w.inactive {
        Some(i) if i.months == 0 => {
            return Err(ctx.err(span, "inactive.months must be at least 1"));
        }
        Some(i) => Some(InactiveProposal {
            rule: i.rule.clone(),
            months: i.months,
            item: known(&i.item)?,
        }),
        None => None,
    };
    Ok(Workflow {
        leave_lead_minutes: lead,
        absence,
        inactive,
    })
}

/// The fixed-day tiers a policy scores check-ins by, if any: the last tier is the end
/// of the window.
fn fixed_day_tiers(rules: &[Rule]) -> Option<(&Rule, i64)> {
    rules.iter().find_map(|r| {
        r.sources.iter().find_map(|s| match (&s.on, &s.points) {
            (Trigger::CheckIn(kinds), Points::Tiers { tiers, .. })
                if kinds.contains(&ActivityKind::FixedDay) =>
            {
                tiers.iter().map(|t| t.within_seconds).max().map(|w| (r, w))
            }
            _ => None,
        })
    })
}

/// `[checkin]`, checked against the tiers; without it, the tiers' reading (or the
/// whole day where no tier rates lateness).
fn checkin_window(
    ctx: &Ctx,
    raw: Option<&S<RawCheckin>>,
    rules: &[Rule],
) -> Result<CheckinWindow, LoadError> {
    let tiers = fixed_day_tiers(rules);
    let Some(raw) = raw else {
        return Ok(match tiers {
            Some((r, w)) => CheckinWindow {
                rule: r.id.to_string(),
                late_seconds: Some(w),
            },
            None => CheckinWindow {
                rule: String::new(),
                late_seconds: None,
            },
        });
    };
    let span = raw.span();
    let c = raw.get_ref();
    let late_seconds = match (c.until, c.late_minutes) {
        (RawUntil::Late, Some(m)) if m >= 0 => Some(m * 60),
        (RawUntil::Late, _) => {
            return Err(ctx.err(span, "until = \"late\" needs late_minutes ≥ 0"));
        }
        (RawUntil::DayEnd, None) => None,
        (RawUntil::DayEnd, Some(_)) => {
            return Err(ctx.err(span, "until = \"day_end\" takes no late_minutes"));
        }
    };
    if let Some((r, w)) = tiers
        && late_seconds != Some(w)
    {
        return Err(ctx.err(
            span,
            format!(
                "the check-in window must end where rule {}'s last tier does ({} minutes after the start)",
                r.id,
                w / 60
            ),
        ));
    }
    Ok(CheckinWindow {
        rule: c.rule.clone(),
        late_seconds,
    })
}

fn assessment_settings(
    ctx: &Ctx,
    raw: &S<RawAssessment>,
    indexes: &[Index],
) -> Result<AssessmentSettings, LoadError> {
    let span = raw.span();
    let a = raw.get_ref();
    let Some(index) = indexes.iter().find(|i| i.orgs) else {
        return Err(ctx.err(span, "[assessment] needs an organization index"));
    };
    if let Some(b) = index
        .ratings
        .iter()
        .find(|b| !a.ratings.contains_key(b.value.as_ref()))
    {
        return Err(ctx.err(span, format!("ratings: no label for `{}`", b.value)));
    }
    if let Some(p) = a.passing.iter().find(|p| !a.ratings.contains_key(*p)) {
        return Err(ctx.err(span, format!("passing: unknown rating `{p}`")));
    }
    if a.targets.is_empty()
        || a.targets.windows(2).any(|w| w[0].from >= w[1].from)
        || a.targets
            .iter()
            .any(|t| t.share.0 < Decimal::ZERO || t.share.0 > Decimal::ONE)
    {
        return Err(ctx.err(span, "targets: years ascending, shares between 0 and 1"));
    }
    if !(1..=12).contains(&a.due.month) {
        return Err(ctx.err(span, "due.month: 1–12"));
    }
    Ok(AssessmentSettings {
        rule: a.rule.clone(),
        rating_labels: a.ratings.clone().into_iter().collect(),
        passing: a.passing.clone(),
        target_rule: a.target_rule.clone(),
        targets: a.targets.iter().map(|t| (t.from, t.share.0)).collect(),
        due_rule: a.due.rule.clone(),
        due_month: a.due.month,
    })
}

fn publicity_settings(ctx: &Ctx, raw: &S<RawPublicity>) -> Result<PublicitySettings, LoadError> {
    let span = raw.span();
    let p = raw.get_ref();
    if p.periods.is_empty()
        || p.periods
            .iter()
            .any(|x| !matches!(x.as_str(), "month" | "quarter" | "half_year" | "year"))
    {
        return Err(ctx.err(
            span,
            "periods: one or more of month, quarter, half_year, year",
        ));
    }
    let days = p.days.unwrap_or(p.min_days);
    if p.min_days < 1 || days < p.min_days || days > 60 || !(0..=60).contains(&p.answer_days) {
        return Err(ctx.err(
            span,
            "publicity needs 1 ≤ min_days ≤ days ≤ 60 and 0 ≤ answer_days ≤ 60",
        ));
    }
    if p.objectors
        .iter()
        .any(|o| !matches!(o.as_str(), "member" | "public"))
    {
        return Err(ctx.err(span, "objectors: member, public"));
    }
    Ok(PublicitySettings {
        rule: p.rule.clone(),
        periods: p.periods.clone(),
        min_days: p.min_days,
        days,
        answer_days: p.answer_days,
        public_objections: p.objectors.iter().any(|o| o == "public"),
        ranking: p.ranking,
        file_with_parent: p.file_with_parent,
    })
}

fn add_item(
    ctx: &Ctx,
    span: &Range<usize>,
    items: &mut HashMap<(ItemSubject, String), ItemSpec>,
    subject: ItemSubject,
    code: &str,
    fields: &[FieldSpec],
) -> Result<(), LoadError> {
    let spec = items
        .entry((subject, code.to_owned()))
        .or_insert_with(|| ItemSpec {
            code: code.to_owned(),
            subject,
            fields: Vec::new(),
        });
    for f in fields {
        match spec.fields.iter_mut().find(|x| x.name == f.name) {
            None => spec.fields.push(f.clone()),
            Some(x) => {
                if x.kind != f.kind {
                    return Err(ctx.err(
                        span.clone(),
                        format!(
                            "item \"{code}\" field \"{}\" is read both as {} and as {}",
                            f.name,
                            x.kind.name(),
                            f.kind.name()
                        ),
                    ));
                }
                x.required |= f.required;
                if let Some(a) = &f.allowed {
                    let list = x.allowed.get_or_insert_with(Vec::new);
                    for v in a {
                        if !list.contains(v) {
                            list.push(v.clone());
                        }
                    }
                }
            }
        }
    }
    Ok(())
}
