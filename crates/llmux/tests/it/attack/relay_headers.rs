//! Attacks: relay_headers (see the table in the parent module).
