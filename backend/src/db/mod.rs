//! Storage: one diesel codebase over SQLite (embedded default) and PostgreSQL.
//!
//! [`DbConnection`] is a `MultiConnection` enum; the backend is chosen from the database URL. All
//! blocking database work runs on tokio's blocking pool through [`Db::run`], never on an async worker.

pub mod models;
pub mod schema;

use std::time::Duration;

use anyhow::Context as _;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

/// A connection to either backend. Queries written against it run unchanged on both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// PostgreSQL: the choice for more than one node.
    Postgres(PgConnection),
    /// SQLite: the embedded, zero set-up default.
    Sqlite(SqliteConnection),
}

/// Which database engine a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// Chooses the backend from a database URL: `postgres://` or `postgresql://` is PostgreSQL,
    /// anything else (a path or `sqlite://path`) is a SQLite file.
    pub fn from_url(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// Opens connections of the configured backend for the pool, with SQLite's durability pragmas set on
/// every new connection.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: String,
    backend: Backend,
    /// SQLite's busy timeout: how long a statement waits for another process's lock.
    busy_timeout: Duration,
}

/// After a busy timeout (set first, from `--db-timeout-ms`, so the pragmas after it wait for a
/// writer instead of failing a new pooled connection with SQLITE_BUSY): WAL for concurrent readers, FULL sync so an acknowledged message
/// survives power loss, foreign keys (off by default in SQLite), and reads through a memory map:
/// every write invalidates the other connections' page caches, and reading the pages again by
/// `read(2)` cost page-view writes more than the inserts did. Checkpoints every 10 000 WAL pages
/// (40 MB) rather than SQLite's 1 000: a checkpoint copies each page once however often it was
/// rewritten since the last, and page views rewrite the same index pages in every batch, so this
/// wrote about a quarter less under heavy page-view load; the WAL file is cut back to 64 MB after
/// a burst.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA mmap_size = 268435456; \
     PRAGMA wal_autocheckpoint = 10000; PRAGMA journal_size_limit = 67108864;";

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match self.backend {
            Backend::Postgres => PgConnection::establish(&self.url)
                .map(DbConnection::Postgres)
                .map_err(r2d2::Error::ConnectionError),
            Backend::Sqlite => {
                let path = self.url.strip_prefix("sqlite://").unwrap_or(&self.url);
                let mut conn =
                    SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {};",
                    self.busy_timeout.as_millis()
                ))
                .map_err(r2d2::Error::QueryError)?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

/// The one SQLite writer of this process. SQLite admits one writer per database file and makes the
/// others poll (its busy handler sleeps up to 100 ms between tries), which under load turns a 1 ms
/// commit into a wait of hundreds of milliseconds. Queueing writers here instead hands the lock over
/// the moment it is free. One process serves one database, so one lock is enough; a process that
/// opens several SQLite files (the test harness) only serialises their writes.
/// The lock is fair (handed to waiters in turn), so a writer that commits often (the page-view
/// flusher) cannot keep the others waiting by taking it straight back.
static SQLITE_WRITER: parking_lot::FairMutex<()> = parking_lot::const_fair_mutex(());

/// Longest wait for [`SQLITE_WRITER`], in milliseconds: the database timeout of the last pool
/// opened (one per process outside tests). Bounded like SQLite's own busy timeout, so writers
/// queued behind one that waits for another process's lock give up in time as well.
static SQLITE_WRITER_WAIT_MS: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(DEFAULT_TIMEOUT.as_millis() as u64);

/// Runs `work` in a write transaction: committed when it returns `Ok`, rolled back otherwise.
///
/// On SQLite the transaction begins with `BEGIN IMMEDIATE` under this process's writer lock, so a
/// transaction that reads before it writes cannot fail with `SQLITE_BUSY` when another writer
/// commits in between (a deferred transaction's read-to-write upgrade fails at once, busy timeout
/// or not). Called inside a transaction, it nests as a savepoint. On PostgreSQL it is a plain
/// transaction.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let DbConnection::Sqlite(sqlite) = conn else {
        return conn.transaction(work);
    };
    let nested = AnsiTransactionManager::transaction_manager_status_mut(sqlite)
        .transaction_depth()?
        .is_some();
    if nested {
        return conn.transaction(work);
    }
    let wait = SQLITE_WRITER_WAIT_MS.load(std::sync::atomic::Ordering::Relaxed);
    let Some(_writer) = SQLITE_WRITER.try_lock_for(Duration::from_millis(wait)) else {
        // Worded like SQLite's SQLITE_BUSY, which is what it amounts to (see DbError::is_unavailable).
        return Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::Unknown,
            Box::new(
                "database is locked (still waiting for this process's other writers)".to_owned(),
            ),
        )
        .into());
    };
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    match work(conn) {
        Ok(value) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            <DbConnection as Connection>::TransactionManager::rollback_transaction(conn)?;
            Err(e)
        }
    }
}

/// Errors from the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection could be taken from the pool in time.
    #[error("database unavailable: {0}")]
    Pool(#[from] r2d2::PoolError),
    /// A connection of its own ([`Db::dedicated`]) could not be opened.
    #[error("cannot open a database connection: {0}")]
    Connect(#[from] r2d2::Error),
    /// A query failed.
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    /// The blocking task running the query was cancelled or panicked.
    #[error("database task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The database did not answer within the time given (see [`Db::ping_within`]).
    #[error("the database did not answer in time")]
    Timeout,
}

impl DbError {
    /// True when the database could not be reached or locked in time, rather than refusing the
    /// query: no pooled connection within `--db-timeout-ms`, a connection that cannot be opened
    /// or was cut, or SQLite's write lock held by another process past the busy timeout. The
    /// same request may succeed when retried later, so callers answer 503 / `unavailable`.
    pub fn is_unavailable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            DbError::Pool(_) | DbError::Connect(_) | DbError::Timeout => true,
            DbError::Query(Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _)) => true,
            DbError::Query(Error::DatabaseError(_, info)) => {
                let m = info.message();
                // SQLITE_BUSY / SQLITE_LOCKED, and PostgreSQL connections cut by the server or
                // the network (libpq reports these as plain errors without a SQLSTATE).
                [
                    "database is locked",
                    "database table is locked",
                    "terminating connection",
                    "server closed the connection",
                    "no connection to the server",
                    "connection to server",
                ]
                .iter()
                .any(|needle| m.contains(needle))
            }
            DbError::Query(_) | DbError::Task(_) => false,
        }
    }

    /// True when the query failed on a unique constraint (a conflict the caller can report).
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            DbError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }
}

/// How long [`Db::connect`] waits for a pooled connection or SQLite's write lock; the server uses
/// `--db-timeout-ms` instead.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A pool of connections to the configured database.
#[derive(Clone)]
pub struct Db {
    pool: Pool<ConnectionManager>,
    /// Opens connections outside the pool ([`Db::dedicated`]).
    opener: std::sync::Arc<ConnectionManager>,
    backend: Backend,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Db {
    /// Connects to `url` with at most `max_connections` pooled connections, waiting up to
    /// [`DEFAULT_TIMEOUT`] for the database. SQLite files are created if missing (their parent
    /// directory must exist).
    pub fn connect(url: &str, max_connections: u32) -> anyhow::Result<Db> {
        Db::connect_with_timeout(url, max_connections, DEFAULT_TIMEOUT)
    }

    /// Like [`Db::connect`], with `timeout` as the longest wait for a pooled connection and for
    /// SQLite's write lock (`--db-timeout-ms`): past it a request fails with an error for which
    /// [`DbError::is_unavailable`] holds, instead of queueing behind a database that does not
    /// answer.
    pub fn connect_with_timeout(
        url: &str,
        max_connections: u32,
        timeout: Duration,
    ) -> anyhow::Result<Db> {
        let backend = Backend::from_url(url);
        let manager = ConnectionManager {
            url: url.to_owned(),
            backend,
            busy_timeout: timeout,
        };
        let opener = std::sync::Arc::new(manager.clone());
        if backend == Backend::Sqlite {
            SQLITE_WRITER_WAIT_MS.store(
                u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        let pool = Pool::builder()
            .max_size(max_connections)
            .min_idle(Some(1))
            .connection_timeout(timeout)
            .build(manager)
            .with_context(|| format!("cannot connect to the {backend:?} database"))?;
        Ok(Db {
            pool,
            opener,
            backend,
        })
    }

    /// The engine behind this pool.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies every pending embedded migration of this backend.
    pub fn migrate(&self) -> anyhow::Result<()> {
        let mut conn = self.pool.get().context("no database connection")?;
        let applied = match &mut *conn {
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
            DbConnection::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
        }
        .map_err(|e| anyhow::anyhow!("database migration failed: {e}"))?;
        for m in applied {
            tracing::info!(migration = %m, "applied migration");
        }
        Ok(())
    }

    /// Opens a connection of its own, outside the pool, for a writer that keeps one for its
    /// lifetime. On SQLite `bulk` pragmas are applied after the usual ones.
    pub fn dedicated(&self, bulk: &str) -> Result<DbConnection, DbError> {
        let mut conn = self.opener.connect()?;
        if let DbConnection::Sqlite(c) = &mut conn {
            c.batch_execute(bulk)?;
        }
        Ok(conn)
    }

    /// Takes a pooled connection on the current thread; for start-up, the CLI and tests.
    pub fn conn(&self) -> Result<PooledConnection<ConnectionManager>, DbError> {
        Ok(self.pool.get()?)
    }

    /// Runs blocking database work on tokio's blocking pool.
    pub async fn run<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            work(&mut conn)
        })
        .await?
    }

    /// Runs blocking work that writes, in one [`write_transaction`], on tokio's blocking pool.
    pub async fn write<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
    {
        self.run(move |conn| write_transaction(conn, work)).await
    }

    /// Checks that the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), DbError> {
        self.run(|conn| Ok(conn.batch_execute("SELECT 1")?)).await
    }

    /// [`Db::ping`], given up after `within` ([`DbError::Timeout`]): a probe must answer fast even
    /// while the pool waits for a database that does not answer (the check itself goes on in the
    /// background until the pool's own timeout).
    pub async fn ping_within(&self, within: Duration) -> Result<(), DbError> {
        tokio::time::timeout(within, self.ping())
            .await
            .unwrap_or(Err(DbError::Timeout))
    }
}
