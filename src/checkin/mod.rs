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
