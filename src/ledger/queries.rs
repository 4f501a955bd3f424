//! Reading scores, ledgers and rankings.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize, Serializer};

use super::SubjectRef;
use super::inputs::{start_of_day, tz_of};
use crate::error::{AppError, AppResult};
use crate::policy::{fmt_dec, parse_dec};

/// An exact decimal written as a JSON number (`21.5`, never `21.50000001`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Points(pub Decimal);

impl Serialize for Points {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match serde_json::value::RawValue::from_string(fmt_dec(self.0)) {
            Ok(raw) => raw.serialize(s),
            Err(e) => Err(serde::ser::Error::custom(e)),
        }
    }
}

/// Reads a JSON number (or a numeric string) exactly, never through f64.
impl<'de> Deserialize<'de> for Points {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(d)?;
        let text = raw.get().trim();
        let text = match serde_json::from_str::<String>(text) {
            Ok(s) => s,
            Err(_) => text.to_owned(),
        };
        parse_dec(&text)
            .map(Points)
            .ok_or_else(|| serde::de::Error::custom(format!("\"{text}\" is not a decimal number")))
    }
}

impl utoipa::PartialSchema for Points {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Number)
            .description(Some("exact decimal"))
            .into()
    }
}

impl utoipa::ToSchema for Points {}

fn points(text: Option<&str>) -> Option<Points> {
    text.and_then(parse_dec).map(Points)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScoreView {
    pub subject_kind: String,
    pub subject_id: i64,
    pub year: i32,
    /// `vanguard`, `applicant`, `fortress` …
    pub index: String,
    /// `scored`, `exempt`, `unqualified`, `vetoed`.
    pub status: String,
    pub score: Option<Points>,
    pub stars: Option<i32>,
    pub rating: Option<String>,
    /// The year is closed: year-end rules applied, frozen.
    pub closed: bool,
    /// Each stretch of the year under one index (role changes), with flags.
    #[schema(value_type = Option<Vec<Object>>)]
    pub parts: serde_json::Value,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LedgerLine {
    pub id: i64,
    /// When the fact happened; absent for whole-year lines.
    pub at: Option<DateTime<Utc>>,
    pub rule_id: String,
    /// `fact`, `activity` or `year`.
    pub source_kind: String,
    pub source_id: Option<i64>,
    /// The change this line makes (negative for deductions and reversals).
    pub points: Points,
    pub asked: Points,
    /// zh-CN explanation, e.g. "XH-10 网上学习 +4，已达年度上限 10 分，实得 2 分".
    pub note: String,
    pub cause_fact_id: Option<i64>,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubjectLedger {
    pub score: ScoreView,
    /// Sum of the lines: always equals `score` for a scored subject.
    pub total: Points,
    pub lines: Vec<LedgerLine>,
}

pub async fn score_view(
    db: &impl ConnectionTrait,
    subject: SubjectRef,
    year: i32,
) -> AppResult<ScoreView> {
    use entity::subject_score::{Column, Entity};
    let row = Entity::find()
        .filter(Column::SubjectKind.eq(subject.kind()))
        .filter(Column::SubjectId.eq(subject.id()))
        .filter(Column::Year.eq(year))
        .one(db)
        .await?;
    // A closed year shows the stars the branch confirmed (SD-6), if it did.
    let confirmed = match &row {
        Some(r) if r.closed && r.subject_kind == "person" => {
            crate::review::results::confirmed_stars(db, year, &[r.subject_id])
                .await?
                .get(&r.subject_id)
                .copied()
        }
        _ => None,
    };
    Ok(match row {
        Some(r) => ScoreView {
            subject_kind: r.subject_kind,
            subject_id: r.subject_id,
            year,
            index: r.index_name,
            status: r.status,
            score: points(r.score.as_deref()),
            stars: confirmed.unwrap_or(r.stars),
            rating: r.rating,
            closed: r.closed,
            parts: r
                .detail
                .and_then(|d| serde_json::from_str(&d).ok())
                .unwrap_or(serde_json::Value::Null),
            updated_at: Some(r.updated_at),
        },
        // Nothing recorded yet this year.
        None => ScoreView {
            subject_kind: subject.kind().to_owned(),
            subject_id: subject.id(),
            year,
            index: String::new(),
            status: "scored".to_owned(),
            score: Some(Points(Decimal::ZERO)),
            stars: None,
            rating: None,
            closed: false,
            parts: serde_json::Value::Null,
            updated_at: None,
        },
    })
}

pub async fn ledger(
    db: &impl ConnectionTrait,
    subject: SubjectRef,
    year: i32,
) -> AppResult<SubjectLedger> {
    use entity::ledger_entry::{Column, Entity};
    let score = score_view(db, subject, year).await?;
    let rows = Entity::find()
        .filter(Column::SubjectKind.eq(subject.kind()))
        .filter(Column::SubjectId.eq(subject.id()))
        .filter(Column::Year.eq(year))
        .order_by_asc(Column::Id)
        .all(db)
        .await?;
    let mut total = Decimal::ZERO;
    let lines = rows
        .into_iter()
        .map(|r| {
            let p = parse_dec(&r.points).unwrap_or_default();
            total += p;
            LedgerLine {
                id: r.id,
                at: r.at,
                rule_id: r.rule_id,
                source_kind: r.source_kind,
                source_id: r.source_id,
                points: Points(p),
                asked: Points(parse_dec(&r.asked).unwrap_or_default()),
                note: r.note,
                cause_fact_id: r.cause_fact_id,
                recorded_at: r.created_at,
            }
        })
        .collect();
    Ok(SubjectLedger {
        score,
        total: Points(total),
        lines,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Year,
    HalfYear,
    Quarter,
    Month,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RankItem {
    /// Ties share a place (1, 2, 2, 4).
    pub place: u32,
    pub subject_id: i64,
    pub name: String,
    pub org_id: i64,
    pub score: Points,
    pub stars: Option<i32>,
    pub status: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Ranking {
    pub year: i32,
    pub period: Period,
    /// Which half-year, quarter or month (1-based); absent for the year.
    pub n: Option<u32>,
    pub index: String,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub items: Vec<RankItem>,
}

/// [from, until) of a period of `year` in the organization's time zone.
pub fn period_bounds(
    year: i32,
    period: Period,
    n: Option<u32>,
    tz: chrono_tz::Tz,
) -> AppResult<(DateTime<Utc>, DateTime<Utc>)> {
    let (first_month, months) = match (period, n) {
        (Period::Year, _) => (1, 12),
        (Period::HalfYear, Some(h @ 1..=2)) => ((h - 1) * 6 + 1, 6),
        (Period::Quarter, Some(q @ 1..=4)) => ((q - 1) * 3 + 1, 3),
        (Period::Month, Some(m @ 1..=12)) => (m, 1),
        _ => {
            return Err(AppError::field(
                "n",
                "请指明第几个半年（1-2）、季度（1-4）或月份（1-12）",
            ));
        }
    };
    let start = NaiveDate::from_ymd_opt(year, first_month, 1)
        .ok_or_else(|| AppError::field("year", "年份无效"))?;
    let end_month = first_month + months;
    let end = if end_month > 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, end_month, 1)
    }
    .ok_or_else(|| AppError::field("year", "年份无效"))?;
    Ok((
        start_of_day(start, tz).with_timezone(&Utc),
        start_of_day(end, tz).with_timezone(&Utc),
    ))
}

/// Places of scores sorted best first: ties share a place and the next place skips
/// (1, 2, 2, 4). Every ranking (the API's, the 台账's 季度排名) places this way.
pub fn places(sorted: &[Decimal]) -> Vec<u32> {
    let mut out = Vec::with_capacity(sorted.len());
    let mut place = 0u32;
    let mut last: Option<Decimal> = None;
    for (i, score) in sorted.iter().enumerate() {
        if last != Some(*score) {
            place = u32::try_from(i + 1).unwrap_or(u32::MAX);
            last = Some(*score);
        }
        out.push(place);
    }
    out
}

/// People ranked by their score in a period, inside an organization subtree.
/// Exempt people have no place (XH-20).
pub async fn rankings(
    db: &impl ConnectionTrait,
    org: &entity::organization::Model,
    year: i32,
    period: Period,
    n: Option<u32>,
    index: &str,
) -> AppResult<Ranking> {
    let tz = tz_of(org);
    let (from, until) = period_bounds(year, period, n, tz)?;
    let subtree = crate::org::service::subtree_ids(db, org).await?;
    let people: HashMap<i64, entity::person::Model> = {
        let mut map = HashMap::new();
        for chunk in subtree.chunks(500) {
            for p in entity::person::Entity::find()
                .filter(entity::person::Column::OrgId.is_in(chunk.to_vec()))
                .all(db)
                .await?
            {
                map.insert(p.id, p);
            }
        }
        map
    };
    let scores: Vec<entity::subject_score::Model> = {
        use entity::subject_score::{Column, Entity};
        let mut out = Vec::new();
        let ids: Vec<i64> = people.keys().copied().collect();
        for chunk in ids.chunks(500) {
            out.extend(
                Entity::find()
                    .filter(Column::SubjectKind.eq("person"))
                    .filter(Column::Year.eq(year))
                    .filter(Column::IndexName.eq(index))
                    .filter(Column::SubjectId.is_in(chunk.to_vec()))
                    .all(db)
                    .await?,
            );
        }
        out
    };
    let mut totals: Vec<(Decimal, &entity::subject_score::Model)> = Vec::new();
    if period == Period::Year {
        for s in &scores {
            if let Some(p) = s.score.as_deref().and_then(parse_dec) {
                totals.push((p, s));
            }
        }
    } else {
        use entity::ledger_entry::{Column, Entity};
        let ids: Vec<i64> = scores.iter().map(|s| s.subject_id).collect();
        let mut sums: HashMap<i64, Decimal> = HashMap::new();
        for chunk in ids.chunks(500) {
            let rows = Entity::find()
                .filter(Column::SubjectKind.eq("person"))
                .filter(Column::Year.eq(year))
                .filter(Column::SubjectId.is_in(chunk.to_vec()))
                .filter(Column::At.gte(from))
                .filter(Column::At.lt(until))
                .all(db)
                .await?;
            for r in rows {
                *sums.entry(r.subject_id).or_default() += parse_dec(&r.points).unwrap_or_default();
            }
            // Reversals written before they were dated: dated by the lines they reverse.
            for (subject, points) in undated_reversals(db, chunk, year, from, until).await? {
                *sums.entry(subject).or_default() += points;
            }
        }
        for s in &scores {
            if s.status != "exempt" {
                totals.push((sums.get(&s.subject_id).copied().unwrap_or_default(), s));
            }
        }
    }
    totals.retain(|(_, s)| s.status != "exempt");
    // A closed year shows the stars the branch confirmed (SD-6), where it did.
    let confirmed = if period == Period::Year && totals.iter().any(|(_, s)| s.closed) {
        let ids: Vec<i64> = totals.iter().map(|(_, s)| s.subject_id).collect();
        crate::review::results::confirmed_stars(db, year, &ids).await?
    } else {
        HashMap::new()
    };
    totals.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.subject_id.cmp(&b.1.subject_id)));
    let mut items = Vec::with_capacity(totals.len());
    let scores: Vec<Decimal> = totals.iter().map(|(s, _)| *s).collect();
    for ((score, s), place) in totals.iter().zip(places(&scores)) {
        items.push(RankItem {
            place,
            subject_id: s.subject_id,
            name: people
                .get(&s.subject_id)
                .map(|p| p.name.clone())
                .unwrap_or_default(),
            org_id: people.get(&s.subject_id).map_or(s.org_id, |p| p.org_id),
            score: Points(*score),
            stars: if period == Period::Year {
                confirmed.get(&s.subject_id).copied().unwrap_or(s.stars)
            } else {
                None
            },
            status: s.status.clone(),
        });
    }
    Ok(Ranking {
        year,
        period,
        n: if period == Period::Year { None } else { n },
        index: index.to_owned(),
        from,
        until,
        items,
    })
}

/// A ledger line's subject, source kind, source, rule and part.
type LineKey = (i64, String, Option<i64>, String, i32);

/// Reversal lines without a date (written before reversals were dated by the fact they
/// reverse) that belong to [from, until): (subject, points), dated by the other lines
/// of their (source, rule, part).
async fn undated_reversals(
    db: &impl ConnectionTrait,
    subjects: &[i64],
    year: i32,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> AppResult<Vec<(i64, Decimal)>> {
    use entity::ledger_entry::{Column, Entity};
    let undated = Entity::find()
        .filter(Column::SubjectKind.eq("person"))
        .filter(Column::Year.eq(year))
        .filter(Column::SubjectId.is_in(subjects.to_vec()))
        .filter(Column::At.is_null())
        .filter(Column::SourceKind.ne("year"))
        .filter(Column::SourceId.is_not_null())
        .all(db)
        .await?;
    if undated.is_empty() {
        return Ok(Vec::new());
    }
    let sources: Vec<i64> = undated.iter().filter_map(|r| r.source_id).collect();
    let mut dated: HashMap<LineKey, DateTime<Utc>> = HashMap::new();
    for chunk in sources.chunks(500) {
        for r in Entity::find()
            .filter(Column::SubjectKind.eq("person"))
            .filter(Column::Year.eq(year))
            .filter(Column::SourceId.is_in(chunk.to_vec()))
            .filter(Column::At.is_not_null())
            .all(db)
            .await?
        {
            if let Some(at) = r.at {
                dated
                    .entry((r.subject_id, r.source_kind, r.source_id, r.rule_id, r.part))
                    .or_insert(at);
            }
        }
    }
    Ok(undated
        .into_iter()
        .filter_map(|r| {
            let at = dated.get(&(
                r.subject_id,
                r.source_kind.clone(),
                r.source_id,
                r.rule_id.clone(),
                r.part,
            ))?;
            (*at >= from && *at < until)
                .then(|| (r.subject_id, parse_dec(&r.points).unwrap_or_default()))
        })
        .collect())
}
