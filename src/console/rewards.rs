//! 积分超市 in the console: the counter (兑换, phone first: type the member's code, see
//! who and what, confirm) and the catalogue (items with a price in points and a value
//! in yuan, retired with a reason). Both call `rewards`, as the API does.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::{Value, context};

use crate::auth::Perm;
use crate::console::session::see_other;
use crate::console::{
    ConsoleUser, Posted, field_errors, first_submit, hide, new_form_id, page, respond,
};
use crate::error::{AppError, AppResult};
use crate::ids::OrgId;
use crate::policy::{fmt_dec, parse_dec};
use crate::rewards::{catalogue, codes};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/redeem", web::get().to(counter))
        .route("/console/redeem", web::post().to(counter_post))
        .route("/console/rewards", web::get().to(items))
        .route("/console/rewards/items", web::post().to(add))
        .route("/console/rewards/items/{id}/retire", web::post().to(retire))
        .route("/console/rewards/expiry", web::post().to(expiry));
}

fn counter_page(
    req: &HttpRequest,
    user: &ConsoleUser,
    status: StatusCode,
    ctx: Value,
) -> HttpResponse {
    // The console's policy plus the camera reader's (as on the card pages).
    let mut resp = page(req, user, status, "console/redeem.html", ctx);
    resp.headers_mut().insert(
        actix_web::http::header::CONTENT_SECURITY_POLICY,
        actix_web::http::header::HeaderValue::from_static(crate::console::card::CARD_CSP),
    );
    resp
}

async fn counter(req: HttpRequest, user: ConsoleUser) -> HttpResponse {
    respond(&req, &user, async {
        user.principal.require(Perm::RewardsRedeem)?;
        Ok(counter_page(
            &req,
            &user,
            StatusCode::OK,
            context! { title => "积分兑换", minutes => codes::CODE_MINUTES },
        ))
    })
    .await
}

/// Without `confirm`: the code's check (who, what, value). With it: the redemption.
async fn counter_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    Posted(f): Posted,
) -> HttpResponse {
    respond(&req, &user, async {
        user.principal.require(Perm::RewardsRedeem)?;
        let code = f.get("code");
        let refused = |e: AppError| {
            counter_page(
                &req,
                &user,
                e.code.status(),
                context! {
                    title => "积分兑换", minutes => codes::CODE_MINUTES,
                    form => context! { code => code.clone() },
                    errors => field_errors([("code", format!("{}：{}", e.code.title(), e.detail))]),
                },
            )
        };
        if f.get("confirm").is_empty() {
            return Ok(match codes::preview(&state, &user.principal, &code).await {
                Ok(p) => counter_page(
                    &req,
                    &user,
                    StatusCode::OK,
                    context! {
                        title => "确认兑换", minutes => codes::CODE_MINUTES,
                        preview => context! {
                            code => code.clone(), member => p.member, item => p.item,
                            points => fmt_dec(p.points.0), yuan => fmt_dec(p.yuan.0),
                        },
                    },
                ),
                Err(e) if e.code.status().is_client_error() => refused(e),
                Err(e) => return Err(e),
            });
        }
        Ok(match codes::redeem(&state, &user.principal, &code).await {
            Ok(r) => counter_page(
                &req,
                &user,
                StatusCode::OK,
                context! {
                    title => "兑换完成", minutes => codes::CODE_MINUTES,
                    done => context! {
                        member => r.member, item => r.item, points => fmt_dec(r.points.0),
                        yuan => fmt_dec(r.yuan.0), year => r.year, balance => fmt_dec(r.balance.0),
                    },
                },
            ),
            Err(e) if e.code.status().is_client_error() => refused(e),
            Err(e) => return Err(e),
        })
    })
    .await
}

#[derive(serde::Deserialize)]
struct OrgQuery {
    org: Option<i64>,
}

/// The organization whose catalogue is shown: `?org=`, else the user's own.
async fn chosen_org(
    state: &AppState,
    user: &ConsoleUser,
    org: Option<i64>,
) -> AppResult<entity::organization::Model> {
    let id = org
        .or(user.principal.org_id.map(|o| o.0))
        .ok_or_else(|| AppError::not_found("请选择组织"))?;
    crate::org::service::scoped(&state.db, &user.principal, Perm::ScoresRead, OrgId(id))
        .await
        .map_err(hide)
}

async fn items_page(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    org: &entity::organization::Model,
    status: StatusCode,
    form: Value,
    errors: Value,
) -> AppResult<HttpResponse> {
    let tz = crate::ledger::inputs::tz_of(org);
    let can_write = user
        .principal
        .require_in(Perm::RewardsCatalogue, &org.path)
        .is_ok();
    let rows: Vec<Value> = catalogue::of_org(&state.db, org.id, true)
        .await?
        .iter()
        .map(|m| {
            let i = catalogue::Item::from(m);
            context! {
                id => i.id, name => i.name, points => fmt_dec(i.points.0), yuan => fmt_dec(i.yuan.0),
                retired => m.retired_at.map(|t| crate::console::when(t, tz)),
                reason => i.retire_reason,
            }
        })
        .collect();
    let policy = crate::ledger::inputs::policy_for(
        &state.db,
        &state.scoring,
        &org.path,
        crate::ledger::inputs::year_of(state.clock.now(), tz),
    )
    .await?;
    let rule = policy.rewards.as_ref().map(|r| {
        context! {
            min => fmt_dec(r.min_score), yuan => r.yuan_per_point.map(fmt_dec), rule => r.rule.clone(),
        }
    });
    let expiry = crate::rewards::expiry_years(&state.db, &org.path).await?;
    let can_set_expiry = user.principal.require_in(Perm::OrgWrite, &org.path).is_ok();
    Ok(page(
        req,
        user,
        status,
        "console/rewards.html",
        context! {
            title => format!("积分超市 · {}", org.name),
            org => context! { id => org.id, name => org.name.clone() },
            items => rows, can_write => can_write, rule => rule, expiry => expiry,
            can_set_expiry => can_set_expiry,
            form => form, errors => errors, form_id => new_form_id(),
        },
    ))
}

async fn items(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    query: web::Query<OrgQuery>,
) -> HttpResponse {
    respond(&req, &user, async {
        if query.org.is_none() && user.principal.org_id.is_none() {
            // An installation-wide admin picks the organization first.
            user.principal.require(Perm::ScoresRead)?;
            let orgs = crate::console::secretary::scope_orgs(&state, &user.principal).await?;
            let pick: Vec<Value> = orgs
                .iter()
                .map(|o| context! { id => o.id, name => o.name.clone() })
                .collect();
            return Ok(page(
                &req,
                &user,
                StatusCode::OK,
                "console/rewards.html",
                context! { title => "积分超市", pick => pick },
            ));
        }
        let org = chosen_org(&state, &user, query.org).await?;
        items_page(
            &state,
            &req,
            &user,
            &org,
            StatusCode::OK,
            context! {},
            context! {},
        )
        .await
    })
    .await
}

async fn add(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    Posted(f): Posted,
) -> HttpResponse {
    respond(&req, &user, async {
        let org_id = f.get("org").parse::<i64>().ok();
        let org = chosen_org(&state, &user, org_id).await?;
        user.principal
            .require_in(Perm::RewardsCatalogue, &org.path)
            .map_err(hide)?;
        let input = catalogue::NewItem {
            name: f.get("name"),
            points: parse_dec(&f.get("points")),
            yuan: parse_dec(&f.get("yuan")),
        };
        if let Err(e) = catalogue::check(&input) {
            let errors = field_errors(
                e.errors
                    .iter()
                    .map(|x| (x.field.as_str(), x.message.clone())),
            );
            return items_page(
                &state,
                &req,
                &user,
                &org,
                StatusCode::BAD_REQUEST,
                f.values(),
                errors,
            )
            .await;
        }
        if first_submit(&state, &f.get("form_id")).await {
            catalogue::add(
                &state.db,
                &user.principal.actor(),
                &org,
                &input,
                state.clock.now(),
            )
            .await?;
        }
        Ok(see_other(&format!("/console/rewards?org={}", org.id)))
    })
    .await
}

async fn retire(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    Posted(f): Posted,
) -> HttpResponse {
    respond(&req, &user, async {
        let item = crate::rewards::routes::scoped_item(&state, &user.principal, *path)
            .await
            .map_err(hide)?;
        let org = crate::org::service::find(&state.db, OrgId(item.org_id)).await?;
        match catalogue::retire(
            &state.db,
            &user.principal.actor(),
            &item,
            &f.get("reason"),
            state.clock.now(),
        )
        .await
        {
            Ok(_) => Ok(see_other(&format!("/console/rewards?org={}", org.id))),
            Err(e) if e.code.status().is_client_error() => {
                let errors = field_errors([("retire", crate::console::message_of(&e))]);
                items_page(
                    &state,
                    &req,
                    &user,
                    &org,
                    e.code.status(),
                    context! {},
                    errors,
                )
                .await
            }
            Err(e) => Err(e),
        }
    })
    .await
}

/// The organization's expiry of balances in years (empty: never), with a reason.
async fn expiry(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    Posted(f): Posted,
) -> HttpResponse {
    respond(&req, &user, async {
        let org_id = f.get("org").parse::<i64>().ok();
        let org = chosen_org(&state, &user, org_id).await?;
        user.principal
            .require_in(Perm::OrgWrite, &org.path)
            .map_err(hide)?;
        let again = |field: &'static str, msg: String| {
            items_page(
                &state,
                &req,
                &user,
                &org,
                StatusCode::BAD_REQUEST,
                f.values(),
                field_errors([(field, msg)]),
            )
        };
        let years = match f.get("expiry_years").as_str() {
            "" => None,
            t => match t.parse::<i32>() {
                Ok(n) => Some(n),
                Err(_) => return again("expiry_years", "有效期应为整数（年）".to_owned()).await,
            },
        };
        match crate::rewards::set_expiry(
            &state.db,
            &user.principal.actor(),
            &org,
            years,
            &f.get("reason"),
            state.clock.now(),
        )
        .await
        {
            Ok(_) => Ok(see_other(&format!("/console/rewards?org={}", org.id))),
            Err(e) if !e.errors.is_empty() => {
                let field = if e.errors[0].field == "reason" {
                    "reason"
                } else {
                    "expiry_years"
                };
                again(field, crate::console::message_of(&e)).await
            }
            Err(e) => Err(e),
        }
    })
    .await
}
