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

/// Most search terms one query uses; the rest are ignored.
const MAX_TERMS: usize = 8;

/// The terms of a query: words, or phrases in double quotes (inner blanks collapsed), empty ones
/// dropped. Case is left to [`contains_pattern`].
pub fn terms(q: &str) -> Vec<String> {
    let mut terms = Vec::new();
    for (i, part) in q.split('"').enumerate() {
        // Odd parts were inside quotes: one phrase. An unclosed quote runs to the end.
        if i % 2 == 1 {
            let phrase = part.split_whitespace().collect::<Vec<_>>().join(" ");
            terms.push(phrase);
        } else {
            terms.extend(part.split_whitespace().map(str::to_owned));
        }
    }
    terms.retain(|t| !t.is_empty());
    terms.dedup();
    terms.truncate(MAX_TERMS);
    terms
}

/// Messages containing every term of `q` (words in any order, or `"exact phrases"`,
/// case-insensitive) in conversations of the operator's sites, newest first. A query without terms
/// finds nothing.
pub fn search(
    conn: &mut DbConnection,
    operator_id: &str,
    q: &str,
) -> Result<Vec<Hit>, ServiceError> {
    let terms = terms(q);
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let mine = memberships::table
        .filter(memberships::operator_id.eq(operator_id))
        .select(memberships::site_id);
    let mut query = messages::table
        .inner_join(conversations::table.inner_join(sites::table))
        .filter(conversations::site_id.eq_any(mine))
        .into_boxed();
    for term in &terms {
        query = query.filter(
            lower(messages::body)
                .like(contains_pattern(term))
                .escape('\\'),
        );
    }
    let rows: Vec<(Message, Conversation, String)> = query
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
    let site = Site::get(conn, &conversation.site_id)?;
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

/// The history page's data: the hits with their guests' labels, and the picked transcript.
pub struct HistoryPage {
    /// The matching messages, each with its guest's label (name, guest id or "Guest").
    pub hits: Vec<(Hit, String)>,
    /// The conversation picked with `c`, when the operator may read it.
    pub transcript: Option<Transcript>,
}

/// Searches the operator's history for `q` and, when `conversation` names one they may read, loads
/// its transcript (one they may not read is simply not shown).
pub fn page(
    conn: &mut DbConnection,
    operator: &Operator,
    q: &str,
    conversation: Option<&str>,
) -> Result<HistoryPage, ServiceError> {
    let found = search(conn, &operator.id, q)?;
    let transcript = match conversation {
        Some(id) => match transcript(conn, operator, id) {
            Ok(t) => Some(t),
            Err(ServiceError::NotFound) => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    let mut hits = Vec::with_capacity(found.len());
    for hit in found {
        let guest_id = match &hit.conversation.visitor_id {
            Some(id) => Visitor::find(conn, id)?.map(|v| v.guest_id),
            None => None,
        };
        let label = hit
            .conversation
            .guest_name
            .clone()
            .or(guest_id)
            .unwrap_or_else(|| "Guest".to_owned());
        hits.push((hit, label));
    }
    Ok(HistoryPage { hits, transcript })
}

/// What an attachment message's stored body says about its file.
#[derive(Debug, PartialEq)]
pub struct AttachmentRef {
    /// The attachment's id, when it has one.
    pub id: Option<String>,
    /// The file's name.
    pub name: String,
    /// Its size in bytes, when known.
    pub size: Option<u64>,
}

impl AttachmentRef {
    /// Reads an attachment message's body (`{"attachment_id", "name", "size", "content_type"}`);
    /// `None` unless it is a JSON object with a string `name`. An empty or non-string id counts as
    /// none, and a size that is not a whole non-negative number as unknown.
    pub fn parse(body: &str) -> Option<AttachmentRef> {
        let value: serde_json::Value = serde_json::from_str(body).ok()?;
        let object = value.as_object()?;
        let name = object.get("name")?.as_str()?.to_owned();
        let id = object
            .get("attachment_id")
            .and_then(serde_json::Value::as_str)
            .filter(|id| !id.is_empty())
            .map(str::to_owned);
        let size = object.get("size").and_then(serde_json::Value::as_u64);
        Some(AttachmentRef { id, name, size })
    }
}

/// A visitor of the site and their page trail (newest last, at most `limit` pages); `None` when
/// the visitor is not the site's.
pub fn visitor_trail(
    conn: &mut DbConnection,
    site_id: &str,
    visitor_id: &str,
    limit: i64,
) -> Result<Option<(Visitor, Vec<crate::db::models::PageView>)>, ServiceError> {
    let Some(visitor) = Visitor::find(conn, visitor_id)?.filter(|v| v.site_id == site_id) else {
        return Ok(None);
    };
    let pages = crate::db::models::PageView::trail(conn, &visitor.id, limit)?;
    Ok(Some((visitor, pages)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn wildcards_are_literal_and_queries_split_into_terms() {
        assert_eq!(super::contains_pattern("50%_OFF"), "%50\\%\\_off%");
        assert_eq!(
            super::terms(r#" Refund  "ORDER   1234" tent refund "unclosed  quote"#),
            ["Refund", "ORDER 1234", "tent", "refund", "unclosed quote"]
        );
        assert!(super::terms(" \"  \" ").is_empty());
    }

    #[test]
    fn attachment_bodies_are_read_defensively() {
        use super::AttachmentRef;
        assert_eq!(
            AttachmentRef::parse(
                r#" {"attachment_id": "a1", "name": "caf\u00e9 \ud83d\ude00\n.txt", "size": 10, "content_type": "text/plain"} "#
            ),
            Some(AttachmentRef {
                id: Some("a1".into()),
                name: "café 😀\n.txt".into(),
                size: Some(10),
            })
        );
        assert_eq!(
            AttachmentRef::parse(r#"{"name":"x","attachment_id":null,"size":-1}"#),
            Some(AttachmentRef {
                id: None,
                name: "x".into(),
                size: None,
            })
        );
        for bad in [
            "",
            "x",
            "[]",
            "{}",
            r#"{"attachment_id":"a"}"#,
            r#"{"name":1}"#,
            r#"{"name":"x"} trailing"#,
            r#"{"name":"x",}"#,
            r#"{"name":"\u12"}"#,
            r#"{"name":"x""#,
        ] {
            assert_eq!(AttachmentRef::parse(bad), None, "{bad}");
        }
    }
}
