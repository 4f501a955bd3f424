//! The member's 积分超市 page (`/m/rewards`): the rewards balance per closed year (apart
//! from the score, which it never changes), the catalogue, a one-time code for an item
//! to show at the counter, and their redemptions. The rules live in `rewards`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::Value;

use super::member::{person_of, see_other};
use super::{MEMBER_CSP, error_page, notice, render, same_origin};
use crate::error::AppError;
use crate::ids::OrgId;
use crate::ledger::inputs::tz_of;
use crate::policy::fmt_dec;
use crate::rewards::{self, catalogue, codes};
use crate::state::AppState;
use crate::wechat::MemberSession;

pub const TEMPLATES: [(&str, &str); 1] = [(
    "rewards.html",
    include_str!("../../templates/web/rewards.html"),
)];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/m/rewards").route(web::get().to(show)))
        .service(
            web::resource("/m/rewards/code")
                .route(web::post().to(ask))
                .route(web::get().to(back)),
        );
}

async fn back() -> HttpResponse {
    see_other("/m/rewards")
}

async fn page(
    state: &AppState,
    person: &entity::person::Model,
    status: StatusCode,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let org = crate::org::service::find(&state.db, OrgId(person.org_id)).await?;
    let tz = tz_of(&org);
    let now = state.clock.now();
    crate::rewards::routes::credit_then(state, person, now).await?;
    let bal = rewards::balance(&state.db, person, now).await?;
    let local = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
    };
    let years: Vec<Value> = bal
        .years
        .iter()
        .map(|y| {
            minijinja::context! {
                year => y.year,
                credited => fmt_dec(y.credited.0),
                left => fmt_dec(y.left.0),
                yuan_left => y.yuan_left.map(|v| fmt_dec(v.0)),
                yuan_cap => y.yuan_cap.map(|v| fmt_dec(v.0)),
                expires => y.expires_at.map(local),
                expired => y.expired,
            }
        })
        .collect();
    let items: Vec<Value> = catalogue::offered(&state.db, &org.path)
        .await?
        .iter()
        .map(|i| {
            let i = catalogue::Item::from(i);
            minijinja::context! {
                id => i.id, name => i.name, points => fmt_dec(i.points.0), yuan => fmt_dec(i.yuan.0),
                affordable => i.points.0 <= bal.points.0,
            }
        })
        .collect();
    let mut live: Vec<Value> = Vec::new();
    for (c, item) in codes::live_codes(&state.db, person.id, now).await? {
        live.push(minijinja::context! {
            code => c.code.clone(), spaced => codes::spaced(&c.code), item => item.name,
            expires => local(c.expires_at),
            qr => Value::from_safe_string(codes::qr_svg(&c.code)?),
        });
    }
    let redemptions: Vec<Value> = bal
        .redemptions
        .iter()
        .map(|r| {
            minijinja::context! {
                item => r.item.clone(), points => fmt_dec(r.points.0), yuan => fmt_dec(r.yuan.0),
                year => r.year, at => local(r.at),
            }
        })
        .collect();
    Ok(render(
        status,
        "rewards.html",
        MEMBER_CSP,
        minijinja::context! {
            title => "积分超市",
            points => fmt_dec(bal.points.0),
            years => years,
            items => items,
            codes => live,
            minutes => codes::CODE_MINUTES,
            redemptions => redemptions,
            error => error,
        },
    ))
}

async fn show(
    state: web::Data<AppState>,
    session: MemberSession,
    req: HttpRequest,
) -> HttpResponse {
    let person = match person_of(&state, &session, &req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    page(&state, &person, StatusCode::OK, None)
        .await
        .unwrap_or_else(|e| error_page(&e, Some("/m/")))
}

#[derive(serde::Deserialize, Default)]
struct AskForm {
    #[serde(default)]
    item: String,
}

async fn ask(
    state: web::Data<AppState>,
    session: MemberSession,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if !same_origin(&req) {
        return notice(
            StatusCode::FORBIDDEN,
            "无法提交",
            "请从公众号页面提交。",
            Some("/m/rewards"),
        );
    }
    let person = match person_of(&state, &session, &req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let form: AskForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let Ok(item) = form.item.trim().parse::<i64>() else {
        return page(
            &state,
            &person,
            StatusCode::BAD_REQUEST,
            Some("请选择要兑换的物品".to_owned()),
        )
        .await
        .unwrap_or_else(|e| error_page(&e, Some("/m/rewards")));
    };
    let ip = crate::http::client_ip(&req, &state.trusted_proxies);
    match codes::issue(&state, &person, item, ip).await {
        Ok(_) => see_other("/m/rewards"),
        Err(e) if e.code.status().is_client_error() => {
            page(&state, &person, e.code.status(), Some(e.detail))
                .await
                .unwrap_or_else(|e| error_page(&e, Some("/m/rewards")))
        }
        Err(e) => error_page(&e, Some("/m/rewards")),
    }
}
