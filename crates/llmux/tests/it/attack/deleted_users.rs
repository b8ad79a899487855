//! Attacks: deleted_users (see the table in the parent module).
