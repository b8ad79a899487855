//! Attacks: escapes (see the table in the parent module).
