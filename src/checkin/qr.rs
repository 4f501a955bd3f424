//! Rotating QR payloads: `ci.<session>.<slot>.<mac>`, where mac is a truncated
//! HMAC-SHA256 of "<session>.<slot>" under the session's secret. Any instance can
//! make and check one with no coordination; the current and previous slots pass.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Hex digits of the MAC kept in the payload (64 bits).
const MAC_LEN: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scene {
    pub session: i64,
    pub slot: i64,
}

fn mac(secret: &str, session: i64, slot: i64) -> String {
    // HMAC accepts a key of any length: this cannot fail.
    let Ok(mut m) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    m.update(format!("{session}.{slot}").as_bytes());
    let mut out = hex::encode(m.finalize().into_bytes());
    out.truncate(MAC_LEN);
    out
}

/// The slot an instant falls in.
pub fn slot_at(unix_seconds: i64, slot_seconds: i64) -> i64 {
    unix_seconds.div_euclid(slot_seconds.max(1))
}

/// The payload for a slot (at most 64 characters, WeChat's `scene_str` limit).
pub fn payload(secret: &str, session: i64, slot: i64) -> String {
    format!("ci.{session}.{slot}.{}", mac(secret, session, slot))
}

/// Splits a payload without checking its MAC: `None` unless it is ours.
pub fn parse(scene: &str) -> Option<(Scene, &str)> {
    let rest = scene.strip_prefix("ci.")?;
    let mut parts = rest.splitn(3, '.');
    let session = parts.next()?.parse().ok()?;
    let slot = parts.next()?.parse().ok()?;
    let mac = parts.next()?;
    (mac.len() == MAC_LEN).then_some((Scene { session, slot }, mac))
}

/// Constant-time check of the MAC.
pub fn verify(secret: &str, scene: Scene, given: &str) -> bool {
    let Ok(mut m) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    m.update(format!("{}.{}", scene.session, scene.slot).as_bytes());
    let full = m.finalize().into_bytes();
    let Ok(given) = hex::decode(given) else {
        return false;
    };
    let want = &full[..MAC_LEN / 2];
    given.len() == want.len()
        && given
            .iter()
            .zip(want)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Whether a slot is still accepted at `unix_seconds`: the current one or the one before.
pub fn fresh(slot: i64, unix_seconds: i64, slot_seconds: i64) -> bool {
    let now = slot_at(unix_seconds, slot_seconds);
    slot == now || slot == now - 1
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn payloads_verify_and_tampering_fails() {
        let p = payload("secret-1", 42, 29_000_000);
        assert!(p.len() <= 64, "{p}");
        let (scene, m) = parse(&p).unwrap();
        assert_eq!(
            scene,
            Scene {
                session: 42,
                slot: 29_000_000
            }
        );
        assert!(verify("secret-1", scene, m));
        assert!(!verify("secret-2", scene, m), "another session's secret");
        assert!(
            !verify(
                "secret-1",
                Scene {
                    session: 42,
                    slot: 29_000_001
                },
                m
            ),
            "another slot"
        );
        assert!(
            !verify(
                "secret-1",
                Scene {
                    session: 43,
                    slot: 29_000_000
                },
                m
            ),
            "another session"
        );
        assert!(parse("qrscene_ci.1.2.x").is_none());
        assert!(parse("ci.1.2").is_none());
        assert!(parse("ci.a.2.0123456789abcdef").is_none());
    }

    #[test]
    fn the_current_and_previous_slots_are_fresh() {
        let t = 1_800_000_000;
        let s = slot_at(t, 60);
        assert!(fresh(s, t, 60));
        assert!(fresh(s - 1, t, 60));
        assert!(!fresh(s - 2, t, 60), "older ones are refused");
        assert!(!fresh(s + 1, t, 60), "a slot from the future is forged");
    }
}
