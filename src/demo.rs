//! `vanguard demo --members N`: a demo branch (演示支部) with N members bound to
//! openids `demo-0000001`…, a fixed-day session that takes scans at once, and an
//! admin token, so the projector, the phone simulator and the load generator have
//! something to work on. Safe beside a running server (it only adds rows).

use chrono::{Datelike, Duration, Utc};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};
use serde::Serialize;

use crate::audit::{self, Actor, Entry};
use crate::auth::Role;
use crate::checkin::activities::{self, NewActivity};
use crate::error::{AppError, AppResult};
use crate::ids::OrgId;
use crate::org::OrgKind;
use crate::org::service::NewOrg;
use crate::policy::ActivityKind;
use crate::state::AppState;

pub const DEMO_ORG_CODE: &str = "DEMO";
pub const DEMO_ORG_NAME: &str = "演示支部";
pub const DEMO_ADMIN: &str = "demo-admin";

/// The openid of demo member `n` (1-based).
pub fn openid(n: usize) -> String {
    format!("demo-{n:07}")
}

#[derive(Debug, Serialize)]
pub struct DemoOutput {
    pub session_id: i64,
    pub activity_id: i64,
    pub admin_token: String,
    /// The staff console, with a login for it (a fresh password each run; the console
    /// asks for a new one at first sign-in, as after any reset).
    pub console_url: String,
    pub console_username: String,
    pub console_password: String,
    pub projector_url: String,
    pub simulator_url: String,
    /// The organizations the official forms are produced for, and a login that sees them.
    pub forms: FormsDemo,
}

pub async fn run(state: &AppState, members: usize, force: bool) -> AppResult<DemoOutput> {
    let actor = Actor::cli();
    let others = entity::organization::Entity::find()
        .filter(entity::organization::Column::Code.is_not_in(demo_codes()))
        .count(&state.db)
        .await?;
    if others > 0 && !force {
        return Err(AppError::conflict(format!(
            "the database holds {others} organization(s) besides the demo branch; \
             use --force to seed the demo there anyway"
        )));
    }
    let org = match crate::org::service::find_by_code(&state.db, DEMO_ORG_CODE).await? {
        Some(o) => o,
        None => {
            let view = crate::org::service::create(
                &state.db,
                &actor,
                None,
                NewOrg {
                    name: DEMO_ORG_NAME.to_owned(),
                    code: DEMO_ORG_CODE.to_owned(),
                    kind: OrgKind::Branch,
                    parent_id: None,
                    timezone: None,
                },
            )
            .await?;
            crate::org::service::find(&state.db, view.id).await?
        }
    };
    seed_members(state, &actor, &org, members).await?;
    let forms = seed_forms(state, &actor).await?;

    let account = match entity::account::Entity::find()
        .filter(entity::account::Column::Username.eq(DEMO_ADMIN))
        .one(&state.db)
        .await?
    {
        Some(a) => a,
        None => {
            crate::auth::service::create_account(
                state,
                &actor,
                None,
                crate::auth::service::NewAccount {
                    username: DEMO_ADMIN.to_owned(),
                    display_name: Some("演示管理员".to_owned()),
                    password: None,
                    role: Role::Admin,
                    org_id: Some(OrgId(org.id)),
                },
            )
            .await?;
            crate::auth::service::find_by_username(&state.db, DEMO_ADMIN).await?
        }
    };
    if account.disabled {
        return Err(AppError::conflict("the demo-admin account is disabled"));
    }
    let console_password = crate::auth::service::regenerate_first_password(
        state,
        &actor,
        crate::ids::AccountId(account.id),
    )
    .await?;
    let tokens = crate::auth::service::issue_session(state, &account, None).await?;

    // Starts in 10 minutes; the session opens early enough to take scans at once.
    let now = Utc::now();
    let starts_at = now + Duration::minutes(10);
    let local = starts_at.with_timezone(&crate::ledger::inputs::tz_of(&org));
    let new = NewActivity {
        org_id: org.id,
        kind: ActivityKind::FixedDay,
        title: format!("演示主题党日 {}", local.format("%m月%d日 %H:%M")),
        place: Some("党员活动室".to_owned()),
        starts_at,
        ends_at: starts_at + Duration::hours(1),
        points: None,
        registered_at: now,
    };
    let activity = activities::create(state, &actor, &org, &new, &[]).await?;
    let open_before = state.settings.checkin.open_before_minutes.max(11);
    let session = crate::checkin::sessions::create(
        &state.db,
        &state.scoring,
        &activity,
        Some(account.id),
        open_before,
        state.settings.checkin.slot_seconds,
        now,
    )
    .await?;
    Ok(DemoOutput {
        session_id: session.id,
        activity_id: activity.id,
        admin_token: tokens.access_token,
        console_url: format!("{}/console/login", state.public_url),
        console_username: DEMO_ADMIN.to_owned(),
        console_password,
        projector_url: format!("{}/projector/{}", state.public_url, session.id),
        simulator_url: format!("{}/sandbox/phone?openid={}", state.public_url, openid(1)),
        forms,
    })
}

/// Adds the demo members that do not exist yet (bulk, one transaction, one audit entry).
async fn seed_members(
    state: &AppState,
    actor: &Actor,
    org: &entity::organization::Model,
    members: usize,
) -> AppResult<()> {
    let existing: Vec<String> = entity::person::Entity::find()
        .select_only()
        .column(entity::person::Column::Openid)
        .filter(entity::person::Column::Openid.like("demo-%"))
        .into_tuple::<Option<String>>()
        .all(&state.db)
        .await?
        .into_iter()
        .flatten()
        .collect();
    let existing: std::collections::HashSet<String> = existing.into_iter().collect();
    let missing: Vec<usize> = (1..=members)
        .filter(|n| !existing.contains(&openid(*n)))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let today = crate::org::people::today();
    let txn = crate::db::begin(&state.db).await?;
    for chunk in missing.chunks(2000) {
        let rows: Vec<entity::person::ActiveModel> = chunk
            .iter()
            .map(|n| entity::person::ActiveModel {
                id: NotSet,
                external_id: Set(Some(format!("DEMO{n:07}"))),
                name: Set(format!("演示党员{n:07}")),
                phone: Set(None),
                org_id: Set(org.id),
                role: Set("member".to_owned()),
                status: Set("active".to_owned()),
                openid: Set(Some(openid(*n))),
                birth_date: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            })
            .collect();
        entity::person::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
        let ids: Vec<(i64, Option<String>)> = entity::person::Entity::find()
            .select_only()
            .column(entity::person::Column::Id)
            .column(entity::person::Column::Openid)
            .filter(entity::person::Column::Openid.is_in(chunk.iter().map(|n| openid(*n))))
            .into_tuple()
            .all(&txn)
            .await?;
        // The binding is history like any other (DESIGN.md: bind and unbind recorded).
        let history: Vec<entity::person_history::ActiveModel> = ids
            .into_iter()
            .map(|(id, oid)| entity::person_history::ActiveModel {
                id: NotSet,
                person_id: Set(id),
                kind: Set("openid_bind".to_owned()),
                from_value: Set(None),
                to_value: Set(oid),
                effective_on: Set(today),
                reason: Set(Some("演示数据".to_owned())),
                actor_id: Set(None),
                recorded_at: Set(now),
            })
            .collect();
        entity::person_history::Entity::insert_many(history)
            .exec_without_returning(&txn)
            .await?;
    }
    audit::record(
        &txn,
        actor,
        Entry::new("demo_seed", "organization", org.id)
            .org(OrgId(org.id))
            .after(serde_json::json!({"members_added": missing.len()})),
    )
    .await?;
    txn.commit().await?;
    // Fresh statistics after a bulk load, so the first scans are planned for its size.
    if state.db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        state
            .db
            .execute_unprepared("ANALYZE people, person_history")
            .await?;
    }
    Ok(())
}

// ---- The official forms' demo data ---------------------------------------------------
//
// A committee (演示党委) holding an sdtbu-2018 general branch with two branches and a
// year of graded items (one member exempt under SD-7, one on the negative list), and an
// erqi-2021 branch with monthly items (dues, study, special items, deductions), so each
// official form (`reports::forms`) has something to show. Items are dated in the
// current year of the app clock, never after it; a second run adds nothing.

pub const FORMS_ROOT_CODE: &str = "DEMO-FORMS";
pub const FORMS_ADMIN: &str = "demo-forms";

/// Codes of every organization the demo creates (the check for a foreign database).
fn demo_codes() -> Vec<&'static str> {
    vec![
        DEMO_ORG_CODE,
        FORMS_ROOT_CODE,
        "DEMO-SD",
        "DEMO-SD1",
        "DEMO-SD2",
        "DEMO-EQ",
    ]
}

#[derive(Debug, Serialize)]
pub struct FormsDemo {
    pub year: i32,
    pub committee_id: i64,
    /// The sdtbu-2018 general branch and its two branches.
    pub general_branch_id: i64,
    pub branch_ids: Vec<i64>,
    /// The erqi-2021 branch with monthly items.
    pub erqi_branch_id: i64,
    pub console_username: String,
    pub console_password: String,
}

/// sdtbu-2018 members: name, 类别, graded base items (life, dues, study, discipline),
/// contribution, exempt, negative list.
type SdMember = (&'static str, &'static str, [i64; 4], i64, bool, bool);

const SD1: &[SdMember] = &[
    ("王建国", "正式党员", [28, 20, 12, 10], 25, false, false),
    // Base asks 72: the category's cap of 70 grants 70.
    ("李秀英", "正式党员", [30, 20, 12, 10], 18, false, false),
    ("张磊", "预备党员", [25, 20, 10, 10], 20, false, false),
    ("刘洋", "正式党员", [20, 18, 10, 8], 16, false, false),
    ("陈静", "正式党员", [20, 15, 10, 5], 5, false, false),
    // SD-7: excluded by decision (age, illness).
    ("赵德明", "正式党员", [10, 10, 0, 0], 0, true, false),
];

const SD2: &[SdMember] = &[
    ("孙丽", "正式党员", [30, 20, 12, 8], 28, false, false),
    ("周强", "正式党员", [25, 20, 10, 10], 26, false, false),
    ("吴敏", "预备党员", [20, 20, 10, 10], 5, false, false),
    ("郑海", "正式党员", [15, 10, 5, 0], 0, false, false),
    // SD-1's negative list: the year's score is 0.
    ("冯雪", "正式党员", [30, 20, 10, 10], 10, false, true),
];

/// erqi-2021 members and what they do in month `m` (1–12): items with their code.
const EQ: &[&str] = &["马超", "黄蓉", "郭靖", "杨过"];

/// The items member `i` of the erqi branch has in month `m`.
pub fn erqi_items(i: usize, m: u32) -> Vec<&'static str> {
    let mut out = vec!["dues"];
    match i {
        0 => {
            out.push("study");
            if m % 3 == 2 {
                out.push("innovative_activity");
            }
        }
        1 => {
            out.push("study");
            if m % 3 == 1 {
                out.push("city_service");
            }
        }
        2 => {
            if m % 2 == 1 {
                out.push("study");
            }
            if m == 2 || m == 6 {
                out.push("absence_unexcused");
            }
        }
        _ => {
            if m == 3 {
                out.push("absence_excused");
            }
        }
    }
    out
}

async fn demo_org(
    state: &AppState,
    actor: &Actor,
    name: &str,
    code: &str,
    kind: OrgKind,
    parent: Option<OrgId>,
) -> AppResult<entity::organization::Model> {
    if let Some(o) = crate::org::service::find_by_code(&state.db, code).await? {
        return Ok(o);
    }
    let view = crate::org::service::create(
        &state.db,
        actor,
        None,
        NewOrg {
            name: name.to_owned(),
            code: code.to_owned(),
            kind,
            parent_id: parent,
            timezone: None,
        },
    )
    .await?;
    crate::org::service::find(&state.db, view.id).await
}

/// The policy an organization scores `year` with, chosen for the demo (audited).
async fn demo_policy(
    state: &AppState,
    actor: &Actor,
    org: &entity::organization::Model,
    year: i32,
    policy: &str,
) -> AppResult<()> {
    let txn = crate::db::begin(&state.db).await?;
    entity::org_policy::Entity::insert(entity::org_policy::ActiveModel {
        id: NotSet,
        org_id: Set(org.id),
        year: Set(year),
        policy: Set(policy.to_owned()),
        source: Set(None),
        chosen_by: Set(None),
        chosen_at: Set(Utc::now()),
    })
    .exec_without_returning(&txn)
    .await?;
    audit::record(
        &txn,
        actor,
        Entry::new("choose_policy", "organization", org.id)
            .org(OrgId(org.id))
            .after(serde_json::json!({"year": year, "policy": policy, "reason": "演示数据"})),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// An item recorded and posted through the ledger's one path.
#[allow(clippy::too_many_arguments)]
async fn demo_item(
    state: &AppState,
    actor: &Actor,
    person: i64,
    item: &str,
    points: Option<i64>,
    at: chrono::DateTime<Utc>,
    year: i32,
    key: String,
) -> AppResult<()> {
    use crate::ledger::facts::{NewFact, NewFactKind, record};
    let mut fields = crate::policy::Fields::new();
    if let Some(p) = points {
        fields.set(
            "points".to_owned(),
            crate::policy::FieldValue::Number(rust_decimal::Decimal::from(p)),
        );
    }
    let txn = crate::db::begin(&state.db).await?;
    record(
        &txn,
        &state.scoring,
        actor,
        NewFact {
            kind: NewFactKind::Item {
                subject: crate::ledger::SubjectRef::Person(person),
                item: item.to_owned(),
                fields,
            },
            at,
            received_at: at,
            session_id: None,
            reason: Some("演示数据".to_owned()),
            evidence: None,
            dedup_key: Some(key),
            source_event: None,
        },
        year,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// People through the roster import (编号 `code`-01 …); their ids in order.
async fn demo_people(
    state: &AppState,
    actor: &Actor,
    org_code: &str,
    people: &[(&str, &str)],
) -> AppResult<Vec<i64>> {
    let mut csv = String::from("姓名,手机号,支部编码,类别,编号\n");
    for (i, (name, role)) in people.iter().enumerate() {
        csv.push_str(&format!(
            "{name},,{org_code},{role},{org_code}-{:02}\n",
            i + 1
        ));
    }
    let report =
        crate::org::import::import(&state.db, actor, None, csv.as_bytes(), false, &|_, _, _| {})
            .await?;
    if !report.errors.is_empty() {
        return Err(AppError::internal(anyhow::anyhow!(
            "demo roster: {:?}",
            report.errors
        )));
    }
    let mut ids = Vec::with_capacity(people.len());
    for i in 0..people.len() {
        let code = format!("{org_code}-{:02}", i + 1);
        let p = entity::person::Entity::find()
            .filter(entity::person::Column::ExternalId.eq(code.as_str()))
            .one(&state.db)
            .await?
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("demo person {code} missing")))?;
        ids.push(p.id);
    }
    Ok(ids)
}

async fn demo_admin(
    state: &AppState,
    actor: &Actor,
    username: &str,
    display: &str,
    org: OrgId,
) -> AppResult<entity::account::Model> {
    if let Some(a) = entity::account::Entity::find()
        .filter(entity::account::Column::Username.eq(username))
        .one(&state.db)
        .await?
    {
        return Ok(a);
    }
    crate::auth::service::create_account(
        state,
        actor,
        None,
        crate::auth::service::NewAccount {
            username: username.to_owned(),
            display_name: Some(display.to_owned()),
            password: None,
            role: Role::Admin,
            org_id: Some(org),
        },
    )
    .await?;
    crate::auth::service::find_by_username(&state.db, username).await
}

/// The forms' organizations, people and year of items (once; later runs find them).
pub async fn seed_forms(state: &AppState, actor: &Actor) -> AppResult<FormsDemo> {
    let now = state.clock.now();
    let tz = chrono_tz::Asia::Shanghai;
    let year = crate::ledger::inputs::year_of(now, tz);
    let fresh = crate::org::service::find_by_code(&state.db, FORMS_ROOT_CODE)
        .await?
        .is_none();
    let root = demo_org(
        state,
        actor,
        "演示党委",
        FORMS_ROOT_CODE,
        OrgKind::Committee,
        None,
    )
    .await?;
    let general = demo_org(
        state,
        actor,
        "演示党总支",
        "DEMO-SD",
        OrgKind::GeneralBranch,
        Some(OrgId(root.id)),
    )
    .await?;
    let b1 = demo_org(
        state,
        actor,
        "演示第一党支部",
        "DEMO-SD1",
        OrgKind::Branch,
        Some(OrgId(general.id)),
    )
    .await?;
    let b2 = demo_org(
        state,
        actor,
        "演示第二党支部",
        "DEMO-SD2",
        OrgKind::Branch,
        Some(OrgId(general.id)),
    )
    .await?;
    let eq = demo_org(
        state,
        actor,
        "演示二七党支部",
        "DEMO-EQ",
        OrgKind::Branch,
        Some(OrgId(root.id)),
    )
    .await?;
    if fresh {
        demo_policy(state, actor, &general, year, "sdtbu-2018").await?;
        demo_policy(state, actor, &eq, year, "erqi-2021").await?;
        let (start, _) = crate::ledger::inputs::year_bounds(year, tz);
        // A planned local date, never later than the clock (nor before the year).
        let at = |m: u32, d: u32| -> chrono::DateTime<Utc> {
            let planned = chrono::NaiveDate::from_ymd_opt(year, m, d)
                .and_then(|d| d.and_hms_opt(10, 0, 0))
                .and_then(|t| chrono::TimeZone::from_local_datetime(&tz, &t).earliest())
                .map_or(start, |t| t.with_timezone(&Utc));
            planned
                .min(now - Duration::minutes(1))
                .max(start + Duration::hours(1))
        };
        for (org, members) in [(&b1, SD1), (&b2, SD2)] {
            let people: Vec<(&str, &str)> = members.iter().map(|m| (m.0, m.1)).collect();
            let ids = demo_people(state, actor, &org.code, &people).await?;
            for (id, (_, _, base, contribution, exempt, negative)) in ids.iter().zip(members) {
                if *exempt {
                    crate::org::people::record_exemption(
                        &state.db,
                        actor,
                        *id,
                        Some(year),
                        "年老体弱，经支部党员大会决定不参加积分评定（SD-7）",
                        "演示党总支",
                        now.with_timezone(&tz).date_naive(),
                    )
                    .await?;
                }
                let items = ["base_life", "base_dues", "base_study", "base_discipline"];
                for (k, (item, points)) in items.iter().zip(base).enumerate() {
                    if *points > 0 {
                        let month = 3 + u32::try_from(k).unwrap_or(0) * 2;
                        demo_item(
                            state,
                            actor,
                            *id,
                            item,
                            Some(*points),
                            at(month, 15),
                            year,
                            format!("demo:{id}:{item}"),
                        )
                        .await?;
                    }
                }
                if *contribution > 0 {
                    demo_item(
                        state,
                        actor,
                        *id,
                        "contribution",
                        Some(*contribution),
                        at(10, 20),
                        year,
                        format!("demo:{id}:contribution"),
                    )
                    .await?;
                }
                if *negative {
                    demo_item(
                        state,
                        actor,
                        *id,
                        "negative_list",
                        None,
                        at(11, 5),
                        year,
                        format!("demo:{id}:negative_list"),
                    )
                    .await?;
                }
            }
        }
        let people: Vec<(&str, &str)> = EQ.iter().map(|n| (*n, "正式党员")).collect();
        let ids = demo_people(state, actor, &eq.code, &people).await?;
        for (i, id) in ids.iter().enumerate() {
            for m in 1..=12u32 {
                let when = at(m, 1);
                // Only months the clock has reached.
                if when.with_timezone(&tz).date_naive().month0() + 1 != m {
                    continue;
                }
                for item in erqi_items(i, m) {
                    demo_item(
                        state,
                        actor,
                        *id,
                        item,
                        None,
                        when,
                        year,
                        format!("demo:{id}:{m}:{item}"),
                    )
                    .await?;
                }
            }
        }
    }
    let account = demo_admin(state, actor, FORMS_ADMIN, "演示报表管理员", OrgId(root.id)).await?;
    if account.disabled {
        return Err(AppError::conflict("the demo-forms account is disabled"));
    }
    let console_password = crate::auth::service::regenerate_first_password(
        state,
        actor,
        crate::ids::AccountId(account.id),
    )
    .await?;
    Ok(FormsDemo {
        year,
        committee_id: root.id,
        general_branch_id: general.id,
        branch_ids: vec![b1.id, b2.id],
        erqi_branch_id: eq.id,
        console_username: FORMS_ADMIN.to_owned(),
        console_password,
    })
}
