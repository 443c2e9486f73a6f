use clap::error::ErrorKind;
use clap::ValueEnum;

use super::*;

/// The command and every subcommand below it (not `help`, which clap adds), with the names leading to it.
fn all_commands(cmd: &clap::Command, path: Vec<String>, out: &mut Vec<(Vec<String>, clap::Command)>) {
    out.push((path.clone(), cmd.clone()));
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let mut p = path.clone();
        p.push(sub.get_name().to_owned());
        all_commands(sub, p, out);
    }
}

fn visible_subcommands() -> Vec<String> {
    command().get_subcommands().filter(|s| !s.is_hide_set()).map(|s| s.get_name().to_owned()).collect()
}

#[test]
fn every_argument_with_fixed_values_shows_exactly_the_values_it_accepts() {
    let mut top = command();
    top.build();
    let mut commands = Vec::new();
    all_commands(&top, vec!["image-builder".into()], &mut commands);
    let mut checked = Vec::new();
    for (path, mut cmd) in commands {
        let help = cmd.render_help().to_string();
        let long_help = cmd.render_long_help().to_string();
        for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
            let values: Vec<String> = arg
                .get_possible_values()
                .iter()
                .filter(|v| !v.is_hide_set())
                .map(|v| v.get_name().to_owned())
                .collect();
            if values.is_empty() {
                continue;
            }
            let id = arg.get_id().to_string();
            // The summary (`-h`) lists them all, in order; so does the long help (`--help`), on a line each when
            // the values are documented.
            let listed = format!("[possible values: {}]", values.join(", "));
            assert!(help.contains(&listed), "{path:?} {id}: no `{listed}` in\n{help}");
            let each = values.iter().all(|v| long_help.contains(&format!("- {v}")));
            assert!(long_help.contains(&listed) || each, "{path:?} {id}: values missing in\n{long_help}");
            // And the parser takes exactly those: each listed value, nothing else (not even `yes` for `on`).
            let argv = |value: &str| {
                let mut argv = path.clone();
                match arg.get_long() {
                    Some(long) => argv.extend([format!("--{long}"), value.to_owned()]),
                    None => argv.push(value.to_owned()),
                }
                argv
            };
            for v in &values {
                if let Err(e) = command().try_get_matches_from(argv(v)) {
                    panic!("{path:?} {id}: `{v}` refused: {e}");
                }
            }
            for bad in ["yes", "1", "TEXT", "bogus"] {
                let e = command().try_get_matches_from(argv(bad)).map(|_| ()).unwrap_err();
                assert_eq!(e.kind(), ErrorKind::InvalidValue, "{path:?} {id}: `{bad}`: {e}");
            }
            checked.push(format!("{} {id}", path.join(" ")));
        }
    }
    // The walk found the arguments it is about.
    for expected in [
        "image-builder check format",
        "image-builder inspect format",
        "image-builder run secure",
        "image-builder boards format",
        "image-builder completions shell",
        "image-builder man command",
    ] {
        assert!(checked.iter().any(|c| c == expected), "{expected} not checked: {checked:?}");
    }
}

#[test]
fn secure_takes_on_and_off() {
    let cli = Cli::try_parse_from(["image-builder", "run", "--secure", "off"]).unwrap();
    let Cmd::Run { secure, .. } = cli.command else { panic!("{cli:?}") };
    assert_eq!(secure.map(Switch::is_on), Some(false));
    let help = command().find_subcommand_mut("run").unwrap().render_help().to_string();
    assert!(help.contains("--secure <on|off>"), "{help}");
}

#[test]
fn completion_scripts_mention_every_subcommand_and_not_the_test_hook() {
    let subcommands = visible_subcommands();
    assert!(subcommands.len() >= 7, "{subcommands:?}");
    for shell in Shell::value_variants() {
        let mut out = Vec::new();
        clap_complete::generate(*shell, &mut command(), "image-builder", &mut out);
        let script = String::from_utf8(out).unwrap();
        for sub in &subcommands {
            assert!(script.contains(sub.as_str()), "{shell}: no `{sub}`");
        }
        assert!(!script.contains(BOOT_COMMAND), "{shell}");
        // Where the shell completes values, those of --format and of the shells are offered too.
        if matches!(shell, Shell::Bash | Shell::Zsh) {
            assert!(script.contains("json") && script.contains("powershell"), "{shell}");
        }
    }
}

#[test]
fn the_man_page_has_name_synopsis_and_every_subcommand() {
    let page = man_page(None).unwrap();
    for section in [".TH image-builder 1", ".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH OPTIONS"] {
        assert!(page.contains(section), "no `{section}` in\n{page}");
    }
    // roff escapes `-`.
    for sub in visible_subcommands() {
        let reference = format!("image\\-builder\\-{}(1)", sub.replace('-', "\\-"));
        assert!(page.contains(&reference), "no `{reference}` in\n{page}");
    }
    assert!(!page.contains("boot\\-command"), "{page}");
    assert!(page.contains(&VERSION.replace('-', "\\-")), "{page}");
}

#[test]
fn each_subcommand_has_a_man_page_with_its_options() {
    assert_eq!(MAN_PAGES.map(String::from).to_vec(), visible_subcommands());
    for name in MAN_PAGES {
        let page = man_page(Some(name)).unwrap();
        assert!(page.contains(&format!(".TH image-builder-{name} 1")), "{name}:\n{page}");
        assert!(page.contains(".SH NAME") && page.contains(".SH SYNOPSIS"), "{name}:\n{page}");
    }
    let run = man_page(Some("run")).unwrap();
    for option in ["\\-\\-timeout", "\\-\\-until", "\\-\\-secure", "\\-\\-icount", "\\-\\-host\\-disk"] {
        assert!(run.contains(option), "no `{option}` in\n{run}");
    }
    assert!(man_page(Some("nonsense")).is_err());
}

#[test]
fn the_version_names_the_commit() {
    let re = regex::Regex::new(r"^\d+\.\d+\.\d+ \(git ([0-9a-f]{12}(-dirty)?|unknown)\)$").unwrap();
    assert!(re.is_match(VERSION), "{VERSION}");
    assert!(VERSION.starts_with(env!("CARGO_PKG_VERSION")));
    let out = command().render_version();
    assert_eq!(out, format!("image-builder {VERSION}\n"));
}

#[test]
fn the_test_hook_is_not_a_subcommand() {
    let e = command().try_get_matches_from(["image-builder", BOOT_COMMAND, "true"]).map(|_| ()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidSubcommand);
    let hook = BootCommand::try_parse_from(["--until", "x", "--", "sh", "-c", "exit 0"]).unwrap();
    assert_eq!(hook.command, ["sh", "-c", "exit 0"]);
    assert_eq!(hook.until.as_deref(), Some("x"));
}
