//! The `/v1/extract` request body: parsing and per-field validation.
//!
//! Policy (`zyte-api.md` §1.2): the body must be a JSON object (`/request/invalid-json` if it is
//! not JSON at all, with line and column); every field must be one of the request schema's
//! (`additionalProperties: false` → `Unrecognized field "foo"`); each field is type- and
//! range-checked with the field named in the detail. `url` is required, absolute, http(s), at most
//! 8192 characters, and its host must be a domain name (with a dot), not an IP address.
//! Extraction fields (`product`, `serp`, …) are recognised but not emulated (422).

use serde_json::Value;
use url::{Host, Url};
use uuid::Uuid;

use super::action::parse_actions;
use super::fields;
use crate::actions::Action;
use crate::policy::Policy;
use crate::problem::Problem;

/// Longest accepted `url`.
pub const MAX_URL_LEN: usize = 8192;

/// Fields that select a browser request (`httpResponseBody` cannot be combined with them).
/// `browserHtml` and `screenshot` count only when true.
const EXTRACTION_FIELDS: &[&str] = &[
    "product",
    "productList",
    "productNavigation",
    "article",
    "articleList",
    "articleNavigation",
    "forumThread",
    "jobPosting",
    "jobPostingNavigation",
    "pageContent",
    "serp",
    "productOptions",
    "productListOptions",
    "productNavigationOptions",
    "articleOptions",
    "articleListOptions",
    "articleNavigationOptions",
    "forumThreadOptions",
    "jobPostingOptions",
    "jobPostingNavigationOptions",
    "pageContentOptions",
    "serpOptions",
    "extractFrom",
    "customAttributes",
    "customAttributesOptions",
];

/// A cookie sent with `requestCookies` (only name, value and domain matter to the emulator).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestCookie {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
    /// Domain.
    pub domain: String,
}

/// A validated request.
#[derive(Clone, Debug, PartialEq)]
pub struct ExtractRequest {
    /// The target URL.
    pub url: Url,
    /// Its host name, lowercase.
    pub host: String,
    /// Everything else.
    pub opts: Options,
}

/// The request's fields other than `url`, with Zyte API's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// `httpResponseBody`.
    pub http_response_body: bool,
    /// `httpResponseHeaders`.
    pub http_response_headers: bool,
    /// `browserHtml`.
    pub browser_html: bool,
    /// `screenshot`.
    pub screenshot: bool,
    /// `actions`.
    pub actions: Vec<Action>,
    /// `session.id`.
    pub session: Option<Uuid>,
    /// `sessionContext`, as a canonical key.
    pub session_context: Option<String>,
    /// `sessionContextParameters.actions`.
    pub context_actions: Vec<Action>,
    /// Whether `sessionContextParameters` was given.
    pub has_context_parameters: bool,
    /// `customHttpRequestHeaders` (last value of a repeated name wins when read).
    pub custom_headers: Vec<(String, String)>,
    /// `httpRequestMethod` (default GET).
    pub method: String,
    /// `followRedirect` (default true).
    pub follow_redirect: bool,
    /// `requestCookies`.
    pub request_cookies: Vec<RequestCookie>,
    /// `responseCookies`.
    pub response_cookies: bool,
    /// Whether `networkCapture` was given.
    pub network_capture: bool,
    /// `echoData`, verbatim.
    pub echo_data: Option<Value>,
    /// `jobId`.
    pub job_id: Option<String>,
    /// Browser-only fields present, for the combination rules.
    pub browser_fields: Vec<&'static str>,
    /// Fields that require `httpResponseBody`.
    pub http_body_fields: Vec<&'static str>,
    /// Fields for HTTP requests only (`followRedirect`, `verifyCertificate`).
    pub http_mode_fields: Vec<&'static str>,
    /// `httpRequestBody` and `httpRequestText` were both given.
    pub both_request_bodies: bool,
    /// The first extraction field present, if any.
    pub extraction: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            http_response_body: false,
            http_response_headers: false,
            browser_html: false,
            screenshot: false,
            actions: Vec::new(),
            session: None,
            session_context: None,
            context_actions: Vec::new(),
            has_context_parameters: false,
            custom_headers: Vec::new(),
            method: "GET".into(),
            follow_redirect: true,
            request_cookies: Vec::new(),
            response_cookies: false,
            network_capture: false,
            echo_data: None,
            job_id: None,
            browser_fields: Vec::new(),
            http_body_fields: Vec::new(),
            http_mode_fields: Vec::new(),
            both_request_bodies: false,
            extraction: None,
        }
    }
}

/// Parses and validates a request body (not the combination rules: see [`super::rules`]).
pub fn parse(body: &[u8], policy: &Policy) -> Result<ExtractRequest, Problem> {
    let value: Value = serde_json::from_slice(body).map_err(|e| json_problem(&e))?;
    let Value::Object(map) = value else {
        return Err(Problem::invalid("The request body must be a JSON object"));
    };
    let mut url = None;
    let mut opts = Options::default();
    let mut request_body = false;
    let mut request_text = false;
    for (name, value) in map {
        match name.as_str() {
            "url" => url = Some(parse_url(&value)?),
            "httpRequestBody" => request_body = http_request_body(&value, &mut opts)?,
            "httpRequestText" => request_text = http_request_text(&value, &mut opts)?,
            "echoData" => opts.echo_data = Some(value),
            _ => opts.field(&name, &value, policy)?,
        }
    }
    opts.both_request_bodies = request_body && request_text;
    let (url, host) = url.ok_or_else(|| Problem::invalid("Missing required field \"url\""))?;
    Ok(ExtractRequest { url, host, opts })
}

fn json_problem(error: &serde_json::Error) -> Problem {
    Problem::invalid_json(format!(
        "The submitted request body is not a valid JSON. Location: line {}, column {}. Details: {error}",
        error.line(),
        error.column()
    ))
}

fn parse_url(value: &Value) -> Result<(Url, String), Problem> {
    let text = fields::string("url", value, MAX_URL_LEN)?;
    let url = Url::parse(text)
        .map_err(|e| fields::invalid("url", format_args!("not an absolute URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(fields::invalid(
            "url",
            "the URL scheme must be http or https",
        ));
    }
    let host = match url.host() {
        Some(Host::Domain(domain)) if domain.contains('.') => domain.to_ascii_lowercase(),
        Some(Host::Ipv4(_) | Host::Ipv6(_)) => {
            return Err(fields::invalid(
                "url",
                "the host name must be a domain name, it cannot be an IP address",
            ));
        }
        _ => return Err(fields::invalid("url", "the URL must have a domain name")),
    };
    Ok((url, host))
}

fn http_request_body(value: &Value, opts: &mut Options) -> Result<bool, Problem> {
    use base64::Engine as _;
    let text = fields::string("httpRequestBody", value, 400_000)?;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| fields::invalid("httpRequestBody", "not valid base64"))?;
    opts.http_body_fields.push("httpRequestBody");
    Ok(true)
}

fn http_request_text(value: &Value, opts: &mut Options) -> Result<bool, Problem> {
    fields::non_empty("httpRequestText", value, 400_000)?;
    opts.http_body_fields.push("httpRequestText");
    Ok(true)
}

impl Options {
    fn field(&mut self, name: &str, value: &Value, policy: &Policy) -> Result<(), Problem> {
        match name {
            "httpResponseBody" => self.http_response_body = fields::boolean(name, value)?,
            "httpResponseHeaders" => self.http_response_headers = fields::boolean(name, value)?,
            "responseCookies" => self.response_cookies = fields::boolean(name, value)?,
            "browserHtml" => self.browser_html = self.browser_flag("browserHtml", value)?,
            "screenshot" => self.screenshot = self.browser_flag("screenshot", value)?,
            "actions" => {
                self.actions = parse_actions("actions", value)?;
                self.browser_fields.push("actions");
            }
            "session" => self.session = Some(session_id(value, policy)?),
            "sessionContext" => self.session_context = Some(session_context(value)?),
            "sessionContextParameters" => self.context_parameters(value)?,
            "requestCookies" => self.request_cookies = request_cookies(value)?,
            "customHttpRequestHeaders" => self.custom_headers(value)?,
            "jobId" => self.job_id = Some(fields::string(name, value, 100)?.to_owned()),
            _ => self.other_field(name, value)?,
        }
        Ok(())
    }

    fn other_field(&mut self, name: &str, value: &Value) -> Result<(), Problem> {
        match name {
            "httpRequestMethod" => {
                const METHODS: &[&str] = &[
                    "GET", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH", "HEAD",
                ];
                self.method = fields::one_of(name, value, METHODS)?.to_owned();
                self.http_body_fields.push("httpRequestMethod");
            }
            "device" => {
                fields::one_of(name, value, &["desktop", "mobile"])?;
                self.http_body_fields.push("device");
            }
            "followRedirect" => {
                self.follow_redirect = fields::boolean(name, value)?;
                self.http_mode_fields.push("followRedirect");
            }
            "verifyCertificate" => {
                fields::boolean(name, value)?;
                self.http_mode_fields.push("verifyCertificate");
            }
            "geolocation" => geolocation(value)?,
            "ipType" => {
                fields::one_of(name, value, &["datacenter", "residential"])?;
            }
            "cookieManagement" => {
                fields::one_of(name, value, &["auto", "discard"])?;
            }
            "tags" => tags(value)?,
            _ => self.browser_field(name, value)?,
        }
        Ok(())
    }

    fn browser_field(&mut self, name: &str, value: &Value) -> Result<(), Problem> {
        let field: &'static str = match name {
            "javascript" => fields::boolean(name, value).map(|_| "javascript")?,
            "includeIframes" => fields::boolean(name, value).map(|_| "includeIframes")?,
            "viewport" => viewport(value).map(|()| "viewport")?,
            "screenshotOptions" => screenshot_options(value).map(|()| "screenshotOptions")?,
            "requestHeaders" => request_headers(value).map(|()| "requestHeaders")?,
            "networkCapture" => {
                fields::array(name, value, 10)?;
                self.network_capture = true;
                "networkCapture"
            }
            _ if EXTRACTION_FIELDS.contains(&name) => {
                self.extraction.get_or_insert_with(|| name.to_owned());
                return Ok(());
            }
            _ => return Err(Problem::invalid(format!("Unrecognized field \"{name}\""))),
        };
        self.browser_fields.push(field);
        Ok(())
    }

    fn browser_flag(&mut self, name: &'static str, value: &Value) -> Result<bool, Problem> {
        let on = fields::boolean(name, value)?;
        if on {
            self.browser_fields.push(name);
        }
        Ok(on)
    }

    fn context_parameters(&mut self, value: &Value) -> Result<(), Problem> {
        let map = fields::closed_object("sessionContextParameters", value, &["actions"])?;
        if let Some(actions) = map.get("actions") {
            self.context_actions = parse_actions("sessionContextParameters.actions", actions)?;
        }
        self.has_context_parameters = true;
        Ok(())
    }

    fn custom_headers(&mut self, value: &Value) -> Result<(), Problem> {
        for (i, item) in fields::array("customHttpRequestHeaders", value, 200)?
            .iter()
            .enumerate()
        {
            let field = format!("customHttpRequestHeaders[{i}]");
            let map = fields::closed_object(&field, item, &["name", "value"])?;
            let name = fields::non_empty(
                &format!("{field}.name"),
                fields::member(&field, map, "name")?,
                200,
            )?;
            let header_value = fields::string(
                &format!("{field}.value"),
                fields::member(&field, map, "value")?,
                7000,
            )?;
            if name.eq_ignore_ascii_case("cookie") {
                return Err(fields::invalid(
                    &format!("{field}.name"),
                    "the Cookie header cannot be set, use requestCookies",
                ));
            }
            self.custom_headers
                .push((name.to_ascii_lowercase(), header_value.to_owned()));
        }
        self.http_body_fields.push("customHttpRequestHeaders");
        Ok(())
    }
}

fn session_id(value: &Value, policy: &Policy) -> Result<Uuid, Problem> {
    let map = fields::closed_object("session", value, &["id"])?;
    let id = fields::string("session.id", fields::member("session", map, "id")?, 100)?;
    match Uuid::parse_str(id) {
        Ok(uuid) if uuid.get_version_num() == 4 && uuid.get_variant() == uuid::Variant::RFC4122 => {
            Ok(uuid)
        }
        _ => Err(Problem::invalid_with_status(
            policy.invalid_session_id_status,
            format!("Invalid value for field \"session.id\": \"{id}\" is not a version 4 UUID"),
        )),
    }
}

fn session_context(value: &Value) -> Result<String, Problem> {
    let items = fields::array("sessionContext", value, 10)?;
    if items.is_empty() {
        return Err(fields::invalid("sessionContext", "must not be empty"));
    }
    let mut pairs = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = format!("sessionContext[{i}]");
        let map = fields::closed_object(&field, item, &["name", "value"])?;
        let name = fields::non_empty(
            &format!("{field}.name"),
            fields::member(&field, map, "name")?,
            30,
        )?;
        let value = fields::non_empty(
            &format!("{field}.value"),
            fields::member(&field, map, "value")?,
            100,
        )?;
        pairs.push((name.to_owned(), value.to_owned()));
    }
    pairs.sort();
    Ok(serde_json::to_string(&pairs).unwrap_or_default())
}

fn request_cookies(value: &Value) -> Result<Vec<RequestCookie>, Problem> {
    const KEYS: &[&str] = &[
        "name", "value", "domain", "path", "expires", "httpOnly", "secure", "sameSite",
    ];
    let mut cookies = Vec::new();
    for (i, item) in fields::array("requestCookies", value, 100)?
        .iter()
        .enumerate()
    {
        let field = format!("requestCookies[{i}]");
        let map = fields::closed_object(&field, item, KEYS)?;
        let text = |key: &str, max: usize| -> Result<String, Problem> {
            Ok(fields::string(
                &format!("{field}.{key}"),
                fields::member(&field, map, key)?,
                max,
            )?
            .to_owned())
        };
        cookies.push(RequestCookie {
            name: text("name", 4085)?,
            value: text("value", 4085)?,
            domain: text("domain", 253)?,
        });
    }
    Ok(cookies)
}

fn geolocation(value: &Value) -> Result<(), Problem> {
    let code = fields::string("geolocation", value, 2)?;
    if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        return Ok(());
    }
    Err(fields::invalid(
        "geolocation",
        format_args!("\"{code}\" is not an ISO 3166-1 alpha-2 country code"),
    ))
}

fn tags(value: &Value) -> Result<(), Problem> {
    for (key, tag) in fields::object("tags", value)? {
        if !(tag.is_string() || tag.is_null()) {
            return Err(fields::expected(
                &format!("tags.{key}"),
                "a string or null",
                tag,
            ));
        }
    }
    Ok(())
}

fn viewport(value: &Value) -> Result<(), Problem> {
    let map = fields::closed_object("viewport", value, &["width", "height"])?;
    if let Some(width) = map.get("width") {
        fields::integer_in("viewport.width", width, 320..=5120)?;
    }
    if let Some(height) = map.get("height") {
        fields::integer_in("viewport.height", height, 360..=4096)?;
    }
    Ok(())
}

fn screenshot_options(value: &Value) -> Result<(), Problem> {
    let map = fields::closed_object("screenshotOptions", value, &["format", "fullPage"])?;
    if let Some(format) = map.get("format") {
        fields::one_of("screenshotOptions.format", format, &["jpeg", "png"])?;
    }
    if let Some(full_page) = map.get("fullPage") {
        fields::boolean("screenshotOptions.fullPage", full_page)?;
    }
    Ok(())
}

fn request_headers(value: &Value) -> Result<(), Problem> {
    let map = fields::closed_object("requestHeaders", value, &["referer"])?;
    if let Some(referer) = map.get("referer") {
        fields::string("requestHeaders.referer", referer, 8192)?;
    }
    Ok(())
}
