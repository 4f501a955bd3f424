//! The registers staff export: an activity's attendance sheet (the points register,
//! 党员积分台账, is one of the official forms: `reports::forms::monthly`). Names,
//! organizations, items, rules, points, dates and reasons; never ID numbers, phones or
//! addresses.

use std::collections::HashMap;

use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

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
