//! The credentials file: device tokens saved by `llmux auth login`, one profile per server.
//!
//! `~/.config/llmux/credentials.json` (from `$HOME`, as the old CLI did, not
//! `$XDG_CONFIG_HOME`), `{version: 1, active?, profiles: {<name>: {serverUrl, username, token,
//! savedAt}}}`. It holds secrets: the file is 0600 in a 0700 directory and is replaced
//! atomically (a temp file in the same directory, fsync, rename), so a crash leaves the old
//! file or the new one, never half of either.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use llmux_client::ServerUrl;
use serde::{Deserialize, Serialize};

use crate::output;

/// The only format version this CLI reads and writes.
const VERSION: u64 = 1;

/// A saved login to one server.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Profile {
    /// The server's base URL (canonical form).
    pub server_url: String,
    /// Who logged in.
    pub username: String,
    /// The device token (secret).
    pub token: String,
    /// When it was saved (RFC 3339).
    pub saved_at: String,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("server_url", &self.server_url)
            .field("username", &self.username)
            .field("token", &"<redacted>")
            .field("saved_at", &self.saved_at)
            .finish()
    }
}

impl Profile {
    /// Whether this profile is for the server at `url` (compared in canonical form).
    pub fn is_for(&self, url: &str) -> bool {
        same_server(&self.server_url, url)
    }
}

/// The file's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Credentials {
    /// The profile used when no server is given.
    pub active: Option<String>,
    /// By name.
    pub profiles: BTreeMap<String, Profile>,
}

impl Credentials {
    /// The active profile, with its name.
    pub fn active(&self) -> Option<(&str, &Profile)> {
        let name = self.active.as_deref()?;
        self.profiles.get(name).map(|p| (name, p))
    }

    /// The profile to use for the server at `url`: the active one if it is for that server,
    /// else the most recently saved one for it.
    pub fn for_server(&self, url: &str) -> Option<(&str, &Profile)> {
        if let Some((name, p)) = self.active()
            && p.is_for(url)
        {
            return Some((name, p));
        }
        self.profiles
            .iter()
            .filter(|(_, p)| p.is_for(url))
            .max_by(|a, b| a.1.saved_at.cmp(&b.1.saved_at))
            .map(|(name, p)| (name.as_str(), p))
    }
}

/// What is on disk.
#[derive(Serialize)]
struct OnDisk<'a> {
    version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    active: Option<&'a str>,
    profiles: &'a BTreeMap<String, Profile>,
}

/// The credentials file at one path.
#[derive(Debug, Clone)]
pub(crate) struct CredentialsFile {
    path: PathBuf,
}

impl CredentialsFile {
    /// `$HOME/.config/llmux/credentials.json`.
    pub fn default_location() -> Result<CredentialsFile> {
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .context("cannot find the credentials file: $HOME is not set")?;
        Ok(CredentialsFile::at(Path::new(&home).join(".config/llmux/credentials.json")))
    }

    /// The file at `path`.
    pub fn at(path: impl Into<PathBuf>) -> CredentialsFile {
        CredentialsFile { path: path.into() }
    }

    /// The path for messages, with `~` for `$HOME`.
    pub fn display(&self) -> String {
        if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty())
            && let Ok(rest) = self.path.strip_prefix(&home)
        {
            return format!("~/{}", rest.display());
        }
        self.path.display().to_string()
    }

    /// Reads the file; a missing file is an empty one.
    pub fn load(&self) -> Result<Credentials> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Credentials::default()),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", self.path.display()));
            }
        };
        self.warn_if_readable_by_others();
        parse(&text).map_err(|e| anyhow!("{e} in {}", self.path.display()))
    }

    /// Replaces the file with `creds`, atomically, mode 0600 in a 0700 directory.
    pub fn save(&self, creds: &Credentials) -> Result<()> {
        let dir = self.path.parent().context("the credentials path has no directory")?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        // An existing directory keeps its mode from before: tighten it.
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make {} private", dir.display()))?;
        let mut json = serde_json::to_vec_pretty(&OnDisk {
            version: VERSION,
            active: creds.active.as_deref(),
            profiles: &creds.profiles,
        })?;
        json.push(b'\n');
        let file_name = self.path.file_name().context("the credentials path has no file name")?;
        let tmp = dir.join(format!(".{}.{}.tmp", file_name.to_string_lossy(), std::process::id()));
        let _ = fs::remove_file(&tmp); // a leftover of a crashed run with the same pid
        let write = || -> std::io::Result<()> {
            let mut file =
                fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
            file.write_all(&json)?;
            file.sync_all()?;
            fs::rename(&tmp, &self.path)?;
            // Make the rename itself durable.
            fs::File::open(dir)?.sync_all()
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            anyhow!("cannot write {}: {e}", self.path.display())
        })
    }

    fn warn_if_readable_by_others(&self) {
        if let Ok(meta) = fs::metadata(&self.path)
            && meta.permissions().mode() & 0o077 != 0
        {
            output::say_err!(
                "llmux: warning: {} can be read by other users; run `chmod 600 {}`",
                self.path.display(),
                self.path.display()
            );
        }
    }
}

/// Parses and checks the file's JSON (the messages follow the old CLI's).
fn parse(text: &str) -> Result<Credentials> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| anyhow!("invalid JSON: {e}"))?;
    let obj = value.as_object().context("the credentials file is not a JSON object")?;
    match obj.get("version") {
        Some(v) if v.as_u64() == Some(VERSION) => {}
        Some(v) => bail!("unsupported credentials file version: {v}"),
        None => bail!("the credentials file has no version"),
    }
    let mut profiles = BTreeMap::new();
    match obj.get("profiles") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Object(map)) => {
            for (name, p) in map {
                let profile: Profile = serde_json::from_value(p.clone())
                    .map_err(|_| anyhow!("profile '{name}' is malformed"))?;
                profiles.insert(name.clone(), profile);
            }
        }
        Some(_) => bail!("`profiles` is not an object"),
    }
    let active = match obj.get("active") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(name)) => Some(name.clone()),
        Some(_) => bail!("`active` is not a profile name"),
    };
    // An active name without its profile (edited by hand) means no active profile.
    let active = active.filter(|name| profiles.contains_key(name));
    Ok(Credentials { active, profiles })
}

/// The default profile name for a server: `<hostname>-<port>`, the port defaulting to 443 for
/// https and 80 for http (`https://box.tailnet:3001` → `box.tailnet-3001`). A URL that does
/// not parse becomes itself, lower case, with every character outside `[A-Za-z0-9._-]`
/// replaced by `-`.
pub(crate) fn default_profile_name(url: &str) -> String {
    match ServerUrl::parse(url) {
        Ok(u) => format!("{}-{}", u.host(), u.port()),
        Err(_) => url
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' })
            .collect::<String>()
            .to_ascii_lowercase(),
    }
}

/// The canonical form of a server URL, or the text itself when it does not parse.
pub(crate) fn canonical_url(url: &str) -> String {
    ServerUrl::parse(url).map(|u| u.to_string()).unwrap_or_else(|_| url.trim().to_owned())
}

/// Whether two URLs name the same server.
pub(crate) fn same_server(a: &str, b: &str) -> bool {
    canonical_url(a) == canonical_url(b)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn profile(url: &str, user: &str, token: &str, saved_at: &str) -> Profile {
        Profile {
            server_url: url.into(),
            username: user.into(),
            token: token.into(),
            saved_at: saved_at.into(),
        }
    }

    #[test]
    fn round_trip_with_private_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let file = CredentialsFile::at(dir.path().join("cfg/llmux/credentials.json"));
        assert_eq!(file.load().unwrap(), Credentials::default(), "missing file = empty");

        let mut creds = Credentials::default();
        creds.profiles.insert(
            "box-3001".into(),
            profile("https://box:3001", "ann", "llmux_id_secret", "2026-01-01T00:00:00Z"),
        );
        creds.active = Some("box-3001".into());
        file.save(&creds).unwrap();
        assert_eq!(file.load().unwrap(), creds);

        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file.path), 0o600);
        assert_eq!(mode(file.path.parent().unwrap()), 0o700);
        let json: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&file.path).unwrap()).unwrap();
        assert_eq!(json["version"], 1);
        assert_eq!(json["active"], "box-3001");
        assert_eq!(json["profiles"]["box-3001"]["serverUrl"], "https://box:3001");
        assert_eq!(json["profiles"]["box-3001"]["savedAt"], "2026-01-01T00:00:00Z");

        // Saving again replaces the file and leaves no temp file behind.
        creds.active = None;
        file.save(&creds).unwrap();
        assert_eq!(file.load().unwrap().active, None);
        let names: Vec<_> = fs::read_dir(file.path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["credentials.json"]);
        assert!(!format!("{creds:?}").contains("secret"));
    }

    #[test]
    fn an_existing_directory_is_made_private() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("llmux");
        fs::create_dir(&sub).unwrap();
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o755)).unwrap();
        CredentialsFile::at(sub.join("credentials.json")).save(&Credentials::default()).unwrap();
        assert_eq!(fs::metadata(&sub).unwrap().permissions().mode() & 0o777, 0o700);
    }

    #[test]
    fn load_errors_say_what_is_wrong_and_where() {
        let dir = tempfile::tempdir().unwrap();
        let file = CredentialsFile::at(dir.path().join("credentials.json"));
        let err = |text: &str| {
            fs::write(&file.path, text).unwrap();
            format!("{:#}", file.load().unwrap_err())
        };
        let e = err("{not json");
        assert!(e.starts_with("invalid JSON: ") && e.contains("credentials.json"), "{e}");
        assert!(
            err(r#"{"version":2,"profiles":{}}"#)
                .starts_with("unsupported credentials file version: 2")
        );
        assert!(
            err(r#"{"version":1,"profiles":{"p":{"serverUrl":"x"}}}"#)
                .starts_with("profile 'p' is malformed")
        );
        fs::write(&file.path, r#"{"version":1,"active":"gone","profiles":{}}"#).unwrap();
        assert_eq!(file.load().unwrap().active, None);
    }

    #[test]
    fn profile_names_derive_from_the_url() {
        assert_eq!(default_profile_name("https://myhost.tailnet:3001"), "myhost.tailnet-3001");
        assert_eq!(default_profile_name("https://MyHost.tailnet/"), "myhost.tailnet-443");
        assert_eq!(default_profile_name("http://127.0.0.1"), "127.0.0.1-80");
        assert_eq!(default_profile_name("Box:3001/x"), "box-3001-x");
    }

    #[test]
    fn the_profile_for_a_server_prefers_the_active_one_then_the_newest() {
        let mut creds = Credentials::default();
        creds.profiles.insert("old".into(), profile("https://box", "a", "t1", "2026-01-01"));
        creds.profiles.insert("new".into(), profile("https://box:443/", "b", "t2", "2026-02-01"));
        creds.profiles.insert("other".into(), profile("http://elsewhere", "c", "t3", "2026-03-01"));
        assert_eq!(creds.for_server("https://BOX").map(|p| p.0), Some("new"));
        creds.active = Some("old".into());
        assert_eq!(creds.for_server("https://box").map(|p| p.0), Some("old"));
        assert_eq!(creds.for_server("http://box").map(|p| p.0), None);
    }
}
