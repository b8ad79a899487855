//! llmux's tmux config, and the sealing that keeps a viewer's keys inside its own pane.
//!
//! A viewer (the web terminal, `llmux session attach`) types into a real `tmux attach-session`
//! client. With tmux's defaults that client is a whole tmux UI: the prefix key and its table
//! (`C-b (` switches to another user's session, `C-b c` opens a shell, `C-b :` runs any
//! command), root-table mouse bindings (a right-click menu), copy mode. Sealed, tmux has no
//! prefix and no key binding at all, so every byte a viewer sends goes to its own pane:
//! nothing else in tmux acts on a client's keys. `detach-on-destroy on` detaches the viewers of
//! a session that ends instead of moving them to another one.
//!
//! tmux reads the config only when its server starts; [`super::Tmux::seal`] applies the same to
//! a server that is already running (one an earlier llmux started).

/// Server-wide options of the seal, one `set-option` each: `(scope flag, option, value)`.
pub(super) const SEAL_OPTIONS: &[(&str, &str, &str)] = &[
    ("-g", "prefix", "None"),
    ("-g", "prefix2", "None"),
    ("-g", "key-table", "root"),
    ("-g", "mouse", "off"),
    ("-g", "detach-on-destroy", "on"),
];

/// The key tables a tmux server starts with; the config empties each (a running server's
/// tables are listed instead, see [`super::Tmux::seal`]).
pub(super) const DEFAULT_TABLES: &[&str] = &["root", "prefix", "copy-mode", "copy-mode-vi"];

/// The text of llmux's tmux config, with `term` as the default terminal.
/// The options of llmux's servers besides the seal (and `default-terminal`).
const OPTIONS: &[(&str, &str)] = &[
    ("history-limit", "5000"),
    ("window-size", "latest"),
    ("remain-on-exit", "on"),
    ("status", "off"),
    ("escape-time", "10"),
    ("focus-events", "on"),
    ("destroy-unattached", "off"),
    ("exit-empty", "off"),
];

pub(super) fn text(term: &str) -> String {
    let mut conf = format!(
        "# Written by llmux: the config of llmux's own tmux server (never ~/.tmux.conf).\n\
         set -g default-terminal \"{term}\"\n"
    );
    for (option, value) in OPTIONS {
        conf.push_str(&format!("set -g {option} {value}\n"));
    }
    conf.push_str(
        "# Sealed: a viewer's keys reach only its own pane (no prefix, no key bindings).\n",
    );
    for (scope, option, value) in SEAL_OPTIONS {
        conf.push_str(&format!("set {scope} {option} {value}\n"));
    }
    for table in DEFAULT_TABLES {
        conf.push_str(&format!("unbind-key -a -T {table}\n"));
    }
    conf
}

/// Every option of [`text`] but the seal's, as one `;`-chained tmux argv: for a server that
/// started without the config file (one run as a user's Unix account cannot read it).
pub(super) fn options_argv(term: &str) -> Vec<String> {
    let mut args: Vec<String> =
        ["set-option", "-g", "default-terminal", term].map(str::to_owned).into();
    for (option, value) in OPTIONS {
        args.push(";".to_owned());
        args.extend(["set-option", "-g", option, value].map(str::to_owned));
    }
    args
}

pub(super) fn seal_options_argv() -> Vec<String> {
    let mut args = Vec::new();
    for (scope, option, value) in SEAL_OPTIONS {
        if !args.is_empty() {
            args.push(";".to_owned());
        }
        args.extend(["set-option", scope, option, value].map(str::to_owned));
    }
    args
}

/// The key tables named in `list-keys` output (`bind-key [-r] -T TABLE KEY COMMAND…`).
pub(super) fn tables(list_keys: &str) -> Vec<String> {
    let mut tables: Vec<String> = list_keys
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            words.by_ref().find(|w| *w == "-T")?;
            words.next().map(str::to_owned)
        })
        .collect();
    tables.sort();
    tables.dedup();
    tables
}

/// Doubles every `#`, so that tmux's format expansion of an argument gives back exactly the
/// original bytes: `##` is tmux's literal `#`, and with every `#` doubled no `#{…}`, `#(…)`,
/// `#S`-style alias or `#,` is left to expand. Bytes, so non-UTF-8 paths stay exact.
pub fn escape_format(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 8);
    for &b in raw {
        if b == b'#' {
            out.push(b'#');
        }
        out.push(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_seals_every_key_and_the_prefix() {
        let conf = text("tmux-256color");
        for line in [
            "set -g prefix None",
            "set -g prefix2 None",
            "set -g key-table root",
            "set -g mouse off",
            "set -g detach-on-destroy on",
            "unbind-key -a -T root",
            "unbind-key -a -T prefix",
            "unbind-key -a -T copy-mode",
            "unbind-key -a -T copy-mode-vi",
            "set -g default-terminal \"tmux-256color\"",
        ] {
            assert!(conf.lines().any(|l| l == line), "missing {line:?} in:\n{conf}");
        }
        // No binding is ever added back, and mouse is never turned on.
        assert!(!conf.contains("bind-key -T") && !conf.contains("bind -"), "{conf}");
        assert!(!conf.contains("mouse on"), "{conf}");
    }

    #[test]
    fn seal_options_are_one_command_list() {
        let argv = seal_options_argv();
        assert_eq!(&argv[..4], ["set-option", "-g", "prefix", "None"]);
        assert_eq!(argv.iter().filter(|a| *a == ";").count(), SEAL_OPTIONS.len() - 1);
        assert_eq!(argv.last().map(String::as_str), Some("on"));
    }

    #[test]
    fn tables_are_read_from_list_keys() {
        let out = "bind-key    -T copy-mode    C-Space  send-keys -X begin-selection\n\
                   bind-key -r -T prefix       Up       select-pane -U\n\
                   bind-key    -T my-table     x        kill-server\n\
                   bind-key    -T prefix       c        new-window\n";
        assert_eq!(tables(out), ["copy-mode", "my-table", "prefix"]);
        assert!(tables("").is_empty());
    }

    #[test]
    fn formats_are_escaped_exactly() {
        let esc = |s: &str| String::from_utf8(escape_format(s.as_bytes())).unwrap();
        assert_eq!(esc("/srv/plain dir"), "/srv/plain dir");
        assert_eq!(esc("/w/#(id>FILE)"), "/w/##(id>FILE)");
        assert_eq!(esc("/w/#{pane_pid}"), "/w/##{pane_pid}");
        assert_eq!(esc("a##b#S#,c#}#"), "a####b##S##,c##}##");
        assert_eq!(escape_format(b"/x/\xff#"), b"/x/\xff##");
    }
}
