//! HTTP handlers for organizations, people and the roster import.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::import::{self, ImportReport};
use super::people::{
    self, Contact, ExemptionView, HistoryEntry, NewExemption, NewPerson, PeoplePage, PeopleQuery,
    PersonPatch, PersonView, RoleChange, StatusChange, Transfer,
};
use super::service::{self, NewOrg, OrgPatch, OrgView};
use crate::auth::{Perm, Principal};
use crate::error::{AppError, AppResult, Problem};
use crate::ids::{OrgId, PersonId};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig, upload_limit: usize) {
    cfg.route("/orgs", web::get().to(list_orgs))
        .route("/orgs", web::post().to(create_org))
        .route("/orgs/{org_id}", web::get().to(get_org))
        .route("/orgs/{org_id}", web::patch().to(update_org))
        .route("/people", web::get().to(list_people))
        .route("/people", web::post().to(create_person))
        .route("/people/{person_id}", web::get().to(get_person))
        .route("/people/{person_id}", web::patch().to(update_person))
        .route("/people/{person_id}/contact", web::get().to(person_contact))
        .route("/people/{person_id}/role", web::post().to(change_role))
        .route("/people/{person_id}/transfer", web::post().to(transfer))
        .route("/people/{person_id}/status", web::post().to(change_status))
        .route("/people/{person_id}/history", web::get().to(history))
        .route(
            "/people/{person_id}/exemptions",
            web::get().to(list_exemptions),
        )
        .route(
            "/people/{person_id}/exemptions",
            web::post().to(add_exemption),
        )
        .route(
            "/people/{person_id}/wechat",
            web::delete().to(unbind_wechat),
        )
        .route("/imports/roster/template.csv", web::get().to(template_csv))
        .route(
            "/imports/roster/template.xlsx",
            web::get().to(template_xlsx),
        )
        .service(
            web::resource("/imports/roster")
                .app_data(web::PayloadConfig::new(upload_limit))
                .route(web::post().to(import_roster)),
        );
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OrgQuery {
    /// Only the direct children of this organization.
    pub parent_id: Option<i64>,
}

/// Organizations in the caller's scope.
#[utoipa::path(get, path = "/api/v1/orgs", tag = "orgs", params(OrgQuery),
    security(("bearer" = ["org.read"])),
    responses((status = 200, body = Vec<OrgView>), (status = 403, body = Problem)))]
pub async fn list_orgs(
    state: web::Data<AppState>,
    principal: Principal,
    q: web::Query<OrgQuery>,
) -> AppResult<HttpResponse> {
    Ok(
        HttpResponse::Ok()
            .json(service::list(&state.db, &principal, q.parent_id.map(OrgId)).await?),
    )
}

/// Create an organization under a parent in scope (a top-level one needs a global admin).
#[utoipa::path(post, path = "/api/v1/orgs", tag = "orgs", request_body = NewOrg,
    security(("bearer" = ["org.write"])),
    responses((status = 201, body = OrgView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn create_org(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<NewOrg>,
) -> AppResult<HttpResponse> {
    let view = service::create(
        &state.db,
        &principal.actor(),
        Some(&principal),
        body.into_inner(),
    )
    .await?;
    Ok(HttpResponse::Created().json(view))
}

/// One organization.
#[utoipa::path(get, path = "/api/v1/orgs/{org_id}", tag = "orgs", params(("org_id" = i64, Path)),
    security(("bearer" = ["org.read"])),
    responses((status = 200, body = OrgView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_org(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let org = service::scoped(&state.db, &principal, Perm::OrgRead, OrgId(*path)).await?;
    Ok(HttpResponse::Ok().json(OrgView::from(&org)))
}

/// Rename an organization, change its time zone or whether members see their rank.
#[utoipa::path(patch, path = "/api/v1/orgs/{org_id}", tag = "orgs", params(("org_id" = i64, Path)), request_body = OrgPatch,
    security(("bearer" = ["org.write"])),
    responses((status = 200, body = OrgView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn update_org(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<OrgPatch>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok()
        .json(service::update(&state.db, &principal, OrgId(*path), body.into_inner()).await?))
}

/// People in an organization subtree (phones masked), paged by id.
#[utoipa::path(get, path = "/api/v1/people", tag = "people", params(PeopleQuery),
    security(("bearer" = ["people.read"])),
    responses((status = 200, body = PeoplePage), (status = 403, body = Problem)))]
pub async fn list_people(
    state: web::Data<AppState>,
    principal: Principal,
    q: web::Query<PeopleQuery>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(people::list(&state.db, &principal, q.into_inner()).await?))
}

/// Add a person to an organization in scope.
#[utoipa::path(post, path = "/api/v1/people", tag = "people", request_body = NewPerson,
    security(("bearer" = ["people.write"])),
    responses((status = 201, body = PersonView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn create_person(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<NewPerson>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Created()
        .json(people::create(&state.db, &principal, body.into_inner()).await?))
}

/// One person (phone masked).
#[utoipa::path(get, path = "/api/v1/people/{person_id}", tag = "people", params(("person_id" = i64, Path)),
    security(("bearer" = ["people.read"])),
    responses((status = 200, body = PersonView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_person(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(people::get(&state.db, &principal, PersonId(*path)).await?))
}

/// Correct a person's name, phone, 编号 or birth date.
#[utoipa::path(patch, path = "/api/v1/people/{person_id}", tag = "people", params(("person_id" = i64, Path)), request_body = PersonPatch,
    security(("bearer" = ["people.write"])),
    responses((status = 200, body = PersonView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn update_person(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<PersonPatch>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok()
        .json(people::update(&state.db, &principal, PersonId(*path), body.into_inner()).await?))
}

/// A person's full phone number. Every read is written to the audit log.
#[utoipa::path(get, path = "/api/v1/people/{person_id}/contact", tag = "people", params(("person_id" = i64, Path)),
    security(("bearer" = ["people.personal_read"])),
    responses((status = 200, body = Contact), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn person_contact(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(people::contact(&state.db, &principal, PersonId(*path)).await?))
}

/// Record a role change (e.g. probationary → member) with its effective date.
#[utoipa::path(post, path = "/api/v1/people/{person_id}/role", tag = "people", params(("person_id" = i64, Path)), request_body = RoleChange,
    security(("bearer" = ["people.write"])),
    responses((status = 200, body = PersonView), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn change_role(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<RoleChange>,
) -> AppResult<HttpResponse> {
    let view =
        people::change_role(&state.db, &principal, PersonId(*path), body.into_inner()).await?;
    rescore(&state, *path, None).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Transfer a person to another organization in scope; the history keeps the old one.
#[utoipa::path(post, path = "/api/v1/people/{person_id}/transfer", tag = "people", params(("person_id" = i64, Path)), request_body = Transfer,
    security(("bearer" = ["people.write"])),
    responses((status = 200, body = PersonView), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn transfer(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<Transfer>,
) -> AppResult<HttpResponse> {
    let view = people::transfer(&state.db, &principal, PersonId(*path), body.into_inner()).await?;
    rescore(&state, *path, None).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Change a person's status (transferred out, deceased, left).
#[utoipa::path(post, path = "/api/v1/people/{person_id}/status", tag = "people", params(("person_id" = i64, Path)), request_body = StatusChange,
    security(("bearer" = ["people.write"])),
    responses((status = 200, body = PersonView), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn change_status(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<StatusChange>,
) -> AppResult<HttpResponse> {
    let view =
        people::change_status(&state.db, &principal, PersonId(*path), body.into_inner()).await?;
    rescore(&state, *path, None).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Role changes, transfers, status changes and WeChat bindings, oldest first.
#[utoipa::path(get, path = "/api/v1/people/{person_id}/history", tag = "people", params(("person_id" = i64, Path)),
    security(("bearer" = ["people.read"])),
    responses((status = 200, body = Vec<HistoryEntry>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn history(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(people::history(&state.db, &principal, PersonId(*path)).await?))
}

/// Exemption decisions (XH-20, SD-7, TW-8), oldest first.
#[utoipa::path(get, path = "/api/v1/people/{person_id}/exemptions", tag = "people", params(("person_id" = i64, Path)),
    security(("bearer" = ["people.read"])),
    responses((status = 200, body = Vec<ExemptionView>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_exemptions(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok()
        .json(people::list_exemptions(&state.db, &principal, PersonId(*path)).await?))
}

/// Grant or revoke an exemption for a year or permanently.
#[utoipa::path(post, path = "/api/v1/people/{person_id}/exemptions", tag = "people", params(("person_id" = i64, Path)), request_body = NewExemption,
    security(("bearer" = ["people.write"])),
    responses((status = 201, body = ExemptionView), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn add_exemption(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<NewExemption>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let year = body.year;
    let view = people::add_exemption(&state.db, &principal, PersonId(*path), body).await?;
    rescore(&state, *path, year).await?;
    Ok(HttpResponse::Created().json(view))
}

/// A change of a person's history or exemptions shows in their running score at once.
pub async fn rescore(state: &AppState, person: i64, also: Option<i32>) -> AppResult<()> {
    crate::ledger::post::repost_person(&state.db, &state.scoring, person, state.clock.now(), also)
        .await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UnbindQuery {
    pub reason: Option<String>,
}

/// Remove a person's WeChat binding (lost phone, new account).
#[utoipa::path(delete, path = "/api/v1/people/{person_id}/wechat", tag = "people", params(("person_id" = i64, Path), UnbindQuery),
    security(("bearer" = ["wechat.bind"])),
    responses((status = 200, body = PersonView), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn unbind_wechat(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    q: web::Query<UnbindQuery>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(
        people::unbind_openid(
            &state.db,
            &principal,
            PersonId(*path),
            q.into_inner().reason,
        )
        .await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// List every bad row and change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Import a roster (CSV in UTF-8 or XLSX, sent as the request body). All-or-nothing and idempotent.
#[utoipa::path(post, path = "/api/v1/imports/roster", tag = "imports", params(ImportQuery),
    request_body(content = Vec<u8>, content_type = "text/csv"),
    security(("bearer" = ["people.write"])),
    responses((status = 200, body = ImportReport), (status = 400, body = Problem), (status = 403, body = Problem), (status = 413, body = Problem)))]
pub async fn import_roster(
    state: web::Data<AppState>,
    principal: Principal,
    q: web::Query<ImportQuery>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    principal.require(Perm::PeopleWrite)?;
    if body.is_empty() {
        return Err(AppError::bad_request("请求体为空：请上传 CSV 或 XLSX 文件"));
    }
    let report = import::import(
        &state.db,
        &principal.actor(),
        Some(&principal),
        &body,
        q.dry_run,
        &|_, _, _| {},
    )
    .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// The roster template as CSV (UTF-8 with BOM).
#[utoipa::path(get, path = "/api/v1/imports/roster/template.csv", tag = "imports",
    security(("bearer" = ["authenticated"])),
    responses((status = 200, content_type = "text/csv"), (status = 401, body = Problem)))]
pub async fn template_csv(_principal: Principal) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"roster-template.csv\"",
        ))
        .body(import::template_csv()))
}

/// The roster template as XLSX.
#[utoipa::path(get, path = "/api/v1/imports/roster/template.xlsx", tag = "imports",
    security(("bearer" = ["authenticated"])),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), (status = 401, body = Problem)))]
pub async fn template_xlsx(_principal: Principal) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok()
        .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"roster-template.xlsx\"",
        ))
        .body(import::template_xlsx()?))
}
