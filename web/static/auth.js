// Sign-in, setup and pairing pages. Values from the server are only ever inserted as text.
// (Signing out is in the app's menu: POST /api/auth/logout, then /login.)

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
  $("username").focus();
  // Before the first account exists, say so and how to make one (instead of a bare sign-in).
  fetch("/api/version", { credentials: "same-origin" })
    .then((res) => (res.ok ? res.json() : {}))
    .then((v) => { if (v.setupPending === true) $("first-run").hidden = false; })
    .catch(() => { /* the form still works */ });
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
  const steps = document.querySelectorAll(".steps li");
  const step = () => {
    const at = $("setupToken").value.trim() ? 1 : 0;
    steps.forEach((li, i) => (i === at ? li.setAttribute("aria-current", "step") : li.removeAttribute("aria-current")));
  };
  $("setupToken").addEventListener("input", step);
  step();
  (token ? $("username") : $("setupToken")).focus();
  wire(setup, async (f) => {
    await postJson("/api/setup", { setupToken: f.setupToken, username: f.username, name: f.name || null, passphrase: f.passphrase });
    // Signed in: the last step pairs a phone (the app's "Pair a device": /about?pair makes a
    // one-time code at once), or goes on to the sessions.
    setup.hidden = $("next").hidden = true;
    steps.forEach((li, i) => (i === 2 ? li.setAttribute("aria-current", "step") : li.removeAttribute("aria-current")));
    $("done").hidden = false;
    $("pair-now").focus();
  });
}

const pair = $("pair");
if (pair) {
  const redeem = async (code) => {
    await postJson("/api/auth/pair", { code });
    location.assign("/");
  };
  // A pairing link signs this browser in as whoever made the code, so anyone can send one.
  // When the browser is already signed in, ask before replacing that sign-in.
  const ask = (peek) => new Promise((resolve) => {
    const me = peek.signedInAs;
    $("status").textContent = "";
    $("switch-question").textContent = me === peek.username
      ? `You are already signed in as ${me}. Sign in again with this pairing code?`
      : `You are signed in as ${me}. Sign in as ${peek.username} instead?`;
    $("switch-yes").textContent = `Sign in as ${peek.username}`;
    $("switch-no").textContent = `Stay signed in as ${me}`;
    $("switch").hidden = false;
    $("switch-no").focus(); // the safe answer is the default
    const answer = (yes) => () => { $("switch").hidden = true; resolve(yes); };
    $("switch-yes").onclick = answer(true);
    $("switch-no").onclick = answer(false);
  });
  const start = async (code) => {
    // Looks the code up without using it, and learns who this browser is signed in as.
    const peek = await postJson("/api/auth/pair/peek", { code });
    if (peek.signedInAs) {
      pair.hidden = true;
      if (!(await ask(peek))) {
        location.assign("/");
        return;
      }
    }
    await redeem(code);
  };
  const code = fragmentParam("code");
  history.replaceState(null, "", location.pathname);
  const manual = () => { $("status").textContent = "Enter the pairing code shown by `llmux pair`."; pair.hidden = false; };
  if (code) start(code).catch((err) => { manual(); showError(err.message); });
  else manual();
  wire(pair, (f) => start(f.code));
}
