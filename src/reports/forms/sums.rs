//! Ledger lines summed for the forms, and where each sum goes on a form.

use std::collections::HashMap;

use rust_decimal::Decimal;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, JoinType, Query};
use sea_orm::{ConnectionTrait, DbBackend};

use super::member_index;
use crate::error::{AppError, AppResult};
use crate::policy::{Effect, Policy, Trigger};

/// Where a ledger sum goes on a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot {
    /// An award in the member index's category of this position.
    Category(usize),
    /// An award outside every category (or a whole-year line raising the score).
    Bonus,
    /// A deduction, a veto's clearing or any whole-year line lowering the score.
    Deduction,
}

/// The slot of a ledger sum: the policy's rule of that ID that reads the fact (by item,
/// or by check-in / make-up for those facts) says award or deduction and its category.
pub(super) fn slot(
    policy: &Policy,
    source_kind: &str,
    rule_id: &str,
    fact_kind: Option<&str>,
    item: Option<&str>,
    net: Decimal,
) -> Slot {
    let by_sign = if net < Decimal::ZERO {
        Slot::Deduction
    } else {
        Slot::Bonus
    };
    if source_kind != "fact" {
        return by_sign;
    }
    let index = member_index(policy);
    let candidates = policy
        .rules
        .iter()
        .filter(|r| &*r.id == rule_id && Some(r.index) == index);
    let reads = |r: &&crate::policy::Rule| {
        r.sources.iter().any(|s| match (&s.on, fact_kind, item) {
            (Trigger::Item(codes), _, Some(i)) => codes.iter().any(|c| c == i),
            (Trigger::CheckIn(_), Some("checkin"), _) => true,
            (Trigger::Makeup(_), Some("makeup_study"), _) => true,
            _ => false,
        })
    };
    let rule = candidates
        .clone()
        .find(reads)
        .or_else(|| candidates.clone().next());
    match rule {
        Some(r) if r.effect == Effect::Deduct => Slot::Deduction,
        Some(r) if r.outcome.is_some() => by_sign,
        Some(r) => r.category.map_or(by_sign, Slot::Category),
        None => by_sign,
    }
}

/// What a group of ledger lines is about: the line's source kind and rule, and for a
/// fact its kind and item. A year has a few dozen of these, so the forms classify each
/// once ([`Slots`]) rather than per line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct SumKey {
    source_kind: String,
    rule_id: String,
    fact_kind: Option<String>,
    item: Option<String>,
}

/// A person's ledger lines of one [`SumKey`], summed per month (index 0 = January).
pub(super) struct Sum {
    pub(super) person: i64,
    /// Into the `keys` returned with the sums.
    pub(super) key: usize,
    pub(super) months: [Decimal; 12],
}

impl Sum {
    pub(super) fn total(&self) -> Decimal {
        self.months.iter().sum()
    }
}

/// [`slot`] remembered per policy, key and sign.
#[derive(Default)]
pub(super) struct Slots<'a> {
    seen: HashMap<(&'a str, usize, bool), Slot>,
}

impl<'a> Slots<'a> {
    pub(super) fn of(
        &mut self,
        policy: &'a Policy,
        keys: &[SumKey],
        key: usize,
        net: Decimal,
    ) -> Slot {
        let negative = net < Decimal::ZERO;
        *self
            .seen
            .entry((policy.name.as_str(), key, negative))
            .or_insert_with(|| {
                let k = &keys[key];
                slot(
                    policy,
                    &k.source_kind,
                    &k.rule_id,
                    k.fact_kind.as_deref(),
                    k.item.as_deref(),
                    net,
                )
            })
    }
}

/// Field and record separators of [`packed_lines`] (ASCII US and RS: no policy code,
/// rule ID or source kind contains them).
const FIELD: char = '\u{1f}';
const RECORD: char = '\u{1e}';

/// A person's ledger lines as one text, a record per line of six fields: source kind,
/// rule, fact kind, item, month, points ×10⁴. `group_concat` on SQLite, `string_agg`
/// on PostgreSQL; the placeholders are the builder's (`?` or `$n`).
fn packed_lines(backend: DbBackend, fields: [Expr; 6]) -> Expr {
    let (agg, numbered) = match backend {
        DbBackend::Postgres => ("string_agg", true),
        _ => ("group_concat", false),
    };
    let mut exprs = Vec::with_capacity(12);
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            exprs.push(Expr::val(FIELD.to_string()));
        }
        exprs.push(f);
    }
    exprs.push(Expr::val(RECORD.to_string()));
    let mark = |i: usize| {
        if numbered {
            format!("${i}")
        } else {
            "?".to_owned()
        }
    };
    let parts: Vec<String> = (1..exprs.len()).map(mark).collect();
    let template = format!("{agg}({}, {})", parts.join(" || "), mark(exprs.len()));
    Expr::cust_with_exprs(template, exprs)
}

/// The ledger lines of the people of `org_ids` for the year, summed per person and [`SumKey`] by month
/// (`months` gives the 13 bounds of the year's months; without them, and for lines
/// without a date, everything counts in December, the month of the year's result).
///
/// The database hands over one row per person, its lines packed into one text
/// ([`packed_lines`]), grouped by person only, which the ledger index already orders.
/// Grouping by the key's four strings made SQLite sort every line, and a row per line
/// costs the driver about 4 µs: 7 s for the 1.6 million lines of 100,000 members either
/// way. People are chosen by a subquery on their organizations (500 at a time), not by a
/// list of ids: PostgreSQL then hash-joins the facts once (2.6 s for 100,000 members)
/// where 50 lists of 2,000 ids made it scan them 50 times (6.7 s).
#[tracing::instrument(level = "debug", skip_all, fields(orgs = org_ids.len()))]
pub(super) async fn sums(
    db: &impl ConnectionTrait,
    org_ids: &[i64],
    year: i32,
    months: Option<&[chrono::DateTime<chrono::Utc>]>,
) -> AppResult<(Vec<SumKey>, Vec<Sum>)> {
    use entity::fact::Column as F;
    use entity::ledger_entry::Column as L;
    let le = Alias::new("le");
    let fa = Alias::new("fa");
    let text = || Alias::new("TEXT");
    let mut keys: Vec<SumKey> = Vec::new();
    let mut key_of: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for chunk in org_ids.chunks(500) {
        let people = Query::select()
            .column(entity::person::Column::Id)
            .from(entity::person::Entity)
            .and_where(Expr::col(entity::person::Column::OrgId).is_in(chunk.to_vec()))
            .to_owned();
        let month_expr: Expr = match months {
            Some(b) if b.len() == 13 => {
                let mut case = Expr::case(Expr::col((le.clone(), L::At)).lt(b[1]), 1);
                for (m, bound) in b.iter().enumerate().take(12).skip(2) {
                    case = case.case(
                        Expr::col((le.clone(), L::At)).lt(*bound),
                        i32::try_from(m).unwrap_or(12),
                    );
                }
                case.finally(12).into()
            }
            _ => Expr::val(12),
        };
        let packed = packed_lines(
            db.get_database_backend(),
            [
                Expr::col((le.clone(), L::SourceKind)),
                Expr::col((le.clone(), L::RuleId)),
                Func::coalesce([Expr::col((fa.clone(), F::Kind)), Expr::val("")]).into(),
                Func::coalesce([Expr::col((fa.clone(), F::Item)), Expr::val("")]).into(),
                Func::cast_as(month_expr, text()).into(),
                Func::cast_as(Expr::col((le.clone(), L::PointsE4)), text()).into(),
            ],
        );
        let q = Query::select()
            .expr_as(Expr::col((le.clone(), L::SubjectId)), Alias::new("person"))
            .expr_as(packed, Alias::new("lines"))
            .from_as(entity::ledger_entry::Entity, le.clone())
            .join_as(
                JoinType::LeftJoin,
                entity::fact::Entity,
                fa.clone(),
                Expr::col((fa.clone(), F::Id))
                    .equals((le.clone(), L::SourceId))
                    .and(Expr::col((le.clone(), L::SourceKind)).eq("fact")),
            )
            .and_where(Expr::col((le.clone(), L::SubjectKind)).eq("person"))
            .and_where(Expr::col((le.clone(), L::Year)).eq(year))
            .and_where(Expr::col((le.clone(), L::SubjectId)).in_subquery(people))
            .group_by_col((le.clone(), L::SubjectId))
            .to_owned();
        for row in db.query_all(&q).await? {
            let person: i64 = row.try_get("", "person")?;
            let lines: String = row.try_get("", "lines")?;
            let mut acc: HashMap<usize, [i64; 12]> = HashMap::new();
            for line in lines.split(RECORD) {
                let bad =
                    || AppError::internal(anyhow::anyhow!("ledger line packed wrong: {line:?}"));
                // The key is the first four fields; month and points the last two.
                let (key_text, rest) = line
                    .match_indices(FIELD)
                    .nth(3)
                    .map(|(i, _)| (&line[..i], &line[i + 1..]))
                    .ok_or_else(bad)?;
                let (month, e4) = rest.split_once(FIELD).ok_or_else(bad)?;
                let month: usize = month.parse().map_err(|_| bad())?;
                let e4: i64 = e4.parse().map_err(|_| bad())?;
                let key = match key_of.get(key_text) {
                    Some(k) => *k,
                    None => {
                        let mut f = key_text.split(FIELD).map(str::to_owned);
                        let mut next = || f.next().unwrap_or_default();
                        let some = |s: String| (!s.is_empty()).then_some(s);
                        keys.push(SumKey {
                            source_kind: next(),
                            rule_id: next(),
                            fact_kind: some(next()),
                            item: some(next()),
                        });
                        key_of.insert(key_text.to_owned(), keys.len() - 1);
                        keys.len() - 1
                    }
                };
                acc.entry(key).or_insert([0; 12])[month.clamp(1, 12) - 1] += e4;
            }
            out.extend(acc.into_iter().map(|(key, e4)| Sum {
                person,
                key,
                months: e4.map(|v| Decimal::new(v, 4)),
            }));
        }
    }
    Ok((keys, out))
}
