pub mod store;
pub mod wechat;
