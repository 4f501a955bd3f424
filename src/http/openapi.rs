//! The OpenAPI document, generated from the handlers' annotations. Each operation's
//! `security` names what it needs: `{}` for public endpoints, otherwise the bearer
//! scheme with the permission as its scope. A test walks the document and fails for
//! any operation without one, or without a scope test.

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{audit, auth, cases, checkin, error, http, ledger, org, reports};

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Vanguard", description = "党员先锋指数 / 党组织堡垒指数 积分管理 API"),
    paths(
        http::health::healthz,
        http::health::readyz,
        http::metrics::metrics,
        document,
        auth::routes::login,
        auth::routes::refresh,
        auth::routes::logout,
        auth::routes::end_login,
        auth::routes::me,
        auth::routes::change_password,
        auth::routes::list_accounts,
        auth::routes::create_account,
        auth::routes::get_account,
        auth::routes::update_account,
        auth::routes::reset_password,
        org::routes::list_orgs,
        org::routes::create_org,
        org::routes::get_org,
        org::routes::update_org,
        org::routes::list_people,
        org::routes::create_person,
        org::routes::get_person,
        org::routes::update_person,
        org::routes::person_contact,
        org::routes::change_role,
        org::routes::transfer,
        org::routes::change_status,
        org::routes::history,
        org::routes::list_exemptions,
        org::routes::add_exemption,
        org::routes::unbind_wechat,
        org::routes::import_roster,
        org::routes::template_csv,
        org::routes::template_xlsx,
        audit::routes::list,
        ledger::routes::record_item,
        ledger::routes::get_fact,
        ledger::routes::annul_fact,
        ledger::routes::person_score,
        ledger::routes::org_score,
        ledger::routes::rankings,
        ledger::routes::get_org_policy,
        ledger::routes::set_org_policy,
        ledger::routes::close,
        ledger::routes::list_policies,
        ledger::routes::get_policy,
        checkin::routes::create_activity,
        checkin::routes::list_activities,
        checkin::routes::get_activity,
        checkin::routes::open_session,
        checkin::routes::close_session,
        checkin::routes::get_session,
        checkin::routes::session_qr,
        checkin::routes::session_qr_svg,
        checkin::routes::session_qr_png,
        checkin::routes::session_attendance,
        checkin::routes::activity_attendance,
        checkin::routes::session_live,
        checkin::routes::enter_checkins,
        checkin::routes::correct,
        checkin::makeup::create_material,
        checkin::makeup::list_materials,
        cases::routes::list_cases,
        cases::routes::get_case,
        cases::routes::accept_case,
        cases::routes::propose_case,
        cases::routes::reject_case,
        cases::routes::get_upload,
        reports::routes::export_attendance,
        reports::routes::export_register,
        checkin::projector::issue_token,
        checkin::projector::end_token,
    ),
    components(schemas(error::Problem, error::ErrorCode, error::FieldError)),
    modifiers(&Security)
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "ops", security(()), responses((status = 200)))]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
