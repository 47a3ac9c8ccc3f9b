//! `/console/history`: full-text search over past conversations, and a conversation's transcript.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::error::ConsoleError;
use crate::extract::console::CurrentOperator;
use crate::pages as page;
use crate::services::history::AttachmentRef;
use crate::services::{self, history};
use crate::state::AppState;
use beckon_console::history::{
    self as views, AttachmentView, HistoryHit, HistoryView, LineBody, TranscriptLine,
    TranscriptView,
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

/// `s` percent-encoded as a URL query value (a space as `+`).
fn query_value(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `s` percent-encoded as one URL path segment: the query encoding, with a space as `%20` (a `+`
/// in a path is a plus; a literal `+` is already `%2B`).
fn path_segment(s: &str) -> String {
    query_value(s).replace('+', "%20")
}

/// What a transcript line shows: an attachment message whose body reads as one becomes a file
/// with its download link; everything else is text.
fn line_body<'a>(kind: &str, body: &'a str) -> LineBody<'a> {
    match (kind, AttachmentRef::parse(body)) {
        ("attachment", Some(a)) => LineBody::Attachment(AttachmentView {
            href: a
                .id
                .map(|id| format!("/api/v1/attachments/{}", path_segment(&id))),
            name: a.name,
            size: a.size,
        }),
        _ => LineBody::Text(body),
    }
}

async fn show(
    state: web::Data<AppState>,
    op: CurrentOperator,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let nonce = page::nonce();
    let query = query.into_inner();
    let operator = op.operator.clone();
    let q = query.q.chars().take(200).collect::<String>();
    let search_q = q.clone();
    let found = services::run(&state.db, move |conn| {
        history::page(conn, &operator, &search_q, query.c.as_deref())
    })
    .await
    .map_err(ConsoleError::internal)?;
    let snippets: Vec<String> = found
        .hits
        .iter()
        .map(|(h, _)| snippet(&h.message.body, &q))
        .collect();
    let view = HistoryView {
        nonce: &nonce,
        csrf: &op.session.csrf_token,
        operator_name: &op.operator.display_name,
        query: &q,
        hits: found
            .hits
            .iter()
            .zip(&snippets)
            .map(|((h, guest), snippet)| HistoryHit {
                href: format!(
                    "/console/history?q={}&c={}",
                    query_value(&q),
                    query_value(&h.conversation.id)
                ),
                site_name: &h.site_name,
                guest,
                when: h.message.created_at.format("%Y-%m-%d %H:%M").to_string(),
                sender: &h.message.sender_kind,
                snippet,
            })
            .collect(),
        conversation: found.transcript.as_ref().map(|t| TranscriptView {
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
                    body: line_body(&m.kind, &m.body),
                })
                .collect(),
        }),
    };
    Ok(page::html(StatusCode::OK, &nonce, views::history(&view)))
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
    fn links_encode_what_they_carry() {
        assert_eq!(super::query_value("a b&c=\"<"), "a+b%26c%3D%22%3C");
        assert_eq!(super::path_segment("../x?y z"), "..%2Fx%3Fy%20z");
        match super::line_body(
            "attachment",
            r#"{"attachment_id":"../x?y","name":"<b>","size":1}"#,
        ) {
            beckon_console::history::LineBody::Attachment(a) => {
                assert_eq!(a.href.as_deref(), Some("/api/v1/attachments/..%2Fx%3Fy"));
                assert_eq!(a.name, "<b>");
            }
            beckon_console::history::LineBody::Text(_) => panic!("not read as a file"),
        }
        assert!(matches!(
            super::line_body("attachment", "{not json"),
            beckon_console::history::LineBody::Text("{not json")
        ));
        assert!(matches!(
            super::line_body("text", r#"{"name":"x"}"#),
            beckon_console::history::LineBody::Text(_)
        ));
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
