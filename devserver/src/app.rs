//! The application: shared state, the router (API, OAuth, storage, static
//! files), the cross-cutting layers (correlation id, CORS, panics → 500,
//! envelope 404/405) and [`serve`].

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use import_core::codes;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::ServeDir;

use crate::auth::Auth;
use crate::config::Config;
use crate::db::Db;
use crate::error::{ApiError, CORRELATION_ID};
use crate::exposure::Exposure;
use crate::faults::Faults;
use crate::metadata::Catalog;
use crate::ratelimit::RateLimiter;
use crate::storage::Storage;
use crate::{audiences, jobs, lists, metadata, oauth, storage};

/// Shared state of every handler.
pub type AppState = Arc<App>;

/// The emulator's state.
#[derive(Debug)]
pub struct App {
    /// Configuration.
    pub config: Config,
    /// `http://host:port` (or `--public-url`), used in URLs handed out.
    pub base_url: String,
    /// Jobs, templates, idempotency records.
    pub db: Db,
    /// Token verification, OAuth clients, signing keys.
    pub auth: Auth,
    /// Object schemas (Metadata API).
    pub catalog: Catalog,
    /// Signed storage.
    pub storage: Storage,
    /// Fault injection.
    pub faults: Faults,
    /// Per-token rate limit.
    pub rate_limiter: RateLimiter,
    /// The `Host` values and CORS origins answered.
    pub exposure: Exposure,
}

impl App {
    /// Current time from the configured clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.config.clock.now()
    }
}

/// A running emulator.
#[derive(Debug)]
pub struct Server {
    /// The bound address.
    pub addr: SocketAddr,
    /// The base URL (`http://addr`).
    pub url: String,
    /// The state (tests inspect it).
    pub state: AppState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Stops accepting connections and waits for the server task to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Waits until the server ends (it runs until stopped).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Binds `config.addr`, builds the state and serves until stopped.
pub async fn serve(config: Config) -> anyhow::Result<Server> {
    std::fs::create_dir_all(&config.data_dir)?;
    let listener = TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    let base_url = config
        .public_url
        .clone()
        .map(|u| u.trim_end_matches('/').to_string())
        .unwrap_or_else(|| format!("http://{addr}"));
    let db = Db::open(&config.data_dir)?;
    let auth = Auth::load(&config)?;
    let catalog = Catalog::load(&config)?;
    let storage = Storage::new(&config, &base_url)?;
    let faults = Faults::parse(config.faults.as_deref().unwrap_or(""), config.seed)
        .map_err(|e| anyhow::anyhow!(e))?;
    let rate_limiter = RateLimiter::new(config.rate_limit);
    let exposure = Exposure::new(addr, config.public_url.as_deref(), &config.cors_origins)?;
    let state = Arc::new(App {
        config,
        base_url: base_url.clone(),
        db,
        auth,
        catalog,
        storage,
        faults,
        rate_limiter,
        exposure,
    });
    lists::init(&state)?;
    jobs::on_start(&state)?;
    crate::processor::spawn_workers(&state, state.config.workers)?;
    let router = router(state.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok(Server {
        addr,
        url: base_url,
        state,
        shutdown: Some(tx),
        task,
    })
}

/// `GET /openapi.json`: the OpenAPI 3.1 document of the API this emulator
/// serves, written from import-core's contract (see
/// [`import_core::contract::openapi`]).
async fn openapi(State(state): State<AppState>) -> axum::Json<serde_json::Value> {
    axum::Json(import_core::contract::openapi(&format!(
        "{}/public/v1",
        state.base_url
    )))
}

/// The whole router.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/import-jobs", post(jobs::create))
        .route("/import-jobs/{job_id}", get(jobs::status))
        .route("/import-jobs/{job_id}/mapping", post(jobs::set_mapping))
        .route("/import-jobs/{job_id}/start", post(jobs::start))
        .route("/import-jobs/{job_id}/errors", get(jobs::errors))
        .route(
            "/import-jobs/{job_id}/upload",
            get(storage::readback::job_upload),
        )
        .route("/metadata/objects", get(metadata::list_objects))
        .route("/metadata/objects/{object_name}", get(metadata::get_object))
        .route("/lists", get(lists::list).post(lists::create))
        .route("/lists/{list_id}", get(lists::get))
        .route("/lists/{list_id}/members", get(lists::members))
        .route("/audiences", get(audiences::list))
        .route("/audiences/{audience_id}/preview", post(audiences::preview))
        .fallback(api_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::faults::api_faults,
        ));

    let mut app = Router::new()
        .nest("/public/v1", api)
        .route("/oauth/token", post(oauth::token))
        .route("/storage/{*path}", any(storage::handle))
        .route("/healthz", get(|| async { "ok" }))
        .route("/openapi.json", get(openapi));

    if let Some(pkg) = &state.config.pkg {
        app = app.nest_service("/pkg", ServeDir::new(pkg));
    }
    if let Some(www) = &state.config.www {
        app = app.fallback_service(ServeDir::new(www));
    } else {
        app = app.fallback(api_not_found);
    }

    app.layer(DefaultBodyLimit::disable())
        .layer(cors(state.exposure.clone()))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::exposure::check_host,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(correlation_layer))
        .with_state(state)
}

/// CORS for every route: loopback origins and those configured (see
/// [`crate::exposure`]; no credentials are used: the API takes a bearer
/// token, storage a signed URL), the headers a browser client sends, and the
/// response headers it must read.
fn cors(exposure: Exposure) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            exposure.origin_allowed(origin)
        }))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::HEAD,
            Method::OPTIONS,
        ])
        .allow_headers(tower_http::cors::AllowHeaders::mirror_request())
        .expose_headers([
            header::ETAG,
            header::RANGE,
            header::CONTENT_RANGE,
            header::CONTENT_LENGTH,
            header::LOCATION,
            header::RETRY_AFTER,
            header::HeaderName::from_static("x-correlation-id"),
            header::HeaderName::from_static("idempotency-replayed"),
            header::WWW_AUTHENTICATE,
            header::HeaderName::from_static("x-ms-request-id"),
            header::HeaderName::from_static("x-ms-error-code"),
            header::HeaderName::from_static("x-ms-version"),
            header::HeaderName::from_static("x-ms-content-crc64"),
            header::HeaderName::from_static("x-ms-request-server-encrypted"),
            header::HeaderName::from_static("content-md5"),
            header::HeaderName::from_static("x-goog-stored-content-length"),
            header::HeaderName::from_static("x-upload-offset"),
        ])
        .max_age(std::time::Duration::from_secs(600))
}

/// Gives every request a correlation id (task-local for the handlers) and
/// sets `x-correlation-id` on every response.
pub async fn correlation_layer(req: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    let method = req.method().clone();
    // Log the path only: query strings carry storage signatures.
    let path = req.uri().path().to_string();
    let started = std::time::Instant::now();
    let mut resp = CORRELATION_ID.scope(id.clone(), next.run(req)).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-correlation-id", v);
    }
    tracing::info!(
        correlation_id = %id,
        method = %method,
        path = %path,
        status = resp.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    resp
}

fn panic_response(_err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("handler panicked").into_response()
}

async fn api_not_found(req: Request) -> ApiError {
    ApiError::not_found(format!(
        "No such endpoint: {} {}",
        req.method(),
        req.uri().path()
    ))
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        codes::METHOD_NOT_ALLOWED,
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
}
