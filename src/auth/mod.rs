//! Staff accounts, roles scoped to an organization subtree, login sessions.
//!
//! Roles follow the three-way split 等保 assessments expect: the admin runs the
//! organization's business, the security admin manages accounts and reads the audit
//! log, the auditor reads everything in scope and changes nothing. Members have no
//! password: they sign in through WeChat.

pub mod password;
pub mod routes;
pub mod service;
pub mod token;

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, web};
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};

use crate::audit::Actor;
use crate::error::{AppError, AppResult};
use crate::ids::{AccountId, OrgId};
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 管理员: organization tree, roster, policies, corrections, in its subtree.
    Admin,
    /// 支部书记: one branch (and its party groups).
    Secretary,
    /// 审计员: read-only, in its subtree.
    Auditor,
    /// 安全管理员: accounts and the audit log; cannot change scores.
    SecurityAdmin,
    /// 组织委员: enters what a secretary enters in one branch; approves nothing (no `Review`).
    Recorder,
    /// 兑换员: a counter of the rewards ledger (积分超市) in one branch; redeems members'
    /// codes and nothing else.
    Shop,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Secretary => "secretary",
            Self::Auditor => "auditor",
            Self::SecurityAdmin => "security_admin",
            Self::Recorder => "recorder",
            Self::Shop => "shop",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "admin" => Self::Admin,
            "secretary" => Self::Secretary,
            "auditor" => Self::Auditor,
            "security_admin" => Self::SecurityAdmin,
            "recorder" => Self::Recorder,
            "shop" => Self::Shop,
            _ => return None,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Admin => "管理员",
            Self::Secretary => "支部书记",
            Self::Auditor => "审计员",
            Self::SecurityAdmin => "安全管理员",
            Self::Recorder => "组织委员",
            Self::Shop => "兑换员",
        }
    }

    /// Whether this role may do `perm` at all (scope is checked separately).
    pub fn allows(self, perm: Perm) -> bool {
        use Perm::*;
        match self {
            Self::Admin => !matches!(perm, AuditRead),
            // A recorder enters what a secretary enters and approves nothing (Review).
            Self::Secretary if perm == Review => true,
            // The branch's catalogue of rewards is the secretary's decision (and admins').
            Self::Secretary if perm == RewardsCatalogue => true,
            Self::Secretary | Self::Recorder => matches!(
                perm,
                OrgRead
                    | PeopleRead
                    | PersonalRead
                    | ActivityRead
                    | ActivityWrite
                    | ScoresRead
                    | ScoresWrite
                    | BindingWrite
                    | RewardsRedeem
            ),
            // A counter redeems codes of its branch; it reads nothing else.
            Self::Shop => perm == RewardsRedeem,
            Self::Auditor => perm.is_read(),
            Self::SecurityAdmin => {
                matches!(perm, AccountsRead | AccountsManage | AuditRead | OrgRead)
            }
        }
    }
}

/// What an endpoint needs. The OpenAPI document names it as the security scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Perm {
    OrgRead,
    OrgWrite,
    PeopleRead,
    PeopleWrite,
    /// Reading a person's phone: audited.
    PersonalRead,
    /// Reading staff accounts (auditors read every account in scope).
    AccountsRead,
    AccountsManage,
    AuditRead,
    ActivityRead,
    ActivityWrite,
    ScoresRead,
    ScoresWrite,
    /// Corrections of recorded facts (annul, amend): admins only.
    Correct,
    /// A member's WeChat binding: unbind, bind a waiting scan's openid (secretaries too).
    BindingWrite,
    PolicyWrite,
    /// Answering members' requests: approving leave and declarations, confirming what
    /// the platform proposes. Secretaries and admins; recorders (组织委员) lack it.
    Review,
    /// Redeeming a member's one-time code at a counter (积分超市): shops, secretaries,
    /// recorders, admins.
    RewardsRedeem,
    /// Keeping the rewards catalogue: secretaries and admins.
    RewardsCatalogue,
}

impl Perm {
    pub fn is_read(self) -> bool {
        matches!(
            self,
            Self::OrgRead
                | Self::PeopleRead
                | Self::PersonalRead
                | Self::AccountsRead
                | Self::AuditRead
                | Self::ActivityRead
                | Self::ScoresRead
        )
    }
}

/// The authenticated staff member behind a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub account_id: AccountId,
    pub username: String,
    pub role: Role,
    pub org_id: Option<OrgId>,
    /// Materialized path of the scope organization; `None` is the whole installation.
    pub scope_path: Option<String>,
    pub session_id: String,
    pub ip: Option<String>,
}

impl Principal {
    pub fn require(&self, perm: Perm) -> AppResult<()> {
        if self.role.allows(perm) {
            Ok(())
        } else {
            Err(AppError::forbidden(format!(
                "{}无权进行此操作",
                self.role.label()
            )))
        }
    }

    /// True when the organization with `path` lies inside this principal's scope.
    pub fn covers(&self, path: &str) -> bool {
        self.scope_path
            .as_deref()
            .is_none_or(|scope| path.starts_with(scope))
    }

    /// The permission, and the organization inside the scope.
    pub fn require_in(&self, perm: Perm, org_path: &str) -> AppResult<()> {
        self.require(perm)?;
        if self.covers(org_path) {
            Ok(())
        } else {
            Err(AppError::forbidden("该组织不在您的管辖范围内"))
        }
    }

    /// The account roles this principal may create and disable (三员分立): security
    /// admins every business role, admins the branch roles; nobody security admins
    /// (the operator's CLI makes those).
    pub fn manages(&self, target: Role) -> bool {
        match self.role {
            Role::SecurityAdmin => target != Role::SecurityAdmin,
            Role::Admin => matches!(target, Role::Secretary | Role::Recorder | Role::Shop),
            _ => false,
        }
    }

    /// Password resets and ending another account's logins: security admins only, for
    /// the accounts they manage (admins create and disable, never reset).
    pub fn resets(&self, target: Role) -> bool {
        self.role == Role::SecurityAdmin && self.manages(target)
    }

    pub fn actor(&self) -> Actor {
        Actor::account(self.account_id, &self.username, self.ip.clone())
    }
}

impl FromRequest for Principal {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let header = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned);
        let ip = state
            .as_ref()
            .map(|s| crate::http::client_ip(req, &s.trusted_proxies));
        // After a reset only these work until the password is changed.
        let reset_exempt = req.method() == actix_web::http::Method::POST
            && matches!(req.path(), "/api/v1/auth/password" | "/api/v1/auth/logout");
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::internal(anyhow::anyhow!("no app state")))?;
            let header = header.ok_or_else(|| AppError::unauthorized("缺少访问令牌"))?;
            let token = header
                .strip_prefix("Bearer ")
                .ok_or_else(|| AppError::unauthorized("访问令牌格式应为 Bearer <token>"))?;
            let claims = state.tokens.verify(token.trim())?;
            let mut principal =
                service::principal_for_session(&state.db, &claims, reset_exempt).await?;
            principal.ip = ip.flatten();
            Ok(principal)
        })
    }
}

/// Loads an account's scope path (None when global).
pub(crate) async fn scope_path(
    db: &impl sea_orm::ConnectionTrait,
    org_id: Option<i64>,
) -> AppResult<Option<String>> {
    match org_id {
        None => Ok(None),
        Some(id) => {
            let org = entity::organization::Entity::find_by_id(id)
                .one(db)
                .await?
                .ok_or_else(|| AppError::unauthorized("账号所属组织不存在"))?;
            Ok(Some(org.path))
        }
    }
}
