//! `/api/push…`: Web Push for the caller's own devices, and which sessions they follow.

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// The daemon's VAPID public key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct VapidKeyResponse {
    /// Uncompressed P-256 point, base64url: `applicationServerKey` for
    /// `pushManager.subscribe`.
    pub public_key: String,
}

/// The browser's keys from `PushSubscription.toJSON()`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PushKeys {
    /// The browser's P-256 public key, base64url.
    pub p256dh: String,
    /// The 16-byte authentication secret, base64url.
    pub auth: String,
}

/// `POST /api/push/subscriptions`: `PushSubscription.toJSON()` plus a label.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreatePushSubscriptionRequest {
    /// The push service URL (`https://…`).
    pub endpoint: String,
    /// The browser's keys.
    pub keys: PushKeys,
    /// What to call the device (default: its User-Agent).
    #[serde(default)]
    pub label: Option<String>,
}

/// One of the caller's devices.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PushSubscriptionView {
    /// Id (for `DELETE`).
    pub id: String,
    /// The push service URL (so a browser can find its own entry).
    pub endpoint: String,
    /// Device label.
    pub label: String,
    /// When it was added (RFC 3339).
    pub created_at: String,
    /// Last delivery the push service accepted (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success_at: Option<String>,
}

/// The caller's devices.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PushSubscriptionListResponse {
    /// Oldest first.
    pub subscriptions: Vec<PushSubscriptionView>,
}

/// A device was added (or refreshed).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PushSubscriptionResponse {
    /// Always true.
    pub ok: bool,
    /// The stored device.
    pub subscription: PushSubscriptionView,
}

/// A session the caller follows.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PushSessionView {
    /// Session name.
    pub name: String,
    /// Since when (RFC 3339).
    pub created_at: String,
}

/// The sessions the caller follows.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PushSessionListResponse {
    /// By name.
    pub sessions: Vec<PushSessionView>,
}

/// What a test notification did.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PushTestResponse {
    /// Always true.
    pub ok: bool,
    /// Devices whose push service accepted it.
    pub sent: u32,
    /// Devices whose push service refused it or could not be reached.
    pub failed: u32,
    /// Devices the push service called gone; they were removed.
    pub removed: u32,
}
