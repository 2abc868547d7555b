//! The behaviour every [`KvStore`] engine must show. Call [`run`] from an engine's tests.

use super::KvStore;

fn put(k: &[u8], v: &[u8]) -> super::Write {
    (k.to_vec(), Some(v.to_vec()))
}

fn keys<S: KvStore>(iter: super::Scan<'_>) -> Vec<Vec<u8>> {
    let _ = std::marker::PhantomData::<S>;
    iter.map(|r| match r {
        Ok((k, _)) => k,
        Err(e) => panic!("scan failed: {e}"),
    })
    .collect()
}

/// While a writer commits and flushes batches that each add an entry and an index key naming
/// it, a reader that scans the index always finds the entry (a batch is seen whole or not at
/// all, the way the watch stream and the log readers rely on).
fn readers_see_whole_batches<S: KvStore>(s: &S) {
    const ENTRIES: u64 = 20_000;
    const PER_BATCH: u64 = 20;
    let entry_key = |i: u64| [b"E".as_slice(), blake3::hash(&i.to_be_bytes()).as_bytes()].concat();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for first in (0..ENTRIES).step_by(PER_BATCH as usize) {
                let mut writes = Vec::new();
                for i in first..first + PER_BATCH {
                    // The index first: the node's batches come in any order.
                    writes.push((
                        [b"W".as_slice(), &i.to_be_bytes()].concat(),
                        Some(i.to_be_bytes().to_vec()),
                    ));
                    writes.push((entry_key(i), Some(vec![7u8; 300])));
                }
                s.apply(writes).expect("apply");
                s.flush().expect("flush");
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let mut next = 0u64;
        while next < ENTRIES {
            let finished = done.load(std::sync::atomic::Ordering::SeqCst);
            let from = [b"W".as_slice(), &next.to_be_bytes()].concat();
            let mut read = 0;
            for pair in s.scan_range(&from, b"X").take(1000) {
                let (_, v) = pair.expect("scan");
                let i = u64::from_be_bytes(v.as_slice().try_into().expect("8 bytes"));
                assert!(
                    s.get(&entry_key(i)).expect("get").is_some(),
                    "index {i} seen without its entry"
                );
                next = i + 1;
                read += 1;
            }
            assert!(
                !finished || read == 1000 || next == ENTRIES,
                "the reader saw {next} of {ENTRIES} after the writer finished"
            );
        }
    });
}

/// Runs every conformance check against fresh stores made by `make`. Panics on a violation.
pub fn run<S: KvStore>(make: impl Fn() -> S) {
    readers_see_whole_batches(&make());
    // get / put / delete.
    let s = make();
    assert_eq!(s.get(b"a").expect("get"), None);
    s.apply(vec![put(b"a", b"1"), put(b"b", b"2")])
        .expect("apply");
    assert_eq!(s.get(b"a").expect("get"), Some(b"1".to_vec()));
    s.apply(vec![(b"a".to_vec(), None), put(b"b", b"3")])
        .expect("apply");
    assert_eq!(s.get(b"a").expect("get"), None);
    assert_eq!(s.get(b"b").expect("get"), Some(b"3".to_vec()));

    // Later writes in one batch win.
    s.apply(vec![put(b"c", b"1"), put(b"c", b"2")])
        .expect("apply");
    assert_eq!(s.get(b"c").expect("get"), Some(b"2".to_vec()));

    // Ordered scans with byte-wise ordering, prefix bounds, and empty ranges.
    let s = make();
    s.apply(vec![
        put(b"p\x00", b""),
        put(b"p\x01\xff", b""),
        put(b"p\xff", b""),
        put(b"q", b""),
        put(b"o\xff", b""),
    ])
    .expect("apply");
    assert_eq!(
        keys::<S>(s.scan_prefix(b"p")),
        vec![b"p\x00".to_vec(), b"p\x01\xff".to_vec(), b"p\xff".to_vec()]
    );
    assert_eq!(
        keys::<S>(s.scan_range(b"p\x01", b"q")),
        vec![b"p\x01\xff".to_vec(), b"p\xff".to_vec()]
    );
    assert!(keys::<S>(s.scan_range(b"q", b"p")).is_empty());
    assert!(keys::<S>(s.scan_prefix(b"z")).is_empty());
    assert_eq!(
        keys::<S>(s.scan_prefix_rev(b"p")),
        vec![b"p\xff".to_vec(), b"p\x01\xff".to_vec(), b"p\x00".to_vec()]
    );
    assert_eq!(
        keys::<S>(s.scan_prefix_rev(b"p\x01")),
        vec![b"p\x01\xff".to_vec()]
    );
    assert!(keys::<S>(s.scan_prefix_rev(b"z")).is_empty());
    assert_eq!(
        s.last_with_prefix(b"p").expect("last").map(|(k, _)| k),
        Some(b"p\xff".to_vec())
    );
    assert_eq!(s.last_with_prefix(b"x").expect("last"), None);

    // Big values and many keys.
    let s = make();
    let big = vec![7u8; 64 * 1024];
    let mut writes = vec![put(b"big", &big)];
    for i in 0u32..2_000 {
        writes.push(put(
            &[b"n".as_slice(), &i.to_be_bytes()].concat(),
            &i.to_le_bytes(),
        ));
    }
    s.apply(writes).expect("apply");
    s.flush().expect("flush");
    assert_eq!(s.get(b"big").expect("get"), Some(big));
    assert_eq!(s.scan_prefix(b"n").count(), 2_000);
    // A reverse scan taken a few at a time yields the newest keys first.
    let last: Vec<Vec<u8>> = s
        .scan_prefix_rev(b"n")
        .take(3)
        .map(|p| p.expect("scan").0)
        .collect();
    let n = |i: u32| [b"n".as_slice(), &i.to_be_bytes()].concat();
    assert_eq!(last, vec![n(1_999), n(1_998), n(1_997)]);
    let _ = s.size_on_disk().expect("size");
}
