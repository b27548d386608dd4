//! Simulator: list pagination.
//!
//! Which page a request asks for, the slice it gets, and the `pagination` object in either of the
//! two documented styles.

use serde::Serialize;

use super::config::PaginationStyle;

/// A validated page request: both numbers >= 1, the size already clamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub page_size: u32,
}

/// The `pagination` object of a list response, in one of the two documented styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub page: u32,
    pub page_size: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_next_page: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<usize>,
}

/// One page of `items`, each as `show` makes it; a page past the end is empty, not an error.
pub fn paginate<S, T>(
    items: &[S],
    show: impl Fn(&S) -> T,
    request: PageRequest,
    style: PaginationStyle,
) -> (Vec<T>, Pagination) {
    let size = request.page_size as usize;
    let start = (request.page as usize - 1).saturating_mul(size);
    let end = start.saturating_add(size).min(items.len());
    let page = items
        .get(start..end)
        .unwrap_or_default()
        .iter()
        .map(show)
        .collect();
    let pagination = Pagination {
        page: request.page,
        page_size: request.page_size,
        has_next_page: (style == PaginationStyle::HasNextPage).then_some(end < items.len()),
        total: (style == PaginationStyle::Total).then_some(items.len()),
    };
    (page, pagination)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(page: u32, page_size: u32) -> PageRequest {
        PageRequest { page, page_size }
    }

    #[test]
    fn pagination_math() {
        let items: Vec<u32> = (1..=45).collect();
        let (p, meta) = paginate(
            &items,
            u32::clone,
            page(1, 20),
            PaginationStyle::HasNextPage,
        );
        assert_eq!(
            (p.len(), meta.has_next_page, meta.total),
            (20, Some(true), None)
        );
        let (p, meta) = paginate(
            &items,
            u32::clone,
            page(3, 20),
            PaginationStyle::HasNextPage,
        );
        assert_eq!((p, meta.has_next_page), ((41..=45).collect(), Some(false)));
        let (p, meta) = paginate(&items, u32::clone, page(4, 20), PaginationStyle::Total);
        assert_eq!(
            (p.len(), meta.has_next_page, meta.total),
            (0, None, Some(45))
        );
        // An exact multiple: the last full page has no next page.
        let (_, meta) = paginate(
            &items[..40],
            u32::clone,
            page(2, 20),
            PaginationStyle::HasNextPage,
        );
        assert_eq!(meta.has_next_page, Some(false));
        let (p, _) = paginate(
            &items,
            u32::clone,
            page(u32::MAX, u32::MAX),
            PaginationStyle::Total,
        );
        assert!(p.is_empty());
        let json = serde_json::to_value(meta).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"page": 2, "pageSize": 20, "hasNextPage": false})
        );
    }
}
