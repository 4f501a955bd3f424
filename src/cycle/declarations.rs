//! Declarations (申报, SD-2; TW's recorder): a member declares a contribution (an
//! item their policy lets members declare, a date, a description, an optional photo)
//! and may withdraw it until it is reviewed; a recorder (组织委员) or secretary may
//! enter one for a member. The branch approves (setting the item's fields, e.g. the
//! grade) or rejects with a reason; only an approval records a fact, through
//! `ledger::facts::record`, in the same transaction as the answer, so it scores then
//! and never before.

use chrono::{Datelike, NaiveDate};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::audit::Actor;
use crate::auth::{Perm, Principal};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ids::{OrgId, PersonId};
use crate::ledger::SubjectRef;
use crate::ledger::facts::{NewFact, NewFactKind};
use crate::ledger::inputs::{self, tz_of, year_of};
use crate::policy::{FieldKind, FieldValue, Fields, ItemSubject, Policy, parse_dec};
use crate::state::AppState;
use crate::uploads::{CleanImage, Owner};
use entity::declaration::{Column as D, Entity as Decls, Model as Declaration};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclState {
    Submitted,
    Approved,
    Rejected,
    Withdrawn,
}

impl DeclState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "submitted" => Self::Submitted,
            "approved" => Self::Approved,
            "rejected" => Self::Rejected,
            "withdrawn" => Self::Withdrawn,
            _ => return None,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Submitted => "待审核",
            Self::Approved => "已通过",
            Self::Rejected => "未通过",
            Self::Withdrawn => "已撤回",
        }
    }
}

pub fn state_of(d: &Declaration) -> DeclState {
    DeclState::parse(&d.state).unwrap_or(DeclState::Submitted)
}

/// What a member types.
pub struct NewDeclaration {
    pub item: String,
    /// As typed (`YYYY-MM-DD`).
    pub on_date: String,
    pub description: String,
    pub photo: Option<CleanImage>,
    /// The form's id: a double submit stores one declaration.
    pub form_key: Option<String>,
}

/// The policy a member's declaration for `year` is judged by.
pub async fn policy_of(
    state: &AppState,
    person: &entity::person::Model,
    year: i32,
) -> AppResult<std::sync::Arc<Policy>> {
    let org = crate::org::service::find(&state.db, OrgId(person.org_id)).await?;
    inputs::policy_for(&state.db, &state.scoring, &org.path, year).await
}

/// The item's label under the policy (the code where it has none).
pub fn item_label(policy: &Policy, code: &str) -> String {
    policy
        .item_label(code)
        .map_or_else(|| code.to_owned(), |(l, _)| l)
}

/// Files a declaration for `person` (`actor`: the member, or staff entering it).
pub async fn submit(
    state: &AppState,
    person: &entity::person::Model,
    input: NewDeclaration,
    actor: &Actor,
) -> AppResult<Declaration> {
    let org = crate::org::service::find(&state.db, OrgId(person.org_id)).await?;
    let tz = tz_of(&org);
    let now = state.clock.now();
    let today = now.with_timezone(&tz).date_naive();
    let on = NaiveDate::parse_from_str(input.on_date.trim(), "%Y-%m-%d")
        .map_err(|_| AppError::field("on_date", "请选择日期（年-月-日）"))?;
    if on > today {
        return Err(AppError::field("on_date", "日期不能晚于今天"));
    }
    let year = on.year();
    if crate::ledger::post::year_closed(&state.db, &org.path, year).await? {
        return Err(AppError::new(
            ErrorCode::YearClosed,
            format!("{year} 年度已结转归档，不能再申报该年度的事项"),
        ));
    }
    let policy = inputs::policy_for(&state.db, &state.scoring, &org.path, year).await?;
    let declarable = policy.declarable_items();
    if !declarable.iter().any(|d| d.code == input.item) {
        let offered: Vec<String> = declarable.iter().map(|d| d.label.clone()).collect();
        let msg = if input.item.trim().is_empty() {
            "请选择申报事项".to_owned()
        } else {
            format!(
                "《{}》没有可申报的事项“{}”；可申报：{}",
                policy.title,
                input.item.chars().take(40).collect::<String>(),
                offered.join("、")
            )
        };
        return Err(AppError::field("item", msg));
    }
    let description = super::text_field("description", &input.description, "事项说明", 1000)?;
    let form_key = input
        .form_key
        .filter(|k| !k.is_empty() && k.len() <= 64)
        .map(|k| format!("decl:{k}"));
    if let Some(k) = &form_key
        && let Some(existing) = Decls::find()
            .filter(D::FormKey.eq(k.clone()))
            .one(&state.db)
            .await?
    {
        return Ok(existing);
    }
    let (kind, by_id, by_name) = super::entered_by(actor, &person.name);
    let txn = crate::db::begin(&state.db).await?;
    let upload = match &input.photo {
        Some(img) => {
            let owner = match (actor.kind, actor.id) {
                ("account", Some(id)) => Owner::Account(id),
                _ => Owner::Member(person.id),
            };
            Some(crate::uploads::store(&txn, img, owner, None, now).await?.id)
        }
        None => None,
    };
    let row = entity::declaration::ActiveModel {
        person_id: Set(person.id),
        org_id: Set(person.org_id),
        item: Set(input.item.clone()),
        on_date: Set(on),
        year: Set(year),
        description: Set(description),
        upload_id: Set(upload),
        state: Set(DeclState::Submitted.as_str().to_owned()),
        form_key: Set(form_key.clone()),
        entered_by_kind: Set(kind),
        entered_by_id: Set(by_id),
        entered_by_name: Set(by_name),
        submitted_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let row = match row {
        Ok(r) => r,
        // The same form posted twice at once: the first one stands.
        Err(e) if super::leave::is_unique_violation(&e) => {
            drop(txn);
            return Decls::find()
                .filter(D::FormKey.eq(form_key))
                .one(&state.db)
                .await?
                .ok_or_else(|| AppError::conflict("重复提交"));
        }
        Err(e) => return Err(e.into()),
    };
    crate::audit::record(
        &txn,
        actor,
        crate::audit::Entry::new("submit_declaration", "declaration", row.id)
            .org(OrgId(person.org_id))
            .after(serde_json::json!({"person": person.id, "item": row.item, "on": row.on_date.to_string()})),
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

/// A recorder or secretary enters a declaration for a member in their scope.
pub async fn enter_for(
    state: &AppState,
    principal: &Principal,
    person: PersonId,
    input: NewDeclaration,
) -> AppResult<Declaration> {
    let p = crate::org::people::scoped(&state.db, principal, Perm::ScoresWrite, person)
        .await
        .map_err(|e| match e.code {
            ErrorCode::Forbidden if principal.role.allows(Perm::ScoresWrite) => {
                AppError::field("person_id", "没有找到该党员")
            }
            _ => e,
        })?;
    submit(state, &p, input, &principal.actor()).await
}

pub async fn find(db: &impl ConnectionTrait, id: i64) -> AppResult<Declaration> {
    Decls::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("没有找到该申报"))
}

/// A declaration the principal may see: outside the scope it does not exist.
pub async fn scoped(
    state: &AppState,
    principal: &Principal,
    perm: Perm,
    id: i64,
) -> AppResult<Declaration> {
    principal.require(perm)?;
    let row = find(&state.db, id).await?;
    crate::org::service::scoped(&state.db, principal, perm, OrgId(row.org_id))
        .await
        .map_err(|_| AppError::not_found("没有找到该申报"))?;
    Ok(row)
}

/// The member withdraws a declaration not reviewed yet.
pub async fn withdraw(
    state: &AppState,
    person: &entity::person::Model,
    id: i64,
    ip: Option<String>,
) -> AppResult<Declaration> {
    let row = find(&state.db, id)
        .await
        .ok()
        .filter(|d| d.person_id == person.id)
        .ok_or_else(|| AppError::not_found("没有找到该申报"))?;
    let txn = crate::db::begin(&state.db).await?;
    let done = Decls::update_many()
        .col_expr(D::State, Expr::value(DeclState::Withdrawn.as_str()))
        .filter(D::Id.eq(id))
        .filter(D::State.eq(DeclState::Submitted.as_str()))
        .exec(&txn)
        .await?;
    if done.rows_affected == 0 {
        return Err(AppError::new(
            ErrorCode::ReviewState,
            format!("该申报{}，不能撤回", state_of(&row).label()),
        ));
    }
    crate::audit::record(
        &txn,
        &Actor::member(person.id, ip),
        crate::audit::Entry::new("withdraw_declaration", "declaration", id).org(OrgId(row.org_id)),
    )
    .await?;
    txn.commit().await?;
    find(&state.db, id).await
}

/// Reads the item's fields from the review form (`f_<name>`), checked by the policy.
pub fn review_fields(
    policy: &Policy,
    code: &str,
    get: impl Fn(&str) -> String,
) -> AppResult<Fields> {
    let spec = policy
        .item(ItemSubject::Person, code)
        .ok_or_else(|| AppError::field("item", format!("《{}》已没有该事项", policy.title)))?;
    let mut fields = Fields::new();
    for f in &spec.fields {
        let key = format!("f_{}", f.name);
        let raw = get(&key);
        let raw = raw.trim();
        match f.kind {
            FieldKind::Number if raw.is_empty() => {}
            FieldKind::Number => match parse_dec(raw) {
                Some(d) if !d.is_sign_negative() => {
                    fields.set(&f.name, FieldValue::Number(d));
                }
                _ => return Err(AppError::field(key, "请填写不小于 0 的数字")),
            },
            FieldKind::Bool => {
                if matches!(raw, "1" | "true" | "on") {
                    fields.set(&f.name, FieldValue::Bool(true));
                }
            }
            FieldKind::Text if raw.is_empty() => {}
            FieldKind::Text => fields.set(&f.name, FieldValue::Text(raw.to_owned())),
        }
    }
    spec.check(&fields).map_err(|p| {
        let key = format!("f_{}", p.field);
        if p.reason == "missing" {
            AppError::field(key, "请填写此项")
        } else {
            AppError::field(key, "填写的值不符合要求")
        }
    })?;
    Ok(fields)
}

/// The branch's answer. Approving records the item as a fact (scored at once) in the
/// same transaction that claims the declaration; rejecting needs a reason.
pub async fn decide(
    state: &AppState,
    principal: &Principal,
    id: i64,
    approve: bool,
    reason: &str,
    field: impl Fn(&str) -> String,
) -> AppResult<Declaration> {
    principal.require(Perm::Review)?;
    let row = scoped(state, principal, Perm::Review, id).await?;
    if state_of(&row) != DeclState::Submitted {
        return Err(AppError::new(
            ErrorCode::ReviewState,
            format!("该申报{}，不能再审核", state_of(&row).label()),
        ));
    }
    let person = crate::org::people::find(&state.db, PersonId(row.person_id)).await?;
    let org = crate::org::service::find(&state.db, OrgId(person.org_id)).await?;
    let tz = tz_of(&org);
    let reason = if approve {
        reason.trim().chars().take(500).collect::<String>()
    } else {
        super::text_field("reason", reason, "不通过的理由", 500)?
    };
    let now = state.clock.now();
    let fields = if approve {
        let policy = inputs::policy_for(&state.db, &state.scoring, &org.path, row.year).await?;
        Some(review_fields(&policy, &row.item, field)?)
    } else {
        None
    };
    let to = if approve {
        DeclState::Approved
    } else {
        DeclState::Rejected
    };
    if approve {
        // Approving records a new item: not into a confirmed (核定) period.
        let at = crate::ledger::inputs::start_of_day(row.on_date, tz).with_timezone(&chrono::Utc);
        crate::review::publicity::refuse_if_locked(&state.db, &org, at).await?;
    }
    let txn = crate::db::begin(&state.db).await?;
    let done = Decls::update_many()
        .col_expr(D::State, Expr::value(to.as_str()))
        .col_expr(D::DecidedAt, Expr::value(now))
        .col_expr(D::DecidedById, Expr::value(principal.account_id.0))
        .col_expr(D::DecidedByName, Expr::value(principal.username.clone()))
        .col_expr(
            D::DecisionReason,
            Expr::value((!reason.is_empty()).then(|| reason.clone())),
        )
        .col_expr(
            D::Fields,
            Expr::value(fields.as_ref().map(crate::ledger::facts::fields_to_json)),
        )
        .filter(D::Id.eq(id))
        .filter(D::State.eq(DeclState::Submitted.as_str()))
        .exec(&txn)
        .await?;
    if done.rows_affected == 0 {
        return Err(AppError::new(
            ErrorCode::ReviewState,
            "该申报已审核或已撤回",
        ));
    }
    let mut fact_id = None;
    if let Some(fields) = fields {
        let at = crate::ledger::inputs::start_of_day(row.on_date, tz).with_timezone(&chrono::Utc);
        let recorded = crate::ledger::facts::record(
            &txn,
            &state.scoring,
            &principal.actor(),
            NewFact {
                kind: NewFactKind::Item {
                    subject: SubjectRef::Person(row.person_id),
                    item: row.item.clone(),
                    fields,
                },
                at,
                received_at: now,
                session_id: None,
                reason: Some(format!(
                    "申报 #{}：{}",
                    row.id,
                    row.description.chars().take(60).collect::<String>()
                )),
                evidence: Some(format!("申报 #{}", row.id)),
                dedup_key: Some(format!("declaration:{}", row.id)),
                source_event: None,
            },
            year_of(at, tz),
        )
        .await?
        .ok_or_else(|| AppError::conflict("该申报已记录"))?;
        fact_id = Some(recorded.fact.id);
        Decls::update_many()
            .col_expr(D::FactId, Expr::value(recorded.fact.id))
            .filter(D::Id.eq(id))
            .exec(&txn)
            .await?;
    }
    crate::audit::record(
        &txn,
        &principal.actor(),
        crate::audit::Entry::new(
            if approve {
                "approve_declaration"
            } else {
                "reject_declaration"
            },
            "declaration",
            id,
        )
        .org(OrgId(row.org_id))
        .before(serde_json::json!({"state": row.state}))
        .after(serde_json::json!({"state": to.as_str(), "reason": reason, "fact": fact_id})),
    )
    .await?;
    txn.commit().await?;
    let done = find(&state.db, id).await?;
    super::notify::declaration_answered(state, &done).await;
    Ok(done)
}

pub async fn list_for_member(
    db: &impl ConnectionTrait,
    person: i64,
) -> AppResult<Vec<Declaration>> {
    Ok(Decls::find()
        .filter(D::PersonId.eq(person))
        .order_by_desc(D::Id)
        .limit(50)
        .all(db)
        .await?)
}

/// Declarations in the principal's scope, waiting ones only or the latest of all.
pub async fn list_in_scope(
    state: &AppState,
    principal: &Principal,
    waiting_only: bool,
) -> AppResult<Vec<Declaration>> {
    principal.require(Perm::ScoresRead)?;
    let orgs = super::leave::scope_org_ids(&state.db, principal).await?;
    let mut q = Decls::find();
    if let Some(ids) = orgs {
        q = q.filter(D::OrgId.is_in(ids));
    }
    if waiting_only {
        q = q.filter(D::State.eq(DeclState::Submitted.as_str()));
    }
    Ok(q.order_by_desc(D::Id).limit(100).all(&state.db).await?)
}

/// A declaration's photo, for the member who declared it.
pub async fn upload_for_member(
    db: &impl ConnectionTrait,
    person: i64,
    upload: i64,
) -> AppResult<entity::upload::Model> {
    let owned = Decls::find()
        .filter(D::PersonId.eq(person))
        .filter(D::UploadId.eq(upload))
        .one(db)
        .await?
        .is_some();
    if !owned {
        return Err(AppError::not_found("没有找到该照片"));
    }
    crate::uploads::find(db, upload).await
}
