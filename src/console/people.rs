//! 人员 / 党员: search by name or 编号 with filters in the URL and server-side paging,
//! masked phones, one person's history and exemptions, and the audited 查看联系方式 (a
//! POST: every read of a full number is written to the audit log). The change forms on
//! the person's page (transfer, role, status, 免评) are `admin::changes`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::{Value, context};
use serde::Deserialize;

use super::{ConsoleUser, error, hide, page, refuse_cross_site};
use crate::auth::Perm;
use crate::error::AppError;
use crate::ids::PersonId;
use crate::org::people::{self, PeopleQuery};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/people", web::get().to(list))
        .route("/console/people/{id}", web::get().to(show))
        .route("/console/people/{id}/contact", web::post().to(contact));
}

#[derive(Deserialize)]
struct ListQuery {
    q: Option<String>,
    org: Option<i64>,
    status: Option<String>,
    after: Option<i64>,
}

async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    q: web::Query<ListQuery>,
) -> HttpResponse {
    let run = async {
        let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => Some(
                crate::org::PersonStatus::parse(s)
                    .ok_or_else(|| AppError::field("status", "状态筛选不正确"))?,
            ),
            None => None,
        };
        let result = people::list(
            &state.db,
            &user.principal,
            PeopleQuery {
                org_id: q.org,
                role: None,
                status,
                q: q.q.clone(),
                after: q.after,
                limit: Some(50),
            },
        )
        .await
        .map_err(hide)?;
        let orgs = super::secretary::scope_orgs(&state, &user.principal).await?;
        let org_name = |id: i64| {
            orgs.iter()
                .find(|o| o.id == id)
                .map(|o| o.name.clone())
                .unwrap_or_default()
        };
        let items: Vec<Value> = result
            .items
            .iter()
            .map(|p| {
                context! {
                    id => p.id.0, name => p.name.clone(), external_id => p.external_id.clone(),
                    phone => p.phone_masked.clone(), org => org_name(p.org_id.0),
                    role => p.role_label, status => p.status_label, bound => p.wechat_bound,
                }
            })
            .collect();
        let mut keep: Vec<(&str, String)> = Vec::new();
        if let Some(v) = q.q.as_deref().filter(|v| !v.is_empty()) {
            keep.push(("q", v.to_owned()));
        }
        if let Some(v) = q.org {
            keep.push(("org", v.to_string()));
        }
        if let Some(v) = q.status.as_deref().filter(|v| !v.is_empty()) {
            keep.push(("status", v.to_owned()));
        }
        let next = result.next.map(|n| {
            let mut qs = keep.clone();
            qs.push(("after", n.to_string()));
            serde_urlencoded::to_string(qs).unwrap_or_default()
        });
        Ok::<_, AppError>(page(
            &req,
            &user,
            StatusCode::OK,
            "console/people.html",
            context! {
                title => if user.principal.role == crate::auth::Role::Secretary { "党员" } else { "人员" },
                items => items,
                form => context! { q => q.q.clone(), org => q.org, status => q.status.clone() },
                orgs => orgs.iter().map(|o| context! { id => o.id, name => o.name.clone() }).collect::<Vec<_>>(),
                next => next,
                can_card => user.can(Perm::ActivityWrite),
            },
        ))
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}

/// One person's page; `extra` carries a change form's errors, what was typed, a
/// confirmation waiting, or what was done (`admin::changes`).
pub async fn person_page(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    id: i64,
    phone: Option<String>,
    status: StatusCode,
    extra: Value,
) -> Result<HttpResponse, AppError> {
    let p = people::get(&state.db, &user.principal, PersonId(id))
        .await
        .map_err(hide)?;
    let history = people::history(&state.db, &user.principal, PersonId(id)).await?;
    let org = crate::org::service::find(&state.db, p.org_id).await?;
    let exemptions = people::list_exemptions(&state.db, &user.principal, PersonId(id)).await?;
    let org_names = crate::ledger::inputs::org_map(&state.db).await?;
    let forms = super::admin::changes::forms(state, user, &org).await?;
    Ok(page(
        req,
        user,
        status,
        "console/person.html",
        context! {
            exemptions => exemptions.iter().map(|e| context! {
                action => if e.action == "grant" { "免评" } else { "撤销免评" },
                year => e.year.map_or_else(|| "长期".to_owned(), |y| format!("{y}年度")),
                reason => e.reason.clone(), approver => e.approver.clone(),
                on => e.approved_on.format("%Y年%-m月%-d日").to_string(),
            }).collect::<Vec<_>>(),
            title => p.name.clone(),
            person => context! {
                id => id, name => p.name.clone(), external_id => p.external_id.clone(),
                phone => p.phone_masked.clone(), org => org.name.clone(),
                role => p.role_label, status => p.status_label, bound => p.wechat_bound,
            },
            full_phone => phone,
            can_contact => user.can(Perm::PersonalRead),
            can_card => user.principal.require_in(Perm::ActivityWrite, &org.path).is_ok(),
            history => history.iter().map(|h| context! {
                kind => match h.kind.as_str() {
                    "role" => "类别变更", "transfer" => "组织关系转接", "status" => "状态变更",
                    "openid_bind" => "绑定微信", "openid_unbind" => "解绑微信", _ => "变更",
                },
                from => h.from_value.as_deref().map(|v| readable(&h.kind, v, &org_names)),
                to => h.to_value.as_deref().map(|v| readable(&h.kind, v, &org_names)),
                on => h.effective_on.format("%Y年%-m月%-d日").to_string(),
                reason => h.reason.clone(),
            }).collect::<Vec<_>>(),
            ..context! { ..extra, ..forms }
        },
    ))
}

/// A history value as people read it: a role or status label, an organization's name.
fn readable(
    kind: &str,
    value: &str,
    orgs: &std::collections::HashMap<i64, entity::organization::Model>,
) -> String {
    let label = match kind {
        "role" => crate::org::PersonRole::parse(value).map(|r| r.label().to_owned()),
        "status" => crate::org::PersonStatus::parse(value).map(|s| s.label().to_owned()),
        "transfer" => value
            .parse::<i64>()
            .ok()
            .and_then(|id| orgs.get(&id))
            .map(|o| o.name.clone()),
        _ => None,
    };
    label.unwrap_or_else(|| value.to_owned())
}

#[derive(Deserialize)]
struct ShowQuery {
    done: Option<String>,
}

async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    q: web::Query<ShowQuery>,
) -> HttpResponse {
    let done = super::admin::changes::done_text(q.done.as_deref());
    person_page(
        &state,
        &req,
        &user,
        *path,
        None,
        StatusCode::OK,
        context! { done => done },
    )
    .await
    .unwrap_or_else(|e| error(&req, &user, &e))
}

async fn contact(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
) -> HttpResponse {
    if let Some(r) = refuse_cross_site(&req) {
        return r;
    }
    let run = async {
        let c = people::contact(&state.db, &user.principal, PersonId(*path))
            .await
            .map_err(hide)?;
        person_page(
            &state,
            &req,
            &user,
            *path,
            Some(c.phone.unwrap_or_else(|| "未登记".to_owned())),
            StatusCode::OK,
            context! {},
        )
        .await
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}
