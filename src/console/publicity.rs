//! 公示 and 调查 in the console: publish a period's results, follow the window and its
//! objections, answer them (with a correction through the existing services), confirm
//! (核定), publish a corrected version; open, document, correct and close an XH-19
//! investigation. The rules live in `review::publicity`, `cases::objection` and
//! `cases::investigation`; these handlers gather input and show results.

use std::collections::BTreeMap;

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use minijinja::{Value, context};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{
    ConsoleUser, Fields, error, first_submit, hide, new_form_id, page, refuse_cross_site, when,
};
use crate::auth::{Perm, Role};
use crate::cases::CaseState;
use crate::cases::correction::Fix;
use crate::cases::{investigation, objection};
use crate::error::{AppError, AppResult};
use crate::ids::{CaseId, OrgId, PersonId, PublicityId};
use crate::ledger::inputs::{tz_of, year_of};
use crate::ledger::queries::Period;
use crate::review::publicity::{
    self as publicity, NewPublicity, changes_of, kind_label, label_of, parse_period, rows_of,
};
use crate::state::AppState;
use crate::web::member::see_other;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/publicity", web::get().to(list))
        .route("/console/publicity", web::post().to(publish))
        .route("/console/publicity/{id}", web::get().to(show))
        .route("/console/publicity/{id}/confirm", web::post().to(confirm))
        .route(
            "/console/publicity/{id}/republish",
            web::post().to(republish),
        )
        .route("/console/objections/{id}/accept", web::post().to(accept))
        .route("/console/objections/{id}/reject", web::post().to(reject))
        .route("/console/investigations", web::get().to(investigations))
        .route(
            "/console/investigations",
            web::post().to(open_investigation),
        )
        .route(
            "/console/investigations/{id}",
            web::get().to(investigation_page),
        )
        .route(
            "/console/investigations/{id}/findings",
            web::post().to(attach),
        )
        .route(
            "/console/investigations/{id}/correct",
            web::post().to(correct),
        )
        .route("/console/investigations/{id}/close", web::post().to(close));
}

/// Publishing, confirming and answering are the branch committee's: secretaries and
/// admins (recorders enter items, approve nothing; auditors read).
fn decides(user: &ConsoleUser) -> bool {
    user.can(Perm::ScoresWrite) && user.principal.role != Role::Recorder
}

/// Field problems by field name (a problem without a field goes under `form`).
fn field_errors(e: &AppError) -> Value {
    let mut m: BTreeMap<String, String> = BTreeMap::new();
    for f in &e.errors {
        m.entry(f.field.clone())
            .or_insert_with(|| f.message.clone());
    }
    if m.is_empty() {
        m.insert("form".to_owned(), e.detail.clone());
    }
    Value::from(m)
}

fn state_label(state: &str) -> &'static str {
    match state {
        publicity::OPEN => "公示中",
        publicity::CONFIRMED => "已核定",
        publicity::SUPERSEDED => "已被新版本替代",
        _ => "",
    }
}

fn period_options() -> Vec<Value> {
    [
        ("half_year", "半年"),
        ("quarter", "季度"),
        ("month", "月度"),
        ("year", "年度"),
    ]
    .into_iter()
    .map(|(v, l)| context! { value => v, label => l })
    .collect()
}

/// Organizations the user may publish for: those in their scope, branches first.
async fn orgs_in_scope(state: &AppState, user: &ConsoleUser) -> AppResult<Vec<Value>> {
    use entity::organization::{Column, Entity};
    let mut q = Entity::find().filter(Column::Kind.ne("group"));
    if let Some(scope) = &user.principal.scope_path {
        q = q.filter(Column::Path.starts_with(scope.as_str()));
    }
    let rows = q
        .order_by_asc(Column::Path)
        .limit(300)
        .all(&state.db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|o| context! { id => o.id, name => o.name })
        .collect())
}

async fn list_page(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    status: StatusCode,
    errors: Value,
    values: Value,
) -> AppResult<HttpResponse> {
    let rows = publicity::list_for_staff(&state.db, &user.principal).await?;
    let mut items = Vec::new();
    for (p, org) in &rows {
        let tz = tz_of(org);
        let open = publicity::open_objections(&state.db, p.id).await?;
        items.push(context! {
            id => p.id, org => org.name.clone(), label => label_of(p), version => p.version,
            state => state_label(&p.state), window => format!("{} 至 {}", when(p.opens_at, tz), when(p.closes_at, tz)),
            open_objections => open, rule => p.rule.clone(),
        });
    }
    let tz = chrono_tz::Asia::Shanghai;
    let year = year_of(state.clock.now(), tz);
    Ok(page(
        req,
        user,
        status,
        "console/publicity_list.html",
        context! {
            title => "积分公示",
            items => items,
            may_publish => decides(user),
            orgs => orgs_in_scope(state, user).await?,
            periods => period_options(),
            year => year,
            errors => errors,
            form => values,
            form_id => new_form_id(),
            may_investigate => user.can(Perm::Correct),
        },
    ))
}

async fn list(state: web::Data<AppState>, req: HttpRequest, user: ConsoleUser) -> HttpResponse {
    let empty = Value::from(BTreeMap::<String, String>::new());
    list_page(&state, &req, &user, StatusCode::OK, empty.clone(), empty)
        .await
        .unwrap_or_else(|e| error(&req, &user, &hide(e)))
}

fn opt_num<T: std::str::FromStr>(f: &Fields, name: &str, label: &str) -> AppResult<Option<T>> {
    let v = f.get(name);
    if v.is_empty() {
        return Ok(None);
    }
    v.parse()
        .map(Some)
        .map_err(|_| AppError::field(name, format!("{label}须为整数")))
}

fn read_new(f: &Fields) -> AppResult<NewPublicity> {
    let org: i64 =
        opt_num(f, "org_id", "组织")?.ok_or_else(|| AppError::field("org_id", "请选择组织"))?;
    let year: i32 =
        opt_num(f, "year", "年份")?.ok_or_else(|| AppError::field("year", "请填写年份"))?;
    let period = parse_period(&f.get("period"))
        .ok_or_else(|| AppError::field("period", "请选择公示的期别"))?;
    let n: Option<u32> = opt_num(f, "n", "第几期")?;
    if period != Period::Year && n.is_none() {
        return Err(AppError::field(
            "n",
            "请填写第几个半年（1-2）、季度（1-4）或月份（1-12）",
        ));
    }
    Ok(NewPublicity {
        org_id: OrgId(org),
        year,
        period,
        n,
        days: opt_num(f, "days", "公示天数")?,
        ranked: (f.get("ranked") == "1").then_some(true),
    })
}

async fn publish(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(r) = refuse_cross_site(&req) {
        return r;
    }
    let f = Fields::parse(&body);
    let run = async {
        let input = match read_new(&f) {
            Ok(i) => i,
            Err(e) => {
                return list_page(
                    &state,
                    &req,
                    &user,
                    StatusCode::BAD_REQUEST,
                    field_errors(&e),
                    f.values(),
                )
                .await;
            }
        };
        if !first_submit(&state, &f.get("form_id")).await {
            return Ok(see_other("/console/publicity"));
        }
        match publicity::publish(&state, &user.principal, input).await {
            Ok(p) => Ok(see_other(&format!("/console/publicity/{}", p.id))),
            Err(e)
                if e.code.status().is_client_error()
                    && e.code != crate::error::ErrorCode::Forbidden =>
            {
                list_page(
                    &state,
                    &req,
                    &user,
                    e.code.status(),
                    field_errors(&e),
                    f.values(),
                )
                .await
            }
            Err(e) => Err(hide(e)),
        }
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}

async fn detail_page(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    id: i64,
    status: StatusCode,
    errors: Value,
    values: Value,
) -> AppResult<HttpResponse> {
    let (p, org) = publicity::scoped(
        &state.db,
        &user.principal,
        Perm::ScoresRead,
        PublicityId(id),
    )
    .await?;
    let tz = tz_of(&org);
    let now = state.clock.now();
    let rows: Vec<Value> = rows_of(&p)
        .into_iter()
        .map(|r| context! { name => r.name, org => r.org_name, score => r.score, stars => r.stars, place => r.place, person_id => r.person_id })
        .collect();
    let corrections: Vec<Value> = publicity::corrections(&state.db, &state.scoring, &p, &org)
        .await?
        .into_iter()
        .map(|c| context! { when => when(c.at, tz), name => c.name, what => c.what, reason => c.reason, points => c.points })
        .collect();
    let changes: Vec<Value> = changes_of(&p)
        .into_iter()
        .map(|c| context! { name => c.name, before => c.before, after => c.after })
        .collect();
    // Objections to every version of this period's list.
    let mut versions = vec![p.id];
    let mut prev = p.previous_id;
    while let Some(id) = prev {
        versions.push(id);
        prev = publicity::find(&state.db, PublicityId(id))
            .await?
            .previous_id;
    }
    let names: BTreeMap<i64, String> = rows_of(&p)
        .into_iter()
        .map(|r| (r.person_id, r.name))
        .collect();
    let decide = decides(user) && user.principal.covers(&org.path);
    let objections: Vec<Value> = objection::list(&state.db, &versions)
        .await?
        .into_iter()
        .map(|o| {
            let st = CaseState::parse(&o.case.state).unwrap_or(CaseState::Open);
            context! {
                id => o.case.id,
                who => if o.row.objector_kind == "public" { format!("群众 {}", o.row.objector_name) } else { o.row.objector_name.clone() },
                contact => o.row.contact.clone(),
                about => o.row.about_person_id.and_then(|a| names.get(&a).cloned()),
                about_id => o.row.about_person_id,
                reason => o.case.reason.clone(),
                state => st.label(),
                open => st.is_open(),
                outcome => o.case.outcome.clone(),
                filed => when(o.case.filed_at, tz),
                deadline => when(o.case.deadline, tz),
                overdue => st.is_open() && o.case.deadline < now,
                may_answer => decide && st.is_open(),
                steps => o.messages.iter().map(|m| context! { who => m.author_name.clone(), body => m.body.clone(), when => when(m.at, tz) }).collect::<Vec<_>>(),
            }
        })
        .collect();
    let (settings, _) = publicity::settings_for(state, &org, p.year).await?;
    let public_link = settings
        .public_objections
        .then(|| format!("{}/p/publicity/{}", state.public_url, p.public_token));
    Ok(page(
        req,
        user,
        status,
        "console/publicity.html",
        context! {
            title => format!("{} · {}积分公示", org.name, label_of(&p)),
            p => context! {
                id => p.id, version => p.version, state => state_label(&p.state), rule => p.rule.clone(),
                opens => when(p.opens_at, tz), closes => when(p.closes_at, tz), answer_until => when(p.answer_until, tz),
                confirmed => p.confirmed_at.map(|t| when(t, tz)), ranked => p.ranked, kind => kind_label(&p.period),
                open => p.state == publicity::OPEN, window_open => publicity::window_open(&p, now),
                superseded => p.state == publicity::SUPERSEDED, previous => p.previous_id,
            },
            rows => rows,
            corrections => corrections,
            changes => changes,
            objections => objections,
            may_decide => decide,
            may_correct => user.can(Perm::Correct),
            public_link => public_link,
            errors => errors,
            form => values,
            default_days => settings.days,
            form_id => new_form_id(),
        },
    ))
}

async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
) -> HttpResponse {
    let empty = Value::from(BTreeMap::<String, String>::new());
    detail_page(
        &state,
        &req,
        &user,
        *path,
        StatusCode::OK,
        empty.clone(),
        empty,
    )
    .await
    .unwrap_or_else(|e| error(&req, &user, &hide(e)))
}

/// Runs a step of a publicity page; a client error is shown on the page next to its field.
async fn step(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    publicity_id: i64,
    f: &Fields,
    done: AppResult<String>,
) -> HttpResponse {
    let out = match done {
        Ok(to) => Ok(see_other(&to)),
        Err(e)
            if e.code.status().is_client_error()
                && !matches!(
                    e.code,
                    crate::error::ErrorCode::NotFound | crate::error::ErrorCode::Forbidden
                ) =>
        {
            detail_page(
                state,
                req,
                user,
                publicity_id,
                e.code.status(),
                field_errors(&e),
                f.values(),
            )
            .await
        }
        Err(e) => Err(hide(e)),
    };
    out.unwrap_or_else(|e| error(req, user, &e))
}

async fn confirm(
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
    let id = *path;
    let done = publicity::confirm(&state, &user.principal, PublicityId(id))
        .await
        .map(|p| format!("/console/publicity/{}", p.id));
    step(&state, &req, &user, id, &f, done).await
}

async fn republish(
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
    let id = *path;
    let done = async {
        let days = opt_num::<i64>(&f, "days", "公示天数")?;
        if !first_submit(&state, &f.get("form_id")).await {
            return Ok::<_, AppError>(format!("/console/publicity/{id}"));
        }
        publicity::republish(&state, &user.principal, PublicityId(id), days)
            .await
            .map(|p| format!("/console/publicity/{}", p.id))
    }
    .await;
    step(&state, &req, &user, id, &f, done).await
}

/// The publicity an objection belongs to (for the page to show again).
async fn publicity_of_case(state: &AppState, case: i64) -> AppResult<i64> {
    entity::publicity_objection::Entity::find()
        .filter(entity::publicity_objection::Column::CaseId.eq(case))
        .one(&state.db)
        .await?
        .map(|o| o.publicity_id)
        .ok_or_else(|| AppError::not_found("没有找到该异议"))
}

fn read_fix(
    f: &Fields,
    tz: chrono_tz::Tz,
    default_at: chrono::DateTime<chrono::Utc>,
) -> AppResult<Option<Fix>> {
    match f.get("fix").as_str() {
        "" | "none" => Ok(None),
        "annul" => {
            let fact_id: i64 = opt_num(f, "fact_id", "记录编号")?
                .ok_or_else(|| AppError::field("fact_id", "请填写要作废的记录编号"))?;
            Ok(Some(Fix::Annul { fact_id }))
        }
        "item" => {
            let item = f.get("item");
            if item.is_empty() {
                return Err(AppError::field("item", "请填写事项代码"));
            }
            let points = match f.get("points").as_str() {
                "" => None,
                p => Some(
                    crate::policy::parse_dec(p)
                        .ok_or_else(|| AppError::field("points", "分值须为数字"))?,
                ),
            };
            let at = match f.get("at").as_str() {
                "" => default_at,
                s => super::parse_input_time(s, tz)
                    .ok_or_else(|| AppError::field("at", "时间格式应为 2026-06-30T10:00"))?,
            };
            Ok(Some(Fix::Item { item, points, at }))
        }
        _ => Err(AppError::field("fix", "请选择更正方式")),
    }
}

async fn accept(
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
    let case = *path;
    let pid = match publicity_of_case(&state, case).await {
        Ok(p) => p,
        Err(e) => return error(&req, &user, &e),
    };
    let done = async {
        let p = publicity::find(&state.db, PublicityId(pid)).await?;
        let org = crate::org::service::find(&state.db, OrgId(p.org_id)).await?;
        let tz = tz_of(&org);
        // An item of the period is dated at its last minute unless a time is given.
        let (_, until) = crate::ledger::queries::period_bounds(
            p.year,
            parse_period(&p.period).unwrap_or(Period::Year),
            p.n.and_then(|n| u32::try_from(n).ok()),
            tz,
        )?;
        let fix = read_fix(&f, tz, until - chrono::Duration::minutes(1))?;
        objection::accept(&state, &user.principal, CaseId(case), fix, &f.get("note")).await?;
        Ok::<_, AppError>(format!("/console/publicity/{pid}"))
    }
    .await;
    step(&state, &req, &user, pid, &f, done).await
}

async fn reject(
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
    let case = *path;
    let pid = match publicity_of_case(&state, case).await {
        Ok(p) => p,
        Err(e) => return error(&req, &user, &e),
    };
    let done = objection::reject(&state, &user.principal, CaseId(case), &f.get("reason"))
        .await
        .map(|_| format!("/console/publicity/{pid}"));
    step(&state, &req, &user, pid, &f, done).await
}

// ---- XH-19 investigations ----------------------------------------------------

async fn investigations_page(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    status: StatusCode,
    errors: Value,
    values: Value,
) -> AppResult<HttpResponse> {
    let tz = chrono_tz::Asia::Shanghai;
    let items: Vec<Value> = investigation::list(&state.db, &user.principal)
        .await?
        .into_iter()
        .map(|(c, name)| {
            let st = CaseState::parse(&c.state).unwrap_or(CaseState::Open);
            context! { id => c.id, name => name, reason => c.reason, open => st.is_open(), when => when(c.filed_at, tz) }
        })
        .collect();
    Ok(page(
        req,
        user,
        status,
        "console/investigations.html",
        context! {
            title => "积分异常调查",
            items => items,
            may_open => user.can(Perm::Correct),
            periods => period_options(),
            year => year_of(state.clock.now(), tz),
            errors => errors,
            form => values,
            form_id => new_form_id(),
        },
    ))
}

async fn investigations(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
) -> HttpResponse {
    let empty = Value::from(BTreeMap::<String, String>::new());
    investigations_page(&state, &req, &user, StatusCode::OK, empty.clone(), empty)
        .await
        .unwrap_or_else(|e| error(&req, &user, &hide(e)))
}

fn read_investigation(f: &Fields) -> AppResult<investigation::NewInvestigation> {
    let person: i64 = opt_num(f, "person_id", "党员编号")?
        .ok_or_else(|| AppError::field("person_id", "请填写党员的系统编号"))?;
    let year: i32 =
        opt_num(f, "year", "年份")?.ok_or_else(|| AppError::field("year", "请填写年份"))?;
    let period =
        parse_period(&f.get("period")).ok_or_else(|| AppError::field("period", "请选择期别"))?;
    let n: Option<u32> = opt_num(f, "n", "第几期")?;
    if period != Period::Year && n.is_none() {
        return Err(AppError::field("n", "请填写第几期"));
    }
    Ok(investigation::NewInvestigation {
        person: PersonId(person),
        year,
        period,
        n,
        reason: f.get("reason"),
    })
}

async fn open_investigation(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(r) = refuse_cross_site(&req) {
        return r;
    }
    let f = Fields::parse(&body);
    let run = async {
        let input = read_investigation(&f);
        let result = match input {
            Ok(i) => {
                if !first_submit(&state, &f.get("form_id")).await {
                    return Ok(see_other("/console/investigations"));
                }
                investigation::open(&state, &user.principal, i).await
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(c) => Ok(see_other(&format!("/console/investigations/{}", c.id))),
            Err(e)
                if e.code.status().is_client_error()
                    && !matches!(
                        e.code,
                        crate::error::ErrorCode::NotFound | crate::error::ErrorCode::Forbidden
                    ) =>
            {
                investigations_page(
                    &state,
                    &req,
                    &user,
                    e.code.status(),
                    field_errors(&e),
                    f.values(),
                )
                .await
            }
            Err(e) => Err(hide(e)),
        }
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}

async fn investigation_detail(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    id: i64,
    status: StatusCode,
    errors: Value,
    values: Value,
) -> AppResult<HttpResponse> {
    let inv = investigation::get(state, &user.principal, CaseId(id)).await?;
    let tz = tz_of(&inv.org);
    let st = CaseState::parse(&inv.case.state).unwrap_or(CaseState::Open);
    Ok(page(
        req,
        user,
        status,
        "console/investigation.html",
        context! {
            title => format!("调查 #{}", inv.case.id),
            case => context! {
                id => inv.case.id, name => inv.person.name.clone(), org => inv.org.name.clone(), label => inv.label.clone(),
                reason => inv.case.reason.clone(), open => st.is_open(), outcome => inv.case.outcome.clone(),
                filed => when(inv.case.filed_at, tz),
            },
            lines => inv.lines.iter().map(|l| context! {
                when => l.at.map(|t| when(t, tz)), note => l.note.clone(), points => l.points.clone(), fact_id => l.fact_id,
            }).collect::<Vec<_>>(),
            steps => inv.messages.iter().map(|m| context! { who => m.author_name.clone(), body => m.body.clone(), when => when(m.at, tz) }).collect::<Vec<_>>(),
            attachments => inv.attachments,
            may_act => st.is_open() && user.can(Perm::Correct),
            errors => errors,
            form => values,
            max_mb => state.settings.uploads.max_bytes / (1024 * 1024),
        },
    ))
}

async fn investigation_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
) -> HttpResponse {
    let empty = Value::from(BTreeMap::<String, String>::new());
    investigation_detail(
        &state,
        &req,
        &user,
        *path,
        StatusCode::OK,
        empty.clone(),
        empty,
    )
    .await
    .unwrap_or_else(|e| error(&req, &user, &hide(e)))
}

async fn investigation_step(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    id: i64,
    values: Value,
    done: AppResult<()>,
) -> HttpResponse {
    let out = match done {
        Ok(()) => Ok(see_other(&format!("/console/investigations/{id}"))),
        Err(e)
            if e.code.status().is_client_error()
                && !matches!(
                    e.code,
                    crate::error::ErrorCode::NotFound | crate::error::ErrorCode::Forbidden
                ) =>
        {
            investigation_detail(
                state,
                req,
                user,
                id,
                e.code.status(),
                field_errors(&e),
                values,
            )
            .await
        }
        Err(e) => Err(hide(e)),
    };
    out.unwrap_or_else(|e| error(req, user, &e))
}

/// Text parts of a findings form are short; the image is capped by `uploads.max_bytes`.
const MAX_FIELD_BYTES: usize = 4 * 1024;

async fn attach(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    mut payload: Multipart,
) -> HttpResponse {
    if let Some(r) = refuse_cross_site(&req) {
        return r;
    }
    let id = *path;
    let cap = state.settings.uploads.max_bytes;
    let done = async {
        let mut photo: Option<Vec<u8>> = None;
        let mut note = String::new();
        let mut too_large = false;
        let bad = || AppError::field("photo", "表单无法读取，请重新提交");
        while let Some(field) = payload.next().await {
            let mut field = field.map_err(|_| bad())?;
            let name = field.name().unwrap_or_default().to_owned();
            let limit = if name == "photo" {
                cap
            } else {
                MAX_FIELD_BYTES
            };
            let mut buf = Vec::new();
            let mut over = false;
            while let Some(chunk) = field.next().await {
                let chunk = chunk.map_err(|_| bad())?;
                if buf.len() + chunk.len() > limit {
                    over = true;
                    continue;
                }
                buf.extend_from_slice(&chunk);
            }
            match name.as_str() {
                "photo" if over => too_large = true,
                "photo" if !buf.is_empty() => photo = Some(buf),
                "note" if !over => note = String::from_utf8_lossy(&buf).into_owned(),
                _ => {}
            }
        }
        if too_large {
            return Err(AppError::field(
                "photo",
                format!("图片不能超过 {} MB", cap / (1024 * 1024)),
            ));
        }
        let bytes = photo.ok_or_else(|| AppError::field("photo", "请选择调查材料的图片"))?;
        let img = crate::uploads::clean_image(&bytes, &state.settings.uploads).map_err(|e| {
            AppError::field(
                "photo",
                e.errors
                    .first()
                    .map_or(e.detail.clone(), |f| f.message.clone()),
            )
        })?;
        investigation::attach(&state, &user.principal, CaseId(id), &img, &note).await?;
        Ok::<_, AppError>(())
    }
    .await;
    let empty = Value::from(BTreeMap::<String, String>::new());
    investigation_step(&state, &req, &user, id, empty, done).await
}

async fn correct(
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
    let id = *path;
    let done = async {
        let inv = investigation::get(&state, &user.principal, CaseId(id)).await?;
        let tz = tz_of(&inv.org);
        let fix = read_fix(&f, tz, state.clock.now())?
            .ok_or_else(|| AppError::field("fix", "请选择更正方式"))?;
        if !first_submit(&state, &f.get("form_id")).await {
            return Ok(());
        }
        investigation::correct(&state, &user.principal, CaseId(id), fix, &f.get("note")).await?;
        Ok::<_, AppError>(())
    }
    .await;
    investigation_step(&state, &req, &user, id, f.values(), done).await
}

async fn close(
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
    let id = *path;
    let done = investigation::close(&state, &user.principal, CaseId(id), &f.get("conclusion"))
        .await
        .map(|_| ());
    investigation_step(&state, &req, &user, id, f.values(), done).await
}
