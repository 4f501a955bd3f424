//! A person's changes, on their page: transfer to another organization in scope, role
//! (类别) and status changes, 免评 (exemption) grants and revocations. Each needs a
//! reason, shows its consequence before it happens (a first post answers with a
//! confirmation, the confirmed post records), goes through `org::people` (history and
//! audit entry in one transaction) and re-derives the person's running year.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDate;
use minijinja::{Value, context};

use crate::auth::Perm;
use crate::console::people::person_page;
use crate::console::session::see_other;
use crate::console::{
    ConsoleUser, Fields, Posted, field_errors, first_submit, hide, message_of, new_form_id, respond,
};
use crate::error::AppResult;
use crate::ids::{OrgId, PersonId};
use crate::ledger::inputs::{self, tz_of};
use crate::org::people::{self, NewExemption, RoleChange, StatusChange, Transfer};
use crate::org::{PersonRole, PersonStatus};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/people/{id}/transfer", web::post().to(transfer))
        .route("/console/people/{id}/role", web::post().to(role))
        .route("/console/people/{id}/status", web::post().to(status))
        .route("/console/people/{id}/exemptions", web::post().to(exemption));
}

/// What the person page's change forms offer; nothing for a role that may not change people.
pub async fn forms(
    state: &AppState,
    user: &ConsoleUser,
    org: &entity::organization::Model,
) -> AppResult<Value> {
    if !user.can(Perm::PeopleWrite) {
        return Ok(context! { can_change => false });
    }
    let orgs = crate::console::secretary::scope_orgs(state, &user.principal).await?;
    let today = state.clock.now().with_timezone(&tz_of(org)).date_naive();
    Ok(context! {
        can_change => true,
        targets => orgs.iter().filter(|o| o.id != org.id)
            .map(|o| context! { id => o.id, name => o.name.clone() }).collect::<Vec<_>>(),
        roles => PersonRole::ALL.iter().map(|r| context! { value => r.as_str(), label => r.label() }).collect::<Vec<_>>(),
        statuses => [PersonStatus::Active, PersonStatus::TransferredOut, PersonStatus::Deceased, PersonStatus::Left]
            .iter().map(|s| context! { value => s.as_str(), label => s.label() }).collect::<Vec<_>>(),
        today => today.format("%Y-%m-%d").to_string(),
        this_year => chrono::Datelike::year(&today),
        form_id => new_form_id(),
    })
}

pub fn done_text(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "transfer" => "组织关系已转接。",
        "role" => "类别已变更。",
        "status" => "状态已变更。",
        "exemption" => "免评决定已记录。",
        _ => return None,
    })
}

/// A change as the form asks for it, checked: what it does in words, and the call.
enum Change {
    Transfer(Transfer),
    Role(RoleChange),
    Status(StatusChange),
    Exempt(NewExemption),
}

struct Checked {
    change: Change,
    /// What will happen, said before it happens.
    consequence: String,
}

type FieldProblem = (&'static str, String);

fn date(f: &Fields, name: &'static str, default: NaiveDate) -> Result<NaiveDate, FieldProblem> {
    match f.get(name).as_str() {
        "" => Ok(default),
        s => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| (name, "日期格式应为 2026-12-04".to_owned())),
    }
}

fn reason(f: &Fields) -> Result<String, FieldProblem> {
    let r = f.get("reason");
    if r.is_empty() {
        Err(("reason", "请填写原因".to_owned()))
    } else if r.chars().count() > 500 {
        Err(("reason", "原因不超过 500 字".to_owned()))
    } else {
        Ok(r)
    }
}

fn day(d: NaiveDate) -> String {
    d.format("%Y年%-m月%-d日").to_string()
}

/// Reads and checks one kind of change; the consequence names the people and rules.
async fn check(
    state: &AppState,
    user: &ConsoleUser,
    kind: &str,
    person: &entity::person::Model,
    org: &entity::organization::Model,
    f: &Fields,
) -> AppResult<Result<Checked, FieldProblem>> {
    /// A field's problem ends the check with that problem.
    macro_rules! field {
        ($e:expr) => {
            match $e {
                Ok(v) => v,
                Err(p) => return Ok(Err(p)),
            }
        };
    }
    let today = state.clock.now().with_timezone(&tz_of(org)).date_naive();
    let checked = match kind {
        "transfer" => {
            let Ok(to) = f.get("to_org_id").parse::<i64>() else {
                return Ok(Err(("to_org_id", "请选择转入组织".to_owned())));
            };
            let target = crate::org::service::scoped(
                &state.db,
                &user.principal,
                Perm::PeopleWrite,
                OrgId(to),
            )
            .await
            .map_err(hide)?;
            if target.id == org.id {
                return Ok(Err(("to_org_id", "已在该组织".to_owned())));
            }
            let on = field!(date(f, "effective_on", today));
            let why = field!(reason(f));
            let year = chrono::Datelike::year(&on);
            let policy = inputs::policy_choice(&state.db, &target.path, year)
                .await?
                .0;
            Checked {
                consequence: format!(
                    "{} 的组织关系将自{}起由“{}”转至“{}”：此后由“{}”管理，按其政策（{}）记分；此前已得的积分仍属本人，变更记录保留原组织。本年度积分随即重新计算。",
                    person.name,
                    day(on),
                    org.name,
                    target.name,
                    target.name,
                    policy
                ),
                change: Change::Transfer(Transfer {
                    to_org_id: OrgId(target.id),
                    effective_on: Some(on),
                    reason: Some(why),
                }),
            }
        }
        "role" => {
            let Some(new) = PersonRole::parse(&f.get("role")) else {
                return Ok(Err(("role", "请选择类别".to_owned())));
            };
            if new.as_str() == person.role {
                return Ok(Err(("role", "类别未变化".to_owned())));
            }
            let on = field!(date(f, "effective_on", today));
            let why = field!(reason(f));
            let old = PersonRole::parse(&person.role).map_or("", |r| r.label());
            let index = if new.is_party_member() {
                "先锋指数（党员）"
            } else {
                "申请人指数"
            };
            Checked {
                consequence: format!(
                    "{} 将自{}起由{}改为{}：此后按{}计分，此前的时段仍按{}计分。本年度积分随即重新计算。",
                    person.name,
                    day(on),
                    old,
                    new.label(),
                    index,
                    old
                ),
                change: Change::Role(RoleChange {
                    role: new,
                    effective_on: Some(on),
                    reason: Some(why),
                }),
            }
        }
        "status" => {
            let Some(new) = PersonStatus::parse(&f.get("status")) else {
                return Ok(Err(("status", "请选择状态".to_owned())));
            };
            if new.as_str() == person.status {
                return Ok(Err(("status", "状态未变化".to_owned())));
            }
            let on = field!(date(f, "effective_on", today));
            let why = field!(reason(f));
            let old = PersonStatus::parse(&person.status).map_or("", |s| s.label());
            let effect = if new == PersonStatus::Active {
                "此后可以签到，重新列入活动出勤和补学。"
            } else {
                "此后不能签到，不再列入活动出勤和补学；已得积分和记录保留。"
            };
            Checked {
                consequence: format!(
                    "{} 的状态将自{}起由“{}”改为“{}”：{}",
                    person.name,
                    day(on),
                    old,
                    new.label(),
                    effect
                ),
                change: Change::Status(StatusChange {
                    status: new,
                    effective_on: Some(on),
                    reason: why,
                }),
            }
        }
        _ => {
            let permanent = f.get("scope") == "permanent";
            let year = if permanent {
                None
            } else {
                match f.get("year").parse::<i32>() {
                    Ok(y) if (2000..=2100).contains(&y) => Some(y),
                    _ => return Ok(Err(("year", "请填写免评年度（如 2026）".to_owned()))),
                }
            };
            let why = field!(reason(f));
            let approver = f.get("approver");
            if approver.is_empty() {
                return Ok(Err(("approver", "请填写审批的上级组织".to_owned())));
            }
            let approved_on = field!(date(f, "approved_on", today));
            let revoke = f.get("revoke") == "1";
            let span = year.map_or_else(|| "长期".to_owned(), |y| format!("{y}年度"));
            Checked {
                consequence: if revoke {
                    format!(
                        "撤销 {} {}的免评：恢复计分、评星和排名，积分随即重新计算。",
                        person.name, span
                    )
                } else {
                    format!(
                        "{} {}免评：不计积分、不评星级、不参加排名（经{}审批）；已有记录保留，积分随即重新计算。",
                        person.name, span, approver
                    )
                },
                change: Change::Exempt(NewExemption {
                    year,
                    reason: why,
                    approver,
                    approved_on,
                    revoke,
                }),
            }
        }
    };
    Ok(Ok(checked))
}

/// One flow for the four changes: check → confirm → record → re-derive → back to the page.
async fn change(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    id: i64,
    kind: &'static str,
    f: &Fields,
) -> AppResult<HttpResponse> {
    // An auditor's post is refused as the API refuses it (403), before any lookup.
    user.principal.require(Perm::PeopleWrite)?;
    let person = people::scoped(&state.db, &user.principal, Perm::PeopleWrite, PersonId(id))
        .await
        .map_err(hide)?;
    let org = crate::org::service::find(&state.db, OrgId(person.org_id)).await?;
    let again =
        |status: StatusCode, extra: Value| person_page(state, req, user, id, None, status, extra);
    let confirmed = f.get("confirm") == "1";
    // A repeat of a confirmed post is told it was done (its check would now fail).
    if confirmed && !first_submit(state, &f.get("form_id")).await {
        return Ok(see_other(&format!("/console/people/{id}?done={kind}")));
    }
    let checked = match check(state, user, kind, &person, &org, f).await? {
        Ok(c) => c,
        Err((field, msg)) => {
            return again(
                StatusCode::BAD_REQUEST,
                context! { open => kind, form => f.values(), errors => field_errors([(field, msg)]) },
            )
            .await;
        }
    };
    if !confirmed {
        let hidden: Vec<Value> = f
            .pairs()
            .iter()
            .filter(|(k, _)| k != "confirm" && k != "form_id")
            .map(|(k, v)| context! { name => k.clone(), value => v.clone() })
            .collect();
        return again(
            StatusCode::OK,
            context! {
                open => kind, form => f.values(),
                confirm => context! {
                    action => format!("/console/people/{id}/{}", if kind == "exemption" { "exemptions" } else { kind }),
                    text => checked.consequence, hidden => hidden, form_id => f.get("form_id"),
                },
            },
        )
        .await;
    }
    let p = &user.principal;
    let mut also = None;
    let recorded = match checked.change {
        Change::Transfer(t) => people::transfer(&state.db, p, PersonId(id), t)
            .await
            .map(drop),
        Change::Role(r) => people::change_role(&state.db, p, PersonId(id), r)
            .await
            .map(drop),
        Change::Status(s) => people::change_status(&state.db, p, PersonId(id), s)
            .await
            .map(drop),
        Change::Exempt(e) => {
            also = e.year;
            people::add_exemption(&state.db, p, PersonId(id), e)
                .await
                .map(drop)
        }
    };
    match recorded {
        Ok(()) => {
            crate::org::routes::rescore(state, id, also).await?;
            Ok(see_other(&format!("/console/people/{id}?done={kind}")))
        }
        Err(e) if e.code.status().is_client_error() && !e.errors.is_empty() => {
            let field = match e.errors[0].field.as_str() {
                "to_org_id" => "to_org_id",
                "role" => "role",
                "status" => "status",
                "year" => "year",
                "approver" => "approver",
                _ => "reason",
            };
            again(
                StatusCode::BAD_REQUEST,
                context! { open => kind, form => f.values(), errors => field_errors([(field, message_of(&e))]) },
            )
            .await
        }
        Err(e) => Err(hide(e)),
    }
}

macro_rules! change_handler {
    ($name:ident, $kind:literal) => {
        async fn $name(
            state: web::Data<AppState>,
            req: HttpRequest,
            user: ConsoleUser,
            path: web::Path<i64>,
            Posted(f): Posted,
        ) -> HttpResponse {
            respond(&req, &user, change(&state, &req, &user, *path, $kind, &f)).await
        }
    };
}

change_handler!(transfer, "transfer");
change_handler!(role, "role");
change_handler!(status, "status");
change_handler!(exemption, "exemption");
