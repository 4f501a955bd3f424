//! Foundation: system settings, organizations, people and their history,
//! exemptions, accounts, auth sessions, the audit log.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SystemSettings {
    Table,
    Key,
    Value,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    ParentId,
    Path,
    Code,
    Name,
    Kind,
    Timezone,
    ShowRankToMembers,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum People {
    Table,
    Id,
    ExternalId,
    Name,
    Phone,
    OrgId,
    Role,
    Status,
    Openid,
    BirthDate,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PersonHistory {
    Table,
    Id,
    PersonId,
    Kind,
    FromValue,
    ToValue,
    EffectiveOn,
    Reason,
    ActorId,
    RecordedAt,
}

#[derive(DeriveIden)]
enum Exemptions {
    Table,
    Id,
    PersonId,
    Action,
    Year,
    Reason,
    Approver,
    ApprovedOn,
    ActorId,
    RecordedAt,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    Username,
    DisplayName,
    PasswordHash,
    Role,
    OrgId,
    Disabled,
    MustChangePassword,
    PasswordChangedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AuthSessions {
    Table,
    Id,
    AccountId,
    RefreshHash,
    CreatedAt,
    RefreshedAt,
    ExpiresAt,
    RevokedAt,
    Ip,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    At,
    ActorKind,
    ActorId,
    ActorName,
    Ip,
    Action,
    Entity,
    EntityId,
    OrgId,
    Before,
    After,
}

fn ts(col: impl IntoIden) -> ColumnDef {
    timestamp_with_time_zone(col)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SystemSettings::Table)
                .col(string(SystemSettings::Key).primary_key())
                .col(text(SystemSettings::Value))
                .col(ts(SystemSettings::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Organizations::Table)
                .col(big_pk_auto(Organizations::Id))
                .col(big_integer_null(Organizations::ParentId))
                // Materialized path "/1/5/12/" for subtree scope checks and queries.
                .col(string(Organizations::Path))
                .col(string_uniq(Organizations::Code))
                .col(string(Organizations::Name))
                .col(string(Organizations::Kind))
                .col(string(Organizations::Timezone))
                .col(boolean(Organizations::ShowRankToMembers).default(false))
                .col(ts(Organizations::CreatedAt))
                .col(ts(Organizations::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Organizations::Table, Organizations::ParentId)
                        .to(Organizations::Table, Organizations::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_organizations_path")
                .table(Organizations::Table)
                .col(Organizations::Path)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(People::Table)
                .col(big_pk_auto(People::Id))
                .col(string_null(People::ExternalId).unique_key())
                .col(string(People::Name))
                .col(string_null(People::Phone).unique_key())
                .col(big_integer(People::OrgId))
                .col(string(People::Role))
                .col(string(People::Status))
                .col(string_null(People::Openid).unique_key())
                .col(date_null(People::BirthDate))
                .col(ts(People::CreatedAt))
                .col(ts(People::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(People::Table, People::OrgId)
                        .to(Organizations::Table, Organizations::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_people_org")
                .table(People::Table)
                .col(People::OrgId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(PersonHistory::Table)
                .col(big_pk_auto(PersonHistory::Id))
                .col(big_integer(PersonHistory::PersonId))
                .col(string(PersonHistory::Kind))
                .col(string_null(PersonHistory::FromValue))
                .col(string_null(PersonHistory::ToValue))
                .col(date(PersonHistory::EffectiveOn))
                .col(text_null(PersonHistory::Reason))
                .col(big_integer_null(PersonHistory::ActorId))
                .col(ts(PersonHistory::RecordedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(PersonHistory::Table, PersonHistory::PersonId)
                        .to(People::Table, People::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_person_history_person")
                .table(PersonHistory::Table)
                .col(PersonHistory::PersonId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Exemptions::Table)
                .col(big_pk_auto(Exemptions::Id))
                .col(big_integer(Exemptions::PersonId))
                .col(string(Exemptions::Action))
                .col(integer_null(Exemptions::Year))
                .col(text(Exemptions::Reason))
                .col(string(Exemptions::Approver))
                .col(date(Exemptions::ApprovedOn))
                .col(big_integer_null(Exemptions::ActorId))
                .col(ts(Exemptions::RecordedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Exemptions::Table, Exemptions::PersonId)
                        .to(People::Table, People::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_exemptions_person")
                .table(Exemptions::Table)
                .col(Exemptions::PersonId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Accounts::Table)
                .col(big_pk_auto(Accounts::Id))
                .col(string_uniq(Accounts::Username))
                .col(string(Accounts::DisplayName))
                .col(string(Accounts::PasswordHash))
                .col(string(Accounts::Role))
                .col(big_integer_null(Accounts::OrgId))
                .col(boolean(Accounts::Disabled).default(false))
                .col(boolean(Accounts::MustChangePassword).default(false))
                .col(ts(Accounts::PasswordChangedAt))
                .col(ts(Accounts::CreatedAt))
                .col(ts(Accounts::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Accounts::Table, Accounts::OrgId)
                        .to(Organizations::Table, Organizations::Id),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(AuthSessions::Table)
                .col(string(AuthSessions::Id).primary_key())
                .col(big_integer(AuthSessions::AccountId))
                .col(string(AuthSessions::RefreshHash))
                .col(ts(AuthSessions::CreatedAt))
                .col(ts(AuthSessions::RefreshedAt))
                .col(ts(AuthSessions::ExpiresAt))
                .col(timestamp_with_time_zone_null(AuthSessions::RevokedAt))
                .col(string_null(AuthSessions::Ip))
                .foreign_key(
                    ForeignKey::create()
                        .from(AuthSessions::Table, AuthSessions::AccountId)
                        .to(Accounts::Table, Accounts::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_auth_sessions_account")
                .table(AuthSessions::Table)
                .col(AuthSessions::AccountId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(AuditLog::Table)
                .col(big_pk_auto(AuditLog::Id))
                .col(ts(AuditLog::At))
                .col(string(AuditLog::ActorKind))
                .col(big_integer_null(AuditLog::ActorId))
                .col(string(AuditLog::ActorName))
                .col(string_null(AuditLog::Ip))
                .col(string(AuditLog::Action))
                .col(string(AuditLog::Entity))
                .col(string_null(AuditLog::EntityId))
                .col(big_integer_null(AuditLog::OrgId))
                .col(text_null(AuditLog::Before))
                .col(text_null(AuditLog::After))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_audit_log_entity")
                .table(AuditLog::Table)
                .col(AuditLog::Entity)
                .col(AuditLog::EntityId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_audit_log_at")
                .table(AuditLog::Table)
                .col(AuditLog::At)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditLog::Table.into_iden(),
            AuthSessions::Table.into_iden(),
            Accounts::Table.into_iden(),
            Exemptions::Table.into_iden(),
            PersonHistory::Table.into_iden(),
            People::Table.into_iden(),
            Organizations::Table.into_iden(),
            SystemSettings::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
