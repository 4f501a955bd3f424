//! Organizations (a tree), people (members, probationary members, applicants) with
//! their history, exemptions, openid bindings, and the roster import.

pub mod import;
pub mod people;
pub mod routes;
pub mod service;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    /// 党委
    Committee,
    /// 党总支
    GeneralBranch,
    /// 党支部
    Branch,
    /// 党小组
    Group,
}

impl OrgKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Committee => "committee",
            Self::GeneralBranch => "general_branch",
            Self::Branch => "branch",
            Self::Group => "group",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "committee" => Self::Committee,
            "general_branch" => Self::GeneralBranch,
            "branch" => Self::Branch,
            "group" => Self::Group,
            _ => return None,
        })
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Committee => "党委",
            Self::GeneralBranch => "党总支",
            Self::Branch => "党支部",
            Self::Group => "党小组",
        }
    }
    fn rank(self) -> u8 {
        match self {
            Self::Committee => 0,
            Self::GeneralBranch => 1,
            Self::Branch => 2,
            Self::Group => 3,
        }
    }
    /// Committees nest (district → township); otherwise each level sits under a higher one.
    pub fn may_contain(self, child: Self) -> bool {
        (self == Self::Committee && child == Self::Committee) || child.rank() > self.rank()
    }
}

/// Where a person stands in the Party: decides which index scores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PersonRole {
    /// 正式党员
    Member,
    /// 预备党员
    Probationary,
    /// 入党申请人
    Applicant,
    /// 入党积极分子
    Activist,
    /// 发展对象
    DevelopmentTarget,
}

impl PersonRole {
    pub const ALL: [Self; 5] = [
        Self::Member,
        Self::Probationary,
        Self::Applicant,
        Self::Activist,
        Self::DevelopmentTarget,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Probationary => "probationary",
            Self::Applicant => "applicant",
            Self::Activist => "activist",
            Self::DevelopmentTarget => "development_target",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Member => "正式党员",
            Self::Probationary => "预备党员",
            Self::Applicant => "入党申请人",
            Self::Activist => "入党积极分子",
            Self::DevelopmentTarget => "发展对象",
        }
    }
    pub fn from_label(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.label() == s)
    }
    /// Members and probationary members are on the vanguard index; the rest on the applicant index.
    pub fn is_party_member(self) -> bool {
        matches!(self, Self::Member | Self::Probationary)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PersonStatus {
    /// 正常
    Active,
    /// 已转出 (to an organization outside this installation)
    TransferredOut,
    /// 已去世
    Deceased,
    /// 已出党 (退党、除名、开除)
    Left,
}

impl PersonStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::TransferredOut => "transferred_out",
            Self::Deceased => "deceased",
            Self::Left => "left",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => Self::Active,
            "transferred_out" => Self::TransferredOut,
            "deceased" => Self::Deceased,
            "left" => Self::Left,
            _ => return None,
        })
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Active => "正常",
            Self::TransferredOut => "已转出",
            Self::Deceased => "已去世",
            Self::Left => "已出党",
        }
    }
}

/// "13812345678" → "138****5678": the one masking scheme used everywhere.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars.iter().take(3).collect();
    let tail: String = chars.iter().skip(chars.len() - 4).collect();
    format!("{head}****{tail}")
}

/// "张三丰" → "张*丰", "张三" → "张*": names on publicity pages and exports.
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => chars.iter().collect(),
        2 => format!("{}*", chars[0]),
        n => format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1]),
    }
}

/// Mainland mobile numbers: 11 digits starting with 1.
pub fn valid_phone(phone: &str) -> bool {
    phone.len() == 11 && phone.starts_with('1') && phone.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_zone_is_the_one_named_and_an_unknown_name_falls_back_to_it() {
        use service::{DEFAULT_TIMEZONE, DEFAULT_TZ, zone};
        assert_eq!(DEFAULT_TZ.name(), DEFAULT_TIMEZONE);
        assert_eq!(zone("Asia/Urumqi"), chrono_tz::Asia::Urumqi);
        assert_eq!(zone("Mars/Olympus"), DEFAULT_TZ);
        assert_eq!(zone(""), DEFAULT_TZ);
    }

    #[test]
    fn masks() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_name("张三丰"), "张*丰");
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧**娜");
    }

    #[test]
    fn kinds_nest() {
        assert!(OrgKind::Committee.may_contain(OrgKind::Committee));
        assert!(OrgKind::Committee.may_contain(OrgKind::Branch));
        assert!(OrgKind::Branch.may_contain(OrgKind::Group));
        assert!(!OrgKind::Branch.may_contain(OrgKind::GeneralBranch));
        assert!(!OrgKind::Group.may_contain(OrgKind::Group));
    }

    #[test]
    fn roles_from_roster_labels() {
        assert_eq!(
            PersonRole::from_label("预备党员"),
            Some(PersonRole::Probationary)
        );
        assert_eq!(PersonRole::from_label("党员"), None);
    }
}
