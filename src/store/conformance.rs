//! One behaviour suite every live-store backend must pass.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use futures_util::StreamExt;

use super::{Claim, Claimed, LiveStore, Write};

pub async fn run_all(store: &dyn LiveStore) {
    get_set_delete(store).await;
    set_nx_is_exclusive_and_expires(store).await;
    delete_if_eq_only_deletes_matching(store).await;
    incr_is_atomic_and_keeps_ttl(store).await;
    expire_and_ttl(store).await;
    publish_reaches_subscribers(store).await;
    claim_guards_claims_and_reads(store).await;
    write_behind_lands_in_order(store).await;
    store.ping().await.unwrap();
}

async fn get_set_delete(s: &dyn LiveStore) {
    assert_eq!(s.get("a").await.unwrap(), None);
    s.set("a", b"1", None).await.unwrap();
    assert_eq!(s.get("a").await.unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(s.ttl("a").await.unwrap(), None, "no ttl was given");
    s.set("a", b"2", Some(Duration::from_millis(150)))
        .await
        .unwrap();
    assert_eq!(s.get("a").await.unwrap().as_deref(), Some(&b"2"[..]));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.get("a").await.unwrap(), None, "expired");
    s.set("b", b"x", None).await.unwrap();
    assert!(s.delete("b").await.unwrap());
    assert!(!s.delete("b").await.unwrap());
    assert_eq!(s.get("b").await.unwrap(), None);
}

async fn set_nx_is_exclusive_and_expires(s: &dyn LiveStore) {
    let ttl = Duration::from_millis(200);
    assert!(s.set_nx("nx", b"first", ttl).await.unwrap());
    assert!(!s.set_nx("nx", b"second", ttl).await.unwrap());
    assert_eq!(s.get("nx").await.unwrap().as_deref(), Some(&b"first"[..]));
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(
        s.set_nx("nx", b"third", ttl).await.unwrap(),
        "free again after expiry"
    );

    // Many racing callers: exactly one wins.
    let wins = futures_util::future::join_all((0..20).map(|i| async move {
        s.set_nx("race", i.to_string().as_bytes(), Duration::from_secs(5))
            .await
            .unwrap()
    }))
    .await;
    assert_eq!(wins.iter().filter(|w| **w).count(), 1);
}

async fn delete_if_eq_only_deletes_matching(s: &dyn LiveStore) {
    s.set("lock", b"owner-a", Some(Duration::from_secs(5)))
        .await
        .unwrap();
    assert!(!s.delete_if_eq("lock", b"owner-b").await.unwrap());
    assert!(s.get("lock").await.unwrap().is_some());
    assert!(s.delete_if_eq("lock", b"owner-a").await.unwrap());
    assert_eq!(s.get("lock").await.unwrap(), None);
    assert!(!s.delete_if_eq("missing", b"x").await.unwrap());
}

async fn incr_is_atomic_and_keeps_ttl(s: &dyn LiveStore) {
    let ttl = Some(Duration::from_secs(30));
    let all = futures_util::future::join_all((0..50).map(|_| s.incr("n", 1, ttl))).await;
    let mut seen: Vec<i64> = all.into_iter().map(|r| r.unwrap()).collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=50).collect::<Vec<_>>(),
        "each increment observed once"
    );
    assert_eq!(s.incr("n", -10, None).await.unwrap(), 40);
    let left = s
        .ttl("n")
        .await
        .unwrap()
        .expect("ttl set on creation is kept");
    assert!(left <= Duration::from_secs(30) && left > Duration::from_secs(20));
    assert_eq!(s.incr("fresh", 5, None).await.unwrap(), 5);
    assert_eq!(s.ttl("fresh").await.unwrap(), None);
    s.set("text", b"abc", None).await.unwrap();
    assert!(s.incr("text", 1, None).await.is_err(), "not an integer");
}

async fn expire_and_ttl(s: &dyn LiveStore) {
    assert!(!s.expire("nothing", Duration::from_secs(1)).await.unwrap());
    s.set("e", b"v", None).await.unwrap();
    assert!(s.expire("e", Duration::from_millis(150)).await.unwrap());
    assert!(s.ttl("e").await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.get("e").await.unwrap(), None);
    assert_eq!(s.ttl("e").await.unwrap(), None);
}

async fn publish_reaches_subscribers(s: &dyn LiveStore) {
    let mut a = s.subscribe("chan").await.unwrap();
    let mut b = s.subscribe("chan").await.unwrap();
    let mut other = s.subscribe("other").await.unwrap();
    s.publish("chan", b"hello").await.unwrap();
    s.publish("chan", b"world").await.unwrap();
    for sub in [&mut a, &mut b] {
        let got = tokio::time::timeout(Duration::from_secs(2), sub.next())
            .await
            .unwrap();
        assert_eq!(got.as_deref(), Some(&b"hello"[..]));
        let got = tokio::time::timeout(Duration::from_secs(2), sub.next())
            .await
            .unwrap();
        assert_eq!(got.as_deref(), Some(&b"world"[..]));
    }
    let nothing = tokio::time::timeout(Duration::from_millis(200), other.next()).await;
    assert!(nothing.is_err(), "other channel received nothing");
    // Publishing with no subscriber is fine.
    s.publish("nobody", b"x").await.unwrap();
}

async fn claim_guards_claims_and_reads(s: &dyn LiveStore) {
    let ttl = Duration::from_secs(5);
    s.set("cached", b"session", None).await.unwrap();
    let reads = ["cached".to_owned(), "absent".to_owned()];
    let claim = |guard: &'static [u8], marker: &'static [u8]| Claim {
        guard: Some(("g", guard, ttl)),
        claim: ("c", marker, Duration::from_millis(200)),
        reads: &reads,
    };
    let first = s.claim(claim(b"body-1", b"P1")).await.unwrap();
    assert_eq!(
        first,
        Claimed::Done {
            held: None,
            reads: vec![Some(b"session".to_vec()), None],
        },
        "the first call sets both keys and reads"
    );
    assert_eq!(s.get("g").await.unwrap().as_deref(), Some(&b"body-1"[..]));
    assert_eq!(s.get("c").await.unwrap().as_deref(), Some(&b"P1"[..]));
    assert!(s.ttl("c").await.unwrap().is_some(), "the claim expires");
    // The same guard value passes and finds the claim held.
    match s.claim(claim(b"body-1", b"P2")).await.unwrap() {
        Claimed::Done { held, reads } => {
            assert_eq!(held.as_deref(), Some(&b"P1"[..]));
            assert_eq!(reads.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    // Another guard value stops before the claim: nothing taken.
    s.delete("c").await.unwrap();
    assert_eq!(
        s.claim(claim(b"body-2", b"P3")).await.unwrap(),
        Claimed::GuardMismatch
    );
    assert_eq!(
        s.get("c").await.unwrap(),
        None,
        "a refused claim takes nothing"
    );
    // The claim lapses with its ttl; no guard is needed.
    s.set("c", b"P1", Some(Duration::from_millis(150)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let later = s
        .claim(Claim {
            guard: None,
            claim: ("c", b"P4", ttl),
            reads: &[],
        })
        .await
        .unwrap();
    assert_eq!(
        later,
        Claimed::Done {
            held: None,
            reads: vec![]
        }
    );
    // Many racing callers: exactly one claims.
    let wins = futures_util::future::join_all((0..20).map(|i| async move {
        let marker = i.to_string();
        match s
            .claim(Claim {
                guard: None,
                claim: ("race-claim", marker.as_bytes(), ttl),
                reads: &[],
            })
            .await
            .unwrap()
        {
            Claimed::Done { held, .. } => held.is_none(),
            Claimed::GuardMismatch => false,
        }
    }))
    .await;
    assert_eq!(wins.iter().filter(|w| **w).count(), 1);
}

async fn write_behind_lands_in_order(s: &dyn LiveStore) {
    let mut sub = s.subscribe("behind").await.unwrap();
    s.write_behind(Write::Set {
        key: "wb".into(),
        value: b"1".to_vec(),
        ttl: None,
    });
    s.write_behind(Write::Set {
        key: "wb".into(),
        value: b"2".to_vec(),
        ttl: Some(Duration::from_secs(30)),
    });
    s.write_behind(Write::Publish {
        channel: "behind".into(),
        message: b"done".to_vec(),
    });
    let got = tokio::time::timeout(Duration::from_secs(2), sub.next())
        .await
        .unwrap();
    assert_eq!(got.as_deref(), Some(&b"done"[..]));
    // The publish went out after the writes queued before it.
    assert_eq!(s.get("wb").await.unwrap().as_deref(), Some(&b"2"[..]));
    assert!(s.ttl("wb").await.unwrap().is_some());
}
