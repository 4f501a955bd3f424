//! The whole Jinhua year in a browser (JH-1 … JH-7): the committee opens the 2018
//! assessment, a secretary fills the self-assessment on a phone with a photo, the admin
//! reviews at desktop width with a veto on one branch, draws a random audit sample and
//! repeats it from its seed, reads ratings and the roll-up, and downloads the scorecard
//! XLSX, read back with calamine.

use chrono::DateTime;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::helpers::{TestApp, spawn_app};
use super::{PASSWORD, Page, driver, read_xlsx, tiny_png};

async fn self_assess_api(app: &TestApp, token: &str, card: i64) {
    let v = app.get(&format!("/api/v1/scorecards/{card}"), token).await;
    let items: Vec<Value> = v.body["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| json!({"code": l["code"], "score": l["weight"]}))
        .collect();
    let r = app
        .post(
            &format!("/api/v1/scorecards/{card}/self"),
            token,
            json!({"items": items}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .post(
            &format!("/api/v1/scorecards/{card}/submit"),
            token,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// Review scores adding up to `total` (base 80 kept, vanguard filled up to it).
async fn review_api(app: &TestApp, token: &str, card: i64, total: i64) {
    let v = app.get(&format!("/api/v1/scorecards/{card}"), token).await;
    let mut extra = total - 80;
    let items: Vec<Value> = v.body["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| {
            let w = l["weight"].as_i64().expect("whole weights");
            let score = if l["part"] == "base" {
                w
            } else {
                let s = extra.clamp(0, w);
                extra -= s;
                s
            };
            json!({"code": l["code"], "score": score, "reason": "按记实本核定"})
        })
        .collect();
    let r = app
        .post(
            &format!("/api/v1/scorecards/{card}/review"),
            token,
            json!({"items": items, "members": {"count": 0}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jh_the_whole_jinhua_year_self_assessment_review_veto_draw_rollup_and_download() {
    let Some(driver) = driver().await else { return };
    let app = spawn_app().await;
    app.state.clock.set(
        DateTime::parse_from_rfc3339("2018-12-01T09:00:00+08:00")
            .expect("time")
            .to_utc(),
    );
    let admin = app.admin_token().await;
    let committee = app.org(&admin, "JHW", "committee", None).await;
    let mut branches = Vec::new();
    let mut tokens = Vec::new();
    for i in 0..3 {
        let b = app
            .org(&admin, &format!("JH{i}"), "branch", Some(committee))
            .await;
        let (_, t) = app
            .account(&admin, &format!("sec-jh{i}"), "secretary", Some(b))
            .await;
        branches.push(b);
        tokens.push(t);
    }
    app.operator_account("chief", vanguard::auth::Role::Admin, Some(committee))
        .await;
    let c = driver.browser().await;
    let p = Page {
        c: &c,
        base: app.address.clone(),
    };

    // The committee opens the year's assessment on the desktop.
    p.size(1366, 900).await;
    p.login("chief", PASSWORD).await;
    p.wait_text("今日").await;
    p.go("/console/assessments").await;
    p.wait_text("开展年度考评").await;
    p.assert_labelled("assessments").await;
    p.set("#org_id", &committee.to_string()).await;
    p.fill("#year", "2018").await;
    p.set("#self_until", "2019-01-15").await;
    p.set("#review_until", "2019-02-28").await;
    p.click("#open").await;
    let text = p.wait_text("等次与达标率").await;
    assert!(
        text.contains("2019-02-28"),
        "the JH-7 due date is shown: {text}"
    );
    let assessment_path = p.path().await;
    let assessment: i64 = assessment_path
        .rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("assessment id");
    let view = app
        .get(&format!("/api/v1/assessments/{assessment}"), &admin)
        .await;
    let card_of = |b: i64| {
        view.body["scorecards"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["org_id"] == b))
            .and_then(|s| s["id"].as_i64())
            .expect("card")
    };
    let cards: Vec<i64> = branches.iter().map(|b| card_of(*b)).collect();
    p.logout().await;

    // Branch 0's secretary assesses on the phone, with a photo.
    p.size(390, 844).await;
    p.login("sec-jh0", PASSWORD).await;
    p.wait_text("今日").await;
    p.go("/console/scorecards").await;
    p.wait_text("2018 年度").await;
    p.click("#scorecard-list a").await;
    p.wait_text("上传佐证图片").await;
    p.assert_labelled("self-assessment").await;
    p.assert_no_sideways_scroll("self-assessment").await;
    let dir = tempfile::tempdir().expect("dir");
    let photo = dir.path().join("主题党日.png");
    std::fs::write(&photo, tiny_png()).expect("photo");
    p.set("#upload-code", "ideological_4").await;
    p.c.find(fantoccini::Locator::Css("#photo"))
        .await
        .expect("file input")
        .send_keys(&photo.display().to_string())
        .await
        .expect("choose file");
    p.click("#upload").await;
    let text = p.wait_text("佐证图片已上传").await;
    assert!(text.contains("已上传 1 张"), "{text}");
    p.js(r#"for (const el of document.querySelectorAll('input[name^="s_"]')) el.value = el.max; return 1;"#)
        .await;
    p.fill("#e_ideological_4", "全年 12 次主题党日，见记实本及照片")
        .await;
    p.shot("scorecard-self-390").await;
    p.click("#submit-self").await;
    let text = p.wait_text("自评已提交").await;
    assert!(text.contains("已自评，待审核"), "{text}");
    p.assert_no_sideways_scroll("submitted").await;
    p.logout().await;

    // The other branches through the API: branch 1 reviewed to 88, branch 2 to 100.
    for i in 1..3 {
        self_assess_api(&app, &tokens[i], cards[i]).await;
    }
    review_api(&app, &admin, cards[1], 88).await;
    review_api(&app, &admin, cards[2], 100).await;

    // The admin reviews branch 0 (112 → 优秀) and vetoes branch 2.
    p.size(1366, 900).await;
    p.login("chief", PASSWORD).await;
    p.wait_text("今日").await;
    p.go(&format!("/console/scorecards/{}", cards[0])).await;
    p.wait_text("逐项审核").await;
    p.assert_labelled("review").await;
    p.assert_no_sideways_scroll("review").await;
    p.fill("#r_central_work", "4").await;
    p.fill("#why_central_work", "仅一项市级表彰，按 4 分计")
        .await;
    p.click("#save-review").await;
    let text = p.wait_text("审核已保存").await;
    assert!(text.contains("合计 112") && text.contains("优秀"), "{text}");
    p.shot("scorecard-review-1366").await;

    p.go(&format!("/console/scorecards/{}", cards[2])).await;
    p.wait_text("一票否决").await;
    p.fill("#veto-evidence", "市委通报").await;
    p.click("#veto").await;
    p.wait_text("一票否决须写明原因").await;
    let none = app
        .get(&format!("/api/v1/scorecards/{}", cards[2]), &admin)
        .await;
    assert_eq!(
        none.body["vetoes"],
        json!([]),
        "a veto without a cause writes nothing"
    );
    p.set("#veto-item", "veto_policy").await;
    p.fill("#veto-cause", "贯彻决策部署不坚决，被市委通报批评")
        .await;
    p.fill("#veto-evidence", "市委通报〔2018〕5号").await;
    p.c.find(fantoccini::Locator::Css("#veto-photo"))
        .await
        .expect("file input")
        .send_keys(&photo.display().to_string())
        .await
        .expect("choose file");
    p.click("#veto").await;
    let text = p.wait_text("一票否决已记录").await;
    assert!(
        text.contains("后进整转") && text.contains("决定人：chief"),
        "{text}"
    );

    // Random audit draw, repeated from its seed.
    p.go(&assessment_path).await;
    p.wait_text("随机抽查").await;
    p.fill("#n", "2").await;
    p.click("#draw").await;
    let text = p.wait_text("重复抽查结果与记录一致").await;
    let recorded = p
        .js("return document.querySelector('#recorded').innerText")
        .await;
    let repeated = p
        .js("return Array.from(document.querySelectorAll('#repeated li')).map(li => li.innerText)")
        .await;
    let first: Vec<String> = serde_json::from_value(repeated.clone()).expect("names");
    assert_eq!(first.len(), 2, "{text}");
    assert!(
        first
            .iter()
            .all(|n| recorded.as_str().is_some_and(|r| r.contains(n.as_str())))
    );
    let draw_path = p.path().await;
    p.go(&draw_path).await;
    p.wait_text("重复抽查结果与记录一致").await;
    let again = p
        .js("return Array.from(document.querySelectorAll('#repeated li')).map(li => li.innerText)")
        .await;
    assert_eq!(again, repeated, "the same branches from the same seed");
    p.assert_labelled("draw").await;
    p.shot("scorecard-draw-1366").await;

    // Ratings and the roll-up: 优秀 1, 未达标 1, 后进整转 1: 1 of 3 < 60 %.
    p.go(&assessment_path).await;
    let text = p.wait_text("达标率").await;
    assert!(text.contains("33.3%") && text.contains("60%"), "{text}");
    assert!(text.contains("取消先进参评资格"), "{text}");
    assert!(
        text.contains("优秀 1") && text.contains("未达标 1") && text.contains("后进整转 1"),
        "{text}"
    );
    p.assert_no_sideways_scroll("assessment").await;
    p.assert_labelled("assessment").await;
    p.shot("scorecard-rollup-1366").await;

    // The scorecard XLSX of branch 0, downloaded and read back with calamine.
    let bytes =
        p.c.execute_async(
            r#"const done = arguments[arguments.length - 1];
               fetch(arguments[0], {credentials: 'same-origin'})
                 .then(r => r.arrayBuffer())
                 .then(b => done(Array.from(new Uint8Array(b))))
                 .catch(e => done(String(e)));"#,
            vec![json!(format!(
                "/console/scorecards/{}/export?format=xlsx",
                cards[0]
            ))],
        )
        .await
        .expect("download");
    let bytes: Vec<u8> = serde_json::from_value(bytes).expect("bytes");
    let sheet = read_xlsx(&bytes);
    assert_eq!(
        sheet.first().expect("header"),
        &[
            "项目",
            "分值",
            "自评分",
            "审核分",
            "扣分原因与佐证",
            "合计",
            "等次"
        ]
    );
    let total = sheet
        .iter()
        .find(|r| r.first().is_some_and(|c| c == "合计"))
        .expect("合计 row");
    assert_eq!(total[2], "120");
    assert_eq!(total[5], "112");
    assert_eq!(total[6], "优秀");
    let theme = sheet
        .iter()
        .find(|r| r.first().is_some_and(|c| c.starts_with("思想建设4")))
        .expect("思想建设4");
    assert!(theme[4].contains("附图 1 张"), "{theme:?}");
    c.close().await.ok();
}
