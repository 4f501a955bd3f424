//! 补学资料: the make-up study materials of each fixed activity day, as members read
//! them on `/m/makeup/{activity}`: list, add, edit, retire (`checkin::materials`).
//! A quiz is typed as plain text: one question per block, its options below it, the
//! correct ones marked with `*`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Duration;
use minijinja::{Value, context};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::scope_orgs;
use crate::auth::Perm;
use crate::checkin::materials::{
    self, DEFAULT_MIN_SECONDS, NewMaterial, Question, Quiz, all_materials_of, quiz_of,
};
use crate::checkin::routes::scoped_activity;
use crate::console::session::see_other;
use crate::console::{
    ConsoleUser, Fields, error, first_submit, form_post, hide, new_form_id, page, when,
};
use crate::error::{AppError, AppResult};
use crate::ids::OrgId;
use crate::ledger::inputs::tz_of;
use crate::state::AppState;

/// Reads a quiz typed as text: blocks separated by blank lines, the first line the
/// question, the others its options, correct ones starting with `*`.
pub fn parse_quiz(text: &str, pass_mark: &str) -> Result<Option<Quiz>, String> {
    let text = text.replace('\r', "");
    if text.trim().is_empty() {
        return Ok(None);
    }
    let mut questions = Vec::new();
    for (n, block) in text
        .split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .enumerate()
    {
        let mut lines = block.lines().map(str::trim).filter(|l| !l.is_empty());
        let Some(question) = lines.next() else {
            continue;
        };
        let mut options = Vec::new();
        let mut answers = Vec::new();
        for (i, line) in lines.enumerate() {
            match line.strip_prefix('*').or_else(|| line.strip_prefix('＊')) {
                Some(rest) => {
                    answers.push(i);
                    options.push(rest.trim().to_owned());
                }
                None => options.push(line.to_owned()),
            }
        }
        if options.len() < 2 {
            return Err(format!("第 {} 题至少需要 2 个选项（每个选项一行）", n + 1));
        }
        if answers.is_empty() {
            return Err(format!("第 {} 题请在正确选项前加 *", n + 1));
        }
        questions.push(Question {
            text: question.to_owned(),
            options,
            answers,
        });
    }
    let pass_mark = match pass_mark.trim() {
        "" => None,
        p => Some(
            p.parse::<usize>()
                .map_err(|_| "及格题数应为整数".to_owned())?,
        ),
    };
    Ok(Some(Quiz {
        questions,
        pass_mark,
    }))
}

/// A quiz back as the text the form takes.
pub fn quiz_text(q: &Quiz) -> String {
    q.questions
        .iter()
        .map(|q| {
            let mut s = q.text.clone();
            for (i, o) in q.options.iter().enumerate() {
                s.push('\n');
                if q.answers.contains(&i) {
                    s.push('*');
                }
                s.push_str(o);
            }
            s
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The fixed days in the user's scope, recent and coming, with their materials.
pub(super) async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
) -> HttpResponse {
    let run = async {
        user.principal.require(Perm::ActivityRead)?;
        let orgs = scope_orgs(&state, &user.principal).await?;
        let now = state.clock.now();
        let days = entity::activity::Entity::find()
            .filter(entity::activity::Column::Kind.eq("fixed_day"))
            .filter(entity::activity::Column::OrgId.is_in(orgs.iter().map(|o| o.id)))
            .filter(entity::activity::Column::StartsAt.gte(now - Duration::days(180)))
            .order_by_desc(entity::activity::Column::StartsAt)
            .limit(60)
            .all(&state.db)
            .await?;
        let mut items = Vec::with_capacity(days.len());
        for a in &days {
            let tz = orgs
                .iter()
                .find(|o| o.id == a.org_id)
                .map_or(chrono_tz::Asia::Shanghai, tz_of);
            let n = materials::materials_of(&state.db, a.id).await?.len();
            items.push(context! {
                id => a.id, title => a.title.clone(), when => when(a.starts_at, tz), count => n,
            });
        }
        Ok::<_, AppError>(page(
            &req,
            &user,
            StatusCode::OK,
            "console/materials.html",
            context! { title => "补学资料", items => items },
        ))
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}

/// One fixed day's materials (retired ones too) and the form to add one.
async fn day_page(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    id: i64,
    form: Value,
    errors: Value,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    let a = scoped_activity(state, &user.principal, Perm::ActivityRead, id)
        .await
        .map_err(hide)?;
    let org = crate::org::service::find(&state.db, OrgId(a.org_id)).await?;
    let tz = tz_of(&org);
    let can_write = user
        .principal
        .require_in(Perm::ActivityWrite, &org.path)
        .is_ok();
    let rows: Vec<Value> = all_materials_of(&state.db, a.id)
        .await?
        .iter()
        .map(|m| {
            context! {
                id => m.id, title => m.title.clone(), link => m.link.clone(),
                quiz => quiz_of(m).map(|q| q.questions.len()),
                minutes => m.min_seconds / 60, seconds => m.min_seconds,
                retired => m.retired_at.map(|t| when(t, tz)),
            }
        })
        .collect();
    Ok(page(
        req,
        user,
        status,
        "console/materials_day.html",
        context! {
            title => format!("补学资料：{}", a.title),
            activity => context! { id => a.id, title => a.title.clone(), when => when(a.starts_at, tz), fixed => a.kind == "fixed_day" },
            items => rows, can_write => can_write,
            form => form, errors => errors, form_id => new_form_id(),
            default_seconds => DEFAULT_MIN_SECONDS,
        },
    ))
}

pub(super) async fn day(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
) -> HttpResponse {
    day_page(
        &state,
        &req,
        &user,
        *path,
        context! {},
        context! {},
        StatusCode::OK,
    )
    .await
    .unwrap_or_else(|e| error(&req, &user, &e))
}

/// The form as a material, or the problems by field.
fn material_of(f: &Fields) -> Result<NewMaterial, BTreeMap<String, String>> {
    let mut errors = BTreeMap::new();
    let quiz = parse_quiz(&f.raw("quiz"), &f.get("pass_mark")).unwrap_or_else(|e| {
        errors.insert("quiz".to_owned(), e);
        None
    });
    let min_seconds = match f.get("min_seconds").as_str() {
        "" => None,
        s => match s.parse::<i32>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.insert(
                    "min_seconds".to_owned(),
                    "最短学习时间应为整数（秒）".to_owned(),
                );
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let opt = |v: String| Some(v).filter(|s| !s.is_empty());
    Ok(NewMaterial {
        title: f.get("title"),
        body: opt(f.raw("body").trim().to_owned()),
        link: opt(f.get("link")),
        min_seconds,
        quiz,
    })
}

/// A refusal of the material service as field errors (`quiz.questions[0].text` → quiz).
fn refusal_fields(e: &AppError) -> Option<BTreeMap<String, String>> {
    (!e.errors.is_empty()).then(|| {
        e.errors
            .iter()
            .map(|x| {
                let field = x.field.split(['.', '[']).next().unwrap_or("title");
                (field.to_owned(), x.message.clone())
            })
            .collect()
    })
}

pub(super) async fn add(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let (state, req, user) = (&state, &req, &user);
    form_post(req, user, &body, |f| async move {
        let id = *path;
        let again = |errors: BTreeMap<String, String>| {
            day_page(
                state,
                req,
                user,
                id,
                f.values(),
                Value::from(errors),
                StatusCode::BAD_REQUEST,
            )
        };
        let input = match material_of(&f) {
            Ok(m) => m,
            Err(errors) => return again(errors).await,
        };
        // Out of scope: 404 before the form is judged.
        scoped_activity(state, &user.principal, Perm::ActivityWrite, id)
            .await
            .map_err(hide)?;
        if !first_submit(state, &f.get("form_id")).await {
            return Ok(see_other(&format!("/console/materials/activity/{id}")));
        }
        match materials::add(state, &user.principal, id, input).await {
            Ok(_) => Ok(see_other(&format!("/console/materials/activity/{id}"))),
            Err(e) => match refusal_fields(&e) {
                Some(errors) => again(errors).await,
                None => Err(hide(e)),
            },
        }
    })
    .await
}

async fn edit_page(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    id: i64,
    form: Option<Value>,
    errors: Value,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    let (m, a) = materials::scoped_material(state, &user.principal, Perm::ActivityWrite, id)
        .await
        .map_err(hide)?;
    let quiz = quiz_of(&m);
    let form = form.unwrap_or_else(|| {
        context! {
            title => m.title.clone(), body => m.body.clone(), link => m.link.clone(),
            min_seconds => m.min_seconds.to_string(),
            quiz => quiz.as_ref().map(quiz_text),
            pass_mark => quiz.as_ref().map(|q| q.needed().to_string()),
        }
    });
    Ok(page(
        req,
        user,
        status,
        "console/material.html",
        context! {
            title => format!("修改补学资料：{}", m.title),
            material => context! { id => m.id, retired => m.retired_at.is_some() },
            activity => context! { id => a.id, title => a.title.clone() },
            form => form, errors => errors,
        },
    ))
}

pub(super) async fn edit(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
) -> HttpResponse {
    edit_page(
        &state,
        &req,
        &user,
        *path,
        None,
        context! {},
        StatusCode::OK,
    )
    .await
    .unwrap_or_else(|e| error(&req, &user, &e))
}

pub(super) async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let (state, req, user) = (&state, &req, &user);
    form_post(req, user, &body, |f| async move {
        let id = *path;
        let again = |errors: BTreeMap<String, String>| {
            edit_page(
                state,
                req,
                user,
                id,
                Some(f.values()),
                Value::from(errors),
                StatusCode::BAD_REQUEST,
            )
        };
        let input = match material_of(&f) {
            Ok(m) => m,
            Err(errors) => return again(errors).await,
        };
        match materials::update(state, &user.principal, id, input).await {
            Ok(m) => Ok(see_other(&format!(
                "/console/materials/activity/{}",
                m.activity_id.unwrap_or_default()
            ))),
            Err(e) => match refusal_fields(&e) {
                Some(errors) => again(errors).await,
                None => Err(hide(e)),
            },
        }
    })
    .await
}

pub(super) async fn retire(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let (state, req, user) = (&state, &req, &user);
    form_post(req, user, &body, |f| async move {
        let id = *path;
        match materials::retire(state, &user.principal, id, &f.get("retire_reason")).await {
            Ok(m) => Ok(see_other(&format!(
                "/console/materials/activity/{}",
                m.activity_id.unwrap_or_default()
            ))),
            Err(e) if e.errors.iter().any(|x| x.field == "reason") => {
                let errors =
                    BTreeMap::from([("retire_reason".to_owned(), "请填写停用原因".to_owned())]);
                edit_page(
                    state,
                    req,
                    user,
                    id,
                    None,
                    Value::from(errors),
                    StatusCode::BAD_REQUEST,
                )
                .await
            }
            Err(e) => Err(hide(e)),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_typed_quiz_reads_questions_options_and_marked_answers_and_back() {
        let q = parse_quiz(
            "党的根本宗旨是\n*全心全意为人民服务\n发展经济\r\n\n多选\n*甲\n乙\n*丙",
            "1",
        )
        .unwrap()
        .unwrap();
        assert_eq!(q.questions.len(), 2);
        assert_eq!(q.questions[0].answers, vec![0]);
        assert_eq!(q.questions[1].answers, vec![0, 2]);
        assert_eq!(q.pass_mark, Some(1));
        assert_eq!(parse_quiz(&quiz_text(&q), "1").unwrap().unwrap(), q);
        assert_eq!(parse_quiz("  \n", "").unwrap(), None);
        assert!(parse_quiz("只有题目\n*唯一", "").is_err());
        assert!(parse_quiz("题\n甲\n乙", "").unwrap_err().contains('*'));
    }
}
