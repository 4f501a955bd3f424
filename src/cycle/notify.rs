//! Telling a member the answer to their leave request or declaration: a template
//! message (`wechat.templates.leave` / `.declaration`; the simulator's inbox in the
//! sandbox). Sent once across instances: the instance that sets `notice_sent_at`
//! (a conditional update) sends, with a `client_msg_id` fixed by the record and its
//! answer, so a retry is WeChat's duplicate too. A failed send is logged; the answer
//! stands.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::state::AppState;

async fn send(
    state: &AppState,
    person_id: i64,
    purpose: &str,
    data: serde_json::Value,
    url: &str,
    msg_id: &str,
) {
    let person = match entity::person::Entity::find_by_id(person_id)
        .one(&state.db)
        .await
    {
        Ok(Some(p)) => p,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, purpose, "notice: person not read");
            return;
        }
    };
    crate::notify::template(state, person.openid.as_deref(), purpose, &data, url, msg_id).await;
}

/// The answer to a leave request.
pub async fn leave_answered(state: &AppState, l: &entity::leave_request::Model) {
    use entity::leave_request::{Column as C, Entity as E};
    let claimed = E::update_many()
        .col_expr(C::NoticeSentAt, Expr::value(chrono::Utc::now()))
        .filter(C::Id.eq(l.id))
        .filter(C::NoticeSentAt.is_null())
        .exec(&state.db)
        .await;
    if !matches!(claimed, Ok(r) if r.rows_affected == 1) {
        return;
    }
    let title = entity::activity::Entity::find_by_id(l.activity_id)
        .one(&state.db)
        .await
        .ok()
        .flatten()
        .map(|a| a.title)
        .unwrap_or_default();
    let st = super::leave::state_of(l);
    let data = serde_json::json!({
        "thing1": {"value": format!("请假：{}", title.chars().take(14).collect::<String>())},
        "thing2": {"value": st.label()},
        "thing3": {"value": l.decision_reason.clone().unwrap_or_default().chars().take(20).collect::<String>()},
    });
    send(
        state,
        l.person_id,
        "leave",
        data,
        "/m/leave",
        &format!("leave-{}-{}", l.id, l.state),
    )
    .await;
}

/// The answer to a declaration.
pub async fn declaration_answered(state: &AppState, d: &entity::declaration::Model) {
    use entity::declaration::{Column as C, Entity as E};
    let claimed = E::update_many()
        .col_expr(C::NoticeSentAt, Expr::value(chrono::Utc::now()))
        .filter(C::Id.eq(d.id))
        .filter(C::NoticeSentAt.is_null())
        .exec(&state.db)
        .await;
    if !matches!(claimed, Ok(r) if r.rows_affected == 1) {
        return;
    }
    let st = super::declarations::state_of(d);
    let data = serde_json::json!({
        "thing1": {"value": format!("申报 #{}", d.id)},
        "thing2": {"value": st.label()},
        "thing3": {"value": d.decision_reason.clone().unwrap_or_default().chars().take(20).collect::<String>()},
    });
    send(
        state,
        d.person_id,
        "declaration",
        data,
        "/m/declarations",
        &format!("declaration-{}-{}", d.id, d.state),
    )
    .await;
}
