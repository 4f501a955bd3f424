//! The ledger's subject index leads with the subject id.
//!
//! `(subject_kind, subject_id, year)` let the planner, with statistics taken while the
//! table was small, match only `subject_kind` in the index and filter every person's
//! lines for a batch's `subject_id IN (…)`: a scan of the whole ledger per batch on the
//! first busy day. Leading with the id, the index either matches the ids or is not used.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LedgerEntries {
    Table,
    SubjectKind,
    SubjectId,
    Year,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("idx_ledger_subject_id_year")
                .table(LedgerEntries::Table)
                .col(LedgerEntries::SubjectId)
                .col(LedgerEntries::Year)
                .col(LedgerEntries::SubjectKind)
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("idx_ledger_subject_year")
                .table(LedgerEntries::Table)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("idx_ledger_subject_year")
                .table(LedgerEntries::Table)
                .col(LedgerEntries::SubjectKind)
                .col(LedgerEntries::SubjectId)
                .col(LedgerEntries::Year)
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("idx_ledger_subject_id_year")
                .table(LedgerEntries::Table)
                .to_owned(),
        )
        .await
    }
}
