//! Attacks: web_edges (see the table in the parent module).
