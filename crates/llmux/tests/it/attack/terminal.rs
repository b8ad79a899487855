//! Attacks: terminal (see the table in the parent module).
