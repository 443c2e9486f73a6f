//! Console input goes to one partition at a time; `Ctrl-]` commands move it (see hv-static's console/input.rs).

use std::time::Duration;

use hv_tests::{config, require_qemu, serial, Session};

const T: Duration = Duration::from_secs(30);

#[test]
fn input_follows_the_focus() {
    require_qemu("qemu-system-aarch64");
    let _one = serial();
    let mut s = Session::start(&config("qemu-aarch64-demo.toml"));
    s.wait_for(r"console input goes to 'hello0'", T);
    s.wait_for(r"\[hello1\] tick 1\b", T);

    s.send(b"first\r");
    s.wait_for(r"\[hello0\] input: first\r?\n", T);

    s.send(b"\x1dn");
    s.wait_for(r"\[hv\] console input -> 'hello1'", T);
    s.send(b"second\r");
    s.wait_for(r"\[hello1\] input: second\r?\n", T);

    s.send(b"\x1d0third\r");
    s.wait_for(r"\[hv\] console input -> 'hello0'", T);
    s.wait_for(r"\[hello0\] input: third\r?\n", T);

    s.send(b"\x1d?");
    s.wait_for(r"0: hello0 <- input", T);

    let out = s.output();
    assert!(!out.contains("[hello1] input: first"), "input leaked to the partition without focus:\n{out}");
    assert!(!out.contains("[hello0] input: second"), "input leaked to the partition without focus:\n{out}");
    assert_eq!(out.matches("input: ").count(), 3, "each line reaches exactly one partition:\n{out}");
}
