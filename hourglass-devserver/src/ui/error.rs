//! What a page shows when the server refuses or the request is malformed.
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// Why a page could not be rendered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UiError {
    /// A service call answered an error status (shown with the server's message).
    #[error("{message} ({code:?})")]
    Rpc {
        /// The gRPC code.
        code: tonic::Code,
        /// The server's message.
        message: String,
    },
    /// The request itself was malformed (a bad page token, a bad number).
    #[error("{0}")]
    BadRequest(String),
    /// A template failed to render.
    #[error("rendering the page: {0}")]
    Render(#[from] askama::Error),
}

impl From<tonic::Status> for UiError {
    fn from(s: tonic::Status) -> Self {
        UiError::Rpc {
            code: s.code(),
            message: s.message().to_string(),
        }
    }
}

impl UiError {
    fn status(&self) -> StatusCode {
        match self {
            UiError::Rpc { code, .. } => match code {
                tonic::Code::NotFound => StatusCode::NOT_FOUND,
                tonic::Code::InvalidArgument => StatusCode::BAD_REQUEST,
                tonic::Code::PermissionDenied | tonic::Code::Unauthenticated => {
                    StatusCode::FORBIDDEN
                }
                tonic::Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
                tonic::Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            UiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            UiError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    message: &'a str,
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let status = self.status();
        tracing::debug!(error = %self, status = status.as_u16(), "web UI page failed");
        let message = self.to_string();
        let page = ErrorPage {
            status: status.as_u16(),
            message: &message,
        };
        // The error page has no fallible parts; fall back to plain text all the same.
        let body = page.render().unwrap_or_else(|_| message.clone());
        (status, Html(body)).into_response()
    }
}

/// A page's result.
pub(crate) type PageResult = Result<Response, UiError>;

/// Renders a template as a page.
pub(crate) fn page<T: Template>(t: &T) -> PageResult {
    Ok(Html(t.render()?).into_response())
}
