//! A JSON value and its two printed forms, compact (`-j`) and indented (`-p`): enough for
//! bpftool's output shapes, without a serialization framework.

use output::value::json_str;

#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i128),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
    /// Printed as is: bpftool's text output shows some typed values as bare hex (`0x3`),
    /// which is not JSON.
    Raw(String),
}

impl Json {
    pub fn obj(fields: Vec<(&str, Json)>) -> Json {
        Json::Obj(
            fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    pub fn int(n: impl Into<i128>) -> Json {
        Json::Int(n.into())
    }

    pub fn str(s: impl Into<String>) -> Json {
        Json::Str(s.into())
    }

    /// Bytes as bpftool writes them: `["0x01","0x00"]`.
    pub fn hex_bytes(bytes: &[u8]) -> Json {
        Json::Arr(
            bytes
                .iter()
                .map(|b| Json::Str(format!("0x{b:02x}")))
                .collect(),
        )
    }

    /// Compact (`pretty` false) or indented the way bpftool's JSON writer indents: four
    /// spaces per level, a new line before each object member and before a closing bracket,
    /// array elements on the line of the opening bracket (`[{`, `},{`, `["0x01","0x02"`).
    pub fn render(&self, pretty: bool) -> String {
        let mut out = String::new();
        self.write(&mut out, pretty, 0);
        out
    }

    fn write(&self, out: &mut String, pretty: bool, depth: usize) {
        let newline = |out: &mut String, depth: usize| {
            if pretty {
                out.push('\n');
                out.push_str(&"    ".repeat(depth));
            }
        };
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(n) => out.push_str(&n.to_string()),
            Json::Str(s) => out.push_str(&json_str(s)),
            Json::Raw(s) => out.push_str(s),
            Json::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out, pretty, depth + 1);
                }
                if !items.is_empty() {
                    newline(out, depth);
                }
                out.push(']');
            }
            Json::Obj(items) => {
                out.push('{');
                for (i, (k, v)) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, depth + 1);
                    out.push_str(&json_str(k));
                    out.push_str(if pretty { ": " } else { ":" });
                    v.write(out, pretty, depth + 1);
                }
                if !items.is_empty() {
                    newline(out, depth);
                }
                out.push('}');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_pretty() {
        let v = Json::obj(vec![
            ("id", Json::int(7)),
            ("name", Json::str("a\"b")),
            ("key", Json::hex_bytes(&[1, 255])),
            ("none", Json::Arr(vec![])),
        ]);
        assert_eq!(
            v.render(false),
            r#"{"id":7,"name":"a\"b","key":["0x01","0xff"],"none":[]}"#
        );
        assert_eq!(
            v.render(true),
            "{\n    \"id\": 7,\n    \"name\": \"a\\\"b\",\n    \"key\": [\"0x01\",\"0xff\"\n    ],\n    \"none\": []\n}"
        );
        let list = Json::Arr(vec![
            Json::obj(vec![("a", Json::int(1))]),
            Json::obj(vec![]),
        ]);
        assert_eq!(list.render(true), "[{\n        \"a\": 1\n    },{}\n]");
    }
}
