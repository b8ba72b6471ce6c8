//! `litellm-pulse` (being written).
fn main() {}
