//! The members' side of the review cycle: leave requests (请假), declarations (申报)
//! and the proposals the platform makes to the secretary (EQ-3 absences, TW-5's six
//! months). Each row is one request with its answer; the scores change only through
//! the facts an approval or a confirmation records.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LeaveRequests {
    Table,
    Id,
    PersonId,
    ActivityId,
    OrgId,
    Reason,
    State,
    /// `leave:<activity>:<person>` while requested or approved: one live request.
    OpenKey,
    EnteredByKind,
    EnteredById,
    EnteredByName,
    RequestedAt,
    DecidedAt,
    DecidedById,
    DecidedByName,
    DecisionReason,
    NoticeSentAt,
}

#[derive(DeriveIden)]
enum Declarations {
    Table,
    Id,
    PersonId,
    OrgId,
    Item,
    OnDate,
    Year,
    Description,
    UploadId,
    State,
    FormKey,
    EnteredByKind,
    EnteredById,
    EnteredByName,
    SubmittedAt,
    Fields,
    DecidedAt,
    DecidedById,
    DecidedByName,
    DecisionReason,
    FactId,
    NoticeSentAt,
}

#[derive(DeriveIden)]
enum Proposals {
    Table,
    Id,
    Kind,
    Rule,
    PersonId,
    OrgId,
    ActivityId,
    Period,
    Item,
    At,
    Note,
    State,
    DedupKey,
    CreatedAt,
    DecidedAt,
    DecidedById,
    DecidedByName,
    Reason,
    FactId,
}

#[derive(DeriveIden)]
enum People {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Activities {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(LeaveRequests::Table)
                .col(big_pk_auto(LeaveRequests::Id))
                .col(big_integer(LeaveRequests::PersonId))
                .col(big_integer(LeaveRequests::ActivityId))
                .col(big_integer(LeaveRequests::OrgId))
                .col(text(LeaveRequests::Reason))
                .col(string(LeaveRequests::State))
                .col(string_null(LeaveRequests::OpenKey).unique_key())
                .col(string(LeaveRequests::EnteredByKind))
                .col(big_integer_null(LeaveRequests::EnteredById))
                .col(string(LeaveRequests::EnteredByName))
                .col(timestamp_with_time_zone(LeaveRequests::RequestedAt))
                .col(timestamp_with_time_zone_null(LeaveRequests::DecidedAt))
                .col(big_integer_null(LeaveRequests::DecidedById))
                .col(string_null(LeaveRequests::DecidedByName))
                .col(text_null(LeaveRequests::DecisionReason))
                .col(timestamp_with_time_zone_null(LeaveRequests::NoticeSentAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(LeaveRequests::Table, LeaveRequests::PersonId)
                        .to(People::Table, People::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(LeaveRequests::Table, LeaveRequests::ActivityId)
                        .to(Activities::Table, Activities::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_leave_requests_activity")
                .table(LeaveRequests::Table)
                .col(LeaveRequests::ActivityId)
                .col(LeaveRequests::PersonId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_leave_requests_org_state")
                .table(LeaveRequests::Table)
                .col(LeaveRequests::OrgId)
                .col(LeaveRequests::State)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Declarations::Table)
                .col(big_pk_auto(Declarations::Id))
                .col(big_integer(Declarations::PersonId))
                .col(big_integer(Declarations::OrgId))
                .col(string(Declarations::Item))
                .col(date(Declarations::OnDate))
                .col(integer(Declarations::Year))
                .col(text(Declarations::Description))
                .col(big_integer_null(Declarations::UploadId))
                .col(string(Declarations::State))
                // The form's id: a double submit stores one declaration.
                .col(string_null(Declarations::FormKey).unique_key())
                .col(string(Declarations::EnteredByKind))
                .col(big_integer_null(Declarations::EnteredById))
                .col(string(Declarations::EnteredByName))
                .col(timestamp_with_time_zone(Declarations::SubmittedAt))
                .col(text_null(Declarations::Fields))
                .col(timestamp_with_time_zone_null(Declarations::DecidedAt))
                .col(big_integer_null(Declarations::DecidedById))
                .col(string_null(Declarations::DecidedByName))
                .col(text_null(Declarations::DecisionReason))
                .col(big_integer_null(Declarations::FactId))
                .col(timestamp_with_time_zone_null(Declarations::NoticeSentAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Declarations::Table, Declarations::PersonId)
                        .to(People::Table, People::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_declarations_person")
                .table(Declarations::Table)
                .col(Declarations::PersonId)
                .col(Declarations::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_declarations_org_state")
                .table(Declarations::Table)
                .col(Declarations::OrgId)
                .col(Declarations::State)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Proposals::Table)
                .col(big_pk_auto(Proposals::Id))
                .col(string(Proposals::Kind))
                .col(string(Proposals::Rule))
                .col(big_integer(Proposals::PersonId))
                .col(big_integer(Proposals::OrgId))
                .col(big_integer_null(Proposals::ActivityId))
                .col(string(Proposals::Period))
                .col(string(Proposals::Item))
                // When the proposed item happened (the activity's start, the month's end).
                .col(timestamp_with_time_zone(Proposals::At))
                .col(text(Proposals::Note))
                .col(string(Proposals::State))
                // One proposal per finding, whichever instance finds it.
                .col(string(Proposals::DedupKey).unique_key())
                .col(timestamp_with_time_zone(Proposals::CreatedAt))
                .col(timestamp_with_time_zone_null(Proposals::DecidedAt))
                .col(big_integer_null(Proposals::DecidedById))
                .col(string_null(Proposals::DecidedByName))
                .col(text_null(Proposals::Reason))
                .col(big_integer_null(Proposals::FactId))
                .foreign_key(
                    ForeignKey::create()
                        .from(Proposals::Table, Proposals::PersonId)
                        .to(People::Table, People::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_proposals_org_state")
                .table(Proposals::Table)
                .col(Proposals::OrgId)
                .col(Proposals::State)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            Proposals::Table.into_iden(),
            Declarations::Table.into_iden(),
            LeaveRequests::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
