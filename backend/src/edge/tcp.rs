//! The TCP server: what actix-web's `HttpServer` does (workers, the HTTP/1 service per
//! connection, graceful stop), plus one fork in front of it (see [`super`]).

use std::future::Future as _;
use std::io;
use std::net::TcpListener;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_http::error::DispatchError;
use actix_http::{HttpService, Protocol, Request, Response};
use actix_server::Server;
use actix_service::{fn_factory, fn_service, map_config, IntoServiceFactory, Service as _};
use actix_service::{ServiceFactory, ServiceFactoryExt as _};
use actix_web::body::MessageBody;
use actix_web::dev::AppConfig;
use futures_util::future::LocalBoxFuture;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::raw_upgrade;
pub use super::timeouts::{REQUEST_HEAD_TIMEOUT, WRITE_STALL_TIMEOUT};
use crate::state::AppState;

/// How long a new connection may take to send enough bytes to tell a visitor socket from other
/// requests; a connection still silent then goes to the HTTP service, whose own request timeout
/// takes over.
const FIRST_BYTES_WAIT: Duration = Duration::from_secs(2);

/// Serves `app` (a factory of the actix-web `App`, called once per worker, as `HttpServer` does)
/// on `listener` with the visitor-socket fork in front of it.
pub fn serve<F, I, S, B>(
    listener: TcpListener,
    app: F,
    state: AppState,
    shutdown_timeout_secs: u64,
) -> std::io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as actix_service::Service<Request>>::Future: 'static,
    B: MessageBody + 'static,
{
    let builder = Server::build()
        .shutdown_timeout(shutdown_timeout_secs)
        .disable_signals();
    let shutdown_signal = builder.graceful_shutdown_signal();
    let local_addr = listener.local_addr()?;
    let state = Arc::new(state);
    let builder = builder.listen("beckon", listener, move || {
        let signal = shutdown_signal.clone();
        let http = HttpService::build()
            .graceful_shutdown_signal(move || {
                let signal = signal.clone();
                async move { signal.notified().await }
            })
            .client_request_timeout(REQUEST_HEAD_TIMEOUT)
            .client_disconnect_timeout(Duration::from_secs(1))
            .local_addr(local_addr)
            .finish(map_config(
                app()
                    .into_factory()
                    .map_err(|err| err.into().error_response()),
                // Host and address come from each request; the default only fills in for an
                // HTTP/1.0 request without `Host:`.
                |_| AppConfig::default(),
            ));
        let state = state.clone();
        fn_factory(move || {
            let http = http.new_service(());
            let state = state.clone();
            async move {
                let http = Rc::new(http.await?);
                Ok::<_, ()>(fn_service(move |io: TcpStream| {
                    let http = http.clone();
                    let state = state.clone();
                    // A connection's task holds this future for the connection's life, so it is
                    // sized for the visitor socket, the common case: the peek and the HTTP
                    // dispatcher (both larger) are boxed apart.
                    let connection: LocalBoxFuture<'static, Result<(), DispatchError>> =
                        Box::pin(async move {
                            if Box::pin(opens_visitor_socket(&io)).await {
                                raw_upgrade::serve(state, io).await;
                                Ok(())
                            } else {
                                let peer = io.peer_addr().ok();
                                let io = StallGuard { io, stalled: None };
                                Box::pin(http.call((io, Protocol::Http1, peer))).await
                            }
                        });
                    connection
                }))
            }
        })
    })?;
    Ok(builder.run())
}

/// Whether the connection's first bytes are the visitor socket's request line. Only peeks: the
/// bytes stay for whichever path takes the connection.
async fn opens_visitor_socket(io: &TcpStream) -> bool {
    let prefix = raw_upgrade::REQUEST_PREFIX;
    let deadline = tokio::time::Instant::now() + FIRST_BYTES_WAIT;
    let mut seen = [0u8; raw_upgrade::REQUEST_PREFIX.len()];
    loop {
        // Too slow, or a failed peek: either way the HTTP service takes the connection.
        let peeked = tokio::time::timeout_at(deadline, io.peek(&mut seen))
            .await
            .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()));
        let Ok(n) = peeked else {
            return false;
        };
        if n == 0 || seen[..n] != prefix[..n] {
            return false;
        }
        if n == prefix.len() {
            return true;
        }
        // The request line arrived split (rare): peek again once more has come.
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A connection whose writes fail (`TimedOut`) once they have made no progress for
/// [`WRITE_STALL_TIMEOUT`], so the HTTP dispatcher lets go of a peer that stopped reading.
pub struct StallGuard {
    io: TcpStream,
    /// Running since a write was first refused (the peer's window and our buffer are full).
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl StallGuard {
    /// What a write that made no progress answers: wait, or fail once stalled too long.
    fn stalled<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(WRITE_STALL_TIMEOUT)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the peer stopped reading",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn progress<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match poll {
            Poll::Pending => self.stalled(cx),
            ready => {
                self.stalled = None;
                ready
            }
        }
    }
}

impl AsyncRead for StallGuard {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl AsyncWrite for StallGuard {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_write(cx, buf);
        this.progress(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.progress(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_flush(cx);
        this.progress(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
