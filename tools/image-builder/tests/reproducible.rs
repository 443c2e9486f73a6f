//! Reproducible builds: the demo built twice the same way (into its usual `out/qemu-aarch64-demo/`, hv-static
//! recompiled in between) gives the same `hv-static.img` and `sdcard.img`, byte for byte; and a change to the config
//! (a partition's bootargs) changes the image, so the comparison can fail.
//!
//! Slow-ish: it builds hv-static three times (the guests once).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use image_builder::{build, default_config, sdcard, workspace_root, BuildOptions, Built};

/// Builds `config` and writes its SD card next to the image: (hv-static.img, sdcard.img).
fn build_both(config: &Path) -> (Built, Vec<u8>, Vec<u8>) {
    let built = build(&BuildOptions { config: config.to_owned(), quiet: true })
        .unwrap_or_else(|e| panic!("building {}: {e}", config.display()));
    let card = sdcard::write_sdcard(&built.out_dir, &built.image, built.prepared.checked.system.board).unwrap();
    let image = fs::read(&built.image).unwrap();
    let card = fs::read(card).unwrap();
    (built, image, card)
}

/// Forgets what the last build wrote, so the next one writes everything again and recompiles hv-static (its build
/// script reruns when the generated config's modification time changes).
fn forget(built: &Built) {
    for f in ["hv-static.img", "sdcard.img"] {
        let _ = fs::remove_file(built.out_dir.join(f));
    }
    let config_rs = built.out_dir.join("hvconfig/config.rs");
    fs::File::options().write(true).open(&config_rs).unwrap().set_modified(SystemTime::now()).unwrap();
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn the_demo_builds_to_the_same_bytes_twice() {
    let demo = default_config();
    let (first, image1, card1) = build_both(&demo);
    forget(&first);
    let (second, image2, card2) = build_both(&demo);
    assert_eq!(first.image, second.image);
    assert_eq!(first.out_dir, workspace_root().join("out/qemu-aarch64-demo"));
    assert!(image1.len() > 2 << 20, "{} bytes", image1.len());
    assert!(
        image1 == image2,
        "two builds of the demo gave different hv-static.img ({} and {} bytes)",
        image1.len(),
        image2.len()
    );
    assert!(card1 == card2, "two builds of the demo gave different sdcard.img");
    // The card carries the image.
    assert!(contains(&card1, &image1[..4096]));

    // A bootargs change reaches the image (hello0's device tree) and the card.
    let changed = bootargs_variant(&demo);
    let (variant, image3, card3) = build_both(&changed);
    let bootargs = b"repro-check=1\0";
    assert!(contains(&image3, bootargs) && !contains(&image1, bootargs), "the new bootargs are not in the image");
    assert!(image3 != image1, "a config change did not change hv-static.img");
    assert!(card3 != card1, "a config change did not change sdcard.img");
    let _ = fs::remove_dir_all(&variant.out_dir);
    let _ = fs::remove_dir_all(changed.parent().unwrap());
}

/// A copy of the demo config whose `hello0` has other bootargs, in a scratch directory (its outputs go to
/// `out/repro-bootargs/`).
fn bootargs_variant(demo: &Path) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("reproducible");
    fs::create_dir_all(&dir).unwrap();
    let text = fs::read_to_string(demo).unwrap();
    assert!(text.contains("bootargs = \"\""), "the demo config changed: update this test");
    // Paths in the config are relative to its directory: point them back at configs/.
    let configs = demo.parent().unwrap().display().to_string();
    let text = text
        .replacen("bootargs = \"\"", "bootargs = \"repro-check=1\"", 1)
        .replace("dt_overlay = \"", &format!("dt_overlay = \"{configs}/"));
    let path = dir.join("repro-bootargs.toml");
    fs::write(&path, text).unwrap();
    path
}
