//! The member's declarations page (`/m/declarations`, SD-2): declare a contribution
//! (an item the policy lets members declare, a date, a description, an optional
//! photo through the upload store), follow the answer, withdraw before review. The
//! rules live in `cycle::declarations`.

use std::collections::HashMap;

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use minijinja::Value;

use super::member::{person_of, see_other};
use super::{MEMBER_CSP, error_page, notice, render, same_origin};
use crate::cycle::declarations::{self, DeclState, NewDeclaration};
use crate::error::{AppError, ErrorCode};
use crate::ledger::inputs::year_of;
use crate::state::AppState;
use crate::wechat::MemberSession;

pub const TEMPLATES: [(&str, &str); 1] = [(
    "declarations.html",
    include_str!("../../templates/web/declarations.html"),
)];

/// Text fields are short; anything longer is junk.
const MAX_FIELD_BYTES: usize = 16 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/m/declarations")
            .route(web::get().to(show))
            .route(web::post().to(declare)),
    )
    .service(
        web::resource("/m/declarations/{id}/withdraw")
            .route(web::post().to(withdraw))
            .route(web::get().to(back)),
    )
    .route("/m/declarations/photos/{upload_id}", web::get().to(photo));
}

async fn back() -> HttpResponse {
    see_other("/m/declarations")
}

fn cross_site() -> HttpResponse {
    notice(
        StatusCode::FORBIDDEN,
        "无法提交",
        "请从公众号页面提交。",
        Some("/m/declarations"),
    )
}

#[derive(Default)]
struct Typed {
    item: String,
    on_date: String,
    description: String,
}

async fn page(
    state: &AppState,
    person: &entity::person::Model,
    status: StatusCode,
    typed: Typed,
    error: Option<(String, &'static str)>,
) -> Result<HttpResponse, AppError> {
    let org = crate::org::service::find(&state.db, crate::ids::OrgId(person.org_id)).await?;
    let tz = crate::ledger::inputs::tz_of(&org);
    let now = state.clock.now();
    let policy = declarations::policy_of(state, person, year_of(now, tz)).await?;
    let items: Vec<Value> = policy
        .declarable_items()
        .into_iter()
        .map(|d| minijinja::context! { code => d.code, label => d.label, rule => d.rule })
        .collect();
    let rows: Vec<Value> = declarations::list_for_member(&state.db, person.id)
        .await?
        .into_iter()
        .map(|d| {
            let st = declarations::state_of(&d);
            minijinja::context! {
                id => d.id,
                label => declarations::item_label(&policy, &d.item),
                date => d.on_date.format("%Y年%-m月%-d日").to_string(),
                description => d.description.chars().take(80).collect::<String>(),
                photo => d.upload_id,
                state => st.label(),
                open => st == DeclState::Submitted,
                answer => d.decision_reason.clone(),
            }
        })
        .collect();
    let (error, error_field) = match error {
        Some((m, f)) => (Some(m), f),
        None => (None, ""),
    };
    let on_date = if typed.on_date.is_empty() {
        now.with_timezone(&tz).date_naive().to_string()
    } else {
        typed.on_date
    };
    Ok(render(
        status,
        "declarations.html",
        MEMBER_CSP,
        minijinja::context! {
            title => "申报",
            items => items,
            rows => rows,
            item => typed.item,
            on_date => on_date,
            description => typed.description,
            error => error,
            error_field => error_field,
            max_mb => state.settings.uploads.max_bytes / (1024 * 1024),
            form_id => crate::console::new_form_id(),
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
    page(&state, &person, StatusCode::OK, Typed::default(), None)
        .await
        .unwrap_or_else(|e| error_page(&e, Some("/m/")))
}

/// Text fields and the photo of a multipart form, each capped.
struct Parts {
    text: HashMap<String, String>,
    photo: Option<Vec<u8>>,
    photo_too_large: bool,
}

async fn read_parts(mut payload: Multipart, max_photo: usize) -> Result<Parts, AppError> {
    let mut parts = Parts {
        text: HashMap::new(),
        photo: None,
        photo_too_large: false,
    };
    let bad = || AppError::bad_request("表单无法读取，请重新提交");
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|_| bad())?;
        let name = field.name().unwrap_or_default().to_owned();
        let cap = if name == "photo" {
            max_photo
        } else {
            MAX_FIELD_BYTES
        };
        let mut buf: Vec<u8> = Vec::new();
        let mut over = false;
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|_| bad())?;
            if buf.len() + chunk.len() > cap {
                over = true;
                continue;
            }
            buf.extend_from_slice(&chunk);
        }
        match name.as_str() {
            "photo" if over => parts.photo_too_large = true,
            "photo" if !buf.is_empty() => parts.photo = Some(buf),
            "photo" => {}
            _ if over => return Err(AppError::field(name, "内容过长")),
            _ => {
                parts
                    .text
                    .insert(name, String::from_utf8_lossy(&buf).into_owned());
            }
        }
    }
    Ok(parts)
}

fn field_of(e: &AppError) -> &'static str {
    match e.errors.first().map(|f| f.field.as_str()) {
        Some("item") => "item",
        Some("on_date") => "on_date",
        Some("description") => "description",
        Some("photo") => "photo",
        _ => "",
    }
}

async fn declare(
    state: web::Data<AppState>,
    session: MemberSession,
    req: HttpRequest,
    payload: Multipart,
) -> HttpResponse {
    if !same_origin(&req) {
        return cross_site();
    }
    let person = match person_of(&state, &session, &req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let settings = &state.settings.uploads;
    let parts = match read_parts(payload, settings.max_bytes).await {
        Ok(p) => p,
        Err(e) => {
            return page(
                &state,
                &person,
                e.code.status(),
                Typed::default(),
                Some((e.detail, "")),
            )
            .await
            .unwrap_or_else(|e| error_page(&e, Some("/m/declarations")));
        }
    };
    let get = |k: &str| parts.text.get(k).cloned().unwrap_or_default();
    let typed = || Typed {
        item: get("item"),
        on_date: get("on_date"),
        description: get("description"),
    };
    let photo = if parts.photo_too_large {
        Err(AppError::new(
            ErrorCode::PayloadTooLarge,
            format!("照片不能超过 {} MB", settings.max_bytes / (1024 * 1024)),
        ))
    } else {
        parts
            .photo
            .as_deref()
            .map(|b| crate::uploads::clean_image(b, settings))
            .transpose()
    };
    let photo = match photo {
        Ok(p) => p,
        Err(e) => {
            return page(
                &state,
                &person,
                e.code.status(),
                typed(),
                Some((e.detail, "photo")),
            )
            .await
            .unwrap_or_else(|e| error_page(&e, Some("/m/declarations")));
        }
    };
    let ip = crate::http::client_ip(&req, &state.trusted_proxies);
    let input = NewDeclaration {
        item: get("item").trim().to_owned(),
        on_date: get("on_date"),
        description: get("description"),
        photo,
        form_key: Some(get("form_id")).filter(|k| !k.is_empty()),
    };
    match declarations::submit(
        &state,
        &person,
        input,
        &crate::audit::Actor::member(person.id, ip),
    )
    .await
    {
        Ok(_) => see_other("/m/declarations"),
        Err(e) if e.code.status().is_client_error() => {
            let field = field_of(&e);
            let msg = e
                .errors
                .first()
                .map_or(e.detail.clone(), |f| f.message.clone());
            page(
                &state,
                &person,
                e.code.status(),
                typed(),
                Some((msg, field)),
            )
            .await
            .unwrap_or_else(|e| error_page(&e, Some("/m/declarations")))
        }
        Err(e) => error_page(&e, Some("/m/declarations")),
    }
}

async fn withdraw(
    state: web::Data<AppState>,
    session: MemberSession,
    req: HttpRequest,
    path: web::Path<i64>,
) -> HttpResponse {
    if !same_origin(&req) {
        return cross_site();
    }
    let person = match person_of(&state, &session, &req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let ip = crate::http::client_ip(&req, &state.trusted_proxies);
    match declarations::withdraw(&state, &person, *path, ip).await {
        Ok(_) => see_other("/m/declarations"),
        Err(e) if e.code.status().is_client_error() && e.code != ErrorCode::NotFound => page(
            &state,
            &person,
            e.code.status(),
            Typed::default(),
            Some((e.detail, "")),
        )
        .await
        .unwrap_or_else(|e| error_page(&e, Some("/m/declarations"))),
        Err(e) => error_page(&e, Some("/m/declarations")),
    }
}

async fn photo(
    state: web::Data<AppState>,
    session: MemberSession,
    req: HttpRequest,
    path: web::Path<i64>,
) -> HttpResponse {
    let person = match person_of(&state, &session, &req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    match declarations::upload_for_member(&state.db, person.id, *path).await {
        Ok(u) => crate::uploads::respond(&u),
        Err(e) => error_page(&e, Some("/m/declarations")),
    }
}
