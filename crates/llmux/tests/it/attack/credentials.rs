//! Attacks: credentials (see the table in the parent module).
