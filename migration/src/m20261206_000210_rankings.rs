//! EQ-4 … EQ-7 and the own-rank proposal: quarterly rankings filed with the committee
//! (报送备案), the handling of EQ-6 flags, and proposals an admin confirms or declines.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RankingFilings {
    Table,
    Id,
    OrgId,
    PublicityId,
    Year,
    Period,
    N,
    Version,
    FiledBy,
    FiledAt,
    Note,
}

#[derive(DeriveIden)]
enum RankFlagHandlings {
    Table,
    Id,
    PersonId,
    OrgId,
    Year,
    Rule,
    Flag,
    Evidence,
    Action,
    HandledBy,
    HandledAt,
}

#[derive(DeriveIden)]
enum OrgProposals {
    Table,
    Id,
    OrgId,
    Year,
    Setting,
    Policy,
    Reason,
    State,
    OpenKey,
    ProposedBy,
    ProposedAt,
    DecidedBy,
    DecidedAt,
    Decision,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(RankingFilings::Table)
                .col(big_pk_auto(RankingFilings::Id))
                .col(big_integer(RankingFilings::OrgId))
                // One filing per published version: a corrected list is filed again.
                .col(big_integer_uniq(RankingFilings::PublicityId))
                .col(integer(RankingFilings::Year))
                .col(string(RankingFilings::Period))
                .col(integer_null(RankingFilings::N))
                .col(integer(RankingFilings::Version))
                .col(big_integer(RankingFilings::FiledBy))
                .col(timestamp_with_time_zone(RankingFilings::FiledAt))
                .col(text_null(RankingFilings::Note))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_ranking_filings_org_year")
                .table(RankingFilings::Table)
                .col(RankingFilings::OrgId)
                .col(RankingFilings::Year)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(RankFlagHandlings::Table)
                .col(big_pk_auto(RankFlagHandlings::Id))
                .col(big_integer(RankFlagHandlings::PersonId))
                .col(big_integer(RankFlagHandlings::OrgId))
                .col(integer(RankFlagHandlings::Year))
                .col(string(RankFlagHandlings::Rule))
                .col(string(RankFlagHandlings::Flag))
                // The evidence as the handler saw it (JSON), kept with what was done.
                .col(text(RankFlagHandlings::Evidence))
                .col(text(RankFlagHandlings::Action))
                .col(big_integer(RankFlagHandlings::HandledBy))
                .col(timestamp_with_time_zone(RankFlagHandlings::HandledAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_rank_flag_handlings")
                .table(RankFlagHandlings::Table)
                .col(RankFlagHandlings::PersonId)
                .col(RankFlagHandlings::Year)
                .col(RankFlagHandlings::Flag)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(OrgProposals::Table)
                .col(big_pk_auto(OrgProposals::Id))
                .col(big_integer(OrgProposals::OrgId))
                .col(integer(OrgProposals::Year))
                // The setting proposed, e.g. `show_rank_to_members`.
                .col(string(OrgProposals::Setting))
                .col(string(OrgProposals::Policy))
                .col(text(OrgProposals::Reason))
                // pending → confirmed | declined
                .col(string(OrgProposals::State))
                // Set while pending: one pending proposal per organization and setting.
                .col(string_null(OrgProposals::OpenKey).unique_key())
                .col(big_integer_null(OrgProposals::ProposedBy))
                .col(timestamp_with_time_zone(OrgProposals::ProposedAt))
                .col(big_integer_null(OrgProposals::DecidedBy))
                .col(timestamp_with_time_zone_null(OrgProposals::DecidedAt))
                .col(text_null(OrgProposals::Decision))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_org_proposals_org")
                .table(OrgProposals::Table)
                .col(OrgProposals::OrgId)
                .col(OrgProposals::Id)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(OrgProposals::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(RankFlagHandlings::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(RankingFilings::Table).to_owned())
            .await
    }
}
