//! The `vanguard` command line: `serve` (the default) and the operator's tools.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::audit::Actor;
use crate::auth::Role;
use crate::auth::service::{self as accounts, NewAccount};
use crate::config::Settings;
use crate::ids::{AccountId, OrgId};
use crate::org::import;
use crate::startup::{Application, build_state};

#[derive(Parser)]
#[command(
    name = "vanguard",
    version,
    about = "党员先锋指数积分管理 / points system for Party organizations"
)]
struct Cli {
    /// Settings file (TOML) applied over the embedded default.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API, the WeChat callback and the pages (the default).
    Serve,
    /// Run pending database migrations and exit.
    Migrate,
    /// Import data files.
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// Score a scenario year (../shared/scenarios/FORMAT.md) and print the result as JSON.
    Score { file: PathBuf },
    /// Manage staff accounts.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Seed a demo branch (演示支部) with N bound members and open a fixed-day session;
    /// prints {session_id, activity_id, admin_token, projector_url, simulator_url}.
    Demo {
        #[arg(long, default_value_t = 100)]
        members: usize,
        /// Seed even when the database holds other organizations.
        #[arg(long)]
        force: bool,
    },
    /// Scan storm against running instance(s) with resends and double scans mixed in,
    /// then verify the stored check-ins; prints throughput and latency percentiles.
    Loadtest {
        /// Output of `vanguard demo` (session_id and admin_token); or give both below.
        #[arg(long, value_name = "FILE")]
        demo: Option<PathBuf>,
        #[arg(long)]
        session: Option<i64>,
        #[arg(long)]
        admin_token: Option<String>,
        /// Base URL of an instance; repeat to spread the scans over several.
        #[arg(long = "url")]
        urls: Vec<String>,
        /// Members demo-0000001 … scanning once each.
        #[arg(long, default_value_t = 1000)]
        members: usize,
        /// Requests in flight at once (WeChat's servers push many callbacks concurrently).
        #[arg(long, default_value_t = 128)]
        concurrency: usize,
        /// Percent of scans WeChat resends.
        #[arg(long, default_value_t = 10)]
        resend_percent: u32,
        /// Percent of members scanning twice.
        #[arg(long, default_value_t = 10)]
        double_percent: u32,
        /// Chaos runs: push again up to this many times when a push gets no reply or
        /// "busy", as WeChat does (the check then allows scans that never succeeded).
        #[arg(long, default_value_t = 0)]
        retries: u32,
        /// Seconds between those retries (WeChat waits 5).
        #[arg(long, default_value_t = 5)]
        retry_delay_seconds: u64,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ImportWhat {
    /// A roster (CSV or XLSX with 姓名, 手机号, 支部编码, 类别, 编号).
    Roster {
        file: PathBuf,
        /// List every bad row and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum AdminAction {
    /// List accounts.
    List,
    /// Create an account; prints its generated password once.
    Create {
        username: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Code of the organization the account is scoped to (omit: everything).
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        name: Option<String>,
    },
    /// Set a new random password (printed once) and end the account's logins.
    ResetPassword { username: String },
    /// Disable an account and end its logins.
    Disable { username: String },
    /// Enable a disabled account.
    Enable { username: String },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s)
        .ok_or_else(|| "one of admin, secretary, recorder, auditor, security_admin".to_owned())
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Score { file }) = &cli.command {
        return score(cli.config.as_deref(), file);
    }
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(&settings.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli.command.unwrap_or(Command::Serve), settings));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve => {
            let app = Application::build(settings).await?;
            if let Some(password) = &app.initial_admin_password {
                eprintln!("initial admin password: {password}");
                eprintln!("(account \"admin\"; shown once — change it after the first login)");
            }
            tracing::info!(port = app.port(), "serving");
            app.run_until_stopped().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let db = crate::db::connect(&settings).await?;
            crate::db::migrate(&db, &settings).await?;
            eprintln!("migrations applied");
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            what: ImportWhat::Roster { file, dry_run },
        } => import_roster(settings, file, dry_run).await,
        Command::Admin { action } => admin(settings, action).await,
        Command::Demo { members, force } => demo(settings, members, force).await,
        Command::Loadtest {
            demo,
            session,
            admin_token,
            urls,
            members,
            concurrency,
            resend_percent,
            double_percent,
            retries,
            retry_delay_seconds,
            json,
        } => {
            let (session, admin_token) = match demo {
                Some(file) => {
                    let text = std::fs::read_to_string(&file)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                    let v: serde_json::Value = serde_json::from_str(&text)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                    (
                        v["session_id"].as_i64(),
                        v["admin_token"].as_str().map(str::to_owned),
                    )
                }
                None => (session, admin_token),
            };
            let (Some(session_id), Some(admin_token)) = (session, admin_token) else {
                anyhow::bail!("give --demo FILE, or --session and --admin-token");
            };
            let urls = if urls.is_empty() {
                vec![format!("http://{}", settings.listen_addr()?)]
            } else {
                urls.into_iter()
                    .map(|u| u.trim_end_matches('/').to_owned())
                    .collect()
            };
            let state = build_state(settings, urls[0].clone()).await?;
            let report = crate::loadtest::run(
                &state,
                crate::loadtest::Options {
                    urls,
                    session_id,
                    admin_token,
                    members,
                    concurrency,
                    resend_percent,
                    double_percent,
                    retries,
                    retry_delay: std::time::Duration::from_secs(retry_delay_seconds),
                },
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{report}");
            }
            Ok(if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Score { .. } => Ok(ExitCode::from(2)),
    }
}

async fn demo(settings: Settings, members: usize, force: bool) -> anyhow::Result<ExitCode> {
    let public = settings.public_url(settings.listen_addr()?);
    let state = build_state(settings, public).await?;
    match crate::demo::run(&state, members, force).await {
        Ok(out) => {
            println!("{}", serde_json::to_string(&out)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {}", e.detail);
            Ok(ExitCode::from(2))
        }
    }
}

/// `vanguard score FILE`: bad input is exit 2 with one line on stderr and nothing on stdout.
fn score(config: Option<&std::path::Path>, file: &std::path::Path) -> ExitCode {
    let settings = match Settings::load(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    // A scoring run prints its result on stdout; stderr carries warnings only.
    let mut log = settings.log.clone();
    if log.level == "info" {
        log.level = "warn".to_owned();
    }
    crate::telemetry::init(&log);
    let existing = |p: &std::path::Path| p.is_dir().then(|| p.to_path_buf());
    let started = std::time::Instant::now();
    let scenario = match crate::score::load_scenario(
        file,
        existing(&settings.policy.dir).as_deref(),
        existing(&settings.policy.calendars_dir).as_deref(),
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::debug!(elapsed = ?started.elapsed(), "scenario parsed");
    match runtime.block_on(crate::ledger::scenario::score(&scenario)) {
        Ok(output) => {
            println!("{}", output.to_json());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}: {:?}", e.detail, e.source);
            ExitCode::FAILURE
        }
    }
}

async fn import_roster(
    settings: Settings,
    file: PathBuf,
    dry_run: bool,
) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let state = build_state(settings, String::new()).await?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:>6} [{bar:40}] {pos}/{len}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let progress = |stage: import::Stage, done: u64, total: u64| {
        bar.set_message(match stage {
            import::Stage::Validating => "检查",
            import::Stage::Writing => "写入",
        });
        bar.set_length(total);
        bar.set_position(done);
    };
    let outcome = import::import(&state.db, &Actor::cli(), None, &bytes, dry_run, &progress).await;
    bar.finish_and_clear();
    let report = match outcome {
        Ok(report) => report,
        Err(e) if !e.errors.is_empty() => {
            for err in &e.errors {
                eprintln!(
                    "第 {} 行 {}：{}",
                    err.row.unwrap_or(0),
                    err.field,
                    err.message
                );
            }
            eprintln!("{}", e.detail);
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(anyhow::anyhow!("{}", e.detail)),
    };
    for err in &report.errors {
        eprintln!("第 {} 行 {}：{}", err.row, err.column, err.reason);
    }
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn admin(settings: Settings, action: AdminAction) -> anyhow::Result<ExitCode> {
    let state = build_state(settings, String::new()).await?;
    let actor = Actor::cli();
    let fail = |e: crate::error::AppError| anyhow::anyhow!("{}", e.detail);
    match action {
        AdminAction::List => {
            use sea_orm::{EntityTrait, QueryOrder};
            let rows = entity::account::Entity::find()
                .order_by_asc(entity::account::Column::Id)
                .all(&state.db)
                .await?;
            for a in rows {
                println!(
                    "{}\t{}\t{}\torg={}\t{}",
                    a.id,
                    a.username,
                    a.role,
                    a.org_id.map_or("-".to_owned(), |o| o.to_string()),
                    if a.disabled { "disabled" } else { "active" }
                );
            }
        }
        AdminAction::Create {
            username,
            role,
            org,
            name,
        } => {
            let org_id = match org {
                Some(code) => Some(OrgId(
                    crate::org::service::find_by_code(&state.db, &code)
                        .await
                        .map_err(fail)?
                        .ok_or_else(|| anyhow::anyhow!("no organization with code {code}"))?
                        .id,
                )),
                None => None,
            };
            let created = accounts::create_account(
                &state,
                &actor,
                None,
                NewAccount {
                    username,
                    display_name: name,
                    password: None,
                    role,
                    org_id,
                },
            )
            .await
            .map_err(fail)?;
            println!(
                "created account {} ({})",
                created.account.username,
                created.account.role.as_str()
            );
            if let Some(p) = created.initial_password {
                eprintln!("initial password: {p}");
            }
        }
        AdminAction::ResetPassword { username } => {
            let account = accounts::find_by_username(&state.db, &username)
                .await
                .map_err(fail)?;
            let password = accounts::reset_password(&state, &actor, None, AccountId(account.id))
                .await
                .map_err(fail)?;
            eprintln!("new password: {password}");
        }
        AdminAction::Disable { username } => {
            accounts::set_disabled(&state, &actor, &username, true)
                .await
                .map_err(fail)?;
            eprintln!("disabled {username}");
        }
        AdminAction::Enable { username } => {
            accounts::set_disabled(&state, &actor, &username, false)
                .await
                .map_err(fail)?;
            eprintln!("enabled {username}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
