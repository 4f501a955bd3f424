//! Official forms benchmark: a fresh database with N members under sdtbu-2018 (a general
//! branch of branches of 1,000, five graded items each) and N members under erqi-2021
//! (monthly dues, quarterly study, some special items and deductions), the year posted
//! by the engine (`replay_year`), then each form exported end to end (the queries and
//! the writer), as the API does it: 党员积分量化登记表 and 党员积分台账 at N members,
//! and the 星级评定情况统计表.
//!
//! cargo run --release --example bench_forms -- 100000 [DATABASE_URL]
//! DATABASE_URL defaults to a fresh SQLite file; for PostgreSQL pass a URL to an empty database.
//! A database that already holds the bench data (a URL given to an earlier run) is reused,
//! so the exports can be measured again without loading 200,000 members.

use std::time::Instant;

use chrono::{TimeZone, Utc};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use vanguard::audit::Actor;
use vanguard::config::{Settings, Sources};
use vanguard::org::OrgKind;
use vanguard::org::service::{self, NewOrg};
use vanguard::reports::export::ExportFormat;

const BRANCH: usize = 1000;
const YEAR: i32 = 2026;

fn e(err: vanguard::error::AppError) -> anyhow::Error {
    anyhow::anyhow!("{}: {:?}", err.detail, err.source)
}

async fn org(
    state: &vanguard::state::AppState,
    name: String,
    code: String,
    kind: OrgKind,
    parent: Option<vanguard::ids::OrgId>,
) -> anyhow::Result<entity::organization::Model> {
    let v = service::create(
        &state.db,
        &Actor::cli(),
        None,
        NewOrg {
            name,
            code,
            kind,
            parent_id: parent,
            timezone: None,
        },
    )
    .await
    .map_err(e)?;
    service::find(&state.db, v.id).await.map_err(e)
}

fn at(m: u32, d: u32) -> chrono::DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(YEAR, m, d, 10, 0, 0)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn fact(
    person: i64,
    item: &str,
    points: Option<i64>,
    when: chrono::DateTime<Utc>,
) -> entity::fact::ActiveModel {
    entity::fact::ActiveModel {
        id: NotSet,
        kind: Set("item".into()),
        person_id: Set(Some(person)),
        org_id: Set(None),
        activity_id: Set(None),
        item: Set(Some(item.into())),
        fields: Set(points.map(|p| format!("{{\"points\":{p}}}"))),
        method: Set(None),
        target_id: Set(None),
        at: Set(when),
        year: Set(YEAR),
        received_at: Set(when),
        session_id: Set(None),
        actor_kind: Set("cli".into()),
        actor_id: Set(None),
        actor_name: Set("bench".into()),
        reason: Set(None),
        evidence: Set(None),
        dedup_key: Set(None),
        source_event: Set(None),
        created_at: Set(when),
    }
}

/// `members` people in branches of 1,000 under a new general branch choosing `policy`;
/// their facts from `items(i)`.
async fn population(
    state: &vanguard::state::AppState,
    tag: &str,
    policy: &str,
    members: usize,
    items: impl Fn(usize) -> Vec<(&'static str, Option<i64>, chrono::DateTime<Utc>)>,
) -> anyhow::Result<entity::organization::Model> {
    let root = org(
        state,
        format!("{tag}党总支"),
        format!("{tag}-ROOT"),
        OrgKind::GeneralBranch,
        None,
    )
    .await?;
    entity::org_policy::Entity::insert(entity::org_policy::ActiveModel {
        id: NotSet,
        org_id: Set(root.id),
        year: Set(YEAR),
        policy: Set(policy.into()),
        source: Set(None),
        chosen_by: Set(None),
        chosen_at: Set(Utc::now()),
    })
    .exec_without_returning(&state.db)
    .await?;
    let mut branches = Vec::new();
    for b in 0..members.div_ceil(BRANCH) {
        branches.push(
            org(
                state,
                format!("{tag}第{}党支部", b + 1),
                format!("{tag}-{b:04}"),
                OrgKind::Branch,
                Some(vanguard::ids::OrgId(root.id)),
            )
            .await?
            .id,
        );
    }
    let now = Utc::now();
    let txn = vanguard::db::begin(&state.db).await?;
    for start in (0..members).step_by(2000) {
        let rows: Vec<entity::person::ActiveModel> = (start..(start + 2000).min(members))
            .map(|i| entity::person::ActiveModel {
                id: NotSet,
                external_id: Set(Some(format!("{tag}{i:07}"))),
                name: Set(format!("党员{i:06}")),
                phone: Set(None),
                org_id: Set(branches[i / BRANCH]),
                role: Set(if i % 10 == 9 {
                    "probationary"
                } else {
                    "member"
                }
                .into()),
                status: Set("active".into()),
                openid: Set(None),
                birth_date: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            })
            .collect();
        entity::person::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
    }
    let ids: Vec<(i64, Option<String>)> = entity::person::Entity::find()
        .select_only()
        .columns([
            entity::person::Column::Id,
            entity::person::Column::ExternalId,
        ])
        .filter(entity::person::Column::ExternalId.like(format!("{tag}%")))
        .into_tuple()
        .all(&txn)
        .await?;
    let mut rows = Vec::new();
    for (id, ext) in ids {
        let i: usize = ext
            .as_deref()
            .and_then(|x| x.strip_prefix(tag))
            .and_then(|x| x.parse().ok())
            .unwrap_or(0);
        for (item, points, when) in items(i) {
            rows.push(fact(id, item, points, when));
        }
        if rows.len() >= 1000 {
            entity::fact::Entity::insert_many(std::mem::take(&mut rows))
                .exec_without_returning(&txn)
                .await?;
        }
    }
    if !rows.is_empty() {
        entity::fact::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(root)
}

/// Both populations, and the year posted by the engine.
async fn load(
    state: &vanguard::state::AppState,
    members: usize,
) -> anyhow::Result<(entity::organization::Model, entity::organization::Model)> {
    let t = Instant::now();
    let sd = population(state, "SD", "sdtbu-2018", members, |i| {
        let p = |k: usize, max: usize| Some(i64::try_from((i * 7 + k * 13) % max).unwrap_or(0));
        vec![
            ("base_life", p(1, 30), at(3, 15)),
            ("base_dues", p(2, 20), at(5, 15)),
            ("base_study", p(3, 12), at(7, 15)),
            ("base_discipline", p(4, 10), at(9, 15)),
            ("contribution", p(5, 31), at(10, 20)),
        ]
    })
    .await?;
    let eq = population(state, "EQ", "erqi-2021", members, |i| {
        let mut v: Vec<_> = (1..=12).map(|m| ("dues", None, at(m, 1))).collect();
        v.extend((0..4).map(|q| ("study", None, at(q * 3 + 2, 10))));
        if i % 3 == 0 {
            v.push(("innovative_activity", None, at(4, 12)));
        }
        if i % 5 == 0 {
            v.push(("absence_unexcused", None, at(6, 20)));
        }
        v
    })
    .await?;
    println!("loaded 2 × {members} members in {:.1?}", t.elapsed());
    let t = Instant::now();
    for root in [&sd, &eq] {
        let txn = vanguard::db::begin(&state.db).await?;
        vanguard::ledger::year::replay_year(&txn, &state.scoring, Some(root), YEAR, false)
            .await
            .map_err(e)?;
        txn.commit().await?;
    }
    println!("posted the year in {:.1?}", t.elapsed());

    Ok((sd, eq))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let members: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let url = args
        .next()
        .unwrap_or_else(|| format!("sqlite://{}/bench.db?mode=rwc", dir.path().display()));
    let toml = format!("[database]\nurl = \"{url}\"\n[log]\nlevel = \"warn\"\n");
    let settings = Settings::load_from(Sources {
        file: None,
        overrides: &[&toml],
        env: false,
    })?;
    // Each step of a form (its queries, the figures, the writer) reports its time.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "warn,vanguard::reports=debug",
        ))
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_target(false)
        .init();
    let state = vanguard::startup::build_state(settings, String::new()).await?;

    // A database given on the command line that already holds the bench data (an
    // earlier run) is reused: only the exports are measured again.
    let existing = |code: &'static str| {
        entity::organization::Entity::find()
            .filter(entity::organization::Column::Code.eq(code))
            .one(&state.db)
    };
    let (sd, eq) = match (existing("SD-ROOT").await?, existing("EQ-ROOT").await?) {
        (Some(sd), Some(eq)) => {
            println!("reusing the bench data in {url}");
            (sd, eq)
        }
        _ => load(&state, members).await?,
    };

    let now = at(12, 31);
    for (label, root, key) in [
        ("党员积分量化登记表", &sd, "registration"),
        ("星级评定情况统计表", &sd, "stars"),
        ("党员积分台账", &eq, "ledger"),
    ] {
        for format in [ExportFormat::Xlsx, ExportFormat::Csv] {
            let t = Instant::now();
            let (bytes, rows) = vanguard::reports::routes::form_bytes(
                &state.db,
                &state.scoring,
                root,
                key,
                YEAR,
                now,
                format,
            )
            .await
            .map_err(e)?;
            println!(
                "{label} ({members} members) {}: {rows} rows, {:.1} MB in {:.2?}",
                format.extension(),
                bytes.len() as f64 / 1e6,
                t.elapsed()
            );
        }
    }
    // Where the 台账's time goes: the queries and the figures, then each writer.
    let t = Instant::now();
    let sheets = vanguard::reports::forms::monthly(&state.db, &state.scoring, &eq, YEAR, now)
        .await
        .map_err(e)?;
    println!("党员积分台账 queries and figures: {:.2?}", t.elapsed());
    for format in [ExportFormat::Xlsx, ExportFormat::Csv] {
        let t = Instant::now();
        let bytes = vanguard::reports::export::write_book(&sheets, "支部", format).map_err(e)?;
        println!(
            "党员积分台账 {} writer only: {:.1} MB in {:.2?}",
            format.extension(),
            bytes.len() as f64 / 1e6,
            t.elapsed()
        );
    }
    Ok(())
}
