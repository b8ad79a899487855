//! Attacks: names (see the table in the parent module).
