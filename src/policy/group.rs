//! The group stage: rules that compare subjects (SD-6 star quota, EQ-5/EQ-6 last place).
//!
//! Runs over finished subject evaluations and only changes their results
//! (stars, status, rating, flags), never their postings. Deterministic, and
//! running it twice gives what running it once gives.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

use super::engine::{Context, Source, Status, SubjectEvaluation, local_midnight, year_bounds};
use super::facts::{OrgId, SubjectId};
use super::model::{GroupKind, LastPlace, Period, Quota, Rounding, Scope, Ties, band};
use super::year::Carried;

/// Applies the policy's group rules to evaluations made with the same context.
/// Call it with every subject that shares a ranking (a branch, a committee).
/// `carried` continues consecutive rankings from the previous year (see [`Carried`]).
pub fn evaluate_group(ctx: &Context<'_>, evals: &mut [SubjectEvaluation], carried: &Carried) {
    for g in &ctx.policy.groups {
        let members = group_members(evals, g.index);
        match &g.kind {
            GroupKind::Quota(q) => quota(ctx, g.index, q, evals, &members),
            GroupKind::LastPlace(l) => last_place(ctx, &g.id, l, evals, &members, carried),
        }
    }
}

/// (evaluation, part) pairs a group rule on `index` ranks: exempt and uncovered
/// stretches take no place.
fn group_members(evals: &[SubjectEvaluation], index: usize) -> Vec<(usize, usize)> {
    evals
        .iter()
        .enumerate()
        .flat_map(|(ei, e)| {
            e.results.iter().enumerate().filter_map(move |(pi, r)| {
                (r.index_pos == Some(index)
                    && !matches!(r.status, Status::Exempt | Status::NotCovered))
                .then_some((ei, pi))
            })
        })
        .collect()
}

/// One period of a ranking for one member, as the last-place rule saw it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PeriodPlace {
    /// 1-based quarter / half-year / month.
    pub n: u32,
    /// Points earned in the period (dated postings of the stretch).
    pub points: Decimal,
    /// Place among those ranked with the member (ties share a place); `None` when the
    /// member was not in the ranking (not yet or no longer in the stretch).
    pub place: Option<u32>,
    /// How many were ranked together.
    pub of: u32,
    /// Last (the lowest, not everyone tied, at least two ranked).
    pub last: bool,
}

/// One ranking clause of a last-place rule (`any = [...]`) for one member.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RankingEvidence {
    pub period: Period,
    /// `org`: inside the branch; `all`: across everyone evaluated together (全委).
    pub scope: Scope,
    pub times: u32,
    pub consecutive: bool,
    pub periods: Vec<PeriodPlace>,
    /// Last places carried in from the previous year's closing run (consecutive only).
    pub carried: u32,
    /// What the rule counts: the longest run (consecutive) or the number of last places.
    pub count: u32,
    pub met: bool,
}

/// What one last-place rule (EQ-5, EQ-6) saw for one stretch of one subject: the engine's
/// own ranking, exposed so staff can see why before (and after) the year closes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LastPlaceEvidence {
    pub rule: String,
    pub label: String,
    pub subject: SubjectId,
    /// Index into the evaluation's `results`.
    pub part: usize,
    pub rankings: Vec<RankingEvidence>,
    /// Some clause is met.
    pub met: bool,
    /// The rule applies to the stretch's role (met and applies: the consequence follows).
    pub applies: bool,
    /// The consequence, as the policy names it.
    pub unqualified: bool,
    pub rating: Option<String>,
    pub flag: Option<String>,
}

/// The evidence of every last-place rule for evaluations made with the same context and
/// the same `carried` that [`evaluate_group`] would get. Pure; changes nothing.
pub fn last_place_evidence(
    ctx: &Context<'_>,
    evals: &[SubjectEvaluation],
    carried: &Carried,
) -> Vec<LastPlaceEvidence> {
    let mut out = Vec::new();
    for g in &ctx.policy.groups {
        let GroupKind::LastPlace(l) = &g.kind else {
            continue;
        };
        let members = group_members(evals, g.index);
        let seen = last_place_seen(ctx, &g.id, l, evals, &members, carried);
        for (m, &(ei, pi)) in members.iter().enumerate() {
            let r = &evals[ei].results[pi];
            out.push(LastPlaceEvidence {
                rule: g.id.to_string(),
                label: g.label.clone(),
                subject: evals[ei].subject,
                part: pi,
                rankings: seen.rankings[m].clone(),
                met: seen.met[m],
                applies: r.role.is_some_and(|role| l.roles.contains(&role)),
                unqualified: l.unqualified,
                rating: l.rating.as_deref().map(str::to_owned),
                flag: l.flag.as_deref().map(str::to_owned),
            });
        }
    }
    out
}

fn org_at(e: &SubjectEvaluation, t: DateTime<FixedOffset>) -> Option<OrgId> {
    match (e.subject, &e.orgs) {
        (SubjectId::Org(o), _) => Some(o),
        (_, Some(orgs)) => Some(*orgs.at(t)),
        _ => None,
    }
}

fn scope_key(scope: Scope, e: &SubjectEvaluation, t: DateTime<FixedOffset>) -> Option<OrgId> {
    match scope {
        Scope::All => None,
        Scope::Org => org_at(e, t),
    }
}

/// The quota's seats for `members` subjects (SD-6: 20 % of the branch, rounded as the
/// policy says). The one place the share is turned into a number of seats.
pub fn quota_seats(q: &Quota, members: usize) -> usize {
    let n = Decimal::from(members) * q.share;
    match q.rounding {
        Rounding::Floor => n.floor(),
        Rounding::Ceil => n.ceil(),
        Rounding::Nearest => n.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero),
    }
    .to_usize()
    .unwrap_or(0)
}

fn quota(
    ctx: &Context<'_>,
    ix: usize,
    q: &Quota,
    evals: &mut [SubjectEvaluation],
    members: &[(usize, usize)],
) {
    let index = &ctx.policy.indexes[ix];
    let mut groups: BTreeMap<Option<OrgId>, Vec<(usize, usize)>> = BTreeMap::new();
    for &(ei, pi) in members {
        let e = &evals[ei];
        let (_, y1) = year_bounds(e.tz, ctx.year);
        let t = e.results[pi].until.min(y1) - Duration::seconds(1);
        groups
            .entry(scope_key(q.scope, e, t))
            .or_default()
            .push((ei, pi));
    }
    for list in groups.values() {
        let seats = quota_seats(q, list.len());
        let mut candidates: Vec<(Decimal, SubjectId, usize, usize)> = list
            .iter()
            .filter_map(|&(ei, pi)| {
                let r = &evals[ei].results[pi];
                let score = r.score?;
                (r.status == Status::Scored && score >= q.min_score).then_some((
                    score,
                    evals[ei].subject,
                    ei,
                    pi,
                ))
            })
            .collect();
        candidates.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let chosen = if candidates.len() <= seats {
            candidates.len()
        } else if seats == 0 {
            0
        } else {
            let line = candidates[seats - 1].0;
            if candidates[seats].0 == line {
                match q.ties {
                    Ties::Exclude => candidates.iter().take_while(|c| c.0 > line).count(),
                    Ties::Include => candidates.iter().take_while(|c| c.0 >= line).count(),
                }
            } else {
                seats
            }
        };
        let promoted: Vec<(usize, usize)> =
            candidates[..chosen].iter().map(|c| (c.2, c.3)).collect();
        for &(ei, pi) in list {
            let r = &mut evals[ei].results[pi];
            let Some(score) = r.score else { continue };
            if r.status == Status::Unqualified && !index.unqualified.stars {
                continue;
            }
            let banded = band(&index.stars, score).copied();
            r.stars = if promoted.contains(&(ei, pi)) {
                Some(q.stars)
            } else {
                // Above the line without a seat: one star below the quota's stars.
                banded.map(|s| {
                    if s >= q.stars {
                        q.stars.saturating_sub(1)
                    } else {
                        s
                    }
                })
            };
        }
    }
}

fn periods(per: Period) -> u32 {
    match per {
        Period::Day => 365,
        Period::Month => 12,
        Period::Quarter => 4,
        Period::HalfYear => 2,
        Period::Year => 1,
    }
}

fn period_bounds(
    e: &SubjectEvaluation,
    year: i32,
    per: Period,
    k: u32,
) -> (DateTime<FixedOffset>, DateTime<FixedOffset>) {
    let months = 12 / periods(per).clamp(1, 12);
    let start_month = 1 + k * months;
    let first = NaiveDate::from_ymd_opt(year, start_month, 1).unwrap_or(NaiveDate::MIN);
    let next = if start_month + months > 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, start_month + months, 1)
    }
    .unwrap_or(NaiveDate::MAX);
    (local_midnight(e.tz, first), local_midnight(e.tz, next))
}

/// What a last-place rule sees: per member, each clause's places and counts, whether
/// it is met, and the run each consecutive clause ends the year on.
struct Seen {
    rankings: Vec<Vec<RankingEvidence>>,
    met: Vec<bool>,
    trailing_runs: Vec<(usize, u32)>,
}

fn last_place_seen(
    ctx: &Context<'_>,
    rule: &Arc<str>,
    l: &LastPlace,
    evals: &[SubjectEvaluation],
    members: &[(usize, usize)],
    carried: &Carried,
) -> Seen {
    let mut met = vec![false; members.len()];
    let mut evidence: Vec<Vec<RankingEvidence>> = vec![Vec::new(); members.len()];
    let mut trailing_runs: Vec<(usize, u32)> = Vec::new();
    for ranking in &l.any {
        let n = periods(ranking.period);
        let months = 12 / n.clamp(1, 12);
        // Points each member earned in each period, from dated postings of its part.
        let sums: Vec<Vec<Decimal>> = members
            .iter()
            .map(|&(ei, pi)| {
                let e = &evals[ei];
                let mut v = vec![Decimal::ZERO; n as usize];
                for p in e.postings_of(pi) {
                    if let (Some(at), false) = (p.at, matches!(p.source, Source::Year)) {
                        let local = at.with_timezone(&e.tz);
                        if local.year() == ctx.year {
                            let k = (local.month0() / months) as usize;
                            if let Some(slot) = v.get_mut(k) {
                                *slot += p.points_granted;
                            }
                        }
                    }
                }
                v
            })
            .collect();
        let mut last = vec![vec![false; n as usize]; members.len()];
        // (place, of) per member and period, for the evidence.
        let mut places: Vec<Vec<Option<(u32, u32)>>> = vec![vec![None; n as usize]; members.len()];
        for k in 0..n {
            let mut groups: BTreeMap<Option<OrgId>, Vec<usize>> = BTreeMap::new();
            for (m, &(ei, pi)) in members.iter().enumerate() {
                let e = &evals[ei];
                let r = &e.results[pi];
                let (start, end) = period_bounds(e, ctx.year, ranking.period, k);
                if r.from >= end || r.until <= start {
                    continue;
                }
                let t = end.min(r.until) - Duration::seconds(1);
                groups
                    .entry(scope_key(ranking.scope, e, t))
                    .or_default()
                    .push(m);
            }
            for list in groups.values() {
                let of = u32::try_from(list.len()).unwrap_or(u32::MAX);
                for &m in list {
                    let mine = sums[m][k as usize];
                    let above = list.iter().filter(|&&o| sums[o][k as usize] > mine).count();
                    places[m][k as usize] =
                        Some((u32::try_from(above + 1).unwrap_or(u32::MAX), of));
                }
                let scores = list.iter().map(|&m| sums[m][k as usize]);
                let (Some(min), Some(max)) = (scores.clone().min(), scores.max()) else {
                    continue;
                };
                // A ranking where everyone ties names no one last.
                if list.len() < 2 || min == max {
                    continue;
                }
                for &m in list {
                    if sums[m][k as usize] == min {
                        last[m][k as usize] = true;
                    }
                }
            }
        }
        for (m, row) in last.iter().enumerate() {
            let mut start = 0;
            let count = if ranking.consecutive {
                let (ei, pi) = members[m];
                let e = &evals[ei];
                let (y0, y1) = year_bounds(e.tz, ctx.year);
                let r = &e.results[pi];
                // The run goes on from last year only for the stretch that opens the year.
                start = match (e.subject, r.from <= y0) {
                    (SubjectId::Person(p), true) => {
                        carried.get(&(p, rule.clone())).copied().unwrap_or(0)
                    }
                    _ => 0,
                };
                // Only runs that reach into this year count here: a run that ended last
                // year was judged last year.
                let (best, trailing) = row.iter().fold((0, start), |(best, run), &x| {
                    if x {
                        (best.max(run + 1), run + 1)
                    } else {
                        (best, 0)
                    }
                });
                if r.until >= y1 && trailing > 0 {
                    trailing_runs.push((m, trailing));
                }
                best
            } else {
                u32::try_from(row.iter().filter(|x| **x).count()).unwrap_or(u32::MAX)
            };
            if count >= ranking.times {
                met[m] = true;
            }
            evidence[m].push(RankingEvidence {
                period: ranking.period,
                scope: ranking.scope,
                times: ranking.times,
                consecutive: ranking.consecutive,
                periods: (0..n as usize)
                    .map(|k| PeriodPlace {
                        n: u32::try_from(k + 1).unwrap_or(u32::MAX),
                        points: sums[m][k],
                        place: places[m][k].map(|p| p.0),
                        of: places[m][k].map_or(0, |p| p.1),
                        last: row[k],
                    })
                    .collect(),
                carried: start,
                count,
                met: count >= ranking.times,
            });
        }
    }
    Seen {
        rankings: evidence,
        met,
        trailing_runs,
    }
}

fn last_place(
    ctx: &Context<'_>,
    rule: &Arc<str>,
    l: &LastPlace,
    evals: &mut [SubjectEvaluation],
    members: &[(usize, usize)],
    carried: &Carried,
) {
    let Seen {
        met, trailing_runs, ..
    } = last_place_seen(ctx, rule, l, evals, members, carried);
    for (m, run) in trailing_runs {
        let (ei, pi) = members[m];
        let r = &mut evals[ei].results[pi];
        if !r.trailing_last.iter().any(|(id, _)| **id == **rule) {
            r.trailing_last.push((rule.to_string(), run));
        }
    }
    for (m, &(ei, pi)) in members.iter().enumerate() {
        let r = &mut evals[ei].results[pi];
        if !met[m] || !r.role.is_some_and(|role| l.roles.contains(&role)) {
            continue;
        }
        if l.unqualified && r.status == Status::Scored {
            r.status = Status::Unqualified;
        }
        if let Some(rating) = &l.rating {
            r.rating = Some(rating.clone());
        }
        if let Some(flag) = &l.flag
            && !r.flags.contains(flag)
        {
            r.flags.push(flag.clone());
        }
    }
}
