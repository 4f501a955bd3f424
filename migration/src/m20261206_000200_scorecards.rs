//! Branch scorecards (JH-1 … JH-7): a committee's yearly assessment with its dates, each
//! branch's scorecard (self-assessment, review, bottom line, result), the lines per
//! indicator, one-vote vetoes, and the random audit draws with their seeds.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Assessments {
    Table,
    Id,
    OrgId,
    Year,
    Policy,
    SelfUntil,
    ReviewUntil,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Scorecards {
    Table,
    Id,
    AssessmentId,
    OrgId,
    State,
    SubmittedAt,
    SubmittedBy,
    ReviewedAt,
    ReviewedBy,
    Over15Count,
    Over15Proposed,
    Over15Members,
    Sanctions,
    Total,
    Rating,
    Late,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ScorecardLines {
    Table,
    Id,
    ScorecardId,
    Code,
    SelfScore,
    Evidence,
    Files,
    SelfBy,
    SelfAt,
    ReviewScore,
    ReviewReason,
    ReviewBy,
    ReviewAt,
}

#[derive(DeriveIden)]
enum ScorecardVetoes {
    Table,
    Id,
    ScorecardId,
    Item,
    Cause,
    Evidence,
    UploadId,
    DecidedBy,
    DecidedByName,
    DecidedAt,
}

#[derive(DeriveIden)]
enum AssessmentDraws {
    Table,
    Id,
    AssessmentId,
    Seed,
    N,
    Candidates,
    Result,
    DrawnBy,
    DrawnByName,
    DrawnAt,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Assessments::Table)
                .col(big_pk_auto(Assessments::Id))
                .col(big_integer(Assessments::OrgId))
                .col(integer(Assessments::Year))
                .col(string(Assessments::Policy))
                .col(timestamp_with_time_zone(Assessments::SelfUntil))
                .col(timestamp_with_time_zone(Assessments::ReviewUntil))
                .col(big_integer_null(Assessments::CreatedBy))
                .col(timestamp_with_time_zone(Assessments::CreatedAt))
                .foreign_key(&mut fk(
                    (Assessments::Table, Assessments::OrgId),
                    (Organizations::Table, Organizations::Id),
                ))
                .to_owned(),
        )
        .await?;
        // One assessment per committee and year.
        m.create_index(
            Index::create()
                .name("ux_assessments_org_year")
                .table(Assessments::Table)
                .col(Assessments::OrgId)
                .col(Assessments::Year)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Scorecards::Table)
                .col(big_pk_auto(Scorecards::Id))
                .col(big_integer(Scorecards::AssessmentId))
                .col(big_integer(Scorecards::OrgId))
                .col(string(Scorecards::State))
                .col(timestamp_with_time_zone_null(Scorecards::SubmittedAt))
                .col(big_integer_null(Scorecards::SubmittedBy))
                .col(timestamp_with_time_zone_null(Scorecards::ReviewedAt))
                .col(big_integer_null(Scorecards::ReviewedBy))
                .col(integer_null(Scorecards::Over15Count))
                .col(integer_null(Scorecards::Over15Proposed))
                .col(text_null(Scorecards::Over15Members))
                .col(text(Scorecards::Sanctions))
                .col(string_null(Scorecards::Total))
                .col(string_null(Scorecards::Rating))
                .col(boolean(Scorecards::Late))
                .col(timestamp_with_time_zone(Scorecards::CreatedAt))
                .foreign_key(&mut fk(
                    (Scorecards::Table, Scorecards::AssessmentId),
                    (Assessments::Table, Assessments::Id),
                ))
                .foreign_key(&mut fk(
                    (Scorecards::Table, Scorecards::OrgId),
                    (Organizations::Table, Organizations::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_scorecards_assessment_org")
                .table(Scorecards::Table)
                .col(Scorecards::AssessmentId)
                .col(Scorecards::OrgId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ScorecardLines::Table)
                .col(big_pk_auto(ScorecardLines::Id))
                .col(big_integer(ScorecardLines::ScorecardId))
                .col(string(ScorecardLines::Code))
                .col(string_null(ScorecardLines::SelfScore))
                .col(text_null(ScorecardLines::Evidence))
                .col(text(ScorecardLines::Files))
                .col(big_integer_null(ScorecardLines::SelfBy))
                .col(timestamp_with_time_zone_null(ScorecardLines::SelfAt))
                .col(string_null(ScorecardLines::ReviewScore))
                .col(text_null(ScorecardLines::ReviewReason))
                .col(big_integer_null(ScorecardLines::ReviewBy))
                .col(timestamp_with_time_zone_null(ScorecardLines::ReviewAt))
                .foreign_key(&mut fk(
                    (ScorecardLines::Table, ScorecardLines::ScorecardId),
                    (Scorecards::Table, Scorecards::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_scorecard_lines_code")
                .table(ScorecardLines::Table)
                .col(ScorecardLines::ScorecardId)
                .col(ScorecardLines::Code)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ScorecardVetoes::Table)
                .col(big_pk_auto(ScorecardVetoes::Id))
                .col(big_integer(ScorecardVetoes::ScorecardId))
                .col(string(ScorecardVetoes::Item))
                .col(text(ScorecardVetoes::Cause))
                .col(text(ScorecardVetoes::Evidence))
                .col(big_integer_null(ScorecardVetoes::UploadId))
                .col(big_integer_null(ScorecardVetoes::DecidedBy))
                .col(string(ScorecardVetoes::DecidedByName))
                .col(timestamp_with_time_zone(ScorecardVetoes::DecidedAt))
                .foreign_key(&mut fk(
                    (ScorecardVetoes::Table, ScorecardVetoes::ScorecardId),
                    (Scorecards::Table, Scorecards::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(AssessmentDraws::Table)
                .col(big_pk_auto(AssessmentDraws::Id))
                .col(big_integer(AssessmentDraws::AssessmentId))
                .col(string(AssessmentDraws::Seed))
                .col(integer(AssessmentDraws::N))
                .col(text(AssessmentDraws::Candidates))
                .col(text(AssessmentDraws::Result))
                .col(big_integer_null(AssessmentDraws::DrawnBy))
                .col(string(AssessmentDraws::DrawnByName))
                .col(timestamp_with_time_zone(AssessmentDraws::DrawnAt))
                .foreign_key(&mut fk(
                    (AssessmentDraws::Table, AssessmentDraws::AssessmentId),
                    (Assessments::Table, Assessments::Id),
                ))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AssessmentDraws::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(ScorecardVetoes::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(ScorecardLines::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Scorecards::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Assessments::Table).to_owned())
            .await
    }
}
