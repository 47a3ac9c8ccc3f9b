//! A Beckon server that has been set up, with its first site's keys at hand.

use beckon::db::models::Site;
use beckon::db::Db;

use crate::{TestApp, TestDatabase};

/// A running, set-up Beckon: owner `owner@example.com` logged in on `app.client`, site "Demo Shop".
pub struct SiteFixture {
    /// The server (its client holds the owner's session).
    pub app: TestApp,
    /// The first site.
    pub site: Site,
    /// The owner's session cookie (`beckon_session=…`), for sockets.
    pub session_cookie: String,
}

impl SiteFixture {
    /// Starts Beckon on `db` with extra `args`, walks the setup link, and loads the site. The site
    /// allows the widget on `allowed_origin` only.
    pub async fn start(db: &TestDatabase, args: &[&str], allowed_origin: &str) -> SiteFixture {
        let app = TestApp::builder(db)
            .args(args.iter().copied())
            .spawn()
            .await;
        let res = app.complete_setup_with_origins(allowed_origin).await;
        assert_eq!(res.status(), 303, "setup");
        let session_cookie = session_cookie_of(&res);
        let url = app.database_url().to_owned();
        let site = tokio::task::spawn_blocking(move || {
            let db = Db::connect(&url, 1).expect("connect");
            let mut conn = db.conn().expect("conn");
            Site::find_by_slug(&mut conn, "demo-shop")
                .expect("query")
                .expect("site")
        })
        .await
        .expect("load site");
        SiteFixture {
            app,
            site,
            session_cookie,
        }
    }

    /// Attaches to an already set-up server (after a restart): logs in as the owner again.
    pub async fn reattach(app: TestApp, site: Site) -> SiteFixture {
        let res = app
            .login("owner@example.com", "correct horse battery")
            .await;
        assert_eq!(res.status(), 303, "login after restart");
        let session_cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("beckon_session="))
            .and_then(|c| c.split(';').next())
            .expect("session cookie")
            .to_owned();
        SiteFixture {
            app,
            site,
            session_cookie,
        }
    }

    /// Lets the widget run on exactly `origin` (a host site's, known only once it listens).
    pub async fn allow_widget_on(&self, origin: &str) {
        let url = self.app.database_url().to_owned();
        let value = serde_json::json!([origin]).to_string();
        let id = self.site.id.clone();
        tokio::task::spawn_blocking(move || {
            use beckon::db::schema::sites;
            use diesel::prelude::*;
            let db = Db::connect(&url, 1).expect("connect");
            let mut conn = db.conn().expect("conn");
            diesel::update(sites::table.find(&id))
                .set(sites::allowed_origins.eq(&value))
                .execute(&mut *conn)
                .expect("update");
        })
        .await
        .expect("allow origin");
    }

    /// Logs the owner in with a real browser and opens `path` of the console, waiting for its socket.
    pub async fn open_console_in(&self, browser: &crate::Browser, path: &str, live_marker: &str) {
        let wait = std::time::Duration::from_secs(10);
        browser.goto(&self.app.url("/login")).await;
        browser
            .eval(
                r#"document.querySelector('input[name=email]').value = 'owner@example.com';
                   document.querySelector('input[name=password]').value = 'correct horse battery';
                   document.querySelector('form[action="/login"]').submit(); return true;"#,
            )
            .await;
        assert!(
            browser
                .wait_for("return location.pathname === '/console'", wait)
                .await,
            "logged in"
        );
        browser.goto(&self.app.url(path)).await;
        assert!(
            browser
                .wait_for(
                    &format!(
                        "return document.getElementById({live_marker:?}).textContent === 'Live'"
                    ),
                    wait
                )
                .await,
            "console socket connected"
        );
    }

    /// `ws://127.0.0.1:PORT` + path.
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws{}{path}", self.app.address.trim_start_matches("http"))
    }

    /// Posts a signed identity (`Beckon.identify`) for the guest with `token` from `origin`; the
    /// status.
    pub async fn identify(&self, origin: &str, token: &str, claim: &serde_json::Value) -> u16 {
        let mut body = claim.clone();
        body["site_key"] = self.site.public_key.clone().into();
        body["token"] = token.into();
        self.app
            .client
            .post(self.app.url("/api/v1/identify"))
            .header("Origin", origin)
            .body(body.to_string())
            .send()
            .await
            .expect("POST identify")
            .status()
            .as_u16()
    }

    /// Obtains a guest for the site from `origin`; the JSON answer and status.
    pub async fn obtain_guest(
        &self,
        origin: &str,
        token: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let body =
            serde_json::json!({"site_key": self.site.public_key, "token": token}).to_string();
        let res = self
            .app
            .client
            .post(self.app.url("/api/v1/visitors"))
            .header("Origin", origin)
            .header("Content-Type", "text/plain;charset=UTF-8")
            .body(body)
            .send()
            .await
            .expect("POST visitors");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Sends a page-view beacon as the loader does; the status.
    pub async fn beacon(&self, origin: &str, token: &str, url: &str, title: &str) -> u16 {
        let body = serde_json::json!({"k": self.site.public_key, "t": token, "u": url, "ti": title, "r": ""});
        self.raw_beacon(origin, &body.to_string()).await
    }

    /// Sends any beacon body; the status.
    pub async fn raw_beacon(&self, origin: &str, body: &str) -> u16 {
        self.app
            .client
            .post(self.app.url("/api/v1/beacon"))
            .header("Origin", origin)
            .header("Content-Type", "text/plain;charset=UTF-8")
            .body(body.to_owned())
            .send()
            .await
            .expect("POST beacon")
            .status()
            .as_u16()
    }

    /// Opens a console socket as the owner.
    pub async fn console_socket(&self) -> crate::WsClient {
        let origin = self.app.address.clone();
        crate::WsClient::connect(
            &self.ws_url("/ws/console"),
            Some(&origin),
            Some(&self.session_cookie),
        )
        .await
        .expect("console socket")
    }

    /// Adds an agent of the site (password "a long password 1") and returns their email.
    pub async fn add_agent(&self, email: &str, handle: &str, name: &str) -> String {
        let url = self.app.database_url().to_owned();
        let site_id = self.site.id.clone();
        let (email, handle, name) = (email.to_owned(), handle.to_owned(), name.to_owned());
        let created = email.clone();
        tokio::task::spawn_blocking(move || {
            use beckon::db::models::Role;
            use beckon::domain::{DisplayName, Email, Handle, Password};
            use beckon::services::accounts::{self, NewOperator};
            let db = Db::connect(&url, 1).expect("connect");
            let mut conn = db.conn().expect("conn");
            let site = Site::get(&mut conn, &site_id).expect("site");
            let agent = NewOperator {
                email: Email::parse(&email).expect("email"),
                handle: Handle::parse(&handle).expect("handle"),
                display_name: DisplayName::parse(&name).expect("name"),
                password: Password::parse(AGENT_PASSWORD).expect("password"),
                phone: None,
            };
            accounts::create_operator(&mut conn, &agent, Some((&site, Role::Agent)))
                .expect("agent");
        })
        .await
        .expect("add agent");
        created
    }

    /// A console socket of its own for the operator `email` (password "a long password 1"),
    /// signed in through the login form.
    pub async fn console_socket_as(&self, email: &str) -> crate::WsClient {
        let (_, res) = self.app.sign_in(email, AGENT_PASSWORD).await;
        let cookie = session_cookie_of(&res);
        let origin = self.app.address.clone();
        crate::WsClient::connect(&self.ws_url("/ws/console"), Some(&origin), Some(&cookie))
            .await
            .expect("console socket")
    }

    /// Opens a visitor socket for a guest token from `origin`.
    pub async fn visitor_socket(&self, origin: &str, token: &str) -> crate::WsClient {
        let url = self.ws_url(&format!(
            "/ws/visitor?k={}&t={}",
            self.site.public_key, token
        ));
        crate::WsClient::connect(&url, Some(origin), None)
            .await
            .expect("visitor socket")
    }
}

/// The password [`SiteFixture::add_agent`] gives.
pub const AGENT_PASSWORD: &str = "a long password 1";

/// The `beckon_session=…` pair a response set.
fn session_cookie_of(res: &reqwest::Response) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("beckon_session="))
        .and_then(|c| c.split(';').next())
        .expect("session cookie")
        .to_owned()
}
