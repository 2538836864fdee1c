// The current path as reactive state: /setup/<step>, /dashboard/<page>. The step is in the URL,
// so Back/Forward and bookmarks work; navigate() pushes a history entry.
class Route {
  path = $state(location.pathname);
}
export const route = new Route();

addEventListener('popstate', () => {
  route.path = location.pathname;
});

export function navigate(path: string, replace = false): void {
  if (path === location.pathname) return;
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  route.path = path;
}
