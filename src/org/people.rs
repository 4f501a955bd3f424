//! People: the current state in `people`, every change also appended to
//! `person_history` and the audit log. Phones are personal data: masked in views,
//! revealed only through an audited read, never logged.

use chrono::{NaiveDate, Utc};
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionSession, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use super::{PersonRole, PersonStatus, mask_phone, service as orgs, valid_phone};
use crate::audit::{self, Actor, Entry};
use crate::auth::{Perm, Principal};
use crate::error::{AppError, AppResult};
use crate::ids::{OrgId, PersonId};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PersonView {
    pub id: PersonId,
    pub external_id: Option<String>,
    pub name: String,
    /// Masked: 138****5678. The full number is an audited read (`/contact`).
    pub phone_masked: Option<String>,
    pub org_id: OrgId,
    pub role: PersonRole,
    pub role_label: &'static str,
    pub status: PersonStatus,
    pub status_label: &'static str,
    /// Bound to a WeChat openid.
    pub wechat_bound: bool,
}

impl From<&entity::person::Model> for PersonView {
    fn from(p: &entity::person::Model) -> Self {
        let role = PersonRole::parse(&p.role).unwrap_or(PersonRole::Member);
        let status = PersonStatus::parse(&p.status).unwrap_or(PersonStatus::Active);
        Self {
            id: PersonId(p.id),
            external_id: p.external_id.clone(),
            name: p.name.clone(),
            phone_masked: p.phone.as_deref().map(mask_phone),
            org_id: OrgId(p.org_id),
            role,
            role_label: role.label(),
            status,
            status_label: status.label(),
            wechat_bound: p.openid.is_some(),
        }
    }
}

/// What the audit log keeps of a person: never the phone itself.
#[derive(Serialize)]
struct AuditPerson<'a> {
    name: &'a str,
    external_id: Option<&'a str>,
    phone: Option<String>,
    org_id: i64,
    role: &'a str,
    status: &'a str,
}

fn audit_view(p: &entity::person::Model) -> AuditPerson<'_> {
    AuditPerson {
        name: &p.name,
        external_id: p.external_id.as_deref(),
        phone: p.phone.as_deref().map(mask_phone),
        org_id: p.org_id,
        role: &p.role,
        status: &p.status,
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPerson {
    pub name: String,
    pub phone: Option<String>,
    pub org_id: OrgId,
    pub role: PersonRole,
    /// 编号 from the national member information system.
    pub external_id: Option<String>,
}

pub fn check_person_name(name: &str) -> Result<String, &'static str> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 50 {
        Err("姓名须为 1 至 50 个字符")
    } else {
        Ok(n.to_owned())
    }
}

pub fn check_external_id(id: &str) -> Result<String, &'static str> {
    let t = id.trim();
    if t.is_empty() || t.len() > 64 || t.chars().any(char::is_whitespace) {
        Err("编号须为 1 至 64 个非空白字符")
    } else {
        Ok(t.to_owned())
    }
}

pub async fn find(db: &impl ConnectionTrait, id: PersonId) -> AppResult<entity::person::Model> {
    entity::person::Entity::find_by_id(id.0)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found(format!("人员 {id} 不存在")))
}

/// The person, after checking `perm` over the person's organization.
pub async fn scoped(
    db: &impl ConnectionTrait,
    principal: &Principal,
    perm: Perm,
    id: PersonId,
) -> AppResult<entity::person::Model> {
    principal.require(perm)?;
    let person = find(db, id).await?;
    let org = orgs::find(db, OrgId(person.org_id)).await?;
    principal.require_in(perm, &org.path)?;
    Ok(person)
}

pub async fn create(
    db: &(impl ConnectionTrait + TransactionTrait),
    principal: &Principal,
    input: NewPerson,
) -> AppResult<PersonView> {
    let name = check_person_name(&input.name).map_err(|m| AppError::field("name", m))?;
    let phone = match input
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        Some(p) if valid_phone(p) => Some(p.to_owned()),
        Some(_) => return Err(AppError::field("phone", "手机号须为 11 位数字")),
        None => None,
    };
    let external_id = match input.external_id.as_deref() {
        Some(e) => Some(check_external_id(e).map_err(|m| AppError::field("external_id", m))?),
        None => None,
    };
    if phone.is_none() && external_id.is_none() {
        return Err(AppError::field("phone", "手机号和编号至少填写一项"));
    }
    let txn = crate::db::begin(db).await?;
    let org = orgs::scoped(&txn, principal, Perm::PeopleWrite, input.org_id).await?;
    let now = Utc::now();
    let person = entity::person::ActiveModel {
        id: NotSet,
        external_id: Set(external_id),
        name: Set(name),
        phone: Set(phone),
        org_id: Set(org.id),
        role: Set(input.role.as_str().to_owned()),
        status: Set(PersonStatus::Active.as_str().to_owned()),
        openid: Set(None),
        birth_date: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|e| {
        let e = AppError::from(e);
        if e.code == crate::error::ErrorCode::Conflict {
            AppError::conflict("手机号或编号已属于另一人")
        } else {
            e
        }
    })?;
    audit::record(
        &txn,
        &principal.actor(),
        Entry::new("create", "person", person.id)
            .org(OrgId(org.id))
            .after(audit_view(&person)),
    )
    .await?;
    txn.commit().await?;
    Ok(PersonView::from(&person))
}

pub async fn get(
    db: &impl ConnectionTrait,
    principal: &Principal,
    id: PersonId,
) -> AppResult<PersonView> {
    Ok(PersonView::from(
        &scoped(db, principal, Perm::PeopleRead, id).await?,
    ))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Contact {
    pub id: PersonId,
    pub name: String,
    pub phone: Option<String>,
}

/// The full phone number: every read is written to the audit log.
pub async fn contact(
    db: &(impl ConnectionTrait + TransactionTrait),
    principal: &Principal,
    id: PersonId,
) -> AppResult<Contact> {
    let person = scoped(db, principal, Perm::PersonalRead, id).await?;
    audit::record(
        db,
        &principal.actor(),
        Entry::new("read_personal", "person", id).org(OrgId(person.org_id)),
    )
    .await?;
    Ok(Contact {
        id,
        name: person.name,
        phone: person.phone,
    })
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PeopleQuery {
    /// Organization whose subtree to list; default: the caller's scope.
    pub org_id: Option<i64>,
    pub role: Option<PersonRole>,
    pub status: Option<PersonStatus>,
    /// Part of a name, or a whole 编号.
    pub q: Option<String>,
    /// Cursor: the last id of the previous page.
    pub after: Option<i64>,
    /// Page size, at most 500 (default 100).
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PeoplePage {
    pub items: Vec<PersonView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<i64>,
}

pub async fn list(
    db: &impl ConnectionTrait,
    principal: &Principal,
    q: PeopleQuery,
) -> AppResult<PeoplePage> {
    use entity::person::{Column, Entity};
    principal.require(Perm::PeopleRead)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let scope_path = match q.org_id {
        Some(id) => Some(
            orgs::scoped(db, principal, Perm::PeopleRead, OrgId(id))
                .await?
                .path,
        ),
        None => principal.scope_path.clone(),
    };
    let mut query = Entity::find().order_by_asc(Column::Id).limit(limit + 1);
    if let Some(path) = scope_path {
        let ids = sea_orm::sea_query::Query::select()
            .column(entity::organization::Column::Id)
            .from(entity::organization::Entity)
            .and_where(
                sea_orm::sea_query::Expr::col(entity::organization::Column::Path)
                    .like(format!("{path}%")),
            )
            .to_owned();
        query = query.filter(Column::OrgId.in_subquery(ids));
    }
    if let Some(role) = q.role {
        query = query.filter(Column::Role.eq(role.as_str()));
    }
    if let Some(status) = q.status {
        query = query.filter(Column::Status.eq(status.as_str()));
    }
    if let Some(text) = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        query = query.filter(
            sea_orm::Condition::any()
                .add(Column::Name.contains(text))
                .add(Column::ExternalId.eq(text)),
        );
    }
    if let Some(after) = q.after {
        query = query.filter(Column::Id.gt(after));
    }
    let mut rows = query.all(db).await?;
    let next = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|p| p.id)
    } else {
        None
    };
    Ok(PeoplePage {
        items: rows.iter().map(PersonView::from).collect(),
        next,
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonPatch {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub external_id: Option<String>,
    pub birth_date: Option<NaiveDate>,
}

pub async fn update(
    db: &(impl ConnectionTrait + TransactionTrait),
    principal: &Principal,
    id: PersonId,
    patch: PersonPatch,
) -> AppResult<PersonView> {
    let txn = crate::db::begin(db).await?;
    let person = scoped(&txn, principal, Perm::PeopleWrite, id).await?;
    let before = person.clone();
    let mut active: entity::person::ActiveModel = person.into();
    if let Some(name) = patch.name {
        active.name = Set(check_person_name(&name).map_err(|m| AppError::field("name", m))?);
    }
    if let Some(phone) = patch.phone {
        let phone = phone.trim();
        if !valid_phone(phone) {
            return Err(AppError::field("phone", "手机号须为 11 位数字"));
        }
        active.phone = Set(Some(phone.to_owned()));
    }
    if let Some(ext) = patch.external_id {
        active.external_id = Set(Some(
            check_external_id(&ext).map_err(|m| AppError::field("external_id", m))?,
        ));
    }
    if let Some(date) = patch.birth_date {
        active.birth_date = Set(Some(date));
    }
    active.updated_at = Set(Utc::now());
    let after = active.update(&txn).await.map_err(|e| {
        let e = AppError::from(e);
        if e.code == crate::error::ErrorCode::Conflict {
            AppError::conflict("手机号或编号已属于另一人")
        } else {
            e
        }
    })?;
    audit::record(
        &txn,
        &principal.actor(),
        Entry::new("update", "person", id)
            .org(OrgId(after.org_id))
            .before(audit_view(&before))
            .after(audit_view(&after)),
    )
    .await?;
    txn.commit().await?;
    Ok(PersonView::from(&after))
}

/// Appends a history row.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn add_history(
    db: &impl ConnectionTrait,
    person: i64,
    kind: &str,
    from: Option<String>,
    to: Option<String>,
    effective_on: NaiveDate,
    reason: Option<String>,
    actor: &Actor,
) -> AppResult<()> {
    entity::person_history::ActiveModel {
        id: NotSet,
        person_id: Set(person),
        kind: Set(kind.to_owned()),
        from_value: Set(from),
        to_value: Set(to),
        effective_on: Set(effective_on),
        reason: Set(reason),
        actor_id: Set(actor.id.filter(|_| actor.kind == "account")),
        recorded_at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Today in China, the default for effective dates.
pub fn today() -> NaiveDate {
    Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

/// One dated change of a person: history row, the new state, the audit entry, in one
/// transaction.
struct Change<'a> {
    kind: &'static str,
    action: &'static str,
    from: String,
    to: String,
    effective_on: NaiveDate,
    reason: Option<String>,
    apply: &'a dyn Fn(&mut entity::person::ActiveModel),
}

async fn record_change(
    db: &impl ConnectionTrait,
    principal: &Principal,
    person: entity::person::Model,
    audit_org: i64,
    c: Change<'_>,
) -> AppResult<entity::person::Model> {
    let actor = principal.actor();
    add_history(
        db,
        person.id,
        c.kind,
        Some(c.from),
        Some(c.to),
        c.effective_on,
        c.reason,
        &actor,
    )
    .await?;
    let before = person.clone();
    let mut active: entity::person::ActiveModel = person.into();
    (c.apply)(&mut active);
    active.updated_at = Set(Utc::now());
    let after = active.update(db).await?;
    audit::record(
        db,
        &actor,
        Entry::new(c.action, "person", after.id)
            .org(OrgId(audit_org))
            .before(audit_view(&before))
            .after(audit_view(&after)),
    )
    .await?;
    Ok(after)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    pub role: PersonRole,
    /// Default: today.
    pub effective_on: Option<NaiveDate>,
    pub reason: Option<String>,
}

/// applicant → activist → development target → probationary → member: each part of
/// the year is scored under the index of that time, so the date matters.
pub async fn change_role(
    db: &(impl ConnectionTrait + TransactionTrait),
    principal: &Principal,
    id: PersonId,
    change: RoleChange,
) -> AppResult<PersonView> {
    let txn = crate::db::begin(db).await?;
    let person = scoped(&txn, principal, Perm::PeopleWrite, id).await?;
    if person.role == change.role.as_str() {
        return Err(AppError::field("role", "身份未变化"));
    }
    let role = change.role.as_str().to_owned();
    let org = person.org_id;
    let c = Change {
        kind: "role",
        action: "change_role",
        from: person.role.clone(),
        to: role.clone(),
        effective_on: change.effective_on.unwrap_or_else(today),
        reason: change.reason,
        apply: &|a| a.role = Set(role.clone()),
    };
    let after = record_change(&txn, principal, person, org, c).await?;
    txn.commit().await?;
    Ok(PersonView::from(&after))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    pub to_org_id: OrgId,
    pub effective_on: Option<NaiveDate>,
    pub reason: Option<String>,
}

/// Moves a person to another organization in scope; the history keeps where they were.
pub async fn transfer(
    db: &(impl ConnectionTrait + TransactionTrait),
    principal: &Principal,
    id: PersonId,
    t: Transfer,
) -> AppResult<PersonView> {
    let txn = crate::db::begin(db).await?;
    let person = scoped(&txn, principal, Perm::PeopleWrite, id).await?;
    let target = orgs::scoped(&txn, principal, Perm::PeopleWrite, t.to_org_id).await?;
    if target.id == person.org_id {
        return Err(AppError::field("to_org_id", "已在该组织"));
    }
    let to = target.id;
    let c = Change {
        kind: "transfer",
        action: "transfer",
        from: person.org_id.to_string(),
        to: to.to_string(),
        effective_on: t.effective_on.unwrap_or_else(today),
        reason: t.reason,
        apply: &|a| a.org_id = Set(to),
    };
    let after = record_change(&txn, principal, person, to, c).await?;
    txn.commit().await?;
    Ok(PersonView::from(&after))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    pub status: PersonStatus,
    pub effective_on: Option<NaiveDate>,
    pub reason: String,
}

pub async fn change_status(
    db: &(impl ConnectionTrait + TransactionTrait),
    principal: &Principal,
    id: PersonId,
    change: StatusChange,
) -> AppResult<PersonView> {
    if change.reason.trim().is_empty() {
        return Err(AppError::field("reason", "请填写原因"));
    }
    let txn = crate::db::begin(db).await?;
    let person = scoped(&txn, principal, Perm::PeopleWrite, id).await?;
    if person.status == change.status.as_str() {
        return Err(AppError::field("status", "状态未变化"));
    }
    let status = change.status.as_str().to_owned();
    let org = person.org_id;
    let c = Change {
        kind: "status",
        action: "change_status",
        from: person.status.clone(),
        to: status.clone(),
        effective_on: change.effective_on.unwrap_or_else(today),
        reason: Some(change.reason),
        apply: &|a| a.status = Set(status.clone()),
    };
    let after = record_change(&txn, principal, person, org, c).await?;
    txn.commit().await?;
    Ok(PersonView::from(&after))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub id: i64,
    /// `role`, `transfer`, `status`, `openid_bind`, `openid_unbind`.
    pub kind: String,
    pub from_value: Option<String>,
    pub to_value: Option<String>,
    pub effective_on: NaiveDate,
    pub reason: Option<String>,
    pub actor_id: Option<i64>,
    pub recorded_at: chrono::DateTime<Utc>,
}

pub async fn history(
    db: &impl ConnectionTrait,
    principal: &Principal,
    id: PersonId,
) -> AppResult<Vec<HistoryEntry>> {
    scoped(db, principal, Perm::PeopleRead, id).await?;
    let rows = entity::person_history::Entity::find()
        .filter(entity::person_history::Column::PersonId.eq(id.0))
        .order_by_asc(entity::person_history::Column::Id)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|h| HistoryEntry {
            id: h.id,
            // Openids are identifiers of a person: shown as bound/unbound only.
            from_value: if h.kind.starts_with("openid") {
                None
            } else {
                h.from_value
            },
            to_value: if h.kind.starts_with("openid") {
                None
            } else {
                h.to_value
            },
            kind: h.kind,
            effective_on: h.effective_on,
            reason: h.reason,
            actor_id: h.actor_id,
            recorded_at: h.recorded_at,
        })
        .collect())
}

// ---------------------------------------------------------------- exemptions

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewExemption {
    /// The year exempted; omit for a permanent exemption.
    pub year: Option<i32>,
    pub reason: String,
    /// Who approved it (the higher organization, XH-20).
    pub approver: String,
    pub approved_on: NaiveDate,
    /// `grant` (default) or `revoke`.
    #[serde(default)]
    pub revoke: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExemptionView {
    pub id: i64,
    pub action: String,
    pub year: Option<i32>,
    pub reason: String,
    pub approver: String,
    pub approved_on: NaiveDate,
    pub recorded_at: chrono::DateTime<Utc>,
}

/// Whether a person is exempt in `year`, folding grants and revocations in order.
pub fn exempt_in(rows: &[entity::exemption::Model], year: i32) -> bool {
    let mut permanent = false;
    let mut this_year = false;
    for r in rows {
        let grant = r.action == "grant";
        match r.year {
            None => permanent = grant,
            Some(y) if y == year => this_year = grant,
            Some(_) => {}
        }
    }
    permanent || this_year
}

pub async fn exemptions_of(
    db: &impl ConnectionTrait,
    person: i64,
) -> AppResult<Vec<entity::exemption::Model>> {
    Ok(entity::exemption::Entity::find()
        .filter(entity::exemption::Column::PersonId.eq(person))
        .order_by_asc(entity::exemption::Column::Id)
        .all(db)
        .await?)
}

fn exemption_view(e: entity::exemption::Model) -> ExemptionView {
    ExemptionView {
        id: e.id,
        action: e.action,
        year: e.year,
        reason: e.reason,
        approver: e.approver,
        approved_on: e.approved_on,
        recorded_at: e.recorded_at,
    }
}

/// XH-20 / SD-7 / TW-8: exemption on application approved by the higher organization.
pub async fn add_exemption(
    db: &(impl ConnectionTrait + TransactionTrait),
    principal: &Principal,
    id: PersonId,
    input: NewExemption,
) -> AppResult<ExemptionView> {
    if input.reason.trim().is_empty() {
        return Err(AppError::field("reason", "请填写原因"));
    }
    if input.approver.trim().is_empty() {
        return Err(AppError::field("approver", "请填写审批人或审批组织"));
    }
    if let Some(y) = input.year
        && !(2000..=2100).contains(&y)
    {
        return Err(AppError::field("year", "年份无效"));
    }
    let txn = crate::db::begin(db).await?;
    let person = scoped(&txn, principal, Perm::PeopleWrite, id).await?;
    let view = write_exemption(&txn, &principal.actor(), &person, &input).await?;
    txn.commit().await?;
    Ok(view)
}

async fn write_exemption(
    db: &impl ConnectionTrait,
    actor: &Actor,
    person: &entity::person::Model,
    input: &NewExemption,
) -> AppResult<ExemptionView> {
    let row = entity::exemption::ActiveModel {
        id: NotSet,
        person_id: Set(person.id),
        action: Set(if input.revoke { "revoke" } else { "grant" }.to_owned()),
        year: Set(input.year),
        reason: Set(input.reason.trim().to_owned()),
        approver: Set(input.approver.trim().to_owned()),
        approved_on: Set(input.approved_on),
        actor_id: Set(actor.id.filter(|_| actor.kind == "account")),
        recorded_at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    let view = exemption_view(row);
    let action = if input.revoke {
        "revoke_exemption"
    } else {
        "grant_exemption"
    };
    audit::record(
        db,
        actor,
        Entry::new(action, "person", person.id)
            .org(OrgId(person.org_id))
            .after(&view),
    )
    .await?;
    Ok(view)
}

/// Grants an exemption as the operator (no principal): used by `vanguard score`.
pub async fn record_exemption(
    db: &impl ConnectionTrait,
    actor: &Actor,
    person_id: i64,
    year: Option<i32>,
    reason: &str,
    approver: &str,
    approved_on: NaiveDate,
) -> AppResult<ExemptionView> {
    let person = find(db, PersonId(person_id)).await?;
    let input = NewExemption {
        year,
        reason: reason.to_owned(),
        approver: approver.to_owned(),
        approved_on,
        revoke: false,
    };
    write_exemption(db, actor, &person, &input).await
}

pub async fn list_exemptions(
    db: &impl ConnectionTrait,
    principal: &Principal,
    id: PersonId,
) -> AppResult<Vec<ExemptionView>> {
    let person = scoped(db, principal, Perm::PeopleRead, id).await?;
    Ok(exemptions_of(db, person.id)
        .await?
        .into_iter()
        .map(exemption_view)
        .collect())
}

// ---------------------------------------------------------------- WeChat binding

pub async fn find_by_openid(
    db: &impl ConnectionTrait,
    openid: &str,
) -> AppResult<Option<entity::person::Model>> {
    Ok(entity::person::Entity::find()
        .filter(entity::person::Column::Openid.eq(openid))
        .one(db)
        .await?)
}

/// Binds an openid to a person (unique both ways); recorded in history and audit.
pub async fn bind_openid(
    db: &(impl ConnectionTrait + TransactionTrait),
    actor: &Actor,
    person: PersonId,
    openid: &str,
) -> AppResult<entity::person::Model> {
    let txn = crate::db::begin(db).await?;
    let p = find(&txn, person).await?;
    if p.openid.as_deref() == Some(openid) {
        return Ok(p);
    }
    if p.openid.is_some() {
        return Err(AppError::conflict("该人员已绑定其他微信"));
    }
    if find_by_openid(&txn, openid).await?.is_some() {
        return Err(AppError::conflict("该微信已绑定其他人员"));
    }
    add_history(
        &txn,
        p.id,
        "openid_bind",
        None,
        Some(openid.to_owned()),
        today(),
        None,
        actor,
    )
    .await?;
    let org = p.org_id;
    let mut active: entity::person::ActiveModel = p.into();
    active.openid = Set(Some(openid.to_owned()));
    active.updated_at = Set(Utc::now());
    let after = active.update(&txn).await?;
    audit::record(
        &txn,
        actor,
        Entry::new("bind_openid", "person", person).org(OrgId(org)),
    )
    .await?;
    txn.commit().await?;
    Ok(after)
}

pub async fn unbind_openid(
    db: &(impl ConnectionTrait + TransactionTrait),
    principal: &Principal,
    id: PersonId,
    reason: Option<String>,
) -> AppResult<PersonView> {
    let txn = crate::db::begin(db).await?;
    let p = scoped(&txn, principal, Perm::BindingWrite, id).await?;
    let Some(openid) = p.openid.clone() else {
        return Err(AppError::field("openid", "该人员未绑定微信"));
    };
    add_history(
        &txn,
        p.id,
        "openid_unbind",
        Some(openid),
        None,
        today(),
        reason,
        &principal.actor(),
    )
    .await?;
    let org = p.org_id;
    let mut active: entity::person::ActiveModel = p.into();
    active.openid = Set(None);
    active.updated_at = Set(Utc::now());
    let after = active.update(&txn).await?;
    audit::record(
        &txn,
        &principal.actor(),
        Entry::new("unbind_openid", "person", id).org(OrgId(org)),
    )
    .await?;
    txn.commit().await?;
    Ok(PersonView::from(&after))
}

/// Roster match for the binding page: exact name and phone of an active person.
pub async fn match_roster(
    db: &impl ConnectionTrait,
    name: &str,
    phone: &str,
) -> AppResult<Option<entity::person::Model>> {
    Ok(entity::person::Entity::find()
        .filter(entity::person::Column::Phone.eq(phone.trim()))
        .filter(entity::person::Column::Name.eq(name.trim()))
        .filter(entity::person::Column::Status.eq(PersonStatus::Active.as_str()))
        .one(db)
        .await?)
}
