//! The trace's events, typed: parsed from the text defmt decodes. The vocabulary is hv-static's
//! (`hv-static/src/core/trace/emit.rs`): a word naming the event, then `key=value` fields.

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A window starts; `None`: an idle slot.
    Window {
        vcpu: Option<(usize, usize)>,
    },
    /// A trap from a vCPU: `class` is hvc, smc, dabt, sysreg, fp, wfi, wfe, iabt, irq, serror or other.
    Trap {
        class: String,
        part: usize,
        vcpu: usize,
        detail: String,
    },
    /// A physical interrupt taken at EL2.
    Irq {
        intid: u32,
    },
    /// A virtual interrupt made pending for a vCPU.
    Inject {
        part: usize,
        vcpu: usize,
        intid: u32,
    },
    Fault {
        part: usize,
        vcpu: usize,
        why: String,
    },
    Stop {
        part: usize,
        why: String,
    },
    Restart {
        part: usize,
    },
    Start {
        part: usize,
    },
    /// Text this reader does not know (a newer hv-static).
    Unknown,
}

fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.split_whitespace().find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

fn num<T: std::str::FromStr>(text: &str, key: &str) -> Option<T> {
    field(text, key)?.parse().ok()
}

/// Parses one decoded message.
pub fn parse(text: &str) -> Kind {
    let mut words = text.split_whitespace();
    let parsed = match words.next() {
        Some("win") => {
            let p: Option<u8> = num(text, "p");
            let v: Option<u8> = num(text, "v");
            match (p, v) {
                (Some(0xff), _) => Some(Kind::Window { vcpu: None }),
                (Some(p), Some(v)) => Some(Kind::Window { vcpu: Some((p.into(), v.into())) }),
                _ => None,
            }
        }
        Some("trap") => words.next().and_then(|class| {
            let detail = text.split_whitespace().skip(4).collect::<Vec<_>>().join(" ");
            Some(Kind::Trap { class: class.to_owned(), part: num(text, "p")?, vcpu: num(text, "v")?, detail })
        }),
        Some("irq") => num(text, "n").map(|intid| Kind::Irq { intid }),
        Some("inject") => {
            (|| Some(Kind::Inject { part: num(text, "p")?, vcpu: num(text, "v")?, intid: num(text, "irq")? }))()
        }
        Some("fault") => (|| {
            let why = text.split_once("why=")?.1.to_owned();
            Some(Kind::Fault { part: num(text, "p")?, vcpu: num(text, "v")?, why })
        })(),
        Some("stop") => (|| Some(Kind::Stop { part: num(text, "p")?, why: field(text, "why")?.to_owned() }))(),
        Some("restart") => num(text, "p").map(|part| Kind::Restart { part }),
        Some("start") => num(text, "p").map(|part| Kind::Start { part }),
        _ => None,
    };
    parsed.unwrap_or(Kind::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_of_hv_static_parses() {
        assert_eq!(parse("win c=1 p=2 v=0"), Kind::Window { vcpu: Some((2, 0)) });
        assert_eq!(parse("win c=1 p=255 v=255"), Kind::Window { vcpu: None });
        assert_eq!(
            parse("trap dabt p=0 v=1 ipa=0x9000000 w=true"),
            Kind::Trap { class: "dabt".into(), part: 0, vcpu: 1, detail: "ipa=0x9000000 w=true".into() }
        );
        assert_eq!(parse("trap hvc p=3 v=0"), Kind::Trap { class: "hvc".into(), part: 3, vcpu: 0, detail: "".into() });
        assert_eq!(parse("irq n=27"), Kind::Irq { intid: 27 });
        assert_eq!(parse("inject p=1 v=0 irq=34"), Kind::Inject { part: 1, vcpu: 0, intid: 34 });
        assert_eq!(
            parse("fault p=1 v=0 pc=0x40080000 why=data abort (write) at IPA 0x0"),
            Kind::Fault { part: 1, vcpu: 0, why: "data abort (write) at IPA 0x0".into() }
        );
        assert_eq!(parse("stop p=1 why=fault"), Kind::Stop { part: 1, why: "fault".into() });
        assert_eq!(parse("restart p=2"), Kind::Restart { part: 2 });
        assert_eq!(parse("start p=0"), Kind::Start { part: 0 });
        assert_eq!(parse("win c=1"), Kind::Unknown);
        assert_eq!(parse("something new"), Kind::Unknown);
    }
}
