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

#[async_trait]
impl MessageHandler for CheckinHandler {
    async fn handle(&self, event: &InboundEvent) -> anyhow::Result<Option<String>> {
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
                let (_, text) = scan::handle(&self.state, &scan)
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

/// Counts the person's pending scans whose sessions are still open, at their scan time.
pub async fn resolve_pending(state: &AppState, person: &entity::person::Model) {
    let Some(openid) = person.openid.clone() else {
        return;
    };
    let pending = match entity::pending_scan::Entity::find()
        .filter(entity::pending_scan::Column::Openid.eq(openid))
        .filter(entity::pending_scan::Column::ResolvedAt.is_null())
        .all(&state.db)
        .await
    {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "pending scans not read");
            return;
        }
    };
    for p in pending {
        let Ok(Some(session)) =
            super::sessions::load(&state.db, state.live.as_ref(), p.session_id).await
        else {
            continue;
        };
        if state.clock.now() > session.ends_at() {
            continue;
        }
        let fact = match scan::count(state, &session, person, p.at, p.received_at, None, None).await
        {
            Ok((scan::Outcome::Counted { fact_id, .. } | scan::Outcome::Exempt { fact_id }, _)) => {
                Some(fact_id)
            }
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e.detail, "pending scan not counted");
                continue;
            }
        };
        let mut row: entity::pending_scan::ActiveModel = p.into();
        row.resolved_at = Set(Some(state.clock.now()));
        row.fact_id = Set(fact);
        if let Err(e) = row.update(&state.db).await {
            tracing::warn!(error = %e, "pending scan not marked");
        }
    }
}
