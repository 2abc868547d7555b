//! The tree and its proofs against the RFC's recursive definitions written out naively (a
//! different computation from the iterative one above), against published test vectors, and
//! against tampering.

use super::*;

/// MTH(D[n]) exactly as RFC 9162 §2.1.1 defines it, on slices.
fn mth(d: &[Vec<u8>]) -> Hash {
    match d.len() {
        0 => Sha256::digest([]).into(),
        1 => {
            let mut x = vec![0u8];
            x.extend_from_slice(&d[0]);
            Sha256::digest(&x).into()
        }
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            let mut x = vec![1u8];
            x.extend_from_slice(&mth(&d[..k]));
            x.extend_from_slice(&mth(&d[k..]));
            Sha256::digest(&x).into()
        }
    }
}

fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// PATH(m, D[n]), RFC 9162 §2.1.3.1.
fn path(m: usize, d: &[Vec<u8>]) -> Vec<Hash> {
    if d.len() <= 1 {
        return vec![];
    }
    let k = k_of(d.len());
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

/// SUBPROOF(m, D[n], b), RFC 9162 §2.1.4.1.
fn subproof(m: usize, d: &[Vec<u8>], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = k_of(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

fn leaves(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| blake3::hash(&(i as u64).to_be_bytes()).as_bytes().to_vec())
        .collect()
}

fn tree_of(d: &[Vec<u8>]) -> Tree {
    let mut t = Tree::new();
    for x in d {
        t.push(x);
    }
    t
}

fn unwrap<T>(r: Result<T, std::convert::Infallible>) -> T {
    match r {
        Ok(v) => v,
        Err(never) => match never {},
    }
}

#[test]
fn the_rfc_6962_test_vectors() {
    // certificate-transparency's reference leaves and the roots of their prefixes.
    let d: Vec<Vec<u8>> = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|h| hex::decode(h).expect("hex"))
    .collect();
    let roots = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    let t = tree_of(&d);
    for (i, want) in roots.iter().enumerate() {
        let size = i as u64 + 1;
        assert_eq!(
            hex::encode(t.root_at(size).expect("within")),
            *want,
            "size {size}"
        );
    }
    assert_eq!(
        hex::encode(empty_root()),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn every_tree_up_to_64_leaves_matches_the_definitions() {
    let all = leaves(64);
    let t = tree_of(&all);
    for n in 1..=64usize {
        let d = &all[..n];
        let root = t.root_at(n as u64).expect("within");
        assert_eq!(root, mth(d), "root of {n}");
        for m in 0..n {
            let proof = unwrap(inclusion_proof(&t, m as u64, n as u64)).expect("in range");
            assert_eq!(proof, path(m, d), "path {m} of {n}");
            verify_inclusion(&leaf_hash(&d[m]), m as u64, n as u64, &proof, &root)
                .unwrap_or_else(|e| panic!("inclusion {m} of {n}: {e}"));
        }
        for m in 1..=n {
            let proof = unwrap(consistency_proof(&t, m as u64, n as u64)).expect("in range");
            assert_eq!(proof, subproof(m, d, true), "proof {m} -> {n}");
            verify_consistency(m as u64, n as u64, &mth(&d[..m]), &root, &proof)
                .unwrap_or_else(|e| panic!("consistency {m} -> {n}: {e}"));
        }
    }
}

#[test]
fn random_larger_trees_match_the_definitions() {
    let all = leaves(5_000);
    let t = tree_of(&all);
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = |below: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % below
    };
    for _ in 0..40 {
        let n = 65 + next(4_936);
        let m = next(n);
        let old = 1 + next(n);
        let d = &all[..n as usize];
        let root = t.root_at(n).expect("within");
        assert_eq!(root, mth(d));
        let proof = unwrap(inclusion_proof(&t, m, n)).expect("in range");
        assert_eq!(proof, path(m as usize, d));
        verify_inclusion(&leaf_hash(&d[m as usize]), m, n, &proof, &root).expect("inclusion");
        let proof = unwrap(consistency_proof(&t, old, n)).expect("in range");
        assert_eq!(proof, subproof(old as usize, d, true));
        let old_root = t.root_at(old).expect("within");
        verify_consistency(old, n, &old_root, &root, &proof).expect("consistency");
    }
}

#[test]
fn any_change_to_a_proof_or_its_claims_is_detected() {
    let all = leaves(37);
    let t = tree_of(&all);
    let (m, n, old) = (13u64, 37u64, 21u64);
    let root = t.root_at(n).expect("within");
    let old_root = t.root_at(old).expect("within");
    let leaf = leaf_hash(&all[m as usize]);
    let inc = unwrap(inclusion_proof(&t, m, n)).expect("in range");
    let con = unwrap(consistency_proof(&t, old, n)).expect("in range");
    for i in 0..inc.len() {
        for bit in [0usize, 100, 255] {
            let mut bad = inc.clone();
            bad[i][bit / 8] ^= 1 << (bit % 8);
            assert!(verify_inclusion(&leaf, m, n, &bad, &root).is_err());
        }
    }
    for i in 0..con.len() {
        let mut bad = con.clone();
        bad[i][7] ^= 0x40;
        assert!(verify_consistency(old, n, &old_root, &root, &bad).is_err());
    }
    let mut wrong_leaf = leaf;
    wrong_leaf[0] ^= 1;
    assert!(verify_inclusion(&wrong_leaf, m, n, &inc, &root).is_err());
    assert!(verify_inclusion(&leaf, m + 1, n, &inc, &root).is_err());
    // A size with another path shape fails (the size is bound to the root by the checkpoint).
    assert!(verify_inclusion(&leaf, m, 16, &inc, &root).is_err());
    assert!(verify_inclusion(&leaf, m, 2 * n, &inc, &root).is_err());
    assert!(verify_inclusion(&leaf, m, n, &inc[1..], &root).is_err());
    let mut longer = inc.clone();
    longer.push(root);
    assert!(verify_inclusion(&leaf, m, n, &longer, &root).is_err());
    assert_eq!(
        verify_inclusion(&leaf, n, n, &inc, &root),
        Err(ProofError::OutOfRange)
    );
    assert!(verify_consistency(old + 1, n, &old_root, &root, &con).is_err());
    assert!(verify_consistency(old, n, &root, &root, &con).is_err());
    assert!(verify_consistency(old, n, &old_root, &old_root, &con).is_err());
    assert!(verify_consistency(old, n, &old_root, &root, &con[1..]).is_err());
    assert_eq!(
        verify_consistency(n, old, &root, &old_root, &con),
        Err(ProofError::OutOfRange)
    );
    assert!(verify_consistency(0, n, &empty_root(), &root, &[]).is_ok());
    assert!(verify_consistency(n, n, &root, &root, &[]).is_ok());
    assert!(verify_consistency(n, n, &root, &old_root, &[]).is_err());
    let too_long = vec![[0u8; 32]; MAX_PROOF_HASHES + 1];
    assert_eq!(
        verify_inclusion(&leaf, m, n, &too_long, &root),
        Err(ProofError::WrongLength)
    );
}

#[test]
fn a_truncated_tree_grows_again_to_the_same_roots() {
    let all = leaves(100);
    let mut t = tree_of(&all);
    let want = t.root_at(100).expect("within");
    t.truncate(37);
    assert_eq!(t.size(), 37);
    assert_eq!(t.root_at(37), Some(mth(&all[..37])));
    assert_eq!(t.root_at(38), None);
    for x in &all[37..] {
        t.push(x);
    }
    assert_eq!(t.root_at(100), Some(want));
}
