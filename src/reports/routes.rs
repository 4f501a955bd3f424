//! Export endpoints the console links to: an activity's attendance sheet and an
//! organization's points register, as XLSX or CSV. Each export is audited.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::export::{self, ExportFormat};
use super::registers;
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
    let bytes = export::write(&table, format)?;
    crate::audit::record(
        &state.db,
        &principal.actor(),
        crate::audit::Entry::new("export_attendance", "activity", a.id)
            .org(OrgId(a.org_id))
            .after(serde_json::json!({"format": format.extension(), "rows": table.rows.len()})),
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

/// 党员积分台账: every ledger line of the organization's members for the year.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}/register/export", tag = "exports",
    params(("org_id" = i64, Path), RegisterQuery), security(("bearer" = ["scores.read"])),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
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
    let format = q.format.unwrap_or(ExportFormat::Xlsx);
    let table = registers::points_register(&state.db, &org, year).await?;
    let bytes = export::write(&table, format)?;
    crate::audit::record(
        &state.db,
        &principal.actor(),
        crate::audit::Entry::new("export_register", "organization", org.id)
            .org(OrgId(org.id))
            .after(serde_json::json!({"year": year, "format": format.extension(), "rows": table.rows.len()})),
    )
    .await?;
    Ok(export::download(
        bytes,
        format,
        &format!("{}_{year}年党员积分台账", org.name),
    ))
}
