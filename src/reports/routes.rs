//! Export endpoints the console links to: an activity's attendance sheet and the
//! official forms of an organization's year (`forms`), as XLSX or CSV. Each export is
//! audited.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::export::{self, ExportFormat};
use super::{forms, registers};
use crate::auth::{Perm, Principal};
use crate::error::{AppResult, Problem};
use crate::ids::OrgId;
use crate::ledger::inputs::{tz_of, year_of};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/activities/{activity_id}/attendance/export",
        web::get().to(export_attendance),
    )
    .route(
        "/orgs/{org_id}/register/export",
        web::get().to(export_register),
    )
    .route("/forms", web::get().to(list_forms))
    .route(
        "/orgs/{org_id}/forms/{form}/{year}/export",
        web::get().to(export_form),
    );
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FormatQuery {
    /// `xlsx` (default) or `csv`.
    pub format: Option<ExportFormat>,
}

/// The activity's attendance sheet (姓名, 所在组织, 考勤, 签到时间, 签到方式, 积分).
#[utoipa::path(get, path = "/api/v1/activities/{activity_id}/attendance/export", tag = "exports",
    params(("activity_id" = i64, Path), FormatQuery), security(("bearer" = ["activity.read"])),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn export_attendance(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    q: web::Query<FormatQuery>,
) -> AppResult<HttpResponse> {
    let a = crate::checkin::routes::scoped_activity(&state, &principal, Perm::ActivityRead, *path)
        .await?;
    attendance_download(
        &state,
        &principal,
        &a,
        q.format.unwrap_or(ExportFormat::Xlsx),
    )
    .await
}

/// The attendance sheet as a download, audited (the API and the console).
pub async fn attendance_download(
    state: &AppState,
    principal: &Principal,
    a: &entity::activity::Model,
    format: ExportFormat,
) -> AppResult<HttpResponse> {
    let table = registers::attendance_sheet(state, a).await?;
    let (bytes, rows) = export::write_off_worker(table, format).await?;
    crate::audit::record(
        &state.db,
        &principal.actor(),
        crate::audit::Entry::new("export_attendance", "activity", a.id)
            .org(OrgId(a.org_id))
            .after(serde_json::json!({"format": format.extension(), "rows": rows})),
    )
    .await?;
    Ok(export::download(
        bytes,
        format,
        &format!("考勤_{}", a.title),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RegisterQuery {
    /// Default: the current year in the organization's time zone.
    pub year: Option<i32>,
    /// `xlsx` (default) or `csv`.
    pub format: Option<ExportFormat>,
}

/// 党员积分台账 (the official form `ledger`): per branch, each member's months. The same
/// file as `/orgs/{org_id}/forms/ledger/{year}/export`, with the year as a query.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/register/export", tag = "exports",
    params(("org_id" = i64, Path), RegisterQuery), security(("bearer" = ["scores.read"])),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn export_register(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    q: web::Query<RegisterQuery>,
) -> AppResult<HttpResponse> {
    let org =
        crate::org::service::scoped(&state.db, &principal, Perm::ScoresRead, OrgId(*path)).await?;
    let year = q
        .year
        .unwrap_or_else(|| year_of(state.clock.now(), tz_of(&org)));
    form_download(
        &state,
        &principal,
        &org,
        "ledger",
        year,
        q.format.unwrap_or(ExportFormat::Xlsx),
    )
    .await
}

/// The official forms (报表): title, source document, columns, the preset each applies
/// to, the export path, and whether this build serves it.
#[utoipa::path(get, path = "/api/v1/forms", tag = "exports",
    security(("bearer" = ["scores.read"])),
    responses((status = 200, body = Vec<forms::FormView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_forms(
    state: web::Data<AppState>,
    principal: Principal,
) -> AppResult<HttpResponse> {
    principal.require(Perm::ScoresRead)?;
    Ok(HttpResponse::Ok().json(forms::catalogue(&state.scoring)))
}

/// An official form of an organization's year: `registration` (党员积分量化登记表),
/// `stars` (党员积分量化星级评定情况统计表) or `ledger` (党员积分台账), as XLSX (a sheet
/// per branch where the form has one) or CSV (one table; a leading 支部 column for the
/// per-branch forms). A secretary gets their branch only.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/forms/{form}/{year}/export", tag = "exports",
    params(("org_id" = i64, Path), ("form" = String, Path, description = "registration, stars or ledger"),
        ("year" = i32, Path), FormatQuery), security(("bearer" = ["scores.read"])),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn export_form(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(i64, String, i32)>,
    q: web::Query<FormatQuery>,
) -> AppResult<HttpResponse> {
    let (org_id, key, year) = path.into_inner();
    let org =
        crate::org::service::scoped(&state.db, &principal, Perm::ScoresRead, OrgId(org_id)).await?;
    form_download(
        &state,
        &principal,
        &org,
        &key,
        year,
        q.format.unwrap_or(ExportFormat::Xlsx),
    )
    .await
}

/// A form's bytes: the one path for the API, the console and the benchmark.
pub async fn form_bytes(
    db: &impl sea_orm::ConnectionTrait,
    scoring: &crate::ledger::Scoring,
    org: &entity::organization::Model,
    key: &str,
    year: i32,
    now: chrono::DateTime<chrono::Utc>,
    format: ExportFormat,
) -> AppResult<(Vec<u8>, usize)> {
    forms::form(key)?;
    crate::ledger::routes::valid_year(year)?;
    // A form of a sheet per branch, or a single table.
    match key {
        "registration" => {
            let sheets = forms::registration(db, scoring, org, year).await?;
            export::write_book_off_worker(sheets, "支部", format).await
        }
        "stars" => {
            let table = forms::star_summary(db, scoring, org, year).await?;
            export::write_off_worker(table, format).await
        }
        "results" => {
            let r = crate::review::results::year_results(db, scoring, org, year).await?;
            export::write_off_worker(crate::review::results::result_table(&r), format).await
        }
        _ => {
            let sheets = forms::monthly(db, scoring, org, year, now).await?;
            export::write_book_off_worker(sheets, "支部", format).await
        }
    }
}

/// A form as a download, audited (the API and the console).
pub async fn form_download(
    state: &AppState,
    principal: &Principal,
    org: &entity::organization::Model,
    key: &str,
    year: i32,
    format: ExportFormat,
) -> AppResult<HttpResponse> {
    let info = forms::form(key)?;
    let (bytes, rows) = form_bytes(
        &state.db,
        &state.scoring,
        org,
        key,
        year,
        state.clock.now(),
        format,
    )
    .await?;
    let action = if key == "ledger" {
        "export_register".to_owned()
    } else {
        format!("export_form_{key}")
    };
    crate::audit::record(
        &state.db,
        &principal.actor(),
        crate::audit::Entry::new(&action, "organization", org.id)
            .org(OrgId(org.id))
            .after(serde_json::json!({"form": key, "year": year, "format": format.extension(), "rows": rows})),
    )
    .await?;
    Ok(export::download(
        bytes,
        format,
        &format!("{}_{year}年{}", org.name, info.title),
    ))
}
