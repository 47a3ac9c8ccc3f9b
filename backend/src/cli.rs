//! The `beckon` command line: `serve` (the default), `migrate`, `operator add`, `site add`,
//! `setup-link`.

use std::io::{BufRead as _, Write as _};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use crate::config::{Settings, SettingsArgs};
use crate::db::models::Role;
use crate::domain::{AllowedOrigins, DisplayName, Email, Handle, Password, SiteName, SiteSlug};
use crate::services;
use crate::services::accounts::{self, NewOperator, NewSite};
use crate::startup::{open_database, Application};

/// Beckon: live help for websites. Settings come from flags, then BECKON_* environment variables,
/// then beckon.toml, then defaults.
#[derive(Debug, Parser)]
#[command(name = "beckon", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    settings: SettingsArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve Beckon (the default when no command is given).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage operator accounts.
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Manage sites.
    #[command(subcommand)]
    Site(SiteCommand),
    /// Print a fresh one-time setup link (only while no owner exists); earlier links stop working.
    SetupLink,
}

#[derive(Debug, Subcommand)]
enum OperatorCommand {
    /// Create an operator. The password is read from BECKON_OPERATOR_PASSWORD, or from standard
    /// input with --password-stdin; otherwise a random one is generated and printed.
    Add(OperatorAdd),
}

#[derive(Debug, Args)]
struct OperatorAdd {
    /// Login email.
    #[arg(long)]
    email: String,
    /// Handle for the personal chat link /u/HANDLE.
    #[arg(long)]
    handle: String,
    /// Name shown to visitors.
    #[arg(long)]
    name: String,
    /// Phone number in E.164 (e.g. +4915112345678).
    #[arg(long)]
    phone: Option<String>,
    /// Slug of a site to add the operator to.
    #[arg(long)]
    site: Option<String>,
    /// Role on that site: owner, admin or agent.
    #[arg(long, default_value = "agent", requires = "site")]
    role: String,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
}

#[derive(Debug, Subcommand)]
enum SiteCommand {
    /// Register a site and print its embed key.
    Add(SiteAdd),
}

#[derive(Debug, Args)]
struct SiteAdd {
    /// Site name.
    #[arg(long)]
    name: String,
    /// Slug for the help-desk link /s/SLUG (default: derived from the name).
    #[arg(long)]
    slug: Option<String>,
    /// Origins the widget may run on, comma-separated (default: any).
    #[arg(long, default_value = "")]
    origins: String,
    /// Email of an existing operator who becomes the site's owner.
    #[arg(long)]
    owner: Option<String>,
}

/// Parses the command line and runs the command; the process exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::resolve(&cli.settings, std::env::var("DATABASE_URL").ok()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("beckon: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&settings.log);
    let command = cli.command.unwrap_or(Command::Serve);
    let result = actix_web::rt::System::new().block_on(async move {
        match command {
            Command::Serve => serve(settings).await,
            Command::Migrate => {
                open_database(&settings).await?;
                println!("database is up to date");
                Ok(())
            }
            Command::Operator(OperatorCommand::Add(args)) => operator_add(settings, args).await,
            Command::Site(SiteCommand::Add(args)) => site_add(settings, args).await,
            Command::SetupLink => setup_link(settings).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("beckon: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    tracing::info!(settings = ?settings, "starting");
    let app = Application::build(settings).await?;
    let mut out = std::io::stdout().lock();
    if let Some(link) = app.setup_link() {
        writeln!(
            out,
            "Open this one-time link to create the owner account and first site:"
        )?;
        writeln!(out, "  {link}")?;
    }
    // Printed last: scripts and tests wait for this line, and by then everything above is out.
    if app.base_url() != app.listen_url() {
        writeln!(out, "Public base URL: {}", app.base_url())?;
    }
    writeln!(out, "Beckon is listening on {}", app.listen_url())?;
    out.flush()?;
    drop(out);
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

fn read_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok((line.trim_end_matches(['\r', '\n']).to_owned(), false));
    }
    if let Ok(p) = std::env::var("BECKON_OPERATOR_PASSWORD") {
        return Ok((p, false));
    }
    Ok((crate::secrets::random_token()[..20].to_owned(), true))
}

async fn operator_add(settings: Settings, args: OperatorAdd) -> anyhow::Result<()> {
    let (password, generated) = read_password(args.password_stdin)?;
    let new = NewOperator {
        email: Email::parse(&args.email)?,
        handle: Handle::parse(&args.handle)?,
        display_name: DisplayName::parse(&args.name)?,
        password: Password::parse(&password)?,
        phone: args.phone.clone(),
    };
    let role = Role::parse(&args.role).context("--role must be owner, admin or agent")?;
    let db = open_database(&settings).await?;
    let site_slug = args.site.clone();
    let operator = services::run(&db, move |conn| {
        accounts::add_operator(conn, &new, site_slug.as_deref(), role)
    })
    .await?;
    println!(
        "created operator {} <{}> (handle {})",
        operator.display_name, operator.email, operator.handle
    );
    if generated {
        println!("generated password: {password}");
    }
    Ok(())
}

async fn site_add(settings: Settings, args: SiteAdd) -> anyhow::Result<()> {
    let name = SiteName::parse(&args.name)?;
    let slug = match &args.slug {
        Some(s) => SiteSlug::parse(s)?,
        None => SiteSlug::from_name(&name)?,
    };
    let new = NewSite {
        name,
        slug,
        allowed_origins: AllowedOrigins::parse(&args.origins)?,
    };
    let db = open_database(&settings).await?;
    let owner_email = args.owner.clone();
    let site = services::run(&db, move |conn| {
        accounts::add_site(conn, &new, owner_email.as_deref())
    })
    .await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "created site {} (slug {})", site.name, site.slug)?;
    writeln!(out, "site key: {}", site.public_key)?;
    for (label, line) in site_links(settings.base(), &site.slug, &site.public_key) {
        writeln!(out, "{label}: {line}")?;
    }
    if !settings.base_url_explicit {
        // The links above name the listen address, which a visitor's browser rarely reaches.
        writeln!(
            out,
            "note: these links use {}; pass --base-url (or set BECKON_BASE_URL) to the public URL visitors reach",
            settings.base()
        )?;
    }
    out.flush()?;
    Ok(())
}

/// Issues a new setup token and prints its link with the configured base URL, for an installation
/// whose first link expired or was lost (the login page points here).
async fn setup_link(settings: Settings) -> anyhow::Result<()> {
    let db = open_database(&settings).await?;
    let ttl = settings.setup_link_ttl;
    let token = services::run(&db, move |conn| {
        services::setup::issue_token_if_unset(conn, ttl)
    })
    .await?;
    let base = settings.base();
    let Some(token) = token else {
        anyhow::bail!("Beckon is already set up (an owner exists); log in at {base}/login");
    };
    println!("Open this one-time link to create the owner account and first site:");
    println!("  {base}/setup?token={token}");
    Ok(())
}

/// What `beckon site add` prints after the key: each entry point of the new site, built on the
/// configured public base URL `base` (no trailing slash), as (label, line). The same entry points
/// as the console's Embed page.
fn site_links(base: &str, slug: &str, key: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "embed snippet (before </body>)",
            format!(r#"<script async src="{base}/w/{key}.js"></script>"#),
        ),
        ("help-desk link", format!("{base}/s/{slug}")),
        (
            "status badge",
            format!(
                r#"<a href="{base}/s/{slug}"><img src="{base}/s/{slug}/status.svg" alt="Live help" width="132" height="24"></a>"#
            ),
        ),
        (
            "monitor pixel",
            format!(r#"<img src="{base}/m/{key}.gif" alt="" width="1" height="1">"#),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::site_links;

    #[test]
    fn site_links_use_the_base_url_for_every_entry_point() {
        let links = site_links("https://chat.example.com", "shop", "KEY");
        let text: Vec<&str> = links.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(
            text,
            [
                r#"<script async src="https://chat.example.com/w/KEY.js"></script>"#,
                "https://chat.example.com/s/shop",
                r#"<a href="https://chat.example.com/s/shop"><img src="https://chat.example.com/s/shop/status.svg" alt="Live help" width="132" height="24"></a>"#,
                r#"<img src="https://chat.example.com/m/KEY.gif" alt="" width="1" height="1">"#,
            ]
        );
    }
}
