//! One model per table, with the queries that read and write it. Services own transactions.

pub mod membership;
pub mod operator;
pub mod session;
pub mod setup_token;
pub mod site;

pub use membership::{Membership, Role};
pub use operator::Operator;
pub use session::ConsoleSession;
pub use setup_token::SetupToken;
pub use site::Site;
