//! Who and where a request comes from, for the audit events the service layer emits while
//! serving it: set by the request-log middleware for the request's task, read anywhere below.

use std::future::Future;
use std::sync::{Arc, Mutex};

/// The request being served.
#[derive(Debug, Default)]
pub struct RequestContext {
    pub request_id: String,
    pub client_ip: Option<String>,
    /// The authenticated caller, once the extractors know it.
    actor: Mutex<Option<String>>,
}

impl RequestContext {
    pub fn new(request_id: String, client_ip: Option<String>) -> RequestContext {
        RequestContext {
            request_id,
            client_ip,
            actor: Mutex::new(None),
        }
    }

    pub fn actor(&self) -> Option<String> {
        self.actor.lock().ok().and_then(|a| a.clone())
    }
}

tokio::task_local! {
    static CURRENT: Arc<RequestContext>;
}

/// Run `fut` (a request's handling) with `ctx` as its context.
pub async fn scope<F: Future>(ctx: Arc<RequestContext>, fut: F) -> F::Output {
    CURRENT.scope(ctx, fut).await
}

/// The context of the request this task serves, if any.
pub fn current() -> Option<Arc<RequestContext>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// Remember the authenticated caller of the current request.
pub fn set_actor(name: &str) {
    if let Some(ctx) = current() {
        if let Ok(mut actor) = ctx.actor.lock() {
            *actor = Some(name.to_string());
        }
    }
}
