//! 星级评定 (secretary, phone first) and 年度结果 (admin, desktop).
//!
//! `/console/stars`: a branch's closed year: the proposal within the five-star quota,
//! confirming it or departing per member with a reason, 备案 by the organization above,
//! publication, and the follow-up list (2★ or below) with talks and pairings recorded.
//! `/console/results`: the year's result list of an organization (scores, stars,
//! ratings, 免评, award eligibility), TW-7's 优秀 confirmation, the export. The rules live
//! in `review::stars` and `review::results`; these handlers gather input and show results.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::{Value, context};
use serde::Deserialize;

use super::{ConsoleUser, Posted, hide, page, respond, when};
use crate::auth::Perm;
use crate::error::{AppError, AppResult};
use crate::ids::{OrgId, PersonId};
use crate::ledger::inputs::{tz_of, year_of};
use crate::policy::fmt_dec;
use crate::reports::export::ExportFormat;
use crate::review::stars::{self, ConfirmInput, Departure, NewFollowUp};
use crate::review::{results, routes::results_download};
use crate::state::AppState;
use crate::web::member::see_other;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/stars", web::get().to(stars_page))
        .route("/console/stars/confirm", web::post().to(confirm))
        .route("/console/stars/file", web::post().to(file))
        .route("/console/stars/publish", web::post().to(publish))
        .route("/console/stars/follow-ups", web::post().to(follow_up))
        .route("/console/results", web::get().to(results_page))
        .route("/console/results/export", web::get().to(export))
        .route("/console/results/excellent", web::post().to(excellent));
}

#[derive(Debug, Deserialize)]
pub struct OrgYearQuery {
    pub org: Option<i64>,
    pub year: Option<i32>,
    pub format: Option<String>,
}

/// The organization asked for (else the user's own), in scope, and the year (else the
/// last one, the year a rating is made for).
async fn chosen(
    state: &AppState,
    user: &ConsoleUser,
    org: Option<i64>,
    year: Option<i32>,
    perm: Perm,
) -> AppResult<(entity::organization::Model, i32)> {
    let id = match org.or(user.principal.org_id.map(|o| o.0)) {
        Some(id) => id,
        // An admin over everything: the top of the tree.
        None => super::secretary::scope_orgs(state, &user.principal)
            .await?
            .first()
            .map(|o| o.id)
            .ok_or_else(|| AppError::field("org", "请选择组织"))?,
    };
    let org = crate::org::service::scoped(&state.db, &user.principal, perm, OrgId(id))
        .await
        .map_err(hide)?;
    let year = year.unwrap_or_else(|| year_of(state.clock.now(), tz_of(&org)) - 1);
    let year = crate::ledger::routes::valid_year(year)?;
    Ok((org, year))
}

fn back(org: i64, year: i32, path: &str) -> HttpResponse {
    see_other(&format!("{path}?org={org}&year={year}"))
}

fn stars_text(s: Option<i32>) -> String {
    s.map_or_else(|| "—".to_owned(), |n| format!("{n} 星"))
}

async fn stars_view(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    org: &entity::organization::Model,
    year: i32,
    flash: Option<String>,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    let tz = tz_of(org);
    let (v, _) = stars::view(&state.db, &state.scoring, org, year).await?;
    let follow = stars::follow_ups(&state.db, &state.scoring, org, year).await?;
    let scope_is_org = user.principal.scope_path.as_deref() == Some(org.path.as_str());
    let lines: Vec<Value> = v
        .lines
        .iter()
        .map(|l| {
            context! {
                person_id => l.person_id, name => l.name.clone(),
                score => l.score.map(|s| fmt_dec(s.0)), exempt => l.exempt,
                proposed => stars_text(l.proposed_stars), stars => l.stars,
                stars_label => stars_text(l.stars), departed => l.departed, reason => l.reason.clone(),
            }
        })
        .collect();
    let follow: Vec<Value> = follow
        .iter()
        .map(|f| {
            context! {
                person_id => f.person_id, name => f.name.clone(), stars => stars_text(f.stars),
                score => f.score.map(|s| fmt_dec(s.0)),
                records => f.records.iter().map(|r| context! {
                    kind => r.kind_label.clone(), held_on => r.held_on.format("%Y年%-m月%-d日").to_string(),
                    partner => r.partner.clone(), note => r.note.clone(), by => r.recorded_by.clone(),
                }).collect::<Vec<_>>(),
            }
        })
        .collect();
    Ok(page(
        req,
        user,
        status,
        "console/stars.html",
        context! {
            title => format!("{year}年度星级评定"),
            org => context! { id => org.id, name => org.name.clone() },
            year => year,
            rating => context! {
                state => v.state.clone(), state_label => v.state_label.clone(), members => v.members,
                quota => v.quota, five_stars => v.five_stars, min_score => fmt_dec(v.min_score.0),
                reading => v.quota_reading.clone(),
                confirmed => v.confirmed_by.clone().map(|b| format!("{b}，{}", v.confirmed_at.map(|t| when(t, tz)).unwrap_or_default())),
                filed => v.filed_by.clone().map(|b| format!("{b}，{}", v.filed_at.map(|t| when(t, tz)).unwrap_or_default())),
                publicity_id => v.publicity_id,
            },
            lines => lines,
            follow => follow,
            may_confirm => user.can(Perm::Review) && v.state == stars::PROPOSED,
            may_file => user.can(Perm::Review) && v.state == stars::CONFIRMED && !scope_is_org,
            may_publish => user.can(Perm::ScoresWrite) && user.principal.role != crate::auth::Role::Recorder && v.state == stars::FILED,
            may_follow => user.can(Perm::Review),
            flash => flash,
        },
    ))
}

async fn stars_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    q: web::Query<OrgYearQuery>,
) -> HttpResponse {
    respond(&req, &user, async {
        let (org, year) = chosen(&state, &user, q.org, q.year, Perm::ScoresRead).await?;
        if org.kind != "branch" {
            // Stars are rated per branch: choose one of the branches below.
            let branches: Vec<Value> = super::secretary::scope_orgs(&state, &user.principal)
                .await?
                .into_iter()
                .filter(|o| o.kind == "branch" && o.path.starts_with(&org.path))
                .map(|o| context! { href => format!("/console/stars?org={}&year={year}", o.id), name => o.name })
                .collect();
            return Ok(page(
                &req,
                &user,
                StatusCode::OK,
                "console/stars.html",
                context! { title => format!("{year}年度星级评定"), branches => branches, year => year },
            ));
        }
        stars_view(&state, &req, &user, &org, year, None, StatusCode::OK).await
    })
    .await
}

fn org_year(f: &super::Fields) -> AppResult<(i64, i32)> {
    let org = f
        .get("org")
        .parse()
        .map_err(|_| AppError::field("org", "请选择组织"))?;
    let year = f
        .get("year")
        .parse()
        .map_err(|_| AppError::field("year", "请填写年份"))?;
    Ok((org, year))
}

/// Each member's select `stars_<id>` and reason `reason_<id>`; a departure is a
/// select that differs from the proposal (sent as `proposed_<id>`).
fn departures(f: &super::Fields) -> Vec<Departure> {
    f.pairs()
        .iter()
        .filter_map(|(k, v)| {
            let id: i64 = k.strip_prefix("stars_")?.parse().ok()?;
            let stars: i32 = v.trim().parse().ok()?;
            let proposed = f.get(&format!("proposed_{id}"));
            (proposed != v.trim()).then(|| Departure {
                person_id: id,
                stars,
                reason: Some(f.get(&format!("reason_{id}"))),
            })
        })
        .collect()
}

async fn confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    Posted(f): Posted,
) -> HttpResponse {
    respond(&req, &user, async {
        let (org, year) = org_year(&f)?;
        let input = ConfirmInput {
            departures: departures(&f),
        };
        match stars::confirm(&state, &user.principal, OrgId(org), year, input).await {
            Ok(_) => Ok(back(org, year, "/console/stars")),
            // A refusal of the form (no reason, above the quota) is shown on the page.
            Err(e)
                if matches!(
                    e.code.status(),
                    StatusCode::BAD_REQUEST | StatusCode::CONFLICT
                ) =>
            {
                let (o, y) = chosen(&state, &user, Some(org), Some(year), Perm::ScoresRead).await?;
                let text = super::message_of(&e);
                stars_view(&state, &req, &user, &o, y, Some(text), e.code.status()).await
            }
            Err(e) => Err(hide(e)),
        }
    })
    .await
}

async fn file(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    Posted(f): Posted,
) -> HttpResponse {
    respond(&req, &user, async {
        let (org, year) = org_year(&f)?;
        stars::file(&state, &user.principal, OrgId(org), year).await?;
        Ok(back(org, year, "/console/stars"))
    })
    .await
}

async fn publish(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    Posted(f): Posted,
) -> HttpResponse {
    respond(&req, &user, async {
        let (org, year) = org_year(&f)?;
        let days = match f.get("days").as_str() {
            "" => None,
            d => Some(
                d.parse()
                    .map_err(|_| AppError::field("days", "公示天数须为整数"))?,
            ),
        };
        stars::publish(&state, &user.principal, OrgId(org), year, days).await?;
        Ok(back(org, year, "/console/stars"))
    })
    .await
}

async fn follow_up(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    Posted(f): Posted,
) -> HttpResponse {
    respond(&req, &user, async {
        let (org, year) = org_year(&f)?;
        let person_id = f
            .get("person_id")
            .parse()
            .map_err(|_| AppError::field("person_id", "请选择党员"))?;
        let held_on = chrono::NaiveDate::parse_from_str(&f.get("held_on"), "%Y-%m-%d")
            .map_err(|_| AppError::field("held_on", "请填写日期"))?;
        let partner = Some(f.get("partner")).filter(|p| !p.is_empty());
        stars::record_follow_up(
            &state,
            &user.principal,
            OrgId(org),
            year,
            NewFollowUp {
                person_id,
                kind: f.get("kind"),
                held_on,
                partner,
                note: f.get("note"),
            },
        )
        .await?;
        Ok(back(org, year, "/console/stars"))
    })
    .await
}

async fn results_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    q: web::Query<OrgYearQuery>,
) -> HttpResponse {
    respond(&req, &user, async {
        let (org, year) = chosen(&state, &user, q.org, q.year, Perm::ScoresRead).await?;
        let r = results::year_results(&state.db, &state.scoring, &org, year).await?;
        let members: Vec<Value> = r
            .members
            .iter()
            .map(|m| {
                context! {
                    person_id => m.person_id, name => m.name.clone(), org_name => m.org_name.clone(),
                    score => m.score.map(|s| fmt_dec(s.0)), stars => m.stars,
                    stars_confirmed => m.stars_source == results::StarsSource::Confirmed,
                    rating => m.rating_label.clone(), status => m.status_label.clone(), exempt => m.exempt,
                    eligible => m.award_eligible, reasons => m.no_award_reasons.join("；"),
                    reward_max => m.reward_max.map(|p| fmt_dec(p.0)),
                    confirm_excellent => r.closed && m.rating.as_deref() == Some("excellent") && !m.excellent_confirmed,
                }
            })
            .collect();
        let orgs: Vec<Value> = r
            .orgs
            .iter()
            .map(|o| {
                context! {
                    name => o.name.clone(), score => o.score.map(|s| fmt_dec(s.0)), stars => o.stars,
                    rating => o.rating.as_deref().map(results::rating_label).map(str::to_owned), reading => o.reading.clone(),
                }
            })
            .collect();
        let orgs_in_scope: Vec<Value> = super::secretary::scope_orgs(&state, &user.principal)
            .await?
            .into_iter()
            .filter(|o| o.kind != "group")
            .map(|o| context! { id => o.id, name => o.name, selected => o.id == r.org_id, branch => o.kind == "branch" })
            .collect();
        Ok(page(
            &req,
            &user,
            StatusCode::OK,
            "console/results.html",
            context! {
                title => format!("{year}年度结果名单"),
                org => context! { id => r.org_id, name => r.org_name.clone() },
                year => year, closed => r.closed, grade_header => r.grade_header.clone(),
                members => members, orgs => orgs, choices => orgs_in_scope,
                may_confirm => user.can(Perm::Review),
            },
        ))
    })
    .await
}

async fn export(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    q: web::Query<OrgYearQuery>,
) -> HttpResponse {
    respond(&req, &user, async {
        let (org, year) = chosen(&state, &user, q.org, q.year, Perm::ScoresRead).await?;
        let format = match q.format.as_deref() {
            Some("csv") => ExportFormat::Csv,
            _ => ExportFormat::Xlsx,
        };
        results_download(&state, &user.principal, &org, year, format).await
    })
    .await
}

async fn excellent(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    Posted(f): Posted,
) -> HttpResponse {
    respond(&req, &user, async {
        let (org, year) = org_year(&f)?;
        let person: i64 = f
            .get("person_id")
            .parse()
            .map_err(|_| AppError::field("person_id", "请选择党员"))?;
        results::confirm_excellent(
            &state,
            &user.principal,
            OrgId(org),
            year,
            PersonId(person),
            Some(f.get("note")),
        )
        .await
        .map_err(hide)?;
        Ok(back(org, year, "/console/results"))
    })
    .await
}
