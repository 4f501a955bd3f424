//! Publicity pages (公示): members of the publishing organization's subtree read the list
//! on `/m/publicity` (names masked the one way everywhere, `org::mask_name`), see the
//! corrections listed, dated, under it and object during the window; where the policy
//! names the public (SD-5 师生群众), `/p/publicity/{token}` shows the same list with a form
//! that needs no account: a name and a contact, rate-limited per source address,
//! same-origin, size-limited. The rules live in `review::publicity` and
//! `cases::objection`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::{Value, context};

use super::member::{person_of, see_other};
use super::{MEMBER_CSP, error_page, notice, render, same_origin};
use crate::cases::CaseState;
use crate::cases::objection::{self, NewObjection, Objector};
use crate::error::{AppError, ErrorCode};
use crate::ids::PublicityId;
use crate::ledger::inputs::tz_of;
use crate::org::mask_name;
use crate::review::publicity::{self as publicity, changes_of, label_of, rows_of, window_open};
use crate::state::AppState;
use crate::wechat::MemberSession;

pub const TEMPLATES: [(&str, &str); 2] = [
    (
        "publicity_list.html",
        include_str!("../../templates/web/publicity_list.html"),
    ),
    (
        "publicity_view.html",
        include_str!("../../templates/web/publicity_view.html"),
    ),
];

/// A public objection form body is a few short fields; anything bigger is refused.
const MAX_FORM_BYTES: usize = 8 * 1024;
/// Public objections per source address per hour.
const PUBLIC_PER_HOUR: i64 = 5;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/m/publicity", web::get().to(list))
        .route("/m/publicity/{id}", web::get().to(show))
        .route("/m/publicity/{id}/object", web::post().to(object))
        .route("/m/publicity/{id}/object", web::get().to(back))
        .route(
            "/m/publicity/{id}/objections/{case}/escalate",
            web::post().to(escalate),
        )
        .route("/p/publicity/{token}", web::get().to(public_show))
        .route("/p/publicity/{token}", web::post().to(public_object));
}

async fn back(path: web::Path<i64>) -> HttpResponse {
    see_other(&format!("/m/publicity/{}", *path))
}

fn when(t: chrono::DateTime<chrono::Utc>, tz: chrono_tz::Tz) -> String {
    crate::console::when(t, tz)
}

async fn list(
    state: web::Data<AppState>,
    session: MemberSession,
    req: HttpRequest,
) -> HttpResponse {
    let person = match person_of(&state, &session, &req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let rows = match publicity::list_for_member(&state.db, &person).await {
        Ok(r) => r,
        Err(e) => return error_page(&e, Some("/m/")),
    };
    let now = state.clock.now();
    let tz = chrono_tz::Asia::Shanghai;
    let items: Vec<Value> = rows
        .iter()
        .map(|p| {
            context! {
                id => p.id, label => label_of(p), version => p.version,
                open => window_open(p, now), confirmed => p.state == publicity::CONFIRMED,
                until => when(p.closes_at, tz),
            }
        })
        .collect();
    render(
        StatusCode::OK,
        "publicity_list.html",
        MEMBER_CSP,
        context! { title => "积分公示", items => items },
    )
}

/// What the page shows to members and the public alike: masked names, the corrections
/// dated under the list, what a new version changed.
async fn view_ctx(
    state: &AppState,
    p: &entity::publicity::Model,
    org: &entity::organization::Model,
) -> Result<Value, AppError> {
    let tz = tz_of(org);
    let rows: Vec<Value> = rows_of(p)
        .into_iter()
        .map(|r| context! { id => r.person_id, name => mask_name(&r.name), org => r.org_name, score => r.score, stars => r.stars, place => r.place })
        .collect();
    let corrections: Vec<Value> = publicity::corrections(&state.db, &state.scoring, p, org)
        .await?
        .into_iter()
        .map(|c| context! { when => when(c.at, tz), name => mask_name(&c.name), what => c.what, points => c.points })
        .collect();
    let changes: Vec<Value> = changes_of(p)
        .into_iter()
        .map(|c| context! { name => mask_name(&c.name), before => c.before, after => c.after })
        .collect();
    let now = state.clock.now();
    Ok(context! {
        org_name => org.name.clone(),
        label => label_of(p),
        version => p.version,
        ranked => p.ranked,
        rule => p.rule.clone(),
        opens => when(p.opens_at, tz),
        closes => when(p.closes_at, tz),
        open => window_open(p, now),
        confirmed => p.confirmed_at.map(|t| when(t, tz)),
        superseded => p.state == publicity::SUPERSEDED,
        rows => rows,
        corrections => corrections,
        changes => changes,
    })
}

#[allow(clippy::too_many_arguments)]
async fn member_page(
    state: &AppState,
    person: &entity::person::Model,
    id: i64,
    status: StatusCode,
    error: Option<String>,
    error_field: &str,
    typed: (Option<i64>, &str),
) -> HttpResponse {
    let back = Some("/m/publicity");
    let (p, org) = match publicity::for_member(&state.db, person, PublicityId(id)).await {
        Ok(x) => x,
        Err(e) => return error_page(&e, back),
    };
    let base = match view_ctx(state, &p, &org).await {
        Ok(v) => v,
        Err(e) => return error_page(&e, back),
    };
    let tz = tz_of(&org);
    let mine: Vec<Value> = match objection::for_member(&state.db, person.id, &[p.id]).await {
        Ok(list) => list
            .into_iter()
            .map(|o| {
                let st = CaseState::parse(&o.case.state).unwrap_or(CaseState::Open);
                context! { id => o.case.id, reason => o.case.reason, state => st.label(), outcome => o.case.outcome, deadline => when(o.case.deadline, tz), rejected => st == CaseState::Rejected }
            })
            .collect(),
        Err(e) => return error_page(&e, back),
    };
    render(
        status,
        "publicity_view.html",
        MEMBER_CSP,
        context! {
            title => format!("{}积分公示", label_of(&p)),
            action => format!("/m/publicity/{}/object", p.id),
            member => true,
            mine => mine,
            error => error,
            error_field => error_field,
            about => typed.0,
            reason => typed.1,
            ..base
        },
    )
}

async fn show(
    state: web::Data<AppState>,
    session: MemberSession,
    req: HttpRequest,
    path: web::Path<i64>,
) -> HttpResponse {
    let person = match person_of(&state, &session, &req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    member_page(&state, &person, *path, StatusCode::OK, None, "", (None, "")).await
}

fn field_of(e: &AppError) -> &'static str {
    match e.errors.first().map(|f| f.field.as_str()) {
        Some("about") => "about",
        Some("name") => "name",
        Some("contact") => "contact",
        _ => "reason",
    }
}

async fn object(
    state: web::Data<AppState>,
    session: MemberSession,
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    if !same_origin(&req) {
        return notice(
            StatusCode::FORBIDDEN,
            "无法提交",
            "请从公众号页面提交。",
            Some("/m/publicity"),
        );
    }
    let person = match person_of(&state, &session, &req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    if body.len() > MAX_FORM_BYTES {
        return member_page(
            &state,
            &person,
            *path,
            StatusCode::PAYLOAD_TOO_LARGE,
            Some("内容过长".to_owned()),
            "reason",
            (None, ""),
        )
        .await;
    }
    let f = crate::console::Fields::parse(&body);
    let about = f.get("about").parse::<i64>().ok();
    let reason = f.get("reason");
    let ip = crate::http::client_ip(&req, &state.trusted_proxies);
    let id = *path;
    let input = NewObjection {
        publicity: PublicityId(id),
        objector: Objector::Member(person.clone()),
        about,
        reason: reason.clone(),
        ip,
    };
    match objection::file(&state, input).await {
        Ok(_) => see_other(&format!("/m/publicity/{id}")),
        Err(e) if e.code == ErrorCode::NotFound => error_page(&e, Some("/m/publicity")),
        Err(e) if e.code.status().is_client_error() => {
            let msg = e
                .errors
                .first()
                .map_or(e.detail.clone(), |f| f.message.clone());
            member_page(
                &state,
                &person,
                id,
                e.code.status(),
                Some(msg),
                field_of(&e),
                (about, &reason),
            )
            .await
        }
        Err(e) => error_page(&e, Some("/m/publicity")),
    }
}

async fn escalate(
    state: web::Data<AppState>,
    session: MemberSession,
    req: HttpRequest,
    path: web::Path<(i64, i64)>,
) -> HttpResponse {
    if !same_origin(&req) {
        return notice(
            StatusCode::FORBIDDEN,
            "无法提交",
            "请从公众号页面提交。",
            Some("/m/publicity"),
        );
    }
    let person = match person_of(&state, &session, &req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let (id, case) = path.into_inner();
    let ip = crate::http::client_ip(&req, &state.trusted_proxies);
    match objection::escalate(&state, &person, crate::ids::CaseId(case), ip).await {
        Ok(_) => see_other(&format!("/m/publicity/{id}")),
        Err(e) if e.code == ErrorCode::NotFound => error_page(&e, Some("/m/publicity")),
        Err(e) if e.code.status().is_client_error() => {
            member_page(
                &state,
                &person,
                id,
                e.code.status(),
                Some(e.detail),
                "",
                (None, ""),
            )
            .await
        }
        Err(e) => error_page(&e, Some("/m/publicity")),
    }
}

#[allow(clippy::too_many_arguments)]
async fn public_page(
    state: &AppState,
    token: &str,
    status: StatusCode,
    error: Option<String>,
    error_field: &str,
    typed: (Option<i64>, &str, &str, &str),
    done: bool,
) -> HttpResponse {
    let (p, org) = match publicity::by_token(state, token).await {
        Ok(x) => x,
        Err(e) => return error_page(&e, None),
    };
    let base = match view_ctx(state, &p, &org).await {
        Ok(v) => v,
        Err(e) => return error_page(&e, None),
    };
    render(
        status,
        "publicity_view.html",
        MEMBER_CSP,
        context! {
            title => format!("{}积分公示", label_of(&p)),
            action => format!("/p/publicity/{token}"),
            member => false,
            done => done,
            error => error,
            error_field => error_field,
            about => typed.0,
            reason => typed.1,
            name => typed.2,
            contact => typed.3,
            ..base
        },
    )
}

#[derive(serde::Deserialize)]
struct Done {
    done: Option<String>,
}

async fn public_show(
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<Done>,
) -> HttpResponse {
    let done = q.done.is_some();
    public_page(
        &state,
        &path,
        StatusCode::OK,
        None,
        "",
        (None, "", "", ""),
        done,
    )
    .await
}

/// Counts a public objection from this address; false when over the hourly limit.
/// With the live store down the limit fails open (logged): the form's other checks hold.
async fn within_limit(state: &AppState, ip: Option<&str>) -> bool {
    let key = format!("publicity:objection:{}", ip.unwrap_or("unknown"));
    match state
        .live
        .incr(&key, 1, Some(std::time::Duration::from_secs(3600)))
        .await
    {
        Ok(n) => n <= PUBLIC_PER_HOUR,
        Err(e) => {
            tracing::warn!(error = %e, "public objection rate limit unavailable");
            true
        }
    }
}

async fn public_object(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let token = path.into_inner();
    if !same_origin(&req) {
        return notice(
            StatusCode::FORBIDDEN,
            "无法提交",
            "请从公示页面提交。",
            None,
        );
    }
    if body.len() > MAX_FORM_BYTES {
        return public_page(
            &state,
            &token,
            StatusCode::PAYLOAD_TOO_LARGE,
            Some("内容过长，请精简后再提交".to_owned()),
            "reason",
            (None, "", "", ""),
            false,
        )
        .await;
    }
    let f = crate::console::Fields::parse(&body);
    let about = f.get("about").parse::<i64>().ok();
    let (reason, name, contact) = (f.get("reason"), f.get("name"), f.get("contact"));
    let typed = (about, reason.as_str(), name.as_str(), contact.as_str());
    let ip = crate::http::client_ip(&req, &state.trusted_proxies);
    let p = match publicity::by_token(&state, &token).await {
        Ok((p, _)) => p,
        Err(e) => return error_page(&e, None),
    };
    if !within_limit(&state, ip.as_deref()).await {
        return public_page(
            &state,
            &token,
            StatusCode::TOO_MANY_REQUESTS,
            Some("提交过于频繁，请一小时后再试".to_owned()),
            "reason",
            typed,
            false,
        )
        .await;
    }
    let input = NewObjection {
        publicity: PublicityId(p.id),
        objector: Objector::Public {
            name: name.clone(),
            contact: contact.clone(),
        },
        about,
        reason: reason.clone(),
        ip,
    };
    match objection::file(&state, input).await {
        Ok(_) => see_other(&format!("/p/publicity/{token}?done=1")),
        Err(e) if e.code == ErrorCode::NotFound => error_page(&e, None),
        Err(e) if e.code.status().is_client_error() => {
            let msg = e
                .errors
                .first()
                .map_or(e.detail.clone(), |f| f.message.clone());
            public_page(
                &state,
                &token,
                e.code.status(),
                Some(msg),
                field_of(&e),
                typed,
                false,
            )
            .await
        }
        Err(e) => error_page(&e, None),
    }
}
