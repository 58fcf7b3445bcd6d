//! `import-devserver`: runs the emulator until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use import_devserver::config::{
    parse_client_flag, parse_token_flag, Config, OAuthClient, RateLimit, StaticToken, StorageMode,
};

/// Local emulator of the Import Jobs API, its OAuth token endpoint, the
/// Metadata API and pre-signed storage.
#[derive(Debug, Parser)]
#[command(name = "import-devserver", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port; the bound address is
    /// printed as `listening on http://…`).
    #[arg(long, default_value = "127.0.0.1:8787")]
    addr: SocketAddr,
    /// Directory for jobs, uploaded blobs, error files and keys.
    #[arg(long, default_value = ".emulator-data")]
    data_dir: PathBuf,
    /// Extra fixed token: TOKEN=SCOPE,SCOPE[@WORKSPACE] (repeatable). The
    /// dev tokens `dev-write` and `dev-read` always exist.
    #[arg(long = "token", value_parser = parse_token_flag)]
    tokens: Vec<StaticToken>,
    /// Extra OAuth client: ID:SECRET=SCOPE,SCOPE[@WORKSPACE] (repeatable).
    /// The dev client `dev-client:dev-secret` always exists.
    #[arg(long = "client", value_parser = parse_client_flag)]
    clients: Vec<OAuthClient>,
    /// Upload URL protocol: local (Azure Block Blob), local-s3, local-gcs,
    /// or azurite=URL (real SAS URLs of an Azurite blob endpoint).
    #[arg(long, default_value = "local")]
    storage: StorageMode,
    /// Serve this directory at `/`.
    #[arg(long)]
    www: Option<PathBuf>,
    /// Serve this directory (the npm package) at `/pkg/`.
    #[arg(long)]
    pkg: Option<PathBuf>,
    /// JSON file with extra object schemas for the Metadata API.
    #[arg(long)]
    schema: Option<PathBuf>,
    /// Per-token rate limit, N requests per SECONDS (e.g. 10/1). Off by default.
    #[arg(long)]
    rate_limit: Option<RateLimit>,
    /// Fault injection, e.g. `storage:503=10%,reset=5%,delay=200ms@20%;api:500=5%`.
    #[arg(long)]
    faults: Option<String>,
    /// Seed for fault injection.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Lifetime of OAuth access tokens, seconds.
    #[arg(long, default_value_t = 3600)]
    token_ttl: u64,
    /// Lifetime of upload URLs, seconds.
    #[arg(long, default_value_t = 24 * 3600)]
    upload_url_ttl: u64,
    /// Base URL to write into upload and error-file URLs (default: the bound address).
    #[arg(long)]
    public_url: Option<String>,
    /// Also answer CORS requests of this origin (repeatable), e.g.
    /// https://app.example.com; loopback origins are always answered.
    #[arg(long = "cors-origin", value_parser = import_devserver::exposure::parse_origin)]
    cors_origins: Vec<String>,
    /// Processor workers (jobs processed at once across workspaces).
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Log format: `text` or `json`.
    #[arg(long, default_value = "text")]
    log_format: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
        // The HTTP client's own trace logs would print the SAS query of the
        // emulator's requests to Azurite: never below debug.
        .add_directive("ureq=debug".parse().expect("static directive"));
    if args.log_format == "json" {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }

    let mut config = Config::new(args.data_dir);
    config.addr = args.addr;
    config.tokens.extend(args.tokens);
    config.clients.extend(args.clients);
    config.storage = args.storage;
    config.www = args.www;
    config.pkg = args.pkg;
    config.schema = args.schema;
    config.rate_limit = args.rate_limit;
    config.faults = args.faults;
    config.seed = args.seed;
    config.token_ttl_secs = args.token_ttl;
    config.upload_url_ttl_secs = args.upload_url_ttl;
    config.public_url = args.public_url;
    config.cors_origins = args.cors_origins;
    config.banner = true;
    config.workers = args.workers;

    let server = import_devserver::serve(config).await?;
    print_banner(&server);
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { server.wait().await } => {}
    }
    Ok(())
}

fn print_banner(server: &import_devserver::Server) {
    let url = &server.url;
    let cfg = &server.state.config;
    println!("listening on {url}");
    println!();
    println!("  Import Jobs API   {url}/public/v1");
    println!("  OAuth token       {url}/oauth/token");
    if cfg.www.is_some() {
        println!("  Demo page         {url}/");
    }
    println!();
    println!("  Dev tokens (Authorization: Bearer …):");
    for t in &cfg.tokens {
        println!(
            "    {:<12} workspace {:<8} scopes {}",
            t.token,
            t.workspace,
            t.scopes.join(" ")
        );
    }
    println!("  OAuth clients (grant_type=client_credentials):");
    for c in &cfg.clients {
        println!(
            "    {}:{}  workspace {}  scopes {}",
            c.client_id,
            c.client_secret,
            c.workspace,
            c.scopes.join(" ")
        );
    }
    println!();
    println!("  Try: curl -H 'Authorization: Bearer dev-write' {url}/public/v1/metadata/objects");
    use std::io::Write;
    let _ = std::io::stdout().flush();
}
