//! Series identity: which samples are the same series (rules 1 and 4).
//!
//! A series is its sample name, its labels sorted by name and its `_created`
//! when LiteLLM exposes one. They are encoded once into a byte key,
//! length-prefixed so distinct series never share an encoding, and the
//! tracker's maps are keyed by a 64-bit hash of it: a known series then costs
//! no allocation. A hash hit is always checked against the stored key.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::expo::Label;
use crate::sort::stable_order;

/// Hasher for keys that already are 64-bit hashes.
#[derive(Default)]
pub(super) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A map keyed by identity hashes, which are used as they are.
pub(super) type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// Labels as persisted: `(name, value)` sorted by name.
pub(super) type OwnedLabels = Vec<(String, String)>;

/// An encoded identity, shared between the tracker's entry and the change
/// sets that hand it out.
pub(super) type SharedKey = std::sync::Arc<[u8]>;

/// Appends the name and labels of a series to `key` (labels sorted by name,
/// `order` is scratch space) and returns the hash of what it appended: the
/// identity without `_created`.
pub(super) fn encode_base(
    key: &mut Vec<u8>,
    order: &mut Vec<u32>,
    name: &str,
    labels: &[Label<'_>],
) -> u64 {
    let start = key.len();
    sort_order(labels, order);
    push_base(key, name, labels, order);
    hash_bytes(&key[start..])
}

/// Appends `_created` to a key from [`encode_base`] and returns the hash of
/// the whole identity.
pub(super) fn encode_created(key: &mut Vec<u8>, base_hash: u64, created: Option<f64>) -> u64 {
    push_created(key, created);
    identity_hash(base_hash, created)
}

fn push_str(buf: &mut Vec<u8>, s: &str) {
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(s.as_bytes());
}

/// Encodes name and labels (in `order`, or as written when `order` is empty):
/// length-prefixed, so distinct series never share an encoding.
fn push_base(buf: &mut Vec<u8>, name: &str, labels: &[Label<'_>], order: &[u32]) {
    push_str(buf, name);
    let count = u32::try_from(labels.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&count.to_le_bytes());
    if order.is_empty() {
        for l in labels {
            push_str(buf, l.name);
            push_str(buf, &l.value());
        }
    } else {
        for &i in order {
            if let Some(l) = labels.get(i as usize) {
                push_str(buf, l.name);
                push_str(buf, &l.value());
            }
        }
    }
}

/// Appends the `_created` part of the identity.
fn push_created(buf: &mut Vec<u8>, created: Option<f64>) {
    match created {
        None => buf.push(0),
        Some(c) => {
            buf.push(1);
            buf.extend_from_slice(&c.to_bits().to_le_bytes());
        }
    }
}

/// Fills `order` with the label positions sorted by name, or leaves it empty
/// when the labels are already sorted (prometheus_client always sorts them).
fn sort_order(labels: &[Label<'_>], order: &mut Vec<u32>) {
    order.clear();
    if labels.windows(2).all(|w| w[0].name <= w[1].name) {
        return;
    }
    let sorted = stable_order(labels.len(), &|a, b| labels[a].name.cmp(labels[b].name));
    order.extend(
        sorted
            .into_iter()
            .map(|i| u32::try_from(i).unwrap_or(u32::MAX)),
    );
}

/// A series identity hash: FxHash of the encoded identity, spread by a
/// splitmix64 finish because [`IdMap`] uses it as is.
fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    h.write(bytes);
    mix(h.finish())
}

/// splitmix64 finaliser, to fold `_created` into an identity hash.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn identity_hash(base_hash: u64, created: Option<f64>) -> u64 {
    match created {
        None => base_hash,
        Some(c) => base_hash ^ mix(c.to_bits()),
    }
}

/// The identity of a series given as persisted (labels already sorted by
/// name): the same bytes [`encode_base`] and [`encode_created`] write.
pub(super) fn encode_owned(
    sample: &str,
    labels: &[(String, String)],
    created: Option<f64>,
) -> Vec<u8> {
    let mut key = Vec::new();
    push_str(&mut key, sample);
    let count = u32::try_from(labels.len()).unwrap_or(u32::MAX);
    key.extend_from_slice(&count.to_le_bytes());
    for (n, v) in labels {
        push_str(&mut key, n);
        push_str(&mut key, v);
    }
    push_created(&mut key, created);
    key
}

/// An encoded identity read in place: its sample name, label count and
/// where the labels start, or `None` when it is not one.
pub(super) fn read_head(key: &[u8]) -> Option<(&str, u32, usize)> {
    let mut pos = 0;
    let name = read_str(key, &mut pos)?;
    let count_bytes: [u8; 4] = key.get(pos..pos + 4)?.try_into().ok()?;
    Some((name, u32::from_le_bytes(count_bytes), pos + 4))
}

/// The label at `pos` of an encoded identity, moving `pos` past it.
pub(super) fn read_label<'k>(key: &'k [u8], pos: &mut usize) -> Option<(&'k str, &'k str)> {
    Some((read_str(key, pos)?, read_str(key, pos)?))
}

/// The `_created` part of an encoded identity that starts at `pos`.
pub(super) fn read_created(key: &[u8], pos: usize) -> Option<Option<f64>> {
    match key.get(pos)? {
        0 => Some(None),
        _ => {
            let bits: [u8; 8] = key.get(pos + 1..pos + 9)?.try_into().ok()?;
            Some(Some(f64::from_bits(u64::from_le_bytes(bits))))
        }
    }
}

/// Reads a length-prefixed string written by [`push_str`].
fn read_str<'k>(key: &'k [u8], pos: &mut usize) -> Option<&'k str> {
    let len_bytes: [u8; 4] = key.get(*pos..*pos + 4)?.try_into().ok()?;
    let len = u32::from_le_bytes(len_bytes) as usize;
    let s = key.get(*pos + 4..*pos + 4 + len)?;
    *pos += 4 + len;
    std::str::from_utf8(s).ok()
}

/// Decodes an identity written by [`encode_base`] and [`encode_created`]:
/// sample name, labels sorted by name, `_created`.
pub(super) fn decode_key(key: &[u8]) -> Option<(String, OwnedLabels, Option<f64>)> {
    let (name, count, mut pos) = read_head(key)?;
    let mut labels = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let (n, v) = read_label(key, &mut pos)?;
        labels.push((n.to_owned(), v.to_owned()));
    }
    Some((name.to_owned(), labels, read_created(key, pos)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_decode_back() {
        let mut key = Vec::new();
        let labels = [Label::new("z", "ünï \"q\"")];
        push_base(&mut key, "n", &labels, &[]);
        push_created(&mut key, Some(1.5));
        assert_eq!(
            decode_key(&key),
            Some((
                "n".to_owned(),
                vec![("z".to_owned(), "ünï \"q\"".to_owned())],
                Some(1.5)
            ))
        );
        assert_eq!(decode_key(&key[..key.len() - 1]), None);
    }
}
