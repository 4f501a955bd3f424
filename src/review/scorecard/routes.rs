//! `/api/v1/assessments`, `/api/v1/scorecards`, `/api/v1/draws`: thin handlers over
//! `service`, `draw`, `rating` and `export`.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{draw, export, rating, service};
use crate::auth::{Perm, Principal};
use crate::error::{AppError, AppResult, Problem};
use crate::ids::OrgId;
use crate::reports::export::ExportFormat;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig, upload_limit: usize) {
    cfg.route("/assessments", web::get().to(list_assessments))
        .route("/assessments", web::post().to(open_assessment))
        .route(
            "/assessments/{assessment_id}",
            web::get().to(get_assessment),
        )
        .route(
            "/assessments/{assessment_id}/extend",
            web::post().to(extend_assessment),
        )
        .route(
            "/assessments/{assessment_id}/rollup",
            web::get().to(assessment_rollup),
        )
        .route(
            "/assessments/{assessment_id}/draws",
            web::get().to(list_draws),
        )
        .route(
            "/assessments/{assessment_id}/draws",
            web::post().to(create_draw),
        )
        .route("/draws/{draw_id}/repeat", web::get().to(repeat_draw))
        .route("/scorecards", web::get().to(list_scorecards))
        .route("/scorecards/{scorecard_id}", web::get().to(get_scorecard))
        .route("/scorecards/{scorecard_id}/self", web::post().to(save_self))
        .route(
            "/scorecards/{scorecard_id}/submit",
            web::post().to(submit_self),
        )
        .route(
            "/scorecards/{scorecard_id}/review",
            web::post().to(review_scorecard),
        )
        .route(
            "/scorecards/{scorecard_id}/vetoes",
            web::post().to(veto_scorecard),
        )
        .route(
            "/scorecards/{scorecard_id}/files/{upload_id}",
            web::get().to(get_file),
        )
        .route(
            "/scorecards/{scorecard_id}/export",
            web::get().to(export_scorecard),
        )
        .service(
            web::resource("/scorecards/{scorecard_id}/lines/{code}/files")
                .app_data(web::PayloadConfig::new(upload_limit))
                .route(web::post().to(upload_evidence)),
        )
        .service(
            web::resource("/scorecards/{scorecard_id}/veto-files")
                .app_data(web::PayloadConfig::new(upload_limit))
                .route(web::post().to(upload_veto_evidence)),
        );
}

/// Assessments whose committee lies in the caller's scope.
#[utoipa::path(get, path = "/api/v1/assessments", tag = "assessments",
    security(("bearer" = ["scores.read"])), responses((status = 200)))]
pub async fn list_assessments(
    state: web::Data<AppState>,
    principal: Principal,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::list_assessments(&state, &principal).await?))
}

/// Opens a committee's yearly assessment of its branches (JH-1): a scorecard per branch.
#[utoipa::path(post, path = "/api/v1/assessments", tag = "assessments",
    request_body = service::NewAssessment, security(("bearer" = ["org.write"])),
    responses((status = 201), (status = 400, body = Problem), (status = 409, body = Problem)))]
pub async fn open_assessment(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<service::NewAssessment>,
) -> AppResult<HttpResponse> {
    let v = service::open(&state, &principal, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(v))
}

#[utoipa::path(get, path = "/api/v1/assessments/{assessment_id}", tag = "assessments",
    params(("assessment_id" = i64, Path)), security(("bearer" = ["scores.read"])),
    responses((status = 200), (status = 404, body = Problem)))]
pub async fn get_assessment(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (a, committee) =
        service::assessment_scoped(&state.db, &principal, Perm::ScoresRead, *path).await?;
    Ok(HttpResponse::Ok().json(service::assessment_view(&state, &a, &committee).await?))
}

/// Extends the self-assessment or review date (later only, with a reason; audited).
#[utoipa::path(post, path = "/api/v1/assessments/{assessment_id}/extend", tag = "assessments",
    params(("assessment_id" = i64, Path)), request_body = service::Extension,
    security(("bearer" = ["org.write"])), responses((status = 200), (status = 400, body = Problem)))]
pub async fn extend_assessment(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<service::Extension>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok()
        .json(service::extend(&state, &principal, *path, body.into_inner()).await?))
}

/// Ratings and the pass rate (达标率) against the year's target (JH-5), the due date (JH-7).
#[utoipa::path(get, path = "/api/v1/assessments/{assessment_id}/rollup", tag = "assessments",
    params(("assessment_id" = i64, Path)), security(("bearer" = ["scores.read"])),
    responses((status = 200), (status = 404, body = Problem)))]
pub async fn assessment_rollup(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(rating::rollup(&state, &principal, *path).await?))
}

#[utoipa::path(get, path = "/api/v1/assessments/{assessment_id}/draws", tag = "assessments",
    params(("assessment_id" = i64, Path)), security(("bearer" = ["scores.read"])),
    responses((status = 200), (status = 404, body = Problem)))]
pub async fn list_draws(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(draw::list(&state, &principal, *path).await?))
}

/// Random audit draw (随机抽查) of N reviewed branches, recorded with its seed.
#[utoipa::path(post, path = "/api/v1/assessments/{assessment_id}/draws", tag = "assessments",
    params(("assessment_id" = i64, Path)), request_body = draw::DrawInput,
    security(("bearer" = ["org.write"])), responses((status = 201), (status = 400, body = Problem)))]
pub async fn create_draw(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<draw::DrawInput>,
) -> AppResult<HttpResponse> {
    let d = draw::record(&state, &principal, *path, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(d))
}

/// The recorded draw run again from its seed: the same branches.
#[utoipa::path(get, path = "/api/v1/draws/{draw_id}/repeat", tag = "assessments",
    params(("draw_id" = i64, Path)), security(("bearer" = ["scores.read"])),
    responses((status = 200), (status = 404, body = Problem)))]
pub async fn repeat_draw(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(draw::repeat(&state, &principal, *path).await?))
}

/// The scorecards of the caller's branches.
#[utoipa::path(get, path = "/api/v1/scorecards", tag = "assessments",
    security(("bearer" = ["scores.read"])), responses((status = 200)))]
pub async fn list_scorecards(
    state: web::Data<AppState>,
    principal: Principal,
) -> AppResult<HttpResponse> {
    let rows = service::my_scorecards(&state, &principal).await?;
    let out: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|(a, s)| serde_json::json!({"assessment": a, "scorecard": s}))
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

#[utoipa::path(get, path = "/api/v1/scorecards/{scorecard_id}", tag = "assessments",
    params(("scorecard_id" = i64, Path)), security(("bearer" = ["scores.read"])),
    responses((status = 200), (status = 404, body = Problem)))]
pub async fn get_scorecard(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let c = service::branch_scoped(&state.db, &principal, Perm::ScoresRead, *path).await?;
    Ok(HttpResponse::Ok().json(service::view(&state, &c).await?))
}

/// The branch's self-assessment (自评): a self score (0 … weight) and evidence per item.
#[utoipa::path(post, path = "/api/v1/scorecards/{scorecard_id}/self", tag = "assessments",
    params(("scorecard_id" = i64, Path)), request_body = service::SelfInput,
    security(("bearer" = ["scores.write"])), responses((status = 200), (status = 409, body = Problem)))]
pub async fn save_self(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<service::SelfInput>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok()
        .json(service::save_self(&state, &principal, *path, body.into_inner()).await?))
}

/// An evidence photo for an item (JPEG or PNG as the request body).
#[utoipa::path(post, path = "/api/v1/scorecards/{scorecard_id}/lines/{code}/files", tag = "assessments",
    params(("scorecard_id" = i64, Path), ("code" = String, Path)),
    request_body(content = Vec<u8>, content_type = "image/jpeg"),
    security(("bearer" = ["scores.write"])), responses((status = 201), (status = 409, body = Problem)))]
pub async fn upload_evidence(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(i64, String)>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let (id, code) = path.into_inner();
    if body.is_empty() {
        return Err(AppError::bad_request("请求体为空：请上传 JPEG 或 PNG 图片"));
    }
    let u = service::attach_file(&state, &principal, id, &code, &body).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({"upload_id": u})))
}

/// Submits the self-assessment (every item scored, before the self-assessment date).
#[utoipa::path(post, path = "/api/v1/scorecards/{scorecard_id}/submit", tag = "assessments",
    params(("scorecard_id" = i64, Path)), security(("bearer" = ["review"])),
    responses((status = 200), (status = 409, body = Problem)))]
pub async fn submit_self(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::submit(&state, &principal, *path).await?))
}

/// The committee's review (JH-6): review scores with reasons, the bottom line (JH-4).
#[utoipa::path(post, path = "/api/v1/scorecards/{scorecard_id}/review", tag = "assessments",
    params(("scorecard_id" = i64, Path)), request_body = service::ReviewInput,
    security(("bearer" = ["org.write"])), responses((status = 200), (status = 409, body = Problem)))]
pub async fn review_scorecard(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<service::ReviewInput>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok()
        .json(service::review(&state, &principal, *path, body.into_inner()).await?))
}

/// A one-vote veto (一票否决, JH-4) with its cause and evidence.
#[utoipa::path(post, path = "/api/v1/scorecards/{scorecard_id}/vetoes", tag = "assessments",
    params(("scorecard_id" = i64, Path)), request_body = service::VetoInput,
    security(("bearer" = ["org.write"])), responses((status = 201), (status = 400, body = Problem)))]
pub async fn veto_scorecard(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<service::VetoInput>,
) -> AppResult<HttpResponse> {
    let v = service::veto(&state, &principal, *path, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(v))
}

/// An evidence photo for a veto (JPEG or PNG as the request body).
#[utoipa::path(post, path = "/api/v1/scorecards/{scorecard_id}/veto-files", tag = "assessments",
    params(("scorecard_id" = i64, Path)), request_body(content = Vec<u8>, content_type = "image/jpeg"),
    security(("bearer" = ["org.write"])), responses((status = 201), (status = 409, body = Problem)))]
pub async fn upload_veto_evidence(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    if body.is_empty() {
        return Err(AppError::bad_request("请求体为空：请上传 JPEG 或 PNG 图片"));
    }
    let u = service::veto_file(&state, &principal, *path, &body).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({"upload_id": u})))
}

/// An evidence file of the scorecard.
#[utoipa::path(get, path = "/api/v1/scorecards/{scorecard_id}/files/{upload_id}", tag = "assessments",
    params(("scorecard_id" = i64, Path), ("upload_id" = i64, Path)),
    security(("bearer" = ["scores.read"])), responses((status = 200), (status = 404, body = Problem)))]
pub async fn get_file(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(i64, i64)>,
) -> AppResult<HttpResponse> {
    let (id, upload) = path.into_inner();
    let u = service::file(&state, &principal, id, upload).await?;
    Ok(crate::uploads::respond(&u))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FormatQuery {
    /// `xlsx` (default) or `csv`.
    pub format: Option<ExportFormat>,
}

/// The scorecard form: 项目, 分值, 自评分, 审核分, 扣分原因与佐证, 合计, 等次.
#[utoipa::path(get, path = "/api/v1/scorecards/{scorecard_id}/export", tag = "exports",
    params(("scorecard_id" = i64, Path), FormatQuery), security(("bearer" = ["scores.read"])),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn export_scorecard(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    q: web::Query<FormatQuery>,
) -> AppResult<HttpResponse> {
    let c = service::branch_scoped(&state.db, &principal, Perm::ScoresRead, *path).await?;
    download(
        &state,
        &principal,
        &c,
        q.format.unwrap_or(ExportFormat::Xlsx),
    )
    .await
}

/// The form as a download, audited (the API and the console).
pub async fn download(
    state: &AppState,
    principal: &Principal,
    c: &service::Card,
    format: ExportFormat,
) -> AppResult<HttpResponse> {
    let v = service::view(state, c).await?;
    let table = export::table(&v);
    let (bytes, rows) = crate::reports::export::write_off_worker(table, format).await?;
    crate::audit::record(
        &state.db,
        &principal.actor(),
        crate::audit::Entry::new("export_scorecard", "scorecard", c.card.id)
            .org(OrgId(c.branch.id))
            .after(serde_json::json!({"format": format.extension(), "rows": rows})),
    )
    .await?;
    Ok(crate::reports::export::download(
        bytes,
        format,
        &format!("{}_{}年党支部标准化建设考评表", c.branch.name, v.year),
    ))
}
