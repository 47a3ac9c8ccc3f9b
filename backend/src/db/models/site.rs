use diesel::prelude::*;

use crate::db::schema::{memberships, sites};
use crate::db::DbConnection;
use crate::domain::SiteId;
use crate::domain::{AllowedOrigins, InvalidInput, SiteSettings, SiteSettingsPatch};

/// Why settings were not written.
#[derive(Debug, thiserror::Error)]
pub enum SettingsWriteError {
    /// A value of the patch is not allowed.
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// Storage failed (a missing site is `NotFound`).
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

impl From<SettingsWriteError> for crate::services::ServiceError {
    fn from(e: SettingsWriteError) -> Self {
        match e {
            SettingsWriteError::Invalid(e) => crate::services::ServiceError::Invalid(e),
            SettingsWriteError::Db(e) => e.into(),
        }
    }
}

/// A website that embeds Beckon: its keys, slug and settings.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = sites)]
pub struct Site {
    /// Primary key (UUIDv7).
    pub id: SiteId,
    /// The public key in the widget URL `/w/KEY.js`.
    pub public_key: String,
    /// The slug of the help-desk URL `/s/SLUG`.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// JSON array of exact origins the widget may run on (empty: any).
    pub allowed_origins: String,
    /// A proven domain of the site's own that serves its chat page (`Host:` routing); a domain
    /// not proven yet is a `DomainClaim`, not here.
    pub custom_domain: Option<String>,
    /// The HMAC key for `Beckon.identify`.
    pub identity_secret: String,
    /// JSON object of widget and behaviour settings, as stored; read it through
    /// [`Site::settings`] and change it through [`Site::update_settings`].
    pub settings: String,
    /// `online` or `offline` when an owner forces the status, else none.
    pub forced_status: Option<String>,
    /// When the site was registered (UTC).
    pub created_at: chrono::NaiveDateTime,
}

impl Site {
    /// Inserts this site.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(sites::table)
            .values(self)
            .execute(conn)
            .map(|_| ())
    }

    /// The site with this id.
    pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Site>> {
        sites::table
            .find(id)
            .select(Site::as_select())
            .first(conn)
            .optional()
    }

    /// The site with this id, which must exist (a missing one is `NotFound`).
    pub fn get(conn: &mut DbConnection, id: &str) -> QueryResult<Site> {
        sites::table.find(id).select(Site::as_select()).first(conn)
    }

    /// Every site, oldest first.
    pub fn all_oldest_first(conn: &mut DbConnection) -> QueryResult<Vec<Site>> {
        sites::table
            .order(sites::created_at.asc())
            .select(Site::as_select())
            .load(conn)
    }

    /// The site with this slug.
    pub fn find_by_slug(conn: &mut DbConnection, slug: &str) -> QueryResult<Option<Site>> {
        sites::table
            .filter(sites::slug.eq(slug))
            .select(Site::as_select())
            .first(conn)
            .optional()
    }

    /// The site served on this domain of its own.
    pub fn find_by_custom_domain(conn: &mut DbConnection, host: &str) -> QueryResult<Option<Site>> {
        sites::table
            .filter(sites::custom_domain.eq(host))
            .select(Site::as_select())
            .first(conn)
            .optional()
    }

    /// The site with this public key (the `KEY` of `/w/KEY.js`).
    pub fn find_by_public_key(conn: &mut DbConnection, key: &str) -> QueryResult<Option<Site>> {
        sites::table
            .filter(sites::public_key.eq(key))
            .select(Site::as_select())
            .first(conn)
            .optional()
    }

    /// The sites an operator belongs to, with the operator's role on each, by name.
    pub fn for_operator(
        conn: &mut DbConnection,
        operator_id: &str,
    ) -> QueryResult<Vec<(Site, String)>> {
        sites::table
            .inner_join(memberships::table)
            .filter(memberships::operator_id.eq(operator_id))
            .order(sites::name.asc())
            .select((Site::as_select(), memberships::role))
            .load(conn)
    }

    /// The first site an operator joined (where their personal chat page `/u/HANDLE` lands).
    pub fn first_for_operator(
        conn: &mut DbConnection,
        operator_id: &str,
    ) -> QueryResult<Option<Site>> {
        sites::table
            .inner_join(memberships::table)
            .filter(memberships::operator_id.eq(operator_id))
            .order(memberships::created_at.asc())
            .select(Site::as_select())
            .first(conn)
            .optional()
    }

    /// The site's proven own domain (none if it has none or the site does not exist).
    pub fn custom_domain_of(conn: &mut DbConnection, id: &str) -> QueryResult<Option<String>> {
        Ok(sites::table
            .find(id)
            .select(sites::custom_domain)
            .first::<Option<String>>(conn)
            .optional()?
            .flatten())
    }

    /// Whether a site other than `id` serves `domain`.
    pub fn domain_taken_by_other(
        conn: &mut DbConnection,
        domain: &str,
        id: &str,
    ) -> QueryResult<bool> {
        let taken: i64 = sites::table
            .filter(sites::custom_domain.eq(domain))
            .filter(sites::id.ne(id))
            .count()
            .get_result(conn)?;
        Ok(taken > 0)
    }

    /// Sets (or clears) the proven domain of a site.
    pub fn set_custom_domain(
        conn: &mut DbConnection,
        id: &str,
        domain: Option<&str>,
    ) -> QueryResult<()> {
        diesel::update(sites::table.find(id))
            .set(sites::custom_domain.eq(domain))
            .execute(conn)
            .map(|_| ())
    }

    /// Sets the origins the widget may run on.
    pub fn set_allowed_origins(
        conn: &mut DbConnection,
        id: &str,
        origins: &AllowedOrigins,
    ) -> QueryResult<()> {
        diesel::update(sites::table.find(id))
            .set(sites::allowed_origins.eq(origins.to_json()))
            .execute(conn)
            .map(|_| ())
    }

    /// Forces the site `online` or `offline`, or (none) lets availability decide.
    pub fn set_forced_status(
        conn: &mut DbConnection,
        id: &str,
        forced: Option<&str>,
    ) -> QueryResult<()> {
        diesel::update(sites::table.find(id))
            .set(sites::forced_status.eq(forced))
            .execute(conn)
            .map(|_| ())
    }

    /// The site's settings, parsed (a stored value that does not parse is logged with the site
    /// id and its field takes the default).
    pub fn settings(&self) -> SiteSettings {
        SiteSettings::parse(&self.id, &self.settings)
    }

    /// Checks `patch`, applies it to the site's stored settings and writes the result, in one
    /// transaction (so two forms saving different keys at once both keep their keys). This is
    /// the one place settings are merged. Returns the settings as written.
    pub fn update_settings(
        conn: &mut DbConnection,
        id: &str,
        patch: &SiteSettingsPatch,
    ) -> Result<SiteSettings, SettingsWriteError> {
        patch.validate()?;
        conn.transaction(|conn| {
            let stored: String = sites::table.find(id).select(sites::settings).first(conn)?;
            let mut settings = SiteSettings::parse(id, &stored);
            settings.apply(patch);
            diesel::update(sites::table.find(id))
                .set(sites::settings.eq(settings.to_json()))
                .execute(conn)?;
            Ok(settings)
        })
    }

    /// The allowed origins, parsed from their JSON text (an unreadable value allows none).
    pub fn allowed_origins(&self) -> Vec<String> {
        serde_json::from_str(&self.allowed_origins).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    //! The settings and the typed columns against both real databases (PostgreSQL when
    //! `BECKON_TEST_PG_URL`, or the local default, answers; else only SQLite).
    use super::*;
    use crate::db::models::Conversation;
    use crate::db::Db;
    use crate::domain::{Channel, ConversationStatus};

    /// A migrated test database; a PostgreSQL one is dropped when this goes.
    struct TestDb {
        db: Option<Db>,
        _dir: tempfile::TempDir,
        postgres: Option<(String, String)>,
    }

    impl TestDb {
        fn conn(&self) -> diesel::r2d2::PooledConnection<crate::db::ConnectionManager> {
            self.db.as_ref().expect("open").conn().expect("conn")
        }
    }

    impl Drop for TestDb {
        fn drop(&mut self) {
            self.db.take();
            if let Some((admin_url, name)) = &self.postgres {
                if let Ok(mut admin) = diesel::PgConnection::establish(admin_url) {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut admin);
                }
            }
        }
    }

    /// A migrated SQLite database in a temporary directory, and PostgreSQL if one answers.
    fn databases() -> Vec<TestDb> {
        let mut out = Vec::new();
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("beckon.db").to_string_lossy().into_owned();
        let db = Db::connect(&path, 2).expect("sqlite");
        db.migrate().expect("migrate sqlite");
        out.push(TestDb {
            db: Some(db),
            _dir: dir,
            postgres: None,
        });
        let admin_url = std::env::var("BECKON_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        if let Ok(mut admin) = diesel::PgConnection::establish(&admin_url) {
            let name = format!("beckon_unit_{}", uuid::Uuid::new_v4().simple());
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .expect("create database");
            let mut url = url::Url::parse(&admin_url).expect("url");
            url.set_path(&format!("/{name}"));
            let mut test_db = TestDb {
                db: None,
                _dir: tempfile::tempdir().expect("temp dir"),
                postgres: Some((admin_url, name)),
            };
            let db = Db::connect(url.as_str(), 2).expect("postgres");
            db.migrate().expect("migrate postgres");
            test_db.db = Some(db);
            out.push(test_db);
        } else {
            eprintln!("PostgreSQL not reachable at {admin_url}: only SQLite is tested");
        }
        out
    }

    fn site() -> Site {
        Site {
            id: SiteId::generate(),
            public_key: crate::domain::new_id(),
            slug: format!("s{}", &crate::domain::new_id()[30..]),
            name: "Shop".into(),
            allowed_origins: "[]".into(),
            custom_domain: None,
            identity_secret: "x".into(),
            settings: r#"{"legacy": 1, "auto_assign": "yes"}"#.into(),
            forced_status: None,
            created_at: crate::domain::now(),
        }
    }

    #[test]
    fn settings_are_merged_validated_and_kept_on_both_databases() {
        for db in databases() {
            let mut conn = db.conn();
            let conn = &mut *conn;
            let s = site();
            s.insert(conn).expect("insert");
            let written = Site::update_settings(
                conn,
                &s.id,
                &SiteSettingsPatch {
                    typing_preview: Some(true),
                    greeting: Some(Some("Hi".into())),
                    ..SiteSettingsPatch::default()
                },
            )
            .expect("update");
            assert!(written.typing_preview);
            let read = Site::find(conn, &s.id).expect("find").expect("site");
            assert_eq!(read.id, s.id);
            let settings = read.settings();
            assert_eq!(settings, written);
            assert_eq!(settings.greeting.as_deref(), Some("Hi"));
            let raw: serde_json::Value = serde_json::from_str(&read.settings).expect("json");
            assert_eq!(raw["legacy"], 1, "an unknown key survives");
            assert_eq!(
                raw["auto_assign"], "yes",
                "a bad value is kept, not replaced"
            );

            let refused = Site::update_settings(
                conn,
                &s.id,
                &SiteSettingsPatch {
                    colour: Some(Some("blue".into())),
                    ..SiteSettingsPatch::default()
                },
            );
            assert!(matches!(refused, Err(SettingsWriteError::Invalid(e)) if e.field == "colour"));
            let after = Site::get(conn, &s.id).expect("get");
            assert_eq!(after.settings, read.settings, "nothing is written");

            let missing = Site::update_settings(conn, "nope", &SiteSettingsPatch::default());
            assert!(matches!(
                missing,
                Err(SettingsWriteError::Db(diesel::result::Error::NotFound))
            ));
        }
    }

    #[test]
    fn typed_columns_round_trip_and_unknown_words_are_refused() {
        for db in databases() {
            let mut conn = db.conn();
            let conn = &mut *conn;
            let s = site();
            s.insert(conn).expect("insert site");
            let now = crate::domain::now();
            let c = Conversation {
                id: crate::domain::ConversationId::generate(),
                site_id: s.id.clone(),
                visitor_id: None,
                assigned_operator_id: None,
                target_operator_id: None,
                status: ConversationStatus::Waiting,
                channel: Channel::Sms,
                subject: String::new(),
                guest_name: None,
                guest_email: None,
                guest_phone: None,
                reply_token: None,
                last_seq: 0,
                guest_read_seq: 0,
                operator_read_seq: 0,
                created_at: now,
                updated_at: now,
                closed_at: None,
                guest_capabilities: None,
            };
            c.insert(conn).expect("insert conversation");
            assert_eq!(
                Conversation::find(conn, &c.id).expect("find"),
                Some(c.clone())
            );
            let active = Conversation::active_for_site(conn, &s.id).expect("active");
            assert_eq!(active.len(), 1);

            use crate::db::schema::conversations;
            diesel::update(conversations::table.find(&c.id))
                .set(conversations::status.eq("archived"))
                .execute(conn)
                .expect("raw update");
            let err = Conversation::find(conn, &c.id).expect_err("an unknown status is refused");
            // diesel names the field; the cause (in the debug form) names the value.
            assert!(err.to_string().contains("status"), "{err}");
            assert!(format!("{err:?}").contains("archived"), "{err:?}");
        }
    }
}
