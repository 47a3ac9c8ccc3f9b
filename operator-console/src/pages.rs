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
}

/// The login page.
pub fn login(v: &LoginView<'_>) -> Markup {
    let frame = Frame {
        title: "Log in",
        nonce: v.nonce,
        signed_in: None,
    };
    page(
        &frame,
        html! {
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
                            input name="handle" value=(f.handle) required pattern="[a-zA-Z0-9][a-zA-Z0-9_-]{1,31}"; }
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
    /// Sites the operator belongs to.
    pub sites: Vec<SiteRow<'a>>,
}

/// The console home: the operator's sites and their chat links.
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
            section.card {
                h1 { "Your sites" }
                @if v.sites.is_empty() {
                    p.empty { "You do not belong to any site yet. Ask a site owner to add you." }
                } @else {
                    table.sites {
                        thead { tr { th { "Site" } th { "Your role" } th { "Help-desk link" } th { "Site key" } th { "Widget allowed on" } th {} } }
                        tbody {
                            @for s in &v.sites {
                                tr {
                                    td { (s.name) }
                                    td { (s.role) }
                                    td { code { (v.base_url) "/s/" (s.slug) } }
                                    td { code { (s.public_key) } }
                                    td { (s.origins) }
                                td {
                                    a href={ "/console/sites/" (s.id) "/visitors" } { "Live visitors" }
                                    " · "
                                    a href={ "/console/sites/" (s.id) "/embed" } { "Embed" }
                                    @if s.role == "owner" || s.role == "admin" {
                                        " · "
                                        a href={ "/console/sites/" (s.id) "/settings" } { "Settings" }
                                        " · " a href={ "/console/sites/" (s.id) "/webhooks" } { "Webhooks" }
                                        " · " a href={ "/console/sites/" (s.id) "/offline" } { "Offline & email" }
                                    }
                                }
                                }
                            }
                        }
                    }
                }
                p { "Your personal chat link: " code { (v.base_url) "/u/" (v.handle) } }
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
                p { a href="/login" { "Go to the login page" } }
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
            sites: vec![SiteRow {
                name: "Shop",
                slug: "shop",
                role: "owner",
                public_key: "k1",
                origins: "any origin".into(),
                id: "s1",
            }],
        })
        .into_string();
        assert!(markup.contains("https://chat.example.com/s/shop"));
        assert!(markup.contains("https://chat.example.com/u/ann"));
        assert!(markup.contains(r#"name="csrf" value="tok""#));
    }
}
