//! The OpenAPI document, generated from the handlers' annotations. Each operation's
//! `security` names what it needs: `{}` for public endpoints, otherwise the bearer
//! scheme with the permission as its scope. A test walks the document and fails for
//! any operation without one, or without a scope test.

use actix_web::HttpResponse;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::{audit, auth, cases, checkin, error, http, ledger, org, reports, review, rewards};

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

/// Every refusal is an RFC 9457 problem: each operation lists the ones it can answer
/// (400 for malformed input; 401/403 behind a bearer token; 404 where the path, query
/// or body names a record; 409/413/415 where a body is sent; 429/503 anywhere), as
/// `application/problem+json`, so clients and fuzzers can trust the document.
struct Problems;

const PROBLEM_TYPE: &str = "application/problem+json";

fn problem_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build();
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(PROBLEM_TYPE, content)
            .build(),
    )
}

impl Problems {
    fn apply(path: &str, method: &str, op: &mut Operation) {
        let bearer = op
            .security
            .as_ref()
            .is_some_and(|reqs| reqs.iter().any(|r| *r != SecurityRequirement::default()));
        let writes = matches!(method, "post" | "put" | "patch" | "delete");
        let mut statuses = vec![
            ("400", "请求有误"),
            ("429", "请求过于频繁"),
            ("503", "服务暂不可用"),
        ];
        if bearer {
            statuses.push(("401", "未登录或登录凭证无效"));
            statuses.push(("403", "无权进行此操作"));
        }
        // A path, a query or a body that names a record may name one that does not exist.
        let has_query = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
        if path.contains('{') || has_query || op.request_body.is_some() {
            statuses.push(("404", "未找到"));
        }
        if writes {
            statuses.push(("409", "与现有数据冲突"));
        }
        if op.request_body.is_some() {
            statuses.push(("413", "请求体过大"));
            statuses.push(("415", "不支持的内容类型"));
        }
        let responses = &mut op.responses.responses;
        // Declared refusals keep their description but speak problem+json.
        for (status, response) in responses.iter_mut() {
            if status.starts_with('4') || status.starts_with('5') {
                let description = match response {
                    RefOr::T(r) => r.description.clone(),
                    RefOr::Ref(_) => String::new(),
                };
                let description = if description.is_empty() {
                    "请求被拒绝".to_owned()
                } else {
                    description
                };
                *response = problem_response(&description);
            }
        }
        for (status, description) in statuses {
            responses
                .entry(status.to_owned())
                .or_insert_with(|| problem_response(description));
        }
    }
}

impl Modify for Problems {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for (path, item) in doc.paths.paths.iter_mut() {
            for (method, op) in [
                ("get", &mut item.get),
                ("post", &mut item.post),
                ("put", &mut item.put),
                ("patch", &mut item.patch),
                ("delete", &mut item.delete),
            ] {
                if let Some(op) = op.as_mut() {
                    Self::apply(path, method, op);
                }
            }
        }
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
        checkin::materials::create_material,
        checkin::materials::list_materials,
        cases::routes::list_cases,
        cases::routes::get_case,
        cases::routes::accept_case,
        cases::routes::propose_case,
        cases::routes::reject_case,
        cases::routes::get_upload,
        reports::routes::export_attendance,
        reports::routes::export_register,
        reports::routes::list_forms,
        reports::routes::export_form,
        checkin::projector::issue_token,
        checkin::projector::end_token,
        checkin::card::routes::get_card,
        checkin::card::routes::issue_card,
        checkin::card::routes::card_svg,
        checkin::card::routes::reissue_card,
        checkin::card::routes::revoke_card,
        checkin::card::routes::issue_cards,
        checkin::card::routes::take_card,
        review::rankings::routes::publish_ranking,
        review::rankings::routes::file_ranking,
        review::rankings::routes::list_filings,
        review::rankings::routes::rank_evidence,
        review::rankings::routes::rank_flags,
        review::rankings::routes::handle_rank_flag,
        review::rankings::routes::open_falsification,
        review::rankings::routes::get_falsification,
        review::rankings::routes::annul_falsified,
        review::rankings::routes::conclude_falsification,
        review::rankings::routes::list_falsifications,
        review::rankings::routes::list_proposals,
        review::rankings::routes::confirm_proposal,
        review::rankings::routes::decline_proposal,
        crate::review::routes::get_stars,
        crate::review::routes::confirm_stars,
        crate::review::routes::file_stars,
        crate::review::routes::publish_stars,
        crate::review::routes::list_follow_ups,
        crate::review::routes::record_follow_up,
        crate::review::routes::get_results,
        crate::review::routes::export_results,
        crate::review::routes::confirm_excellent,
        rewards::routes::list_items,
        rewards::routes::add_item,
        rewards::routes::retire_item,
        rewards::routes::person_rewards,
        rewards::routes::check_code,
        rewards::routes::redeem_code,
        rewards::routes::get_settings,
        rewards::routes::put_settings,
        review::scorecard::routes::list_assessments,
        review::scorecard::routes::open_assessment,
        review::scorecard::routes::get_assessment,
        review::scorecard::routes::extend_assessment,
        review::scorecard::routes::assessment_rollup,
        review::scorecard::routes::list_draws,
        review::scorecard::routes::create_draw,
        review::scorecard::routes::repeat_draw,
        review::scorecard::routes::list_scorecards,
        review::scorecard::routes::get_scorecard,
        review::scorecard::routes::save_self,
        review::scorecard::routes::upload_evidence,
        review::scorecard::routes::submit_self,
        review::scorecard::routes::review_scorecard,
        review::scorecard::routes::veto_scorecard,
        review::scorecard::routes::upload_veto_evidence,
        review::scorecard::routes::get_file,
        review::scorecard::routes::export_scorecard,
    ),
    components(schemas(error::Problem, error::ErrorCode, error::FieldError)),
    modifiers(&Security, &Problems)
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "ops", security(()), responses((status = 200)))]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fuzzing pass (scripts/fuzz-api.sh) holds the server to this document: every
    /// refusal it can meet must be declared, as a problem.
    /// utoipa names a component after its type; two types of one name would silently
    /// share one schema (the rewards catalogue's `Item` once replaced the attendance row's).
    #[test]
    fn schemas_of_the_same_name_are_one_type() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("serializes");
        let schemas = &doc["components"]["schemas"];
        let props = |name: &str| {
            schemas[name]["properties"]
                .as_object()
                .map(|p| p.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
        };
        assert!(
            props("Item").contains(&"status".to_owned()),
            "{:?}",
            props("Item")
        );
        assert!(props("RewardItem").contains(&"yuan".to_owned()));
    }

    #[test]
    fn every_operation_declares_its_refusals_as_problems() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("serializes");
        let paths = doc["paths"].as_object().expect("paths");
        let mut seen = 0;
        for (path, item) in paths {
            for (method, op) in item.as_object().expect("path item") {
                let responses = op["responses"].as_object().expect("responses");
                let bearer = op["security"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|s| s.get("bearer").is_some()));
                let mut expected = vec!["400", "429", "503"];
                if bearer {
                    expected.extend(["401", "403"]);
                }
                if path.contains('{') {
                    expected.push("404");
                }
                for status in expected {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} does not declare {status}"
                    );
                }
                for (status, response) in responses {
                    if status.starts_with('4') || status.starts_with('5') {
                        assert!(
                            response["content"].get(PROBLEM_TYPE).is_some(),
                            "{method} {path} {status} is not a problem"
                        );
                        assert!(response["content"].get("application/json").is_none());
                    }
                }
                seen += 1;
            }
        }
        assert!(seen > 50, "only {seen} operations");
    }
}
