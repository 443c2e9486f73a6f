//! Partition images put in place by the boot loader (QEMU's `-device loader`), which hv-static then does not copy
//! (hv-static/src/core/preload.rs, image-builder's preload.rs): only when the command line carries this build's token.

use std::path::PathBuf;
use std::time::Duration;

use hv_tests::{all_of, config, require_system, serial, Session};
use image_builder::pipeline::{build, BuildOptions, Built};
use image_builder::qemu::command_line;

const T: Duration = Duration::from_secs(60);

fn built(config_name: &str) -> Built {
    require_system(config_name);
    build(&BuildOptions { config: config(config_name), quiet: true })
        .unwrap_or_else(|e| panic!("building {config_name} failed: {e}"))
}

/// `cmd` with the loader of `file` (a path `command_line` gave) pointed at a file of zeroes of the same size.
fn zeroed(cmd: &mut [String], file: &std::path::Path, dir: &str) {
    let len = std::fs::metadata(file).unwrap().len();
    let scratch: PathBuf = image_builder::workspace_root().join("out").join(dir);
    std::fs::create_dir_all(&scratch).unwrap();
    let zeroes = scratch.join(file.file_name().unwrap());
    std::fs::write(&zeroes, vec![0u8; len as usize]).unwrap();
    let from = format!("file={},", file.display());
    let arg = cmd.iter_mut().find(|a| a.contains(&from)).expect("a loader for the file");
    *arg = arg.replace(&from, &format!("file={},", zeroes.display()));
}

/// The default run: QEMU puts both partitions' images in place, hv-static says so and starts them as they are.
fn in_place(config_name: &str) {
    let b = built(config_name);
    let _one = serial();
    let mut s = Session::spawn(command_line(&b).unwrap());
    s.wait_for(
        &format!(r"\[hv\] partition images put in place by the boot loader \(token {:#x}\)", b.preload.token),
        T,
    );
    s.wait_for(&all_of(&[r"\[hello0\] tick 2\b", r"\[hello1\] tick 2\b"]), T);
}

#[test]
fn aarch64_images_in_place_are_used() {
    in_place("qemu-aarch64-demo.toml");
}

#[test]
fn armv7_images_in_place_are_used() {
    in_place("qemu-a15-demo.toml");
}

/// With this build's token hv-static really does not copy: hello0's kernel loaded as zeroes stays zeroes (hello0
/// never greets) while hello1, loaded properly, ticks.
#[test]
fn the_token_is_trusted_and_nothing_is_copied() {
    let b = built("qemu-aarch64-demo.toml");
    let mut cmd = command_line(&b).unwrap();
    let kernel = b.preload.files.iter().find(|f| f.path.ends_with("hello0.kernel")).unwrap();
    zeroed(&mut cmd, &kernel.path, "preload-test-trusted");
    let _one = serial();
    let mut s = Session::spawn(cmd);
    s.wait_for(r"\[hello1\] tick 3\b", T);
    assert!(!s.output().contains("[hello0]"), "hello0 ran from zeroes?\n{}", s.output());
}

/// A command line with another build's token: hv-static says so and copies every image from its payload, over
/// whatever the boot loader put there (here: zeroes for both kernels).
#[test]
fn another_builds_token_means_a_copy() {
    let b = built("qemu-aarch64-demo.toml");
    let mut cmd = command_line(&b).unwrap();
    for name in ["hello0.kernel", "hello1.kernel"] {
        let f = b.preload.files.iter().find(|f| f.path.ends_with(name)).unwrap();
        zeroed(&mut cmd, &f.path, "preload-test-other");
    }
    let other = b.preload.token ^ 0x5a5a;
    let arg = cmd.iter_mut().find(|a| a.starts_with("hv-static.preloaded=")).unwrap();
    *arg = format!("hv-static.preloaded={other:#x}");
    let _one = serial();
    let mut s = Session::spawn(cmd);
    s.wait_for(
        &format!(
            r"\[hv\] the boot loader's images are not this build's \(token {other:#x}, this build {:#x}\): copying them",
            b.preload.token
        ),
        T,
    );
    s.wait_for(&all_of(&[r"\[hello0\] tick 2\b", r"\[hello1\] tick 2\b"]), T);
}
