//! The store's behaviour, the same cases on SQLite and on PostgreSQL, against real databases.

use beckon::db::models::{ConsoleSession, Operator, Role, Site};
use beckon::db::Db;
use beckon::domain::{AllowedOrigins, DisplayName, Email, Handle, Password, SiteName, SiteSlug};
use beckon::services::accounts::{self, NewOperator, NewSite};
use beckon::services::auth::{self, ClientInfo, SessionPolicy};
use beckon::services::{setup, ServiceError};
use beckon_tests::TestDatabase;
use chrono::Duration;

/// Runs each case once on SQLite and once on PostgreSQL (skipped, with a note, when unreachable).
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $case() { super::$case(&super::TestDatabase::sqlite()); } )*
        }
        mod postgres {
            $( #[test] fn $case() {
                if let Some(db) = super::TestDatabase::postgres(concat!("storage::postgres::", stringify!($case))) {
                    super::$case(&db);
                }
            } )*
        }
    };
}

on_both_backends!(
    migrations_apply_and_are_idempotent,
    operator_and_site_are_created_with_membership,
    taken_email_handle_and_slug_are_conflicts,
    setup_token_is_single_use_and_only_before_an_owner_exists,
    login_checks_password_and_opens_a_session,
    sessions_expire_when_idle_or_too_old,
    timestamps_round_trip_exactly,
    message_client_ids_are_unique_per_conversation,
    queued_page_views_are_all_written_over_many_rounds,
);

fn open(db: &TestDatabase) -> Db {
    let store = Db::connect(&db.url(), 4).expect("connect");
    store.migrate().expect("migrate");
    store
}

fn new_operator(email: &str, handle: &str) -> NewOperator {
    NewOperator {
        email: Email::parse(email).unwrap(),
        handle: Handle::parse(handle).unwrap(),
        display_name: DisplayName::parse("Ann Agent").unwrap(),
        password: Password::parse("correct horse battery").unwrap(),
        phone: None,
    }
}

fn new_site(name: &str) -> NewSite {
    let name = SiteName::parse(name).unwrap();
    NewSite {
        slug: SiteSlug::from_name(&name).unwrap(),
        name,
        allowed_origins: AllowedOrigins::parse("https://shop.example.com").unwrap(),
    }
}

const POLICY: SessionPolicy = SessionPolicy {
    idle: Duration::hours(1),
    absolute: Duration::hours(24),
};

fn client() -> ClientInfo {
    ClientInfo {
        ip: "192.0.2.1".into(),
        user_agent: "test".into(),
    }
}

fn migrations_apply_and_are_idempotent(db: &TestDatabase) {
    let store = open(db);
    store.migrate().expect("second migrate is a no-op");
    let mut conn = store.conn().unwrap();
    assert!(!Operator::owner_exists(&mut conn).unwrap());
}

fn operator_and_site_are_created_with_membership(db: &TestDatabase) {
    let store = open(db);
    let mut conn = store.conn().unwrap();
    let owner = accounts::create_operator(&mut conn, &new_operator("Ann@Example.com", "ann"), None)
        .unwrap();
    let site = accounts::create_site(&mut conn, &new_site("Ann's Shop"), Some(&owner)).unwrap();
    let agent = accounts::create_operator(
        &mut conn,
        &new_operator("bob@example.com", "bob"),
        Some((&site, Role::Agent)),
    )
    .unwrap();

    assert_eq!(owner.email, "ann@example.com");
    assert!(owner.password_hash.starts_with("$argon2id$"));
    let found = Site::find_by_slug(&mut conn, "ann-s-shop")
        .unwrap()
        .expect("site by slug");
    assert_eq!(found, site);
    assert_eq!(
        found.allowed_origins(),
        vec!["https://shop.example.com".to_owned()]
    );
    assert_eq!(
        Site::find_by_public_key(&mut conn, &site.public_key).unwrap(),
        Some(site.clone())
    );
    let mine = Site::for_operator(&mut conn, &agent.id).unwrap();
    assert_eq!(mine, vec![(site.clone(), "agent".to_owned())]);
    assert!(Operator::owner_exists(&mut conn).unwrap());
}

fn taken_email_handle_and_slug_are_conflicts(db: &TestDatabase) {
    let store = open(db);
    let mut conn = store.conn().unwrap();
    accounts::create_operator(&mut conn, &new_operator("ann@example.com", "ann"), None).unwrap();
    let same_email =
        accounts::create_operator(&mut conn, &new_operator("ANN@example.com", "ann2"), None);
    assert!(
        matches!(same_email, Err(ServiceError::Conflict(_))),
        "{same_email:?}"
    );
    let same_handle =
        accounts::create_operator(&mut conn, &new_operator("other@example.com", "ann"), None);
    assert!(
        matches!(same_handle, Err(ServiceError::Conflict(_))),
        "{same_handle:?}"
    );

    accounts::create_site(&mut conn, &new_site("Shop"), None).unwrap();
    let same_slug = accounts::create_site(&mut conn, &new_site("Shop"), None);
    assert!(
        matches!(same_slug, Err(ServiceError::Conflict(_))),
        "{same_slug:?}"
    );
}

fn setup_token_is_single_use_and_only_before_an_owner_exists(db: &TestDatabase) {
    let store = open(db);
    let mut conn = store.conn().unwrap();
    let first = setup::issue_token_if_unset(&mut conn, Duration::hours(1))
        .unwrap()
        .expect("token");
    let token = setup::issue_token_if_unset(&mut conn, Duration::hours(1))
        .unwrap()
        .expect("token");
    assert!(
        !setup::token_is_usable(&mut conn, &first).unwrap(),
        "a newer link replaces the old one"
    );
    assert!(setup::token_is_usable(&mut conn, &token).unwrap());
    assert!(!setup::token_is_usable(&mut conn, "guessed").unwrap());

    let (owner, site) = setup::complete(
        &mut conn,
        &token,
        &new_operator("ann@example.com", "ann"),
        &new_site("Shop"),
    )
    .unwrap();
    assert_eq!(
        Site::for_operator(&mut conn, &owner.id).unwrap(),
        vec![(site, "owner".to_owned())]
    );

    let again = setup::complete(
        &mut conn,
        &token,
        &new_operator("eve@example.com", "eve"),
        &new_site("Evil"),
    );
    assert!(matches!(again, Err(ServiceError::Gone(_))), "{again:?}");
    assert!(Operator::find_by_email(&mut conn, "eve@example.com")
        .unwrap()
        .is_none());
    assert!(setup::issue_token_if_unset(&mut conn, Duration::hours(1))
        .unwrap()
        .is_none());
}

fn login_checks_password_and_opens_a_session(db: &TestDatabase) {
    let store = open(db);
    let mut conn = store.conn().unwrap();
    let ann = accounts::create_operator(&mut conn, &new_operator("ann@example.com", "ann"), None)
        .unwrap();

    let wrong = auth::login(
        &mut conn,
        "ann@example.com",
        "wrong password!",
        &client(),
        POLICY,
    );
    assert!(matches!(wrong, Err(ServiceError::Unauthorized)));
    let unknown = auth::login(
        &mut conn,
        "nobody@example.com",
        "correct horse battery",
        &client(),
        POLICY,
    );
    assert!(matches!(unknown, Err(ServiceError::Unauthorized)));

    let new = auth::login(
        &mut conn,
        " ANN@example.com",
        "correct horse battery",
        &client(),
        POLICY,
    )
    .unwrap();
    assert_ne!(new.session.id, new.token, "only the digest is stored");
    let (session, operator) = auth::resolve(&mut conn, &new.token, POLICY)
        .unwrap()
        .expect("live session");
    assert_eq!(operator.id, ann.id);
    assert_eq!(session.csrf_token, new.session.csrf_token);

    auth::logout(&mut conn, &new.token).unwrap();
    assert!(auth::resolve(&mut conn, &new.token, POLICY)
        .unwrap()
        .is_none());
}

fn sessions_expire_when_idle_or_too_old(db: &TestDatabase) {
    let store = open(db);
    let mut conn = store.conn().unwrap();
    let ann = accounts::create_operator(&mut conn, &new_operator("ann@example.com", "ann"), None)
        .unwrap();

    let idle_policy = SessionPolicy {
        idle: Duration::zero(),
        absolute: Duration::hours(1),
    };
    let s = auth::open_session(&mut conn, &ann.id, &client(), POLICY).unwrap();
    assert!(
        auth::resolve(&mut conn, &s.token, idle_policy)
            .unwrap()
            .is_none(),
        "idle session ended"
    );
    assert!(
        ConsoleSession::find(&mut conn, &s.session.id)
            .unwrap()
            .is_none(),
        "and deleted"
    );

    let old_policy = SessionPolicy {
        idle: Duration::hours(1),
        absolute: Duration::zero(),
    };
    let s = auth::open_session(&mut conn, &ann.id, &client(), old_policy).unwrap();
    assert!(
        auth::resolve(&mut conn, &s.token, POLICY)
            .unwrap()
            .is_none(),
        "absolute expiry ended it"
    );
}

fn timestamps_round_trip_exactly(db: &TestDatabase) {
    let store = open(db);
    let mut conn = store.conn().unwrap();
    let ann = accounts::create_operator(&mut conn, &new_operator("ann@example.com", "ann"), None)
        .unwrap();
    let back = Operator::find(&mut conn, &ann.id)
        .unwrap()
        .expect("operator");
    assert_eq!(back.created_at, ann.created_at);
    assert_eq!(back, ann);
}

fn message_client_ids_are_unique_per_conversation(db: &TestDatabase) {
    use diesel::RunQueryDsl as _;
    let store = open(db);
    let mut conn = store.conn().unwrap();
    let site = accounts::create_site(&mut conn, &new_site("Shop"), None).unwrap();
    let now = beckon::domain::now()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    diesel::sql_query(format!(
        "INSERT INTO conversations (id, site_id, status, channel, created_at, updated_at) \
         VALUES ('c1', '{}', 'open', 'widget', '{now}', '{now}')",
        site.id
    ))
    .execute(&mut *conn)
    .unwrap();
    let insert = |seq: i64, client_id: &str, conn: &mut beckon::db::DbConnection| {
        diesel::sql_query(format!(
            "INSERT INTO messages (id, conversation_id, seq, sender_kind, client_msg_id, kind, body, created_at) \
             VALUES ('m{seq}{client_id}', 'c1', {seq}, 'guest', '{client_id}', 'text', 'hi', '{now}')"
        ))
        .execute(conn)
    };
    insert(1, "a", &mut conn).unwrap();
    let dup_client = insert(2, "a", &mut conn);
    assert!(
        dup_client.is_err(),
        "same client_msg_id twice in one conversation"
    );
    let e = beckon::db::DbError::Query(dup_client.unwrap_err());
    assert!(e.is_unique_violation(), "{e}");
    diesel::sql_query("DELETE FROM messages")
        .execute(&mut *conn)
        .unwrap();
    insert(1, "a", &mut conn).unwrap();
    let dup_seq = insert(1, "b", &mut conn).map_err(beckon::db::DbError::Query);
    assert!(
        dup_seq.is_err_and(|e| e.is_unique_violation()),
        "same seq twice in one conversation"
    );
}

/// More page views than one flush round takes: every one is written, by the flusher's own
/// connection, and none twice.
fn queued_page_views_are_all_written_over_many_rounds(db: &TestDatabase) {
    use beckon::db::models::PageView;
    use beckon::services::pageviews::PageViewQueue;
    use beckon::services::visitors::{self, GuestClient};

    let store = open(db);
    let (site, guest) = {
        let mut conn = store.conn().unwrap();
        let site = accounts::create_site(&mut conn, &new_site("Shop"), None).unwrap();
        let client = GuestClient {
            ip: "192.0.2.1".into(),
            ip_key: "192.0.2.1".into(),
            user_agent: "test".into(),
        };
        let guest = visitors::issue_or_resume(&mut conn, &site, None, &client, 10).unwrap();
        (site, guest.visitor)
    };
    const VIEWS: usize = 12_345;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (queue, flusher) =
            PageViewQueue::start(store.clone(), 20_000, std::time::Duration::from_millis(5));
        for i in 0..VIEWS {
            let view = PageView {
                id: beckon::domain::new_id(),
                site_id: site.id.clone(),
                visitor_id: guest.id.clone(),
                url: format!("https://shop.example.com/p/{i}"),
                title: String::new(),
                referrer: String::new(),
                duration_ms: None,
                created_at: beckon::domain::now(),
            };
            queue.offer(view).await.expect("room in the buffer");
        }
        queue.stop();
        flusher.await.unwrap();
    });
    let mut conn = store.conn().unwrap();
    let trail = PageView::trail(&mut conn, &guest.id, 100_000).unwrap();
    let urls: std::collections::BTreeSet<_> = trail.iter().map(|v| v.url.as_str()).collect();
    assert_eq!(trail.len(), VIEWS);
    assert_eq!(urls.len(), VIEWS, "no page view written twice");
}

/// Every pooled SQLite connection keeps the durable settings a chat message relies on; only the
/// page-view flusher's own connection relaxes them, and only for itself.
#[test]
fn sqlite_connections_are_durable_unless_dedicated_to_bulk_writes() {
    use diesel::sql_types::BigInt;
    use diesel::RunQueryDsl as _;

    #[derive(diesel::QueryableByName)]
    struct Value {
        #[diesel(sql_type = BigInt)]
        v: i64,
    }
    fn pragma(conn: &mut beckon::db::DbConnection, name: &str) -> i64 {
        diesel::sql_query(format!("SELECT {name} AS v FROM pragma_{name}"))
            .get_result::<Value>(conn)
            .unwrap()
            .v
    }
    let db = TestDatabase::sqlite();
    let store = open(&db);
    let mut bulk = store
        .dedicated(beckon::services::pageviews::BULK_PRAGMAS)
        .expect("dedicated connection");
    let mut pooled = store.conn().unwrap();
    assert_eq!(pragma(&mut pooled, "synchronous"), 2, "FULL");
    assert_eq!(pragma(&mut pooled, "foreign_keys"), 1);
    // Not a table-valued pragma: asked directly, it answers in a column of its own name.
    #[derive(diesel::QueryableByName)]
    struct Checkpoint {
        #[diesel(sql_type = BigInt)]
        wal_autocheckpoint: i64,
    }
    let checkpoint = diesel::sql_query("PRAGMA wal_autocheckpoint")
        .get_result::<Checkpoint>(&mut pooled)
        .unwrap();
    assert_eq!(checkpoint.wal_autocheckpoint, 10_000);
    assert_eq!(pragma(&mut bulk, "synchronous"), 1, "NORMAL");
    assert_eq!(pragma(&mut bulk, "foreign_keys"), 1);
}
