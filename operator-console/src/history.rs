//! Chat history: search past messages, then read a whole conversation.
//!
//! `GET /console/history?q=…` lists the matching messages ([`HistoryHit`]); each links to
//! `/console/history?c={conversation_id}`, which shows that conversation's transcript
//! ([`TranscriptView`]). The page is plain HTML: no script.

use maud::{html, Markup};

use crate::layout::{page, Frame, SignedIn};

/// One message that matches the search.
pub struct HistoryHit<'a> {
    /// The conversation the message belongs to.
    pub conversation_id: &'a str,
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
    /// The message body; for `attachment` the JSON `{"attachment_id", "name", "size", "content_type"}`.
    pub body: &'a str,
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
                                            a href={ "/console/history?q=" (query_component(v.query)) "&c=" (query_component(hit.conversation_id)) } { (hit.snippet) }
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
                @if kind == "attachment" {
                    @match parse_attachment(line.body) {
                        Some(a) => {
                            "📎 "
                            @if let Some(id) = &a.id {
                                a href={ "/api/v1/attachments/" (path_segment(id)) } download { (a.name) }
                            } @else {
                                (a.name)
                            }
                            @if let Some(size) = a.size { " " small.attachment-size { "(" (human_size(size)) ")" } }
                        }
                        None => { (line.body) }
                    }
                } @else {
                    (line.body)
                }
            }
        }
    }
}

/// What the transcript shows of an attachment message.
#[derive(Debug, PartialEq)]
struct Attachment {
    id: Option<String>,
    name: String,
    size: Option<u64>,
}

/// Reads an attachment message body; `None` unless it is a flat JSON object with a string `name`.
fn parse_attachment(body: &str) -> Option<Attachment> {
    let fields = json::flat_object(body)?;
    let mut id = None;
    let mut name = None;
    let mut size = None;
    for (key, value) in fields {
        match (key.as_str(), value) {
            ("attachment_id", json::Value::Str(s)) if !s.is_empty() => id = Some(s),
            ("name", json::Value::Str(s)) => name = Some(s),
            ("size", json::Value::Num(n)) if n >= 0.0 && n.fract() == 0.0 && n < 9.0e15 => {
                size = Some(n as u64);
            }
            _ => {}
        }
    }
    Some(Attachment {
        id,
        name: name?,
        size,
    })
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

/// Percent-encodes `s` for a URL query value: only unreserved characters stay as they are.
fn query_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encodes `s` for one URL path segment (the same set as a query value).
fn path_segment(s: &str) -> String {
    query_component(s)
}

/// Just enough JSON to read one flat object defensively, so the console needs no JSON crate.
mod json {
    /// A scalar JSON value.
    #[derive(Debug, PartialEq)]
    pub enum Value {
        Str(String),
        Num(f64),
        Other,
    }

    /// The members of a JSON object whose values are all scalars; `None` for anything else.
    pub fn flat_object(text: &str) -> Option<Vec<(String, Value)>> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        p.ws();
        p.eat(b'{')?;
        let mut out = Vec::new();
        p.ws();
        if p.peek() == Some(b'}') {
            p.i += 1;
        } else {
            loop {
                p.ws();
                let key = p.string()?;
                p.ws();
                p.eat(b':')?;
                p.ws();
                let value = p.scalar()?;
                out.push((key, value));
                p.ws();
                match p.next()? {
                    b',' => continue,
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        p.ws();
        (p.i == p.s.len()).then_some(out)
    }

    struct Parser<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl Parser<'_> {
        fn peek(&self) -> Option<u8> {
            self.s.get(self.i).copied()
        }

        fn next(&mut self) -> Option<u8> {
            let b = self.peek()?;
            self.i += 1;
            Some(b)
        }

        fn eat(&mut self, b: u8) -> Option<()> {
            (self.next()? == b).then_some(())
        }

        fn ws(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                self.i += 1;
            }
        }

        fn literal(&mut self, word: &[u8]) -> Option<()> {
            let end = self.i.checked_add(word.len())?;
            (self.s.get(self.i..end)? == word).then(|| self.i = end)
        }

        fn scalar(&mut self) -> Option<Value> {
            match self.peek()? {
                b'"' => self.string().map(Value::Str),
                b't' => self.literal(b"true").map(|()| Value::Other),
                b'f' => self.literal(b"false").map(|()| Value::Other),
                b'n' => self.literal(b"null").map(|()| Value::Other),
                b'-' | b'0'..=b'9' => self.number().map(Value::Num),
                _ => None,
            }
        }

        fn number(&mut self) -> Option<f64> {
            let start = self.i;
            while matches!(
                self.peek(),
                Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
            ) {
                self.i += 1;
            }
            let text = std::str::from_utf8(&self.s[start..self.i]).ok()?;
            // Rust accepts a few spellings JSON does not ("1.", ".5", "+1"); harmless here.
            text.parse::<f64>().ok().filter(|n| n.is_finite())
        }

        fn hex4(&mut self) -> Option<u32> {
            let end = self.i.checked_add(4)?;
            let digits = std::str::from_utf8(self.s.get(self.i..end)?).ok()?;
            let v = u32::from_str_radix(digits, 16).ok()?;
            if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            self.i = end;
            Some(v)
        }

        fn string(&mut self) -> Option<String> {
            self.eat(b'"')?;
            let mut out = String::new();
            loop {
                let start = self.i;
                while !matches!(self.peek()?, b'"' | b'\\') {
                    if self.peek()? < 0x20 {
                        return None;
                    }
                    self.i += 1;
                }
                out.push_str(std::str::from_utf8(&self.s[start..self.i]).ok()?);
                if self.next()? == b'"' {
                    return Some(out);
                }
                let c = match self.next()? {
                    b'"' => '"',
                    b'\\' => '\\',
                    b'/' => '/',
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    b'n' => '\n',
                    b'r' => '\r',
                    b't' => '\t',
                    b'u' => {
                        let hi = self.hex4()?;
                        if (0xD800..0xDC00).contains(&hi) {
                            self.literal(b"\\u")?;
                            let lo = self.hex4()?;
                            if !(0xDC00..0xE000).contains(&lo) {
                                return None;
                            }
                            char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?
                        } else {
                            char::from_u32(hi)?
                        }
                    }
                    _ => return None,
                };
                out.push(c);
            }
        }
    }
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
            conversation_id: id,
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
            body,
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
        assert!(!html.contains("<script"), "the page needs no script");
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
                conversation_id: "c1&x=\"><script>",
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
        assert!(html.contains("&amp;c=c1%26x%3D%22%3E%3Cscript%3E\""));
    }

    #[test]
    fn transcript_marks_notes_mutes_system_lines_and_names_attachments() {
        let attachment = r#"{"attachment_id":"a-1","name":"invoice <1>.pdf","size":1536,"content_type":"application/pdf"}"#;
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
                    line("attachment", "Ann", attachment),
                    line("attachment", "Guest 7", "{not json"),
                ],
            }),
        ))
        .into_string();
        assert!(html.contains("Conversation with Guest 7"));
        assert!(html.contains(r#"<li class="line text">"#));
        assert!(html.contains(r#"<li class="line note">"#));
        assert!(html.contains("internal note"));
        assert!(html.contains(r#"<li class="line system">"#));
        assert!(html
            .contains(r#"<a href="/api/v1/attachments/a-1" download>invoice &lt;1&gt;.pdf</a>"#));
        assert!(html.contains("(1.5 KB)"));
        assert!(!html.contains("attachment_id"), "the JSON is not shown");
        assert!(html.contains("{not json"), "unparsable bodies show as text");
        assert!(html.contains("<code>c1</code>"));
    }

    #[test]
    fn hostile_transcript_is_escaped() {
        let attachment =
            r#"{"attachment_id":"../x?y","name":"<script>alert(1)</script>","size":1}"#;
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
                    line("attachment", HOSTILE, attachment),
                    line("attachment", HOSTILE, HOSTILE),
                ],
            }),
        ))
        .into_string();
        assert_no_markup_injected(&html);
        assert!(html.contains(r#"href="/api/v1/attachments/..%2Fx%3Fy""#));
        assert!(
            html.contains(r#"<li class="line text">"#),
            "unknown kinds are text"
        );
    }

    #[test]
    fn attachment_bodies_are_parsed_defensively() {
        assert_eq!(
            parse_attachment(
                r#" {"attachment_id": "a1", "name": "caf\u00e9 \ud83d\ude00\n.txt", "size": 10, "content_type": "text/plain"} "#
            ),
            Some(Attachment {
                id: Some("a1".into()),
                name: "café 😀\n.txt".into(),
                size: Some(10),
            })
        );
        assert_eq!(
            parse_attachment(r#"{"name":"x","attachment_id":null,"size":-1}"#),
            Some(Attachment {
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
            r#"{"name":"x","extra":{"nested":1}}"#,
            r#"{"name":"x"} trailing"#,
            r#"{"name":"x",}"#,
            r#"{"name":"\ud800"}"#,
            r#"{"name":"\u12"}"#,
            "{\"name\":\"a\u{1}b\"}",
            r#"{"name":"x""#,
        ] {
            assert_eq!(parse_attachment(bad), None, "{bad}");
        }
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
