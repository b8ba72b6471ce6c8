//! Series identity: which samples are the same series (rules 1 and 4).
//!
//! A series is its sample name, its labels sorted by name and its `_created`
//! when LiteLLM exposes one. They are encoded once into a byte key,
//! length-prefixed so distinct series never share an encoding, and the
//! tracker's maps are keyed by a 64-bit hash of it: a known series then costs
//! no allocation. A hash hit is always checked against the stored key.
//!
//! A stored identity ([`Key`]) keeps the parts of that encoding, its sample
//! name and its label set each shared with every other stored series that
//! has them (feature `shared-keys`).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

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

/// A stored identity, shared between the tracker's entry and the change
/// sets that hand it out.
pub(super) type SharedKey = Arc<Key>;

/// A series' identity as the tracker stores it: the parts of its encoding
/// ([`encode_base`], [`encode_created`]), with the sample name and the label
/// set each shared by every stored series that has them ([`Shared`]).
/// LiteLLM exposes each label set under several counter families, so a
/// series costs a pointer to its labels rather than a copy of them.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct Key {
    /// The sample name (UTF-8: it is kept as bytes so that names and label
    /// sets share one set type, which keeps the .wasm smaller).
    sample: Arc<[u8]>,
    /// The label count and the labels, as [`push_base`] writes them after
    /// the sample name.
    labels: Arc<[u8]>,
    /// The bits of `_created`.
    created: Option<u64>,
}

impl Key {
    /// The identity of `sample` with `labels` (sorted by name) and
    /// `created`, sharing nothing.
    pub(super) fn owned(sample: &str, labels: &[(String, String)], created: Option<f64>) -> Key {
        let mut bytes = Vec::new();
        push_labels(&mut bytes, labels.len(), labels.iter().map(|(n, v)| (n, v)));
        Key {
            sample: sample.as_bytes().into(),
            labels: bytes.into(),
            created: created.map(f64::to_bits),
        }
    }

    /// Whether `encoded` (from [`encode_base`] and [`encode_created`] with
    /// `created`) is this identity. Not inlined: the tracker's two lookups
    /// share it (smaller .wasm).
    #[inline(never)]
    pub(super) fn is(&self, encoded: &[u8], created: Option<f64>) -> bool {
        self.created == created.map(f64::to_bits)
            && split(encoded, created)
                .is_some_and(|(sample, labels)| *sample == *self.sample && *labels == *self.labels)
    }

    /// The sample name.
    pub(super) fn sample(&self) -> &str {
        std::str::from_utf8(&self.sample).unwrap_or_default()
    }

    /// The label count and the encoded labels, which start at byte 4.
    pub(super) fn labels(&self) -> (u32, &[u8]) {
        let count = self
            .labels
            .first_chunk::<4>()
            .map_or(0, |c| u32::from_le_bytes(*c));
        (count, &self.labels)
    }

    /// The `_created` timestamp in seconds.
    pub(super) fn created(&self) -> Option<f64> {
        self.created.map(f64::from_bits)
    }
}

/// The sample names and label sets of a tracker's stored identities, each
/// kept once (feature `shared-keys`; without it, each identity has its own).
#[derive(Debug, Clone, Default)]
pub(super) struct Shared {
    #[cfg(feature = "shared-keys")]
    samples: Kept,
    #[cfg(feature = "shared-keys")]
    labelsets: Kept,
}

/// Byte strings kept once.
#[cfg(feature = "shared-keys")]
type Kept = rustc_hash::FxHashSet<Arc<[u8]>>;

impl Shared {
    /// The stored form of an identity that [`encode_base`] and
    /// [`encode_created`] (with `created`) encoded, sharing its name and
    /// labels with the identities stored before; `None` when `encoded` is
    /// too short to be one.
    #[cfg(feature = "shared-keys")]
    pub(super) fn key(&mut self, encoded: &[u8], created: Option<f64>) -> Option<SharedKey> {
        let (sample, labels) = split(encoded, created)?;
        Some(Arc::new(Key {
            sample: share(&mut self.samples, sample),
            labels: share(&mut self.labelsets, labels),
            created: created.map(f64::to_bits),
        }))
    }

    /// The stored form of an identity that [`encode_base`] and
    /// [`encode_created`] (with `created`) encoded (without feature
    /// `shared-keys`, sharing nothing); `None` when `encoded` is too short
    /// to be one.
    #[cfg(not(feature = "shared-keys"))]
    pub(super) fn key(&mut self, encoded: &[u8], created: Option<f64>) -> Option<SharedKey> {
        Shared::alone(encoded, created)
    }

    /// [`Shared::key`] without sharing: for an identity the tracker hands
    /// out but does not keep.
    pub(super) fn alone(encoded: &[u8], created: Option<f64>) -> Option<SharedKey> {
        let (sample, labels) = split(encoded, created)?;
        Some(Arc::new(Key {
            sample: sample.into(),
            labels: labels.into(),
            created: created.map(f64::to_bits),
        }))
    }

    /// Forgets the names and label sets no stored identity uses any more.
    pub(super) fn prune(&mut self) {
        #[cfg(feature = "shared-keys")]
        self.samples.retain(|s| Arc::strong_count(s) > 1);
        #[cfg(feature = "shared-keys")]
        self.labelsets.retain(|l| Arc::strong_count(l) > 1);
    }
}

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
    fn pair<'l>(l: &'l Label<'_>) -> (&'l str, std::borrow::Cow<'l, str>) {
        (l.name, l.value())
    }
    if order.is_empty() {
        push_labels(buf, labels.len(), labels.iter().map(pair));
    } else {
        let ordered = order.iter().filter_map(|&i| labels.get(i as usize));
        push_labels(buf, labels.len(), ordered.map(pair));
    }
}

/// Appends the label count and the labels, each name and value
/// length-prefixed: the part of an identity after its name ([`Key::labels`]).
fn push_labels<N: AsRef<str>, V: AsRef<str>>(
    buf: &mut Vec<u8>,
    count: usize,
    labels: impl Iterator<Item = (N, V)>,
) {
    let count = u32::try_from(count).unwrap_or(u32::MAX);
    buf.extend_from_slice(&count.to_le_bytes());
    for (name, value) in labels {
        push_str(buf, name.as_ref());
        push_str(buf, value.as_ref());
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

/// The label at `pos` of an encoded identity, moving `pos` past it.
pub(super) fn read_label<'k>(key: &'k [u8], pos: &mut usize) -> Option<(&'k str, &'k str)> {
    Some((read_str(key, pos)?, read_str(key, pos)?))
}

/// The sample name and the labels (count first) of an identity that
/// [`encode_base`] and [`encode_created`] (with `created`) encoded.
fn split(encoded: &[u8], created: Option<f64>) -> Option<(&[u8], &[u8])> {
    let name_end = 4 + u32::from_le_bytes(*encoded.first_chunk::<4>()?) as usize;
    let tail = if created.is_some() { 9 } else { 1 };
    let sample = encoded.get(4..name_end)?;
    let labels = encoded.get(name_end..encoded.len().checked_sub(tail)?)?;
    Some((sample, labels))
}

/// The kept copy of `bytes` in `set`, added when it has none.
#[cfg(feature = "shared-keys")]
fn share(set: &mut Kept, bytes: &[u8]) -> Arc<[u8]> {
    if let Some(kept) = set.get(bytes) {
        return Arc::clone(kept);
    }
    let kept: Arc<[u8]> = bytes.into();
    set.insert(Arc::clone(&kept));
    kept
}

/// Reads a length-prefixed string written by [`push_str`].
fn read_str<'k>(key: &'k [u8], pos: &mut usize) -> Option<&'k str> {
    let len_bytes: [u8; 4] = key.get(*pos..*pos + 4)?.try_into().ok()?;
    let len = u32::from_le_bytes(len_bytes) as usize;
    let s = key.get(*pos + 4..*pos + 4 + len)?;
    *pos += 4 + len;
    std::str::from_utf8(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `labels` encoded as the tracker encodes a sample's identity.
    fn encoded(name: &str, labels: &[Label<'_>], created: Option<f64>) -> Vec<u8> {
        let mut key = Vec::new();
        let base = encode_base(&mut key, &mut Vec::new(), name, labels);
        encode_created(&mut key, base, created);
        key
    }

    #[test]
    fn keys_read_back() {
        let key = encoded("n", &[Label::new("z", "ünï \"q\"")], Some(1.5));
        let stored = Shared::default().key(&key, Some(1.5)).expect("an encoding");
        assert_eq!(stored.sample(), "n");
        assert_eq!(stored.created(), Some(1.5));
        assert!(stored.is(&key, Some(1.5)));
        assert_eq!(
            *stored,
            Key::owned("n", &[("z".to_owned(), "ünï \"q\"".to_owned())], Some(1.5))
        );
        assert_eq!(Shared::default().key(&key[..3], None), None);
    }

    #[test]
    fn an_identity_is_only_its_own_encoding() {
        let labels = [Label::new("a", "1"), Label::new("b", "2")];
        let stored = Shared::default()
            .key(&encoded("n", &labels, None), None)
            .expect("an encoding");
        for (name, labels, created) in [
            ("n", &labels[..], Some(0.0)),
            ("m", &labels[..], None),
            ("n", &labels[..1], None),
            ("n1", &labels[..], None),
            ("n", &[Label::new("a", "1"), Label::new("b", "3")][..], None),
        ] {
            let key = encoded(name, labels, created);
            assert!(!stored.is(&key, created), "{name} {created:?}");
        }
        assert!(stored.is(&encoded("n", &labels, None), None));
    }

    #[cfg(feature = "shared-keys")]
    #[test]
    fn identities_share_their_name_and_labels_until_pruned() {
        let labels = [Label::new("model", "gpt")];
        let mut shared = Shared::default();
        let a = shared.key(&encoded("x_total", &labels, Some(1.0)), Some(1.0));
        let b = shared.key(&encoded("y_total", &labels, None), None);
        let c = shared.key(&encoded("x_total", &labels, None), None);
        let (a, b, c) = (a.expect("a"), b.expect("b"), c.expect("c"));
        assert!(Arc::ptr_eq(&a.labels, &b.labels) && Arc::ptr_eq(&a.labels, &c.labels));
        assert!(Arc::ptr_eq(&a.sample, &c.sample));
        drop((a, c));
        shared.prune();
        assert_eq!((shared.samples.len(), shared.labelsets.len()), (1, 1));
        drop(b);
        shared.prune();
        assert_eq!((shared.samples.len(), shared.labelsets.len()), (0, 0));
    }
}
