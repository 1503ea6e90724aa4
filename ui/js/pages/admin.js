// Administration: users (role, department, disabled, password reset) and
// departments. An admin sees no records and approves nothing.

import { h, pageHeader, section, table, badge, fmtTimeShort, field, select, checkbox, button, clear, mono } from '../dom.js';
import { t } from '../i18n.js';
import * as api from '../api.js';
import { flash, reload } from '../nav.js';
import { statusArea, onSubmit, actionButton, confirmDialog } from '../widgets.js';
import { ROLES, departments, forgetDepartments } from '../model.js';

const enc = encodeURIComponent;

function editUserRow(u, depts, status, colspan) {
  const form = h('form', { class: 'inline-form' },
    field(t('admin.role'), select('role', ROLES.map((r) => [r, t(`role.${r}`)]), u.role)),
    field(t('field.department'), select('department', depts.map((d) => [d.name, d.name]), u.department)),
    field(t('admin.resetPassword'), h('input', { type: 'password', name: 'password', minlength: '12', autocomplete: 'new-password' }), { hint: t('admin.resetHint') }),
    h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-primary' }, t('common.save'))));
  onSubmit(form, status, async (fd) => {
    const body = {};
    if (fd.get('role') !== u.role) body.role = fd.get('role');
    if (fd.get('department') !== u.department) body.department = fd.get('department');
    if (fd.get('password')) body.password = fd.get('password');
    await api.patch(`/v1/users/${enc(u.username)}`, body);
    flash(t('admin.userSaved', { name: u.username }));
    reload();
  });
  return h('tr', { class: 'edit-row' }, h('td', { colspan: String(colspan) }, form));
}

export async function usersPage({ user }) {
  const [{ users }, depts] = await Promise.all([api.get('/v1/users'), departments()]);
  const status = statusArea();
  const tbody = h('tbody');
  const COLS = 7;
  function draw(editing) {
    clear(tbody);
    for (const u of users) {
      tbody.appendChild(h('tr', { class: u.disabled ? 'row-muted' : null },
        h('td', null, mono(u.username)),
        h('td', null, t(`role.${u.role}`)),
        h('td', null, u.department),
        h('td', null, u.disabled ? badge(t('admin.disabled'), 'dark') : badge(t('admin.enabled'), 'ok'),
          u.mustChangePassword ? [' ', badge(t('admin.mustChange'), 'warn')] : null),
        h('td', { class: 'small nowrap' }, fmtTimeShort(u.passwordChangedAt)),
        h('td', { class: 'small nowrap' }, fmtTimeShort(u.createdAt)),
        h('td', { class: 'nowrap' },
          button(editing === u.username ? t('common.cancel') : t('common.edit'), () => draw(editing === u.username ? null : u.username), 'link', { 'aria-label': t('admin.editNamed', { name: u.username }) }),
          u.username === user.username ? null : actionButton(u.disabled ? t('admin.enable') : t('admin.disable'), async () => {
            // Enabling needs no question; disabling locks a person out.
            if (!u.disabled && !(await confirmDialog({ title: t('confirm.disableTitle', { name: u.username }), body: t('confirm.disableBody'), confirmLabel: t('admin.disable') }))) return;
            await api.patch(`/v1/users/${enc(u.username)}`, { disabled: !u.disabled });
            flash(t(u.disabled ? 'admin.enabledNamed' : 'admin.disabledNamed', { name: u.username }), 'info');
            reload();
          }, status, 'link'))));
      if (editing === u.username) tbody.appendChild(editUserRow(u, depts, status, COLS));
    }
  }
  draw(null);

  const cStatus = statusArea();
  const create = h('form', { class: 'form' },
    h('div', { class: 'form-grid form-grid-4' },
      field(t('admin.username'), h('input', { name: 'username', required: true, pattern: '[a-z0-9._\\-]{1,64}', autocomplete: 'off', id: 'new-username' }), { hint: t('admin.usernameHint') }),
      field(t('admin.role'), select('role', ROLES.map((r) => [r, t(`role.${r}`)]), 'staff', { id: 'new-role' })),
      field(t('field.department'), select('department', depts.map((d) => [d.name, d.name]), (depts[0] || {}).name, { id: 'new-department' })),
      field(t('admin.initialPassword'), h('input', { type: 'password', name: 'password', required: true, minlength: '12', autocomplete: 'new-password', id: 'new-password' }), { hint: t('password.rules') })),
    checkbox(t('admin.forceChange'), { name: 'mustChange', checked: true }),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', id: 'create-user' }, t('admin.createUser'))),
    cStatus.el);
  onSubmit(create, cStatus, async (fd) => {
    await api.post('/v1/users', {
      username: String(fd.get('username')).trim(), password: fd.get('password'), role: fd.get('role'),
      department: fd.get('department'), mustChangePassword: fd.get('mustChange') === 'on',
    });
    flash(t('admin.userCreated', { name: fd.get('username') }));
    reload();
  });

  return h('div', null,
    pageHeader(t('admin.usersTitle'), t('admin.usersSubtitle')),
    section(t('admin.users', { n: users.length }), status.el,
      h('div', { class: 'table-wrap flush' }, h('table', { class: 'grid' },
        h('thead', null, h('tr', null, [t('admin.username'), t('admin.role'), t('field.department'), t('field.state'), t('admin.passwordChanged'), t('admin.createdAt')]
          .map((l) => h('th', { scope: 'col' }, l)), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('common.actions'))))),
        tbody))),
    section(t('admin.newUser'), create));
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
