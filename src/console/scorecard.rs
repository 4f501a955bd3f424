//! 支部考评 in the console (`review::scorecard`): the secretary's self-assessment on the
//! phone (自评: a score and evidence per item, photos, submit), the committee's desktop
//! pages (assessments and their branches, the review per item, vetoes, the bottom line,
//! the random audit draw and its repetition, ratings and the roll-up, downloads).
//! These handlers gather input and show results; the rules are the services'.

use std::collections::BTreeMap;

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use minijinja::{Value, context};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{ConsoleUser, Posted, error, hide, page, refuse_cross_site, respond};
use crate::auth::Perm;
use crate::error::{AppError, AppResult};
use crate::ids::OrgId;
use crate::ledger::queries::Points;
use crate::policy::{fmt_dec, parse_dec};
use crate::reports::export::ExportFormat;
use crate::review::scorecard::export::sanction_label;
use crate::review::scorecard::service::{self, Deadline, Extension, NewAssessment};
use crate::review::scorecard::{draw, rating, routes};
use crate::state::AppState;
use crate::web::member::see_other;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/scorecards", web::get().to(my_cards))
        .route("/console/scorecards/{id}", web::get().to(show))
        .route("/console/scorecards/{id}/self", web::post().to(save_self))
        .route("/console/scorecards/{id}/submit", web::post().to(submit))
        .route("/console/scorecards/{id}/files", web::post().to(upload))
        .route("/console/scorecards/{id}/review", web::post().to(review))
        .route("/console/scorecards/{id}/veto", web::post().to(veto))
        .route(
            "/console/scorecards/{id}/files/{upload}",
            web::get().to(file),
        )
        .route("/console/scorecards/{id}/export", web::get().to(export))
        .route("/console/assessments", web::get().to(assessments))
        .route("/console/assessments", web::post().to(open))
        .route("/console/assessments/{id}", web::get().to(assessment))
        .route("/console/assessments/{id}/extend", web::post().to(extend))
        .route("/console/assessments/{id}/draw", web::post().to(make_draw))
        .route("/console/draws/{id}", web::get().to(repeat));
}

fn errors_of(e: &AppError) -> Value {
    let mut m: BTreeMap<String, String> = BTreeMap::new();
    for f in &e.errors {
        m.entry(f.field.clone())
            .or_insert_with(|| f.message.clone());
    }
    m.insert("form".to_owned(), e.detail.clone());
    Value::from(m)
}

/// A service view (JSON) as a template value; exact numbers stay as written.
fn from_json(v: serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::from(()),
        serde_json::Value::Bool(b) => Value::from(b),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map(Value::from)
            .or_else(|| parse_dec(&n.to_string()).map(|d| Value::from(fmt_dec(d))))
            .unwrap_or_else(|| Value::from(n.to_string())),
        serde_json::Value::String(s) => Value::from(s),
        serde_json::Value::Array(a) => {
            Value::from(a.into_iter().map(from_json).collect::<Vec<_>>())
        }
        serde_json::Value::Object(o) => Value::from(
            o.into_iter()
                .map(|(k, v)| (k, from_json(v)))
                .collect::<BTreeMap<String, Value>>(),
        ),
    }
}

fn no_errors() -> Value {
    Value::from(BTreeMap::<String, String>::new())
}

fn pts(p: Option<Points>) -> String {
    p.map(|p| fmt_dec(p.0)).unwrap_or_default()
}

// ---------------------------------------------------------------------------------
// Scorecards

async fn my_cards(state: web::Data<AppState>, req: HttpRequest, user: ConsoleUser) -> HttpResponse {
    respond(&req, &user, async {
        let rows = service::my_scorecards(&state, &user.principal).await?;
        let items: Vec<Value> = rows
            .into_iter()
            .map(|(a, s)| {
                context! {
                    id => s.id, year => a.year, committee => a.org_name, org => s.org_name,
                    state => s.state_label, self_until => a.self_until.to_string(),
                    total => pts(s.total), rating => s.rating_label, vetoed => s.vetoed,
                }
            })
            .collect();
        Ok(page(
            &req,
            &user,
            StatusCode::OK,
            "console/scorecards.html",
            context! { title => "支部自评", items => items, narrow => true },
        ))
    })
    .await
}

async fn card_page(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    id: i64,
    status: StatusCode,
    errors: Value,
    flash: Option<&str>,
) -> AppResult<HttpResponse> {
    let c = service::branch_scoped(&state.db, &user.principal, Perm::ScoresRead, id)
        .await
        .map_err(hide)?;
    let v = service::view(state, &c).await?;
    let reviewer = user.can(Perm::OrgWrite) && user.principal.covers(&c.committee.path);
    let may_self = user.can(Perm::ScoresWrite) && v.self_open;
    let may_submit = user.can(Perm::Review) && v.self_open;
    let may_review = reviewer && v.review_open && (v.state != service::DRAFT || !v.self_open);
    let card = serde_json::to_value(&v).map_err(AppError::internal)?;
    let sanction_levels: Vec<Value> = v
        .bottom
        .sanction_levels
        .iter()
        .map(|(l, p)| context! { value => l.clone(), label => format!("{}（扣 {} 分）", sanction_label(l), fmt_dec(p.0)) })
        .collect();
    let sanctions: Vec<Value> = v
        .bottom
        .sanctions
        .iter()
        .map(|s| context! { name => s.name.clone(), level => sanction_label(&s.level).to_owned() })
        .collect();
    Ok(page(
        req,
        user,
        status,
        "console/scorecard.html",
        context! {
            title => format!("{} {} 年度考评", v.org_name, v.year),
            card => from_json(card),
            may_self => may_self, may_submit => may_submit, may_review => may_review,
            reviewer => reviewer,
            sanction_levels => sanction_levels, sanction_rows => sanctions,
            errors => errors, flash => flash,
            narrow => !reviewer,
        },
    ))
}

async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    q: web::Query<BTreeMap<String, String>>,
) -> HttpResponse {
    let flash = match q.get("done").map(String::as_str) {
        Some("self") => Some("自评已保存。"),
        Some("submit") => Some("自评已提交，等待上级党组织审核。"),
        Some("file") => Some("佐证图片已上传。"),
        Some("review") => Some("审核已保存。"),
        Some("veto") => Some("一票否决已记录。"),
        _ => None,
    };
    respond(
        &req,
        &user,
        card_page(
            &state,
            &req,
            &user,
            *path,
            StatusCode::OK,
            no_errors(),
            flash,
        ),
    )
    .await
}

fn score_of(f: &super::Fields, name: &str, label: &str) -> AppResult<Option<Points>> {
    let v = f.get(name);
    if v.is_empty() {
        return Ok(None);
    }
    parse_dec(&v)
        .map(|d| Some(Points(d)))
        .ok_or_else(|| AppError::field(name, format!("{label}须为数字")))
}

async fn after(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    id: i64,
    done: &str,
    r: AppResult<()>,
) -> HttpResponse {
    match r {
        Ok(()) => see_other(&format!("/console/scorecards/{id}?done={done}")),
        Err(e)
            if e.code.status().is_client_error()
                && e.code != crate::error::ErrorCode::Forbidden =>
        {
            let status = e.code.status();
            card_page(state, req, user, id, status, errors_of(&e), None)
                .await
                .unwrap_or_else(|e| error(req, user, &e))
        }
        Err(e) => error(req, user, &hide(e)),
    }
}

async fn save_self(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    Posted(f): Posted,
) -> HttpResponse {
    let id = *path;
    let r = async {
        let c = service::branch_scoped(&state.db, &user.principal, Perm::ScoresRead, id)
            .await
            .map_err(hide)?;
        let sheet = service::sheet_of(&state, &c.assessment.policy)?;
        let mut items = Vec::new();
        for i in &sheet.indicators {
            if let Some(score) = score_of(&f, &format!("s_{}", i.code), &i.label)? {
                let evidence = f.get(&format!("e_{}", i.code));
                items.push(service::SelfItem {
                    code: i.code.clone(),
                    score,
                    evidence: (!evidence.is_empty()).then_some(evidence),
                });
            }
        }
        service::save_self(&state, &user.principal, id, service::SelfInput { items }).await?;
        if f.get("and_submit") == "1" {
            service::submit(&state, &user.principal, id).await?;
        }
        Ok::<(), AppError>(())
    }
    .await;
    let done = if f.get("and_submit") == "1" {
        "submit"
    } else {
        "self"
    };
    after(&state, &req, &user, id, done, r).await
}

async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    Posted(_): Posted,
) -> HttpResponse {
    let id = *path;
    let r = service::submit(&state, &user.principal, id)
        .await
        .map(|_| ());
    after(&state, &req, &user, id, "submit", r).await
}

/// Reads a multipart form: text fields and one photo.
async fn multipart(
    state: &AppState,
    mut payload: Multipart,
) -> AppResult<(BTreeMap<String, String>, Option<Vec<u8>>)> {
    let cap = state.settings.uploads.max_bytes;
    let bad = || AppError::field("photo", "表单无法读取，请重新提交");
    let mut fields = BTreeMap::new();
    let mut photo = None;
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|_| bad())?;
        let name = field.name().unwrap_or_default().to_owned();
        let limit = if name == "photo" { cap } else { 16 * 1024 };
        let mut buf = Vec::new();
        let mut over = false;
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|_| bad())?;
            if buf.len() + chunk.len() > limit {
                over = true;
                continue;
            }
            buf.extend_from_slice(&chunk);
        }
        if name == "photo" {
            if over {
                return Err(AppError::field(
                    "photo",
                    format!("图片不能超过 {} MB", cap / (1024 * 1024)),
                ));
            }
            if !buf.is_empty() {
                photo = Some(buf);
            }
        } else if !over {
            fields.insert(name, String::from_utf8_lossy(&buf).trim().to_owned());
        }
    }
    Ok((fields, photo))
}

async fn upload(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    payload: Multipart,
) -> HttpResponse {
    if let Some(r) = refuse_cross_site(&req) {
        return r;
    }
    let id = *path;
    let r = async {
        let (fields, photo) = multipart(&state, payload).await?;
        let code = fields.get("code").cloned().unwrap_or_default();
        let bytes = photo.ok_or_else(|| AppError::field("photo", "请选择佐证图片"))?;
        service::attach_file(&state, &user.principal, id, &code, &bytes).await?;
        Ok::<(), AppError>(())
    }
    .await;
    after(&state, &req, &user, id, "file", r).await
}

async fn review(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    Posted(f): Posted,
) -> HttpResponse {
    let id = *path;
    let r = async {
        let c = service::committee_scoped(&state.db, &user.principal, id)
            .await
            .map_err(hide)?;
        let sheet = service::sheet_of(&state, &c.assessment.policy)?;
        let mut items = Vec::new();
        for i in &sheet.indicators {
            if let Some(score) = score_of(&f, &format!("r_{}", i.code), &i.label)? {
                let reason = f.get(&format!("why_{}", i.code));
                items.push(service::ReviewItem {
                    code: i.code.clone(),
                    score,
                    reason: (!reason.is_empty()).then_some(reason),
                });
            }
        }
        let members = match f.get("members").as_str() {
            "" => None,
            n => Some(service::MembersInput {
                count: n
                    .parse()
                    .map_err(|_| AppError::field("members.count", "人数须为整数"))?,
                reason: Some(f.get("members_reason")).filter(|r| !r.is_empty()),
            }),
        };
        let names = f.all("sanction_name");
        let levels = f.all("sanction_level");
        let sanctions: Vec<service::SanctionInput> = names
            .into_iter()
            .zip(levels)
            .filter(|(n, _)| !n.is_empty())
            .map(|(name, level)| service::SanctionInput { name, level })
            .collect();
        service::review(
            &state,
            &user.principal,
            id,
            service::ReviewInput {
                items,
                members,
                sanctions: Some(sanctions),
            },
        )
        .await?;
        Ok::<(), AppError>(())
    }
    .await;
    after(&state, &req, &user, id, "review", r).await
}

async fn veto(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    payload: Multipart,
) -> HttpResponse {
    if let Some(r) = refuse_cross_site(&req) {
        return r;
    }
    let id = *path;
    let r = async {
        let (fields, photo) = multipart(&state, payload).await?;
        let get = |k: &str| fields.get(k).cloned().filter(|v| !v.is_empty());
        // A veto without a cause is refused before any photo is stored.
        if get("cause").is_none() {
            return Err(AppError::field("cause", "一票否决须写明原因"));
        }
        let upload_id = match photo {
            Some(bytes) => Some(service::veto_file(&state, &user.principal, id, &bytes).await?),
            None => None,
        };
        service::veto(
            &state,
            &user.principal,
            id,
            service::VetoInput {
                item: get("item").unwrap_or_default(),
                cause: get("cause"),
                evidence: get("evidence"),
                upload_id,
            },
        )
        .await?;
        Ok::<(), AppError>(())
    }
    .await;
    after(&state, &req, &user, id, "veto", r).await
}

async fn file(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<(i64, i64)>,
) -> HttpResponse {
    let (id, upload) = path.into_inner();
    respond(&req, &user, async {
        let u = service::file(&state, &user.principal, id, upload)
            .await
            .map_err(hide)?;
        Ok(crate::uploads::respond(&u))
    })
    .await
}

async fn export(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    q: web::Query<BTreeMap<String, String>>,
) -> HttpResponse {
    let format = if q.get("format").map(String::as_str) == Some("csv") {
        ExportFormat::Csv
    } else {
        ExportFormat::Xlsx
    };
    respond(&req, &user, async {
        let c = service::branch_scoped(&state.db, &user.principal, Perm::ScoresRead, *path)
            .await
            .map_err(hide)?;
        routes::download(&state, &user.principal, &c, format).await
    })
    .await
}

// ---------------------------------------------------------------------------------
// Assessments (desktop)

async fn committees(state: &AppState, user: &ConsoleUser) -> AppResult<Vec<Value>> {
    use entity::organization::{Column, Entity};
    let mut q = Entity::find().filter(Column::Kind.is_in(["committee", "general_branch"]));
    if let Some(scope) = &user.principal.scope_path {
        q = q.filter(Column::Path.starts_with(scope.as_str()));
    }
    Ok(q.order_by_asc(Column::Path)
        .limit(300)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|o| context! { id => o.id, name => o.name })
        .collect())
}

async fn assessments_page(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    status: StatusCode,
    errors: Value,
    form: Value,
) -> AppResult<HttpResponse> {
    let list = service::list_assessments(state, &user.principal).await?;
    let items: Vec<Value> = list
        .iter()
        .map(|a| {
            let reviewed = a.scorecards.iter().filter(|s| s.state == service::REVIEWED).count();
            context! {
                id => a.id, org => a.org_name.clone(), year => a.year, self_until => a.self_until.to_string(),
                review_until => a.review_until.to_string(), due => a.due.to_string(),
                branches => a.scorecards.len(), reviewed => reviewed,
            }
        })
        .collect();
    let year = crate::ledger::inputs::year_of(state.clock.now(), chrono_tz::Asia::Shanghai);
    Ok(page(
        req,
        user,
        status,
        "console/assessments.html",
        context! {
            title => "支部考评", items => items, may_open => user.can(Perm::OrgWrite),
            orgs => committees(state, user).await?, year => year, errors => errors, form => form,
        },
    ))
}

async fn assessments(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
) -> HttpResponse {
    respond(
        &req,
        &user,
        assessments_page(
            &state,
            &req,
            &user,
            StatusCode::OK,
            no_errors(),
            no_errors(),
        ),
    )
    .await
}

fn date(f: &super::Fields, name: &str, label: &str) -> AppResult<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(&f.get(name), "%Y-%m-%d")
        .map_err(|_| AppError::field(name, format!("请填写{label}")))
}

async fn open(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    Posted(f): Posted,
) -> HttpResponse {
    let r = async {
        let org: i64 = f
            .get("org_id")
            .parse()
            .map_err(|_| AppError::field("org_id", "请选择党委或党总支"))?;
        let year: i32 = f
            .get("year")
            .parse()
            .map_err(|_| AppError::field("year", "请填写年度"))?;
        let input = NewAssessment {
            org_id: OrgId(org),
            year,
            self_until: date(&f, "self_until", "自评截止日")?,
            review_until: date(&f, "review_until", "审核截止日")?,
            policy: None,
        };
        service::open(&state, &user.principal, input).await
    }
    .await;
    match r {
        Ok(a) => see_other(&format!("/console/assessments/{}", a.id)),
        Err(e)
            if e.code.status().is_client_error()
                && e.code != crate::error::ErrorCode::Forbidden =>
        {
            assessments_page(
                &state,
                &req,
                &user,
                e.code.status(),
                errors_of(&e),
                f.values(),
            )
            .await
            .unwrap_or_else(|e| error(&req, &user, &e))
        }
        Err(e) => error(&req, &user, &hide(e)),
    }
}

async fn assessment_page(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    id: i64,
    status: StatusCode,
    errors: Value,
) -> AppResult<HttpResponse> {
    let (a, committee) =
        service::assessment_scoped(&state.db, &user.principal, Perm::ScoresRead, id)
            .await
            .map_err(hide)?;
    let view = service::assessment_view(state, &a, &committee).await?;
    let roll = rating::rollup(state, &user.principal, id).await?;
    let draws = draw::list(state, &user.principal, id).await?;
    let pct = |p: Points| {
        format!(
            "{}%",
            fmt_dec((p.0 * rust_decimal::Decimal::from(100)).round_dp(1))
        )
    };
    let roll_ctx = context! {
        branches => roll.branches, reviewed => roll.reviewed, passing => roll.passing,
        rate => pct(roll.rate), target => roll.target.map(pct), met => roll.met, flag => roll.flag,
        complete => roll.complete, vetoed => roll.vetoed, late => roll.late,
        ratings => roll.ratings.iter().map(|r| context! { label => r.label.clone(), count => r.count }).collect::<Vec<_>>(),
    };
    let cards: Vec<Value> = view
        .scorecards
        .iter()
        .map(|s| {
            context! {
                id => s.id, org => s.org_name.clone(), state => s.state_label, total => pts(s.total),
                rating => s.rating_label.clone(), vetoed => s.vetoed, late => s.late,
            }
        })
        .collect();
    let draws: Vec<Value> = draws
        .iter()
        .map(|d| {
            context! {
                id => d.id, seed => d.seed.clone(), n => d.n, by => d.drawn_by.clone(),
                at => super::when(d.drawn_at, crate::ledger::inputs::tz_of(&committee)),
                result => d.result.iter().map(|r| r.org_name.clone()).collect::<Vec<_>>().join("、"),
            }
        })
        .collect();
    Ok(page(
        req,
        user,
        status,
        "console/assessment.html",
        context! {
            title => format!("{} {} 年度党支部考评", view.org_name, view.year),
            a => context! {
                id => view.id, org => view.org_name, year => view.year, policy => view.title,
                self_until => view.self_until.to_string(), review_until => view.review_until.to_string(),
                due => view.due.to_string(), due_rule => view.due_rule, after_due => view.review_after_due,
            },
            cards => cards, roll => roll_ctx, draws => draws, method => draw::METHOD,
            may_write => user.can(Perm::OrgWrite), errors => errors,
        },
    ))
}

async fn assessment(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
) -> HttpResponse {
    respond(
        &req,
        &user,
        assessment_page(&state, &req, &user, *path, StatusCode::OK, no_errors()),
    )
    .await
}

async fn assessment_after(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    id: i64,
    r: AppResult<String>,
) -> HttpResponse {
    match r {
        Ok(to) => see_other(&to),
        Err(e)
            if e.code.status().is_client_error()
                && e.code != crate::error::ErrorCode::Forbidden =>
        {
            assessment_page(state, req, user, id, e.code.status(), errors_of(&e))
                .await
                .unwrap_or_else(|e| error(req, user, &e))
        }
        Err(e) => error(req, user, &hide(e)),
    }
}

async fn extend(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    Posted(f): Posted,
) -> HttpResponse {
    let id = *path;
    let r = async {
        let which = if f.get("date") == "self_until" {
            Deadline::SelfUntil
        } else {
            Deadline::ReviewUntil
        };
        let until = date(&f, "until", "新的截止日")?;
        service::extend(
            &state,
            &user.principal,
            id,
            Extension {
                date: which,
                until,
                reason: f.get("reason"),
            },
        )
        .await?;
        Ok::<String, AppError>(format!("/console/assessments/{id}"))
    }
    .await;
    assessment_after(&state, &req, &user, id, r).await
}

async fn make_draw(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    Posted(f): Posted,
) -> HttpResponse {
    let id = *path;
    let r = async {
        let n: u32 = f
            .get("n")
            .parse()
            .map_err(|_| AppError::field("n", "抽查数须为整数"))?;
        let d = draw::record(&state, &user.principal, id, draw::DrawInput { n }).await?;
        Ok::<String, AppError>(format!("/console/draws/{}", d.id))
    }
    .await;
    assessment_after(&state, &req, &user, id, r).await
}

async fn repeat(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
) -> HttpResponse {
    respond(&req, &user, async {
        let r = draw::repeat(&state, &user.principal, *path).await.map_err(hide)?;
        let names: BTreeMap<i64, String> = r
            .draw
            .result
            .iter()
            .map(|d| (d.org_id, d.org_name.clone()))
            .collect();
        let mut orgs: BTreeMap<i64, String> = entity::organization::Entity::find()
            .filter(entity::organization::Column::Id.is_in(r.repeated.clone()))
            .all(&state.db)
            .await?
            .into_iter()
            .map(|o| (o.id, o.name))
            .collect();
        orgs.extend(names);
        Ok(page(
            &req,
            &user,
            StatusCode::OK,
            "console/draw.html",
            context! {
                title => "随机抽查", method => draw::METHOD, seed => r.draw.seed, n => r.draw.n,
                assessment => r.draw.assessment_id, by => r.draw.drawn_by,
                candidates => r.draw.candidates.iter().map(|c| c.to_string()).collect::<Vec<_>>().join("、"),
                recorded => r.draw.result.iter().map(|d| context! { id => d.org_id, name => d.org_name.clone(), key => d.key.clone(), card => d.scorecard_id }).collect::<Vec<_>>(),
                repeated => r.repeated.iter().map(|id| context! { id => *id, name => orgs.get(id).cloned().unwrap_or_default() }).collect::<Vec<_>>(),
                same => r.same,
            },
        ))
    })
    .await
}
