//! SD-6 star ratings (the branch's confirmation of the proposal, departures with their
//! reasons, filing 备案 and publication), follow-up talks for members at 2★ or below,
//! and TW-7's confirmations of proposed excellent results.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StarRatings {
    Table,
    Id,
    OrgId,
    Year,
    State,
    Quota,
    Members,
    ConfirmedBy,
    ConfirmedAt,
    FiledBy,
    FiledAt,
    PublicityId,
    PublishedAt,
}

#[derive(DeriveIden)]
enum StarRatingLines {
    Table,
    Id,
    RatingId,
    PersonId,
    Score,
    ProposedStars,
    Stars,
    Exempt,
    Reason,
}

#[derive(DeriveIden)]
enum FollowUps {
    Table,
    Id,
    OrgId,
    Year,
    PersonId,
    Kind,
    HeldOn,
    Partner,
    Note,
    RecordedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ExcellentConfirmations {
    Table,
    Id,
    OrgId,
    Year,
    PersonId,
    Note,
    ConfirmedBy,
    ConfirmedAt,
}

#[derive(DeriveIden)]
enum People {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(StarRatings::Table)
                .col(big_pk_auto(StarRatings::Id))
                .col(big_integer(StarRatings::OrgId))
                .col(integer(StarRatings::Year))
                // `confirmed` → `filed` (备案) → `published`.
                .col(string(StarRatings::State))
                .col(integer(StarRatings::Quota))
                .col(integer(StarRatings::Members))
                .col(big_integer(StarRatings::ConfirmedBy))
                .col(timestamp_with_time_zone(StarRatings::ConfirmedAt))
                .col(big_integer_null(StarRatings::FiledBy))
                .col(timestamp_with_time_zone_null(StarRatings::FiledAt))
                .col(big_integer_null(StarRatings::PublicityId))
                .col(timestamp_with_time_zone_null(StarRatings::PublishedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(StarRatings::Table, StarRatings::OrgId)
                        .to(Organizations::Table, Organizations::Id),
                )
                .to_owned(),
        )
        .await?;
        // One rating per branch and year: two confirmations at once keep one.
        m.create_index(
            Index::create()
                .name("uq_star_ratings_org_year")
                .table(StarRatings::Table)
                .col(StarRatings::OrgId)
                .col(StarRatings::Year)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(StarRatingLines::Table)
                .col(big_pk_auto(StarRatingLines::Id))
                .col(big_integer(StarRatingLines::RatingId))
                .col(big_integer(StarRatingLines::PersonId))
                .col(string_null(StarRatingLines::Score))
                .col(integer_null(StarRatingLines::ProposedStars))
                .col(integer_null(StarRatingLines::Stars))
                .col(boolean(StarRatingLines::Exempt))
                .col(text_null(StarRatingLines::Reason))
                .foreign_key(
                    ForeignKey::create()
                        .from(StarRatingLines::Table, StarRatingLines::RatingId)
                        .to(StarRatings::Table, StarRatings::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(StarRatingLines::Table, StarRatingLines::PersonId)
                        .to(People::Table, People::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_star_rating_lines_person")
                .table(StarRatingLines::Table)
                .col(StarRatingLines::RatingId)
                .col(StarRatingLines::PersonId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(FollowUps::Table)
                .col(big_pk_auto(FollowUps::Id))
                .col(big_integer(FollowUps::OrgId))
                .col(integer(FollowUps::Year))
                .col(big_integer(FollowUps::PersonId))
                // `talk` (警示谈话) or `pairing` (结对帮教).
                .col(string(FollowUps::Kind))
                .col(date(FollowUps::HeldOn))
                .col(string_null(FollowUps::Partner))
                .col(text(FollowUps::Note))
                .col(big_integer(FollowUps::RecordedBy))
                .col(timestamp_with_time_zone(FollowUps::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(FollowUps::Table, FollowUps::PersonId)
                        .to(People::Table, People::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_follow_ups_org_year")
                .table(FollowUps::Table)
                .col(FollowUps::OrgId)
                .col(FollowUps::Year)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ExcellentConfirmations::Table)
                .col(big_pk_auto(ExcellentConfirmations::Id))
                .col(big_integer(ExcellentConfirmations::OrgId))
                .col(integer(ExcellentConfirmations::Year))
                .col(big_integer(ExcellentConfirmations::PersonId))
                .col(text_null(ExcellentConfirmations::Note))
                .col(big_integer(ExcellentConfirmations::ConfirmedBy))
                .col(timestamp_with_time_zone(
                    ExcellentConfirmations::ConfirmedAt,
                ))
                .foreign_key(
                    ForeignKey::create()
                        .from(
                            ExcellentConfirmations::Table,
                            ExcellentConfirmations::PersonId,
                        )
                        .to(People::Table, People::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_excellent_confirmations_person_year")
                .table(ExcellentConfirmations::Table)
                .col(ExcellentConfirmations::PersonId)
                .col(ExcellentConfirmations::Year)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            ExcellentConfirmations::Table.into_iden(),
            FollowUps::Table.into_iden(),
            StarRatingLines::Table.into_iden(),
            StarRatings::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
