//! Reports and exports: one writer (`export`) for XLSX and CSV, and the registers built
//! on it (`registers`: a session's attendance sheet, the branch's points register).
//! Staff exports carry names and items, never ID numbers, phones or addresses.

pub mod export;
pub mod registers;
pub mod routes;
