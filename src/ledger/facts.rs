//! Recording facts. A fact is history: stored as it is, with its own time, never
//! changed; a correction is a new fact pointing at it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ConnectionTrait, DbErr, EntityTrait,
};
use serde_json::value::RawValue;

use super::post::{Reposted, repost};
use super::{Scoring, SubjectRef};
use crate::audit::Actor;
use crate::error::{AppError, AppResult};
use crate::policy::{FieldValue, Fields, fmt_dec, parse_dec};

/// Item fields as a JSON object with exact numbers (`{"points": 3.5, "leading": true}`).
pub fn fields_to_json(fields: &Fields) -> String {
    let mut out = String::from("{");
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(name).unwrap_or_default());
        out.push(':');
        match value {
            FieldValue::Number(d) => out.push_str(&fmt_dec(*d)),
            FieldValue::Text(t) => out.push_str(&serde_json::to_string(t).unwrap_or_default()),
            FieldValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        }
    }
    out.push('}');
    out
}

/// Parses fields written by `fields_to_json` (or sent by a client): numbers stay exact.
pub fn fields_from_json(text: &str) -> Fields {
    let Ok(map) = serde_json::from_str::<BTreeMap<String, Box<RawValue>>>(text) else {
        return Fields::new();
    };
    let mut fields = Fields::new();
    for (name, raw) in map {
        let raw = raw.get().trim();
        let value = match raw {
            "true" => FieldValue::Bool(true),
            "false" => FieldValue::Bool(false),
            r if r.starts_with('"') => match serde_json::from_str::<String>(r) {
                Ok(s) => FieldValue::Text(s),
                Err(_) => continue,
            },
            r => match parse_dec(r) {
                Some(d) => FieldValue::Number(d),
                None => continue,
            },
        };
        fields.set(name, value);
    }
    fields
}

#[derive(Debug, Clone)]
pub enum NewFactKind {
    CheckIn {
        person: i64,
        activity: i64,
        method: crate::policy::Method,
    },
    MakeupStudy {
        person: i64,
        activity: i64,
    },
    Item {
        subject: SubjectRef,
        item: String,
        fields: Fields,
    },
    Annul {
        target: i64,
    },
}

#[derive(Debug, Clone)]
pub struct NewFact {
    pub kind: NewFactKind,
    pub at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub session_id: Option<i64>,
    pub reason: Option<String>,
    pub evidence: Option<String>,
    /// A key the database keeps unique (one scan per person per activity, one fact
    /// per WeChat event): a second insert with it records nothing.
    pub dedup_key: Option<String>,
    /// The WeChat event it came from.
    pub source_event: Option<String>,
}

/// Inserts a fact for `year`; `Ok(None)` when its dedup key is already taken.
pub async fn insert(
    db: &impl ConnectionTrait,
    actor: &Actor,
    fact: NewFact,
    year: i32,
    annul_target: Option<&entity::fact::Model>,
) -> AppResult<Option<entity::fact::Model>> {
    let (kind, person, org, activity, item, fields, method, target) = match &fact.kind {
        NewFactKind::CheckIn {
            person,
            activity,
            method,
        } => (
            "checkin",
            Some(*person),
            None,
            Some(*activity),
            None,
            None,
            Some(method.as_str().to_owned()),
            None,
        ),
        NewFactKind::MakeupStudy { person, activity } => (
            "makeup_study",
            Some(*person),
            None,
            Some(*activity),
            None,
            None,
            None,
            None,
        ),
        NewFactKind::Item {
            subject,
            item,
            fields,
        } => {
            let (p, o) = match subject {
                SubjectRef::Person(p) => (Some(*p), None),
                SubjectRef::Org(o) => (None, Some(*o)),
            };
            (
                "item",
                p,
                o,
                None,
                Some(item.clone()),
                Some(fields_to_json(fields)),
                None,
                None,
            )
        }
        NewFactKind::Annul { target } => {
            // The annulment is filed with its target's subject, so it is read with it.
            let t =
                annul_target.ok_or_else(|| AppError::not_found(format!("记录 {target} 不存在")))?;
            (
                "annul",
                t.person_id,
                t.org_id,
                t.activity_id,
                None,
                None,
                None,
                Some(*target),
            )
        }
    };
    let model = entity::fact::ActiveModel {
        id: NotSet,
        kind: Set(kind.to_owned()),
        person_id: Set(person),
        org_id: Set(org),
        activity_id: Set(activity),
        item: Set(item),
        fields: Set(fields),
        method: Set(method),
        target_id: Set(target),
        at: Set(fact.at),
        year: Set(year),
        received_at: Set(fact.received_at),
        session_id: Set(fact.session_id),
        actor_kind: Set(actor.kind.to_owned()),
        actor_id: Set(actor.id),
        actor_name: Set(actor.name.clone()),
        reason: Set(fact.reason),
        evidence: Set(fact.evidence),
        dedup_key: Set(fact.dedup_key),
        source_event: Set(fact.source_event),
        created_at: Set(Utc::now()),
    };
    let inserted = entity::fact::Entity::insert(model)
        .on_conflict(
            OnConflict::column(entity::fact::Column::DedupKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_with_returning(db)
        .await;
    match inserted {
        Ok(row) => Ok(Some(row)),
        // ON CONFLICT DO NOTHING returned no row: the key was taken.
        Err(DbErr::RecordNotInserted | DbErr::RecordNotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// What recording one fact did.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub fact: entity::fact::Model,
    pub reposted: Reposted,
}

impl Recorded {
    /// Points this fact is granted now (0 when no rule took it).
    pub fn granted(&self) -> Decimal {
        self.reposted.granted_for(self.fact.id).unwrap_or_default()
    }
}

/// Records a fact and posts it at once, in the caller's transaction.
/// `Ok(None)` when the dedup key was taken (nothing recorded, nothing posted).
pub async fn record(
    db: &impl ConnectionTrait,
    scoring: &Scoring,
    actor: &Actor,
    fact: NewFact,
    year: i32,
) -> AppResult<Option<Recorded>> {
    let target = match &fact.kind {
        NewFactKind::Annul { target } => Some(
            entity::fact::Entity::find_by_id(*target)
                .one(db)
                .await?
                .ok_or_else(|| AppError::not_found(format!("记录 {target} 不存在")))?,
        ),
        _ => None,
    };
    let year = target.as_ref().map_or(year, |t| t.year);
    let Some(row) = insert(db, actor, fact, year, target.as_ref()).await? else {
        return Ok(None);
    };
    let subject = match (row.person_id, row.org_id) {
        (Some(p), _) => SubjectRef::Person(p),
        (None, Some(o)) => SubjectRef::Org(o),
        (None, None) => {
            return Err(AppError::internal(anyhow::anyhow!(
                "fact {} has no subject",
                row.id
            )));
        }
    };
    let reposted = repost(db, scoring, subject, year, Some(row.id)).await?;
    Ok(Some(Recorded {
        fact: row,
        reposted,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn fields_round_trip_exactly() {
        let f = Fields::new()
            .with("points", FieldValue::Number(Decimal::new(35, 1)))
            .with("leading", FieldValue::Bool(true))
            .with("data", FieldValue::Text("手机号".into()))
            .with(
                "tiny",
                FieldValue::Number("0.1000000000000000000000000001".parse().unwrap()),
            );
        let back = fields_from_json(&fields_to_json(&f));
        assert_eq!(back.number("points"), Some(Decimal::new(35, 1)));
        assert!(back.flag("leading"));
        assert_eq!(back.text("data"), Some("手机号"));
        assert_eq!(back.number("tiny"), f.number("tiny"));
    }
}
