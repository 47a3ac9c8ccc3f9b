//! Console pages. Each takes a view model and returns the whole page's markup.

use maud::{html, Markup};

use crate::layout::{page, Frame, SignedIn};

/// A field error shown next to the form.
pub type FormError = Option<String>;

/// The login form.
pub struct LoginView<'a> {
    /// CSP nonce.
    pub nonce: &'a str,
    /// Anonymous CSRF token (double-submit cookie value).
    pub csrf: &'a str,
    /// Email to pre-fill after a failed attempt.
    pub email: &'a str,
    /// Where to go after login (a console path).
    pub next: &'a str,
    /// The error to show, if any.
    pub error: FormError,
    /// No owner exists yet: nobody can log in, so the page says where the setup link is instead.
    pub awaiting_setup: bool,
}

/// The login page; on a new installation, where to find the setup link instead.
pub fn login(v: &LoginView<'_>) -> Markup {
    let frame = Frame {
        title: "Log in",
        nonce: v.nonce,
        signed_in: None,
    };
    page(
        &frame,
        html! {
            @if v.awaiting_setup {
                section.card.narrow.setup-hint {
                    h1 { "Set up Beckon first" }
                    p { "This installation has no owner yet, so there is nobody to log in as. Beckon printed a one-time "
                        strong { "setup link" } " in the server's log (its standard output) when it started:" }
                    pre.log-line { code { "Open this one-time link to create the owner account and first site:\n  https://…/setup?token=…" } }
                    p { "Open that link to create the owner account and your first site. If the link expired or got lost, print a fresh one on the server (with the same settings, such as the database URL):" }
                    pre.log-line { code { "beckon setup-link" } }
                    p.empty { "A new link replaces the previous one. Restarting the server prints one too." }
                }
            } @else {
            section.card.narrow {
                h1 { "Log in to Beckon" }
                @if let Some(error) = &v.error { p.error role="alert" { (error) } }
                form method="post" action="/login" {
                    input type="hidden" name="csrf" value=(v.csrf);
                    input type="hidden" name="next" value=(v.next);
                    label { "Email" input type="email" name="email" value=(v.email) required autocomplete="username" autofocus; }
                    label { "Password" input type="password" name="password" required autocomplete="current-password"; }
                    button type="submit" { "Log in" }
                }
            }
            }
        },
    )
}

/// Values typed into the setup form, shown again after an error.
#[derive(Default)]
pub struct SetupValues<'a> {
    /// Owner's name.
    pub display_name: &'a str,
    /// Owner's email.
    pub email: &'a str,
    /// Owner's handle.
    pub handle: &'a str,
    /// First site's name.
    pub site_name: &'a str,
    /// First site's slug.
    pub site_slug: &'a str,
    /// First site's allowed origins.
    pub allowed_origins: &'a str,
}

/// The first-run setup form.
pub struct SetupView<'a> {
    /// CSP nonce.
    pub nonce: &'a str,
    /// Anonymous CSRF token.
    pub csrf: &'a str,
    /// The setup token from the link.
    pub token: &'a str,
    /// Values to pre-fill.
    pub values: SetupValues<'a>,
    /// The error to show, if any.
    pub error: FormError,
}

/// The setup page: creates the owner account and the first site.
pub fn setup(v: &SetupView<'_>) -> Markup {
    let frame = Frame {
        title: "Set up",
        nonce: v.nonce,
        signed_in: None,
    };
    let f = &v.values;
    page(
        &frame,
        html! {
            section.card.narrow {
                h1 { "Welcome to Beckon" }
                p { "Create the owner account and your first site. This link works once." }
                @if let Some(error) = &v.error { p.error role="alert" { (error) } }
                form method="post" action="/setup" {
                    input type="hidden" name="csrf" value=(v.csrf);
                    input type="hidden" name="token" value=(v.token);
                    fieldset {
                        legend { "You" }
                        label { "Your name" input name="display_name" value=(f.display_name) required maxlength="80"; }
                        label { "Email" input type="email" name="email" value=(f.email) required autocomplete="username"; }
                        label { "Handle " small { "(your personal chat link: /u/handle)" }
                            input name="handle" value=(f.handle) required pattern=(crate::HANDLE_PATTERN); }
                        label { "Password " small { "(at least 10 characters)" }
                            input type="password" name="password" required minlength="10" autocomplete="new-password"; }
                    }
                    fieldset {
                        legend { "Your site" }
                        label { "Site name" input name="site_name" value=(f.site_name) required maxlength="100"; }
                        label { "Slug " small { "(help-desk link: /s/slug; leave empty to derive it from the name)" }
                            input name="site_slug" value=(f.site_slug); }
                        label { "Allowed origins " small { "(where the widget may run, e.g. https://shop.example.com; empty allows any)" }
                            textarea name="allowed_origins" rows="2" { (f.allowed_origins) } }
                    }
                    button type="submit" { "Create account and site" }
                }
            }
        },
    )
}

/// One of the operator's sites on the console home.
pub struct SiteRow<'a> {
    /// Site name.
    pub name: &'a str,
    /// Help-desk slug.
    pub slug: &'a str,
    /// The operator's role there.
    pub role: &'a str,
    /// The public key of the embed code.
    pub public_key: &'a str,
    /// Allowed origins, already joined for display ("any origin" when empty).
    pub origins: String,
    /// Site id, for the links to the site's pages.
    pub id: &'a str,
    /// Origins the widget was refused on, most recent first (a notice links to the Embed page).
    pub refused_origins: Vec<String>,
    /// A page view from the site was seen (the snippet is embedded).
    pub embed_seen: bool,
    /// A visitor was seen on the site.
    pub visitor_seen: bool,
    /// A conversation exists on the site.
    pub chat_tried: bool,
}

/// The console home.
pub struct HomeView<'a> {
    /// CSP nonce.
    pub nonce: &'a str,
    /// Session CSRF token.
    pub csrf: &'a str,
    /// Operator's display name.
    pub operator_name: &'a str,
    /// Operator's chat handle.
    pub handle: &'a str,
    /// Public base URL without trailing slash.
    pub base_url: &'a str,
    /// Whether the operator is available right now (console.js keeps the step current after load).
    pub available: bool,
    /// Sites the operator belongs to.
    pub sites: Vec<SiteRow<'a>>,
}

/// One step of the first-steps checklist.
struct Step<'a> {
    /// Done already.
    done: bool,
    /// Its place in the list.
    number: u8,
    title: &'a str,
    /// What to do, shown while not done.
    todo: &'a str,
    /// What was seen, shown once done.
    finished: &'a str,
    /// Whether console.js keeps the step current with the operator's availability.
    follows_availability: bool,
}

/// A step of the checklist: its state, what it asks, and `link` to where it is done.
fn step(s: &Step<'_>, link: Markup) -> Markup {
    html! {
        li.step data-done=(s.done) data-step-online[s.follows_availability] {
            span.step-mark aria-hidden="true" {
                span.step-number { (s.number) }
                svg.step-check viewBox="0 0 16 16" width="14" height="14" {
                    path d="M3 8.5l3.2 3L13 4.5" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round" {}
                }
            }
            div.step-text {
                strong { (s.title) }
                " "
                span.step-state { @if s.done { "Done" } @else { "Not yet" } }
                br;
                small.step-todo { (s.todo) }
                small.step-finished { (s.finished) }
            }
            div.step-link { (link) }
        }
    }
}

/// The console home: per site a first-steps checklist (embed the snippet, see the first visitor, go
/// online, try a chat) with where each is done, the site's details and links to its pages.
pub fn home(v: &HomeView<'_>) -> Markup {
    let frame = Frame {
        title: "Console",
        nonce: v.nonce,
        signed_in: Some(SignedIn {
            name: v.operator_name,
            csrf: v.csrf,
        }),
    };
    page(
        &frame,
        html! {
            @if v.sites.is_empty() {
                section.card {
                    h1 { "Your sites" }
                    p.empty { "You do not belong to any site yet. Ask a site owner to add you." }
                }
            }
            @for s in &v.sites {
                @let site_path = format!("/console/sites/{}", s.id);
                @let chat_url = format!("{}/s/{}", v.base_url, s.slug);
                section.card.site-home data-site-id=(s.id) {
                    div.site-head {
                        h1 { (s.name) }
                        span.badge { "your role: " (s.role) }
                    }
                    (crate::origins::refused_notice(s.id, &s.refused_origins))
                    h2.first-steps-title { "First steps" }
                    ol.first-steps {
                        (step(&Step { done: s.embed_seen, number: 1, title: "Embed the snippet",
                            todo: "Paste the widget script into your site's pages; this turns done when a page view from your site arrives.",
                            finished: "A page view from your site arrived: the widget is installed.",
                            follows_availability: false },
                            html! { a href={ (site_path) "/embed" } { "Get the snippet" } }))
                        (step(&Step { done: s.visitor_seen, number: 2, title: "See your first visitor",
                            todo: "Open a page of your site in a browser; the visitor shows up in Live visitors.",
                            finished: "Your site has had visitors.",
                            follows_availability: false },
                            html! { a href={ (site_path) "/visitors" } { "Live visitors" } }))
                        (step(&Step { done: v.available, number: 3, title: "Go online",
                            todo: "You are available while a console page is open and the switch at the top says Available.",
                            finished: "You are available now: visitors can chat with you.",
                            follows_availability: true },
                            html! { a href="#beckon-availability" { "Availability switch" } }))
                        (step(&Step { done: s.chat_tried, number: 4, title: "Try a chat",
                            todo: "Open your help-desk link in another browser, write a message and answer it in Chats.",
                            finished: "Your site has a conversation.",
                            follows_availability: false },
                            html! {
                                a href=(chat_url) target="_blank" rel="noopener" { "Chat URL" }
                                " · "
                                a href="/console/chats" { "Chats" }
                            }))
                    }
                    dl.site-facts {
                        dt { "Help-desk link (Chat URL)" } dd { code { (chat_url) } }
                        dt { "Site key" } dd { code { (s.public_key) } }
                        dt { "Widget allowed on" } dd { (s.origins) }
                    }
                    nav.site-links aria-label={ (s.name) " pages" } {
                        a href={ (site_path) "/visitors" } { "Live visitors" }
                        a href={ (site_path) "/embed" } { "Embed" }
                        a href={ (site_path) "/canned" } { "Canned responses" }
                        @if s.role == "owner" || s.role == "admin" {
                            a href={ (site_path) "/settings" } { "Settings" }
                            a href={ (site_path) "/webhooks" } { "Webhooks" }
                            a href={ (site_path) "/offline" } { "Offline & email" }
                        }
                    }
                }
            }
            section.card {
                p.personal-link { "Your personal chat link: " code { (v.base_url) "/u/" (v.handle) } }
            }
        },
    )
}

/// A page with a single message (errors, expired links).
pub struct MessageView<'a> {
    /// CSP nonce.
    pub nonce: &'a str,
    /// Heading.
    pub title: &'a str,
    /// Explanation.
    pub message: &'a str,
}

/// A simple message page.
pub fn message(v: &MessageView<'_>) -> Markup {
    let frame = Frame {
        title: v.title,
        nonce: v.nonce,
        signed_in: None,
    };
    page(
        &frame,
        html! {
            section.card.narrow {
                h1 { (v.title) }
                p { (v.message) }
                // The console sends whoever is not signed in on to the login page.
                p { a href="/console" { "Go to the console" } }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_strings_are_escaped() {
        let markup = login(&LoginView {
            nonce: "n",
            csrf: "c",
            email: "\"><img src=x onerror=alert(1)>",
            next: "/console",
            error: Some("<script>alert(1)</script>".into()),
            awaiting_setup: false,
        })
        .into_string();
        assert!(!markup.contains("<img src=x"));
        assert!(!markup.contains("<script>alert"));
        assert!(markup.contains("&lt;script&gt;"));
    }

    #[test]
    fn home_lists_sites_with_links() {
        let markup = home(&HomeView {
            nonce: "n",
            csrf: "tok",
            operator_name: "Ann",
            handle: "ann",
            base_url: "https://chat.example.com",
            available: false,
            sites: vec![SiteRow {
                name: "Shop",
                slug: "shop",
                role: "owner",
                public_key: "k1",
                origins: "any origin".into(),
                id: "s1",
                refused_origins: vec![],
                embed_seen: true,
                visitor_seen: false,
                chat_tried: false,
            }],
        })
        .into_string();
        assert!(markup.contains("https://chat.example.com/s/shop"));
        assert!(markup.contains("https://chat.example.com/u/ann"));
        assert!(markup.contains(r#"name="csrf" value="tok""#));
    }

    #[test]
    fn a_new_installation_is_pointed_to_the_setup_link_instead_of_a_form() {
        let markup = login(&LoginView {
            nonce: "n",
            csrf: "c",
            email: "",
            next: "/console",
            error: None,
            awaiting_setup: true,
        })
        .into_string();
        assert!(markup.contains("setup link"));
        assert!(markup.contains("beckon setup-link"));
        assert!(!markup.contains(r#"type="password""#));
    }

    #[test]
    fn home_shows_each_first_step_with_its_state_and_link() {
        let markup = home(&HomeView {
            nonce: "n",
            csrf: "tok",
            operator_name: "Ann",
            handle: "ann",
            base_url: "https://chat.example.com",
            available: true,
            sites: vec![SiteRow {
                name: "Shop",
                slug: "shop",
                role: "agent",
                public_key: "k1",
                origins: "any origin".into(),
                id: "s1",
                refused_origins: vec![],
                embed_seen: false,
                visitor_seen: true,
                chat_tried: false,
            }],
        })
        .into_string();
        let states: Vec<&str> = markup
            .match_indices(r#"<li class="step" data-done=""#)
            .map(|(at, m)| &markup[at + m.len()..at + m.len() + 4])
            .collect();
        assert_eq!(states, ["fals", "true", "true", "fals"]);
        assert!(markup.contains(r#"href="/console/sites/s1/embed""#));
        assert!(markup.contains(r#"href="/console/sites/s1/visitors""#));
        assert!(markup.contains(r##"href="#beckon-availability""##));
        assert!(markup.contains(r#"href="https://chat.example.com/s/shop""#));
        // An agent gets no links to the owners' pages.
        assert!(!markup.contains("/settings"));
    }

    #[test]
    fn signed_in_pages_load_the_presence_script_and_every_page_the_favicon() {
        let signed_in = home(&HomeView {
            nonce: "nonce-1",
            csrf: "tok",
            operator_name: "Ann",
            handle: "ann",
            base_url: "https://chat.example.com",
            available: false,
            sites: vec![],
        })
        .into_string();
        let script = format!(
            r#"<script type="module" nonce="nonce-1" src="{}"></script>"#,
            crate::CONSOLE_JS_PATH
        );
        assert!(signed_in.contains(&script));
        assert!(signed_in.contains(crate::FAVICON_PATH));
        let anonymous = message(&MessageView {
            nonce: "n",
            title: "Gone",
            message: "gone",
        })
        .into_string();
        assert!(!anonymous.contains(crate::CONSOLE_JS_PATH));
        assert!(anonymous.contains(crate::FAVICON_PATH));
    }

    #[test]
    fn the_handle_pattern_escapes_its_dash_for_the_v_flag() {
        assert!(crate::HANDLE_PATTERN.contains(r"_\-]"));
        let setup_page = setup(&SetupView {
            nonce: "n",
            csrf: "c",
            token: "t",
            values: SetupValues::default(),
            error: None,
        })
        .into_string();
        assert!(setup_page.contains(r#"pattern="[a-zA-Z0-9][a-zA-Z0-9_\-]{1,31}""#));
    }
}
