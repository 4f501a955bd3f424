//! 活动与考勤 across the subtree, beside the secretary's pages: the attendance sheet
//! as XLSX, and the branches that have not held the fixed day their rule expects.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth::Perm;
use crate::checkin::fixed_day;
use crate::console::{ConsoleUser, error, hide, page, respond, when};
use crate::error::AppError;
use crate::ledger::inputs::tz_of;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/console/activities/{id}/attendance.xlsx",
        web::get().to(attendance_xlsx),
    )
    .route("/console/fixed-days", web::get().to(fixed_days));
}

/// The activity's attendance sheet as XLSX (the export writer of `reports`), audited.
async fn attendance_xlsx(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
) -> HttpResponse {
    let run = async {
        let a = crate::checkin::routes::scoped_activity(
            &state,
            &user.principal,
            Perm::ActivityRead,
            *path,
        )
        .await
        .map_err(hide)?;
        crate::reports::routes::attendance_download(
            &state,
            &user.principal,
            &a,
            crate::reports::export::ExportFormat::Xlsx,
        )
        .await
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}

#[derive(serde::Deserialize)]
struct FixedDayQuery {
    month: Option<String>,
    org: Option<i64>,
}

/// 固定活动日: for a month, each branch in the chosen subtree with its fixed-day rule,
/// the day the rule expects (moved by the calendar) and the fixed days it held; the
/// branches whose expected day has passed without one come first.
async fn fixed_days(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    q: web::Query<FixedDayQuery>,
) -> HttpResponse {
    use chrono::{Datelike, NaiveDate};
    use entity::activity::{Column, Entity};
    use minijinja::context;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    respond(&req, &user, async {
        user.principal.require(Perm::ActivityRead)?;
        let scope = crate::console::secretary::scope_orgs(&state, &user.principal).await?;
        let root = match q.org {
            Some(id) => Some(
                scope
                    .iter()
                    .find(|o| o.id == id)
                    .cloned()
                    .ok_or_else(|| AppError::not_found("没有找到该组织，或不在您的管辖范围内"))?,
            ),
            None => None,
        };
        let tz = root
            .as_ref()
            .or(scope.first())
            .map_or(chrono_tz::Asia::Shanghai, tz_of);
        let now = state.clock.now();
        let today = now.with_timezone(&tz).date_naive();
        let month = q
            .month
            .as_deref()
            .and_then(|m| NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").ok())
            .unwrap_or_else(|| today.with_day(1).unwrap_or(today));
        let next = month
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(month);
        let prev = month
            .checked_sub_months(chrono::Months::new(1))
            .unwrap_or(month);
        let branches: Vec<&entity::organization::Model> = scope
            .iter()
            .filter(|o| root.as_ref().is_none_or(|r| o.path.starts_with(&r.path)))
            .filter(|o| matches!(o.kind.as_str(), "branch" | "general_branch"))
            .collect();
        let at = |d: NaiveDate, tz: chrono_tz::Tz| {
            d.and_hms_opt(0, 0, 0)
                .and_then(|d| d.and_local_timezone(tz).earliest())
                .map_or(now, |d| d.with_timezone(&chrono::Utc))
        };
        let mut rows = Vec::new();
        let mut missing = 0;
        for o in branches {
            let otz = tz_of(o);
            let rule = fixed_day::current(&state.db, o.id).await?;
            let held = Entity::find()
                .filter(Column::OrgId.eq(o.id))
                .filter(Column::Kind.eq("fixed_day"))
                .filter(Column::StartsAt.gte(at(month, otz)))
                .filter(Column::StartsAt.lt(at(next, otz)))
                .all(&state.db)
                .await?;
            let expected = rule.as_ref().and_then(|r| {
                fixed_day::proposed_day(r, month.year(), month.month(), &state.scoring.calendars)
            });
            let (label, late) = match (&rule, held.is_empty(), expected) {
                (None, true, _) => ("未设规则", false),
                (_, false, _) if held.iter().any(|a| a.starts_at <= now) => ("已开展", false),
                (_, false, _) => ("已安排", false),
                (Some(_), true, Some((day, _))) if day < today => ("未开展", true),
                (Some(_), true, _) => ("尚未到期", false),
            };
            if late {
                missing += 1;
            }
            rows.push((
                !late,
                context! {
                    id => o.id, name => o.name.clone(), state => label, late => late,
                    rule => rule.as_ref().map(fixed_day::Rule::describe),
                    expected => expected.map(|(d, moved)| format!("{}月{}日{}", d.month(), d.day(), if moved { "（顺延）" } else { "" })),
                    held => held.iter().map(|a| context! {
                        id => a.id, title => a.title.clone(), when => when(a.starts_at, otz),
                    }).collect::<Vec<_>>(),
                },
            ));
        }
        // Missing first, then tree order.
        rows.sort_by_key(|(ok, _)| *ok);
        Ok(page(
            &req,
            &user,
            StatusCode::OK,
            "console/fixed_days.html",
            context! {
                title => "固定活动日",
                month => format!("{}年{}月", month.year(), month.month()),
                month_value => month.format("%Y-%m").to_string(),
                prev => prev.format("%Y-%m").to_string(),
                next => next.format("%Y-%m").to_string(),
                org => root.as_ref().map(|o| o.id),
                orgs => scope.iter().map(|o| context! { id => o.id, name => o.name.clone() }).collect::<Vec<_>>(),
                rows => rows.into_iter().map(|(_, r)| r).collect::<Vec<_>>(),
                missing => missing,
            },
        ))
    })
    .await
}
