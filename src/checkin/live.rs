//! Live attendance: counters and a fan-out channel per session in the live store,
//! read by the projector and the secretary's phone over server-sent events. The
//! database stays the truth: every stream starts from it and re-reads it every few
//! seconds, so a live-store outage only delays the count.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use futures_util::StreamExt;
use serde::Serialize;

use super::sessions::CachedSession;
use crate::state::AppState;

fn channel(session: i64) -> String {
    format!("live:session:{session}")
}

#[derive(Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    class: &'a str,
    /// Masked, as on any public display.
    name: String,
    person_id: i64,
}

/// Announces a counted scan; failures only delay the live view.
pub async fn counted(
    state: &AppState,
    s: &CachedSession,
    person: &entity::person::Model,
    class: &str,
) {
    let event = Event {
        kind: "checkin",
        class,
        name: crate::org::mask_name(&person.name),
        person_id: person.id,
    };
    if let Ok(bytes) = serde_json::to_vec(&event)
        && let Err(e) = state.live.publish(&channel(s.id), &bytes).await
    {
        tracing::warn!(error = %e, session = s.id, "live update not published");
    }
}

/// `text/event-stream`: a `counts` event at once and every 5 s, and a `checkin` event per scan.
/// The last arrivals as the projector shows them: masked names, class, time.
async fn recent_json(state: &AppState, activity: i64) -> String {
    let items = match super::attendance::activity(&state.db, activity).await {
        Ok(a) => super::attendance::recent(state, &a, 10)
            .await
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let list: Vec<serde_json::Value> = items
        .iter()
        .map(|i| {
            serde_json::json!({
                "name": crate::org::mask_name(&i.name),
                "class": i.status,
                "at": i.at,
            })
        })
        .collect();
    serde_json::Value::Array(list).to_string()
}

pub async fn stream(state: web::Data<AppState>, session: i64, activity: i64) -> HttpResponse {
    let live = match state.live.subscribe(&channel(session)).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "live store unavailable: counts only");
            futures_util::stream::empty().boxed()
        }
    };
    let live = live.map(|msg| {
        let text = String::from_utf8_lossy(&msg).into_owned();
        Ok::<_, actix_web::Error>(web::Bytes::from(format!(
            "event: checkin\ndata: {text}\n\n"
        )))
    });
    let st = state.clone();
    let ticks = futures_util::stream::unfold(true, move |first| {
        let st = st.clone();
        async move {
            if !first {
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            let counts = super::attendance::counts(&st, activity).await.ok();
            let data = serde_json::to_string(&counts).unwrap_or_else(|_| "null".to_owned());
            let mut out = format!("event: counts\ndata: {data}\n\n");
            if first {
                // A projector opened (or reloaded) late lists who already arrived.
                out.push_str(&format!(
                    "event: recent\ndata: {}\n\n",
                    recent_json(&st, activity).await
                ));
            }
            Some((Ok::<_, actix_web::Error>(web::Bytes::from(out)), false))
        }
    });
    let mut shutdown = state.shutdown.clone();
    let stop = async move {
        let _ = shutdown.wait_for(|down| *down).await;
    };
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(futures_util::stream::select(ticks, live).take_until(Box::pin(stop)))
}
