//! The domain side of the WeChat gateway: the scan handler and the member directory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use super::scan::{self, Scan};
use crate::audit::Actor;
use crate::ids::PersonId;
use crate::state::AppState;
use crate::wechat::xml::MessageKind;
use crate::wechat::{BindError, InboundEvent, MemberDirectory, MessageHandler, OpenId, PersonRef};

/// Handles every message WeChat pushes: scans of our QR codes become check-ins.
pub struct CheckinHandler {
    pub state: AppState,
}

fn welcome(state: &AppState) -> String {
    format!(
        "欢迎关注！参加支部活动时扫描现场二维码即可签到。查看积分与补学请打开：{}/wechat/oauth/start?next=%2Fm%2F",
        state.public_url
    )
}

/// The scene of a push that scans one of our check-in codes.
fn checkin_scene(event: &InboundEvent) -> Option<String> {
    match event.kind() {
        MessageKind::Scan { .. } | MessageKind::Subscribe { .. } => event
            .scene()
            .map(|s| s.as_str().trim_start_matches("qrscene_").to_owned())
            .filter(|s| s.starts_with("ci.")),
        _ => None,
    }
}

#[async_trait]
impl MessageHandler for CheckinHandler {
    async fn handle(&self, event: &InboundEvent) -> anyhow::Result<Option<String>> {
        self.handle_prefetched(event, None).await
    }

    /// A scan's session, read from the cache in the gateway's claim round trip.
    fn prefetch(&self, event: &InboundEvent) -> Vec<String> {
        checkin_scene(event)
            .and_then(|s| scan::prefetch_key(&s))
            .into_iter()
            .collect()
    }

    async fn handle_prefetched(
        &self,
        event: &InboundEvent,
        prefetched: Option<Vec<Option<Vec<u8>>>>,
    ) -> anyhow::Result<Option<String>> {
        let scene = event
            .scene()
            .map(|s| s.as_str().trim_start_matches("qrscene_").to_owned());
        match (event.kind(), scene) {
            (MessageKind::Scan { .. } | MessageKind::Subscribe { .. }, Some(scene))
                if scene.starts_with("ci.") =>
            {
                let at = DateTime::<Utc>::from_timestamp(event.create_time(), 0)
                    .unwrap_or(event.received_at);
                let scan = Scan {
                    openid: event.openid().as_str().to_owned(),
                    scene,
                    at,
                    received_at: event.received_at,
                    event_key: event.dedup_key(),
                };
                // What `prefetch` named: the session's cache entry (none: not read ahead).
                let session = prefetched.and_then(|v| v.into_iter().next());
                let (_, text) = scan::handle_with(&self.state, &scan, session)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}: {:?}", e.detail, e.source))?;
                Ok(Some(text))
            }
            (MessageKind::Subscribe { .. }, _) => Ok(Some(welcome(&self.state))),
            (MessageKind::Text { .. }, _) => Ok(Some(welcome(&self.state))),
            _ => Ok(None),
        }
    }
}

/// Binding an openid to the roster; a binding made while a pending scan's session is
/// still open makes that scan count.
pub struct Directory {
    pub state: AppState,
}

#[async_trait]
impl MemberDirectory for Directory {
    async fn person_for_openid(&self, openid: &OpenId) -> anyhow::Result<Option<PersonRef>> {
        let p = crate::org::people::find_by_openid(&self.state.db, openid.as_str())
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.detail))?;
        Ok(p.map(|p| PersonRef {
            id: p.id.to_string(),
            name: p.name,
        }))
    }

    async fn bind(&self, openid: &OpenId, name: &str, phone: &str) -> Result<PersonRef, BindError> {
        let db = &self.state.db;
        let unavailable =
            |e: crate::error::AppError| BindError::Unavailable(anyhow::anyhow!("{}", e.detail));
        if let Some(p) = crate::org::people::find_by_openid(db, openid.as_str())
            .await
            .map_err(unavailable)?
        {
            // Already bound: a scan whose counting failed last time is retried now.
            resolve_pending(&self.state, &p).await;
            return Ok(PersonRef {
                id: p.id.to_string(),
                name: p.name,
            });
        }
        let person = crate::org::people::match_roster(db, name, phone)
            .await
            .map_err(unavailable)?
            .ok_or(BindError::NoMatch)?;
        if person.openid.is_some() {
            return Err(BindError::AlreadyBound);
        }
        let bound = crate::org::people::bind_openid(
            db,
            &Actor::member(person.id, None),
            PersonId(person.id),
            openid.as_str(),
        )
        .await
        .map_err(|e| {
            if e.code == crate::error::ErrorCode::Conflict {
                BindError::AlreadyBound
            } else {
                unavailable(e)
            }
        })?;
        resolve_pending(&self.state, &bound).await;
        Ok(PersonRef {
            id: bound.id.to_string(),
            name: bound.name,
        })
    }
}

/// When this person's current binding was made (the newest `openid_bind` history row).
async fn bound_at(
    state: &AppState,
    person: &entity::person::Model,
    openid: &str,
) -> Option<DateTime<Utc>> {
    use sea_orm::QueryOrder;
    entity::person_history::Entity::find()
        .filter(entity::person_history::Column::PersonId.eq(person.id))
        .filter(entity::person_history::Column::Kind.eq("openid_bind"))
        .filter(entity::person_history::Column::ToValue.eq(openid))
        .order_by_desc(entity::person_history::Column::Id)
        .one(&state.db)
        .await
        .ok()
        .flatten()
        .map(|h| h.recorded_at)
}

/// Counts the person's pending scans, at their scan time, when the binding was made
/// while the scan's session was open (the reply promised "自动记入"). A scan whose
/// counting fails stays unresolved and is retried by the next binding attempt and by
/// the sweep ([`sweep_pending`]); counting twice is harmless (the check-in's unique
/// key). Returns how many were resolved.
pub async fn resolve_pending(state: &AppState, person: &entity::person::Model) -> usize {
    let Some(openid) = person.openid.clone() else {
        return 0;
    };
    let pending = match entity::pending_scan::Entity::find()
        .filter(entity::pending_scan::Column::Openid.eq(openid.clone()))
        .filter(entity::pending_scan::Column::ResolvedAt.is_null())
        .all(&state.db)
        .await
    {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "pending scans not read");
            return 0;
        }
    };
    if pending.is_empty() {
        return 0;
    }
    let bound = bound_at(state, person, &openid)
        .await
        .unwrap_or_else(|| state.clock.now());
    let mut resolved = 0;
    for p in pending {
        let Ok(Some(session)) =
            super::sessions::load(&state.db, state.live.as_ref(), p.session_id).await
        else {
            continue;
        };
        let fact = if bound > session.ends_at() {
            // Bound after the session closed: nothing to count, nothing to retry.
            None
        } else {
            match scan::count(state, &session, person, p.at, p.received_at, None, None).await {
                Ok((
                    scan::Outcome::Counted { fact_id, .. } | scan::Outcome::Exempt { fact_id },
                    _,
                )) => Some(fact_id),
                Ok(_) => None,
                Err(e) => {
                    tracing::warn!(error = %e.detail, pending = p.id, "pending scan not counted; retried later");
                    continue;
                }
            }
        };
        let mut row: entity::pending_scan::ActiveModel = p.into();
        row.resolved_at = Set(Some(state.clock.now()));
        row.fact_id = Set(fact);
        match row.update(&state.db).await {
            Ok(_) => resolved += 1,
            Err(e) => tracing::warn!(error = %e, "pending scan not marked"),
        }
    }
    resolved
}

/// Live-store key held by the instance sweeping pending scans this minute.
const SWEEP_LOCK: &str = "sweep:pending-scans";
pub const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Retries every unresolved pending scan of a bound openid. One instance a minute does
/// it (a set-if-absent lock in the live store that expires before the next round);
/// with the live store down each instance sweeps (the unique check-in key keeps that
/// harmless). Returns how many scans were resolved.
pub async fn sweep_pending(state: &AppState) -> crate::error::AppResult<usize> {
    match state
        .live
        .set_nx(
            SWEEP_LOCK,
            b"1",
            SWEEP_EVERY - std::time::Duration::from_secs(5),
        )
        .await
    {
        Ok(true) => {}
        Ok(false) => return Ok(0),
        Err(e) => tracing::warn!(error = %e, "pending sweep lock unavailable; sweeping anyway"),
    }
    use sea_orm::{QuerySelect, sea_query::Query};
    let bound_openids = Query::select()
        .column(entity::person::Column::Openid)
        .from(entity::person::Entity)
        .and_where(entity::person::Column::Openid.is_not_null())
        .to_owned();
    let openids: Vec<String> = entity::pending_scan::Entity::find()
        .select_only()
        .column(entity::pending_scan::Column::Openid)
        .distinct()
        .filter(entity::pending_scan::Column::ResolvedAt.is_null())
        .filter(entity::pending_scan::Column::Openid.in_subquery(bound_openids))
        .into_tuple()
        .all(&state.db)
        .await?;
    let mut resolved = 0;
    for openid in openids {
        if let Some(person) = crate::org::people::find_by_openid(&state.db, &openid).await? {
            resolved += resolve_pending(state, &person).await;
        }
    }
    if resolved > 0 {
        tracing::info!(resolved, "pending scans resolved by the sweep");
    }
    Ok(resolved)
}

// ---------------------------------------------------------------- staff: waiting scans, binding

/// What binding an openid now would do to one of its waiting scans.
#[derive(Debug, Clone)]
pub struct WaitingScan {
    pub scan: entity::pending_scan::Model,
    pub activity: Option<entity::activity::Model>,
    /// The session was still open now: binding counts the scan at its scan time
    /// (judged like any scan: on time, late, too late).
    pub would_count: bool,
}

/// Unresolved scans by openids bound to no one, at activities of organizations in the
/// principal's scope, newest first (at most `limit`); `openid` narrows to one user.
pub async fn waiting_scans(
    state: &AppState,
    principal: &crate::auth::Principal,
    openid: Option<&str>,
    limit: u64,
) -> crate::error::AppResult<Vec<WaitingScan>> {
    use entity::pending_scan::{Column, Entity};
    use sea_orm::sea_query::{Expr, ExprTrait, Query};
    use sea_orm::{QueryOrder, QuerySelect};
    principal.require(crate::auth::Perm::PeopleRead)?;
    let mut in_scope = Query::select();
    in_scope
        .column((entity::activity::Entity, entity::activity::Column::Id))
        .from(entity::activity::Entity)
        .inner_join(
            entity::organization::Entity,
            Expr::col((
                entity::organization::Entity,
                entity::organization::Column::Id,
            ))
            .equals((entity::activity::Entity, entity::activity::Column::OrgId)),
        );
    if let Some(scope) = &principal.scope_path {
        in_scope.and_where(
            Expr::col((
                entity::organization::Entity,
                entity::organization::Column::Path,
            ))
            .like(format!("{scope}%")),
        );
    }
    let bound = Query::select()
        .column(entity::person::Column::Openid)
        .from(entity::person::Entity)
        .and_where(entity::person::Column::Openid.is_not_null())
        .to_owned();
    let mut q = Entity::find()
        .filter(Column::ResolvedAt.is_null())
        .filter(Column::ActivityId.in_subquery(in_scope.to_owned()))
        .filter(Column::Openid.not_in_subquery(bound))
        .order_by_desc(Column::Id)
        .limit(limit);
    if let Some(o) = openid {
        q = q.filter(Column::Openid.eq(o));
    }
    let scans = q.all(&state.db).await?;
    let now = state.clock.now();
    let mut out = Vec::with_capacity(scans.len());
    for scan in scans {
        let activity = entity::activity::Entity::find_by_id(scan.activity_id)
            .one(&state.db)
            .await?;
        let session =
            super::sessions::load(&state.db, state.live.as_ref(), scan.session_id).await?;
        out.push(WaitingScan {
            would_count: session.is_some_and(|s| now <= s.ends_at()),
            activity,
            scan,
        });
    }
    Ok(out)
}

/// Binds a waiting openid (one with unresolved scans in the principal's scope) to a
/// member, replacing the member's old binding if any (a rebind: lost phone, new
/// account), with a required reason, recorded in the member's history and the audit
/// log. Then the openid's waiting scans are counted as [`resolve_pending`] does.
/// Returns the member and how many scans were resolved.
pub async fn staff_bind(
    state: &AppState,
    principal: &crate::auth::Principal,
    person: PersonId,
    openid: &str,
    reason: &str,
) -> crate::error::AppResult<(entity::person::Model, usize)> {
    use crate::audit::Entry;
    use crate::auth::Perm;
    use crate::error::AppError;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(AppError::field(
            "reason",
            "请填写原因（如：更换手机、微信号变更）",
        ));
    }
    if reason.chars().count() > 200 {
        return Err(AppError::field("reason", "原因不能超过 200 字"));
    }
    if waiting_scans(state, principal, Some(openid), 1)
        .await?
        .is_empty()
    {
        return Err(AppError::field(
            "openid",
            "该微信没有待处理的扫码，或已绑定其他人员；请让党员本人在微信中完成绑定",
        ));
    }
    let txn = crate::db::begin(&state.db).await?;
    let p = crate::org::people::scoped(&txn, principal, Perm::BindingWrite, person).await?;
    if p.status != "active" {
        return Err(AppError::field(
            "person_id",
            "只能为在册（正常）党员绑定微信",
        ));
    }
    if crate::org::people::find_by_openid(&txn, openid)
        .await?
        .is_some()
    {
        return Err(AppError::conflict("该微信已绑定其他人员"));
    }
    let actor = principal.actor();
    let today = state
        .clock
        .now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let old = p.openid.clone();
    if let Some(old) = &old {
        crate::org::people::add_history(
            &txn,
            p.id,
            "openid_unbind",
            Some(old.clone()),
            None,
            today,
            Some(reason.to_owned()),
            &actor,
        )
        .await?;
    }
    crate::org::people::add_history(
        &txn,
        p.id,
        "openid_bind",
        None,
        Some(openid.to_owned()),
        today,
        Some(reason.to_owned()),
        &actor,
    )
    .await?;
    let org = p.org_id;
    let mut row: entity::person::ActiveModel = p.into();
    row.openid = Set(Some(openid.to_owned()));
    row.updated_at = Set(Utc::now());
    let bound = row.update(&txn).await?;
    crate::audit::record(
        &txn,
        &actor,
        Entry::new(
            if old.is_some() {
                "rebind_openid"
            } else {
                "bind_openid"
            },
            "person",
            person,
        )
        .org(crate::ids::OrgId(org))
        .after(serde_json::json!({"reason": reason, "replaced": old.is_some()})),
    )
    .await?;
    txn.commit().await?;
    let resolved = resolve_pending(state, &bound).await;
    Ok((bound, resolved))
}
