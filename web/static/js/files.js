// Files and voice for the composers (issue 19): upload into the session's folder (picker,
// camera, paste, drop) and get back how to name each file in a prompt; dictation where the
// browser has speech recognition (the words stay in the browser until the person sends them).

import { h, enc, toast } from "./ui.js";

/** Uploads `files` into session `name`'s folder, one request each; the mentions of those
 *  that landed (a refusal is toasted with the daemon's words and the rest go on). */
export async function upload(name, files) {
  const out = [];
  for (const f of files) {
    try {
      const res = await fetch(`/api/sessions/${enc(name)}/uploads?filename=${enc(f.name || "pasted.png")}`, {
        method: "POST", credentials: "same-origin", body: f,
        headers: { Accept: "application/json", "Content-Type": "application/octet-stream" },
      });
      const data = await res.json().catch(() => null);
      if (!res.ok) throw new Error(data?.error || `Upload failed (HTTP ${res.status}).`);
      out.push(data.mention);
    } catch (e) {
      toast(`${f.name}: ${e.message === "Failed to fetch" ? "cannot reach the daemon" : e.message}`, "error");
    }
  }
  if (out.length) toast(`Uploaded ${out.length === 1 ? out[0].replace(/^@/, "") : `${out.length} files`}`);
  return out;
}

/** A button opening the file picker (a phone offers its camera there too): an icon, or
 *  `label` as its text. Returns the button and its hidden input. */
export function fileButton(onFiles, tid = "upload", label) {
  const input = h("input", { type: "file", multiple: true, hidden: true, tid: `${tid}-input`,
    onchange: () => { const fs = [...input.files]; input.value = ""; if (fs.length) onFiles(fs); } });
  const b = h("button", { type: "button", class: label ? "btn sm" : "btn icon-btn i-clip", tid, "aria-label": label ? null : "Attach files", title: "Attach files (or paste, or drop)", onclick: () => input.click() }, label);
  return [b, input];
}

/** Calls `onFiles` with the files pasted or dropped on `el` (text pastes are left alone). */
export function takeFiles(el, onFiles) {
  el.addEventListener("paste", (e) => {
    const fs = [...(e.clipboardData?.files || [])];
    if (!fs.length) return;
    e.preventDefault();
    e.stopPropagation();
    onFiles(fs);
  }, true);
  el.addEventListener("dragover", (e) => { if (e.dataTransfer?.types?.includes("Files")) e.preventDefault(); });
  el.addEventListener("drop", (e) => {
    const fs = [...(e.dataTransfer?.files || [])];
    if (!fs.length) return;
    e.preventDefault();
    onFiles(fs);
  });
}

/** A microphone button that dictates into `onText(words)`, or null where the browser has no
 *  speech recognition (the button is then simply absent). */
export function micButton(onText) {
  const SR = window.SpeechRecognition || window.webkitSpeechRecognition;
  if (!SR) return null;
  let rec = null;
  const b = h("button", { type: "button", class: "btn icon-btn i-mic", tid: "mic", "aria-label": "Dictate", "aria-pressed": "false", title: "Dictate", onclick: () => {
    if (rec) return rec.stop();
    rec = new SR();
    rec.interimResults = false;
    rec.lang = navigator.language || "en-US";
    rec.onresult = (e) => onText([...e.results].map((r) => r[0].transcript).join(" ").trim());
    rec.onerror = (e) => { if (e.error !== "aborted" && e.error !== "no-speech") toast(`Dictation: ${e.error}`, "error"); };
    rec.onend = () => { rec = null; b.setAttribute("aria-pressed", "false"); };
    b.setAttribute("aria-pressed", "true");
    rec.start();
  } });
  return b;
}
