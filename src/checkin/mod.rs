//! Activities, check-in sessions, rotating QR slots, classification, live attendance,
//! make-up study and corrections (the fixed activity day of XH-8.1 end to end).

pub mod activities;
pub mod attendance;
pub mod card;
pub mod fixed_day;
pub mod judge;
pub mod live;
pub mod makeup;
pub mod manual;
pub mod materials;
pub mod members;
pub mod projector;
pub mod qr;
pub mod routes;
pub mod scan;
pub mod sessions;
pub mod writer;

/// The one check-in a person has at an activity, whatever the method (scan, card, a
/// secretary's entry, 补签): the facts' unique key, so a scan after a hand entry (or the
/// other way round) is "already checked in" and never a second fact.
pub fn checkin_key(activity: i64, person: i64) -> String {
    format!("scan:{activity}:{person}")
}
