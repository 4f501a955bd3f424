//! 手工签到 (at the activity) and 补签 (afterwards): one person, with a required reason,
//! through the check-in service; a refused form comes back on the scene.

use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::Value;

use super::live::live_page;
use crate::auth::Perm;
use crate::checkin::manual::{self, EntryMethod, NewEntries};
use crate::checkin::routes::scoped_activity;
use crate::console::session::see_other;
use crate::console::{ConsoleUser, form_post, hide};
use crate::state::AppState;

/// 手工签到 (at the activity) or 补签 (afterwards), one person, with a reason.
pub(super) async fn enter(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let (state, req, user) = (&state, &req, &user);
    form_post(req, user, &body, |f| async move {
        let a = scoped_activity(state, &user.principal, Perm::ActivityWrite, *path)
            .await
            .map_err(hide)?;
        let mut errors = std::collections::BTreeMap::new();
        let person: Option<i64> = f.get("person_id").parse().ok();
        if person.is_none() {
            errors.insert("person_id", "请选择要签到的人".to_owned());
        }
        let method = match f.get("method").as_str() {
            "manual" => Some(EntryMethod::Manual),
            "backfill" => Some(EntryMethod::Backfill),
            _ => {
                errors.insert("method", "请选择手工签到或补签".to_owned());
                None
            }
        };
        let reason = f.get("reason");
        if reason.is_empty() {
            errors.insert("reason", "请填写原因（如：无智能手机）".to_owned());
        }
        let (Some(person), Some(method), true) = (person, method, errors.is_empty()) else {
            return live_page(
                state,
                req,
                user,
                a.id,
                None,
                Some((f.values(), Value::from(errors))),
            )
            .await;
        };
        let input = NewEntries {
            person_ids: vec![person],
            method,
            reason,
        };
        match manual::enter(state, &user.principal, &a, input).await {
            Ok(results) => {
                let result = results
                    .first()
                    .map_or("recorded", |r| r.result.as_str())
                    .to_owned();
                Ok(see_other(&format!(
                    "/console/activities/{}/live?entered={result}",
                    a.id
                )))
            }
            Err(e) if e.code.status().is_client_error() && !e.errors.is_empty() => {
                let msg = e.errors[0].message.clone();
                let field = if e.errors[0].field == "reason" {
                    "reason"
                } else {
                    "method"
                };
                live_page(
                    state,
                    req,
                    user,
                    a.id,
                    None,
                    Some((
                        f.values(),
                        Value::from(std::collections::BTreeMap::from([(field, msg)])),
                    )),
                )
                .await
            }
            Err(e) => Err(e),
        }
    })
    .await
}
