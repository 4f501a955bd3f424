//! Exact decimals in TOML and in text.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// Shortest exact text of a decimal: `72`, `21.5`, `-0.5`; never `72.0` or `-0`.
pub fn fmt_dec(d: Decimal) -> String {
    if d.is_zero() {
        return "0".to_owned();
    }
    d.normalize().to_string()
}

/// Parses decimal text exactly, accepting an exponent (`1e2`) as JSON allows.
pub fn parse_dec(text: &str) -> Option<Decimal> {
    let t = text.trim();
    if t.contains(['e', 'E']) {
        Decimal::from_scientific(t).ok()
    } else {
        Decimal::from_str(t).ok()
    }
}

/// A decimal read from TOML: an integer, a float (taken by its shortest
/// round-trip text, which is the literal as written) or a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Dec(pub Decimal);

impl<'de> Deserialize<'de> for Dec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dec, E> {
                Ok(Dec(Decimal::from(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Dec, E> {
                Ok(Dec(Decimal::from(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Dec, E> {
                // f64's Display is the shortest text that reads back to the same
                // value, i.e. the literal the author wrote.
                parse_dec(&v.to_string())
                    .map(Dec)
                    .ok_or_else(|| E::custom(format!("not a finite number: {v}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Dec, E> {
                parse_dec(v)
                    .map(Dec)
                    .ok_or_else(|| E::custom(format!("not a number: \"{v}\"")))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_without_trailing_zeros() {
        assert_eq!(fmt_dec(Decimal::new(720, 1)), "72");
        assert_eq!(fmt_dec(Decimal::new(215, 1)), "21.5");
        assert_eq!(fmt_dec(Decimal::new(-0, 2)), "0");
        assert_eq!(fmt_dec(Decimal::new(-50, 2)), "-0.5");
    }

    #[test]
    fn parses_exponents_exactly() {
        assert_eq!(parse_dec("1e2"), Some(Decimal::from(100)));
        assert_eq!(parse_dec("0.1"), Some(Decimal::new(1, 1)));
        assert_eq!(parse_dec("x"), None);
    }

    #[test]
    fn toml_floats_keep_their_literal() {
        #[derive(Deserialize)]
        struct T {
            a: Dec,
            b: Dec,
            c: Dec,
        }
        let t: T = match toml::from_str("a = 0.1\nb = 7\nc = \"2.5\"") {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(t.a.0, Decimal::new(1, 1));
        assert_eq!(t.b.0, Decimal::from(7));
        assert_eq!(t.c.0, Decimal::new(25, 1));
    }
}
