//! 组织: the organization tree (collapsible), and one organization's page: its policy
//! for a year with every documented reading of an unclear rule (`[[choice]]`), choosing
//! the policy (a confirmation first: the running year is re-derived), the fixed-day
//! rule (saved by the activity pages' form) and the settings.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::{Value, context};
use serde::Deserialize;

use crate::auth::Perm;
use crate::checkin::fixed_day;
use crate::console::session::see_other;
use crate::console::{
    ConsoleUser, Posted, field_errors, first_submit, hide, message_of, new_form_id, page, respond,
};
use crate::error::AppResult;
use crate::ids::OrgId;
use crate::ledger::inputs;
use crate::ledger::routes::{SetPolicy, choose_policy_as, current_year, valid_year};
use crate::org::OrgKind;
use crate::org::service::{self as orgs, OrgPatch};
use crate::policy::Policy;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/orgs", web::get().to(tree))
        .route("/console/orgs/{id}", web::get().to(show))
        .route("/console/orgs/{id}/policy", web::post().to(choose_policy))
        .route("/console/orgs/{id}/settings", web::post().to(settings));
}

/// Active people per organization (one grouped query).
async fn head_counts(state: &AppState) -> AppResult<HashMap<i64, i64>> {
    use entity::person::{Column, Entity};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
    let rows: Vec<(i64, i64)> = Entity::find()
        .select_only()
        .column(Column::OrgId)
        .column_as(Column::Id.count(), "n")
        .filter(Column::Status.eq("active"))
        .group_by(Column::OrgId)
        .into_tuple()
        .all(&state.db)
        .await?;
    Ok(rows.into_iter().collect())
}

/// The tree as nested nodes, in path order (a parent's path is a prefix of its children's).
fn nest(
    orgs: &[entity::organization::Model],
    counts: &HashMap<i64, i64>,
    policies: &HashMap<i64, String>,
) -> Vec<Value> {
    fn build(
        parent: Option<i64>,
        orgs: &[entity::organization::Model],
        ids: &std::collections::HashSet<i64>,
        counts: &HashMap<i64, i64>,
        policies: &HashMap<i64, String>,
    ) -> Vec<Value> {
        orgs.iter()
            // Roots of the visible tree: no parent, or a parent outside the scope.
            .filter(|o| match parent {
                Some(p) => o.parent_id == Some(p),
                None => o.parent_id.is_none_or(|p| !ids.contains(&p)),
            })
            .map(|o| {
                let children = build(Some(o.id), orgs, ids, counts, policies);
                let kind = OrgKind::parse(&o.kind).unwrap_or(OrgKind::Branch);
                context! {
                    id => o.id, name => o.name.clone(), code => o.code.clone(),
                    kind => kind.label(), people => counts.get(&o.id).copied().unwrap_or(0),
                    policy => policies.get(&o.id).cloned(),
                    children => children,
                }
            })
            .collect()
    }
    let ids = orgs.iter().map(|o| o.id).collect();
    build(None, orgs, &ids, counts, policies)
}

/// Every policy choice, oldest first (`inputs::choose_policy` picks the one in force).
pub async fn policy_rows(state: &AppState) -> AppResult<Vec<entity::org_policy::Model>> {
    use entity::org_policy::{Column, Entity};
    use sea_orm::{EntityTrait, QueryOrder};
    Ok(Entity::find()
        .order_by_asc(Column::Id)
        .all(&state.db)
        .await?)
}

async fn tree(state: web::Data<AppState>, req: HttpRequest, user: ConsoleUser) -> HttpResponse {
    respond(&req, &user, async {
        user.principal.require(Perm::OrgRead)?;
        let list = crate::console::secretary::scope_orgs(&state, &user.principal).await?;
        let counts = head_counts(&state).await?;
        // The policy each organization scores the running year with (one query).
        let choices = policy_rows(&state).await?;
        let policies: HashMap<i64, String> = list
            .iter()
            .map(|o| {
                let year = current_year(&state, o);
                (o.id, inputs::choose_policy(&choices, &o.path, year).0)
            })
            .collect();
        Ok(page(
            &req,
            &user,
            StatusCode::OK,
            "console/orgs.html",
            context! { title => "组织", tree => nest(&list, &counts, &policies), total => list.len() },
        ))
    })
    .await
}

#[derive(Deserialize)]
struct OrgQuery {
    year: Option<i32>,
    done: Option<String>,
}

/// A rule's name in a policy (the ID when the policy has no rule by that ID).
fn rule_name(p: &Policy, id: &str) -> String {
    p.rules
        .iter()
        .find(|r| &*r.id == id)
        .map(|r| r.label.clone())
        .or_else(|| {
            p.year_end
                .iter()
                .find(|r| &*r.id == id)
                .map(|r| r.label.clone())
        })
        .or_else(|| {
            p.groups
                .iter()
                .find(|r| &*r.id == id)
                .map(|r| r.label.clone())
        })
        .or_else(|| {
            p.indexes
                .iter()
                .filter_map(|i| i.floor.as_ref())
                .find(|f| &*f.rule == id)
                .map(|f| f.label.clone())
        })
        .unwrap_or_else(|| id.to_owned())
}

/// Every documented reading of an unclear rule: its name, what is unclear, the reading
/// chosen and the other readings.
pub fn choices_of(p: &Policy) -> Vec<Value> {
    p.choices
        .iter()
        .map(|c| {
            context! {
                rule => c.rule_id.clone(), name => rule_name(p, &c.rule_id),
                question => c.question.clone(), choice => c.choice.clone(),
                alternatives => c.alternatives.clone(),
            }
        })
        .collect()
}

/// How the page is shown: the year, what was just done, what was typed and each
/// field's problem, a confirmation waiting.
struct Form<'a> {
    year: Option<i32>,
    done: Option<&'a str>,
    status: StatusCode,
    values: Option<Value>,
    errors: Option<Value>,
    /// A policy chosen but not yet confirmed: what the confirmation says.
    confirm: Option<Value>,
}

async fn org_page(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    id: i64,
    form: Form<'_>,
) -> AppResult<HttpResponse> {
    let (year, done, status) = (form.year, form.done, form.status);
    let org = orgs::scoped(&state.db, &user.principal, Perm::OrgRead, OrgId(id))
        .await
        .map_err(hide)?;
    let year = valid_year(year.unwrap_or_else(|| current_year(state, &org)))?;
    let (name, source) = inputs::policy_choice(&state.db, &org.path, year).await?;
    let policy = inputs::resolve_policy(&state.scoring, &name, source.as_deref())?;
    let closed = crate::ledger::post::year_closed(&state.db, &org.path, year).await?;
    let own_choice = {
        use entity::org_policy::{Column, Entity};
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        Entity::find()
            .filter(Column::OrgId.eq(org.id))
            .filter(Column::Year.eq(year))
            .one(&state.db)
            .await?
            .is_some()
    };
    let parent = match org.parent_id {
        Some(p) => orgs::find(&state.db, OrgId(p))
            .await
            .ok()
            .filter(|p| user.principal.covers(&p.path)),
        None => None,
    };
    let children = orgs::list(&state.db, &user.principal, Some(OrgId(org.id))).await?;
    let rule = fixed_day::current(&state.db, org.id).await?;
    // Settings the platform proposed (members' own rank under a ranking policy).
    let proposals = crate::console::ranks::proposal_rows(state, &user.principal, &org).await?;
    let kind = OrgKind::parse(&org.kind).unwrap_or(OrgKind::Branch);
    let can = |perm: Perm| user.principal.require_in(perm, &org.path).is_ok();
    let installed: Vec<Value> = state
        .scoring
        .policies
        .names()
        .filter_map(|n| state.scoring.policies.get(n))
        .map(|p| context! { name => p.name.clone(), title => p.title.clone() })
        .collect();
    let done_text = match done {
        Some("policy") => Some("已更换政策，本年度积分已按新政策重新计算。"),
        Some("settings") => Some("设置已保存。"),
        _ => None,
    };
    Ok(page(
        req,
        user,
        status,
        "console/org.html",
        context! {
            title => org.name.clone(),
            org => context! {
                id => org.id, name => org.name.clone(), code => org.code.clone(), kind => kind.label(),
                timezone => org.timezone.clone(), show_rank => org.show_rank_to_members,
                branch => matches!(kind, OrgKind::Branch | OrgKind::GeneralBranch),
            },
            parent => parent.map(|p| context! { id => p.id, name => p.name }),
            children => children.iter().map(|c| context! { id => c.id.0, name => c.name.clone(), kind => c.kind_label }).collect::<Vec<_>>(),
            year => year,
            policy => context! {
                name => policy.name.clone(), title => policy.title.clone(), source => policy.source.clone(),
                customized => source.is_some(), own => own_choice, closed => closed,
                checkin => policy.checkin.rule.clone(),
                choices => choices_of(&policy),
            },
            installed => installed,
            rule => rule.as_ref().map(|r| context! {
                text => r.describe(), day => r.day_of_month, time => r.start.format("%H:%M").to_string(),
                duration => r.duration_minutes, place => r.place.clone(),
            }),
            can_policy => can(Perm::PolicyWrite) && !closed,
            can_rule => can(Perm::ActivityWrite) && matches!(kind, OrgKind::Branch | OrgKind::GeneralBranch),
            can_settings => can(Perm::OrgWrite),
            // A committee's choice cannot switch members' ranks on for its branches.
            done => done_text,
            // What was typed first, the organization's values for the other forms.
            form => context! {
                ..form.values.unwrap_or_else(|| context! {}),
                ..context! {
                    name => org.name.clone(), timezone => org.timezone.clone(),
                    show_rank => org.show_rank_to_members, policy => name.clone(), year => year,
                }
            },
            errors => form.errors.unwrap_or_else(|| context! {}),
            confirm => form.confirm,
            form_id => new_form_id(),
            proposals => proposals,
        },
    ))
}

async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    q: web::Query<OrgQuery>,
) -> HttpResponse {
    respond(
        &req,
        &user,
        org_page(
            &state,
            &req,
            &user,
            *path,
            Form {
                year: q.year,
                done: q.done.as_deref(),
                status: StatusCode::OK,
                values: None,
                errors: None,
                confirm: None,
            },
        ),
    )
    .await
}

/// People whose running year a policy change re-derives: the active people of the subtree.
async fn subtree_people(state: &AppState, org: &entity::organization::Model) -> AppResult<u64> {
    use entity::person::{Column, Entity};
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let ids = orgs::subtree_ids(&state.db, org).await?;
    let mut n = 0;
    for chunk in ids.chunks(500) {
        n += Entity::find()
            .filter(Column::OrgId.is_in(chunk.to_vec()))
            .count(&state.db)
            .await?;
    }
    Ok(n)
}

/// Choosing a policy: the first post shows what changes (the running year is
/// re-derived for the whole subtree, the readings of the new policy); the confirmed
/// post records it through the API's path, audited.
async fn choose_policy(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    Posted(f): Posted,
) -> HttpResponse {
    let id = *path;
    respond(&req, &user, async {
        user.principal.require(Perm::PolicyWrite)?;
        let org = orgs::scoped(&state.db, &user.principal, Perm::PolicyWrite, OrgId(id))
            .await
            .map_err(hide)?;
        let year: Option<i32> = f.get("year").parse().ok();
        let again = |field: &'static str, msg: String| {
            org_page(
                &state,
                &req,
                &user,
                id,
                Form {
                    year,
                    done: None,
                    status: StatusCode::BAD_REQUEST,
                    values: Some(f.values()),
                    errors: Some(field_errors([(field, msg)])),
                    confirm: None,
                },
            )
        };
        let Some(year) = year.filter(|y| valid_year(*y).is_ok()) else {
            return again("year", "请填写年度（如 2026）".into()).await;
        };
        let name = f.get("policy");
        let Some(chosen) = state.scoring.policies.get(&name) else {
            return again("policy", "请选择一项政策".into()).await;
        };
        let current = inputs::policy_choice(&state.db, &org.path, year).await?.0;
        if f.get("confirm") != "1" {
            let people = subtree_people(&state, &org).await?;
            return org_page(
                &state,
                &req,
                &user,
                id,
                Form {
                    year: Some(year),
                    done: None,
                    status: StatusCode::OK,
                    values: Some(f.values()),
                    errors: None,
                    confirm: Some(context! {
                        policy => chosen.name.clone(), title => chosen.title.clone(), year => year,
                        current => current, people => people, choices => choices_of(&chosen),
                    }),
                },
            )
            .await;
        }
        if !first_submit(&state, &f.get("form_id")).await {
            return Ok(see_other(&format!(
                "/console/orgs/{id}?year={year}&done=policy"
            )));
        }
        match choose_policy_as(
            &state,
            &user.principal,
            OrgId(id),
            SetPolicy {
                year,
                policy: name,
                source: None,
            },
        )
        .await
        {
            Ok(_) => Ok(see_other(&format!(
                "/console/orgs/{id}?year={year}&done=policy"
            ))),
            Err(e) if e.code.status().is_client_error() => again("policy", message_of(&e)).await,
            Err(e) => Err(e),
        }
    })
    .await
}

/// Name, time zone, members' own rank: `org::service::update` (audited).
async fn settings(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    Posted(f): Posted,
) -> HttpResponse {
    let id = *path;
    respond(&req, &user, async {
        user.principal.require(Perm::OrgWrite)?;
        orgs::scoped(&state.db, &user.principal, Perm::OrgWrite, OrgId(id))
            .await
            .map_err(hide)?;
        let patch = OrgPatch {
            name: Some(f.get("name")),
            timezone: Some(f.get("timezone")),
            show_rank_to_members: Some(f.get("show_rank") == "1"),
        };
        match orgs::update(&state.db, &user.principal, OrgId(id), patch).await {
            Ok(_) => Ok(see_other(&format!("/console/orgs/{id}?done=settings"))),
            Err(e) if e.code.status().is_client_error() && !e.errors.is_empty() => {
                let field = match e.errors[0].field.as_str() {
                    "timezone" => "timezone",
                    _ => "name",
                };
                org_page(
                    &state,
                    &req,
                    &user,
                    id,
                    Form {
                        year: None,
                        done: None,
                        status: StatusCode::BAD_REQUEST,
                        values: Some(f.values()),
                        errors: Some(field_errors([(field, message_of(&e))])),
                        confirm: None,
                    },
                )
                .await
            }
            Err(e) => Err(hide(e)),
        }
    })
    .await
}
