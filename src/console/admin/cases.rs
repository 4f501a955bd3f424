//! 争议与更正: the dispute queue, the case beside the member's reason and photo, accept
//! with a correction or reject with a written reason, through `cases::service`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::{Value, context};
use serde::Deserialize;

use crate::cases::service::{self as cases, InboxQuery, Remedy};
use crate::console::session::see_other;
use crate::console::{
    ConsoleUser, Fields, Posted, error, hide, input_time, page, parse_input_time, when,
};
use crate::error::{AppError, AppResult};
use crate::ids::OrgId;
use crate::ledger::inputs::tz_of;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/disputes", web::get().to(queue))
        .route("/console/disputes/{id}", web::get().to(case_page))
        .route("/console/disputes/{id}/accept", web::post().to(accept))
        .route("/console/disputes/{id}/reject", web::post().to(reject));
}

#[derive(Deserialize)]
struct QueueQuery {
    view: Option<String>,
    before: Option<i64>,
}

async fn queue(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    q: web::Query<QueueQuery>,
) -> HttpResponse {
    let run = async {
        let view = match q.view.as_deref() {
            Some("all") => "all",
            _ => "waiting",
        };
        let inbox = cases::list_inbox(
            &state,
            &user.principal,
            InboxQuery {
                view: Some(view.to_owned()),
                state: None,
                before: q.before,
                limit: Some(50),
            },
        )
        .await?;
        let tz = chrono_tz::Asia::Shanghai;
        let items: Vec<Value> = inbox
            .items
            .iter()
            .map(|c| {
                context! {
                    id => c.id, name => c.person_name.clone(), state => c.state_label,
                    reason => c.reason.clone(), when => when(c.filed_at, tz),
                    deadline => when(c.deadline, tz), overdue => c.overdue,
                }
            })
            .collect();
        Ok::<_, AppError>(page(
            &req,
            &user,
            StatusCode::OK,
            "console/disputes.html",
            context! { title => "争议与更正", items => items, view => view, next => inbox.next },
        ))
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}

async fn case_page_with(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    id: i64,
    status: StatusCode,
    errors: Value,
    values: Value,
) -> AppResult<HttpResponse> {
    let c = cases::get(state, &user.principal, id).await.map_err(hide)?;
    let org = crate::org::service::find(&state.db, OrgId(c.org_id)).await?;
    let tz = tz_of(&org);
    let activity = match c.activity_id {
        Some(a) => Some(crate::checkin::attendance::activity(&state.db, a).await?),
        None => None,
    };
    // A missing or refused check-in is most often "I was there at …": start + 10 min offered.
    let suggested_at = activity
        .as_ref()
        .map(|a| input_time(a.starts_at + chrono::Duration::minutes(10), tz));
    Ok(page(
        req,
        user,
        status,
        "console/dispute.html",
        context! {
            title => format!("异议 #{}", c.id),
            case => context! {
                id => c.id, name => c.person_name.clone(), state => c.state_label,
                target => c.target_label.clone(), reason => c.reason.clone(),
                current => c.current.clone(), org => c.org_name.clone(),
                filed => when(c.filed_at, tz), deadline => when(c.deadline, tz),
                outcome => c.outcome.clone(), attachments => c.attachments.clone(),
                activity => activity.as_ref().map(|a| context! { id => a.id, title => a.title.clone(), when => when(a.starts_at, tz) }),
                messages => c.messages.iter().map(|m| context! {
                    author => m.author.clone(), body => m.body.clone(), when => when(m.at, tz), action => m.action.clone(),
                }).collect::<Vec<_>>(),
            },
            allowed => context! {
                accept => c.allowed.accept, correct => c.allowed.correct,
                propose => c.allowed.propose, reject => c.allowed.reject,
            },
            suggested_at => suggested_at,
            errors => errors,
            form => values,
            // Staff may comment in any state (console::secretary::todo).
            can_comment => user.can(crate::auth::Perm::ScoresWrite),
            comment_form_id => crate::console::new_form_id(),
        },
    ))
}

async fn case_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
) -> HttpResponse {
    case_page_with(
        &state,
        &req,
        &user,
        *path,
        StatusCode::OK,
        context! {},
        context! {},
    )
    .await
    .unwrap_or_else(|e| error(&req, &user, &e))
}

/// The remedy the form asks for: (remedy, field error).
fn remedy_of(f: &Fields, tz: chrono_tz::Tz) -> Result<Remedy, (&'static str, &'static str)> {
    let at = || {
        parse_input_time(&f.get("at"), tz)
            .map(|t| t.fixed_offset())
            .ok_or(("at", "请填写签到时间"))
    };
    match f.get("remedy").as_str() {
        "backfill" => Ok(Remedy::Backfill),
        "add" => Ok(Remedy::Add { at: at()? }),
        "reclassify" => Ok(Remedy::Reclassify { at: at()? }),
        "annul" => Ok(Remedy::Annul),
        _ => Err(("remedy", "请选择采纳方式")),
    }
}

async fn accept(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    Posted(f): Posted,
) -> HttpResponse {
    let id = *path;
    let run = async {
        let c = cases::get(&state, &user.principal, id)
            .await
            .map_err(hide)?;
        let org = crate::org::service::find(&state.db, OrgId(c.org_id)).await?;
        let field_error = |field: &'static str, msg: String| {
            case_page_with(
                &state,
                &req,
                &user,
                id,
                StatusCode::BAD_REQUEST,
                Value::from(std::collections::BTreeMap::from([(field, msg)])),
                f.values(),
            )
        };
        let remedy = match remedy_of(&f, tz_of(&org)) {
            Ok(r) => r,
            Err((field, msg)) => return field_error(field, msg.to_owned()).await,
        };
        let note = Some(f.get("note")).filter(|n| !n.is_empty());
        match cases::accept(&state, &user.principal, id, Some(remedy), note).await {
            Ok(_) => Ok(see_other(&format!("/console/disputes/{id}?done=accepted"))),
            Err(e) if e.code.status().is_client_error() => {
                let msg = e
                    .errors
                    .first()
                    .map_or(e.detail.clone(), |x| x.message.clone());
                field_error("remedy", msg).await
            }
            Err(e) => Err(e),
        }
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}

async fn reject(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    Posted(f): Posted,
) -> HttpResponse {
    let id = *path;
    let run = async {
        match cases::reject(&state, &user.principal, id, &f.get("reason")).await {
            Ok(_) => Ok(see_other(&format!("/console/disputes/{id}?done=rejected"))),
            Err(e) if e.code.status().is_client_error() && !e.errors.is_empty() => {
                case_page_with(
                    &state,
                    &req,
                    &user,
                    id,
                    StatusCode::BAD_REQUEST,
                    Value::from(std::collections::BTreeMap::from([(
                        "reason",
                        e.errors[0].message.clone(),
                    )])),
                    f.values(),
                )
                .await
            }
            Err(e) => Err(hide(e)),
        }
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}
