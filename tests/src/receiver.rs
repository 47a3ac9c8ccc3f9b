//! An HTTP receiver on 127.0.0.1 for tests of what Beckon sends out (webhooks, the SMS provider's
//! API), on `wiremock`: it records every request and answers from a script of statuses, then 200.

use std::time::Duration;

use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

pub use wiremock::Request;

/// How to answer one request of the script.
#[derive(Debug, Clone, Copy)]
pub enum Reply {
    /// Answer with this status.
    Status(u16),
    /// Record the request and never answer in the test's lifetime (the connection stays open).
    Hang,
}

/// Starts a receiver answering the `script` in order, one reply per request, then 200 to
/// everything after it.
pub async fn start(script: &[Reply]) -> MockServer {
    let server = MockServer::builder().start().await;
    // Mocks are tried in the order they were mounted; each scripted one answers once and then
    // stands aside for the next.
    for reply in script {
        let template = match reply {
            Reply::Status(code) => ResponseTemplate::new(*code),
            Reply::Hang => ResponseTemplate::new(200).set_delay(Duration::from_secs(3600)),
        };
        Mock::given(any())
            .respond_with(template)
            .up_to_n_times(1)
            .mount(&server)
            .await;
    }
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    server
}

/// The requests received so far.
pub async fn requests(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("the receiver records requests")
}

/// Waits until at least `n` requests have arrived; all of them. Panics after `timeout` with the
/// requests seen so far.
pub async fn wait_for(server: &MockServer, n: usize, timeout: Duration) -> Vec<Request> {
    crate::eventually_async(
        timeout,
        &format!("{n} requests at the receiver"),
        || async {
            let got = requests(server).await;
            if got.len() >= n {
                Ok(got)
            } else {
                Err(got.iter().map(Received::summary).collect::<Vec<_>>())
            }
        },
    )
    .await
}

/// What the tests read off a recorded request.
pub trait Received {
    /// The first header of this name (any case), if it is text.
    fn header(&self, name: &str) -> Option<&str>;
    /// Path and query, as the request line had them.
    fn path_and_query(&self) -> String;
    /// The body as JSON.
    fn json(&self) -> serde_json::Value;
    /// One field of a form-encoded body.
    fn form_value(&self, name: &str) -> Option<String>;
    /// `METHOD path` and the body's length, for failure messages.
    fn summary(&self) -> String;
}

impl Received for Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn path_and_query(&self) -> String {
        match self.url.query() {
            Some(query) => format!("{}?{query}", self.url.path()),
            None => self.url.path().to_owned(),
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    fn form_value(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(&self.body)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    fn summary(&self) -> String {
        format!(
            "{} {} ({} bytes)",
            self.method,
            self.path_and_query(),
            self.body.len()
        )
    }
}
