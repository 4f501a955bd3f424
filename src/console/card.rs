//! Member cards in the console: one member's card (issue, print, revoke, reissue), the
//! printable A4 sheet of a branch's cards, and 持卡签到 at an open session (the typed
//! number, or the card's QR read by this phone's camera through the embedded
//! qr-scanner library, `/assets/card-scan.js`). Everything goes through
//! `checkin::card`, the service the API uses.

use std::collections::BTreeMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::{Value, context};
use serde::Deserialize;

use super::session::see_other;
use super::{
    ConsoleUser, Fields, error, first_submit, hide, new_form_id, page, refuse_cross_site, when,
};
use crate::auth::Perm;
use crate::checkin::card::{self, CardInput};
use crate::checkin::routes::scoped_activity;
use crate::checkin::{attendance, sessions};
use crate::error::{AppError, AppResult};
use crate::ids::{OrgId, PersonId};
use crate::ledger::inputs::tz_of;
use crate::state::AppState;

/// The console's policy, plus the scanner's worker (qr-scanner makes it from a blob URL).
pub const CARD_CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; worker-src 'self' blob:; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// People on one printed sheet page (8 cards to an A4 page).
const SHEET_PAGE: u64 = 200;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/cards", web::get().to(sheet))
        .route("/console/cards", web::post().to(issue_all))
        .route("/console/people/{id}/card", web::get().to(person_card))
        .route("/console/people/{id}/card", web::post().to(change))
        .route("/console/activities/{id}/cards", web::get().to(take_page))
        .route("/console/activities/{id}/cards", web::post().to(take));
}

/// A page that may load the camera scanner.
fn with_card_csp(mut resp: HttpResponse) -> HttpResponse {
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(CARD_CSP),
    );
    resp
}

/// What the printed card shows.
fn face(card: &entity::member_card::Model, name: &str, org: &str) -> AppResult<Value> {
    Ok(context! {
        name => name,
        org => org,
        number => card::display(&card.number),
        svg => Value::from_safe_string(card::svg(card)?),
    })
}

#[derive(Deserialize)]
struct SheetQuery {
    org: Option<i64>,
    after: Option<i64>,
}

/// The organization whose sheet to show: the one asked for (in scope), else the
/// user's own, else the first in scope.
async fn sheet_org(
    state: &AppState,
    user: &ConsoleUser,
    asked: Option<i64>,
) -> AppResult<entity::organization::Model> {
    let id = match asked.or(user.principal.org_id.map(|o| o.0)) {
        Some(id) => id,
        None => super::secretary::scope_orgs(state, &user.principal)
            .await?
            .first()
            .map(|o| o.id)
            .ok_or_else(|| AppError::not_found("没有可管理的组织"))?,
    };
    crate::org::service::scoped(&state.db, &user.principal, Perm::ActivityWrite, OrgId(id))
        .await
        .map_err(hide)
}

/// The printable sheet of an organization's cards, and who has none yet.
async fn sheet_page(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    q: &SheetQuery,
    done: Option<String>,
) -> AppResult<HttpResponse> {
    let org = sheet_org(state, user, q.org).await?;
    let people = card::members(&state.db, &org, q.after, SHEET_PAGE).await?;
    let mut cards = Vec::new();
    let mut missing = Vec::new();
    for (p, org_name) in &people {
        match card::active(&state.db, p.id).await? {
            Some(c) => cards.push(face(&c, &p.name, org_name)?),
            None => missing.push(context! { id => p.id, name => p.name.clone() }),
        }
    }
    let next = (people.len() as u64 == SHEET_PAGE)
        .then(|| people.last().map(|(p, _)| p.id))
        .flatten();
    let orgs = super::secretary::scope_orgs(state, &user.principal).await?;
    Ok(page(
        req,
        user,
        StatusCode::OK,
        "console/card_sheet.html",
        context! {
            title => format!("党员卡：{}", org.name),
            org => context! { id => org.id, name => org.name.clone() },
            orgs => orgs.iter().map(|o| context! { id => o.id, name => o.name.clone() }).collect::<Vec<_>>(),
            cards => cards,
            missing => missing,
            next => next,
            done => done,
            form_id => new_form_id(),
        },
    ))
}

async fn sheet(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    q: web::Query<SheetQuery>,
) -> HttpResponse {
    sheet_page(&state, &req, &user, &q, None)
        .await
        .map(with_card_csp)
        .unwrap_or_else(|e| error(&req, &user, &e))
}

/// 为未发卡的党员发卡: one card for each active member of the organization without one.
async fn issue_all(
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
        let org = sheet_org(&state, &user, f.get("org").parse().ok()).await?;
        let back = format!("/console/cards?org={}", org.id);
        if !first_submit(&state, &f.get("form_id")).await {
            return Ok(see_other(&back));
        }
        card::issue_missing(&state.db, &user.principal, &org, state.clock.now())
            .await
            .map_err(hide)?;
        Ok::<_, AppError>(see_other(&back))
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}

/// One member's card: the card itself, print, revoke and reissue, past cards.
async fn person_page(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    id: i64,
    done: Option<&str>,
    form: Option<(Value, Value)>,
) -> AppResult<HttpResponse> {
    let person = card::manageable(&state.db, &user.principal, PersonId(id))
        .await
        .map_err(hide)?;
    let org = crate::org::service::find(&state.db, OrgId(person.org_id)).await?;
    let tz = tz_of(&org);
    let all = card::history(&state.db, person.id).await?;
    let valid = all.iter().find(|c| c.revoked_at.is_none());
    let revoked: Vec<Value> = all
        .iter()
        .filter_map(|c| {
            c.revoked_at.map(|at| {
                context! {
                    number => card::display(&c.number),
                    reason => c.revoke_reason.clone(),
                    when => when(at, tz),
                }
            })
        })
        .collect();
    let status = if form.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let (values, errors) = form.unwrap_or_else(|| (context! {}, context! {}));
    Ok(page(
        req,
        user,
        status,
        "console/card_person.html",
        context! {
            title => format!("党员卡：{}", person.name),
            person => context! { id => person.id, name => person.name.clone(), org => org.name.clone(), org_id => org.id },
            card => valid.map(|c| face(c, &person.name, &org.name)).transpose()?,
            issued => valid.map(|c| when(c.issued_at, tz)),
            revoked => revoked,
            done => done,
            form => values,
            errors => errors,
            form_id => new_form_id(),
        },
    ))
}

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

async fn person_card(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    q: web::Query<DoneQuery>,
) -> HttpResponse {
    let done = match q.done.as_deref() {
        Some("issue") => Some("已发卡，可以打印了"),
        Some("reissue") => Some("已补发新卡；旧卡已作废，持旧卡签到将被拒绝"),
        Some("revoke") => Some("已作废这张党员卡"),
        _ => None,
    };
    person_page(&state, &req, &user, *path, done, None)
        .await
        .map(with_card_csp)
        .unwrap_or_else(|e| error(&req, &user, &e))
}

/// 发卡 / 作废并补发 / 只作废, with a required reason for the last two.
async fn change(
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
    let run = async {
        let person = card::manageable(&state.db, &user.principal, PersonId(id))
            .await
            .map_err(hide)?;
        let action = f.get("action");
        let back = format!("/console/people/{id}/card?done={action}");
        if !matches!(action.as_str(), "issue" | "reissue" | "revoke") {
            return Err(AppError::field("action", "请选择发卡、补发或作废"));
        }
        if !first_submit(&state, &f.get("form_id")).await {
            return Ok(see_other(&back));
        }
        let now = state.clock.now();
        let reason = f.get("reason");
        let done = match action.as_str() {
            "issue" => card::issue(&state.db, &user.principal, &person, now).await,
            "reissue" => card::reissue(&state.db, &user.principal, &person, &reason, now).await,
            _ => card::revoke(&state.db, &user.principal, &person, &reason, now).await,
        };
        match done {
            Ok(_) => Ok(see_other(&back)),
            Err(e) if !e.errors.is_empty() => {
                let errors: BTreeMap<String, String> = e
                    .errors
                    .iter()
                    .map(|fe| (fe.field.clone(), fe.message.clone()))
                    .collect();
                person_page(
                    &state,
                    &req,
                    &user,
                    id,
                    None,
                    Some((f.values(), Value::from(errors))),
                )
                .await
            }
            Err(e) => Err(e),
        }
    };
    run.await
        .map(with_card_csp)
        .unwrap_or_else(|e| error(&req, &user, &e))
}

/// What the check-in page shows besides the forms.
struct Outcome {
    status: StatusCode,
    result: Option<String>,
    refused: Option<String>,
    form: Value,
    errors: Value,
}

impl Outcome {
    fn blank() -> Self {
        Outcome {
            status: StatusCode::OK,
            result: None,
            refused: None,
            form: context! {},
            errors: context! {},
        }
    }
}

/// 持卡签到: the typed number and the camera, for the activity's open session.
async fn take_view(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    id: i64,
    o: Outcome,
) -> AppResult<HttpResponse> {
    let a = scoped_activity(state, &user.principal, Perm::ActivityWrite, id)
        .await
        .map_err(hide)?;
    let org = crate::org::service::find(&state.db, OrgId(a.org_id)).await?;
    let tz = tz_of(&org);
    let session = sessions::current_for_activity(&state.db, a.id).await?;
    let c = attendance::counts(state, a.id).await?;
    Ok(with_card_csp(page(
        req,
        user,
        o.status,
        "console/card_take.html",
        context! {
            title => format!("持卡签到：{}", a.title),
            activity => context! { id => a.id, title => a.title.clone(), when => when(a.starts_at, tz) },
            session => session.as_ref().filter(|s| s.closed_at.is_none()).map(|s| context! {
                id => s.id, closes => when(s.closes_at, tz),
            }),
            counts => context! { arrived => c.on_time + c.late + c.present, expected => c.expected },
            result => o.result,
            refused => o.refused,
            form => o.form,
            errors => o.errors,
        },
    )))
}

async fn take_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
) -> HttpResponse {
    take_view(&state, &req, &user, *path, Outcome::blank())
        .await
        .unwrap_or_else(|e| error(&req, &user, &e))
}

async fn take(
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
    let run = async {
        let a = scoped_activity(&state, &user.principal, Perm::ActivityWrite, id)
            .await
            .map_err(hide)?;
        let session = sessions::current_for_activity(&state.db, a.id)
            .await?
            .filter(|s| s.closed_at.is_none())
            .ok_or_else(|| AppError::conflict("签到未开始或已结束，不能持卡签到"))?;
        let (number, code) = (f.get("number"), f.get("code"));
        let input = if !code.is_empty() {
            CardInput::Code(code)
        } else {
            CardInput::Number(number)
        };
        let mut o = Outcome::blank();
        match card::take(&state, &user.principal, &session, input).await {
            Ok(t) => o.result = Some(t.message),
            Err(e) if !e.errors.is_empty() => {
                o.status = e.code.status();
                o.form = f.values();
                o.errors = Value::from(
                    e.errors
                        .iter()
                        .map(|fe| (fe.field.clone(), fe.message.clone()))
                        .collect::<BTreeMap<_, _>>(),
                );
            }
            Err(e) if e.code.status().is_client_error() => {
                o.status = e.code.status();
                o.form = f.values();
                o.refused = Some(e.detail);
            }
            Err(e) => return Err(e),
        }
        take_view(&state, &req, &user, id, o).await
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}
