//! One table writer for XLSX and CSV. Chinese headers in a bold frozen first row,
//! numbers as numbers, dates as dates, column widths computed (a CJK character counts
//! about two units; rust_xlsxwriter's autofit counts one), and text that a spreadsheet
//! would run as a formula (`=`, `+`, `-`, `@`, tab, CR) neutralized with a leading `'`.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet};

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

/// Deflate level of the XLSX package. For the 1.2-million-row 台账 (bench_forms) level 4
/// writes 32 MB in 2.5 s, level 6 (the crate's default) 31 MB in 4.3 s, level 1 56 MB in
/// 1.7 s: nearly the smallest file for well under the time.
const ZIP_LEVEL: u8 = 4;
const DATE_FORMAT: &str = "yyyy-mm-dd";
const DATETIME_FORMAT: &str = "yyyy-mm-dd hh:mm:ss";
const PERCENT_FORMAT: &str = "0.00%";

/// A cell as shown in the CSV (and as measured for column widths), written into `out`
/// so a million-row form does not allocate a string per cell.
fn cell_text(c: &Cell, out: &mut String) {
    use std::fmt::Write;
    out.clear();
    // Writing into a String cannot fail.
    let _ = match c {
        Cell::Text(s) => {
            out.push_str(&neutralize(s));
            Ok(())
        }
        Cell::Number(d) => write!(out, "{}", d.normalize()),
        Cell::Date(d) => write!(out, "{}", d.format("%Y-%m-%d")),
        Cell::DateTime(t) => write!(out, "{}", t.format("%Y-%m-%d %H:%M:%S")),
        Cell::Percent(d) => write!(out, "{:.2}%", (d * Decimal::ONE_HUNDRED).round_dp(2)),
        Cell::Empty => Ok(()),
    };
}

/// Column widths: the widest cell (as shown) plus padding, within bounds.
fn widths(t: &Table) -> Vec<f64> {
    let mut w: Vec<usize> = t.headers.iter().map(|h| display_width(h)).collect();
    let mut buf = String::new();
    for row in &t.rows {
        for (i, c) in row.iter().enumerate().take(w.len()) {
            let n = match c {
                Cell::Date(_) => DATE_FORMAT.len(),
                Cell::DateTime(_) => DATETIME_FORMAT.len(),
                Cell::Text(s) => display_width(&neutralize(s)),
                other => {
                    cell_text(other, &mut buf);
                    buf.len()
                }
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
    to_xlsx_book([t])
}

/// The cell formats every sheet shares.
struct Formats {
    header: Format,
    date: Format,
    datetime: Format,
    percent: Format,
}

/// A workbook of several sheets (a form with one sheet per branch), in order. Sheet
/// names must be unique and at most 31 characters (the caller names them).
///
/// Rows stream to a temporary file per sheet as they are written (strings inline, no
/// shared string table): a 1.2-million-row 台账 does not sit in memory twice. Sheets are
/// written on as many threads as there are cores (a form of 100 branches is 100 sheets);
/// the package is then compressed in one pass.
pub fn to_xlsx_book<'a>(tables: impl IntoIterator<Item = &'a Table>) -> AppResult<Vec<u8>> {
    let tables: Vec<&Table> = tables.into_iter().collect();
    let mut book = Workbook::new();
    book.set_zip_compression_level(ZIP_LEVEL);
    for t in &tables {
        book.add_worksheet_with_constant_memory()
            .map_err(xlsx_err)?
            .set_name(&t.sheet)
            .map_err(xlsx_err)?;
    }
    let formats = Formats {
        header: Format::new().set_bold().set_background_color("F2DCDB"),
        date: Format::new().set_num_format(DATE_FORMAT),
        datetime: Format::new().set_num_format(DATETIME_FORMAT),
        percent: Format::new().set_num_format(PERCENT_FORMAT),
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(1, tables.len().max(1));
    // Largest sheets first, each to the least loaded thread.
    let mut work: Vec<(&mut Worksheet, &Table)> =
        book.worksheets_mut().iter_mut().zip(tables).collect();
    work.sort_by_key(|(_, t)| std::cmp::Reverse(t.rows.len()));
    let mut shares: Vec<(usize, Vec<(&mut Worksheet, &Table)>)> =
        (0..threads).map(|_| (0, Vec::new())).collect();
    for (sheet, t) in work {
        if let Some(share) = shares.iter_mut().min_by_key(|(rows, _)| *rows) {
            share.0 += t.rows.len();
            share.1.push((sheet, t));
        }
    }
    let formats = &formats;
    std::thread::scope(|scope| {
        let running: Vec<_> = shares
            .into_iter()
            .map(|(_, share)| {
                scope.spawn(move || {
                    share
                        .into_iter()
                        .try_for_each(|(sheet, t)| write_sheet(sheet, t, formats))
                })
            })
            .collect();
        running.into_iter().try_for_each(|r| {
            r.join()
                .map_err(|_| AppError::internal(anyhow::anyhow!("xlsx: a sheet writer panicked")))?
        })
    })?;
    book.save_to_buffer().map_err(xlsx_err)
}

/// One table into its (constant-memory) sheet: widths and panes first, as such a
/// sheet requires, then the header and the rows.
fn write_sheet(sheet: &mut Worksheet, t: &Table, f: &Formats) -> AppResult<()> {
    sheet.set_freeze_panes(1, 0).map_err(xlsx_err)?;
    for (c, w) in widths(t).into_iter().enumerate() {
        let col = u16::try_from(c).map_err(AppError::internal)?;
        sheet.set_column_width(col, w).map_err(xlsx_err)?;
    }
    for (c, h) in t.headers.iter().enumerate() {
        let col = u16::try_from(c).map_err(AppError::internal)?;
        sheet
            .write_string_with_format(0, col, *h, &f.header)
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
                            &f.percent,
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
                        .write_datetime_with_format(r, col, v, &f.date)
                        .map_err(xlsx_err)?;
                }
                Cell::DateTime(t) => {
                    let v = excel_datetime(t).map_err(xlsx_err)?;
                    sheet
                        .write_datetime_with_format(r, col, v, &f.datetime)
                        .map_err(xlsx_err)?;
                }
                Cell::Empty => {}
            }
        }
    }
    Ok(())
}

/// UTF-8 with a byte-order mark, so spreadsheet programs read the Chinese right.
pub fn to_csv(t: &Table) -> AppResult<Vec<u8>> {
    csv_rows(&t.headers, t.rows.iter().map(|r| (None, r.as_slice())))
}

/// The CSV of `headers` and rows, each row after an optional leading field.
fn csv_rows<'a>(
    headers: &[&str],
    rows: impl Iterator<Item = (Option<&'a str>, &'a [Cell])>,
) -> AppResult<Vec<u8>> {
    let mut out = "\u{feff}".as_bytes().to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(headers).map_err(AppError::internal)?;
        let mut buf = String::new();
        for (lead, row) in rows {
            if let Some(lead) = lead {
                w.write_field(neutralize(lead).as_bytes())
                    .map_err(AppError::internal)?;
            }
            for cell in row {
                cell_text(cell, &mut buf);
                w.write_field(buf.as_bytes()).map_err(AppError::internal)?;
            }
            w.write_record(None::<&[u8]>).map_err(AppError::internal)?;
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

/// [`write`] off the async workers: a large table is seconds of CPU that would stall
/// every request queued on the worker. Gives the file and the table's row count.
pub async fn write_off_worker(t: Table, format: ExportFormat) -> AppResult<(Vec<u8>, usize)> {
    let rows = t.rows.len();
    Ok((off_worker(move || write(&t, format)).await?, rows))
}

/// [`write_book`] off the async workers, as [`write_off_worker`].
pub async fn write_book_off_worker(
    sheets: Vec<Sheet>,
    lead: &'static str,
    format: ExportFormat,
) -> AppResult<(Vec<u8>, usize)> {
    let rows = sheets.iter().map(|s| s.table.rows.len()).sum();
    Ok((
        off_worker(move || write_book(&sheets, lead, format)).await?,
        rows,
    ))
}

async fn off_worker(f: impl FnOnce() -> AppResult<Vec<u8>> + Send + 'static) -> AppResult<Vec<u8>> {
    actix_web::web::block(f).await.map_err(AppError::internal)?
}

/// A form of several sheets: each sheet in the XLSX; in the CSV (one table) the sheets'
/// rows one after another under a leading column (`lead`, e.g. 支部) holding each
/// sheet's `title`. Every sheet has the same headers.
#[tracing::instrument(level = "debug", skip_all, fields(?format))]
pub fn write_book(
    sheets: &[Sheet],
    lead: &'static str,
    format: ExportFormat,
) -> AppResult<Vec<u8>> {
    match format {
        ExportFormat::Xlsx => to_xlsx_book(sheets.iter().map(|s| &s.table)),
        ExportFormat::Csv => {
            let mut headers = vec![lead];
            headers.extend(sheets.first().map_or(&[][..], |s| &s.table.headers[..]));
            csv_rows(
                &headers,
                sheets.iter().flat_map(|s| {
                    s.table
                        .rows
                        .iter()
                        .map(|r| (Some(s.title.as_str()), r.as_slice()))
                }),
            )
        }
    }
}

/// One sheet of a form: its table and the full title its rows carry in the CSV (the
/// sheet name may be shortened to fit 31 characters).
#[derive(Debug, Clone)]
pub struct Sheet {
    pub title: String,
    pub table: Table,
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
    fn sheets_written_on_several_threads_keep_their_order_and_rows() {
        // Sizes out of order, so the largest-first split across threads reorders the work.
        let sizes = [3usize, 40, 1, 25, 7];
        let tables: Vec<Table> = sizes
            .iter()
            .enumerate()
            .map(|(i, n)| Table {
                sheet: format!("支部{i}"),
                headers: vec!["姓名", "分值"],
                rows: (0..*n)
                    .map(|r| {
                        vec![
                            Cell::text(format!("党员{i}-{r}")),
                            Cell::Number(Decimal::from(r)),
                        ]
                    })
                    .collect(),
            })
            .collect();
        let bytes = to_xlsx_book(&tables).unwrap();
        let mut book: Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
        let names: Vec<String> = (0..sizes.len()).map(|i| format!("支部{i}")).collect();
        assert_eq!(book.sheet_names(), names);
        for (i, n) in sizes.iter().enumerate() {
            let range = book.worksheet_range(&names[i]).unwrap();
            assert_eq!(range.height(), n + 1, "sheet {i}");
            let last = u32::try_from(*n).unwrap();
            assert_eq!(
                range.get_value((last, 0)),
                Some(&Data::String(format!("党员{i}-{}", n - 1)))
            );
            assert_eq!(
                range.get_value((last, 1)),
                Some(&Data::Float((n - 1) as f64))
            );
        }
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
