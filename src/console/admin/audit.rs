//! 审计日志: who, what, when, subject, with before/after; filters live in the URL.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::{Value, context};
use serde::Deserialize;

use crate::auth::Perm;
use crate::console::{ConsoleUser, error, page};
use crate::error::AppError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/audit", web::get().to(audit_log));
}

#[derive(Deserialize)]
struct AuditQuery {
    /// Who: the account id (as the audit log records it).
    actor: Option<String>,
    /// What: the action, e.g. `accept_case`.
    action: Option<String>,
    /// Subject: the entity kind and id.
    entity: Option<String>,
    entity_id: Option<String>,
    /// When: a day (YYYY-MM-DD, Asia/Shanghai) or a range.
    from: Option<String>,
    to: Option<String>,
    before: Option<i64>,
}

fn day_start(s: &str, tz: chrono_tz::Tz) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()?
        .and_hms_opt(0, 0, 0)?
        .and_local_timezone(tz)
        .earliest()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// 审计日志: who, what, when, subject, with before/after; filters live in the URL.
async fn audit_log(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    q: web::Query<AuditQuery>,
) -> HttpResponse {
    let run = async {
        user.principal.require(Perm::AuditRead)?;
        let tz = chrono_tz::Asia::Shanghai;
        let nonempty = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let actor_id = match nonempty(&q.actor) {
            Some(a) => Some(
                a.parse::<i64>()
                    .map_err(|_| AppError::field("actor", "操作人应填写账号编号（数字）"))?,
            ),
            None => None,
        };
        let from = nonempty(&q.from).and_then(|d| day_start(&d, tz));
        let to = nonempty(&q.to)
            .and_then(|d| day_start(&d, tz))
            .map(|t| t + chrono::Duration::days(1));
        let rows = crate::audit::list_between(
            &state.db,
            user.principal.scope_path.as_deref(),
            crate::audit::Filter {
                entity: nonempty(&q.entity),
                entity_id: nonempty(&q.entity_id),
                action: nonempty(&q.action),
                actor_id,
                before_id: q.before,
                limit: 100,
            },
            from,
            to,
        )
        .await?;
        let next = (rows.len() == 100)
            .then(|| rows.last().map(|r| r.id))
            .flatten();
        let show =
            |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
        let items: Vec<Value> = rows
            .iter()
            .map(|r| {
                context! {
                    id => r.id, when => r.at.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string(),
                    who => format!("{}（{}{}）", r.actor_name, r.actor_kind, r.actor_id.map(|i| format!(" #{i}")).unwrap_or_default()),
                    ip => r.ip.clone(), action => r.action.clone(),
                    subject => format!("{} {}", r.entity, r.entity_id.clone().unwrap_or_default()),
                    before => show(&r.before), after => show(&r.after),
                }
            })
            .collect();
        let keep = |k: &str, v: &Option<String>| nonempty(v).map(|v| (k.to_owned(), v));
        let query: Vec<(String, String)> = [
            keep("actor", &q.actor),
            keep("action", &q.action),
            keep("entity", &q.entity),
            keep("entity_id", &q.entity_id),
            keep("from", &q.from),
            keep("to", &q.to),
        ]
        .into_iter()
        .flatten()
        .collect();
        Ok::<_, AppError>(page(
            &req,
            &user,
            StatusCode::OK,
            "console/audit.html",
            context! {
                title => "审计日志",
                items => items,
                form => context! {
                    actor => q.actor.clone(), action => q.action.clone(), entity => q.entity.clone(),
                    entity_id => q.entity_id.clone(), from => q.from.clone(), to => q.to.clone(),
                },
                next => next.map(|n| {
                    let mut qs = query.clone();
                    qs.push(("before".to_owned(), n.to_string()));
                    serde_urlencoded::to_string(qs).unwrap_or_default()
                }),
            },
        ))
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}
