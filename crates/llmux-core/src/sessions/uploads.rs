//! Files a person gives a session (issue 19): written into `.llmux/uploads/` in the session's
//! cwd, as the session's owner, and named so its agent can be pointed at them.
//!
//! The write runs as a small fixed `sh` script with the names as arguments, through
//! [`SessionService::as_owner`]: inside the owner's sandbox (or as their Unix account), so a
//! symlink that something in the session planted (`.llmux` → the daemon's state) leads only
//! where the agent itself can write. The file appears whole or not at all: it is written under
//! a hidden part name and hard-linked to its final name, which fails rather than replace a file.
//! `.llmux/.gitignore` (`*`) keeps the folder out of git in every kind of checkout, for the
//! agents that read files git ignores; Gemini CLI and Qwen Code skip those (their `@` and
//! `read_file`), so their uploads go to `.llmux-uploads/`, which git sees
//! ([`AgentKind::reads_ignored_files`](crate::agents::AgentKind)).

use std::path::Path;
use std::process::Stdio;

use tokio::io::AsyncWriteExt;

use super::SessionService;
use crate::config::UploadLimits;
use crate::error::{Error, Result};

/// The folder, relative to the session's cwd, kept out of git.
pub const UPLOADS_DIR: &str = ".llmux/uploads";
/// The folder for agents that do not read files git ignores: git sees it.
pub const VISIBLE_UPLOADS_DIR: &str = ".llmux-uploads";

/// Exit status of the script when the folder already holds the most files allowed.
const FULL: i32 = 17;
/// Exit status when every candidate name is taken.
const TAKEN: i32 = 18;

/// `$1` = most files allowed, `$2` = the name's stem, `$3` = its extension (with the dot),
/// `$4` = the folder, `$5` = `1` to keep `.llmux/` out of git. Prints the name it chose. The
/// body arrives on stdin.
const SCRIPT: &str = r#"set -eu
umask 022
mkdir -p "$4"
if [ "$5" = 1 ] && [ ! -e .llmux/.gitignore ]; then
  printf '%s\n' '# made by llmux: keeps uploads out of git' '*' > .llmux/.gitignore
fi
n=$(ls -A "$4" | grep -cv '^\.' || true)
[ "$n" -lt "$1" ] || exit 17
part="$4/.part-$$"
trap 'rm -f -- "$part"' EXIT
cat > "$part"
i=1
while [ "$i" -le 50 ]; do
  if [ "$i" = 1 ]; then name="$2$3"; else name="$2-$i$3"; fi
  if ln -- "$part" "$4/$name" 2>/dev/null; then printf '%s\n' "$name"; exit 0; fi
  i=$((i + 1))
done
exit 18
"#;

/// A file written into a session's workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    /// The file's name in the uploads folder.
    pub name: String,
    /// Its path relative to the session's cwd (`.llmux/uploads/NAME`, or
    /// `.llmux-uploads/NAME` for an agent that skips files git ignores).
    pub relative: String,
    /// Its absolute path.
    pub path: String,
    /// Bytes written.
    pub size: u64,
    /// How to name it in a prompt to this session's agent.
    pub mention: String,
}

impl SessionService {
    /// What may be uploaded (`server.uploads`): the API sizes its body limit from it.
    pub fn upload_limits(&self) -> &UploadLimits {
        &self.opts.uploads
    }

    /// Writes `body` as `file_name` into session `name`'s uploads folder, within the
    /// daemon's limits. Owner checks are the caller's (the auth facade).
    pub async fn upload(&self, name: &str, file_name: &str, body: &[u8]) -> Result<Uploaded> {
        let limits = &self.opts.uploads;
        let record = self.record(name)?;
        let (stem, ext) = sanitize(file_name)?;
        limits.check(&ext, body)?;
        let cwd = Path::new(&record.cwd);
        if !cwd.is_dir() {
            return Err(Error::Conflict(format!(
                "session {name:?}'s folder {} is gone; nothing was written",
                record.cwd
            )));
        }
        let kind = self.kind_of(&record.agent);
        let (dir, ignore) = match kind.reads_ignored_files() {
            true => (UPLOADS_DIR, "1"),
            false => (VISIBLE_UPLOADS_DIR, "0"),
        };
        let argv = ["sh", "-c", SCRIPT, "llmux-upload"].into_iter().map(String::from);
        let args =
            [limits.max_files.to_string(), stem, format!(".{ext}"), dir.into(), ignore.into()];
        let argv: Vec<String> = argv.chain(args).collect();
        let argv = self.as_owner(&record.owner, cwd, argv, &[]).await?;
        let chosen = run_script(&argv, cwd, body).await?;
        let relative = format!("{dir}/{chosen}");
        Ok(Uploaded {
            path: cwd.join(&relative).display().to_string(),
            mention: kind.mention(&relative),
            name: chosen,
            relative,
            size: body.len() as u64,
        })
    }
}

/// Runs the write, feeding `body`; the chosen name, or what went wrong in words.
async fn run_script(argv: &[String], cwd: &Path, body: &[u8]) -> Result<String> {
    let mut child = tokio::process::Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::io("cannot start the upload", e))?;
    let mut stdin = child.stdin.take().expect("piped");
    // A script that stops early (folder full) closes its stdin: not an error of ours.
    let fed = stdin.write_all(body).await;
    drop(stdin);
    let out = child.wait_with_output().await.map_err(|e| Error::io("upload", e))?;
    match out.status.code() {
        Some(0) => {
            fed.map_err(|e| Error::io("cannot write the upload", e))?;
            let name = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if name.is_empty() || name.contains('/') {
                return Err(Error::io(
                    "upload",
                    std::io::Error::other(format!("the script reported a bad name {name:?}")),
                ));
            }
            Ok(name)
        }
        Some(FULL) => Err(Error::Conflict(
            "the session's uploads folder is full (an admin sets server.uploads.maxFiles); \
             delete files from its uploads folder"
                .into(),
        )),
        Some(TAKEN) => {
            Err(Error::Conflict("too many uploads share that name; rename the file".into()))
        }
        _ => Err(Error::Conflict(format!(
            "cannot write into the session's folder: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
    }
}

/// Splits a client's file name into a safe stem and a lower-case extension: the last path
/// component only, letters, digits, `.`, `_` and `-` kept (anything else becomes `_`), no
/// leading dot, at most 80 characters. An extension is required (it decides the type).
pub fn sanitize(file_name: &str) -> Result<(String, String)> {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or_default();
    let (stem, ext) = base
        .rsplit_once('.')
        .filter(|(s, e)| !e.is_empty() && !s.trim_matches('.').is_empty())
        .ok_or_else(|| {
            Error::invalid(format!(
                "the file name {file_name:?} needs a name and an extension (such as .png)"
            ))
        })?;
    let clean = |s: &str| -> String {
        s.chars()
            .map(
                |c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' },
            )
            .collect()
    };
    let ext = clean(ext).to_ascii_lowercase();
    let stem: String = clean(stem).trim_start_matches(['.', '-']).chars().take(80).collect();
    let stem = if stem.is_empty() { "upload".to_owned() } else { stem };
    if ext.len() > 10 || ext.contains('.') {
        return Err(Error::invalid(format!(
            "the extension of {file_name:?} is not one llmux knows"
        )));
    }
    Ok((stem, ext))
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn names_are_reduced_to_a_safe_last_component() {
        let ok = |n: &str| sanitize(n).unwrap();
        assert_eq!(ok("shot.PNG"), ("shot".into(), "png".into()));
        assert_eq!(ok("../../etc/passwd.txt"), ("passwd".into(), "txt".into()));
        assert_eq!(ok("C:\\Users\\me\\a b.jpg"), ("a_b".into(), "jpg".into()));
        assert_eq!(ok(".hidden.md"), ("hidden".into(), "md".into()));
        assert_eq!(ok("-rf.txt"), ("rf".into(), "txt".into()));
        assert_eq!(ok("报告.pdf"), ("__".into(), "pdf".into()));
        assert_eq!(ok("x.tar.gz"), ("x.tar".into(), "gz".into()));
        for bad in ["", "noext", ".bashrc", "dir/", "a.", "..", "a.b/c"] {
            assert!(sanitize(bad).is_err(), "{bad:?} accepted");
        }
    }
}
