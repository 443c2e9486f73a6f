//! Which QEMU serial port goes where in a run: the hypervisor's console on the terminal, whichever of the board's
//! serials it is, and every UART passed through to a partition into a file of its own. Shared by the direct run
//! (`qemu`) and the card run (`sdcard`).

use crate::display_path;
use crate::pipeline::Built;

/// `-serial` options putting the hypervisor's console on stdio, whichever of the board's serials it is, and giving
/// every UART passed through to a partition a file of its own, `out/NAME/serial-NODE.txt` (what the partition wrote
/// to the real device).
pub fn passthrough_serials(built: &Built) -> Vec<String> {
    let s = &built.prepared.checked.system;
    let paths: Vec<&str> = s.partitions.iter().flat_map(|p| &p.passthrough).map(|d| d.path).collect();
    s.board.qemu_serial_args(s.hypervisor.console.path, &paths, |path| {
        let node = path.rsplit('/').next().unwrap_or(path);
        display_path(&built.out_dir.join(format!("serial-{node}.txt")))
    })
}
