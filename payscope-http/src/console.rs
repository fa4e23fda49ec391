//! The analysts' console: one HTML page, one ES module and one stylesheet (`console/`), shipped
//! inside the binary and served at `/`. The assets are served under content-hashed names
//! (`/console/console.<hash>.js`) that may be cached forever; the page itself is revalidated.
//! Every response carries a strict Content-Security-Policy (scripts, styles and calls from this
//! origin only, no inline code), and gzip when the client accepts it. In `--demo` mode
//! `/console/demo-banks` lists the demo banks and their tokens for a one-click sign-in (an empty
//! list otherwise).

use std::io::Write;
use std::sync::OnceLock;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};

use crate::error::ApiError;
use crate::reply::{with_body, Handled, HttpResponse};

/// The page's policy: nothing but this origin, no inline code, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PAGE: &str = include_str!("../console/index.html");
const SOURCES: [(&str, &str, &str); 2] = [
    ("console.js", "text/javascript; charset=utf-8", include_str!("../console/console.js")),
    ("console.css", "text/css; charset=utf-8", include_str!("../console/console.css")),
];

/// A file served, plain and gzipped.
struct File {
    name: String,
    content_type: &'static str,
    plain: Bytes,
    gzip: Bytes,
}

impl File {
    fn new(name: String, content_type: &'static str, body: &[u8]) -> File {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        // Writing to a Vec cannot fail.
        let gzip = encoder.write_all(body).and_then(|_| encoder.finish()).unwrap_or_default();
        File { name, content_type, plain: Bytes::copy_from_slice(body), gzip: Bytes::from(gzip) }
    }

    fn response(&self, headers: &HeaderMap, cache: &'static str) -> HttpResponse {
        let gzip = !self.gzip.is_empty()
            && headers
                .get(http::header::ACCEPT_ENCODING)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
        let body = if gzip { self.gzip.clone() } else { self.plain.clone() };
        let mut response = with_body(StatusCode::OK, self.content_type, body);
        let h = response.headers_mut();
        if gzip {
            h.insert(http::header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        h.insert(http::header::VARY, HeaderValue::from_static("Accept-Encoding"));
        h.insert(http::header::CACHE_CONTROL, HeaderValue::from_static(cache));
        secure(h);
        response
    }
}

/// The page and the assets it names, hashed once.
struct Console {
    page: File,
    assets: Vec<File>,
}

fn console() -> &'static Console {
    static CONSOLE: OnceLock<Console> = OnceLock::new();
    CONSOLE.get_or_init(|| {
        // The fields a column can be mapped to, from the engine itself (never a second list).
        let fields: String = payscope_core::ingest::mapping::Field::ALL
            .iter()
            .map(|f| format!("<option value=\"{}\">", f.as_str()))
            .collect();
        let mut page = PAGE.replace("<!-- mapping fields -->", &fields);
        let assets = SOURCES
            .iter()
            .map(|(name, content_type, body)| {
                let hash = payscope_core::facts::Sha256::digest(body.as_bytes()).to_string();
                let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
                let hashed = format!("{stem}.{}.{ext}", &hash[..16]);
                page = page.replace(&format!("/console/{name}"), &format!("/console/{hashed}"));
                File::new(hashed, content_type, body.as_bytes())
            })
            .collect();
        Console { page: File::new("index.html".into(), "text/html; charset=utf-8", page.as_bytes()), assets }
    })
}

/// The headers every console response carries.
fn secure(h: &mut HeaderMap) {
    h.insert(http::header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(http::header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(http::header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(http::header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// `GET /`: the page, revalidated on every load (it names the current assets).
pub fn page(headers: &HeaderMap) -> Handled {
    Ok(console().page.response(headers, "no-cache"))
}

/// `GET /console/{asset}`: an asset by its hashed name, cacheable for a year.
pub fn asset(name: &str, headers: &HeaderMap) -> Handled {
    console()
        .assets
        .iter()
        .find(|f| f.name == name)
        .map(|f| f.response(headers, "public, max-age=31536000, immutable"))
        .ok_or_else(|| ApiError::not_found("no such console asset (asset names change with their content)"))
}

/// A demo bank the console offers a one-click sign-in for.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DemoSignIn {
    /// Display name.
    pub name: String,
    /// A token for it.
    pub token: String,
}

/// `GET /console/demo-banks`: the demo banks with their tokens in `--demo` mode, an empty list
/// otherwise (the page asks on every load; an error would be logged in every browser console).
pub fn demo_banks(banks: &[DemoSignIn]) -> Handled {
    let mut response = crate::reply::ok_json(StatusCode::OK, &banks)?;
    response.headers_mut().insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    secure(response.headers_mut());
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_hashed_assets_that_are_served() {
        let page = std::str::from_utf8(&console().page.plain).unwrap().to_owned();
        for f in &console().assets {
            assert!(page.contains(&format!("/console/{}", f.name)), "{}", f.name);
            assert!(f.gzip.len() < f.plain.len());
        }
        assert!(!page.contains("/console/console.js\""));
        assert!(
            page.contains("<option value=\"transaction_id\">") && !page.contains("<!-- mapping fields -->")
        );
        assert!(!page.contains("<script>") && !page.contains("style="), "no inline code");
        // Everything a first load fetches, compressed, stays far under the 300 KB budget.
        let first_load: usize =
            console().page.gzip.len() + console().assets.iter().map(|f| f.gzip.len()).sum::<usize>();
        assert!(first_load < 300 * 1024, "{first_load} bytes");
    }
}
