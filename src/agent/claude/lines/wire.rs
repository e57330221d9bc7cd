//! The JSON shape of a Claude Code line, as far as the session reads it:
//! borrowed from the line where it can be, lenient where Claude's output
//! varies (a field of the wrong type is absent, not a reason to drop the
//! line), and read in the line's one pass.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;

/// The fields of a line the session reads; others are skipped unread.
/// Strings are `Cow`: borrowed unless they hold an escape.
#[derive(Deserialize)]
pub(super) struct Line<'a> {
    #[serde(rename = "type", borrow, default, deserialize_with = "lenient_str")]
    pub(super) kind: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    pub(super) subtype: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    pub(super) session_id: Option<Cow<'a, str>>,
    /// Read in the same pass as the line (it held the line's text, scanned
    /// four times when parsed apart): a message of any other shape is none.
    #[serde(borrow, default, deserialize_with = "message")]
    pub(super) message: Option<Message<'a>>,
    #[serde(default, deserialize_with = "lenient")]
    pub(super) is_error: Option<bool>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    pub(super) terminal_reason: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient")]
    pub(super) errors: Option<Vec<Value>>,
    #[serde(default, deserialize_with = "lenient")]
    pub(super) total_cost_usd: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    pub(super) usage: Option<Usage>,
    #[serde(rename = "modelUsage", default, deserialize_with = "lenient")]
    pub(super) model_usage: Option<std::collections::BTreeMap<String, ModelUsage>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    pub(super) request_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) request: Option<&'a RawValue>,
}

/// A string field, borrowed when it holds no escape; any other JSON value
/// there counts as absent (skipped without building it).
fn lenient_str<'de: 'a, 'a, D>(d: D) -> Result<Option<Cow<'a, str>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct StrOrNot;
    impl<'de> serde::de::Visitor<'de> for StrOrNot {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(v)))
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_owned())))
        }
        fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v)))
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut a: A,
        ) -> Result<Self::Value, A::Error> {
            while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut a: A,
        ) -> Result<Self::Value, A::Error> {
            while a
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            Ok(None)
        }
    }
    d.deserialize_any(StrOrNot)
}

/// A field of an unexpected shape is absent, not a reason to drop the line.
/// Its text is taken as it stands in the line (validated, nothing built)
/// and read a second time as a `T`: building a `Value` first cost every
/// real assistant line a map of its `usage` (a third of its parse).
fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    let raw = <&'de RawValue>::deserialize(d)?;
    Ok(serde_json::from_str(raw.get()).ok())
}

#[derive(Deserialize, Default)]
pub(super) struct Usage {
    #[serde(default, deserialize_with = "lenient")]
    pub(super) input_tokens: Option<u64>,
    #[serde(default, deserialize_with = "lenient")]
    pub(super) cache_read_input_tokens: Option<u64>,
    #[serde(default, deserialize_with = "lenient")]
    pub(super) cache_creation_input_tokens: Option<u64>,
    #[serde(default, deserialize_with = "lenient")]
    pub(super) output_tokens: Option<u64>,
}

impl Usage {
    /// Input tokens, cached ones included.
    pub(super) fn input_total(&self) -> u64 {
        [
            self.input_tokens,
            self.cache_read_input_tokens,
            self.cache_creation_input_tokens,
        ]
        .into_iter()
        .flatten()
        .sum()
    }
}

#[derive(Deserialize)]
pub(super) struct ModelUsage {
    #[serde(rename = "contextWindow", default, deserialize_with = "lenient")]
    pub(super) context_window: Option<u64>,
}

/// An `assistant` or `user` message: its content blocks, and the usage of
/// the request that answered it.
#[derive(Deserialize)]
pub(super) struct Message<'a> {
    #[serde(borrow, default, deserialize_with = "blocks")]
    pub(super) content: Vec<Block<'a>>,
    #[serde(default, deserialize_with = "lenient")]
    pub(super) usage: Option<Usage>,
}

/// `message`: an object read as a `Message`; any other value is none.
fn message<'de: 'a, 'a, D>(d: D) -> Result<Option<Message<'a>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    d.deserialize_any(Shaped::<Message<'a>>(std::marker::PhantomData))
        .map(|s| match s {
            Shape::Object(m) => Some(m),
            _ => None,
        })
}

/// A content block: tool_use (`id`, `name`, `input`) or tool_result
/// (`tool_use_id`, `is_error`, `content`); a text block's text is skipped.
#[derive(Deserialize)]
pub(super) struct Block<'a> {
    #[serde(rename = "type", borrow, default, deserialize_with = "lenient_str")]
    pub(super) kind: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    pub(super) id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    pub(super) name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) input: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    pub(super) tool_use_id: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient")]
    pub(super) is_error: Option<bool>,
    #[serde(borrow, default)]
    pub(super) content: Option<&'a RawValue>,
}

/// `content` as blocks, read in place; a string (a plain user prompt) or
/// anything else has none, and an element that is not an object is skipped.
fn blocks<'de: 'a, 'a, D>(d: D) -> Result<Vec<Block<'a>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    d.deserialize_any(Shaped::<Block<'a>>(std::marker::PhantomData))
        .map(|s| match s {
            Shape::Array(blocks) => blocks,
            _ => Vec::new(),
        })
}

/// What a value read for `T` turned out to be: an object read as a `T`, an
/// array whose object elements were read as `T`s, or anything else (skipped,
/// nothing built).
enum Shape<T> {
    Object(T),
    Array(Vec<T>),
    Other,
}

struct Shaped<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Shape<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Shaped(std::marker::PhantomData))
    }
}

impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Shaped<T> {
    type Value = Shape<T>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, a: A) -> Result<Self::Value, A::Error> {
        T::deserialize(serde::de::value::MapAccessDeserializer::new(a)).map(Shape::Object)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(element) = a.next_element::<Shape<T>>()? {
            if let Shape::Object(t) = element {
                out.push(t);
            }
        }
        Ok(Shape::Array(out))
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Shape::Other)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Shape::Other)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Shape::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Shape::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Shape::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Shape::Other)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Shape::Other)
    }
}

#[derive(Deserialize)]
pub(super) struct ControlRequest<'a> {
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    pub(super) subtype: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    pub(super) tool_name: Option<Cow<'a, str>>,
    #[serde(default)]
    pub(super) input: Option<Value>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    pub(super) tool_use_id: Option<Cow<'a, str>>,
}
