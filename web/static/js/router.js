// History-API routing: each route names a page module whose default export mounts the page.
// A name starting with "pages/" is an on-demand bundle (web/static/pages/README.md).

const ROUTES = [
  ["/", "sessions", "Sessions"],
  ["/new", "form", "New session"],
  ["/edit/:name", "form", "Edit session"],
  ["/s/:name", "terminal", ""],
  ["/c/:name", "chat", ""],
  ["/r/:name", "pages/review", ""],
  ["/agents", "agents", "Agents"],
  ["/tokens", "tokens", "Tokens"],
  ["/account", "account", "Account"],
  ["/admin/users", "pages/users", "Users", true],
  ["/admin/settings", "pages/settings", "Settings", true],
  ["/admin/logs", "pages/logs", "Logs", true],
  ["/admin/audit", "pages/audit", "Audit log", true],
  ["/admin/hosts", "pages/hosts", "Hosts", true],
  ["/about", "about", "About"],
].map(([path, mod, title, admin]) => ({
  re: new RegExp(`^${path.replace(/:name/, "([^/]+)")}/?$`),
  path, mod, title, admin: !!admin,
}));

export function match(pathname) {
  for (const r of ROUTES) {
    const m = r.re.exec(pathname);
    if (m) {
      let name;
      try { name = m[1] && decodeURIComponent(m[1]); } catch { return null; }
      return { route: r, params: { name } };
    }
  }
  return null;
}

let render = () => {};

export function navigate(path, replace = false) {
  history[replace ? "replaceState" : "pushState"](null, "", path);
  render(true);
}

/** Starts routing: onRoute(match|null, isNavigation) is called on every location change. */
export function start(onRoute) {
  render = (nav) => onRoute(match(location.pathname), nav);
  addEventListener("popstate", () => render(true));
  document.addEventListener("click", (e) => {
    const a = e.target.closest?.("a[href]");
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    if (a.target || a.hasAttribute("download")) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || !match(url.pathname)) return;
    e.preventDefault();
    if (url.pathname + url.search !== location.pathname + location.search) navigate(url.pathname + url.search);
    else render(true);
  });
  render(false);
}
