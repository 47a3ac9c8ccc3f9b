//! Chat history: search past messages, then read a whole conversation.
//!
//! `GET /console/history?q=…` lists the matching messages ([`HistoryHit`]); each links to
//! `/console/history?c={conversation_id}`, which shows that conversation's transcript
//! ([`TranscriptView`]). The page is plain HTML: no script.

use maud::{html, Markup};

use crate::layout::{page, Frame, SignedIn};

/// One message that matches the search.
pub struct HistoryHit<'a> {
    /// The link that shows the message's conversation under the same search, already encoded
    /// (`/console/history?q=…&c=…`).
    pub href: String,
    /// Name of the conversation's site.
    pub site_name: &'a str,
    /// The guest's name (or guest id).
    pub guest: &'a str,
    /// When the message was sent, already formatted.
    pub when: String,
    /// Who sent it (a name, or "guest"/"system").
    pub sender: &'a str,
    /// The matching text (shown as text).
    pub snippet: &'a str,
}

/// The history page.
pub struct HistoryView<'a> {
    /// CSP nonce.
    pub nonce: &'a str,
    /// Session CSRF token (for the logout form).
    pub csrf: &'a str,
    /// Operator's display name.
    pub operator_name: &'a str,
    /// The search text; empty when nothing was searched.
    pub query: &'a str,
    /// The matching messages.
    pub hits: Vec<HistoryHit<'a>>,
    /// The conversation to show in full, if one was picked.
    pub conversation: Option<TranscriptView<'a>>,
}

/// One message of a transcript.
pub struct TranscriptLine<'a> {
    /// When it was sent, already formatted.
    pub when: String,
    /// Who sent it.
    pub sender: &'a str,
    /// `text`, `note` (internal), `system` or `attachment`.
    pub kind: &'a str,
    /// What the line shows.
    pub body: LineBody<'a>,
}

/// The body of a transcript line.
pub enum LineBody<'a> {
    /// Text, shown as text.
    Text(&'a str),
    /// An attached file.
    Attachment(AttachmentView),
}

/// An attached file as the transcript shows it.
#[derive(Debug, PartialEq)]
pub struct AttachmentView {
    /// The download link, already encoded; `None` when the file has no id (shown as its name).
    pub href: Option<String>,
    /// The file's name (shown as text).
    pub name: String,
    /// Its size in bytes, when known.
    pub size: Option<u64>,
}

/// A whole conversation.
pub struct TranscriptView<'a> {
    /// Conversation id.
    pub conversation_id: &'a str,
    /// Name of its site.
    pub site_name: &'a str,
    /// The guest's name (or guest id).
    pub guest: &'a str,
    /// `waiting`, `open` or `closed`.
    pub status: &'a str,
    /// Its messages in order.
    pub lines: Vec<TranscriptLine<'a>>,
}

/// The history page: search form, results and, when picked, a conversation's transcript.
pub fn history(v: &HistoryView<'_>) -> Markup {
    let frame = Frame {
        title: "History",
        nonce: v.nonce,
        signed_in: Some(SignedIn {
            name: v.operator_name,
            csrf: v.csrf,
        }),
    };
    page(
        &frame,
        html! {
            section.card.wide.history {
                h1 { "History" }
                form.history-search method="get" action="/console/history" role="search" {
                    label for="history-q" { "Search messages" }
                    div.history-search-row {
                        input type="search" id="history-q" name="q" value=(v.query) maxlength="200"
                            placeholder="Words from a message, a guest's name…";
                        button type="submit" { "Search" }
                    }
                }
                @if !v.query.is_empty() {
                    @if v.hits.is_empty() {
                        p.empty { "No messages match “" (v.query) "”." }
                    } @else {
                        p.status { (v.hits.len()) @if v.hits.len() == 1 { " match" } @else { " matches" } }
                        table.history-hits {
                            thead { tr { th { "Site" } th { "Guest" } th { "Time" } th { "Sender" } th { "Message" } } }
                            tbody {
                                @for hit in &v.hits {
                                    tr {
                                        td { (hit.site_name) }
                                        td { (hit.guest) }
                                        td.when { (hit.when) }
                                        td { (hit.sender) }
                                        td.snippet {
                                            a href=(hit.href) { (hit.snippet) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(c) = &v.conversation { (transcript(c)) }
        },
    )
}

fn transcript(c: &TranscriptView<'_>) -> Markup {
    html! {
        section.card.wide.transcript aria-labelledby="transcript-title" {
            h2 id="transcript-title" { "Conversation with " (c.guest) }
            p.transcript-meta {
                (c.site_name) " · " (c.status) " · " code { (c.conversation_id) }
            }
            @if c.lines.is_empty() {
                p.empty { "No messages." }
            } @else {
                ol.transcript-lines {
                    @for line in &c.lines { (transcript_line(line)) }
                }
            }
        }
    }
}

fn transcript_line(line: &TranscriptLine<'_>) -> Markup {
    // Only known kinds become class names.
    let kind = match line.kind {
        "note" => "note",
        "system" => "system",
        "attachment" => "attachment",
        _ => "text",
    };
    html! {
        li class={ "line " (kind) } {
            div.line-meta {
                span.line-when { (line.when) }
                " · "
                span.line-sender { (line.sender) }
                @if kind == "note" { " " span.badge.note-badge { "internal note" } }
            }
            div.line-body {
                @match &line.body {
                    LineBody::Attachment(a) => {
                        (crate::chats::paperclip_icon()) " "
                        @if let Some(href) = &a.href {
                            a href=(href) download { (a.name) }
                        } @else {
                            (a.name)
                        }
                        @if let Some(size) = a.size { " " small.attachment-size { "(" (human_size(size)) ")" } }
                    }
                    LineBody::Text(text) => { (text) }
                }
            }
        }
    }
}

/// "512 B", "1.5 KB", "12 KB", "3.2 MB" (1024-based, like the chat workspace).
fn human_size(bytes: u64) -> String {
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut n = bytes as f64 / 1024.0;
    let mut unit = 0;
    let units = ["KB", "MB", "GB"];
    while n >= 1024.0 && unit < units.len() - 1 {
        n /= 1024.0;
        unit += 1;
    }
    let number = if n < 10.0 {
        let s = format!("{n:.1}");
        s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
    } else {
        format!("{}", n.round())
    };
    format!("{number} {}", units[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>";

    fn view<'a>(
        query: &'a str,
        hits: Vec<HistoryHit<'a>>,
        conversation: Option<TranscriptView<'a>>,
    ) -> HistoryView<'a> {
        HistoryView {
            nonce: "nonce-1",
            csrf: "csrf-tok",
            operator_name: "Ann",
            query,
            hits,
            conversation,
        }
    }

    fn hit<'a>(id: &'a str, snippet: &'a str) -> HistoryHit<'a> {
        HistoryHit {
            href: format!("/console/history?q=refund&c={id}"),
            site_name: "Shop",
            guest: "Guest 7",
            when: "2024-05-01 10:02".to_owned(),
            sender: "guest",
            snippet,
        }
    }

    fn line<'a>(kind: &'a str, sender: &'a str, body: &'a str) -> TranscriptLine<'a> {
        TranscriptLine {
            when: "10:02".to_owned(),
            sender,
            kind,
            body: LineBody::Text(body),
        }
    }

    fn attachment<'a>(sender: &'a str, href: Option<&str>, name: &str) -> TranscriptLine<'a> {
        TranscriptLine {
            when: "10:02".to_owned(),
            sender,
            kind: "attachment",
            body: LineBody::Attachment(AttachmentView {
                href: href.map(str::to_owned),
                name: name.to_owned(),
                size: Some(1536),
            }),
        }
    }

    fn assert_no_markup_injected(html: &str) {
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<img src=x"), "{html}");
        assert!(!html.contains("\"'><img"), "{html}");
    }

    #[test]
    fn search_form_results_and_links() {
        let html = history(&view(
            "refund",
            vec![hit("c1", "I want a refund"), hit("c2", "refund please")],
            None,
        ))
        .into_string();
        assert!(
            html.contains(r#"<form class="history-search" method="get" action="/console/history""#)
        );
        assert!(html.contains(r#"name="q" value="refund""#));
        assert!(
            html.contains(r#"<a href="/console/history?q=refund&amp;c=c1">I want a refund</a>"#)
        );
        assert!(html.contains(r#"<a href="/console/history?q=refund&amp;c=c2">refund please</a>"#));
        assert!(html.contains("<td>Shop</td>"));
        assert!(html.contains("<td>Guest 7</td>"));
        assert!(html.contains("2024-05-01 10:02"));
        assert!(html.contains("2 matches"));
        assert!(html.contains(r#"href="/console/history""#), "top bar link");
        assert!(html.contains(r#"href="/console/chats""#));
        assert!(html.contains(r#"name="csrf" value="csrf-tok""#));
        assert!(!html.contains("transcript-lines"));
        // Only the layout's presence script (every signed-in page keeps the operator present).
        assert_eq!(
            html.matches("<script").count(),
            1,
            "the page needs no script of its own"
        );
        assert!(html.contains(crate::CONSOLE_JS_PATH));
    }

    #[test]
    fn no_query_shows_only_the_form_and_an_empty_result_says_so() {
        let html = history(&view("", vec![], None)).into_string();
        assert!(html.contains(r#"name="q" value="""#));
        assert!(!html.contains("history-hits"));
        assert!(!html.contains("No messages match"));
        let html = history(&view("zebra", vec![], None)).into_string();
        assert!(html.contains("No messages match “zebra”."));
    }

    #[test]
    fn hostile_query_snippets_names_and_ids_are_escaped() {
        let html = history(&view(
            HOSTILE,
            vec![HistoryHit {
                href: HOSTILE.to_owned(),
                site_name: HOSTILE,
                guest: HOSTILE,
                when: HOSTILE.to_owned(),
                sender: HOSTILE,
                snippet: HOSTILE,
            }],
            None,
        ))
        .into_string();
        assert_no_markup_injected(&html);
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("href=\"&lt;script&gt;alert(1)&lt;/script&gt;&quot;"));
    }

    #[test]
    fn transcript_marks_notes_mutes_system_lines_and_names_attachments() {
        let html = history(&view(
            "",
            vec![],
            Some(TranscriptView {
                conversation_id: "c1",
                site_name: "Shop",
                guest: "Guest 7",
                status: "closed",
                lines: vec![
                    line("text", "Guest 7", "hello"),
                    line("note", "Ann", "VIP"),
                    line("system", "system", "Ann joined"),
                    attachment("Ann", Some("/api/v1/attachments/a-1"), "invoice <1>.pdf"),
                    line("attachment", "Guest 7", "{not json"),
                ],
            }),
        ))
        .into_string();
        assert!(html.contains("Conversation with Guest 7"));
        assert!(html.contains(r#"<li class="line text">"#));
        assert!(html.contains(r#"<li class="line note">"#));
        assert!(
            !html.contains('📎') && html.contains(r#"<svg class="icon""#),
            "the attachment icon is inline SVG, not an emoji"
        );
        assert!(html.contains("internal note"));
        assert!(html.contains(r#"<li class="line system">"#));
        assert!(html
            .contains(r#"<a href="/api/v1/attachments/a-1" download>invoice &lt;1&gt;.pdf</a>"#));
        assert!(html.contains("(1.5 KB)"));
        assert!(
            html.contains("{not json"),
            "a line given as text shows as text"
        );
        assert!(html.contains("<code>c1</code>"));
    }

    #[test]
    fn hostile_transcript_is_escaped() {
        let html = history(&view(
            "",
            vec![],
            Some(TranscriptView {
                conversation_id: HOSTILE,
                site_name: HOSTILE,
                guest: HOSTILE,
                status: HOSTILE,
                lines: vec![
                    line(HOSTILE, HOSTILE, HOSTILE),
                    line("note", HOSTILE, HOSTILE),
                    attachment(HOSTILE, Some(HOSTILE), HOSTILE),
                    attachment(HOSTILE, None, HOSTILE),
                    line("attachment", HOSTILE, HOSTILE),
                ],
            }),
        ))
        .into_string();
        assert_no_markup_injected(&html);
        assert!(
            html.contains(r#"<li class="line text">"#),
            "unknown kinds are text"
        );
    }

    #[test]
    fn sizes_read_like_the_workspace() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1 KB");
        assert_eq!(human_size(1536), "1.5 KB");
        assert_eq!(human_size(20 * 1024), "20 KB");
        assert_eq!(human_size(10 * 1024 * 1024), "10 MB");
        assert_eq!(human_size(3 * 1024 * 1024 * 1024), "3 GB");
    }
}
