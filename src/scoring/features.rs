//! Features sent by name, turned into the model's row layout, with every problem reported.

use std::fmt;

use serde::{
    Deserialize, Deserializer,
    de::{self, MapAccess, Visitor},
};

use crate::validation::FieldError;

/// One feature value as sent. Deserialising never fails on a value's type, so validation can
/// list every offending field instead of stopping at the first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FeatureValue {
    Number(f64),
    /// `null`: missing, like an absent feature.
    Null,
    /// Anything else (string, boolean, array, object), named for the error message.
    Invalid(&'static str),
}

impl<'de> Deserialize<'de> for FeatureValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;
        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = FeatureValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or null")
            }
            fn visit_f64<E>(self, v: f64) -> Result<FeatureValue, E> {
                Ok(FeatureValue::Number(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<FeatureValue, E> {
                Ok(FeatureValue::Number(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<FeatureValue, E> {
                Ok(FeatureValue::Number(v as f64))
            }
            fn visit_unit<E>(self) -> Result<FeatureValue, E> {
                Ok(FeatureValue::Null)
            }
            fn visit_none<E>(self) -> Result<FeatureValue, E> {
                Ok(FeatureValue::Null)
            }
            fn visit_str<E>(self, _: &str) -> Result<FeatureValue, E> {
                Ok(FeatureValue::Invalid("a string"))
            }
            fn visit_bool<E>(self, _: bool) -> Result<FeatureValue, E> {
                Ok(FeatureValue::Invalid("a boolean"))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<FeatureValue, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(FeatureValue::Invalid("an array"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FeatureValue, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(FeatureValue::Invalid("an object"))
            }
        }
        deserializer.deserialize_any(ValueVisitor)
    }
}

/// Features by name, in the order sent (no map allocation on the hot path).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureMap(pub Vec<(String, FeatureValue)>);

impl<'de> Deserialize<'de> for FeatureMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor;
        impl<'de> Visitor<'de> for MapVisitor {
            type Value = FeatureMap;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of feature names to numbers")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FeatureMap, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(64));
                while let Some(entry) = map.next_entry::<String, FeatureValue>()? {
                    entries.push(entry);
                }
                Ok(FeatureMap(entries))
            }
        }
        deserializer.deserialize_map(MapVisitor)
    }
}

/// What to do with a feature name the model does not know.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnknownFeatures {
    /// 422 listing the unknown names (default): a typo must not silently become a missing value.
    #[default]
    Error,
    /// Skip them.
    Ignore,
}

/// Rows in the model's feature order, ready to predict.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    /// Row-major, `NaN` = missing.
    pub values: Vec<f64>,
    /// Per row: features the model expects that were absent or null.
    pub missing: Vec<usize>,
}

/// JSON-pointer escaping of one path segment (RFC 6901).
pub fn pointer_segment(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// Builds rows for `accounts` (pointer prefix per account, features) against the model's
/// feature positions (`position(k, name)`: where the k-th name sent goes), collecting every
/// problem.
pub fn build_rows<'a>(
    accounts: impl IntoIterator<Item = (String, &'a FeatureMap)>,
    num_features: usize,
    position: impl Fn(usize, &str) -> Option<usize>,
    unknown: UnknownFeatures,
) -> Result<Rows, Vec<FieldError>> {
    let mut values = Vec::new();
    let mut missing = Vec::new();
    let mut errors = Vec::new();
    for (prefix, features) in accounts {
        let start = values.len();
        values.resize(start + num_features, f64::NAN);
        let row = &mut values[start..];
        let mut present = 0usize;
        for (k, (name, value)) in features.0.iter().enumerate() {
            let field = || format!("{prefix}/features/{}", pointer_segment(name));
            let Some(i) = position(k, name) else {
                if unknown == UnknownFeatures::Error {
                    errors.push(FieldError::new(field(), "the model has no feature of this name (send `\"unknown_features\": \"ignore\"` to skip unknown names)"));
                }
                continue;
            };
            if !row[i].is_nan() {
                errors.push(FieldError::new(field(), "sent more than once"));
                continue;
            }
            match *value {
                FeatureValue::Number(v) if v.is_finite() => {
                    row[i] = v;
                    present += 1;
                }
                FeatureValue::Number(_) => {
                    errors.push(FieldError::new(field(), "must be a finite number"));
                }
                FeatureValue::Null => {}
                FeatureValue::Invalid(kind) => errors.push(FieldError::new(
                    field(),
                    format!("must be a number or null, not {kind}"),
                )),
            }
        }
        missing.push(num_features - present);
    }
    if errors.is_empty() {
        Ok(Rows { values, missing })
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(json: &str) -> FeatureMap {
        serde_json::from_str(json).unwrap()
    }

    fn position(_: usize, name: &str) -> Option<usize> {
        ["a", "b", "c/d"].iter().position(|n| *n == name)
    }

    #[test]
    fn builds_rows_in_model_order_with_missing_counts() {
        let one = features(r#"{"b": 2, "a": 1.5}"#);
        let two = features(r#"{"c/d": -3, "a": null}"#);
        let rows = build_rows(
            [
                ("/accounts/0".to_owned(), &one),
                ("/accounts/1".to_owned(), &two),
            ],
            3,
            position,
            UnknownFeatures::Error,
        )
        .unwrap();
        assert_eq!(rows.missing, vec![1, 2]);
        assert_eq!(&rows.values[..2], &[1.5, 2.0]);
        assert!(rows.values[2].is_nan() && rows.values[3].is_nan() && rows.values[4].is_nan());
        assert_eq!(rows.values[5], -3.0);
    }

    #[test]
    fn lists_every_offending_field() {
        let bad = features(r#"{"a": "7", "zz": 1, "b": true, "c/d": [1]}"#);
        let errors =
            build_rows([("".to_owned(), &bad)], 3, position, UnknownFeatures::Error).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "/features/a",
                "/features/zz",
                "/features/b",
                "/features/c~1d"
            ]
        );
        assert!(errors[0].message.contains("not a string"));
        assert!(errors[3].message.contains("not an array"));
    }

    #[test]
    fn unknown_names_can_be_ignored() {
        let extra = features(r#"{"a": 1, "zz": 1}"#);
        let rows = build_rows(
            [("".to_owned(), &extra)],
            3,
            position,
            UnknownFeatures::Ignore,
        )
        .unwrap();
        assert_eq!(rows.missing, vec![2]);
    }

    #[test]
    fn duplicate_names_are_refused() {
        let twice = features(r#"{"a": 1, "a": 2}"#);
        let errors = build_rows(
            [("".to_owned(), &twice)],
            3,
            position,
            UnknownFeatures::Error,
        )
        .unwrap_err();
        assert_eq!(errors[0].message, "sent more than once");
    }
}
