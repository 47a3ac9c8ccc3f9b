//! A customer's website for browser tests: the "Acme Outdoor" example shop, embedding the widget,
//! served on its own port — so on a different origin from the Beckon server under test.

use beckon_examples::shop::{ShopConfig, ShopServer};

/// The example shop running in the background on `127.0.0.1:<free port>`; stops when dropped.
///
/// Pages: `/`, `/products/tent`, `/products/stove`, `/cart`, `/spa` (views `/spa/gear` and
/// `/spa/checklist` reached through `history.pushState` by clicking `a[data-spa]`), plus any added
/// with [`HostSite::with_page`] / [`HostSite::add_page`]. Every built-in page carries
/// `<script async src="{beckon_base}/w/{site_key}.js"></script>`.
pub struct HostSite {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub origin: String,
    config: ShopConfig,
    server: ShopServer,
}

impl HostSite {
    /// Starts the shop with the widget of `beckon_base` (e.g. a `TestApp`'s `address`) for
    /// `site_key`.
    pub async fn start(beckon_base: &str, site_key: &str) -> HostSite {
        let config = ShopConfig {
            beckon_base: beckon_base.to_owned(),
            site_key: site_key.to_owned(),
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the host site");
        let server = ShopServer::spawn(listener, config.clone()).expect("start the host site");
        HostSite {
            origin: server.origin(),
            config,
            server,
        }
    }

    /// `origin` + `path` (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// The widget URL every page loads: `{beckon_base}/w/{site_key}.js`.
    pub fn widget_url(&self) -> String {
        self.config.widget_url()
    }

    /// Serves `html` verbatim at `path` (replacing any page there); builder form of
    /// [`HostSite::add_page`].
    pub fn with_page(self, path: &str, html: impl Into<String>) -> HostSite {
        self.add_page(path, html);
        self
    }

    /// Serves `html` verbatim (a whole document; see [`HostSite::page_html`]) at `path` from now on.
    pub fn add_page(&self, path: &str, html: impl Into<String>) {
        self.server.add_page(path, html);
    }

    /// A whole shop page with the widget tag, `title_html` and `body_html` inserted verbatim (no
    /// escaping): `<title>{title_html}</title>` and the body inside `<main>`. For hostile titles,
    /// remember `<title>` content is raw text to the HTML parser; to get markup-looking text into
    /// `document.title`, pass it as is (`<img src=x onerror=alert(1)>`), or set `document.title`
    /// from a script in the body.
    pub fn page_html(&self, title_html: &str, body_html: &str) -> String {
        beckon_examples::shop::page_with_widget(&self.config, title_html, body_html)
    }
}
