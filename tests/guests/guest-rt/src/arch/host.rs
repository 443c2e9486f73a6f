//! Host stand-ins for the architecture layer, so that shared code and guest binaries type-check and the pure
//! modules can be unit-tested. A guest never runs on the host: each function stops with a message.

fn bare_metal_only(what: &str) -> ! {
    panic!("guest-rt: {what} exists only on bare metal")
}

pub fn cpu_index() -> usize {
    bare_metal_only("cpu_index")
}

pub fn mpidr() -> u64 {
    bare_metal_only("mpidr")
}

pub fn enable_irqs() {
    bare_metal_only("enable_irqs")
}

pub fn wait_for_interrupt() {
    bare_metal_only("wait_for_interrupt")
}

pub fn halt() -> ! {
    bare_metal_only("halt")
}

pub fn write_barrier() {
    bare_metal_only("write_barrier")
}

pub fn secondary_entry() -> usize {
    bare_metal_only("secondary_entry")
}

pub fn mask_irqs() -> bool {
    bare_metal_only("mask_irqs")
}

pub mod timer {
    pub fn frequency() -> u64 {
        super::bare_metal_only("timer")
    }

    pub fn now() -> u64 {
        super::bare_metal_only("timer")
    }

    pub fn set_deadline(_deadline: u64) {
        super::bare_metal_only("timer")
    }

    pub fn stop() {
        super::bare_metal_only("timer")
    }
}

pub mod gicv3 {
    pub fn init_cpu_interface() {
        super::bare_metal_only("gicv3")
    }

    pub fn acknowledge() -> u32 {
        super::bare_metal_only("gicv3")
    }

    pub fn end_of_interrupt(_iar: u32) {
        super::bare_metal_only("gicv3")
    }

    pub fn send_sgi(_sgi1r: u64) {
        super::bare_metal_only("gicv3")
    }
}

pub mod probe {
    pub fn load(_addr: usize) -> u32 {
        super::bare_metal_only("probe")
    }

    pub fn store(_addr: usize, _value: u32) {
        super::bare_metal_only("probe")
    }
}
