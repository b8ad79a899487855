//! 0.41 ran `<cmd> <flags>` through the user's shell (`tmux new-session … "<command string>"`);
//! llmux splits flags into words and runs no shell. A flags string means the same to both
//! only if the shell would not have expanded, substituted, globbed or redirected anything.

/// Why `flags` would need a shell to mean what it meant to 0.41, or `None` if it would not.
pub fn needs_shell(flags: &str) -> Option<String> {
    let mut chars = flags.chars().peekable();
    let (mut single, mut double, mut word_start) = (false, false, true);
    while let Some(c) = chars.next() {
        if single {
            single = c != '\'';
            continue;
        }
        if double {
            match c {
                '"' => double = false,
                '\\' => {
                    chars.next();
                }
                '$' | '`' => {
                    return Some(format!("{c:?} inside double quotes is expanded by the shell"));
                }
                _ => {}
            }
            continue;
        }
        let starts_word = word_start;
        word_start = false;
        match c {
            '\'' => single = true,
            '"' => double = true,
            '\\' => {
                chars.next();
            }
            ' ' | '\t' => word_start = true,
            '\n' | '\r' => return Some("a line break ends the command in a shell".into()),
            '$' | '`' => return Some(format!("{c:?} is an expansion or command substitution")),
            ';' | '&' | '|' | '<' | '>' | '(' | ')' => {
                return Some(format!("{c:?} is a shell operator (redirection, pipe, list)"));
            }
            '*' | '?' | '[' => return Some(format!("{c:?} is a filename pattern (glob)")),
            '{' | '}' => return Some(format!("{c:?} is brace expansion")),
            '~' if starts_word => {
                return Some("'~' at the start of a word is the home directory".into());
            }
            '#' if starts_word => {
                return Some("'#' at the start of a word starts a comment".into());
            }
            _ => {}
        }
    }
    if single || double {
        return Some("a quote is not closed".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::needs_shell;

    #[test]
    fn plain_and_quoted_flags_need_no_shell() {
        for ok in [
            "",
            "--model opus --verbose",
            "--dangerously-skip-permissions",
            "--append-system-prompt 'be brief; use $HOME and *.rs'",
            "--name \"a b\" --x=y",
            "--path=/a/b~c --tag a#b",
            "--esc a\\$b",
        ] {
            assert_eq!(needs_shell(ok), None, "{ok}");
        }
    }

    #[test]
    fn anything_the_shell_would_act_on_is_named() {
        for bad in [
            "--x $(id)",
            "--x `id`",
            "--x $HOME",
            "--x \"$HOME\"",
            "--a; rm -rf ~",
            "--a && b",
            "--a | tee log",
            "--a > out",
            "--files *.rs",
            "--x ~/y",
            "--x {a,b}",
            "--x #comment",
            "--x\nid",
            "--x 'open",
        ] {
            assert!(needs_shell(bad).is_some(), "{bad}");
        }
    }
}
