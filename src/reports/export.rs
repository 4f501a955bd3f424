//! One table writer for XLSX and CSV. Chinese headers in a bold frozen first row,
//! numbers as numbers, dates as dates, column widths computed (a CJK character counts
//! about two units; rust_xlsxwriter's autofit counts one), and text that a spreadsheet
//! would run as a formula (`=`, `+`, `-`, `@`, tab, CR) neutralized with a leading `'`.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    /// Exact in the CSV; the XLSX stores what a spreadsheet stores, a double.
    Number(Decimal),
    Date(NaiveDate),
    /// Local time of the organization.
    DateTime(NaiveDateTime),
    /// A share (0.2 = 20 %): a number formatted as a percentage in the XLSX, "20.00%"
    /// in the CSV.
    Percent(Decimal),
    Empty,
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Self {
        Self::Text(s.into())
    }
}

#[derive(Debug, Clone)]
pub struct Table {
    pub sheet: String,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Xlsx,
    Csv,
}

impl ExportFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Self::Csv => "text/csv; charset=utf-8",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Xlsx => "xlsx",
            Self::Csv => "csv",
        }
    }
}

/// Text a spreadsheet would evaluate gets a leading apostrophe.
pub fn neutralize(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// Display width in column units: wide (CJK, full-width) characters count two.
pub fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            let u = u32::from(c);
            if (0x1100..=0x115F).contains(&u)
                || (0x2E80..=0xA4CF).contains(&u)
                || (0xAC00..=0xD7A3).contains(&u)
                || (0xF900..=0xFAFF).contains(&u)
                || (0xFE30..=0xFE4F).contains(&u)
                || (0xFF00..=0xFF60).contains(&u)
                || (0xFFE0..=0xFFE6).contains(&u)
                || (0x20000..=0x3FFFD).contains(&u)
            {
                2
            } else {
                1
            }
        })
        .sum()
}

const DATE_FORMAT: &str = "yyyy-mm-dd";
const DATETIME_FORMAT: &str = "yyyy-mm-dd hh:mm:ss";
const PERCENT_FORMAT: &str = "0.00%";

fn cell_text(c: &Cell) -> String {
    match c {
        Cell::Text(s) => neutralize(s).into_owned(),
        Cell::Number(d) => d.normalize().to_string(),
        Cell::Date(d) => d.format("%Y-%m-%d").to_string(),
        Cell::DateTime(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        Cell::Percent(d) => format!("{:.2}%", (d * Decimal::ONE_HUNDRED).round_dp(2)),
        Cell::Empty => String::new(),
    }
}

/// Column widths: the widest cell (as shown) plus padding, within bounds.
fn widths(t: &Table) -> Vec<f64> {
    let mut w: Vec<usize> = t.headers.iter().map(|h| display_width(h)).collect();
    for row in &t.rows {
        for (i, c) in row.iter().enumerate().take(w.len()) {
            let n = match c {
                Cell::Date(_) => DATE_FORMAT.len(),
                Cell::DateTime(_) => DATETIME_FORMAT.len(),
                other => display_width(&cell_text(other)),
            };
            w[i] = w[i].max(n);
        }
    }
    w.into_iter()
        .map(|n| (n as f64 + 2.0).clamp(6.0, 80.0))
        .collect()
}

fn xlsx_err(e: rust_xlsxwriter::XlsxError) -> AppError {
    AppError::internal(anyhow::anyhow!("xlsx: {e}"))
}

fn excel_datetime(t: &NaiveDateTime) -> Result<ExcelDateTime, rust_xlsxwriter::XlsxError> {
    ExcelDateTime::from_ymd(
        u16::try_from(t.year()).unwrap_or(1900),
        t.month() as u8,
        t.day() as u8,
    )?
    .and_hms(t.hour() as u16, t.minute() as u8, t.second())
}

pub fn to_xlsx(t: &Table) -> AppResult<Vec<u8>> {
    to_xlsx_book(std::slice::from_ref(t))
}

/// A workbook of several sheets (a form with one sheet per branch), in order. Sheet
/// names must be unique and at most 31 characters (the caller names them).
pub fn to_xlsx_book(tables: &[Table]) -> AppResult<Vec<u8>> {
    let mut book = Workbook::new();
    let header = Format::new().set_bold().set_background_color("F2DCDB");
    let date = Format::new().set_num_format(DATE_FORMAT);
    let datetime = Format::new().set_num_format(DATETIME_FORMAT);
    let percent = Format::new().set_num_format(PERCENT_FORMAT);
    for t in tables {
        // Rows stream to a temporary file as they are written (strings inline, no shared
        // string table): a 1.2-million-row 台账 does not sit in memory twice. Column
        // widths and panes must therefore be set before the first row.
        let sheet = book
            .add_worksheet_with_constant_memory()
            .map_err(xlsx_err)?;
        sheet.set_name(&t.sheet).map_err(xlsx_err)?;
        sheet.set_freeze_panes(1, 0).map_err(xlsx_err)?;
        for (c, w) in widths(t).into_iter().enumerate() {
            let col = u16::try_from(c).map_err(AppError::internal)?;
            sheet.set_column_width(col, w).map_err(xlsx_err)?;
        }
        for (c, h) in t.headers.iter().enumerate() {
            let col = u16::try_from(c).map_err(AppError::internal)?;
            sheet
                .write_string_with_format(0, col, *h, &header)
                .map_err(xlsx_err)?;
        }
        for (r, row) in t.rows.iter().enumerate() {
            let r = u32::try_from(r + 1).map_err(AppError::internal)?;
            for (c, cell) in row.iter().enumerate() {
                let col = u16::try_from(c).map_err(AppError::internal)?;
                match cell {
                    Cell::Text(s) => {
                        sheet
                            .write_string(r, col, neutralize(s))
                            .map_err(xlsx_err)?;
                    }
                    Cell::Number(d) => {
                        sheet
                            .write_number(r, col, d.to_f64().unwrap_or_default())
                            .map_err(xlsx_err)?;
                    }
                    Cell::Percent(d) => {
                        sheet
                            .write_number_with_format(
                                r,
                                col,
                                d.to_f64().unwrap_or_default(),
                                &percent,
                            )
                            .map_err(xlsx_err)?;
                    }
                    Cell::Date(d) => {
                        let v = ExcelDateTime::from_ymd(
                            u16::try_from(d.year()).unwrap_or(1900),
                            d.month() as u8,
                            d.day() as u8,
                        )
                        .map_err(xlsx_err)?;
                        sheet
                            .write_datetime_with_format(r, col, v, &date)
                            .map_err(xlsx_err)?;
                    }
                    Cell::DateTime(t) => {
                        let v = excel_datetime(t).map_err(xlsx_err)?;
                        sheet
                            .write_datetime_with_format(r, col, v, &datetime)
                            .map_err(xlsx_err)?;
                    }
                    Cell::Empty => {}
                }
            }
        }
    }
    book.save_to_buffer().map_err(xlsx_err)
}

/// UTF-8 with a byte-order mark, so spreadsheet programs read the Chinese right.
pub fn to_csv(t: &Table) -> AppResult<Vec<u8>> {
    let mut out = "\u{feff}".as_bytes().to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(&t.headers).map_err(AppError::internal)?;
        for row in &t.rows {
            w.write_record(row.iter().map(cell_text))
                .map_err(AppError::internal)?;
        }
        w.flush().map_err(AppError::internal)?;
    }
    Ok(out)
}

pub fn write(t: &Table, format: ExportFormat) -> AppResult<Vec<u8>> {
    match format {
        ExportFormat::Xlsx => to_xlsx(t),
        ExportFormat::Csv => to_csv(t),
    }
}

/// A form of several sheets: each sheet in the XLSX; in the CSV (one table) the sheets'
/// rows one after another under a leading column (`lead`, e.g. 支部) holding each
/// sheet's `title`. Every sheet has the same headers.
pub fn write_book(
    sheets: &[Sheet],
    lead: &'static str,
    format: ExportFormat,
) -> AppResult<Vec<u8>> {
    match format {
        ExportFormat::Xlsx => {
            let tables: Vec<Table> = sheets.iter().map(|s| s.table.clone()).collect();
            to_xlsx_book(&tables)
        }
        ExportFormat::Csv => to_csv(&stacked(sheets, lead)),
    }
}

/// One sheet of a form: its table and the full title its rows carry in the CSV (the
/// sheet name may be shortened to fit 31 characters).
#[derive(Debug, Clone)]
pub struct Sheet {
    pub title: String,
    pub table: Table,
}

/// The sheets as one table under a leading column holding each sheet's title.
pub fn stacked(sheets: &[Sheet], lead: &'static str) -> Table {
    let mut headers = vec![lead];
    headers.extend(
        sheets
            .first()
            .map(|s| s.table.headers.clone())
            .unwrap_or_default(),
    );
    let rows = sheets
        .iter()
        .flat_map(|s| {
            s.table.rows.iter().map(|r| {
                let mut row = Vec::with_capacity(r.len() + 1);
                row.push(Cell::text(s.title.clone()));
                row.extend(r.iter().cloned());
                row
            })
        })
        .collect();
    Table {
        sheet: sheets
            .first()
            .map(|s| s.table.sheet.clone())
            .unwrap_or_default(),
        headers,
        rows,
    }
}

/// A sheet name Excel accepts: without `[]:*?/\`, at most 31 characters, unique among
/// `taken` (a numeric suffix when two branches share a shortened name).
pub fn sheet_name(wanted: &str, taken: &mut std::collections::HashSet<String>) -> String {
    let clean: String = wanted
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .collect();
    let clean = clean.trim_matches('\'').to_owned();
    let base: String = clean.chars().take(31).collect();
    let base = if base.is_empty() {
        "Sheet".to_owned()
    } else {
        base
    };
    let mut name = base.clone();
    let mut n = 2;
    while !taken.insert(name.to_lowercase()) {
        let suffix = format!("({n})");
        let keep = 31 - suffix.chars().count();
        name = format!("{}{suffix}", base.chars().take(keep).collect::<String>());
        n += 1;
    }
    name
}

/// The file as a download, its Chinese name encoded for every browser (RFC 6266).
pub fn download(bytes: Vec<u8>, format: ExportFormat, name: &str) -> actix_web::HttpResponse {
    use actix_web::http::header;
    let file = format!("{name}.{}", format.extension());
    let encoded: String = url::form_urlencoded::byte_serialize(file.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    actix_web::HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"export.{}\"; filename*=UTF-8''{encoded}",
                format.extension()
            ),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use calamine::{Data, Reader, Xlsx};
    use std::str::FromStr;

    fn table() -> Table {
        Table {
            sheet: "测试".into(),
            headers: vec!["姓名", "分值", "日期", "备注"],
            rows: vec![vec![
                Cell::text("张三"),
                Cell::Number(Decimal::from_str("2.5").unwrap()),
                Cell::Date(NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()),
                Cell::text("=HYPERLINK(\"http://x\")"),
            ]],
        }
    }

    #[test]
    fn formulas_are_neutralized_and_widths_count_cjk_double() {
        assert_eq!(neutralize("=1+1"), "'=1+1");
        assert_eq!(neutralize("-3"), "'-3");
        assert_eq!(neutralize("@SUM"), "'@SUM");
        assert_eq!(neutralize("+86"), "'+86");
        assert_eq!(neutralize("张三"), "张三");
        assert_eq!(display_width("党员积分"), 8);
        assert_eq!(display_width("ab"), 2);
    }

    #[test]
    fn xlsx_reads_back_with_numbers_dates_and_neutralized_text() {
        let bytes = to_xlsx(&table()).unwrap();
        let mut book: Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
        let range = book.worksheet_range("测试").unwrap();
        assert_eq!(range.get((0, 0)), Some(&Data::String("姓名".into())));
        assert_eq!(range.get((1, 1)), Some(&Data::Float(2.5)));
        assert!(matches!(range.get((1, 2)), Some(Data::DateTime(_))));
        assert_eq!(
            range.get((1, 3)),
            Some(&Data::String("'=HYPERLINK(\"http://x\")".into()))
        );
    }

    #[test]
    fn csv_has_a_bom_exact_numbers_and_neutralized_text() {
        let text = String::from_utf8(to_csv(&table()).unwrap()).unwrap();
        assert!(text.starts_with('\u{feff}'));
        assert!(
            text.contains("张三,2.5,2026-12-04,\"'=HYPERLINK(\"\"http://x\"\")\""),
            "{text}"
        );
    }

    #[test]
    fn a_book_has_a_sheet_per_table_and_its_csv_a_leading_column_with_percentages() {
        let mut taken = std::collections::HashSet::new();
        let long = "第一党总支第二党支部（机关、后勤、离退休）联合党支部名称很长很长很长";
        let a = sheet_name(long, &mut taken);
        let b = sheet_name(long, &mut taken);
        assert_eq!(a.chars().count(), 31);
        assert_ne!(a, b, "unique");
        assert!(b.ends_with("(2)"));
        assert_eq!(sheet_name("a/b:c", &mut taken), "a_b_c");
        let sheet = |title: &str, share: &str| Sheet {
            title: title.to_owned(),
            table: Table {
                sheet: title.to_owned(),
                headers: vec!["姓名", "占比"],
                rows: vec![vec![
                    Cell::text("张三"),
                    Cell::Percent(Decimal::from_str(share).unwrap()),
                ]],
            },
        };
        let sheets = [sheet("一支部", "0.2"), sheet("二支部", "0.3333")];
        let csv =
            String::from_utf8(write_book(&sheets, "支部", ExportFormat::Csv).unwrap()).unwrap();
        assert_eq!(
            csv,
            "\u{feff}支部,姓名,占比\n一支部,张三,20.00%\n二支部,张三,33.33%\n"
        );
        let bytes = write_book(&sheets, "支部", ExportFormat::Xlsx).unwrap();
        let mut book: Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(
            book.sheet_names(),
            vec!["一支部".to_owned(), "二支部".to_owned()]
        );
        let range = book.worksheet_range("二支部").unwrap();
        assert_eq!(range.get((1, 1)), Some(&Data::Float(0.3333)));
    }
}
