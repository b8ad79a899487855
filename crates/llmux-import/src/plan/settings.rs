//! The config file and the settings page's overrides, translated key by key.

use super::*;

pub(super) fn config_plan(
    install: &Install,
    ours: &mut Ours<'_>,
    opts: &Options,
    plan: &mut Plan,
    report: &mut SourceReport,
) -> Option<config::Translation> {
    let path = install.config.as_ref()?;
    let target = &opts.config_target;
    let mut item = ConfigPlan {
        source: path.display().to_string(),
        target: target.display().to_string(),
        action: ConfigAction::Refused,
        backup: None,
        kept: Vec::new(),
        dropped: Vec::new(),
        notes: Vec::new(),
        yaml: String::new(),
        source_install: install.label.clone(),
    };
    let translation = old::read(path).and_then(|text| config::translate(&text));
    let translation = match translation {
        Ok(t) => t,
        Err(e) => {
            report.problems.push(format!("{}: {e}", path.display()));
            item.notes.push(e);
            plan.config.push(item);
            return None;
        }
    };
    item.kept = translation.kept.clone();
    item.dropped = translation.dropped.clone();
    item.yaml = translation.yaml.clone();
    let same_file = same_file(path, target);
    let current = std::fs::read_to_string(target).ok();
    item.action = if let Some(written) = &ours.config_written {
        item.notes.push(format!("an earlier install's config goes to {}", target.display()));
        if *written == translation.yaml {
            ConfigAction::AlreadyPresent
        } else {
            ConfigAction::KeptExisting
        }
    } else if current.as_deref() == Some(translation.yaml.as_str()) {
        ConfigAction::AlreadyPresent
    } else if current.is_none() || same_file {
        if same_file {
            item.backup = Some(backup_path(target).display().to_string());
        }
        ours.config_written = Some(translation.yaml.clone());
        ConfigAction::Write
    } else {
        item.notes.push(format!(
            "{} is an llmux config already; it is left as it is (merge the translation by hand)",
            target.display()
        ));
        ConfigAction::KeptExisting
    };
    plan.config.push(item);
    Some(translation)
}

pub(super) fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Where the old config is kept when the translation replaces it in place.
pub fn backup_path(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".llmux-0.41");
    target.with_file_name(name)
}

pub(super) fn overlay(
    install: &Install,
    ours: &mut Ours<'_>,
    opts: &Options,
    plan: &mut Plan,
    report: &mut SourceReport,
) {
    let Some(path) = &install.overrides else { return };
    let mut item = OverlayPlan {
        source: path.display().to_string(),
        target: opts.paths.overlay.display().to_string(),
        action: Action::Refused,
        init_prompts: Vec::new(),
        dropped: Vec::new(),
        notes: Vec::new(),
    };
    match old::read(path).and_then(|t| config::translate_overrides(&t)) {
        Err(e) => {
            report.problems.push(format!("{}: {e}", path.display()));
            item.notes.push(e);
        }
        Ok((prompts, dropped)) => {
            item.dropped = dropped;
            match prompts {
                None => item.action = Action::AlreadyPresent,
                Some(prompts) => {
                    item.init_prompts = prompts.clone();
                    let current = match &ours.overlay_set {
                        Some(set) => Some(set.clone()),
                        None => {
                            Overlay::load(&opts.paths.overlay).ok().and_then(|o| o.init_prompts)
                        }
                    };
                    item.action = match current {
                        Some(cur) if cur == prompts => Action::AlreadyPresent,
                        Some(_) => {
                            item.notes.push(
                                "llmux's settings already have init prompts; left as they are"
                                    .into(),
                            );
                            Action::Refused
                        }
                        None => {
                            ours.overlay_set = Some(prompts);
                            Action::Import
                        }
                    };
                }
            }
        }
    }
    plan.overlay.push(item);
}
