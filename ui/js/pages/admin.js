// Administration in three roles (docs/security.md): the system
// administrator creates accounts (staff, awaiting set-up, no password),
// resets and disables them and keeps the departments; the security officer
// issues one-time set-up codes, unlocks accounts and proposes role grants;
// a second person (security officer or system administrator, neither the
// proposer nor the target) confirms or rejects a grant; the security
// auditor reads the users and grants. None of them sees a record.

import { h, pageHeader, section, table, badge, fmtTime, fmtTimeShort, field, select, button, clear, mono } from '../dom.js';
import { t } from '../i18n.js';
import * as api from '../api.js';
import * as session from '../session.js';
import { flash, reload } from '../nav.js';
import { statusArea, onSubmit, actionButton, confirmDialog } from '../widgets.js';
import { ROLES, departments, forgetDepartments } from '../model.js';

const enc = encodeURIComponent;

function roleName(r) {
  return r ? t(`role.${r}`, {}, r) : '—';
}

function editUserRow(u, depts, status, colspan) {
  const form = h('form', { class: 'inline-form' },
    field(t('field.department'), select('department', depts.map((d) => [d.name, d.name]), u.department)),
    h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-primary' }, t('common.save'))));
  onSubmit(form, status, async (fd) => {
    if (fd.get('department') !== u.department) await api.patch(`/v1/users/${enc(u.username)}`, { department: fd.get('department') });
    flash(t('admin.userSaved', { name: u.username }));
    reload();
  });
  return h('tr', { class: 'edit-row' }, h('td', { colspan: String(colspan) }, form));
}

function stateBadges(u) {
  return [
    u.disabled ? badge(t('admin.disabled'), 'dark') : badge(t('admin.enabled'), 'ok'),
    u.awaitingSetup ? [' ', badge(t('admin.awaitingSetup'), 'warn')] : null,
    !u.awaitingSetup && u.mustChangePassword ? [' ', badge(t('admin.mustChange'), 'warn')] : null,
  ];
}

function factorCell(u) {
  const f = u.secondFactor || {};
  const parts = [];
  if (f.totp) parts.push(badge(t('admin.factorTotp'), 'ok'));
  if (f.certificate) parts.push(badge(t('admin.factorCertificate'), 'ok'));
  if (!f.totp && !f.certificate) parts.push(h('span', { class: 'muted' }, t('admin.factorNone')));
  if (f.totp) parts.push(h('div', { class: 'small' }, t('admin.recoveryLeft', { n: Number(f.recoveryCodesLeft || 0) })));
  return parts.map((p, i) => (i ? [' ', p] : p));
}

// The set-up code, shown once: it is never stored in the page or sent again.
function issuedCode(holder, name, res) {
  clear(holder).appendChild(h('div', { class: 'notice notice-warn setup-code-issued', role: 'status', id: 'setup-code-result' },
    h('p', null, t('admin.setupCodeFor', { name })),
    h('p', null, h('code', { class: 'mono setup-code', id: 'issued-setup-code' }, res.code)),
    h('p', null, t('admin.setupCodeExpires', { time: fmtTime(res.expiresAt) })),
    h('p', { class: 'small' }, t('admin.setupCodeOnce'))));
  holder.scrollIntoView({ block: 'nearest' });
}

function userActions(u, me, ctx) {
  const { status, editing, draw, codeHolder } = ctx;
  const self = u.username === me.username;
  const named = { name: u.username };
  const out = [];
  if (session.can('manageUsers')) {
    out.push(button(editing === u.username ? t('common.cancel') : t('common.edit'), () => draw(editing === u.username ? null : u.username), 'link', { 'aria-label': t('admin.editNamed', named) }));
    if (!self) {
      out.push(actionButton(u.disabled ? t('admin.enable') : t('admin.disable'), async () => {
        // Enabling needs no question; disabling locks a person out.
        if (!u.disabled && !(await confirmDialog({ title: t('confirm.disableTitle', named), body: t('confirm.disableBody'), confirmLabel: t('admin.disable') }))) return;
        await api.patch(`/v1/users/${enc(u.username)}`, { disabled: !u.disabled });
        flash(t(u.disabled ? 'admin.enabledNamed' : 'admin.disabledNamed', named), 'info');
        reload();
      }, status, 'link', { 'aria-label': t(u.disabled ? 'admin.enableNamed' : 'admin.disableNamed', named) }));
      out.push(actionButton(t('admin.reset'), async () => {
        if (!(await confirmDialog({ title: t('confirm.resetTitle', named), body: t('confirm.resetBody'), confirmLabel: t('admin.reset') }))) return;
        await api.patch(`/v1/users/${enc(u.username)}`, { reset: true });
        flash(t('admin.resetDone', named), 'info');
        reload();
      }, status, 'link', { 'aria-label': t('admin.resetNamed', named), class: 'btn btn-link reset-user' }));
      if (u.secondFactor && (u.secondFactor.totp || u.secondFactor.certificate)) {
        out.push(actionButton(t('admin.resetFactor'), async () => {
          if (!(await confirmDialog({ title: t('confirm.resetFactorTitle', named), body: t('confirm.resetFactorBody'), confirmLabel: t('admin.resetFactor') }))) return;
          await api.patch(`/v1/users/${enc(u.username)}`, { resetSecondFactor: true });
          flash(t('admin.resetFactorDone', named), 'info');
          reload();
        }, status, 'link', { 'aria-label': t('admin.resetFactorNamed', named) }));
      }
    }
  }
  if (session.can('setupCodes') && !self && u.awaitingSetup) {
    out.push(actionButton(t('admin.issueSetupCode'), async () => {
      const res = await api.post(`/v1/users/${enc(u.username)}/setup-code`);
      issuedCode(codeHolder, u.username, res);
    }, status, 'link', { 'aria-label': t('admin.issueSetupCodeNamed', named), dataset: { user: u.username }, class: 'btn btn-link issue-setup-code' }));
  }
  // Offered on every other account unless the user JSON says it is not
  // locked (lockedUntil, when the server reports it).
  if (session.can('unlock') && !self && (u.lockedUntil === undefined || u.lockedUntil)) {
    out.push(actionButton(t('admin.unlock'), async () => {
      await api.post(`/v1/users/${enc(u.username)}/unlock`);
      flash(t('admin.unlocked', named), 'info');
      reload();
    }, status, 'link', { 'aria-label': t('admin.unlockNamed', named) }));
  }
  return out;
}

export async function usersPage({ user }) {
  const manage = session.can('manageUsers');
  const [{ users }, depts] = await Promise.all([api.get('/v1/users'), manage ? departments() : Promise.resolve([])]);
  const status = statusArea();
  const codeHolder = h('div', { 'aria-live': 'polite' });
  const tbody = h('tbody');
  const COLS = 8;
  function draw(editing) {
    clear(tbody);
    const ctx = { status, editing, draw, codeHolder };
    for (const u of users) {
      tbody.appendChild(h('tr', { class: u.disabled ? 'row-muted' : null, dataset: { user: u.username } },
        h('td', null, mono(u.username)),
        h('td', null, roleName(u.role), u.roleGrantedAt ? h('div', { class: 'small' }, t('admin.grantedAt', { time: fmtTimeShort(u.roleGrantedAt) })) : null),
        h('td', null, u.department),
        h('td', null, stateBadges(u)),
        h('td', null, factorCell(u)),
        h('td', { class: 'small' }, u.createdBy ? mono(u.createdBy) : '—'),
        h('td', { class: 'small nowrap' }, fmtTimeShort(u.createdAt), u.resetAt ? h('div', null, t('admin.resetAt', { time: fmtTimeShort(u.resetAt) })) : null),
        h('td', { class: 'nowrap' }, userActions(u, user, ctx))));
      if (editing === u.username) tbody.appendChild(editUserRow(u, depts, status, COLS));
    }
  }
  draw(null);

  let create = null;
  if (manage) {
    const cStatus = statusArea();
    create = h('form', { class: 'form' },
      h('div', { class: 'form-grid form-grid-4' },
        field(t('admin.username'), h('input', { name: 'username', required: true, pattern: '[a-z0-9._\\-]{1,64}', autocomplete: 'off', id: 'new-username' }), { hint: t('admin.usernameHint') }),
        field(t('field.department'), select('department', depts.map((d) => [d.name, d.name]), (depts[0] || {}).name, { id: 'new-department' }))),
      h('p', { class: 'hint' }, t('admin.newUserHint')),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', id: 'create-user' }, t('admin.createUser'))),
      cStatus.el);
    onSubmit(create, cStatus, async (fd) => {
      const name = String(fd.get('username')).trim();
      await api.post('/v1/users', { username: name, department: fd.get('department') });
      flash(t('admin.userCreated', { name }));
      reload();
    });
  }

  const heads = [t('admin.username'), t('admin.role'), t('field.department'), t('field.state'), t('admin.secondFactor'), t('admin.createdBy'), t('admin.createdAt')];
  return h('div', null,
    pageHeader(t('admin.usersTitle'), t(`admin.usersSubtitle.${user.role}`, {}, t('admin.usersSubtitle'))),
    codeHolder,
    section(t('admin.users', { n: users.length }), status.el,
      h('div', { class: 'table-wrap flush' }, h('table', { class: 'grid', id: 'users-table' },
        h('thead', null, h('tr', null, heads.map((l) => h('th', { scope: 'col' }, l)), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('common.actions'))))),
        tbody))),
    create ? section(t('admin.newUser'), create) : null);
}

const GRANT_VARIANTS = { proposed: 'info', confirmed: 'ok', rejected: 'alert' };

function grantActions(g, me, status) {
  if (g.state !== 'proposed' || !session.can('decideGrants')) return null;
  if (g.proposedBy === me.username || g.username === me.username) {
    return h('span', { class: 'small muted' }, t('grants.notYours'));
  }
  const named = { id: g.id, name: g.username, role: roleName(g.role) };
  const reason = h('input', { name: 'reason', maxlength: '500', class: 'short', 'aria-label': t('grants.reasonFor', named), placeholder: t('grants.reasonOptional') });
  const reject = h('form', { class: 'inline-form compact' }, reason,
    h('button', { type: 'submit', class: 'btn btn-danger btn-small', 'aria-label': t('grants.rejectNamed', named) }, t('grants.reject')));
  onSubmit(reject, status, async (fd) => {
    if (!(await confirmDialog({ title: t('confirm.rejectGrantTitle', named), body: t('confirm.rejectGrantBody'), confirmLabel: t('grants.reject') }))) return;
    const body = {};
    const r = String(fd.get('reason') || '').trim();
    if (r) body.reason = r;
    await api.post(`/v1/grants/${enc(g.id)}/reject`, body);
    flash(t('grants.rejected', named), 'info');
    reload();
  });
  return h('div', { class: 'grant-actions' },
    actionButton(t('grants.confirm'), async () => {
      await api.post(`/v1/grants/${enc(g.id)}/confirm`);
      flash(t('grants.confirmed', named));
      reload();
    }, status, 'primary', { 'aria-label': t('grants.confirmNamed', named), class: 'btn btn-primary btn-small confirm-grant' }),
    reject);
}

function proposeForm(users, me) {
  const status = statusArea();
  const others = users.filter((u) => u.username !== me.username);
  const form = h('form', { class: 'inline-form' },
    field(t('grants.user'), select('username', others.map((u) => [u.username, `${u.username} · ${roleName(u.role)}`]), (others[0] || {}).username, { id: 'grant-user' })),
    field(t('grants.newRole'), select('role', ROLES.map((r) => [r, roleName(r)]), 'archivist', { id: 'grant-role' })),
    h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-primary', id: 'propose-grant' }, t('grants.propose'))));
  onSubmit(form, status, async (fd) => {
    const g = await api.post('/v1/grants', { username: fd.get('username'), role: fd.get('role') });
    const named = { id: g.id, name: g.username, role: roleName(g.role) };
    flash(t(g.state === 'proposed' ? 'grants.proposed' : 'grants.applied', named), g.state === 'proposed' ? 'info' : 'success');
    reload();
  });
  return section(t('grants.proposeTitle'), h('p', { class: 'hint' }, t('grants.proposeHint')), form, status.el);
}

export async function grantsPage({ user, query }) {
  const state = query.state === 'all' ? '' : (query.state || 'proposed');
  const [{ grants }, usersRes] = await Promise.all([
    api.get('/v1/grants', { state }),
    session.can('proposeGrants') ? api.get('/v1/users') : Promise.resolve(null),
  ]);
  const status = statusArea();
  const filter = h('div', { class: 'tabs', role: 'group', 'aria-label': t('grants.filter') },
    ['proposed', 'confirmed', 'rejected', 'all'].map((s) => h('a', {
      href: `#/admin/grants?state=${s}`,
      class: (state || 'all') === s ? 'tab active' : 'tab',
      'aria-current': (state || 'all') === s ? 'page' : null,
    }, t(`grants.filter.${s}`))));
  const cols = [
    { label: t('grants.id'), cell: (g) => mono(g.id), class: 'nowrap' },
    { label: t('grants.user'), cell: (g) => mono(g.username) },
    { label: t('grants.change'), cell: (g) => `${roleName(g.previousRole)} → ${roleName(g.role)}` },
    { label: t('field.state'), cell: (g) => badge(t(`grantState.${g.state}`, {}, g.state), GRANT_VARIANTS[g.state] || 'neutral') },
    { label: t('grants.proposedBy'), cell: (g) => h('div', null, mono(g.proposedBy), h('div', { class: 'small' }, fmtTimeShort(g.proposedAt))) },
    { label: t('grants.decidedBy'), cell: (g) => (g.decidedBy ? h('div', null, mono(g.decidedBy), h('div', { class: 'small' }, fmtTimeShort(g.decidedAt))) : '—') },
    { label: t('grants.reason'), cell: (g) => g.reason || '—', class: 'wrap' },
    { label: t('common.actions'), cell: (g) => grantActions(g, user, status) },
  ];
  return h('div', null,
    pageHeader(t('grants.title'), t(session.can('decideGrants') ? 'grants.subtitle' : 'grants.subtitleReadOnly')),
    usersRes ? proposeForm(usersRes.users, user) : null,
    section(t('grants.list', { n: grants.length }), filter, status.el,
      h('div', { class: 'flush' }, table(cols, grants, t('grants.none'), { label: t('grants.title') }))));
}

export async function departmentsPage() {
  forgetDepartments();
  const depts = await departments();
  const status = statusArea();
  const form = h('form', { class: 'inline-form' },
    field(t('admin.departmentName'), h('input', { name: 'name', required: true, maxlength: '128', id: 'new-department-name' }), { class: 'grow' }),
    h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-primary' }, t('admin.createDepartment'))));
  onSubmit(form, status, async (fd) => {
    await api.post('/v1/departments', { name: String(fd.get('name')).trim() });
    forgetDepartments();
    flash(t('admin.departmentCreated', { name: fd.get('name') }));
    reload();
  });
  return h('div', null,
    pageHeader(t('admin.departmentsTitle'), t('admin.departmentsSubtitle')),
    section(t('admin.newDepartment'), form, status.el),
    section(t('admin.departments', { n: depts.length }), h('div', { class: 'flush' }, table([
      { label: t('admin.departmentName'), cell: (d) => d.name },
      { label: t('admin.createdAt'), cell: (d) => fmtTimeShort(d.createdAt) },
    ], depts, t('admin.noDepartments')))));
}
