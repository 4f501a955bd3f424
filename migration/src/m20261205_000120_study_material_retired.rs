//! Make-up study materials can be retired (kept for the attempts that used them, no
//! longer offered) and record when they were last edited.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StudyMaterials {
    Table,
    RetiredAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one column at a time.
        for col in [StudyMaterials::RetiredAt, StudyMaterials::UpdatedAt] {
            m.alter_table(
                Table::alter()
                    .table(StudyMaterials::Table)
                    .add_column(timestamp_with_time_zone_null(col))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [StudyMaterials::RetiredAt, StudyMaterials::UpdatedAt] {
            m.alter_table(
                Table::alter()
                    .table(StudyMaterials::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
