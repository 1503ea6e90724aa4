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
  if (user.mustEnrolSecondFactor) return '#/enrol';
  if (user.role === 'sysadmin' || user.role === 'security_auditor') return '#/admin/users';
  if (user.role === 'security_officer') return '#/admin/grants';
  // A pre-split administrator (custosd migrates it to sysadmin) has no rights.
  if (user.role === 'admin') return '#/password';
  if (user.role === 'approver') return '#/loans?view=inbox';
  return '#/records';
}
