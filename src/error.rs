//! One error vocabulary with stable codes, rendered as RFC 9457 problem responses
//! with Chinese titles. A 5xx never carries internals: the cause goes to the log.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// Stable, machine-readable error codes. Never renamed once shipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    ValidationFailed,
    Unauthorized,
    TokenExpired,
    InvalidCredentials,
    AccountDisabled,
    Forbidden,
    NotFound,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    RateLimited,
    Unavailable,
    Internal,
    /// The password was reset: change it before anything else.
    PasswordChangeRequired,
    /// The member already has an open dispute about this record.
    DisputeOpen,
    /// The year is closed (结转): its records no longer change.
    YearClosed,
    /// The case is not in a state that allows this step.
    CaseState,
    /// The person already holds a valid member card (reissue replaces it).
    CardExists,
    /// The member card was revoked (reissued or withdrawn).
    CardRevoked,
    /// The person is already checked in to this activity.
    AlreadyCheckedIn,
    /// The check-in was judged and refused (not invited, too late, closed, …).
    CheckinRefused,
    /// Leave is asked too late: the activity starts within the policy's lead time.
    LeaveTooLate,
    /// The member already has a leave request for this activity.
    LeaveExists,
    /// A leave request, declaration or proposal already answered or withdrawn.
    ReviewState,
    /// The period's results were confirmed (核定): no new items in it.
    PeriodLocked,
    /// An objection to the publicity is still open.
    ObjectionOpen,
    /// The publicity's window is over (or not open): no objection now.
    PublicityClosed,
    /// The period has not ended yet: its results cannot be published.
    PeriodNotOver,
    /// The year's last publicity is not confirmed: the year cannot be closed.
    PublicityUnconfirmed,
    /// The publicity's window has not ended: it cannot be confirmed yet.
    WindowOpen,
    /// No current published ranking of that period to file (EQ-4 报送).
    RankingNotPublished,
    /// That published ranking version was already filed.
    RankingAlreadyFiled,
    /// The proposal was already confirmed or declined.
    ProposalDecided,
    /// The flag's handling was already recorded.
    FlagHandled,
    /// SD-6: more five-star members than the quota allows.
    StarQuotaExceeded,
    /// A departure from what the platform proposes needs a recorded reason.
    ReasonRequired,
    /// The year is not closed yet: its results are not final.
    YearNotClosed,
    /// The star rating is not in a state that allows this step.
    StarRatingState,
    /// The member's policy turns no points into rewards (no `[rewards]`).
    RewardsUnavailable,
    /// No closed year's result to redeem yet (redemption only after year close).
    RewardsYearOpen,
    /// The rewards balance is too small for the item.
    RewardsBalance,
    /// The item's value is over the year's yuan cap (TW-7: 5 yuan a point).
    RewardsCap,
    /// The balance has expired (the organization's expiry in years).
    RewardsExpired,
    /// The redemption code is unknown, forged or not this counter's.
    RewardCodeInvalid,
    /// The redemption code was already used.
    RewardCodeUsed,
    /// The redemption code has expired.
    RewardCodeExpired,
    /// The catalogue item is retired.
    RewardItemRetired,
    /// The assessment's self-assessment date (自评截止) has passed.
    SelfAssessmentClosed,
    /// The assessment's review date (审核截止) has passed.
    ReviewClosed,
    /// The scorecard is not in a state that allows this step (submitted, not reviewed …).
    ScorecardState,
    /// The official form does not fit the organization's policy (no categories, no stars).
    FormNotApplicable,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::ValidationFailed => "validation_failed",
            Self::Unauthorized => "unauthorized",
            Self::TokenExpired => "token_expired",
            Self::InvalidCredentials => "invalid_credentials",
            Self::AccountDisabled => "account_disabled",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
            Self::PasswordChangeRequired => "password_change_required",
            Self::DisputeOpen => "dispute_open",
            Self::YearClosed => "year_closed",
            Self::CaseState => "case_state",
            Self::CardExists => "card_exists",
            Self::CardRevoked => "card_revoked",
            Self::AlreadyCheckedIn => "already_checked_in",
            Self::CheckinRefused => "checkin_refused",
            Self::LeaveTooLate => "leave_too_late",
            Self::LeaveExists => "leave_exists",
            Self::ReviewState => "review_state",
            Self::PeriodLocked => "period_locked",
            Self::ObjectionOpen => "objection_open",
            Self::PublicityClosed => "publicity_closed",
            Self::PeriodNotOver => "period_not_over",
            Self::PublicityUnconfirmed => "publicity_unconfirmed",
            Self::WindowOpen => "window_open",
            Self::RankingNotPublished => "ranking_not_published",
            Self::RankingAlreadyFiled => "ranking_already_filed",
            Self::ProposalDecided => "proposal_decided",
            Self::FlagHandled => "flag_handled",
            Self::StarQuotaExceeded => "star_quota_exceeded",
            Self::ReasonRequired => "reason_required",
            Self::YearNotClosed => "year_not_closed",
            Self::StarRatingState => "star_rating_state",
            Self::RewardsUnavailable => "rewards_unavailable",
            Self::RewardsYearOpen => "rewards_year_open",
            Self::RewardsBalance => "rewards_balance",
            Self::RewardsCap => "rewards_cap",
            Self::RewardsExpired => "rewards_expired",
            Self::RewardCodeInvalid => "reward_code_invalid",
            Self::RewardCodeUsed => "reward_code_used",
            Self::RewardCodeExpired => "reward_code_expired",
            Self::RewardItemRetired => "reward_item_retired",
            Self::SelfAssessmentClosed => "self_assessment_closed",
            Self::ReviewClosed => "review_closed",
            Self::ScorecardState => "scorecard_state",
            Self::FormNotApplicable => "form_not_applicable",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::BadRequest | Self::ValidationFailed => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::TokenExpired | Self::InvalidCredentials => {
                StatusCode::UNAUTHORIZED
            }
            Self::AccountDisabled | Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::PasswordChangeRequired => StatusCode::FORBIDDEN,
            Self::DisputeOpen | Self::YearClosed | Self::CaseState => StatusCode::CONFLICT,
            Self::CardExists
            | Self::CardRevoked
            | Self::AlreadyCheckedIn
            | Self::CheckinRefused => StatusCode::CONFLICT,
            Self::LeaveTooLate | Self::LeaveExists | Self::ReviewState => StatusCode::CONFLICT,
            Self::PeriodLocked
            | Self::ObjectionOpen
            | Self::PublicityClosed
            | Self::PeriodNotOver
            | Self::PublicityUnconfirmed
            | Self::WindowOpen => StatusCode::CONFLICT,
            Self::RankingNotPublished
            | Self::RankingAlreadyFiled
            | Self::ProposalDecided
            | Self::FlagHandled => StatusCode::CONFLICT,
            Self::StarQuotaExceeded | Self::YearNotClosed | Self::StarRatingState => {
                StatusCode::CONFLICT
            }
            Self::ReasonRequired => StatusCode::BAD_REQUEST,
            // An unknown code and another branch's code answer alike.
            Self::RewardCodeInvalid => StatusCode::NOT_FOUND,
            Self::RewardsUnavailable
            | Self::RewardsYearOpen
            | Self::RewardsBalance
            | Self::RewardsCap
            | Self::RewardsExpired
            | Self::RewardCodeUsed
            | Self::RewardCodeExpired
            | Self::RewardItemRetired => StatusCode::CONFLICT,
            Self::SelfAssessmentClosed | Self::ReviewClosed | Self::ScorecardState => {
                StatusCode::CONFLICT
            }
            Self::FormNotApplicable => StatusCode::CONFLICT,
        }
    }

    /// The default Chinese title shown to users.
    pub fn title(self) -> &'static str {
        match self {
            Self::BadRequest => "请求有误",
            Self::ValidationFailed => "提交的数据不符合要求",
            Self::Unauthorized => "未登录或登录凭证无效",
            Self::TokenExpired => "登录已过期，请重新登录",
            Self::InvalidCredentials => "用户名或密码错误",
            Self::AccountDisabled => "账号已停用",
            Self::Forbidden => "无权进行此操作",
            Self::NotFound => "未找到",
            Self::Conflict => "与现有数据冲突",
            Self::PayloadTooLarge => "提交的内容过大",
            Self::UnsupportedMediaType => "不支持的内容类型",
            Self::RateLimited => "尝试过于频繁，请稍后再试",
            Self::Unavailable => "服务暂时不可用，请稍后再试",
            Self::Internal => "服务器内部错误",
            Self::PasswordChangeRequired => "密码已被重置，请先修改密码",
            Self::DisputeOpen => "该记录已有处理中的异议",
            Self::YearClosed => "该年度已结转",
            Self::CaseState => "当前状态不能进行此操作",
            Self::CardExists => "已有有效的党员卡",
            Self::CardRevoked => "该党员卡已作废",
            Self::AlreadyCheckedIn => "已签到，未重复记录",
            Self::CheckinRefused => "签到未被接受",
            Self::LeaveTooLate => "已过请假时限",
            Self::LeaveExists => "已请过假",
            Self::ReviewState => "该申请已处理或已撤回",
            Self::PeriodLocked => "该期积分已核定",
            Self::ObjectionOpen => "尚有未答复的异议",
            Self::PublicityClosed => "公示期已结束",
            Self::PeriodNotOver => "该期尚未结束",
            Self::PublicityUnconfirmed => "年度最后一期公示尚未核定",
            Self::WindowOpen => "公示期未满",
            Self::RankingNotPublished => "该期排名尚未公示",
            Self::RankingAlreadyFiled => "该期排名已报送",
            Self::ProposalDecided => "该提议已处理",
            Self::FlagHandled => "该事项已处理",
            Self::StarQuotaExceeded => "五星级党员超出名额",
            Self::ReasonRequired => "请填写理由",
            Self::YearNotClosed => "该年度尚未结转",
            Self::StarRatingState => "星级评定当前状态不能进行此操作",
            Self::RewardsUnavailable => "本组织的积分办法未设积分兑换",
            Self::RewardsYearOpen => "年度尚未结转，暂不能兑换",
            Self::RewardsBalance => "兑换积分余额不足",
            Self::RewardsCap => "超出年度兑现金额上限",
            Self::RewardsExpired => "兑换积分已过有效期",
            Self::RewardCodeInvalid => "兑换码无效",
            Self::RewardCodeUsed => "兑换码已使用",
            Self::RewardCodeExpired => "兑换码已过期",
            Self::RewardItemRetired => "该兑换物品已下架",
            Self::SelfAssessmentClosed => "自评已截止",
            Self::ReviewClosed => "审核已截止",
            Self::ScorecardState => "记分卡当前状态不能进行此操作",
            Self::FormNotApplicable => "该报表不适用于本组织执行的积分办法",
        }
    }
}

/// One field-level problem (e.g. a bad CSV row or a missing JSON field).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    /// Spreadsheet row as the spreadsheet shows it (the header is row 1), for imports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
#[error("{code:?}: {detail}")]
pub struct AppError {
    pub code: ErrorCode,
    /// Chinese, safe to show; never holds secrets or internals.
    pub detail: String,
    pub errors: Vec<FieldError>,
    #[source]
    pub source: Option<anyhow::Error>,
}

/// The problem document every error response carries.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Stable code, e.g. `forbidden`.
    pub code: ErrorCode,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            errors: Vec::new(),
            source: None,
        }
    }
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, detail)
    }
    pub fn validation(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::ValidationFailed, detail)
    }
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        let field = field.into();
        let mut e = Self::validation(format!("{field}: {message}"));
        e.errors.push(FieldError {
            field,
            message,
            row: None,
        });
        e
    }
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, detail)
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, detail)
    }
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, detail)
    }
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(ErrorCode::Internal, ErrorCode::Internal.title());
        e.source = Some(source.into());
        e
    }
    pub fn unavailable(source: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(ErrorCode::Unavailable, ErrorCode::Unavailable.title());
        e.source = Some(source.into());
        e
    }

    pub fn problem(&self) -> Problem {
        Problem {
            code: self.code,
            title: self.code.title().to_owned(),
            status: self.code.status().as_u16(),
            detail: self.detail.clone(),
            errors: self.errors.clone(),
        }
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(e: sea_orm::DbErr) -> Self {
        if let Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) = e.sql_err() {
            let mut err = Self::conflict("与现有记录重复");
            err.source = Some(e.into());
            return err;
        }
        // PostgreSQL refuses NUL in text (SQLSTATE 22021); that is the input's fault.
        let text = e.to_string();
        if text.contains("22021") || text.contains("invalid byte sequence for encoding") {
            let mut err = Self::validation("文本中含有不允许的字符（如空字符 \\u0000）");
            err.source = Some(e.into());
            return err;
        }
        match e {
            sea_orm::DbErr::ConnectionAcquire(_) | sea_orm::DbErr::Conn(_) => Self::unavailable(e),
            other => Self::internal(other),
        }
    }
}

impl From<sea_orm::TransactionError<AppError>> for AppError {
    fn from(e: sea_orm::TransactionError<AppError>) -> Self {
        match e {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(app) => app,
        }
    }
}

impl From<crate::store::StoreError> for AppError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::unavailable(e)
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        if self.code.status().is_server_error() {
            tracing::error!(code = self.code.as_str(), error = ?self.source, "request failed");
        } else {
            tracing::debug!(code = self.code.as_str(), detail = %self.detail, "request refused");
        }
        HttpResponse::build(self.status_code())
            .content_type("application/problem+json")
            .json(self.problem())
    }
}
