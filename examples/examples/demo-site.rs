//! Serves the "Acme Outdoor" demo shop, with the Beckon widget on every page, on its own origin.
//!
//! ```sh
//! cargo run -p beckon-examples --example demo-site -- --beckon http://127.0.0.1:8080 --key SITE_KEY
//! ```

use std::net::TcpListener;

use clap::Parser;

/// Serve the Acme Outdoor demo shop with the Beckon widget embedded.
#[derive(Parser)]
struct Args {
    /// Beckon's base URL, as visitors' browsers reach it.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    beckon: String,
    /// The site key from the operator console.
    #[arg(long)]
    key: String,
    /// Port to serve the shop on; must differ from Beckon's so the shop is another origin.
    #[arg(long, default_value_t = 8081)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let listener = TcpListener::bind((args.host.as_str(), args.port))?;
    let address = listener.local_addr()?;
    let widget = beckon_examples::shop::ShopConfig {
        beckon_base: args.beckon.clone(),
        site_key: args.key.clone(),
    }
    .widget_url();
    println!("Acme Outdoor demo shop: open http://{address}/");
    println!("Every page loads the widget from {widget}");
    println!("Press Ctrl-C to stop.");
    beckon_examples::shop::serve_shop(listener, args.beckon, args.key).await
}
