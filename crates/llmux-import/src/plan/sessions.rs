//! Sessions: agent, cwd, flags (no shell), env, prompts; and the move command of a running one.

use super::*;

pub(super) fn sessions(
    install: &Install,
    ours: &mut Ours<'_>,
    opts: &Options,
    translation: Option<&config::Translation>,
    plan: &mut Plan,
    report: &mut SourceReport,
) -> Result<(), String> {
    let Some(path) = &install.sessions else { return Ok(()) };
    let entries = match old::read_sessions(path) {
        Ok(entries) => entries,
        Err(e) => {
            report.problems.push(e);
            return Ok(());
        }
    };
    let catalog = translation
        .and_then(|t| Catalog::with_config(&t.agents).ok())
        .unwrap_or_else(Catalog::builtin);
    let old_names: BTreeSet<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    for (key, entry) in &entries {
        let agent = str_field(entry, "agent").unwrap_or_default().to_owned();
        let mut item = SessionPlan {
            name: names::canonical(key, &opts.owner),
            old_name: key.clone(),
            agent: agent.clone(),
            cwd: str_field(entry, "cwd").unwrap_or_default().to_owned(),
            flags: None,
            env: Vec::new(),
            init_prompts: 0,
            resume_from: None,
            owner: opts.owner.clone(),
            action: Action::Refused,
            notes: Vec::new(),
            running: running(install, key, &item_name(key, opts), &opts.llmux),
            source: install.label.clone(),
            record: None,
        };
        match session_record(key, entry, &catalog, &old_names, ours, opts, &mut item.notes)? {
            Ok(record) => {
                item.cwd = record.cwd.clone();
                item.flags = record.flags.clone();
                item.env = record.env.keys().cloned().collect();
                item.init_prompts = record.init_prompts.len();
                item.resume_from = record.resume_from.clone();
                ours.new_sessions.insert(record.name.clone());
                item.action = Action::Import;
                item.record = Some(record);
            }
            Err((action, why)) => {
                item.action = action;
                item.notes.insert(0, why);
            }
        }
        if item.action == Action::Refused
            && let Some(r) = &item.running
        {
            // nothing to restart under llmux: only say where it runs
            item.running = Some(Running { command: String::new(), ..r.clone() });
        }
        plan.sessions.push(item);
    }
    Ok(())
}

pub(super) fn item_name(key: &str, opts: &Options) -> String {
    names::canonical(key, &opts.owner)
}

pub(super) fn session_record(
    key: &str,
    entry: &Value,
    catalog: &Catalog,
    old_names: &BTreeSet<&str>,
    ours: &Ours<'_>,
    opts: &Options,
    notes: &mut Vec<String>,
) -> Result<Verdict<SessionRecord>, String> {
    if !entry.is_object() {
        return Ok(refused("not a JSON object"));
    }
    if let Err(e) = validate::session_name(key) {
        return Ok(refused(format!(
            "{e} (rename it in 0.41 with `llmux session edit {} --name NEW` and import again)",
            shell_words::quote(key)
        )));
    }
    let name = names::canonical(key, &opts.owner);
    if ours.new_sessions.contains(&name) {
        return Ok(refused("listed twice; the first one is brought over"));
    }
    let agent = str_field(entry, "agent").unwrap_or_default();
    let raw_cwd = str_field(entry, "cwd").unwrap_or_default();
    if let Some(existing) = ours.store.get_session(&name).map_err(|e| e.to_string())? {
        return Ok(if existing.agent == agent && existing.cwd == raw_cwd {
            Err((Action::AlreadyPresent, "a session of this name, agent and cwd exists".into()))
        } else {
            refused(format!("another session named {name:?} exists here"))
        });
    }
    if ours.store.imported_before("session", &name).map_err(|e| e.to_string())? {
        return Ok(refused("imported before and removed here since; not brought back"));
    }
    let Some(def) = catalog.get(agent) else {
        return Ok(refused(format!(
            "agent {agent:?} is not in llmux's catalog; define it under `agents:` in the config"
        )));
    };
    let cwd = match validate::cwd(raw_cwd, &opts.home) {
        Ok(cwd) => cwd.display().to_string(),
        Err(e) => return Ok(refused(e.to_string())),
    };
    let flags = match entry.get("flags") {
        None | Some(Value::Null) => None,
        Some(Value::String(flags)) => {
            if let Some(why) = needs_shell(flags) {
                return Ok(refused(format!(
                    "its flags {flags:?} need a shell, which llmux does not run: {why}"
                )));
            }
            if let Err(e) = validate::flags(flags) {
                return Ok(refused(e.to_string()));
            }
            Some(flags.trim().to_owned())
        }
        Some(_) => return Ok(refused("its flags are not text")),
    };
    let mut env = BTreeMap::new();
    match entry.get("env") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (k, v) in map {
                let Some(v) = v.as_str() else {
                    return Ok(refused(format!("env {k} is not text")));
                };
                env.insert(k.clone(), v.to_owned());
            }
            if let Err(e) = validate::env(&llmux_api::EnvInput::Map(env.clone())) {
                return Ok(refused(e.to_string()));
            }
        }
        Some(_) => return Ok(refused("its env is not an object")),
    }
    if let Some(alias) = str_field(entry, "orchAlias")
        && !alias.contains('\0')
    {
        env.entry("LLMUX_ORCH_ALIAS".to_owned()).or_insert_with(|| alias.to_owned());
        notes.push("its orchestration alias is kept as LLMUX_ORCH_ALIAS in its env".into());
    }
    let marker = str_field(entry, "turnqMarker");
    let mut init_prompts = Vec::new();
    if let Some(Value::Array(items)) = entry.get("initPrompts") {
        for p in items {
            let Some(p) = p.as_str() else { continue };
            if marker.is_some_and(|m| p.contains(m)) {
                notes.push("its turnq marker prompt is dropped (llmux has no turn queue)".into());
                continue;
            }
            if let Err(e) = validate::prompt(p) {
                return Ok(refused(format!("an init prompt is not accepted here: {e}")));
            }
            init_prompts.push(p.to_owned());
        }
    }
    let resume_from = ["externalSessionId", "resumeFrom"]
        .iter()
        .filter_map(|k| str_field(entry, k))
        .find(|id| validate::conversation_id(id).is_ok() && def.kind.validate_id(id).is_ok())
        .map(str::to_owned);
    if resume_from.is_none()
        && ["externalSessionId", "resumeFrom"].iter().any(|k| str_field(entry, k).is_some())
    {
        notes.push("its conversation id is not one llmux can resume; it starts fresh".into());
    }
    let parent = entry
        .get("parent")
        .and_then(Value::as_str)
        .filter(|p| old_names.contains(p) && validate::session_name(p).is_ok())
        .map(|p| names::canonical(p, &opts.owner));
    let now = now_ms();
    let created_at = str_field(entry, "createdAt").and_then(parse_rfc3339_ms).unwrap_or(now);
    Ok(Ok(SessionRecord {
        name,
        agent: agent.to_owned(),
        cwd,
        flags,
        env,
        init_prompts,
        resume_from,
        owner: opts.owner.clone(),
        parent,
        created_at,
        updated_at: now,
        started_at: created_at,
    }))
}

/// Whether 0.41's tmux server still runs the session `old` (a tmux session of that exact
/// name carrying `LLMUX_SESSION=<old>`, 0.41's own ownership mark).
pub(super) fn running(install: &Install, old: &str, name: &str, llmux: &str) -> Option<Running> {
    let socket = &install.tmux_socket;
    if !socket.exists() {
        return None;
    }
    let target = format!("={old}");
    let out = std::process::Command::new("tmux")
        .arg("-S")
        .arg(socket)
        .args(["show-environment", "-t", &target, "LLMUX_SESSION"])
        .env_remove("TMUX")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let mark = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || mark.trim() != format!("LLMUX_SESSION={old}") {
        return None;
    }
    let socket_text = socket.display().to_string();
    let command = format!(
        "tmux -S {} kill-session -t {} && {llmux} session restart {}",
        shell_words::quote(&socket_text),
        shell_words::quote(&target),
        shell_words::quote(name),
    );
    Some(Running { socket: socket_text, tmux_session: old.to_owned(), command })
}
