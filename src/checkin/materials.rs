//! Make-up study materials (补学资料) of a fixed activity day: what a member studies
//! (a text or a link, an optional quiz) to make up a missed day (`makeup`). Staff add,
//! edit and retire them; a retired material is kept for the attempts that used it and
//! is no longer offered, nor needed to complete the make-up.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};

use crate::auth::{Perm, Principal};
use crate::error::{AppError, AppResult, Problem};
use crate::ids::OrgId;
use crate::state::AppState;

/// Reading time below which a completion is an empty click, unless the material says otherwise.
pub const DEFAULT_MIN_SECONDS: i32 = 60;
const MIN_SECONDS_RANGE: std::ops::RangeInclusive<i32> = 10..=3600;
const MAX_QUESTIONS: usize = 20;
const MAX_OPTIONS: usize = 8;
const MAX_BODY_CHARS: usize = 20_000;
const MAX_MATERIALS: usize = 10;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/activities/{activity_id}/materials",
        web::get().to(list_materials),
    )
    .route(
        "/activities/{activity_id}/materials",
        web::post().to(create_material),
    );
}

/// One quiz question: several correct options make it a multiple-choice question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub text: String,
    /// 2 to 8 options.
    pub options: Vec<String>,
    /// Indexes (from 0) of the correct options.
    pub answers: Vec<usize>,
}

/// The branch's quiz on a material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Quiz {
    /// 1 to 20 questions.
    pub questions: Vec<Question>,
    /// Questions to answer correctly to pass; default: all of them.
    pub pass_mark: Option<usize>,
}

/// How a set of answers did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Grade {
    pub correct: usize,
    pub needed: usize,
    pub total: usize,
    pub passed: bool,
}

impl Quiz {
    fn validated(self) -> AppResult<Self> {
        let n = self.questions.len();
        if n == 0 || n > MAX_QUESTIONS {
            return Err(AppError::field(
                "quiz.questions",
                format!("测验须有 1 至 {MAX_QUESTIONS} 道题"),
            ));
        }
        let mut questions = Vec::with_capacity(n);
        for (i, q) in self.questions.into_iter().enumerate() {
            let at = format!("quiz.questions[{i}]");
            let text = q.text.trim().to_owned();
            if text.is_empty() || text.chars().count() > 500 {
                return Err(AppError::field(
                    format!("{at}.text"),
                    "题目须为 1 至 500 个字符",
                ));
            }
            let options: Vec<String> = q.options.iter().map(|o| o.trim().to_owned()).collect();
            if options.len() < 2 || options.len() > MAX_OPTIONS {
                return Err(AppError::field(
                    format!("{at}.options"),
                    format!("每题须有 2 至 {MAX_OPTIONS} 个选项"),
                ));
            }
            if options
                .iter()
                .any(|o| o.is_empty() || o.chars().count() > 200)
            {
                return Err(AppError::field(
                    format!("{at}.options"),
                    "选项须为 1 至 200 个字符",
                ));
            }
            let mut answers = q.answers;
            answers.sort_unstable();
            answers.dedup();
            if answers.is_empty() || answers.iter().any(|&a| a >= options.len()) {
                return Err(AppError::field(
                    format!("{at}.answers"),
                    "请标明正确选项（从 0 起的选项序号）",
                ));
            }
            questions.push(Question {
                text,
                options,
                answers,
            });
        }
        let pass_mark = self.pass_mark.unwrap_or(n);
        if pass_mark == 0 || pass_mark > n {
            return Err(AppError::field(
                "quiz.pass_mark",
                format!("及格题数须在 1 至 {n} 之间"),
            ));
        }
        Ok(Self {
            questions,
            pass_mark: Some(pass_mark),
        })
    }

    pub fn needed(&self) -> usize {
        self.pass_mark
            .unwrap_or(self.questions.len())
            .clamp(1, self.questions.len().max(1))
    }

    /// `answers[i]`: the options chosen for question i (any order, duplicates ignored).
    pub fn grade(&self, answers: &[Vec<usize>]) -> Grade {
        let correct = self
            .questions
            .iter()
            .enumerate()
            .filter(|(i, q)| {
                let mut given = answers.get(*i).cloned().unwrap_or_default();
                given.sort_unstable();
                given.dedup();
                given == q.answers
            })
            .count();
        let needed = self.needed();
        Grade {
            correct,
            needed,
            total: self.questions.len(),
            passed: correct >= needed,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMaterial {
    pub title: String,
    /// The text to study (plain text; line breaks are kept).
    pub body: Option<String>,
    /// Or a link to it (http or https).
    pub link: Option<String>,
    /// Completing faster than this is refused as an empty click (10 to 3600, default 60).
    /// Never scored: the time spent only guards against empty clicks.
    pub min_seconds: Option<i32>,
    pub quiz: Option<Quiz>,
}

/// A material as staff see it (with the quiz's answers).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MaterialView {
    pub id: i64,
    pub activity_id: i64,
    pub org_id: i64,
    pub title: String,
    pub body: Option<String>,
    pub link: Option<String>,
    pub min_seconds: i32,
    pub quiz: Option<Quiz>,
    pub created_at: DateTime<Utc>,
}

pub fn quiz_of(m: &entity::study_material::Model) -> Option<Quiz> {
    m.quiz
        .as_deref()
        .and_then(|q| serde_json::from_str::<Quiz>(q).ok())
        .filter(|q| !q.questions.is_empty())
}

fn material_view(m: entity::study_material::Model) -> MaterialView {
    MaterialView {
        quiz: quiz_of(&m),
        id: m.id,
        activity_id: m.activity_id.unwrap_or_default(),
        org_id: m.org_id,
        title: m.title,
        body: m.body,
        link: m.link,
        min_seconds: m.min_seconds,
        created_at: m.created_at,
    }
}

fn optional_text(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Checks and normalizes a new material: (title, body, link, min_seconds, quiz JSON).
type CheckedMaterial = (String, Option<String>, Option<String>, i32, Option<String>);

fn check_material(m: NewMaterial) -> AppResult<CheckedMaterial> {
    let title = m.title.trim().to_owned();
    if title.is_empty() || title.chars().count() > 100 {
        return Err(AppError::field("title", "标题须为 1 至 100 个字符"));
    }
    let body = optional_text(m.body);
    if body
        .as_ref()
        .is_some_and(|b| b.chars().count() > MAX_BODY_CHARS)
    {
        return Err(AppError::field(
            "body",
            format!("正文不能超过 {MAX_BODY_CHARS} 个字符"),
        ));
    }
    let link = optional_text(m.link);
    if let Some(l) = &link {
        let ok = url::Url::parse(l)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !ok || l.len() > 500 {
            return Err(AppError::field(
                "link",
                "链接须为 http:// 或 https:// 开头的网址（500 字符以内）",
            ));
        }
    }
    if body.is_none() && link.is_none() {
        return Err(AppError::field("body", "请填写学习内容或链接"));
    }
    let min_seconds = m.min_seconds.unwrap_or(DEFAULT_MIN_SECONDS);
    if !MIN_SECONDS_RANGE.contains(&min_seconds) {
        return Err(AppError::field(
            "min_seconds",
            "最短学习时间须在 10 至 3600 秒之间（仅用于防止空点，不计分）",
        ));
    }
    let quiz = match m.quiz {
        Some(q) => Some(
            serde_json::to_string(&q.validated()?)
                .map_err(|e| AppError::internal(anyhow::anyhow!("quiz: {e}")))?,
        ),
        None => None,
    };
    Ok((title, body, link, min_seconds, quiz))
}

/// The activity, after checking `perm` over its organization.
async fn scoped_activity(
    state: &AppState,
    principal: &Principal,
    perm: Perm,
    id: i64,
) -> AppResult<entity::activity::Model> {
    principal.require(perm)?;
    let a = super::attendance::activity(&state.db, id).await?;
    let org = crate::org::service::find(&state.db, OrgId(a.org_id)).await?;
    principal.require_in(perm, &org.path)?;
    Ok(a)
}

pub async fn materials_of(
    db: &impl ConnectionTrait,
    activity_id: i64,
) -> AppResult<Vec<entity::study_material::Model>> {
    Ok(entity::study_material::Entity::find()
        .filter(entity::study_material::Column::ActivityId.eq(activity_id))
        .filter(entity::study_material::Column::RetiredAt.is_null())
        .order_by_asc(entity::study_material::Column::Id)
        .all(db)
        .await?)
}

/// Add a make-up study material (with an optional quiz) to a fixed activity day.
#[utoipa::path(post, path = "/api/v1/activities/{activity_id}/materials", tag = "checkin", params(("activity_id" = i64, Path)), request_body = NewMaterial,
    security(("bearer" = ["activity.write"])),
    responses((status = 201, body = MaterialView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn create_material(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
    body: web::Json<NewMaterial>,
) -> AppResult<HttpResponse> {
    let row = add(&state, &principal, *path, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(material_view(row)))
}

/// Adds a material to a fixed day the principal may write (audited).
pub async fn add(
    state: &AppState,
    principal: &Principal,
    activity_id: i64,
    input: NewMaterial,
) -> AppResult<entity::study_material::Model> {
    let a = scoped_activity(state, principal, Perm::ActivityWrite, activity_id).await?;
    if a.kind != "fixed_day" {
        return Err(AppError::field(
            "activity_id",
            "补学材料只用于主题党日（固定活动日）",
        ));
    }
    let (title, text, link, min_seconds, quiz) = check_material(input)?;
    let actor = principal.actor();
    let now = state.clock.now();
    let txn = crate::db::begin(&state.db).await?;
    if materials_of(&txn, a.id).await?.len() >= MAX_MATERIALS {
        return Err(AppError::conflict(format!(
            "每次活动最多 {MAX_MATERIALS} 份补学材料"
        )));
    }
    let row = entity::study_material::Entity::insert(entity::study_material::ActiveModel {
        id: NotSet,
        org_id: Set(a.org_id),
        activity_id: Set(Some(a.id)),
        title: Set(title),
        body: Set(text),
        link: Set(link),
        quiz: Set(quiz),
        min_seconds: Set(min_seconds),
        created_by: Set(Some(principal.account_id.0)),
        created_at: Set(now),
        retired_at: Set(None),
        updated_at: Set(None),
    })
    .exec_with_returning(&txn)
    .await?;
    crate::audit::record(
        &txn,
        &actor,
        crate::audit::Entry::new("create", "study_material", row.id)
            .org(OrgId(a.org_id))
            .after(serde_json::json!({
                "activity_id": a.id,
                "title": row.title,
                "min_seconds": row.min_seconds,
                "quiz": row.quiz.is_some(),
            })),
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

/// Every material of an activity, retired ones too (staff lists), oldest first.
pub async fn all_materials_of(
    db: &impl ConnectionTrait,
    activity_id: i64,
) -> AppResult<Vec<entity::study_material::Model>> {
    Ok(entity::study_material::Entity::find()
        .filter(entity::study_material::Column::ActivityId.eq(activity_id))
        .order_by_asc(entity::study_material::Column::Id)
        .all(db)
        .await?)
}

/// A material and its activity, if the principal may do `perm` on the activity;
/// otherwise the activity's refusal (403 outside scope, as the API answers).
pub async fn scoped_material(
    state: &AppState,
    principal: &Principal,
    perm: Perm,
    id: i64,
) -> AppResult<(entity::study_material::Model, entity::activity::Model)> {
    let m = entity::study_material::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::not_found("没有这份学习材料"))?;
    let activity_id = m
        .activity_id
        .ok_or_else(|| AppError::not_found("没有这份学习材料"))?;
    let a = scoped_activity(state, principal, perm, activity_id).await?;
    Ok((m, a))
}

fn audit_view(m: &entity::study_material::Model) -> serde_json::Value {
    serde_json::json!({
        "title": m.title, "body": m.body, "link": m.link,
        "min_seconds": m.min_seconds, "quiz": m.quiz,
    })
}

/// Edits a material (a typo, a better link). Members who passed it keep their pass;
/// a member studying it sees the new text (audited, before and after).
pub async fn update(
    state: &AppState,
    principal: &Principal,
    id: i64,
    input: NewMaterial,
) -> AppResult<entity::study_material::Model> {
    let (m, a) = scoped_material(state, principal, Perm::ActivityWrite, id).await?;
    if m.retired_at.is_some() {
        return Err(AppError::conflict("该补学资料已停用，不能再修改"));
    }
    let (title, text, link, min_seconds, quiz) = check_material(input)?;
    let before = audit_view(&m);
    let txn = crate::db::begin(&state.db).await?;
    let mut row: entity::study_material::ActiveModel = m.into();
    row.title = Set(title);
    row.body = Set(text);
    row.link = Set(link);
    row.min_seconds = Set(min_seconds);
    row.quiz = Set(quiz);
    row.updated_at = Set(Some(state.clock.now()));
    let after = row.update(&txn).await?;
    crate::audit::record(
        &txn,
        &principal.actor(),
        crate::audit::Entry::new("update", "study_material", after.id)
            .org(OrgId(a.org_id))
            .before(before)
            .after(audit_view(&after)),
    )
    .await?;
    txn.commit().await?;
    Ok(after)
}

/// Retires a material: no longer offered or needed for the make-up (audited with the
/// reason). Retiring twice is harmless.
pub async fn retire(
    state: &AppState,
    principal: &Principal,
    id: i64,
    reason: &str,
) -> AppResult<entity::study_material::Model> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(AppError::field("reason", "请填写停用原因"));
    }
    let (m, a) = scoped_material(state, principal, Perm::ActivityWrite, id).await?;
    if m.retired_at.is_some() {
        return Ok(m);
    }
    let now = state.clock.now();
    let txn = crate::db::begin(&state.db).await?;
    let mut row: entity::study_material::ActiveModel = m.into();
    row.retired_at = Set(Some(now));
    row.updated_at = Set(Some(now));
    let after = row.update(&txn).await?;
    crate::audit::record(
        &txn,
        &principal.actor(),
        crate::audit::Entry::new("retire", "study_material", after.id)
            .org(OrgId(a.org_id))
            .after(serde_json::json!({"reason": reason})),
    )
    .await?;
    txn.commit().await?;
    Ok(after)
}

/// The make-up study materials of an activity (with the quizzes' answers: staff only).
#[utoipa::path(get, path = "/api/v1/activities/{activity_id}/materials", tag = "checkin", params(("activity_id" = i64, Path)),
    security(("bearer" = ["activity.read"])),
    responses((status = 200, body = Vec<MaterialView>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_materials(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let a = scoped_activity(&state, &principal, Perm::ActivityRead, *path).await?;
    let out: Vec<MaterialView> = materials_of(&state.db, a.id)
        .await?
        .into_iter()
        .map(material_view)
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn quiz() -> Quiz {
        Quiz {
            questions: vec![
                Question {
                    text: "单选".into(),
                    options: vec!["甲".into(), "乙".into()],
                    answers: vec![1],
                },
                Question {
                    text: "多选".into(),
                    options: vec!["甲".into(), "乙".into(), "丙".into()],
                    answers: vec![2, 0],
                },
            ],
            pass_mark: None,
        }
        .validated()
        .unwrap()
    }

    #[test]
    fn a_quiz_passes_only_with_exactly_the_right_options() {
        let q = quiz();
        assert_eq!(q.needed(), 2, "default pass mark: every question");
        assert!(q.grade(&[vec![1], vec![0, 2]]).passed);
        assert!(
            q.grade(&[vec![1], vec![2, 0, 0]]).passed,
            "order and repeats do not matter"
        );
        let g = q.grade(&[vec![1], vec![0]]);
        assert_eq!(
            (g.correct, g.passed),
            (1, false),
            "a partial multiple choice is wrong"
        );
        assert!(
            !q.grade(&[vec![0, 1], vec![0, 2]]).passed,
            "ticking everything is wrong"
        );
        assert!(!q.grade(&[]).passed);
    }

    #[test]
    fn bad_quizzes_are_refused_with_the_field() {
        let mut q = quiz();
        q.questions[0].answers = vec![5];
        assert!(
            q.validated().unwrap_err().errors[0]
                .field
                .contains("answers")
        );
        let mut q = quiz();
        q.pass_mark = Some(3);
        assert_eq!(q.validated().unwrap_err().errors[0].field, "quiz.pass_mark");
        let mut q = quiz();
        q.questions[1].options = vec!["唯一".into()];
        assert!(q.validated().is_err());
    }

    #[test]
    fn materials_need_content_a_safe_link_and_an_empty_click_guard() {
        let m = |body: Option<&str>, link: Option<&str>, min: Option<i32>| NewMaterial {
            title: "学习".into(),
            body: body.map(Into::into),
            link: link.map(Into::into),
            min_seconds: min,
            quiz: None,
        };
        assert!(check_material(m(None, None, None)).is_err());
        assert!(check_material(m(None, Some("javascript:alert(1)"), None)).is_err());
        assert!(check_material(m(Some("正文"), None, Some(0))).is_err());
        let (_, _, link, min, _) =
            check_material(m(None, Some("https://www.12371.cn/x"), None)).unwrap();
        assert_eq!(
            (link.as_deref(), min),
            (Some("https://www.12371.cn/x"), DEFAULT_MIN_SECONDS)
        );
    }
}
