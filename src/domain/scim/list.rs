//! Listing resources (RFC 7644 §3.4.2): filtering, paging (`startIndex` is 1-based, `count`
//! is at most [`MAX_RESULTS`]) and the ListResponse.

use scim_v2::filter::Filter;
use serde_json::{json, Value};

use super::filter::matches;

pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// The most resources one page holds (`filter.maxResults` of the ServiceProviderConfig).
pub const MAX_RESULTS: usize = 200;

/// Which page of the results a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1-based index of the first result.
    pub start_index: usize,
    pub count: usize,
}

impl Page {
    /// RFC 7644 §3.4.2.4: a `startIndex` below 1 is 1; a negative `count` is 0; no `count`
    /// is the most we return.
    pub fn new(start_index: Option<i64>, count: Option<i64>) -> Page {
        Page {
            start_index: start_index.unwrap_or(1).max(1) as usize,
            count: count.map_or(MAX_RESULTS, |c| (c.max(0) as usize).min(MAX_RESULTS)),
        }
    }
}

/// The ListResponse of the resources `filter` selects, one page of them.
pub fn list_response(resources: Vec<Value>, filter: Option<&Filter>, page: Page) -> ListPage {
    let selected: Vec<Value> = resources
        .into_iter()
        .filter(|r| filter.is_none_or(|f| matches(f, r)))
        .collect();
    let total = selected.len();
    let items: Vec<Value> = selected
        .into_iter()
        .skip(page.start_index - 1)
        .take(page.count)
        .collect();
    ListPage {
        total,
        start_index: page.start_index,
        items,
    }
}

/// One page of a listing.
#[derive(Debug)]
pub struct ListPage {
    pub total: usize,
    pub start_index: usize,
    pub items: Vec<Value>,
}

impl ListPage {
    pub fn into_json(self) -> Value {
        json!({
            "schemas": [LIST_SCHEMA],
            "totalResults": self.total,
            "startIndex": self.start_index,
            "itemsPerPage": self.items.len(),
            "Resources": self.items,
        })
    }
}
