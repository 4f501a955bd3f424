//! 待办: what waits for the secretary's answer. Disputes now (answered on the dispute
//! page); the review cycle adds its sections (leave requests, declarations, absence
//! proposals) to [`sections`]. Staff may open a dispute on a member's behalf and
//! comment on any dispute without reopening it (`cases::service`).

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::{Value, context};
use serde::Deserialize;

use crate::auth::Perm;
use crate::cases::Target;
use crate::cases::service::{self as cases, InboxQuery, NewDispute};
use crate::console::session::see_other;
use crate::console::{
    ConsoleUser, Fields, error, first_submit, form_post, hide, new_form_id, page,
    refuse_cross_site, when,
};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ids::PersonId;
use crate::state::AppState;

/// One kind of matter waiting for an answer: a heading, its rows, where to see all.
struct Section {
    id: &'static str,
    title: &'static str,
    rows: Vec<Value>,
    more: &'static str,
}

/// Every section of the page. Each kind of matter that waits for a secretary adds one
/// here (the review cycle: leave requests, declarations, absence proposals).
async fn sections(state: &AppState, user: &ConsoleUser) -> AppResult<Vec<Section>> {
    let mut out = Vec::new();
    if user.can(Perm::ScoresRead) {
        let inbox = cases::list_inbox(
            state,
            &user.principal,
            InboxQuery {
                view: Some("waiting".to_owned()),
                state: None,
                before: None,
                limit: Some(50),
            },
        )
        .await?;
        let tz = super::page_tz(state, user).await?;
        out.push(Section {
            id: "disputes",
            title: "异议",
            rows: inbox
                .items
                .iter()
                .map(|c| {
                    context! {
                        href => format!("/console/disputes/{}", c.id),
                        who => c.person_name.clone(),
                        text => c.reason.chars().take(60).collect::<String>(),
                        state => c.state_label,
                        due => when(c.deadline, tz),
                        overdue => c.overdue,
                    }
                })
                .collect(),
            more: "/console/disputes",
        });
    }
    Ok(out)
}

pub(super) async fn todo(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
) -> HttpResponse {
    let run = async {
        let sections = sections(&state, &user).await?;
        Ok::<_, AppError>(page(
            &req,
            &user,
            StatusCode::OK,
            "console/todo.html",
            context! {
                title => "待办",
                sections => sections.into_iter().map(|s| context! {
                    id => s.id, title => s.title, rows => s.rows, more => s.more,
                }).collect::<Vec<_>>(),
                can_file => user.can(Perm::ScoresWrite),
            },
        ))
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}

#[derive(Deserialize)]
pub(super) struct FileQuery {
    person: Option<i64>,
}

/// The form: a member in scope, then what the dispute is about (their recent
/// activities and this year's ledger lines, as the member's own form offers them).
async fn file_page(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    person: Option<i64>,
    form: Value,
    errors: Value,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    user.principal.require(Perm::ScoresWrite)?;
    let chosen = match person {
        Some(id) => Some(
            crate::org::people::scoped(&state.db, &user.principal, Perm::ScoresWrite, PersonId(id))
                .await
                .map_err(hide)?,
        ),
        None => None,
    };
    let (activities, lines) = match &chosen {
        Some(p) => crate::web::disputes::choices(state, p).await?,
        None => (Vec::new(), Vec::new()),
    };
    let members: Vec<Value> = match &chosen {
        Some(_) => Vec::new(),
        None => {
            let orgs = super::scope_orgs(state, &user.principal).await?;
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
            entity::person::Entity::find()
                .filter(entity::person::Column::OrgId.is_in(orgs.iter().map(|o| o.id)))
                .filter(entity::person::Column::Status.eq("active"))
                .order_by_asc(entity::person::Column::Name)
                .limit(500)
                .all(&state.db)
                .await?
                .into_iter()
                .map(|p| context! { id => p.id, name => p.name })
                .collect()
        }
    };
    Ok(page(
        req,
        user,
        status,
        "console/file_dispute.html",
        context! {
            title => "代党员提出异议",
            person => chosen.as_ref().map(|p| context! { id => p.id, name => p.name.clone() }),
            members => members, activities => activities, lines => lines,
            form => form, errors => errors, form_id => new_form_id(),
        },
    ))
}

pub(super) async fn file_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    q: web::Query<FileQuery>,
) -> HttpResponse {
    file_page(
        &state,
        &req,
        &user,
        q.person,
        context! {},
        context! {},
        StatusCode::OK,
    )
    .await
    .unwrap_or_else(|e| error(&req, &user, &e))
}

pub(super) async fn file(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    body: web::Bytes,
) -> HttpResponse {
    let (state, req, user) = (&state, &req, &user);
    form_post(req, user, &body, |f| async move {
        let Ok(person) = f.get("person_id").parse::<i64>() else {
            return Err(AppError::not_found("没有找到该党员，或不在您的管辖范围内"));
        };
        let again = |field: &str, msg: String| {
            file_page(
                state,
                req,
                user,
                Some(person),
                f.values(),
                Value::from(BTreeMap::from([(field.to_owned(), msg)])),
                StatusCode::BAD_REQUEST,
            )
        };
        let Some(target) = Target::parse(&f.get("target")) else {
            return again("target", "请选择异议针对的记录".to_owned()).await;
        };
        let reason = f.get("reason");
        if reason.is_empty() {
            return again("reason", "请写明异议的理由".to_owned()).await;
        }
        // Out of scope: 404, checked before the double-submit key is spent.
        crate::org::people::scoped(
            &state.db,
            &user.principal,
            Perm::ScoresWrite,
            PersonId(person),
        )
        .await
        .map_err(hide)?;
        if !first_submit(state, &f.get("form_id")).await {
            return Ok(see_other("/console/todo?filed=0"));
        }
        let input = NewDispute {
            target,
            reason,
            photo: None,
        };
        match cases::file_for_member(state, &user.principal, person, input).await {
            Ok(case) => Ok(see_other(&format!("/console/disputes/{}", case.id))),
            Err(e) if e.code == ErrorCode::DisputeOpen || e.code == ErrorCode::YearClosed => {
                again("target", e.detail.clone()).await
            }
            Err(e) if !e.errors.is_empty() => {
                let x = &e.errors[0];
                let field = if x.field == "reason" {
                    "reason"
                } else {
                    "target"
                };
                again(field, x.message.clone()).await
            }
            Err(e) => Err(hide(e)),
        }
    })
    .await
}

/// A comment on a dispute in scope, in any state; the case stays as it is.
pub(super) async fn comment(
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
    let text = f.get("body");
    if text.is_empty() {
        return crate::console::message(
            &req,
            &user,
            StatusCode::BAD_REQUEST,
            "留言未发送",
            "请填写留言内容后再发送。",
        );
    }
    let run = async {
        // Scope first (404), then the double-submit key.
        cases::get(&state, &user.principal, id)
            .await
            .map_err(hide)?;
        if first_submit(&state, &f.get("form_id")).await {
            cases::comment(&state, &user.principal, id, &text)
                .await
                .map_err(hide)?;
        }
        Ok::<_, AppError>(see_other(&format!("/console/disputes/{id}?done=commented")))
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}
