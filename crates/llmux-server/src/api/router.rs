//! The API's routes as a description, built into a plain router for serving or into a
//! documented one for the OpenAPI document.
//!
//! `utoipa-axum` builds a route's piece of the OpenAPI document (its operation and every schema
//! it names) whenever it routes it: ~3.9 MB of transient heap at the daemon's start, the peak
//! of its heap, which glibc keeps resident for the daemon's life (issue 14, daemon memory). The
//! daemon serves from routes built with the handlers' paths and methods only, and builds the
//! document from the same description on the first `GET /api/openapi.json`. One list of
//! handlers gives both, so the document cannot miss a route.

use axum::Router;
use axum::routing::MethodRouter;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

use crate::AppState;

/// The handlers of one path, as [`routes!`](crate::api::routes) names them: how to route them
/// with their documentation and without it.
pub(crate) struct Handlers {
    /// Routes and documents them (`utoipa_axum::routes!`).
    pub documented: fn() -> UtoipaMethodRouter<AppState>,
    /// Their path and their methods routed, nothing else.
    pub plain: fn() -> (String, MethodRouter<AppState>),
}

/// A router not built yet: the same calls as [`OpenApiRouter`], recorded.
#[derive(Default)]
pub(crate) struct ApiRouter {
    steps: Vec<Step>,
}

enum Step {
    Routes(Handlers),
    Merge(ApiRouter),
    /// The idempotency layer on the routes added so far (`Router::route_layer`).
    Idempotent,
}

impl ApiRouter {
    /// An empty router.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds the handlers of one path.
    pub(crate) fn routes(mut self, handlers: Handlers) -> Self {
        self.steps.push(Step::Routes(handlers));
        self
    }

    /// Adds another router's routes.
    pub(crate) fn merge(mut self, other: ApiRouter) -> Self {
        self.steps.push(Step::Merge(other));
        self
    }

    /// Replays an `Idempotency-Key` request's answer (`crate::idempotency`) on the routes added
    /// so far.
    pub(crate) fn idempotent(mut self) -> Self {
        self.steps.push(Step::Idempotent);
        self
    }

    /// The routes, without their documentation.
    pub(crate) fn plain(self) -> Router<AppState> {
        self.steps.into_iter().fold(Router::new(), |router, step| match step {
            Step::Routes(handlers) => {
                let (path, methods) = (handlers.plain)();
                router.route(&path, methods)
            }
            Step::Merge(other) => router.merge(other.plain()),
            Step::Idempotent => {
                router.route_layer(axum::middleware::from_fn(crate::idempotency::layer))
            }
        })
    }

    /// The routes with their OpenAPI document.
    pub(crate) fn documented(self) -> OpenApiRouter<AppState> {
        self.steps.into_iter().fold(OpenApiRouter::new(), |router, step| match step {
            Step::Routes(handlers) => router.routes((handlers.documented)()),
            Step::Merge(other) => router.merge(other.documented()),
            Step::Idempotent => {
                router.route_layer(axum::middleware::from_fn(crate::idempotency::layer))
            }
        })
    }
}

/// The [`Handlers`] of one path: `routes!(list, create)`, each handler annotated with
/// `#[utoipa::path]` for that path (as `utoipa_axum::routes!`, whose helper arms give each
/// handler's path and methods from its annotation).
macro_rules! routes {
    ($first:ident $(, $rest:ident)* $(,)?) => {
        $crate::api::router::Handlers {
            documented: || utoipa_axum::routes!($first $(, $rest)*),
            plain: || {
                use utoipa_axum::PathItemExt as _;
                let path: String = utoipa_axum::routes!(@path [path()] of $first);
                let mut methods = axum::routing::MethodRouter::new();
                for method in utoipa_axum::routes!(@path [methods()] of $first) {
                    methods = methods.on(method.to_method_filter(), $first);
                }
                $(
                    let other: String = utoipa_axum::routes!(@path [path()] of $rest);
                    assert_eq!(other, path, "routes!: one path per call");
                    for method in utoipa_axum::routes!(@path [methods()] of $rest) {
                        methods = methods.on(method.to_method_filter(), $rest);
                    }
                )*
                (path, methods)
            },
        }
    };
}
pub(crate) use routes;
