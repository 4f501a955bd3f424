//! 党员: the branch's members with their WeChat binding; members not bound yet; scans
//! waiting for a binding (an openid on no roster). Unbinding and binding a waiting
//! scan's WeChat to a member (a rebind when the member had another) need a reason and
//! say first what happens to the scans (`checkin::members`).

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::{Value, context};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Deserialize;

use super::{page_tz, scope_orgs};
use crate::auth::Perm;
use crate::checkin::members::{WaitingScan, staff_bind, waiting_scans};
use crate::console::session::see_other;
use crate::console::{ConsoleUser, error, form_post, hide, page, when};
use crate::error::{AppError, AppResult};
use crate::ids::{OrgId, PersonId};
use crate::org::people::{self, PeopleQuery};
use crate::state::AppState;

/// An openid as staff see it: enough to tell two apart, not the whole identifier.
fn masked(openid: &str) -> String {
    let tail: String = openid
        .chars()
        .rev()
        .take(6)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("微信用户 …{tail}")
}

fn scan_row(w: &WaitingScan, tz: chrono_tz::Tz) -> Value {
    context! {
        activity => w.activity.as_ref().map(|a| a.title.clone()),
        when => when(w.scan.at, tz),
        would_count => w.would_count,
    }
}

#[derive(Deserialize)]
pub(super) struct ListQuery {
    q: Option<String>,
    after: Option<i64>,
    done: Option<String>,
    counted: Option<usize>,
}

pub(super) async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    q: web::Query<ListQuery>,
) -> HttpResponse {
    let run = async {
        user.principal.require(Perm::PeopleRead)?;
        let tz = page_tz(&state, &user).await?;
        let result = people::list(
            &state.db,
            &user.principal,
            PeopleQuery {
                org_id: None,
                role: None,
                status: None,
                q: q.q.clone().filter(|s| !s.is_empty()),
                after: q.after,
                limit: Some(50),
            },
        )
        .await
        .map_err(hide)?;
        let can_bind = user.can(Perm::BindingWrite);
        let items: Vec<Value> = result
            .items
            .iter()
            .map(|p| {
                context! {
                    id => p.id.0, name => p.name.clone(), external_id => p.external_id.clone(),
                    status => p.status_label, role => p.role_label, bound => p.wechat_bound,
                }
            })
            .collect();
        // Active members in scope with no WeChat yet (a branch holds a few hundred).
        let ids: Vec<i64> = scope_orgs(&state, &user.principal)
            .await?
            .iter()
            .map(|o| o.id)
            .collect();
        let unbound: Vec<Value> = entity::person::Entity::find()
            .filter(entity::person::Column::OrgId.is_in(ids))
            .filter(entity::person::Column::Openid.is_null())
            .filter(entity::person::Column::Status.eq("active"))
            .order_by_asc(entity::person::Column::Id)
            .limit(300)
            .all(&state.db)
            .await?
            .into_iter()
            .map(|p| context! { id => p.id, name => p.name })
            .collect();
        let waiting = waiting_scans(&state, &user.principal, None, 200).await?;
        let mut by_openid: BTreeMap<String, Vec<&WaitingScan>> = BTreeMap::new();
        for w in &waiting {
            by_openid.entry(w.scan.openid.clone()).or_default().push(w);
        }
        let waiting: Vec<Value> = by_openid
            .iter()
            .map(|(openid, scans)| {
                context! {
                    openid => openid.clone(), who => masked(openid), count => scans.len(),
                    scans => scans.iter().map(|w| scan_row(w, tz)).collect::<Vec<_>>(),
                }
            })
            .collect();
        let next = result.next.map(|n| {
            let mut qs: Vec<(&str, String)> = Vec::new();
            if let Some(v) = q.q.as_deref().filter(|v| !v.is_empty()) {
                qs.push(("q", v.to_owned()));
            }
            qs.push(("after", n.to_string()));
            serde_urlencoded::to_string(qs).unwrap_or_default()
        });
        let flash = match q.done.as_deref() {
            Some("unbound") => Some("已解绑。".to_owned()),
            Some("bound") => Some(format!(
                "已绑定；补计待处理扫码 {} 条。",
                q.counted.unwrap_or(0)
            )),
            _ => None,
        };
        Ok::<_, AppError>(page(
            &req,
            &user,
            StatusCode::OK,
            "console/members.html",
            context! {
                title => "党员",
                items => items, unbound => unbound, waiting => waiting,
                form => context! { q => q.q.clone() },
                next => next, can_bind => can_bind, flash => flash,
            },
        ))
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}

/// The member for a binding change, in scope (else 404).
async fn bindable(
    state: &AppState,
    user: &ConsoleUser,
    id: i64,
) -> AppResult<entity::person::Model> {
    people::scoped(&state.db, &user.principal, Perm::BindingWrite, PersonId(id))
        .await
        .map_err(hide)
}

async fn unbind_page(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    id: i64,
    form: Value,
    errors: Value,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    let p = bindable(state, user, id).await?;
    let org = crate::org::service::find(&state.db, OrgId(p.org_id)).await?;
    Ok(page(
        req,
        user,
        status,
        "console/unbind.html",
        context! {
            title => format!("解绑微信：{}", p.name),
            person => context! { id => p.id, name => p.name.clone(), org => org.name, bound => p.openid.is_some() },
            form => form, errors => errors,
        },
    ))
}

/// The consequences of unbinding, and the reason.
pub(super) async fn unbind_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
) -> HttpResponse {
    unbind_page(
        &state,
        &req,
        &user,
        *path,
        context! {},
        context! {},
        StatusCode::OK,
    )
    .await
    .unwrap_or_else(|e| error(&req, &user, &e))
}

pub(super) async fn unbind(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let (state, req, user) = (&state, &req, &user);
    form_post(req, user, &body, |f| async move {
        let p = bindable(state, user, *path).await?;
        let reason = f.get("reason");
        let refused = |msg: &str| context! { reason => msg };
        if reason.is_empty() {
            return unbind_page(
                state,
                req,
                user,
                p.id,
                f.values(),
                refused("请填写解绑原因（如：更换手机、微信号注销）"),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
        match people::unbind_openid(&state.db, &user.principal, PersonId(p.id), Some(reason)).await
        {
            Ok(_) => Ok(see_other("/console/members?done=unbound")),
            // Unbound meanwhile (a second click): nothing more to do.
            Err(e) if e.errors.iter().any(|x| x.field == "openid") => {
                Ok(see_other("/console/members?done=unbound"))
            }
            Err(e) => Err(hide(e)),
        }
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct BindQuery {
    openid: Option<String>,
}

async fn bind_page(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    openid: &str,
    form: Value,
    errors: Value,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    user.principal.require(Perm::BindingWrite)?;
    let tz = page_tz(state, user).await?;
    let scans = waiting_scans(state, &user.principal, Some(openid), 50).await?;
    if scans.is_empty() {
        return Err(AppError::not_found(
            "没有该微信的待处理扫码（可能已绑定或已处理）",
        ));
    }
    let ids: Vec<i64> = scope_orgs(state, &user.principal)
        .await?
        .iter()
        .map(|o| o.id)
        .collect();
    let members: Vec<Value> = entity::person::Entity::find()
        .filter(entity::person::Column::OrgId.is_in(ids))
        .filter(entity::person::Column::Status.eq("active"))
        .order_by_asc(entity::person::Column::Name)
        .limit(500)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|p| context! { id => p.id, name => p.name, bound => p.openid.is_some() })
        .collect();
    Ok(page(
        req,
        user,
        status,
        "console/bind.html",
        context! {
            title => "绑定待处理扫码",
            openid => openid, who => masked(openid),
            scans => scans.iter().map(|w| scan_row(w, tz)).collect::<Vec<_>>(),
            counting => scans.iter().filter(|w| w.would_count).count(),
            members => members, form => form, errors => errors,
        },
    ))
}

/// What binding this WeChat does to its waiting scans, the member, and the reason.
pub(super) async fn bind_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    q: web::Query<BindQuery>,
) -> HttpResponse {
    let openid = q.openid.clone().unwrap_or_default();
    bind_page(
        &state,
        &req,
        &user,
        &openid,
        context! {},
        context! {},
        StatusCode::OK,
    )
    .await
    .unwrap_or_else(|e| error(&req, &user, &e))
}

pub(super) async fn bind(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    body: web::Bytes,
) -> HttpResponse {
    let (state, req, user) = (&state, &req, &user);
    form_post(req, user, &body, |f| async move {
        let openid = f.get("openid");
        let again = |field: &str, msg: String| {
            let errors = Value::from(BTreeMap::from([(field.to_owned(), msg)]));
            bind_page(
                state,
                req,
                user,
                &openid,
                f.values(),
                errors,
                StatusCode::BAD_REQUEST,
            )
        };
        let Ok(person) = f.get("person_id").parse::<i64>() else {
            return again("person_id", "请选择党员".to_owned()).await;
        };
        if f.get("reason").is_empty() {
            return again(
                "reason",
                "请填写原因（如：更换手机、微信号变更）".to_owned(),
            )
            .await;
        }
        // Out of scope: 404 before anything else is said about the member.
        bindable(state, user, person).await?;
        match staff_bind(
            state,
            &user.principal,
            PersonId(person),
            &openid,
            &f.get("reason"),
        )
        .await
        {
            Ok((_, counted)) => Ok(see_other(&format!(
                "/console/members?done=bound&counted={counted}"
            ))),
            Err(e) if !e.errors.is_empty() => {
                let x = &e.errors[0];
                again(&x.field.clone(), x.message.clone()).await
            }
            Err(e) if e.code == crate::error::ErrorCode::Conflict => {
                again("person_id", e.detail.clone()).await
            }
            Err(e) => Err(hide(e)),
        }
    })
    .await
}
