//! The attendance sheet of one activity, filtered by status, paged.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::{Value, context};
use serde::Deserialize;

use super::{counts_value, readable};
use crate::checkin::attendance::{self, PageQuery, Status};
use crate::checkin::makeup::status_label;
use crate::console::{ConsoleUser, error, page, when};
use crate::error::AppError;
use crate::ledger::inputs::tz_of;
use crate::state::AppState;

#[derive(Deserialize)]
pub(super) struct SheetQuery {
    status: Option<String>,
    after: Option<i64>,
}

fn status_from(s: &str) -> Option<Status> {
    Some(match s {
        "on_time" => Status::OnTime,
        "late" => Status::Late,
        "present" => Status::Present,
        "backfilled" => Status::Backfilled,
        "makeup" => Status::Makeup,
        "too_late" => Status::TooLate,
        "refused" => Status::Refused,
        "missing" => Status::Missing,
        _ => return None,
    })
}

pub(super) async fn attendance_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    q: web::Query<SheetQuery>,
) -> HttpResponse {
    let run = async {
        let (a, org) = readable(&state, &user, *path).await?;
        let tz = tz_of(&org);
        let status = q.status.as_deref().and_then(status_from);
        let p = attendance::page(
            &state,
            &a,
            PageQuery {
                after: q.after,
                limit: Some(100),
                status,
            },
        )
        .await?;
        let items: Vec<Value> = p
            .items
            .iter()
            .map(|i| {
                context! {
                    id => i.person_id,
                    name => i.name.clone(),
                    status => status_label(i.status),
                    when => i.at.map(|t| when(t, tz)),
                    method => i.method.as_deref().and_then(|m| m.parse::<crate::policy::Method>().ok()).map(|m| m.label()),
                }
            })
            .collect();
        let filters: Vec<Value> = [
            ("", "全部"),
            ("on_time", "按时"),
            ("late", "迟到"),
            ("too_late", "超时"),
            ("backfilled", "补签"),
            ("leave", "请假"),
            ("refused", "签到未成功"),
            ("missing", "未到"),
        ]
        .into_iter()
        .map(|(v, l)| context! { value => v, label => l, active => q.status.as_deref().unwrap_or("") == v })
        .collect();
        Ok::<_, AppError>(page(
            &req,
            &user,
            StatusCode::OK,
            "console/attendance.html",
            context! {
                title => format!("考勤：{}", a.title),
                activity => context! { id => a.id, title => a.title.clone(), when => when(a.starts_at, tz) },
                counts => counts_value(&p.counts),
                items => items,
                filters => filters,
                status => q.status.clone().unwrap_or_default(),
                next => p.next,
            },
        ))
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}
