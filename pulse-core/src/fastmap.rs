//! The hash map the core's lookup tables use.

/// A `HashMap` with FxHash (rustc-hash), for the catalog's, the parser's and
/// the tracker's maps.
///
/// Not SipHash: its code is 0.7 KB of the gzipped .wasm, and it gave no
/// flooding resistance here anyway (identity hashes used fixed keys). A
/// collision costs a lookup in a short overflow list, never a wrong answer.
pub(crate) type FastMap<K, V> = rustc_hash::FxHashMap<K, V>;
