//! `#[session_host_sdk::config]`: put on `impl SessionConfig for T { ... }`, it sets the impl's
//! `OVERRIDES` constant to the hooks the impl defines, so that the host calls only those (WIT
//! 0.1.1 `overrides`) and the list can never disagree with the code.
//!
//! Policy: it reads the names of the `fn` items at the top level of the impl block, and nothing
//! else: no dependency (no `syn`), so guest builds stay fast. An impl that already sets
//! `OVERRIDES`, or an unknown method name, is left to the compiler to reject.

use proc_macro::{Delimiter, Group, TokenStream, TokenTree};

/// The hooks of the `hooks` flags, as (Rust method name, flag constant). `rules` is not one:
/// the host always calls it, once, at load. `process-request` has two methods (by reference
/// and by value).
const HOOKS: [(&str, &str); 9] = [
    ("enabled", "ENABLED"),
    ("cookie_mode", "COOKIE_MODE"),
    ("pool", "POOL"),
    ("location", "LOCATION"),
    ("params", "PARAMS"),
    ("init_session", "INIT_SESSION"),
    ("check", "CHECK"),
    ("process_request", "PROCESS_REQUEST"),
    ("process_owned_request", "PROCESS_REQUEST"),
];

/// Declares the hooks an `impl SessionConfig for T` block overrides. See the crate docs.
#[proc_macro_attribute]
pub fn config(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return error("#[session_host_sdk::config] takes no arguments");
    }
    let mut tokens: Vec<TokenTree> = item.into_iter().collect();
    let body = match tokens.pop() {
        Some(TokenTree::Group(body)) if body.delimiter() == Delimiter::Brace => body,
        _ => return error("#[session_host_sdk::config] goes on `impl SessionConfig for T { ... }`"),
    };
    let mut flags = String::from("::session_host_sdk::Hooks::empty()");
    let mut previous_was_fn = false;
    for token in body.stream() {
        if let TokenTree::Ident(ident) = &token {
            let name = ident.to_string();
            if previous_was_fn && let Some((_, flag)) = HOOKS.iter().find(|(hook, _)| *hook == name) {
                flags.push_str(&format!(".union(::session_host_sdk::Hooks::{flag})"));
            }
            previous_was_fn = name == "fn";
        } else {
            previous_was_fn = false;
        }
    }
    let constant: TokenStream = format!(
        "/// The hooks this impl defines (set by `#[session_host_sdk::config]`).\n\
         const OVERRIDES: ::session_host_sdk::Hooks = {flags};"
    )
    .parse()
    .expect("the constant is valid Rust");
    let mut stream = body.stream();
    stream.extend(constant);
    let mut group = Group::new(Delimiter::Brace, stream);
    group.set_span(body.span());
    tokens.push(TokenTree::Group(group));
    tokens.into_iter().collect()
}

fn error(message: &str) -> TokenStream {
    format!("::core::compile_error!({message:?});").parse().expect("valid Rust")
}
