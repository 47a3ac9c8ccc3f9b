//! "A guest opens a chat and an operator accepts it", once for every suite, and the steps it is made
//! of for tests that stop half-way (a chat nobody accepted, a guest with two tabs).

use std::time::Duration;

use serde_json::json;

use crate::{SiteFixture, TestDatabase, WsClient};

/// How long each step may take to be answered.
const WAIT: Duration = Duration::from_secs(10);

/// A guest's tab in a chat the owner accepted on a console socket.
pub struct AcceptedChat {
    /// The guest's visitor socket, after `hello` and the `conversation` answer.
    pub tab: WsClient,
    /// The guest's token.
    pub token: String,
    /// The owner's console socket, which accepted the chat.
    pub console: WsClient,
    /// The conversation's id.
    pub conversation_id: String,
}

/// A running, set-up Beckon with one accepted chat on its site: the server and site in `fx`, the
/// sockets and the conversation in `chat`.
pub struct ChatFixture {
    /// The server, its site and the owner's session.
    pub fx: SiteFixture,
    /// The accepted chat.
    pub chat: AcceptedChat,
}

impl ChatFixture {
    /// Starts Beckon on `db` with extra `args` (the site allows `origin`), then opens a chat from
    /// `origin` as a guest called `name` and accepts it as the owner.
    pub async fn start(db: &TestDatabase, args: &[&str], origin: &str, name: &str) -> ChatFixture {
        let fx = SiteFixture::start(db, args, origin).await;
        let chat = fx.accepted_chat(origin, name).await;
        ChatFixture { fx, chat }
    }
}

impl SiteFixture {
    /// A new guest from `origin` with one tab open (its `hello` read); the tab and the token.
    pub async fn guest(&self, origin: &str) -> (WsClient, String) {
        let (status, body) = self.obtain_guest(origin, None).await;
        assert_eq!(status, 201, "guest obtained: {body}");
        let token = body["token"].as_str().expect("guest token").to_owned();
        let mut tab = self.visitor_socket(origin, &token).await;
        let hello = tab.next_event(WAIT).await.expect("hello");
        assert_eq!(hello["type"], "hello", "{hello}");
        (tab, token)
    }

    /// The owner's console socket after it accepted `conversation_id` (the update says `open`).
    pub async fn operator_accepts(&self, conversation_id: &str) -> WsClient {
        let mut console = self.console_socket().await;
        console
            .send(json!({"type": "accept", "conversation_id": conversation_id}))
            .await;
        let update = console
            .next_of_type("conversation", WAIT)
            .await
            .expect("accepted");
        assert_eq!(update["status"], "open", "{update}");
        console
    }

    /// A new guest from `origin` who starts a chat as `name`, accepted by the owner.
    pub async fn accepted_chat(&self, origin: &str, name: &str) -> AcceptedChat {
        let (mut tab, token) = self.guest(origin).await;
        let conversation_id = start_chat(&mut tab, name).await;
        let console = self.operator_accepts(&conversation_id).await;
        AcceptedChat {
            tab,
            token,
            console,
            conversation_id,
        }
    }
}

/// Starts a chat as `name` from a guest's `tab`; the conversation id (the chat is `waiting`).
pub async fn start_chat(tab: &mut WsClient, name: &str) -> String {
    tab.send(json!({"type": "start_chat", "name": name})).await;
    let conversation = tab
        .next_of_type("conversation", WAIT)
        .await
        .expect("conversation");
    assert_eq!(conversation["status"], "waiting", "{conversation}");
    conversation["conversation_id"]
        .as_str()
        .expect("conversation id")
        .to_owned()
}
