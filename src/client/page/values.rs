//! The values of a page's fields, decoded leniently: field names matched in
//! place, any JSON value where a number or text is expected, labels in
//! whatever shape they come.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize as _;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// A field name of a page, an event or a label, matched where it lies in
/// the body: serde's `Cow<str>` would allocate a `String` for every key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Key {
    Events,
    Links,
    Statistics,
    Timestamp,
    SequenceNumber,
    SequenceNumberStr,
    LogId,
    Message,
    Labels,
    Id,
    Rel,
    Href,
    Other,
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(match v {
                    "events" => Key::Events,
                    "links" => Key::Links,
                    "statistics" => Key::Statistics,
                    "timestamp" => Key::Timestamp,
                    "sequence_number" => Key::SequenceNumber,
                    "sequence_number_str" => Key::SequenceNumberStr,
                    "log_id" => Key::LogId,
                    "message" => Key::Message,
                    "labels" => Key::Labels,
                    "id" => Key::Id,
                    "rel" => Key::Rel,
                    "href" => Key::Href,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

/// A message: borrowed from the body, or, when it had escapes or was not a
/// string, written into the page's scratch buffer (no allocation per event).
pub(super) enum Text<'a> {
    Body(&'a str),
    Scratch,
    /// In the scratch: an object or array message as its JSON text, written
    /// again by this client (a first decode; see [`TextSeed`]).
    ScratchJson,
    /// An object or array message: its JSON text exactly as the body has it
    /// (which is still not necessarily the text Rapid7 searched).
    Json(&'a str),
}

/// Any JSON value, kept only as far as an event field needs it.
pub(super) enum Any<'a> {
    Text(Cow<'a, str>),
    I64(i64),
    U64(u64),
    F64(f64),
    Other,
}

impl<'a> Any<'a> {
    pub(super) fn as_i64(&self) -> Option<i64> {
        match self {
            Any::I64(v) => Some(*v),
            Any::U64(v) => i64::try_from(*v).ok(),
            Any::F64(v) if v.fract() == 0.0 && v.abs() < 9.0e18 => Some(*v as i64),
            Any::Text(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub(super) fn as_u64(&self) -> Option<u64> {
        match self {
            Any::U64(v) => Some(*v),
            Any::I64(v) => u64::try_from(*v).ok(),
            Any::F64(v) if *v >= 0.0 && v.fract() == 0.0 && *v < 1.8e19 => Some(*v as u64),
            Any::Text(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub(super) fn into_text(self) -> Option<Cow<'a, str>> {
        match self {
            Any::Text(s) => Some(s),
            Any::I64(v) => Some(v.to_string().into()),
            Any::U64(v) => Some(v.to_string().into()),
            Any::F64(v) => Some(v.to_string().into()),
            Any::Other => None,
        }
    }
}

impl<'de> de::Deserialize<'de> for Any<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AnyVisitor)
    }
}

struct AnyVisitor;

impl<'de> Visitor<'de> for AnyVisitor {
    type Value = Any<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Any<'de>, E> {
        Ok(Any::Text(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Any<'de>, E> {
        Ok(Any::Text(Cow::Owned(v.to_string())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Any<'de>, E> {
        Ok(Any::Text(Cow::Owned(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Any<'de>, E> {
        Ok(Any::I64(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Any<'de>, E> {
        Ok(Any::U64(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Any<'de>, E> {
        Ok(Any::F64(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Any<'de>, E> {
        Ok(Any::Text(Cow::Borrowed(if v { "true" } else { "false" })))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Any<'de>, E> {
        Ok(Any::Other)
    }
    // An object or array message (some sources send parsed JSON) is kept as
    // its JSON text.
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Any<'de>, A::Error> {
        let v = serde_json::Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(Any::Text(Cow::Owned(v.to_string())))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Any<'de>, A::Error> {
        let v = serde_json::Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok(Any::Text(Cow::Owned(v.to_string())))
    }
}

/// A message value as text (see [`Any::into_text`]), borrowed where the body
/// allows, else written into `scratch`. With `exact_json`, an object or array
/// message is its JSON text exactly as the body has it (`serde_json`'s
/// `RawValue`: key order, spaces, number forms), and every other message as
/// without it. That costs about a tenth of the decode, so a page is decoded
/// with it only once a first decode has met an object (see `parse_page`).
pub(super) struct TextSeed<'a> {
    pub(super) scratch: &'a mut String,
    pub(super) exact_json: bool,
}

impl TextSeed<'_> {
    fn keep<'de>(self, text: &str) -> Option<Text<'de>> {
        self.scratch.clear();
        self.scratch.push_str(text);
        Some(Text::Scratch)
    }

    /// A message that is not a string, as [`Any::into_text`] reads it: one
    /// rule for numbers, booleans, `null`, and objects or arrays kept as
    /// their JSON text.
    fn keep_any<'de>(self, value: Any<'de>) -> Option<Text<'de>> {
        match value.into_text()? {
            Cow::Borrowed(text) => Some(Text::Body(text)),
            Cow::Owned(text) => {
                *self.scratch = text;
                Some(Text::Scratch)
            }
        }
    }
}

impl TextSeed<'_> {
    /// An object or array message, kept as its JSON text and marked so.
    fn keep_json<'de>(self, value: Any<'de>) -> Option<Text<'de>> {
        *self.scratch = value.into_text()?.into_owned();
        Some(Text::ScratchJson)
    }
}

impl<'de> DeserializeSeed<'de> for TextSeed<'_> {
    type Value = Option<Text<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        if !self.exact_json {
            return d.deserialize_any(self);
        }
        let raw: &'de RawValue = de::Deserialize::deserialize(d)?;
        let text = raw.get();
        if text.starts_with(['{', '[']) {
            return Ok(Some(Text::Json(text)));
        }
        // Anything else as the first decode reads it.
        let mut inner = serde_json::Deserializer::from_str(text);
        TextSeed {
            exact_json: false,
            ..self
        }
        .deserialize(&mut inner)
        .map_err(de::Error::custom)
    }
}

impl<'de> Visitor<'de> for TextSeed<'_> {
    type Value = Option<Text<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a message")
    }
    // Strings, nearly every message, without going through `Any`.
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Text::Body(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.keep(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        AnyVisitor.visit_i64(v).map(|a| self.keep_any(a))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        AnyVisitor.visit_u64(v).map(|a| self.keep_any(a))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        AnyVisitor.visit_f64(v).map(|a| self.keep_any(a))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        AnyVisitor.visit_bool(v).map(|a| self.keep_any(a))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        AnyVisitor.visit_unit().map(|a| self.keep_any(a))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        AnyVisitor.visit_map(map).map(|a| self.keep_json(a))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        AnyVisitor.visit_seq(seq).map(|a| self.keep_json(a))
    }
}

/// `labels`: objects with an `id` (or bare strings); anything else is skipped.
pub(super) struct Labels(pub(super) Vec<String>);

impl<'de> de::Deserialize<'de> for Labels {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Labels;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of labels")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Labels, E> {
                Ok(Labels(Vec::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Labels, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<LabelItem>()? {
                    if let Some(id) = v.0 {
                        out.push(id);
                    }
                }
                Ok(Labels(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Labels, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Labels(Vec::new()))
            }
            // Any other shape carries no label; the event itself stays good.
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Labels, E> {
                Ok(Labels(Vec::new()))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Labels, E> {
                Ok(Labels(Vec::new()))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Labels, E> {
                Ok(Labels(Vec::new()))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Labels, E> {
                Ok(Labels(Vec::new()))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Labels, E> {
                Ok(Labels(Vec::new()))
            }
        }
        d.deserialize_any(V)
    }
}

pub(super) struct LabelItem(Option<String>);

impl<'de> de::Deserialize<'de> for LabelItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LabelItem;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a label")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LabelItem, E> {
                Ok(LabelItem(Some(v.to_string())))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LabelItem, A::Error> {
                let mut id = None;
                while let Some(k) = map.next_key::<Key>()? {
                    if k == Key::Id {
                        id = map
                            .next_value::<Any<'de>>()?
                            .into_text()
                            .map(Cow::into_owned);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(LabelItem(id))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LabelItem, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(LabelItem(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<LabelItem, E> {
                Ok(LabelItem(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<LabelItem, E> {
                Ok(LabelItem(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<LabelItem, E> {
                Ok(LabelItem(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<LabelItem, E> {
                Ok(LabelItem(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<LabelItem, E> {
                Ok(LabelItem(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// The `visit_*` methods of the scalars (`null`, booleans, numbers, strings)
/// of a visitor for which any of them means "nothing here": `$none`.
macro_rules! none_for_scalars {
    ($none:expr) => {
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($none)
        }
    };
}

/// An event's `links`: the `href` of its `Context` link, if any (borrowed
/// from the body where it has no escapes). Any other shape has none.
pub(super) struct ContextLink<'a>(pub(super) Option<Cow<'a, str>>);

impl<'de> de::Deserialize<'de> for ContextLink<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ContextLink<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of links")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut found = None;
                while let Some(LinkItem(item)) = seq.next_element::<LinkItem<'de>>()? {
                    if found.is_none()
                        && let Some((rel, href)) = item
                        && rel.eq_ignore_ascii_case("context")
                    {
                        found = Some(href);
                    }
                }
                Ok(ContextLink(found))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(ContextLink(None))
            }
            none_for_scalars!(ContextLink(None));
        }
        d.deserialize_any(V)
    }
}

/// One link: `(rel, href)` when it has both as text.
struct LinkItem<'a>(Option<(Cow<'a, str>, Cow<'a, str>)>);

impl<'de> de::Deserialize<'de> for LinkItem<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LinkItem<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a link")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut rel, mut href) = (None, None);
                while let Some(k) = map.next_key::<Key>()? {
                    match k {
                        Key::Rel => rel = map.next_value::<Any<'de>>()?.into_text(),
                        Key::Href => href = map.next_value::<Any<'de>>()?.into_text(),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(LinkItem(rel.zip(href)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(LinkItem(None))
            }
            none_for_scalars!(LinkItem(None));
        }
        d.deserialize_any(V)
    }
}
