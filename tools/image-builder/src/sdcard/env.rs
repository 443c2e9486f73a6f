//! U-Boot's stored environment: a little-endian CRC-32 of the rest, then `name=value` entries each ending in a
//! NUL, an empty entry (a second NUL) ending the list, and padding up to the size the U-Boot build expects
//! (`CONFIG_ENV_SIZE`, CRC included). This is the single-copy layout (no redundant-environment flag byte), the one
//! `mkenvimage -s SIZE -p 0` writes.
//!
//! U-Boot uses a stored environment only when its CRC is right, and then instead of its built-in one: whatever the
//! boot needs must be in it.

/// Encodes `vars`, in the order given, into an environment of `size` bytes padded with zeros.
pub fn encode(vars: &[(&str, &str)], size: usize) -> Result<Vec<u8>, String> {
    let mut data = Vec::new();
    for (name, value) in vars {
        if name.is_empty() || name.contains(['=', '\0']) {
            return Err(format!("bad U-Boot variable name {name:?}"));
        }
        if value.contains('\0') {
            return Err(format!("U-Boot variable {name}: value contains a NUL"));
        }
        data.extend_from_slice(name.as_bytes());
        data.push(b'=');
        data.extend_from_slice(value.as_bytes());
        data.push(0);
    }
    data.push(0);
    // An empty list is a single NUL followed by padding, which U-Boot reads the same way.
    if 4 + data.len() > size {
        return Err(format!("the environment takes {} bytes; the U-Boot build stores {size}", 4 + data.len()));
    }
    data.resize(size - 4, 0);
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&crc32fast::hash(&data).to_le_bytes());
    out.extend_from_slice(&data);
    Ok(out)
}

/// Decodes an environment, checking its CRC: the `(name, value)` pairs in stored order.
pub fn decode(env: &[u8]) -> Result<Vec<(String, String)>, String> {
    if env.len() < 5 {
        return Err(format!("{} bytes: too short for a U-Boot environment", env.len()));
    }
    let crc = u32::from_le_bytes([env[0], env[1], env[2], env[3]]);
    let data = &env[4..];
    if crc32fast::hash(data) != crc {
        return Err("bad environment CRC".into());
    }
    let mut vars = Vec::new();
    for entry in data.split(|&b| b == 0) {
        if entry.is_empty() {
            break;
        }
        let entry = std::str::from_utf8(entry).map_err(|e| format!("environment entry is not UTF-8: {e}"))?;
        let (name, value) = entry.split_once('=').ok_or_else(|| format!("environment entry {entry:?} has no `=`"))?;
        vars.push((name.to_owned(), value.to_owned()));
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let env = encode(&[("bootdelay", "0"), ("a", "b c")], 64).unwrap();
        assert_eq!(env.len(), 64);
        assert_eq!(&env[4..23], b"bootdelay=0\0a=b c\0\0");
        assert!(env[23..].iter().all(|&b| b == 0));
        assert_eq!(u32::from_le_bytes(env[..4].try_into().unwrap()), crc32fast::hash(&env[4..]));
        let back = decode(&env).unwrap();
        assert_eq!(back, [("bootdelay".to_string(), "0".to_string()), ("a".into(), "b c".into())]);
    }

    #[test]
    fn an_empty_environment() {
        let env = encode(&[], 16).unwrap();
        assert!(env[4..].iter().all(|&b| b == 0));
        assert_eq!(decode(&env).unwrap(), []);
    }

    #[test]
    fn errors() {
        assert!(encode(&[("a=b", "c")], 64).is_err());
        assert!(encode(&[("", "c")], 64).is_err());
        assert!(encode(&[("a", "c\0")], 64).is_err());
        // 4 (CRC) + "ab=cd\0" + final NUL = 11 bytes.
        assert!(encode(&[("ab", "cd")], 11).is_ok());
        assert!(encode(&[("ab", "cd")], 10).is_err());
        let mut env = encode(&[("a", "b")], 32).unwrap();
        env[9] ^= 1;
        assert!(decode(&env).is_err());
    }
}
