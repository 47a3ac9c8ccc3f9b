//! Attachments both ways: limits, types, idempotency, who may download, and how files are served.

use std::time::Duration;

use beckon_tests::{ChatFixture, SiteFixture, TestDatabase, WsClient};

const SHOP: &str = "http://127.0.0.1:9";
const WAIT: Duration = Duration::from_secs(5);
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR-not-a-real-image-but-the-right-magic";

struct Chat {
    fx: SiteFixture,
    token: String,
    tab: WsClient,
    op: WsClient,
    id: String,
    csrf: String,
}

async fn chat(args: &[&str], db: &TestDatabase) -> Chat {
    let ChatFixture { fx, chat } = ChatFixture::start(db, args, SHOP, "").await;
    let csrf = fx.app.csrf_of("/console").await;
    Chat {
        fx,
        token: chat.token,
        tab: chat.tab,
        op: chat.console,
        id: chat.conversation_id,
        csrf,
    }
}

impl Chat {
    fn guest_upload(
        &self,
        client_id: &str,
        content_type: &str,
        name: &str,
        body: &[u8],
    ) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .post(
                self.fx
                    .app
                    .url(&format!("/api/v1/conversations/{}/attachments", self.id)),
            )
            .header("X-Beckon-Site", &self.fx.site.public_key)
            .header("X-Beckon-Guest", &self.token)
            .header("X-Client-Msg-Id", client_id)
            .header("X-Filename", name)
            .header("Content-Type", content_type)
            .body(body.to_vec())
    }

    fn guest_download(&self, id: &str, token: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .get(self.fx.app.url(&format!("/api/v1/attachments/{id}")))
            .header("X-Beckon-Site", &self.fx.site.public_key)
            .header("X-Beckon-Guest", token)
    }
}

#[tokio::test]
async fn a_guest_sends_a_file_that_only_the_conversation_can_download() {
    let db = TestDatabase::sqlite();
    let mut c = chat(&[], &db).await;
    let res = c
        .guest_upload("up-1", "image/png", "holiday%20photo.png", PNG)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created: serde_json::Value = res.json().await.unwrap();
    let attachment_id = created["attachment_id"].as_str().unwrap().to_owned();

    let message =
        c.op.next_of_type("message", WAIT)
            .await
            .expect("broadcast to the operator");
    assert_eq!(message["kind"], "attachment");
    let described: serde_json::Value =
        serde_json::from_str(message["body"].as_str().unwrap()).unwrap();
    assert_eq!(described["name"], "holiday photo.png");
    assert_eq!(described["attachment_id"], attachment_id.as_str());
    assert_eq!(described["size"], PNG.len());
    let seen_by_guest = loop {
        let m = c
            .tab
            .next_of_type("message", WAIT)
            .await
            .expect("broadcast to the guest");
        if m["kind"] == "attachment" {
            break m;
        }
    };
    assert_eq!(seen_by_guest["seq"], created["seq"]);

    // A retried upload stores nothing new.
    let again: serde_json::Value = c
        .guest_upload("up-1", "image/png", "holiday%20photo.png", PNG)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["seq"], created["seq"]);
    assert_eq!(again["attachment_id"], created["attachment_id"]);

    let res = c
        .guest_download(&attachment_id, &c.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert!(res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("sandbox"));
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename*=UTF-8''holiday%20photo.png"));
    assert_eq!(&res.bytes().await.unwrap()[..], PNG);

    let op_res =
        c.fx.app
            .get(&format!("/api/v1/attachments/{attachment_id}"))
            .await;
    assert_eq!(
        op_res.status(),
        200,
        "the operator downloads with the console session"
    );

    let (_, stranger) = c.fx.obtain_guest(SHOP, None).await;
    let res = c
        .guest_download(&attachment_id, stranger["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "another guest cannot fetch it");
    let res = reqwest::get(
        c.fx.app
            .url(&format!("/api/v1/attachments/{attachment_id}")),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 401, "no credentials");
}

#[tokio::test]
async fn wrong_types_large_files_and_missing_csrf_are_refused() {
    let db = TestDatabase::sqlite();
    let c = chat(&["--attachment-max-bytes", "1000"], &db).await;
    let html_as_png = c
        .guest_upload(
            "a",
            "image/png",
            "x.png",
            b"<html><script>alert(1)</script>",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(html_as_png.status(), 415);
    let html = c
        .guest_upload("b", "text/html", "x.html", b"<html>")
        .send()
        .await
        .unwrap();
    assert_eq!(html.status(), 415);
    let big = c
        .guest_upload("c", "text/plain", "big.txt", &vec![b'x'; 5000])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
    let no_name = c
        .guest_upload("d", "text/plain", "", b"hello")
        .send()
        .await
        .unwrap();
    assert_eq!(no_name.status(), 400);

    // An operator upload needs the CSRF header, like every console form.
    let url =
        c.fx.app
            .url(&format!("/api/v1/conversations/{}/attachments", c.id));
    let post = |csrf: &str| {
        c.fx.app
            .client
            .post(&url)
            .header("X-Client-Msg-Id", "op-file")
            .header("X-Filename", "notes.txt")
            .header("Content-Type", "text/plain")
            .header("X-CSRF-Token", csrf)
            .body("hello")
            .send()
    };
    assert_eq!(post("forged").await.unwrap().status(), 403);
    let ok = post(&c.csrf).await.unwrap();
    assert_eq!(ok.status(), 201);
    let id = ok.json::<serde_json::Value>().await.unwrap()["attachment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = c.guest_download(&id, &c.token).send().await.unwrap();
    assert_eq!(
        res.headers()["content-type"],
        "application/octet-stream",
        "non-images are plain downloads"
    );
}
