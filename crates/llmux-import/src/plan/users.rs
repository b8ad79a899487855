//! Users: who comes over, with which rights and passphrase hash.

use super::*;

pub(super) fn users(
    install: &Install,
    ours: &mut Ours<'_>,
    plan: &mut Plan,
    report: &mut SourceReport,
) -> Result<(), String> {
    let Some(path) = &install.users else { return Ok(()) };
    let entries = entries_or_problem(old::read_array(path), report);
    for entry in entries {
        let username = str_field(&entry, "username").unwrap_or_default().to_owned();
        let mut item = UserPlan {
            username: username.clone(),
            name: String::new(),
            admin: false,
            action: Action::Refused,
            notes: Vec::new(),
            source: install.label.clone(),
            record: None,
        };
        match user_record(&entry, &username, ours, &mut item.notes)? {
            Ok(record) => {
                item.name = record.name.clone();
                item.admin = record.admin;
                ours.new_users.insert(record.username.clone(), record.admin);
                item.action = Action::Import;
                item.record = Some(record);
            }
            Err((action, why)) => {
                if let Ok(Some(u)) = ours.user(&username) {
                    item.name = u.name;
                    item.admin = u.admin;
                }
                item.action = action;
                item.notes.insert(0, why);
            }
        }
        plan.users.push(item);
    }
    Ok(())
}

pub(super) fn user_record(
    entry: &Value,
    username: &str,
    ours: &Ours<'_>,
    notes: &mut Vec<String>,
) -> Result<Verdict<UserRecord>, String> {
    if !entry.is_object() {
        return Ok(refused("not a JSON object"));
    }
    if let Err(e) = llmux_auth::validate_username(username) {
        return Ok(refused(e.to_string()));
    }
    if ours.new_users.contains_key(username) {
        return Ok(refused("listed twice; the first one is brought over"));
    }
    if let Some(existing) = ours.user(username)? {
        let from = ours.store.user_imported_from(username).map_err(|e| e.to_string())?;
        let why = match from {
            Some(_) => "imported before; left as it is".to_owned(),
            None => format!(
                "an llmux user of this name exists already{}; left as it is, and 0.41's \
                 passphrase and tokens for this name are not brought over",
                if existing.admin { " (an admin)" } else { "" }
            ),
        };
        return Ok(Err((Action::AlreadyPresent, why)));
    }
    if ours.store.imported_before("user", username).map_err(|e| e.to_string())? {
        return Ok(refused("imported before and deleted here since; not brought back"));
    }
    let hash = str_field(entry, "passphraseHash").unwrap_or_default();
    if let Err(e) = ScryptHash::parse(hash) {
        return Ok(refused(format!(
            "its passphrase hash cannot be used ({e}); create the user with `llmux user create`"
        )));
    }
    let name = match str_field(entry, "name").map(llmux_auth::validate_name) {
        Some(Ok(name)) => name,
        _ => {
            notes
                .push("its display name is missing or not valid here; the username is used".into());
            username.to_owned()
        }
    };
    let admin = match entry.get("admin") {
        Some(Value::Bool(b)) => *b,
        None => false,
        Some(_) => {
            notes.push("\"admin\" is not true or false; brought over as a non-admin".into());
            false
        }
    };
    let now = now_ms();
    let created_at = str_field(entry, "createdAt").and_then(parse_rfc3339_ms).unwrap_or(now);
    Ok(Ok(UserRecord {
        username: username.to_owned(),
        name,
        passphrase_hash: hash.to_owned(),
        admin,
        created_at,
        updated_at: now,
        roots: Vec::new(),
        max_sessions: None,
        unix_account: None,
        max_session_memory_mb: None,
    }))
}
