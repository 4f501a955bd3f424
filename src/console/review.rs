//! 审核 (phone first): the branch's answers to members' requests and to what the
//! platform proposes, on the services of `crate::cycle`: leave requests (准假 / 不准假
//! with a reason; 代为登记 for a member without a phone), declarations (通过 with the
//! item's fields / 不通过 with a reason; a recorder 登记 one for a member and approves
//! nothing), and proposals (EQ-3 absences, TW-5: 确认 / 驳回 with a reason).

use std::collections::{BTreeMap, HashMap};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::{Value, context};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{
    ConsoleUser, Fields, error, first_submit, hide, new_form_id, page, refuse_cross_site, when,
};
use crate::auth::Perm;
use crate::cycle::declarations::{self, DeclState, NewDeclaration};
use crate::cycle::{leave, proposals};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ids::{OrgId, PersonId};
use crate::ledger::inputs::{policy_for, tz_of, year_of};
use crate::policy::{FieldKind, ItemSubject};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/review", web::get().to(show))
        .route("/console/review/leave", web::post().to(enter_leave))
        .route("/console/review/leave/{id}", web::post().to(answer_leave))
        .route(
            "/console/review/declarations",
            web::post().to(enter_declaration),
        )
        .route(
            "/console/review/declarations/{id}",
            web::post().to(answer_declaration),
        )
        .route(
            "/console/review/proposals/{id}",
            web::post().to(answer_proposal),
        )
        .route("/console/review/photos/{upload}", web::get().to(photo));
}

/// What to show again after a refused form: messages and values by key.
#[derive(Default)]
struct Again {
    errors: BTreeMap<String, String>,
    form: BTreeMap<String, String>,
}

impl Again {
    fn one(key: &str, message: String, value: String) -> Self {
        let mut a = Self::default();
        a.errors.insert(key.to_owned(), message);
        a.form.insert(key.to_owned(), value);
        a
    }
}

fn message_of(e: &AppError) -> String {
    e.errors
        .first()
        .map_or_else(|| e.detail.clone(), |f| f.message.clone())
}

async fn names(
    state: &AppState,
    ids: impl Iterator<Item = i64>,
) -> AppResult<HashMap<i64, String>> {
    let ids: Vec<i64> = ids.collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(entity::person::Entity::find()
        .select_only()
        .columns([entity::person::Column::Id, entity::person::Column::Name])
        .filter(entity::person::Column::Id.is_in(ids))
        .into_tuple::<(i64, String)>()
        .all(&state.db)
        .await?
        .into_iter()
        .collect())
}

async fn render_page(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    status: StatusCode,
    again: Again,
    flash: Option<&str>,
) -> AppResult<HttpResponse> {
    let p = &user.principal;
    let orgs = super::secretary::scope_orgs(state, p).await?;
    let home = p
        .org_id
        .and_then(|id| orgs.iter().find(|o| o.id == id.0))
        .or_else(|| orgs.first())
        .cloned();
    let tz = home.as_ref().map_or(chrono_tz::Asia::Shanghai, tz_of);
    let now = state.clock.now();
    let year = year_of(now, tz);
    let policy = match &home {
        Some(o) => Some(policy_for(&state.db, &state.scoring, &o.path, year).await?),
        None => None,
    };

    let leaves = if user.can(Perm::ActivityRead) {
        leave::list_in_scope(state, p, false).await?
    } else {
        Vec::new()
    };
    let decls = if user.can(Perm::ScoresRead) {
        declarations::list_in_scope(state, p, false).await?
    } else {
        Vec::new()
    };
    let props = if user.can(Perm::ScoresRead) {
        proposals::list_in_scope(state, p, false).await?
    } else {
        Vec::new()
    };
    let who = names(
        state,
        leaves
            .iter()
            .map(|l| l.person_id)
            .chain(decls.iter().map(|d| d.person_id))
            .chain(props.iter().map(|x| x.person_id)),
    )
    .await?;
    let name = |id: i64| who.get(&id).cloned().unwrap_or_default();

    let mut leave_rows = Vec::new();
    for l in &leaves {
        let a = entity::activity::Entity::find_by_id(l.activity_id)
            .one(&state.db)
            .await?;
        let st = leave::state_of(l);
        leave_rows.push(context! {
            id => l.id, name => name(l.person_id),
            activity => a.as_ref().map(|a| a.title.clone()).unwrap_or_default(),
            when => a.as_ref().map(|a| when(a.starts_at, tz)).unwrap_or_default(),
            reason => l.reason.clone(),
            by => if l.entered_by_kind == "member" { "本人申请".to_owned() } else { format!("{} 代为登记", l.entered_by_name) },
            state => match &l.decision_reason { Some(r) => format!("{}：{r}", st.label()), None => st.label().to_owned() },
            waiting => st == leave::LeaveState::Requested,
        });
    }
    // Waiting ones first.
    leave_rows.sort_by_key(|v| !v.get_attr("waiting").is_ok_and(|w| w.is_true()));

    let mut decl_rows = Vec::new();
    for d in &decls {
        let st = declarations::state_of(d);
        let dp = match crate::org::service::find(&state.db, OrgId(d.org_id)).await {
            Ok(o) => Some(policy_for(&state.db, &state.scoring, &o.path, d.year).await?),
            Err(_) => None,
        };
        let (label, rule) = dp
            .as_ref()
            .and_then(|p| p.item_label(&d.item))
            .unwrap_or_else(|| (d.item.clone(), String::new()));
        let fields: Vec<Value> = dp
            .as_ref()
            .and_then(|p| p.item(ItemSubject::Person, &d.item))
            .map(|spec| {
                spec.fields
                    .iter()
                    .map(|f| {
                        context! {
                            name => f.name.clone(),
                            bool => f.kind == FieldKind::Bool,
                            label => field_label(&f.name, f.required),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        decl_rows.push(context! {
            id => d.id, name => name(d.person_id), label => label, rule => rule,
            date => d.on_date.format("%Y年%-m月%-d日").to_string(),
            description => d.description.clone(), photo => d.upload_id,
            by => if d.entered_by_kind == "member" { "本人申报".to_owned() } else { format!("{} 登记", d.entered_by_name) },
            state => match &d.decision_reason { Some(r) => format!("{}：{r}", st.label()), None => st.label().to_owned() },
            waiting => st == DeclState::Submitted,
            fields => fields,
        });
    }
    decl_rows.sort_by_key(|v| !v.get_attr("waiting").is_ok_and(|w| w.is_true()));

    let mut prop_rows = Vec::new();
    for x in &props {
        let label = policy
            .as_ref()
            .and_then(|p| p.item_label(&x.item))
            .map_or_else(|| x.item.clone(), |(l, _)| l);
        prop_rows.push(context! {
            id => x.id, name => name(x.person_id), rule => x.rule.clone(), label => label,
            note => x.note.clone(), state => proposals::state_label(&x.state),
            reason => x.reason.clone(), open => x.state == proposals::OPEN,
        });
    }
    prop_rows.sort_by_key(|v| !v.get_attr("open").is_ok_and(|w| w.is_true()));

    let scope_ids: Vec<i64> = orgs.iter().map(|o| o.id).collect();
    let upcoming: Vec<Value> = if user.can(Perm::ActivityWrite) && !scope_ids.is_empty() {
        entity::activity::Entity::find()
            .filter(entity::activity::Column::OrgId.is_in(scope_ids))
            .filter(entity::activity::Column::StartsAt.gt(now))
            .filter(entity::activity::Column::StartsAt.lt(now + chrono::Duration::days(60)))
            .order_by_asc(entity::activity::Column::StartsAt)
            .limit(50)
            .all(&state.db)
            .await?
            .into_iter()
            .map(|a| context! { id => a.id, title => a.title, when => when(a.starts_at, tz) })
            .collect()
    } else {
        Vec::new()
    };
    let items: Vec<Value> = policy
        .as_ref()
        .map(|p| {
            p.declarable_items()
                .into_iter()
                .map(|d| context! { code => d.code, label => d.label, rule => d.rule })
                .collect()
        })
        .unwrap_or_default();
    Ok(page(
        req,
        user,
        status,
        "console/review.html",
        context! {
            title => "审核",
            flash => flash,
            leaves => leave_rows,
            declarations => decl_rows,
            proposals => prop_rows,
            upcoming => upcoming,
            items => items,
            today => now.with_timezone(&tz).date_naive().to_string(),
            can_review => user.can(Perm::Review),
            can_enter_leave => user.can(Perm::ActivityWrite),
            can_enter_declaration => user.can(Perm::ScoresWrite),
            errors => Value::from(again.errors),
            form => Value::from(again.form),
            form_id => new_form_id(),
        },
    ))
}

fn field_label(name: &str, required: bool) -> String {
    let base = match name {
        "points" => "核定分值".to_owned(),
        "leading" => "起带头、组织、主导作用".to_owned(),
        "level" => "级别".to_owned(),
        other => other.to_owned(),
    };
    if required {
        format!("{base}（必填）")
    } else {
        base
    }
}

async fn show(state: web::Data<AppState>, req: HttpRequest, user: ConsoleUser) -> HttpResponse {
    render_page(&state, &req, &user, StatusCode::OK, Again::default(), None)
        .await
        .unwrap_or_else(|e| error(&req, &user, &e))
}

/// Answering needs `Review` (a recorder has it not): 403, before anything is read.
fn may_review(req: &HttpRequest, user: &ConsoleUser) -> Option<HttpResponse> {
    (!user.can(Perm::Review)).then(|| {
        error(
            req,
            user,
            &AppError::forbidden(format!("{}无权审批", user.principal.role.label())),
        )
    })
}

/// A refused form: the page again with the message by its field, or the error page.
async fn refused(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    e: AppError,
    again: Again,
) -> HttpResponse {
    if e.code == ErrorCode::NotFound
        || e.code == ErrorCode::Forbidden
        || !e.code.status().is_client_error()
    {
        return error(req, user, &hide(e));
    }
    render_page(state, req, user, e.code.status(), again, None)
        .await
        .unwrap_or_else(|e| error(req, user, &e))
}

fn back() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, "/console/review"))
        .finish()
}

/// Finds one person in scope by 编号 or name: exactly one, or a field error.
async fn one_person(
    state: &AppState,
    user: &ConsoleUser,
    q: &str,
    field: &str,
) -> AppResult<PersonId> {
    if q.is_empty() {
        return Err(AppError::field(field, "请填写党员姓名或编号"));
    }
    let found = crate::org::people::list(
        &state.db,
        &user.principal,
        crate::org::people::PeopleQuery {
            org_id: None,
            role: None,
            status: Some(crate::org::PersonStatus::Active),
            q: Some(q.to_owned()),
            after: None,
            limit: Some(5),
        },
    )
    .await?;
    let exact: Vec<_> = found
        .items
        .iter()
        .filter(|p| p.name == q || p.external_id.as_deref() == Some(q))
        .collect();
    let one = match (exact.as_slice(), found.items.as_slice()) {
        ([one], _) => one.id,
        ([], [one]) => one.id,
        ([], []) => return Err(AppError::field(field, format!("没有找到“{q}”"))),
        _ => return Err(AppError::field(field, format!("“{q}”对应多人，请填写编号"))),
    };
    Ok(PersonId(one.0))
}

async fn enter_leave(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(r) = refuse_cross_site(&req) {
        return r;
    }
    let f = Fields::parse(&body);
    let keep = || {
        let mut a = Again::default();
        a.form.insert("el_person".into(), f.get("person"));
        a.form.insert("el_activity".into(), f.get("activity"));
        a.form.insert("el_reason".into(), f.get("reason"));
        a
    };
    if !first_submit(&state, &f.get("form_id")).await {
        return back();
    }
    let run = async {
        let person = one_person(&state, &user, &f.get("person"), "el_person").await?;
        let activity = f
            .get("activity")
            .parse::<i64>()
            .map_err(|_| AppError::field("el_activity", "请选择活动"))?;
        leave::enter_for(&state, &user.principal, person, activity, &f.get("reason")).await
    };
    match run.await {
        Ok(_) => back(),
        Err(e) => {
            let mut a = keep();
            let key = match e.errors.first().map(|x| x.field.as_str()) {
                Some("el_person") => "el_person",
                Some("reason") => "el_reason",
                Some("el_activity") => "el_activity",
                _ if e.code == ErrorCode::NotFound => "el_activity",
                _ => "el_activity",
            };
            a.errors.insert(key.to_owned(), message_of(&e));
            let e = if e.code == ErrorCode::NotFound {
                AppError::field(key, e.detail.clone())
            } else {
                e
            };
            refused(&state, &req, &user, e, a).await
        }
    }
}

async fn answer_leave(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(r) = refuse_cross_site(&req) {
        return r;
    }
    if let Some(r) = may_review(&req, &user) {
        return r;
    }
    let f = Fields::parse(&body);
    let id = *path;
    let approve = f.get("answer") == "approve";
    match leave::decide(&state, &user.principal, id, approve, &f.get("reason")).await {
        Ok(_) => back(),
        Err(e) => {
            let a = Again::one(&format!("leave-{id}"), message_of(&e), f.get("reason"));
            refused(&state, &req, &user, e, a).await
        }
    }
}

async fn enter_declaration(
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
        let person = one_person(&state, &user, &f.get("person"), "person").await?;
        declarations::enter_for(
            &state,
            &user.principal,
            person,
            NewDeclaration {
                item: f.get("item"),
                on_date: f.get("on_date"),
                description: f.get("description"),
                photo: None,
                form_key: Some(f.get("form_id")).filter(|k| !k.is_empty()),
            },
        )
        .await
    };
    match run.await {
        Ok(_) => back(),
        Err(e) => {
            let mut a = Again::default();
            for k in ["person", "item", "on_date", "description"] {
                a.form.insert(format!("ed_{k}"), f.get(k));
            }
            let field = e.errors.first().map_or("item", |x| match x.field.as_str() {
                "person" | "person_id" => "person",
                "on_date" => "on_date",
                "description" => "description",
                _ => "item",
            });
            a.errors.insert(format!("ed_{field}"), message_of(&e));
            refused(&state, &req, &user, e, a).await
        }
    }
}

async fn answer_declaration(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(r) = refuse_cross_site(&req) {
        return r;
    }
    if let Some(r) = may_review(&req, &user) {
        return r;
    }
    let f = Fields::parse(&body);
    let id = *path;
    let approve = f.get("answer") == "approve";
    match declarations::decide(
        &state,
        &user.principal,
        id,
        approve,
        &f.get("reason"),
        |k| f.get(k),
    )
    .await
    {
        Ok(_) => back(),
        Err(e) => {
            let field = e
                .errors
                .first()
                .map(|x| x.field.clone())
                .unwrap_or_default();
            let mut a = Again::default();
            a.form.insert(format!("decl-{id}"), f.get("reason"));
            for (k, v) in f.pairs() {
                if k.starts_with("f_") {
                    a.form.insert(format!("decl-{id}-{k}"), v.clone());
                }
            }
            let key = if field.starts_with("f_") {
                format!("decl-{id}-{field}")
            } else {
                format!("decl-{id}")
            };
            a.errors.insert(key, message_of(&e));
            refused(&state, &req, &user, e, a).await
        }
    }
}

async fn answer_proposal(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(r) = refuse_cross_site(&req) {
        return r;
    }
    if let Some(r) = may_review(&req, &user) {
        return r;
    }
    let f = Fields::parse(&body);
    let id = *path;
    let confirm = f.get("answer") == "confirm";
    match proposals::decide(&state, &user.principal, id, confirm, &f.get("reason")).await {
        Ok(_) => back(),
        Err(e) => {
            let a = Again::one(&format!("prop-{id}"), message_of(&e), f.get("reason"));
            refused(&state, &req, &user, e, a).await
        }
    }
}

/// A declaration's photo, for staff whose scope covers the declaration.
async fn photo(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
) -> HttpResponse {
    let run = async {
        let d = entity::declaration::Entity::find()
            .filter(entity::declaration::Column::UploadId.eq(*path))
            .one(&state.db)
            .await?
            .ok_or_else(|| AppError::not_found("没有找到该照片"))?;
        declarations::scoped(&state, &user.principal, Perm::ScoresRead, d.id).await?;
        crate::uploads::find(&state.db, *path).await
    };
    match run.await {
        Ok(u) => crate::uploads::respond(&u),
        Err(e) => error(&req, &user, &hide(e)),
    }
}
