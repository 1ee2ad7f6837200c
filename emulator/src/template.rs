//! Page templates: HTML with `{{placeholder}}`s, compiled once when a scenario is loaded.
//!
//! Placeholders: `{{url}}` `{{host}}` `{{path}}` `{{title}}` `{{method}}` `{{postal_code}}`
//! `{{csrf_token}}` `{{visitor}}`. Values are HTML-escaped. An unknown placeholder is a scenario
//! error, reported when the scenario loads rather than on the request that renders it.

/// A value a template can insert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Var {
    /// The final URL of the page.
    Url,
    /// Its host name.
    Host,
    /// Its path.
    Path,
    /// The site title (the host name if the site has none).
    Title,
    /// The HTTP method of the emulated request.
    Method,
    /// The visitor's postal code (empty without a location).
    PostalCode,
    /// The CSRF token bound to the visitor's session cookie.
    CsrfToken,
    /// The visitor's session cookie value.
    Visitor,
}

impl Var {
    fn parse(name: &str) -> Option<Var> {
        Some(match name {
            "url" => Var::Url,
            "host" => Var::Host,
            "path" => Var::Path,
            "title" => Var::Title,
            "method" => Var::Method,
            "postal_code" => Var::PostalCode,
            "csrf_token" => Var::CsrfToken,
            "visitor" => Var::Visitor,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(Var),
}

/// A compiled template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
    size_hint: usize,
}

impl Template {
    /// Compiles `source`; the error names the unknown placeholder.
    pub fn parse(source: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = source;
        while let Some(start) = rest.find("{{") {
            let Some(len) = rest[start + 2..].find("}}") else {
                break;
            };
            let name = rest[start + 2..start + 2 + len].trim();
            let var =
                Var::parse(name).ok_or_else(|| format!("unknown placeholder {{{{{name}}}}}"))?;
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_owned()));
            }
            parts.push(Part::Var(var));
            rest = &rest[start + 2 + len + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template {
            parts,
            size_hint: source.len() + 64,
        })
    }

    /// Renders with `value` supplying each placeholder (unescaped; this escapes it).
    pub fn render<'a>(&self, value: impl Fn(Var) -> &'a str) -> String {
        let mut out = String::with_capacity(self.size_hint);
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Var(var) => push_escaped(&mut out, value(*var)),
            }
        }
        out
    }

    /// Whether the literal text of the template contains `needle` (used to decide whether a
    /// CSS `#id` selector exists on the page).
    pub fn contains_text(&self, needle: &str) -> bool {
        self.parts
            .iter()
            .any(|part| matches!(part, Part::Text(text) if text.contains(needle)))
    }
}

fn push_escaped(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_placeholders_escaped() {
        let template = Template::parse("<p>{{ path }} at {{host}}</p>{{url}}").expect("template");
        let html = template.render(|var| match var {
            Var::Path => "/a<b>",
            Var::Host => "x.example",
            _ => "u",
        });
        assert_eq!(html, "<p>/a&lt;b&gt; at x.example</p>u");
    }

    #[test]
    fn unknown_placeholders_are_errors_and_unclosed_braces_are_text() {
        assert!(
            Template::parse("{{nope}}")
                .expect_err("error")
                .contains("nope")
        );
        let template = Template::parse("a {{ b").expect("template");
        assert_eq!(template.render(|_| ""), "a {{ b");
        assert!(template.contains_text("{{ b"));
    }
}
