//! Values for unit tests of configs on the native target, where the host's imports are absent.
//!
//! Policy: these build plain data only. Hooks whose defaults call the host (everything in
//! [`crate::base`] but `process_request`, and [`crate::session_data`], [`crate::log`],
//! [`crate::download`]) cannot run natively; test the pure parts of a config (parsing a page,
//! building params, rewriting a request) with these values instead.
//!
//! ```
//! use session_host_sdk::testing;
//! let request = testing::request("https://shop.example/p/1");
//! assert_eq!(request.method, "GET");
//! let response = testing::response(serde_json::json!({"statusCode": 200}));
//! assert_eq!(response.status, 200);
//! ```

use serde_json::Value;

use crate::{Request, Response, SessionControls};

/// A GET request for `url` with no headers, params `{}`, no controls and no session.
pub fn request(url: &str) -> Request {
    Request {
        url: url.to_owned(),
        method: "GET".to_owned(),
        headers: Vec::new(),
        params: "{}".to_owned(),
        controls: SessionControls { enabled: None, cookie_mode: None, params: None, location: None, pool: None },
        session_id: None,
        is_init: false,
    }
}

/// A successful (HTTP 200) Zyte API response with `body` as its JSON body.
pub fn response(body: Value) -> Response {
    Response { status: 200, body: body.to_string() }
}
