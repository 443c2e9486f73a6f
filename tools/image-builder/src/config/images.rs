//! A partition's images: its `kernel` (a guest of this workspace by name, or a file in the board's boot format),
//! its `ramdisk` and its `dt_overlay`. Each is opened here, while the config is checked, so a missing or unusable
//! file is reported on the key that names it; the diagnostics for a kernel or overlay that turns out wrong later
//! (once a guest is built, once the device tree exists) are made here too, so they read the same at every step.

use board_support::Board;
use hv_plan::guest_map;

use super::common::*;
use super::model::*;
use super::raw::*;
use super::Context;
use crate::diag::{list, Diag, Report, Span};
use crate::guests::is_guest_name;
use crate::image::{self, BootFormat, Format, NotKernel};
use crate::input::{self, InputError};

pub(super) fn check_kernel(
    p: &RawPartition,
    i: usize,
    board: &Board,
    ctx: &Context<'_>,
    r: &mut Report,
) -> Option<Kernel> {
    let k = p.kernel.get_ref();
    let field = format!("partition[{i}].kernel");
    let span = p.kernel.span();
    if is_guest_name(k) {
        return match ctx.guests.package(k) {
            Some(package) => {
                Some(Kernel { source: KernelSource::Guest { name: k.clone(), package: package.into() }, span })
            }
            None => {
                let known: Vec<&str> = ctx.guests.names().collect();
                let guests = if known.is_empty() {
                    "no guests found in tests/guests".to_owned()
                } else {
                    suggest(k, known.iter().copied(), "guests in tests/guests")
                };
                r.push(
                    Diag::error(field, span, format!("kernel missing: no guest named `{k}`"))
                        .label("not a guest of this workspace")
                        .hint(format!(
                            "{guests}; or give a path to {} or ELF relative to this file, e.g. \"./{k}\"",
                            BootFormat::of(board.arch).name()
                        )),
                );
                None
            }
        };
    }
    let path = relative_path(ctx, k);
    let refused = |e: &InputError| {
        let where_ = format!(
            "kernel paths are relative to the config file's directory; or name a guest of tests/guests ({})",
            list(ctx.guests.names())
        );
        input_diag(&field, span.clone(), "kernel", k, &path, e, where_)
    };
    // An Image is recognised by its header: only an ELF, which has to be flattened, is read whole here. Both reads
    // refuse what is not a regular file before opening it (a FIFO would never answer).
    let head = match input::read_head(&path, image::HEADER_PROBE_LEN, input::IMAGE_LIMIT) {
        Ok(head) => head,
        Err(e) => {
            r.push(refused(&e));
            return None;
        }
    };
    let bytes = if image::sniff(&head) == Format::Elf {
        match input::read(&path, input::IMAGE_LIMIT) {
            Ok(b) => b,
            Err(e) => {
                r.push(refused(&e));
                return None;
            }
        }
    } else {
        head
    };
    if let Err(e) = image::read_kernel(bytes, BootFormat::of(board.arch)) {
        r.push(kernel_diag(&field, span, &format!("kernel `{k}`"), board, &e).label("not a kernel for this board"));
        return None;
    }
    Some(Kernel { source: KernelSource::File(path), span })
}

/// The diagnostic (without a label) for a kernel that is not one for `board`; `subject` names it (`kernel
/// `./Image``).
pub(crate) fn kernel_diag(field: &str, span: Span, subject: &str, board: &Board, e: &NotKernel) -> Diag {
    let want = BootFormat::of(board.arch);
    let (example, target) = match want {
        BootFormat::Arm64Image => ("Linux's arch/arm64/boot/Image", "aarch64-unknown-none"),
        BootFormat::ZImage => ("Linux's arch/arm/boot/zImage", "armv7a-none-eabi"),
    };
    let carries = format!(
        "{} carries {} ({example}, or a bare-metal ELF built for {target} whose first bytes are that header)",
        want.name(),
        want.magic()
    );
    let (message, hint) = match e {
        NotKernel::OtherFormat { found, elf } => {
            let what = if *elf { format!("an ELF of {}", found.name()) } else { found.name().to_owned() };
            (
                format!(
                    "{subject} is {what}, but board `{}` runs {} partitions: they boot {}",
                    board.name,
                    board.arch.description(),
                    want.name()
                ),
                format!(
                    "give the partition a kernel built for {}: {carries}; guests named by their name are built for \
                     {target}",
                    board.arch.description()
                ),
            )
        }
        NotKernel::ElfWithoutHeader => (
            format!(
                "{subject} is not {} or ELF: the ELF's flattened image does not start with {} header",
                want.name(),
                want.name()
            ),
            capitalized(&carries),
        ),
        NotKernel::BadElf(why) => (format!("{subject} is not {} or ELF: {why}", want.name()), capitalized(&carries)),
        NotKernel::Unknown => {
            (format!("{subject} is not {} or ELF: unrecognised file format", want.name()), capitalized(&carries))
        }
    };
    Diag::error(field, span, message).hint(hint)
}

/// `An arm64 Image` from `an arm64 Image`.
fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// A partition's `ramdisk`: a file that exists (its contents are the guest's business). `None` when it is
/// missing, `Some(None)` when the partition has none.
pub(super) fn check_ramdisk(p: &RawPartition, i: usize, ctx: &Context<'_>, r: &mut Report) -> Option<Option<Ramdisk>> {
    let Some(v) = &p.ramdisk else {
        return Some(None);
    };
    let rd = v.get_ref();
    let path = relative_path(ctx, rd);
    // Opened (not read: `build` copies it whole) after the checks, so an unreadable file is found now.
    if let Err(e) = input::open(&path, input::IMAGE_LIMIT) {
        let where_ = "ramdisk paths are relative to the config file's directory (an initramfs: a cpio archive, \
                      optionally compressed)";
        r.push(input_diag(&format!("partition[{i}].ramdisk"), v.span(), "ramdisk", rd, &path, &e, where_.into()));
        return None;
    }
    Some(Some(Ramdisk { path, span: v.span() }))
}

/// A partition's `dt_overlay`: a compiled device-tree overlay that reads and parses (whether it merges into the
/// partition's tree is known once the tree is generated). `None` when it is bad, `Some(None)` when there is none.
pub(super) fn check_dt_overlay(
    p: &RawPartition,
    i: usize,
    ctx: &Context<'_>,
    r: &mut Report,
) -> Option<Option<DtOverlay>> {
    let Some(v) = &p.dt_overlay else {
        return Some(None);
    };
    let value = v.get_ref();
    let field = format!("partition[{i}].dt_overlay");
    let path = relative_path(ctx, value);
    // An overlay merges into the partition's device tree, which has `DTB_REGION` bytes.
    let bytes = match input::read(&path, guest_map::DTB_REGION) {
        Ok(bytes) => bytes,
        Err(e) => {
            let where_ = "overlay paths are relative to the config file's directory; compile an overlay source with \
                          `dtc -@ -I dts -O dtb -o FILE.dtbo FILE.dts`";
            r.push(input_diag(&field, v.span(), "device-tree overlay", value, &path, &e, where_.into()));
            return None;
        }
    };
    match dom0_less::Overlay::parse(&bytes) {
        Ok(overlay) => Some(Some(DtOverlay { path, written: value.clone(), overlay, span: v.span() })),
        Err(e) => {
            r.push(overlay_diag(&field, v.span(), value, &e));
            None
        }
    }
}

/// The diagnostic for an overlay that cannot be read or merged.
pub(crate) fn overlay_diag(field: &str, span: Span, value: &str, e: &dom0_less::OverlayError) -> Diag {
    use dom0_less::OverlayError as E;
    let label = match e {
        E::NotDtb(_) | E::NotOverlay(_) => "not a compiled device-tree overlay",
        E::TargetPhandle { .. } | E::UnresolvedLabels(_) => "uses labels the partition's tree does not have",
        E::Protected { .. } | E::GeneratedProperty { .. } | E::MemoryNode { .. } => {
            "would change what hv-static generates"
        }
        _ => "cannot be merged",
    };
    Diag::error(field, span, format!("device-tree overlay `{value}`: {e}")).label(label).hint(e.hint())
}
