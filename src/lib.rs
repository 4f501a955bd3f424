pub mod policy;
pub mod score;
