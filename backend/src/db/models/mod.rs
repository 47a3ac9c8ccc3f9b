//! One model per table, with the queries that read and write it. Services own transactions.

pub mod attachment;
pub mod call;
pub mod canned;
pub mod conversation;
pub mod domain_claim;
pub mod first_steps;
pub mod invitation;
pub mod membership;
pub mod message;
pub mod operator;
pub mod outbox;
pub mod page_view;
pub mod refused_origin;
pub mod session;
pub mod setup_token;
pub mod site;
pub mod visitor;
pub mod webhook;

pub use attachment::Attachment;
pub use call::Call;
pub use canned::CannedResponse;
pub use conversation::Conversation;
pub use domain_claim::DomainClaim;
pub use first_steps::FirstSteps;
pub use invitation::Invitation;
pub use membership::{Membership, Role};
pub use message::Message;
pub use operator::Operator;
pub use outbox::OutboxItem;
pub use page_view::PageView;
pub use refused_origin::RefusedOrigin;
pub use session::ConsoleSession;
pub use setup_token::SetupToken;
pub use site::Site;
pub use visitor::Visitor;
pub use webhook::Webhook;
