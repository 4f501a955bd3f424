//! The member's H5 pages inside WeChat: their own score, stars, status and ledger,
//! their branch's recent activities with their attendance, and make-up study.
//!
//! Signed in through WeChat OAuth ([`MemberSession`]); an openid not yet bound to
//! the roster is sent to the binding page first. Members see only themselves: no
//! rankings of others, no phone numbers, no time-online counters, no streaks.
//! Their own place is shown only where their branch turns `show_rank_to_members` on
//! (see [`own_rank`]).

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use minijinja::Value;
use serde::Deserialize;

use super::{MEMBER_CSP, error_page, notice, render, same_origin};
use crate::checkin::activities::kind_label;
use crate::checkin::attendance::Status;
use crate::checkin::judge::{Held, Terms};
use crate::checkin::makeup::{
    self, Completion, Mark, Progress, Standing, expected_activities, local, marks, standing,
    status_label,
};
use crate::error::AppError;
use crate::ids::OrgId;
use crate::ledger::SubjectRef;
use crate::ledger::inputs::{tz_of, year_of};
use crate::ledger::queries::{self, Period};
use crate::org::PersonRole;
use crate::policy::{ActivityKind, fmt_dec};
use crate::state::AppState;
use crate::wechat::MemberSession;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/m", web::get().to(to_home))
        .route("/m/", web::get().to(home))
        .route("/m/makeup", web::get().to(makeup_list))
        .route("/m/makeup/{activity_id}", web::get().to(study_page))
        .service(
            web::resource("/m/makeup/{activity_id}/start")
                .route(web::post().to(start))
                .route(web::get().to(back_to_study)),
        )
        .service(
            web::resource("/m/makeup/{activity_id}/complete")
                .route(web::post().to(complete))
                .route(web::get().to(back_to_study)),
        );
}

pub(crate) fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_owned()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

async fn to_home() -> HttpResponse {
    see_other("/m/")
}

/// The roster person behind the session, or the response to send instead
/// (the binding page for an openid not bound yet).
pub(crate) async fn person_of(
    state: &AppState,
    session: &MemberSession,
    req: &HttpRequest,
) -> Result<entity::person::Model, HttpResponse> {
    match crate::org::people::find_by_openid(&state.db, session.openid.as_str()).await {
        Ok(Some(p)) => Ok(p),
        Ok(None) => {
            let next = req.uri().path().to_owned();
            Err(see_other(&format!(
                "/wechat/bind?{}",
                serde_urlencoded::to_string([("next", next.as_str())]).unwrap_or_default()
            )))
        }
        Err(e) => Err(error_page(&e, None)),
    }
}

/// The organization whose settings apply to a member: their branch (a 党小组 is part of
/// its branch, so a group member's branch is the group's parent).
async fn branch_of(
    state: &AppState,
    org: &entity::organization::Model,
) -> Result<entity::organization::Model, AppError> {
    match (org.kind.as_str(), org.parent_id) {
        ("group", Some(parent)) => crate::org::service::find(&state.db, OrgId(parent)).await,
        _ => Ok(org.clone()),
    }
}

/// The member's own place in their branch this year, only where the branch turns
/// `show_rank_to_members` on. The setting is read on the member's branch alone: a
/// higher committee cannot switch rankings on for branches below it, and the place is
/// within the branch, never across branches (DESIGN.md "Compliance and trust").
/// Exempt members have no place. (place, people ranked)
pub async fn own_rank(
    state: &AppState,
    branch: &entity::organization::Model,
    person_id: i64,
    year: i32,
    index: &str,
) -> Result<Option<(u32, usize)>, AppError> {
    if !branch.show_rank_to_members || index.is_empty() {
        return Ok(None);
    }
    let ranking = queries::rankings(&state.db, branch, year, Period::Year, None, index).await?;
    Ok(ranking
        .items
        .iter()
        .find(|i| i.subject_id == person_id)
        .map(|i| (i.place, ranking.items.len())))
}

/// A rule ID such as `XH-8.1` or `SD-6`: capitals, a hyphen, digits and dots.
fn is_rule_id(word: &str) -> bool {
    let Some((head, tail)) = word.split_once('-') else {
        return false;
    };
    (2..=4).contains(&head.len())
        && head.chars().all(|c| c.is_ascii_uppercase())
        && tail.starts_with(|c: char| c.is_ascii_digit())
        && tail.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// An engine note in members' words: rule IDs are staff jargon and left out
/// ("XH-8.1 主题党日按时签到 +5" → "主题党日按时签到 +5").
pub(crate) fn plain_note(note: &str) -> String {
    note.split(' ')
        .filter_map(|w| {
            // The ID may follow an opening parenthesis inside the word: "分（XH-8.2".
            let cut = w
                .rfind(['(', '（'])
                .map_or(0, |i| i + w[i..].chars().next().map_or(1, char::len_utf8));
            match (is_rule_id(&w[cut..]), cut) {
                (false, _) => Some(w),
                (true, 0) => None,
                (true, n) => Some(&w[..n]),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
        .replace("( ", "(")
        .replace("（ ", "（")
}

pub(crate) fn signed(d: rust_decimal::Decimal) -> String {
    if d.is_sign_negative() && !d.is_zero() {
        fmt_dec(d)
    } else {
        format!("+{}", fmt_dec(d))
    }
}

fn status_text(status: &str) -> &'static str {
    match status {
        "exempt" => "免评",
        "unqualified" => "不合格",
        "vetoed" => "一票否决",
        "not_covered" => "不在本年度评分范围",
        _ => "正常计分",
    }
}

fn attendance_text(
    a: &entity::activity::Model,
    mark: &Mark,
    open_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> String {
    if mark.status == Status::Missing {
        if a.starts_at > now {
            return "未开始".to_owned();
        }
        if now <= open_until {
            return "进行中".to_owned();
        }
        return "未出席".to_owned();
    }
    status_label(mark.status).to_owned()
}

/// `/m/`: the member's own score, stars, status and ledger, and recent activities.
async fn home(
    state: web::Data<AppState>,
    session: MemberSession,
    req: HttpRequest,
) -> HttpResponse {
    let person = match person_of(&state, &session, &req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    match home_page(&state, &person).await {
        Ok(r) => r,
        Err(e) => error_page(&e, None),
    }
}

async fn home_page(
    state: &AppState,
    person: &entity::person::Model,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let org = crate::org::service::find(&state.db, OrgId(person.org_id)).await?;
    let branch = branch_of(state, &org).await?;
    let tz = tz_of(&org);
    let year = year_of(now, tz);
    let ledger = queries::ledger(&state.db, SubjectRef::Person(person.id), year).await?;
    let exemptions = crate::org::people::exemptions_of(&state.db, person.id).await?;
    let exempt =
        crate::org::people::exempt_in(&exemptions, year) || ledger.score.status == "exempt";
    let score = &ledger.score;
    let rank = if exempt {
        None
    } else {
        own_rank(state, &branch, person.id, year, &score.index).await?
    };
    // Staff entries and corrections carry their reason (a dispute's among them).
    let reasons = crate::cases::service::fact_reasons(
        &state.db,
        ledger
            .lines
            .iter()
            .filter(|l| l.source_kind == "fact")
            .filter_map(|l| l.source_id)
            .chain(ledger.lines.iter().filter_map(|l| l.cause_fact_id)),
    )
    .await?;
    let lines: Vec<Value> = ledger
        .lines
        .iter()
        .rev()
        .map(|l| {
            minijinja::context! {
                reason => l
                    .source_id
                    .filter(|_| l.source_kind == "fact")
                    .and_then(|f| reasons.get(&f))
                    .or_else(|| l.cause_fact_id.and_then(|f| reasons.get(&f)))
                    .cloned(),
                date => l
                    .at
                    .map(|t| t.with_timezone(&tz).format("%m月%d日").to_string())
                    .unwrap_or_else(|| "年度".to_owned()),
                note => plain_note(&l.note),
                rule => l.note.split_whitespace().next().filter(|w| is_rule_id(w)).map(str::to_owned),
                points => signed(l.points.0),
                negative => l.points.0.is_sign_negative() && !l.points.0.is_zero(),
            }
        })
        .collect();
    let activities = expected_activities(
        &state.db,
        &org.path,
        None,
        now - Duration::days(180),
        now + Duration::days(30),
        10,
    )
    .await?;
    let terms = crate::checkin::scan::terms_for(&state.db, &state.scoring, &org, year).await?;
    let marks = marks(&state.db, person.id, &activities, terms, tz).await?;
    let makeup_days = state.settings.checkin.makeup_days;
    let mut makeup_open = 0;
    let rows: Vec<Value> = activities
        .iter()
        .map(|a| {
            let mark = marks.get(&a.id).copied().unwrap_or(Mark {
                status: Status::Missing,
                at: None,
                makeup: None,
            });
            let open = a.kind == "fixed_day"
                && person.status == "active"
                && matches!(
                    standing(&Held::of(a, tz), &mark, terms, makeup_days, now),
                    Standing::Open { .. }
                );
            if open {
                makeup_open += 1;
            }
            minijinja::context! {
                id => a.id,
                title => a.title.clone(),
                kind => a
                    .kind
                    .parse::<ActivityKind>()
                    .map(kind_label)
                    .unwrap_or("活动"),
                date => a.starts_at.with_timezone(&tz).format("%m月%d日 %H:%M").to_string(),
                status => attendance_text(a, &mark, Held::of(a, tz).window_end(terms), now),
                makeup_link => open.then(|| format!("/m/makeup/{}", a.id)),
            }
        })
        .collect();
    let role = PersonRole::parse(&person.role).map_or("", PersonRole::label);
    Ok(render(
        StatusCode::OK,
        "home.html",
        MEMBER_CSP,
        minijinja::context! {
            title => "我的积分",
            name => person.name.clone(),
            role => role,
            org_name => org.name,
            branch_name => (branch.id != org.id).then_some(branch.name.clone()),
            year => year,
            exempt => exempt,
            score => score.score.map(|p| fmt_dec(p.0)),
            stars => score.stars.filter(|s| *s > 0),
            star_marks => score.stars.filter(|s| *s > 0).map(|s| "★".repeat(usize::try_from(s).unwrap_or(0))),
            rating => score.rating.clone(),
            status => if exempt { "免评" } else { status_text(&score.status) },
            rank => rank.map(|(place, of)| minijinja::context! { place => place, of => of }),
            lines => lines,
            activities => rows,
            makeup_open => makeup_open,
            reminder_on => crate::notify::wants_fixed_day_reminder(&state.db, person.id).await?,
        },
    ))
}

/// `/m/makeup`: the fixed days the member was expected at, recently, and where each stands.
async fn makeup_list(
    state: web::Data<AppState>,
    session: MemberSession,
    req: HttpRequest,
) -> HttpResponse {
    let person = match person_of(&state, &session, &req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    match makeup_list_page(&state, &person).await {
        Ok(r) => r,
        Err(e) => error_page(&e, Some("/m/")),
    }
}

async fn makeup_list_page(
    state: &AppState,
    person: &entity::person::Model,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let org = crate::org::service::find(&state.db, OrgId(person.org_id)).await?;
    let makeup_days = state.settings.checkin.makeup_days;
    let days = expected_activities(
        &state.db,
        &org.path,
        Some("fixed_day"),
        now - Duration::days(makeup_days + 90),
        now,
        20,
    )
    .await?;
    let tz = tz_of(&org);
    let terms: Terms =
        crate::checkin::scan::terms_for(&state.db, &state.scoring, &org, year_of(now, tz)).await?;
    let marks = marks(&state.db, person.id, &days, terms, tz).await?;
    let rows: Vec<Value> = days
        .iter()
        .map(|a| {
            let mark = marks.get(&a.id).copied().unwrap_or(Mark {
                status: Status::Missing,
                at: None,
                makeup: None,
            });
            let st = standing(&Held::of(a, tz), &mark, terms, makeup_days, now);
            let (text, link) = match &st {
                Standing::Open { deadline } => {
                    (format!("可补学，截至 {}", local(*deadline, &org)), true)
                }
                Standing::Done(m) if m.annulled => ("补学记录已撤销".to_owned(), true),
                Standing::Done(_) => ("已完成补学".to_owned(), true),
                Standing::Attended(s) => (format!("已参加（{}）", status_label(*s)), false),
                Standing::NotYet { opens_at } => (
                    format!("活动结束后可补学（{} 起）", local(*opens_at, &org)),
                    false,
                ),
                Standing::Closed { .. } => ("已过补学期限".to_owned(), false),
            };
            let open = matches!(st, Standing::Open { .. }) && person.status == "active";
            minijinja::context! {
                id => a.id,
                title => a.title.clone(),
                date => a.starts_at.with_timezone(&tz).format("%Y年%m月%d日").to_string(),
                state => text,
                link => link && person.status == "active",
                open => open,
            }
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        "makeup_list.html",
        MEMBER_CSP,
        minijinja::context! {
            title => "网上补学",
            rows => rows,
            makeup_days => makeup_days,
        },
    ))
}

#[derive(Deserialize)]
struct StudyQuery {
    /// The outcome of the last step (post/redirect/get): `started`, `passed`, `done`.
    r: Option<String>,
}

/// A message for the study page: (text, is an error).
type Flash = Option<(String, bool)>;

async fn study_page(
    state: web::Data<AppState>,
    session: MemberSession,
    req: HttpRequest,
    path: web::Path<i64>,
    q: web::Query<StudyQuery>,
) -> HttpResponse {
    let person = match person_of(&state, &session, &req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let flash = match q.r.as_deref() {
        Some("passed") => Some(("本份材料已完成，请继续学习下一份。".to_owned(), false)),
        _ => None,
    };
    render_study(&state, &person, *path, StatusCode::OK, flash).await
}

async fn back_to_study(path: web::Path<i64>) -> HttpResponse {
    see_other(&format!("/m/makeup/{}", *path))
}

async fn render_study(
    state: &AppState,
    person: &entity::person::Model,
    activity_id: i64,
    status: StatusCode,
    flash: Flash,
) -> HttpResponse {
    match study(state, person, activity_id, status, flash).await {
        Ok(r) => r,
        Err(e) => error_page(&e, Some("/m/makeup")),
    }
}

async fn study(
    state: &AppState,
    person: &entity::person::Model,
    activity_id: i64,
    status: StatusCode,
    flash: Flash,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let ctx = makeup::context(state, person, activity_id, now).await?;
    let makeup_days = state.settings.checkin.makeup_days;
    let materials = makeup::materials_of(&state.db, activity_id).await?;
    let attempts = makeup::attempts_of(&state.db, person.id, activity_id).await?;
    let progress = makeup::progress(&attempts);
    let open = matches!(ctx.standing, Standing::Open { .. });
    let views: Vec<Value> = if open {
        materials
            .iter()
            .map(|m| {
                let p = progress.get(&m.id).cloned().unwrap_or(Progress::NotStarted);
                let studying = matches!(p, Progress::Studying { .. });
                let quiz = makeup::quiz_of(m);
                // Only text, options and whether several answers are right reach the
                // page: never the answers themselves.
                let questions: Vec<Value> = quiz
                    .as_ref()
                    .filter(|_| studying)
                    .map(|q| {
                        q.questions
                            .iter()
                            .enumerate()
                            .map(|(index, q)| {
                                minijinja::context! {
                                    index => index,
                                    text => q.text.clone(),
                                    multiple => q.answers.len() > 1,
                                    options => q.options.clone(),
                                }
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                minijinja::context! {
                    id => m.id,
                    title => m.title.clone(),
                    // The material opens with "开始学习", which records the start.
                    body => m.body.clone().filter(|_| studying),
                    link => m.link.clone().filter(|_| studying),
                    min_text => makeup::duration_text(i64::from(m.min_seconds)),
                    progress => match p {
                        Progress::NotStarted => "not_started",
                        Progress::Studying { .. } => "studying",
                        Progress::Passed => "passed",
                        Progress::Failed { .. } => "failed",
                    },
                    pass_mark => quiz.as_ref().map(makeup::Quiz::needed),
                    questions => questions,
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let message = match &ctx.standing {
        Standing::Open { deadline } => format!(
            "您未参加本次活动，可在 {} 前完成网上补学。完成学习{}后计入积分。",
            local(*deadline, &ctx.org),
            if materials.iter().any(|m| m.quiz.is_some()) {
                "并通过测验"
            } else {
                ""
            }
        ),
        Standing::Done(m) if m.annulled => {
            "您本次的补学记录已被更正撤销，如有疑问请联系支部书记。".to_owned()
        }
        Standing::Done(m) => {
            let points = makeup::points_of_fact(&state.db, person.id, m).await?;
            if points.0.is_zero() {
                format!(
                    "您已于 {} 完成本次补学，已记录；本次不计积分。",
                    local(m.at, &ctx.org)
                )
            } else {
                format!(
                    "补学完成：{}，{} 分（{}）。",
                    ctx.activity.title,
                    signed(points.0),
                    local(m.at, &ctx.org)
                )
            }
        }
        Standing::Attended(s) => format!("您已参加本次活动（{}），无需补学。", status_label(*s)),
        Standing::NotYet { opens_at } => {
            format!("活动结束后才能补学（{} 起）。", local(*opens_at, &ctx.org))
        }
        Standing::Closed { deadline } => format!(
            "补学期限已过：须在活动结束后 {makeup_days} 天内完成（截至 {}）。",
            local(*deadline, &ctx.org)
        ),
    };
    let (flash, flash_error) = match flash {
        Some((t, e)) => (Some(t), e),
        None => (None, false),
    };
    Ok(render(
        status,
        "makeup_study.html",
        MEMBER_CSP,
        minijinja::context! {
            title => format!("补学：{}", ctx.activity.title),
            activity_id => activity_id,
            activity_title => ctx.activity.title,
            date => local(ctx.activity.starts_at, &ctx.org),
            done => matches!(ctx.standing, Standing::Done(m) if !m.annulled),
            open => open,
            message => message,
            flash => flash,
            flash_error => flash_error,
            materials => views,
            no_material => open && materials.is_empty(),
        },
    ))
}

/// Form fields as pairs, keeping repeated keys (checkboxes of a multiple-choice question).
fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn material_id(pairs: &[(String, String)]) -> Option<i64> {
    pairs
        .iter()
        .find(|(k, _)| k == "material_id")
        .and_then(|(_, v)| v.trim().parse().ok())
}

/// `q<i>=<option>` pairs → the options chosen per question.
fn answers(pairs: &[(String, String)]) -> Vec<Vec<usize>> {
    let mut by_q: HashMap<usize, Vec<usize>> = HashMap::new();
    for (k, v) in pairs {
        if let (Some(i), Ok(o)) = (
            k.strip_prefix('q').and_then(|i| i.parse::<usize>().ok()),
            v.trim().parse::<usize>(),
        ) && i < 100
        {
            by_q.entry(i).or_default().push(o);
        }
    }
    let n = by_q.keys().max().map_or(0, |m| m + 1);
    (0..n)
        .map(|i| by_q.remove(&i).unwrap_or_default())
        .collect()
}

async fn start(
    state: web::Data<AppState>,
    session: MemberSession,
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    if !same_origin(&req) {
        return notice(
            StatusCode::FORBIDDEN,
            "无法提交",
            "请从公众号页面提交。",
            Some("/m/"),
        );
    }
    let person = match person_of(&state, &session, &req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let activity_id = *path;
    let Some(material) = material_id(&form_pairs(&body)) else {
        return render_study(
            &state,
            &person,
            activity_id,
            StatusCode::BAD_REQUEST,
            Some(("请选择学习材料。".to_owned(), true)),
        )
        .await;
    };
    match makeup::start(&state, &person, activity_id, material, state.clock.now()).await {
        Ok(_) => see_other(&format!("/m/makeup/{activity_id}#m{material}")),
        Err(e) => {
            render_study(
                &state,
                &person,
                activity_id,
                e.code.status(),
                Some((e.detail, true)),
            )
            .await
        }
    }
}

async fn complete(
    state: web::Data<AppState>,
    session: MemberSession,
    req: HttpRequest,
    path: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    if !same_origin(&req) {
        return notice(
            StatusCode::FORBIDDEN,
            "无法提交",
            "请从公众号页面提交。",
            Some("/m/"),
        );
    }
    let person = match person_of(&state, &session, &req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let activity_id = *path;
    let pairs = form_pairs(&body);
    let Some(material) = material_id(&pairs) else {
        return render_study(
            &state,
            &person,
            activity_id,
            StatusCode::BAD_REQUEST,
            Some(("请选择学习材料。".to_owned(), true)),
        )
        .await;
    };
    let result = makeup::complete(
        &state,
        &person,
        activity_id,
        material,
        &answers(&pairs),
        state.clock.now(),
    )
    .await;
    match result {
        Ok(Completion::Recorded { .. } | Completion::AlreadyDone { .. }) => {
            see_other(&format!("/m/makeup/{activity_id}"))
        }
        Ok(Completion::MaterialPassed { .. }) => {
            see_other(&format!("/m/makeup/{activity_id}?r=passed"))
        }
        Ok(Completion::QuizFailed(g)) => {
            render_study(
                &state,
                &person,
                activity_id,
                StatusCode::OK,
                Some((
                    format!(
                        "测验未通过：答对 {} 题（共 {} 题，需答对 {} 题）。请点击“重新学习”，再次学习后作答。",
                        g.correct, g.total, g.needed
                    ),
                    true,
                )),
            )
            .await
        }
        Err(e) => {
            render_study(
                &state,
                &person,
                activity_id,
                e.code.status(),
                Some((e.detail, true)),
            )
            .await
        }
    }
}

#[cfg(test)]
mod plain_note_tests {
    use super::*;

    #[test]
    fn members_see_rule_names_not_rule_ids() {
        assert_eq!(
            plain_note("XH-8.1 主题党日按时签到 +5"),
            "主题党日按时签到 +5"
        );
        assert_eq!(
            plain_note("签到，+0 分（XH-8.2 参加党内活动 +0）"),
            "签到，+0 分（参加党内活动 +0）"
        );
        assert_eq!(plain_note("SD-6 先锋岗 +2"), "先锋岗 +2");
        assert_eq!(plain_note("年度 XH-15.1 结余"), "年度 结余");
        assert_eq!(plain_note("A-B 不是规则"), "A-B 不是规则");
        assert!(is_rule_id("XH-8.1") && !is_rule_id("X-1") && !is_rule_id("XH-a"));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn answers_keep_every_checked_option_per_question() {
        let pairs = form_pairs(b"material_id=3&q0=1&q1=0&q1=2&q9x=1&q2=bad");
        assert_eq!(material_id(&pairs), Some(3));
        assert_eq!(answers(&pairs), vec![vec![1], vec![0, 2]]);
    }
}
