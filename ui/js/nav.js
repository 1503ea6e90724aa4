// Moving between pages, and the one-shot message shown on the next page.
// Kept apart from app.js so that pages can navigate without importing the
// shell that imports them.

let flashMessage = null;
let rerender = () => {};

export function setRenderer(fn) { rerender = fn; }

// A message shown once, on the next page (e.g. "Checked in as CT-…").
export function flash(text, variant = 'success') {
  flashMessage = { text, variant };
}

export function takeFlash() {
  const f = flashMessage;
  flashMessage = null;
  return f;
}

export function navigate(hash) {
  if (window.location.hash === hash) rerender();
  else window.location.hash = hash;
}

// Draws the current page again (after an action changed what it shows).
export function reload() { rerender(); }

export function homeFor(user) {
  if (!user) return '#/signin';
  if (user.role === 'admin') return '#/admin/users';
  if (user.role === 'approver') return '#/loans?view=inbox';
  return '#/records';
}
