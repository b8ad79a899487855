//! Attacks: signin (see the table in the parent module).
