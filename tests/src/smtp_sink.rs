//! A real SMTP server inside the test (mailin-embedded on 127.0.0.1), keeping every message it
//! receives, so tests check what Beckon really sent over the wire.

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin_embedded::{response, Handler, Response, Server, SslConfig};

/// One received message.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// `RCPT TO` addresses.
    pub envelope_to: Vec<String>,
    /// The raw message as sent.
    pub raw: String,
}

impl ReceivedMail {
    /// The parsed message.
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(self.raw.as_bytes())
            .expect("a parsable message")
    }

    /// A header's raw value (first occurrence), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.raw.split("\r\n\r\n").next().unwrap_or("");
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(v) = value.as_mut() {
                if line.starts_with(' ') || line.starts_with('\t') {
                    v.push_str(line);
                    continue;
                }
                break;
            }
            if let Some((n, v)) = line.split_once(':') {
                if n.eq_ignore_ascii_case(name) {
                    value = Some(v.trim().to_owned());
                }
            }
        }
        value
    }

    /// The decoded subject.
    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }

    /// The decoded plain-text body.
    pub fn text(&self) -> String {
        self.parsed()
            .body_text(0)
            .map(|t| t.into_owned())
            .unwrap_or_default()
    }

    /// The decoded HTML body.
    pub fn html(&self) -> String {
        self.parsed()
            .body_html(0)
            .map(|t| t.into_owned())
            .unwrap_or_default()
    }
}

#[derive(Clone)]
struct Collect {
    inbox: Arc<Mutex<Vec<ReceivedMail>>>,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Collect {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, _from: &str) -> Response {
        self.to.clear();
        self.data.clear();
        response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        self.to.push(to.to_owned());
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        self.inbox
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(ReceivedMail {
                envelope_to: self.to.clone(),
                raw: String::from_utf8_lossy(&self.data).into_owned(),
            });
        response::OK
    }
}

/// The test's SMTP server.
#[derive(Clone)]
pub struct SmtpSink {
    /// Where it listens.
    pub addr: SocketAddr,
    inbox: Arc<Mutex<Vec<ReceivedMail>>>,
}

/// A free port on 127.0.0.1 (bound and released; for servers started later).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl SmtpSink {
    /// Starts listening on a free port.
    pub fn start() -> SmtpSink {
        SmtpSink::start_on(0)
    }

    /// Starts listening on `port` (0 for any).
    pub fn start_on(port: u16) -> SmtpSink {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind SMTP sink");
        let addr = listener.local_addr().expect("address");
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let mut server = Server::new(Collect {
            inbox: inbox.clone(),
            to: Vec::new(),
            data: Vec::new(),
        });
        server
            .with_name("sink.test")
            .with_ssl(SslConfig::None)
            .expect("no TLS")
            .with_num_threads(2)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        SmtpSink { addr, inbox }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.inbox.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits until a message to `address` whose subject contains `subject` arrives; panics after
    /// `timeout` with the (recipients, subject) of every message seen.
    pub async fn wait_for(&self, address: &str, subject: &str, timeout: Duration) -> ReceivedMail {
        crate::eventually(
            timeout,
            &format!("a mail to {address} about {subject:?}"),
            || {
                let received = self.received();
                match received.iter().find(|m| {
                    m.envelope_to
                        .iter()
                        .any(|t| t.eq_ignore_ascii_case(address))
                        && m.subject().contains(subject)
                }) {
                    Some(m) => Ok(m.clone()),
                    None => Err(received
                        .iter()
                        .map(|m| (m.envelope_to.clone(), m.subject()))
                        .collect::<Vec<_>>()),
                }
            },
        )
        .await
    }
}
