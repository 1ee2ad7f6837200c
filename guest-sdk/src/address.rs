//! [`Address`]: building postal addresses and converting them to and from Zyte API's JSON.
//!
//! Policy (from the WIT `address` record): a field is either absent (`None`) or a string, and an
//! empty string still counts as set. An address is empty, which means "no location", only when
//! all four fields are `None`. In JSON (`setLocation`'s `address`, the
//! `ZYTE_API_SESSION_LOCATION` setting), absent fields are omitted and the field names are Zyte
//! API's: `addressCountry`, `addressRegion`, `postalCode`, `streetAddress`.
//!
//! ```
//! use session_host_sdk::Address;
//! let address = Address::new().with_country("US").with_postal_code("10001");
//! assert_eq!(address.to_json().to_string(), r#"{"addressCountry":"US","postalCode":"10001"}"#);
//! assert!(Address::new().is_empty());
//! ```

use serde_json::{Map, Value};

use crate::Address;

/// The JSON names of the address fields, in the WIT's order.
pub const ADDRESS_FIELDS: [&str; 4] = ["addressCountry", "addressRegion", "postalCode", "streetAddress"];

impl Default for Address {
    fn default() -> Self {
        Address::new()
    }
}

impl Address {
    /// An empty address (no field set).
    pub const fn new() -> Address {
        Address { address_country: None, address_region: None, postal_code: None, street_address: None }
    }

    /// Sets `addressCountry` (ISO 3166-1 alpha-2, e.g. "US").
    #[must_use]
    pub fn with_country(mut self, country: impl Into<String>) -> Address {
        self.address_country = Some(country.into());
        self
    }

    /// Sets `addressRegion` (site-specific, e.g. "NY").
    #[must_use]
    pub fn with_region(mut self, region: impl Into<String>) -> Address {
        self.address_region = Some(region.into());
        self
    }

    /// Sets `postalCode` (e.g. "10001").
    #[must_use]
    pub fn with_postal_code(mut self, postal_code: impl Into<String>) -> Address {
        self.postal_code = Some(postal_code.into());
        self
    }

    /// Sets `streetAddress` (e.g. "3 Penn Plz").
    #[must_use]
    pub fn with_street_address(mut self, street_address: impl Into<String>) -> Address {
        self.street_address = Some(street_address.into());
        self
    }

    /// Whether no field is set: the reference's falsy location.
    pub fn is_empty(&self) -> bool {
        self.fields().iter().all(|field| field.is_none())
    }

    /// The four fields in [`ADDRESS_FIELDS`] order.
    fn fields(&self) -> [&Option<String>; 4] {
        [&self.address_country, &self.address_region, &self.postal_code, &self.street_address]
    }

    /// The address as a Zyte API JSON object, absent fields omitted.
    pub fn to_json(&self) -> Value {
        let set = ADDRESS_FIELDS.iter().zip(self.fields()).filter_map(|(name, value)| Some((*name, value.as_ref()?)));
        Value::Object(set.map(|(name, value)| (name.to_owned(), Value::from(value.as_str()))).collect())
    }

    /// Reads a Zyte API JSON address object. Unknown keys, non-objects and non-string values are
    /// errors, so that a typo never silently drops a field.
    pub fn from_json(value: &Value) -> Result<Address, String> {
        let map: &Map<String, Value> = value.as_object().ok_or("an address must be a JSON object")?;
        if let Some(unknown) = map.keys().find(|key| !ADDRESS_FIELDS.contains(&key.as_str())) {
            return Err(format!("unknown address field {unknown:?}"));
        }
        let field = |name: &str| match map.get(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(format!("address field {name:?} must be a string, not {other}")),
        };
        Ok(Address {
            address_country: field(ADDRESS_FIELDS[0])?,
            address_region: field(ADDRESS_FIELDS[1])?,
            postal_code: field(ADDRESS_FIELDS[2])?,
            street_address: field(ADDRESS_FIELDS[3])?,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn empty_strings_still_count_as_set() {
        assert!(!Address::new().with_region("").is_empty());
        assert_eq!(Address::new().with_region("").to_json(), json!({"addressRegion": ""}));
    }

    #[test]
    fn json_round_trip() {
        let address = Address::new()
            .with_country("US")
            .with_region("NY")
            .with_postal_code("10001")
            .with_street_address("3 Penn Plz");
        let json = address.to_json();
        assert_eq!(json["streetAddress"], "3 Penn Plz");
        assert_eq!(Address::from_json(&json), Ok(address));
    }

    #[test]
    fn from_json_rejects_typos_and_non_strings() {
        assert!(Address::from_json(&json!({"postcode": "10001"})).is_err());
        assert!(Address::from_json(&json!({"postalCode": 10001})).is_err());
        assert!(Address::from_json(&json!(["10001"])).is_err());
        assert_eq!(Address::from_json(&json!({})), Ok(Address::new()));
    }
}
