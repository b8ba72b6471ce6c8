// Shows a Rust panic's message and the JS stack in the console, as the
// console_error_panic_hook crate does, without its Rust-side code.
export function reportPanic(message) {
  console.error(message + "\n\nStack:\n\n" + new Error().stack);
}
