//! 积分: the branch's members with score and stars for a period; one member's ledger
//! with the reason of every line (rule names, the ID in a tooltip); adding an item
//! (bonus, deduction, record) in two steps: the form, then a server-rendered preview
//! of the rule and the points it grants, then the save (`ledger::items`).

use std::collections::{BTreeMap, HashMap};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::{Value, context};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::{home_org, scope_orgs};
use crate::auth::Perm;
use crate::console::session::see_other;
use crate::console::{
    ConsoleUser, Fields, error, first_submit, form_post, hide, input_time, new_form_id, page,
    parse_input_time, refuse_cross_site, when,
};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ids::{OrgId, PersonId};
use crate::ledger::SubjectRef;
use crate::ledger::facts::fields_to_json;
use crate::ledger::inputs::{policy_for, tz_of, year_of};
use crate::ledger::items::{self, Checked, field_label};
use crate::ledger::queries::{self, Period};
use crate::ledger::routes::NewItem;
use crate::policy::{FieldKind, FieldValue, ItemSubject, Policy, fmt_dec, parse_dec};
use crate::state::AppState;
use crate::web::member::{plain_note, signed};

#[derive(Deserialize)]
pub(super) struct ListQuery {
    org: Option<i64>,
    year: Option<i32>,
    /// `year`, `half_year`, `quarter`, `month`.
    period: Option<String>,
    n: Option<u32>,
    /// `vanguard` (members) or `applicant`.
    index: Option<String>,
}

fn period_of(s: Option<&str>) -> Period {
    match s {
        Some("half_year") => Period::HalfYear,
        Some("quarter") => Period::Quarter,
        Some("month") => Period::Month,
        _ => Period::Year,
    }
}

fn stars(n: Option<i32>) -> Option<String> {
    n.filter(|s| *s > 0)
        .map(|s| "★".repeat(usize::try_from(s).unwrap_or(0)))
}

fn status_text(status: &str) -> &'static str {
    match status {
        "exempt" => "免评",
        "unqualified" => "不合格",
        "vetoed" => "一票否决",
        "not_covered" => "不参评",
        _ => "",
    }
}

/// The branch's members with their score and stars in the chosen period.
pub(super) async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    q: web::Query<ListQuery>,
) -> HttpResponse {
    let run = async {
        user.principal.require(Perm::ScoresRead)?;
        let orgs = scope_orgs(&state, &user.principal).await?;
        let org = match q.org {
            Some(id) => orgs.iter().find(|o| o.id == id).cloned(),
            None => home_org(&user.principal, &orgs),
        }
        .ok_or_else(|| AppError::not_found("没有找到该组织，或不在您的管辖范围内"))?;
        let tz = tz_of(&org);
        let now = state.clock.now();
        let year = q.year.unwrap_or_else(|| year_of(now, tz));
        let period = period_of(q.period.as_deref());
        let n = if period == Period::Year {
            None
        } else {
            Some(q.n.unwrap_or(1))
        };
        let index = match q.index.as_deref() {
            Some("applicant") => "applicant",
            _ => "vanguard",
        };
        let ranking = queries::rankings(&state.db, &org, year, period, n, index)
            .await
            .map_err(|e| {
                if e.code == ErrorCode::ValidationFailed {
                    AppError::field("n", "请选择第几个半年、季度或月份")
                } else {
                    e
                }
            })?;
        let names: HashMap<i64, String> = orgs.iter().map(|o| (o.id, o.name.clone())).collect();
        let mut items: Vec<Value> = ranking
            .items
            .iter()
            .map(|i| {
                context! {
                    id => i.subject_id, name => i.name.clone(), place => i.place,
                    score => fmt_dec(i.score.0), stars => stars(i.stars),
                    status => status_text(&i.status), org => names.get(&i.org_id).cloned(),
                }
            })
            .collect();
        // Members with nothing recorded yet (no score row) are listed too, after the ranked.
        let ranked: std::collections::HashSet<i64> =
            ranking.items.iter().map(|i| i.subject_id).collect();
        let roles: &[&str] = if index == "applicant" {
            &["applicant"]
        } else {
            &["member", "probationary"]
        };
        let subtree = crate::org::service::subtree_ids(&state.db, &org).await?;
        {
            use entity::person::{Column, Entity};
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
            for p in Entity::find()
                .filter(Column::OrgId.is_in(subtree))
                .filter(Column::Status.eq("active"))
                .filter(Column::Role.is_in(roles.iter().copied()))
                .order_by_asc(Column::Id)
                .limit(2000)
                .all(&state.db)
                .await?
                .into_iter()
                .filter(|p| !ranked.contains(&p.id))
            {
                items.push(context! {
                    id => p.id, name => p.name, score => "—", stars => None::<String>,
                    status => "暂无记录", org => names.get(&p.org_id).cloned(),
                });
            }
        }
        let periods: Vec<Value> = [
            ("year", "全年"),
            ("half_year", "半年"),
            ("quarter", "季度"),
            ("month", "月份"),
        ]
        .into_iter()
        .map(|(v, l)| context! { value => v, label => l, active => v == q.period.as_deref().unwrap_or("year") })
        .collect();
        Ok::<_, AppError>(page(
            &req,
            &user,
            StatusCode::OK,
            "console/scores.html",
            context! {
                title => "积分",
                org => context! { id => org.id, name => org.name.clone() },
                orgs => orgs.iter().map(|o| context! { id => o.id, name => o.name.clone() }).collect::<Vec<_>>(),
                year => year,
                period => q.period.clone().unwrap_or_else(|| "year".to_owned()),
                periods => periods,
                n => n,
                index => index,
                items => items,
                whole_year => period == Period::Year,
            },
        ))
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}

#[derive(Deserialize)]
pub(super) struct LedgerQuery {
    year: Option<i32>,
    saved: Option<i64>,
}

/// A member in the user's scope for `perm`; anyone else is 404 with no data.
async fn member(
    state: &AppState,
    user: &ConsoleUser,
    perm: Perm,
    id: i64,
) -> AppResult<(entity::person::Model, entity::organization::Model)> {
    let p = crate::org::people::scoped(&state.db, &user.principal, perm, PersonId(id))
        .await
        .map_err(hide)?;
    let org = crate::org::service::find(&state.db, OrgId(p.org_id)).await?;
    Ok((p, org))
}

/// One member's ledger of a year: every line with its rule's name, its explanation and
/// the reason staff gave (a correction's, a dispute's).
pub(super) async fn ledger(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    q: web::Query<LedgerQuery>,
) -> HttpResponse {
    let run = async {
        let (person, org) = member(&state, &user, Perm::ScoresRead, *path).await?;
        let tz = tz_of(&org);
        let year = q.year.unwrap_or_else(|| year_of(state.clock.now(), tz));
        let ledger = queries::ledger(&state.db, SubjectRef::Person(person.id), year).await?;
        let policy = policy_for(&state.db, &state.scoring, &org.path, year).await?;
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
                let reason = l
                    .source_id
                    .filter(|_| l.source_kind == "fact")
                    .and_then(|f| reasons.get(&f))
                    .or_else(|| l.cause_fact_id.and_then(|f| reasons.get(&f)))
                    .cloned();
                context! {
                    date => l.at.map_or_else(|| "年度".to_owned(), |t| t.with_timezone(&tz).format("%-m月%-d日").to_string()),
                    rule => policy.rule_label(&l.rule_id).map_or_else(|| plain_note(&l.note), str::to_owned),
                    rule_id => l.rule_id.clone(),
                    note => plain_note(&l.note),
                    points => signed(l.points.0),
                    negative => l.points.0.is_sign_negative() && !l.points.0.is_zero(),
                    reason => reason,
                }
            })
            .collect();
        let score = &ledger.score;
        let can_write = user
            .principal
            .require_in(Perm::ScoresWrite, &org.path)
            .is_ok()
            && !score.closed;
        Ok::<_, AppError>(page(
            &req,
            &user,
            StatusCode::OK,
            "console/ledger.html",
            context! {
                title => format!("积分明细：{}", person.name),
                person => context! { id => person.id, name => person.name.clone(), org => org.name.clone() },
                year => year,
                score => score.score.as_ref().map(|p| fmt_dec(p.0)),
                stars => stars(score.stars),
                status => status_text(&score.status),
                closed => score.closed,
                lines => lines,
                can_write => can_write,
                can_file => user.principal.require_in(Perm::ScoresWrite, &org.path).is_ok(),
                saved => q.saved.is_some(),
            },
        ))
    };
    run.await.unwrap_or_else(|e| error(&req, &user, &e))
}

/// An item the member's policy scores, as the form offers it.
fn item_choices(policy: &Policy) -> Vec<Value> {
    policy
        .items()
        .into_iter()
        .filter(|i| i.subject == ItemSubject::Person)
        .map(|i| {
            let rules = policy.item_rules(&i.code);
            let kind = match rules.first() {
                Some(r) if r.deduct => "扣分",
                Some(r) if r.outcome_only => "登记",
                _ => "加分",
            };
            let label = rules
                .first()
                .map_or_else(|| i.code.clone(), |r| r.label.to_owned());
            let ids: Vec<&str> = rules.iter().map(|r| r.rule_id).collect();
            context! { value => i.code.clone(), label => format!("{kind}：{label}"), rule_ids => ids.join("、") }
        })
        .collect()
}

/// The fields the chosen item reads, as inputs.
fn field_inputs(policy: &Policy, item: &str) -> Vec<Value> {
    policy
        .item(ItemSubject::Person, item)
        .map(|spec| {
            spec.fields
                .iter()
                .map(|f| {
                    context! {
                        name => format!("f_{}", f.name),
                        label => field_label(&f.name),
                        kind => match f.kind { FieldKind::Number => "number", FieldKind::Text => "text", FieldKind::Bool => "bool" },
                        required => f.required,
                        allowed => f.allowed.clone(),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Renders the item form with what was typed and each problem next to its field.
async fn form_page(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    id: i64,
    values: Value,
    errors: BTreeMap<String, String>,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    let (person, org) = member(state, user, Perm::ScoresWrite, id).await?;
    let tz = tz_of(&org);
    let now = state.clock.now();
    let item = values
        .get_attr("item")
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let at = values
        .get_attr("at")
        .ok()
        .and_then(|v| v.as_str().and_then(|s| parse_input_time(s, tz)))
        .unwrap_or(now);
    let policy = policy_for(&state.db, &state.scoring, &org.path, year_of(at, tz)).await?;
    Ok(page(
        req,
        user,
        status,
        "console/item.html",
        context! {
            title => format!("记录事项：{}", person.name),
            person => context! { id => person.id, name => person.name.clone() },
            items => item_choices(&policy),
            fields => field_inputs(&policy, &item),
            policy => policy.title.clone(),
            default_at => input_time(now, tz),
            form => values,
            errors => Value::from(errors),
        },
    ))
}

#[derive(Deserialize)]
pub(super) struct ItemQuery {
    item: Option<String>,
}

/// Step 1: the form (choosing an item shows the fields it reads).
pub(super) async fn item_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    q: web::Query<ItemQuery>,
) -> HttpResponse {
    let values = context! { item => q.item.clone() };
    form_page(
        &state,
        &req,
        &user,
        *path,
        values,
        BTreeMap::new(),
        StatusCode::OK,
    )
    .await
    .unwrap_or_else(|e| error(&req, &user, &e))
}

/// The form's fields as an item to check; problems by field.
fn new_item(
    policy: &Policy,
    person: i64,
    f: &Fields,
    tz: chrono_tz::Tz,
) -> Result<NewItem, BTreeMap<String, String>> {
    let mut errors = BTreeMap::new();
    let item = f.get("item");
    if item.is_empty() {
        errors.insert("item".to_owned(), "请选择事项".to_owned());
    }
    let at = parse_input_time(&f.get("at"), tz);
    if at.is_none() {
        errors.insert("at".to_owned(), "请填写发生时间".to_owned());
    }
    let reason = f.get("reason");
    if reason.is_empty() {
        errors.insert(
            "reason".to_owned(),
            "请填写事由（党员可在积分明细中看到）".to_owned(),
        );
    }
    let mut fields = crate::policy::Fields::new();
    if let Some(spec) = policy.item(ItemSubject::Person, &item) {
        for fs in &spec.fields {
            let name = format!("f_{}", fs.name);
            let raw = f.get(&name);
            let value = match fs.kind {
                FieldKind::Bool => Some(FieldValue::Bool(raw == "1")),
                _ if raw.is_empty() => None,
                FieldKind::Number => match parse_dec(&raw) {
                    Some(d) if !d.is_sign_negative() => Some(FieldValue::Number(d)),
                    _ => {
                        errors.insert(
                            name.clone(),
                            format!("{}须为不小于 0 的数字", field_label(&fs.name)),
                        );
                        None
                    }
                },
                FieldKind::Text => Some(FieldValue::Text(raw)),
            };
            if let Some(v) = value {
                fields.set(fs.name.clone(), v);
            }
        }
    }
    let (Some(at), true) = (at, errors.is_empty()) else {
        return Err(errors);
    };
    let raw = serde_json::value::RawValue::from_string(fields_to_json(&fields))
        .map_err(|_| BTreeMap::from([("item".to_owned(), "事项内容有误".to_owned())]))?;
    Ok(NewItem {
        person_id: Some(PersonId(person)),
        org_id: None,
        item,
        at: at.fixed_offset(),
        fields: Some(raw),
        reason: Some(reason),
        evidence: Some(f.get("evidence")).filter(|e| !e.is_empty()),
    })
}

/// A refusal of the item service as the form's field errors (a closed year goes next
/// to the date, which decides the year).
fn refusal_fields(e: &AppError) -> Option<BTreeMap<String, String>> {
    if e.code == ErrorCode::YearClosed {
        return Some(BTreeMap::from([("at".to_owned(), e.detail.clone())]));
    }
    if e.code != ErrorCode::ValidationFailed || e.errors.is_empty() {
        return None;
    }
    Some(
        e.errors
            .iter()
            .map(|x| {
                let field = match x.field.strip_prefix("fields.") {
                    Some(name) => format!("f_{name}"),
                    None if x.field == "at" || x.field == "reason" => x.field.clone(),
                    None => "item".to_owned(),
                };
                (field, x.message.clone())
            })
            .collect(),
    )
}

/// Reads and checks the posted form: the checked item, or the form again with errors.
async fn checked_or_form(
    state: &AppState,
    req: &HttpRequest,
    user: &ConsoleUser,
    id: i64,
    f: &Fields,
) -> AppResult<Result<Checked, HttpResponse>> {
    let (_, org) = member(state, user, Perm::ScoresWrite, id).await?;
    let tz = tz_of(&org);
    let at = parse_input_time(&f.get("at"), tz).unwrap_or_else(|| state.clock.now());
    let policy = policy_for(&state.db, &state.scoring, &org.path, year_of(at, tz)).await?;
    let again = |errors| {
        form_page(
            state,
            req,
            user,
            id,
            f.values(),
            errors,
            StatusCode::BAD_REQUEST,
        )
    };
    let body = match new_item(&policy, id, f, tz) {
        Ok(b) => b,
        Err(errors) => return Ok(Err(again(errors).await?)),
    };
    match items::check_new(state, &user.principal, body).await {
        Ok(c) => Ok(Ok(c)),
        Err(e) => match refusal_fields(&e) {
            Some(errors) => Ok(Err(again(errors).await?)),
            None => Err(hide(e)),
        },
    }
}

/// Step 2: the preview (rule, points, score before and after), nothing written.
pub(super) async fn item_preview(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let (state, req, user) = (&state, &req, &user);
    form_post(req, user, &body, |f| async move {
        let c = match checked_or_form(state, req, user, *path, &f).await? {
            Ok(c) => c,
            Err(page) => return Ok(page),
        };
        let p = items::preview(state, &c).await?;
        let tz = tz_of(&c.org);
        let person = crate::org::people::find(&state.db, PersonId(*path)).await?;
        let label = c
            .policy
            .item_rules(&c.item)
            .first()
            .map_or_else(|| c.item.clone(), |r| r.label.to_owned());
        let score = |d: Option<Decimal>| d.map(fmt_dec);
        Ok::<_, AppError>(page(
            req,
            user,
            StatusCode::OK,
            "console/item_preview.html",
            context! {
                title => format!("确认：{}", person.name),
                person => context! { id => person.id, name => person.name.clone() },
                item => label,
                when => when(c.at, tz),
                year => c.year,
                lines => p.lines.iter().map(|l| context! {
                    rule => l.rule_label.clone(), rule_id => l.rule_id.clone(),
                    points => signed(l.granted), note => plain_note(&l.note),
                    capped => l.granted != l.asked,
                }).collect::<Vec<_>>(),
                granted => signed(p.granted),
                no_rule => p.lines.is_empty(),
                before => score(p.score_before),
                after => score(p.score_after),
                unqualified => p.status_after.as_deref().map(status_text),
                reason => c.reason.clone(),
                hidden => f.values(),
                keys => ["item", "at", "reason", "evidence"].iter().map(|k| k.to_string())
                    .chain(c.policy.item(ItemSubject::Person, &c.item).into_iter()
                        .flat_map(|s| s.fields.iter().map(|fs| format!("f_{}", fs.name))))
                    .collect::<Vec<_>>(),
                form_id => new_form_id(),
            },
        ))
    })
    .await
}

/// Back from the preview to the form, with everything typed.
pub(super) async fn item_edit(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(r) = refuse_cross_site(&req) {
        return r;
    }
    let f = Fields::parse(&body);
    form_page(
        &state,
        &req,
        &user,
        *path,
        f.values(),
        BTreeMap::new(),
        StatusCode::OK,
    )
    .await
    .unwrap_or_else(|e| error(&req, &user, &e))
}

/// Step 3: the save, checked again (the year may have closed meanwhile); a double
/// submit of the confirmation records once.
pub(super) async fn item_save(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: ConsoleUser,
    path: web::Path<i64>,
    body: web::Bytes,
) -> HttpResponse {
    let (state, req, user) = (&state, &req, &user);
    form_post(req, user, &body, |f| async move {
        let c = match checked_or_form(state, req, user, *path, &f).await? {
            Ok(c) => c,
            Err(page) => return Ok(page),
        };
        if !first_submit(state, &f.get("form_id")).await {
            return Ok(see_other(&format!("/console/scores/{}?saved=0", *path)));
        }
        let year = c.year;
        let done = items::record(state, &user.principal, c).await?;
        Ok::<_, AppError>(see_other(&format!(
            "/console/scores/{}?year={year}&saved={}",
            *path, done.fact_id
        )))
    })
    .await
}
