//! One flag per library setting, made from the settings themselves
//! (`ConfigKey::ALL`), so the names follow the one pattern by construction:
//! `RAPID7_<NAME>` is `--<name>` (`RAPID7_MAX_FETCH_EVENTS` is
//! `--max-fetch-events`). A flag's value is checked by the library's
//! parser when the command line is read (the error says what is accepted);
//! the API key has no flag (it would end up in shell history and `ps`).

use clap::builder::ValueParser;
use clap::{Arg, ArgMatches, Command};
use datafusion_rapid7::Error;
use datafusion_rapid7::config::{ConfigKey, Settings};
use datafusion_rapid7::env::Origin;

const HEADING: &str =
    "Settings (each also read from its RAPID7_* variable; `rapid7-sql config` shows them)";

/// The settings that have a flag.
fn flagged() -> impl Iterator<Item = ConfigKey> {
    ConfigKey::ALL.into_iter().filter(|k| !k.spec().secret)
}

/// `cmd` with a global flag for every setting.
pub(crate) fn with_settings(cmd: Command) -> Command {
    flagged().fold(cmd, |cmd, key| cmd.arg(arg(key)))
}

fn arg(key: ConfigKey) -> Arg {
    let spec = key.spec();
    let name = spec.option_name();
    let arg = Arg::new(name.clone())
        .long(name)
        .value_name(spec.value_name)
        .help(format!("{} [env: {}]", capitalised(spec.help), spec.env))
        .long_help(format!(
            "{}.\nAccepts {}. [env: {}]",
            capitalised(spec.help),
            spec.accepted,
            spec.env
        ))
        .help_heading(HEADING)
        .global(true)
        .value_parser(ValueParser::new(move |value: &str| {
            key.check(value).map(|()| value.to_string()).map_err(reason)
        }));
    match spec.switch {
        // `--offline` is `--offline=true`; `--pushdown-aggregates=false`.
        true => arg
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("true"),
        false => arg,
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|first| first.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// What is wrong with a flag's value, without the variable's name (clap
/// names the flag).
fn reason(e: Error) -> String {
    match e {
        Error::Config { message, .. }
        | Error::Client(datafusion_rapid7::client::Error::Config { message, .. }) => message,
        other => other.to_string(),
    }
}

/// The environment's settings with the flags given over them.
pub(crate) fn settings(matches: &ArgMatches) -> Settings {
    let mut settings = Settings::from_env();
    for key in flagged() {
        if let Some(value) = matches.get_one::<String>(&key.spec().option_name()) {
            settings.set(key, value.clone(), Origin::Flag);
        }
    }
    settings
}

/// The flag of a setting, from the name a library error gives it (its
/// variable, or a field name such as `per_page`).
pub(crate) fn flag_of(key: &str) -> Option<String> {
    let key: ConfigKey = key.parse().ok()?;
    (!key.spec().secret).then(|| format!("--{}", key.spec().option_name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_but_the_key_has_its_flag() {
        let cmd = with_settings(Command::new("t"));
        for key in ConfigKey::ALL {
            let option = key.spec().option_name();
            let found = cmd
                .get_arguments()
                .find(|a| a.get_long() == Some(option.as_str()));
            assert_eq!(found.is_some(), !key.spec().secret, "{key}");
        }
        assert_eq!(flag_of("RAPID7_PER_PAGE").as_deref(), Some("--per-page"));
        assert_eq!(flag_of("per_page").as_deref(), Some("--per-page"));
        assert_eq!(flag_of("RAPID7_API_KEY"), None);
        assert_eq!(flag_of("output"), None);
    }

    #[test]
    fn flags_are_checked_by_the_library_and_switches_take_no_value() {
        let cmd = || with_settings(Command::new("t").arg(Arg::new("sql").short('c')));
        let m = cmd()
            .try_get_matches_from(["t", "--offline", "--per-page", "100", "-c", "x"])
            .unwrap();
        let s = settings(&m);
        assert_eq!(
            s.get(ConfigKey::from(
                datafusion_rapid7::config::Rapid7Key::Offline
            )),
            Some("true")
        );
        assert_eq!(
            s.origin(datafusion_rapid7::client::ClientKey::PerPage),
            Origin::Flag
        );
        let m = cmd()
            .try_get_matches_from(["t", "--pushdown-aggregates=false"])
            .unwrap();
        assert_eq!(
            settings(&m).get(datafusion_rapid7::config::Rapid7Key::PushdownAggregates),
            Some("false")
        );
        let e = cmd()
            .try_get_matches_from(["t", "--per-page", "501"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--per-page") && e.contains("1 to 500"), "{e}");
    }

    /// A subcommand's own flag named like a setting's global one would
    /// shadow it, and reading the setting would panic (clap matches by id).
    #[test]
    fn no_subcommand_flag_shadows_a_setting() {
        use clap::CommandFactory;
        fn walk(cmd: &Command, path: &str, settings: &[String], clashes: &mut Vec<String>) {
            for arg in cmd.get_arguments().filter(|a| !a.is_global_set()) {
                let id = arg.get_id().as_str().to_string();
                let long = arg.get_long().map(str::to_string);
                if settings.contains(&id) || long.is_some_and(|l| settings.contains(&l)) {
                    clashes.push(format!("{path} --{id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(
                    sub,
                    &format!("{path} {}", sub.get_name()),
                    settings,
                    clashes,
                );
            }
        }
        let settings: Vec<String> = flagged().map(|k| k.spec().option_name()).collect();
        let mut clashes = Vec::new();
        walk(
            &crate::args::Cli::command(),
            "rapid7-sql",
            &settings,
            &mut clashes,
        );
        assert!(clashes.is_empty(), "flags shadowing settings: {clashes:?}");
        // And clap's own checks of the whole command line.
        with_settings(crate::args::Cli::command()).debug_assert();
    }
}
