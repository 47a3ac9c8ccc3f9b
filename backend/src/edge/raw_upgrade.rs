//! The lean path of `/ws/visitor`: a connection that opens with the visitor socket's upgrade
//! request (see [`super`]) is answered here and then speaks WebSocket on the bare TCP
//! stream ([`RawSocket`]), so an idle presence socket holds no HTTP buffers.
//!
//! The request head is parsed by actix-http's own HTTP/1 decoder and the upgrade checked by its
//! WebSocket handshake check; admission (site, origin, guest) and the session are the same
//! functions the dispatcher route uses, and refusals are [`ApiError`] responses.

use std::sync::Arc;
use std::time::Duration;

use actix_codec::Decoder as _;
use actix_http::h1::{Codec, Message};
use actix_http::{Request, ServiceConfig};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError as _};
use bytes::BytesMut;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::timeouts::REQUEST_HEAD_TIMEOUT;
use super::visitor::{self as ws_visitor, Connect, MAX_MESSAGE};
use crate::error::ApiError;
use crate::realtime::raw_socket::RawSocket;
use crate::state::AppState;

/// The request line every connection taken by this path starts with.
pub const REQUEST_PREFIX: &[u8] = b"GET /ws/visitor?";

/// Largest request head read (browsers send well under 2 KiB here; cookies of the server's own
/// domain are the bulk).
const MAX_HEAD: usize = 16 * 1024;
/// How long a refusal may take to write.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long what the client still sends after a refusal is read and dropped, so the connection
/// ends with a FIN rather than a reset that could destroy the answer before it is read.
const LINGER: Duration = Duration::from_secs(1);

/// Answers the upgrade request on `io` and runs the visitor socket until it ends.
pub async fn serve(state: Arc<AppState>, io: TcpStream) {
    // Boxed: this future lives as long as the socket, and inline the handshake's state would
    // stay in it for the socket's whole life.
    let Some((io, admitted, rest)) = Box::pin(handshake(&state, io)).await else {
        return;
    };
    let transport = RawSocket::new(io, rest, MAX_MESSAGE);
    ws_visitor::run_session(state, admitted, transport).await;
}

/// Reads the request, admits it and answers `101 Switching Protocols`, or answers the refusal
/// and closes; the stream, the admission and any bytes that came after the request.
async fn handshake(
    state: &AppState,
    mut io: TcpStream,
) -> Option<(TcpStream, ws_visitor::Admitted, BytesMut)> {
    let (req, rest) = match tokio::time::timeout(REQUEST_HEAD_TIMEOUT, read_head(&mut io)).await {
        Ok(Ok(head)) => head,
        Ok(Err(refusal)) => return refuse(io, refusal).await,
        // Slow or silent: nothing to answer.
        Err(_) => return None,
    };
    let peer = io
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let admitted = match admit(state, &req, peer).await {
        Ok(admitted) => admitted,
        Err(refusal) => return refuse(io, refusal).await,
    };
    let accept = req
        .head()
        .headers()
        .get("sec-websocket-key")
        .map(|key| actix_http::ws::hash_key(key.as_bytes()))?;
    let mut switching = Vec::with_capacity(160);
    switching.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-accept: ",
    );
    switching.extend_from_slice(&accept);
    switching.extend_from_slice(b"\r\n\r\n");
    io.write_all(&switching).await.ok()?;
    Some((io, admitted, rest))
}

/// Reads and parses the request head; the request and any bytes after it.
async fn read_head(io: &mut TcpStream) -> Result<(Request, BytesMut), HttpResponse> {
    let mut codec = Codec::new(ServiceConfig::default());
    let mut buf = BytesMut::with_capacity(2048);
    loop {
        match codec.decode(&mut buf) {
            Ok(Some(Message::Item(req))) => return Ok((req, buf)),
            Ok(_) if buf.len() >= MAX_HEAD => {
                return Err(plain(
                    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    "request header fields too large",
                ))
            }
            Ok(_) => {}
            Err(_) => return Err(plain(StatusCode::BAD_REQUEST, "malformed request")),
        }
        buf.reserve(1024);
        match io.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return Err(plain(StatusCode::BAD_REQUEST, "incomplete request")),
            Ok(_) => {}
        }
    }
}

/// The WebSocket handshake check, then the visitor socket's own admission (`peer` is the TCP
/// peer, resolved through trusted proxies as on the dispatcher path).
async fn admit(
    state: &AppState,
    req: &Request,
    peer: std::net::IpAddr,
) -> Result<ws_visitor::Admitted, HttpResponse> {
    actix_http::ws::verify_handshake(req.head()).map_err(|e| e.error_response())?;
    let query = actix_web::web::Query::<Connect>::from_query(req.uri().query().unwrap_or(""))
        .map_err(|e| ApiError::BadRequest(e.to_string()).error_response())?;
    let origin = req
        .head()
        .headers()
        .get("origin")
        .and_then(|v| v.to_str().ok());
    let ip = crate::extract::client::ip_behind_proxies(peer, req.head().headers(), &state.settings);
    ws_visitor::admit(state, origin, ip, query.into_inner())
        .await
        .map_err(|e| e.error_response())
}

fn plain(status: StatusCode, message: &'static str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(message)
}

/// Writes a refusal as an HTTP/1.1 response and closes the connection; `None`, for
/// [`handshake`] to return.
async fn refuse<T>(mut io: TcpStream, response: HttpResponse) -> Option<T> {
    let (head, body) = response.into_parts();
    let body = actix_web::body::to_bytes(body).await.unwrap_or_default();
    let status = head.status();
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    for (name, value) in head.headers() {
        if let Ok(value) = value.to_str() {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    out.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&body);
    let written = tokio::time::timeout(RESPONSE_TIMEOUT, async {
        io.write_all(&bytes).await?;
        io.shutdown().await
    })
    .await;
    if matches!(written, Ok(Ok(()))) {
        let _ = tokio::time::timeout(LINGER, async {
            let mut sink = [0u8; 1024];
            while matches!(io.read(&mut sink).await, Ok(n) if n > 0) {}
        })
        .await;
    }
    None
}
