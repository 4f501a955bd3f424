//! One judgement of a check-in, by the policy of the member's organization: who may
//! check in (active), invitation (the host's or an invited organization's subtree),
//! and the class (on time, late, present, too late) from the policy's window
//! (`policy::CheckinWindow`: XH-8.1 counts 15 minutes after the start, TW-2 the whole
//! day). Pure: no I/O, no clock. The writer's batch path, the one-fact path, secretary
//! entries, attendance sheets and make-up all judge through here.

use chrono::{DateTime, Duration, Utc};

use crate::policy::{ActivityKind, Policy};

/// What the member's policy grants at a fixed day: how long a check-in counts and
/// whether make-up study earns anything (no offer where it earns 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terms {
    /// Seconds after the start a check-in counts, as late; `None`: the whole day.
    pub late_seconds: Option<i64>,
    pub makeup: bool,
}

impl Terms {
    /// Nothing known (an unbound scanner): no lateness promised, no make-up offered.
    pub const UNKNOWN: Terms = Terms {
        late_seconds: None,
        makeup: false,
    };

    pub fn of(policy: &Policy) -> Self {
        Terms {
            late_seconds: policy.checkin.late_seconds,
            makeup: policy.makeup_scores(ActivityKind::FixedDay),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    OnTime,
    /// After the start, within the policy's `minutes` (XH-8.1: 15).
    Late {
        minutes: i64,
    },
    /// Attendance without a lateness tier: other activities, and a fixed day under a
    /// policy that counts the whole day (TW-2).
    Present,
}

impl Class {
    pub fn label(self) -> String {
        match self {
            Class::OnTime => "按时签到".to_owned(),
            Class::Late { minutes } => format!("迟到签到（开始后 {minutes} 分钟内）"),
            Class::Present => "签到".to_owned(),
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Class::OnTime => "on_time",
            Class::Late { .. } => "late",
            Class::Present => "present",
        }
    }
}

/// Why a scan did not count (stored as `reason`); the terms say what the reply offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    InvalidCode,
    ExpiredCode,
    NotOpen,
    Closed(Terms),
    TooLate(Terms),
    NotInvited,
    Inactive,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::InvalidCode => "invalid_code",
            Refusal::ExpiredCode => "expired_code",
            Refusal::NotOpen => "not_open",
            Refusal::Closed(_) => "session_closed",
            Refusal::TooLate(_) => "too_late",
            Refusal::NotInvited => "not_invited",
            Refusal::Inactive => "inactive",
        }
    }
}

/// The activity a check-in is for, as judging needs it.
#[derive(Debug, Clone, Copy)]
pub struct Held {
    pub fixed_day: bool,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub tz: chrono_tz::Tz,
}

impl Held {
    pub fn of(a: &entity::activity::Model, tz: chrono_tz::Tz) -> Self {
        Held {
            fixed_day: a.kind == ActivityKind::FixedDay.as_str(),
            starts_at: a.starts_at,
            ends_at: a.ends_at,
            tz,
        }
    }

    /// Midnight after the start, in the organization's time zone.
    pub fn day_end(&self) -> DateTime<Utc> {
        let local = self.starts_at.with_timezone(&self.tz).date_naive();
        let next = local.succ_opt().unwrap_or(local);
        crate::ledger::inputs::start_of_day(next, self.tz).with_timezone(&Utc)
    }

    /// When check-ins stop counting under `terms`: a fixed day at the policy's late
    /// limit or the day's end; another activity at its end (never before the limit).
    pub fn window_end(&self, terms: Terms) -> DateTime<Utc> {
        match (self.fixed_day, terms.late_seconds) {
            (true, Some(s)) => self.starts_at + Duration::seconds(s),
            (true, None) => self.day_end(),
            (false, s) => self
                .ends_at
                .max(self.starts_at + Duration::seconds(s.unwrap_or(0))),
        }
    }
}

/// The class of a check-in at `at`, judged to the second; `None`: too late to count.
pub fn classify(held: &Held, terms: Terms, at: DateTime<Utc>) -> Option<Class> {
    if !held.fixed_day {
        return Some(Class::Present);
    }
    if at <= held.starts_at {
        return Some(Class::OnTime);
    }
    match terms.late_seconds {
        Some(s) if at <= held.starts_at + Duration::seconds(s) => {
            Some(Class::Late { minutes: s / 60 })
        }
        Some(_) => None,
        None if at < held.day_end() => Some(Class::Present),
        None => None,
    }
}

/// Whether an organization (by its path) lies under one of the roots (the host and
/// the invited organizations: their whole subtrees take part).
pub fn invited(roots: &[i64], org_path: &str) -> bool {
    roots.iter().any(|r| org_path.contains(&format!("/{r}/")))
}

/// Who is scanning: status and organization, and the terms of their policy.
#[derive(Debug, Clone, Copy)]
pub struct Scanner<'a> {
    pub status: &'a str,
    pub org_path: &'a str,
    pub terms: Terms,
}

/// Judges one check-in at `at` for a session that stops taking attendance at
/// `session_ends`: counted with its class, or refused with the reason.
pub fn judge(
    held: &Held,
    roots: &[i64],
    session_ends: DateTime<Utc>,
    who: Scanner<'_>,
    at: DateTime<Utc>,
) -> Result<Class, Refusal> {
    let class = classify(held, who.terms, at);
    if at > session_ends {
        return Err(match class {
            None => Refusal::TooLate(who.terms),
            Some(_) => Refusal::Closed(who.terms),
        });
    }
    if who.status != "active" {
        return Err(Refusal::Inactive);
    }
    if !invited(roots, who.org_path) {
        return Err(Refusal::NotInvited);
    }
    class.ok_or(Refusal::TooLate(who.terms))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    fn policy(name: &str) -> std::sync::Arc<Policy> {
        crate::policy::PolicySet::builtin()
            .unwrap()
            .get(name)
            .unwrap()
    }

    /// A fixed day at 09:00 Shanghai time, 2026-03-10.
    fn day() -> Held {
        let tz = chrono_tz::Asia::Shanghai;
        let start = tz
            .with_ymd_and_hms(2026, 3, 10, 9, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        Held {
            fixed_day: true,
            starts_at: start,
            ends_at: start + Duration::hours(2),
            tz,
        }
    }

    fn at(h: &Held, secs: i64) -> DateTime<Utc> {
        h.starts_at + Duration::seconds(secs)
    }

    fn member(terms: Terms) -> Scanner<'static> {
        Scanner {
            status: "active",
            org_path: "/1/2/",
            terms,
        }
    }

    /// XH-8.1: on time at the start, late to 15:00 after, refused from 15:01 with make-up offered.
    #[test]
    fn xh_8_1_xihu_counts_fifteen_minutes_late_then_refuses_with_make_up() {
        let h = day();
        let t = Terms::of(&policy("xihu-2017"));
        assert_eq!(
            t,
            Terms {
                late_seconds: Some(900),
                makeup: true
            }
        );
        let end = h.window_end(t);
        assert_eq!(end, at(&h, 900));
        let j = |s| judge(&h, &[1], end, member(t), at(&h, s));
        assert_eq!(j(0), Ok(Class::OnTime));
        assert_eq!(j(900), Ok(Class::Late { minutes: 15 }));
        assert_eq!(j(901), Err(Refusal::TooLate(t)));
        assert_eq!(
            Class::Late { minutes: 15 }.label(),
            "迟到签到（开始后 15 分钟内）"
        );
    }

    /// TW-2: any time of the day counts (40 minutes late too), no make-up offer.
    #[test]
    fn tw_2_town_counts_any_time_of_the_day_and_offers_no_make_up() {
        let h = day();
        let t = Terms::of(&policy("town-2019"));
        assert_eq!(
            t,
            Terms {
                late_seconds: None,
                makeup: false
            }
        );
        let end = h.window_end(t);
        // Midnight in Shanghai: 15 hours after a 09:00 start.
        assert_eq!(end, at(&h, 15 * 3600));
        let j = |s| judge(&h, &[1], end, member(t), at(&h, s));
        assert_eq!(j(-60), Ok(Class::OnTime));
        assert_eq!(j(40 * 60), Ok(Class::Present));
        assert_eq!(j(15 * 3600 - 1), Ok(Class::Present));
        assert_eq!(j(15 * 3600 + 1), Err(Refusal::TooLate(t)));
    }

    /// EQ-1 (choice): the activity day counts any time of its day; nothing to make up.
    #[test]
    fn eq_1_erqi_counts_any_time_of_the_day() {
        let h = day();
        let t = Terms::of(&policy("erqi-2021"));
        assert_eq!(t, Terms::UNKNOWN);
        assert_eq!(
            judge(&h, &[1], h.window_end(t), member(t), at(&h, 16 * 60)),
            Ok(Class::Present)
        );
    }

    /// SD-1 and JH-1 (choices): check-ins are attendance records for the whole day.
    #[test]
    fn sd_1_and_jh_1_record_attendance_the_whole_day() {
        let h = day();
        for name in ["sdtbu-2018", "jinhua-2018"] {
            let t = Terms::of(&policy(name));
            assert_eq!(t, Terms::UNKNOWN, "{name}");
            assert_eq!(h.window_end(t), h.day_end(), "{name}");
            assert_eq!(classify(&h, t, at(&h, 3 * 3600)), Some(Class::Present));
        }
    }

    /// Who may check in: a refusal for the inactive and the uninvited, whatever the time;
    /// past the session's end, too late or closed by the member's own window.
    #[test]
    fn judge_refuses_the_inactive_the_uninvited_and_after_the_session() {
        let h = day();
        let xihu = Terms::of(&policy("xihu-2017"));
        let town = Terms::of(&policy("town-2019"));
        let closed_early = at(&h, 600);
        let inactive = Scanner {
            status: "suspended",
            ..member(xihu)
        };
        assert_eq!(
            judge(&h, &[1], closed_early, inactive, at(&h, 0)),
            Err(Refusal::Inactive)
        );
        assert_eq!(
            judge(&h, &[7], closed_early, member(xihu), at(&h, 0)),
            Err(Refusal::NotInvited)
        );
        assert!(invited(&[7, 2], "/1/2/"));
        // The secretary closed at +10 min: a +12 min scan is closed (xihu would have
        // counted it late), a +20 min one too late; under town both are closed.
        assert_eq!(
            judge(&h, &[1], closed_early, member(xihu), at(&h, 720)),
            Err(Refusal::Closed(xihu))
        );
        assert_eq!(
            judge(&h, &[1], closed_early, member(xihu), at(&h, 1200)),
            Err(Refusal::TooLate(xihu))
        );
        assert_eq!(
            judge(&h, &[1], closed_early, member(town), at(&h, 1200)),
            Err(Refusal::Closed(town))
        );
    }

    /// Other activities: present until their end, whatever the policy.
    #[test]
    fn other_activities_are_attendance_until_their_end() {
        let h = Held {
            fixed_day: false,
            ..day()
        };
        let xihu = Terms::of(&policy("xihu-2017"));
        assert_eq!(h.window_end(xihu), h.ends_at);
        assert_eq!(classify(&h, xihu, at(&h, 3600)), Some(Class::Present));
    }
}
