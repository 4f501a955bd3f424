//! Server-rendered zh-CN pages of the gateway (templates embedded in the binary).

use std::sync::OnceLock;

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use minijinja::Environment;

const TEMPLATES: [(&str, &str); 5] = [
    (
        "base.html",
        include_str!("../../templates/wechat/base.html"),
    ),
    (
        "bind.html",
        include_str!("../../templates/wechat/bind.html"),
    ),
    (
        "notice.html",
        include_str!("../../templates/wechat/notice.html"),
    ),
    (
        "sandbox_oauth.html",
        include_str!("../../templates/wechat/sandbox_oauth.html"),
    ),
    (
        "phone.html",
        include_str!("../../templates/wechat/phone.html"),
    ),
];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            // The templates are compile-time constants covered by tests.
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "embedded template does not parse");
            }
        }
        env
    })
}

/// Render an embedded page (HTML auto-escaped); a render failure is logged and
/// answered with a plain 500, never a panic.
pub fn render_page(status: StatusCode, name: &str, ctx: minijinja::Value) -> HttpResponse {
    match env().get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(html),
        Err(e) => {
            tracing::error!(template = name, error = %e, "page render failed");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("页面暂时无法显示")
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_template_renders_and_escapes() {
        for (name, _) in TEMPLATES {
            let html = env()
                .get_template(name)
                .unwrap()
                .render(minijinja::context! { title => "<t>", message => "<m>", error => "<e>", next => "/", state => "s", openid => "o", reply => "<r>", sent => "x", recent => vec!["a"] })
                .unwrap();
            assert!(
                !html.contains("<m>") && !html.contains("<e>") && !html.contains("<r>"),
                "{name}"
            );
        }
    }
}
