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
        let members: Vec<(usize, usize)> = evals
            .iter()
            .enumerate()
            .flat_map(|(ei, e)| {
                e.results.iter().enumerate().filter_map(move |(pi, r)| {
                    (r.index_pos == Some(g.index)
                        && !matches!(r.status, Status::Exempt | Status::NotCovered))
                    .then_some((ei, pi))
                })
            })
            .collect();
        match &g.kind {
            GroupKind::Quota(q) => quota(ctx, g.index, q, evals, &members),
            GroupKind::LastPlace(l) => last_place(ctx, &g.id, l, evals, &members, carried),
        }
    }
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

fn last_place(
    ctx: &Context<'_>,
    rule: &Arc<str>,
    l: &LastPlace,
    evals: &mut [SubjectEvaluation],
    members: &[(usize, usize)],
    carried: &Carried,
) {
    let mut met = vec![false; members.len()];
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
            let count = if ranking.consecutive {
                let (ei, pi) = members[m];
                let e = &evals[ei];
                let (y0, y1) = year_bounds(e.tz, ctx.year);
                let r = &e.results[pi];
                // The run goes on from last year only for the stretch that opens the year.
                let start = match (e.subject, r.from <= y0) {
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
        }
    }
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
