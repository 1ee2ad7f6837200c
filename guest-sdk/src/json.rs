//! Reading a few top-level fields of a JSON object text without building the rest.
//!
//! Policy: the whole text is still read and checked (it is rejected exactly where
//! `serde_json::from_str::<Map<String, Value>>` rejects it), but only the values of the wanted
//! keys are built; every other value is skipped, and no key is copied: keys are compared with
//! the wanted names as they are read. A hook that reads one field of every response or request
//! then makes no allocation for it (issue 17: the `csrf-token` example's use request spent about
//! a third of its guest time in `dlmalloc`, most of it on keys and maps it never looked at).

use serde::de::{DeserializeSeed, Deserializer as _, Error, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

/// Calls `keep(index, value)` for each top-level field of the JSON object `text` whose key is
/// `names[index]`, in the order of the text (a repeated key is passed each time, so a caller that
/// keeps the last one sees what serde_json's map would hold). A text that is valid JSON but not
/// an object fails with a data error (`Error::is_data`), invalid JSON with a syntax error.
pub(crate) fn top_level_fields(
    text: &str,
    names: &[&str],
    keep: impl FnMut(usize, Value),
) -> Result<(), serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    (&mut deserializer).deserialize_map(Fields { names, keep })?;
    deserializer.end()
}

/// The value of the top-level field `name` of the JSON object `text` (the last one if the key
/// repeats), `None` when absent. Fails like [`top_level_fields`].
pub(crate) fn top_level_field(text: &str, name: &str) -> Result<Option<Value>, serde_json::Error> {
    let mut found = None;
    top_level_fields(text, &[name], |_, value| found = Some(value))?;
    Ok(found)
}

/// The visitor of the object: wanted values are built and handed to `keep`, the others skipped.
struct Fields<'n, F> {
    names: &'n [&'n str],
    keep: F,
}

impl<'de, F: FnMut(usize, Value)> Visitor<'de> for Fields<'_, F> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(wanted) = map.next_key_seed(Key(self.names))? {
            match wanted {
                Some(index) => (self.keep)(index, map.next_value()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A key of the object, compared with the wanted names as it is read: the index of the name it
/// equals, if any. Borrowed or unescaped into serde_json's scratch buffer, it is never copied.
struct Key<'n>(&'n [&'n str]);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = Option<usize>;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = Option<usize>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("an object key")
    }

    fn visit_str<E: Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|name| *name == key))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, json};

    use super::*;

    /// The reader keeps what a full parse would keep, and rejects what a full parse rejects
    /// (with the same kind of error), on bodies where a shortcut could part from it: repeated
    /// and escaped keys, the wanted name nested or inside a string, trailing text, non-objects.
    #[test]
    fn issue_17_fields_agree_with_a_full_parse() {
        let texts = [
            r#"{"statusCode": 403, "httpResponseBody": "PGI+", "url": "https://a.example/"}"#,
            r#"{"statusCode": 200, "statusCode": 403}"#,
            r#"{"status\u0043ode": 403}"#,
            r#"{"a": {"statusCode": 1}, "b": ["statusCode"], "c": "\"statusCode\": 2"}"#,
            r#"{"statusCode": null}"#,
            "{}",
            r#"{"statusCode": 200} x"#,
            r#"{"statusCode": 200,}"#,
            r#"{"a": [1,}"#,
            "[]",
            "1",
            "nope",
            "",
        ];
        for text in texts {
            let full = serde_json::from_str::<Map<String, Value>>(text);
            let one = top_level_field(text, "statusCode");
            match (full, one) {
                (Ok(map), Ok(value)) => assert_eq!(map.get("statusCode").cloned(), value, "{text}"),
                (Err(full), Err(one)) => assert_eq!(full.classify(), one.classify(), "{text}"),
                (full, one) => panic!("{text}: full parse {full:?}, field reader {one:?}"),
            }
        }
    }

    #[test]
    fn several_fields_are_passed_in_text_order() {
        let mut seen = Vec::new();
        let text = r#"{"url": "u", "skip": [1, {"url": 2}], "statusCode": 200}"#;
        top_level_fields(text, &["statusCode", "url"], |index, value| seen.push((index, value))).unwrap();
        assert_eq!(seen, [(1, json!("u")), (0, json!(200))]);
    }
}
