//! Cases (disputes now; investigations, publicity objections and falsification cases
//! later), their messages and attachments, and the upload store the attachments live in
//! (bytes in the database, so every instance serves them).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Cases {
    Table,
    Id,
    Kind,
    SubjectPersonId,
    TargetKind,
    TargetId,
    ActivityId,
    Year,
    FiledOrgId,
    OrgId,
    State,
    OpenKey,
    Reason,
    Proposal,
    Outcome,
    OutcomeFactId,
    Deadline,
    Escalations,
    FiledAt,
    DecidedBy,
    ClosedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CaseMessages {
    Table,
    Id,
    CaseId,
    Action,
    AuthorKind,
    AuthorId,
    AuthorName,
    Body,
    At,
}

#[derive(DeriveIden)]
enum CaseAttachments {
    Table,
    Id,
    CaseId,
    UploadId,
    AddedAt,
}

#[derive(DeriveIden)]
enum Uploads {
    Table,
    Id,
    ContentType,
    Size,
    Sha256,
    Bytes,
    OwnerKind,
    OwnerId,
    CaseId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

fn ts(col: impl IntoIden) -> ColumnDef {
    timestamp_with_time_zone(col)
}

fn fk(
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to.0, to.1)
        .to_owned()
}

async fn index(
    m: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    cols: Vec<DynIden>,
    unique: bool,
) -> Result<(), DbErr> {
    let mut idx = Index::create();
    idx.name(name).table(table);
    for c in cols {
        idx.col(c);
    }
    if unique {
        idx.unique();
    }
    m.create_index(idx.to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Cases::Table)
                .col(big_pk_auto(Cases::Id))
                .col(string(Cases::Kind))
                .col(big_integer_null(Cases::SubjectPersonId))
                .col(string(Cases::TargetKind))
                .col(big_integer(Cases::TargetId))
                .col(big_integer_null(Cases::ActivityId))
                .col(integer(Cases::Year))
                // The subject's organization when filed (who may see it) and the one
                // answering now (moves up on escalation).
                .col(big_integer(Cases::FiledOrgId))
                .col(big_integer(Cases::OrgId))
                .col(string(Cases::State))
                // Set while the case is open: one open case per kind, subject and target.
                .col(string_null(Cases::OpenKey).unique_key())
                .col(text(Cases::Reason))
                .col(text_null(Cases::Proposal))
                .col(text_null(Cases::Outcome))
                .col(big_integer_null(Cases::OutcomeFactId))
                .col(ts(Cases::Deadline))
                .col(integer(Cases::Escalations))
                .col(ts(Cases::FiledAt))
                .col(big_integer_null(Cases::DecidedBy))
                .col(timestamp_with_time_zone_null(Cases::ClosedAt))
                .col(ts(Cases::UpdatedAt))
                .foreign_key(&mut fk(
                    (Cases::Table, Cases::FiledOrgId),
                    (Organizations::Table, Organizations::Id),
                ))
                .foreign_key(&mut fk(
                    (Cases::Table, Cases::OrgId),
                    (Organizations::Table, Organizations::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_cases_org_state",
            Cases::Table,
            vec![Cases::OrgId.into_iden(), Cases::State.into_iden()],
            false,
        )
        .await?;
        index(
            m,
            "idx_cases_subject",
            Cases::Table,
            vec![Cases::SubjectPersonId.into_iden(), Cases::Id.into_iden()],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(CaseMessages::Table)
                .col(big_pk_auto(CaseMessages::Id))
                .col(big_integer(CaseMessages::CaseId))
                .col(string(CaseMessages::Action))
                .col(string(CaseMessages::AuthorKind))
                .col(big_integer_null(CaseMessages::AuthorId))
                .col(string(CaseMessages::AuthorName))
                .col(text(CaseMessages::Body))
                .col(ts(CaseMessages::At))
                .foreign_key(&mut fk(
                    (CaseMessages::Table, CaseMessages::CaseId),
                    (Cases::Table, Cases::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_case_messages_case",
            CaseMessages::Table,
            vec![CaseMessages::CaseId.into_iden()],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Uploads::Table)
                .col(big_pk_auto(Uploads::Id))
                .col(string(Uploads::ContentType))
                .col(big_integer(Uploads::Size))
                .col(string(Uploads::Sha256))
                .col(blob(Uploads::Bytes))
                .col(string(Uploads::OwnerKind))
                .col(big_integer_null(Uploads::OwnerId))
                .col(big_integer_null(Uploads::CaseId))
                .col(ts(Uploads::CreatedAt))
                .foreign_key(&mut fk(
                    (Uploads::Table, Uploads::CaseId),
                    (Cases::Table, Cases::Id),
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(CaseAttachments::Table)
                .col(big_pk_auto(CaseAttachments::Id))
                .col(big_integer(CaseAttachments::CaseId))
                .col(big_integer(CaseAttachments::UploadId))
                .col(ts(CaseAttachments::AddedAt))
                .foreign_key(&mut fk(
                    (CaseAttachments::Table, CaseAttachments::CaseId),
                    (Cases::Table, Cases::Id),
                ))
                .foreign_key(&mut fk(
                    (CaseAttachments::Table, CaseAttachments::UploadId),
                    (Uploads::Table, Uploads::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_case_attachments_case",
            CaseAttachments::Table,
            vec![CaseAttachments::CaseId.into_iden()],
            false,
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            CaseAttachments::Table.into_iden(),
            Uploads::Table.into_iden(),
            CaseMessages::Table.into_iden(),
            Cases::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
