//! Declarations (申报, SD-2; TW's recorder): a member declares a contribution with a
//! photo, the branch approves (it scores then, never before) or rejects with a
//! reason, the member may withdraw before review; a recorder (组织委员) enters one and
//! cannot approve it. Refusals (an item the policy does not have, a closed year)
//! write nothing.

use std::io::Cursor;

use reqwest::{StatusCode, header};
use serde_json::json;

use crate::console::{Desk, PASSWORD, staff};
use crate::helpers::TestApp;
use crate::helpers::spawn_app;
use crate::leave::{at, member, score, set_policy};
use crate::pages::{Page, Phone};

const BOUNDARY: &str = "----vanguard-decl-boundary-42";

fn multipart(fields: &[(&str, &str)], photo: Option<&[u8]>) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    if let Some(p) = photo {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(p);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn declare(
    app: &TestApp,
    phone: &Phone,
    fields: &[(&str, &str)],
    photo: Option<&[u8]>,
) -> Page {
    let res = phone
        .client
        .post(format!("{}/m/declarations", app.address))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(fields, photo))
        .send()
        .await
        .expect("post");
    let status = res.status();
    let headers = res.headers().clone();
    Page {
        status,
        location: headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        text: res.text().await.unwrap_or_default(),
        headers,
    }
}

fn png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(8, 8, |x, y| {
        image::Rgb([(x * 30) as u8, (y * 30) as u8, 90])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("png");
    out
}

async fn rows(app: &TestApp) -> Vec<entity::declaration::Model> {
    use sea_orm::{EntityTrait, QueryOrder};
    entity::declaration::Entity::find()
        .order_by_asc(entity::declaration::Column::Id)
        .all(&app.state.db)
        .await
        .expect("declarations")
}

async fn facts(app: &TestApp) -> usize {
    use sea_orm::EntityTrait;
    entity::fact::Entity::find()
        .all(&app.state.db)
        .await
        .expect("facts")
        .len()
}

#[tokio::test]
async fn sd_2_a_declaration_scores_only_once_the_branch_approves_it() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    set_policy(&app, &s.admin_token, s.branch, 2026, "sdtbu-2018").await;
    app.state.clock.set(at(2026, 5, 20, 10, 0));
    let (p, phone) = member(
        &app,
        &s.admin_token,
        s.branch,
        "韩申报",
        "13800000401",
        "o-decl-1",
        "/m/declarations",
    )
    .await;
    let form = phone.get("/m/declarations").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.text);
    assert!(
        form.text.contains("value=\"contribution\""),
        "{}",
        form.text
    );
    let photo = png();
    let fields = [
        ("item", "contribution"),
        ("on_date", "2026-05-18"),
        ("description", "组织师生志愿者参加社区义诊"),
        ("form_id", "decl-form-1"),
    ];
    let r = declare(&app, &phone, &fields, Some(&photo)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    // A double submit stores one declaration.
    let again = declare(&app, &phone, &fields, Some(&photo)).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.text);
    let list = rows(&app).await;
    assert_eq!(list.len(), 1);
    assert!(
        list[0].upload_id.is_some(),
        "the photo went through the upload store"
    );
    let facts_before = facts(&app).await;
    let before = score(&app, &s.admin_token, p, 2026).await;

    // The member sees it waiting; their photo is theirs to see.
    let mine = phone.get("/m/declarations").await;
    assert!(
        mine.text.contains("待审核") && mine.text.contains("社区义诊"),
        "{}",
        mine.text
    );
    let pic = phone
        .get(&format!(
            "/m/declarations/photos/{}",
            list[0].upload_id.expect("photo")
        ))
        .await;
    assert_eq!(pic.status, StatusCode::OK);

    // Approval needs the grade the policy reads; refused by its field, nothing recorded.
    let id = list[0].id;
    let missing = s
        .secretary
        .post(
            &format!("/console/review/declarations/{id}"),
            &[("answer", "approve"), ("f_points", "")],
        )
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST, "{}", missing.text);
    assert!(missing.text.contains("请填写此项"), "{}", missing.text);
    assert_eq!(facts(&app).await, facts_before);
    let ok = s
        .secretary
        .post(
            &format!("/console/review/declarations/{id}"),
            &[
                ("answer", "approve"),
                ("f_points", "4"),
                ("reason", "核实属实"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text);
    let row = rows(&app).await.remove(0);
    assert_eq!(row.state, "approved");
    assert!(row.fact_id.is_some());
    let num = |v: serde_json::Value| v.as_f64().unwrap_or(0.0);
    assert_eq!(
        num(score(&app, &s.admin_token, p, 2026).await),
        num(before) + 4.0
    );
    // The ledger line says where it came from.
    let ledger = app
        .get(
            &format!("/api/v1/facts/{}", row.fact_id.expect("fact")),
            &s.admin_token,
        )
        .await;
    assert!(
        ledger.text.contains(&format!("申报 #{id}")),
        "{}",
        ledger.text
    );
    // Told once; the member cannot withdraw an approved declaration.
    let inbox = phone.get("/sandbox/phone?openid=o-decl-1").await;
    assert_eq!(
        inbox.text.matches("[模板消息] declaration").count(),
        1,
        "{}",
        inbox.text
    );
    let w = phone
        .post(&format!("/m/declarations/{id}/withdraw"), &[])
        .await;
    assert_eq!(w.status, StatusCode::CONFLICT, "{}", w.text);
    assert!(phone.get("/m/declarations").await.text.contains("已通过"));
}

#[tokio::test]
async fn sd_2_a_rejection_needs_a_reason_and_scores_nothing_and_a_withdrawn_one_cannot_be_approved()
{
    let app = spawn_app().await;
    let s = staff(&app).await;
    set_policy(&app, &s.admin_token, s.branch, 2026, "sdtbu-2018").await;
    app.state.clock.set(at(2026, 5, 20, 10, 0));
    let (p, phone) = member(
        &app,
        &s.admin_token,
        s.branch,
        "杨申报",
        "13800000402",
        "o-decl-2",
        "/m/declarations",
    )
    .await;
    let f = [
        ("item", "contribution"),
        ("on_date", "2026-05-19"),
        ("description", "参加学校运动会服务"),
    ];
    assert_eq!(
        declare(&app, &phone, &f, None).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        declare(&app, &phone, &f, None).await.status,
        StatusCode::SEE_OTHER
    );
    let list = rows(&app).await;
    let (first, second) = (list[0].id, list[1].id);
    let before = score(&app, &s.admin_token, p, 2026).await;
    let no_reason = s
        .secretary
        .post(
            &format!("/console/review/declarations/{first}"),
            &[("answer", "reject"), ("reason", "")],
        )
        .await;
    assert_eq!(
        no_reason.status,
        StatusCode::BAD_REQUEST,
        "{}",
        no_reason.text
    );
    assert!(
        no_reason.text.contains("请填写不通过的理由"),
        "{}",
        no_reason.text
    );
    let rejected = s
        .secretary
        .post(
            &format!("/console/review/declarations/{first}"),
            &[("answer", "reject"), ("reason", "与第 2 条重复")],
        )
        .await;
    assert_eq!(rejected.status, StatusCode::SEE_OTHER, "{}", rejected.text);
    assert_eq!(score(&app, &s.admin_token, p, 2026).await, before);
    assert!(
        phone
            .get("/m/declarations")
            .await
            .text
            .contains("与第 2 条重复")
    );
    let w = phone
        .post(&format!("/m/declarations/{second}/withdraw"), &[])
        .await;
    assert_eq!(w.status, StatusCode::SEE_OTHER, "{}", w.text);
    let late = s
        .secretary
        .post(
            &format!("/console/review/declarations/{second}"),
            &[("answer", "approve"), ("f_points", "3")],
        )
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.text);
    assert_eq!(score(&app, &s.admin_token, p, 2026).await, before);
    let states: Vec<String> = rows(&app).await.into_iter().map(|d| d.state).collect();
    assert_eq!(states, ["rejected", "withdrawn"]);
}

#[tokio::test]
async fn a_declaration_for_an_item_the_policy_does_not_have_or_a_closed_year_is_refused_in_chinese()
{
    let app = spawn_app().await;
    let s = staff(&app).await;
    set_policy(&app, &s.admin_token, s.branch, 2025, "sdtbu-2018").await;
    set_policy(&app, &s.admin_token, s.branch, 2026, "sdtbu-2018").await;
    app.state.clock.set(at(2026, 1, 10, 10, 0));
    let (_, phone) = member(
        &app,
        &s.admin_token,
        s.branch,
        "朱申报",
        "13800000403",
        "o-decl-3",
        "/m/declarations",
    )
    .await;
    let unknown = declare(
        &app,
        &phone,
        &[
            ("item", "moon_landing"),
            ("on_date", "2026-01-05"),
            ("description", "登月"),
        ],
        None,
    )
    .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{}", unknown.text);
    assert!(
        unknown.text.contains("没有可申报的事项“moon_landing”"),
        "{}",
        unknown.text
    );
    assert!(
        unknown.text.contains("登月"),
        "the form keeps what was typed"
    );
    // A deduction is not declared by the member (the branch finds it).
    let negative = declare(
        &app,
        &phone,
        &[
            ("item", "negative_list"),
            ("on_date", "2026-01-05"),
            ("description", "x"),
        ],
        None,
    )
    .await;
    assert_eq!(
        negative.status,
        StatusCode::BAD_REQUEST,
        "{}",
        negative.text
    );
    let future = declare(
        &app,
        &phone,
        &[
            ("item", "contribution"),
            ("on_date", "2026-02-01"),
            ("description", "x"),
        ],
        None,
    )
    .await;
    assert_eq!(future.status, StatusCode::BAD_REQUEST, "{}", future.text);
    assert!(future.text.contains("日期不能晚于今天"), "{}", future.text);
    app.confirmed_year_publicity(s.branch, 2025).await;
    let r = app
        .post(
            &format!("/api/v1/orgs/{}/years/2025/close", s.branch),
            &s.admin_token,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let closed = declare(
        &app,
        &phone,
        &[
            ("item", "contribution"),
            ("on_date", "2025-12-20"),
            ("description", "年底志愿服务"),
        ],
        None,
    )
    .await;
    assert_eq!(closed.status, StatusCode::CONFLICT, "{}", closed.text);
    assert!(
        closed.text.contains("2025 年度已结转归档"),
        "{}",
        closed.text
    );
    // A cross-site post is refused.
    let cross = phone
        .client
        .post(format!("{}/m/declarations", app.address))
        .header(header::ORIGIN, "https://evil.example")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(
            &[
                ("item", "contribution"),
                ("on_date", "2026-01-05"),
                ("description", "x"),
            ],
            None,
        ))
        .send()
        .await
        .expect("post");
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    assert!(rows(&app).await.is_empty(), "nothing written");
}

/// TW: 支部组织委员担任积分记录员…支部核定 — the recorder enters, the secretary approves.
#[tokio::test]
async fn tw_recorder_enters_a_declaration_and_cannot_approve_it_sd_2() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    set_policy(&app, &s.admin_token, s.branch, 2026, "town-2019").await;
    app.state.clock.set(at(2026, 5, 20, 10, 0));
    let p = app
        .person(
            &s.admin_token,
            "秦老党员",
            "13800000404",
            s.branch,
            "member",
        )
        .await;
    app.account(&s.admin_token, "rec-b", "recorder", Some(s.branch))
        .await;
    let rec = Desk::new(&app);
    rec.login("rec-b", PASSWORD).await;
    let page = rec.get("/console/review").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(
        page.text.contains("登记申报事项") && !page.text.contains("approve-declaration"),
        "{}",
        page.text
    );
    let entered = rec
        .post(
            "/console/review/declarations",
            &[
                ("person", "秦老党员"),
                ("item", "home_visit"),
                ("on_date", "2026-05-19"),
                ("description", "红色家访三户"),
                ("form_id", "rec-1"),
            ],
        )
        .await;
    assert_eq!(entered.status, StatusCode::SEE_OTHER, "{}", entered.text);
    let list = rows(&app).await;
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0].state.as_str(), list[0].entered_by_kind.as_str()),
        ("submitted", "account")
    );
    let before = score(&app, &s.admin_token, p, 2026).await;
    let id = list[0].id;
    let denied = rec
        .post(
            &format!("/console/review/declarations/{id}"),
            &[("answer", "approve"), ("f_points", "4")],
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.text);
    assert_eq!(
        score(&app, &s.admin_token, p, 2026).await,
        before,
        "a recorder approves nothing"
    );
    let ok = s
        .secretary
        .post(
            &format!("/console/review/declarations/{id}"),
            &[("answer", "approve"), ("f_points", "3"), ("f_leading", "1")],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text);
    let num = |v: serde_json::Value| v.as_f64().unwrap_or(0.0);
    // TW-3.1: leading doubles, capped at 4.
    assert_eq!(
        num(score(&app, &s.admin_token, p, 2026).await),
        num(before) + 4.0
    );
}

/// SD-5/TW-6: once a period's results are confirmed (核定), no new item goes into it by
/// any path — an approved declaration, the API, the secretary's 积分 page — while the
/// declaration stays waiting and nothing is written.
#[tokio::test]
async fn sd_5_a_confirmed_period_takes_no_new_item_by_any_path() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    set_policy(&app, &s.admin_token, s.branch, 2026, "sdtbu-2018").await;
    app.state.clock.set(at(2026, 5, 20, 10, 0));
    let (p, phone) = member(
        &app,
        &s.admin_token,
        s.branch,
        "韩核定",
        "13800000411",
        "o-decl-lock",
        "/m/declarations",
    )
    .await;
    let fields = [
        ("item", "contribution"),
        ("on_date", "2026-05-18"),
        ("description", "社区志愿服务"),
        ("form_id", "decl-lock-1"),
    ];
    let r = declare(&app, &phone, &fields, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    app.confirmed_year_publicity(s.branch, 2026).await;
    let before = facts(&app).await;

    let id = rows(&app).await[0].id;
    let approve = s
        .secretary
        .post(
            &format!("/console/review/declarations/{id}"),
            &[
                ("answer", "approve"),
                ("f_points", "4"),
                ("reason", "核实属实"),
            ],
        )
        .await;
    assert!(approve.text.contains("已于"), "{}", approve.text);
    assert!(approve.text.contains("核定"), "{}", approve.text);
    assert_eq!(rows(&app).await[0].state, "submitted", "still waiting");

    let api = app
        .post(
            "/api/v1/items",
            &s.admin_token,
            json!({"person_id": p, "item": "contribution", "at": "2026-05-18T10:00:00+08:00", "fields": {"points": 4}}),
        )
        .await;
    assert_eq!(api.status, StatusCode::CONFLICT, "{}", api.text);
    assert_eq!(api.body["code"], "period_locked", "{}", api.text);

    let preview = s
        .secretary
        .post(
            &format!("/console/scores/{p}/item/preview"),
            &[
                ("item", "contribution"),
                ("points", "4"),
                ("at", "2026-05-18T10:00"),
                ("reason", "社区志愿服务"),
            ],
        )
        .await;
    assert!(preview.text.contains("核定"), "{}", preview.text);
    assert_eq!(facts(&app).await, before, "nothing written");
}
