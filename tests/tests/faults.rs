//! Database faults, end to end against the real binary on SQLite and PostgreSQL: page views
//! answered 202 survive an outage (the write-behind buffer keeps a failed batch and retries it),
//! and while the database does not answer, requests get a fast, retryable answer and everything
//! recovers by itself (issue 13, items 10 and 11).
//!
//! The outage: on PostgreSQL the test's own database refuses connections (`ALLOW_CONNECTIONS
//! false`) and its sessions are terminated; on SQLite another connection holds the write lock
//! (`BEGIN EXCLUSIVE`), which is what another process writing, or a stuck disk, looks like.

use std::time::{Duration, Instant};

use beckon::db::schema::page_views;
use beckon_tests::{SiteFixture, TestDatabase};
use diesel::connection::SimpleConnection as _;
use diesel::QueryDsl as _;
use diesel::{Connection as _, PgConnection, RunQueryDsl as _, SqliteConnection};
use serde_json::json;

const SHOP: &str = "http://127.0.0.1:9";
/// The `--db-timeout-ms` the servers here run with.
const DB_TIMEOUT_MS: u64 = 400;
const ARGS: &[&str] = &["--db-timeout-ms", "400", "--pageview-flush-ms", "50"];

/// An outage of the test's database, ended by [`Outage::end`] (or when dropped).
enum Outage {
    Postgres {
        admin_url: String,
        name: String,
    },
    /// The connection holding the write lock, on its own thread until told to let go.
    Sqlite {
        release: Option<std::sync::mpsc::Sender<()>>,
        holder: Option<std::thread::JoinHandle<()>>,
    },
}

impl Outage {
    fn begin(db: &TestDatabase) -> Outage {
        match db {
            TestDatabase::Postgres {
                admin_url, name, ..
            } => {
                let mut admin = PgConnection::establish(admin_url).expect("admin connection");
                // Only this test's own database, never the shared one the harness connects to.
                admin
                    .batch_execute(&format!(
                        "ALTER DATABASE {name} ALLOW_CONNECTIONS false; \
                         SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE datname = '{name}' AND pid <> pg_backend_pid();"
                    ))
                    .expect("deny connections");
                Outage::Postgres {
                    admin_url: admin_url.clone(),
                    name: name.clone(),
                }
            }
            TestDatabase::Sqlite { .. } => {
                let path = db.url();
                let (locked_tx, locked_rx) = std::sync::mpsc::channel();
                let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
                let holder = std::thread::spawn(move || {
                    let mut conn = SqliteConnection::establish(&path).expect("lock connection");
                    conn.batch_execute("PRAGMA busy_timeout = 10000; BEGIN EXCLUSIVE;")
                        .expect("take the write lock");
                    locked_tx.send(()).expect("report lock");
                    let _ = release_rx.recv();
                    conn.batch_execute("COMMIT;").expect("let go of the lock");
                });
                locked_rx
                    .recv_timeout(Duration::from_secs(15))
                    .expect("write lock taken");
                Outage::Sqlite {
                    release: Some(release_tx),
                    holder: Some(holder),
                }
            }
        }
    }

    fn end(&mut self) {
        match self {
            Outage::Postgres { admin_url, name } => {
                if let Ok(mut admin) = PgConnection::establish(admin_url) {
                    let _ = admin
                        .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true;"));
                }
            }
            Outage::Sqlite { release, holder } => {
                drop(release.take());
                if let Some(h) = holder.take() {
                    let _ = h.join();
                }
            }
        }
    }
}

impl Drop for Outage {
    fn drop(&mut self) {
        self.end();
    }
}

fn count_page_views(url: &str) -> Option<i64> {
    let db = beckon::db::Db::connect(url, 1).ok()?;
    let mut conn = db.conn().ok()?;
    page_views::table.count().get_result(&mut *conn).ok()
}

/// Beacons for `window`; (answered 202, answered 503). Anything else fails the test.
async fn beacons_for(
    fx: &SiteFixture,
    token: &str,
    window: Duration,
    n: &mut usize,
) -> (usize, usize) {
    let (mut accepted, mut refused) = (0, 0);
    let end = Instant::now() + window;
    while Instant::now() < end {
        *n += 1;
        let status = fx
            .beacon(SHOP, token, &format!("https://shop.example/p/{n}"), "Page")
            .await;
        match status {
            202 => accepted += 1,
            503 => refused += 1,
            other => panic!("beacon answered {other}"),
        }
        // Paces the beacons (about 100 a second) over the window: a steady load is what is tested.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (accepted, refused)
}

async fn page_views_survive_an_outage(db: TestDatabase) {
    let fx = SiteFixture::start(&db, ARGS, SHOP).await;
    let (status, guest) = fx.obtain_guest(SHOP, None).await;
    assert_eq!(status, 201);
    let token = guest["token"].as_str().expect("token").to_owned();
    let mut n = 0;
    let before = beacons_for(&fx, &token, Duration::from_millis(500), &mut n).await;
    let mut outage = Outage::begin(&db);
    let during = beacons_for(&fx, &token, Duration::from_secs(3), &mut n).await;
    outage.end();
    let after = beacons_for(&fx, &token, Duration::from_millis(500), &mut n).await;
    let accepted = (before.0 + during.0 + after.0) as i64;
    assert!(
        during.0 > 20,
        "{}: page views were accepted during the outage: {during:?}",
        db.label()
    );
    assert!(
        fx.app.stderr().contains("kept for another try"),
        "{}: the outage reached the flusher",
        db.label()
    );
    let url = fx.app.database_url().to_owned();
    beckon_tests::eventually_async(
        Duration::from_secs(20),
        &format!(
            "{}: the {accepted} page views answered 202 to be stored",
            db.label()
        ),
        || async {
            let u = url.clone();
            let stored = tokio::task::spawn_blocking(move || count_page_views(&u))
                .await
                .expect("count");
            if stored == Some(accepted) {
                Ok(())
            } else {
                Err(stored)
            }
        },
    )
    .await;
}

#[tokio::test]
async fn accepted_page_views_survive_an_outage_on_sqlite() {
    page_views_survive_an_outage(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn accepted_page_views_survive_an_outage_on_postgres() {
    let Some(db) = TestDatabase::postgres("faults") else {
        return;
    };
    page_views_survive_an_outage(db).await;
}

/// A chat send within a bound: `unavailable` during the outage, `ack` after it.
async fn faults_answer_fast(db: TestDatabase) {
    let fx = SiteFixture::start(&db, ARGS, SHOP).await;
    let (mut tab, _) = fx.guest(SHOP).await;
    let conversation_id = beckon_tests::start_chat(&mut tab, "Gina").await;
    let bound = Duration::from_millis(3 * DB_TIMEOUT_MS + 1500);

    let mut outage = Outage::begin(&db);
    let send = json!({"type": "send", "conversation_id": conversation_id,
        "client_msg_id": "0b0e5a3e-1c1d-4c59-9c62-6a4b1f2d3e4f", "body": "hello?"});
    let started = Instant::now();
    tab.send(send.clone()).await;
    let answer = tab
        .next_event(Duration::from_secs(30))
        .await
        .expect("an answer");
    let took = started.elapsed();
    assert_eq!(answer["type"], "error", "{}: {answer}", db.label());
    assert_eq!(answer["code"], "unavailable", "{}: {answer}", db.label());
    assert!(took < bound, "{}: send answered after {took:?}", db.label());

    if matches!(db, TestDatabase::Postgres { .. }) {
        // Nothing answers on PostgreSQL: the probe says so within a second, and a request that
        // needs the database is refused as retryable.
        let started = Instant::now();
        let ready = fx.app.get("/readyz").await;
        assert_eq!(ready.status(), 503);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "readyz took {:?}",
            started.elapsed()
        );
        let started = Instant::now();
        let res = fx
            .app
            .client
            .post(fx.app.url("/api/v1/visitors"))
            .header("Origin", SHOP)
            .header("Content-Type", "text/plain;charset=UTF-8")
            .body(json!({"site_key": fx.site.public_key, "token": null}).to_string())
            .send()
            .await
            .expect("POST visitors");
        assert_eq!(res.status(), 503);
        assert!(res.headers().contains_key("retry-after"));
        assert!(started.elapsed() < bound, "took {:?}", started.elapsed());
        let body: serde_json::Value = res.json().await.expect("json");
        assert_eq!(body["error"], "busy");
    }
    outage.end();

    // Recovery by itself: the probe, then the same send (same client_msg_id) is stored once.
    let mut recovery = beckon_tests::Poll::new(
        Duration::from_secs(20),
        &format!("{}: ready again", db.label()),
    );
    loop {
        let status = fx.app.get("/readyz").await.status();
        if status == 200 {
            break;
        }
        recovery.wait(status).await;
    }
    // The send is repeated (it needs `&mut tab`, hence a loop) until it is acknowledged.
    let mut recovery = beckon_tests::Poll::new(
        Duration::from_secs(20),
        &format!("{}: sends recovered", db.label()),
    );
    loop {
        tab.send(send.clone()).await;
        let answer = tab
            .next_event(Duration::from_secs(10))
            .await
            .expect("an answer");
        if answer["type"] == "ack" {
            break;
        }
        assert_eq!(answer["code"], "unavailable", "{}: {answer}", db.label());
        recovery.wait(answer).await;
    }
}

#[tokio::test]
async fn a_database_outage_is_answered_fast_and_recovered_from_on_sqlite() {
    faults_answer_fast(TestDatabase::sqlite()).await;
}

#[tokio::test]
async fn a_database_outage_is_answered_fast_and_recovered_from_on_postgres() {
    let Some(db) = TestDatabase::postgres("faults") else {
        return;
    };
    faults_answer_fast(db).await;
}
