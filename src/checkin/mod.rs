//! Activities, check-in sessions, rotating QR slots, classification, live attendance,
//! make-up study and corrections (the fixed activity day of XH-8.1 end to end).

pub mod activities;
