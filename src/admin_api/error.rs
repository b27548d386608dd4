//! Admin API client: errors.
//!
//! What went wrong with a call, classified by what the caller should do about it.

use std::time::Duration;

/// The longest excerpt of a server's error body kept: enough to read, never a page of HTML.
const EXCERPT_CHARS: usize = 160;

#[derive(Clone, Debug, thiserror::Error)]
pub enum ApiError {
    /// 5xx or 408: the service is in trouble; retry with backoff.
    #[error("Admin API unavailable (HTTP {status}): {message}")]
    Unavailable { status: u16, message: String },
    #[error("Admin API call timed out")]
    Timeout,
    /// Connection refused, reset, DNS: retry with backoff. `failure` is the client's own short
    /// word for what broke; the transport's error is the source, not repeated in the message.
    #[error("cannot reach the Admin API ({failure})")]
    Network {
        failure: &'static str,
        /// Shared, so that one failure can be handed to every caller that waited on it.
        #[source]
        source: std::sync::Arc<reqwest::Error>,
    },
    /// This replica's lease may have lapsed: it makes no call until it holds the lease again.
    #[error("not calling the Admin API: this replica's leader lease may have lapsed")]
    Fenced,
    /// 429: wait at least `retry_after` before the next call.
    #[error("rate limited by the Admin API")]
    RateLimited { retry_after: Option<Duration> },
    /// 401 that a fresh token did not cure, or a failed login.
    #[error("the Admin API rejected the credentials: {message}")]
    Unauthorized { message: String },
    /// 403: not an admin/owner, or a project without Embedded Assistant.
    #[error("forbidden by the Admin API: {message}")]
    Forbidden { message: String },
    #[error("not found in the Admin API: {message}")]
    NotFound { message: String },
    /// 409: the key is taken; the caller finds the object and adopts it.
    #[error("already exists in the Admin API: {message}")]
    Conflict { message: String },
    /// 400 and other 4xx: the request itself is wrong; retrying will not help.
    #[error("rejected by the Admin API (HTTP {status}): {message}")]
    Invalid { status: u16, message: String },
    /// A body that is not what the contract describes.
    #[error("unexpected response from the Admin API: cannot read {what}")]
    Decode {
        what: &'static str,
        #[source]
        source: std::sync::Arc<serde_json::Error>,
    },
    /// A paginated list that never ends: the server keeps reporting more pages.
    #[error("unexpected response from the Admin API: a list ran past {pages} pages")]
    ListTooLong { pages: u32 },
    /// A broken invariant of this client: a bug, not the service's trouble; never retried fast.
    #[error("internal error in the Admin API client: {invariant}")]
    Internal { invariant: &'static str },
}

/// A bounded classification, for conditions, metrics and retry policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    Transient,
    RateLimited,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    Invalid,
    Internal,
}

impl ApiError {
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Unavailable { .. }
            | Self::Timeout
            | Self::Network { .. }
            | Self::Decode { .. }
            | Self::ListTooLong { .. }
            | Self::Fenced => ErrorClass::Transient,
            Self::Internal { .. } => ErrorClass::Internal,
            Self::RateLimited { .. } => ErrorClass::RateLimited,
            Self::Unauthorized { .. } => ErrorClass::Unauthorized,
            Self::Forbidden { .. } => ErrorClass::Forbidden,
            Self::NotFound { .. } => ErrorClass::NotFound,
            Self::Conflict { .. } => ErrorClass::Conflict,
            Self::Invalid { .. } => ErrorClass::Invalid,
        }
    }

    /// The server's `Retry-After`, when it gave one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// Maps a non-success status and its body to an error. 401 maps to `Unauthorized`; the
    /// client retries once with a fresh token before returning it.
    pub(crate) fn from_status(status: u16, retry_after: Option<Duration>, body: &[u8]) -> Self {
        let message = excerpt(body);
        match status {
            401 => Self::Unauthorized { message },
            403 => Self::Forbidden { message },
            404 => Self::NotFound { message },
            409 => Self::Conflict { message },
            429 => Self::RateLimited { retry_after },
            408 | 500..=599 => Self::Unavailable { status, message },
            _ => Self::Invalid { status, message },
        }
    }

    pub(crate) fn from_transport(error: reqwest::Error) -> Self {
        if error.is_timeout() {
            return Self::Timeout;
        }
        let failure = if error.is_connect() {
            "connection failed"
        } else if error.is_decode() || error.is_body() {
            "response body interrupted"
        } else {
            "request failed"
        };
        Self::Network {
            failure,
            source: std::sync::Arc::new(error),
        }
    }
}

/// A short, single-line excerpt of an error body of any shape: the `message` (or `error`) of a
/// JSON object when there is one, else the text itself.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let parsed: Option<serde_json::Value> = serde_json::from_str(&text).ok();
    let chosen = parsed
        .as_ref()
        .and_then(|value| {
            ["message", "error", "detail", "msg"]
                .iter()
                .find_map(|key| value.get(key).and_then(serde_json::Value::as_str))
        })
        .map_or_else(|| text.to_string(), str::to_string);
    // Emails are personal data: the server's words reach logs, Events and status without them.
    let single_line: String = chosen
        .split_whitespace()
        .map(scrub_email)
        .collect::<Vec<_>>()
        .join(" ");
    if single_line.is_empty() {
        return "no details given".into();
    }
    if single_line.chars().count() <= EXCERPT_CHARS {
        return single_line;
    }
    let cut: String = single_line.chars().take(EXCERPT_CHARS).collect();
    format!("{cut}…")
}

/// A word with an email address in it, the address replaced by `<email>` (quotes and
/// punctuation around it kept).
fn scrub_email(word: &str) -> std::borrow::Cow<'_, str> {
    let is_address_char = |c: char| c.is_alphanumeric() || "._%+-@".contains(c);
    let Some(at) = word.find('@') else {
        return word.into();
    };
    let start = word[..at]
        .rfind(|c: char| !is_address_char(c))
        .map_or(0, |i| i + 1);
    let end = word[at..]
        .find(|c: char| !is_address_char(c))
        .map_or(word.len(), |i| at + i);
    let (local, domain) = (&word[start..at], word[at + 1..end].trim_end_matches('.'));
    if local.is_empty() || !domain.contains('.') {
        return word.into();
    }
    let end = at + 1 + domain.len();
    format!("{}<email>{}", &word[..start], &word[end..]).into()
}

/// Parses `Retry-After` in its delta-seconds form (the HTTP-date form is rare for APIs; it is
/// treated as absent and the caller's own backoff applies).
pub(crate) fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    value?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_never_leave_in_an_excerpt() {
        let body =
            br#"{"message":"user \"Jane.Smith@Contoso.example\" already exists (jane@x.io)."}"#;
        let text = excerpt(body);
        assert_eq!(text, r#"user "<email>" already exists (<email>)."#);
        assert_eq!(excerpt(b"email: invalid"), "email: invalid");
        assert_eq!(
            excerpt(b"@ is not allowed; a@b neither"),
            "@ is not allowed; a@b neither"
        );
    }

    #[test]
    fn statuses_map_to_what_the_caller_should_do() {
        let class = |status| ApiError::from_status(status, None, b"").class();
        assert_eq!(class(400), ErrorClass::Invalid);
        assert_eq!(class(401), ErrorClass::Unauthorized);
        assert_eq!(class(403), ErrorClass::Forbidden);
        assert_eq!(class(404), ErrorClass::NotFound);
        assert_eq!(class(409), ErrorClass::Conflict);
        assert_eq!(class(422), ErrorClass::Invalid);
        assert_eq!(class(429), ErrorClass::RateLimited);
        assert_eq!(class(408), ErrorClass::Transient);
        assert_eq!(class(502), ErrorClass::Transient);
    }

    #[test]
    fn excerpt_prefers_the_json_message_and_stays_short() {
        assert_eq!(
            excerpt(br#"{"error":"bad_request","message":"email: invalid"}"#),
            "email: invalid"
        );
        assert_eq!(excerpt(br#"{"error":"conflict"}"#), "conflict");
        assert_eq!(
            excerpt(b"<html>\n  <b>Bad   gateway</b>\n</html>"),
            "<html> <b>Bad gateway</b> </html>"
        );
        assert_eq!(excerpt(b""), "no details given");
        let long = "x".repeat(1000);
        assert_eq!(excerpt(long.as_bytes()).chars().count(), EXCERPT_CHARS + 1);
    }

    #[test]
    fn retry_after_in_seconds() {
        assert_eq!(parse_retry_after(Some("7")), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
        assert_eq!(parse_retry_after(None), None);
    }
}
