//! Roster import from CSV or XLSX (the national member information system's export).
//!
//! Columns, by their Chinese headers: 姓名, 手机号, 支部编码, 类别, 编号 (optional).
//! A person is identified by 编号 when present, else by 手机号. A dry run lists every
//! bad row (row numbers as the spreadsheet shows them, the header being row 1) and
//! changes nothing; a real run is all-or-nothing and idempotent.

use std::collections::HashMap;
use std::io::Cursor;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ConnectionTrait, EntityTrait, QuerySelect, TransactionSession, TransactionTrait,
};
use serde::Serialize;

use super::people::{add_history, check_external_id, check_person_name, today};
use super::{PersonRole, PersonStatus, valid_phone};
use crate::audit::{self, Actor, Entry};
use crate::auth::{Perm, Principal};
use crate::error::{AppError, AppResult, FieldError};
use crate::ids::OrgId;

pub const COL_NAME: &str = "姓名";
pub const COL_PHONE: &str = "手机号";
pub const COL_ORG: &str = "支部编码";
pub const COL_ROLE: &str = "类别";
pub const COL_EXTERNAL: &str = "编号";
pub const HEADERS: [&str; 5] = [COL_NAME, COL_PHONE, COL_ORG, COL_ROLE, COL_EXTERNAL];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    /// XLSX files are zip archives; anything else is read as CSV.
    pub fn sniff(bytes: &[u8]) -> Self {
        if bytes.starts_with(b"PK\x03\x04") {
            Self::Xlsx
        } else {
            Self::Csv
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RowError {
    /// As the spreadsheet shows it: the header is row 1.
    pub row: u32,
    pub column: String,
    /// In Chinese.
    pub reason: String,
}

#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub dry_run: bool,
    pub rows: u32,
    pub created: u32,
    pub updated: u32,
    pub unchanged: u32,
    pub errors: Vec<RowError>,
}

/// A stage of the import, for progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Validating,
    Writing,
}

pub type Progress<'a> = &'a (dyn Fn(Stage, u64, u64) + Sync);

struct RawRow {
    row: u32,
    cells: HashMap<&'static str, String>,
}

fn err(row: u32, column: &str, reason: impl Into<String>) -> RowError {
    RowError {
        row,
        column: column.to_owned(),
        reason: reason.into(),
    }
}

/// Maps the header row; a missing required column is an error on row 1.
fn header_index(header: &[String]) -> Result<HashMap<&'static str, usize>, Vec<RowError>> {
    let mut index = HashMap::new();
    for (i, h) in header.iter().enumerate() {
        let h = h.trim().trim_start_matches('\u{feff}');
        if let Some(known) = HEADERS.iter().find(|k| **k == h) {
            index.entry(*known).or_insert(i);
        }
    }
    let missing: Vec<RowError> = [COL_NAME, COL_PHONE, COL_ORG, COL_ROLE]
        .iter()
        .filter(|c| !index.contains_key(*c))
        .map(|c| err(1, c, format!("缺少“{c}”列")))
        .collect();
    if missing.is_empty() {
        Ok(index)
    } else {
        Err(missing)
    }
}

fn rows_from_table(table: Vec<(u32, Vec<String>)>) -> Result<Vec<RawRow>, Vec<RowError>> {
    let mut iter = table.into_iter();
    let Some((_, header)) = iter.next() else {
        return Err(vec![err(1, "", "文件为空")]);
    };
    let index = header_index(&header)?;
    Ok(iter
        .filter(|(_, cells)| cells.iter().any(|c| !c.trim().is_empty()))
        .map(|(row, cells)| RawRow {
            row,
            cells: index
                .iter()
                .map(|(name, i)| {
                    (
                        *name,
                        cells
                            .get(*i)
                            .map(|c| c.trim().to_owned())
                            .unwrap_or_default(),
                    )
                })
                .collect(),
        })
        .collect())
}

fn parse_csv(bytes: &[u8]) -> Result<Vec<(u32, Vec<String>)>, Vec<RowError>> {
    let text = std::str::from_utf8(bytes).map_err(|_| {
        vec![err(
            1,
            "",
            "文件不是 UTF-8 编码：请另存为“CSV UTF-8”或使用 XLSX 模板",
        )]
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let row = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let record = record.map_err(|e| vec![err(row, "", format!("CSV 格式错误：{e}"))])?;
        out.push((row, record.iter().map(str::to_owned).collect()));
    }
    Ok(out)
}

fn cell_text(cell: &calamine::Data) -> String {
    use calamine::Data;
    match cell {
        Data::String(s) => s.clone(),
        // Spreadsheets store phone numbers and ids as numbers: print them without ".0".
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::DateTime(d) => d.to_string(),
        Data::Error(_) | Data::Empty => String::new(),
    }
}

/// An XLSX is a zip archive: a few hundred kilobytes can inflate to gigabytes. A real
/// roster of 200,000 rows inflates to well under this.
const MAX_XLSX_INFLATED: u64 = 128 * 1024 * 1024;
/// Rows a roster file may hold (the largest committees have ~100,000 members).
const MAX_ROWS: usize = 200_000;

/// Inflates every part of the archive into nothing, counting, and stops at the cap:
/// declared sizes can lie, so the bytes actually produced are what is counted.
fn check_inflated_size(bytes: &[u8]) -> Result<(), Vec<RowError>> {
    let unreadable =
        |e: zip::result::ZipError| vec![err(1, "", format!("无法读取 XLSX 文件：{e}"))];
    let too_big = || {
        vec![err(
            1,
            "",
            format!(
                "XLSX 文件解压后过大（超过 {} MB），疑似压缩炸弹，已拒绝；请删除多余内容或拆分后再导入",
                MAX_XLSX_INFLATED / 1024 / 1024
            ),
        )]
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(unreadable)?;
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let mut part = archive.by_index(i).map_err(unreadable)?;
        let left = MAX_XLSX_INFLATED - total;
        if part.size() > left {
            return Err(too_big());
        }
        let read = std::io::copy(
            &mut std::io::Read::take(&mut part, left + 1),
            &mut std::io::sink(),
        )
        .map_err(|e| vec![err(1, "", format!("无法读取 XLSX 文件：{e}"))])?;
        total += read;
        if total > MAX_XLSX_INFLATED {
            return Err(too_big());
        }
    }
    Ok(())
}

/// Columns read from a sheet: the template has 5; a roster export may carry a few more.
const MAX_COLUMNS: u32 = 64;

/// Reads the first sheet cell by cell (not as a dense range, which a sheet with one
/// cell at A1 and one at XFD1048576 would make enormous), keeping the first
/// `MAX_COLUMNS` columns and refusing more than `MAX_ROWS` rows.
fn parse_xlsx(bytes: &[u8]) -> Result<Vec<(u32, Vec<String>)>, Vec<RowError>> {
    use calamine::{Data, Reader, Xlsx};
    check_inflated_size(bytes)?;
    let unreadable = |e: calamine::XlsxError| vec![err(1, "", format!("无法读取工作表：{e}"))];
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
        .map_err(|e| vec![err(1, "", format!("无法读取 XLSX 文件：{e}"))])?;
    let name = book
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| vec![err(1, "", "XLSX 文件没有工作表")])?;
    let mut cells = book.worksheet_cells_reader(&name).map_err(unreadable)?;
    let mut rows: std::collections::BTreeMap<u32, Vec<String>> = std::collections::BTreeMap::new();
    while let Some(cell) = cells.next_cell().map_err(unreadable)? {
        let (row, col) = cell.get_position();
        if col >= MAX_COLUMNS {
            continue;
        }
        let text = cell_text(&Data::from(cell.get_value().clone()));
        if text.is_empty() {
            continue;
        }
        let rows_len = rows.len();
        let cells_of_row = match rows.entry(row + 1) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                if rows_len > MAX_ROWS {
                    return Err(vec![err(
                        1,
                        "",
                        format!("名册超过 {MAX_ROWS} 行，请拆分后分批导入"),
                    )]);
                }
                e.insert(Vec::new())
            }
        };
        let col = usize::try_from(col).unwrap_or(0);
        if cells_of_row.len() <= col {
            cells_of_row.resize(col + 1, String::new());
        }
        cells_of_row[col] = text;
    }
    Ok(rows.into_iter().collect())
}

fn parse(bytes: &[u8], format: Format) -> Result<Vec<RawRow>, Vec<RowError>> {
    let table = match format {
        Format::Csv => parse_csv(bytes)?,
        Format::Xlsx => parse_xlsx(bytes)?,
    };
    if table.len() > MAX_ROWS + 1 {
        return Err(vec![err(
            1,
            "",
            format!("名册超过 {MAX_ROWS} 行，请拆分后分批导入"),
        )]);
    }
    rows_from_table(table)
}

/// A row that passed validation.
struct Valid {
    row: u32,
    name: String,
    phone: Option<String>,
    org_id: i64,
    role: PersonRole,
    external_id: Option<String>,
}

struct Existing {
    by_ext: HashMap<String, usize>,
    by_phone: HashMap<String, usize>,
    people: Vec<entity::person::Model>,
}

async fn load_existing(db: &impl ConnectionTrait) -> AppResult<Existing> {
    let people = entity::person::Entity::find().all(db).await?;
    let mut by_ext = HashMap::new();
    let mut by_phone = HashMap::new();
    for (i, p) in people.iter().enumerate() {
        if let Some(e) = &p.external_id {
            by_ext.insert(e.clone(), i);
        }
        if let Some(ph) = &p.phone {
            by_phone.insert(ph.clone(), i);
        }
    }
    Ok(Existing {
        by_ext,
        by_phone,
        people,
    })
}

fn validate(
    rows: &[RawRow],
    orgs: &HashMap<String, (i64, String)>,
    principal: Option<&Principal>,
    progress: Progress<'_>,
) -> (Vec<Valid>, Vec<RowError>) {
    let mut valid = Vec::with_capacity(rows.len());
    let mut errors = Vec::new();
    let mut seen_ext: HashMap<String, u32> = HashMap::new();
    let mut seen_phone: HashMap<String, u32> = HashMap::new();
    let total = rows.len() as u64;
    for (n, raw) in rows.iter().enumerate() {
        if n % 5000 == 0 {
            progress(Stage::Validating, n as u64, total);
        }
        let row = raw.row;
        let cell = |c: &str| raw.cells.get(c).map(String::as_str).unwrap_or_default();
        let before = errors.len();
        let name = check_person_name(cell(COL_NAME))
            .map_err(|m| errors.push(err(row, COL_NAME, m)))
            .ok();
        let external_id = match cell(COL_EXTERNAL) {
            "" => None,
            e => check_external_id(e)
                .map_err(|m| errors.push(err(row, COL_EXTERNAL, m)))
                .ok(),
        };
        let phone = match cell(COL_PHONE) {
            "" if external_id.is_none() && cell(COL_EXTERNAL).is_empty() => {
                errors.push(err(row, COL_PHONE, "没有编号时手机号必填"));
                None
            }
            "" => None,
            p if valid_phone(p) => Some(p.to_owned()),
            _ => {
                errors.push(err(row, COL_PHONE, "手机号须为 11 位数字，以 1 开头"));
                None
            }
        };
        let org = match cell(COL_ORG) {
            "" => {
                errors.push(err(row, COL_ORG, "支部编码必填"));
                None
            }
            code => match orgs.get(code) {
                None => {
                    errors.push(err(row, COL_ORG, format!("支部编码“{code}”不存在")));
                    None
                }
                Some((_, path)) if principal.is_some_and(|p| !p.covers(path)) => {
                    errors.push(err(row, COL_ORG, format!("支部“{code}”不在您的管辖范围内")));
                    None
                }
                Some((id, _)) => Some(*id),
            },
        };
        let role = match PersonRole::from_label(cell(COL_ROLE)) {
            Some(r) => Some(r),
            None => {
                errors.push(err(
                    row,
                    COL_ROLE,
                    format!(
                        "类别“{}”无效，应为 正式党员、预备党员、入党申请人、入党积极分子 或 发展对象",
                        cell(COL_ROLE)
                    ),
                ));
                None
            }
        };
        if let Some(e) = &external_id
            && let Some(first) = seen_ext.insert(e.clone(), row)
        {
            errors.push(err(row, COL_EXTERNAL, format!("编号与第 {first} 行重复")));
        }
        if let Some(p) = &phone
            && let Some(first) = seen_phone.insert(p.clone(), row)
        {
            errors.push(err(row, COL_PHONE, format!("手机号与第 {first} 行重复")));
        }
        if errors.len() == before
            && let (Some(name), Some(org_id), Some(role)) = (name, org, role)
        {
            valid.push(Valid {
                row,
                name,
                phone,
                org_id,
                role,
                external_id,
            });
        }
    }
    (valid, errors)
}

enum Plan {
    Create(Valid),
    Update(usize, Valid),
}

/// The one message for every matching conflict: it must not tell anything about the
/// other person (their 编号, name or organization), nor whether they are outside the
/// importer's scope.
const CONFLICT: &str = "编号或手机号与已有人员冲突，请核对；确属本人的，请联系上级管理员处理";

/// Matches rows to existing people; conflicts become row errors. `visible` says whether
/// an existing person lies in the importer's subtree: a match outside it is a conflict
/// like any other, so an import never moves, renames or reveals someone it may not see.
fn plan(
    valid: Vec<Valid>,
    existing: &Existing,
    visible: &dyn Fn(&entity::person::Model) -> bool,
    errors: &mut Vec<RowError>,
) -> (Vec<Plan>, u32) {
    let mut plans = Vec::new();
    let mut unchanged = 0;
    for v in valid {
        let by_phone = v
            .phone
            .as_ref()
            .and_then(|p| existing.by_phone.get(p))
            .copied();
        let by_ext = v
            .external_id
            .as_ref()
            .and_then(|e| existing.by_ext.get(e))
            .copied();
        if let Some(i) = by_ext
            && !visible(&existing.people[i])
        {
            errors.push(err(v.row, COL_EXTERNAL, CONFLICT));
            continue;
        }
        if let Some(i) = by_phone
            && !visible(&existing.people[i])
        {
            errors.push(err(v.row, COL_PHONE, CONFLICT));
            continue;
        }
        let target = match &v.external_id {
            Some(_) => match by_ext {
                Some(i) => Some(i),
                // Known by phone but not yet by 编号: the 编号 is learnt now.
                None => match by_phone {
                    Some(i) if existing.people[i].external_id.is_none() => Some(i),
                    Some(_) => {
                        errors.push(err(v.row, COL_PHONE, CONFLICT));
                        continue;
                    }
                    None => None,
                },
            },
            None => by_phone,
        };
        match target {
            None => plans.push(Plan::Create(v)),
            Some(i) => {
                let p = &existing.people[i];
                if by_phone.is_some_and(|owner| owner != i) {
                    errors.push(err(v.row, COL_PHONE, CONFLICT));
                    continue;
                }
                let same = p.name == v.name
                    && (v.phone.is_none() || p.phone == v.phone)
                    && p.org_id == v.org_id
                    && p.role == v.role.as_str()
                    && (v.external_id.is_none() || p.external_id == v.external_id);
                if same {
                    unchanged += 1;
                } else {
                    plans.push(Plan::Update(i, v));
                }
            }
        }
    }
    (plans, unchanged)
}

#[derive(Serialize)]
struct AuditRow<'a> {
    name: &'a str,
    external_id: Option<&'a str>,
    phone: Option<String>,
    org_id: i64,
    role: &'a str,
}

/// Imports a roster file. `principal` is None for the CLI (server operator).
pub async fn import(
    db: &(impl ConnectionTrait + TransactionTrait),
    actor: &Actor,
    principal: Option<&Principal>,
    bytes: &[u8],
    dry_run: bool,
    progress: Progress<'_>,
) -> AppResult<ImportReport> {
    if let Some(p) = principal {
        p.require(Perm::PeopleWrite)?;
    }
    let mut report = ImportReport {
        dry_run,
        ..ImportReport::default()
    };
    let rows = match parse(bytes, Format::sniff(bytes)) {
        Ok(rows) => rows,
        Err(errors) => {
            report.errors = errors;
            return finish(report);
        }
    };
    report.rows = u32::try_from(rows.len()).unwrap_or(u32::MAX);
    let orgs: HashMap<String, (i64, String)> = entity::organization::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.code, (o.id, o.path)))
        .collect();
    let paths: HashMap<i64, &str> = orgs.values().map(|(id, p)| (*id, p.as_str())).collect();
    let visible = |p: &entity::person::Model| {
        principal.is_none_or(|pr| paths.get(&p.org_id).is_some_and(|path| pr.covers(path)))
    };
    let (valid, mut errors) = validate(&rows, &orgs, principal, progress);
    drop(rows);
    let txn = crate::db::begin(db).await?;
    let existing = load_existing(&txn).await?;
    let (plans, unchanged) = plan(valid, &existing, &visible, &mut errors);
    report.unchanged = unchanged;
    errors.sort_by_key(|e| e.row);
    report.errors = errors;
    for p in &plans {
        match p {
            Plan::Create(_) => report.created += 1,
            Plan::Update(..) => report.updated += 1,
        }
    }
    if dry_run || !report.errors.is_empty() {
        // Nothing written: the transaction is dropped.
        return finish(report);
    }
    write(&txn, actor, &existing, plans, progress).await?;
    txn.commit().await?;
    Ok(report)
}

fn finish(report: ImportReport) -> AppResult<ImportReport> {
    if report.dry_run || report.errors.is_empty() {
        return Ok(report);
    }
    let n = report.errors.len();
    let errors = report
        .errors
        .into_iter()
        .map(|e| FieldError {
            field: e.column,
            message: e.reason,
            row: Some(e.row),
        })
        .collect();
    Err(AppError::validation(format!("名册有 {n} 处错误，未导入任何数据")).with_errors(errors))
}

async fn write(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    existing: &Existing,
    plans: Vec<Plan>,
    progress: Progress<'_>,
) -> AppResult<()> {
    let now = Utc::now();
    let total = plans.len() as u64;
    let (creates, updates): (Vec<_>, Vec<_>) = plans
        .into_iter()
        .partition(|p| matches!(p, Plan::Create(_)));
    let mut done = 0u64;
    let creates: Vec<Valid> = creates
        .into_iter()
        .filter_map(|p| match p {
            Plan::Create(v) => Some(v),
            Plan::Update(..) => None,
        })
        .collect();
    for chunk in creates.chunks(1000) {
        let models = chunk.iter().map(|v| entity::person::ActiveModel {
            id: NotSet,
            external_id: Set(v.external_id.clone()),
            name: Set(v.name.clone()),
            phone: Set(v.phone.clone()),
            org_id: Set(v.org_id),
            role: Set(v.role.as_str().to_owned()),
            status: Set(PersonStatus::Active.as_str().to_owned()),
            openid: Set(None),
            birth_date: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        });
        entity::person::Entity::insert_many(models)
            .exec_without_returning(txn)
            .await?;
        done += chunk.len() as u64;
        progress(Stage::Writing, done, total);
    }
    if !creates.is_empty() {
        // Ids of the new rows, for the audit log: one scan instead of a round trip per row.
        let ids: HashMap<(Option<String>, Option<String>), i64> = entity::person::Entity::find()
            .select_only()
            .columns([
                entity::person::Column::Id,
                entity::person::Column::ExternalId,
                entity::person::Column::Phone,
            ])
            .into_tuple::<(i64, Option<String>, Option<String>)>()
            .all(txn)
            .await?
            .into_iter()
            .map(|(id, ext, phone)| ((ext, phone), id))
            .collect();
        let entries = creates
            .iter()
            .map(|v| {
                let id = ids
                    .get(&(v.external_id.clone(), v.phone.clone()))
                    .copied()
                    .unwrap_or_default();
                Entry::new("import_create", "person", id)
                    .org(OrgId(v.org_id))
                    .after(AuditRow {
                        name: &v.name,
                        external_id: v.external_id.as_deref(),
                        phone: v.phone.as_deref().map(super::mask_phone),
                        org_id: v.org_id,
                        role: v.role.as_str(),
                    })
            })
            .collect();
        audit::record_many(txn, actor, entries).await?;
    }
    for plan in updates {
        let Plan::Update(i, v) = plan else { continue };
        let before = &existing.people[i];
        let effective = today();
        if before.role != v.role.as_str() {
            add_history(
                txn,
                before.id,
                "role",
                Some(before.role.clone()),
                Some(v.role.as_str().to_owned()),
                effective,
                Some("名册导入".to_owned()),
                actor,
            )
            .await?;
        }
        if before.org_id != v.org_id {
            add_history(
                txn,
                before.id,
                "transfer",
                Some(before.org_id.to_string()),
                Some(v.org_id.to_string()),
                effective,
                Some("名册导入".to_owned()),
                actor,
            )
            .await?;
        }
        let mut active: entity::person::ActiveModel = before.clone().into();
        active.name = Set(v.name.clone());
        if v.phone.is_some() {
            active.phone = Set(v.phone.clone());
        }
        if v.external_id.is_some() {
            active.external_id = Set(v.external_id.clone());
        }
        active.org_id = Set(v.org_id);
        active.role = Set(v.role.as_str().to_owned());
        active.updated_at = Set(now);
        let after = active.update(txn).await?;
        let snapshot = |p: &entity::person::Model| {
            serde_json::json!({
                "name": p.name, "external_id": p.external_id,
                "phone": p.phone.as_deref().map(super::mask_phone),
                "org_id": p.org_id, "role": p.role,
            })
        };
        audit::record(
            txn,
            actor,
            Entry::new("import_update", "person", before.id)
                .org(OrgId(after.org_id))
                .before(snapshot(before))
                .after(snapshot(&after)),
        )
        .await?;
        done += 1;
        progress(Stage::Writing, done, total);
    }
    Ok(())
}

/// The CSV template (UTF-8 with BOM so Excel opens it correctly).
pub fn template_csv() -> Vec<u8> {
    let mut out = "\u{feff}".as_bytes().to_vec();
    out.extend_from_slice(HEADERS.join(",").as_bytes());
    out.extend_from_slice("\n张三,13800138000,ZB001,正式党员,\n".as_bytes());
    out
}

/// The XLSX template: the header row, an example row, and text-formatted columns
/// so phone numbers keep their digits.
pub fn template_xlsx() -> AppResult<Vec<u8>> {
    use rust_xlsxwriter::{Format as XFormat, Workbook};
    let mut book = Workbook::new();
    let text = XFormat::new().set_num_format("@");
    let bold = XFormat::new().set_bold();
    let sheet = book.add_worksheet();
    let fail =
        |e: rust_xlsxwriter::XlsxError| AppError::internal(anyhow::anyhow!("xlsx template: {e}"));
    sheet.set_name("名册").map_err(fail)?;
    for (col, h) in (0u16..).zip(HEADERS) {
        sheet
            .write_string_with_format(0, col, h, &bold)
            .map_err(fail)?;
        sheet.set_column_format(col, &text).map_err(fail)?;
        sheet.set_column_width(col, 16).map_err(fail)?;
    }
    for (col, v) in (0u16..).zip(["张三", "13800138000", "ZB001", "正式党员", ""]) {
        sheet
            .write_string_with_format(1, col, v, &text)
            .map_err(fail)?;
    }
    book.save_to_buffer().map_err(fail)
}
