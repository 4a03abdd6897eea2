//! DynamoDB's JSON (`{"S": "x"}`, `{"N": "1"}`, `{"M": {...}}`, ...), as stream records carry item
//! images, read as plain JSON: the shape the store's items serialise from.
use serde_json::{Map, Number, Value};

/// An item image (attribute name to typed value) as plain JSON.
pub fn item(image: &Map<String, Value>) -> Result<Value, String> {
    image.iter().map(|(k, v)| Ok((k.clone(), attribute(v).map_err(|e| format!("{k}: {e}"))?))).collect::<Result<Map<_, _>, String>>().map(Value::Object)
}

/// One typed attribute value as plain JSON.
pub fn attribute(v: &Value) -> Result<Value, String> {
    let Some((tag, inner)) = v.as_object().filter(|o| o.len() == 1).and_then(|o| o.iter().next()) else {
        return Err(format!("not a typed attribute value: {v}"));
    };
    let number = |s: &Value| -> Result<Value, String> {
        let s = s.as_str().ok_or("N is not a string")?;
        if let Ok(i) = s.parse::<i64>() {
            return Ok(Value::Number(i.into()));
        }
        if let Ok(u) = s.parse::<u64>() {
            return Ok(Value::Number(u.into()));
        }
        s.parse::<f64>().ok().and_then(Number::from_f64).map(Value::Number).ok_or_else(|| format!("{s:?} is not a number"))
    };
    match tag.as_str() {
        "S" | "B" => Ok(inner.clone()),
        "N" => number(inner),
        "BOOL" => Ok(inner.clone()),
        "NULL" => Ok(Value::Null),
        "M" => item(inner.as_object().ok_or("M is not an object")?),
        "L" => inner.as_array().ok_or("L is not an array")?.iter().map(attribute).collect::<Result<Vec<_>, _>>().map(Value::Array),
        "SS" | "BS" => Ok(inner.clone()),
        "NS" => inner.as_array().ok_or("NS is not an array")?.iter().map(number).collect::<Result<Vec<_>, _>>().map(Value::Array),
        other => Err(format!("unknown attribute type {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_values_read_as_plain_json() {
        let image = json!({"pk": {"S": "T#acme#AUDIT"}, "n": {"N": "42"}, "f": {"N": "0.5"}, "ok": {"BOOL": true}, "none": {"NULL": true},
                           "after": {"M": {"tags": {"L": [{"S": "a"}, {"N": "1"}]}, "set": {"SS": ["x"]}}}});
        let v = item(image.as_object().unwrap()).unwrap();
        assert_eq!(v, json!({"pk": "T#acme#AUDIT", "n": 42, "f": 0.5, "ok": true, "none": null, "after": {"tags": ["a", 1], "set": ["x"]}}));
        assert!(attribute(&json!({"Q": 1})).is_err() && attribute(&json!("bare")).is_err());
    }
}
