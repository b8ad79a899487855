//! Attacks: connections (see the table in the parent module).
