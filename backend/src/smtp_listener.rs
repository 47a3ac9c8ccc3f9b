//! Beckon's own SMTP listener for replies to its mail (`--inbound-smtp-listen`). It accepts mail only
//! for `reply+TOKEN@REPLY_DOMAIN` addresses (no relaying, nothing else), up to a size limit, and
//! threads each message with [`crate::services::inbound_mail::accept`].

use std::net::IpAddr;
use std::sync::Arc;

use mailin_embedded::{response, Handler, Response, Server, SslConfig};

use crate::services::{inbound_mail, ServiceError};
use crate::state::AppState;

/// Largest reply accepted, in bytes.
const MAX_MAIL_BYTES: usize = 2 * 1024 * 1024;

#[derive(Clone)]
struct ReplyHandler {
    state: Arc<AppState>,
    runtime: tokio::runtime::Handle,
    recipients: Vec<String>,
    data: Vec<u8>,
    too_big: bool,
}

impl Handler for ReplyHandler {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, _from: &str) -> Response {
        self.recipients.clear();
        self.data.clear();
        self.too_big = false;
        response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        let domain = &self.state.settings.outbound.reply_domain;
        if inbound_mail::token_of(to, domain).is_some() {
            self.recipients.push(to.to_owned());
            response::OK
        } else {
            response::NO_MAILBOX
        }
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if self.data.len() + buf.len() > MAX_MAIL_BYTES {
            self.too_big = true;
        } else {
            self.data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if self.too_big {
            return response::NO_STORAGE;
        }
        let Some(mail) = inbound_mail::parse_raw(&self.data, &self.recipients) else {
            return response::TRANSACTION_FAILED;
        };
        let state = self.state.clone();
        let outcome = self
            .runtime
            .block_on(async move { crate::services::inbound_mail::accept(&state, mail).await });
        match outcome {
            Ok(()) => response::OK,
            Err(inbound_mail::NotThreaded::Service(ServiceError::Limited { .. })) => {
                tracing::info!("mailed replies to one address arrive too fast; deferred");
                // A temporary refusal: the sending server queues the mail and tries again.
                response::INTERNAL_ERROR
            }
            Err(inbound_mail::NotThreaded::Service(e)) => {
                tracing::error!(error = %e, "could not store a mailed reply");
                response::INTERNAL_ERROR
            }
            Err(e) => {
                tracing::info!(reason = %e, "mailed reply not threaded");
                // Accepted and dropped would hide it from the sender; refuse so they get a bounce.
                response::NO_MAILBOX
            }
        }
    }
}

/// Starts the listener on its own threads (mailin is blocking). Binding errors are returned at once.
pub fn start(state: Arc<AppState>, addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|e| anyhow::anyhow!("cannot listen for mail on {addr}: {e}"))?;
    let handler = ReplyHandler {
        state: state.clone(),
        runtime: tokio::runtime::Handle::current(),
        recipients: Vec::new(),
        data: Vec::new(),
        too_big: false,
    };
    let mut server = Server::new(handler);
    server
        .with_name(state.settings.outbound.reply_domain.clone())
        .with_ssl(SslConfig::None)
        .map_err(|e| anyhow::anyhow!("SMTP listener: {e}"))?
        .with_num_threads(2)
        .with_tcp_listener(listener);
    std::thread::Builder::new()
        .name("beckon-smtp".into())
        .spawn(move || {
            if let Err(e) = server.serve() {
                tracing::error!(error = %e, "the SMTP listener stopped");
            }
        })?;
    tracing::info!(%addr, "listening for mailed replies");
    Ok(())
}
