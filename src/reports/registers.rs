//! The registers staff export: an activity's attendance sheet and the points register
//! (党员积分台账) of an organization's members for a year. Names, organizations, items,
//! rules, points, dates and reasons; never ID numbers, phones or addresses.

use std::collections::HashMap;

use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::export::{Cell, Table};
use crate::checkin::attendance::{self, PageQuery};
use crate::checkin::makeup::status_label;
use crate::error::AppResult;
use crate::ledger::inputs::tz_of;
use crate::state::AppState;

fn method_label(m: &str) -> &'static str {
    match m {
        "qr" => "扫码",
        "manual" => "手工签到",
        "batch" => "批量签到",
        "backfill" => "补签",
        "card" => "持卡签到",
        _ => "其他",
    }
}

async fn org_names(
    db: &impl ConnectionTrait,
    ids: impl Iterator<Item = i64>,
) -> AppResult<HashMap<i64, String>> {
    let ids: Vec<i64> = ids
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut out = HashMap::new();
    for chunk in ids.chunks(5000) {
        for o in entity::organization::Entity::find()
            .filter(entity::organization::Column::Id.is_in(chunk.to_vec()))
            .all(db)
            .await?
        {
            out.insert(o.id, o.name);
        }
    }
    Ok(out)
}

/// Points each fact earns now (its ledger lines summed).
async fn points_of_facts(
    db: &impl ConnectionTrait,
    facts: &[i64],
) -> AppResult<HashMap<i64, Decimal>> {
    let mut out: HashMap<i64, Decimal> = HashMap::new();
    for chunk in facts.chunks(5000) {
        for e in entity::ledger_entry::Entity::find()
            .filter(entity::ledger_entry::Column::SourceKind.eq("fact"))
            .filter(entity::ledger_entry::Column::SourceId.is_in(chunk.to_vec()))
            .all(db)
            .await?
        {
            if let (Some(id), Ok(p)) = (e.source_id, e.points.parse::<Decimal>()) {
                *out.entry(id).or_default() += p;
            }
        }
    }
    Ok(out)
}

/// Everyone expected at the activity, with their attendance, time, method and points.
pub async fn attendance_sheet(
    state: &AppState,
    activity: &entity::activity::Model,
) -> AppResult<Table> {
    let host = crate::org::service::find(&state.db, crate::ids::OrgId(activity.org_id)).await?;
    let tz = tz_of(&host);
    let mut items = Vec::new();
    let mut after = None;
    loop {
        let page = attendance::page(
            state,
            activity,
            PageQuery {
                after,
                limit: Some(1000),
                status: None,
            },
        )
        .await?;
        items.extend(page.items);
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let orgs = org_names(&state.db, items.iter().map(|i| i.org_id)).await?;
    let facts: Vec<i64> = items.iter().filter_map(|i| i.fact_id).collect();
    let points = points_of_facts(&state.db, &facts).await?;
    let rows = items
        .iter()
        .map(|i| {
            vec![
                Cell::text(i.name.clone()),
                Cell::text(orgs.get(&i.org_id).cloned().unwrap_or_default()),
                Cell::text(status_label(i.status)),
                i.at.map_or(Cell::Empty, |t| {
                    Cell::DateTime(t.with_timezone(&tz).naive_local())
                }),
                i.method
                    .as_deref()
                    .map_or(Cell::Empty, |m| Cell::text(method_label(m))),
                match i.fact_id {
                    Some(f) => Cell::Number(points.get(&f).copied().unwrap_or_default()),
                    None => Cell::Empty,
                },
                if i.leave {
                    Cell::text("请假")
                } else {
                    Cell::Empty
                },
            ]
        })
        .collect();
    Ok(Table {
        sheet: "考勤".into(),
        headers: vec![
            "姓名",
            "所在组织",
            "考勤",
            "签到时间",
            "签到方式",
            "积分",
            "请假",
        ],
        rows,
    })
}

/// 党员积分台账: every ledger line of the organization's members (its subtree) for the
/// year: person, item, rule ID, points, date, note (with the reason staff gave).
pub async fn points_register(
    db: &impl ConnectionTrait,
    org: &entity::organization::Model,
    year: i32,
) -> AppResult<Table> {
    use entity::ledger_entry::{Column, Entity};
    let tz = tz_of(org);
    let in_subtree = Query::select()
        .column(entity::person::Column::Id)
        .from(entity::person::Entity)
        .and_where(
            Expr::col(entity::person::Column::OrgId).in_subquery(
                Query::select()
                    .column(entity::organization::Column::Id)
                    .from(entity::organization::Entity)
                    .and_where(
                        Expr::col(entity::organization::Column::Path)
                            .like(format!("{}%", org.path)),
                    )
                    .to_owned(),
            ),
        )
        .to_owned();
    let lines = Entity::find()
        .filter(Column::SubjectKind.eq("person"))
        .filter(Column::Year.eq(year))
        .filter(Column::SubjectId.in_subquery(in_subtree))
        .order_by_asc(Column::SubjectId)
        .order_by_asc(Column::Id)
        .all(db)
        .await?;
    let mut people: HashMap<i64, (String, i64)> = HashMap::new();
    let ids: Vec<i64> = lines
        .iter()
        .map(|l| l.subject_id)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for chunk in ids.chunks(5000) {
        for p in entity::person::Entity::find()
            .filter(entity::person::Column::Id.is_in(chunk.to_vec()))
            .all(db)
            .await?
        {
            people.insert(p.id, (p.name, p.org_id));
        }
    }
    let orgs = org_names(db, people.values().map(|(_, o)| *o)).await?;
    let fact_ids: Vec<i64> = lines
        .iter()
        .filter(|l| l.source_kind == "fact")
        .filter_map(|l| l.source_id)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut facts: HashMap<i64, entity::fact::Model> = HashMap::new();
    for chunk in fact_ids.chunks(5000) {
        for f in entity::fact::Entity::find()
            .filter(entity::fact::Column::Id.is_in(chunk.to_vec()))
            .all(db)
            .await?
        {
            facts.insert(f.id, f);
        }
    }
    let activity_ids: Vec<i64> = facts
        .values()
        .filter_map(|f| f.activity_id)
        .chain(
            lines
                .iter()
                .filter(|l| l.source_kind == "activity")
                .filter_map(|l| l.source_id),
        )
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut titles: HashMap<i64, String> = HashMap::new();
    for chunk in activity_ids.chunks(5000) {
        for a in entity::activity::Entity::find()
            .filter(entity::activity::Column::Id.is_in(chunk.to_vec()))
            .all(db)
            .await?
        {
            titles.insert(a.id, a.title);
        }
    }
    let rows = lines
        .iter()
        .map(|l| {
            let (name, org_id) = people.get(&l.subject_id).cloned().unwrap_or_default();
            let fact = l
                .source_id
                .filter(|_| l.source_kind == "fact")
                .and_then(|f| facts.get(&f));
            let item = match (l.source_kind.as_str(), fact) {
                ("year", _) => "年度评定".to_owned(),
                ("activity", _) => l
                    .source_id
                    .and_then(|a| titles.get(&a).cloned())
                    .unwrap_or_else(|| "活动".to_owned()),
                (_, Some(f)) => match (f.activity_id, &f.item) {
                    (Some(a), _) => titles.get(&a).cloned().unwrap_or_else(|| "活动".to_owned()),
                    (None, Some(i)) => i.clone(),
                    _ => f.kind.clone(),
                },
                _ => String::new(),
            };
            let note = match fact.and_then(|f| f.reason.as_deref()) {
                Some(r) => format!("{}；原因：{r}", l.note),
                None => l.note.clone(),
            };
            vec![
                Cell::text(name),
                Cell::text(orgs.get(&org_id).cloned().unwrap_or_default()),
                Cell::text(item),
                Cell::text(l.rule_id.clone()),
                Cell::Number(l.points.parse::<Decimal>().unwrap_or_default()),
                l.at.map_or(Cell::Empty, |t| {
                    Cell::Date(t.with_timezone(&tz).date_naive())
                }),
                Cell::text(note),
            ]
        })
        .collect();
    Ok(Table {
        sheet: format!("{year}年积分台账"),
        headers: vec![
            "姓名",
            "所在组织",
            "事项",
            "规则编号",
            "分值",
            "日期",
            "备注",
        ],
        rows,
    })
}
