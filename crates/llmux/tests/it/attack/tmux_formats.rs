//! Attacks: tmux_formats (see the table in the parent module).
