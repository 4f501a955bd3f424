//! Reports and exports: one writer (`export`) for XLSX and CSV, and the registers built
//! on it (`registers`: a session's attendance sheet; `forms`: the official forms of a year:
//! 登记表, 星级统计表, 台账).
//! Staff exports carry names and items, never ID numbers, phones or addresses.

pub mod export;
pub mod forms;
pub mod registers;
pub mod routes;
