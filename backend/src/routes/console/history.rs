//! `/console/history`: full-text search over past conversations, and a conversation's transcript.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::page;
use super::session::CurrentOperator;
use crate::services::{self, history, ServiceError};
use crate::state::AppState;
use beckon_console::history::{
    self as views, HistoryHit, HistoryView, TranscriptLine, TranscriptView,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/history", web::get().to(show));
}

#[derive(Deserialize)]
struct HistoryQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    c: Option<String>,
}

/// A snippet of `body` around the first case-insensitive match of a term of `q` (at most ~160
/// characters), or its start when no term matches.
fn snippet(body: &str, q: &str) -> String {
    let chars: Vec<char> = body.chars().collect();
    let at = history::terms(q)
        .iter()
        .find_map(|term| match_at(&chars, term))
        .unwrap_or(0);
    let end = (at + 100).min(chars.len());
    let start = at.saturating_sub(60).min(end);
    let mut s: String = chars[start..end].iter().collect();
    if start > 0 {
        s.insert(0, '…');
    }
    if end < chars.len() {
        s.push('…');
    }
    s
}

/// The index in `chars` of the character where `needle` first matches, case-insensitively.
///
/// A character's lower-case form can be longer than the character (`İ` becomes `i̇`, two
/// characters), so positions in a lower-cased copy are not positions in the original: the copy is
/// built here character by character, remembering which original character each of its bytes
/// came from, and a match is mapped back through that.
fn match_at(chars: &[char], needle: &str) -> Option<usize> {
    let needle: String = needle.chars().flat_map(char::to_lowercase).collect();
    if needle.is_empty() {
        return None;
    }
    let mut lower = String::with_capacity(chars.len());
    let mut origin = Vec::with_capacity(chars.len());
    for (i, c) in chars.iter().enumerate() {
        for l in c.to_lowercase() {
            lower.push(l);
            origin.extend(std::iter::repeat_n(i, l.len_utf8()));
        }
    }
    lower
        .find(&needle)
        .and_then(|byte| origin.get(byte).copied())
}

async fn show(
    state: web::Data<AppState>,
    op: CurrentOperator,
    query: web::Query<HistoryQuery>,
) -> HttpResponse {
    let nonce = page::nonce();
    let query = query.into_inner();
    let operator = op.operator.clone();
    let q = query.q.chars().take(200).collect::<String>();
    let search_q = q.clone();
    let found = services::run(&state.db, move |conn| {
        let hits = history::search(conn, &operator.id, &search_q)?;
        let transcript = match query.c {
            Some(id) => match history::transcript(conn, &operator, &id) {
                Ok(t) => Some(t),
                Err(ServiceError::NotFound) => None,
                Err(e) => return Err(e),
            },
            None => None,
        };
        // Guest labels for the hits.
        let mut labels = Vec::with_capacity(hits.len());
        for hit in &hits {
            let guest_id = match &hit.conversation.visitor_id {
                Some(id) => crate::db::models::Visitor::find(conn, id)?.map(|v| v.guest_id),
                None => None,
            };
            labels.push(
                hit.conversation
                    .guest_name
                    .clone()
                    .or(guest_id)
                    .unwrap_or_else(|| "Guest".to_owned()),
            );
        }
        Ok((hits, labels, transcript))
    })
    .await;
    let (hits, labels, transcript) = match found {
        Ok(found) => found,
        Err(e) => return page::internal_error(&nonce, &e),
    };
    let snippets: Vec<String> = hits.iter().map(|h| snippet(&h.message.body, &q)).collect();
    let view = HistoryView {
        nonce: &nonce,
        csrf: &op.session.csrf_token,
        operator_name: &op.operator.display_name,
        query: &q,
        hits: hits
            .iter()
            .zip(&labels)
            .zip(&snippets)
            .map(|((h, guest), snippet)| HistoryHit {
                conversation_id: &h.conversation.id,
                site_name: &h.site_name,
                guest,
                when: h.message.created_at.format("%Y-%m-%d %H:%M").to_string(),
                sender: &h.message.sender_kind,
                snippet,
            })
            .collect(),
        conversation: transcript.as_ref().map(|t| TranscriptView {
            conversation_id: &t.conversation.id,
            site_name: &t.site.name,
            guest: &t.guest,
            status: &t.conversation.status,
            lines: t
                .lines
                .iter()
                .map(|(m, name)| TranscriptLine {
                    when: m.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    sender: if name.is_empty() {
                        &m.sender_kind
                    } else {
                        name
                    },
                    kind: &m.kind,
                    body: &m.body,
                })
                .collect(),
        }),
    };
    page::html(StatusCode::OK, &nonce, views::history(&view))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    #[test]
    fn snippets_center_on_the_match() {
        let body = format!("{}needle{}", "a".repeat(200), "b".repeat(200));
        let s = super::snippet(&body, "NEEDLE");
        assert!(s.contains("needle") && s.starts_with('…') && s.ends_with('…'));
        assert!(s.chars().count() <= 162);
    }

    /// Found by the issue: `İ` lower-cases to two characters, so a match's position in the
    /// lower-cased copy was past the end of the original and the slice panicked.
    #[test]
    fn characters_whose_lower_case_is_longer_do_not_shift_the_snippet() {
        let body = format!("{}needle", "İ".repeat(150));
        let s = super::snippet(&body, "needle");
        assert!(s.ends_with("needle"), "{s}");
        assert_eq!(super::snippet("İİİ", "i"), "İİİ");
    }

    #[test]
    fn any_term_of_the_query_centres_the_snippet() {
        let body = format!("{}refund{}", "x".repeat(300), "y".repeat(300));
        assert!(super::snippet(&body, "missing refund").contains("refund"));
    }

    proptest! {
        /// Any text and any query: no panic, a bounded snippet, and a matching needle is in it.
        #[test]
        fn snippets_hold_for_any_unicode(
            prefix in any::<String>(),
            needle in "\\PC{1,40}",
            suffix in any::<String>(),
            q in any::<String>(),
        ) {
            let s = super::snippet(&format!("{prefix}{q}{suffix}"), &q);
            prop_assert!(s.chars().count() <= 162);
            let body = format!("{prefix}{needle}{suffix}");
            let s = super::snippet(&body, &needle);
            prop_assert!(s.chars().count() <= 162);
            if !needle.chars().any(char::is_whitespace) && !needle.contains('"') {
                let lower = |t: &str| t.chars().flat_map(char::to_lowercase).collect::<String>();
                prop_assert!(lower(&s).contains(&lower(&needle)), "{:?} not in {:?}", needle, s);
            }
        }
    }
}
