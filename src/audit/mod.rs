//! The audit log: append-only, every change (who, when, from which IP, before and
//! after) and every read of a person's personal data. Written in the same
//! transaction as the change it describes, so neither exists without the other.

pub mod routes;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;

use crate::error::AppResult;
use crate::ids::{AccountId, OrgId};

/// Who did it.
#[derive(Debug, Clone)]
pub struct Actor {
    pub kind: &'static str,
    pub id: Option<i64>,
    pub name: String,
    pub ip: Option<String>,
}

impl Actor {
    pub fn account(id: AccountId, name: &str, ip: Option<String>) -> Self {
        Self {
            kind: "account",
            id: Some(id.0),
            name: name.to_owned(),
            ip,
        }
    }

    /// A command run on the server (`vanguard import`, `vanguard admin`).
    pub fn cli() -> Self {
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
        Self {
            kind: "cli",
            id: None,
            name: format!("cli:{user}"),
            ip: None,
        }
    }

    pub fn system() -> Self {
        Self {
            kind: "system",
            id: None,
            name: "system".to_owned(),
            ip: None,
        }
    }

    pub fn member(person_id: i64, ip: Option<String>) -> Self {
        Self {
            kind: "member",
            id: Some(person_id),
            name: format!("member:{person_id}"),
            ip,
        }
    }
}

/// One audit entry about to be written.
pub struct Entry<'a> {
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: Option<String>,
    pub org_id: Option<OrgId>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

impl<'a> Entry<'a> {
    pub fn new(action: &'a str, entity: &'a str, entity_id: impl ToString) -> Self {
        Self {
            action,
            entity,
            entity_id: Some(entity_id.to_string()),
            org_id: None,
            before: None,
            after: None,
        }
    }
    pub fn org(mut self, org: OrgId) -> Self {
        self.org_id = Some(org);
        self
    }
    pub fn before(mut self, v: impl Serialize) -> Self {
        self.before = serde_json::to_value(v).ok();
        self
    }
    pub fn after(mut self, v: impl Serialize) -> Self {
        self.after = serde_json::to_value(v).ok();
        self
    }
}

fn active(actor: &Actor, e: Entry<'_>) -> entity::audit_log::ActiveModel {
    entity::audit_log::ActiveModel {
        id: NotSet,
        at: Set(Utc::now()),
        actor_kind: Set(actor.kind.to_owned()),
        actor_id: Set(actor.id),
        actor_name: Set(actor.name.clone()),
        ip: Set(actor.ip.clone()),
        action: Set(e.action.to_owned()),
        entity: Set(e.entity.to_owned()),
        entity_id: Set(e.entity_id),
        org_id: Set(e.org_id.map(|o| o.0)),
        before: Set(e.before.map(|v| v.to_string())),
        after: Set(e.after.map(|v| v.to_string())),
    }
}

pub async fn record(db: &impl ConnectionTrait, actor: &Actor, entry: Entry<'_>) -> AppResult<()> {
    entity::audit_log::Entity::insert(active(actor, entry))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Many entries at once (roster import), in chunks the databases accept.
pub async fn record_many(
    db: &impl ConnectionTrait,
    actor: &Actor,
    entries: Vec<Entry<'_>>,
) -> AppResult<()> {
    let mut rows = entries.into_iter().map(|e| active(actor, e)).peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(500).collect();
        entity::audit_log::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: chrono::DateTime<Utc>,
    pub actor_kind: String,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    pub ip: Option<String>,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<String>,
    pub org_id: Option<i64>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

#[derive(Debug, Default)]
pub struct Filter {
    pub entity: Option<String>,
    pub entity_id: Option<String>,
    pub action: Option<String>,
    pub actor_id: Option<i64>,
    /// Newest first, entries with an id below this one.
    pub before_id: Option<i64>,
    pub limit: u64,
}

/// Entries visible from `scope_path` (None: everything), newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    scope_path: Option<&str>,
    filter: Filter,
) -> AppResult<Vec<AuditEntry>> {
    list_between(db, scope_path, filter, None, None).await
}

/// [`list`], limited to entries at or after `from` and before `until` (the console's
/// "when" filter).
pub async fn list_between(
    db: &impl ConnectionTrait,
    scope_path: Option<&str>,
    filter: Filter,
    from: Option<chrono::DateTime<Utc>>,
    until: Option<chrono::DateTime<Utc>>,
) -> AppResult<Vec<AuditEntry>> {
    use entity::audit_log::{Column, Entity};
    let mut q = Entity::find()
        .order_by_desc(Column::Id)
        .limit(filter.limit.clamp(1, 500));
    if let Some(t) = from {
        q = q.filter(Column::At.gte(t));
    }
    if let Some(t) = until {
        q = q.filter(Column::At.lt(t));
    }
    if let Some(scope) = scope_path {
        let orgs = Query::select()
            .column(entity::organization::Column::Id)
            .from(entity::organization::Entity)
            .and_where(Expr::col(entity::organization::Column::Path).like(format!("{scope}%")))
            .to_owned();
        q = q.filter(Column::OrgId.in_subquery(orgs));
    }
    if let Some(v) = filter.entity {
        q = q.filter(Column::Entity.eq(v));
    }
    if let Some(v) = filter.entity_id {
        q = q.filter(Column::EntityId.eq(v));
    }
    if let Some(v) = filter.action {
        q = q.filter(Column::Action.eq(v));
    }
    if let Some(v) = filter.actor_id {
        q = q.filter(Column::ActorId.eq(v));
    }
    if let Some(v) = filter.before_id {
        q = q.filter(Column::Id.lt(v));
    }
    let rows = q.all(db).await?;
    Ok(rows
        .into_iter()
        .map(|r| AuditEntry {
            id: r.id,
            at: r.at,
            actor_kind: r.actor_kind,
            actor_id: r.actor_id,
            actor_name: r.actor_name,
            ip: r.ip,
            action: r.action,
            entity: r.entity,
            entity_id: r.entity_id,
            org_id: r.org_id,
            before: r.before.and_then(|s| serde_json::from_str(&s).ok()),
            after: r.after.and_then(|s| serde_json::from_str(&s).ok()),
        })
        .collect())
}
