//! A small TURN client (RFC 5766 over UDP or TCP, long-term credentials) for checking a TURN server
//! the way a browser uses it, without a browser: allocate a relay, permit a peer, send data to it
//! through the relay and receive its answer.
//!
//! Messages are built and parsed by the `stun_codec` crate; this module only holds the exchanges.
//! Every request after the first carries USERNAME, REALM, NONCE and MESSAGE-INTEGRITY (HMAC-SHA1
//! keyed with MD5(username:realm:password)); the first is sent without them to learn the realm and
//! nonce from the server's 401. A success answer is accepted only when its own MESSAGE-INTEGRITY
//! checks out with the same key, so an allocation proves both sides derived the same key.
//!
//! Calls block the calling thread, each for at most [`ANSWER_TIMEOUT`].

use std::collections::VecDeque;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use bytecodec::{DecodeExt as _, EncodeExt as _};
use stun_codec::rfc5389::attributes::{
    ErrorCode, Fingerprint, MessageIntegrity, Nonce, Realm, Software, Username, XorMappedAddress,
};
use stun_codec::rfc5389::methods::BINDING;
use stun_codec::rfc5766::attributes::{
    Data, Lifetime, RequestedTransport, XorPeerAddress, XorRelayAddress,
};
use stun_codec::rfc5766::methods::{ALLOCATE, CREATE_PERMISSION, DATA, SEND};
use stun_codec::{Message, MessageClass, MessageDecoder, MessageEncoder, Method, TransactionId};

use wire::Attribute;

/// Longest wait for the answer to one request (UDP requests are retransmitted meanwhile).
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a UDP request waits before it is sent again.
const UDP_RETRANSMIT: Duration = Duration::from_millis(500);

/// REQUESTED-TRANSPORT's value for a UDP relay (the IP protocol number), the only kind WebRTC uses.
const UDP_PROTOCOL: u8 = 17;

/// The attributes this client reads or writes: RFC 5389's and RFC 5766's in one set. Others a
/// server sends (coturn adds a few of its own) are decoded as unknown attributes and ignored.
mod wire {
    use stun_codec::rfc5389::attributes::{
        ErrorCode, Fingerprint, MessageIntegrity, Nonce, Realm, Software, Username,
        XorMappedAddress,
    };
    use stun_codec::rfc5766::attributes::{
        Data, Lifetime, RequestedTransport, XorPeerAddress, XorRelayAddress,
    };

    stun_codec::define_attribute_enums!(
        Attribute,
        AttributeDecoder,
        AttributeEncoder,
        [
            ErrorCode,
            Fingerprint,
            MessageIntegrity,
            Nonce,
            Realm,
            Software,
            Username,
            XorMappedAddress,
            Data,
            Lifetime,
            RequestedTransport,
            XorPeerAddress,
            XorRelayAddress
        ]
    );
}

/// How the client reaches the TURN server (the relay itself is UDP either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `turn:HOST:PORT?transport=udp`.
    Udp,
    /// `turn:HOST:PORT?transport=tcp`: STUN messages back to back on one connection.
    Tcp,
}

/// Why a TURN exchange failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnError {
    /// The server answered with an error response: 401 for credentials it does not accept (wrong
    /// secret, expired username), 403 for a peer it will not relay to, 486 over quota, ...
    Refused {
        /// The ERROR-CODE number.
        code: u16,
        /// The ERROR-CODE reason phrase.
        reason: String,
    },
    /// No answer in time, an answer that does not parse or fails its integrity check, or a socket
    /// error.
    Failed(String),
}

impl std::fmt::Display for TurnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TurnError::Refused { code, reason } => write!(f, "refused: {code} {reason}"),
            TurnError::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}

impl std::error::Error for TurnError {}

/// A relay the server allocated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// XOR-RELAYED-ADDRESS: where peers send to reach this client.
    pub relayed: SocketAddr,
    /// XOR-MAPPED-ADDRESS: this client's address as the server saw it.
    pub mapped: Option<SocketAddr>,
    /// LIFETIME: how long the allocation lasts without a refresh.
    pub lifetime: Option<Duration>,
}

/// One TURN client: one socket (or connection) to the server, one set of credentials.
pub struct TurnClient {
    conn: Connection,
    username: String,
    password: String,
    /// REALM and NONCE from the server's last 401 or 438; `None` until the first challenge.
    challenge: Option<(Realm, Nonce)>,
    /// Data indications that arrived while a request waited for its answer.
    received: VecDeque<(SocketAddr, Vec<u8>)>,
}

enum Connection {
    Udp(UdpSocket),
    Tcp(TcpStream),
}

impl TurnClient {
    /// A client of the TURN server at `server` with `username` and `password` (for the TURN REST
    /// API scheme: the `EXPIRY:ID` username and the base64 HMAC credential). Only opens the socket
    /// (connects, for TCP); nothing is sent yet.
    pub fn connect(
        server: SocketAddr,
        transport: Transport,
        username: &str,
        password: &str,
    ) -> Result<TurnClient, TurnError> {
        let conn = match transport {
            Transport::Udp => {
                let socket = UdpSocket::bind((server.ip(), 0))
                    .and_then(|s| s.connect(server).map(|()| s))
                    .map_err(|e| TurnError::Failed(format!("UDP socket to {server}: {e}")))?;
                Connection::Udp(socket)
            }
            Transport::Tcp => {
                let stream = TcpStream::connect_timeout(&server, ANSWER_TIMEOUT)
                    .map_err(|e| TurnError::Failed(format!("TCP connection to {server}: {e}")))?;
                Connection::Tcp(stream)
            }
        };
        Ok(TurnClient {
            conn,
            username: username.to_owned(),
            password: password.to_owned(),
            challenge: None,
            received: VecDeque::new(),
        })
    }

    /// The realm the server named in its challenge, once it has sent one.
    pub fn realm(&self) -> Option<&str> {
        self.challenge.as_ref().map(|(realm, _)| realm.text())
    }

    /// Allocates a UDP relay (ALLOCATE with REQUESTED-TRANSPORT UDP), authenticating as the
    /// server's 401 asks.
    pub fn allocate(&mut self) -> Result<Allocation, TurnError> {
        let answer =
            self.authenticated(ALLOCATE, vec![RequestedTransport::new(UDP_PROTOCOL).into()])?;
        let relayed = answer
            .get_attribute::<XorRelayAddress>()
            .ok_or_else(|| {
                TurnError::Failed("ALLOCATE success without XOR-RELAYED-ADDRESS".into())
            })?
            .address();
        Ok(Allocation {
            relayed,
            mapped: answer
                .get_attribute::<XorMappedAddress>()
                .map(XorMappedAddress::address),
            lifetime: answer.get_attribute::<Lifetime>().map(Lifetime::lifetime),
        })
    }

    /// Permits `peer`'s IP address to exchange data through the relay (CREATE_PERMISSION); the
    /// server answers 403 for an address it will not relay to.
    pub fn create_permission(&mut self, peer: SocketAddr) -> Result<(), TurnError> {
        self.authenticated(CREATE_PERMISSION, vec![XorPeerAddress::new(peer).into()])
            .map(drop)
    }

    /// Sends `data` from the relayed address to `peer` (a SEND indication; the server answers
    /// nothing, and drops it without a permission for the peer).
    pub fn send_to_peer(&mut self, peer: SocketAddr, data: &[u8]) -> Result<(), TurnError> {
        let mut message = Message::new(MessageClass::Indication, SEND, transaction_id());
        message.add_attribute(XorPeerAddress::new(peer));
        message.add_attribute(
            Data::new(data.to_vec()).map_err(|e| TurnError::Failed(format!("DATA: {e}")))?,
        );
        add_fingerprint(&mut message)?;
        self.send(message)
    }

    /// The next data a peer sent to the relayed address (a DATA indication): the peer's address
    /// and the bytes. Fails when none arrives within `timeout`.
    pub fn receive_from_peer(
        &mut self,
        timeout: Duration,
    ) -> Result<(SocketAddr, Vec<u8>), TurnError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(received) = self.received.pop_front() {
                return Ok(received);
            }
            match self.receive_until(deadline)? {
                Some(message) => self.keep_if_data(&message),
                None => {
                    return Err(TurnError::Failed(format!(
                        "no data from a peer within {timeout:?}"
                    )))
                }
            }
        }
    }

    /// Sends `method` with `attributes`, with credentials once the server has challenged, and
    /// answers the server's challenge (401 with REALM and NONCE, or 438 with a fresh NONCE) by
    /// sending it again with them. A 401 to a request that carried credentials is a refusal.
    fn authenticated(
        &mut self,
        method: Method,
        attributes: Vec<Attribute>,
    ) -> Result<Message<Attribute>, TurnError> {
        // The first request may draw a 401 challenge, and a nonce may go stale once.
        for _ in 0..3 {
            let mut request = Message::new(MessageClass::Request, method, transaction_id());
            for attribute in &attributes {
                request.add_attribute(attribute.clone());
            }
            let signed = self.challenge.is_some();
            if let Some((realm, nonce)) = &self.challenge {
                let username = Username::new(self.username.clone())
                    .map_err(|e| TurnError::Failed(format!("USERNAME: {e}")))?;
                request.add_attribute(username.clone());
                request.add_attribute(realm.clone());
                request.add_attribute(nonce.clone());
                let integrity = MessageIntegrity::new_long_term_credential(
                    &request,
                    &username,
                    realm,
                    &self.password,
                )
                .map_err(|e| TurnError::Failed(format!("MESSAGE-INTEGRITY: {e}")))?;
                request.add_attribute(integrity);
            }
            add_fingerprint(&mut request)?;
            let answer = self.transact(request)?;
            match answer.class() {
                MessageClass::SuccessResponse => {
                    self.check_integrity(&answer)?;
                    return Ok(answer);
                }
                MessageClass::ErrorResponse => {
                    let (code, reason) = answer
                        .get_attribute::<ErrorCode>()
                        .map(|e| (e.code(), e.reason_phrase().to_owned()))
                        .unwrap_or((0, "(no ERROR-CODE)".to_owned()));
                    let challenge = answer
                        .get_attribute::<Realm>()
                        .cloned()
                        .zip(answer.get_attribute::<Nonce>().cloned());
                    let stale_nonce = code == 438;
                    match challenge {
                        Some(challenge) if (code == 401 && !signed) || stale_nonce => {
                            self.challenge = Some(challenge);
                        }
                        _ => return Err(TurnError::Refused { code, reason }),
                    }
                }
                class => {
                    return Err(TurnError::Failed(format!(
                        "a {class:?} in answer to a request"
                    )))
                }
            }
        }
        Err(TurnError::Failed(
            "the server kept challenging the same request".into(),
        ))
    }

    /// Checks a success answer's MESSAGE-INTEGRITY against the long-term key.
    fn check_integrity(&self, answer: &Message<Attribute>) -> Result<(), TurnError> {
        let Some((realm, _)) = &self.challenge else {
            return Ok(());
        };
        let integrity = answer.get_attribute::<MessageIntegrity>().ok_or_else(|| {
            TurnError::Failed("an authenticated request's answer lacks MESSAGE-INTEGRITY".into())
        })?;
        let username = Username::new(self.username.clone())
            .map_err(|e| TurnError::Failed(format!("USERNAME: {e}")))?;
        integrity
            .check_long_term_credential(&username, realm, &self.password)
            .map_err(|_| {
                TurnError::Failed("the answer's MESSAGE-INTEGRITY does not match our key".into())
            })
    }

    /// Sends `request` and waits for the answer with its transaction id, sending it again on UDP
    /// while none comes; DATA indications that arrive meanwhile are kept for
    /// [`TurnClient::receive_from_peer`].
    fn transact(&mut self, request: Message<Attribute>) -> Result<Message<Attribute>, TurnError> {
        let id = request.transaction_id();
        let method = request.method();
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        let bytes = encode(request)?;
        loop {
            self.send_bytes(&bytes)?;
            let resend_at = match self.conn {
                Connection::Udp(_) => (Instant::now() + UDP_RETRANSMIT).min(deadline),
                Connection::Tcp(_) => deadline,
            };
            while let Some(message) = self.receive_until(resend_at)? {
                if message.transaction_id() == id && message.method() == method {
                    return Ok(message);
                }
                self.keep_if_data(&message);
            }
            if Instant::now() >= deadline {
                return Err(TurnError::Failed(format!(
                    "no answer to {method:?} within {ANSWER_TIMEOUT:?}"
                )));
            }
        }
    }

    fn keep_if_data(&mut self, message: &Message<Attribute>) {
        if message.class() != MessageClass::Indication || message.method() != DATA {
            return;
        }
        let peer = message.get_attribute::<XorPeerAddress>();
        let data = message.get_attribute::<Data>();
        if let (Some(peer), Some(data)) = (peer, data) {
            self.received
                .push_back((peer.address(), data.data().to_vec()));
        }
    }

    fn send(&mut self, message: Message<Attribute>) -> Result<(), TurnError> {
        let bytes = encode(message)?;
        self.send_bytes(&bytes)
    }

    fn send_bytes(&mut self, bytes: &[u8]) -> Result<(), TurnError> {
        let sent = match &mut self.conn {
            Connection::Udp(socket) => socket.send(bytes).map(drop),
            Connection::Tcp(stream) => stream.write_all(bytes),
        };
        sent.map_err(|e| TurnError::Failed(format!("send: {e}")))
    }

    /// The next STUN message from the server, or `None` when none arrives before `deadline`.
    fn receive_until(
        &mut self,
        deadline: Instant,
    ) -> Result<Option<Message<Attribute>>, TurnError> {
        let Some(wait) = deadline
            .checked_duration_since(Instant::now())
            .filter(|wait| !wait.is_zero())
        else {
            return Ok(None);
        };
        let received = match &mut self.conn {
            Connection::Udp(socket) => {
                let mut buf = vec![0u8; 64 * 1024];
                socket
                    .set_read_timeout(Some(wait))
                    .and_then(|()| socket.recv(&mut buf))
                    .map(|n| {
                        buf.truncate(n);
                        buf
                    })
            }
            Connection::Tcp(stream) => {
                // A STUN message on a stream: the 20-byte header says how long the rest is.
                let mut buf = vec![0u8; 20];
                stream
                    .set_read_timeout(Some(wait))
                    .and_then(|()| stream.read_exact(&mut buf))
                    .and_then(|()| {
                        let length = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
                        buf.resize(20 + length, 0);
                        stream.read_exact(&mut buf[20..])
                    })
                    .map(|()| buf)
            }
        };
        let bytes = match received {
            Ok(bytes) => bytes,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(TurnError::Failed(format!("receive: {e}"))),
        };
        MessageDecoder::<Attribute>::new()
            .decode_from_bytes(&bytes)
            .map_err(|e| TurnError::Failed(format!("undecodable answer: {e}")))?
            .map(Some)
            .map_err(|broken| TurnError::Failed(format!("broken answer: {broken:?}")))
    }
}

/// Asks the STUN server at `server` over UDP for this socket's address (an unauthenticated
/// BINDING request): `Ok(mapped address)` once it answers, which shows it is serving.
pub fn binding(server: SocketAddr, timeout: Duration) -> Result<SocketAddr, TurnError> {
    let socket = UdpSocket::bind((server.ip(), 0))
        .and_then(|s| s.connect(server).map(|()| s))
        .map_err(|e| TurnError::Failed(format!("UDP socket to {server}: {e}")))?;
    let mut request = Message::<Attribute>::new(MessageClass::Request, BINDING, transaction_id());
    request.add_attribute(
        Software::new("beckon-tests".to_owned())
            .map_err(|e| TurnError::Failed(format!("SOFTWARE: {e}")))?,
    );
    let id = request.transaction_id();
    let bytes = encode(request)?;
    socket
        .send(&bytes)
        .and_then(|_| socket.set_read_timeout(Some(timeout)))
        .map_err(|e| TurnError::Failed(format!("send: {e}")))?;
    let mut buf = vec![0u8; 2048];
    let n = socket
        .recv(&mut buf)
        .map_err(|e| TurnError::Failed(format!("no BINDING answer: {e}")))?;
    let answer = MessageDecoder::<Attribute>::new()
        .decode_from_bytes(&buf[..n])
        .map_err(|e| TurnError::Failed(format!("undecodable answer: {e}")))?
        .map_err(|broken| TurnError::Failed(format!("broken answer: {broken:?}")))?;
    if answer.transaction_id() != id || answer.class() != MessageClass::SuccessResponse {
        return Err(TurnError::Failed(format!(
            "unexpected answer to BINDING: {:?}",
            answer.class()
        )));
    }
    answer
        .get_attribute::<XorMappedAddress>()
        .map(XorMappedAddress::address)
        .ok_or_else(|| TurnError::Failed("BINDING success without XOR-MAPPED-ADDRESS".into()))
}

fn transaction_id() -> TransactionId {
    let random = uuid::Uuid::new_v4();
    let mut id = [0u8; 12];
    id.copy_from_slice(&random.as_bytes()[..12]);
    TransactionId::new(id)
}

fn add_fingerprint(message: &mut Message<Attribute>) -> Result<(), TurnError> {
    let fingerprint =
        Fingerprint::new(message).map_err(|e| TurnError::Failed(format!("FINGERPRINT: {e}")))?;
    message.add_attribute(fingerprint);
    Ok(())
}

fn encode(message: Message<Attribute>) -> Result<Vec<u8>, TurnError> {
    MessageEncoder::new()
        .encode_into_bytes(message)
        .map_err(|e| TurnError::Failed(format!("encode: {e}")))
}
