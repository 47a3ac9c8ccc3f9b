//! The delivery worker: claims due outbox items, delivers them concurrently and records the outcome.

use std::sync::Arc;

use tokio::sync::Notify;

use super::outbox::{self, Backoff};
use super::{mail, sms, webhook, Delivered, DeliveryError, Job};
use crate::config::OutboundSettings;
use crate::db::models::{OutboxItem, Webhook};
use crate::db::Db;
use crate::domain;

/// Items claimed per round.
const BATCH: i64 = 32;
/// How often the worker looks for due items when nobody wakes it.
const POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// What deliveries need: settings, the mailer, an HTTP client and the database.
pub struct Outbound {
    /// Outbound settings.
    pub settings: OutboundSettings,
    /// Where mail goes.
    pub mailer: mail::Mailer,
    /// Client for the SMS provider.
    pub http: reqwest::Client,
    db: Db,
    wake: Notify,
}

impl Outbound {
    /// Sets up delivery from the settings.
    pub fn new(
        settings: OutboundSettings,
        data_dir: &std::path::Path,
        db: Db,
    ) -> anyhow::Result<Outbound> {
        let mailer = mail::Mailer::from_settings(&settings, data_dir)?;
        let http = reqwest::Client::builder()
            .timeout(settings.delivery_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Outbound {
            settings,
            mailer,
            http,
            db,
            wake: Notify::new(),
        })
    }

    /// Tells the worker that something was queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    fn backoff(&self) -> Backoff {
        Backoff {
            base: self.settings.retry_base,
            max_attempts: self.settings.max_attempts,
        }
    }

    /// Delivers one job.
    async fn deliver(&self, item: &OutboxItem) -> Result<Delivered, DeliveryError> {
        match outbox::job_of(item)? {
            Job::Email(job) => {
                let message = mail::build(&job, &self.settings, &item.id)?;
                self.mailer.deliver(&item.id, &message).await
            }
            Job::Sms(job) => sms::deliver(&self.http, self.settings.sms.as_ref(), &job).await,
            Job::Webhook(job) => {
                let id = job.webhook_id.clone();
                let hook = self
                    .db
                    .run(move |conn| Ok(Webhook::find(conn, &id)?))
                    .await
                    .map_err(|e| DeliveryError::Retry(e.to_string()))?
                    .ok_or_else(|| DeliveryError::Permanent("the webhook was deleted".into()))?;
                webhook::deliver(
                    &hook.url,
                    &hook.secret,
                    &item.id,
                    &job,
                    self.settings.webhook_allow_private,
                    self.settings.delivery_timeout,
                )
                .await
            }
        }
    }

    /// One round: claim, deliver, record. Answers how many items it handled.
    pub async fn run_once(&self) -> Result<usize, crate::db::DbError> {
        let now = domain::now();
        // A claim outlives one attempt's timeout, so only a node that died lets it lapse.
        let lease = chrono::Duration::from_std(self.settings.delivery_timeout * 2)
            .unwrap_or(chrono::Duration::seconds(60));
        let items = self
            .db
            .run(move |conn| Ok(outbox::claim_due(conn, now, now + lease, BATCH)?))
            .await?;
        let handled = items.len();
        let attempts = items.into_iter().map(|item| async move {
            let outcome =
                match tokio::time::timeout(self.settings.delivery_timeout, self.deliver(&item))
                    .await
                {
                    Ok(outcome) => outcome,
                    Err(_) => Err(DeliveryError::Retry("timed out".into())),
                };
            if let Err(e) = &outcome {
                tracing::warn!(id = %item.id, channel = %item.channel, error = %e, "delivery failed");
            }
            let backoff = self.backoff();
            let result = self
                .db
                .write(move |conn| Ok(outbox::finish(conn, &item, &outcome, backoff, domain::now())?))
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "could not record a delivery");
            }
        });
        futures_util::future::join_all(attempts).await;
        Ok(handled)
    }

    /// Runs until the task is dropped.
    pub async fn run(self: Arc<Self>) {
        loop {
            match self.run_once().await {
                Ok(n) if n as i64 == BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "outbox round failed"),
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }
}
