// Which view is showing: a token per view, so answers for a view left behind are dropped, and its one
// refresh timer.

const POLL_MS = 2000;

/** The current view's token and refresh timer. */
export const view = { token: 0, timer: 0 };

/** Starts a new view: the previous one's refresh stops, its answers are ignored from now on. */
export function nextView() {
  clearTimeout(view.timer);
  view.token += 1;
  return view.token;
}

/** True while `token` is the current view's. */
export function isCurrent(token) {
  return token === view.token;
}

/** Runs `fn` after the refresh interval, replacing any refresh already planned. */
export function later(fn) {
  clearTimeout(view.timer);
  view.timer = setTimeout(fn, POLL_MS);
}
