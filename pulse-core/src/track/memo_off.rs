//! Without the `memo` feature: no line is remembered, every sample's labels
//! come from its exposition.

use crate::expo::{Exposition, Label};

/// Stands for the lines of a body parsed with a memo; never built.
pub(super) enum Lines<'b, 'a> {
    #[allow(dead_code)]
    Never(std::convert::Infallible, &'b (), &'a ()),
}

/// The labels of sample `i`.
pub(super) fn labels_of<'x, 'a>(
    expo: &'x Exposition<'a>,
    _lines: Option<&Lines<'_, 'a>>,
    i: u32,
    _buf: &'x mut Vec<Label<'a>>,
) -> Option<&'x [Label<'a>]> {
    Some(expo.labels_of(expo.samples.get(i as usize)?))
}
