//! Admin API client: list pagination.
//!
//! Lists are read page by page until the server says there is no more, whichever of the two
//! documented pagination styles it uses, keeping the first of any item seen twice.

use std::collections::HashSet;

use reqwest::Method;
use serde::de::DeserializeOwned;

use super::client::AdminClient;
use super::credentials::Credentials;
use super::error::ApiError;
use super::transport::decode;
use super::types::Pagination;
use crate::metrics::Endpoint;

/// A list longer than this many pages is taken for a server that never says "last page".
const MAX_PAGES: u32 = 10_000;

impl AdminClient {
    pub(super) async fn list_all<T: DeserializeOwned>(
        &self,
        credentials: &Credentials,
        endpoint: Endpoint,
        path: &[&str],
        items_key: &str,
        key: impl Fn(&T) -> String,
    ) -> Result<Vec<T>, ApiError> {
        let page_size = self.inner.page_size;
        let (mut items, mut keys, mut fetched) = (Vec::new(), HashSet::new(), 0_u64);
        for page in 1..=MAX_PAGES {
            let query = [
                ("page", page.to_string()),
                ("pageSize", page_size.to_string()),
            ];
            let reply = self
                .call::<()>(credentials, endpoint, Method::GET, path, &query, None)
                .await?;
            let mut body: serde_json::Value = decode(&reply.body)?;
            let page_items: Vec<T> = serde_json::from_value(
                body.get_mut(items_key)
                    .map(serde_json::Value::take)
                    .unwrap_or_default(),
            )
            .map_err(|e| ApiError::Decode {
                what: "the items of a list page",
                source: std::sync::Arc::new(e),
            })?;
            let pagination: Pagination = body
                .get_mut("pagination")
                .and_then(|p| serde_json::from_value(p.take()).ok())
                .unwrap_or_default();
            let count = page_items.len() as u64;
            fetched += count;
            // Items can shift between pages while others write: keep the first of each key.
            items.extend(page_items.into_iter().filter(|item| keys.insert(key(item))));
            if !has_next_page(count, fetched, u64::from(page_size), &pagination) {
                return Ok(items);
            }
        }
        Err(ApiError::ListTooLong { pages: MAX_PAGES })
    }
}

/// Whether to ask for the page after one that held `count` items (`fetched` so far). A short page
/// always ends the list; otherwise whichever pagination style the server used decides.
pub(crate) fn has_next_page(
    count: u64,
    fetched: u64,
    requested: u64,
    pagination: &Pagination,
) -> bool {
    let page_size = pagination
        .page_size
        .filter(|size| *size > 0)
        .unwrap_or(requested);
    if count == 0 || count < page_size {
        return false;
    }
    match (pagination.has_next_page, pagination.total) {
        (Some(more), _) => more,
        (None, Some(total)) => fetched < total,
        (None, None) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pagination(
        page_size: Option<u64>,
        has_next_page: Option<bool>,
        total: Option<u64>,
    ) -> Pagination {
        Pagination {
            page_size,
            has_next_page,
            total,
        }
    }

    #[test]
    fn pagination_styles_and_short_pages() {
        // hasNextPage style.
        assert!(has_next_page(
            100,
            100,
            100,
            &pagination(Some(100), Some(true), None)
        ));
        assert!(!has_next_page(
            100,
            200,
            100,
            &pagination(Some(100), Some(false), None)
        ));
        // total style.
        assert!(has_next_page(
            100,
            100,
            100,
            &pagination(Some(100), None, Some(150))
        ));
        assert!(!has_next_page(
            100,
            200,
            100,
            &pagination(Some(100), None, Some(200))
        ));
        // A short page ends the list whatever the flags say.
        assert!(!has_next_page(
            7,
            107,
            100,
            &pagination(Some(100), Some(true), None)
        ));
        assert!(!has_next_page(0, 100, 100, &pagination(None, None, None)));
        // A server that clamps pageSize to 50 and says so: 50 is a full page.
        assert!(has_next_page(
            50,
            50,
            100,
            &pagination(Some(50), None, Some(120))
        ));
        // No pagination block at all: a full page asks for the next.
        assert!(has_next_page(100, 100, 100, &pagination(None, None, None)));
    }
}
