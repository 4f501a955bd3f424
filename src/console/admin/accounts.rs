//! 账号: staff accounts as the role allows (三员分立, `Principal::manages` and, for
//! password resets and ending logins, `Principal::resets`): admins see, create and
//! disable secretaries and recorders in their subtree; security admins every role they
//! manage, with resets (the new password shown once, to be changed at the next login)
//! and ending an account's logins; auditors read every account in scope.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::{Value, context};

use crate::auth::service::{self as accounts, AccountPatch, NewAccount};
use crate::auth::{Perm, Role};
use crate::console::session::see_other;
use crate::console::{
    ConsoleUser, Posted, field_errors, first_submit, hide, message_of, new_form_id, page, respond,
    when,
};
use crate::error::{AppError, AppResult};
use crate::ids::{AccountId, OrgId};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/accounts", web::get().to(list))
        .route("/console/accounts", web::post().to(create))
        .route("/console/accounts/{id}/state", web::post().to(set_state))
        .route("/console/accounts/{id}/reset", web::post().to(reset))
        .route(
            "/console/accounts/{id}/logins/end",
            web::post().to(end_logins),
        );
}

const ROLES: [Role; 6] = [
    Role::Admin,
    Role::Auditor,
    Role::SecurityAdmin,
    Role::Secretary,
    Role::Recorder,
    Role::Shop,
];

#[derive(serde::Deserialize)]
struct ListQuery {
    done: Option<String>,
}

struct Extra {
    status: StatusCode,
    values: Value,
    errors: Value,
    /// A password to show once (created or reset): (username, password).
    shown: Option<(String, String)>,
    done: Option<&'static str>,
}

impl Default for Extra {
    fn default() -> Self {
        Self {
            status: StatusCode::OK,
            values: context! {},
            errors: context! {},
            shown: None,
            done: None,
        }
    }
}

async fn list_page(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    extra: Extra,
) -> AppResult<HttpResponse> {
    let p = &user.principal;
    let rows = accounts::list_accounts(state, p).await?;
    let orgs = crate::console::secretary::scope_orgs(state, p).await?;
    let names: HashMap<i64, String> = orgs.iter().map(|o| (o.id, o.name.clone())).collect();
    let logins = accounts::open_logins(&state.db).await?;
    let tz = chrono_tz::Asia::Shanghai;
    let manage = user.can(Perm::AccountsManage);
    let items: Vec<Value> = rows
        .iter()
        .map(|a| {
            let mine = a.id == p.account_id;
            context! {
                id => a.id.0, username => a.username.clone(), name => a.display_name.clone(),
                role => a.role.label(),
                org => a.org_id.and_then(|o| names.get(&o.0).cloned()).unwrap_or_else(|| "全部".to_owned()),
                disabled => a.disabled, must_change => a.must_change_password,
                logins => logins.get(&a.id.0).copied().unwrap_or(0),
                created => when(a.created_at, tz),
                // One rule for buttons and the service: what the API would let through.
                can_disable => manage && p.manages(a.role) && !mine,
                can_reset => manage && p.resets(a.role) && !mine,
            }
        })
        .collect();
    let creatable: Vec<Value> = ROLES
        .iter()
        .filter(|r| manage && p.manages(**r))
        .map(|r| context! { value => r.as_str(), label => r.label() })
        .collect();
    Ok(page(
        req,
        user,
        extra.status,
        "console/accounts.html",
        context! {
            title => "账号",
            items => items,
            roles => creatable,
            orgs => orgs.iter().map(|o| context! { id => o.id, name => o.name.clone() }).collect::<Vec<_>>(),
            global => p.scope_path.is_none(),
            form => extra.values,
            errors => extra.errors,
            shown => extra.shown.map(|(u, pw)| context! { username => u, password => pw }),
            done => extra.done,
            form_id => new_form_id(),
        },
    ))
}

async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    q: web::Query<ListQuery>,
) -> HttpResponse {
    let done = match q.done.as_deref() {
        Some("disabled") => Some("账号已停用，其所有登录已结束。"),
        Some("enabled") => Some("账号已启用。"),
        Some("ended") => Some("该账号的所有登录已结束。"),
        _ => None,
    };
    respond(
        &req,
        &user,
        list_page(
            &state,
            &req,
            &user,
            Extra {
                done,
                ..Extra::default()
            },
        ),
    )
    .await
}

async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    Posted(f): Posted,
) -> HttpResponse {
    respond(&req, &user, async {
        user.principal.require(Perm::AccountsManage)?;
        let again = |field: &str, msg: String| {
            list_page(
                &state,
                &req,
                &user,
                Extra {
                    status: StatusCode::BAD_REQUEST,
                    values: f.values(),
                    errors: field_errors([(field, msg)]),
                    ..Extra::default()
                },
            )
        };
        let Some(role) = Role::parse(&f.get("role")).filter(|r| user.principal.manages(*r)) else {
            return again("role", "请选择账号类别".into()).await;
        };
        let org_id = match f.get("org_id").as_str() {
            "" => None,
            s => match s.parse::<i64>() {
                Ok(id) => Some(OrgId(id)),
                Err(_) => return again("org_id", "请选择所属组织".into()).await,
            },
        };
        if !first_submit(&state, &f.get("form_id")).await {
            return Err(AppError::conflict("该表单已提交，账号只创建一次"));
        }
        let name = f.get("display_name");
        match accounts::create_account(
            &state,
            &user.principal.actor(),
            Some(&user.principal),
            NewAccount {
                username: f.get("username"),
                display_name: (!name.is_empty()).then_some(name),
                password: None,
                role,
                org_id,
            },
        )
        .await
        {
            Ok(created) => {
                list_page(
                    &state,
                    &req,
                    &user,
                    Extra {
                        status: StatusCode::CREATED,
                        shown: created
                            .initial_password
                            .map(|pw| (created.account.username.clone(), pw)),
                        ..Extra::default()
                    },
                )
                .await
            }
            Err(e)
                if e.code.status().is_client_error()
                    && e.code != crate::error::ErrorCode::Forbidden =>
            {
                let field = match e.errors.first().map(|x| x.field.as_str()) {
                    Some("org_id") => "org_id",
                    _ => "username",
                };
                again(field, message_of(&e)).await
            }
            Err(e) => Err(hide(e)),
        }
    })
    .await
}

/// Disable (every login ends) or enable an account the user manages.
async fn set_state(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    Posted(f): Posted,
) -> HttpResponse {
    respond(&req, &user, async {
        user.principal.require(Perm::AccountsManage)?;
        let disabled = f.get("disabled") == "1";
        accounts::update_account(
            &state,
            &user.principal,
            AccountId(*path),
            AccountPatch {
                display_name: None,
                disabled: Some(disabled),
            },
        )
        .await
        .map_err(hide)?;
        Ok(see_other(if disabled {
            "/console/accounts?done=disabled"
        } else {
            "/console/accounts?done=enabled"
        }))
    })
    .await
}

/// A reset: the new password shown once; the account's logins end and it must change
/// the password at its next login.
async fn reset(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    _form: Posted,
) -> HttpResponse {
    respond(&req, &user, async {
        user.principal.require(Perm::AccountsManage)?;
        let id = AccountId(*path);
        let password =
            accounts::reset_password(&state, &user.principal.actor(), Some(&user.principal), id)
                .await
                .map_err(hide)?;
        let account = accounts::get_account(&state, &user.principal, id).await?;
        list_page(
            &state,
            &req,
            &user,
            Extra {
                shown: Some((account.username, password)),
                done: Some("密码已重置：该账号的所有登录已结束，下次登录时须修改密码。"),
                ..Extra::default()
            },
        )
        .await
    })
    .await
}

async fn end_logins(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    _form: Posted,
) -> HttpResponse {
    respond(&req, &user, async {
        user.principal.require(Perm::AccountsManage)?;
        accounts::end_logins(&state, &user.principal, AccountId(*path))
            .await
            .map_err(hide)?;
        Ok(see_other("/console/accounts?done=ended"))
    })
    .await
}
