//! A fresh database per test, on SQLite or PostgreSQL.

use diesel::{Connection as _, PgConnection, RunQueryDsl as _};

use crate::require::{self, Service};

/// A database that exists for one test and is removed afterwards.
pub enum TestDatabase {
    /// A SQLite file in a temporary directory.
    Sqlite {
        /// Keeps the directory alive.
        dir: tempfile::TempDir,
    },
    /// A PostgreSQL database created for this test.
    Postgres {
        /// Server URL without the database (to drop it afterwards).
        admin_url: String,
        /// The database's name.
        name: String,
        /// URL of the test database.
        url: String,
    },
}

impl TestDatabase {
    /// A new, empty SQLite database.
    pub fn sqlite() -> TestDatabase {
        TestDatabase::Sqlite {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A new, empty PostgreSQL database, or `None` (after printing why) when PostgreSQL is not
    /// reachable and not required.
    pub fn postgres(suite: &str) -> Option<TestDatabase> {
        let admin_url = std::env::var("BECKON_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let mut admin = match PgConnection::establish(&admin_url) {
            Ok(c) => c,
            Err(e) => {
                require::skip(
                    Service::Postgres,
                    suite,
                    &format!(
                        "cannot connect to {admin_url}: {}",
                        e.to_string().replace('\n', " ").trim()
                    ),
                );
                return None;
            }
        };
        let name = format!("beckon_test_{}", uuid::Uuid::new_v4().simple());
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .expect("create test database");
        let url = match url::Url::parse(&admin_url) {
            Ok(mut u) => {
                u.set_path(&format!("/{name}"));
                u.to_string()
            }
            Err(e) => panic!("BECKON_TEST_PG_URL is not a URL: {e}"),
        };
        Some(TestDatabase::Postgres {
            admin_url,
            name,
            url,
        })
    }

    /// The URL to give Beckon (`--database-url`).
    pub fn url(&self) -> String {
        match self {
            TestDatabase::Sqlite { dir } => {
                dir.path().join("beckon.db").to_string_lossy().into_owned()
            }
            TestDatabase::Postgres { url, .. } => url.clone(),
        }
    }

    /// A short label for messages ("sqlite" or "postgres").
    pub fn label(&self) -> &'static str {
        match self {
            TestDatabase::Sqlite { .. } => "sqlite",
            TestDatabase::Postgres { .. } => "postgres",
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabase::Postgres {
            admin_url, name, ..
        } = self
        {
            if let Ok(mut admin) = PgConnection::establish(admin_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin);
            }
        }
    }
}
