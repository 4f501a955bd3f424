//! HTTP handlers for activities, sessions, QR codes, attendance, live updates,
//! secretary entries and corrections.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, FixedOffset, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use super::activities::{self, NewActivity, kind_label};
use super::attendance::{self, Page, PageQuery};
use super::manual::{self, Correction, CorrectionResult, EntryResult, NewEntries};
use super::{qr, sessions};
use crate::auth::{Perm, Principal};
use crate::error::{AppError, AppResult, Problem};
use crate::ids::OrgId;
use crate::policy::ActivityKind;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/activities", web::get().to(list_activities))
        .route("/activities", web::post().to(create_activity))
        .route("/activities/{activity_id}", web::get().to(get_activity))
        .route(
            "/activities/{activity_id}/sessions",
            web::post().to(open_session),
        )
        .route(
            "/activities/{activity_id}/attendance",
            web::get().to(activity_attendance),
        )
        .route(
            "/activities/{activity_id}/checkins",
            web::post().to(enter_checkins),
        )
        .route(
            "/activities/{activity_id}/corrections",
            web::post().to(correct),
        )
        .route("/sessions/{session_id}", web::get().to(get_session))
        .route(
            "/sessions/{session_id}/close",
            web::post().to(close_session),
        )
        .route("/sessions/{session_id}/qr", web::get().to(session_qr))
        .route(
            "/sessions/{session_id}/qr.svg",
            web::get().to(session_qr_svg),
        )
        .route(
            "/sessions/{session_id}/qr.png",
            web::get().to(session_qr_png),
        )
        .route(
            "/sessions/{session_id}/attendance",
            web::get().to(session_attendance),
        )
        .route("/sessions/{session_id}/live", web::get().to(session_live));
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActivityView {
    pub id: i64,
    pub org_id: i64,
    pub kind: String,
    pub kind_label: &'static str,
    pub title: String,
    pub place: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub points: Option<crate::ledger::queries::Points>,
    pub registered_at: DateTime<Utc>,
    pub invited_org_ids: Vec<i64>,
}

async fn view(state: &AppState, a: entity::activity::Model) -> AppResult<ActivityView> {
    let invited = entity::activity_invite::Entity::find()
        .filter(entity::activity_invite::Column::ActivityId.eq(a.id))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|i| i.org_id)
        .collect();
    let kind = a
        .kind
        .parse::<ActivityKind>()
        .map(kind_label)
        .unwrap_or("活动");
    Ok(ActivityView {
        id: a.id,
        org_id: a.org_id,
        kind: a.kind,
        kind_label: kind,
        title: a.title,
        place: a.place,
        starts_at: a.starts_at,
        ends_at: a.ends_at,
        points: a
            .points
            .as_deref()
            .and_then(crate::policy::parse_dec)
            .map(crate::ledger::queries::Points),
        registered_at: a.registered_at,
        invited_org_ids: invited,
    })
}

/// The activity, after checking `perm` over its organization.
pub(crate) async fn scoped_activity(
    state: &AppState,
    principal: &Principal,
    perm: Perm,
    id: i64,
) -> AppResult<entity::activity::Model> {
    principal.require(perm)?;
    let a = attendance::activity(&state.db, id).await?;
    let org = crate::org::service::find(&state.db, OrgId(a.org_id)).await?;
    principal.require_in(perm, &org.path)?;
    Ok(a)
}

pub(crate) async fn scoped_session(
    state: &AppState,
    principal: &Principal,
    perm: Perm,
    id: i64,
) -> AppResult<(entity::checkin_session::Model, entity::activity::Model)> {
    let s = entity::checkin_session::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::not_found(format!("签到 {id} 不存在")))?;
    let a = scoped_activity(state, principal, perm, s.activity_id).await?;
    Ok((s, a))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewActivityBody {
    pub org_id: OrgId,
    /// `fixed_day` (主题党日), `meeting`, `training`, `volunteer`, `cultural`.
    pub kind: String,
    pub title: String,
    pub place: Option<String>,
    pub starts_at: DateTime<FixedOffset>,
    pub ends_at: DateTime<FixedOffset>,
    /// Branch-set points for members taking part (XH-8.2); none for a fixed day.
    pub points: Option<crate::ledger::queries::Points>,
    /// Other organizations whose members may check in (their subtrees).
    #[serde(default)]
    pub invite_org_ids: Vec<OrgId>,
}

/// Create an activity ahead, or back-fill one afterwards (registered now: XH-6 judges the delay).
#[utoipa::path(post, path = "/api/v1/activities", tag = "checkin", request_body = NewActivityBody,
    security(("bearer" = ["activity.write"])),
    responses((status = 201, body = ActivityView), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn create_activity(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<NewActivityBody>,
) -> AppResult<HttpResponse> {
    let b = body.into_inner();
    let org =
        crate::org::service::scoped(&state.db, &principal, Perm::ActivityWrite, b.org_id).await?;
    let kind: ActivityKind = b.kind.parse().map_err(|_| {
        AppError::field(
            "kind",
            "活动类型应为 fixed_day、meeting、training、volunteer 或 cultural",
        )
    })?;
    for invited in &b.invite_org_ids {
        crate::org::service::scoped(&state.db, &principal, Perm::ActivityWrite, *invited).await?;
    }
    let new = NewActivity {
        org_id: org.id,
        kind,
        title: b.title,
        place: b.place,
        starts_at: b.starts_at.with_timezone(&Utc),
        ends_at: b.ends_at.with_timezone(&Utc),
        points: b.points.map(|p| p.0),
        registered_at: state.clock.now(),
    };
    let invites: Vec<i64> = b.invite_org_ids.iter().map(|o| o.0).collect();
    let row = activities::create(&state, &principal.actor(), &org, &new, &invites).await?;
    Ok(HttpResponse::Created().json(view(&state, row).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ActivityQuery {
    pub org_id: i64,
    pub from: Option<DateTime<FixedOffset>>,
    pub to: Option<DateTime<FixedOffset>>,
}

/// Activities an organization held, newest first.
#[utoipa::path(get, path = "/api/v1/activities", tag = "checkin", params(ActivityQuery),
    security(("bearer" = ["activity.read"])),
    responses((status = 200, body = Vec<ActivityView>), (status = 403, body = Problem)))]
pub async fn list_activities(
    state: web::Data<AppState>,
    principal: Principal,
    q: web::Query<ActivityQuery>,
) -> AppResult<HttpResponse> {
    let org =
        crate::org::service::scoped(&state.db, &principal, Perm::ActivityRead, OrgId(q.org_id))
            .await?;
    let mut query = entity::activity::Entity::find()
        .filter(entity::activity::Column::OrgId.eq(org.id))
        .order_by_desc(entity::activity::Column::StartsAt)
        .limit(500);
    if let Some(from) = q.from {
        query = query.filter(entity::activity::Column::StartsAt.gte(from.with_timezone(&Utc)));
    }
    if let Some(to) = q.to {
        query = query.filter(entity::activity::Column::StartsAt.lt(to.with_timezone(&Utc)));
    }
    let mut out = Vec::new();
    for a in query.all(&state.db).await? {
        out.push(view(&state, a).await?);
    }
    Ok(HttpResponse::Ok().json(out))
}

/// One activity.
#[utoipa::path(get, path = "/api/v1/activities/{activity_id}", tag = "checkin", params(("activity_id" = i64, Path)),
    security(("bearer" = ["activity.read"])),
    responses((status = 200, body = ActivityView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_activity(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let a = scoped_activity(&state, &principal, Perm::ActivityRead, *path).await?;
    Ok(HttpResponse::Ok().json(view(&state, a).await?))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub id: i64,
    pub activity_id: i64,
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub slot_seconds: i32,
    /// The page to show on the projector.
    pub projector_url: String,
}

fn session_view(state: &AppState, s: &entity::checkin_session::Model) -> SessionView {
    SessionView {
        id: s.id,
        activity_id: s.activity_id,
        opens_at: s.opens_at,
        closes_at: s.closes_at,
        closed_at: s.closed_at,
        slot_seconds: s.slot_seconds,
        projector_url: format!("{}/projector/{}", state.public_url, s.id),
    }
}

/// Opens check-in for an activity with its audit entry (the API and the console).
pub async fn open_audited(
    state: &AppState,
    principal: &Principal,
    a: &entity::activity::Model,
) -> AppResult<entity::checkin_session::Model> {
    let txn = crate::db::begin(&state.db).await?;
    let s = sessions::create(
        &txn,
        &state.scoring,
        a,
        Some(principal.account_id.0),
        state.settings.checkin.open_before_minutes,
        state.settings.checkin.slot_seconds,
        state.clock.now(),
    )
    .await?;
    crate::audit::record(
        &txn,
        &principal.actor(),
        crate::audit::Entry::new("open_session", "activity", a.id)
            .org(OrgId(a.org_id))
            .after(serde_json::json!({"session": s.id})),
    )
    .await?;
    txn.commit().await?;
    Ok(s)
}

/// Closes a session with its audit entry (the API and the console).
pub async fn close_audited(
    state: &AppState,
    principal: &Principal,
    s: entity::checkin_session::Model,
    a: &entity::activity::Model,
) -> AppResult<entity::checkin_session::Model> {
    let txn = crate::db::begin(&state.db).await?;
    let s = sessions::close(&txn, s, Some(principal.account_id.0)).await?;
    crate::audit::record(
        &txn,
        &principal.actor(),
        crate::audit::Entry::new("close_session", "activity", a.id)
            .org(OrgId(a.org_id))
            .after(serde_json::json!({"session": s.id})),
    )
    .await?;
    txn.commit().await?;
    sessions::forget(state.live.as_ref(), s.id).await;
    // EQ-3: absences are proposed to the secretary now; a failure leaves the close.
    if let Err(e) = crate::cycle::proposals::at_close(state, a).await {
        tracing::warn!(error = %e, activity = a.id, "absence proposals failed");
    }
    Ok(s)
}

/// Open check-in for an activity (a fixed day takes scans from `checkin.open_before_minutes`
/// before the start until 15 minutes after it).
#[utoipa::path(post, path = "/api/v1/activities/{activity_id}/sessions", tag = "checkin", params(("activity_id" = i64, Path)),
    security(("bearer" = ["activity.write"])),
    responses((status = 201, body = SessionView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn open_session(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let a = scoped_activity(&state, &principal, Perm::ActivityWrite, *path).await?;
    let s = open_audited(&state, &principal, &a).await?;
    Ok(HttpResponse::Created().json(session_view(&state, &s)))
}

/// Close a session: later scans are refused (and kept, with the reason).
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/close", tag = "checkin", params(("session_id" = i64, Path)),
    security(("bearer" = ["activity.write"])),
    responses((status = 200, body = SessionView), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn close_session(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (s, a) = scoped_session(&state, &principal, Perm::ActivityWrite, *path).await?;
    let s = close_audited(&state, &principal, s, &a).await?;
    Ok(HttpResponse::Ok().json(session_view(&state, &s)))
}

/// A session's state.
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}", tag = "checkin", params(("session_id" = i64, Path)),
    security(("bearer" = ["activity.read"])),
    responses((status = 200, body = SessionView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_session(
    state: web::Data<AppState>,
    reader: super::projector::SessionReader,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (s, _) = reader.session(&state, *path).await?;
    Ok(HttpResponse::Ok().json(session_view(&state, &s)))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QrView {
    /// The payload `ci.<session>.<slot>.<mac>`.
    pub scene: String,
    /// What the QR code encodes: WeChat's QR URL, or the phone simulator in the sandbox.
    pub url: String,
    /// When the next slot starts (the code is still accepted for one more slot).
    pub expires_at: DateTime<Utc>,
}

/// The current slot's QR (WeChat's temporary QR is made once per slot across instances).
pub async fn current_qr(state: &AppState, s: &entity::checkin_session::Model) -> AppResult<QrView> {
    let now = Utc::now().timestamp();
    let slot_seconds = i64::from(s.slot_seconds);
    let slot = qr::slot_at(now, slot_seconds);
    let scene = qr::payload(&s.secret, s.id, slot);
    let expires_at =
        DateTime::<Utc>::from_timestamp((slot + 1) * slot_seconds, 0).unwrap_or_else(Utc::now);
    let sandbox = state.wechat.sandbox;
    let url = if sandbox {
        format!("{}/sandbox/phone?scene={}", state.public_url, scene)
    } else {
        let url = wechat_qr_url(state, &scene, slot_seconds).await?;
        // Made ahead: the next slot's code is ready the moment the slot turns. Only a
        // projector asking for the current code causes this (WeChat limits how many
        // temporary codes an account may make), and the lock makes it once across instances.
        let next = qr::payload(&s.secret, s.id, slot + 1);
        let st = state.clone();
        tokio::spawn(async move {
            if let Err(e) = wechat_qr_url(&st, &next, slot_seconds).await {
                tracing::warn!(error = %e.detail, "next QR slot not prepared");
            }
        });
        url
    };
    Ok(QrView {
        scene,
        url,
        expires_at,
    })
}

/// One `QR_STR_SCENE` per slot across all instances: the first asks WeChat, the others
/// wait briefly for its cached answer.
async fn wechat_qr_url(state: &AppState, scene: &str, slot_seconds: i64) -> AppResult<String> {
    let client = &state.wechat_client;
    let key = format!("qr:url:{scene}");
    let ttl = std::time::Duration::from_secs(u64::try_from(slot_seconds * 3).unwrap_or(180));
    for _ in 0..20 {
        if let Ok(Some(url)) = state.live.get(&key).await {
            return Ok(String::from_utf8_lossy(&url).into_owned());
        }
        let lock = format!("qr:lock:{scene}");
        match state
            .live
            .set_nx(&lock, b"1", std::time::Duration::from_secs(10))
            .await
        {
            Ok(true) | Err(_) => {
                let scene_str = crate::wechat::SceneStr::parse(scene)
                    .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))?;
                let expire = u64::try_from(slot_seconds * 3).unwrap_or(180);
                let ticket = client
                    .create_temp_qr(&scene_str, expire)
                    .await
                    .map_err(|e| AppError::unavailable(anyhow::anyhow!("{e}")))?;
                let _ = state.live.set(&key, ticket.url.as_bytes(), Some(ttl)).await;
                return Ok(ticket.url);
            }
            Ok(false) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    Err(AppError::unavailable(anyhow::anyhow!(
        "QR not created in time"
    )))
}

/// The current QR payload and what it encodes, for the projector and other tools.
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/qr", tag = "checkin", params(("session_id" = i64, Path)),
    security(("bearer" = ["activity.read"])),
    responses((status = 200, body = QrView), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn session_qr(
    state: web::Data<AppState>,
    reader: super::projector::SessionReader,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (s, _) = reader.session(&state, *path).await?;
    if s.closed_at.is_some() {
        return Err(AppError::conflict("签到已关闭"));
    }
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(current_qr(&state, &s).await?))
}

pub(crate) fn qr_code(text: &str) -> AppResult<qrcode::QrCode> {
    qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| AppError::internal(anyhow::anyhow!("qr: {e}")))
}

/// The current QR code as SVG.
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/qr.svg", tag = "checkin", params(("session_id" = i64, Path)),
    security(("bearer" = ["activity.read"])),
    responses((status = 200, content_type = "image/svg+xml"), (status = 403, body = Problem)))]
pub async fn session_qr_svg(
    state: web::Data<AppState>,
    reader: super::projector::SessionReader,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (s, _) = reader.session(&state, *path).await?;
    let q = current_qr(&state, &s).await?;
    let svg = qr_code(&q.url)?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(320, 320)
        .build();
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(("Cache-Control", "no-store"))
        .body(svg))
}

/// The current QR code as PNG.
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/qr.png", tag = "checkin", params(("session_id" = i64, Path)),
    security(("bearer" = ["activity.read"])),
    responses((status = 200, content_type = "image/png"), (status = 403, body = Problem)))]
pub async fn session_qr_png(
    state: web::Data<AppState>,
    reader: super::projector::SessionReader,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (s, _) = reader.session(&state, *path).await?;
    let q = current_qr(&state, &s).await?;
    let png = render_png(&qr_code(&q.url)?, 8)?;
    Ok(HttpResponse::Ok()
        .content_type("image/png")
        .insert_header(("Cache-Control", "no-store"))
        .body(png))
}

/// Draws the module matrix into a grayscale PNG with a 4-module quiet zone.
fn render_png(code: &qrcode::QrCode, scale: usize) -> AppResult<Vec<u8>> {
    let n = code.width();
    let quiet = 4;
    let side = (n + 2 * quiet) * scale;
    let colors = code.to_colors();
    let mut pixels = vec![255u8; side * side];
    for (i, c) in colors.iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (x, y) = (i % n + quiet, i / n + quiet);
            for dy in 0..scale {
                let row = (y * scale + dy) * side;
                pixels[row + x * scale..row + x * scale + scale].fill(0);
            }
        }
    }
    let mut out = Vec::new();
    let side32 =
        u32::try_from(side).map_err(|_| AppError::internal(anyhow::anyhow!("qr too large")))?;
    let mut enc = png::Encoder::new(&mut out, side32, side32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    let fail = |e: png::EncodingError| AppError::internal(anyhow::anyhow!("png: {e}"));
    let mut writer = enc.write_header().map_err(fail)?;
    writer.write_image_data(&pixels).map_err(fail)?;
    writer.finish().map_err(fail)?;
    Ok(out)
}

/// Attendance of a session's activity: counts and people, paged by person id.
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/attendance", tag = "checkin", params(("session_id" = i64, Path), PageQuery),
    security(("bearer" = ["activity.read"])),
    responses((status = 200, body = Page), (status = 403, body = Problem)))]
pub async fn session_attendance(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    q: web::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    let (_, a) = scoped_session(&state, &principal, Perm::ActivityRead, *path).await?;
    Ok(HttpResponse::Ok().json(attendance::page(&state, &a, q.into_inner()).await?))
}

/// Who was expected, who came, who was late, who is missing.
#[utoipa::path(get, path = "/api/v1/activities/{activity_id}/attendance", tag = "checkin", params(("activity_id" = i64, Path), PageQuery),
    security(("bearer" = ["activity.read"])),
    responses((status = 200, body = Page), (status = 403, body = Problem)))]
pub async fn activity_attendance(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    q: web::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    let a = scoped_activity(&state, &principal, Perm::ActivityRead, *path).await?;
    Ok(HttpResponse::Ok().json(attendance::page(&state, &a, q.into_inner()).await?))
}

/// Live attendance as server-sent events (`counts` at once and every few seconds, `checkin`
/// per scan). The stream ends within `checkin.live_recheck_seconds` of logout, a disabled
/// account, lost scope or the session closing; an account holds at most
/// `checkin.live_streams_per_account` streams (429 beyond).
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/live", tag = "checkin", params(("session_id" = i64, Path)),
    security(("bearer" = ["activity.read"])),
    responses((status = 200, content_type = "text/event-stream"), (status = 403, body = Problem), (status = 429, body = Problem)))]
pub async fn session_live(
    state: web::Data<AppState>,
    reader: super::projector::SessionReader,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (s, a) = reader.session(&state, *path).await?;
    if s.closed_at.is_some() {
        return Err(AppError::conflict("签到已关闭"));
    }
    // A projector token's streams count against the secretary who issued it.
    let account = match &reader {
        super::projector::SessionReader::Staff(p) => p.account_id.0,
        super::projector::SessionReader::Projector {
            token_id,
            created_by,
            ..
        } => created_by.unwrap_or(-token_id),
    };
    let st = state.get_ref().clone();
    let authorize: super::live::Authorize = Arc::new(move || {
        let (st, reader) = (st.clone(), reader.clone());
        Box::pin(async move { still_watching(&st, &reader, s.id).await })
    });
    super::live::stream(&state, account, s.id, a.id, authorize)
}

/// The checks that let the stream open, run again: the login session and account
/// (the one rule of `auth::service`) or the projector token, the scope, and the
/// session still open.
async fn still_watching(
    state: &AppState,
    reader: &super::projector::SessionReader,
    session: i64,
) -> bool {
    let reader = match reader {
        super::projector::SessionReader::Staff(principal) => {
            let claims = crate::auth::token::Claims {
                sub: principal.account_id.0.to_string(),
                sid: principal.session_id.clone(),
                iat: 0,
                exp: 0,
                iss: String::new(),
            };
            let Ok(now) =
                crate::auth::service::principal_for_session(&state.db, &claims, false).await
            else {
                return false;
            };
            super::projector::SessionReader::Staff(now)
        }
        projector @ super::projector::SessionReader::Projector { token_id, .. } => {
            if !super::projector::token_still_valid(state, *token_id).await {
                return false;
            }
            projector.clone()
        }
    };
    matches!(
        reader.session(state, session).await,
        Ok((s, _)) if s.closed_at.is_none()
    )
}

/// Check people in by hand at the activity (manual, batch) or afterwards (补签, earns nothing);
/// each entry records the secretary and the reason.
#[utoipa::path(post, path = "/api/v1/activities/{activity_id}/checkins", tag = "checkin", params(("activity_id" = i64, Path)), request_body = NewEntries,
    security(("bearer" = ["activity.write"])),
    responses((status = 200, body = Vec<EntryResult>), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn enter_checkins(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<NewEntries>,
) -> AppResult<HttpResponse> {
    let a = scoped_activity(&state, &principal, Perm::ActivityWrite, *path).await?;
    Ok(HttpResponse::Ok().json(manual::enter(&state, &principal, &a, body.into_inner()).await?))
}

/// Correct a person's check-in (admins): annul, add, or change its time; audited, the member is notified.
#[utoipa::path(post, path = "/api/v1/activities/{activity_id}/corrections", tag = "checkin", params(("activity_id" = i64, Path)), request_body = Correction,
    security(("bearer" = ["scores.correct"])),
    responses((status = 200, body = CorrectionResult), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn correct(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<Correction>,
) -> AppResult<HttpResponse> {
    let a = scoped_activity(&state, &principal, Perm::ActivityRead, *path).await?;
    Ok(HttpResponse::Ok().json(manual::correct(&state, &principal, &a, body.into_inner()).await?))
}
