//! `/projector/{session_id}`: the full-screen page a secretary puts on the projector,
//! and with `?compact=1` the same data for the secretary's phone (counts and who is
//! still missing).
//!
//! The page itself holds no data: the secretary signs in on it
//! (`/api/v1/auth/login`); on the projector the login is exchanged at once for a
//! projector credential (`checkin::projector`: this session's QR and live count only)
//! and the secretary's own login is ended; the compact phone view keeps the login's
//! tokens in `sessionStorage`, refreshed with the refresh token. The script (`/assets/projector.js`) reads everything through the API
//! with the bearer token: the session and its activity, the rotating QR code
//! (`/qr` for the slot's expiry, `/qr.svg` for the image, fetched again as each slot
//! turns over), and the live count over server-sent events (`/live`, read with
//! `fetch()` and a stream reader because EventSource cannot send headers; it
//! reconnects with back-off when the stream drops). Names of arrivals are masked on
//! the projector, as on any public display.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{PROJECTOR_CSP, render};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/projector/{session_id}", web::get().to(page));
}

#[derive(Deserialize)]
struct PageQuery {
    compact: Option<String>,
}

async fn page(path: web::Path<i64>, q: web::Query<PageQuery>) -> HttpResponse {
    let compact = q
        .compact
        .as_deref()
        .is_some_and(|c| matches!(c, "1" | "true" | "yes"));
    render(
        StatusCode::OK,
        "projector.html",
        PROJECTOR_CSP,
        minijinja::context! {
            title => if compact { "签到情况" } else { "签到投屏" },
            session_id => *path,
            compact => compact,
        },
    )
}
