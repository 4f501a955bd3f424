//! The month's activities with the fixed day proposed from the branch's rule, creating
//! an activity (each problem next to its field), one activity, and setting the rule.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use minijinja::{Value, context};
use serde::Deserialize;

use super::{ShowQuery, activity_row, counts_value, home_org, readable, scope_orgs};
use crate::auth::Perm;
use crate::checkin::activities::{self, NewActivity, kind_label};
use crate::checkin::attendance;
use crate::checkin::fixed_day::{self, Rule};
use crate::console::session::see_other;
use crate::console::{
    ConsoleUser, Fields, error, first_submit, hide, input_time, new_form_id, page,
    parse_input_time, refuse_cross_site, when,
};
use crate::error::{AppError, AppResult};
use crate::ids::OrgId;
use crate::ledger::inputs::tz_of;
use crate::policy::ActivityKind;
use crate::state::AppState;

#[derive(Deserialize)]
pub(super) struct ListQuery {
    month: Option<String>,
    org: Option<i64>,
}

/// The form to create an activity: what was typed, or the proposed fixed day.
struct CreateForm {
    values: Value,
    errors: Value,
}

async fn list_page(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    q: &ListQuery,
    form: Option<CreateForm>,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    use entity::activity::{Column, Entity};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
    user.principal.require(Perm::ActivityRead)?;
    let orgs = scope_orgs(state, &user.principal).await?;
    let chosen = match q.org {
        Some(id) => Some(
            orgs.iter()
                .find(|o| o.id == id)
                .cloned()
                .ok_or_else(|| AppError::not_found("没有找到该组织，或不在您的管辖范围内"))?,
        ),
        None => home_org(&user.principal, &orgs),
    };
    let tz = chosen.as_ref().map_or(chrono_tz::Asia::Shanghai, tz_of);
    let now = state.clock.now();
    let local_now = now.with_timezone(&tz).date_naive();
    let month_start = q
        .month
        .as_deref()
        .and_then(|m| NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").ok())
        .unwrap_or_else(|| local_now.with_day(1).unwrap_or(local_now));
    let next_month = month_start
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(month_start);
    let prev_month = month_start
        .checked_sub_months(chrono::Months::new(1))
        .unwrap_or(month_start);
    let at = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .and_then(|d| d.and_local_timezone(tz).earliest())
            .map_or(now, |d| d.with_timezone(&Utc))
    };
    let ids: Vec<i64> = match &chosen {
        Some(org) => orgs
            .iter()
            .filter(|o| o.path.starts_with(&org.path))
            .map(|o| o.id)
            .collect(),
        None => orgs.iter().map(|o| o.id).collect(),
    };
    let rows = Entity::find()
        .filter(Column::OrgId.is_in(ids))
        .filter(Column::StartsAt.gte(at(month_start)))
        .filter(Column::StartsAt.lt(at(next_month)))
        .order_by_asc(Column::StartsAt)
        .limit(500)
        .all(&state.db)
        .await?;
    let tz_by: HashMap<i64, Tz> = orgs.iter().map(|o| (o.id, tz_of(o))).collect();
    let names: HashMap<i64, String> = orgs.iter().map(|o| (o.id, o.name.clone())).collect();
    let mut items = Vec::new();
    for a in &rows {
        let mut row =
            activity_row(state, a, tz_by.get(&a.org_id).copied().unwrap_or(tz), now).await?;
        row = context! { org => names.get(&a.org_id).cloned(), ..row };
        items.push(row);
    }

    // The fixed day the rule proposes for this month, unless one is already planned.
    let rule = match &chosen {
        Some(org) => fixed_day::current(&state.db, org.id).await?,
        None => None,
    };
    let has_fixed = rows
        .iter()
        .any(|a| a.kind == "fixed_day" && chosen.as_ref().is_some_and(|o| o.id == a.org_id));
    let proposal = match (&rule, has_fixed) {
        (Some(rule), false) => fixed_day::proposed_day(
            rule,
            month_start.year(),
            month_start.month(),
            &state.scoring.calendars,
        )
        .and_then(|(day, moved)| {
            fixed_day::proposed_times(rule, day, tz).map(|(s, e)| (s, e, moved))
        }),
        _ => None,
    };
    let can_write = chosen.as_ref().is_some_and(|o| {
        user.principal
            .require_in(Perm::ActivityWrite, &o.path)
            .is_ok()
    });
    let month_label = format!("{}年{}月", month_start.year(), month_start.month());
    let form = form.unwrap_or_else(|| {
        let (start, end) = proposal
            .map(|(s, e, _)| (s, e))
            .unwrap_or((now + Duration::hours(1), now + Duration::hours(3)));
        CreateForm {
            values: context! {
                kind => if proposal.is_some() { "fixed_day" } else { "meeting" },
                title => if proposal.is_some() { format!("{month_label}主题党日") } else { String::new() },
                starts_at => input_time(start, tz),
                ends_at => input_time(end, tz),
                place => rule.as_ref().and_then(|r| r.place.clone()),
                org_id => chosen.as_ref().map(|o| o.id),
            },
            errors: context! {},
        }
    });
    let kinds: Vec<Value> = ActivityKind::ALL
        .iter()
        .map(|k| context! { value => k.as_str(), label => kind_label(*k) })
        .collect();
    let host_choices: Vec<Value> = orgs
        .iter()
        .filter(|o| {
            user.principal
                .require_in(Perm::ActivityWrite, &o.path)
                .is_ok()
        })
        .map(|o| context! { id => o.id, name => o.name.clone() })
        .collect();
    Ok(page(
        req,
        user,
        status,
        "console/activities.html",
        context! {
            title => "活动",
            month => month_label,
            month_value => month_start.format("%Y-%m").to_string(),
            prev => prev_month.format("%Y-%m").to_string(),
            next => next_month.format("%Y-%m").to_string(),
            org => chosen.as_ref().map(|o| context! { id => o.id, name => o.name.clone() }),
            items => items,
            rule => rule.as_ref().map(|r| context! {
                text => r.describe(), day => r.day_of_month, time => r.start.format("%H:%M").to_string(),
                duration => r.duration_minutes, place => r.place.clone(),
            }),
            proposal => proposal.map(|(s, _, moved)| context! { when => when(s, tz), moved => moved }),
            can_write => can_write,
            form => form.values,
            errors => form.errors,
            form_id => new_form_id(),
            kinds => kinds,
            hosts => host_choices,
            invitable => orgs.iter()
                .filter(|o| chosen.as_ref().is_none_or(|c| c.id != o.id))
                .filter(|o| user.principal.require_in(Perm::ActivityWrite, &o.path).is_ok())
                .map(|o| context! { id => o.id, name => o.name.clone() })
                .collect::<Vec<_>>(),
        },
    ))
}

pub(super) async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    q: web::Query<ListQuery>,
) -> HttpResponse {
    match list_page(&state, &req, &user, &q, None, StatusCode::OK).await {
        Ok(r) => r,
        Err(e) => error(&req, &user, &e),
    }
}

/// Creates an activity from the form: each problem next to its field, what was typed kept.
pub(super) async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(r) = refuse_cross_site(&req) {
        return r;
    }
    let f = Fields::parse(&body);
    let q = ListQuery {
        month: None,
        org: f.get("org_id").parse().ok(),
    };
    let again = |errors: Vec<(&'static str, String)>| {
        let state = state.clone();
        let req = req.clone();
        let user = user.clone();
        let values = f.values();
        let invited = f.all("invite");
        async move {
            let errors = Value::from(
                errors
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect::<std::collections::BTreeMap<_, _>>(),
            );
            let form = CreateForm {
                values: context! { invited => invited, ..values },
                errors,
            };
            match list_page(&state, &req, &user, &q, Some(form), StatusCode::BAD_REQUEST).await {
                Ok(r) => r,
                Err(e) => error(&req, &user, &e),
            }
        }
    };
    let org_id: Option<i64> = f.get("org_id").parse().ok();
    let Some(org_id) = org_id else {
        return again(vec![("org_id", "请选择主办组织".into())]).await;
    };
    let org = match crate::org::service::scoped(
        &state.db,
        &user.principal,
        Perm::ActivityWrite,
        OrgId(org_id),
    )
    .await
    {
        Ok(o) => o,
        Err(e) => return error(&req, &user, &hide(e)),
    };
    let tz = tz_of(&org);
    let mut errors = Vec::new();
    let kind = f.get("kind").parse::<ActivityKind>().ok();
    if kind.is_none() {
        errors.push(("kind", "请选择活动类型".to_owned()));
    }
    let title = f.get("title");
    if title.is_empty() {
        errors.push(("title", "请填写活动名称".to_owned()));
    }
    let starts = parse_input_time(&f.get("starts_at"), tz);
    if starts.is_none() {
        errors.push(("starts_at", "请填写开始时间".to_owned()));
    }
    let ends = match f.get("ends_at").as_str() {
        "" => starts.map(|s| s + Duration::hours(2)),
        t => parse_input_time(t, tz),
    };
    if ends.is_none() {
        errors.push(("ends_at", "结束时间格式不正确".to_owned()));
    }
    let points = match f.get("points").as_str() {
        "" => None,
        p => match crate::policy::parse_dec(p) {
            Some(d) => Some(d),
            None => {
                errors.push(("points", "分值应为数字，如 2 或 1.5".to_owned()));
                None
            }
        },
    };
    let mut invites = Vec::new();
    for i in f.all("invite") {
        let Ok(id) = i.parse::<i64>() else { continue };
        match crate::org::service::scoped(
            &state.db,
            &user.principal,
            Perm::ActivityWrite,
            OrgId(id),
        )
        .await
        {
            Ok(o) if o.id != org.id => invites.push(o.id),
            Ok(_) => {}
            Err(_) => errors.push(("invite", "受邀组织不在您的管辖范围内".to_owned())),
        }
    }
    let (Some(kind), Some(starts_at), Some(ends_at), true) =
        (kind, starts, ends, errors.is_empty())
    else {
        return again(errors).await;
    };
    let new = NewActivity {
        org_id: org.id,
        kind,
        title,
        place: Some(f.get("place")).filter(|p| !p.is_empty()),
        starts_at,
        ends_at,
        points,
        registered_at: state.clock.now(),
    };
    if let Err(e) = activities::validate(&new) {
        let field = e
            .errors
            .first()
            .map_or("title".to_owned(), |x| x.field.clone());
        let msg = e
            .errors
            .first()
            .map_or(e.detail.clone(), |x| x.message.clone());
        let field: &str = match field.as_str() {
            "ends_at" => "ends_at",
            "points" => "points",
            _ => "title",
        };
        return again(vec![(field, msg)]).await;
    }
    if !first_submit(&state, &f.get("form_id")).await {
        return see_other("/console/activities?dup=1");
    }
    match activities::create(&state, &user.principal.actor(), &org, &new, &invites).await {
        Ok(row) => see_other(&format!("/console/activities/{}?created=1", row.id)),
        Err(e) if e.code.status().is_client_error() => {
            let msg = e
                .errors
                .first()
                .map_or(e.detail.clone(), |x| x.message.clone());
            again(vec![("title", msg)]).await
        }
        Err(e) => error(&req, &user, &e),
    }
}

pub(super) async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    q: web::Query<ShowQuery>,
) -> HttpResponse {
    let run = async {
        let (a, org) = readable(&state, &user, *path).await?;
        let tz = tz_of(&org);
        let now = state.clock.now();
        let row = activity_row(&state, &a, tz, now).await?;
        let counts = attendance::counts(&state, a.id).await?;
        let can_write = user
            .principal
            .require_in(Perm::ActivityWrite, &org.path)
            .is_ok();
        Ok::<_, AppError>(page(
            &req,
            &user,
            StatusCode::OK,
            "console/activity.html",
            context! {
                title => a.title.clone(),
                activity => row,
                org => org.name.clone(),
                ends => when(a.ends_at, tz),
                counts => counts_value(&counts),
                can_write => can_write,
                created => q.created.is_some(),
            },
        ))
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}

/// Sets the organization's fixed-day rule (who may create its activities may set it).
pub(super) async fn set_rule(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(r) = refuse_cross_site(&req) {
        return r;
    }
    let f = Fields::parse(&body);
    let run = async {
        let org = crate::org::service::scoped(
            &state.db,
            &user.principal,
            Perm::ActivityWrite,
            OrgId(*path),
        )
        .await
        .map_err(hide)?;
        let rule = match Rule::parse(
            &f.get("day_of_month"),
            &f.get("start_time"),
            &f.get("duration_minutes"),
            &f.get("place"),
        ) {
            Ok(r) => r,
            Err((field, msg)) => {
                return Ok(page(
                    &req,
                    &user,
                    StatusCode::BAD_REQUEST,
                    "console/rule.html",
                    context! {
                        title => "固定活动日规则",
                        org => context! { id => org.id, name => org.name.clone() },
                        form => f.values(),
                        errors => Value::from(std::collections::BTreeMap::from([(field, msg)])),
                    },
                ));
            }
        };
        fixed_day::set(
            &state.db,
            &user.principal.actor(),
            org.id,
            &rule,
            state.clock.now(),
        )
        .await?;
        Ok::<_, AppError>(see_other(&format!("/console/activities?org={}", org.id)))
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}
