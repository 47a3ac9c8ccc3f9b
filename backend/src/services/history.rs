//! Searching past conversations, and reading a whole transcript, for operators of the site.

use diesel::prelude::*;

use super::ServiceError;
use crate::db::models::{Conversation, Membership, Message, Operator, Site, Visitor};
use crate::db::schema::{conversations, memberships, messages, sites};
use crate::db::DbConnection;

diesel::define_sql_function! {
    /// SQL `lower(text)`, the same on both backends.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Most hits one search returns.
pub const MAX_HITS: i64 = 100;

/// One message that matched, with its conversation and site.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The message.
    pub message: Message,
    /// Its conversation.
    pub conversation: Conversation,
    /// Its site's name.
    pub site_name: String,
}

/// `q` as a LIKE pattern matching it anywhere, wildcards in it taken literally.
fn contains_pattern(q: &str) -> String {
    let escaped = q
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Messages containing `q` (case-insensitive) in conversations of the operator's sites, newest
/// first. An empty query finds nothing.
pub fn search(
    conn: &mut DbConnection,
    operator_id: &str,
    q: &str,
) -> Result<Vec<Hit>, ServiceError> {
    let q = q.trim();
    if q.is_empty() {
        return Ok(Vec::new());
    }
    let mine = memberships::table
        .filter(memberships::operator_id.eq(operator_id))
        .select(memberships::site_id);
    let rows: Vec<(Message, Conversation, String)> = messages::table
        .inner_join(conversations::table.inner_join(sites::table))
        .filter(conversations::site_id.eq_any(mine))
        .filter(lower(messages::body).like(contains_pattern(q)).escape('\\'))
        .order(messages::created_at.desc())
        .limit(MAX_HITS)
        .select((Message::as_select(), Conversation::as_select(), sites::name))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(message, conversation, site_name)| Hit {
            message,
            conversation,
            site_name,
        })
        .collect())
}

/// A conversation's whole transcript, notes included, for an operator of its site.
pub struct Transcript {
    /// The conversation.
    pub conversation: Conversation,
    /// Its site.
    pub site: Site,
    /// The guest's label (name or guest id).
    pub guest: String,
    /// Messages in order, with the sender's shown name.
    pub lines: Vec<(Message, String)>,
}

/// The transcript of a conversation the operator may read.
pub fn transcript(
    conn: &mut DbConnection,
    operator: &Operator,
    conversation_id: &str,
) -> Result<Transcript, ServiceError> {
    let conversation = Conversation::find(conn, conversation_id)?.ok_or(ServiceError::NotFound)?;
    if Membership::role_of(conn, &conversation.site_id, &operator.id)?.is_none() {
        return Err(ServiceError::NotFound);
    }
    let site: Site = sites::table
        .find(&conversation.site_id)
        .select(Site::as_select())
        .first(conn)?;
    let guest_id = match &conversation.visitor_id {
        Some(id) => Visitor::find(conn, id)?.map(|v| v.guest_id),
        None => None,
    };
    let guest = conversation
        .guest_name
        .clone()
        .or(guest_id)
        .unwrap_or_else(|| "Guest".to_owned());
    let mut lines = Vec::new();
    let mut after = 0;
    loop {
        let page = Message::after(conn, &conversation.id, after, 1000)?;
        let Some(last) = page.last().map(|m| m.seq) else {
            break;
        };
        for m in page {
            let name = match (m.sender_kind.as_str(), &m.sender_id) {
                ("operator", Some(id)) => Operator::find(conn, id)?
                    .map(|o| o.display_name)
                    .unwrap_or_default(),
                ("guest", _) => guest.clone(),
                _ => String::new(),
            };
            lines.push((m, name));
        }
        after = last;
    }
    Ok(Transcript {
        conversation,
        site,
        guest,
        lines,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn wildcards_are_literal() {
        assert_eq!(super::contains_pattern("50%_OFF"), "%50\\%\\_off%");
    }
}
