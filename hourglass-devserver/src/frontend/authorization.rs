//! API-key authorization of every request, as Temporal's frontend authorizer does with an
//! API-key claim mapper: when keys are configured, a call without
//! `authorization: Bearer <key>` naming one of them is refused with `Unauthenticated`
//! before any handler runs, so a refused call changes nothing.
//!
//! Keys are compared in constant time and never logged, printed or shown in `Debug`.
use crate::error::{DevServerError, Result};
use std::sync::Arc;
use subtle::ConstantTimeEq;
use tonic::{Request, Status};

/// The `authorization` header's scheme, matched case-insensitively as Temporal's default
/// claim mapper does.
const BEARER: &str = "bearer ";

/// The set of API keys a server accepts. Cloning shares the set.
#[derive(Clone, Default)]
pub struct ApiKeys {
    keys: Arc<Vec<Vec<u8>>>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Only how many: a key must never reach a log line through `{:?}`.
        f.debug_struct("ApiKeys")
            .field("count", &self.keys.len())
            .finish()
    }
}

impl ApiKeys {
    /// Accepts exactly these keys. A key must be non-empty printable ASCII without
    /// whitespace (what fits in an HTTP header after `Bearer `); others are refused with
    /// an error that says which one (by position, never by value).
    pub fn new<I, S>(keys: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out = Vec::new();
        for (i, key) in keys.into_iter().enumerate() {
            let key = key.as_ref();
            if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(DevServerError::Config(format!(
                    "API key #{} is empty or holds whitespace or non-ASCII characters",
                    i + 1
                )));
            }
            out.push(key.as_bytes().to_vec());
        }
        Ok(ApiKeys {
            keys: Arc::new(out),
        })
    }

    /// Reads keys from a file, one per line; blank lines and lines starting with `#` are
    /// skipped. An unreadable file or a file without a key is an error naming the file.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| DevServerError::ReadFile {
            what: "API key file",
            path: path.to_path_buf(),
            source,
        })?;
        let keys: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        if keys.is_empty() {
            return Err(DevServerError::Config(format!(
                "API key file {} holds no key",
                path.display()
            )));
        }
        Self::new(keys)
    }

    /// Adds the keys of `other`.
    pub fn merge(&self, other: &ApiKeys) -> ApiKeys {
        let mut keys = (*self.keys).clone();
        keys.extend(other.keys.iter().cloned());
        ApiKeys {
            keys: Arc::new(keys),
        }
    }

    /// Whether any key is configured (without one every request is let through).
    pub fn is_enabled(&self) -> bool {
        !self.keys.is_empty()
    }

    /// How many keys are configured.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is configured.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether `token` is one of the keys. Every key is compared, each in constant time,
    /// so the time taken does not tell how much of a key matched or which one did.
    fn accepts(&self, token: &[u8]) -> bool {
        let mut found = subtle::Choice::from(0u8);
        for key in self.keys.iter() {
            found |= key.as_slice().ct_eq(token);
        }
        found.into()
    }

    /// Checks the value of a request's `authorization` header.
    pub(crate) fn check(&self, header: Option<&[u8]>) -> std::result::Result<(), Status> {
        if !self.is_enabled() {
            return Ok(());
        }
        let Some(value) = header else {
            tracing::warn!("request refused: no API key");
            return Err(Status::unauthenticated(
                "Request unauthenticated: this server requires an API key (send `authorization: Bearer <key>`)",
            ));
        };
        let token = match value.get(..BEARER.len()) {
            Some(scheme) if scheme.eq_ignore_ascii_case(BEARER.as_bytes()) => {
                value[BEARER.len()..].trim_ascii()
            }
            _ => {
                tracing::warn!("request refused: authorization header is not a bearer token");
                return Err(Status::unauthenticated(
                    "Request unauthenticated: the authorization header must be `Bearer <key>`",
                ));
            }
        };
        if self.accepts(token) {
            Ok(())
        } else {
            tracing::warn!("request refused: API key not accepted");
            Err(Status::unauthenticated(
                "Request unauthenticated: the API key is not valid for this server",
            ))
        }
    }
}

impl tonic::service::Interceptor for ApiKeys {
    fn call(&mut self, req: Request<()>) -> std::result::Result<Request<()>, Status> {
        let header = req
            .metadata()
            .get("authorization")
            .map(|v| v.as_encoded_bytes());
        self.check(header)?;
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_keys_everything_passes() {
        let keys = ApiKeys::default();
        assert!(keys.check(None).is_ok());
        assert!(keys.check(Some(b"Bearer whatever")).is_ok());
    }

    #[test]
    fn only_a_configured_bearer_key_passes() {
        let keys = ApiKeys::new(["first-key", "second-key"]).unwrap();
        assert!(keys.check(Some(b"Bearer first-key")).is_ok());
        assert!(keys.check(Some(b"bearer second-key")).is_ok());
        let missing = keys.check(None).unwrap_err();
        assert_eq!(missing.code(), tonic::Code::Unauthenticated);
        assert!(missing.message().contains("requires an API key"));
        let wrong = keys.check(Some(b"Bearer first-ke")).unwrap_err();
        assert!(wrong.message().contains("not valid"), "{}", wrong.message());
        let scheme = keys.check(Some(b"Basic first-key")).unwrap_err();
        assert!(scheme.message().contains("Bearer <key>"));
        assert!(keys.check(Some(b"Bearer ")).is_err());
        assert!(keys.check(Some(b"Bea")).is_err());
    }

    #[test]
    fn bad_keys_are_refused_by_position_and_debug_hides_them() {
        let err = ApiKeys::new(["ok", "has space"]).unwrap_err().to_string();
        assert!(err.contains("#2") && !err.contains("has space"), "{err}");
        assert!(ApiKeys::new([""]).is_err());
        let keys = ApiKeys::new(["s3cret-value"]).unwrap();
        assert_eq!(format!("{keys:?}"), "ApiKeys { count: 1 }");
    }

    #[test]
    fn key_files_skip_comments_and_must_hold_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, "# keys\n\n  alpha  \nbeta\n").unwrap();
        let keys = ApiKeys::from_file(&path).unwrap();
        assert_eq!(keys.len(), 2);
        assert!(keys.check(Some(b"Bearer alpha")).is_ok());
        std::fs::write(&path, "# nothing\n").unwrap();
        assert!(
            ApiKeys::from_file(&path)
                .unwrap_err()
                .to_string()
                .contains("holds no key")
        );
        let missing = ApiKeys::from_file(&dir.path().join("absent")).unwrap_err();
        assert!(missing.to_string().contains("API key file"), "{missing}");
    }
}
