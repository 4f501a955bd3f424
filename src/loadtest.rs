//! `vanguard loadtest`: a scan storm against a running instance, then a check of what
//! was stored.
//!
//! Each of N demo members (`vanguard demo`) scans the session's current QR once, as
//! WeChat would push it: signed with `wechat.token`, and sealed with the EncodingAESKey
//! when one is configured (safe mode). Mixed in: WeChat-style resends of the same event
//! (fresh timestamp and nonce; the reply must be identical) and double scans (a new
//! event; the reply must be "already checked in"). Afterwards the database must hold
//! exactly one check-in fact per member, each posted to the ledger: none lost, none
//! twice. Prints throughput and latency percentiles; exits 1 when anything is off.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::Serialize;
use tokio::sync::RwLock;

use crate::state::AppState;
use crate::wechat::OpenId;
use crate::wechat::sandbox::{read_reply, simulated_push};
use crate::wechat::settings::SANDBOX_ACCOUNT;
use crate::wechat::xml::push_document;

#[derive(Debug, Clone)]
pub struct Options {
    /// Base URL of the instance(s); scans are spread over them in turn.
    pub urls: Vec<String>,
    pub session_id: i64,
    pub admin_token: String,
    pub members: usize,
    pub concurrency: usize,
    /// Share of members whose scan WeChat resends (percent).
    pub resend_percent: u32,
    /// Share of members who scan twice (percent).
    pub double_percent: u32,
    /// Chaos runs: a push with no reply (transport error, HTTP error, timed out) is
    /// pushed again up to this many times, `retry_delay` apart, to the next instance, as
    /// WeChat does; after "系统繁忙" the member scans again (a new event). 0: one try.
    pub retries: u32,
    pub retry_delay: Duration,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub members: usize,
    pub requests: usize,
    pub seconds: f64,
    pub checkins_per_second: f64,
    pub requests_per_second: f64,
    pub latency_ms: Percentiles,
    pub counted_replies: usize,
    pub resends: usize,
    pub resend_mismatches: usize,
    pub double_scans: usize,
    pub double_mismatches: usize,
    pub other_replies: usize,
    pub errors: usize,
    pub stored_checkins: usize,
    pub distinct_people: usize,
    pub lost: usize,
    pub duplicated: usize,
    pub unposted: usize,
    pub safe_mode: bool,
    /// Chaos runs only (`retries > 0`).
    pub chaos: Option<ChaosCounts>,
}

/// What a chaos run checks: a member told "checked in" has exactly one check-in and its
/// ledger posting; one who never heard so has none, or is confirmed on a retry.
#[derive(Debug, Default, Serialize)]
pub struct ChaosCounts {
    /// Members whose scan got a success (or "already checked in") reply.
    pub acknowledged: usize,
    /// Acknowledged, yet no check-in stored (must be 0).
    pub acknowledged_lost: usize,
    /// Never acknowledged, nothing stored.
    pub unacknowledged_none: usize,
    /// Never acknowledged, stored anyway (the reply was lost): a final resend of the same
    /// event must answer success or "already checked in".
    pub unacknowledged_stored: usize,
    pub unacknowledged_confirmed_on_retry: usize,
    pub retries: usize,
    pub busy_replies: usize,
    pub no_replies: usize,
    /// The final replies of unacknowledged members, by text ("" = none), most frequent first.
    pub unacknowledged_replies: Vec<(String, usize)>,
}

impl Report {
    pub fn ok(&self) -> bool {
        if let Some(c) = &self.chaos {
            return self.duplicated == 0
                && self.unposted == 0
                && c.acknowledged_lost == 0
                && c.unacknowledged_confirmed_on_retry == c.unacknowledged_stored;
        }
        self.lost == 0
            && self.duplicated == 0
            && self.unposted == 0
            && self.errors == 0
            && self.resend_mismatches == 0
            && self.double_mismatches == 0
            && self.counted_replies == self.members
    }
}

#[derive(Debug, Default, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

fn percentiles(mut micros: Vec<u64>) -> Percentiles {
    micros.sort_unstable();
    let at = |q: f64| {
        if micros.is_empty() {
            return 0.0;
        }
        let i = ((micros.len() as f64 * q).ceil() as usize).clamp(1, micros.len()) - 1;
        micros[i] as f64 / 1000.0
    };
    Percentiles {
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        max: at(1.0),
    }
}

#[derive(Default)]
struct Tally {
    latencies: Vec<u64>,
    counted: usize,
    resends: usize,
    resend_mismatches: usize,
    doubles: usize,
    double_mismatches: usize,
    other: usize,
    errors: usize,
    /// Chaos runs: each member's scan, whether it was acknowledged, and the final reply.
    firsts: Vec<(usize, String, bool, String)>,
    retries: usize,
    busy: usize,
    no_reply: usize,
}

const BUSY: &str = "系统繁忙";

fn acknowledged(reply: &str) -> bool {
    reply.starts_with("签到成功")
        || reply.starts_with("已记录出席")
        || reply.starts_with("您已签到过")
}

/// The member's n-th pick in 0..100, stable across runs.
fn pick(n: usize, salt: u64) -> u32 {
    let x = (n as u64 ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    ((x >> 33) % 100) as u32
}

pub async fn run(state: &AppState, opts: Options) -> anyhow::Result<Report> {
    anyhow::ensure!(!opts.urls.is_empty(), "no instance URL");
    anyhow::ensure!(opts.members > 0, "--members must be at least 1");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(opts.concurrency)
        .timeout(Duration::from_secs(30))
        .build()?;
    let session = crate::checkin::sessions::load(&state.db, state.live.as_ref(), opts.session_id)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.detail))?
        .ok_or_else(|| anyhow::anyhow!("session {} does not exist", opts.session_id))?;

    // The projector's view of the QR, refreshed as the slots turn.
    let scene = Arc::new(RwLock::new(
        current_scene(&http, &opts.urls[0], opts.session_id, &opts.admin_token).await?,
    ));
    let refresher = {
        let (http, url, token, scene) = (
            http.clone(),
            opts.urls[0].clone(),
            opts.admin_token.clone(),
            scene.clone(),
        );
        let id = opts.session_id;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if let Ok(s) = current_scene(&http, &url, id, &token).await {
                    *scene.write().await = s;
                }
            }
        })
    };

    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..opts.concurrency.max(1) {
        let (http, next, scene, opts, cfg) = (
            http.clone(),
            next.clone(),
            scene.clone(),
            opts.clone(),
            state.wechat.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut t = Tally::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= opts.members {
                    break;
                }
                let url = &opts.urls[i % opts.urls.len()];
                let Ok(openid) = OpenId::parse(&crate::demo::openid(i + 1)) else {
                    t.errors += 1;
                    continue;
                };
                let key = scene.read().await.clone();
                let now = chrono::Utc::now().timestamp();
                let mut doc = scan_doc(&openid, now, &key);
                let mut first = send(&http, url, &cfg, &doc, &openid, &mut t).await;
                // WeChat's retries (chaos runs): the same event again when nothing came
                // back; after "busy" the member scans again, a new event.
                let mut attempt = 0;
                while attempt < opts.retries
                    && first
                        .as_deref()
                        .is_none_or(|r| r.is_empty() || r.starts_with(BUSY))
                {
                    attempt += 1;
                    t.retries += 1;
                    match first.as_deref() {
                        Some(r) if r.starts_with(BUSY) => {
                            t.busy += 1;
                            let key = scene.read().await.clone();
                            doc = scan_doc(&openid, chrono::Utc::now().timestamp(), &key);
                        }
                        _ => t.no_reply += 1,
                    }
                    tokio::time::sleep(opts.retry_delay).await;
                    let url = &opts.urls[(i + attempt as usize) % opts.urls.len()];
                    first = send(&http, url, &cfg, &doc, &openid, &mut t).await;
                }
                if opts.retries > 0 {
                    let acked = first.as_deref().is_some_and(acknowledged);
                    let last = first.clone().unwrap_or_default();
                    t.firsts.push((i, doc.clone(), acked, last));
                }
                let Some(first) = first else { continue };
                if first.starts_with("签到成功") || first.starts_with("已记录出席") {
                    t.counted += 1;
                } else {
                    t.other += 1;
                }
                // Resends and second scans land on the next instance, if there are several.
                let other = &opts.urls[(i + 1) % opts.urls.len()];
                if pick(i, 1) < opts.resend_percent {
                    // WeChat resends the same event with a fresh timestamp and nonce.
                    t.resends += 1;
                    let again = send(&http, other, &cfg, &doc, &openid, &mut t).await;
                    if again.as_deref() != Some(first.as_str()) {
                        t.resend_mismatches += 1;
                    }
                }
                if pick(i, 2) < opts.double_percent {
                    t.doubles += 1;
                    let doc = scan_doc(&openid, now + 1, &key);
                    let again = send(&http, other, &cfg, &doc, &openid, &mut t).await;
                    if !again.is_some_and(|r| r.starts_with("您已签到过")) {
                        t.double_mismatches += 1;
                    }
                }
            }
            t
        }));
    }
    let mut all = Tally::default();
    for w in workers {
        let t = w.await?;
        all.latencies.extend(t.latencies);
        all.counted += t.counted;
        all.resends += t.resends;
        all.resend_mismatches += t.resend_mismatches;
        all.doubles += t.doubles;
        all.double_mismatches += t.double_mismatches;
        all.other += t.other;
        all.errors += t.errors;
        all.firsts.extend(t.firsts);
        all.retries += t.retries;
        all.busy += t.busy;
        all.no_reply += t.no_reply;
    }
    let seconds = started.elapsed().as_secs_f64();
    refresher.abort();

    let stored = stored_checkins(state, session.activity_id).await?;
    let expected: std::collections::HashSet<String> =
        (1..=opts.members).map(crate::demo::openid).collect();
    let mut people = std::collections::HashMap::new();
    for (_, person) in &stored.facts {
        *people.entry(*person).or_insert(0usize) += 1;
    }
    let stored_ours = stored
        .openids
        .iter()
        .filter(|o| expected.contains(o.as_str()))
        .count();
    let chaos = if opts.retries > 0 {
        Some(chaos_counts(&http, &opts, state, &stored, &all).await)
    } else {
        None
    };
    let requests = all.latencies.len();
    Ok(Report {
        members: opts.members,
        requests,
        seconds,
        checkins_per_second: opts.members as f64 / seconds,
        requests_per_second: requests as f64 / seconds,
        latency_ms: percentiles(all.latencies),
        counted_replies: all.counted,
        resends: all.resends,
        resend_mismatches: all.resend_mismatches,
        double_scans: all.doubles,
        double_mismatches: all.double_mismatches,
        other_replies: all.other,
        errors: all.errors,
        stored_checkins: stored.facts.len(),
        distinct_people: people.len(),
        lost: opts.members.saturating_sub(stored_ours),
        duplicated: people.values().map(|n| n - 1).sum(),
        unposted: stored.unposted,
        safe_mode: state.wechat.keys.is_some(),
        chaos,
    })
}

/// Sorts members by what they heard and what was stored; resends the last event of
/// each member stored without hearing so (it must now answer success or "already").
async fn chaos_counts(
    http: &reqwest::Client,
    opts: &Options,
    state: &AppState,
    stored: &Stored,
    all: &Tally,
) -> ChaosCounts {
    let stored_openids: std::collections::HashSet<&str> =
        stored.openids.iter().map(String::as_str).collect();
    let mut c = ChaosCounts {
        retries: all.retries,
        busy_replies: all.busy,
        no_replies: all.no_reply,
        ..ChaosCounts::default()
    };
    let mut scratch = Tally::default();
    let mut replies: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, doc, acked, last) in &all.firsts {
        if !acked {
            *replies.entry(last.as_str()).or_default() += 1;
        }
        let openid = crate::demo::openid(i + 1);
        let is_stored = stored_openids.contains(openid.as_str());
        match (acked, is_stored) {
            (true, true) => c.acknowledged += 1,
            (true, false) => {
                c.acknowledged += 1;
                c.acknowledged_lost += 1;
            }
            (false, false) => c.unacknowledged_none += 1,
            (false, true) => {
                c.unacknowledged_stored += 1;
                let Ok(oid) = OpenId::parse(&openid) else {
                    continue;
                };
                let url = &opts.urls[0];
                let again = send(http, url, &state.wechat, doc, &oid, &mut scratch).await;
                if again.as_deref().is_some_and(acknowledged) {
                    c.unacknowledged_confirmed_on_retry += 1;
                }
            }
        }
    }
    let mut replies: Vec<(String, usize)> = replies
        .into_iter()
        .map(|(r, n)| (r.to_owned(), n))
        .collect();
    replies.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    c.unacknowledged_replies = replies;
    c
}

fn scan_doc(openid: &OpenId, at: i64, scene: &str) -> String {
    push_document(&[
        ("ToUserName", SANDBOX_ACCOUNT),
        ("FromUserName", openid.as_str()),
        ("CreateTime", &at.to_string()),
        ("MsgType", "event"),
        ("Event", "SCAN"),
        ("EventKey", scene),
        ("Ticket", "loadtest"),
    ])
}

/// One signed push; the reply text, timing recorded. `None` on a transport or HTTP error.
async fn send(
    http: &reqwest::Client,
    url: &str,
    cfg: &crate::wechat::ResolvedSettings,
    doc: &str,
    openid: &OpenId,
    t: &mut Tally,
) -> Option<String> {
    let (query, body) = simulated_push(cfg, doc, openid, chrono::Utc::now().timestamp());
    let started = Instant::now();
    let response = http
        .post(format!("{url}/wechat/callback?{query}"))
        .header("content-type", "text/xml")
        .body(body)
        .send()
        .await;
    let text = match response {
        Ok(r) if r.status().is_success() => r.text().await.ok(),
        Ok(r) => {
            tracing::warn!(status = %r.status(), "callback refused a scan");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "callback unreachable");
            None
        }
    };
    t.latencies
        .push(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
    let Some(text) = text else {
        t.errors += 1;
        return None;
    };
    match read_reply(cfg, &text) {
        Ok(Some(reply)) => Some(reply),
        Ok(None) => Some(String::new()),
        Err(e) => {
            tracing::warn!(error = %e, "unreadable reply");
            t.errors += 1;
            None
        }
    }
}

async fn current_scene(
    http: &reqwest::Client,
    url: &str,
    session: i64,
    token: &str,
) -> anyhow::Result<String> {
    #[derive(serde::Deserialize)]
    struct Qr {
        scene: String,
    }
    let r = http
        .get(format!("{url}/api/v1/sessions/{session}/qr"))
        .bearer_auth(token)
        .send()
        .await?;
    anyhow::ensure!(
        r.status().is_success(),
        "GET /api/v1/sessions/{session}/qr: {}",
        r.status()
    );
    Ok(r.json::<Qr>().await?.scene)
}

struct Stored {
    /// (fact id, person id)
    facts: Vec<(i64, i64)>,
    openids: Vec<String>,
    /// Check-in facts with no ledger line.
    unposted: usize,
}

async fn stored_checkins(state: &AppState, activity: i64) -> anyhow::Result<Stored> {
    use entity::fact::Column as F;
    let facts: Vec<(i64, Option<i64>)> = entity::fact::Entity::find()
        .select_only()
        .column(F::Id)
        .column(F::PersonId)
        .filter(F::ActivityId.eq(activity))
        .filter(F::Kind.eq("checkin"))
        .into_tuple()
        .all(&state.db)
        .await?;
    let facts: Vec<(i64, i64)> = facts
        .into_iter()
        .filter_map(|(f, p)| Some((f, p?)))
        .collect();
    let mut openids = Vec::new();
    let mut posted = std::collections::HashSet::new();
    let ids: Vec<i64> = facts.iter().map(|f| f.0).collect();
    let persons: Vec<i64> = facts.iter().map(|f| f.1).collect();
    for chunk in persons.chunks(1000) {
        let rows: Vec<Option<String>> = entity::person::Entity::find()
            .select_only()
            .column(entity::person::Column::Openid)
            .filter(entity::person::Column::Id.is_in(chunk.to_vec()))
            .into_tuple()
            .all(&state.db)
            .await?;
        openids.extend(rows.into_iter().flatten());
    }
    for chunk in ids.chunks(1000) {
        let rows: Vec<Option<i64>> = entity::ledger_entry::Entity::find()
            .select_only()
            .column(entity::ledger_entry::Column::SourceId)
            .filter(entity::ledger_entry::Column::SourceKind.eq("fact"))
            .filter(entity::ledger_entry::Column::SourceId.is_in(chunk.to_vec()))
            .into_tuple()
            .all(&state.db)
            .await?;
        posted.extend(rows.into_iter().flatten());
    }
    let unposted = ids.iter().filter(|id| !posted.contains(id)).count();
    Ok(Stored {
        facts,
        openids,
        unposted,
    })
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "mode: {}",
            if self.safe_mode {
                "safe (AES)"
            } else {
                "plaintext"
            }
        )?;
        writeln!(
            f,
            "members {}  requests {} ({} resends, {} double scans)  in {:.2} s",
            self.members, self.requests, self.resends, self.double_scans, self.seconds
        )?;
        writeln!(
            f,
            "throughput: {:.0} check-ins/s, {:.0} callbacks/s",
            self.checkins_per_second, self.requests_per_second
        )?;
        writeln!(
            f,
            "reply latency ms: p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
            self.latency_ms.p50, self.latency_ms.p90, self.latency_ms.p99, self.latency_ms.max
        )?;
        writeln!(
            f,
            "replies: {} counted, {} other, {} errors; resend mismatches {}, double-scan mismatches {}",
            self.counted_replies,
            self.other_replies,
            self.errors,
            self.resend_mismatches,
            self.double_mismatches
        )?;
        write!(
            f,
            "stored: {} check-ins for {} people; lost {}, duplicated {}, unposted {} → {}",
            self.stored_checkins,
            self.distinct_people,
            self.lost,
            self.duplicated,
            self.unposted,
            if self.ok() { "OK" } else { "FAILED" }
        )?;
        if let Some(c) = &self.chaos {
            write!(
                f,
                "\nchaos: {} retries ({} after no reply, {} after busy); acknowledged {} \
                 (lost {}); unacknowledged: {} with nothing stored, {} stored and {} of them \
                 confirmed on retry",
                c.retries,
                c.no_replies,
                c.busy_replies,
                c.acknowledged,
                c.acknowledged_lost,
                c.unacknowledged_none,
                c.unacknowledged_stored,
                c.unacknowledged_confirmed_on_retry
            )?;
            for (reply, n) in c.unacknowledged_replies.iter().take(5) {
                let reply = if reply.is_empty() {
                    "(no reply)"
                } else {
                    reply
                };
                write!(f, "\n  {n} × {reply}")?;
            }
        }
        Ok(())
    }
}
