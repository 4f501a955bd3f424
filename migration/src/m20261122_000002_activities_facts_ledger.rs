//! Activities and their check-in sessions, the append-only facts the policy engine
//! scores, refusals and pending scans kept for the record, the append-only ledger,
//! the running scores derived from it, policy choices per organization and year,
//! closed years, study materials and make-up attempts.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Activities {
    Table,
    Id,
    OrgId,
    Kind,
    Title,
    Place,
    StartsAt,
    EndsAt,
    Points,
    RegisteredAt,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ActivityInvites {
    Table,
    Id,
    ActivityId,
    OrgId,
}

#[derive(DeriveIden)]
enum CheckinSessions {
    Table,
    Id,
    ActivityId,
    OpensAt,
    ClosesAt,
    SlotSeconds,
    Secret,
    OpenedBy,
    OpenedAt,
    ClosedAt,
    ClosedBy,
}

#[derive(DeriveIden)]
enum Facts {
    Table,
    Id,
    Kind,
    PersonId,
    OrgId,
    ActivityId,
    Item,
    Fields,
    Method,
    TargetId,
    At,
    Year,
    ReceivedAt,
    SessionId,
    ActorKind,
    ActorId,
    ActorName,
    Reason,
    Evidence,
    DedupKey,
    SourceEvent,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CheckinRefusals {
    Table,
    Id,
    ActivityId,
    SessionId,
    PersonId,
    Openid,
    Reason,
    Scene,
    EventKey,
    At,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum PendingScans {
    Table,
    Id,
    Openid,
    SessionId,
    ActivityId,
    Scene,
    At,
    ReceivedAt,
    ResolvedAt,
    FactId,
}

#[derive(DeriveIden)]
enum LedgerEntries {
    Table,
    Id,
    SubjectKind,
    SubjectId,
    Year,
    SourceKind,
    SourceId,
    RuleId,
    Part,
    At,
    Points,
    PointsE4,
    Asked,
    Note,
    CauseFactId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SubjectScores {
    Table,
    Id,
    SubjectKind,
    SubjectId,
    Year,
    OrgId,
    IndexName,
    Status,
    Score,
    ScoreSort,
    Stars,
    Rating,
    Detail,
    Closed,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OrgPolicies {
    Table,
    Id,
    OrgId,
    Year,
    Policy,
    Source,
    ChosenBy,
    ChosenAt,
}

#[derive(DeriveIden)]
enum YearClosings {
    Table,
    Id,
    OrgId,
    Year,
    ClosedBy,
    ClosedAt,
}

#[derive(DeriveIden)]
enum StudyMaterials {
    Table,
    Id,
    OrgId,
    ActivityId,
    Title,
    Body,
    Link,
    Quiz,
    MinSeconds,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MakeupAttempts {
    Table,
    Id,
    PersonId,
    ActivityId,
    MaterialId,
    StartedAt,
    CompletedAt,
    Seconds,
    QuizPassed,
    FactId,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum People {
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
                .table(Activities::Table)
                .col(big_pk_auto(Activities::Id))
                .col(big_integer(Activities::OrgId))
                .col(string(Activities::Kind))
                .col(string(Activities::Title))
                .col(string_null(Activities::Place))
                .col(ts(Activities::StartsAt))
                .col(ts(Activities::EndsAt))
                // Exact decimal as text: both backends keep every digit.
                .col(string_null(Activities::Points))
                .col(ts(Activities::RegisteredAt))
                .col(big_integer_null(Activities::CreatedBy))
                .col(ts(Activities::CreatedAt))
                .foreign_key(&mut fk(
                    (Activities::Table, Activities::OrgId),
                    (Organizations::Table, Organizations::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_activities_org_start",
            Activities::Table,
            vec![
                Activities::OrgId.into_iden(),
                Activities::StartsAt.into_iden(),
            ],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ActivityInvites::Table)
                .col(big_pk_auto(ActivityInvites::Id))
                .col(big_integer(ActivityInvites::ActivityId))
                .col(big_integer(ActivityInvites::OrgId))
                .foreign_key(&mut fk(
                    (ActivityInvites::Table, ActivityInvites::ActivityId),
                    (Activities::Table, Activities::Id),
                ))
                .foreign_key(&mut fk(
                    (ActivityInvites::Table, ActivityInvites::OrgId),
                    (Organizations::Table, Organizations::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_activity_invites_unique",
            ActivityInvites::Table,
            vec![
                ActivityInvites::ActivityId.into_iden(),
                ActivityInvites::OrgId.into_iden(),
            ],
            true,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(CheckinSessions::Table)
                .col(big_pk_auto(CheckinSessions::Id))
                .col(big_integer(CheckinSessions::ActivityId))
                .col(ts(CheckinSessions::OpensAt))
                .col(ts(CheckinSessions::ClosesAt))
                .col(integer(CheckinSessions::SlotSeconds))
                .col(string(CheckinSessions::Secret))
                .col(big_integer_null(CheckinSessions::OpenedBy))
                .col(ts(CheckinSessions::OpenedAt))
                .col(timestamp_with_time_zone_null(CheckinSessions::ClosedAt))
                .col(big_integer_null(CheckinSessions::ClosedBy))
                .foreign_key(&mut fk(
                    (CheckinSessions::Table, CheckinSessions::ActivityId),
                    (Activities::Table, Activities::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_checkin_sessions_activity",
            CheckinSessions::Table,
            vec![CheckinSessions::ActivityId.into_iden()],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Facts::Table)
                .col(big_pk_auto(Facts::Id))
                .col(string(Facts::Kind))
                .col(big_integer_null(Facts::PersonId))
                .col(big_integer_null(Facts::OrgId))
                .col(big_integer_null(Facts::ActivityId))
                .col(string_null(Facts::Item))
                .col(text_null(Facts::Fields))
                .col(string_null(Facts::Method))
                .col(big_integer_null(Facts::TargetId))
                .col(ts(Facts::At))
                .col(integer(Facts::Year))
                .col(ts(Facts::ReceivedAt))
                .col(big_integer_null(Facts::SessionId))
                .col(string(Facts::ActorKind))
                .col(big_integer_null(Facts::ActorId))
                .col(string(Facts::ActorName))
                .col(text_null(Facts::Reason))
                .col(text_null(Facts::Evidence))
                // One scan per person per activity, one fact per WeChat event: the database is the last guard.
                .col(string_null(Facts::DedupKey).unique_key())
                // The WeChat event that produced it: a resend rebuilds the same reply.
                .col(string_null(Facts::SourceEvent))
                .col(ts(Facts::CreatedAt))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_facts_person_year",
            Facts::Table,
            vec![Facts::PersonId.into_iden(), Facts::Year.into_iden()],
            false,
        )
        .await?;
        index(
            m,
            "idx_facts_org_year",
            Facts::Table,
            vec![Facts::OrgId.into_iden(), Facts::Year.into_iden()],
            false,
        )
        .await?;
        index(
            m,
            "idx_facts_activity",
            Facts::Table,
            vec![Facts::ActivityId.into_iden(), Facts::Kind.into_iden()],
            false,
        )
        .await?;
        index(
            m,
            "idx_facts_target",
            Facts::Table,
            vec![Facts::TargetId.into_iden()],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(CheckinRefusals::Table)
                .col(big_pk_auto(CheckinRefusals::Id))
                .col(big_integer_null(CheckinRefusals::ActivityId))
                .col(big_integer_null(CheckinRefusals::SessionId))
                .col(big_integer_null(CheckinRefusals::PersonId))
                .col(string_null(CheckinRefusals::Openid))
                .col(string(CheckinRefusals::Reason))
                .col(string_null(CheckinRefusals::Scene))
                // One refusal per WeChat event, however often it is resent.
                .col(string_null(CheckinRefusals::EventKey).unique_key())
                .col(ts(CheckinRefusals::At))
                .col(ts(CheckinRefusals::ReceivedAt))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_checkin_refusals_activity",
            CheckinRefusals::Table,
            vec![CheckinRefusals::ActivityId.into_iden()],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(PendingScans::Table)
                .col(big_pk_auto(PendingScans::Id))
                .col(string(PendingScans::Openid))
                .col(big_integer(PendingScans::SessionId))
                .col(big_integer(PendingScans::ActivityId))
                .col(string_null(PendingScans::Scene))
                .col(ts(PendingScans::At))
                .col(ts(PendingScans::ReceivedAt))
                .col(timestamp_with_time_zone_null(PendingScans::ResolvedAt))
                .col(big_integer_null(PendingScans::FactId))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_pending_scans_openid_session",
            PendingScans::Table,
            vec![
                PendingScans::Openid.into_iden(),
                PendingScans::SessionId.into_iden(),
            ],
            true,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(LedgerEntries::Table)
                .col(big_pk_auto(LedgerEntries::Id))
                .col(string(LedgerEntries::SubjectKind))
                .col(big_integer(LedgerEntries::SubjectId))
                .col(integer(LedgerEntries::Year))
                .col(string(LedgerEntries::SourceKind))
                .col(big_integer_null(LedgerEntries::SourceId))
                .col(string(LedgerEntries::RuleId))
                .col(integer(LedgerEntries::Part))
                .col(timestamp_with_time_zone_null(LedgerEntries::At))
                .col(string(LedgerEntries::Points))
                // Points × 10⁴ as an integer, so SQL can sum a period for rankings; the text is the truth.
                .col(big_integer(LedgerEntries::PointsE4))
                .col(string(LedgerEntries::Asked))
                .col(text(LedgerEntries::Note))
                .col(big_integer_null(LedgerEntries::CauseFactId))
                .col(ts(LedgerEntries::CreatedAt))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_ledger_subject_year",
            LedgerEntries::Table,
            vec![
                LedgerEntries::SubjectKind.into_iden(),
                LedgerEntries::SubjectId.into_iden(),
                LedgerEntries::Year.into_iden(),
            ],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(SubjectScores::Table)
                .col(big_pk_auto(SubjectScores::Id))
                .col(string(SubjectScores::SubjectKind))
                .col(big_integer(SubjectScores::SubjectId))
                .col(integer(SubjectScores::Year))
                .col(big_integer(SubjectScores::OrgId))
                .col(string(SubjectScores::IndexName))
                .col(string(SubjectScores::Status))
                .col(string_null(SubjectScores::Score))
                // Score × 10⁴ as an integer, for ORDER BY in rankings; the text column is the truth.
                .col(big_integer_null(SubjectScores::ScoreSort))
                .col(integer_null(SubjectScores::Stars))
                .col(string_null(SubjectScores::Rating))
                .col(text_null(SubjectScores::Detail))
                .col(boolean(SubjectScores::Closed).default(false))
                .col(ts(SubjectScores::UpdatedAt))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_subject_scores_unique",
            SubjectScores::Table,
            vec![
                SubjectScores::SubjectKind.into_iden(),
                SubjectScores::SubjectId.into_iden(),
                SubjectScores::Year.into_iden(),
            ],
            true,
        )
        .await?;
        index(
            m,
            "idx_subject_scores_org_year",
            SubjectScores::Table,
            vec![
                SubjectScores::OrgId.into_iden(),
                SubjectScores::Year.into_iden(),
            ],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(OrgPolicies::Table)
                .col(big_pk_auto(OrgPolicies::Id))
                .col(big_integer(OrgPolicies::OrgId))
                .col(integer(OrgPolicies::Year))
                .col(string(OrgPolicies::Policy))
                .col(text_null(OrgPolicies::Source))
                .col(big_integer_null(OrgPolicies::ChosenBy))
                .col(ts(OrgPolicies::ChosenAt))
                .foreign_key(&mut fk(
                    (OrgPolicies::Table, OrgPolicies::OrgId),
                    (Organizations::Table, Organizations::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_org_policies_org_year",
            OrgPolicies::Table,
            vec![
                OrgPolicies::OrgId.into_iden(),
                OrgPolicies::Year.into_iden(),
            ],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(YearClosings::Table)
                .col(big_pk_auto(YearClosings::Id))
                .col(big_integer(YearClosings::OrgId))
                .col(integer(YearClosings::Year))
                .col(big_integer_null(YearClosings::ClosedBy))
                .col(ts(YearClosings::ClosedAt))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_year_closings_unique",
            YearClosings::Table,
            vec![
                YearClosings::OrgId.into_iden(),
                YearClosings::Year.into_iden(),
            ],
            true,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(StudyMaterials::Table)
                .col(big_pk_auto(StudyMaterials::Id))
                .col(big_integer(StudyMaterials::OrgId))
                .col(big_integer_null(StudyMaterials::ActivityId))
                .col(string(StudyMaterials::Title))
                .col(text_null(StudyMaterials::Body))
                .col(string_null(StudyMaterials::Link))
                .col(text_null(StudyMaterials::Quiz))
                .col(integer(StudyMaterials::MinSeconds))
                .col(big_integer_null(StudyMaterials::CreatedBy))
                .col(ts(StudyMaterials::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(MakeupAttempts::Table)
                .col(big_pk_auto(MakeupAttempts::Id))
                .col(big_integer(MakeupAttempts::PersonId))
                .col(big_integer(MakeupAttempts::ActivityId))
                .col(big_integer(MakeupAttempts::MaterialId))
                .col(ts(MakeupAttempts::StartedAt))
                .col(timestamp_with_time_zone_null(MakeupAttempts::CompletedAt))
                .col(integer_null(MakeupAttempts::Seconds))
                .col(boolean_null(MakeupAttempts::QuizPassed))
                .col(big_integer_null(MakeupAttempts::FactId))
                .foreign_key(&mut fk(
                    (MakeupAttempts::Table, MakeupAttempts::PersonId),
                    (People::Table, People::Id),
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_makeup_attempts_person",
            MakeupAttempts::Table,
            vec![
                MakeupAttempts::PersonId.into_iden(),
                MakeupAttempts::ActivityId.into_iden(),
            ],
            false,
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            MakeupAttempts::Table.into_iden(),
            StudyMaterials::Table.into_iden(),
            YearClosings::Table.into_iden(),
            OrgPolicies::Table.into_iden(),
            SubjectScores::Table.into_iden(),
            LedgerEntries::Table.into_iden(),
            PendingScans::Table.into_iden(),
            CheckinRefusals::Table.into_iden(),
            Facts::Table.into_iden(),
            CheckinSessions::Table.into_iden(),
            ActivityInvites::Table.into_iden(),
            Activities::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
