//! 季度排名 (EQ-4 … EQ-7) in the console: for a branch (the secretary's phone) or a
//! committee (the admin's desk), each member's quarterly and half-year places, last
//! places and the run carried from last year, who the close would rate unqualified and
//! why; filing the quarter's published ranking with the committee (报送) and, for the
//! committee, who filed; EQ-6 flags with their evidence and what was done; the year's
//! substantiated falsification findings. 弄虚作假: EQ-7 cases (open, annul, conclude).
//! Proposals of settings are decided from the organization page. The rules live in
//! `review::rankings`; these handlers gather input and show results.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::{Value, context};
use serde::Deserialize;

use crate::auth::{Perm, Principal};
use crate::console::session::see_other;
use crate::console::{ConsoleUser, Posted, first_submit, hide, new_form_id, page, respond, when};
use crate::error::{AppError, AppResult};
use crate::ids::{OrgId, PersonId};
use crate::ledger::inputs::tz_of;
use crate::ledger::routes::{current_year, valid_year};
use crate::review::rankings::{self as ranks, PeriodPlaceView};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/ranks", web::get().to(show))
        .route("/console/ranks/file", web::post().to(file))
        .route("/console/ranks/flag", web::post().to(flag))
        .route("/console/falsifications", web::get().to(falsifications))
        .route("/console/falsifications", web::post().to(open))
        .route("/console/falsifications/{id}", web::get().to(falsification))
        .route("/console/falsifications/{id}/annul", web::post().to(annul))
        .route(
            "/console/falsifications/{id}/conclude",
            web::post().to(conclude),
        )
        .route(
            "/console/org-proposals/{id}/confirm",
            web::post().to(confirm_proposal),
        )
        .route(
            "/console/org-proposals/{id}/decline",
            web::post().to(decline_proposal),
        );
}

#[derive(Deserialize)]
struct OrgYear {
    org: Option<i64>,
    year: Option<i32>,
    done: Option<String>,
}

async fn chosen_org(
    state: &AppState,
    principal: &Principal,
    id: Option<i64>,
) -> AppResult<entity::organization::Model> {
    match id.or(principal.org_id.map(|o| o.0)) {
        Some(id) => crate::org::service::scoped(&state.db, principal, Perm::ScoresRead, OrgId(id))
            .await
            .map_err(hide),
        None => crate::console::secretary::scope_orgs(state, principal)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| AppError::not_found("您的管辖范围内还没有组织")),
    }
}

fn cell(p: &PeriodPlaceView) -> Value {
    context! {
        n => p.n, points => p.points.clone(), place => p.place, of => p.of, last => p.last,
        running => p.running,
    }
}

async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    q: web::Query<OrgYear>,
) -> HttpResponse {
    respond(&req, &user, async {
        let p = &user.principal;
        p.require(Perm::ScoresRead)?;
        let org = chosen_org(&state, p, q.org).await?;
        let year = valid_year(q.year.unwrap_or_else(|| current_year(&state, &org)))?;
        let tz = tz_of(&org);
        let ev = ranks::evidence(&state, p, OrgId(org.id), year).await.map_err(hide)?;
        let filings = ranks::filings(&state, p, OrgId(org.id), year).await?;
        let flags = ranks::flags(&state, p, OrgId(org.id), year).await?;
        let branch = matches!(org.kind.as_str(), "branch" | "general_branch");
        let can_file = branch
            && p.require_in(Perm::ScoresWrite, &org.path).is_ok()
            && p.role != crate::auth::Role::Recorder;
        let can_handle = p.require_in(Perm::Review, &org.path).is_ok();
        let members: Vec<Value> = ev
            .members
            .iter()
            .map(|m| {
                let whys: Vec<String> = m
                    .rules
                    .iter()
                    .filter_map(|r| {
                        r.why.as_ref().map(|w| {
                            format!("{}（{}）：{w}", ranks::consequence_label(&r.consequence), r.rule)
                        })
                    })
                    .collect();
                context! {
                    id => m.person_id, name => m.name.clone(), org => m.org_name.clone(),
                    probationary => m.role.as_deref() == Some("probationary"),
                    quarters => m.quarters.iter().map(cell).collect::<Vec<_>>(),
                    halves => m.half_years.iter().map(cell).collect::<Vec<_>>(),
                    carried => m.carried, run => m.run,
                    unqualified => m.unqualified_at_close,
                    whys => whys,
                }
            })
            .collect();
        let filing_rows: Vec<Value> = filings
            .branches
            .iter()
            .map(|b| {
                context! {
                    id => b.org_id, name => b.name.clone(),
                    quarters => b.quarters.iter().map(|f| context! {
                        n => f.quarter, status => f.status.clone(),
                        label => ranks::filing_status_label(&f.status),
                        version => f.published_version, filed_version => f.filed_version,
                        by => f.filed_by.clone(), at => f.filed_at.map(|t| when(t, tz)),
                        can_file => can_file && matches!(f.status.as_str(), "published" | "outdated"),
                    }).collect::<Vec<_>>(),
                }
            })
            .collect();
        let flag_rows: Vec<Value> = flags
            .iter()
            .map(|f| {
                context! {
                    person => f.person_id, name => f.name.clone(), org => f.org_name.clone(),
                    rule => f.rule.clone(), flag => f.flag.clone(), consequence => f.consequence.clone(),
                    why => f.why.clone(), handled => f.state == "handled", action => f.action.clone(),
                    by => f.handled_by.clone(), at => f.handled_at.map(|t| when(t, tz)),
                }
            })
            .collect();
        let done = match q.done.as_deref() {
            Some("filed") => Some("已报送党委备案。"),
            Some("flag") => Some("处理情况已记录。"),
            _ => None,
        };
        Ok(page(
            &req,
            &user,
            StatusCode::OK,
            "console/ranks.html",
            context! {
                title => "季度排名",
                org => context! { id => org.id, name => org.name.clone(), branch => branch },
                year => year, closed => ev.closed, ranked => ev.ranked,
                findings => ev.falsification_findings,
                members => members, filings => filing_rows, flags => flag_rows,
                can_handle => can_handle, done => done, form_id => new_form_id(),
            },
        ))
    })
    .await
}

fn num<T: std::str::FromStr>(f: &crate::console::Fields, name: &str, what: &str) -> AppResult<T> {
    f.get(name)
        .parse()
        .map_err(|_| AppError::field(name.to_owned(), format!("{what}无效")))
}

async fn file(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    Posted(f): Posted,
) -> HttpResponse {
    respond(&req, &user, async {
        let org: i64 = num(&f, "org", "组织")?;
        let year: i32 = num(&f, "year", "年度")?;
        let quarter: u32 = num(&f, "quarter", "季度")?;
        if first_submit(&state, &f.get("form_id")).await {
            let note = Some(f.get("note"));
            ranks::file(&state, &user.principal, OrgId(org), year, quarter, note)
                .await
                .map_err(hide)?;
        }
        Ok(see_other(&format!(
            "/console/ranks?org={org}&year={year}&done=filed"
        )))
    })
    .await
}

async fn flag(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    Posted(f): Posted,
) -> HttpResponse {
    respond(&req, &user, async {
        let org: i64 = num(&f, "org", "组织")?;
        let person: i64 = num(&f, "person", "党员")?;
        let year: i32 = num(&f, "year", "年度")?;
        ranks::handle_flag(
            &state,
            &user.principal,
            PersonId(person),
            year,
            &f.get("flag"),
            &f.get("action"),
        )
        .await
        .map_err(hide)?;
        Ok(see_other(&format!(
            "/console/ranks?org={org}&year={year}&done=flag"
        )))
    })
    .await
}

// ---- 弄虚作假 (EQ-7) ------------------------------------------------------------------

async fn falsifications(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    q: web::Query<OrgYear>,
) -> HttpResponse {
    respond(&req, &user, async {
        let p = &user.principal;
        p.require(Perm::ScoresRead)?;
        let org = chosen_org(&state, p, q.org).await?;
        let year = valid_year(q.year.unwrap_or_else(|| current_year(&state, &org)))?;
        let tz = tz_of(&org);
        let list = ranks::list_falsifications(&state, p, OrgId(org.id), year).await?;
        Ok(page(
            &req,
            &user,
            StatusCode::OK,
            "console/falsifications.html",
            context! {
                title => "弄虚作假认定",
                org => context! { id => org.id, name => org.name.clone() },
                year => year, substantiated => list.substantiated,
                cases => list.cases.iter().map(|c| context! {
                    id => c.id, name => c.name.clone(), state => state_label(&c.state),
                    reason => c.reason.clone(), at => when(c.filed_at, tz),
                }).collect::<Vec<_>>(),
                can_open => p.require_in(Perm::Correct, &org.path).is_ok(),
                form_id => new_form_id(),
            },
        ))
    })
    .await
}

fn state_label(s: &str) -> &'static str {
    match s {
        "accepted" => "认定属实",
        "rejected" => "不予认定",
        _ => "办理中",
    }
}

async fn open(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    Posted(f): Posted,
) -> HttpResponse {
    respond(&req, &user, async {
        let person: i64 = num(&f, "person", "党员")?;
        let year: i32 = num(&f, "year", "年度")?;
        let case = ranks::open_falsification(
            &state,
            &user.principal,
            PersonId(person),
            year,
            &f.get("reason"),
        )
        .await
        .map_err(hide)?;
        Ok(see_other(&format!("/console/falsifications/{}", case.id)))
    })
    .await
}

async fn falsification(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
) -> HttpResponse {
    respond(&req, &user, async {
        let c = ranks::get_falsification(&state, &user.principal, *path).await?;
        let org = crate::org::service::find(&state.db, OrgId(c.org_id)).await?;
        let tz = tz_of(&org);
        Ok(page(
            &req,
            &user,
            StatusCode::OK,
            "console/falsification.html",
            context! {
                title => format!("弄虚作假认定 #{}", c.id),
                case => context! {
                    id => c.id, name => c.name.clone(), person => c.person_id, year => c.year,
                    state => state_label(&c.state), open => c.state == "open",
                    reason => c.reason.clone(), outcome => c.outcome.clone(),
                },
                org => context! { id => org.id, name => org.name.clone() },
                steps => c.steps.iter().map(|s| context! {
                    by => s.by.clone(), at => when(s.at, tz), body => s.body.clone(),
                }).collect::<Vec<_>>(),
                can_act => user.principal.require_in(Perm::Correct, &org.path).is_ok(),
            },
        ))
    })
    .await
}

async fn annul(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    Posted(f): Posted,
) -> HttpResponse {
    respond(&req, &user, async {
        let fact: i64 = num(&f, "fact_id", "记录编号")?;
        ranks::annul_falsified(&state, &user.principal, *path, fact, &f.get("note")).await?;
        Ok(see_other(&format!("/console/falsifications/{}", *path)))
    })
    .await
}

async fn conclude(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    Posted(f): Posted,
) -> HttpResponse {
    respond(&req, &user, async {
        let substantiated = f.get("substantiated") == "1";
        ranks::conclude_falsification(
            &state,
            &user.principal,
            *path,
            substantiated,
            &f.get("conclusion"),
        )
        .await?;
        Ok(see_other(&format!("/console/falsifications/{}", *path)))
    })
    .await
}

// ---- Proposals (shown on the organization page) ----------------------------------------

/// The organization's proposals as the organization page shows them.
pub async fn proposal_rows(
    state: &AppState,
    principal: &Principal,
    org: &entity::organization::Model,
) -> AppResult<Vec<Value>> {
    let tz = tz_of(org);
    let can = principal.require_in(Perm::OrgWrite, &org.path).is_ok();
    Ok(ranks::proposals(&state.db, principal, OrgId(org.id))
        .await?
        .into_iter()
        .map(|p| {
            let decided = p.decided_at.map(|t| {
                format!(
                    "{} {}{}",
                    p.decided_by.clone().unwrap_or_default(),
                    when(t, tz),
                    p.decision
                        .as_deref()
                        .map(|d| format!("：{d}"))
                        .unwrap_or_default()
                )
            });
            context! {
                id => p.id,
                setting => if p.setting == ranks::SHOW_RANK { "党员查看本人排名" } else { "设置" },
                state => match p.state.as_str() { "confirmed" => "已确认开启", "declined" => "未采纳", _ => "待确认" },
                pending => p.state == "pending", can_decide => can,
                reason => p.reason, decided => decided,
            }
        })
        .collect())
}

async fn decide(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    id: i64,
    f: &crate::console::Fields,
    confirm: bool,
) -> HttpResponse {
    respond(req, user, async {
        let reason = f.get("reason");
        let p = ranks::decide_proposal(state, &user.principal, id, confirm, Some(&reason)).await?;
        Ok(see_other(&format!("/console/orgs/{}#proposals", p.org_id)))
    })
    .await
}

async fn confirm_proposal(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    Posted(f): Posted,
) -> HttpResponse {
    decide(&state, &req, &user, *path, &f, true).await
}

async fn decline_proposal(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    Posted(f): Posted,
) -> HttpResponse {
    decide(&state, &req, &user, *path, &f, false).await
}
