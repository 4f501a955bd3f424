//! Roster import benchmark: a fresh database, 50 branches, N generated rows, one import
//! (and a re-import, which must change nothing).
//!
//! cargo run --release --example bench_import -- 100000 [DATABASE_URL]
//! DATABASE_URL defaults to a fresh SQLite file; for PostgreSQL pass a URL to an empty database.

use std::time::Instant;

use vanguard::audit::Actor;
use vanguard::config::{Settings, Sources};
use vanguard::org::service::{self, NewOrg};
use vanguard::org::{OrgKind, import};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let rows: usize = args
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
    let state = vanguard::startup::build_state(settings, String::new()).await?;
    let actor = Actor::cli();
    let root = service::create(
        &state.db,
        &actor,
        None,
        NewOrg {
            name: "区委".into(),
            code: "ROOT".into(),
            kind: OrgKind::Committee,
            parent_id: None,
            timezone: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}", e.detail))?;
    for b in 0..50 {
        service::create(
            &state.db,
            &actor,
            None,
            NewOrg {
                name: format!("第{b}支部"),
                code: format!("ZB{b:03}"),
                kind: OrgKind::Branch,
                parent_id: Some(root.id),
                timezone: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.detail))?;
    }
    let roles = [
        "正式党员",
        "预备党员",
        "入党申请人",
        "入党积极分子",
        "发展对象",
    ];
    let mut csv = String::from("姓名,手机号,支部编码,类别,编号\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "党员{i},1{:010},ZB{:03},{},E{i:07}\n",
            3_000_000_000u64 + i as u64,
            i % 50,
            roles[i % 5]
        ));
    }
    let bytes = csv.into_bytes();
    println!(
        "backend: {}",
        if url.starts_with("sqlite") {
            "sqlite"
        } else {
            "postgres"
        }
    );
    println!("rows: {rows}, file: {} bytes", bytes.len());
    for label in ["first import", "re-import"] {
        let start = Instant::now();
        let report = import::import(&state.db, &actor, None, &bytes, false, &|_, _, _| {})
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.detail))?;
        println!(
            "{label}: {:.2?} (created {}, updated {}, unchanged {}, errors {})",
            start.elapsed(),
            report.created,
            report.updated,
            report.unchanged,
            report.errors.len()
        );
    }
    Ok(())
}
