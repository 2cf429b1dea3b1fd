//! A reader for the UBJSON subset XGBoost writes with `save_model("model.ubj")` (the default
//! format since XGBoost 2.1), turned into a `serde_json::Value` so both formats share one
//! model reader.
//!
//! UBJSON (ubjson.org, draft 12): every value starts with a one-byte type marker; numbers are
//! big-endian; strings and object keys carry a length (itself a typed integer). Containers may
//! be "optimized": `$` gives the element type once and `#` the count, and then no closing
//! marker follows. XGBoost writes its large arrays (`split_conditions`, `left_children`, ...)
//! that way, e.g. `[$d#l<count>` followed by raw big-endian float32s.

use serde_json::{Map, Number, Value};

/// Deepest nesting accepted: XGBoost models nest about six levels; a hostile file must not
/// exhaust the stack.
const MAX_DEPTH: usize = 64;

/// Why a UBJSON document could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid UBJSON at byte {offset}: {message}")]
pub struct UbjsonError {
    pub offset: usize,
    pub message: String,
}

/// Reads one UBJSON value that must fill the whole input.
pub fn parse(bytes: &[u8]) -> Result<Value, UbjsonError> {
    let mut reader = Reader { bytes, pos: 0 };
    let marker = reader.marker()?;
    let value = reader.value(marker, 0)?;
    if reader.pos != bytes.len() {
        return Err(reader.error(format!(
            "{} bytes follow the end of the document",
            bytes.len() - reader.pos
        )));
    }
    Ok(value)
}

/// The start of a container: an optimized one's element type and count, or the first
/// marker inside a plain one.
struct ContainerHeader {
    element_type: Option<u8>,
    count: Option<usize>,
    first: Option<u8>,
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn error(&self, message: impl Into<String>) -> UbjsonError {
        UbjsonError {
            offset: self.pos,
            message: message.into(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&[u8], UbjsonError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| self.error(format!("the document ends inside a {n}-byte item")))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], UbjsonError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn marker(&mut self) -> Result<u8, UbjsonError> {
        // `N` (no-op) may pad anywhere a value may start.
        loop {
            let [m] = self.fixed::<1>()?;
            if m != b'N' {
                return Ok(m);
            }
        }
    }

    /// An integer of the given marker, for lengths and counts.
    fn integer(&mut self, marker: u8) -> Result<i64, UbjsonError> {
        Ok(match marker {
            b'i' => i64::from(i8::from_be_bytes(self.fixed()?)),
            b'U' => i64::from(u8::from_be_bytes(self.fixed()?)),
            b'I' => i64::from(i16::from_be_bytes(self.fixed()?)),
            b'l' => i64::from(i32::from_be_bytes(self.fixed()?)),
            b'L' => i64::from_be_bytes(self.fixed()?),
            other => {
                return Err(self.error(format!(
                    "expected an integer marker, found {}",
                    describe(other)
                )));
            }
        })
    }

    /// A length or count: a non-negative integer that fits in what is left of the input
    /// (each element takes at least one byte, so a larger count is a lie).
    fn length(&mut self) -> Result<usize, UbjsonError> {
        let marker = self.marker()?;
        let n = self.integer(marker)?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.bytes.len() - self.pos)
            .ok_or_else(|| self.error(format!("length {n} is negative or beyond the document")))
    }

    fn string(&mut self) -> Result<String, UbjsonError> {
        let n = self.length()?;
        let at = self.pos;
        let raw = self.take(n)?;
        String::from_utf8(raw.to_vec()).map_err(|_| UbjsonError {
            offset: at,
            message: "a string is not UTF-8".into(),
        })
    }

    fn value(&mut self, marker: u8, depth: usize) -> Result<Value, UbjsonError> {
        Ok(match marker {
            b'Z' => Value::Null,
            b'T' => Value::Bool(true),
            b'F' => Value::Bool(false),
            b'i' | b'U' | b'I' | b'l' | b'L' => Value::from(self.integer(marker)?),
            b'd' => float(f64::from(f32::from_be_bytes(self.fixed()?))),
            b'D' => float(f64::from_be_bytes(self.fixed()?)),
            b'C' => Value::String(char::from(self.fixed::<1>()?[0]).to_string()),
            b'S' | b'H' => Value::String(self.string()?),
            b'[' => self.array(depth + 1)?,
            b'{' => self.object(depth + 1)?,
            other => {
                return Err(self.error(format!("unexpected marker {}", describe(other))));
            }
        })
    }

    /// `$type` and `#count` of an optimized container, if present.
    fn container_header(&mut self) -> Result<ContainerHeader, UbjsonError> {
        let mut element_type = None;
        let mut next = self.marker()?;
        if next == b'$' {
            element_type = Some(self.fixed::<1>()?[0]);
            next = self.marker()?;
            if next != b'#' {
                return Err(self.error("a `$` type must be followed by a `#` count"));
            }
        }
        if next == b'#' {
            let count = self.length()?;
            return Ok(ContainerHeader {
                element_type,
                count: Some(count),
                first: None,
            });
        }
        Ok(ContainerHeader {
            element_type: None,
            count: None,
            first: Some(next),
        })
    }

    fn array(&mut self, depth: usize) -> Result<Value, UbjsonError> {
        if depth > MAX_DEPTH {
            return Err(self.error("containers nest too deeply"));
        }
        let ContainerHeader {
            element_type,
            count,
            first,
        } = self.container_header()?;
        let mut items = Vec::new();
        match count {
            Some(count) => {
                items.reserve(count.min(1 << 20));
                for _ in 0..count {
                    let marker = match element_type {
                        Some(t) => t,
                        None => self.marker()?,
                    };
                    items.push(self.value(marker, depth)?);
                }
            }
            None => {
                let mut marker = first.unwrap_or(b']');
                while marker != b']' {
                    items.push(self.value(marker, depth)?);
                    marker = self.marker()?;
                }
            }
        }
        Ok(Value::Array(items))
    }

    fn object(&mut self, depth: usize) -> Result<Value, UbjsonError> {
        if depth > MAX_DEPTH {
            return Err(self.error("containers nest too deeply"));
        }
        let ContainerHeader {
            element_type,
            count,
            first,
        } = self.container_header()?;
        let mut map = Map::new();
        match count {
            Some(count) => {
                for _ in 0..count {
                    let key = self.string()?;
                    let marker = match element_type {
                        Some(t) => t,
                        None => self.marker()?,
                    };
                    let value = self.value(marker, depth)?;
                    map.insert(key, value);
                }
            }
            None => {
                // Keys carry no `S` marker: the first byte is already the length's marker.
                let mut marker = first.unwrap_or(b'}');
                while marker != b'}' {
                    let n = self.integer(marker)?;
                    let n = usize::try_from(n)
                        .ok()
                        .filter(|&n| n <= self.bytes.len() - self.pos)
                        .ok_or_else(|| self.error(format!("key length {n} is invalid")))?;
                    let at = self.pos;
                    let key =
                        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| UbjsonError {
                            offset: at,
                            message: "a key is not UTF-8".into(),
                        })?;
                    let value_marker = self.marker()?;
                    let value = self.value(value_marker, depth)?;
                    map.insert(key, value);
                    marker = self.marker()?;
                }
            }
        }
        Ok(Value::Object(map))
    }
}

fn float(v: f64) -> Value {
    // JSON has no NaN or infinity; XGBoost never writes them in a model it can load.
    Number::from_f64(v).map_or(Value::Null, Value::Number)
}

fn describe(marker: u8) -> String {
    if marker.is_ascii_graphic() {
        format!("`{}`", char::from(marker))
    } else {
        format!("0x{marker:02x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_plain_and_optimized_containers() {
        // {"a": [1, 2.5f32], "b": "xy", "c": [$U#i3 1 2 3], "t": true}
        let mut doc = vec![b'{'];
        doc.extend([b'i', 1, b'a', b'[', b'U', 1, b'd']);
        doc.extend(2.5f32.to_be_bytes());
        doc.push(b']');
        doc.extend([b'i', 1, b'b', b'S', b'i', 2, b'x', b'y']);
        doc.extend([b'i', 1, b'c', b'[', b'$', b'U', b'#', b'i', 3, 1, 2, 3]);
        doc.extend([b'i', 1, b't', b'T', b'}']);
        assert_eq!(
            parse(&doc).unwrap(),
            json!({"a": [1, 2.5], "b": "xy", "c": [1, 2, 3], "t": true})
        );
    }

    #[test]
    fn refuses_truncated_and_lying_documents() {
        let err = parse(b"{i\x01a[$d#l\x7f\xff\xff\xff").unwrap_err();
        assert!(err.message.contains("beyond the document"), "{err}");
        let err = parse(b"{i\x01aS").unwrap_err();
        assert!(err.message.contains("ends inside"), "{err}");
        let err = parse(b"[i\x01]x").unwrap_err();
        assert!(err.message.contains("follow the end"), "{err}");
        let deep = vec![b'['; 200];
        assert!(
            parse(&deep)
                .unwrap_err()
                .message
                .contains("nest too deeply")
        );
    }
}
