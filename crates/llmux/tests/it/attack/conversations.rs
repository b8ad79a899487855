//! Attacks: conversations (see the table in the parent module).
