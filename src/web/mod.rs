//! Server-rendered pages and their embedded assets: the member's H5 pages inside
//! WeChat (`/m/…`, signed in with [`crate::wechat::MemberSession`]) and the
//! projector page of a check-in session (`/projector/{session_id}`).
//!
//! Templates are minijinja with HTML auto-escaping, compiled into the binary; no
//! page loads anything from another origin (no CDN), and each carries a strict
//! Content-Security-Policy. Member pages need no script at all; the projector's
//! script is served from `/assets/`.

pub mod archive;
pub mod declarations;
pub mod disputes;
pub mod leave;
pub mod member;
pub mod projector;
pub mod publicity;
pub mod rewards;
pub mod settings;

use std::sync::OnceLock;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::Environment;

use crate::error::AppError;

const TEMPLATES: [(&str, &str); 6] = [
    ("base.html", include_str!("../../templates/web/base.html")),
    (
        "notice.html",
        include_str!("../../templates/web/notice.html"),
    ),
    ("home.html", include_str!("../../templates/web/home.html")),
    (
        "makeup_list.html",
        include_str!("../../templates/web/makeup_list.html"),
    ),
    (
        "makeup_study.html",
        include_str!("../../templates/web/makeup_study.html"),
    ),
    (
        "projector.html",
        include_str!("../../templates/web/projector.html"),
    ),
];

/// Embedded static files: (name, content type, body).
const ASSETS: [(&str, &str, &str); 6] = [
    (
        "projector.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/projector.js"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/console.js"),
    ),
    (
        "card-scan.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/card-scan.js"),
    ),
    // nimiq/qr-scanner 1.4.2 from the npm registry (MIT, assets/qr-scanner.LICENSE),
    // unchanged: the member card's camera reader.
    (
        "qr-scanner.min.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/qr-scanner.min.js"),
    ),
    (
        "qr-scanner-worker.min.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/qr-scanner-worker.min.js"),
    ),
    (
        "reward-scan.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/reward-scan.js"),
    ),
];

/// Member pages: no script, forms post to this origin only.
pub const MEMBER_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The projector: its own script, API calls to this origin, QR images as blobs.
pub const PROJECTOR_CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self' blob: data:; style-src 'unsafe-inline'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

pub(crate) fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES
            .into_iter()
            .chain(disputes::TEMPLATES)
            .chain(leave::TEMPLATES)
            .chain(declarations::TEMPLATES)
            .chain(publicity::TEMPLATES)
            .chain(archive::TEMPLATES)
            .chain(rewards::TEMPLATES)
            .chain(crate::console::TEMPLATES.iter().copied())
        {
            // Compile-time constants, each rendered by a test.
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "embedded template does not parse");
            }
        }
        env
    })
}

/// Renders an embedded page (auto-escaped) with the given CSP; a render failure is
/// logged and answered with a plain 500, never a panic.
pub fn render(status: StatusCode, name: &str, csp: &str, ctx: minijinja::Value) -> HttpResponse {
    match env().get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::CONTENT_SECURITY_POLICY, csp))
            // Member forms then carry their real Origin (with `no-referrer` a browser
            // sends `Origin: null` on a form post); other sites still get no referrer.
            .insert_header((
                header::REFERRER_POLICY,
                if csp == MEMBER_CSP || csp == crate::console::CONSOLE_CSP {
                    "same-origin"
                } else {
                    "no-referrer"
                },
            ))
            .insert_header((header::X_FRAME_OPTIONS, "DENY"))
            .body(html),
        Err(e) => {
            tracing::error!(template = name, error = %e, "page render failed");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("页面暂时无法显示")
        }
    }
}

/// A short message page for members.
pub fn notice(status: StatusCode, title: &str, message: &str, back: Option<&str>) -> HttpResponse {
    render(
        status,
        "notice.html",
        MEMBER_CSP,
        minijinja::context! {
            title => title,
            message => message,
            error => !status.is_success(),
            back => back,
        },
    )
}

/// An error as a member page: its status and Chinese detail (5xx: a generic line, logged).
pub fn error_page(e: &AppError, back: Option<&str>) -> HttpResponse {
    let status = e.code.status();
    if status.is_server_error() {
        tracing::error!(code = e.code.as_str(), error = ?e.source, "page failed");
        return notice(status, "系统繁忙", "系统繁忙，请稍后再试。", back);
    }
    notice(status, e.code.title(), &e.detail, back)
}

async fn asset(path: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|(name, _, _)| *name == path.as_str()) {
        Some((_, content_type, body)) => HttpResponse::Ok()
            .content_type(*content_type)
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(*body),
        None => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("没有这个文件"),
    }
}

/// A form post naming another site as its Origin is refused. Defence in depth: the
/// member's session cookie is SameSite=Lax, so a cross-site post arrives without it
/// anyway. No Origin, or an opaque `null` one (some webviews), is let through.
pub fn same_origin(req: &HttpRequest) -> bool {
    let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| *o != "null")
    else {
        return true;
    };
    let host = req.connection_info().host().to_owned();
    url::Url::parse(origin).is_ok_and(|u| {
        let o = match u.port() {
            Some(p) => format!("{}:{p}", u.host_str().unwrap_or_default()),
            None => u.host_str().unwrap_or_default().to_owned(),
        };
        o.eq_ignore_ascii_case(&host)
    })
}

/// Registers the pages and assets (needs `web::Data<AppState>` and `web::Data<MemberSignIn>`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    member::configure(cfg);
    disputes::configure(cfg);
    leave::configure(cfg);
    declarations::configure(cfg);
    projector::configure(cfg);
    settings::configure(cfg);
    publicity::configure(cfg);
    archive::configure(cfg);
    rewards::configure(cfg);
    cfg.route("/assets/{name}", web::get().to(asset));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_template_renders_and_escapes() {
        let evil = "<script>x</script>";
        for (name, _) in TEMPLATES
            .into_iter()
            .chain(disputes::TEMPLATES)
            .chain(publicity::TEMPLATES)
            .chain(archive::TEMPLATES)
        {
            let html = env()
                .get_template(name)
                .unwrap()
                .render(minijinja::context! {
                    title => evil, message => evil, error => evil, name => evil,
                    org_name => evil, note => evil, session_id => 7,
                    lines => vec![minijinja::context! { note => evil, points => "+1", date => evil }],
                    activities => vec![minijinja::context! { title => evil, status => evil }],
                    materials => vec![minijinja::context! { title => evil, body => evil, link => "https://x/\"><b>", progress => "studying",
                        questions => vec![minijinja::context! { index => 0, text => evil, options => vec![evil], multiple => false }] }],
                })
                .unwrap();
            assert!(!html.contains(evil), "{name} does not escape");
            assert!(
                !html.contains("\"><b>"),
                "{name} does not escape attributes"
            );
            assert!(
                !html.contains("http://") || !html.contains("src=\"http"),
                "{name}: external asset"
            );
        }
    }

    #[test]
    fn assets_are_embedded() {
        let (_, ty, body) = ASSETS[0];
        assert!(ty.starts_with("text/javascript") && body.contains("getReader"));
    }
}
