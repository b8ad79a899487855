// Sign-in, setup and pairing pages. Values from the server are only ever inserted as text.

const $ = (id) => document.getElementById(id);

/** A same-origin relative path, or "/" (never an open redirect). */
function safeReturnTo(raw) {
  if (typeof raw !== "string" || !raw.startsWith("/") || raw.startsWith("//") || raw.startsWith("/\\")) return "/";
  try {
    const url = new URL(raw, location.origin);
    return url.origin === location.origin ? url.pathname + url.search + url.hash : "/";
  } catch {
    return "/";
  }
}

async function postJson(path, body) {
  const res = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify(body),
  });
  let data = {};
  try { data = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) throw new Error(data.error || `request failed (HTTP ${res.status})`);
  return data;
}

function showError(message) {
  const el = $("error");
  el.textContent = message;
  el.hidden = false;
}

function fragmentParam(name) {
  return new URLSearchParams(location.hash.slice(1)).get(name);
}

function wire(form, submit) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    $("error").hidden = true;
    try {
      await submit(Object.fromEntries(new FormData(form)));
    } catch (err) {
      showError(err.message);
    } finally {
      button.disabled = false;
    }
  });
}

const login = $("login");
if (login) {
  wire(login, async (f) => {
    await postJson("/api/auth/login", { username: f.username, passphrase: f.passphrase });
    location.assign(safeReturnTo(new URLSearchParams(location.search).get("returnTo")));
  });
}

const setup = $("setup");
if (setup) {
  const token = fragmentParam("token");
  if (token) {
    $("setupToken").value = token;
    history.replaceState(null, "", location.pathname); // keep the token out of history
  }
  wire(setup, async (f) => {
    await postJson("/api/setup", { setupToken: f.setupToken, username: f.username, name: f.name || null, passphrase: f.passphrase });
    location.assign("/");
  });
}

const pair = $("pair");
if (pair) {
  const redeem = async (code) => {
    await postJson("/api/auth/pair", { code });
    location.assign("/");
  };
  const code = fragmentParam("code");
  history.replaceState(null, "", location.pathname);
  const manual = () => { $("status").textContent = "Enter the pairing code shown by `llmux pair`."; pair.hidden = false; };
  if (code) redeem(code).catch((err) => { manual(); showError(err.message); });
  else manual();
  wire(pair, (f) => redeem(f.code));
}

const who = $("who");
if (who) {
  fetch("/api/auth/whoami", { credentials: "same-origin" })
    .then((r) => r.json())
    .then((me) => { who.textContent = me.name ? `${me.name} (${me.username})` : me.username; });
  fetch("/api/sessions", { credentials: "same-origin" })
    .then((r) => r.json())
    .then((list) => {
      for (const s of list) {
        const li = document.createElement("li");
        li.textContent = `${s.name} — ${s.agent} — ${s.status}`;
        $("sessions").append(li);
      }
    });
  $("logout").addEventListener("click", async () => {
    await postJson("/api/auth/logout", {});
    location.assign("/login");
  });
}
