//! The pure engine: one subject's facts of a year → postings and results.
//!
//! No I/O, no clock. Facts are processed in (at, id) order whatever the order
//! they are given in, so caps and "once" rules fall on the same facts however
//! they arrived; annulled facts are left out before anything is counted.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Serialize, Serializer};

use super::calendar::Calendars;
use super::decimal::fmt_dec;
use super::facts::{
    Activities, Activity, ActivityId, Fact, FactId, FactKind, FieldValue, Fields, Method, OrgId,
    Role, Subject, SubjectId, Timeline,
};
use super::model::{
    Effect, Keep, KeyField, Period, Points, Policy, RuleOutcome, Source as RuleSource, band,
};

/// What an evaluation needs besides the facts.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub policy: &'a Policy,
    pub calendars: &'a Calendars,
    pub year: i32,
    /// Apply year-end rules (XH-15.1) and group rules; false for the running score.
    pub year_end: bool,
}

/// What a posting comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Source {
    Fact(FactId),
    /// An activity the organization held (XH-5.1).
    Activity(ActivityId),
    /// The subject's year as a whole: openings, year-end rules, floors, vetoes.
    Year,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PostingFlag {
    /// A working-day deadline fell in a year without a calendar: weekends only.
    CalendarMissing,
    /// The fact lacks a field its rule needs, or has an unusable value.
    InvalidFact,
}

/// One line of a subject's ledger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Posting {
    pub source: Source,
    /// The fact's time; `None` for whole-year lines.
    pub at: Option<DateTime<FixedOffset>>,
    /// Which of the evaluation's `results` it counts in.
    pub part: usize,
    #[serde(serialize_with = "ser_arc")]
    pub rule_id: Arc<str>,
    /// Other rules that shaped the amount (caps, de-duplication, multipliers, filters).
    #[serde(serialize_with = "ser_arcs")]
    pub applied: Vec<Arc<str>>,
    /// How the fact was judged (`on_time`, `late`, `makeup` …), for year-end counts.
    #[serde(serialize_with = "ser_opt_arc")]
    pub outcome: Option<Arc<str>>,
    pub points_asked: Decimal,
    pub points_granted: Decimal,
    /// zh-CN explanation for the member's ledger page.
    pub note: String,
    pub flags: Vec<PostingFlag>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Scored,
    Exempt,
    Unqualified,
    Vetoed,
    /// The policy has no index for the subject's role at that time.
    NotCovered,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Scored => "scored",
            Status::Exempt => "exempt",
            Status::Unqualified => "unqualified",
            Status::Vetoed => "vetoed",
            Status::NotCovered => "not_covered",
        }
    }
}

/// The result of one index for one stretch of the year.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexResult {
    #[serde(serialize_with = "ser_arc")]
    pub index: Arc<str>,
    /// The person's role at the end of the stretch; `None` for organizations.
    pub role: Option<Role>,
    pub from: DateTime<FixedOffset>,
    pub until: DateTime<FixedOffset>,
    pub status: Status,
    pub score: Option<Decimal>,
    pub stars: Option<u8>,
    #[serde(serialize_with = "ser_opt_arc")]
    pub rating: Option<Arc<str>>,
    /// EQ-5 style composite (points and an evaluation score).
    pub composite: Option<Decimal>,
    /// Largest reward allowed (TW-7: at most 5 yuan per point).
    pub reward_max: Option<Decimal>,
    /// Flags from marks and group rules (`no_awards`, `not_confirmable_on_time` …).
    #[serde(serialize_with = "ser_arcs")]
    pub flags: Vec<Arc<str>>,
    /// Per group rule with a consecutive ranking: the run of last places the year ends
    /// on (frozen with the result at year close, carried into the next year).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trailing_last: Vec<(String, u32)>,
    #[serde(skip)]
    pub(crate) index_pos: Option<usize>,
}

/// Everything the engine says about one subject's year.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubjectEvaluation {
    pub subject: SubjectId,
    pub postings: Vec<Posting>,
    /// One per stretch of the year under one index (a role change can start a new one).
    pub results: Vec<IndexResult>,
    /// Things the caller should log (a missing calendar, an unknown activity).
    pub warnings: Vec<String>,
    #[serde(skip)]
    pub(crate) orgs: Option<Timeline<OrgId>>,
    #[serde(skip)]
    pub(crate) tz: Tz,
}

impl SubjectEvaluation {
    /// The result in force at the end of the year (the last stretch).
    pub fn result(&self) -> Option<&IndexResult> {
        self.results.last()
    }

    /// Postings that count in `part`.
    pub fn postings_of(&self, part: usize) -> impl Iterator<Item = &Posting> {
        self.postings.iter().filter(move |p| p.part == part)
    }
}

fn ser_arc<S: Serializer>(v: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v)
}

fn ser_opt_arc<S: Serializer>(v: &Option<Arc<str>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_some(&**v),
        None => s.serialize_none(),
    }
}

fn ser_arcs<S: Serializer>(v: &[Arc<str>], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|x| &**x))
}

/// Internal maps: keys are trusted ids, so a fast fixed hasher (no per-map seeding).
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::FixedState>;
pub(crate) type FastSet<K> = HashSet<K, foldhash::fast::FixedState>;

pub(crate) fn local_midnight(tz: Tz, d: NaiveDate) -> DateTime<FixedOffset> {
    let naive = d.and_time(chrono::NaiveTime::MIN);
    tz.from_local_datetime(&naive)
        .earliest()
        .unwrap_or_else(|| tz.from_utc_datetime(&naive))
        .fixed_offset()
}

/// The year's bounds in `tz`: [Jan 1 00:00, next Jan 1 00:00).
pub(crate) fn year_bounds(tz: Tz, year: i32) -> (DateTime<FixedOffset>, DateTime<FixedOffset>) {
    let start = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(NaiveDate::MIN);
    let end = NaiveDate::from_ymd_opt(year + 1, 1, 1).unwrap_or(NaiveDate::MAX);
    (local_midnight(tz, start), local_midnight(tz, end))
}

/// Bucket number of a local time for a period (unique within and across years).
pub(crate) fn bucket(per: Period, t: NaiveDateTime) -> i64 {
    let y = i64::from(t.year());
    let m0 = i64::from(t.month0());
    match per {
        Period::Day => i64::from(t.date().num_days_from_ce()),
        Period::Month => y * 12 + m0,
        Period::Quarter => y * 4 + m0 / 3,
        Period::HalfYear => y * 2 + m0 / 6,
        Period::Year => y,
    }
}

/// Facts that are annulled by an annulment that itself stands.
fn annulled(facts: &[&Fact]) -> FastSet<FactId> {
    let annuls: FastMap<FactId, Vec<FactId>> = {
        let mut m: FastMap<FactId, Vec<FactId>> = FastMap::default();
        for f in facts {
            if let FactKind::Annul { target } = f.kind {
                m.entry(target).or_default().push(f.id);
            }
        }
        m
    };
    let mut out = FastSet::default();
    if annuls.is_empty() {
        return out;
    }
    // An annulment stands unless annulled itself; a cycle stands nothing.
    fn stands(
        id: FactId,
        annuls: &FastMap<FactId, Vec<FactId>>,
        memo: &mut FastMap<FactId, bool>,
        seen: &mut FastSet<FactId>,
    ) -> bool {
        if let Some(v) = memo.get(&id) {
            return *v;
        }
        if !seen.insert(id) {
            return false;
        }
        let v = annuls
            .get(&id)
            .is_none_or(|by| by.iter().all(|a| !stands(*a, annuls, memo, seen)));
        seen.remove(&id);
        memo.insert(id, v);
        v
    }
    let mut memo = FastMap::default();
    let mut seen = FastSet::default();
    for target in annuls.keys() {
        if !stands(*target, &annuls, &mut memo, &mut seen) {
            out.insert(*target);
        }
    }
    out
}

struct Part {
    index: Option<usize>,
    role: Option<Role>,
    from: DateTime<FixedOffset>,
    until: DateTime<FixedOffset>,
}

fn parts_of(
    policy: &Policy,
    subject: &Subject,
    y0: DateTime<FixedOffset>,
    y1: DateTime<FixedOffset>,
) -> Vec<Part> {
    match subject {
        Subject::Org(_) => vec![Part {
            index: policy.org_index(),
            role: None,
            from: y0,
            until: y1,
        }],
        Subject::Person(p) => {
            let mut parts: Vec<Part> = Vec::new();
            let first = *p.roles.at(y0);
            let spans = std::iter::once((y0, first)).chain(
                p.roles
                    .changes()
                    .iter()
                    .filter(|(t, _)| *t > y0 && *t < y1)
                    .map(|(t, r)| (*t, *r)),
            );
            for (t, role) in spans {
                let index = policy.index_for_role(role);
                match parts.last_mut() {
                    Some(last) if last.index == index => last.role = Some(role),
                    Some(last) => {
                        last.until = t;
                        parts.push(Part {
                            index,
                            role: Some(role),
                            from: t,
                            until: y1,
                        });
                    }
                    None => parts.push(Part {
                        index,
                        role: Some(role),
                        from: t,
                        until: y1,
                    }),
                }
            }
            parts
        }
    }
}

fn role_index_name(role: Option<Role>) -> &'static str {
    match role {
        None => "fortress",
        Some(Role::Applicant) => "applicant",
        Some(_) => "vanguard",
    }
}

/// Evaluates one subject's year. `facts` may hold anything (in any order):
/// only the subject's facts of the year, and annulments, are used. `activities`
/// must contain the activities those facts refer to and, for an organization,
/// the activities it held.
pub fn evaluate_subject<'f>(
    ctx: &Context<'_>,
    subject: &Subject,
    facts: impl IntoIterator<Item = &'f Fact>,
    activities: &Activities,
) -> SubjectEvaluation {
    let tz = subject.tz();
    let sid = subject.id();
    let (y0, y1) = year_bounds(tz, ctx.year);
    let mut facts: Vec<&Fact> = facts
        .into_iter()
        .filter(|f| f.subject().is_none_or(|s| s == sid))
        .collect();
    facts.sort_unstable_by_key(|f| (f.at, f.id));
    let gone = annulled(&facts);

    let mut eval = SubjectEvaluation {
        subject: sid,
        postings: Vec::new(),
        results: Vec::new(),
        warnings: Vec::new(),
        orgs: match subject {
            Subject::Person(p) => Some(p.orgs.clone()),
            Subject::Org(_) => None,
        },
        tz,
    };
    let exempt = matches!(subject, Subject::Person(p) if p.exempt);

    for (pi, part) in parts_of(ctx.policy, subject, y0, y1)
        .into_iter()
        .enumerate()
    {
        let not_scored = |status: Status, index: Arc<str>| IndexResult {
            index,
            role: part.role,
            from: part.from,
            until: part.until,
            status,
            score: None,
            stars: None,
            rating: None,
            composite: None,
            reward_max: None,
            flags: Vec::new(),
            trailing_last: Vec::new(),
            index_pos: part.index,
        };
        let Some(ix) = part.index else {
            eval.results.push(not_scored(
                Status::NotCovered,
                Arc::from(role_index_name(part.role)),
            ));
            continue;
        };
        if exempt {
            eval.results.push(not_scored(
                Status::Exempt,
                ctx.policy.indexes[ix].id.clone(),
            ));
            continue;
        }
        let in_part = |t: DateTime<FixedOffset>| part.from <= t && t < part.until;
        let part_facts: Vec<&Fact> = facts
            .iter()
            .copied()
            .filter(|f| {
                !matches!(f.kind, FactKind::Annul { .. }) && !gone.contains(&f.id) && in_part(f.at)
            })
            .collect();
        let mut held: Vec<&Activity> = match subject {
            Subject::Org(o) => activities
                .held_by(o.id)
                .filter(|a| in_part(a.starts_at))
                .collect(),
            Subject::Person(_) => Vec::new(),
        };
        held.sort_unstable_by_key(|a| (a.starts_at, a.id));
        let result = PartEval {
            ctx,
            tz,
            ix,
            pi,
            role: part.role,
            from: part.from,
            until: part.until,
            activities,
        }
        .run(&part_facts, &held, &mut eval);
        eval.results.push(result);
    }
    eval
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum KeyPart<'a> {
    None,
    Activity(ActivityId),
    Str(&'a str),
    Num(Decimal),
    Bool(bool),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Active,
    Filtered,
    Lost,
}

struct Claim<'a> {
    source: Source,
    at: DateTime<FixedOffset>,
    local: NaiveDateTime,
    rule: usize,
    src: usize,
    activity: Option<ActivityId>,
    item: Option<&'a str>,
    fields: Option<&'a Fields>,
    method: Option<Method>,
    /// Points before multipliers; `None` while a schedule has yet to set them.
    base: Option<Decimal>,
    factor: Decimal,
    asked: Decimal,
    granted: Decimal,
    outcome: Option<Arc<str>>,
    detail: Option<Cow<'a, str>>,
    applied: Vec<Arc<str>>,
    extra: String,
    flags: Vec<PostingFlag>,
    state: State,
}

struct PartEval<'c, 'p> {
    ctx: &'c Context<'p>,
    tz: Tz,
    ix: usize,
    pi: usize,
    role: Option<Role>,
    from: DateTime<FixedOffset>,
    until: DateTime<FixedOffset>,
    activities: &'c Activities,
}

fn signed(effect: Effect, d: Decimal) -> Decimal {
    match effect {
        Effect::Award => d,
        Effect::Deduct => -d,
    }
}

fn push_dec(s: &mut String, d: Decimal) {
    if d.is_zero() {
        s.push('0');
    } else {
        let _ = write!(s, "{}", d.normalize());
    }
}

fn push_signed(s: &mut String, d: Decimal) {
    if !d.is_sign_negative() || d.is_zero() {
        s.push('+');
    }
    push_dec(s, d);
}

fn fmt_signed(d: Decimal) -> String {
    let mut s = String::new();
    push_signed(&mut s, d);
    s
}

/// `"XH-8.1 党员固定活动日·按时签到"`
fn push_head(s: &mut String, rule: &super::model::Rule, detail: Option<&str>) {
    s.push_str(&rule.id);
    s.push(' ');
    s.push_str(&rule.label);
    if let Some(d) = detail {
        s.push('·');
        s.push_str(d);
    }
}

impl<'p> PartEval<'_, 'p> {
    fn run(
        &self,
        facts: &[&Fact],
        held: &[&Activity],
        eval: &mut SubjectEvaluation,
    ) -> IndexResult {
        let policy = self.ctx.policy;
        let index = &policy.indexes[self.ix];
        let dispatch = &policy.dispatch[self.ix];
        let mut claims: Vec<Claim<'_>> = Vec::with_capacity(facts.len() + held.len());
        let mut composite_input: Option<Decimal> = None;
        let mut composite_postings: Vec<Posting> = Vec::new();

        // Held activities come after facts of the same instant; both are in time order.
        let mut hi = 0;
        for f in facts {
            self.push_held(held, &mut hi, Some(f.at), &mut claims, eval);
            let local = f.at.with_timezone(&self.tz).naive_local();
            match &f.kind {
                FactKind::CheckIn { activity, .. } | FactKind::MakeupStudy { activity, .. } => {
                    let Some(a) = self.activities.get(*activity) else {
                        eval.warnings.push(format!(
                            "fact {}: activity {} is unknown, not scored",
                            f.id, activity
                        ));
                        continue;
                    };
                    let (list, method) = match &f.kind {
                        FactKind::CheckIn { method, .. } => {
                            (&dispatch.checkin[a.kind.slot()], Some(*method))
                        }
                        _ => (&dispatch.makeup[a.kind.slot()], None),
                    };
                    for &(r, s) in list {
                        claims.push(self.activity_claim(f, local, a, method, r, s));
                    }
                }
                FactKind::Item { item, fields, .. } => {
                    if let Some(list) = dispatch.items.get(item.as_str()) {
                        for &(r, s) in list {
                            claims.push(self.item_claim(f, local, item.as_str(), fields, r, s));
                        }
                    } else if let Some(c) =
                        index.composite.as_ref().filter(|c| c.item == item.as_str())
                    {
                        let value = fields.number(&c.field);
                        composite_input = value.or(composite_input);
                        composite_postings.push(Posting {
                            source: Source::Fact(f.id),
                            at: Some(f.at),
                            part: self.pi,
                            rule_id: c.rule.clone(),
                            applied: Vec::new(),
                            outcome: None,
                            points_asked: Decimal::ZERO,
                            points_granted: Decimal::ZERO,
                            note: match value {
                                Some(v) => format!(
                                    "{} {} {}，年度综合评定占 {}%",
                                    c.rule,
                                    c.label,
                                    fmt_dec(v),
                                    fmt_dec(c.weight * Decimal::ONE_HUNDRED)
                                ),
                                None => format!("{} {}：缺少 {}，不计入", c.rule, c.label, c.field),
                            },
                            flags: if value.is_some() {
                                Vec::new()
                            } else {
                                vec![PostingFlag::InvalidFact]
                            },
                        });
                    }
                }
                FactKind::Annul { .. } => {}
            }
        }
        self.push_held(held, &mut hi, None, &mut claims, eval);

        self.apply_once(&mut claims);
        self.apply_schedule(&mut claims);
        self.apply_caps(&mut claims);

        // Ledger: openings, fact lines, year-end lines, then whole-year adjustments.
        let mut total = Decimal::ZERO;
        for &r in &dispatch.openings {
            let rule = &policy.rules[r];
            let pts = rule.opening.unwrap_or_default();
            total += pts;
            eval.postings.push(Posting {
                source: Source::Year,
                at: None,
                part: self.pi,
                rule_id: rule.id.clone(),
                applied: Vec::new(),
                outcome: None,
                points_asked: pts,
                points_granted: pts,
                note: format!("{} {} 基本分 {}", rule.id, rule.label, fmt_dec(pts)),
                flags: Vec::new(),
            });
        }
        let mut veto: Option<Arc<str>> = None;
        let mut unqualified: Option<Arc<str>> = None;
        for c in &claims {
            let rule = &policy.rules[c.rule];
            if c.state != State::Filtered {
                match rule.outcome {
                    Some(RuleOutcome::Veto) if veto.is_none() => veto = Some(rule.id.clone()),
                    Some(RuleOutcome::Unqualified) if unqualified.is_none() => {
                        unqualified = Some(rule.id.clone())
                    }
                    _ => {}
                }
            }
        }
        // Year-end counts look at how facts were judged, before the postings are made.
        let counted: Vec<u32> = policy
            .year_end
            .iter()
            .map(|ye| {
                if !self.ctx.year_end || ye.index != self.ix {
                    return 0;
                }
                // A day counts once: an unscored check-in (补签) beside a scored one
                // of the same activity is the same day.
                let mut days = std::collections::HashSet::new();
                let n = claims
                    .iter()
                    .filter(|c| {
                        (c.state == State::Active
                            || (c.state == State::Filtered && c.outcome.is_some()))
                            && ye
                                .count_rules
                                .iter()
                                .any(|r| **r == *policy.rules[c.rule].id)
                            && c.outcome
                                .as_ref()
                                .is_some_and(|o| ye.outcomes.iter().any(|x| **x == **o))
                    })
                    .filter(|c| c.activity.is_none_or(|a| days.insert(a)))
                    .count();
                u32::try_from(n).unwrap_or(u32::MAX)
            })
            .collect();
        eval.postings
            .reserve(claims.len() + composite_postings.len() + 2);
        let mut scratch = String::with_capacity(160);
        for c in claims {
            let posting = self.posting(c, &mut scratch);
            total += posting.points_granted;
            eval.postings.push(posting);
        }
        eval.postings.append(&mut composite_postings);
        if self.ctx.year_end {
            for (ye, &n) in policy
                .year_end
                .iter()
                .zip(&counted)
                .filter(|(y, _)| y.index == self.ix)
            {
                if n < ye.below {
                    let pts = signed(ye.effect, ye.points);
                    total += pts;
                    eval.postings.push(Posting {
                        source: Source::Year,
                        at: None,
                        part: self.pi,
                        rule_id: ye.id.clone(),
                        applied: Vec::new(),
                        outcome: None,
                        points_asked: pts,
                        points_granted: pts,
                        note: format!(
                            "{} {}（实际 {} 次） {}",
                            ye.id,
                            ye.label,
                            n,
                            fmt_signed(pts)
                        ),
                        flags: Vec::new(),
                    });
                }
            }
        }

        let mut status = Status::Scored;
        let adjust = |rule: Arc<str>, pts: Decimal, note: String, eval: &mut SubjectEvaluation| {
            eval.postings.push(Posting {
                source: Source::Year,
                at: None,
                part: self.pi,
                rule_id: rule,
                applied: Vec::new(),
                outcome: None,
                points_asked: pts,
                points_granted: pts,
                note,
                flags: Vec::new(),
            });
            pts
        };
        if let Some(v) = veto {
            status = Status::Vetoed;
            let note = format!("{v} 一票否决，年度积分为 0");
            total += adjust(v, -total, note, eval);
        } else if let Some(u) = unqualified {
            status = Status::Unqualified;
            if index.unqualified.zero_score {
                let note = format!("{u} 认定为不合格，积分扣减至 0");
                total += adjust(u, -total, note, eval);
            }
        }
        if let Some(fl) = &index.floor
            && status != Status::Vetoed
            && total < fl.at
        {
            let pts = fl.at - total;
            let note = format!(
                "{} {}，年度积分不低于 {} 分，回补 {} 分",
                fl.rule,
                fl.label,
                fmt_dec(fl.at),
                fmt_dec(pts)
            );
            total += adjust(fl.rule.clone(), pts, note, eval);
        }

        let stars = if status == Status::Unqualified && !index.unqualified.stars {
            None
        } else {
            band(&index.stars, total).copied()
        };
        IndexResult {
            index: index.id.clone(),
            role: self.role,
            from: self.from,
            until: self.until,
            status,
            score: Some(total),
            stars,
            rating: band(&index.ratings, total).cloned(),
            composite: index
                .composite
                .as_ref()
                .zip(composite_input)
                .map(|(c, input)| c.points_weight * total + c.weight * input),
            reward_max: index
                .reward
                .as_ref()
                .filter(|r| r.earns(total))
                .and_then(|r| r.yuan_cap(total)),
            flags: index
                .marks
                .iter()
                .filter(|m| total < m.below)
                .map(|m| m.flag.clone())
                .collect(),
            trailing_last: Vec::new(),
            index_pos: Some(self.ix),
        }
    }

    /// Claims of held activities that start before `upto` (all when `None`).
    fn push_held<'a>(
        &self,
        held: &[&Activity],
        hi: &mut usize,
        upto: Option<DateTime<FixedOffset>>,
        claims: &mut Vec<Claim<'a>>,
        eval: &mut SubjectEvaluation,
    ) where
        'p: 'a,
    {
        let dispatch = &self.ctx.policy.dispatch[self.ix];
        while let Some(a) = held
            .get(*hi)
            .filter(|a| upto.is_none_or(|t| a.starts_at < t))
        {
            for &(r, s) in &dispatch.held[a.kind.slot()] {
                claims.push(self.held_claim(a, r, s, eval));
            }
            *hi += 1;
        }
    }

    fn new_claim<'a>(
        &self,
        source: Source,
        at: DateTime<FixedOffset>,
        local: NaiveDateTime,
        rule: usize,
        src: usize,
    ) -> Claim<'a> {
        Claim {
            source,
            at,
            local,
            rule,
            src,
            activity: None,
            item: None,
            fields: None,
            method: None,
            base: None,
            factor: Decimal::ONE,
            asked: Decimal::ZERO,
            granted: Decimal::ZERO,
            outcome: None,
            detail: None,
            applied: Vec::new(),
            extra: String::new(),
            flags: Vec::new(),
            state: State::Active,
        }
    }

    fn source(&self, c: &Claim<'_>) -> &'p RuleSource {
        let policy: &'p Policy = self.ctx.policy;
        &policy.rules[c.rule].sources[c.src]
    }

    fn finish_points<'a>(&self, c: &mut Claim<'a>, base: Option<Decimal>)
    where
        'p: 'a,
    {
        let src = self.source(c);
        if c.outcome.is_none() {
            c.outcome = src.outcome.clone();
        }
        if c.detail.is_none() {
            c.detail = src.label.as_deref().map(Cow::Borrowed);
        }
        let rule = &self.ctx.policy.rules[c.rule];
        if rule.schedule.is_none() {
            c.base = Some(base.unwrap_or_default());
        }
        if let Some(fields) = c.fields {
            for m in &rule.multiply {
                if fields.flag(&m.field) {
                    c.factor *= m.factor;
                    c.applied.push(m.rule.clone());
                    let _ = write!(c.extra, "，{} {} ×{}", m.rule, m.label, fmt_dec(m.factor));
                }
            }
        }
        c.asked = c.base.unwrap_or_default() * c.factor;
    }

    fn activity_claim<'a>(
        &self,
        f: &'a Fact,
        local: NaiveDateTime,
        a: &Activity,
        method: Option<Method>,
        r: usize,
        s: usize,
    ) -> Claim<'a>
    where
        'p: 'a,
    {
        let mut c = self.new_claim(Source::Fact(f.id), f.at, local, r, s);
        c.activity = Some(a.id);
        c.method = method;
        let src = self.source(&c);
        if let (Some(m), Some(allowed)) = (method, &src.methods)
            && !allowed.contains(&m)
        {
            c.state = State::Filtered;
            c.outcome = src.unscored_outcome.clone();
            if let Some(mr) = &src.methods_rule {
                c.applied.push(mr.clone());
            }
            return c;
        }
        let base = match &src.points {
            Points::Fixed(p) => Some(*p),
            Points::Activity => Some(a.points.unwrap_or_default()),
            Points::Tiers { tiers, beyond } => {
                let late_ms = (f.at - a.starts_at).num_milliseconds();
                match tiers.iter().find(|t| late_ms <= t.within_seconds * 1000) {
                    Some(t) => {
                        c.outcome = Some(t.outcome.clone());
                        c.detail = Some(Cow::Borrowed(&t.label));
                        Some(t.points)
                    }
                    None => {
                        c.outcome = Some(beyond.outcome.clone());
                        c.detail = Some(Cow::Borrowed(&beyond.label));
                        Some(Decimal::ZERO)
                    }
                }
            }
            _ => None,
        };
        self.finish_points(&mut c, base);
        c
    }

    fn item_claim<'a>(
        &self,
        f: &'a Fact,
        local: NaiveDateTime,
        item: &'a str,
        fields: &'a Fields,
        r: usize,
        s: usize,
    ) -> Claim<'a>
    where
        'p: 'a,
    {
        let mut c = self.new_claim(Source::Fact(f.id), f.at, local, r, s);
        c.item = Some(item);
        c.fields = Some(fields);
        let base = match &self.source(&c).points {
            Points::Fixed(p) => Some(*p),
            Points::Graded {
                field,
                max,
                default,
            } => match fields.number(field).or(*default) {
                Some(v) if v.is_sign_negative() && !v.is_zero() => {
                    c.flags.push(PostingFlag::InvalidFact);
                    let _ = write!(c.extra, "，分值 {} 为负数，按 0 分计", fmt_dec(v));
                    Some(Decimal::ZERO)
                }
                Some(v) => match max {
                    Some(m) if v > *m => {
                        let _ = write!(
                            c.extra,
                            "，超过单次最高 {} 分，按 {} 分计",
                            fmt_dec(*m),
                            fmt_dec(*m)
                        );
                        Some(*m)
                    }
                    _ => Some(v),
                },
                None => {
                    c.flags.push(PostingFlag::InvalidFact);
                    let _ = write!(c.extra, "，缺少分值 {field}，按 0 分计");
                    Some(Decimal::ZERO)
                }
            },
            Points::Levels { field, values } => {
                let level = fields.text(field);
                match level.and_then(|l| values.iter().find(|(k, _)| k == l)) {
                    Some((k, v)) => {
                        c.detail = Some(Cow::Borrowed(k.as_str()));
                        Some(*v)
                    }
                    None => {
                        c.flags.push(PostingFlag::InvalidFact);
                        let _ = write!(c.extra, "，{field} 无效，按 0 分计");
                        Some(Decimal::ZERO)
                    }
                }
            }
            _ => None,
        };
        self.finish_points(&mut c, base);
        c
    }

    fn held_claim<'a>(
        &self,
        a: &Activity,
        r: usize,
        s: usize,
        eval: &mut SubjectEvaluation,
    ) -> Claim<'a>
    where
        'p: 'a,
    {
        let local = a.starts_at.with_timezone(&self.tz).naive_local();
        let mut c = self.new_claim(Source::Activity(a.id), a.starts_at, local, r, s);
        c.activity = Some(a.id);
        let src = self.source(&c);
        let base = match &src.points {
            Points::Fixed(p) => Some(*p),
            Points::Activity => Some(a.points.unwrap_or_default()),
            _ => None,
        };
        if let Some(late) = &src.late_registration {
            let ended = a.ends_at.with_timezone(&self.tz).date_naive();
            let (deadline, known) = self
                .ctx
                .calendars
                .nth_working_day_after(ended, late.working_days);
            if !known {
                c.flags.push(PostingFlag::CalendarMissing);
                eval.warnings.push(format!(
                    "activity {}: no working-day calendar for the days after {ended}; weekends only",
                    a.id
                ));
            }
            let registered = a.registered_at.with_timezone(&self.tz).date_naive();
            if registered > deadline {
                c.factor *= late.factor;
                c.applied.push(late.rule.clone());
                let _ = write!(
                    c.extra,
                    "，{} {}（期限 {}，登记于 {}）",
                    late.rule,
                    late.label,
                    deadline.format("%Y-%m-%d"),
                    registered.format("%Y-%m-%d")
                );
            }
        }
        self.finish_points(&mut c, base);
        c
    }

    fn key_part<'a>(c: &Claim<'a>, k: Option<&KeyField>) -> KeyPart<'a> {
        match k {
            None => KeyPart::None,
            Some(KeyField::Activity) => c.activity.map_or(KeyPart::None, KeyPart::Activity),
            Some(KeyField::Item) => c.item.map_or(KeyPart::None, KeyPart::Str),
            Some(KeyField::Field(name)) => match c.fields.and_then(|f| f.get(name)) {
                Some(FieldValue::Text(s)) => KeyPart::Str(s),
                Some(FieldValue::Number(n)) => KeyPart::Num(n.normalize()),
                Some(FieldValue::Bool(b)) => KeyPart::Bool(*b),
                None => KeyPart::None,
            },
        }
    }

    /// "Counts once per period and key": the first or the best fact stays.
    fn apply_once(&self, claims: &mut [Claim<'_>]) {
        let rules = &self.ctx.policy.rules;
        if !claims.iter().any(|c| rules[c.rule].once.is_some()) {
            return;
        }
        let mut winners: FastMap<(usize, i64, KeyPart<'_>, KeyPart<'_>), usize> =
            FastMap::default();
        for i in 0..claims.len() {
            let c = &claims[i];
            let Some(once) = &rules[c.rule].once else {
                continue;
            };
            if c.state != State::Active {
                continue;
            }
            let key = (
                c.rule,
                bucket(once.per, c.local),
                Self::key_part(c, once.by.first()),
                Self::key_part(c, once.by.get(1)),
            );
            match winners.get(&key).copied() {
                None => {
                    winners.insert(key, i);
                }
                Some(w) => {
                    let loser = if once.keep == Keep::Best && claims[i].asked > claims[w].asked {
                        winners.insert(key, i);
                        w
                    } else {
                        i
                    };
                    claims[loser].state = State::Lost;
                }
            }
        }
    }

    fn apply_schedule(&self, claims: &mut [Claim<'_>]) {
        let rules = &self.ctx.policy.rules;
        let mut seen = vec![0usize; rules.len()];
        for c in claims.iter_mut() {
            let Some(schedule) = &rules[c.rule].schedule else {
                continue;
            };
            if c.state != State::Active {
                continue;
            }
            let k = &mut seen[c.rule];
            let pts = schedule.points[(*k).min(schedule.points.len() - 1)];
            *k += 1;
            c.base = Some(pts);
            c.asked = pts * c.factor;
            let mut d = format!("第 {} 次", *k);
            if let Some(l) = &schedule.label {
                let _ = write!(d, "（{l}）");
            }
            c.detail = Some(Cow::Owned(d));
        }
    }

    fn apply_caps(&self, claims: &mut [Claim<'_>]) {
        let policy = self.ctx.policy;
        let cats = &policy.indexes[self.ix].categories;
        let mut used_rule = vec![Decimal::ZERO; policy.rules.len()];
        let mut used_cat = vec![Decimal::ZERO; cats.len()];
        for c in claims.iter_mut() {
            if c.state != State::Active {
                continue;
            }
            let rule = &policy.rules[c.rule];
            let mut g = c.asked;
            if let Some(cap) = rule.cap {
                let used = &mut used_rule[c.rule];
                let left = (cap - *used).max(Decimal::ZERO);
                if g > left {
                    g = left;
                    let _ = write!(
                        c.extra,
                        "，已达年度上限 {} 分，实得 {} 分",
                        fmt_dec(cap),
                        fmt_dec(g)
                    );
                }
                *used += g;
            }
            if let (Effect::Award, Some(ci)) = (rule.effect, rule.category)
                && let Some(cap) = cats[ci].cap
            {
                let left = (cap - used_cat[ci]).max(Decimal::ZERO);
                if g > left {
                    if rule.cap.is_some() {
                        used_rule[c.rule] -= g - left;
                    }
                    g = left;
                    if let Some(r) = &cats[ci].rule {
                        c.applied.push(r.clone());
                    }
                    let _ = write!(
                        c.extra,
                        "，{}已达年度上限 {} 分，实得 {} 分",
                        cats[ci].label,
                        fmt_dec(cap),
                        fmt_dec(g)
                    );
                }
                used_cat[ci] += g;
            }
            c.granted = g;
        }
    }

    /// The posting for a claim; the note is written into `scratch`, then copied
    /// out at its exact size (millions of notes: no slack, no regrowth).
    fn posting(&self, c: Claim<'_>, scratch: &mut String) -> Posting {
        let rule = &self.ctx.policy.rules[c.rule];
        let src = &rule.sources[c.src];
        let asked = signed(rule.effect, c.asked);
        let detail = c.detail.as_deref();
        scratch.clear();
        let note = scratch;
        let (rule_id, granted, outcome) = match c.state {
            State::Active => {
                push_head(note, rule, detail);
                note.push(' ');
                push_signed(note, asked);
                note.push_str(&c.extra);
                (rule.id.clone(), signed(rule.effect, c.granted), c.outcome)
            }
            State::Filtered => {
                let by = src.methods_rule.clone().unwrap_or_else(|| rule.id.clone());
                let how = c.method.map_or("该方式", Method::label);
                let _ = write!(note, "{by} {how}不计分（");
                push_head(note, rule, detail);
                note.push('）');
                (by, Decimal::ZERO, None)
            }
            State::Lost => {
                let (by, label) = rule.once.as_ref().map_or((rule.id.clone(), ""), |o| {
                    (o.rule.clone(), o.label.as_str())
                });
                let _ = write!(note, "{by} {label}，本条不计分（");
                push_head(note, rule, detail);
                note.push(' ');
                push_signed(note, asked);
                note.push('）');
                (by, Decimal::ZERO, c.outcome)
            }
        };
        let mut applied = c.applied;
        if rule_id != rule.id {
            applied.insert(0, rule.id.clone());
        }
        Posting {
            source: c.source,
            at: Some(c.at),
            part: self.pi,
            rule_id,
            applied,
            outcome,
            points_asked: if c.state == State::Filtered {
                Decimal::ZERO
            } else {
                asked
            },
            points_granted: granted,
            note: note.as_str().to_owned(),
            flags: c.flags,
        }
    }
}
