//! 排名与结果: rankings by period (month, quarter, half-year, year) across the subtree,
//! filtered by organization (the URL holds the view), paged on the server; and 年度结账:
//! a confirmation page that says what freezes (people, ledger lines, facts, the year-end
//! and group rules the policies apply) before the POST closes the year.

use std::collections::{BTreeMap, HashMap};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::{Value, context};
use serde::Deserialize;

use crate::auth::Perm;
use crate::console::{ConsoleUser, Posted, first_submit, hide, page, respond};
use crate::error::{AppError, AppResult};
use crate::ids::OrgId;
use crate::ledger::inputs::{self, tz_of};
use crate::ledger::queries::{self, Period};
use crate::ledger::routes::{current_year, valid_year};
use crate::org::service as orgs;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/rankings", web::get().to(rankings))
        .route("/console/rankings/close", web::get().to(close_confirm))
        .route("/console/rankings/close", web::post().to(close));
}

const PAGE: usize = 50;

#[derive(Deserialize)]
struct RankQuery {
    org: Option<i64>,
    year: Option<i32>,
    period: Option<String>,
    n: Option<u32>,
    index: Option<String>,
    page: Option<usize>,
}

fn period_of(s: Option<&str>) -> Period {
    match s {
        Some("half_year") => Period::HalfYear,
        Some("quarter") => Period::Quarter,
        Some("month") => Period::Month,
        _ => Period::Year,
    }
}

fn period_label(p: Period, n: Option<u32>) -> String {
    match (p, n) {
        (Period::Year, _) => "全年".to_owned(),
        (Period::HalfYear, Some(1)) => "上半年".to_owned(),
        (Period::HalfYear, _) => "下半年".to_owned(),
        (Period::Quarter, Some(q)) => format!("第{q}季度"),
        (Period::Month, Some(m)) => format!("{m}月"),
        _ => String::new(),
    }
}

/// The organization a view is about: the one asked for (in scope, else 404), or the
/// user's own, or the first in scope.
async fn chosen_org(
    state: &AppState,
    user: &ConsoleUser,
    id: Option<i64>,
) -> AppResult<entity::organization::Model> {
    let p = &user.principal;
    match id.or(p.org_id.map(|o| o.0)) {
        Some(id) => orgs::scoped(&state.db, p, Perm::ScoresRead, OrgId(id))
            .await
            .map_err(hide),
        None => crate::console::secretary::scope_orgs(state, p)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| AppError::not_found("您的管辖范围内还没有组织")),
    }
}

async fn rankings(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    q: web::Query<RankQuery>,
) -> HttpResponse {
    respond(&req, &user, async {
        user.principal.require(Perm::ScoresRead)?;
        let org = chosen_org(&state, &user, q.org).await?;
        let tz = tz_of(&org);
        let this_year = current_year(&state, &org);
        let year = valid_year(q.year.unwrap_or(this_year))?;
        let period = period_of(q.period.as_deref());
        let now_month = chrono::Datelike::month(&state.clock.now().with_timezone(&tz));
        let n = match period {
            Period::Year => None,
            Period::HalfYear => Some(q.n.unwrap_or(now_month.div_ceil(6))),
            Period::Quarter => Some(q.n.unwrap_or(now_month.div_ceil(3))),
            Period::Month => Some(q.n.unwrap_or(now_month)),
        };
        let index = match q.index.as_deref() {
            Some("applicant") => "applicant",
            _ => "vanguard",
        };
        let ranking = queries::rankings(&state.db, &org, year, period, n, index).await?;
        let scope = crate::console::secretary::scope_orgs(&state, &user.principal).await?;
        let names: HashMap<i64, String> = scope.iter().map(|o| (o.id, o.name.clone())).collect();
        let total = ranking.items.len();
        let pages = total.div_ceil(PAGE).max(1);
        let page_no = q.page.unwrap_or(1).clamp(1, pages);
        let items: Vec<Value> = ranking
            .items
            .iter()
            .skip((page_no - 1) * PAGE)
            .take(PAGE)
            .map(|r| {
                context! {
                    place => r.place, id => r.subject_id, name => r.name.clone(),
                    org => names.get(&r.org_id).cloned().unwrap_or_default(),
                    score => r.score.0.normalize().to_string(), stars => r.stars,
                    status => match r.status.as_str() {
                        "unqualified" => "不合格", "vetoed" => "一票否决", _ => "",
                    },
                }
            })
            .collect();
        let mut keep: Vec<(&str, String)> = vec![
            ("org", org.id.to_string()),
            ("year", year.to_string()),
            ("period", q.period.clone().unwrap_or_else(|| "year".to_owned())),
            ("index", index.to_owned()),
        ];
        if let Some(n) = n {
            keep.push(("n", n.to_string()));
        }
        let link = |page: usize| {
            let mut qs = keep.clone();
            qs.push(("page", page.to_string()));
            serde_urlencoded::to_string(qs).unwrap_or_default()
        };
        let closed = crate::ledger::post::year_closed(&state.db, &org.path, year).await?;
        Ok(page(
            &req,
            &user,
            StatusCode::OK,
            "console/rankings.html",
            context! {
                title => "排名与结果",
                orgs => scope.iter().map(|o| context! { id => o.id, name => o.name.clone() }).collect::<Vec<_>>(),
                form => context! {
                    org => org.id, year => year, period => q.period.clone().unwrap_or_else(|| "year".to_owned()),
                    n => n, index => index,
                },
                org => context! { id => org.id, name => org.name.clone() },
                period => period_label(period, n),
                items => items, total => total, page => page_no, pages => pages,
                prev => (page_no > 1).then(|| link(page_no - 1)),
                next => (page_no < pages).then(|| link(page_no + 1)),
                closed => closed,
                // Only a finished year closes; the button follows the API's permission.
                can_close => !closed && year < this_year
                    && user.principal.require_in(Perm::PolicyWrite, &org.path).is_ok(),
            },
        ))
    })
    .await
}

#[derive(Deserialize)]
struct CloseQuery {
    org: i64,
    year: i32,
}

/// What closing freezes, counted.
async fn close_page(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    org_id: i64,
    year: i32,
) -> AppResult<HttpResponse> {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect};
    user.principal.require(Perm::PolicyWrite)?;
    let org = orgs::scoped(&state.db, &user.principal, Perm::PolicyWrite, OrgId(org_id))
        .await
        .map_err(hide)?;
    let year = valid_year(year)?;
    let closed = crate::ledger::post::year_closed(&state.db, &org.path, year).await?;
    let finished = year < current_year(state, &org);
    let subtree = orgs::subtree_ids(&state.db, &org).await?;
    let (mut people, mut lines, mut facts) = (0u64, 0u64, 0u64);
    let mut person_ids = Vec::new();
    for chunk in subtree.chunks(500) {
        use entity::person::{Column, Entity};
        let ids: Vec<i64> = Entity::find()
            .select_only()
            .column(Column::Id)
            .filter(Column::OrgId.is_in(chunk.to_vec()))
            .into_tuple()
            .all(&state.db)
            .await?;
        people += ids.len() as u64;
        person_ids.extend(ids);
        lines += entity::ledger_entry::Entity::find()
            .filter(entity::ledger_entry::Column::Year.eq(year))
            .filter(entity::ledger_entry::Column::SubjectKind.eq("org"))
            .filter(entity::ledger_entry::Column::SubjectId.is_in(chunk.to_vec()))
            .count(&state.db)
            .await?;
    }
    for chunk in person_ids.chunks(500) {
        lines += entity::ledger_entry::Entity::find()
            .filter(entity::ledger_entry::Column::Year.eq(year))
            .filter(entity::ledger_entry::Column::SubjectKind.eq("person"))
            .filter(entity::ledger_entry::Column::SubjectId.is_in(chunk.to_vec()))
            .count(&state.db)
            .await?;
        facts += entity::fact::Entity::find()
            .filter(entity::fact::Column::Year.eq(year))
            .filter(entity::fact::Column::PersonId.is_in(chunk.to_vec()))
            .count(&state.db)
            .await?;
    }
    // The year-end and group rules of every policy the subtree scores the year with.
    let mut policies: BTreeMap<String, Value> = BTreeMap::new();
    let choices = super::orgs::policy_rows(state).await?;
    for o in entity::organization::Entity::find()
        .filter(entity::organization::Column::Path.starts_with(org.path.as_str()))
        .all(&state.db)
        .await?
    {
        let (name, source) = inputs::choose_policy(&choices, &o.path, year);
        if policies.contains_key(&name) {
            continue;
        }
        let p = inputs::resolve_policy(&state.scoring, &name, source.as_deref())?;
        let rules: Vec<Value> = p
            .year_end
            .iter()
            .map(|r| context! { id => r.id.to_string(), label => r.label.clone() })
            .chain(
                p.groups
                    .iter()
                    .map(|r| context! { id => r.id.to_string(), label => r.label.clone() }),
            )
            .collect();
        policies.insert(
            name.clone(),
            context! { name => name, title => p.title.clone(), rules => rules },
        );
    }
    Ok(page(
        req,
        user,
        StatusCode::OK,
        "console/close.html",
        context! {
            title => format!("{year} 年度结账"),
            org => context! { id => org.id, name => org.name.clone() },
            year => year, closed => closed, finished => finished,
            people => people, lines => lines, facts => facts, orgs => subtree.len(),
            policies => policies.into_values().collect::<Vec<_>>(),
            form_id => crate::console::new_form_id(),
        },
    ))
}

async fn close_confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    q: web::Query<CloseQuery>,
) -> HttpResponse {
    respond(&req, &user, close_page(&state, &req, &user, q.org, q.year)).await
}

async fn close(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    Posted(f): Posted,
) -> HttpResponse {
    respond(&req, &user, async {
        user.principal.require(Perm::PolicyWrite)?;
        let (Ok(org_id), Ok(year)) = (f.get("org").parse::<i64>(), f.get("year").parse::<i32>())
        else {
            return Err(AppError::field("year", "请从排名页进入年度结账"));
        };
        let org = orgs::scoped(&state.db, &user.principal, Perm::PolicyWrite, OrgId(org_id))
            .await
            .map_err(hide)?;
        let year = valid_year(year)?;
        if !first_submit(&state, &f.get("form_id")).await {
            return Err(AppError::conflict("该表单已提交，年度只结账一次"));
        }
        let summary = crate::ledger::year::close_year(
            &state.db,
            &state.scoring,
            &user.principal.actor(),
            &org,
            year,
            state.clock.now(),
        )
        .await?;
        Ok(crate::console::message(
            &req,
            &user,
            StatusCode::OK,
            "年度已结账",
            &format!(
                "{} {} 年度已结账：{} 人、{} 个组织的积分和台账已冻结，年终规则已执行。",
                org.name, summary.year, summary.persons, summary.orgs
            ),
        ))
    })
    .await
}
