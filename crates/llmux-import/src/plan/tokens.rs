//! v2 tokens: kept under `sas_<old id>`, only for accounts brought over from 0.41.

use super::*;

pub(super) fn tokens(
    install: &Install,
    ours: &mut Ours<'_>,
    plan: &mut Plan,
    report: &mut SourceReport,
) -> Result<(), String> {
    let Some(path) = &install.tokens else { return Ok(()) };
    let entries = entries_or_problem(old::read_array(path), report);
    for entry in entries {
        let old_id = str_field(&entry, "tokenId").unwrap_or_default();
        let username = str_field(&entry, "username").unwrap_or_default().to_owned();
        let mut item = TokenPlan {
            id: legacy::token_id(old_id),
            username: username.clone(),
            name: str_field(&entry, "name").unwrap_or_default().to_owned(),
            scope: TokenScope::User,
            expires_at: None,
            action: Action::Refused,
            notes: Vec::new(),
            source: install.label.clone(),
            record: None,
        };
        match token_record(&entry, old_id, &username, ours, &mut item.notes)? {
            Ok(record) => {
                item.name = record.name.clone();
                item.scope = TokenScope::parse(&record.scope).unwrap_or(TokenScope::User);
                item.expires_at = record.expires_at.map(rfc3339_ms);
                ours.new_tokens.insert(record.id.clone());
                item.action = Action::Import;
                item.record = Some(record);
            }
            Err((action, why)) => {
                item.action = action;
                item.notes.insert(0, why);
            }
        }
        plan.tokens.push(item);
    }
    Ok(())
}

pub(super) fn token_record(
    entry: &Value,
    old_id: &str,
    username: &str,
    ours: &Ours<'_>,
    notes: &mut Vec<String>,
) -> Result<Verdict<TokenRecord>, String> {
    if !legacy::valid_token_id(old_id) {
        return Ok(refused("its tokenId is not one 0.41 could have made"));
    }
    let id = legacy::token_id(old_id);
    let hash = match legacy::token_hash_hex(str_field(entry, "secretHash").unwrap_or_default()) {
        Ok(hash) => hash,
        Err(e) => return Ok(refused(e)),
    };
    if ours.new_tokens.contains(&id) {
        return Ok(refused("listed twice; the first one is brought over"));
    }
    if let Some(existing) = ours.store.get_token(&id).map_err(|e| e.to_string())? {
        return Ok(if existing.secret_hash == hash && existing.username == username {
            Err((Action::AlreadyPresent, "imported before".into()))
        } else {
            refused("a different token with this id exists here")
        });
    }
    if ours.store.imported_before("token", &id).map_err(|e| e.to_string())? {
        return Ok(refused("imported before and revoked here since; not brought back"));
    }
    // The owner must be an account brought over from 0.41 (now or before): an old file must
    // never hand out a credential for an account made here.
    let admin = match ours.new_users.get(username) {
        Some(admin) => *admin,
        None => match ours.user(username)? {
            Some(u)
                if ours
                    .store
                    .user_imported_from(username)
                    .map_err(|e| e.to_string())?
                    .is_some() =>
            {
                u.admin
            }
            Some(_) => {
                return Ok(refused(format!(
                    "its owner {username:?} is an llmux user not brought over from 0.41"
                )));
            }
            None => {
                return Ok(refused(format!("its owner {username:?} is not brought over")));
            }
        },
    };
    let now = now_ms();
    let expires_at = match entry.get("expiresAt") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_str().and_then(parse_rfc3339_ms) {
            Some(at) if at <= now => return Ok(refused("it has expired")),
            Some(at) => Some(at),
            None => {
                return Ok(refused(
                    "its expiry cannot be read (0.41 then let it live forever); make a new \
                     token with `llmux token create`",
                ));
            }
        },
    };
    let name = match str_field(entry, "name").map(llmux_auth::validate_name) {
        Some(Ok(name)) => name,
        _ => {
            notes.push("its name is missing or not valid here; named after its id".into());
            format!("imported {old_id}")
        }
    };
    // 0.41 tokens carried every right of their owner.
    let scope = if admin { TokenScope::Admin } else { TokenScope::User };
    Ok(Ok(TokenRecord {
        id,
        username: username.to_owned(),
        name,
        scope: scope.as_str().to_owned(),
        secret_hash: hash,
        created_at: str_field(entry, "createdAt").and_then(parse_rfc3339_ms).unwrap_or(now),
        expires_at,
        last_used_at: str_field(entry, "lastUsedAt").and_then(parse_rfc3339_ms),
        imported_from: Some(ORIGIN.to_owned()),
    }))
}
