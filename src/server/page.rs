//! The page and its assets, embedded at compile time by build.rs with
//! content-hashed names: assets are cached forever, the page never.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// Agent output is rendered with DOM text nodes only; this policy is the
/// second wall: no inline script, no other host, no framing. (`blob:`
/// images: thumbnails of files the user picked, made by the page itself.)
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

pub(super) async fn index() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        INDEX_HTML,
    )
        .into_response()
}

pub(super) async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some((_, content_type, body, gz)) = ASSETS.iter().find(|(n, ..)| *n == name) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let gzip_ok = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let mut res = if gzip_ok && !gz.is_empty() {
        let mut r = (*gz).into_response();
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        (*body).into_response()
    };
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_only_embedded_assets() {
        let mut named = 0;
        for part in INDEX_HTML.split("assets/").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-' || *c == '_')
                .collect();
            assert!(
                ASSETS.iter().any(|(n, ..)| *n == name),
                "{name} not embedded"
            );
            named += 1;
        }
        assert!(named >= 2, "the page loads its script and style");
        assert!(!INDEX_HTML.contains("http://") && !INDEX_HTML.contains("https://"));
    }

    #[test]
    fn every_module_import_points_at_a_hashed_asset() {
        for (name, _, body, _) in ASSETS.iter().filter(|(n, ..)| n.ends_with(".js")) {
            let text = std::str::from_utf8(body).unwrap();
            for part in text.split("from './").skip(1) {
                let target = part.split('\'').next().unwrap();
                assert!(
                    ASSETS.iter().any(|(n, ..)| *n == target),
                    "{name} imports {target}, which is not embedded"
                );
            }
            assert!(!text.contains("https://cdn"), "{name} loads from a CDN");
        }
    }

    #[test]
    fn gzipped_assets_unpack_to_the_same_bytes() {
        use std::io::Read;
        let mut packed = 0;
        for (name, _, body, gz) in ASSETS.iter().filter(|(.., gz)| !gz.is_empty()) {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(*gz)
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(&out[..], *body, "{name}");
            packed += 1;
        }
        assert!(packed >= 5, "the scripts and the stylesheet are gzipped");
    }
}
