//! WebAssembly bindings of `pulse-core` (being written).
