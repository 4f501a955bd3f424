//! 报表: the official forms (`reports::forms::FORMS`) with their titles, source documents,
//! columns and the preset each applies to, and downloads (XLSX, CSV) for an organization
//! in scope and a year. Secretaries get their branch; the files are the API's
//! (`reports::routes::form_download`, audited).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::context;
use serde::Deserialize;

use crate::auth::Perm;
use crate::console::{ConsoleUser, error, hide, page, respond};
use crate::error::AppError;
use crate::ids::OrgId;
use crate::ledger::routes::{current_year, valid_year};
use crate::reports::export::ExportFormat;
use crate::reports::forms;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/reports", web::get().to(reports))
        .route("/console/reports/download", web::get().to(download));
}

#[derive(Deserialize)]
struct ReportQuery {
    org: Option<i64>,
    year: Option<i32>,
}

async fn reports(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    q: web::Query<ReportQuery>,
) -> HttpResponse {
    respond(&req, &user, async {
        let p = &user.principal;
        p.require(Perm::ScoresRead)?;
        let scope = crate::console::secretary::scope_orgs(&state, p).await?;
        let org = match q.org.or(p.org_id.map(|o| o.0)) {
            Some(id) => crate::org::service::scoped(&state.db, p, Perm::ScoresRead, OrgId(id))
                .await
                .map_err(hide)?,
            None => scope
                .first()
                .cloned()
                .ok_or_else(|| AppError::not_found("您的管辖范围内还没有组织"))?,
        };
        let year = valid_year(q.year.unwrap_or_else(|| current_year(&state, &org)))?;
        let list: Vec<minijinja::Value> = forms::catalogue(&state.scoring)
            .into_iter()
            .map(|f| {
                context! {
                    key => f.key, title => f.title, source => f.source, preset => f.preset,
                    columns => f.columns, shape => f.shape, export => f.export,
                    available => f.available,
                }
            })
            .collect();
        let orgs: Vec<minijinja::Value> = scope
            .iter()
            .map(|o| context! { id => o.id, name => o.name.clone() })
            .collect();
        Ok(page(
            &req,
            &user,
            StatusCode::OK,
            "console/reports.html",
            context! {
                title => "报表", forms => list, orgs => orgs,
                org => context! { id => org.id, name => org.name.clone() }, year => year,
            },
        ))
    })
    .await
}

#[derive(Deserialize)]
struct DownloadQuery {
    form: String,
    org: i64,
    year: i32,
    format: Option<String>,
}

/// A form's file for an organization in scope (else 404, as every console record).
async fn download(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    q: web::Query<DownloadQuery>,
) -> HttpResponse {
    let run = async {
        let org =
            crate::org::service::scoped(&state.db, &user.principal, Perm::ScoresRead, OrgId(q.org))
                .await
                .map_err(hide)?;
        let format = match q.format.as_deref() {
            Some("csv") => ExportFormat::Csv,
            _ => ExportFormat::Xlsx,
        };
        crate::reports::routes::form_download(
            &state,
            &user.principal,
            &org,
            &q.form,
            q.year,
            format,
        )
        .await
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}
