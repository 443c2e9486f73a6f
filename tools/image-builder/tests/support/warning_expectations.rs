//! What each config in configs/warn/ is accepted with: its one warning's position, field and message.

/// (file, line, column, field, words the message contains)
pub const EXPECTED: &[(&str, usize, usize, &str, &str)] = &[
    (
        "bootargs-beyond-linux.toml",
        16,
        12,
        "partition[0].bootargs",
        "bootargs are 2100 bytes: Linux on arm64 reads at most 2047",
    ),
    (
        "names-differ-in-case.toml",
        18,
        8,
        "partition[1].name",
        "partition names `hello0` and `Hello0` differ only in case",
    ),
    (
        "network-one-port.toml",
        18,
        8,
        "network[0]",
        "network `lan` connects only partition `hello0`: it has nothing to talk to",
    ),
    (
        "partition-named-hv.toml",
        10,
        8,
        "partition[0].name",
        "partition `hv`'s console lines would look like hv-static's own",
    ),
];
