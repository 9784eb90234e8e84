//! Query-string parameters and page tokens.
use super::error::UiError;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::HashMap;

/// The decoded query string of a request (last value wins).
#[derive(Debug, Default)]
pub(crate) struct Params(HashMap<String, String>);

impl Params {
    /// Parses `uri`'s query string.
    pub(crate) fn of(uri: &axum::http::Uri) -> Self {
        let raw = uri.query().unwrap_or("");
        Params(
            form_urlencoded::parse(raw.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// A parameter, `""` when absent.
    pub(crate) fn get(&self, key: &str) -> &str {
        self.0.get(key).map(String::as_str).unwrap_or("")
    }

    /// A page token (`page_token`), URL-safe base64 of the server's opaque bytes.
    pub(crate) fn page_token(&self) -> Result<Vec<u8>, UiError> {
        decode_token(self.get("page_token"))
    }
}

/// Encodes a server page token for a URL (empty when there is no next page).
pub(crate) fn encode_token(token: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(token)
}

/// Decodes a token [`encode_token`] made.
pub(crate) fn decode_token(text: &str) -> Result<Vec<u8>, UiError> {
    URL_SAFE_NO_PAD
        .decode(text.trim())
        .map_err(|e| UiError::BadRequest(format!("malformed page_token: {e}")))
}

/// What [`enc`] escapes: everything but RFC 3986's unreserved characters.
const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes one path segment or query value.
pub(crate) fn enc(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, COMPONENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_bad_ones_are_refused() {
        let t = vec![0u8, 255, 17, 42];
        assert_eq!(decode_token(&encode_token(&t)).unwrap(), t);
        assert!(decode_token("").unwrap().is_empty());
        let err = decode_token("***").unwrap_err();
        assert!(err.to_string().contains("malformed page_token"), "{err}");
    }

    #[test]
    fn params_decode_plus_and_percent() {
        let uri: axum::http::Uri = "/x?query=WorkflowType+%3D+%27A%27&n=1".parse().unwrap();
        let p = Params::of(&uri);
        assert_eq!(p.get("query"), "WorkflowType = 'A'");
        assert_eq!(p.get("missing"), "");
        assert_eq!(enc("a b/c-d_e.f~"), "a%20b%2Fc-d_e.f~");
    }
}
