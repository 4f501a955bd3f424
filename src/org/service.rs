//! The organization tree.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, TransactionSession,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};

use super::OrgKind;
use crate::audit::{self, Actor, Entry};
use crate::auth::{Perm, Principal};
use crate::error::{AppError, AppResult};
use crate::ids::OrgId;

pub const DEFAULT_TIMEZONE: &str = "Asia/Shanghai";
/// The zone [`DEFAULT_TIMEZONE`] names: where an organization without a valid zone is
/// judged. The one fallback; call [`zone`] rather than repeat it.
pub const DEFAULT_TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// An organization's zone by its stored name; [`DEFAULT_TZ`] for a name that is not one.
pub fn zone(name: &str) -> chrono_tz::Tz {
    name.parse().unwrap_or(DEFAULT_TZ)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrgView {
    pub id: OrgId,
    pub parent_id: Option<OrgId>,
    pub code: String,
    pub name: String,
    pub kind: OrgKind,
    pub kind_label: &'static str,
    pub timezone: String,
    /// Members see their own rank (off by default: DESIGN.md "Compliance and trust").
    pub show_rank_to_members: bool,
}

impl From<&entity::organization::Model> for OrgView {
    fn from(o: &entity::organization::Model) -> Self {
        let kind = OrgKind::parse(&o.kind).unwrap_or(OrgKind::Branch);
        Self {
            id: OrgId(o.id),
            parent_id: o.parent_id.map(OrgId),
            code: o.code.clone(),
            name: o.name.clone(),
            kind,
            kind_label: kind.label(),
            timezone: o.timezone.clone(),
            show_rank_to_members: o.show_rank_to_members,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrg {
    pub name: String,
    /// Unique code, referenced by roster imports (支部编码).
    pub code: String,
    pub kind: OrgKind,
    pub parent_id: Option<OrgId>,
    /// IANA time zone; default Asia/Shanghai.
    pub timezone: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgPatch {
    pub name: Option<String>,
    pub timezone: Option<String>,
    pub show_rank_to_members: Option<bool>,
}

fn check_name(name: &str) -> AppResult<String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 100 {
        return Err(AppError::field("name", "名称须为 1 至 100 个字符"));
    }
    Ok(n.to_owned())
}

fn check_code(code: &str) -> AppResult<String> {
    let c = code.trim();
    let ok = !c.is_empty()
        && c.len() <= 64
        && c.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.'));
    if ok {
        Ok(c.to_owned())
    } else {
        Err(AppError::field(
            "code",
            "编码须为 1 至 64 位字母、数字或 - _ .",
        ))
    }
}

pub fn check_timezone(tz: &str) -> AppResult<String> {
    tz.parse::<chrono_tz::Tz>()
        .map(|_| tz.to_owned())
        .map_err(|_| AppError::field("timezone", format!("未知时区 \"{tz}\"，例如 Asia/Shanghai")))
}

pub async fn find(db: &impl ConnectionTrait, id: OrgId) -> AppResult<entity::organization::Model> {
    entity::organization::Entity::find_by_id(id.0)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found(format!("组织 {id} 不存在")))
}

pub async fn find_by_code(
    db: &impl ConnectionTrait,
    code: &str,
) -> AppResult<Option<entity::organization::Model>> {
    Ok(entity::organization::Entity::find()
        .filter(entity::organization::Column::Code.eq(code))
        .one(db)
        .await?)
}

/// The organization, after checking `perm` and that it is in the principal's scope.
pub async fn scoped(
    db: &impl ConnectionTrait,
    principal: &Principal,
    perm: Perm,
    id: OrgId,
) -> AppResult<entity::organization::Model> {
    principal.require(perm)?;
    let org = find(db, id).await?;
    principal.require_in(perm, &org.path)?;
    Ok(org)
}

pub async fn create(
    db: &(impl ConnectionTrait + TransactionTrait),
    actor: &Actor,
    principal: Option<&Principal>,
    input: NewOrg,
) -> AppResult<OrgView> {
    let name = check_name(&input.name)?;
    let code = check_code(&input.code)?;
    let timezone = check_timezone(input.timezone.as_deref().unwrap_or(DEFAULT_TIMEZONE))?;
    let txn = crate::db::begin(db).await?;
    let parent = match input.parent_id {
        Some(pid) => {
            let parent = match principal {
                Some(p) => scoped(&txn, p, Perm::OrgWrite, pid).await?,
                None => find(&txn, pid).await?,
            };
            let parent_kind = OrgKind::parse(&parent.kind).unwrap_or(OrgKind::Group);
            if !parent_kind.may_contain(input.kind) {
                return Err(AppError::field(
                    "kind",
                    format!("{}下不能设立{}", parent_kind.label(), input.kind.label()),
                ));
            }
            Some(parent)
        }
        None => {
            if let Some(p) = principal {
                p.require(Perm::OrgWrite)?;
                if p.scope_path.is_some() {
                    return Err(AppError::forbidden("只有全局管理员可以创建顶级组织"));
                }
            }
            None
        }
    };
    if find_by_code(&txn, &code).await?.is_some() {
        return Err(AppError::conflict(format!("组织编码 {code} 已存在")));
    }
    let now = Utc::now();
    let inserted = entity::organization::ActiveModel {
        id: NotSet,
        parent_id: Set(parent.as_ref().map(|p| p.id)),
        path: Set(String::new()),
        code: Set(code),
        name: Set(name),
        kind: Set(input.kind.as_str().to_owned()),
        timezone: Set(timezone),
        show_rank_to_members: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    // The path needs the new id, so it is set right after the insert.
    let path = format!(
        "{}{}/",
        parent.as_ref().map_or("/", |p| p.path.as_str()),
        inserted.id
    );
    let mut active: entity::organization::ActiveModel = inserted.into();
    active.path = Set(path);
    let org = active.update(&txn).await?;
    let view = OrgView::from(&org);
    audit::record(
        &txn,
        actor,
        Entry::new("create", "organization", org.id)
            .org(OrgId(org.id))
            .after(&view),
    )
    .await?;
    txn.commit().await?;
    Ok(view)
}

pub async fn update(
    db: &(impl ConnectionTrait + TransactionTrait),
    principal: &Principal,
    id: OrgId,
    patch: OrgPatch,
) -> AppResult<OrgView> {
    let txn = crate::db::begin(db).await?;
    let org = scoped(&txn, principal, Perm::OrgWrite, id).await?;
    let before = OrgView::from(&org);
    let mut active: entity::organization::ActiveModel = org.into();
    if let Some(name) = patch.name {
        active.name = Set(check_name(&name)?);
    }
    if let Some(tz) = patch.timezone {
        active.timezone = Set(check_timezone(&tz)?);
    }
    if let Some(show) = patch.show_rank_to_members {
        active.show_rank_to_members = Set(show);
    }
    active.updated_at = Set(Utc::now());
    let org = active.update(&txn).await?;
    let after = OrgView::from(&org);
    audit::record(
        &txn,
        &principal.actor(),
        Entry::new("update", "organization", id)
            .org(id)
            .before(&before)
            .after(&after),
    )
    .await?;
    txn.commit().await?;
    Ok(after)
}

/// Organizations in the principal's scope, optionally only the children of `parent`.
pub async fn list(
    db: &impl ConnectionTrait,
    principal: &Principal,
    parent: Option<OrgId>,
) -> AppResult<Vec<OrgView>> {
    use entity::organization::{Column, Entity};
    principal.require(Perm::OrgRead)?;
    let mut q = Entity::find().order_by_asc(Column::Path);
    if let Some(scope) = &principal.scope_path {
        q = q.filter(Column::Path.starts_with(scope.as_str()));
    }
    if let Some(parent) = parent {
        scoped(db, principal, Perm::OrgRead, parent).await?;
        q = q.filter(Column::ParentId.eq(parent.0));
    }
    Ok(q.all(db).await?.iter().map(OrgView::from).collect())
}

/// Ids of the organization and everything below it.
pub async fn subtree_ids(
    db: &impl ConnectionTrait,
    org: &entity::organization::Model,
) -> AppResult<Vec<i64>> {
    use entity::organization::{Column, Entity};
    Ok(Entity::find()
        .filter(Column::Path.starts_with(org.path.as_str()))
        .all(db)
        .await?
        .into_iter()
        .map(|o| o.id)
        .collect())
}
