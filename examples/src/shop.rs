//! "Acme Outdoor": a small multi-page shop that embeds the Beckon widget, served from its own origin.
//!
//! Pages: `/` (home), `/products/tent`, `/products/stove`, `/cart`, and `/spa` — a single-page app
//! that moves between views (`/spa`, `/spa/gear`, `/spa/checklist`) with `history.pushState` when a
//! link marked `data-spa` is clicked. Every page, the 404 page included, carries
//! `<script async src="{beckon_base}/w/{site_key}.js"></script>`; apart from that URL (HTML-escaped)
//! the text is static.
//!
//! Two ways to run it:
//! - [`serve_shop`]: an `async fn` that serves until the process stops (what the `demo-site` example
//!   uses, under `#[actix_web::main]` or `#[tokio::main]`).
//! - [`ShopServer::spawn`]: starts the shop on its own thread and returns at once with the bound
//!   address; [`ShopServer::stop`] or dropping the handle stops it and closes the port. Tests use this,
//!   and [`ShopServer::add_page`] to serve extra pages (for instance one with a hostile title).

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;

use actix_web::dev::ServerHandle;
use actix_web::http::header;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

/// Where the shop finds Beckon.
#[derive(Debug, Clone)]
pub struct ShopConfig {
    /// Beckon's base URL, e.g. `http://127.0.0.1:8080` (a trailing `/` is ignored).
    pub beckon_base: String,
    /// The site key the console shows for the site.
    pub site_key: String,
}

impl ShopConfig {
    /// The widget's URL: `{beckon_base}/w/{site_key}.js`.
    pub fn widget_url(&self) -> String {
        format!(
            "{}/w/{}.js",
            self.beckon_base.trim_end_matches('/'),
            self.site_key
        )
    }

    /// The tag every page carries: `<script async src="…"></script>`, the URL HTML-escaped.
    pub fn widget_script_tag(&self) -> String {
        format!(
            r#"<script async src="{}"></script>"#,
            escape_html(&self.widget_url())
        )
    }
}

/// Extra pages added at run time, by path; they take precedence over the built-in pages.
type ExtraPages = Arc<RwLock<HashMap<String, String>>>;

/// Everything a request handler needs: the rendered built-in pages and the extra ones.
struct Pages {
    builtin: HashMap<&'static str, String>,
    not_found: String,
    extra: ExtraPages,
}

/// Serves the shop on `listener` until the process stops (or the server is stopped by a signal).
pub async fn serve_shop(
    listener: TcpListener,
    beckon_base: String,
    site_key: String,
) -> std::io::Result<()> {
    let config = ShopConfig {
        beckon_base,
        site_key,
    };
    let (server, _) = build_server(listener, &config, ExtraPages::default(), true)?;
    server.await
}

/// A shop running on its own thread. Dropping it stops the server and closes its port.
pub struct ShopServer {
    address: SocketAddr,
    handle: ServerHandle,
    extra: ExtraPages,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl ShopServer {
    /// Starts the shop on `listener` in a thread of its own (with its own runtime, so it keeps
    /// answering however the caller's runtime is busy) and returns once it is bound.
    pub fn spawn(listener: TcpListener, config: ShopConfig) -> std::io::Result<ShopServer> {
        let address = listener.local_addr()?;
        let extra = ExtraPages::default();
        let pages = extra.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("shop-{}", address.port()))
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    match build_server(listener, &config, pages, false) {
                        Ok((server, handle)) => {
                            let _ = tx.send(Ok(handle));
                            server.await
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            Ok(())
                        }
                    }
                })
            })?;
        let handle = rx
            .recv()
            .map_err(|_| std::io::Error::other("shop thread ended before it started"))??;
        Ok(ShopServer {
            address,
            handle,
            extra,
            thread: Some(thread),
        })
    }

    /// The address the shop listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The shop's origin, `http://IP:PORT`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Serves `html` verbatim (as `text/html`) at `path` from now on, in place of whatever was there.
    pub fn add_page(&self, path: &str, html: impl Into<String>) {
        self.extra
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(path.to_owned(), html.into());
    }

    /// Stops the server and waits for its thread to finish.
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        // `stop` sends the command at once; the returned future only reports completion, which
        // joining the thread below covers.
        drop(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ShopServer {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// A complete shop page (head, navigation, footer and the widget tag) around `body_html`, titled
/// `title_html`. Both are inserted verbatim, so a test can put anything (markup included) in them.
pub fn page_with_widget(config: &ShopConfig, title_html: &str, body_html: &str) -> String {
    layout(&config.widget_script_tag(), title_html, body_html)
}

fn build_server(
    listener: TcpListener,
    config: &ShopConfig,
    extra: ExtraPages,
    handle_signals: bool,
) -> std::io::Result<(actix_web::dev::Server, ServerHandle)> {
    let pages = web::Data::new(render_pages(config, extra));
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(pages.clone())
            .default_service(web::to(serve_page))
    })
    .workers(1)
    .shutdown_timeout(1)
    .listen(listener)?;
    if !handle_signals {
        server = server.disable_signals();
    }
    let server = server.run();
    let handle = server.handle();
    Ok((server, handle))
}

async fn serve_page(req: HttpRequest, pages: web::Data<Pages>) -> HttpResponse {
    let path = req.path();
    if path == "/favicon.ico" {
        return HttpResponse::NoContent().finish();
    }
    let extra = pages
        .extra
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(path)
        .cloned();
    if let Some(html) = extra {
        return html_response(HttpResponse::Ok(), html);
    }
    // Every `/spa/...` path is the single-page app: a reload or deep link lands on the right view.
    let key = if path.starts_with("/spa/") {
        "/spa"
    } else {
        path
    };
    match pages.builtin.get(key) {
        Some(html) => html_response(HttpResponse::Ok(), html.clone()),
        None => html_response(HttpResponse::NotFound(), pages.not_found.clone()),
    }
}

fn html_response(mut builder: actix_web::HttpResponseBuilder, html: String) -> HttpResponse {
    builder
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html)
}

fn render_pages(config: &ShopConfig, extra: ExtraPages) -> Pages {
    let script = config.widget_script_tag();
    let builtin = [
        ("/", "Acme Outdoor — Gear for every trail", HOME),
        ("/products/tent", "Trailhead 2 Tent — Acme Outdoor", TENT),
        ("/products/stove", "Ember Camp Stove — Acme Outdoor", STOVE),
        ("/cart", "Your cart — Acme Outdoor", CART),
        ("/spa", "Trip planner — Acme Outdoor", SPA),
    ]
    .into_iter()
    .map(|(path, title, body)| (path, layout(&script, title, body)))
    .collect();
    Pages {
        builtin,
        not_found: layout(&script, "Not found — Acme Outdoor", NOT_FOUND),
        extra,
    }
}

fn layout(script_tag: &str, title_html: &str, body_html: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title_html}</title>
<style>{STYLE}</style>
{script_tag}
</head>
<body>
<header>
<a class="brand" href="/">Acme Outdoor</a>
<nav>
<a href="/">Home</a>
<a href="/products/tent">Tents</a>
<a href="/products/stove">Stoves</a>
<a href="/spa">Trip planner</a>
<a href="/cart">Cart (1)</a>
</nav>
</header>
<main>
{body_html}
</main>
<footer>Acme Outdoor · 12 Ridge Road, Boulder · This shop is a demo; nothing here is for sale.</footer>
</body>
</html>
"#
    )
}

/// Escapes text for an HTML attribute or element.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1d2a1f;background:#f6f4ee}\
header{display:flex;gap:2rem;align-items:center;padding:1rem 2rem;background:#2f4f3a}\
header a{color:#f6f4ee;text-decoration:none}.brand{font-weight:700;font-size:1.25rem}\
nav{display:flex;gap:1rem}main{max-width:56rem;margin:2rem auto;padding:0 2rem;min-height:60vh}\
.products{display:grid;grid-template-columns:repeat(auto-fill,minmax(14rem,1fr));gap:1rem}\
.card{background:#fff;border-radius:8px;padding:1rem;box-shadow:0 1px 3px #0002}\
.price{font-weight:700}button{font:inherit;padding:.5rem 1rem}\
table{border-collapse:collapse;width:100%}td,th{padding:.5rem;border-bottom:1px solid #ccc;text-align:left}\
footer{padding:1rem 2rem;color:#666;font-size:.875rem}\
header,nav{flex-wrap:wrap}@media(max-width:480px){header{gap:.5rem 1rem;padding:1rem}main{padding:0 1rem}}";

const HOME: &str = r#"<h1>Gear for every trail</h1>
<p>Light tents, reliable stoves and friendly advice. Questions? Our team is online to help.</p>
<section class="products">
<article class="card"><h2><a href="/products/tent">Trailhead 2 Tent</a></h2>
<p>Two people, 1.6 kg, up in three minutes.</p><p class="price">$249</p></article>
<article class="card"><h2><a href="/products/stove">Ember Camp Stove</a></h2>
<p>Boils a litre in three and a half minutes.</p><p class="price">$89</p></article>
</section>"#;

const TENT: &str = r#"<h1 id="product-name">Trailhead 2 Tent</h1>
<p>A two-person, three-season tent with two doors and two vestibules. Packed weight 1.6 kg.</p>
<ul><li>Floor: 2.1 m × 1.3 m</li><li>Peak height: 1.05 m</li><li>Poles: aluminium, colour-coded</li></ul>
<p class="price">$249</p>
<form action="/cart" method="get"><input type="hidden" name="add" value="tent">
<button type="submit" id="add-to-cart">Add to cart</button></form>"#;

const STOVE: &str = r#"<h1 id="product-name">Ember Camp Stove</h1>
<p>A canister stove with a piezo igniter and a wide pot support. Weighs 93 g.</p>
<ul><li>Boil time: 3.5 min per litre</li><li>Output: 2.8 kW</li><li>Fuel: isobutane-propane</li></ul>
<p class="price">$89</p>
<form action="/cart" method="get"><input type="hidden" name="add" value="stove">
<button type="submit" id="add-to-cart">Add to cart</button></form>"#;

const CART: &str = r#"<h1>Your cart</h1>
<table><thead><tr><th>Item</th><th>Qty</th><th>Price</th></tr></thead>
<tbody><tr><td>Trailhead 2 Tent</td><td>1</td><td>$249</td></tr></tbody></table>
<p><label>Coupon code <input type="text" id="coupon" name="coupon"></label></p>
<p><button type="button" id="checkout">Check out</button></p>"#;

const SPA: &str = r#"<h1 id="spa-heading">Trip planner</h1>
<nav id="spa-nav">
<a href="/spa" data-spa>Overview</a>
<a href="/spa/gear" data-spa id="spa-gear">Gear list</a>
<a href="/spa/checklist" data-spa id="spa-checklist">Checklist</a>
</nav>
<section id="spa-view"></section>
<script>
(function () {
  var views = {
    "/spa": ["Trip planner", "Plan your next trip: pick your gear, then tick off the checklist."],
    "/spa/gear": ["Trip planner: Gear list", "Tent, stove, sleeping bag, headlamp, water filter."],
    "/spa/checklist": ["Trip planner: Checklist", "Check the forecast. Leave your route with a friend."]
  };
  function render() {
    var view = views[location.pathname] || views["/spa"];
    document.getElementById("spa-heading").textContent = view[0];
    document.getElementById("spa-view").textContent = view[1];
    document.title = view[0] + " — Acme Outdoor";
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-spa]");
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey) return;
    event.preventDefault();
    if (link.pathname !== location.pathname) history.pushState({}, "", link.pathname);
    render();
  });
  window.addEventListener("popstate", render);
  render();
})();
</script>"#;

const NOT_FOUND: &str = r#"<h1>Page not found</h1>
<p>That trail does not go anywhere. <a href="/">Back to the shop</a>.</p>"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_tag_escapes_the_url_and_trims_the_base() {
        let config = ShopConfig {
            beckon_base: "http://h/\"x&/".to_owned(),
            site_key: "k<1>".to_owned(),
        };
        assert_eq!(
            config.widget_script_tag(),
            r#"<script async src="http://h/&quot;x&amp;/w/k&lt;1&gt;.js"></script>"#
        );
    }

    #[test]
    fn every_builtin_page_carries_the_widget_tag() {
        let config = ShopConfig {
            beckon_base: "http://127.0.0.1:8080".to_owned(),
            site_key: "KEY".to_owned(),
        };
        let pages = render_pages(&config, ExtraPages::default());
        let tag = r#"<script async src="http://127.0.0.1:8080/w/KEY.js"></script>"#;
        assert_eq!(pages.builtin.len(), 5);
        for (path, html) in &pages.builtin {
            assert_eq!(html.matches(tag).count(), 1, "{path}");
        }
        assert!(pages.not_found.contains(tag));
    }
}
