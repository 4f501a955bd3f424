//! Newtypes for ids, so an organization id is never passed where a person id belongs.

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema,
        )]
        #[serde(transparent)]
        #[schema(value_type = i64)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<i64> for $name {
            fn from(v: i64) -> Self {
                Self(v)
            }
        }

        impl From<$name> for sea_orm::Value {
            fn from(v: $name) -> Self {
                v.0.into()
            }
        }
    };
}

id_type!(
    /// An organization (party committee, general branch, branch, party group).
    OrgId
);
id_type!(
    /// A member, probationary member or applicant.
    PersonId
);
id_type!(
    /// A staff account (admin, secretary, auditor, security admin).
    AccountId
);
id_type!(
    /// A publicity (公示) of one period's results.
    PublicityId
);
id_type!(
    /// A case (dispute, objection, investigation).
    CaseId
);
