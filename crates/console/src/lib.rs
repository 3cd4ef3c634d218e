//! dnsledger's analyst web console: the single-page application built from `web/` (by this
//! crate's `build.rs`, with Node.js and esbuild) and embedded in the binary, served at `/` with
//! its files under `/console/`. The application uses hash routes (`/#/search/NAME`, ...), so
//! deep links need no server-side routing; it talks to the same server's `/api/v1/` routes.
//! The assets hold no data and need no API key; the API calls they make do.
//!
//! Files are served from memory by hand (a lookup in a table of a handful of entries) rather
//! than with `tower-http`'s `ServeDir`, which serves from disk.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

mod assets {
    include!(concat!(env!("OUT_DIR"), "/assets.rs"));
}

pub use assets::ASSETS;

/// One embedded file of the console.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// File name (as under `/console/`).
    pub name: &'static str,
    /// Its `Content-Type`.
    pub mime: &'static str,
    /// Its bytes.
    pub bytes: &'static [u8],
    /// The same, gzip-compressed, for scripts and styles.
    pub gzip: Option<&'static [u8]>,
}

/// The console's routes (`/`, `/index.html`, `/console/{file}`), mergeable into any router.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/", get(index)).route("/index.html", get(index)).route("/console/{file}", get(file))
}

/// The embedded file `name`.
pub fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// True if the request accepts gzip (`Accept-Encoding`, without `gzip;q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |e| {
            let mut parts = e.split(';').map(str::trim);
            let coding = parts.next().unwrap_or("");
            let zero = parts.any(|p| p.strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()) == Some(0.0));
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !zero
        },
    )
}

/// A weak validator of the build: its size and a FNV-1a hash of its bytes.
fn etag(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{:x}-{h:016x}\"", bytes.len())
}

fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some(Asset { mime, bytes: raw, gzip: gz, .. }) = asset(name).copied() else {
        return (StatusCode::NOT_FOUND, format!("no console file {name}\n")).into_response();
    };
    let (bytes, gzipped) = match gz {
        Some(g) if accepts_gzip(headers) => (g, true),
        _ => (raw, false),
    };
    let tag = etag(bytes);
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(tag.as_str()) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    // revalidated on every load, so a new binary's console is picked up at once
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if gzipped {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    r
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    serve(&name, &headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn fetch(path: &str, etag: Option<&str>) -> Response {
        let mut req = Request::get(path);
        if let Some(t) = etag {
            req = req.header(header::IF_NONE_MATCH, t);
        }
        router::<()>().oneshot(req.body(Body::empty()).unwrap()).await.unwrap()
    }

    #[tokio::test]
    async fn serves_the_built_console() {
        let r = fetch("/", None).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
        let tag = r.headers()[header::ETAG].to_str().unwrap().to_string();
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        let html = String::from_utf8(body.to_vec()).unwrap();
        assert!(html.contains("console/app.js") && html.contains("console/app.css"), "{html}");
        assert_eq!(fetch("/", Some(&tag)).await.status(), StatusCode::NOT_MODIFIED);

        let js = fetch("/console/app.js", None).await;
        assert_eq!(js.status(), StatusCode::OK);
        assert_eq!(js.headers()[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        let body = axum::body::to_bytes(js.into_body(), 16 << 20).await.unwrap();
        // the bundle holds the application and its libraries, not a placeholder
        let text = String::from_utf8_lossy(&body);
        assert!(body.len() > 100_000 && text.contains("/api/v1/analytics/cluster"), "{} bytes", body.len());
        assert_eq!(fetch("/console/app.css", None).await.status(), StatusCode::OK);

        // gzip when the browser takes it, the same bytes once inflated
        let req = Request::get("/console/app.js").header(header::ACCEPT_ENCODING, "gzip, deflate, br");
        let gz = router::<()>().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
        let packed = axum::body::to_bytes(gz.into_body(), 16 << 20).await.unwrap();
        assert!(packed.len() * 2 < body.len(), "{} of {}", packed.len(), body.len());
        let mut inflated = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&packed[..]), &mut inflated).unwrap();
        assert_eq!(inflated, body.to_vec());
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip;q=0, identity"));
        assert!(!accepts_gzip(&h));
        assert_eq!(fetch("/console/nope.js", None).await.status(), StatusCode::NOT_FOUND);
    }
}
