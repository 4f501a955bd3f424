//! Today's activities and the next one, for the home page.

use std::collections::HashMap;

use chrono::{Duration, Utc};
use chrono_tz::Tz;
use minijinja::Value;

use super::{activity_row, home_org, scope_orgs};
use crate::auth::Perm;
use crate::console::ConsoleUser;
use crate::error::AppResult;
use crate::ledger::inputs::tz_of;
use crate::state::AppState;

/// Today's activities and the next one, for the home page.
pub async fn today(state: &AppState, user: &ConsoleUser) -> AppResult<Vec<Value>> {
    use entity::activity::{Column, Entity};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
    if !user.can(Perm::ActivityRead) {
        return Ok(Vec::new());
    }
    let orgs = scope_orgs(state, &user.principal).await?;
    let tz_by: HashMap<i64, Tz> = orgs.iter().map(|o| (o.id, tz_of(o))).collect();
    let now = state.clock.now();
    let tz = home_org(&user.principal, &orgs).map_or(chrono_tz::Asia::Shanghai, |o| tz_of(&o));
    let day_start = now
        .with_timezone(&tz)
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|d| d.and_local_timezone(tz).earliest())
        .map_or(now, |d| d.with_timezone(&Utc));
    let mut q = Entity::find()
        .filter(Column::StartsAt.gte(day_start))
        .order_by_asc(Column::StartsAt)
        .limit(50);
    if user.principal.scope_path.is_some() {
        q = q.filter(Column::OrgId.is_in(orgs.iter().map(|o| o.id).collect::<Vec<_>>()));
    }
    let mut out = Vec::new();
    let tomorrow = day_start + Duration::days(1);
    let mut next_taken = false;
    for a in q.all(&state.db).await? {
        let is_today = a.starts_at < tomorrow;
        if !is_today {
            if next_taken {
                break;
            }
            next_taken = true;
        }
        let tz = tz_by.get(&a.org_id).copied().unwrap_or(tz);
        out.push(activity_row(state, &a, tz, now).await?);
    }
    Ok(out)
}
