//! The activity day's jobs, phone first: today's activities with 开始签到 / 结束签到,
//! the activities list with the fixed day proposed from the branch's rule, creating an
//! activity, the check-in scene (QR on this phone, projector link, live count, the
//! missing list, 手工签到 and 补签 with a required reason) and the attendance sheet.
//! Admins and auditors use the same pages across their subtree (auditors read-only).

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use minijinja::{Value, context};
use serde::Deserialize;

use super::session::see_other;
use super::{
    ConsoleUser, Fields, error, first_submit, hide, input_time, new_form_id, page,
    parse_input_time, refuse_cross_site, when,
};
use crate::auth::{Perm, Principal};
use crate::checkin::activities::{self, NewActivity, kind_label};
use crate::checkin::attendance::{self, PageQuery, Status};
use crate::checkin::fixed_day::{self, Rule};
use crate::checkin::makeup::status_label;
use crate::checkin::manual::{self, EntryMethod, NewEntries};
use crate::checkin::routes::{
    close_audited, current_qr, open_audited, qr_code, scoped_activity, scoped_session,
};
use crate::checkin::sessions;
use crate::error::{AppError, AppResult};
use crate::ids::OrgId;
use crate::ledger::inputs::tz_of;
use crate::policy::ActivityKind;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/activities", web::get().to(list))
        .route("/console/activities", web::post().to(create))
        .route("/console/activities/{id}", web::get().to(show))
        .route("/console/activities/{id}/open", web::post().to(open))
        .route("/console/activities/{id}/close", web::post().to(close))
        .route("/console/activities/{id}/live", web::get().to(live))
        .route(
            "/console/activities/{id}/live/part",
            web::get().to(live_part),
        )
        .route("/console/activities/{id}/checkins", web::post().to(enter))
        .route(
            "/console/activities/{id}/attendance",
            web::get().to(attendance_page),
        )
        .route("/console/sessions/{id}/qr.svg", web::get().to(qr_svg))
        .route("/console/orgs/{id}/rule", web::post().to(set_rule));
}

/// Organizations in the user's scope, in tree order.
pub async fn scope_orgs(
    state: &AppState,
    principal: &Principal,
) -> AppResult<Vec<entity::organization::Model>> {
    use entity::organization::{Column, Entity};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let mut q = Entity::find().order_by_asc(Column::Path);
    if let Some(scope) = &principal.scope_path {
        q = q.filter(Column::Path.starts_with(scope.as_str()));
    }
    Ok(q.all(&state.db).await?)
}

/// The organization a user works from: their own, or the first one in scope.
fn home_org(
    principal: &Principal,
    orgs: &[entity::organization::Model],
) -> Option<entity::organization::Model> {
    principal
        .org_id
        .and_then(|id| orgs.iter().find(|o| o.id == id.0))
        .or_else(|| orgs.first())
        .cloned()
}

fn kind_name(kind: &str) -> &'static str {
    kind.parse::<ActivityKind>()
        .map(kind_label)
        .unwrap_or("活动")
}

/// An activity's state for its buttons: (label, open session id).
async fn state_of(
    state: &AppState,
    a: &entity::activity::Model,
    now: DateTime<Utc>,
) -> AppResult<(&'static str, Option<i64>, bool)> {
    let open = sessions::current_for_activity(&state.db, a.id).await?;
    let (_, closes) = sessions::window(
        &state.db,
        &state.scoring,
        a,
        state.settings.checkin.open_before_minutes,
    )
    .await?;
    Ok(match open {
        Some(s) if s.closes_at > now => ("签到中", Some(s.id), false),
        Some(s) => ("签到时段已过", Some(s.id), false),
        None if now > closes => ("已结束", None, false),
        None => ("未开始签到", None, true),
    })
}

async fn activity_row(
    state: &AppState,
    a: &entity::activity::Model,
    tz: Tz,
    now: DateTime<Utc>,
) -> AppResult<Value> {
    let (label, session, can_open) = state_of(state, a, now).await?;
    Ok(context! {
        id => a.id,
        title => a.title.clone(),
        kind => kind_name(&a.kind),
        when => when(a.starts_at, tz),
        place => a.place.clone(),
        state => label,
        session => session,
        can_open => can_open,
    })
}

/// Today's activities and the next one, for the home page.
pub async fn today(state: &AppState, user: &ConsoleUser) -> AppResult<Vec<Value>> {
    use entity::activity::{Column, Entity};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
    if !user.can(Perm::ActivityRead) {
        return Ok(Vec::new());
    }
    let orgs = scope_orgs(state, &user.principal).await?;
    let tz_by: HashMap<i64, Tz> = orgs.iter().map(|o| (o.id, tz_of(o))).collect();
    let now = state.clock.now();
    let tz = home_org(&user.principal, &orgs).map_or(chrono_tz::Asia::Shanghai, |o| tz_of(&o));
    let day_start = now
        .with_timezone(&tz)
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|d| d.and_local_timezone(tz).earliest())
        .map_or(now, |d| d.with_timezone(&Utc));
    let mut q = Entity::find()
        .filter(Column::StartsAt.gte(day_start))
        .order_by_asc(Column::StartsAt)
        .limit(50);
    if user.principal.scope_path.is_some() {
        q = q.filter(Column::OrgId.is_in(orgs.iter().map(|o| o.id).collect::<Vec<_>>()));
    }
    let mut out = Vec::new();
    let tomorrow = day_start + Duration::days(1);
    let mut next_taken = false;
    for a in q.all(&state.db).await? {
        let is_today = a.starts_at < tomorrow;
        if !is_today {
            if next_taken {
                break;
            }
            next_taken = true;
        }
        let tz = tz_by.get(&a.org_id).copied().unwrap_or(tz);
        out.push(activity_row(state, &a, tz, now).await?);
    }
    Ok(out)
}

#[derive(Deserialize)]
struct ListQuery {
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

async fn list(
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
async fn create(
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

/// The activity, if the user may read it; out of scope is 404.
async fn readable(
    state: &AppState,
    user: &ConsoleUser,
    id: i64,
) -> AppResult<(entity::activity::Model, entity::organization::Model)> {
    let a = scoped_activity(state, &user.principal, Perm::ActivityRead, id)
        .await
        .map_err(hide)?;
    let org = crate::org::service::find(&state.db, OrgId(a.org_id)).await?;
    Ok((a, org))
}

#[derive(Deserialize)]
struct ShowQuery {
    created: Option<String>,
    entered: Option<String>,
}

async fn show(
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

fn counts_value(c: &attendance::Counts) -> Value {
    context! {
        arrived => c.on_time + c.late + c.present,
        on_time => c.on_time, late => c.late, too_late => c.too_late, present => c.present,
        makeup => c.makeup, refused => c.refused, missing => c.missing, expected => c.expected,
    }
}

async fn open(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
) -> HttpResponse {
    if let Some(r) = refuse_cross_site(&req) {
        return r;
    }
    let run = async {
        let a = scoped_activity(&state, &user.principal, Perm::ActivityWrite, *path)
            .await
            .map_err(hide)?;
        // A second click while one is open goes to the scene instead of failing.
        if sessions::current_for_activity(&state.db, a.id)
            .await?
            .is_none()
        {
            open_audited(&state, &user.principal, &a).await?;
        }
        Ok::<_, AppError>(see_other(&format!("/console/activities/{}/live", a.id)))
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}

async fn close(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
) -> HttpResponse {
    if let Some(r) = refuse_cross_site(&req) {
        return r;
    }
    let run = async {
        let a = scoped_activity(&state, &user.principal, Perm::ActivityWrite, *path)
            .await
            .map_err(hide)?;
        if let Some(s) = sessions::current_for_activity(&state.db, a.id).await? {
            close_audited(&state, &user.principal, s, &a).await?;
        }
        Ok::<_, AppError>(see_other(&format!("/console/activities/{}", a.id)))
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}

/// Counts and the missing list (first 300 names), for the scene and its polling.
async fn live_data(
    state: &AppState,
    a: &entity::activity::Model,
) -> AppResult<(Value, Vec<Value>, u64)> {
    let p = attendance::page(
        state,
        a,
        PageQuery {
            after: None,
            limit: Some(300),
            status: Some(Status::Missing),
        },
    )
    .await?;
    let missing: Vec<Value> = p
        .items
        .iter()
        .map(|i| context! { id => i.person_id, name => i.name.clone() })
        .collect();
    Ok((counts_value(&p.counts), missing, p.counts.missing))
}

async fn live(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    q: web::Query<ShowQuery>,
) -> HttpResponse {
    live_page(&state, &req, &user, *path, q.entered.as_deref(), None)
        .await
        .unwrap_or_else(|e| error(&req, &user, &e))
}

/// The check-in scene; `form` carries a refused entry form (values, errors) back.
async fn live_page(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    id: i64,
    entered: Option<&str>,
    form: Option<(Value, Value)>,
) -> AppResult<HttpResponse> {
    let (a, org) = readable(state, user, id).await?;
    let tz = tz_of(&org);
    let now = state.clock.now();
    let row = activity_row(state, &a, tz, now).await?;
    let session = sessions::current_for_activity(&state.db, a.id).await?;
    let (counts, missing, missing_n) = live_data(state, &a).await?;
    let can_write = user
        .principal
        .require_in(Perm::ActivityWrite, &org.path)
        .is_ok();
    let entered_text = match entered {
        Some("recorded") => Some("已记录签到"),
        Some("duplicate") => Some("此人已签到，未重复记录"),
        Some("not_expected") => Some("此人不在本活动的应到名单中，未记录"),
        _ => None,
    };
    let status = if form.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let (values, errors) = form.unwrap_or_else(|| (context! {}, context! {}));
    let started = now >= a.starts_at;
    Ok(page(
        req,
        user,
        status,
        "console/live.html",
        context! {
            title => format!("签到现场：{}", a.title),
            activity => row,
            session => session.as_ref().map(|s| context! {
                id => s.id,
                closes => when(s.closes_at, tz),
                reload_ms => i64::from(s.slot_seconds).max(10) * 1000 / 2,
            }),
            counts => counts,
            missing => missing,
            missing_n => missing_n,
            can_write => can_write,
            entered => entered_text,
            form => values,
            errors => errors,
            // At the activity a secretary checks people in by hand; afterwards it is 补签.
            default_method => if session.is_some() || !started { "manual" } else { "backfill" },
        },
    ))
}

async fn live_part(
    state: web::Data<AppState>,
    user: ConsoleUser,
    path: web::Path<i64>,
) -> HttpResponse {
    let run = async {
        let (a, _) = readable(&state, &user, *path).await?;
        let (counts, missing, missing_n) = live_data(&state, &a).await?;
        Ok::<_, AppError>(crate::web::render(
            StatusCode::OK,
            "console/live_part.html",
            super::CONSOLE_CSP,
            context! { counts => counts, missing => missing, missing_n => missing_n },
        ))
    };
    run.await.unwrap_or_else(|e: AppError| {
        HttpResponse::build(e.code.status())
            .content_type("text/plain; charset=utf-8")
            .body(e.detail)
    })
}

/// 手工签到 (at the activity) or 补签 (afterwards), one person, with a reason.
async fn enter(
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
        let a = scoped_activity(&state, &user.principal, Perm::ActivityWrite, *path)
            .await
            .map_err(hide)?;
        let mut errors = std::collections::BTreeMap::new();
        let person: Option<i64> = f.get("person_id").parse().ok();
        if person.is_none() {
            errors.insert("person_id", "请选择要签到的人".to_owned());
        }
        let method = match f.get("method").as_str() {
            "manual" => Some(EntryMethod::Manual),
            "backfill" => Some(EntryMethod::Backfill),
            _ => {
                errors.insert("method", "请选择手工签到或补签".to_owned());
                None
            }
        };
        let reason = f.get("reason");
        if reason.is_empty() {
            errors.insert("reason", "请填写原因（如：无智能手机）".to_owned());
        }
        let (Some(person), Some(method), true) = (person, method, errors.is_empty()) else {
            return live_page(
                &state,
                &req,
                &user,
                a.id,
                None,
                Some((f.values(), Value::from(errors))),
            )
            .await;
        };
        let input = NewEntries {
            person_ids: vec![person],
            method,
            reason,
        };
        match manual::enter(&state, &user.principal, &a, input).await {
            Ok(results) => {
                let result = results
                    .first()
                    .map_or("recorded", |r| r.result.as_str())
                    .to_owned();
                Ok(see_other(&format!(
                    "/console/activities/{}/live?entered={result}",
                    a.id
                )))
            }
            Err(e) if e.code.status().is_client_error() && !e.errors.is_empty() => {
                let msg = e.errors[0].message.clone();
                let field = if e.errors[0].field == "reason" {
                    "reason"
                } else {
                    "method"
                };
                live_page(
                    &state,
                    &req,
                    &user,
                    a.id,
                    None,
                    Some((
                        f.values(),
                        Value::from(std::collections::BTreeMap::from([(field, msg)])),
                    )),
                )
                .await
            }
            Err(e) => Err(e),
        }
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}

#[derive(Deserialize)]
struct SheetQuery {
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

async fn attendance_page(
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

/// The session's current QR code for "show on this phone" (the same code the projector shows).
async fn qr_svg(
    state: web::Data<AppState>,
    user: ConsoleUser,
    path: web::Path<i64>,
) -> HttpResponse {
    let run = async {
        let (s, _) = scoped_session(&state, &user.principal, Perm::ActivityRead, *path)
            .await
            .map_err(hide)?;
        if s.closed_at.is_some() {
            return Err(AppError::conflict("签到已关闭"));
        }
        let q = current_qr(&state, &s).await?;
        Ok(qr_code(&q.url)?
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(320, 320)
            .build())
    };
    match run.await {
        Ok(svg) => HttpResponse::Ok()
            .content_type("image/svg+xml")
            .insert_header(("Cache-Control", "no-store"))
            .body(svg),
        Err(e) => HttpResponse::build(e.code.status())
            .content_type("text/plain; charset=utf-8")
            .body(e.detail),
    }
}

/// Sets the organization's fixed-day rule (who may create its activities may set it).
async fn set_rule(
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
