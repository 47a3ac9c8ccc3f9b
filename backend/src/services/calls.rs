//! Voice and video calls as people make them: start (ring), answer or decline, hang up, and the
//! signalling in between. Beckon carries only the signalling; the media flows between the two
//! browsers. A call has exactly two parties, the conversation's guest and the operator it is
//! assigned to: every request checks the sender is one of them, and every event goes only to them
//! (the guest's tabs following the conversation, the operator's own consoles). Each step is
//! committed with its transcript line before it is announced.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::chat::{self, Party};
use super::{run, ServiceError};
use crate::config::CallSettings;
use crate::db::models::{Call, Conversation, Message, Operator, Site};
use crate::db::{DbConnection, DbError};
use crate::domain::{
    self, CallId, CallMedia, CallOutcome, CallSide, CallState, ConversationStatus, InvalidInput,
};
use crate::realtime::protocol::{CallRequest, CallView, IceServerView, Signal, SignalKind};
use crate::realtime::ServerEvent;
use crate::state::AppState;

/// Longest SDP accepted in an offer or answer, in characters.
pub const MAX_SDP_CHARS: usize = 32_000;
/// Longest candidate line accepted, in characters.
pub const MAX_CANDIDATE_CHARS: usize = 1_000;

/// A tab's id: 1 to 64 visible ASCII characters.
#[derive(Debug, Clone)]
pub struct TabId(String);

impl TabId {
    /// Parses a tab id.
    pub fn parse(raw: &str) -> Result<TabId, InvalidInput> {
        if raw.is_empty() || raw.len() > 64 || !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidInput::new(
                "tab",
                "must be 1 to 64 visible ASCII characters",
            ));
        }
        Ok(TabId(raw.to_owned()))
    }
}

/// A call with what its announcement needs: the names and the transcript line of this step.
struct Step {
    call: Call,
    caller_name: String,
    line: Option<Message>,
}

/// Carries out one `call` request of `party`.
pub async fn request(
    state: &AppState,
    party: Party,
    request: CallRequest,
) -> Result<(), ServiceError> {
    let step = match request {
        CallRequest::Start {
            conversation_id,
            media,
            tab,
        } => {
            let tab = TabId::parse(&tab)?;
            run(&state.db, move |conn| {
                start(conn, &party, &conversation_id, media, &tab)
            })
            .await?
        }
        CallRequest::Accept { call_id, tab } => {
            let tab = TabId::parse(&tab)?;
            run(&state.db, move |conn| answer(conn, &party, &call_id, &tab)).await?
        }
        CallRequest::Decline { call_id } => {
            run(&state.db, move |conn| decline(conn, &party, &call_id)).await?
        }
        CallRequest::Hangup { call_id } => {
            match run(&state.db, move |conn| hang_up(conn, &party, &call_id)).await? {
                Some(step) => step,
                // Already over: nothing changed, nothing to announce.
                None => return Ok(()),
            }
        }
    };
    announce(state, &step);
    Ok(())
}

/// Relays `party`'s signalling to the other party of an active call.
pub async fn relay(
    state: &AppState,
    party: Party,
    call_id: String,
    signal: Signal,
) -> Result<(), ServiceError> {
    check_signal(&signal)?;
    let (call, from) = run(&state.db, move |conn| {
        let call = Call::find(conn, &call_id)?.ok_or(ServiceError::NotFound)?;
        let (_, side) = party_of(conn, &call, &party)?;
        if call.state != CallState::Active {
            return Err(ServiceError::Conflict("this call is not active".into()));
        }
        Ok((call, side))
    })
    .await?;
    let event = ServerEvent::CallSignal {
        call_id: &call.id,
        conversation_id: &call.conversation_id,
        from,
        signal: &signal,
    };
    match from {
        CallSide::Guest => state.bus().to_operator_consoles(&call.operator_id, &event),
        _ => state.bus().to_guests(&call.conversation_id, &event),
    }
    Ok(())
}

/// Sends connection `conn_id` (a tab that just resumed or joined the conversation) the
/// conversation's ringing or active call, if `party` is one of its parties.
pub async fn tell_live_call(
    state: &AppState,
    conn_id: u64,
    party: Party,
    conversation_id: String,
) -> Result<(), ServiceError> {
    let step = run(&state.db, move |conn| {
        let Some(call) = Call::live_in(conn, &conversation_id)? else {
            return Ok(None);
        };
        match party_of(conn, &call, &party) {
            Ok((conversation, _)) => {
                let caller_name = caller_name(conn, &conversation, &call)?;
                Ok(Some(Step {
                    call,
                    caller_name,
                    line: None,
                }))
            }
            // Another operator following the conversation: not theirs to see.
            Err(ServiceError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    })
    .await?;
    if let Some(step) = step {
        let view = view(&step, &state.settings.calls);
        state
            .bus()
            .to_connection(conn_id, &ServerEvent::Call(&view));
    }
    Ok(())
}

/// Ends calls nobody answered within the ring time as missed, and announces them; one node
/// ends each (a conditional update), however many sweep at once.
pub async fn end_unanswered(state: &AppState) {
    let ring = state.settings.calls.ring;
    let ended = run(&state.db, move |conn| {
        let now = domain::now();
        let before = now - chrono::Duration::from_std(ring).unwrap_or(chrono::Duration::MAX);
        let mut steps = Vec::new();
        for call in Call::ringing_since_before(conn, before)? {
            let step = crate::db::write_transaction(conn, |conn| {
                if !Call::end(
                    conn,
                    &call.id,
                    CallState::Ringing,
                    CallOutcome::Missed,
                    CallSide::System,
                    now,
                )? {
                    return Ok::<_, ServiceError>(None);
                }
                let line = chat::system_message(
                    conn,
                    &call.conversation_id,
                    &format!("Missed {} (no answer)", call.media.noun()),
                )?;
                Ok(Some(line))
            })?;
            if let Some(line) = step {
                let call = Call::find(conn, &call.id)?.ok_or(ServiceError::NotFound)?;
                let conversation = Conversation::find(conn, &call.conversation_id)?
                    .ok_or(ServiceError::NotFound)?;
                let caller_name = caller_name(conn, &conversation, &call)?;
                steps.push(Step {
                    call,
                    caller_name,
                    line: Some(line),
                });
            }
        }
        Ok(steps)
    })
    .await;
    match ended {
        Ok(steps) => {
            for step in &steps {
                announce(state, step);
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not end unanswered calls"),
    }
}

/// Which party of `call` the requester is, with the call's conversation; anyone else (another
/// guest, another operator) is `NotFound`, as for a call that does not exist.
fn party_of(
    conn: &mut DbConnection,
    call: &Call,
    party: &Party,
) -> Result<(Conversation, CallSide), ServiceError> {
    let conversation = chat::authorised(conn, &call.conversation_id, party)?;
    let side = match party {
        Party::Guest { .. } => CallSide::Guest,
        Party::Operator(op) if op.id == call.operator_id => CallSide::Operator,
        Party::Operator(_) => return Err(ServiceError::NotFound),
    };
    Ok((conversation, side))
}

/// The guest's shown name in call lines.
fn guest_name(conversation: &Conversation) -> String {
    conversation
        .guest_name
        .clone()
        .unwrap_or_else(|| "The visitor".to_owned())
}

/// The shown name of `side` in `call`.
fn name_of(
    conn: &mut DbConnection,
    conversation: &Conversation,
    call: &Call,
    side: CallSide,
) -> Result<String, ServiceError> {
    Ok(match side {
        CallSide::Guest => guest_name(conversation),
        CallSide::Operator => Operator::find(conn, &call.operator_id)?
            .map_or_else(|| "The operator".to_owned(), |o| o.display_name),
        CallSide::System => "Beckon".to_owned(),
    })
}

fn caller_name(
    conn: &mut DbConnection,
    conversation: &Conversation,
    call: &Call,
) -> Result<String, ServiceError> {
    name_of(conn, conversation, call, call.caller)
}

/// Rings the other party of an open conversation.
fn start(
    conn: &mut DbConnection,
    party: &Party,
    conversation_id: &str,
    media: CallMedia,
    tab: &TabId,
) -> Result<Step, ServiceError> {
    let conversation = chat::authorised(conn, conversation_id, party)?;
    if conversation.status != ConversationStatus::Open {
        return Err(ServiceError::Conflict(
            "a call needs an open conversation with an operator".into(),
        ));
    }
    let Some(operator_id) = conversation.assigned_operator_id.clone() else {
        return Err(ServiceError::Conflict(
            "a call needs an open conversation with an operator".into(),
        ));
    };
    let caller = match party {
        Party::Operator(op) if op.id != operator_id => {
            return Err(ServiceError::Conflict(
                "only the operator this conversation is assigned to can call".into(),
            ))
        }
        Party::Operator(_) => CallSide::Operator,
        Party::Guest { .. } => {
            let site = Site::get(conn, &conversation.site_id)?;
            if !site.settings().guest_calls {
                return Err(ServiceError::Forbidden(
                    "this site does not take calls from visitors".into(),
                ));
            }
            CallSide::Guest
        }
    };
    if !super::conversations::capabilities(&conversation)
        .iter()
        .any(|c| c == "calls")
    {
        return Err(ServiceError::Conflict(
            "this visitor's browser cannot take calls".into(),
        ));
    }
    let busy = || ServiceError::Conflict("this conversation already has a call".into());
    if Call::live_in(conn, &conversation.id)?.is_some() {
        return Err(busy());
    }
    let now = domain::now();
    let (guest_tab, operator_tab) = match caller {
        CallSide::Guest => (Some(tab.0.clone()), None),
        _ => (None, Some(tab.0.clone())),
    };
    let call = Call {
        id: CallId::generate(),
        conversation_id: conversation.id.clone(),
        operator_id,
        media,
        caller,
        state: CallState::Ringing,
        outcome: None,
        ended_by: None,
        guest_tab,
        operator_tab,
        created_at: now,
        answered_at: None,
        ended_at: None,
    };
    let caller_name = name_of(conn, &conversation, &call, caller)?;
    let line = crate::db::write_transaction(conn, |conn| {
        // A second start racing this one (another tab, another node) fails on the unique index.
        call.insert(conn).map_err(|e| match DbError::Query(e) {
            e if e.is_unique_violation() => busy(),
            e => ServiceError::Db(e),
        })?;
        chat::system_message(
            conn,
            &conversation.id,
            &format!("{caller_name} started a {}", media.noun()),
        )
    })?;
    Ok(Step {
        call,
        caller_name,
        line: Some(line),
    })
}

/// The called party takes a ringing call from tab `tab`.
fn answer(
    conn: &mut DbConnection,
    party: &Party,
    call_id: &str,
    tab: &TabId,
) -> Result<Step, ServiceError> {
    let call = Call::find(conn, call_id)?.ok_or(ServiceError::NotFound)?;
    let (conversation, side) = party_of(conn, &call, party)?;
    if side == call.caller {
        return Err(ServiceError::Conflict(
            "the caller cannot answer their own call".into(),
        ));
    }
    let name = name_of(conn, &conversation, &call, side)?;
    let line = crate::db::write_transaction(conn, |conn| {
        if !Call::answer(conn, &call.id, side, &tab.0, domain::now())? {
            return Err(ServiceError::Conflict(
                "this call is no longer ringing".into(),
            ));
        }
        chat::system_message(
            conn,
            &call.conversation_id,
            &format!("{name} answered the call"),
        )
    })?;
    finish_step(conn, &conversation, &call.id, line)
}

/// The called party refuses a ringing call.
fn decline(conn: &mut DbConnection, party: &Party, call_id: &str) -> Result<Step, ServiceError> {
    let call = Call::find(conn, call_id)?.ok_or(ServiceError::NotFound)?;
    let (conversation, side) = party_of(conn, &call, party)?;
    if side == call.caller {
        return Err(ServiceError::Conflict(
            "the caller hangs up rather than declines".into(),
        ));
    }
    let ended = end(conn, &conversation, &call, side, CallState::Ringing)?
        .ok_or_else(|| ServiceError::Conflict("this call is no longer ringing".into()))?;
    Ok(ended)
}

/// Either party ends a call: before it is answered the caller cancels it and the callee declines
/// it; after, it is completed. `None` when it had already ended.
fn hang_up(
    conn: &mut DbConnection,
    party: &Party,
    call_id: &str,
) -> Result<Option<Step>, ServiceError> {
    let call = Call::find(conn, call_id)?.ok_or(ServiceError::NotFound)?;
    let (conversation, side) = party_of(conn, &call, party)?;
    match call.state {
        CallState::Ended => Ok(None),
        from => match end(conn, &conversation, &call, side, from)? {
            Some(step) => Ok(Some(step)),
            // It changed meanwhile (answered, or ended by the other side): try once more.
            None => {
                let call = Call::find(conn, call_id)?.ok_or(ServiceError::NotFound)?;
                if call.state == CallState::Ended {
                    return Ok(None);
                }
                end(conn, &conversation, &call, side, call.state)
            }
        },
    }
}

/// Ends `call` by `side` if it is still in state `from`, with the transcript line that says how.
fn end(
    conn: &mut DbConnection,
    conversation: &Conversation,
    call: &Call,
    side: CallSide,
    from: CallState,
) -> Result<Option<Step>, ServiceError> {
    let name = name_of(conn, conversation, call, side)?;
    let now = domain::now();
    let (outcome, text) = match from {
        CallState::Ringing if side == call.caller => {
            (CallOutcome::Cancelled, format!("{name} cancelled the call"))
        }
        CallState::Ringing => (CallOutcome::Declined, format!("{name} declined the call")),
        _ => {
            let answered = call.answered_at.unwrap_or(call.created_at);
            let secs = (now - answered).num_seconds().max(0);
            (
                CallOutcome::Completed,
                format!("Call ended by {name} after {}:{:02}", secs / 60, secs % 60),
            )
        }
    };
    let line = crate::db::write_transaction(conn, |conn| {
        if !Call::end(conn, &call.id, from, outcome, side, now)? {
            return Ok::<_, ServiceError>(None);
        }
        chat::system_message(conn, &call.conversation_id, &text).map(Some)
    })?;
    match line {
        Some(line) => finish_step(conn, conversation, &call.id, line).map(Some),
        None => Ok(None),
    }
}

/// The call as stored after a step, with its line.
fn finish_step(
    conn: &mut DbConnection,
    conversation: &Conversation,
    call_id: &str,
    line: Message,
) -> Result<Step, ServiceError> {
    let call = Call::find(conn, call_id)?.ok_or(ServiceError::NotFound)?;
    let caller_name = caller_name(conn, conversation, &call)?;
    Ok(Step {
        call,
        caller_name,
        line: Some(line),
    })
}

/// Publishes a step: the transcript line to the conversation, the call's state to its parties.
fn announce(state: &AppState, step: &Step) {
    if let Some(line) = &step.line {
        super::conversations::publish_message(state, line, "");
    }
    let view = view(step, &state.settings.calls);
    let event = ServerEvent::Call(&view);
    let bus = state.bus();
    bus.to_guests(&step.call.conversation_id, &event);
    bus.to_operator_consoles(&step.call.operator_id, &event);
}

/// The `call` event of a step, with ICE servers (and fresh TURN credentials) while it is not over.
fn view(step: &Step, settings: &CallSettings) -> CallView {
    let call = &step.call;
    let ms = |t: chrono::NaiveDateTime| t.and_utc().timestamp_millis();
    CallView {
        call_id: call.id.to_string(),
        conversation_id: call.conversation_id.to_string(),
        media: call.media,
        caller: call.caller,
        caller_name: step.caller_name.clone(),
        state: call.state,
        guest_tab: call.guest_tab.clone(),
        operator_tab: call.operator_tab.clone(),
        outcome: call.outcome,
        ended_by: call.ended_by,
        started_ms: ms(call.created_at),
        answered_ms: call.answered_at.map(ms),
        ring_secs: settings.ring.as_secs(),
        ice_servers: if call.state == CallState::Ended {
            Vec::new()
        } else {
            ice_servers(settings, &call.id, chrono::Utc::now().timestamp())
        },
    }
}

/// The ICE servers for a call at Unix time `now`: STUN as configured, TURN with credentials
/// minted for this call by the TURN REST API scheme (coturn's `use-auth-secret`).
pub fn ice_servers(settings: &CallSettings, call_id: &str, now: i64) -> Vec<IceServerView> {
    let expiry = now.saturating_add(i64::try_from(settings.turn_ttl.as_secs()).unwrap_or(3600));
    let mut stun = Vec::new();
    let mut turn = Vec::new();
    for server in &settings.ice_servers {
        if server.turn {
            turn.push(server.url.clone());
        } else {
            stun.push(server.url.clone());
        }
    }
    let mut servers = Vec::new();
    if !stun.is_empty() {
        servers.push(IceServerView {
            urls: stun,
            username: None,
            credential: None,
        });
    }
    if let (false, Some(secret)) = (turn.is_empty(), &settings.turn_secret) {
        let (username, credential) = turn_credentials(secret, &format!("{expiry}:{call_id}"));
        servers.push(IceServerView {
            urls: turn,
            username: Some(username),
            credential: Some(credential),
        });
    }
    servers
}

/// `(username, base64(HMAC-SHA1(secret, username)))`.
fn turn_credentials(secret: &str, username: &str) -> (String, String) {
    // HMAC takes a key of any length; this cannot fail.
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(username.as_bytes());
    let credential = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    (username.to_owned(), credential)
}

/// Checks a signalling payload before it is relayed.
fn check_signal(signal: &Signal) -> Result<(), InvalidInput> {
    match signal.kind {
        SignalKind::Offer | SignalKind::Answer => match &signal.sdp {
            Some(sdp) if !sdp.is_empty() && sdp.chars().count() <= MAX_SDP_CHARS => Ok(()),
            _ => Err(InvalidInput::new(
                "sdp",
                format!("must be 1 to {MAX_SDP_CHARS} characters"),
            )),
        },
        SignalKind::Candidate => match &signal.candidate {
            Some(c)
                if c.candidate.chars().count() <= MAX_CANDIDATE_CHARS
                    && c.sdp_mid.as_ref().is_none_or(|m| m.len() <= 64) =>
            {
                Ok(())
            }
            _ => Err(InvalidInput::new(
                "candidate",
                format!("must be an ICE candidate of at most {MAX_CANDIDATE_CHARS} characters"),
            )),
        },
        SignalKind::Media => match signal.media {
            Some(_) => Ok(()),
            None => Err(InvalidInput::new("media", "is missing")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IceServer;
    use crate::realtime::protocol::IceCandidate;

    #[test]
    fn turn_credentials_follow_the_shared_secret_scheme() {
        // RFC-draft "TURN REST API" example: the credential is base64(HMAC-SHA1(secret, user)).
        let (user, credential) = turn_credentials("north", "1700000000:call");
        assert_eq!(user, "1700000000:call");
        let mut mac = Hmac::<Sha1>::new_from_slice(b"north").expect("key");
        mac.update(b"1700000000:call");
        let expected =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(credential, expected);
        assert_eq!(credential.len(), 28, "20 bytes in base64");
    }

    #[test]
    fn ice_servers_give_turn_a_credential_that_expires() {
        let settings = CallSettings {
            ice_servers: vec![
                IceServer {
                    url: "stun:s.example:3478".into(),
                    turn: false,
                },
                IceServer {
                    url: "turn:t.example:3478".into(),
                    turn: true,
                },
            ],
            turn_secret: Some("k".into()),
            turn_ttl: std::time::Duration::from_secs(600),
            ring: std::time::Duration::from_secs(30),
        };
        let servers = ice_servers(&settings, "c1", 1000);
        assert_eq!(servers.len(), 2);
        assert!(servers[0].username.is_none());
        assert_eq!(servers[1].username.as_deref(), Some("1600:c1"));
        assert!(servers[1].credential.is_some());
        assert!(ice_servers(&CallSettings::default(), "c1", 1000).is_empty());
    }

    #[test]
    fn signals_are_checked() {
        let mut s = Signal {
            kind: SignalKind::Offer,
            sdp: None,
            candidate: None,
            media: None,
        };
        assert!(check_signal(&s).is_err());
        s.sdp = Some("v=0".into());
        assert!(check_signal(&s).is_ok());
        s.sdp = Some("x".repeat(MAX_SDP_CHARS + 1));
        assert!(check_signal(&s).is_err());
        s.kind = SignalKind::Candidate;
        assert!(check_signal(&s).is_err());
        s.candidate = Some(IceCandidate {
            candidate: String::new(),
            sdp_mid: None,
            sdp_m_line_index: None,
        });
        assert!(check_signal(&s).is_ok(), "the end-of-candidates marker");
        s.kind = SignalKind::Media;
        assert!(check_signal(&s).is_err());
        assert!(TabId::parse("").is_err());
        assert!(TabId::parse("tab 1").is_err());
        assert!(TabId::parse("t-1").is_ok());
    }
}
