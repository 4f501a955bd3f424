//! The staff console (`/console/`): server-rendered pages for secretaries (phone
//! first), admins, security admins and auditors (desktop), on the same services and
//! the same permissions as the API.
//!
//! - [`session`]: sign-in on the existing login sessions, carried in a cookie.
//! - [`auth_pages`]: login, logout, the forced password change, home and inbox.
//! - [`secretary`]: today, activities (with the fixed-day rule), check-in, attendance.
//! - [`admin`]: organizations, people's changes, accounts, rankings and year close,
//!   fixed days across the subtree, roster import, disputes, the audit log.
//! - [`card`]: member cards (issue, print, reissue) and 持卡签到 at an open session.
//!
//! Pages are rendered with the project's one template environment
//! ([`crate::web::render`]); the only script is the embedded `/assets/console.js`
//! (polling a fragment for live counts). Every form posts to this origin and is checked
//! with [`crate::web::same_origin`]; navigation and buttons follow
//! [`crate::auth::Role::allows`], and a record outside the user's scope is a 404.

pub mod admin;
pub mod auth_pages;
pub mod card;
pub mod people;
pub mod publicity;
pub mod ranks;
pub mod reports;
pub mod results;
pub mod review;
pub mod rewards;
pub mod scorecard;
pub mod secretary;
pub mod session;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use minijinja::Value;

use crate::auth::{Perm, Role};
use crate::error::{AppError, AppResult, ErrorCode};
pub use session::ConsoleUser;

/// Console pages: their own script, forms to this origin, QR images from this origin.
pub const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self' data: blob:; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The console's templates, registered in the project's one environment (`crate::web`).
pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "console/base.html",
        include_str!("../../templates/console/base.html"),
    ),
    (
        "console/login.html",
        include_str!("../../templates/console/login.html"),
    ),
    (
        "console/password.html",
        include_str!("../../templates/console/password.html"),
    ),
    (
        "console/home.html",
        include_str!("../../templates/console/home.html"),
    ),
    (
        "console/message.html",
        include_str!("../../templates/console/message.html"),
    ),
    (
        "console/activities.html",
        include_str!("../../templates/console/activities.html"),
    ),
    (
        "console/activity.html",
        include_str!("../../templates/console/activity.html"),
    ),
    (
        "console/live.html",
        include_str!("../../templates/console/live.html"),
    ),
    (
        "console/live_part.html",
        include_str!("../../templates/console/live_part.html"),
    ),
    (
        "console/attendance.html",
        include_str!("../../templates/console/attendance.html"),
    ),
    (
        "console/rule.html",
        include_str!("../../templates/console/rule.html"),
    ),
    (
        "console/import.html",
        include_str!("../../templates/console/import.html"),
    ),
    (
        "console/disputes.html",
        include_str!("../../templates/console/disputes.html"),
    ),
    (
        "console/dispute.html",
        include_str!("../../templates/console/dispute.html"),
    ),
    (
        "console/audit.html",
        include_str!("../../templates/console/audit.html"),
    ),
    (
        "console/people.html",
        include_str!("../../templates/console/people.html"),
    ),
    (
        "console/person.html",
        include_str!("../../templates/console/person.html"),
    ),
    (
        "console/scores.html",
        include_str!("../../templates/console/scores.html"),
    ),
    (
        "console/ledger.html",
        include_str!("../../templates/console/ledger.html"),
    ),
    (
        "console/item.html",
        include_str!("../../templates/console/item.html"),
    ),
    (
        "console/item_preview.html",
        include_str!("../../templates/console/item_preview.html"),
    ),
    (
        "console/members.html",
        include_str!("../../templates/console/members.html"),
    ),
    (
        "console/unbind.html",
        include_str!("../../templates/console/unbind.html"),
    ),
    (
        "console/bind.html",
        include_str!("../../templates/console/bind.html"),
    ),
    (
        "console/materials.html",
        include_str!("../../templates/console/materials.html"),
    ),
    (
        "console/materials_day.html",
        include_str!("../../templates/console/materials_day.html"),
    ),
    (
        "console/material_fields.html",
        include_str!("../../templates/console/material_fields.html"),
    ),
    (
        "console/material.html",
        include_str!("../../templates/console/material.html"),
    ),
    (
        "console/todo.html",
        include_str!("../../templates/console/todo.html"),
    ),
    (
        "console/file_dispute.html",
        include_str!("../../templates/console/file_dispute.html"),
    ),
    (
        "console/case_comment.html",
        include_str!("../../templates/console/case_comment.html"),
    ),
    (
        "console/orgs.html",
        include_str!("../../templates/console/orgs.html"),
    ),
    (
        "console/org.html",
        include_str!("../../templates/console/org.html"),
    ),
    (
        "console/accounts.html",
        include_str!("../../templates/console/accounts.html"),
    ),
    (
        "console/rankings.html",
        include_str!("../../templates/console/rankings.html"),
    ),
    (
        "console/close.html",
        include_str!("../../templates/console/close.html"),
    ),
    (
        "console/fixed_days.html",
        include_str!("../../templates/console/fixed_days.html"),
    ),
    (
        "console/card_style.html",
        include_str!("../../templates/console/card_style.html"),
    ),
    (
        "console/card_face.html",
        include_str!("../../templates/console/card_face.html"),
    ),
    (
        "console/card_person.html",
        include_str!("../../templates/console/card_person.html"),
    ),
    (
        "console/card_sheet.html",
        include_str!("../../templates/console/card_sheet.html"),
    ),
    (
        "console/card_take.html",
        include_str!("../../templates/console/card_take.html"),
    ),
    (
        "console/review.html",
        include_str!("../../templates/console/review.html"),
    ),
    (
        "console/publicity_list.html",
        include_str!("../../templates/console/publicity_list.html"),
    ),
    (
        "console/publicity.html",
        include_str!("../../templates/console/publicity.html"),
    ),
    (
        "console/investigations.html",
        include_str!("../../templates/console/investigations.html"),
    ),
    (
        "console/investigation.html",
        include_str!("../../templates/console/investigation.html"),
    ),
    (
        "console/ranks.html",
        include_str!("../../templates/console/ranks.html"),
    ),
    (
        "console/falsifications.html",
        include_str!("../../templates/console/falsifications.html"),
    ),
    (
        "console/falsification.html",
        include_str!("../../templates/console/falsification.html"),
    ),
    (
        "console/stars.html",
        include_str!("../../templates/console/stars.html"),
    ),
    (
        "console/results.html",
        include_str!("../../templates/console/results.html"),
    ),
    (
        "console/redeem.html",
        include_str!("../../templates/console/redeem.html"),
    ),
    (
        "console/rewards.html",
        include_str!("../../templates/console/rewards.html"),
    ),
    (
        "console/scorecards.html",
        include_str!("../../templates/console/scorecards.html"),
    ),
    (
        "console/scorecard.html",
        include_str!("../../templates/console/scorecard.html"),
    ),
    (
        "console/assessments.html",
        include_str!("../../templates/console/assessments.html"),
    ),
    (
        "console/assessment.html",
        include_str!("../../templates/console/assessment.html"),
    ),
    (
        "console/draw.html",
        include_str!("../../templates/console/draw.html"),
    ),
    (
        "console/reports.html",
        include_str!("../../templates/console/reports.html"),
    ),
];

/// What the navigation offers: each entry needs the permission its API needs, so a
/// role sees exactly what it may use.
fn nav(user: &ConsoleUser, current: &str) -> Vec<Value> {
    let role = user.principal.role;
    let secretary = role == Role::Secretary;
    let secretary_like = matches!(role, Role::Secretary | Role::Recorder);
    let items: [(&str, &str, Option<Perm>); 24] = [
        ("/console/", "今日", None),
        (
            if secretary {
                "/console/todo"
            } else {
                "/console/disputes"
            },
            if secretary {
                "待办"
            } else {
                "争议与更正"
            },
            Some(Perm::ScoresRead),
        ),
        (
            "/console/activities",
            if secretary {
                "活动"
            } else {
                "活动与考勤"
            },
            Some(Perm::ActivityRead),
        ),
        (
            if secretary {
                "/console/members"
            } else {
                "/console/people"
            },
            if secretary { "党员" } else { "人员" },
            Some(Perm::PeopleRead),
        ),
        ("/console/scores", "积分", Some(Perm::ScoresRead)),
        ("/console/materials", "补学资料", Some(Perm::ActivityWrite)),
        // Admins reach the secretary's binding page under its own name.
        ("/console/members", "微信绑定", Some(Perm::BindingWrite)),
        (
            "/console/orgs",
            if secretary { "支部" } else { "组织" },
            Some(Perm::OrgRead),
        ),
        (
            "/console/fixed-days",
            "固定活动日",
            Some(Perm::ActivityRead),
        ),
        ("/console/rankings", "排名与结果", Some(Perm::ScoresRead)),
        ("/console/review", "审核", Some(Perm::ActivityRead)),
        ("/console/publicity", "公示", Some(Perm::ScoresRead)),
        ("/console/investigations", "调查", Some(Perm::Correct)),
        ("/console/import", "导入", Some(Perm::PeopleWrite)),
        ("/console/accounts", "账号", Some(Perm::AccountsRead)),
        ("/console/audit", "审计日志", Some(Perm::AuditRead)),
        ("/console/ranks", "季度排名", Some(Perm::ScoresRead)),
        ("/console/falsifications", "弄虚作假", Some(Perm::Correct)),
        ("/console/stars", "星级评定", Some(Perm::ScoresRead)),
        ("/console/results", "年度结果", Some(Perm::ScoresRead)),
        ("/console/redeem", "兑换", Some(Perm::RewardsRedeem)),
        ("/console/rewards", "积分超市", Some(Perm::RewardsCatalogue)),
        (
            if secretary_like {
                "/console/scorecards"
            } else {
                "/console/assessments"
            },
            if secretary_like {
                "支部自评"
            } else {
                "支部考评"
            },
            Some(Perm::ScoresRead),
        ),
        ("/console/reports", "报表", Some(Perm::ScoresRead)),
    ];
    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .filter(|(href, _, perm)| {
            perm.is_none_or(|p| role.allows(p))
                // A branch's own pages cover these jobs on the phone.
                && !(secretary_like && matches!(*href, "/console/fixed-days" | "/console/rankings"))
                // One entry per page (a secretary's 党员 is the binding page).
                && seen.insert(*href)
        })
        .map(|(href, label, _)| {
            let active = if href == "/console/" {
                current == href
            } else {
                current.starts_with(href)
            };
            minijinja::context! { href => href, label => label, active => active }
        })
        .collect()
}

/// Renders a console page inside the shell (navigation, user, role).
pub fn page(
    req: &HttpRequest,
    user: &ConsoleUser,
    status: StatusCode,
    name: &str,
    ctx: Value,
) -> HttpResponse {
    let shell = minijinja::context! {
        nav => nav(user, req.path()),
        user => minijinja::context! {
            name => if user.display_name.is_empty() { user.principal.username.clone() } else { user.display_name.clone() },
            username => user.principal.username.clone(),
            role => user.principal.role.label(),
            secretary => user.principal.role == Role::Secretary,
        },
    };
    crate::web::render(
        status,
        name,
        CONSOLE_CSP,
        minijinja::context! { ..shell, ..ctx },
    )
}

/// A handler's page, or its error as a page: how every console handler ends.
pub async fn respond(
    req: &HttpRequest,
    user: &ConsoleUser,
    work: impl std::future::Future<Output = AppResult<HttpResponse>>,
) -> HttpResponse {
    work.await.unwrap_or_else(|e| error(req, user, &e))
}

/// A posted console form, as an extractor: a cross-site post is refused before its
/// body is read, so no form handler can forget the check.
pub struct Posted(pub Fields);

/// The refusal of a cross-site post (403, plain text).
#[derive(Debug)]
pub struct CrossSite;

impl std::fmt::Display for CrossSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("跨站提交已被拒绝")
    }
}

impl actix_web::ResponseError for CrossSite {
    fn status_code(&self) -> StatusCode {
        StatusCode::FORBIDDEN
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::Forbidden()
            .content_type("text/plain; charset=utf-8")
            .body(self.to_string())
    }
}

impl actix_web::FromRequest for Posted {
    type Error = actix_web::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        if refuse_cross_site(req).is_some() {
            return Box::pin(std::future::ready(Err(CrossSite.into())));
        }
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move { Ok(Self(Fields::parse(&body.await?))) })
    }
}

/// Field errors for a form: each message shown next to its field.
pub fn field_errors<'a>(errors: impl IntoIterator<Item = (&'a str, String)>) -> Value {
    Value::from(
        errors
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect::<std::collections::BTreeMap<_, _>>(),
    )
}

/// A service's field error (or its detail) as the message of `field`.
pub fn message_of(e: &AppError) -> String {
    e.errors
        .first()
        .map_or_else(|| e.detail.clone(), |f| f.message.clone())
}

/// A short message inside the shell.
pub fn message(
    req: &HttpRequest,
    user: &ConsoleUser,
    status: StatusCode,
    title: &str,
    text: &str,
) -> HttpResponse {
    page(
        req,
        user,
        status,
        "console/message.html",
        minijinja::context! { title => title, text => text, error => !status.is_success() },
    )
}

/// An error as a console page. 5xx: a generic line (the cause is logged).
pub fn error(req: &HttpRequest, user: &ConsoleUser, e: &AppError) -> HttpResponse {
    let status = e.code.status();
    if status.is_server_error() {
        tracing::error!(code = e.code.as_str(), error = ?e.source, "console page failed");
        return message(req, user, status, "系统繁忙", "系统繁忙，请稍后再试。");
    }
    let mut text = e.detail.clone();
    for f in &e.errors {
        text.push_str(&format!("；{}", f.message));
    }
    message(req, user, status, e.code.title(), &text)
}

/// A record outside the user's scope is "not found": the page does not reveal that it
/// exists (the API answers 403 there; the console is a browsing surface).
pub fn hide(e: AppError) -> AppError {
    if e.code == ErrorCode::Forbidden {
        AppError::not_found("没有找到该记录，或不在您的管辖范围内")
    } else {
        e
    }
}

/// A cross-site form post is refused before anything is read. Stricter than the member
/// pages: an opaque `Origin: null` (a data: URL, a sandboxed frame) is refused too, since
/// every browser a secretary uses sends its real origin on a form post.
pub fn refuse_cross_site(req: &HttpRequest) -> Option<HttpResponse> {
    let opaque = req
        .headers()
        .get(actix_web::http::header::ORIGIN)
        .is_some_and(|o| o.as_bytes() == b"null");
    (opaque || !crate::web::same_origin(req)).then(|| {
        tracing::warn!(path = req.path(), "cross-site console post refused");
        HttpResponse::Forbidden()
            .content_type("text/plain; charset=utf-8")
            .body("跨站提交已被拒绝")
    })
}

/// A state-changing form post: a cross-site post is refused before anything is read,
/// the fields are read leniently, the job's error is shown as a console page.
pub async fn form_post<Fut>(
    req: &HttpRequest,
    user: &ConsoleUser,
    body: &[u8],
    job: impl FnOnce(Fields) -> Fut,
) -> HttpResponse
where
    Fut: std::future::Future<Output = crate::error::AppResult<HttpResponse>>,
{
    if let Some(r) = refuse_cross_site(req) {
        return r;
    }
    job(Fields::parse(body))
        .await
        .unwrap_or_else(|e| error(req, user, &e))
}

/// Form fields as posted (repeated names kept): parsing never fails on a missing or
/// odd field, so each field's problem is shown next to it in Chinese.
#[derive(Debug, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &[u8]) -> Self {
        Self(serde_urlencoded::from_bytes(body).unwrap_or_default())
    }

    pub fn get(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    }

    /// A field exactly as typed (passwords are not trimmed).
    pub fn raw(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// Every (name, value) as posted.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    }

    /// Everything typed, to fill the form again after an error.
    pub fn values(&self) -> Value {
        // The first value of each name (what a text input showed).
        let mut map = std::collections::BTreeMap::new();
        for (k, v) in &self.0 {
            map.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Value::from(map)
    }
}

/// A double submit of one form (same hidden `form_id`) creates one record: the first
/// claims the id in the live store; a repeat is told so. When the store is down the
/// check fails open (the unique keys of the records themselves still hold).
pub async fn first_submit(state: &crate::state::AppState, form_id: &str) -> bool {
    if form_id.is_empty() || form_id.len() > 64 {
        return true;
    }
    match state
        .live
        .set_nx(
            &format!("console:form:{form_id}"),
            b"1",
            std::time::Duration::from_secs(3600),
        )
        .await
    {
        Ok(first) => first,
        Err(e) => {
            tracing::warn!(error = %e, "double-submit check unavailable");
            true
        }
    }
}

pub fn new_form_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A time as people write it, in the organization's zone: 12月4日 14:00.
pub fn when(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%-m月%-d日 %H:%M").to_string()
}

/// The value of a `datetime-local` input, in the organization's zone.
pub fn input_time(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%dT%H:%M").to_string()
}

/// Reads a `datetime-local` value as a time in the organization's zone.
pub fn parse_input_time(s: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
        .ok()?;
    naive
        .and_local_timezone(tz)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(auth_pages::root));
    auth_pages::configure(cfg);
    secretary::configure(cfg);
    admin::configure(cfg);
    people::configure(cfg);
    card::configure(cfg);
    review::configure(cfg);
    publicity::configure(cfg);
    ranks::configure(cfg);
    results::configure(cfg);
    rewards::configure(cfg);
    scorecard::configure(cfg);
    reports::configure(cfg);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_console_template_renders_and_escapes() {
        let evil = "<script>x</script>";
        let row = minijinja::context! {
            id => 1, title => evil, name => evil, text => evil, href => "/console/", state => evil,
            when => evil, place => evil, status => evil, label => evil, reason => evil,
        };
        for (name, _) in TEMPLATES {
            let html = crate::web::env()
                .get_template(name)
                .unwrap()
                .render(minijinja::context! {
                    title => evil, text => evil, error => evil, username => evil, next => evil,
                    user => minijinja::context! { name => evil, role => evil, secretary => true },
                    nav => vec![minijinja::context! { href => "/console/", label => evil, active => true }],
                    errors => minijinja::context! { title => evil, current_password => evil },
                    form => minijinja::context! { title => evil },
                    inbox => vec![row.clone()], items => vec![row.clone()], rows => vec![row.clone()],
                    activity => row.clone(), org => row.clone(), person => row.clone(),
                    counts => row.clone(), session => row.clone(), proposal => row.clone(),
                    rule => row.clone(), filters => vec![row.clone()], missing => vec![row.clone()],
                    missing_n => 1, kinds => vec![row.clone()], hosts => vec![row.clone()],
                    invitable => vec![row.clone()], today => vec![row.clone()], month => evil,
                    report => minijinja::context! { errors => vec![row.clone()], rows => 1 },
                    case => row.clone(), policy => row.clone(), confirm => row.clone(), shown => row.clone(), tree => vec![row.clone()], history => vec![row.clone()], full_phone => evil, orgs => vec![row.clone(), row.clone()], allowed => minijinja::context! { accept => true, correct => true, reject => true },
                    material => row.clone(), sections => vec![minijinja::context! { id => "x", title => evil, rows => vec![row.clone()], more => "/console/" }],
                    waiting => vec![minijinja::context! { openid => evil, who => evil, count => 1, scans => vec![row.clone()] }],
                    lines => vec![row.clone()], scans => vec![row.clone()], members => vec![row.clone()], unbound => vec![row.clone()],
                    activities => vec![row.clone()], periods => vec![row.clone()], can_comment => true, can_write => true, can_bind => true,
                    keys => vec!["item"], hidden => minijinja::context! { item => evil }, fields => vec![row.clone()],
                    p => row.clone(), objections => vec![row.clone()], corrections => vec![row.clone()],
                })
                .unwrap();
            assert!(!html.contains(evil), "{name} does not escape");
            assert!(!html.contains("src=\"http"), "{name}: external asset");
        }
    }

    #[test]
    fn next_stays_inside_the_console() {
        assert_eq!(
            session::safe_next(Some("/console/activities?x=1")),
            "/console/activities?x=1"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/console/",
            "/console//evil",
            "/console/login?next=/x",
            "/m/",
            "/console/\\evil",
        ] {
            assert_eq!(session::safe_next(Some(bad)), "/console/", "{bad}");
        }
    }

    #[test]
    fn input_times_are_the_organizations_zone() {
        let tz: Tz = "Asia/Shanghai".parse().unwrap();
        let t = parse_input_time("2026-12-15T14:00", tz).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-15T06:00:00+00:00");
        assert_eq!(when(t, tz), "12月15日 14:00");
        assert_eq!(input_time(t, tz), "2026-12-15T14:00");
    }

    #[test]
    fn fields_keep_repeated_names() {
        let f = Fields::parse(b"a=1&b=%E4%B8%AD&a=2");
        assert_eq!(f.all("a"), ["1", "2"]);
        assert_eq!(f.get("b"), "中");
        assert_eq!(f.get("missing"), "");
    }
}
