//! SD-3 archive on `/m/years/{year}`: a member reads a past year as it was closed: the
//! score, the stars (the branch's confirmed stars where SD-6 confirmed them, else the
//! engine's), the status and every ledger line with its reason. The running year stays
//! on `/m/`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::Value;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::member::{person_of, see_other, signed};
use super::{MEMBER_CSP, error_page, render};
use crate::error::AppError;
use crate::ids::OrgId;
use crate::ledger::SubjectRef;
use crate::ledger::inputs::{tz_of, year_of};
use crate::ledger::queries;
use crate::policy::fmt_dec;
use crate::review::results::{rating_label, status_label};
use crate::state::AppState;
use crate::wechat::MemberSession;

pub const TEMPLATES: [(&str, &str); 1] = [(
    "archive.html",
    include_str!("../../templates/web/archive.html"),
)];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/m/years", web::get().to(years))
        .route("/m/years/{year}", web::get().to(year_page));
}

/// The member's past years (those with a result), newest first.
async fn past_years(
    state: &AppState,
    person: i64,
    current: i32,
) -> Result<Vec<(i32, bool)>, AppError> {
    Ok(entity::subject_score::Entity::find()
        .filter(entity::subject_score::Column::SubjectKind.eq("person"))
        .filter(entity::subject_score::Column::SubjectId.eq(person))
        .filter(entity::subject_score::Column::Year.lt(current))
        .order_by_desc(entity::subject_score::Column::Year)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|r| (r.year, r.closed))
        .collect())
}

async fn years(
    state: web::Data<AppState>,
    session: MemberSession,
    req: HttpRequest,
) -> HttpResponse {
    let person = match person_of(&state, &session, &req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    match page(&state, &person, None).await {
        Ok(r) => r,
        Err(e) => error_page(&e, Some("/m/")),
    }
}

async fn year_page(
    state: web::Data<AppState>,
    session: MemberSession,
    req: HttpRequest,
    path: web::Path<i32>,
) -> HttpResponse {
    let person = match person_of(&state, &session, &req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    match page(&state, &person, Some(*path)).await {
        Ok(r) => r,
        Err(e) => error_page(&e, Some("/m/years")),
    }
}

async fn page(
    state: &AppState,
    person: &entity::person::Model,
    year: Option<i32>,
) -> Result<HttpResponse, AppError> {
    let org = crate::org::service::find(&state.db, OrgId(person.org_id)).await?;
    let tz = tz_of(&org);
    let current = year_of(state.clock.now(), tz);
    if year.is_some_and(|y| y >= current) {
        return Ok(see_other("/m/"));
    }
    let list = past_years(state, person.id, current).await?;
    let chosen = year.or_else(|| list.first().map(|(y, _)| *y));
    let detail = match chosen {
        Some(y) => {
            if !list.iter().any(|(x, _)| *x == y) {
                return Err(AppError::not_found(format!("没有您 {y} 年度的积分记录")));
            }
            let ledger = queries::ledger(&state.db, SubjectRef::Person(person.id), y).await?;
            let s = &ledger.score;
            let exempt = s.status == "exempt";
            let (stars, confirmed) =
                crate::review::stars::member_stars(&state.db, person.id, y, s.stars).await?;
            let lines: Vec<Value> = ledger
                .lines
                .iter()
                .rev()
                .map(|l| {
                    minijinja::context! {
                        date => l.at.map(|t| t.with_timezone(&tz).format("%m月%d日").to_string()).unwrap_or_else(|| "年度".to_owned()),
                        note => l.note.clone(),
                        points => signed(l.points.0),
                        negative => l.points.0.is_sign_negative() && !l.points.0.is_zero(),
                    }
                })
                .collect();
            Some(minijinja::context! {
                year => y,
                closed => s.closed,
                exempt => exempt,
                score => s.score.map(|p| fmt_dec(p.0)),
                stars => if exempt { None } else { stars },
                star_marks => stars.filter(|n| *n > 0 && !exempt).map(|n| "★".repeat(usize::try_from(n).unwrap_or(0))),
                stars_confirmed => confirmed,
                rating => s.rating.as_deref().map(rating_label).map(str::to_owned),
                status => status_label(&s.status),
                lines => lines,
            })
        }
        None => None,
    };
    Ok(render(
        StatusCode::OK,
        "archive.html",
        MEMBER_CSP,
        minijinja::context! {
            title => "往年积分",
            name => person.name.clone(),
            years => list.iter().map(|(y, closed)| minijinja::context! { year => y, closed => closed, current => Some(*y) == chosen }).collect::<Vec<_>>(),
            detail => detail,
        },
    ))
}
