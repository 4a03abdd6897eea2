//! One timestamp type, one clock, one format: RFC 3339 in UTC with milliseconds
//! (`2026-11-27T03:14:56.123Z`), so stored timestamps also sort as strings.
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// Now, to the millisecond (what the stored form holds).
    pub fn now() -> Timestamp {
        Timestamp::from_datetime(Utc::now())
    }

    /// Any RFC 3339 timestamp, in any offset; kept to the millisecond.
    pub fn parse(value: &str) -> Result<Timestamp, chrono::ParseError> {
        DateTime::parse_from_rfc3339(value.trim()).map(|t| Timestamp::from_datetime(t.with_timezone(&Utc)))
    }

    pub fn from_datetime(t: DateTime<Utc>) -> Timestamp {
        let millis = t.timestamp_millis();
        Timestamp(DateTime::from_timestamp_millis(millis).unwrap_or(t))
    }

    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    pub fn millis(&self) -> i64 {
        self.0.timestamp_millis()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s).map_err(|e| serde::de::Error::custom(format!("{s:?} is not an RFC 3339 timestamp: {e}")))
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some("RFC 3339, UTC, milliseconds"))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Timestamp {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_format_whatever_was_read() {
        let a = Timestamp::parse("2026-04-28T12:00:00+02:00").unwrap();
        assert_eq!(a.to_string(), "2026-04-28T10:00:00.000Z");
        let b = Timestamp::parse("2026-04-28T10:00:00.123456789Z").unwrap();
        assert_eq!(b.to_string(), "2026-04-28T10:00:00.123Z");
        assert!(a < b);
        assert_eq!(serde_json::to_string(&b).unwrap(), "\"2026-04-28T10:00:00.123Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>("\"2026-04-28T10:00:00.123Z\"").unwrap(), b);
        assert!(Timestamp::parse("yesterday").is_err());
        assert!(serde_json::from_str::<Timestamp>("\"2026-13-01T00:00:00Z\"").is_err());
        let now = Timestamp::now();
        assert_eq!(Timestamp::parse(&now.to_string()).unwrap(), now, "the stored form round-trips");
    }
}
