//! Console input goes to one partition at a time; `Ctrl-]` commands move it (see hv-static's console/input.rs).

use hv_tests::checks;

#[test]
fn input_follows_the_focus() {
    checks::console_input("qemu-aarch64-demo.toml");
}
