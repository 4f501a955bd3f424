//! Member cards: printed (the QR read back from its SVG with another crate, `rqrr`),
//! taken at an open session by typed number and by code, judged like a scan, recorded
//! as 持卡签到 with the secretary; every refusal writes nothing.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::console::{Desk, PASSWORD, staff};
use crate::helpers::{TestApp, spawn_app};

/// Reads the QR code of an SVG as the `qrcode` crate draws it (one path of unit
/// rectangles `M x y h w v h H x V y`) with another crate (`rqrr`).
fn read_qr(svg: &str) -> String {
    let attr = |name: &str| -> usize {
        let at = svg.find(&format!(" {name}=\"")).expect(name) + name.len() + 3;
        svg[at..]
            .split('"')
            .next()
            .and_then(|v| v.parse().ok())
            .expect("a number")
    };
    let (w, h) = (attr("width"), attr("height"));
    let d_at = svg.find(" d=\"").expect("a path") + 4;
    let d = &svg[d_at..d_at + svg[d_at..].find('"').expect("path end")];
    let mut dark = vec![false; w * h];
    for rect in d.split('M').filter(|r| !r.is_empty()) {
        // "x y" "h" w "v" h "H" x "V" y
        let nums: Vec<usize> = rect
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().expect("digits"))
            .collect();
        let (x, y, rw, rh) = (nums[0], nums[1], nums[2], nums[3]);
        for yy in y..y + rh {
            for xx in x..x + rw {
                dark[yy * w + xx] = true;
            }
        }
    }
    let mut img =
        rqrr::PreparedImage::prepare_from_greyscale(
            w,
            h,
            |x, y| {
                if dark[y * w + x] { 0 } else { 255 }
            },
        );
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the SVG");
    grids[0].decode().expect("a readable QR").1
}

/// The first inline `<svg>…</svg>` of a page.
fn inline_svg(html: &str) -> &str {
    let start = html.find("<svg").expect("an inline SVG");
    let end = html[start..].find("</svg>").expect("svg end") + start + 6;
    &html[start..end]
}

struct Scene {
    app: TestApp,
    admin: String,
    secretary: String,
    desk: Desk,
    branch: i64,
    other: i64,
    activity: i64,
    session: i64,
    /// Members of the branch: 甲, 乙, 丙.
    people: [i64; 3],
    /// A member of the other branch.
    outsider: i64,
}

/// Branch B (secretary sec-b on the console) with three members and a fixed day
/// starting in 5 minutes, check-in open; a member of B2.
async fn scene() -> Scene {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let admin = s.admin_token.clone();
    let secretary = app.token("sec-b", PASSWORD).await;
    let mut people = [0; 3];
    for (i, (name, phone)) in [
        ("甲", "13800000001"),
        ("乙", "13800000002"),
        ("丙", "13800000003"),
    ]
    .into_iter()
    .enumerate()
    {
        people[i] = app.person(&admin, name, phone, s.branch, "member").await;
    }
    let outsider = app
        .person(&admin, "丁", "13800000004", s.other, "member")
        .await;
    let activity = crate::pages::fixed_day(
        &app,
        &secretary,
        s.branch,
        "十二月主题党日",
        Utc::now() + Duration::minutes(5),
    )
    .await;
    let r = app
        .post(
            &format!("/api/v1/activities/{activity}/sessions"),
            &secretary,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let session = r.body["id"].as_i64().expect("session");
    Scene {
        admin,
        secretary,
        desk: s.secretary,
        branch: s.branch,
        other: s.other,
        activity,
        session,
        people,
        outsider,
        app,
    }
}

impl Scene {
    async fn issue(&self, token: &str, person: i64) -> Value {
        let r = self
            .app
            .post(&format!("/api/v1/people/{person}/card"), token, json!({}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.body
    }

    async fn take(&self, token: &str, body: Value) -> crate::helpers::Response {
        self.app
            .post(
                &format!("/api/v1/sessions/{}/cards", self.session),
                token,
                body,
            )
            .await
    }

    /// What a refusal must leave unchanged: facts, ledger lines, card check-in audits.
    async fn written(&self) -> (u64, u64, u64) {
        let db = &self.app.state.db;
        let facts = entity::fact::Entity::find().count(db).await.expect("db");
        let ledger = entity::ledger_entry::Entity::find()
            .count(db)
            .await
            .expect("db");
        let audits = entity::audit_log::Entity::find()
            .filter(entity::audit_log::Column::Action.eq("card_checkin"))
            .count(db)
            .await
            .expect("db");
        (facts, ledger, audits)
    }

    async fn score(&self, person: i64) -> Value {
        self.app
            .get(&format!("/api/v1/people/{person}/score"), &self.admin)
            .await
            .body["score"]["score"]
            .clone()
    }
}

/// Done-when: a member card is printed, read back from its SVG, and checks its holder
/// in by number and by code; the check-in is a scan's (XH-8.1 on time, +5) recorded as
/// 持卡签到 with the secretary, in the audit log with the fact.
#[tokio::test]
async fn xh_8_1_card_is_printed_read_back_from_its_svg_and_checks_in_by_number_and_by_code() {
    let s = scene().await;
    let [a, b, _] = s.people;
    let card_a = s.issue(&s.secretary, a).await;
    let card_b = s.issue(&s.secretary, b).await;
    let number_a = card_a["number"].as_str().expect("number").to_owned();
    assert_eq!(number_a.len(), 9, "{card_a}");
    assert_eq!(
        card_a["number_display"]
            .as_str()
            .map(|d| d.replace(' ', "")),
        Some(number_a.clone())
    );

    // The printed page (console) and the API's SVG carry the same signed code.
    let page = s.desk.get(&format!("/console/people/{b}/card")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(
        page.text
            .contains(card_b["number_display"].as_str().expect("display"))
    );
    let printed_b = read_qr(inline_svg(&page.text));
    assert!(printed_b.starts_with("VGC1:"), "{printed_b}");
    let svg = s
        .app
        .get(&format!("/api/v1/people/{b}/card.svg"), &s.secretary)
        .await;
    assert_eq!(svg.status, StatusCode::OK);
    assert_eq!(read_qr(&svg.text), printed_b);
    // The branch's A4 sheet holds both cards.
    let sheet = s
        .desk
        .get(&format!("/console/cards?org={}", s.branch))
        .await;
    assert_eq!(sheet.status, StatusCode::OK, "{}", sheet.text);
    assert_eq!(sheet.text.matches("class=\"member-card\"").count(), 2);
    assert!(sheet.text.contains("@page { size: A4"));

    // By typed number (with the spaces printed on the card) and by code.
    let r = s
        .take(&s.secretary, json!({"number": card_a["number_display"]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["name"], "甲");
    assert_eq!(r.body["class"], "on_time");
    assert_eq!(r.body["method"], "card");
    assert_eq!(r.body["points"], json!(5));
    assert!(
        r.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("签到成功") && m.contains("+5 分")),
        "{}",
        r.body
    );
    let by_code = s.take(&s.secretary, json!({"code": printed_b})).await;
    assert_eq!(by_code.status, StatusCode::OK, "{}", by_code.text);
    assert_eq!(by_code.body["name"], "乙");
    assert_eq!(s.score(a).await, json!(5));
    assert_eq!(s.score(b).await, json!(5));

    // Recorded like a scan, with its method, the secretary and the reason.
    let fact = entity::fact::Entity::find_by_id(r.body["fact_id"].as_i64().expect("fact"))
        .one(&s.app.state.db)
        .await
        .expect("db")
        .expect("fact");
    assert_eq!(fact.method.as_deref(), Some("card"));
    assert_eq!(fact.reason.as_deref(), Some("持卡签到"));
    assert_eq!(
        (fact.actor_kind.as_str(), fact.actor_name.as_str()),
        ("account", "sec-b")
    );
    assert_eq!(fact.session_id, Some(s.session));
    assert_eq!(
        fact.dedup_key.as_deref(),
        Some(format!("scan:{}:{a}", s.activity).as_str())
    );
    let sheet = s
        .app
        .get(
            &format!("/api/v1/activities/{}/attendance", s.activity),
            &s.secretary,
        )
        .await;
    let row = sheet.body["items"]
        .as_array()
        .and_then(|i| i.iter().find(|p| p["person_id"] == a).cloned())
        .expect("甲 on the sheet");
    assert_eq!(
        (row["status"].as_str(), row["method"].as_str()),
        (Some("on_time"), Some("card"))
    );
    assert_eq!(s.written().await.2, 2, "each card check-in audited");
}

/// Revoked, forged, mistyped, out-of-scope, uninvited, second, too late and closed:
/// each refused with a Chinese message, nothing written.
#[tokio::test]
async fn card_refusals_say_why_and_write_nothing() {
    let s = scene().await;
    let [a, b, c] = s.people;
    let old = s.issue(&s.secretary, a).await;
    let card_b = s.issue(&s.secretary, b).await;
    let card_c = s.issue(&s.secretary, c).await;
    let outsider = s.issue(&s.admin, s.outsider).await;
    let other_day = crate::pages::fixed_day(&s.app, &s.admin, s.other, "B2 党日", Utc::now()).await;
    let o = s
        .app
        .post(
            &format!("/api/v1/activities/{other_day}/sessions"),
            &s.admin,
            json!({}),
        )
        .await;
    let other_session = o.body["id"].as_i64().expect("session");
    let before = s.written().await;
    let refused = |r: &crate::helpers::Response, status: StatusCode, code: &str, says: &str| {
        assert_eq!(r.status, status, "{}", r.text);
        assert_eq!(r.body["code"], code, "{}", r.text);
        let text = format!("{} {}", r.body["detail"], r.body["errors"]);
        assert!(text.contains(says), "{says:?} not in {text}");
    };

    // A reissue revokes the old card: it is refused, the new one works.
    let reissued = s
        .app
        .post(
            &format!("/api/v1/people/{a}/card/reissue"),
            &s.secretary,
            json!({"reason": "卡片遗失"}),
        )
        .await;
    assert_eq!(reissued.status, StatusCode::CREATED, "{}", reissued.text);
    assert_ne!(reissued.body["number"], old["number"]);
    let no_reason = s
        .app
        .post(
            &format!("/api/v1/people/{a}/card/reissue"),
            &s.secretary,
            json!({"reason": " "}),
        )
        .await;
    refused(
        &no_reason,
        StatusCode::BAD_REQUEST,
        "validation_failed",
        "原因",
    );
    let twice = s
        .app
        .post(&format!("/api/v1/people/{a}/card"), &s.secretary, json!({}))
        .await;
    refused(&twice, StatusCode::CONFLICT, "card_exists", "补发");
    let after_reissue = s.written().await;
    let r = s.take(&s.secretary, json!({"number": old["number"]})).await;
    refused(&r, StatusCode::CONFLICT, "card_revoked", "已作废");

    // A typo (the check digit), a forged code, a code of another system.
    let number = card_b["number"].as_str().expect("number");
    let last = number.as_bytes()[8] - b'0';
    let typo = format!("{}{}", &number[..8], (last + 1) % 10);
    let r = s.take(&s.secretary, json!({"number": typo})).await;
    refused(&r, StatusCode::BAD_REQUEST, "validation_failed", "校验位");
    let r = s.take(&s.secretary, json!({"number": "12345"})).await;
    refused(&r, StatusCode::BAD_REQUEST, "validation_failed", "9 位");
    let forged = format!("VGC1:{number}:{}", "A".repeat(20));
    let r = s.take(&s.secretary, json!({"code": forged})).await;
    refused(
        &r,
        StatusCode::BAD_REQUEST,
        "validation_failed",
        "二维码无效",
    );
    let r = s
        .take(&s.secretary, json!({"code": "ci.1.2.0123456789abcdef"}))
        .await;
    refused(
        &r,
        StatusCode::BAD_REQUEST,
        "validation_failed",
        "二维码无效",
    );
    let r = s.take(&s.secretary, json!({})).await;
    refused(
        &r,
        StatusCode::BAD_REQUEST,
        "validation_failed",
        "请输入卡号",
    );

    // A card outside the secretary's scope looks like no card; an admin over both
    // branches is told the holder's branch was not invited.
    let r = s
        .take(&s.secretary, json!({"number": outsider["number"]}))
        .await;
    refused(&r, StatusCode::NOT_FOUND, "not_found", "管辖范围");
    let r = s
        .take(&s.admin, json!({"number": outsider["number"]}))
        .await;
    refused(&r, StatusCode::CONFLICT, "checkin_refused", "未受邀");
    // Another branch's session is not the secretary's to take cards at.
    let r = s
        .app
        .post(
            &format!("/api/v1/sessions/{other_session}/cards"),
            &s.secretary,
            json!({"number": card_b["number"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(s.written().await, after_reissue, "refusals wrote nothing");
    assert!(after_reissue.2 == before.2);

    // A second check-in of the same member is refused.
    let ok = s
        .take(&s.secretary, json!({"number": card_b["number"]}))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let counted = s.written().await;
    let r = s
        .take(&s.secretary, json!({"number": card_b["number"]}))
        .await;
    refused(&r, StatusCode::CONFLICT, "already_checked_in", "已签到过");
    assert_eq!(s.written().await, counted);

    // XH-8.1: more than 15 minutes after the start is too late; after the close, closed.
    s.app.state.clock.advance(Duration::minutes(21));
    let r = s
        .take(&s.secretary, json!({"number": card_c["number"]}))
        .await;
    refused(
        &r,
        StatusCode::CONFLICT,
        "checkin_refused",
        "已超过签到时间",
    );
    s.app.state.clock.advance(Duration::minutes(-21));
    let closed = s
        .app
        .post(
            &format!("/api/v1/sessions/{}/close", s.session),
            &s.secretary,
            json!({}),
        )
        .await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.text);
    s.app.state.clock.advance(Duration::seconds(1));
    let r = s
        .take(&s.secretary, json!({"number": card_c["number"]}))
        .await;
    refused(&r, StatusCode::CONFLICT, "checkin_refused", "签到已结束");
    assert_eq!(s.written().await, counted, "refusals wrote nothing");
    assert_eq!(s.score(c).await, json!(0));
}

/// XH-13 (choice): 持卡签到 is scored as each preset says, and every preset says so
/// where its document is silent, visibly in /api/v1/policies.
#[tokio::test]
async fn xh_13_card_method_is_a_visible_choice_of_every_preset() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let r = app.get("/api/v1/policies", &admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let policies = r.body.as_array().expect("policies");
    for name in [
        "xihu-2017",
        "jinhua-2018",
        "erqi-2021",
        "sdtbu-2018",
        "town-2019",
    ] {
        let p = policies
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name}"));
        let choices = p["choices"].as_array().expect("choices");
        assert!(
            choices.iter().any(|c| c["question"]
                .as_str()
                .is_some_and(|q| q.contains("持卡签到"))),
            "{name} states how a card check-in scores"
        );
    }
    let xihu = policies
        .iter()
        .find(|p| p["name"] == "xihu-2017")
        .expect("xihu");
    assert!(
        xihu["choices"]
            .as_array()
            .expect("choices")
            .iter()
            .any(|c| c["rule_id"] == "XH-13"
                && c["choice"].as_str().is_some_and(|t| t.contains("扫码签到"))),
        "{xihu}"
    );
}

/// XH-13 (choice): an applicant's card check-in at a training earns its 2 points like a
/// scan, where a hand entry earns nothing.
#[tokio::test]
async fn xh_13_choice_an_applicant_card_checkin_scores_like_a_scan() {
    let s = scene().await;
    let applicant = s
        .app
        .person(&s.admin, "戊", "13800000005", s.branch, "applicant")
        .await;
    let card = s.issue(&s.secretary, applicant).await;
    let start = Utc::now() + Duration::minutes(5);
    let r = s
        .app
        .post(
            "/api/v1/activities",
            &s.secretary,
            json!({"org_id": s.branch, "kind": "training", "title": "入党积极分子培训", "starts_at": start.to_rfc3339(), "ends_at": (start + Duration::hours(2)).to_rfc3339()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let training = r.body["id"].as_i64().expect("id");
    let o = s
        .app
        .post(
            &format!("/api/v1/activities/{training}/sessions"),
            &s.secretary,
            json!({}),
        )
        .await;
    let session = o.body["id"].as_i64().expect("session");
    let r = s
        .app
        .post(
            &format!("/api/v1/sessions/{session}/cards"),
            &s.secretary,
            json!({"number": card["number"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["points"], json!(2), "{}", r.body);
    assert_eq!(s.score(applicant).await, json!(2));
}

/// The console: the live page's card form checks a member in and says so; a typo is
/// shown next to the field with what was typed; a cross-site post is refused; cards
/// are issued, reissued (reason required) and printed from the console.
#[tokio::test]
async fn console_takes_a_typed_card_number_and_shows_refusals_next_to_the_field() {
    let s = scene().await;
    let [a, b, _] = s.people;
    let live = s
        .desk
        .get(&format!("/console/activities/{}/live", s.activity))
        .await;
    assert!(live.text.contains("持卡签到"), "{}", live.text);
    assert!(
        live.text
            .contains(&format!("/console/activities/{}/cards", s.activity))
    );

    // Issue from the console: 党员 and the person's page lead to it, the sheet issues the rest.
    let list = s.desk.get("/console/people").await;
    assert!(list.text.contains("id=\"member-cards\""), "{}", list.text);
    let person = s.desk.get(&format!("/console/people/{a}")).await;
    assert!(
        person.text.contains(&format!("/console/people/{a}/card")),
        "{}",
        person.text
    );
    let page = s.desk.get(&format!("/console/people/{a}/card")).await;
    assert!(page.text.contains("还没有有效的党员卡"), "{}", page.text);
    let form_id = "card-form-1";
    let r = s
        .desk
        .post(
            &format!("/console/people/{a}/card"),
            &[("action", "issue"), ("form_id", form_id)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let again = s
        .desk
        .post(
            &format!("/console/people/{a}/card"),
            &[("action", "issue"), ("form_id", form_id)],
        )
        .await;
    assert_eq!(
        again.status,
        StatusCode::SEE_OTHER,
        "a double submit issues one card"
    );
    let cards = entity::member_card::Entity::find()
        .filter(entity::member_card::Column::PersonId.eq(a))
        .count(&s.app.state.db)
        .await
        .expect("db");
    assert_eq!(cards, 1);
    let sheet = s.desk.get("/console/cards").await;
    assert!(sheet.text.contains("尚未发卡（2 人）"), "{}", sheet.text);
    let org = s.branch.to_string();
    let r = s
        .desk
        .post(
            "/console/cards",
            &[("org", org.as_str()), ("form_id", "sheet-1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let sheet = s.desk.get("/console/cards").await;
    assert_eq!(sheet.text.matches("class=\"member-card\"").count(), 3);
    // Reissue without a reason: the error beside the field, nothing changed.
    let r = s
        .desk
        .post(
            &format!("/console/people/{a}/card"),
            &[("action", "reissue"), ("reason", ""), ("form_id", "re-1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("id=\"reason-error\""), "{}", r.text);

    let number = s
        .app
        .get(&format!("/api/v1/people/{b}/card"), &s.secretary)
        .await
        .body["number"]
        .as_str()
        .expect("number")
        .to_owned();
    let path = format!("/console/activities/{}/cards", s.activity);
    // A typo: refused beside the field, typed value kept.
    let last = number.as_bytes()[8] - b'0';
    let typo = format!("{}{}", &number[..8], (last + 1) % 10);
    let r = s.desk.post(&path, &[("number", typo.as_str())]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("id=\"card-number-error\""), "{}", r.text);
    assert!(r.text.contains(&format!("value=\"{typo}\"")));
    // Cross-site: refused before anything is read.
    let r = s
        .desk
        .post_from(
            Some("https://evil.example"),
            &path,
            &[("number", number.as_str())],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(s.written().await.2, 0);
    // The real number: counted, named, and the count moves.
    let r = s.desk.post(&path, &[("number", number.as_str())]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        r.text.contains("签到成功：乙，按时签到，+5 分"),
        "{}",
        r.text
    );
    assert!(
        r.text.contains("<b id=\"card-arrived\">1</b>"),
        "{}",
        r.text
    );
    // Again: already in, said plainly.
    let r = s.desk.post(&path, &[("number", number.as_str())]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.text.contains("已签到过本活动"), "{}", r.text);
    // The camera page loads the embedded reader under a policy that lets its worker run.
    let camera = s.desk.get(&path).await;
    assert!(camera.text.contains("/assets/card-scan.js"));
    let csp = camera.headers["content-security-policy"]
        .to_str()
        .expect("csp");
    assert!(csp.contains("worker-src 'self' blob:"), "{csp}");
    let js = s.desk.get("/assets/qr-scanner.min.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.text.contains("qr-scanner-worker.min.js"));
    // An auditor-like outsider of the branch sees no card page: 404, no data.
    let other = Desk::new(&s.app);
    s.app
        .account(&s.admin, "sec-b2", "secretary", Some(s.other))
        .await;
    other.login("sec-b2", PASSWORD).await;
    let r = other.get(&format!("/console/people/{a}/card")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!r.text.contains("甲"), "{}", r.text);
}
