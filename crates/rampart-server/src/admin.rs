//! Rampart's own endpoints under `/_rampart/`: health, the web ACLs' metrics, the dev-mode reset,
//! and the discovery documents of outbound federation issuers.

use rampart_core::account::{AccessKeyRecord, KeyOwner};
use rampart_core::keys;
use rampart_store::TxError;

use crate::app::{App, Response, respond};

/// Serves `/_rampart/…`; everything unknown is a 404.
pub async fn handle(
    app: &App,
    (method, path, headers): (&http::Method, &str, &http::HeaderMap),
    request_id: &str,
) -> Response {
    match (method.as_str(), path) {
        ("GET" | "HEAD", "/_rampart/health") => {
            let store_ok = app.db.get(keys::BOOTSTRAP).is_ok();
            let now = time::OffsetDateTime::now_utc();
            let lag = rampart_cloudtrail::history::index_lag(&app.db, now).ok().map(|d| d.as_seconds_f64());
            let services: serde_json::Map<String, serde_json::Value> = app
                .dispatch
                .served()
                .into_iter()
                .map(|(name, ops)| (name.to_owned(), serde_json::json!({ "status": "running", "operations": ops })))
                .collect();
            let body = serde_json::json!({
                "status": if store_ok { "ok" } else { "degraded" },
                "version": env!("CARGO_PKG_VERSION"),
                "node": { "listen": app.config.bind_addr().to_string(), "leases": app.db.held_leases() },
                "store": { "engine": app.db.engine_name(), "status": if store_ok { "ok" } else { "unavailable" } },
                "background": { "event_index_lag_seconds": lag },
                "dev": app.config.dev,
                "services": services,
            });
            respond(if store_ok { 200 } else { 503 }, "application/json", body.to_string(), request_id)
        }
        ("POST", "/_rampart/reset") if app.config.dev => match reset(app).await {
            Ok(n) => respond(200, "application/json", serde_json::json!({ "deleted": n }).to_string(), request_id),
            Err(()) => respond(500, "application/json", r#"{"error":"reset failed"}"#, request_id),
        },
        // The proxies' web ACLs' decisions, per rule and action, for Prometheus: to the holder of
        // the metrics token only (none configured, they are not served).
        ("GET" | "HEAD", "/_rampart/metrics") => match &app.metrics_token {
            None => not_found(request_id),
            Some(token) if bearer_is(headers, token) => {
                respond(200, "text/plain; version=0.0.4", app.activity.metrics(), request_id)
            }
            Some(_) => {
                let mut r = respond(401, "application/json", r#"{"error":"a bearer token is required"}"#, request_id);
                r.headers_mut().insert(http::header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Bearer"));
                r
            }
        },
        ("GET" | "HEAD", p) if p.starts_with("/_rampart/oidc/") => discovery(app, p, request_id),
        _ => not_found(request_id),
    }
}

/// Whether the request's `Authorization: Bearer …` is the token (compared in constant time).
fn bearer_is(headers: &http::HeaderMap, token: &str) -> bool {
    let given = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    aws_lc_rs::constant_time::verify_slices_are_equal(given.as_bytes(), token.as_bytes()).is_ok()
}

fn not_found(request_id: &str) -> Response {
    respond(404, "application/json", r#"{"error":"not found"}"#, request_id)
}

/// An account's outbound federation issuer (`/_rampart/oidc/ID`): its OIDC discovery document
/// and key set, public as an issuer's are, so that outside services can verify its tokens.
fn discovery(app: &App, path: &str, request_id: &str) -> Response {
    let rest = path.trim_start_matches("/_rampart/oidc/");
    let Some((id, document)) = rest.split_once("/.well-known/") else { return not_found(request_id) };
    if id.is_empty() || id.contains('/') {
        return not_found(request_id);
    }
    match rampart_iam::iam::discovery_documents(&app.db, id) {
        Ok(Some((configuration, _))) if document == "openid-configuration" => {
            respond(200, "application/json", configuration, request_id)
        }
        Ok(Some((_, jwks))) if document == "jwks.json" => respond(200, "application/json", jwks, request_id),
        Ok(_) => not_found(request_id),
        Err(_) => respond(500, "application/json", r#"{"error":"internal error"}"#, request_id),
    }
}

/// Deletes all state except the management account, its root keys and the dev account, so the
/// credentials printed at first start keep working.
async fn reset(app: &App) -> Result<usize, ()> {
    let mgmt = app.management_account_id.clone();
    let dev = app.config.dev_account_id.clone();
    let result = app
        .db
        .transact(move |tx| -> Result<usize, TxError<()>> {
            let all = tx.scan_prefix(b"", None, usize::MAX >> 1, false)?;
            let mut deleted = 0;
            for (k, v) in all {
                let keep = k == keys::BOOTSTRAP
                    || k == keys::MASTER_KEY_CHECK
                    || k == keys::account(&mgmt)
                    || k.starts_with(&keys::root_keys(&mgmt))
                    || k == keys::account(&dev)
                    || (k.starts_with(b"akey/")
                        && serde_json::from_slice::<AccessKeyRecord>(&v)
                            .is_ok_and(|r| r.owner == KeyOwner::Root { account_id: mgmt.clone() }));
                if !keep {
                    tx.delete(&k)?;
                    deleted += 1;
                }
            }
            // Audit events too: the whole log.
            deleted += tx.log_delete_through(i64::MAX)?;
            Ok(deleted)
        })
        .await;
    result.map_err(|e| {
        if let TxError::Store(e) = e {
            tracing::error!(error = %e, "reset failed");
        }
    })
}
